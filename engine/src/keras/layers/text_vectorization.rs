//! `TextVectorization`: strings in, int64 token ids out, as Keras' preprocessing layer.
//!
//! text -> standardize (lowercase + strip ASCII punctuation, or none) -> split (whitespace or
//! characters) -> look up each token in the vocabulary -> ids (B, T), padded with 0.
//!
//! The vocabulary comes from [`TextVectorization::adapt`] (tokens by decreasing frequency, ties
//! broken as Keras does: the larger string first), or from `set_vocabulary`. Index 0 is the mask
//! token `""` and index 1 the out-of-vocabulary token `"[UNK]"`; `max_tokens` counts both.
//!
//! It is not a [`Layer`](super::Layer): tensors here hold numbers, not strings, so it runs
//! before the model (Keras' "preprocessing in the tf.data pipeline" placement). Its state
//! travels with [`get_config`](TextVectorization::get_config) /
//! [`from_config`](TextVectorization::from_config), vocabulary included.
//! Only `output_mode("int")` exists (Keras also has multi_hot, count and tf_idf).

use std::collections::HashMap;

use crate::tensor::{create::from_vec, Tensor};

/// How text is normalised before splitting (Keras' `standardize`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standardize {
    /// `"lower_and_strip_punctuation"` (the default): ASCII lowercase, then every ASCII
    /// punctuation character `!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~` removed, as Keras'
    /// `tf.strings.lower` and its strip regex do.
    LowerAndStripPunctuation,
    /// `"lower"`: ASCII lowercase only.
    Lower,
    /// `"strip_punctuation"`: punctuation removed, case kept.
    StripPunctuation,
    /// `None`: the text as it is.
    None,
}

/// How standardised text becomes tokens (Keras' `split`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `"whitespace"` (the default): runs of whitespace separate tokens; no empty tokens.
    Whitespace,
    /// `"character"`: every Unicode character is a token, spaces included.
    Character,
}

impl Standardize {
    fn as_str(self) -> &'static str {
        match self {
            Standardize::LowerAndStripPunctuation => "lower_and_strip_punctuation",
            Standardize::Lower => "lower",
            Standardize::StripPunctuation => "strip_punctuation",
            Standardize::None => "none",
        }
    }
    fn parse(s: &str) -> Standardize {
        match s {
            "lower_and_strip_punctuation" => Standardize::LowerAndStripPunctuation,
            "lower" => Standardize::Lower,
            "strip_punctuation" => Standardize::StripPunctuation,
            "none" | "None" | "" => Standardize::None,
            other => panic!(
                "TextVectorization: unknown standardize {other:?}; use \
                 Standardize::LowerAndStripPunctuation, Lower, StripPunctuation or None"
            ),
        }
    }
}

impl Split {
    fn as_str(self) -> &'static str {
        match self {
            Split::Whitespace => "whitespace",
            Split::Character => "character",
        }
    }
    fn parse(s: &str) -> Split {
        match s {
            "whitespace" => Split::Whitespace,
            "character" => Split::Character,
            other => panic!(
                "TextVectorization: unknown split {other:?}; use Split::Whitespace or Split::Character"
            ),
        }
    }
}

impl From<&str> for Standardize {
    fn from(s: &str) -> Standardize {
        Standardize::parse(s)
    }
}
impl From<&str> for Split {
    fn from(s: &str) -> Split {
        Split::parse(s)
    }
}

/// The mask token (index 0) and the out-of-vocabulary token (index 1).
pub const MASK_TOKEN: &str = "";
pub const OOV_TOKEN: &str = "[UNK]";

/// Keras' `TextVectorization(max_tokens, standardize, split, output_mode="int",
/// output_sequence_length)`.
///
/// ```
/// use ferrolab::prelude::*;
/// let mut tv = TextVectorization::new().output_sequence_length(4);
/// tv.adapt(["the cat sat", "The dog sat!", "the end"]);
/// assert_eq!(tv.get_vocabulary(), ["", "[UNK]", "the", "sat", "end", "dog", "cat"]);
/// let ids = tv.call(["the bird sat", "dog"]);
/// assert_eq!(ids.to_vec::<i64>(), [2, 1, 3, 0, 5, 0, 0, 0]);
/// ```
#[derive(Clone, Debug)]
pub struct TextVectorization {
    max_tokens: Option<usize>,
    standardize: Standardize,
    split: Split,
    output_sequence_length: Option<usize>,
    vocab: Vec<String>,
    index: HashMap<String, i64>,
}

impl Default for TextVectorization {
    fn default() -> Self {
        Self::new()
    }
}

impl TextVectorization {
    /// Keras' defaults: lower_and_strip_punctuation, whitespace, no `max_tokens`, `int` output
    /// padded to the longest text of each call. The vocabulary is `["", "[UNK]"]` until `adapt`.
    pub fn new() -> Self {
        let mut tv = TextVectorization {
            max_tokens: None,
            standardize: Standardize::LowerAndStripPunctuation,
            split: Split::Whitespace,
            output_sequence_length: None,
            vocab: Vec::new(),
            index: HashMap::new(),
        };
        tv.set_vocabulary(Vec::<String>::new());
        tv
    }
    /// The largest vocabulary, mask and OOV tokens included (Keras' `max_tokens`).
    pub fn max_tokens(mut self, n: usize) -> Self {
        assert!(
            n >= 3,
            "TextVectorization: max_tokens = {n} leaves no room for a learned token; the mask \
             \"\" and \"[UNK]\" take 2 places, so pass at least 3"
        );
        self.max_tokens = Some(n);
        self
    }
    /// Keras' `standardize`: `"lower_and_strip_punctuation"`, `"lower"`,
    /// `"strip_punctuation"`, `"none"` (Keras' `None`), or a [`Standardize`].
    pub fn standardize(mut self, s: impl Into<Standardize>) -> Self {
        self.standardize = s.into();
        self
    }
    /// Keras' `split`: `"whitespace"`, `"character"`, or a [`Split`].
    pub fn split(mut self, s: impl Into<Split>) -> Self {
        self.split = s.into();
        self
    }
    /// Pads with 0 or truncates (keeping the first tokens) every output row to `n` ids.
    pub fn output_sequence_length(mut self, n: usize) -> Self {
        self.output_sequence_length = Some(n);
        self
    }
    /// Keras' `vocabulary=[...]` argument: [`set_vocabulary`](Self::set_vocabulary) at construction.
    pub fn vocabulary<S: Into<String>>(mut self, tokens: Vec<S>) -> Self {
        self.set_vocabulary(tokens);
        self
    }
    /// Keras' `output_mode`; only `"int"` is implemented.
    pub fn output_mode(self, mode: &str) -> Self {
        assert!(
            mode == "int",
            "TextVectorization: output_mode {mode:?} is not implemented here; use \"int\" \
             (then one_hot(..) or an Embedding for other encodings)"
        );
        self
    }

    /// The text after `standardize` (Keras applies it before splitting).
    pub fn standardize_text(&self, text: &str) -> String {
        let strip = |s: String| -> String {
            s.chars()
                .filter(|c| !c.is_ascii_punctuation())
                .collect::<String>()
        };
        match self.standardize {
            Standardize::LowerAndStripPunctuation => strip(text.to_ascii_lowercase()),
            Standardize::Lower => text.to_ascii_lowercase(),
            Standardize::StripPunctuation => strip(text.to_string()),
            Standardize::None => text.to_string(),
        }
    }

    /// The tokens of one text, after standardize and split.
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let s = self.standardize_text(text);
        match self.split {
            Split::Whitespace => s.split_whitespace().map(str::to_string).collect(),
            Split::Character => s.chars().map(|c| c.to_string()).collect(),
        }
    }

    /// Builds the vocabulary from texts: every token counted, most frequent first, ties broken
    /// by the larger string first (Keras' `np.lexsort((tokens, counts))[::-1]`), cut to
    /// `max_tokens - 2`, after `""` and `"[UNK]"`. Replaces any earlier vocabulary.
    pub fn adapt<S: AsRef<str>>(&mut self, texts: impl IntoIterator<Item = S>) {
        let mut counts: HashMap<String, u64> = HashMap::new();
        for t in texts {
            for tok in self.tokens(t.as_ref()) {
                *counts.entry(tok).or_default() += 1;
            }
        }
        counts.remove(MASK_TOKEN);
        counts.remove(OOV_TOKEN);
        let mut order: Vec<(String, u64)> = counts.into_iter().collect();
        order.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| b.0.as_bytes().cmp(a.0.as_bytes()))
        });
        if let Some(m) = self.max_tokens {
            order.truncate(m - 2);
        }
        self.set_vocabulary(order.into_iter().map(|(t, _)| t).collect());
    }

    /// Sets the vocabulary: learned tokens, or a full one that starts with `""`, `"[UNK]"`
    /// (as `get_vocabulary` returns it).
    pub fn set_vocabulary<S: Into<String>>(&mut self, tokens: Vec<S>) {
        let mut tokens: Vec<String> = tokens.into_iter().map(Into::into).collect();
        if tokens.len() >= 2 && tokens[0] == MASK_TOKEN && tokens[1] == OOV_TOKEN {
            tokens.drain(..2);
        }
        let mut vocab = vec![MASK_TOKEN.to_string(), OOV_TOKEN.to_string()];
        vocab.extend(tokens);
        if let Some(m) = self.max_tokens {
            assert!(
                vocab.len() <= m,
                "TextVectorization.set_vocabulary: {} tokens (with \"\" and \"[UNK]\") exceed \
                 max_tokens = {m}",
                vocab.len()
            );
        }
        let mut index = HashMap::with_capacity(vocab.len());
        for (i, t) in vocab.iter().enumerate() {
            if index.insert(t.clone(), i as i64).is_some() {
                panic!("TextVectorization.set_vocabulary: the token {t:?} appears twice");
            }
        }
        self.vocab = vocab;
        self.index = index;
    }

    /// The vocabulary, index by index: `["", "[UNK]", most frequent, ...]`.
    pub fn get_vocabulary(&self) -> Vec<String> {
        self.vocab.clone()
    }
    /// The number of ids, mask and OOV included.
    pub fn vocabulary_size(&self) -> usize {
        self.vocab.len()
    }

    /// The ids of one text's tokens (1 for tokens out of the vocabulary), unpadded.
    pub fn encode(&self, text: &str) -> Vec<i64> {
        self.tokens(text)
            .iter()
            .map(|t| self.index.get(t).copied().unwrap_or(1))
            .collect()
    }

    /// The tokens that ids stand for (mask ids skipped), joined with `sep` (`""` for
    /// characters, `" "` for words). Not in Keras, where one indexes `get_vocabulary()`.
    pub fn decode(&self, ids: &[i64], sep: &str) -> String {
        ids.iter()
            .filter(|&&i| i != 0)
            .map(|&i| self.vocab.get(i as usize).map_or(OOV_TOKEN, |s| s.as_str()))
            .collect::<Vec<_>>()
            .join(sep)
    }

    /// `layer(texts)`: int64 ids (B, T), padded with 0 to `output_sequence_length`, or to the
    /// longest text when it is unset; longer texts keep their first tokens.
    pub fn call<S: AsRef<str>>(&self, texts: impl IntoIterator<Item = S>) -> Tensor {
        let rows: Vec<Vec<i64>> = texts.into_iter().map(|t| self.encode(t.as_ref())).collect();
        let t = self
            .output_sequence_length
            .unwrap_or_else(|| rows.iter().map(Vec::len).max().unwrap_or(0));
        let mut out = vec![0i64; rows.len() * t];
        for (r, row) in rows.iter().enumerate() {
            let n = row.len().min(t);
            out[r * t..r * t + n].copy_from_slice(&row[..n]);
        }
        from_vec(out, [rows.len(), t]).expect("TextVectorization: ids")
    }

    /// Keras' `get_config()`, with the vocabulary (Keras keeps it as an asset of the saved
    /// model); [`from_config`](Self::from_config) rebuilds the same layer.
    pub fn get_config(&self) -> serde_json::Value {
        serde_json::json!({
            "max_tokens": self.max_tokens,
            "standardize": self.standardize.as_str(),
            "split": self.split.as_str(),
            "output_mode": "int",
            "output_sequence_length": self.output_sequence_length,
            "vocabulary": self.vocab,
        })
    }
    /// The layer that `get_config` described.
    pub fn from_config(config: &serde_json::Value) -> crate::Result<Self> {
        let bad = |what: &str| {
            crate::Error::Msg(format!(
                "TextVectorization.from_config: {what}; pass what get_config() returned"
            ))
        };
        let mut tv = TextVectorization::new()
            .standardize(
                config["standardize"]
                    .as_str()
                    .ok_or_else(|| bad("no standardize"))?,
            )
            .split(config["split"].as_str().ok_or_else(|| bad("no split"))?);
        tv.max_tokens = config["max_tokens"].as_u64().map(|n| n as usize);
        tv.output_sequence_length = config["output_sequence_length"]
            .as_u64()
            .map(|n| n as usize);
        let vocab: Vec<String> = config["vocabulary"]
            .as_array()
            .ok_or_else(|| bad("no vocabulary list"))?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad("a non-string token"))
            })
            .collect::<crate::Result<_>>()?;
        tv.set_vocabulary(vocab);
        Ok(tv)
    }
}
