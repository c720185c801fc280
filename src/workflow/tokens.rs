//! One token estimator for the whole project (data stats, cost estimates, the emulator's
//! `usage` counts), so every number that says "tokens" is counted the same way.
//!
//! Nova's tokenizer is not public. This approximates a BPE tokenizer on English text: a run
//! of letters or digits costs one token per started 4 characters, and every other visible
//! character (punctuation, symbols) costs one token; whitespace is free. On ordinary English
//! that lands near the usual "~4 characters or ~0.75 words per token" rule of thumb.

/// Estimated token count of `text` (see the module docs for the rule).
pub fn estimate_tokens(text: &str) -> usize {
    if text.is_ascii() {
        // Byte classes are exact for ASCII and several times faster than char decoding.
        count(
            text.bytes()
                .map(|b| (b.is_ascii_alphanumeric(), b.is_ascii_whitespace())),
        )
    } else {
        count(
            text.chars()
                .map(|c| (c.is_alphanumeric(), c.is_whitespace())),
        )
    }
}

/// The rule over a stream of (is letter or digit, is whitespace) classes.
fn count(classes: impl Iterator<Item = (bool, bool)>) -> usize {
    let mut tokens = 0;
    let mut run = 0usize;
    for (alphanumeric, whitespace) in classes {
        if alphanumeric {
            run += 1;
            continue;
        }
        tokens += run.div_ceil(4);
        run = 0;
        if !whitespace {
            tokens += 1;
        }
    }
    tokens + run.div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_word_pieces_and_punctuation() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("flight"), 2);
        assert_eq!(estimate_tokens("show me flights"), 1 + 1 + 2);
        assert_eq!(estimate_tokens("a, b."), 4);
        // Non-ASCII takes the char path with the same rule: "héllo" is one 5-char run.
        assert_eq!(estimate_tokens("héllo wörld!"), 2 + 2 + 1);
    }
}
