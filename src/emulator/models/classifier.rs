//! The fine-tuned classifier for closed label sets: multinomial logistic regression over
//! hashed word, word-bigram and character n-gram features (fastText without the hidden layer),
//! trained by per-example SGD.
//!
//! Hyperparameters act as they would on Nova: `epochCount` passes over the data;
//! `learningRate` sets the peak step size, mapped from Nova's range by one factor
//! ([`LEARNING_RATE_SCALE`]: Nova's default 1e-5 becomes 0.2); `learningRateWarmupSteps`
//! ramps the rate up linearly over that many steps (a step is a batch of [`BATCH`] examples),
//! after which it decays linearly to zero. Shuffling is seeded, so the same job on the same data
//! gives the same model.

use super::text::features;
use crate::core::error::{NovaError, Result};
use crate::core::pyrandom::PyRandom;
use rustc_hash::FxHashMap;
use std::io::{Read, Write};

/// Feature buckets of the hashing trick.
pub const BUCKETS: u32 = 1 << 17;
/// Nova's learning rate (1e-6..1e-4) times this is the SGD step size (0.02..2.0).
pub const LEARNING_RATE_SCALE: f64 = 20_000.0;
/// Examples per logged step (the unit of `learningRateWarmupSteps` and of the loss curve).
pub const BATCH: usize = 16;
const SEED: i64 = 20_250_716;
const MAGIC: &[u8; 8] = b"NFTCLS01";

#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    pub labels: Vec<String>,
    bias: Vec<f32>,
    /// Only the buckets training touched, each with one weight per label.
    weights: FxHashMap<u32, Box<[f32]>>,
}

/// One training example: feature vector and label index.
pub type Example = (Vec<(u32, f32)>, usize);

pub struct Curves {
    pub training: Vec<(usize, u32, f64)>,
    pub validation: Vec<(usize, u32, f64)>,
}

fn softmax_in_place(scores: &mut [f32]) {
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

impl Classifier {
    /// Features of a model input (system prompt and user text).
    pub fn featurize(system: &str, user: &str) -> Vec<(u32, f32)> {
        let mut f = features(user, BUCKETS);
        if !system.is_empty() {
            // One feature for the system prompt as a whole: it says which task this is.
            let id =
                (crate::core::dataset::stats::system_hash(&[system]) % u64::from(BUCKETS)) as u32;
            match f.binary_search_by_key(&id, |(b, _)| *b) {
                Ok(i) => f[i].1 += 1.0,
                Err(i) => f.insert(i, (id, 1.0)),
            }
        }
        f
    }

    /// Train on examples; `validation` is scored after every epoch.
    pub fn train(
        labels: Vec<String>,
        train: &[Example],
        validation: &[Example],
        epochs: u32,
        learning_rate: f64,
        warmup_steps: u32,
    ) -> Result<(Classifier, Curves)> {
        if labels.is_empty() || train.is_empty() {
            return Err(NovaError::invalid(
                "nothing to train on: no labelled examples",
            ));
        }
        let k = labels.len();
        let mut dense = vec![0f32; BUCKETS as usize * k];
        let mut bias = vec![0f32; k];
        let peak = (learning_rate * LEARNING_RATE_SCALE) as f32;
        let steps_per_epoch = train.len().div_ceil(BATCH);
        let total_steps = (steps_per_epoch * epochs as usize).max(1);
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut rng = PyRandom::new(SEED);
        let mut scores = vec![0f32; k];
        let mut curves = Curves {
            training: Vec::new(),
            validation: Vec::new(),
        };
        let mut step = 0usize;
        for epoch in 1..=epochs {
            rng.shuffle(&mut order);
            for batch in order.chunks(BATCH) {
                let rate = if (step as u32) < warmup_steps {
                    peak * (step + 1) as f32 / (warmup_steps + 1) as f32
                } else {
                    peak * (1.0 - step as f32 / total_steps as f32).max(0.0)
                };
                let mut loss = 0.0f64;
                for &i in batch {
                    let (x, y) = &train[i];
                    scores.copy_from_slice(&bias);
                    for (f, v) in x {
                        let row = &dense[*f as usize * k..(*f as usize + 1) * k];
                        for (s, w) in scores.iter_mut().zip(row) {
                            *s += w * v;
                        }
                    }
                    softmax_in_place(&mut scores);
                    loss -= f64::from(scores[*y].max(1e-12)).ln();
                    scores[*y] -= 1.0; // now the gradient of the loss w.r.t. the scores
                    for (b, g) in bias.iter_mut().zip(&scores) {
                        *b -= rate * g;
                    }
                    for (f, v) in x {
                        let row = &mut dense[*f as usize * k..(*f as usize + 1) * k];
                        for (w, g) in row.iter_mut().zip(&scores) {
                            *w -= rate * g * v;
                        }
                    }
                }
                curves
                    .training
                    .push((step, epoch, loss / batch.len() as f64));
                step += 1;
            }
            let model = Classifier::from_dense(&labels, &dense, &bias);
            if !validation.is_empty() {
                curves
                    .validation
                    .push((step - 1, epoch, model.mean_loss(validation)));
            }
        }
        Ok((Classifier::from_dense(&labels, &dense, &bias), curves))
    }

    fn from_dense(labels: &[String], dense: &[f32], bias: &[f32]) -> Classifier {
        let k = labels.len();
        let weights = dense
            .chunks(k)
            .enumerate()
            .filter(|(_, row)| row.iter().any(|w| *w != 0.0))
            .map(|(f, row)| (f as u32, row.to_vec().into_boxed_slice()))
            .collect();
        Classifier {
            labels: labels.to_vec(),
            bias: bias.to_vec(),
            weights,
        }
    }

    fn probabilities(&self, x: &[(u32, f32)]) -> Vec<f32> {
        let mut scores = self.bias.clone();
        for (f, v) in x {
            if let Some(row) = self.weights.get(f) {
                for (s, w) in scores.iter_mut().zip(row.iter()) {
                    *s += w * v;
                }
            }
        }
        softmax_in_place(&mut scores);
        scores
    }

    pub fn mean_loss(&self, examples: &[Example]) -> f64 {
        let total: f64 = examples
            .iter()
            .map(|(x, y)| -f64::from(self.probabilities(x)[*y].max(1e-12)).ln())
            .sum();
        total / examples.len().max(1) as f64
    }

    pub fn predict(&self, system: &str, user: &str) -> &str {
        let p = self.probabilities(&Self::featurize(system, user));
        let best = p
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        &self.labels[best]
    }

    pub fn describe(&self) -> String {
        format!(
            "softmax regression over hashed word, bigram and character n-grams ({} labels, {} active features of {BUCKETS})",
            self.labels.len(),
            self.weights.len()
        )
    }

    /// `NFTCLS01`, labels, bias, then the touched rows (bucket + one f32 per label), little-endian.
    pub fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(MAGIC)?;
        out.write_all(&(self.labels.len() as u32).to_le_bytes())?;
        for label in &self.labels {
            out.write_all(&(label.len() as u32).to_le_bytes())?;
            out.write_all(label.as_bytes())?;
        }
        for b in &self.bias {
            out.write_all(&b.to_le_bytes())?;
        }
        let mut rows: Vec<(&u32, &Box<[f32]>)> = self.weights.iter().collect();
        rows.sort_by_key(|(f, _)| **f);
        out.write_all(&(rows.len() as u32).to_le_bytes())?;
        for (f, row) in rows {
            out.write_all(&f.to_le_bytes())?;
            for w in row.iter() {
                out.write_all(&w.to_le_bytes())?;
            }
        }
        Ok(())
    }

    pub fn is_artifact(bytes: &[u8]) -> bool {
        bytes.starts_with(MAGIC)
    }

    pub fn read_from(bytes: &[u8]) -> std::io::Result<Classifier> {
        let mut input = &bytes[MAGIC.len()..];
        let u32_ = |input: &mut &[u8]| -> std::io::Result<u32> {
            let mut b = [0u8; 4];
            input.read_exact(&mut b)?;
            Ok(u32::from_le_bytes(b))
        };
        let k = u32_(&mut input)? as usize;
        let mut labels = Vec::with_capacity(k);
        for _ in 0..k {
            let len = u32_(&mut input)? as usize;
            let mut text = vec![0u8; len];
            input.read_exact(&mut text)?;
            labels.push(
                String::from_utf8(text)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?,
            );
        }
        let f32s = |input: &mut &[u8], n: usize| -> std::io::Result<Vec<f32>> {
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let mut b = [0u8; 4];
                input.read_exact(&mut b)?;
                out.push(f32::from_le_bytes(b));
            }
            Ok(out)
        };
        let bias = f32s(&mut input, k)?;
        let rows = u32_(&mut input)? as usize;
        let mut weights = FxHashMap::default();
        weights.reserve(rows);
        for _ in 0..rows {
            let f = u32_(&mut input)?;
            weights.insert(f, f32s(&mut input, k)?.into_boxed_slice());
        }
        Ok(Classifier {
            labels,
            bias,
            weights,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> (Vec<String>, Vec<Example>) {
        let labels = vec!["greet".to_string(), "fare".to_string()];
        let texts = [
            ("hello there", 0),
            ("hi friend", 0),
            ("good morning", 0),
            ("how much is it", 1),
            ("ticket price please", 1),
            ("cheap fare", 1),
        ];
        let examples = texts
            .iter()
            .cycle()
            .take(60)
            .map(|(t, y)| (Classifier::featurize("s", t), *y))
            .collect();
        (labels, examples)
    }

    #[test]
    fn learns_separable_labels_and_loss_falls() {
        let (labels, examples) = data();
        let (model, curves) =
            Classifier::train(labels, &examples, &examples[..6], 3, 1e-5, 2).unwrap();
        assert_eq!(model.predict("s", "hello there"), "greet");
        assert_eq!(model.predict("s", "ticket price please"), "fare");
        assert!(curves.training.last().unwrap().2 < curves.training[0].2);
        assert_eq!(curves.validation.len(), 3);
    }

    #[test]
    fn hyperparameters_change_the_model_and_training_is_seeded() {
        let (labels, examples) = data();
        let a = Classifier::train(labels.clone(), &examples, &[], 2, 1e-5, 0)
            .unwrap()
            .0;
        assert_eq!(
            a,
            Classifier::train(labels.clone(), &examples, &[], 2, 1e-5, 0)
                .unwrap()
                .0
        );
        assert_ne!(
            a,
            Classifier::train(labels.clone(), &examples, &[], 3, 1e-5, 0)
                .unwrap()
                .0
        );
        assert_ne!(
            a,
            Classifier::train(labels.clone(), &examples, &[], 2, 3e-5, 0)
                .unwrap()
                .0
        );
        assert_ne!(
            a,
            Classifier::train(labels, &examples, &[], 2, 1e-5, 5)
                .unwrap()
                .0
        );
    }

    #[test]
    fn artifacts_round_trip() {
        let (labels, examples) = data();
        let model = Classifier::train(labels, &examples, &[], 1, 1e-5, 0)
            .unwrap()
            .0;
        let mut bytes = Vec::new();
        model.write_to(&mut bytes).unwrap();
        assert!(Classifier::is_artifact(&bytes));
        assert_eq!(Classifier::read_from(&bytes).unwrap(), model);
    }
}
