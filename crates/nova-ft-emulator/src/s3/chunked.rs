//! A PUT's payload, streamed to a temporary file as it arrives: `aws-chunked` framing decoded
//! (chunk signatures and trailers checked), the signed SHA-256, Content-MD5 and CRC32 checked,
//! and the MD5 for the ETag computed on the way. Memory stays a few frames whatever the size.

use super::internal;
use crate::body_stream::{body_error, BodyError};
use crate::request::AwsRequest;
use crate::sigv4::{chunk_signature_mismatch, content_sha256_mismatch, ChunkSigner, PayloadCheck};
use crate::wire::AwsError;
use crate::Ctx;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use md5::{Digest, Md5};
use sha2::Sha256;
use std::io::{BufRead, BufReader, Read, Write};

/// Header name and value pairs (`aws-chunked` trailers).
pub(super) type Trailers = Vec<(String, String)>;

/// The longest chunk header or trailer line accepted (a signature is 80 bytes).
const MAX_LINE: usize = 4096;
const COPY_BUFFER: usize = 256 * 1024;

fn incomplete() -> AwsError {
    AwsError::new(
        400,
        "IncompleteBody",
        "The aws-chunked request body is malformed.",
    )
}

/// Why decoding stopped, carried inside the `io::Error`s of [`ChunkedReader`].
#[derive(Debug, thiserror::Error)]
enum ChunkError {
    #[error("malformed aws-chunked body")]
    Malformed,
    #[error("a chunk signature does not match")]
    Signature,
}

fn chunk_error(e: ChunkError) -> std::io::Error {
    std::io::Error::other(e)
}

/// `<hex size>[;chunk-signature=...]\r\n<data>\r\n ... 0[;chunk-signature=...]\r\n<trailers>\r\n\r\n`
/// decoded as it is read.
pub(super) struct ChunkedReader<R> {
    inner: R,
    /// Bytes left in the current chunk.
    remaining: usize,
    signer: Option<ChunkSigner>,
    /// The current chunk's hash and claimed signature, when chunks are signed.
    chunk_hash: Sha256,
    claimed: String,
    done: bool,
    pub(super) trailers: Trailers,
}

impl<R: BufRead> ChunkedReader<R> {
    pub(super) fn new(inner: R, signer: Option<ChunkSigner>) -> Self {
        ChunkedReader {
            inner,
            remaining: 0,
            signer,
            chunk_hash: Sha256::new(),
            claimed: String::new(),
            done: false,
            trailers: Vec::new(),
        }
    }

    /// One line without its CRLF, at most [`MAX_LINE`] bytes.
    fn line(&mut self) -> std::io::Result<String> {
        let mut line = Vec::new();
        (&mut self.inner)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\r\n") {
            return Err(chunk_error(ChunkError::Malformed));
        }
        line.truncate(line.len() - 2);
        String::from_utf8(line).map_err(|_| chunk_error(ChunkError::Malformed))
    }

    fn verify_chunk(&mut self) -> std::io::Result<()> {
        let hash = std::mem::replace(&mut self.chunk_hash, Sha256::new()).finalize();
        let claimed = &self.claimed;
        let signed = self
            .signer
            .as_mut()
            .is_none_or(|signer| signer.chunk_hash(&hex::encode(hash), claimed));
        if signed {
            Ok(())
        } else {
            Err(chunk_error(ChunkError::Signature))
        }
    }

    /// Read the next chunk's header; at the last chunk, the trailers.
    fn next_chunk(&mut self) -> std::io::Result<()> {
        let header = self.line()?;
        let (size, extension) = header.split_once(';').unwrap_or((&header, ""));
        self.remaining = usize::from_str_radix(size.trim(), 16)
            .map_err(|_| chunk_error(ChunkError::Malformed))?;
        self.claimed = extension
            .trim()
            .strip_prefix("chunk-signature=")
            .unwrap_or_default()
            .to_string();
        if self.remaining == 0 {
            self.verify_chunk()?;
            self.read_trailers()?;
            self.done = true;
        }
        Ok(())
    }

    fn read_trailers(&mut self) -> std::io::Result<()> {
        let mut signature = None;
        loop {
            let line = match self.line() {
                Ok(line) => line,
                // Some clients end the body right after the last chunk.
                Err(_) if self.trailers.is_empty() && signature.is_none() => return Ok(()),
                Err(e) => return Err(e),
            };
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| chunk_error(ChunkError::Malformed))?;
            let (name, value) = (name.trim().to_string(), value.trim().to_string());
            if name.eq_ignore_ascii_case("x-amz-trailer-signature") {
                signature = Some(value);
            } else {
                self.trailers.push((name, value));
            }
        }
        if let (Some(signer), false) = (&mut self.signer, self.trailers.is_empty()) {
            let canonical: String = self
                .trailers
                .iter()
                .map(|(k, v)| format!("{}:{v}\n", k.to_ascii_lowercase()))
                .collect();
            if !signer.trailer(&canonical, signature.as_deref().unwrap_or_default()) {
                return Err(chunk_error(ChunkError::Signature));
            }
        }
        Ok(())
    }
}

impl<R: BufRead> Read for ChunkedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.remaining == 0 && !self.done {
            self.next_chunk()?;
        }
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(self.remaining);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(chunk_error(ChunkError::Malformed));
        }
        self.chunk_hash.update(&buf[..n]);
        self.remaining -= n;
        if self.remaining == 0 {
            let mut crlf = [0u8; 2];
            self.inner
                .read_exact(&mut crlf)
                .map_err(|_| chunk_error(ChunkError::Malformed))?;
            if &crlf != b"\r\n" {
                return Err(chunk_error(ChunkError::Malformed));
            }
            self.verify_chunk()?;
        }
        Ok(n)
    }
}

/// Decode a whole `aws-chunked` body in memory (the decoder's tests).
#[cfg(test)]
pub(super) fn decode_aws_chunked(
    body: &[u8],
    signer: Option<ChunkSigner>,
) -> Result<(Vec<u8>, Trailers), AwsError> {
    let mut reader = ChunkedReader::new(body, signer);
    let mut out = Vec::new();
    reader.read_to_end(&mut out).map_err(|e| read_error(&e))?;
    Ok((out, reader.trailers))
}

/// The S3 answer for a body that could not be read to its end.
fn read_error(e: &std::io::Error) -> AwsError {
    if let Some(chunk) = e.get_ref().and_then(|e| e.downcast_ref::<ChunkError>()) {
        return match chunk {
            ChunkError::Malformed => incomplete(),
            ChunkError::Signature => chunk_signature_mismatch(),
        };
    }
    match body_error(e) {
        Some(BodyError::TooLarge(limit)) => AwsError::new(
            400,
            "EntityTooLarge",
            format!("Your proposed upload exceeds the maximum allowed size of {limit} bytes."),
        ),
        Some(BodyError::Broken(_)) => AwsError::new(
            400,
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        ),
        None => AwsError::new(
            500,
            "InternalError",
            format!("the emulator could not store the body: {e}"),
        ),
    }
}

/// Counts and hashes the bytes the client sent (before any decoding), for the signed SHA-256.
struct Wire<R> {
    inner: R,
    sha256: Option<Sha256>,
}

impl<R: Read> Read for Wire<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(hash) = &mut self.sha256 {
            hash.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// A PUT's payload, written to a temporary file under the data directory.
pub(super) struct Spooled {
    pub(super) file: tempfile::NamedTempFile,
    pub(super) size: u64,
    /// Quoted, as S3 sends it.
    pub(super) etag: String,
    /// The CRC32 the client sent (header or trailer), checked.
    pub(super) crc32: Option<String>,
}

/// Stream a PUT's payload to disk, checking everything the client claimed about it.
pub(super) fn spool(ctx: &Ctx, req: &AwsRequest) -> Result<Spooled, AwsError> {
    let chunked = req
        .header("content-encoding")
        .is_some_and(|e| e.contains("aws-chunked"))
        || req
            .header("x-amz-content-sha256")
            .is_some_and(|s| s.starts_with("STREAMING-"));
    let (signed_sha256, signer) = match &req.payload_check {
        PayloadCheck::Sha256(hash) => (Some(hash.clone()), None),
        PayloadCheck::SignedChunks(signer) => (None, Some(signer.clone())),
        PayloadCheck::Unchecked => (None, None),
    };
    let mut wire = Wire {
        inner: req.body_reader(),
        sha256: signed_sha256.as_ref().map(|_| Sha256::new()),
    };
    let mut file = ctx.store.new_blob_file().map_err(internal)?;
    let (size, md5, crc, trailers) = if chunked {
        let mut decoder = ChunkedReader::new(BufReader::new(&mut wire), signer);
        let (size, md5, crc) = copy_hashing(&mut decoder, file.as_file_mut())?;
        (size, md5, crc, decoder.trailers)
    } else {
        let (size, md5, crc) = copy_hashing(&mut wire, file.as_file_mut())?;
        (size, md5, crc, Vec::new())
    };
    if let (Some(claimed), Some(hash)) = (signed_sha256, wire.sha256) {
        let computed = hex::encode(hash.finalize());
        if computed != claimed {
            return Err(content_sha256_mismatch(&claimed, &computed));
        }
    }
    if let Some(expected) = req.header("content-md5") {
        if BASE64.encode(md5) != expected {
            return Err(AwsError::new(
                400,
                "BadDigest",
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    let crc32 = req
        .header("x-amz-checksum-crc32")
        .map(str::to_string)
        .or_else(|| {
            trailers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-checksum-crc32"))
                .map(|(_, v)| v.clone())
        });
    if let Some(expected) = &crc32 {
        if &BASE64.encode(crc.to_be_bytes()) != expected {
            return Err(AwsError::new(
                400,
                "BadDigest",
                "The CRC32 you specified did not match the calculated checksum.",
            ));
        }
    }
    // Durable before any metadata names it.
    file.as_file().sync_data().map_err(internal)?;
    Ok(Spooled {
        file,
        size,
        etag: format!("\"{}\"", hex::encode(md5)),
        crc32,
    })
}

/// Copy `from` to `to` through one buffer, returning the size, MD5 and CRC32.
fn copy_hashing(
    from: &mut impl Read,
    to: &mut std::fs::File,
) -> Result<(u64, [u8; 16], u32), AwsError> {
    let mut buffer = vec![0u8; COPY_BUFFER];
    let (mut size, mut md5, mut crc) = (0u64, Md5::new(), crc32fast::Hasher::new());
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(&e)),
        };
        md5.update(&buffer[..n]);
        crc.update(&buffer[..n]);
        to.write_all(&buffer[..n]).map_err(internal)?;
        size += n as u64;
    }
    Ok((size, md5.finalize().into(), crc.finalize()))
}
