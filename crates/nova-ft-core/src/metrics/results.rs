//! Reading a results file: the latest result per (row, model).

use super::{LatestResults, Scored};
use crate::benchmark::BenchResult;
use nova_ft_data::error::{NovaError, Result};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

/// The latest result per (row, model), and the models in order of first appearance.
pub fn load_results(path: &Path) -> Result<(Vec<String>, LatestResults)> {
    let file = std::fs::File::open(path).map_err(|e| NovaError::io(path, e))?;
    let mut models: Vec<String> = Vec::new();
    let mut latest = HashMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| NovaError::io(path, e))?;
        let Ok(result) = serde_json::from_str::<BenchResult>(&line) else {
            continue;
        };
        let model = match models.iter().position(|m| *m == result.model) {
            Some(i) => i,
            None => {
                models.push(result.model.clone());
                models.len() - 1
            }
        };
        let scored = Scored {
            prediction: result.prediction.map(String::into_boxed_str),
            gold: result.gold.map(String::into_boxed_str),
            latency_ms: result.latency_ms,
            input_tokens: result.input_tokens,
            output_tokens: result.output_tokens,
            attempts: result.attempts,
            error_code: result.error_code.map(String::into_boxed_str),
        };
        latest.insert((result.row_id.into_boxed_str(), model), scored);
    }
    Ok((models, latest))
}
