use super::analyzer::BLOCK_BYTES;
use super::rules::find_reserved;
use super::*;

fn check(lines: &[&str], task: Task) -> ValidationReport {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let options = ValidationOptions {
        task,
        check_counts: false,
        ..Default::default()
    };
    validate_files(&[path], &options).unwrap()
}

const GOOD: &str = r#"{"schemaVersion": "bedrock-conversation-2024", "system": [{"text": "s"}], "messages": [{"role": "user", "content": [{"text": "q"}]}, {"role": "assistant", "content": [{"text": "a"}]}]}"#;

fn fields(report: &ValidationReport) -> Vec<(Option<usize>, String)> {
    report
        .errors
        .iter()
        .map(|i| (i.line, i.field.clone()))
        .collect()
}

#[test]
fn good_records_pass() {
    let report = check(&[GOOD, GOOD], Task::FineTuning);
    assert!(report.ok(), "{:?}", report.errors);
    assert_eq!(report.files[0].records, 2);
}

#[test]
fn each_rule_names_its_line_and_field() {
    let bad_role = GOOD.replace(r#""role": "assistant""#, r#""role": "system""#);
    let wrong_order = r#"{"messages": [{"role": "assistant", "content": [{"text": "a"}]}, {"role": "user", "content": [{"text": "q"}]}]}"#;
    let empty_text = GOOD.replace(r#"{"text": "q"}"#, r#"{"text": ""}"#);
    let reserved = GOOD.replace(r#"{"text": "q"}"#, r#"{"text": "Bot: hello"}"#);
    let image = GOOD.replace(r#"{"text": "q"}"#, r#"{"image": {"format": "png"}}"#);
    let one_turn = r#"{"messages": [{"role": "user", "content": [{"text": "q"}]}]}"#;
    let report = check(
        &[
            GOOD,
            "{not json",
            &bad_role,
            wrong_order,
            &empty_text,
            &reserved,
            &image,
            one_turn,
            "[1]",
            "",
        ],
        Task::FineTuning,
    );
    let got = fields(&report);
    let expect = [
        (2, "record"),
        (3, "messages[1].role"),
        (4, "messages[0].role"),
        (5, "messages[0].content[0].text"),
        (6, "messages[0].content[0].text"),
        (7, "messages[0].content[0].image"),
        (8, "messages"),
        (9, "record"),
        (10, "record"),
    ];
    for (line, field) in expect {
        assert!(
            got.contains(&(Some(line), field.to_string())),
            "missing {line} {field} in {got:?}"
        );
    }
    assert!(!got.iter().any(|(line, _)| *line == Some(1)));
}

/// What AWS's own validator accepts but may still fail a job is warned about, not refused,
/// unless the Nova user guide documents the rule (docs/guide/data-rules.md lists each
/// difference from AWS's validator).
#[test]
fn what_aws_validator_accepts_is_warned_about_not_refused() {
    let warned = |line: String, field: &str| {
        let report = check(&[&line], Task::FineTuning);
        assert!(report.ok(), "{line}: {:?}", report.errors);
        assert!(
            report.warnings.iter().any(|w| w.field == field),
            "{line}: no warning on {field}: {:?}",
            report.warnings
        );
    };
    let user = |text: &str| GOOD.replace(r#"{"text": "q"}"#, &format!(r#"{{"text": "{text}"}}"#));
    warned(user("  "), "messages[0].content[0].text");
    warned(user("bot: hello"), "messages[0].content[0].text");
    warned(user("a <unk> b"), "messages[0].content[0].text");
    warned(
        GOOD.replace(r#"{"text": "s"}"#, r#"{"text": ""}"#),
        "system[0].text",
    );
    warned(
        GOOD.replace(r#"[{"text": "q"}]"#, "[]"),
        "messages[0].content",
    );
    warned(user(&"word ".repeat(40_000)), "record");
    warned(user("USER: hello"), "messages[0].content[0].text");
    warned(user("Thought: x"), "messages[0].content[0].text");
    // In an answer the user guide reserves nothing; AWS's published validator checks nothing.
    let answer = |text: &str| GOOD.replace(r#"{"text": "a"}"#, &format!(r#"{{"text": "{text}"}}"#));
    warned(answer("User: a"), "messages[1].content[0].text");
    // The user guide's reserved strings, as it spells them, fail a job in a prompt or a
    // system text: refused there.
    for text in ["User: a", "say [EOS]", "an <image> here"] {
        assert_eq!(
            fields(&check(&[&user(text)], Task::FineTuning)),
            [(Some(1), "messages[0].content[0].text".to_string())],
            "{text}"
        );
    }
    let system = GOOD.replace(r#"{"text": "s"}"#, r#"{"text": "System: s"}"#);
    assert_eq!(
        fields(&check(&[&system], Task::FineTuning)),
        [(Some(1), "system[0].text".to_string())]
    );
}

#[test]
fn distillation_accepts_prompts_without_answers() {
    let prompt = r#"{"schemaVersion": "bedrock-conversation-2024", "messages": [{"role": "user", "content": [{"text": "q"}]}]}"#;
    assert!(check(&[prompt], Task::Distillation).ok());
    assert!(!check(&[prompt], Task::FineTuning).ok());
}

#[test]
fn record_bounds_apply_to_all_files_together() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl");
    std::fs::write(&a, format!("{GOOD}\n").repeat(5)).unwrap();
    let options = ValidationOptions::default();
    let report = validate_files(&[&a], &options).unwrap();
    assert_eq!(report.errors[0].field, "dataset");
    let report = validate_files(&[&a, &a], &options).unwrap();
    assert!(report.ok(), "{:?}", report.errors);
}

#[test]
fn issues_are_capped_and_counted() {
    let lines = vec!["{bad"; 30];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let options = ValidationOptions {
        max_issues: 10,
        check_counts: false,
        ..Default::default()
    };
    let report = validate_files(&[path], &options).unwrap();
    assert_eq!(report.errors.len(), 10);
    assert_eq!(report.omitted_errors, 20);
    assert_eq!(report.error_count(), 30);
}

#[test]
fn invalid_utf8_and_bad_file_names_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train data.jsonl");
    let mut bytes = GOOD.as_bytes().to_vec();
    bytes.extend_from_slice(b"\n\xff\xfe\n");
    std::fs::write(&path, bytes).unwrap();
    let options = ValidationOptions {
        check_counts: false,
        ..Default::default()
    };
    let report = validate_files(&[path], &options).unwrap();
    let got = fields(&report);
    assert!(got.contains(&(None, "file".into())));
    assert!(got.contains(&(Some(2), "record".into())));
}

#[test]
fn large_files_keep_exact_line_numbers_across_blocks_and_threads() {
    // ~5 MB: more than one block, and enough lines for the parallel path.
    let filler = "x".repeat(200);
    let good = GOOD.replace(r#"{"text": "q"}"#, &format!(r#"{{"text": "q {filler}"}}"#));
    let bad_lines = [1usize, 5_000, 10_001, 12_000];
    let lines: Vec<String> = (1..=12_000)
        .map(|n| {
            if bad_lines.contains(&n) {
                "{oops".to_string()
            } else {
                good.replace('q', &format!("q{n}"))
            }
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() as usize > BLOCK_BYTES);
    let options = ValidationOptions {
        check_counts: false,
        ..Default::default()
    };
    let report = validate_files(&[&path], &options).unwrap();
    let got: Vec<usize> = report.errors.iter().filter_map(|i| i.line).collect();
    assert_eq!(got, bad_lines);
    assert_eq!(report.files[0].records, 12_000 - bad_lines.len());
    assert_eq!(report.stats.duplicate_records, 0);
    let loaded = load_conversations(&dir.path().join("big.jsonl"), Task::FineTuning);
    assert!(loaded.is_err());
}

#[test]
fn reserved_strings_match_case_insensitively() {
    assert_eq!(find_reserved("the ASSISTANT: said"), Some("Assistant:"));
    assert_eq!(find_reserved("price <video>"), Some("<video>"));
    assert_eq!(find_reserved("time 10:30 at gate [a]"), None);
}

mod properties {
    use super::super::{load_sources, Task};
    use proptest::prelude::*;

    /// Lines that look like records, with pieces of JSON in the wrong places.
    fn record_like() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just(r#""schemaVersion":"bedrock-conversation-2024""#.to_string()),
            Just(r#""system":[{"text":"Classify."}]"#.to_string()),
            Just(r#""system":"#.to_string()),
            Just(r#""messages":[{"role":"user","content":[{"text":"hi"}]},{"role":"assistant","content":[{"text":"a"}]}]"#.to_string()),
            Just(r#""messages":[{"role":"#.to_string()),
            Just(r#""content":[{"text":null}]"#.to_string()),
            "\\PC{0,12}".prop_map(|s| format!("{s:?}")),
            any::<i64>().prop_map(|n| n.to_string()),
            Just("[".to_string()),
            Just("}".to_string()),
        ];
        proptest::collection::vec(piece, 0..6).prop_map(|parts| format!("{{{}}}", parts.join(",")))
    }

    proptest! {
        #[test]
        fn any_bytes_validate_or_are_refused(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
            for task in [Task::FineTuning, Task::Distillation] {
                let _ = load_sources(&[("train.jsonl", body.as_slice())], task);
            }
        }

        #[test]
        fn record_like_lines_validate_or_name_their_line(lines in proptest::collection::vec(record_like(), 1..20)) {
            let body = lines.join("\n");
            match load_sources(&[("train.jsonl", body.as_bytes())], Task::FineTuning) {
                Ok((records, _)) => prop_assert_eq!(records[0].len(), lines.len()),
                Err(crate::error::NovaError::DatasetValidation { issues, .. }) => {
                    for issue in issues {
                        prop_assert!(issue.line.is_none_or(|l| (1..=lines.len()).contains(&l)), "{issue}");
                    }
                }
                Err(other) => prop_assert!(false, "{other}"),
            }
        }
    }
}

fn check_for(lines: &[String], model: ModelRules, check_counts: bool) -> ValidationReport {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let options = ValidationOptions {
        model,
        check_counts,
        ..Default::default()
    };
    validate_files(&[path], &options).unwrap()
}

#[test]
fn nova_2_takes_media_from_users_and_reasoning_from_the_assistant() {
    let image =
        r#"{"image": {"format": "png", "source": {"s3Location": {"uri": "s3://b/i.png"}}}}"#;
    let video =
        r#"{"video": {"format": "mp4", "source": {"s3Location": {"uri": "s3://b/v.mp4"}}}}"#;
    let reasoning = r#"{"reasoningContent": {"reasoningText": {"text": "because"}}}"#;
    let with_image = GOOD.replace(r#"{"text": "q"}"#, &format!(r#"{image}, {{"text": "q"}}"#));
    let with_reasoning = GOOD.replace(
        r#"{"text": "a"}"#,
        &format!(r#"{reasoning}, {{"text": "a"}}"#),
    );
    let with_video = GOOD.replace(r#"{"text": "q"}"#, &format!(r#"{video}, {{"text": "q"}}"#));
    let media_answer = GOOD.replace(r#"{"text": "a"}"#, &format!(r#"{image}, {{"text": "a"}}"#));
    let ok = [with_image.clone(), with_reasoning.clone(), GOOD.to_string()];
    let nova2 = check_for(&ok, ModelRules::Nova2, false);
    assert!(nova2.ok(), "{:?}", nova2.errors);
    // Nova Micro still refuses both, naming the block.
    let micro = check_for(&ok, ModelRules::Nova1, false);
    assert_eq!(
        fields(&micro),
        [
            (Some(1), "messages[0].content[0].image".to_string()),
            (
                Some(2),
                "messages[1].content[0].reasoningContent".to_string()
            )
        ]
    );
    // One kind of media per dataset; media only from the user.
    let mixed = [with_image, GOOD.to_string(), with_video, media_answer];
    let report = check_for(&mixed, ModelRules::Nova2, false);
    assert_eq!(
        fields(&report),
        [
            (Some(3), "messages".to_string()),
            (Some(4), "messages[1].content[0].image".to_string())
        ]
    );
    assert!(report.errors[0].message.contains("one kind of media"));
    // Nova 2 Lite fine-tuning takes 200 records at least (Nova 1: 8).
    let few: Vec<String> = (0..150).map(|_| GOOD.to_string()).collect();
    assert!(check_for(&few, ModelRules::Nova1, true).ok());
    let report = check_for(&few, ModelRules::Nova2, true);
    assert!(
        report.errors[0].message.contains("between 200 and 20000"),
        "{:?}",
        report.errors
    );
}

#[test]
fn statistics_are_the_same_streamed_over_blocks_threads_and_files_as_in_memory() {
    // Labels, duplicates, conflicting answers, two system prompts and, in the last file, many
    // distinct answers (fewer, then more than a label set holds): streamed in parallel blocks
    // across three files (the first larger than two blocks), the statistics must equal the
    // single-threaded pass over the same records in memory.
    for distinct_answers in [900, 3_000] {
        same_statistics_streamed_and_in_memory(distinct_answers);
    }
}

fn same_statistics_streamed_and_in_memory(distinct_answers: usize) {
    let filler = "y".repeat(600);
    let record = |n: usize, answer: String| {
        let system = if n.is_multiple_of(97) {
            "other prompt"
        } else {
            "classify"
        };
        let user = format!("question {} {filler}", n % 9_000);
        Conversation::single_turn(system, user, Some(answer))
    };
    let files: Vec<Vec<Conversation>> = vec![
        (0..14_000)
            .map(|n| record(n, format!("label{}", n % 7)))
            .collect(),
        (0..500)
            .map(|n| record(n, format!("label{}", n % 5)))
            .collect(),
        (0..distinct_answers)
            .map(|n| record(n, format!("answer {n}")))
            .collect(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, records) in files.iter().enumerate() {
        let mut out = Vec::new();
        for r in records {
            r.write_jsonl_line(&mut out);
        }
        let path = dir.path().join(format!("part{i}.jsonl"));
        std::fs::write(&path, out).unwrap();
        paths.push(path);
    }
    assert!(std::fs::metadata(&paths[0]).unwrap().len() as usize > 2 * BLOCK_BYTES);
    let options = ValidationOptions {
        check_counts: false,
        ..Default::default()
    };
    let streamed = validate_files(&paths, &options).unwrap().stats;
    let names = ["part0", "part1", "part2"];
    let splits: Vec<(&str, &[Conversation])> = names
        .iter()
        .zip(&files)
        .map(|(n, r)| (*n, r.as_slice()))
        .collect();
    let in_memory = validate_records(&splits, &options).stats;
    let base = |s: &str| s.rsplit('/').next().unwrap().to_string();
    assert_eq!(streamed.records, 14_500 + distinct_answers);
    assert_eq!(streamed.labels.is_some(), distinct_answers < 1_000);
    assert!(streamed.duplicate_records > 0 && streamed.conflicting_inputs > 0);
    assert_eq!(streamed.duplicate_records, in_memory.duplicate_records);
    assert_eq!(streamed.conflicting_inputs, in_memory.conflicting_inputs);
    assert_eq!(streamed.distinct_answers, in_memory.distinct_answers);
    assert_eq!(streamed.labels, in_memory.labels);
    assert_eq!(
        (streamed.input_tokens, streamed.output_tokens),
        (in_memory.input_tokens, in_memory.output_tokens)
    );
    let dup = |s: &DataStats| s.first_duplicate.clone().map(|(a, b)| (base(&a), base(&b)));
    assert_eq!(dup(&streamed), dup(&in_memory));
    let prompts = |s: &DataStats| -> Vec<(String, usize, String)> {
        s.system_prompts
            .iter()
            .map(|p| (p.preview.clone(), p.records, base(&p.first_seen)))
            .collect()
    };
    assert_eq!(prompts(&streamed), prompts(&in_memory));
}

#[test]
fn an_empty_file_among_others_is_refused_by_name_and_the_others_keep_their_lines() {
    // Files stream through one pipeline: each must still be opened, counted and closed on
    // its own. A file of blank lines is not empty (its lines are refused instead).
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let bad_second = format!("{GOOD}\n{{not json\n");
    let paths = [
        write("a.jsonl", &format!("{GOOD}\n{GOOD}\n")),
        write("empty.jsonl", ""),
        write("blank.jsonl", "\n"),
        write("b.jsonl", &bad_second),
    ];
    let options = ValidationOptions {
        check_counts: false,
        ..Default::default()
    };
    let report = validate_files(&paths, &options).unwrap();
    let named = |i: &Issue| {
        (
            i.file.rsplit('/').next().unwrap().to_string(),
            i.line,
            i.field.clone(),
        )
    };
    let errors: Vec<_> = report.errors.iter().map(named).collect();
    let empty: Vec<_> = report
        .errors
        .iter()
        .filter(|i| i.message.contains("the file is empty"))
        .map(named)
        .collect();
    assert_eq!(
        empty,
        [("empty.jsonl".to_string(), None, "file".to_string())]
    );
    assert!(
        errors.contains(&("blank.jsonl".to_string(), Some(1), "record".to_string())),
        "{errors:?}"
    );
    assert!(
        errors.contains(&("b.jsonl".to_string(), Some(2), "record".to_string())),
        "{errors:?}"
    );
    let records: Vec<usize> = report.files.iter().map(|f| f.records).collect();
    assert_eq!(records, [2, 0, 0, 1]);
}
