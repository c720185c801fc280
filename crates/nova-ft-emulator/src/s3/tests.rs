use super::buckets::check_bucket_name;
use super::chunked::decode_aws_chunked;
use super::objects::byte_range;
use super::xml::{field, xml_fields};

#[test]
fn aws_chunked_bodies_decode_with_trailers() {
    let body = b"5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
    let (data, trailers) = decode_aws_chunked(body, None).unwrap();
    assert_eq!(data, b"hello world");
    assert_eq!(
        trailers,
        vec![("x-amz-checksum-crc32".to_string(), "DUoRhQ==".to_string())]
    );
    assert!(decode_aws_chunked(b"zz\r\n", None).is_err());
}

#[test]
fn ranges_follow_http() {
    assert_eq!(byte_range("bytes=0-4", 10), Ok((0, 4)));
    assert_eq!(byte_range("bytes=5-", 10), Ok((5, 9)));
    assert_eq!(byte_range("bytes=-3", 10), Ok((7, 9)));
    assert_eq!(byte_range("bytes=8-100", 10), Ok((8, 9)));
    assert!(byte_range("bytes=10-", 10).is_err());
}

#[test]
fn bucket_names_follow_s3_rules() {
    assert!(check_bucket_name("sl-nova-ft-123456789012").is_ok());
    for bad in [
        "ab",
        "Upper",
        "-start",
        "a..b",
        "under_score",
        "192.168.5.4",
        "xn--abc",
        "sthree-bucket",
        "abc-s3alias",
        "abc--ol-s3",
        "abc.mrap",
        "abc--x-s3",
    ] {
        assert!(check_bucket_name(bad).is_err(), "{bad}");
    }
}

#[test]
fn request_xml_flattens_to_paths() {
    let body = br#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b</Key></Object><Quiet>true</Quiet></Delete>"#;
    let fields = xml_fields(body, "Delete").unwrap();
    assert_eq!(field(&fields, "Delete/Object/Key"), Some("a&b"));
    assert_eq!(field(&fields, "Delete/Quiet"), Some("true"));
}

#[test]
fn a_chunk_size_past_the_address_space_is_refused_not_a_panic() {
    assert!(decode_aws_chunked(b"ffffffffffffffff\r\nx", None).is_err());
}

mod properties {
    use super::super::chunked::decode_aws_chunked;
    use super::super::objects::byte_range;
    use super::super::xml::{field, xml_fields};
    use crate::xml_writer::Xml;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_chunked_body_decodes_or_is_refused(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_aws_chunked(&body, None);
        }

        #[test]
        fn chunked_bodies_round_trip(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..64), 0..8)
        ) {
            let mut body = Vec::new();
            for chunk in &chunks {
                body.extend(format!("{:x};chunk-signature=00\r\n", chunk.len()).as_bytes());
                body.extend(chunk);
                body.extend(b"\r\n");
            }
            body.extend(b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
            let (decoded, trailers) = decode_aws_chunked(&body, None).unwrap();
            prop_assert_eq!(decoded, chunks.concat());
            prop_assert_eq!(trailers, vec![("x-amz-checksum-crc32".to_string(), "AAAAAA==".to_string())]);
        }

        #[test]
        fn any_request_xml_parses_or_is_refused(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = xml_fields(&body, "Delete");
        }

        #[test]
        fn xml_we_write_reads_back_the_same_text(key in "\\PC{1,40}") {
            let mut xml = Xml::fragment();
            xml.element("Delete", |d| {
                d.element("Object", |o| {
                    o.leaf("Key", &key);
                });
            });
            let text = xml.into_string();
            let fields = xml_fields(text.as_bytes(), "Delete").unwrap();
            // Leading and trailing blanks are not kept by the reader's text events.
            prop_assert_eq!(field(&fields, "Delete/Object/Key").map(str::trim), Some(key.trim()).filter(|k| !k.is_empty()));
        }

        #[test]
        fn ranges_stay_inside_the_object(header in "\\PC{0,24}", size in 0u64..10_000) {
            if let Ok((start, end)) = byte_range(&header, size) {
                prop_assert!(start <= end && end < size);
            }
        }

        #[test]
        fn well_formed_ranges_are_honoured(a in 0u64..5_000, len in 0u64..5_000, size in 1u64..10_000) {
            let end = a + len;
            match byte_range(&format!("bytes={a}-{end}"), size) {
                Ok((start, last)) => {
                    prop_assert_eq!(start, a);
                    prop_assert_eq!(last, end.min(size - 1));
                }
                Err(()) => prop_assert!(a >= size),
            }
        }
    }
}
