//! A small real text corpus for language models: Shakespeare's sonnets, vendored in
//! `engine/data/shakespeare_sonnets.txt` (public domain; source and attribution in
//! `engine/data/README.md`).
//!
//! Like the "tiny Shakespeare" of Karpathy's char-rnn and TensorFlow's text-generation tutorial,
//! but smaller (96 KB) so that a character model trains in a notebook on 2 CPU cores.

const SONNETS: &str = include_str!("../../data/shakespeare_sonnets.txt");

/// The 154 sonnets as one string (2,624 lines, 95,728 ASCII bytes, `\n` line ends): a title
/// line, then each sonnet under its Roman numeral.
///
/// ```
/// let text = ferrolab::datasets::shakespeare_sonnets();
/// assert!(text.contains("Shall I compare thee to a summer's day?"));
/// ```
pub fn shakespeare_sonnets() -> &'static str {
    SONNETS
}

/// The corpus of [`shakespeare_sonnets`] split at a line boundary: the first `fraction` of its
/// characters for training, the rest for validation (no shuffling: held-out text is later text).
pub fn text_corpus(fraction: f64) -> (&'static str, &'static str) {
    assert!(
        (0.0..=1.0).contains(&fraction),
        "text_corpus: the training fraction must be in [0, 1], got {fraction}"
    );
    let cut = (SONNETS.len() as f64 * fraction) as usize;
    let cut = SONNETS[cut..]
        .find('\n')
        .map_or(SONNETS.len(), |i| cut + i + 1);
    SONNETS.split_at(cut)
}
