//! What a data set holds, gathered in the same streaming pass as validation: counts, label
//! distribution, estimated tokens and cost, and the warnings worth reading before training.

use super::label_set::{looks_like_label_set, LABEL_CAP};
use super::validate::Task;
use crate::cost::{PriceTable, NOVA_MICRO};
use rustc_hash::{FxHashMap as HashMap, FxHasher};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::hash::{Hash, Hasher};

// Hashes here only find duplicates in the user's own data, so a fast non-cryptographic hash
// (FxHash) fits; 64 bits make an accidental collision in 20,000 records negligible.

/// A most/least frequent label ratio at or above this is worth a warning.
const IMBALANCE_RATIO: f64 = 10.0;

/// How token counts in these statistics are estimated.
pub const TOKEN_ESTIMATOR: &str = "estimated: ceil(len/4) tokens per run of letters/digits + 1 per punctuation mark (Nova's tokenizer is not public)";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LabelCount {
    pub label: String,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SystemPromptVariant {
    pub preview: String,
    pub records: usize,
    pub first_seen: String,
}

/// Summary statistics of one job's data.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DataStats {
    pub records: usize,
    /// Records ending with an assistant answer (all of them for fine-tuning data).
    pub answered: usize,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub max_record_tokens: usize,
    pub token_estimator: &'static str,
    pub system_prompts: Vec<SystemPromptVariant>,
    /// Records identical to an earlier record.
    pub duplicate_records: usize,
    /// Inputs seen earlier with a different answer.
    pub conflicting_inputs: usize,
    pub first_duplicate: Option<(String, String)>,
    pub distinct_answers: usize,
    /// The label distribution (most frequent first) when the answers form a label set.
    pub labels: Option<Vec<LabelCount>>,
}

/// Cost estimate for training on this data and serving similar requests.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CostEstimate {
    pub epochs: u32,
    pub training_tokens: u64,
    pub training_usd: f64,
    pub mean_input_tokens: f64,
    pub mean_output_tokens: f64,
    pub inference_usd_per_1000: f64,
    pub storage_usd_per_month: f64,
    pub prices: PriceTable,
}

impl DataStats {
    pub fn mean_input_tokens(&self) -> f64 {
        if self.records == 0 {
            0.0
        } else {
            self.input_tokens as f64 / self.records as f64
        }
    }

    pub fn mean_output_tokens(&self) -> f64 {
        if self.answered == 0 {
            0.0
        } else {
            self.output_tokens as f64 / self.answered as f64
        }
    }

    /// Training for `epochs` epochs on these records, and serving requests shaped like them.
    pub fn cost(&self, epochs: u32) -> CostEstimate {
        let prices = NOVA_MICRO;
        let training_tokens = self.input_tokens + self.output_tokens;
        CostEstimate {
            epochs,
            training_tokens,
            training_usd: prices.training_cost(training_tokens, epochs),
            mean_input_tokens: self.mean_input_tokens(),
            mean_output_tokens: self.mean_output_tokens(),
            inference_usd_per_1000: prices
                .inference_cost(self.mean_input_tokens(), self.mean_output_tokens())
                * 1000.0,
            storage_usd_per_month: prices.storage_per_month,
            prices,
        }
    }

    /// Advice that does not stop a job but is worth reading: `(field, message)` pairs.
    pub fn warnings(&self, task: Task) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if task == Task::FineTuning && self.records > 0 && self.records < 100 {
            out.push((
                "dataset".into(),
                format!(
                    "only {} records: AWS recommends at least 100 per task",
                    self.records
                ),
            ));
        }
        if self.system_prompts.len() > 1 {
            let seen: Vec<String> = self
                .system_prompts
                .iter()
                .take(3)
                .map(|v| format!("{} record(s) from {}", v.records, v.first_seen))
                .collect();
            out.push((
                "system".into(),
                format!("{} different system prompts ({}): use one system prompt in every record, and send the same one at inference", self.system_prompts.len(), seen.join("; ")),
            ));
        }
        if self.duplicate_records > 0 {
            let example = self
                .first_duplicate
                .as_ref()
                .map(|(a, b)| format!(" (first: {b} repeats {a})"))
                .unwrap_or_default();
            out.push(("dataset".into(), format!("{} record(s) repeat an earlier record exactly{example}: duplicates weigh those examples more", self.duplicate_records)));
        }
        if self.conflicting_inputs > 0 {
            out.push((
                "dataset".into(),
                format!(
                    "{} input(s) appear again with a different answer: check those labels",
                    self.conflicting_inputs
                ),
            ));
        }
        if let Some(labels) = &self.labels {
            if let (Some(most), Some(least)) = (labels.first(), labels.last()) {
                let ratio = most.count as f64 / least.count as f64;
                if labels.len() > 1 && ratio >= IMBALANCE_RATIO {
                    out.push((
                        "labels".into(),
                        format!("label imbalance: {:?} has {} records, {:?} has {} ({ratio:.0}:1); add examples of rare labels or expect them to be missed", most.label, most.count, least.label, least.count),
                    ));
                }
            }
        }
        out
    }
}

/// Where a record is: (index of its file, 1-based line).
pub type Location = (usize, usize);

/// What the statistics need of one valid record. It is computed where the record is checked,
/// possibly on another thread, so that merging stays cheap and in line order.
#[derive(Debug, Clone)]
pub struct RecordFacts<'a> {
    pub system_hash: u64,
    /// The system prompt's first characters, when the checker saw a prompt it had not just seen.
    pub system_preview: Option<String>,
    pub input_hash: u64,
    /// The final answer's hash, length in characters and whether it spans lines, when the
    /// record has one.
    pub answer: Option<AnswerFacts>,
    /// The final answer's text (borrowed from the line when it has a single block without
    /// escapes). A checker may leave it out when it already sent the same answer's text with
    /// an earlier record: the statistics need each distinct answer's text once.
    pub answer_text: Option<Cow<'a, str>>,
    /// Estimated (input, output) tokens.
    pub tokens: (usize, usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerFacts {
    pub hash: u64,
    pub chars: usize,
    pub multiline: bool,
}

/// The hash that identifies a system prompt (its text blocks in order).
pub fn system_hash<S: AsRef<str>>(system: &[S]) -> u64 {
    let mut hasher = FxHasher::default();
    for block in system {
        block.as_ref().hash(&mut hasher);
    }
    hasher.finish()
}

impl<'a> RecordFacts<'a> {
    /// Facts of a record from its system prompt (hash and texts), the turns before the answer
    /// (role, text blocks), and the answer. The preview is taken only when the prompt differs
    /// from `previous_system`.
    pub fn of<'t, S: AsRef<str>, T: AsRef<str> + 't>(
        system_hash: u64,
        system: &[S],
        prompt_turns: impl IntoIterator<Item = (&'t str, &'t [T])>,
        answer: Option<Cow<'a, str>>,
        tokens: (usize, usize),
        previous_system: Option<u64>,
    ) -> Self {
        let system_preview = (previous_system != Some(system_hash)).then(|| {
            let joined: Vec<&str> = system.iter().map(AsRef::as_ref).collect();
            joined.join("\n").chars().take(60).collect()
        });
        let mut hasher = FxHasher::default();
        hasher.write_u64(system_hash);
        for (role, texts) in prompt_turns {
            role.hash(&mut hasher);
            for text in texts.iter() {
                text.as_ref().hash(&mut hasher);
            }
        }
        RecordFacts {
            system_hash,
            system_preview,
            input_hash: hasher.finish(),
            answer: answer.as_deref().map(|text| AnswerFacts {
                hash: hash_of(text),
                chars: text.chars().count(),
                multiline: text.contains('\n'),
            }),
            answer_text: answer,
            tokens,
        }
    }

    /// The same facts, owning the answer's text, so they can outlive the line they came from.
    pub fn into_owned(self) -> RecordFacts<'static> {
        RecordFacts {
            answer_text: self.answer_text.map(|a| Cow::Owned(a.into_owned())),
            ..self
        }
    }
}

/// Where a record was first seen, compactly (the tables below hold one per distinct input).
type SeenAt = (u32, u32);

fn compact((file, line): Location) -> SeenAt {
    let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    (narrow(file), narrow(line))
}

fn widen((file, line): SeenAt) -> Location {
    (file as usize, line as usize)
}

/// What is remembered of each distinct input (system prompt and turns before the answer).
#[derive(Debug)]
struct InputSeen {
    /// The answer of the first record with this input, and where that record is.
    first_answer: u64,
    first_at: SeenAt,
    /// The answer of the latest record with this input.
    last_answer: u64,
}

/// A label and how many records answer it.
#[derive(Debug)]
struct Tally {
    label: String,
    count: usize,
}

/// Accumulates [`DataStats`] one valid record at a time, in bounded memory (hashes, not texts).
///
/// Records are merged on one thread in line order, so this is kept lean: one lookup in a
/// table keyed by the input finds both duplicates and conflicting answers in the common case
/// (one answer per input); records repeating an input with another answer go to a second,
/// usually empty table.
#[derive(Debug, Default)]
pub struct StatsBuilder {
    stats: DataStats,
    system_variants: HashMap<u64, usize>,
    system_first_seen: Vec<Location>,
    inputs: HashMap<u64, InputSeen>,
    /// Records (input and answer hashed together) whose answer differs from their input's
    /// first answer, and where each was first seen.
    other_records: HashMap<u64, SeenAt>,
    first_duplicate: Option<(Location, Location)>,
    answer_counts: HashMap<u64, Tally>,
    too_many_answers: bool,
    longest_answer: usize,
    multiline_answer: bool,
}

fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = FxHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

impl StatsBuilder {
    /// Make room for `more` records, so the table grows once per block, not record by record.
    pub fn reserve(&mut self, more: usize) {
        self.inputs.reserve(more);
    }

    /// Add one record that passed validation.
    pub fn add(&mut self, facts: &RecordFacts<'_>, at: Location) {
        let stats = &mut self.stats;
        stats.records += 1;
        let variant = *self
            .system_variants
            .entry(facts.system_hash)
            .or_insert_with(|| {
                let preview = facts.system_preview.clone().unwrap_or_default();
                stats.system_prompts.push(SystemPromptVariant {
                    preview,
                    records: 0,
                    first_seen: String::new(),
                });
                self.system_first_seen.push(at);
                stats.system_prompts.len() - 1
            });
        stats.system_prompts[variant].records += 1;

        let (input_tokens, output_tokens) = facts.tokens;
        stats.input_tokens += input_tokens as u64;
        stats.output_tokens += output_tokens as u64;
        stats.max_record_tokens = stats.max_record_tokens.max(input_tokens + output_tokens);

        let answer_hash = facts.answer.map_or(0, |a| a.hash);
        let mut duplicate_of = None;
        match self.inputs.entry(facts.input_hash) {
            Entry::Vacant(slot) => {
                slot.insert(InputSeen {
                    first_answer: answer_hash,
                    first_at: compact(at),
                    last_answer: answer_hash,
                });
            }
            Entry::Occupied(mut slot) => {
                let seen = slot.get_mut();
                if seen.last_answer != answer_hash {
                    stats.conflicting_inputs += 1;
                    seen.last_answer = answer_hash;
                }
                if seen.first_answer == answer_hash {
                    duplicate_of = Some(seen.first_at);
                } else {
                    let record = hash_of(&(facts.input_hash, answer_hash));
                    match self.other_records.entry(record) {
                        Entry::Occupied(first) => {
                            duplicate_of = Some(*first.get());
                        }
                        Entry::Vacant(first) => {
                            first.insert(compact(at));
                        }
                    }
                }
            }
        }
        if let Some(first) = duplicate_of {
            stats.duplicate_records += 1;
            self.first_duplicate.get_or_insert((widen(first), at));
        }

        if let Some(answer) = facts.answer {
            stats.answered += 1;
            self.longest_answer = self.longest_answer.max(answer.chars);
            self.multiline_answer |= answer.multiline;
            if let Some(tally) = self.answer_counts.get_mut(&answer.hash) {
                tally.count += 1;
            } else if self.answer_counts.len() < LABEL_CAP {
                // The first record with an answer carries its text (see `RecordFacts`).
                let label = facts.answer_text.as_deref().unwrap_or_default().to_owned();
                self.answer_counts
                    .insert(answer.hash, Tally { label, count: 1 });
            } else {
                self.too_many_answers = true;
            }
        }
    }

    /// The statistics, with locations named by `files` (indexed as in [`StatsBuilder::add`]).
    pub fn finish(self, files: &[&str]) -> DataStats {
        let name =
            |(file, line): Location| format!("{}:{line}", files.get(file).copied().unwrap_or("?"));
        let mut stats = self.stats;
        for (variant, at) in stats.system_prompts.iter_mut().zip(self.system_first_seen) {
            variant.first_seen = name(at);
        }
        stats.first_duplicate = self.first_duplicate.map(|(a, b)| (name(a), name(b)));
        stats.token_estimator = TOKEN_ESTIMATOR;
        stats.distinct_answers = self.answer_counts.len() + usize::from(self.too_many_answers);
        let is_label_set = !self.too_many_answers
            && looks_like_label_set(
                self.answer_counts.len(),
                stats.answered,
                self.longest_answer,
                self.multiline_answer,
            );
        if is_label_set {
            let mut labels: Vec<LabelCount> = self
                .answer_counts
                .into_values()
                .map(|Tally { label, count }| LabelCount { label, count })
                .collect();
            labels.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
            stats.labels = Some(labels);
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::estimate_tokens;

    fn add(builder: &mut StatsBuilder, system: &str, user: &str, answer: &str, line: usize) {
        let user_texts = [user];
        let turns = [("user", &user_texts[..])];
        let tokens = (
            estimate_tokens(system) + estimate_tokens(user),
            estimate_tokens(answer),
        );
        builder.add(
            &RecordFacts::of(
                system_hash(&[system]),
                &[system],
                turns,
                Some(Cow::Borrowed(answer)),
                tokens,
                None,
            ),
            (0, line),
        );
    }

    #[test]
    fn finds_labels_duplicates_conflicts_and_prompt_variants() {
        let mut b = StatsBuilder::default();
        add(&mut b, "s", "q1", "a", 1);
        add(&mut b, "s", "q1", "a", 2);
        add(&mut b, "s", "q1", "b", 3);
        add(&mut b, "other", "q2", "a", 4);
        let stats = b.finish(&["f.jsonl"]);
        assert_eq!(stats.records, 4);
        assert_eq!(stats.duplicate_records, 1);
        assert_eq!(
            stats.first_duplicate,
            Some(("f.jsonl:1".into(), "f.jsonl:2".into()))
        );
        assert_eq!(stats.conflicting_inputs, 1);
        assert_eq!(stats.system_prompts.len(), 2);
        let labels = stats.labels.clone().unwrap();
        assert_eq!(
            labels[0],
            LabelCount {
                label: "a".into(),
                count: 3
            }
        );
        let warnings = stats.warnings(Task::FineTuning);
        assert!(warnings.iter().any(|(f, _)| f == "system"));
    }

    #[test]
    fn unique_long_answers_are_not_a_label_set() {
        let mut b = StatsBuilder::default();
        for i in 0..10 {
            add(
                &mut b,
                "s",
                &format!("q{i}"),
                &format!("SELECT {i} FROM t"),
                i + 1,
            );
        }
        assert!(b.finish(&["f.jsonl"]).labels.is_none());
    }

    #[test]
    fn cost_uses_mean_tokens_per_record() {
        let mut b = StatsBuilder::default();
        add(&mut b, "", "word", "x", 1);
        let cost = b.finish(&["f.jsonl"]).cost(2);
        assert_eq!(cost.training_tokens, 2);
        assert!((cost.inference_usd_per_1000 - (0.035 + 0.14) / 1000.0).abs() < 1e-12);
    }
}
