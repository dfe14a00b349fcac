//! Saves a small model's weights as safetensors and prints what the file must hold, for
//! `tests/test_safetensors_numpy.py` (which reads the file back with plain numpy).
//!
//!     cargo run --release -q -p ferrolab --example save_weights_demo -- /tmp/demo.safetensors
//!
//! The model is Dense(3, relu) -> BatchNormalization -> Dense(2) on 4 features, seeded, with one
//! training-mode call so the BatchNormalization moving statistics are not just zeros and ones.
//! The last line of stdout is JSON: `{"order": [names...], "tensors": {name: {"shape", "values"}}}`
//! with every float written so that it parses back to the identical float32.

use ferrolab::prelude::*;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: save_weights_demo <path.safetensors>");
    set_seed(7);
    let model = Sequential::new()
        .add(Dense::new(3).activation("relu").named("dense"))
        .add(BatchNormalization::new())
        .add(Dense::new(2).named("dense_1"))
        .input_shape([4]);
    model.call(&normal([8, 4], 0.0, 1.0, Some(1)), true);
    model
        .save_weights(&path)
        .unwrap_or_else(|e| panic!("save_weights failed: {e}"));

    let weights = model.weights();
    let order: Vec<&str> = weights.iter().map(|w| w.name()).collect();
    let mut tensors = serde_json::Map::new();
    for w in &weights {
        tensors.insert(
            w.name().to_string(),
            serde_json::json!({"shape": w.dims(), "values": w.to_vec::<f32>()}),
        );
    }
    println!("saved {} tensors to {path}", weights.len());
    println!(
        "{}",
        serde_json::json!({"order": order, "tensors": tensors})
    );
}
