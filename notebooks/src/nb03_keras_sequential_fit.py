"""03_keras_sequential_fit: digits, an image grid, compile/fit with the live progress bar,
History.plot(), evaluate, predict with probability bars, a confusion-matrix heatmap."""


def cells():
    return [
        ("md", r"""
# Train a first Keras model: handwritten digits
"""),
        ("md", r"""
## Overview

Keras puts the training loop of `02_eager_and_gradient_tape` behind three calls: `compile`
chooses the optimizer, loss and metrics; `fit` runs the epochs and shows a live progress bar;
`evaluate` and `predict` use the trained model. This notebook trains a small multilayer
perceptron on the UCI 8×8 handwritten digits (1,797 real images, shipped with Ferrolab, no
download), then looks at what it gets right and wrong.

You will:

* look at the data as an image grid;
* build a `Sequential` model and read its `summary()`;
* train it with `fit`, watching the progress bar and the `History` curves;
* evaluate it on held-out digits, plot predicted probabilities and a confusion matrix.
"""),
        ("md", r"""
## Setup

Fix the seed (weight initialisation and shuffling), then split the digits: 1,500 for training,
the other 297 kept aside for the test.
"""),
        ("code", r"""
set_seed(42);
let (train, test) = datasets::digits().split(1500, 42);
train
"""),
        ("md", r"""
## The data

Each example is 64 pixel intensities in [0, 1], an 8×8 image. `images()` gives them back as
(N, 8, 8, 1) for display.
"""),
        ("code", r"""
let first_labels = train.y.slice(s![..24]).to_vec::<i64>();
plot::image_grid(&train.images().slice(s![..24]))
    .captions(first_labels.iter().map(|d| d.to_string()))
    .cols(12)
    .title("The first 24 training digits")
"""),
        ("code", r"""
let counts = train.class_counts();
plot::bar((0..10).map(|d| d.to_string()), &counts).title("Examples per class").xlabel("digit")
"""),
        ("md", r"""
## Build the model

Two hidden `Dense` layers with ReLU, `Dropout` against overfitting, and ten outputs: one
**logit** per digit. The softmax is folded into the loss
(`SparseCategoricalCrossentropy::from_logits()`), which is numerically safer. Giving the input
shape builds the weights at once, so `summary()` can count them.
"""),
        ("code", r"""
let mut model = Sequential::new()
    .add(Dense::new(128).activation("relu"))
    .add(Dropout::new(0.2))
    .add(Dense::new(64).activation("relu"))
    .add(Dense::new(10))
    .input_shape([64]);
model.summary()
"""),
        ("md", r"""
## Train with `fit`

`fit` shuffles the data each epoch, keeps 10% aside for validation, and draws the Keras progress
bar while it runs. Ten epochs are enough to see the curves; we do not train to convergence.
"""),
        ("code", r"""
model.compile(Adam::new(1e-3), SparseCategoricalCrossentropy::from_logits(), &["accuracy"]);
let history = model.fit(&train.x, &train.y)
    .epochs(10)
    .batch_size(32)
    .validation_split(0.1)
    .run();
"""),
        ("md", r"""
`History` holds the loss and metrics of every epoch; `plot()` draws them, training and
validation side by side.
"""),
        ("code", r"""
history.plot()
"""),
        ("md", r"""
## Evaluate on the test digits

The test digits were never seen during training, so their accuracy is an honest estimate.
"""),
        ("code", r"""
let logs = model.evaluate(&test.x, &test.y);
let test_accuracy = logs.get("accuracy").unwrap();
println!("{logs}");
"""),
        ("md", r"""
## Predict

`predict` returns logits; a softmax turns them into probabilities. Here are the first eight test
digits with the model's probability for each class.
"""),
        ("code", r"""
let probs = model.predict(&test.x.slice(s![..8])).softmax(-1);
let shown = test.images().slice(s![..8]);
plot::subplots(4, (0..8).flat_map(|i| {
    let guess = probs.slice(s![i]).argmax(0).to_vec::<i64>()[0];
    let truth = test.y.slice(s![i]).to_vec::<i64>()[0];
    [
        plot::imshow(&shown.slice(s![i])).title(format!("true {truth}")),
        plot::bar((0..10).map(|d| d.to_string()), &probs.slice(s![i])).ylim(0.0, 1.0).title(format!("guess {guess}")),
    ]
}))
.suptitle("Test digits and predicted probabilities")
"""),
        ("md", r"""
## Where the mistakes are

A confusion matrix counts, for each true digit (row), what the model predicted (column). The
diagonal is right; everything else is a mistake. Which digits does this model confuse?
"""),
        ("code", r"""
let predicted = model.predict(&test.x).argmax(1);
let cm = confusion_matrix(&test.y, &predicted, 10);
let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
plot::heatmap(&cm)
    .annotate()
    .cmap("Blues")
    .ticklabels(&digits, &digits)
    .title("Confusion matrix (test)")
    .xlabel("predicted")
    .ylabel("true")
"""),
        ("md", r"""
## Exercise check
"""),
        ("code", r"""
let losses = history.get("loss").unwrap().to_vec();
assert_eq!(history.len(), 10);
assert!(losses[9] < losses[0] / 3.0, "training loss {} -> {}", losses[0], losses[9]);
assert!(history.last("val_accuracy").unwrap() > 0.9, "validation accuracy {:?}", history.last("val_accuracy"));
assert!(test_accuracy > 0.93, "test accuracy {test_accuracy} should be above 0.93");
let cm_v = cm.to_vec::<i64>();
let correct: i64 = (0..10).map(|d| cm_v[d * 10 + d]).sum();
assert_eq!(cm_v.iter().sum::<i64>(), 297, "every test digit is counted once");
assert!((correct as f32 / 297.0 - test_accuracy).abs() < 1e-3, "the diagonal is the accuracy");
let row_sums = probs.sum_axis(1, false).to_vec::<f32>();
assert!(row_sums.iter().all(|s| (s - 1.0).abs() < 1e-4), "probabilities sum to 1");
println!("All checks passed: test accuracy {test_accuracy:.3}");
"""),
        ("md", r"""
## Next steps

* Add `.callback(EarlyStopping::new("val_loss").patience(3))` to `fit` and train for 50 epochs.
* Try a `Conv2D` model on `train.images()` (see the README's cheat sheet).
* `04_functional_api` builds models that are not a simple stack.
"""),
    ]
