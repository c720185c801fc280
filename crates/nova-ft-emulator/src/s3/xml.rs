//! Request XML, flattened to (element path, text) pairs, which is all these bodies need.

use super::malformed_xml;
use crate::wire::AwsError;

/// A request body as (element path, text) pairs. The body must be one well-formed document
/// whose root element is `root`, as S3 requires: an empty, truncated or unbalanced body, or
/// another root, is `MalformedXML` and changes nothing.
pub(super) fn xml_fields(body: &[u8], root: &str) -> Result<Vec<(String, String)>, AwsError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut path: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut roots = 0;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|_| malformed_xml())?;
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    roots += 1;
                    if name != root || roots > 1 {
                        return Err(malformed_xml());
                    }
                }
                path.push(name);
            }
            Event::Empty(e) if path.is_empty() => {
                // `<Root/>`: a root with nothing in it.
                roots += 1;
                if e.local_name().as_ref() != root.as_bytes() || roots > 1 {
                    return Err(malformed_xml());
                }
            }
            Event::End(_) => {
                path.pop().ok_or_else(malformed_xml)?;
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|_| malformed_xml())?.into_owned();
                if !text.trim().is_empty() {
                    if path.is_empty() {
                        return Err(malformed_xml());
                    }
                    out.push((path.join("/"), text));
                }
            }
            Event::CData(c) => {
                if path.is_empty() {
                    return Err(malformed_xml());
                }
                let text =
                    String::from_utf8(c.into_inner().into_owned()).map_err(|_| malformed_xml())?;
                out.push((path.join("/"), text));
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if roots != 1 || !path.is_empty() {
        return Err(malformed_xml());
    }
    Ok(out)
}

/// [`xml_fields`] for a body S3 lets a request leave out (CreateBucket's configuration).
pub(super) fn optional_xml_fields(
    body: &[u8],
    root: &str,
) -> Result<Vec<(String, String)>, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    xml_fields(body, root)
}

/// Every value at `path`, in document order (repeated elements such as `Delete/Object/Key`).
pub(super) fn values<'a>(fields: &'a [(String, String)], path: &str) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, v)| v.as_str())
        .collect()
}

pub(super) fn field<'a>(fields: &'a [(String, String)], path: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, v)| v.as_str())
}
