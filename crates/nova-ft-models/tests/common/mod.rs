//! Helpers the language model's test files share: a tiny model of SmolLM2's architecture
//! written at test time, greedy parameters, and how far two logit vectors are apart.
#![allow(dead_code)] // each test file uses some of them

use nova_ft_data::dataset::record::Conversation;
use nova_ft_models::generation::GenerationParams;
use nova_ft_models::lm::gguf::LmFile;
use nova_ft_models::lm::model::WeightFormat;
use nova_ft_models::lm::tiny::{tiny_gguf, TinySpec};
use nova_ft_models::lm::LanguageModel;
use nova_ft_models::sampling::Sampling;

pub fn tiny(spec: TinySpec) -> LanguageModel {
    let bytes = tiny_gguf(spec).unwrap();
    LanguageModel::from_file(
        LmFile::from_bytes(&bytes, "tiny.gguf").unwrap(),
        WeightFormat::AsStored,
    )
    .unwrap()
}

pub fn params(max_tokens: usize) -> GenerationParams {
    GenerationParams {
        max_tokens,
        sampling: Sampling::GREEDY,
        stop_sequences: vec![],
        seed: 0,
        cancel: Default::default(),
    }
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A one-turn training record whose answer is a colour.
pub fn record(user: &str, answer: &str) -> Conversation {
    Conversation::single_turn("Answer with the colour.", user, Some(answer.to_string()))
}
