//! Text to features, shared by every local model: lower-cased word tokens, a light stemmer,
//! and hashed word and character n-grams (the fastText recipe).

use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};

/// Lower-cased runs of letters and digits (apostrophes kept inside words: `what's`).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for ch in text.chars() {
        if ch.is_alphanumeric() || (ch == '\'' && !current.is_empty()) {
            current.extend(ch.to_lowercase());
        } else if !current.is_empty() {
            out.push(
                std::mem::take(&mut current)
                    .trim_end_matches('\'')
                    .to_string(),
            );
        }
    }
    if !current.is_empty() {
        out.push(current.trim_end_matches('\'').to_string());
    }
    out
}

/// Lower-cased tokens of `text`, split at every character that is neither alphanumeric nor one
/// that `inside` keeps within a token (`_` for identifiers, `.` for `table.column`).
pub fn tokens_keeping(text: &str, inside: impl Fn(char) -> bool) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || inside(c)))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Probabilities from scores, in place (shifted by the maximum, so no score overflows).
pub fn softmax_in_place(scores: &mut [f32]) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    for s in scores.iter_mut() {
        *s /= sum;
    }
}

/// Scale a sparse vector to unit length (a zero vector stays zero).
pub fn to_unit_length<K>(vector: &mut [(K, f32)]) {
    let norm = vector
        .iter()
        .map(|(_, v)| v * v)
        .sum::<f32>()
        .sqrt()
        .max(1e-12);
    vector.iter_mut().for_each(|(_, v)| *v /= norm);
}

/// A crude English plural stemmer: `orders`/`order`, `boxes`/`box`, `queries`/`query`,
/// `classes`/`class`. Other inflections are left to prefix matching by the callers.
pub fn stem(word: &str) -> String {
    let w = word.strip_suffix("'s").unwrap_or(word);
    if w.chars().count() <= 3 {
        return w.to_string();
    }
    if let Some(base) = w.strip_suffix("ies") {
        return format!("{base}y");
    }
    if let Some(base) = w.strip_suffix("es") {
        if ["s", "x", "z", "ch", "sh"]
            .iter()
            .any(|end| base.ends_with(end))
        {
            return base.to_string();
        }
    }
    match w.strip_suffix('s') {
        Some(base) if !base.ends_with('s') && !base.ends_with('u') => base.to_string(),
        _ => w.to_string(),
    }
}

/// The opening words of a request, where it says what it asks for ("how do I reset
/// ...") before the details every request shares (names, dates). Words here count
/// once more as features of their own.
pub const HEAD_WORDS: usize = 6;

fn hash_str(kind: u8, text: &str) -> u64 {
    let mut h = FxHasher::default();
    kind.hash(&mut h);
    text.hash(&mut h);
    h.finish()
}

/// Hashed features of a text: words, word bigrams (with sentence start and end marks), the
/// opening two words, the words among the first [`HEAD_WORDS`], and character 3- to 5-grams of
/// each word (with `<` `>` boundary marks), each reduced modulo `buckets`. Returns
/// (bucket, count); the classifier weighs the counts by tf-idf.
pub fn features(text: &str, buckets: u32) -> Vec<(u32, f32)> {
    let tokens = words(text);
    let mut ids: Vec<u64> = Vec::with_capacity(tokens.len() * 12);
    for (i, word) in tokens.iter().enumerate() {
        ids.push(hash_str(1, word));
        if i == 0 {
            ids.push(hash_str(2, &format!("<s> {word}")));
            // How a request opens ("how many", "what is", "show me") says what it asks for.
            if let Some(next) = tokens.get(1) {
                ids.push(hash_str(4, &format!("<s> {word} {next}")));
            }
        }
        if i < HEAD_WORDS {
            ids.push(hash_str(5, word));
        }
        match tokens.get(i + 1) {
            Some(next) => ids.push(hash_str(2, &format!("{word} {next}"))),
            None => ids.push(hash_str(2, &format!("{word} </s>"))),
        }
        let marked: Vec<char> = std::iter::once('<')
            .chain(word.chars())
            .chain(std::iter::once('>'))
            .collect();
        for n in 3..=5 {
            for window in marked.windows(n) {
                // Hash the characters directly: no string per n-gram on this hot path.
                let mut h = FxHasher::default();
                3u8.hash(&mut h);
                window.hash(&mut h);
                ids.push(h.finish());
            }
        }
    }
    if ids.is_empty() {
        ids.push(hash_str(0, ""));
    }
    let mut out: Vec<(u32, f32)> = ids
        .into_iter()
        .map(|id| ((id % u64::from(buckets)) as u32, 1.0))
        .collect();
    out.sort_unstable_by_key(|(b, _)| *b);
    // Merge repeated buckets so each appears once.
    let mut merged: Vec<(u32, f32)> = Vec::with_capacity(out.len());
    for (bucket, w) in out {
        match merged.last_mut() {
            Some((last, total)) if *last == bucket => *total += w,
            _ => merged.push((bucket, w)),
        }
    }
    merged
}

/// Lower-cased word tokens, `_` kept inside words (`password_reset` is one token).
fn f1_tokens(text: &str) -> Vec<String> {
    tokens_keeping(text, |c| c == '_')
}

/// Token F1 of an answer against the reference (multiset overlap).
pub fn token_f1(answer: &str, reference: &str) -> f64 {
    let (a, r) = (f1_tokens(answer), f1_tokens(reference));
    if a.is_empty() || r.is_empty() {
        return if a.is_empty() && r.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for t in &r {
        *counts.entry(t).or_default() += 1;
    }
    let mut common = 0usize;
    for t in &a {
        if let Some(n) = counts.get_mut(t.as_str()).filter(|n| **n > 0) {
            *n -= 1;
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / a.len() as f64;
    let recall = common as f64 / r.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_stems() {
        assert_eq!(
            words("What's the FARE, to st. louis?"),
            vec!["what's", "the", "fare", "to", "st", "louis"]
        );
        assert_eq!(stem("flights"), "flight");
        assert_eq!(stem("fares"), "fare");
        assert_eq!(stem("classes"), "class");
        assert_eq!(stem("cities"), "city");
        assert_eq!(stem("class"), "class");
    }

    #[test]
    fn features_are_deterministic_and_bounded() {
        let a = features("show me flights from boston", 1 << 16);
        assert_eq!(a, features("show me flights from boston", 1 << 16));
        assert!(a.iter().all(|(b, _)| *b < (1 << 16)));
        assert!(a.windows(2).all(|w| w[0].0 < w[1].0));
        assert_ne!(a, features("cheapest fare to denver", 1 << 16));
    }
}
