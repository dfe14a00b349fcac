"""06_subclassing_autoencoder: a subclassed Autoencoder whose encoder and decoder are callable on
their own; reconstructions, a 2-D latent scatter, anomaly detection on ECG-like beats."""


def cells():
    return [
        ("md", r"""
# Model subclassing: an autoencoder
"""),
        ("md", r"""
## Overview

When a model is more than a graph of layers, with parts you want to call on their own, custom
logic, or state, Keras lets you **subclass** `Model`. In Rust that means a `struct` that holds
its layers and implements two traits: `Layer` (what `call` computes, which `weights` it has) and
`KerasModel` (which gives it `compile`, `fit`, `evaluate` and `predict`).

An autoencoder is the classic case. The **encoder** squeezes each input into a short dense vector,
the **decoder** rebuilds the input from it, and the model is trained to reproduce its input. Both
halves stay usable on their own: the encoder as a feature extractor, the decoder as a generator.

You will:

* write an `Autoencoder` struct and train it with `fit`;
* compare inputs with their reconstructions, and plot the 2-D codes of the digits;
* use reconstruction error to flag abnormal heartbeats, with a threshold you choose.
"""),
        ("md", r"""
## Setup
"""),
        ("code", r"""
set_seed(11);
let (train, test) = datasets::digits().split(1500, 42);
"""),
        ("md", r"""
## The subclassed model

The struct holds two `Sequential` models and a `TrainingState` (where `compile` keeps the
optimizer and loss). Weights are created on the first call, so the same struct works for any
input width.
"""),
        ("code", r"""
struct Autoencoder {
    encoder: Sequential,
    decoder: Sequential,
    state: TrainingState,
}

impl Autoencoder {
    /// inputs of `width` features -> `latent` numbers -> back to `width` features.
    fn new(width: usize, latent: usize, output_activation: &str) -> Autoencoder {
        Autoencoder {
            encoder: Sequential::new()
                .add(Dense::new(64).activation("relu"))
                .add(Dense::new(32).activation("relu"))
                .add(Dense::new(latent)),
            decoder: Sequential::new()
                .add(Dense::new(32).activation("relu"))
                .add(Dense::new(64).activation("relu"))
                .add(Dense::new(width).activation(output_activation)),
            state: TrainingState::default(),
        }
    }
}

impl Layer for Autoencoder {
    fn name(&self) -> String {
        "autoencoder".into()
    }
    fn class_name(&self) -> &'static str {
        "Autoencoder"
    }
    fn call(&self, x: &Tensor, training: bool) -> Tensor {
        let code = self.encoder.call(x, training);
        self.decoder.call(&code, training)
    }
    fn weights(&self) -> Vec<Variable> {
        let mut w = self.encoder.weights();
        w.extend(self.decoder.weights());
        w
    }
}

impl KerasModel for Autoencoder {
    fn training_state(&mut self) -> &mut TrainingState {
        &mut self.state
    }
}
"""),
        ("md", r"""
## Digits through a 2-number bottleneck

The target is the input itself: `fit(&x, &x)`. Pixels are in [0, 1], so the decoder ends with a
sigmoid.
"""),
        ("code", r"""
let mut ae = Autoencoder::new(64, 2, "sigmoid");
ae.compile(Adam::new(3e-3), MeanSquaredError, &[]);
let ae_history = ae.fit(&train.x, &train.x).epochs(25).batch_size(64).verbose(0).run();
let recon_mse = ae.evaluate(&test.x, &test.x).get("loss").unwrap();
let blank_mse = (&test.x - train.x.mean_axis(0, true)).square().mean().item();
println!("test reconstruction MSE {recon_mse:.4} (the average digit: {blank_mse:.4})");
ae_history.plot()
"""),
        ("md", r"""
Top row: test digits; bottom row: what the autoencoder makes of them after squeezing each one
into two numbers. The shape survives, the details do not.
"""),
        ("code", r"""
let originals = test.x.slice(s![..10]);
let rebuilt = ae.predict(&originals);
plot::image_grid(&concat(&[&originals, &rebuilt], 0).reshape([20, 8, 8]))
    .cols(10)
    .title("Test digits (top) and their reconstructions (bottom)")
"""),
        ("md", r"""
The encoder on its own maps every test digit to a point in 2-D. Digits of the same class land
near each other, although the model never saw a label:
"""),
        ("code", r"""
let codes = ae.encoder.predict(&test.x);
plot::scatter(&codes.slice(s![.., 0]), &codes.slice(s![.., 1]))
    .classes(&test.y)
    .class_names(&test.class_names)
    .title("2-D codes of the test digits")
    .xlabel("code 1")
    .ylabel("code 2")
"""),
        ("code", r"""
// The decoder on its own turns any point of that plane into a digit-like image.
let grid_points = tensor([[-4.0f32, -4.0], [-2.0, 0.0], [0.0, 0.0], [2.0, 0.0], [4.0, 4.0], [0.0, -4.0]]);
let generated = ae.decoder.predict(&grid_points);
plot::image_grid(&generated.reshape([6, 8, 8])).title("Decoded from chosen codes")
"""),
        ("md", r"""
## Anomaly detection on heartbeats

An autoencoder trained only on **normal** examples rebuilds normal ones well and abnormal ones
badly, so reconstruction error is an anomaly score. The data imitates the ECG5000 set of
TensorFlow's autoencoder tutorial: 140-sample heartbeats, 20% of them abnormal (a missing P wave
and wide QRS, ST elevation, or an inverted T wave).
"""),
        ("code", r"""
let beats = datasets::ecg_beats(2000, 0.2, 5);
let (ecg_train, ecg_test) = beats.split(0.8, 1);
let labels = ecg_train.y.to_vec::<i64>();
let normal_rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 0).collect();
let normal_train = ecg_train.select(&normal_rows);
let t140: Vec<f64> = (0..140).map(|i| i as f64).collect();
let first_bad = labels.iter().position(|&l| l == 1).unwrap();
plot::plot(&t140, &normal_train.x.slice(s![0])).label("normal")
    .plot(&t140, &ecg_train.x.slice(s![first_bad])).label("abnormal")
    .title("Two heartbeats").xlabel("sample")
"""),
        ("code", r"""
let mut ecg_ae = Autoencoder::new(140, 8, "linear");
ecg_ae.compile(Adam::new(2e-3), MeanAbsoluteError, &[]);
ecg_ae.fit(&normal_train.x, &normal_train.x).epochs(20).batch_size(64).verbose(0).run();

fn errors(model: &Autoencoder, x: &Tensor) -> Vec<f32> {
    (model.predict(x) - x).abs().mean_axis(1, false).to_vec::<f32>()
}
let train_err = errors(&ecg_ae, &normal_train.x);
let mean = train_err.iter().sum::<f32>() / train_err.len() as f32;
let std = (train_err.iter().map(|e| (e - mean).powi(2)).sum::<f32>() / train_err.len() as f32).sqrt();
let threshold = mean + 3.0 * std;
println!("reconstruction error of normal training beats: {mean:.4} +- {std:.4}; threshold {threshold:.4}");
"""),
        ("md", r"""
The threshold is the mean error of the normal training beats plus three standard deviations. On the
test beats, the two kinds separate well:
"""),
        ("code", r"""
let test_err = errors(&ecg_ae, &ecg_test.x);
let test_labels = ecg_test.y.to_vec::<i64>();
let n_test = test_labels.len();
let normal_err: Vec<f32> = (0..n_test).filter(|&i| test_labels[i] == 0).map(|i| test_err[i]).collect();
let abnormal_err: Vec<f32> = (0..n_test).filter(|&i| test_labels[i] == 1).map(|i| test_err[i]).collect();
plot::hist(&normal_err, 40).label("normal")
    .hist(&abnormal_err, 40).label("abnormal")
    .axvline(threshold as f64)
    .title("Reconstruction error on test beats (line: threshold)")
    .xlabel("mean absolute error")
"""),
        ("code", r"""
// flagged = error above the threshold; positive = abnormal
let (mut tp, mut fp, mut fn_, mut tn) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
for i in 0..n_test {
    match (test_err[i] > threshold, test_labels[i] == 1) {
        (true, true) => tp += 1.0,
        (true, false) => fp += 1.0,
        (false, true) => fn_ += 1.0,
        (false, false) => tn += 1.0,
    }
}
let (accuracy, precision, recall) = ((tp + tn) / n_test as f32, tp / (tp + fp), tp / (tp + fn_));
Table::new(["metric", "value"])
    .row(("accuracy", accuracy))
    .row(("precision", precision))
    .row(("recall", recall))
    .title("Anomaly detection on the test beats")
"""),
        ("code", r"""
let bad = test_labels.iter().position(|&l| l == 1).unwrap();
let bad_beat = ecg_test.x.slice(s![bad..bad + 1]);
plot::plot(&t140, &bad_beat.reshape([140])).label("abnormal beat")
    .plot(&t140, &ecg_ae.predict(&bad_beat).reshape([140])).label("reconstruction").dashed()
    .title("The autoencoder rebuilds a normal beat instead").xlabel("sample")
"""),
        ("md", r"""
## Exercise check
"""),
        ("code", r"""
assert!(recon_mse < 0.7 * blank_mse, "reconstruction MSE {recon_mse} vs the average digit {blank_mse}");
assert_eq!(codes.dims(), &[297, 2]);
let direct = ae.decoder.predict(&ae.encoder.predict(&originals));
let max_diff = (direct - &rebuilt).abs().max().item();
assert!(max_diff < 1e-5, "encoder then decoder is the model: {max_diff}");
assert!(accuracy > 0.9, "anomaly accuracy {accuracy}");
assert!(precision > 0.8 && recall > 0.8, "precision {precision}, recall {recall}");
println!("All checks passed.");
"""),
        ("md", r"""
## Next steps

* Give the digit autoencoder 8 latent numbers instead of 2: sharper reconstructions, no plot.
* Move the threshold and watch precision trade against recall.
* Add a `Dropout` or Gaussian noise to the encoder's input for a denoising autoencoder.
"""),
    ]
