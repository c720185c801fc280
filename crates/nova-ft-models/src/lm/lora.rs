//! LoRA adapters: beside a frozen linear layer `W` (`out x in`), a low-rank update
//! `scale * B A` (`A`: `rank x in`, `B`: `out x rank`, `scale = alpha / rank`), so that
//! `y = x W^T + scale * (x A^T) B^T`. `B` starts at zero, so a fresh adapter changes nothing.
//!
//! Saved as safetensors (`blk.<layer>.<target>.lora_a` / `lora_b`) after a one-line JSON header
//! with rank, alpha and the base model's name: the custom model's artifact.

use super::frozen::pool_linear;
use super::model::{candle_err, TARGETS};
use candle_core::{DType, Device, Tensor, Var};
use nova_ft_data::error::{NovaError, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Rank, alpha and which layers carry adapters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraConfig {
    pub rank: usize,
    pub alpha: f64,
    /// Which of a block's linear layers ([`TARGETS`]) get an adapter.
    pub targets: Vec<String>,
}

impl Default for LoraConfig {
    /// Rank 16, alpha 32, on every linear layer of every block (PEFT's `all-linear`).
    fn default() -> Self {
        LoraConfig {
            rank: 16,
            alpha: 32.0,
            targets: TARGETS.iter().map(|t| t.to_string()).collect(),
        }
    }
}

/// One adapter.
#[derive(Clone)]
pub struct Lora {
    pub a: Tensor,
    pub b: Tensor,
    pub scale: f64,
}

impl Lora {
    /// `y + scale * (x A^T) B^T`: serving's and training's (differentiable in `A` and `B`).
    pub fn add_to(&self, x: &Tensor, y: &Tensor) -> candle_core::Result<Tensor> {
        let low = pool_linear(x, &self.a)?;
        y + (pool_linear(&low, &self.b)? * self.scale)?
    }
}

/// The adapters of a whole model: `layers x TARGETS`.
#[derive(Clone)]
pub struct Adapters {
    pub config: LoraConfig,
    pub layers: Vec<[Option<Lora>; 7]>,
}

impl std::fmt::Debug for Adapters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Adapters(rank {}, alpha {}, {} layers, targets {:?})",
            self.config.rank,
            self.config.alpha,
            self.layers.len(),
            self.config.targets
        )
    }
}

/// Trainable variables behind a set of adapters, in a fixed order.
pub struct TrainableAdapters {
    pub adapters: Adapters,
    pub vars: Vec<Var>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    base: String,
    config: LoraConfig,
    layers: usize,
}

const MAGIC: &str = "nova-ft-lora-1";

impl Adapters {
    pub fn get(&self, layer: usize, target: usize) -> Option<&Lora> {
        self.layers.get(layer).and_then(|l| l[target].as_ref())
    }

    /// Fresh adapters for a model with `layers` blocks whose linear `t` maps `dims[t].1` inputs
    /// to `dims[t].0` outputs: `A` from a seeded uniform(-1/sqrt(in), 1/sqrt(in)) as PEFT
    /// draws it (Kaiming-uniform, a = sqrt(5)), `B` zero. `start` continues from trained ones.
    pub fn trainable(
        config: &LoraConfig,
        layers: usize,
        dims: &[(usize, usize); 7],
        seed: u64,
        start: Option<&Adapters>,
    ) -> Result<TrainableAdapters> {
        for t in &config.targets {
            if !TARGETS.contains(&t.as_str()) {
                return Err(NovaError::invalid(format!(
                    "LoRA target {t:?} is not one of {TARGETS:?}"
                )));
            }
        }
        if config.rank == 0 {
            return Err(NovaError::invalid("LoRA rank must be at least 1"));
        }
        let mut random = crate::sampling::SplitMix::new(seed);
        let mut vars = Vec::new();
        let mut out = Vec::with_capacity(layers);
        let scale = config.alpha / config.rank as f64;
        for l in 0..layers {
            let mut row: [Option<Lora>; 7] = Default::default();
            for (t, name) in TARGETS.iter().enumerate() {
                if !config.targets.iter().any(|x| x == name) {
                    continue;
                }
                let (o, i) = dims[t];
                let (a, b) = match start.and_then(|s| s.get(l, t)) {
                    Some(prev) => (prev.a.clone(), prev.b.clone()),
                    None => {
                        let bound = 1.0 / (i as f64).sqrt();
                        let a: Vec<f32> = (0..config.rank * i)
                            .map(|_| ((random.next_f64() * 2.0 - 1.0) * bound) as f32)
                            .collect();
                        (
                            Tensor::from_vec(a, (config.rank, i), &Device::Cpu)
                                .map_err(candle_err)?,
                            Tensor::zeros((o, config.rank), DType::F32, &Device::Cpu)
                                .map_err(candle_err)?,
                        )
                    }
                };
                let a = Var::from_tensor(&a).map_err(candle_err)?;
                let b = Var::from_tensor(&b).map_err(candle_err)?;
                row[t] = Some(Lora {
                    a: a.as_tensor().clone(),
                    b: b.as_tensor().clone(),
                    scale,
                });
                vars.push(a);
                vars.push(b);
            }
            out.push(row);
        }
        Ok(TrainableAdapters {
            adapters: Adapters {
                config: config.clone(),
                layers: out,
            },
            vars,
        })
    }

    /// The same adapters cut loose from the training graph.
    pub fn detached(&self) -> Adapters {
        let layers = self
            .layers
            .iter()
            .map(|row| {
                row.clone().map(|l| {
                    l.map(|l| Lora {
                        a: l.a.detach(),
                        b: l.b.detach(),
                        scale: l.scale,
                    })
                })
            })
            .collect();
        Adapters {
            config: self.config.clone(),
            layers,
        }
    }

    /// The artifact: a JSON header line, then safetensors.
    pub fn to_bytes(&self, base: &str) -> Result<Vec<u8>> {
        let header = Header {
            format: MAGIC.into(),
            base: base.into(),
            config: self.config.clone(),
            layers: self.layers.len(),
        };
        let mut named: HashMap<String, Tensor> = HashMap::new();
        for (l, row) in self.layers.iter().enumerate() {
            for (t, lora) in row.iter().enumerate() {
                if let Some(lora) = lora {
                    named.insert(format!("blk.{l}.{}.lora_a", TARGETS[t]), lora.a.clone());
                    named.insert(format!("blk.{l}.{}.lora_b", TARGETS[t]), lora.b.clone());
                }
            }
        }
        let mut out = serde_json::to_vec(&header)
            .map_err(|e| NovaError::invalid(format!("LoRA header: {e}")))?;
        out.push(b'\n');
        let tensors = safetensors::serialize(named.iter(), None)
            .map_err(|e| NovaError::invalid(format!("LoRA adapters: {e}")))?;
        out.extend(tensors);
        Ok(out)
    }

    /// True when `bytes` start as an adapter artifact.
    pub fn is_artifact(bytes: &[u8]) -> bool {
        bytes.starts_with(b"{\"format\":\"nova-ft-lora-1\"")
    }

    /// Adapters from an artifact; `name` says where it came from. Returns them and the base
    /// model's name they were trained on.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<(Adapters, String)> {
        let bad = |what: String| {
            NovaError::invalid(format!("{name} is not a LoRA adapter artifact: {what}"))
        };
        let split = bytes
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| bad("no header line".into()))?;
        let header: Header =
            serde_json::from_slice(&bytes[..split]).map_err(|e| bad(e.to_string()))?;
        if header.format != MAGIC {
            return Err(bad(format!("format {:?}", header.format)));
        }
        let tensors = candle_core::safetensors::load_buffer(&bytes[split + 1..], &Device::Cpu)
            .map_err(|e| bad(e.to_string()))?;
        let scale = header.config.alpha / header.config.rank.max(1) as f64;
        let mut layers = Vec::with_capacity(header.layers);
        for l in 0..header.layers {
            let mut row: [Option<Lora>; 7] = Default::default();
            for (t, target) in TARGETS.iter().enumerate() {
                let a = tensors.get(&format!("blk.{l}.{target}.lora_a"));
                let b = tensors.get(&format!("blk.{l}.{target}.lora_b"));
                if let (Some(a), Some(b)) = (a, b) {
                    let (ra, _) = a.dims2().map_err(|e| bad(e.to_string()))?;
                    let (_, rb) = b.dims2().map_err(|e| bad(e.to_string()))?;
                    if ra != rb || ra != header.config.rank {
                        return Err(bad(format!("blk.{l}.{target}: rank {ra} vs {rb}")));
                    }
                    row[t] = Some(Lora {
                        a: a.to_dtype(DType::F32).map_err(candle_err)?,
                        b: b.to_dtype(DType::F32).map_err(candle_err)?,
                        scale,
                    });
                }
            }
            layers.push(row);
        }
        Ok((
            Adapters {
                config: header.config,
                layers,
            },
            header.base,
        ))
    }

    /// Every adapter's shape fits `dims` (per target, out x in) and the layer count.
    pub fn check_fits(&self, layers: usize, dims: &[(usize, usize); 7], name: &str) -> Result<()> {
        if self.layers.len() != layers {
            return Err(NovaError::invalid(format!(
                "{name}: adapters for {} layers, the model has {layers}",
                self.layers.len()
            )));
        }
        for row in &self.layers {
            for (t, lora) in row.iter().enumerate() {
                if let Some(lora) = lora {
                    let (_, i) = lora.a.dims2().map_err(candle_err)?;
                    let (o, _) = lora.b.dims2().map_err(candle_err)?;
                    if (o, i) != dims[t] {
                        return Err(NovaError::invalid(format!(
                            "{name}: adapter for {} is {o}x{i}, the model's layer is {}x{}",
                            TARGETS[t], dims[t].0, dims[t].1
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}
