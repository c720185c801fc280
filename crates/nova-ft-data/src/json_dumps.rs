//! JSON text exactly as Python's `json.dumps(obj)` writes it with default arguments:
//! `", "` and `": "` separators and `ensure_ascii=True`. Users diff our JSONL against files
//! their own Python wrote, so the bytes must match, not just the data.

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};
use std::io::{self, Write};

/// A serde_json formatter with Python's default separators and ASCII-only output.
#[derive(Debug, Default, Clone, Copy)]
pub struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // serde_json has already escaped quotes, backslashes and C0 controls; Python also
        // escapes DEL and everything outside ASCII, as UTF-16 code units in lowercase hex.
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            if (ch as u32) < 0x7f {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(w, "\\u{:04x}", unit)?;
            }
            start = i + ch.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let text: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => return write!(w, "\\u{:04x}", byte),
        };
        w.write_all(text)
    }
}

/// Serialize `value` as Python's `json.dumps(value)` would, appending to `out`.
pub fn write_python_json<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> serde_json::Result<()> {
    let mut serializer = Serializer::with_formatter(out, PythonFormatter);
    value.serialize(&mut serializer)
}

/// `json.dumps(value)` as a String.
pub fn to_python_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    write_python_json(&mut out, value).expect("serializing to memory cannot fail");
    String::from_utf8(out).expect("the Python formatter writes ASCII only")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn separators_and_escapes_match_python() {
        // json.dumps({"a": [1, "x\n\"é😀\x7f"], "b": {}})
        let v = json!({"a": [1, "x\n\"é😀\u{7f}"], "b": {}});
        assert_eq!(
            to_python_json(&v),
            r#"{"a": [1, "x\n\"\u00e9\ud83d\ude00\u007f"], "b": {}}"#
        );
    }

    #[test]
    fn control_characters_use_lowercase_hex() {
        assert_eq!(to_python_json("\u{1f}\u{8}"), r#""\u001f\b""#);
    }
}
