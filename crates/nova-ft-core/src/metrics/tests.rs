use super::classification::classification_scores;
use super::statistics::bootstrap_ci;
use super::*;

#[test]
fn mcnemar_matches_the_binomial_test() {
    // b=1, c=9: 2 * P(X<=1), X ~ Bin(10, 1/2) = 2 * 11/1024.
    assert!((mcnemar_exact(1, 9) - 22.0 / 1024.0).abs() < 1e-12);
    assert_eq!(mcnemar_exact(0, 0), 1.0);
    assert_eq!(mcnemar_exact(5, 5), 1.0);
    // Large counts do not underflow.
    let p = mcnemar_exact(10_000, 11_000);
    assert!(p > 0.0 && p < 1e-5, "{p}");
}

#[test]
fn classification_tables_count_other_predictions() {
    let pairs = vec![
        ("a".to_string(), Some("a".to_string())),
        ("a".to_string(), Some("zzz".to_string())),
        ("b".to_string(), Some("a".to_string())),
        ("b".to_string(), None),
    ];
    let (scores, labels, matrix, macro_f1) = classification_scores(&pairs);
    assert_eq!(labels, vec!["a", "b"]);
    assert_eq!(matrix, vec![vec![1, 0, 1], vec![1, 0, 1]]);
    assert!((scores[0].precision - 0.5).abs() < 1e-12);
    assert!((scores[0].recall - 0.5).abs() < 1e-12);
    assert_eq!(scores[1].f1, 0.0);
    assert!((macro_f1.unwrap() - 0.25).abs() < 1e-12);
}

#[test]
fn normalization_is_configurable() {
    let n = Normalize::default();
    assert_eq!(n.apply("  Flight\nbecause..."), "flight");
    let exact = Normalize {
        strip: false,
        lower: false,
        first_line: false,
    };
    assert_eq!(exact.apply(" Flight"), " Flight");
    assert_eq!(exact.describe(), "exact text");
}

#[test]
fn bootstrap_interval_contains_the_mean() {
    let values: Vec<f64> = (0..200).map(|i| f64::from(u8::from(i % 4 != 0))).collect();
    let [low, high] = bootstrap_ci(&values, 500, 1);
    assert!(low < 0.75 && 0.75 < high, "{low} {high}");
}
