//! Signed `aws-chunked` bodies: every chunk, and the trailing headers, carry a signature
//! chained from the previous one, starting from the request's own.

use super::{constant_time_eq, sha256_hex, EMPTY_SHA256};
use aws_sigv4::sign::v4::calculate_signature;

/// The running signature of a signed `aws-chunked` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSigner {
    pub(super) key: Vec<u8>,
    pub(super) datetime: String,
    pub(super) scope: String,
    pub(super) previous: String,
}

impl ChunkSigner {
    pub(super) fn sign(&mut self, algorithm: &str, hash: &str) -> String {
        let string_to_sign = format!(
            "{algorithm}\n{}\n{}\n{}\n{hash}",
            self.datetime, self.scope, self.previous
        );
        let signature = calculate_signature(&self.key, string_to_sign.as_bytes());
        self.previous = signature.clone();
        signature
    }

    /// Whether `claimed` signs this chunk (the final, empty one too), continuing the chain.
    /// (The streaming decoder hashes as it reads and calls [`ChunkSigner::chunk_hash`].)
    #[cfg(test)]
    pub fn chunk(&mut self, data: &[u8], claimed: &str) -> bool {
        self.chunk_hash(&sha256_hex(data), claimed)
    }

    /// The same, given the chunk's SHA-256 (hex), for chunks hashed as they stream.
    pub fn chunk_hash(&mut self, data_sha256: &str, claimed: &str) -> bool {
        let hash = format!("{EMPTY_SHA256}\n{data_sha256}");
        constant_time_eq(&self.sign("AWS4-HMAC-SHA256-PAYLOAD", &hash), claimed)
    }

    /// Whether `claimed` signs these trailing headers (`name:value\n`, as sent).
    pub fn trailer(&mut self, canonical: &str, claimed: &str) -> bool {
        let hash = sha256_hex(canonical.as_bytes());
        constant_time_eq(&self.sign("AWS4-HMAC-SHA256-TRAILER", &hash), claimed)
    }
}
