//! Finding a resource by ARN or name, and sorting, filtering and paging listings, the way
//! Bedrock's Get* and List* calls do.

use super::parse_time;
use crate::request::AwsRequest;
use crate::wire::AwsError;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A resource by ARN (its key) or by name, or `ResourceNotFoundException` naming the kind.
pub(super) fn find_by_id<'s, T>(
    resources: &'s BTreeMap<String, T>,
    id: &str,
    name: impl Fn(&T) -> &str,
    kind: &str,
) -> Result<&'s T, AwsError> {
    resources
        .get(id)
        .or_else(|| resources.values().find(|r| name(r) == id))
        .ok_or_else(|| {
            AwsError::not_found(format!("Could not find a {kind} with identifier {id}."))
        })
}

/// A job by ARN (its key) or by the ARN's last segment, its id: how batch inference and
/// evaluation jobs are named in `jobIdentifier` (not by name); `ResourceNotFoundException`
/// naming the kind otherwise.
pub(super) fn find_by_arn_or_id<'s, T>(
    jobs: &'s BTreeMap<String, T>,
    id: &str,
    kind: &str,
) -> Result<&'s T, AwsError> {
    jobs.get(id)
        .or_else(|| {
            jobs.iter()
                .find(|(arn, _)| arn.rsplit('/').next() == Some(id))
                .map(|(_, job)| job)
        })
        .ok_or_else(|| AwsError::not_found(format!("Could not find {kind} with identifier {id}.")))
}

/// Sort, filter and page a listing the way Bedrock's List* calls do.
pub(super) fn page<T>(
    req: &AwsRequest,
    mut items: Vec<T>,
    created: impl Fn(&T) -> DateTime<Utc>,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let after = parse_time(
        req.query_value("creationTimeAfter")
            .or(req.query_value("createdAfter"))
            .or(req.query_value("submitTimeAfter")),
    );
    let before = parse_time(
        req.query_value("creationTimeBefore")
            .or(req.query_value("createdBefore"))
            .or(req.query_value("submitTimeBefore")),
    );
    items.retain(|i| after.is_none_or(|a| created(i) > a) && before.is_none_or(|b| created(i) < b));
    items.sort_by_key(|i| created(i));
    if req.query_value("sortOrder") != Some("Ascending") {
        items.reverse();
    }
    slice_page(req, items)
}

/// One page of items already in listing order: `maxResults` (1-1000, default 1000) from the
/// offset a `nextToken` carries; the token for the next page when there is one.
pub(super) fn slice_page<T>(
    req: &AwsRequest,
    items: Vec<T>,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let max = match req.query_value("maxResults") {
        None => 1000,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|m| (1..=1000).contains(m))
            .ok_or_else(|| AwsError::validation("maxResults must be between 1 and 1000."))?,
    };
    let start = match req.query_value("nextToken") {
        Some(token) => BASE64
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| AwsError::validation("The nextToken is invalid."))?,
        None => 0,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = (start + max < total).then(|| BASE64.encode((start + max).to_string()));
    Ok((page, next))
}

pub(super) fn with_next(mut value: Value, next: Option<String>) -> Value {
    if let Some(token) = next {
        value
            .as_object_mut()
            .expect("object")
            .insert("nextToken".into(), json!(token));
    }
    value
}
