//! IAM's condition operators, as the IAM user guide defines them ("IAM JSON policy elements:
//! Condition operators" and "Single-valued vs. multivalued context keys").
//!
//! A `Condition` block holds operators; each operator holds keys; each key holds one value or a
//! list. Operators and keys are ANDed, a key's values ORed (for a negated operator: none may
//! match). `...IfExists` makes an absent key pass; `ForAnyValue:` / `ForAllValues:` compare a
//! multivalued key's values as a set. An operator IAM does not define, or a value that is not
//! of the operator's type, fails the condition, so a typo can never grant access.

use super::wildcard_match;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The request's condition keys. Keys are case-insensitive, as in IAM; a key may hold several
/// values (`aws:TagKeys`), which only the set operators compare one by one.
#[derive(Debug, Clone, Default)]
pub struct Context(BTreeMap<String, Vec<String>>);

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.0.insert(key.to_ascii_lowercase(), vec![value.into()]);
    }

    /// A multivalued key (an empty list counts as absent, as in IAM).
    pub fn insert_all(&mut self, key: &str, values: impl IntoIterator<Item = String>) {
        self.0
            .insert(key.to_ascii_lowercase(), values.into_iter().collect());
    }

    fn get(&self, key: &str) -> &[String] {
        self.0
            .get(&key.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

/// How one policy value is compared with one request value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    String { ignore_case: bool, like: bool },
    Numeric(std::cmp::Ordering, bool),
    Date(std::cmp::Ordering, bool),
    Bool,
    Binary,
    Ip,
    Arn,
}

/// A parsed operator name such as `ForAllValues:StringNotEqualsIgnoreCaseIfExists`.
#[derive(Debug, Clone, Copy)]
struct Operator {
    set: SetQualifier,
    comparison: Comparison,
    negated: bool,
    if_exists: bool,
}

/// `Equals`, `NotEquals`, `LessThan`, ... after a numeric or date operator's prefix:
/// the ordering wanted, whether equality also passes, and whether the result is negated.
fn ordering(rest: &str) -> Option<(std::cmp::Ordering, bool, bool)> {
    use std::cmp::Ordering::*;
    Some(match rest {
        "Equals" => (Equal, true, false),
        "NotEquals" => (Equal, true, true),
        "LessThan" => (Less, false, false),
        "LessThanEquals" => (Less, true, false),
        "GreaterThan" => (Greater, false, false),
        "GreaterThanEquals" => (Greater, true, false),
        _ => return None,
    })
}

fn parse_operator(name: &str) -> Option<Operator> {
    let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (SetQualifier::ForAnyValue, rest)
    } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (SetQualifier::ForAllValues, rest)
    } else {
        (SetQualifier::None, name)
    };
    let (rest, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let (comparison, negated) = match rest {
        "StringEquals" => (string(false, false), false),
        "StringNotEquals" => (string(false, false), true),
        "StringEqualsIgnoreCase" => (string(true, false), false),
        "StringNotEqualsIgnoreCase" => (string(true, false), true),
        "StringLike" => (string(false, true), false),
        "StringNotLike" => (string(false, true), true),
        "Bool" => (Comparison::Bool, false),
        "BinaryEquals" => (Comparison::Binary, false),
        "IpAddress" => (Comparison::Ip, false),
        "NotIpAddress" => (Comparison::Ip, true),
        // ArnEquals and ArnLike behave the same: wildcards in each of the six parts.
        "ArnEquals" | "ArnLike" => (Comparison::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Comparison::Arn, true),
        _ => {
            if let Some(order) = rest.strip_prefix("Numeric") {
                let (o, eq, neg) = ordering(order)?;
                (Comparison::Numeric(o, eq), neg)
            } else if let Some(order) = rest.strip_prefix("Date") {
                let (o, eq, neg) = ordering(order)?;
                (Comparison::Date(o, eq), neg)
            } else {
                return None;
            }
        }
    };
    Some(Operator {
        set,
        comparison,
        negated,
        if_exists,
    })
}

fn string(ignore_case: bool, like: bool) -> Comparison {
    Comparison::String { ignore_case, like }
}

/// A policy value as text: IAM accepts strings, numbers and booleans alike.
fn policy_values(value: &Value) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        other => one(other).map(|v| vec![v]),
    }
}

/// ISO 8601 (a date, or a date and time with an offset) or seconds since the epoch.
fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        return Some(t.and_utc());
    }
    let seconds: f64 = text.parse().ok()?;
    DateTime::from_timestamp_millis((seconds * 1000.0) as i64)
}

/// Whether `ip` lies in `cidr` (`203.0.113.0/24`, `2001:db8::/32`, or one address).
fn ip_in(cidr: &str, ip: &str) -> Option<bool> {
    let ip: IpAddr = ip.parse().ok()?;
    let (net, bits) = match cidr.split_once('/') {
        Some((net, bits)) => (net.parse::<IpAddr>().ok()?, bits.parse::<u32>().ok()?),
        None => {
            let net: IpAddr = cidr.parse().ok()?;
            (net, if net.is_ipv4() { 32 } else { 128 })
        }
    };
    let (net, ip, width) = match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => (u32::from(n) as u128, u32::from(i) as u128, 32),
        (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
        _ => return Some(false),
    };
    if bits > width {
        return None;
    }
    let mask = if bits == 0 {
        0
    } else {
        (!0u128 << (width - bits)) & (!0u128 >> (128 - width))
    };
    Some(net & mask == ip & mask)
}

/// IAM's ARN comparison: each of the six colon-separated parts matched on its own, with `*`
/// and `?` inside a part; a value that is not six parts is compared as a whole.
fn arn_matches(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() == 6 && a.len() == 6 {
        p.iter().zip(&a).all(|(p, a)| wildcard_match(p, a, false))
    } else {
        wildcard_match(pattern, arn, false)
    }
}

/// One policy value against one request value; `None` when either is not of the operator's
/// type (the condition then fails).
fn compare(comparison: Comparison, policy: &str, request: &str) -> Option<bool> {
    Some(match comparison {
        Comparison::String { ignore_case, like } => match (like, ignore_case) {
            (true, _) => wildcard_match(policy, request, false),
            (false, true) => policy.to_lowercase() == request.to_lowercase(),
            (false, false) => policy == request,
        },
        Comparison::Numeric(order, or_equal) => {
            let (p, r): (f64, f64) = (policy.parse().ok()?, request.parse().ok()?);
            let found = r.partial_cmp(&p)?;
            found == order || (or_equal && found.is_eq())
        }
        Comparison::Date(order, or_equal) => {
            let found = parse_date(request)?.cmp(&parse_date(policy)?);
            found == order || (or_equal && found.is_eq())
        }
        Comparison::Bool => {
            let parse = |v: &str| match v.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            };
            parse(policy)? == parse(request)?
        }
        Comparison::Binary => policy == request,
        Comparison::Ip => ip_in(policy, request)?,
        Comparison::Arn => arn_matches(policy, request),
    })
}

/// One key of one operator: the policy's values against the request's.
fn key_holds(operator: Operator, expected: &[String], actual: &[String]) -> bool {
    if actual.is_empty() {
        return operator.if_exists
            || match operator.set {
                // "ForAllValues returns true if the key is missing or has no values."
                SetQualifier::ForAllValues => true,
                SetQualifier::ForAnyValue => false,
                // A negated operator is satisfied by a key that is not there.
                SetQualifier::None => operator.negated,
            };
    }
    // For each request value: does any policy value match it (None: not comparable)?
    let mut matched = Vec::with_capacity(actual.len());
    for value in actual {
        let mut hit = false;
        for policy in expected {
            match compare(operator.comparison, policy, value) {
                Some(true) => hit = true,
                Some(false) => {}
                None => return false,
            }
        }
        matched.push(hit != operator.negated);
    }
    match operator.set {
        SetQualifier::ForAllValues => matched.iter().all(|&ok| ok),
        SetQualifier::ForAnyValue => matched.iter().any(|&ok| ok),
        // Negated: no value may match; otherwise one match is enough.
        SetQualifier::None if operator.negated => matched.iter().all(|&ok| ok),
        SetQualifier::None => matched.iter().any(|&ok| ok),
    }
}

/// `Null`: `true` means the key must be absent, `false` that it must be present.
fn null_holds(expected: &[String], actual: &[String]) -> bool {
    expected
        .iter()
        .all(|e| match e.to_ascii_lowercase().as_str() {
            "true" => actual.is_empty(),
            "false" => !actual.is_empty(),
            _ => false,
        })
}

/// Whether a statement's `Condition` block (absent: no condition) holds for the request.
pub fn conditions_hold(condition: Option<&Value>, context: &Context) -> bool {
    let Some(condition) = condition else {
        return true;
    };
    let Value::Object(operators) = condition else {
        return false;
    };
    operators.iter().all(|(name, keys)| {
        let Value::Object(keys) = keys else {
            return false;
        };
        keys.iter().all(|(key, values)| {
            let Some(expected) = policy_values(values) else {
                return false;
            };
            let actual = context.get(key);
            if name == "Null" {
                return null_holds(&expected, actual);
            }
            match parse_operator(name) {
                Some(operator) => key_holds(operator, &expected, actual),
                None => false,
            }
        })
    })
}
