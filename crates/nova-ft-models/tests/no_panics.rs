//! No input panics a local model: every model (base reader, judge, teacher, classifier,
//! retrieval, RFT policy) answers arbitrary Unicode system prompts, schemas, user texts and
//! labels, trains on them, and round-trips through its artifact bytes.

use nova_ft_data::cpython_random::CPythonRandom;
use nova_ft_data::dataset::record::Conversation;
use nova_ft_models::{FineTuning, ModelFamily, Prompt, PromptGroup, StandIns, TrainingConfig};
use proptest::prelude::*;

/// Text that mixes what the readers look for (label lists, schemas, markers, tags, numbers)
/// with arbitrary Unicode, multi-byte characters whose case mapping changes their length
/// ("ı" -> "I", "ſ" -> "S": two bytes become one) included.
fn text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("CREATE TABLE ".to_string()),
        Just("create table".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just(", ".to_string()),
        Just(": ".to_string()),
        Just("### Input:".to_string()),
        Just("### Context:".to_string()),
        Just("### Response:".to_string()),
        Just("<correct_answer>".to_string()),
        Just("</student_answer>".to_string()),
        Just("<SCORE>".to_string()),
        Just("score from 0 to 100".to_string()),
        Just("Expected: ".to_string()),
        Just("\n".to_string()),
        Just("'".to_string()),
        Just("ß".to_string()),
        Just("İ".to_string()),
        Just("ﬃ".to_string()),
        Just("ı".to_string()),
        Just("ſ".to_string()),
        Just("more than 5".to_string()),
        "[a-z_]{1,8}",
        "\\PC{0,12}",
        any::<String>(),
    ];
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

fn labels() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof!["[a-z_]{1,10}", "\\PC{1,6}", any::<String>()],
        1..6,
    )
}

fn system_with(labels: &[String]) -> String {
    format!("Answer with one label from: {}", labels.join(", "))
}

fn prompt_turns(user: &str) -> Vec<(String, String)> {
    vec![("user".to_string(), user.to_string())]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn foundation_models_answer_anything(system in text(), user in text()) {
        let turns = prompt_turns(&user);
        let prompt = Prompt { system: &system, turns: &turns };
        let _ = StandIns.answer(&prompt);
        let _ = StandIns.answer_as_teacher(&prompt);
        let _ = StandIns.judge(&prompt);
    }

    #[test]
    fn fine_tuned_models_train_and_answer_anything(
        labels in labels(),
        users in prop::collection::vec(text(), 1..12),
        free_text in any::<bool>(),
        question in text(),
    ) {
        let system = system_with(&labels);
        let records: Vec<Conversation> = users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let answer = if free_text {
                    format!("{u} {i}")
                } else {
                    labels[i % labels.len()].clone()
                };
                Conversation::single_turn(&system, u.clone(), Some(answer))
            })
            .collect();
        let config = TrainingConfig { epochs: 2, learning_rate: 1e-5, warmup_steps: 1, seed: 3 };
        let job = FineTuning { records: &records, validation: &records, config, parent: None };
        if let Ok(run) = StandIns.fine_tune(job) {
            let turns = prompt_turns(&question);
            for system in [system.as_str(), question.as_str(), ""] {
                let _ = run.model.answer(&Prompt { system, turns: &turns });
            }
            let back = StandIns.load(&run.model.to_bytes(), "model").expect("its own bytes load");
            let _ = back.answer(&Prompt { system: &system, turns: &turns });
        }
        let prompts: Vec<(String, String)> =
            users.iter().map(|u| (system.clone(), u.clone())).collect();
        let teacher = StandIns.teacher(&records, &prompts);
        let turns = prompt_turns(&question);
        let _ = teacher.answer(&Prompt { system: &system, turns: &turns });
    }

    #[test]
    fn the_rft_policy_samples_learns_and_answers_anything(
        labels in labels(),
        users in prop::collection::vec(text(), 1..8),
        rewards in prop::collection::vec(-10.0f64..10.0, 4),
        question in text(),
    ) {
        let system = system_with(&labels);
        let turns: Vec<Vec<(String, String)>> = users.iter().map(|u| prompt_turns(u)).collect();
        let prompts: Vec<Prompt<'_>> =
            turns.iter().map(|t| Prompt { system: &system, turns: t }).collect();
        // A system prompt whose "labels" are not a label list fails the job with a message.
        let Ok(mut policy) = StandIns.policy(&prompts, None) else { return Ok(()) };
        let mut random = CPythonRandom::new(1);
        let answers: Vec<String> = (0..4).map(|_| policy.sample(0, &mut random)).collect();
        policy.learn(&[PromptGroup { prompt: 0, answers: &answers, rewards: &rewards }], 1e-4);
        let _ = policy.greedy(prompts.len() - 1);
        let model = policy.into_model();
        let q = prompt_turns(&question);
        let _ = model.answer(&Prompt { system: &system, turns: &q });
        let _ = model.answer(&Prompt { system: &question, turns: &q });
    }
}
