//! Whether a data set's answers form a closed label set (intents, classes) or open text (SQL,
//! summaries). One rule for everything that asks: the statistics (label counts and their
//! warnings), stratified splits, and the local models, which train a classifier on a label
//! set and another model on open text.

/// Past this many distinct answers the targets are open text, not a label set.
pub const LABEL_CAP: usize = 1000;
/// A label longer than this is an answer, not a class name.
const MAX_LABEL_CHARS: usize = 100;

/// Whether answers form a closed label set: they repeat (at most half as many distinct answers
/// as records), there are at most 1,000 of them, and each is a short single line.
pub fn looks_like_label_set(
    distinct: usize,
    answered: usize,
    longest: usize,
    multiline: bool,
) -> bool {
    answered > 0
        && distinct <= LABEL_CAP
        && distinct * 2 <= answered
        && longest <= MAX_LABEL_CHARS
        && !multiline
}
