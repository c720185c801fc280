//! Request XML, flattened to (element path, text) pairs, which is all these bodies need.

use super::malformed_xml;
use crate::emulator::wire::AwsError;

pub(super) fn xml_fields(body: &[u8]) -> Result<Vec<(String, String)>, AwsError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut path: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader
            .read_event_into(&mut buf)
            .map_err(|_| malformed_xml())?
        {
            Event::Start(e) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned())
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|_| malformed_xml())?.into_owned();
                if !text.trim().is_empty() {
                    out.push((path.join("/"), text));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
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
