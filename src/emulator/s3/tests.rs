use super::buckets::check_bucket_name;
use super::chunked::decode_aws_chunked;
use super::objects::byte_range;
use super::xml::{field, xml_fields};

#[test]
fn aws_chunked_bodies_decode_with_trailers() {
    let body = b"5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
    let (data, trailers) = decode_aws_chunked(body).unwrap();
    assert_eq!(data, b"hello world");
    assert_eq!(
        trailers,
        vec![("x-amz-checksum-crc32".to_string(), "DUoRhQ==".to_string())]
    );
    assert!(decode_aws_chunked(b"zz\r\n").is_err());
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
