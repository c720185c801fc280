//! IAM's awsQuery request fields: plain values, `X.member.N` lists, tags, IAM's name rules
//! and its Marker/MaxItems paging.

use super::super::wire::AwsError;
use super::super::xml_writer::Xml;

/// The decoded `application/x-www-form-urlencoded` fields of one request.
pub(super) struct Form(pub(super) Vec<(String, String)>);

impl Form {
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn required(&self, name: &str) -> Result<&str, AwsError> {
        self.get(name).ok_or_else(|| {
            AwsError::new(400, "ValidationError", format!("1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null", lower_first(name)))
        })
    }

    /// A boolean field (`true`/`false`); absent is `default`.
    pub(super) fn flag(&self, name: &str, default: bool) -> bool {
        self.get(name)
            .map_or(default, |v| v.eq_ignore_ascii_case("true"))
    }

    /// `<list>.member.1`, `<list>.member.2`, ... in member order.
    pub(super) fn members(&self, list: &str) -> Vec<&str> {
        let prefix = format!("{list}.member.");
        let mut items: Vec<(u32, &str)> = self
            .0
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.parse().ok()?, v.as_str())))
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// `Tags.member.N.Key` / `.Value` pairs, checked against IAM's limits.
    pub(super) fn tags(&self) -> Result<Vec<(String, String)>, AwsError> {
        let mut tags: Vec<(u32, String, String)> = Vec::new();
        for (k, v) in &self.0 {
            let Some(rest) = k.strip_prefix("Tags.member.") else {
                continue;
            };
            let Some((n, part)) = rest.split_once('.') else {
                continue;
            };
            let Ok(n) = n.parse::<u32>() else { continue };
            let index = match tags.iter().position(|(m, _, _)| *m == n) {
                Some(i) => i,
                None => {
                    tags.push((n, String::new(), String::new()));
                    tags.len() - 1
                }
            };
            match part {
                "Key" => tags[index].1 = v.clone(),
                "Value" => tags[index].2 = v.clone(),
                _ => {}
            }
        }
        tags.sort_by_key(|(n, _, _)| *n);
        if tags.len() > 50 {
            return Err(AwsError::new(
                400,
                "LimitExceeded",
                "The number of tags has reached the maximum limit of 50.",
            ));
        }
        for (_, key, value) in &tags {
            if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
                return Err(AwsError::new(400, "ValidationError", format!("1 validation error detected: Value '{key}' at 'tags' failed to satisfy constraint: a tag key must have length between 1 and 128 and a value at most 256")));
            }
        }
        Ok(tags.into_iter().map(|(_, k, v)| (k, v)).collect())
    }

    /// `Path` or `PathPrefix`: starts and ends with `/`.
    pub(super) fn path(&self, name: &str) -> Result<&str, AwsError> {
        let path = self.get(name).unwrap_or("/");
        if path.starts_with('/') && path.ends_with('/') && path.len() <= 512 {
            Ok(path)
        } else {
            Err(AwsError::new(
                400,
                "ValidationError",
                format!("The specified value for {} is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.", lower_first(name)),
            ))
        }
    }
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// `[\w+=,.@-]+`, 1..=max characters: IAM's pattern for role and policy names.
pub(super) fn check_name(field: &str, value: &str, max: usize) -> Result<(), AwsError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AwsError::new(400, "ValidationError", format!("1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length between 1 and {max}")))
    }
}

/// One page of a listing: items after `Marker` (the last key of the previous page), at most
/// `MaxItems` (1-1000, default 100); writes `IsTruncated` and `Marker` after the list.
pub(super) fn page<'a, T>(
    form: &Form,
    items: impl Iterator<Item = (&'a str, T)>,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let max: usize = match form.get("MaxItems") {
        None => 100,
        Some(v) => v.parse().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
            AwsError::new(400, "ValidationError", format!("1 validation error detected: Value '{v}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"))
        })?,
    };
    let marker = form.get("Marker");
    let mut page = Vec::new();
    let mut next = None;
    for (key, item) in items.skip_while(|(key, _)| marker.is_some_and(|m| *key <= m)) {
        if page.len() == max {
            next = Some(key.to_string());
            break;
        }
        page.push((key, item));
    }
    let last = next.as_ref().and(page.last().map(|(k, _)| k.to_string()));
    Ok((page.into_iter().map(|(_, item)| item).collect(), last))
}

/// `IsTruncated` (and `Marker` when there is a next page) after a listing.
pub(super) fn write_truncation(xml: &mut Xml, marker: Option<String>) {
    xml.leaf("IsTruncated", marker.is_some());
    xml.leaf_opt("Marker", marker);
}

/// `<Tags><member><Key/><Value/></member>...</Tags>`.
pub(super) fn write_tags(xml: &mut Xml, tags: &[(String, String)]) {
    xml.element("Tags", |t| {
        for (key, value) in tags {
            t.element("member", |m| {
                m.leaf("Key", key).leaf("Value", value);
            });
        }
    });
}
