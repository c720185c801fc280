//! A PUT's payload: `aws-chunked` framing decoded, trailing checksums, Content-MD5 and CRC32
//! checks.

use crate::emulator::request::AwsRequest;
use crate::emulator::sigv4::{chunk_signature_mismatch, ChunkSigner, PayloadCheck};
use crate::emulator::wire::AwsError;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use md5::{Digest, Md5};

/// The payload of a PUT: decoded from `aws-chunked` framing when used, with any trailing
/// checksum, and checked against `Content-MD5` and `x-amz-checksum-crc32` when given.
pub(super) fn payload(req: &AwsRequest) -> Result<(Vec<u8>, Option<String>), AwsError> {
    let chunked = req
        .header("content-encoding")
        .is_some_and(|e| e.contains("aws-chunked"))
        || req
            .header("x-amz-content-sha256")
            .is_some_and(|s| s.starts_with("STREAMING-"));
    let mut signer = match &req.payload_check {
        PayloadCheck::SignedChunks(signer) => Some(signer.clone()),
        _ => None,
    };
    let (body, trailers) = if chunked {
        decode_aws_chunked(&req.body, signer.as_mut())?
    } else {
        (req.body.to_vec(), Vec::new())
    };
    if let Some(md5) = req.header("content-md5") {
        if BASE64.encode(Md5::digest(&body)) != md5 {
            return Err(AwsError::new(
                400,
                "BadDigest",
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    let crc = req
        .header("x-amz-checksum-crc32")
        .map(str::to_string)
        .or_else(|| {
            trailers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-checksum-crc32"))
                .map(|(_, v)| v.clone())
        });
    if let Some(expected) = &crc {
        let actual = BASE64.encode(crc32fast::hash(&body).to_be_bytes());
        if &actual != expected {
            return Err(AwsError::new(
                400,
                "BadDigest",
                "The CRC32 you specified did not match the calculated checksum.",
            ));
        }
    }
    Ok((body, crc))
}

/// `<hex size>[;chunk-signature=...]\r\n<data>\r\n ... 0\r\n<trailers>\r\n\r\n`
/// Header name and value pairs (`aws-chunked` trailers).
pub(super) type Trailers = Vec<(String, String)>;

pub(super) fn decode_aws_chunked(
    body: &[u8],
    mut signer: Option<&mut ChunkSigner>,
) -> Result<(Vec<u8>, Trailers), AwsError> {
    let bad = || {
        AwsError::new(
            400,
            "IncompleteBody",
            "The aws-chunked request body is malformed.",
        )
    };
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    loop {
        let line_end = memchr::memmem::find(&body[at..], b"\r\n").ok_or_else(bad)? + at;
        let header = std::str::from_utf8(&body[at..line_end]).map_err(|_| bad())?;
        let (size, extension) = header.split_once(';').unwrap_or((header, ""));
        let size = usize::from_str_radix(size.trim(), 16).map_err(|_| bad())?;
        at = line_end + 2;
        let data = at
            .checked_add(size)
            .and_then(|end| body.get(at..end))
            .ok_or_else(bad)?;
        if let Some(signer) = signer.as_deref_mut() {
            let claimed = extension
                .trim()
                .strip_prefix("chunk-signature=")
                .unwrap_or_default();
            if !signer.chunk(data, claimed) {
                return Err(chunk_signature_mismatch());
            }
        }
        if size == 0 {
            break;
        }
        out.extend_from_slice(data);
        at += size;
        if body.get(at..at + 2) != Some(b"\r\n") {
            return Err(bad());
        }
        at += 2;
    }
    let mut trailers: Trailers = String::from_utf8_lossy(&body[at..])
        .lines()
        .filter_map(|line| {
            line.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let signature = trailers
        .iter()
        .position(|(k, _)| k.eq_ignore_ascii_case("x-amz-trailer-signature"))
        .map(|i| trailers.remove(i).1);
    if let (Some(signer), false) = (signer, trailers.is_empty()) {
        let canonical: String = trailers
            .iter()
            .map(|(k, v)| format!("{}:{v}\n", k.to_ascii_lowercase()))
            .collect();
        if !signer.trailer(&canonical, signature.as_deref().unwrap_or_default()) {
            return Err(chunk_signature_mismatch());
        }
    }
    Ok((out, trailers))
}
