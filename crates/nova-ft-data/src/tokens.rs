//! One token estimator for the whole project (data stats, cost estimates, the emulator's
//! `usage` counts), so every number that says "tokens" is counted the same way.
//!
//! Nova's tokenizer is not public. This approximates a BPE tokenizer on English text: a run
//! of letters or digits costs one token per started 4 characters, and every other visible
//! character (punctuation, symbols) costs one token; whitespace is free. On ordinary English
//! that lands near the usual "~4 characters or ~0.75 words per token" rule of thumb.

/// 3 for ASCII letters and digits (word bytes), else 0: the mask that keeps a word byte's
/// position in its run modulo 4, and resets it on any other byte.
const WORD_MASK: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = if (b as u8).is_ascii_alphanumeric() {
            3
        } else {
            0
        };
        b += 1;
    }
    table
};

/// 1 for visible ASCII symbols (punctuation), else 0.
const SYMBOL: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let byte = b as u8;
        table[b] = (!byte.is_ascii_alphanumeric() && !byte.is_ascii_whitespace()) as u8;
        b += 1;
    }
    table
};

/// Estimated token count of `text` (see the module docs for the rule).
pub fn estimate_tokens(text: &str) -> usize {
    // One branch-free pass over the bytes, exact for ASCII (most text): a word byte at offset
    // 0, 4, 8, ... of its run starts a token, and so does each symbol. `run` is that offset
    // plus one, modulo 4 (0 after any other byte), so a word byte starts a token when it is 1;
    // an add and a mask per byte keep the loop-carried chain short. Any non-ASCII byte sends
    // the text to the char path.
    let (mut tokens, mut run, mut high) = (0usize, 0usize, 0u8);
    for &b in text.as_bytes() {
        run = (run + 1) & WORD_MASK[b as usize] as usize;
        tokens += usize::from(run == 1) + SYMBOL[b as usize] as usize;
        high |= b;
    }
    if high < 0x80 {
        return tokens;
    }
    count(
        text.chars()
            .map(|c| (c.is_alphanumeric(), c.is_whitespace())),
    )
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

    /// The rule counted over chars, as the non-ASCII path does.
    fn char_path(text: &str) -> usize {
        count(
            text.chars()
                .map(|c| (c.is_alphanumeric(), c.is_whitespace())),
        )
    }

    #[test]
    fn counts_word_pieces_and_punctuation() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("flight"), 2);
        assert_eq!(estimate_tokens("show me flights"), 1 + 1 + 2);
        assert_eq!(estimate_tokens("a, b."), 4);
        // Non-ASCII takes the char path with the same rule: "héllo" is one 5-char run.
        assert_eq!(estimate_tokens("héllo wörld!"), 2 + 2 + 1);
        // The byte path and the char path agree on ASCII.
        for text in [
            "abcd efghi, jk!",
            "SELECT COUNT(*) FROM t WHERE a > 5",
            "  a1b2c3d4e5 ...",
        ] {
            assert_eq!(estimate_tokens(text), char_path(text), "{text}");
        }
    }

    #[test]
    fn byte_path_agrees_with_char_path_on_any_ascii() {
        // Runs of every length and every mix of word bytes, symbols and whitespace.
        let mut rng = fastrand::Rng::with_seed(7);
        let alphabet = b"ab9Z  \t\n.,-_()'";
        for _ in 0..2_000 {
            let len = rng.usize(0..40);
            let text: String = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())] as char)
                .collect();
            assert_eq!(estimate_tokens(&text), char_path(&text), "{text:?}");
        }
    }
}
