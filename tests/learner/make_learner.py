"""Writes tests/learner/tf2_quickstarts.ipynb: the TensorFlow 2 beginner and expert quickstarts
(tensorflow.org/tutorials/quickstart/beginner and .../advanced), ported to Ferrolab cell for cell,
in TF's order, on the shipped UCI 8x8 digits instead of MNIST (nothing is downloaded).

It is what a TF2 learner would type first, so it checks the names of issue 15: `ferrolab::VERSION`,
`Softmax`, `metrics::Mean`, `metrics::SparseCategoricalAccuracy`, `tape.gradient(&loss,
&model.trainable_variables())` and `optimizer.apply_gradients(&gradients, &vars)`. TF's
`@tf.function` steps are plain Rust functions (traced functions are a later issue).

    .venv/bin/python tests/learner/make_learner.py

The notebook is committed without outputs; tests/test_learner.py runs it through the kernel and
checks that it matches this generator.
"""

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "notebooks"))

from make_notebooks import build  # noqa: E402

PATH = HERE / "tf2_quickstarts.ipynb"


def cells():
    return [
        ("md", r"""
# TensorFlow 2 quickstarts, in Ferrolab
"""),
        ("md", r"""
## Overview

The two TensorFlow 2 quickstarts, cell for cell and in their order: the **beginner** one trains
a Keras `Sequential` model with `compile`/`fit`; the **expert** one subclasses a model and
writes the training loop with `GradientTape`. The data is the UCI 8×8 handwritten digits that
ship with Ferrolab (1,797 images) instead of MNIST, so nothing is downloaded. TF's
`@tf.function` steps are plain Rust functions here.
"""),
        ("md", r"""
## Setup

`import tensorflow as tf; print("TensorFlow version:", tf.__version__)`. The kernel has already
imported the prelude, Ferrolab's `tf`.
"""),
        ("code", r"""
println!("Ferrolab version: {}", ferrolab::VERSION);
set_seed(42);
"""),
        ("md", r"""
## Beginner quickstart

### Load a dataset

MNIST's pixels are scaled from [0, 255] to [0, 1] by hand; the digits come already scaled.
"""),
        ("code", r"""
let (train, test) = datasets::digits().split(1500, 42);
let (x_train, y_train) = (train.images().reshape([-1, 8, 8]), train.y.clone());
let (x_test, y_test) = (test.images().reshape([-1, 8, 8]), test.y.clone());
x_train.shape()
"""),
        ("md", r"""
### Build a machine learning model
"""),
        ("code", r"""
let mut model = Sequential::new()
    .add(Flatten::new())
    .add(Dense::new(128).activation("relu"))
    .add(Dropout::new(0.2))
    .add(Dense::new(10))
    .input_shape([8, 8]);
"""),
        ("md", r"""
For each example, the model returns a vector of logits, one per class (`model(x_train[:1])`):
"""),
        ("code", r"""
let predictions = model.call(&x_train.slice(s![..1]), false);
predictions
"""),
        ("md", r"""
`tf.nn.softmax` turns these logits into probabilities:
"""),
        ("code", r"""
predictions.softmax(-1)
"""),
        ("md", r"""
The loss of the untrained model is close to -ln(1/10) ≈ 2.3:
"""),
        ("code", r"""
let loss_fn = SparseCategoricalCrossentropy::from_logits();
loss_fn.call(&y_train.slice(s![..1]), &predictions)
"""),
        ("code", r"""
model.compile(Adam::new(0.001), loss_fn, &["accuracy"]);
"""),
        ("md", r"""
### Train and evaluate your model
"""),
        ("code", r"""
let history = model.fit(&x_train, &y_train).epochs(5).run();
"""),
        ("code", r"""
let beginner_logs = model.evaluate(&x_test, &y_test);
println!("{beginner_logs}");
"""),
        ("md", r"""
To return probabilities, wrap the trained model and attach the softmax to it:
"""),
        ("code", r"""
let probability_model = Sequential::new().add(model).add(Softmax::new());
"""),
        ("code", r"""
let probabilities = probability_model.call(&x_test.slice(s![..5]), false);
probabilities
"""),
        ("md", r"""
## Expert quickstart

### Load and prepare the dataset

Add a channels dimension (`x_train[..., tf.newaxis]`): `images()` gives (N, 8, 8, 1).
"""),
        ("code", r"""
let x_train = train.images();
let x_test = test.images();
"""),
        ("md", r"""
Batch and shuffle the dataset with `tf.data`:
"""),
        ("code", r"""
let train_ds = Dataset::from_tensor_slices((&x_train, &y_train)).shuffle(10000, 42).batch(32);
let test_ds = Dataset::from_tensor_slices((&x_test, &y_test)).batch(32);
"""),
        ("md", r"""
### Build the model with model subclassing

A struct holds the layers; `impl Layer` gives it `call` and its weights.
"""),
        ("code", r"""
struct MyModel {
    conv1: Conv2D,
    flatten: Flatten,
    d1: Dense,
    d2: Dense,
}

impl MyModel {
    fn new() -> MyModel {
        MyModel {
            conv1: Conv2D::new(32, 3).activation("relu"),
            flatten: Flatten::new(),
            d1: Dense::new(128).activation("relu"),
            d2: Dense::new(10),
        }
    }
}

impl Layer for MyModel {
    fn name(&self) -> String {
        "my_model".to_string()
    }
    fn class_name(&self) -> &'static str {
        "MyModel"
    }
    fn call(&self, x: &Tensor, training: bool) -> Tensor {
        let x = self.conv1.call(x, training);
        let x = self.flatten.call(&x, training);
        let x = self.d1.call(&x, training);
        self.d2.call(&x, training)
    }
    fn weights(&self) -> Vec<Variable> {
        [self.conv1.weights(), self.d1.weights(), self.d2.weights()].concat()
    }
}

// Create an instance of the model
let model = MyModel::new();
"""),
        ("md", r"""
Choose an optimizer and loss function for training:
"""),
        ("code", r"""
let loss_object = SparseCategoricalCrossentropy::from_logits();
let mut optimizer = Adam::new(0.001);
"""),
        ("md", r"""
Select metrics to measure the loss and the accuracy of the model. These metrics accumulate the
values over epochs and then print the overall result.
"""),
        ("code", r"""
let mut train_loss = metrics::Mean::new("train_loss");
let mut train_accuracy = metrics::SparseCategoricalAccuracy::new("train_accuracy");

let mut test_loss = metrics::Mean::new("test_loss");
let mut test_accuracy = metrics::SparseCategoricalAccuracy::new("test_accuracy");
"""),
        ("md", r"""
Use `GradientTape` to train the model. A Rust function cannot see the notebook's variables, so
the model, optimizer and metrics are its arguments:
"""),
        ("code", r"""
fn train_step(
    model: &MyModel,
    optimizer: &mut Adam,
    loss_object: &SparseCategoricalCrossentropy,
    train_loss: &mut metrics::Mean,
    train_accuracy: &mut metrics::SparseCategoricalAccuracy,
    images: &Tensor,
    labels: &Tensor,
) {
    let tape = GradientTape::new();
    // training=true is only needed if there are layers with different
    // behavior during training versus inference (e.g. Dropout).
    let predictions = model.call(images, true);
    let loss = loss_object.call(labels, &predictions);
    let gradients = tape.gradient(&loss, &model.trainable_variables());
    optimizer.apply_gradients(&gradients, &model.trainable_variables());

    train_loss.update_state(&loss);
    train_accuracy.update_state(labels, &predictions);
}
"""),
        ("md", r"""
Test the model:
"""),
        ("code", r"""
fn test_step(
    model: &MyModel,
    loss_object: &SparseCategoricalCrossentropy,
    test_loss: &mut metrics::Mean,
    test_accuracy: &mut metrics::SparseCategoricalAccuracy,
    images: &Tensor,
    labels: &Tensor,
) {
    // training=false is only needed if there are layers with different
    // behavior during training versus inference (e.g. Dropout).
    let predictions = model.call(images, false);
    let t_loss = loss_object.call(labels, &predictions);

    test_loss.update_state(&t_loss);
    test_accuracy.update_state(labels, &predictions);
}
"""),
        ("code", r"""
let epochs = 5;

for epoch in 0..epochs {
    // Reset the metrics at the start of the next epoch
    train_loss.reset_state();
    train_accuracy.reset_state();
    test_loss.reset_state();
    test_accuracy.reset_state();

    for (images, labels) in train_ds.iter() {
        train_step(&model, &mut optimizer, &loss_object, &mut train_loss, &mut train_accuracy, &images, &labels);
    }

    for (test_images, test_labels) in test_ds.iter() {
        test_step(&model, &loss_object, &mut test_loss, &mut test_accuracy, &test_images, &test_labels);
    }

    println!(
        "Epoch {}, Loss: {:.4}, Accuracy: {:.2}, Test Loss: {:.4}, Test Accuracy: {:.2}",
        epoch + 1,
        train_loss.result(),
        train_accuracy.result() * 100.0,
        test_loss.result(),
        test_accuracy.result() * 100.0,
    );
}
"""),
        ("md", r"""
## Exercise check

Both quickstarts reach MNIST-like accuracy on the digits in five epochs.
"""),
        ("code", r"""
let beginner_accuracy = beginner_logs.get("accuracy").unwrap();
assert_eq!(history.len(), 5);
assert!(beginner_accuracy > 0.9, "beginner test accuracy {beginner_accuracy} should be above 0.9");
let rows = probabilities.sum_axis(1, false).to_vec::<f32>();
assert!(rows.iter().all(|s| (s - 1.0).abs() < 1e-4), "probabilities sum to 1: {rows:?}");
assert_eq!(probabilities.dims(), &[5, 10]);
assert!(test_accuracy.result() > 0.9, "expert test accuracy {} should be above 0.9", test_accuracy.result());
assert!(train_loss.result() < 0.3, "expert training loss {} should be below 0.3", train_loss.result());
assert_eq!(model.trainable_variables().len(), 6, "conv1, d1 and d2: a kernel and a bias each");
println!("All checks passed: beginner {:.3}, expert {:.3}", beginner_accuracy, test_accuracy.result());
"""),
        ("md", r"""
## Next steps

* `notebooks/03_keras_sequential_fit` goes further with `fit`: validation, `History.plot()`,
  a confusion matrix.
* `notebooks/06_subclassing_autoencoder` subclasses a model that `fit` trains.
"""),
    ]


def main():
    import nbformat

    nbformat.write(build(cells()), str(PATH))
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
