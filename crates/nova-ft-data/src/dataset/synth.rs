//! The Bedrock tutorial's synthetic airline-intent data, reproduced draw for draw.
//!
//! The tutorial draws each row with Python's `random`: `intent = choice(INTENTS)`, then
//! `a, b = sample(CITIES, 2)`, then `choice(TEMPLATES[intent]).format(a=a, b=b)`. With
//! [`CPythonRandom`] and the same draw order, a seed gives the same rows as the tutorial's code.

use super::record::Conversation;
use crate::cpython_random::CPythonRandom;

pub const INTENTS: [&str; 8] = [
    "flight",
    "airfare",
    "airline",
    "ground_service",
    "abbreviation",
    "aircraft",
    "flight_time",
    "quantity",
];

pub const CITIES: [&str; 7] = [
    "boston", "denver", "atlanta", "dallas", "seattle", "miami", "chicago",
];

pub const SYSTEM_PROMPT: &str = "Classify the intent of airline queries. Choose one intent from this list: flight, airfare, airline, ground_service, abbreviation, aircraft, flight_time, quantity\n\nRespond with only the intent name, nothing else.";

/// Two templates per intent, in the order of [`INTENTS`].
const TEMPLATES: [[&str; 2]; 8] = [
    [
        "show me flights from {a} to {b}",
        "i need a flight to {b} from {a}",
    ],
    [
        "how much is a ticket from {a} to {b}",
        "cheapest fare {a} to {b}",
    ],
    [
        "which airlines fly from {a} to {b}",
        "what carrier serves {a}",
    ],
    ["car rental in {b}", "ground transportation at {b} airport"],
    [
        "what does the fare code y mean",
        "what is the abbreviation ap57",
    ],
    [
        "what kind of plane flies {a} to {b}",
        "aircraft type for this route",
    ],
    [
        "what time does the {a} flight leave",
        "departure times from {a}",
    ],
    [
        "how many flights from {a} to {b}",
        "number of daily flights to {b}",
    ],
];

/// An endless stream of tutorial rows for one seed.
#[derive(Debug)]
pub struct SyntheticIntents {
    rng: CPythonRandom,
}

impl SyntheticIntents {
    pub fn new(seed: i64) -> Self {
        SyntheticIntents {
            rng: CPythonRandom::new(seed),
        }
    }

    /// The next `n` rows of the stream.
    pub fn take(&mut self, n: usize) -> Vec<Conversation> {
        (0..n).map(|_| self.next_row()).collect()
    }

    fn next_row(&mut self) -> Conversation {
        let intent = self.rng.randbelow(INTENTS.len());
        let pair = self.rng.sample_indices(CITIES.len(), 2);
        let template = self.rng.choice(&TEMPLATES[intent]);
        let text = template
            .replace("{a}", CITIES[pair[0]])
            .replace("{b}", CITIES[pair[1]]);
        Conversation::single_turn(SYSTEM_PROMPT, text, Some(INTENTS[intent].to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_rows_and_different_seed_different_rows() {
        let a = SyntheticIntents::new(7).take(50);
        assert_eq!(a, SyntheticIntents::new(7).take(50));
        assert_ne!(a, SyntheticIntents::new(99).take(50));
    }

    #[test]
    fn rows_use_known_intents_and_no_placeholders() {
        for row in SyntheticIntents::new(1).take(200) {
            let target = row.target().unwrap();
            assert!(INTENTS.contains(&target.as_str()));
            assert!(!row.input_text().contains('{'));
        }
    }
}
