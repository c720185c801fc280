//! Distillation's teacher: what stands in for Nova Pro or Premier when a distillation job asks
//! for answers to its prompts.

use crate::classifier::{Classifier, Example};
use crate::retrieval::Retrieval;
use crate::TrainingConfig;
use crate::{triples, zero_shot};
use nova_ft_data::dataset::record::Conversation;

/// The distillation teacher ("Nova Pro"/"Premier" stand-in). It is stronger than the base
/// model on the same prompts because it uses what a teacher has and the base does not:
/// - the whole prompt collection: it labels the prompts it is confident about (one label
///   clearly ahead), trains a classifier on those pseudo-labels and the labelled examples
///   (self-training), and answers with it, so sentence patterns outweigh one stray word;
/// - the labelled examples as exemplars: the closest one answers when it is close enough.
pub struct Teacher {
    exemplars: Option<Retrieval>,
    student: Option<Classifier>,
    settings: TeacherSettings,
}

/// The teacher's thresholds. The defaults were chosen on ATIS train and valid only, by
/// `cargo run --release -p nova-ft-models --example teacher_sweep` (prompts from train without
/// their labels, 10 labelled pairs, accuracy on valid), which prints every candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TeacherSettings {
    /// How similar an exemplar must be to answer in the teacher's place.
    pub exemplar_similarity: f32,
    /// A zero-shot label counts as confident with at least this score...
    pub confident_score: f64,
    /// ...and this lead over the runner-up.
    pub confident_margin: f64,
    /// Fewer confident examples than this are too few to self-train on.
    pub min_pseudo_labels: usize,
}

impl Default for TeacherSettings {
    fn default() -> Self {
        TeacherSettings {
            exemplar_similarity: 0.6,
            confident_score: 0.8,
            confident_margin: 0.1,
            min_pseudo_labels: 20,
        }
    }
}

/// The label the zero-shot reading (its `scores`) is confident about: one clearly ahead of
/// the rest.
fn confident_label(scores: &[f64], settings: &TeacherSettings) -> Option<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    let (top, second) = (scores[order[0]], order.get(1).map_or(0.0, |i| scores[*i]));
    (top >= settings.confident_score && top - second >= settings.confident_margin)
        .then_some(order[0])
}

impl Teacher {
    /// `labelled` are the records with answers; `prompts` the (system, user) texts it will label.
    pub fn new(labelled: &[Conversation], prompts: &[(String, String)]) -> Teacher {
        Self::with_settings(labelled, prompts, TeacherSettings::default())
    }

    /// [`Teacher::new`] with other thresholds (for choosing them; see [`TeacherSettings`]).
    pub fn with_settings(
        labelled: &[Conversation],
        prompts: &[(String, String)],
        settings: TeacherSettings,
    ) -> Teacher {
        let labelled = triples(labelled);
        let pairs: Vec<(String, String)> = labelled
            .iter()
            .map(|(_, u, a)| (u.clone(), a.clone()))
            .collect();
        let student = prompts
            .first()
            .and_then(|(system, _)| zero_shot::label_list(system))
            .and_then(|labels| {
                let mut examples: Vec<Example> = Vec::new();
                for (system, user) in prompts {
                    if let Some(i) = confident_label(&zero_shot::scores(&labels, user), &settings) {
                        examples.push((Classifier::featurize(system, user), i));
                    }
                }
                for (system, user, answer) in &labelled {
                    if let Some(i) = labels.iter().position(|l| l == answer) {
                        examples.push((Classifier::featurize(system, user), i));
                    }
                }
                (examples.len() >= settings.min_pseudo_labels).then_some(())?;
                Classifier::train(
                    labels,
                    &examples,
                    &[],
                    TrainingConfig {
                        epochs: 3,
                        ..TrainingConfig::default()
                    },
                )
                .ok()
                .map(|(c, _)| c)
            });
        Teacher {
            exemplars: (!pairs.is_empty()).then(|| Retrieval::build(&pairs)),
            student,
            settings,
        }
    }

    pub fn answer(&self, system: &str, user: &str) -> String {
        let labels = zero_shot::label_list(system);
        if let Some((answer, similarity)) =
            self.exemplars.as_ref().and_then(|r| r.nearest_answer(user))
        {
            if similarity >= self.settings.exemplar_similarity {
                return match labels {
                    Some(_) => answer,
                    None => self.exemplars.as_ref().map_or(answer, |r| r.respond(user)),
                };
            }
        }
        match (&self.student, labels) {
            (Some(student), Some(labels)) if student.labels == labels => {
                // Where the zero-shot reading is confident it stands; the self-trained
                // classifier decides the ambiguous prompts.
                let scores = zero_shot::scores(&labels, user);
                match confident_label(&scores, &self.settings) {
                    Some(i) => labels[i].clone(),
                    // It picks among the labels the request mentions at all, as a reader
                    // would; when it mentions none, among all of them.
                    None => student
                        .predict_among(system, user, |i| scores[i] > 0.0)
                        .to_string(),
                }
            }
            _ => zero_shot::respond(system, user),
        }
    }
}
