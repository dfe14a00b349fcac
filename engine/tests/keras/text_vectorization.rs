//! TextVectorization against hand-computed vocabularies and ids, and the examples of Keras'
//! documentation (`tf.keras.layers.TextVectorization`), whose outputs are quoted in comments.

use ferrolab::keras::layers::{Split, Standardize};
use ferrolab::prelude::*;

#[test]
fn keras_doc_example_adapt_then_call() {
    // Keras docs: adapt on ["foo", "bar", "baz"], max_tokens 5000, output_sequence_length 4;
    // [["foo qux bar"], ["qux baz"]] -> [[2, 1, 4, 0], [1, 3, 0, 0]]
    let mut tv = TextVectorization::new()
        .max_tokens(5000)
        .output_mode("int")
        .output_sequence_length(4);
    tv.adapt(["foo", "bar", "baz"]);
    // equal counts: the larger string first (np.lexsort((tokens, counts))[::-1])
    assert_eq!(tv.get_vocabulary(), ["", "[UNK]", "foo", "baz", "bar"]);
    assert_eq!(tv.vocabulary_size(), 5);
    let ids = tv.call(["foo qux bar", "qux baz"]);
    assert_eq!(ids.dims(), &[2, 4]);
    assert_eq!(ids.dtype(), DType::I64);
    assert_eq!(ids.to_vec::<i64>(), [2, 1, 4, 0, 1, 3, 0, 0]);
}

#[test]
fn keras_doc_example_given_vocabulary() {
    // Keras docs: vocabulary=["earth", "wind", "and", "fire"] ->
    // get_vocabulary() == ['', '[UNK]', 'earth', 'wind', 'and', 'fire'];
    // [["earth wind and also fire"]] -> ... ids [2, 3, 4, 1, 5] with output_sequence_length 4
    // truncated to the first four.
    let tv = TextVectorization::new()
        .output_sequence_length(4)
        .vocabulary(vec!["earth", "wind", "and", "fire"]);
    assert_eq!(
        tv.get_vocabulary(),
        ["", "[UNK]", "earth", "wind", "and", "fire"]
    );
    assert_eq!(
        tv.call(["earth wind and also fire"]).to_vec::<i64>(),
        [2, 3, 4, 1]
    );
    // a full vocabulary as get_vocabulary returns it is taken as it is
    let again = TextVectorization::new().vocabulary(tv.get_vocabulary());
    assert_eq!(again.get_vocabulary(), tv.get_vocabulary());
}

#[test]
fn frequency_order_standardize_and_padding() {
    // counts after lowercase + strip: the 4, cat 2, sat 2, a 1, mat 1, on 1
    // order: the; then (2): sat > cat; then (1): on > mat > a
    let mut tv = TextVectorization::new();
    tv.adapt(["The cat sat.", "the CAT sat, on a mat!", "the; the"]);
    assert_eq!(
        tv.get_vocabulary(),
        ["", "[UNK]", "the", "sat", "cat", "on", "mat", "a"]
    );
    assert_eq!(
        tv.standardize_text("Don't stop-me, NOW!"),
        "dont stopme now"
    );
    // no output_sequence_length: padded to the longest text of the call
    let ids = tv.call(["a dog", "the cat sat on the mat"]);
    assert_eq!(ids.dims(), &[2, 6]);
    assert_eq!(ids.to_vec::<i64>(), [7, 1, 0, 0, 0, 0, 2, 4, 3, 5, 2, 6]);
    // empty text: all padding
    let tv4 = tv.clone().output_sequence_length(3);
    assert_eq!(tv4.call(["", "mat"]).to_vec::<i64>(), [0, 0, 0, 6, 0, 0]);
}

#[test]
fn max_tokens_counts_mask_and_oov() {
    // max_tokens 4 -> 2 learned tokens: the (4), then sat > cat at 2
    let mut tv = TextVectorization::new().max_tokens(4);
    tv.adapt(["the cat sat", "the cat sat the the"]);
    assert_eq!(tv.get_vocabulary(), ["", "[UNK]", "the", "sat"]);
    assert_eq!(tv.call(["cat sat"]).to_vec::<i64>(), [1, 3]);
}

#[test]
fn character_split_without_standardize() {
    // "abA a": a 2, b 1, A 1, ' ' 1 -> a; then by byte, larger first: b (0x62), A (0x41), ' ' (0x20)
    let mut tv = TextVectorization::new()
        .standardize("none")
        .split("character");
    tv.adapt(["abA a"]);
    assert_eq!(tv.get_vocabulary(), ["", "[UNK]", "a", "b", "A", " "]);
    let ids = tv.call(["a b!"]);
    assert_eq!(ids.to_vec::<i64>(), [2, 5, 3, 1]);
    assert_eq!(tv.decode(&ids.to_vec::<i64>(), ""), "a b[UNK]");
    // the enums say the same
    let same = TextVectorization::new()
        .standardize(Standardize::None)
        .split(Split::Character);
    assert_eq!(same.tokens("Hi!"), ["H", "i", "!"]);
    // lowercase + strip, by characters: punctuation gone, spaces kept
    let lower = TextVectorization::new().split("character");
    assert_eq!(lower.tokens("A-b c"), ["a", "b", " ", "c"]);
}

#[test]
fn config_round_trip_keeps_vocabulary_and_options() {
    let mut tv = TextVectorization::new()
        .max_tokens(10)
        .split("character")
        .output_sequence_length(5);
    tv.adapt(["hello world"]);
    let cfg = tv.get_config();
    assert_eq!(cfg["split"], "character");
    assert_eq!(cfg["max_tokens"], 10);
    let back = TextVectorization::from_config(&cfg).unwrap();
    assert_eq!(back.get_vocabulary(), tv.get_vocabulary());
    let text = ["Hello, there"];
    assert_eq!(
        back.call(text).to_vec::<i64>(),
        tv.call(text).to_vec::<i64>()
    );
    assert_eq!(back.call(text).dims(), &[1, 5]);
    let err = TextVectorization::from_config(&serde_json::json!({"split": "character"}));
    assert!(err.unwrap_err().to_string().contains("get_config"));
}

#[test]
#[should_panic(expected = "max_tokens")]
fn max_tokens_below_three_is_refused() {
    let _ = TextVectorization::new().max_tokens(2);
}
