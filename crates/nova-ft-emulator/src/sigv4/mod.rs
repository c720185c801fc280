//! Signature Version 4 verification, as AWS checks a request: the Authorization header or a
//! presigned URL's query, the request time (15 minutes of skew, a presigned URL's expiry),
//! the access key, and the signature over the canonical request; the payload it signed is
//! checked as the body arrives ([`PayloadCheck`]).
//!
//! The canonical request is built here from what the client sent (no signing crate can do
//! that: only the client chose which headers to sign); the signing key and the HMACs come from
//! `aws-sigv4`, the crate the AWS SDK for Rust signs with.

mod chunks;
mod query_v2;
mod refusals;
#[cfg(test)]
mod tests;

pub use chunks::ChunkSigner;
use refusals::{amz_date, Failure};
pub use refusals::{chunk_signature_mismatch, content_sha256_mismatch};

use super::request::Service;
use super::wire::AwsError;
use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use axum::http::{HeaderMap, Method};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's time may be from the emulator's clock.
pub(super) const MAX_SKEW_SECONDS: i64 = 15 * 60;
/// The longest a presigned URL may live.
const MAX_EXPIRES_SECONDS: i64 = 7 * 24 * 3600;
/// SHA-256 of nothing, as hex.
pub(super) const EMPTY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Everything but the unreserved characters of RFC 3986, as SigV4 encodes.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// The same, keeping `/` (paths).
const PATH: &AsciiSet = &STRICT.remove(b'/');

/// The key pair the emulator accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Default for Credentials {
    /// `test` / `test`: the usual local-emulator convention, so scripts written for one work.
    fn default() -> Self {
        Credentials {
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
        }
    }
}

/// What is left to check once the headers are verified: the payload the signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadCheck {
    /// Nothing (an unsigned payload, a bearer token, or verification turned off).
    Unchecked,
    /// The body must hash to this lowercase hex SHA-256.
    Sha256(String),
    /// `aws-chunked` with a signature on every chunk, chained from the request's.
    SignedChunks(ChunkSigner),
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(super) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The parts of a request a signature covers.
#[derive(Debug)]
pub struct SignedRequest<'a> {
    pub method: &'a Method,
    /// The path as it arrived, still percent-encoded.
    pub raw_path: &'a str,
    /// The query string as it arrived.
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    /// The body, for services whose signature hashes it (all but S3); `None` for S3.
    pub body: Option<&'a [u8]>,
}

/// What one signature claims, from the Authorization header or a presigned URL's query.
struct Claim {
    access_key: String,
    date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
    time: DateTime<Utc>,
    /// A presigned URL's lifetime in seconds.
    expires: Option<i64>,
}

fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| Utc.from_utc_datetime(&t))
        .or_else(|| {
            httpdate::parse_http_date(value)
                .ok()
                .map(DateTime::<Utc>::from)
        })
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The query's pairs as they arrived (still encoded).
fn raw_pairs(raw_query: &str) -> Vec<(&str, &str)> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect()
}

/// A query parameter's decoded value.
fn query_param(raw_query: &str, name: &str) -> Option<String> {
    raw_pairs(raw_query)
        .into_iter()
        .find(|(k, _)| decoded(k) == name)
        .map(|(_, v)| decoded(v))
}

fn decoded(raw: &str) -> String {
    percent_decode_str(raw).decode_utf8_lossy().into_owned()
}

fn credential_parts(credential: &str) -> Result<[String; 4], Failure> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [key, date, region, service, "aws4_request"] => Ok([
            key.to_string(),
            date.to_string(),
            region.to_string(),
            service.to_string(),
        ]),
        _ => Err(Failure::Malformed(format!(
            "the Credential '{credential}' is not <key>/<YYYYMMDD>/<region>/<service>/aws4_request."
        ))),
    }
}

fn header_claim(headers: &HeaderMap, authorization: &str) -> Result<Claim, Failure> {
    let rest = authorization
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| {
            Failure::Malformed(format!(
                "the authorization mechanism is not supported; use {ALGORITHM}."
            ))
        })?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(Failure::Malformed(
            "Authorization must hold Credential, SignedHeaders and Signature.".into(),
        ));
    };
    let [access_key, date, region, service] = credential_parts(credential)?;
    let time = header(headers, "x-amz-date")
        .or_else(|| header(headers, "date"))
        .and_then(parse_time)
        .ok_or_else(|| {
            Failure::Malformed("the request has no valid X-Amz-Date or Date header.".into())
        })?;
    Ok(Claim {
        access_key,
        date,
        region,
        service,
        signed_headers: signed.split(';').map(str::to_string).collect(),
        signature: signature.to_string(),
        time,
        expires: None,
    })
}

fn query_claim(raw_query: &str) -> Result<Claim, Failure> {
    let get = |name: &str| query_param(raw_query, name);
    let algorithm = get("X-Amz-Algorithm").unwrap_or_default();
    if algorithm != ALGORITHM {
        return Err(Failure::Malformed(format!(
            "X-Amz-Algorithm must be {ALGORITHM}."
        )));
    }
    let missing = |name: &str| Failure::Malformed(format!("the query has no {name}."));
    let credential = get("X-Amz-Credential").ok_or_else(|| missing("X-Amz-Credential"))?;
    let [access_key, date, region, service] = credential_parts(&credential)?;
    let time = get("X-Amz-Date")
        .as_deref()
        .and_then(parse_time)
        .ok_or_else(|| missing("valid X-Amz-Date"))?;
    let expires = get("X-Amz-Expires")
        .and_then(|e| e.parse::<i64>().ok())
        .filter(|e| (1..=MAX_EXPIRES_SECONDS).contains(e))
        .ok_or_else(|| {
            Failure::Malformed(format!(
                "X-Amz-Expires must be a number of seconds from 1 to {MAX_EXPIRES_SECONDS}."
            ))
        })?;
    Ok(Claim {
        access_key,
        date,
        region,
        service,
        signed_headers: get("X-Amz-SignedHeaders")
            .ok_or_else(|| missing("X-Amz-SignedHeaders"))?
            .split(';')
            .map(str::to_string)
            .collect(),
        signature: get("X-Amz-Signature").ok_or_else(|| missing("X-Amz-Signature"))?,
        time,
        expires: Some(expires),
    })
}

/// `name=value` pairs, each side decoded then strictly encoded, sorted; a presigned URL's
/// own signature left out.
fn canonical_query(raw_query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = raw_pairs(raw_query)
        .into_iter()
        .map(|(k, v)| {
            (
                utf8_percent_encode(&decoded(k), STRICT).to_string(),
                utf8_percent_encode(&decoded(v), STRICT).to_string(),
            )
        })
        .filter(|(k, _)| !(presigned && k == "X-Amz-Signature"))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Each signed header's values, trimmed, inner runs of spaces collapsed, joined by commas.
fn canonical_headers(headers: &HeaderMap, names: &[String]) -> String {
    let mut out = String::new();
    for name in names {
        let values: Vec<String> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

/// S3 signs the path as sent; the other services sign it encoded once more.
fn canonical_uri(raw_path: &str, service: Service) -> String {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    match service {
        Service::S3 => path.to_string(),
        _ => utf8_percent_encode(path, PATH).to_string(),
    }
}

/// The payload hash the signature covers, and what the body still owes.
fn payload(
    request: &SignedRequest<'_>,
    service: Service,
    presigned: bool,
) -> Result<(String, PayloadCheck), Failure> {
    let declared = header(request.headers, "x-amz-content-sha256");
    match (declared, request.body) {
        (None, Some(body)) => Ok((sha256_hex(body), PayloadCheck::Unchecked)),
        (None, None) if presigned => Ok(("UNSIGNED-PAYLOAD".into(), PayloadCheck::Unchecked)),
        (None, None) if service == Service::S3 => Err(Failure::MissingContentSha256),
        (None, None) => Ok((EMPTY_SHA256.into(), PayloadCheck::Unchecked)),
        (Some(value), _) => {
            let check = match value {
                "UNSIGNED-PAYLOAD" | "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => {
                    PayloadCheck::Unchecked
                }
                // Filled in by `verify` once the seed signature is known.
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
                | "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => PayloadCheck::Unchecked,
                hash if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    match request.body {
                        Some(body) if sha256_hex(body) != hash.to_ascii_lowercase() => {
                            return Err(Failure::BadContentSha256)
                        }
                        Some(_) => PayloadCheck::Unchecked,
                        None => PayloadCheck::Sha256(hash.to_ascii_lowercase()),
                    }
                }
                _ => return Err(Failure::BadContentSha256),
            };
            Ok((value.to_string(), check))
        }
    }
}

/// Verify a request's signature. A signature made with the known key is verified; one made
/// with another key is refused when `strict`, and otherwise checked for form only (scope,
/// date, signed headers, payload hash) and accepted, as local emulators do: `test`/`test` is
/// public, so refusing other keys protects nothing, and users' real keys then just work. `Ok`
/// carries what the body must still satisfy; `Err` is the service's own refusal, with a
/// sentence naming the key this emulator knows.
pub fn verify(
    credentials: &Credentials,
    strict: bool,
    request: &SignedRequest<'_>,
    service: Service,
    now: DateTime<Utc>,
) -> Result<PayloadCheck, AwsError> {
    check(credentials, strict, request, service, now).map_err(|failure| {
        let hint = match &failure {
            Failure::UnknownKey(_) => Some(format!(
                "This is nova_ft's local emulator: it accepts the access key id {:?}, and refuses other keys because it was started with --strict-credentials.",
                credentials.access_key_id
            )),
            Failure::Mismatch { key, .. } if *key == credentials.access_key_id => Some(format!(
                "This is nova_ft's local emulator: sign with the secret access key it was started with for {key:?}."
            )),
            _ => None,
        };
        let error = failure.error(service, now);
        match hint {
            Some(hint) => error.with_hint(&hint),
            None => error,
        }
    })
}

/// Log, once per key (and for at most a few keys), that a signature was accepted unverified.
fn note_unverified(key: &str) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if seen.len() < 16 && !seen.iter().any(|k| k == key) {
        seen.push(key.to_string());
        log::warn!(
            target: "nova_ft.emulator",
            "accepted requests signed with the access key id {key:?}, which this emulator does not know: their signatures are checked for form, not verified (start it with --strict-credentials to refuse unknown keys)"
        );
    }
}

/// What a signature by an unknown key must still get right to be accepted.
fn check_form(claim: &Claim) -> Result<(), Failure> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !plain(&claim.access_key) || !plain(&claim.region) || !plain(&claim.service) {
        return Err(Failure::Malformed(
            "the Credential's key, region and service must be letters, digits, '-' or '_'.".into(),
        ));
    }
    if !claim.signed_headers.iter().any(|h| h == "host") {
        return Err(Failure::Malformed(
            "SignedHeaders must include host.".into(),
        ));
    }
    if claim.signature.len() != 64 || !claim.signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Failure::Malformed(
            "the Signature must be 64 hexadecimal digits.".into(),
        ));
    }
    Ok(())
}

fn check(
    credentials: &Credentials,
    strict: bool,
    request: &SignedRequest<'_>,
    service: Service,
    now: DateTime<Utc>,
) -> Result<PayloadCheck, Failure> {
    let authorization = header(request.headers, "authorization");
    let presigned = authorization.is_none()
        && raw_pairs(request.raw_query)
            .iter()
            .any(|(k, _)| decoded(k) == "X-Amz-Signature");
    let claim = match authorization {
        Some(token) if matches!(service, Service::Bedrock | Service::BedrockRuntime) => {
            match token.strip_prefix("Bearer ") {
                // Bedrock API keys: the emulator's secret access key is its one known key;
                // others are accepted unless strict, as access keys are.
                Some(key) if constant_time_eq(key.trim(), &credentials.secret_access_key) => {
                    return Ok(PayloadCheck::Unchecked)
                }
                Some(_) if strict => return Err(Failure::UnknownKey(String::new())),
                Some(_) => {
                    note_unverified("(a Bedrock API key)");
                    return Ok(PayloadCheck::Unchecked);
                }
                None => header_claim(request.headers, token)?,
            }
        }
        Some(auth) => header_claim(request.headers, auth)?,
        None if presigned => query_claim(request.raw_query)?,
        None if service == Service::S3 && query_v2::is_presigned_v2(request.raw_query) => {
            query_v2::check_v2(
                credentials,
                strict,
                request.method,
                request.raw_path,
                request.raw_query,
                request.headers,
                now,
            )?;
            return Ok(PayloadCheck::Unchecked);
        }
        None => return Err(Failure::Missing),
    };
    let known = constant_time_eq(&claim.access_key, &credentials.access_key_id);
    if !known && strict {
        return Err(Failure::UnknownKey(claim.access_key));
    }
    if claim.time.format("%Y%m%d").to_string() != claim.date {
        return Err(Failure::Malformed(
            "the Credential's date is not the date of X-Amz-Date.".into(),
        ));
    }
    match claim.expires {
        Some(seconds) => {
            let expires = claim.time + chrono::Duration::seconds(seconds);
            if now > expires {
                return Err(Failure::Expired {
                    expires,
                    seconds: Some(seconds),
                });
            }
        }
        None if (now - claim.time).num_seconds().abs() > MAX_SKEW_SECONDS => {
            return Err(Failure::Skewed(claim.time));
        }
        None => {}
    }
    let (payload_hash, mut payload_check) = payload(request, service, presigned)?;
    if !known {
        // No secret to verify with: the form is checked, and a signed body's hash (already,
        // by `payload`); chunk signatures cannot be, so the chunks are only decoded.
        check_form(&claim)?;
        note_unverified(&claim.access_key);
        return Ok(payload_check);
    }
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method.as_str(),
        canonical_uri(request.raw_path, service),
        canonical_query(request.raw_query, presigned),
        canonical_headers(request.headers, &claim.signed_headers),
        claim.signed_headers.join(";"),
        payload_hash
    );
    let scope = format!(
        "{}/{}/{}/aws4_request",
        claim.date, claim.region, claim.service
    );
    let datetime = amz_date(claim.time);
    let string_to_sign = format!(
        "{ALGORITHM}\n{datetime}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let key = generate_signing_key(
        &credentials.secret_access_key,
        claim.time.into(),
        &claim.region,
        &claim.service,
    );
    let expected = calculate_signature(&key, string_to_sign.as_bytes());
    if !constant_time_eq(&expected, &claim.signature) {
        return Err(Failure::Mismatch {
            key: claim.access_key,
            string_to_sign,
            canonical_request,
            provided: claim.signature,
        });
    }
    if payload_hash.starts_with("STREAMING-AWS4-HMAC-SHA256-PAYLOAD") {
        payload_check = PayloadCheck::SignedChunks(ChunkSigner {
            key: key.as_ref().to_vec(),
            datetime,
            scope,
            previous: expected,
        });
    }
    Ok(payload_check)
}

/// STS operations AWS serves unsigned (their caller has no AWS credentials yet). The emulator
/// does not serve them either, and says so by name instead of refusing the missing signature.
pub fn unsigned_by_design(service: Service, body: &[u8]) -> bool {
    matches!(service, Service::Sts | Service::Iam)
        && form_urlencoded::parse(body).any(|(k, v)| {
            k == "Action"
                && matches!(
                    v.as_ref(),
                    "AssumeRoleWithSAML" | "AssumeRoleWithWebIdentity"
                )
        })
}
