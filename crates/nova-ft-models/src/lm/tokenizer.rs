//! SmolLM2's tokenizer, built from the GGUF file's own metadata (`tokenizer.ggml.tokens`,
//! `tokenizer.ggml.merges`): GPT-2 byte-level BPE after the "smollm" pre-tokenizer (every digit
//! alone, then GPT-2's split of letters, numbers, punctuation and spaces).
//!
//! GPT-2's regex is written as a scanner (about 60 lines) rather than run by a regex engine
//! with look-ahead. `tests/tokenizer_differential.rs` holds the ids equal to Hugging Face's
//! `tokenizers` crate given the same vocabulary, merges and pre-tokenizer, on arbitrary text
//! and on SmolLM2's own file.

use nova_ft_data::error::{NovaError, Result};
use rustc_hash::FxHashMap;
use std::sync::Mutex;

/// Token ids and their text, both ways, with the merge ranks of byte-level BPE.
pub struct Tokenizer {
    tokens: Vec<String>,
    ids: FxHashMap<String, u32>,
    merges: FxHashMap<(String, String), usize>,
    /// Control tokens (`<|im_start|>` ...): never produced by encoding text, skipped in decoding.
    special: Vec<bool>,
    byte_to_char: [char; 256],
    char_to_byte: FxHashMap<char, u8>,
    /// Pre-tokens already encoded (words repeat a lot in prompts).
    cache: Mutex<FxHashMap<String, Vec<u32>>>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tokenizer({} tokens, {} merges)",
            self.tokens.len(),
            self.merges.len()
        )
    }
}

/// GPT-2's reversible map from bytes to printable characters.
pub(crate) fn byte_chars() -> [char; 256] {
    let mut map = ['\0'; 256];
    let mut next = 256u32;
    for (b, slot) in map.iter_mut().enumerate() {
        let printable =
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        *slot = if printable {
            char::from_u32(b as u32).unwrap_or('\0')
        } else {
            let c = char::from_u32(next).unwrap_or('\0');
            next += 1;
            c
        };
    }
    map
}

impl Tokenizer {
    /// A tokenizer from the vocabulary (id order), the merges (`"a b"`, by rank) and which ids
    /// are control tokens.
    pub fn new(tokens: Vec<String>, merges: &[String], special: Vec<bool>) -> Result<Self> {
        if tokens.is_empty() {
            return Err(NovaError::invalid("the tokenizer has no tokens"));
        }
        let ids = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let mut ranks = FxHashMap::default();
        for (rank, merge) in merges.iter().enumerate() {
            let Some((a, b)) = merge.split_once(' ') else {
                return Err(NovaError::invalid(format!(
                    "tokenizer merge {rank} ({merge:?}) is not two tokens separated by a space"
                )));
            };
            ranks.entry((a.to_string(), b.to_string())).or_insert(rank);
        }
        let byte_to_char = byte_chars();
        let char_to_byte = byte_to_char
            .iter()
            .enumerate()
            .map(|(b, c)| (*c, b as u8))
            .collect();
        let mut special = special;
        special.resize(tokens.len(), false);
        Ok(Tokenizer {
            tokens,
            ids,
            merges: ranks,
            special,
            byte_to_char,
            char_to_byte,
            cache: Mutex::new(FxHashMap::default()),
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The id of a token spelled exactly so (`<|im_start|>`), if the vocabulary has it.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    pub fn is_special(&self, id: u32) -> bool {
        self.special.get(id as usize).copied().unwrap_or(false)
    }

    /// Ids of `text`, read as plain text (control tokens' spellings are not recognised).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        for piece in pre_tokenize(text) {
            self.encode_piece(piece, &mut out);
        }
        out
    }

    fn encode_piece(&self, piece: &str, out: &mut Vec<u32>) {
        if let Ok(cache) = self.cache.lock() {
            if let Some(ids) = cache.get(piece) {
                out.extend_from_slice(ids);
                return;
            }
        }
        let mut parts: Vec<String> = piece
            .bytes()
            .map(|b| self.byte_to_char[b as usize].to_string())
            .collect();
        // Merge the best-ranked adjacent pair until none is in the merge table.
        loop {
            let best = parts
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| {
                    self.merges
                        .get(&(w[0].clone(), w[1].clone()))
                        .map(|r| (*r, i))
                })
                .min();
            let Some((_, i)) = best else { break };
            let merged = format!("{}{}", parts[i], parts[i + 1]);
            parts.splice(i..i + 2, [merged]);
        }
        let mut ids = Vec::with_capacity(parts.len());
        for part in &parts {
            match self.ids.get(part) {
                Some(id) => ids.push(*id),
                // A vocabulary without this merge result: fall back to its bytes.
                None => ids.extend(part.chars().filter_map(|c| self.ids.get(&c.to_string()))),
            }
        }
        out.extend_from_slice(&ids);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() < 100_000 {
                cache.insert(piece.to_string(), ids);
            }
        }
    }

    /// The bytes token `id` stands for (empty for control tokens and unknown ids).
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        if self.is_special(id) {
            return Vec::new();
        }
        let Some(token) = self.tokens.get(id as usize) else {
            return Vec::new();
        };
        token
            .chars()
            .map(|c| match self.char_to_byte.get(&c) {
                Some(b) => vec![*b],
                None => c.to_string().into_bytes(),
            })
            .collect::<Vec<_>>()
            .concat()
    }

    /// The text of `ids` (control tokens left out; invalid UTF-8 replaced).
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|id| self.token_bytes(*id)).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// The "smollm" pre-tokenizer: digits alone, then GPT-2's pattern
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
pub fn pre_tokenize(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c.is_numeric() {
            gpt2_split(&text[start..i], &mut pieces);
            pieces.push(&text[i..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    gpt2_split(&text[start..], &mut pieces);
    pieces
}

#[derive(PartialEq, Clone, Copy)]
enum Class {
    Letter,
    Number,
    Space,
    Other,
}

fn class(c: char) -> Class {
    if c.is_alphabetic() {
        Class::Letter
    } else if c.is_numeric() {
        Class::Number
    } else if c.is_whitespace() {
        Class::Space
    } else {
        Class::Other
    }
}

fn gpt2_split<'a>(text: &'a str, pieces: &mut Vec<&'a str>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |k: usize| chars.get(k).map(|(i, _)| *i).unwrap_or(text.len());
    let run = |from: usize, class_of: Class| {
        let mut k = from;
        while k < chars.len() && class(chars[k].1) == class_of {
            k += 1;
        }
        k
    };
    let mut k = 0;
    while k < chars.len() {
        let c = chars[k].1;
        let next = chars.get(k + 1).map(|(_, c)| *c);
        let stop = if c == '\'' {
            let rest = &text[chars[k].0 + 1..];
            let two = ["re", "ve", "ll"].iter().any(|s| rest.starts_with(s));
            let one = rest.starts_with(['s', 't', 'm', 'd']);
            if two {
                Some(k + 3)
            } else if one {
                Some(k + 2)
            } else {
                None
            }
        } else {
            None
        };
        let stop = stop.unwrap_or_else(|| {
            let (from, cls) = match (c, next.map(class)) {
                (' ', Some(n)) if n != Class::Space => (k + 1, n),
                _ => (k, class(c)),
            };
            if cls != Class::Space {
                return run(from, cls);
            }
            // Whitespace: all of it at the end, else all but the last (which then leads
            // the next word), or the one character when that is all there is.
            let end = run(k, Class::Space);
            if end == chars.len() || end - k == 1 {
                end
            } else {
                end - 1
            }
        });
        pieces.push(&text[chars[k].0..end_of(stop)]);
        k = stop;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_tokenizer_splits_as_gpt2_with_single_digits() {
        assert_eq!(
            pre_tokenize("Hello world, it's 2024!  ok\n\nyes   "),
            vec![
                "Hello", " world", ",", " it", "'s", " ", "2", "0", "2", "4", "!", " ", " ok",
                "\n", "\n", "yes", "   "
            ]
        );
        assert_eq!(pre_tokenize("a  b"), vec!["a", " ", " b"]);
        assert_eq!(pre_tokenize(" \nx"), vec![" ", "\n", "x"]);
        assert_eq!(pre_tokenize("x ..y"), vec!["x", " ..", "y"]);
    }

    fn toy() -> Tokenizer {
        let mut tokens: Vec<String> = vec!["<|endoftext|>".into()];
        let chars = byte_chars();
        tokens.extend(chars.iter().map(|c| c.to_string()));
        let merges: Vec<String> = ["h e", "l l", "he ll", "hell o", "Ġ w"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        tokens.extend(
            ["he", "ll", "hell", "hello", "Ġw"]
                .iter()
                .map(|s| s.to_string()),
        );
        let mut special = vec![false; tokens.len()];
        special[0] = true;
        Tokenizer::new(tokens, &merges, special).unwrap()
    }

    #[test]
    fn merges_apply_by_rank_and_decoding_inverts_encoding() {
        let t = toy();
        let hello = t.token_id("hello").unwrap();
        let w = t.token_id("Ġw").unwrap();
        let ids = t.encode("hello world");
        assert_eq!(ids[0], hello);
        assert_eq!(ids[1], w);
        for text in ["hello world", "ünïcödé ✓ 12\n\tend ", "", "'s'S''"] {
            assert_eq!(t.decode(&t.encode(text)), text);
        }
        assert_eq!(t.decode(&[0, hello]), "hello");
    }
}
