//! XML responses (S3's restXml, IAM's and STS's awsQuery), written element by element with
//! quick-xml, which escapes every text it is given: a bucket region, a key or a message that
//! holds `<`, `&` or quotes can never change a response's structure.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use std::fmt::Display;

/// An XML document or fragment under construction.
pub struct Xml {
    writer: Writer<Vec<u8>>,
}

impl Xml {
    /// A fragment: elements only, to be placed inside another document (see [`Xml::append`]).
    pub fn fragment() -> Xml {
        Xml {
            writer: Writer::new(Vec::new()),
        }
    }

    /// A document that starts with `<?xml version="1.0" encoding="UTF-8"?>`, as S3 writes.
    pub fn document() -> Xml {
        let mut xml = Xml::fragment();
        xml.write(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        xml.writer.get_mut().push(b'\n');
        xml
    }

    // Writing to a Vec cannot fail: quick-xml's io::Result has nothing to report here.
    fn write(&mut self, event: Event<'_>) {
        let _ = self.writer.write_event(event);
    }

    /// Open `<name>`.
    pub fn start(&mut self, name: &str) -> &mut Xml {
        self.write(Event::Start(BytesStart::new(name)));
        self
    }

    /// Open `<name xmlns="namespace">`.
    pub fn start_ns(&mut self, name: &str, namespace: &str) -> &mut Xml {
        self.write(Event::Start(
            BytesStart::new(name).with_attributes([("xmlns", namespace)]),
        ));
        self
    }

    /// Close `</name>`.
    pub fn end(&mut self, name: &str) -> &mut Xml {
        self.write(Event::End(BytesEnd::new(name)));
        self
    }

    /// `<name>text</name>`, the text escaped.
    pub fn leaf(&mut self, name: &str, text: impl Display) -> &mut Xml {
        self.start(name);
        self.text(text);
        self.end(name)
    }

    /// Text inside the element open now, escaped.
    pub fn text(&mut self, text: impl Display) -> &mut Xml {
        let text = text.to_string();
        self.write(Event::Text(BytesText::new(&text)));
        self
    }

    /// [`Xml::leaf`] when there is a value, nothing when there is none.
    pub fn leaf_opt(&mut self, name: &str, text: Option<impl Display>) -> &mut Xml {
        if let Some(text) = text {
            self.leaf(name, text);
        }
        self
    }

    /// `<name>...</name>` around what `inner` writes.
    pub fn element(&mut self, name: &str, inner: impl FnOnce(&mut Xml)) -> &mut Xml {
        self.start(name);
        inner(self);
        self.end(name)
    }

    /// Place a fragment written by another `Xml` here (its texts are already escaped).
    pub fn append(&mut self, fragment: Xml) -> &mut Xml {
        self.writer.get_mut().extend(fragment.writer.into_inner());
        self
    }

    pub fn into_string(self) -> String {
        // Every byte came from &str values and ASCII markup.
        String::from_utf8(self.writer.into_inner()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_escaped_and_cannot_open_elements() {
        let mut xml = Xml::document();
        xml.start_ns(
            "ListAllMyBucketsResult",
            "http://s3.amazonaws.com/doc/2006-03-01/",
        )
        .element("Bucket", |b| {
            b.leaf("Name", "a&b")
                .leaf("BucketRegion", "</BucketRegion><x>");
        })
        .leaf_opt("Prefix", None::<&str>)
        .leaf_opt("Marker", Some("\"q\""))
        .end("ListAllMyBucketsResult");
        let text = xml.into_string();
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"));
        assert!(text.contains("<Name>a&amp;b</Name>"));
        assert!(text.contains("<BucketRegion>&lt;/BucketRegion&gt;&lt;x&gt;</BucketRegion>"));
        assert!(!text.contains("<Prefix>"));
        assert!(text.contains("<Marker>&quot;q&quot;</Marker>"));
        assert_eq!(text.matches("<Bucket>").count(), 1);
        assert_eq!(text.matches('<').count(), text.matches('>').count());
    }

    #[test]
    fn fragments_nest_inside_documents() {
        let mut inner = Xml::fragment();
        inner.leaf("Account", "123456789012");
        let mut outer = Xml::fragment();
        outer
            .start("GetCallerIdentityResult")
            .append(inner)
            .end("GetCallerIdentityResult");
        assert_eq!(
            outer.into_string(),
            "<GetCallerIdentityResult><Account>123456789012</Account></GetCallerIdentityResult>"
        );
    }
}
