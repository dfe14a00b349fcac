"""04_functional_api: a multi-input, multi-output model; a shared layer; summary(); a shape
error caught at build time."""


def cells():
    return [
        ("md", r"""
# The Keras Functional API
"""),
        ("md", r"""
## Overview

`Sequential` stacks layers in a line. Real models often do not: they take several inputs, make
several predictions, or use one layer in two places. The **Functional API** describes such a
model as a graph: start from `Input`s, call layers on them (`layer.apply(&x)` is Keras's
`layer(x)`), and hand the inputs and outputs to `Model::new`.

You will:

* build a model with two inputs and two outputs, train it with one loss per output;
* share one layer between two branches, so both use the same weights;
* read `summary()` to check shapes and parameter counts;
* see a shape mistake reported when the model is built, not halfway through training.
"""),
        ("md", r"""
## Setup

The digits again (see `03_keras_sequential_fit`). Besides the 64 pixels we give the model a second
input, each image's *profile*: the sum of each row and each column (16 numbers), and ask for two
things: the digit, and how much ink the image has (its mean intensity, standardised).
"""),
        ("code", r"""
use std::sync::Arc;
set_seed(7);
let (train, test) = datasets::digits().split(1500, 42);

// (N, 64) -> row sums and column sums of the 8x8 image, (N, 16)
fn profile(x: &Tensor) -> Tensor {
    let img = x.reshape([-1, 8, 8]);
    concat(&[&img.sum_axis(2, false), &img.sum_axis(1, false)], 1) * 0.125
}
// mean intensity, standardised with the training set's mean and std
let raw_ink = train.x.mean_axis(1, true);
let (ink_mean, ink_std) = (raw_ink.mean().item(), raw_ink.std().item());
let (train_ink, test_ink) = {
    let ink = |x: &Tensor| (x.mean_axis(1, true) - ink_mean as f64) * (1.0 / ink_std as f64);
    (ink(&train.x), ink(&test.x))
};
let (train_profile, test_profile) = (profile(&train.x), profile(&test.x));
println!("pixels {:?}, profile {:?}, ink {:?}", train.x.dims(), train_profile.dims(), train_ink.dims());
"""),
        ("md", r"""
## A model with two inputs and two outputs

Each input gets its own `Dense` branch; `Concatenate` joins them; two heads sit on the shared
trunk. Every `apply` checks shapes as the graph is built.
"""),
        ("code", r"""
let pixels = Input::new([64]);
let prof = Input::new([16]);
let a = Dense::new(64).activation("relu").apply(&pixels);
let b = Dense::new(16).activation("relu").apply(&prof);
let merged = Concatenate::new(-1).apply_many(&[&a, &b]);
let trunk = Dense::new(64).activation("relu").apply(&merged);
let digit = Dense::new(10).named("digit").apply(&trunk);
let amount = Dense::new(1).named("ink").apply(&trunk);
let mut model = Model::new(&[&pixels, &prof], &[&digit, &amount]);
println!("shapes: merged {:?}, digit {:?}, ink {:?}", merged.shape(), digit.shape(), amount.shape());
model.summary()
"""),
        ("md", r"""
`compile_multi` takes one loss per output: cross-entropy on the digit logits, mean squared error
on the ink. `fit_multi` takes the inputs and the targets in the same order as `Model::new`; the
training loss is the sum of both.
"""),
        ("code", r"""
model.compile_multi(
    Box::new(Adam::new(2e-3)),
    vec![Box::new(SparseCategoricalCrossentropy::from_logits()), Box::new(MeanSquaredError)],
    &[],
);
let history = model
    .fit_multi(&[&train.x, &train_profile], &[&train.y, &train_ink])
    .epochs(8)
    .batch_size(32)
    .validation_split(0.1)
    .run();
history.plot()
"""),
        ("code", r"""
let preds = model.predict_multi(&[&test.x, &test_profile]);
let digit_acc = preds[0].argmax(1).equal(&test.y).cast(DType::F32).mean().item();
let ink_mse = (&preds[1] - &test_ink).square().mean().item();
let ink_var = (&test_ink - test_ink.mean()).square().mean().item();
println!("digit accuracy {digit_acc:.3}; ink MSE {ink_mse:.2e} (predicting the mean: {ink_var:.2e})");
plot::scatter(&test_ink, &preds[1]).title("Ink: predicted vs true (test)").xlabel("true").ylabel("predicted")
"""),
        ("md", r"""
## Sharing a layer

Calling the **same layer object** on two inputs shares its weights, as in a siamese network that
compares two images. Wrap the layer in an `Arc` and `apply` clones of it: the graph then holds
one layer with one kernel, used twice.
"""),
        ("code", r"""
let left = Input::new([64]);
let right = Input::new([64]);
let encoder = Arc::new(Dense::new(32).activation("relu").named("shared_encoder"));
let el = encoder.clone().apply(&left);
let er = encoder.clone().apply(&right);
let both = Concatenate::new(-1).apply_many(&[&el, &er]);
let same = Dense::new(1).activation("sigmoid").named("same_digit").apply(&both);
let siamese = Model::new(&[&left, &right], &[&same]);
siamese.summary()
"""),
        ("code", r"""
// The two branches give identical codes for the same image: they are one layer.
let scores = siamese.predict_multi(&[&test.x.slice(s![..4]), &test.x.slice(s![..4])]);
let el_direct = encoder.call(&test.x.slice(s![..4]), false);
let shared_params: usize = 64 * 32 + 32;
println!("siamese params {} = shared encoder {} + head {}", siamese.count_params(), shared_params, 64 + 1);
println!("encoder output for 4 images: {:?}, same-digit scores: {:?}", el_direct.dims(), scores[0].to_vec::<f32>());
"""),
        ("md", r"""
## Shape errors at build time

Because every `apply` runs the layer on a symbolic input, a mistake shows up on the line that
makes it, with the layer's name and the shapes. Adding the 64-wide pixel branch to the 16-wide
profile branch cannot work. `try_apply` returns the error instead of stopping the cell:
"""),
        ("code", r"""
let err = keras::models::try_apply(Arc::new(Add::new()), &[&a, &b])
    .err()
    .expect("Add of (None, 64) and (None, 16) must fail")
    .to_string();
println!("{err}");
"""),
        ("md", r"""
## Exercise check
"""),
        ("code", r"""
assert_eq!(model.summary().total_params, 64 * 64 + 64 + 16 * 16 + 16 + 80 * 64 + 64 + 64 * 10 + 10 + 64 + 1);
assert!(digit_acc > 0.9, "digit accuracy {digit_acc} should be above 0.9");
assert!(ink_mse < 0.2 * ink_var, "ink MSE {ink_mse} should be well below the variance {ink_var}");
assert_eq!(siamese.count_params(), shared_params + 65, "the shared encoder is counted once");
assert_eq!(siamese.weights().len(), 4, "one kernel and bias for the encoder, one for the head");
assert!(err.contains("cannot take input shape"), "the error names the layer and shapes: {err}");
println!("All checks passed.");
"""),
        ("md", r"""
## Next steps

* Train the siamese network: build pairs of digits labelled 1 when they match, and
  `fit_multi(&[&x_left, &x_right], &[&same])`.
* Give the ink head a higher weight by scaling its loss, and watch the digit accuracy.
* `05_resnet` uses the Functional API's `Add` to build residual blocks.
"""),
    ]
