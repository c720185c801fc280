//! Prices and cost arithmetic from one table, so every dollar figure names its source.

use serde::Serialize;

/// A model's prices in US dollars, with where they come from.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PriceTable {
    pub model: &'static str,
    pub region: &'static str,
    pub input_per_million: f64,
    pub output_per_million: f64,
    pub training_per_thousand: f64,
    pub storage_per_month: f64,
    pub source: &'static str,
    pub as_of: &'static str,
    pub unverified: &'static [&'static str],
}

/// Amazon Nova Micro, us-east-1, on-demand. A tuned model on an on-demand deployment is billed
/// per token at the same rate as the base model.
pub const NOVA_MICRO: PriceTable = PriceTable {
    model: "amazon.nova-micro-v1:0",
    region: "us-east-1",
    input_per_million: 0.035,
    output_per_million: 0.14,
    training_per_thousand: 0.001,
    storage_per_month: 1.95,
    source: "Amazon Bedrock pricing as quoted in aws-samples/amazon-nova-samples (text-to-SQL notebook constants) and the AWS ML blog on Nova fine-tuning",
    as_of: "2026-04",
    unverified: &["training_per_thousand", "storage_per_month"],
};

/// Amazon Nova Micro, us-east-1, batch inference: half the on-demand per-token price.
pub const NOVA_MICRO_BATCH: PriceTable = PriceTable {
    input_per_million: 0.0175,
    output_per_million: 0.07,
    source: "Amazon Bedrock batch pricing (half of on-demand) as listed by the Presidentlin/llm-pricing-calculator data set; AWS's pricing page was not reachable here",
    unverified: &[
        "input_per_million",
        "output_per_million",
        "training_per_thousand",
        "storage_per_month",
    ],
    ..NOVA_MICRO
};

impl PriceTable {
    /// Dollars for one request with these token counts.
    pub fn inference_cost(&self, input_tokens: f64, output_tokens: f64) -> f64 {
        (input_tokens * self.input_per_million + output_tokens * self.output_per_million) / 1e6
    }

    /// Dollars to train on `tokens_per_epoch` for `epochs` epochs.
    pub fn training_cost(&self, tokens_per_epoch: u64, epochs: u32) -> f64 {
        tokens_per_epoch as f64 * f64::from(epochs) * self.training_per_thousand / 1e3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_to_sql_monthly_example_reproduces_published_figure() {
        // AWS text-to-SQL example: 22,000 queries/month, ~800 input and ~60 output tokens each.
        let monthly = NOVA_MICRO.inference_cost(800.0, 60.0) * 22_000.0;
        assert!((monthly - 0.80).abs() < 0.005, "got {monthly}");
    }

    #[test]
    fn training_cost_scales_with_epochs() {
        assert!((NOVA_MICRO.training_cost(1_000_000, 3) - 3.0).abs() < 1e-9);
    }
}
