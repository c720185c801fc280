//! A tiny randomly initialised Llama of SmolLM2's architecture, written as a GGUF file, so that
//! tests exercise the whole language-model path (reading, tokenizing, generating, training)
//! without the 98 MB model. Its tokenizer has SmolLM2's control tokens, the 256 byte tokens and
//! a few merges.

use crate::sampling::SplitMix;
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use nova_ft_data::error::{NovaError, Result};

/// The tiny model's shape.
#[derive(Debug, Clone, Copy)]
pub struct TinySpec {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub ffn: usize,
    pub seed: u64,
    /// The linear weights' format when quantized (SmolLM2's file: Q4_1), with the embedding
    /// (and the head) then in Q8_0 as SmolLM2's; `None`: everything in f32.
    pub quantized: Option<GgmlDType>,
    /// Write an output head of its own (`output.weight`) instead of tying it to the embedding
    /// as SmolLM2 does.
    pub untied_head: bool,
}

impl Default for TinySpec {
    fn default() -> Self {
        TinySpec {
            hidden: 64,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            ffn: 128,
            seed: 1,
            quantized: None,
            untied_head: false,
        }
    }
}

/// The GGUF file's bytes.
pub fn tiny_gguf(spec: TinySpec) -> Result<Vec<u8>> {
    let err = |e: candle_core::Error| NovaError::invalid(format!("tiny model: {e}"));
    let mut tokens: Vec<String> = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // The 256 byte tokens, spelled as the tokenizer maps bytes to characters.
    tokens.extend(super::tokenizer::byte_chars().iter().map(|c| c.to_string()));
    let merges = ["Ġ t", "h e", "Ġ a", "i n", "Ġt he", "e r", "a n", "o n"];
    for m in merges {
        tokens.push(m.replace(' ', ""));
    }
    let vocab = tokens.len();
    let mut random = SplitMix::new(spec.seed);
    let mut tensor = |dims: &[usize], scale: f64, dtype: Option<GgmlDType>| -> Result<QTensor> {
        let n: usize = dims.iter().product();
        let data: Vec<f32> = (0..n)
            .map(|_| ((random.next_f64() * 2.0 - 1.0) * scale) as f32)
            .collect();
        let t = Tensor::from_vec(data, dims, &Device::Cpu).map_err(err)?;
        QTensor::quantize(&t, dtype.unwrap_or(GgmlDType::F32)).map_err(err)
    };
    let ones = |n: usize| -> Result<QTensor> {
        let t = Tensor::ones(n, candle_core::DType::F32, &Device::Cpu).map_err(err)?;
        QTensor::quantize(&t, GgmlDType::F32).map_err(err)
    };
    let (d, f) = (spec.hidden, spec.ffn);
    let kv = spec.kv_heads * (d / spec.heads);
    let q = spec.quantized;
    let embedding = q.map(|_| GgmlDType::Q8_0);
    let mut named: Vec<(String, QTensor)> = vec![
        // Small embeddings, as trained models have: near-uniform next-token odds to start from.
        (
            "token_embd.weight".into(),
            tensor(&[vocab, d], 0.2, embedding)?,
        ),
        ("output_norm.weight".into(), ones(d)?),
    ];
    if spec.untied_head {
        named.push(("output.weight".into(), tensor(&[vocab, d], 0.2, embedding)?));
    }
    let s = |fan_in: usize| 1.0 / (fan_in as f64).sqrt();
    for l in 0..spec.layers {
        let p = |x: &str| format!("blk.{l}.{x}.weight");
        named.push((p("attn_norm"), ones(d)?));
        named.push((p("ffn_norm"), ones(d)?));
        named.push((p("attn_q"), tensor(&[d, d], s(d), q)?));
        named.push((p("attn_k"), tensor(&[kv, d], s(d), q)?));
        named.push((p("attn_v"), tensor(&[kv, d], s(d), q)?));
        named.push((p("attn_output"), tensor(&[d, d], s(d), q)?));
        named.push((p("ffn_gate"), tensor(&[f, d], s(d), q)?));
        named.push((p("ffn_up"), tensor(&[f, d], s(d), q)?));
        named.push((p("ffn_down"), tensor(&[d, f], s(f), q)?));
    }
    let strings = |v: Vec<String>| Value::Array(v.into_iter().map(Value::String).collect());
    let mut types = vec![Value::I32(3); 3];
    types.extend((3..vocab).map(|_| Value::I32(1)));
    let metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("llama".into())),
        ("general.name", Value::String("tiny-random-llama".into())),
        ("llama.embedding_length", Value::U32(d as u32)),
        ("llama.block_count", Value::U32(spec.layers as u32)),
        ("llama.attention.head_count", Value::U32(spec.heads as u32)),
        (
            "llama.attention.head_count_kv",
            Value::U32(spec.kv_heads as u32),
        ),
        ("llama.feed_forward_length", Value::U32(f as u32)),
        ("llama.context_length", Value::U32(1024)),
        ("llama.rope.freq_base", Value::F32(10_000.0)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.tokens", strings(tokens)),
        (
            "tokenizer.ggml.merges",
            strings(merges.iter().map(|m| m.to_string()).collect()),
        ),
        ("tokenizer.ggml.token_type", Value::Array(types)),
        ("tokenizer.ggml.eos_token_id", Value::U32(2)),
    ];
    let meta_refs: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = named.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut out = std::io::Cursor::new(Vec::new());
    gguf_file::write(&mut out, &meta_refs, &tensor_refs).map_err(err)?;
    Ok(out.into_inner())
}
