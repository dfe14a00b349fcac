"""05_resnet: residual blocks against a plain network of the same depth on glyph images; loss
curves and per-layer gradient norms."""


def cells():
    return [
        ("md", r"""
# Residual networks: why everyone is doing ResNet
"""),
        ("md", r"""
## Overview

Deeper networks should fit at least as well as shallow ones: the extra layers could simply learn
the identity. In practice, before 2015, a plain stack of 20 or more layers trained *worse* than a
shallower one. The gradient that reaches the first layers is a product of one factor per layer
above them, and it fades (or explodes) with depth.

ResNet's fix is one line per block: add the block's input to its output, `y = relu(x + F(x))`.
The identity path carries the signal and the gradient straight through, and each block only has
to learn a correction `F(x)`.

You will:

* build a plain network and a residual network of the **same depth** with the Functional API;
* measure the gradient that reaches each layer, before training;
* train both the same way and compare their loss curves.
"""),
        ("md", r"""
## Setup

Glyph images: 28×28 pictures of the digits 0-9 in a bitmap font, at random positions and sizes,
with pixel noise. They are generated from a seed, so nothing is downloaded.
"""),
        ("code", r"""
set_seed(3);
let glyphs = datasets::glyph_digits(3000, 0.15, 1);
let (train, test) = glyphs.split(2400, 0);
let labels = train.y.slice(s![..16]).to_vec::<i64>();
plot::image_grid(&train.images().slice(s![..16]))
    .captions(labels.iter().map(|d| d.to_string()))
    .title("Glyph digits (28x28, noisy)")
"""),
        ("md", r"""
## Two networks of the same depth

Both start with a `Dense` stem from the 784 pixels to 64 features, then stack `BLOCKS` blocks of
two `Dense(64)` layers, then a 10-way classifier: 2 + 2 × `BLOCKS` layers in all. The only
difference is the `Add` that makes a block residual.
"""),
        ("code", r"""
const BLOCKS: usize = 10;

fn build(residual: bool) -> Model {
    let inputs = Input::new([784]);
    let mut h = Dense::new(64).activation("relu").apply(&inputs);
    for _ in 0..BLOCKS {
        let f = Dense::new(64).activation("relu").apply(&h);
        let f = Dense::new(64).apply(&f);
        let sum = if residual { Add::new().apply_many(&[&h, &f]) } else { f };
        h = Activation::new("relu").apply(&sum);
    }
    let outputs = Dense::new(10).apply(&h);
    Model::new(&[&inputs], &[&outputs])
}

let mut plain = build(false);
let mut resnet = build(true);
println!("plain: {} layers with weights, {} parameters", plain.trainable_weights().len() / 2, plain.count_params());
println!("resnet: {} layers with weights, {} parameters", resnet.trainable_weights().len() / 2, resnet.count_params());
// How much does the output still vary from image to image?
let probe = train.x.slice(s![..256]);
let (plain_spread, resnet_spread) = (plain.call(&probe, false).std().item(), resnet.call(&probe, false).std().item());
println!("std of the untrained logits over 256 images: plain {plain_spread:.2e}, resnet {resnet_spread:.2e}");
"""),
        ("md", r"""
## The gradient that reaches each layer

Take one batch, compute the loss with a `GradientTape`, and measure the norm of the gradient of
each layer's kernel, from the input (layer 1) to the output. With the standard (Glorot)
initialisation each ReLU layer of the plain network passes on only part of the signal, so after
22 layers the output hardly depends on the input at all, and every layer's gradient is thousands
of times smaller than in the residual network, whose identity paths carry the signal through.
"""),
        ("code", r"""
fn kernel_grad_norms(model: &Model, x: &Tensor, y: &Tensor) -> Vec<f32> {
    let kernels: Vec<Variable> = model.trainable_weights().into_iter().filter(|w| w.rank() == 2).collect();
    let tape = GradientTape::new();
    let logits = model.call(x, true);
    let loss = SparseCategoricalCrossentropy::from_logits().call(y, &logits);
    let sources: Vec<&Tensor> = kernels.iter().map(|k| k.as_tensor()).collect();
    tape.gradient_vec(&loss, &sources)
        .into_iter()
        .map(|g| g.unwrap().square().sum().sqrt().item())
        .collect()
}
let (xb, yb) = (train.x.slice(s![..256]), train.y.slice(s![..256]));
let plain_norms = kernel_grad_norms(&plain, &xb, &yb);
let resnet_norms = kernel_grad_norms(&resnet, &xb, &yb);
let layer_ids: Vec<f64> = (1..=plain_norms.len()).map(|i| i as f64).collect();
plot::plot(&layer_ids, &plain_norms).label("plain").marker("o")
    .plot(&layer_ids, &resnet_norms).label("resnet").marker("o")
    .yscale("log")
    .title("Gradient norm per layer at initialisation")
    .xlabel("layer (1 = next to the input)")
    .ylabel("||dL/dW||")
"""),
        ("md", r"""
## Train both the same way

Same data, same optimizer (Adam), same number of epochs. Adam rescales each gradient, which
rescues the plain network a little, but not much.
"""),
        ("code", r"""
plain.compile(Adam::new(1e-3), SparseCategoricalCrossentropy::from_logits(), &["accuracy"]);
let plain_history = plain.fit(&train.x, &train.y).epochs(10).batch_size(64)
    .validation_data(&test.x, &test.y).verbose(0).run();
resnet.compile(Adam::new(1e-3), SparseCategoricalCrossentropy::from_logits(), &["accuracy"]);
let resnet_history = resnet.fit(&train.x, &train.y).epochs(10).batch_size(64)
    .validation_data(&test.x, &test.y).verbose(0).run();
let (plain_acc, resnet_acc) = (plain_history.last("val_accuracy").unwrap(), resnet_history.last("val_accuracy").unwrap());
println!("test accuracy after 10 epochs: plain {plain_acc:.3}, resnet {resnet_acc:.3}");
"""),
        ("code", r"""
let epochs: Vec<f64> = (1..=plain_history.len()).map(|e| e as f64).collect();
plot::subplots(2, [
    plot::plot(&epochs, plain_history.get("loss").unwrap()).label("plain")
        .plot(&epochs, resnet_history.get("loss").unwrap()).label("resnet")
        .title("Training loss").xlabel("epoch"),
    plot::plot(&epochs, plain_history.get("val_accuracy").unwrap()).label("plain")
        .plot(&epochs, resnet_history.get("val_accuracy").unwrap()).label("resnet")
        .ylim(0.0, 1.0)
        .title("Test accuracy").xlabel("epoch"),
])
"""),
        ("md", r"""
## Exercise check

At initialisation the residual network's output still depends on its input and its first layer
gets a gradient hundreds of times larger; it trains to a clearly better accuracy in the same
number of epochs.
"""),
        ("code", r"""
println!("first-layer gradient norm: plain {:.2e}, resnet {:.2e}", plain_norms[0], resnet_norms[0]);
assert!(resnet_norms[0] > 100.0 * plain_norms[0], "resnet's first layer gets {} vs plain {}", resnet_norms[0], plain_norms[0]);
assert!(plain_spread < 1e-2 && resnet_spread > 0.1, "untrained logit spread: plain {plain_spread}, resnet {resnet_spread}");
assert!(resnet_acc > 0.55, "resnet test accuracy {resnet_acc} should be above 0.55");
assert!(resnet_acc > plain_acc + 0.15, "resnet {resnet_acc} should beat plain {plain_acc} by 0.15");
println!("All checks passed.");
"""),
        ("md", r"""
## Next steps

* Set `BLOCKS` to 2: the two networks then train about equally well. Depth is what hurts the
  plain one.
* Add `BatchNormalization::new()` after each `Dense` in the plain network: it helps, but the
  skip connection helps more.
* The same blocks with `Conv2D::new(16, 3).padding("same")` on `train.images()` make a small
  convolutional ResNet (slower on a CPU).
"""),
    ]
