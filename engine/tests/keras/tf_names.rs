//! The spellings a TF2 learner types for a custom training loop: `tape.gradient(&loss, &vars)`
//! with a `Vec<Variable>`, `opt.apply_gradients(&grads, &vars)`, `Variable::new(x).named("w")`,
//! `watched_variables()` with names, `UnconnectedGradients::Zero`, `Reshape::new([8, 8])` and the
//! version string. Every check compares numbers against the hand-derived math.

use super::common::keras::seeded;
use super::common::{assert_close, check_grad, panic_message, rnd};
use ferrolab::prelude::*;

/// loss = sum(w0^2) + 3 w1  =>  dloss/dw0 = 2 w0, dloss/dw1 = 3
fn two_vars() -> (Vec<Variable>, f32) {
    let vars = vec![
        Variable::new(tensor([1.0, -2.0])).named("w0"),
        Variable::new(tensor(4.0)).named("w1"),
    ];
    (vars, 3.0)
}

fn loss_of(vars: &[Variable], c: f32) -> Tensor {
    vars[0].square().sum() + &*vars[1] * c as f64
}

#[test]
fn gradient_takes_a_vec_a_slice_an_array_or_one_source() {
    let (vars, c) = two_vars();
    let want = [vec![2.0, -4.0], vec![3.0]];
    // &Vec<Variable> -> Vec<Option<Tensor>>
    let tape = GradientTape::persistent();
    let loss = loss_of(&vars, c);
    let g: Vec<Option<Tensor>> = tape.gradient(&loss, &vars);
    assert_eq!(g.len(), 2);
    for (g, w) in g.iter().zip(&want) {
        assert_eq!(&g.as_ref().unwrap().to_vec::<f32>(), w);
    }
    // a slice, a Vec<&Variable>, an owned Vec and an array of references
    let g = tape.gradient(&loss, &vars[..]);
    assert_eq!(g[1].as_ref().unwrap().item(), 3.0);
    let refs: Vec<&Variable> = vars.iter().collect();
    let g = tape.gradient(&loss, &refs);
    assert_eq!(g[0].as_ref().unwrap().to_vec::<f32>(), want[0]);
    let g = tape.gradient(&loss, vars.clone());
    assert_eq!(g[0].as_ref().unwrap().to_vec::<f32>(), want[0]);
    let [g0, g1] = tape.gradient(&loss, [&vars[0], &vars[1]]);
    assert_eq!(g0.unwrap().to_vec::<f32>(), want[0]);
    assert_eq!(g1.unwrap().item(), 3.0);
    let [g0, _] = tape.gradient(&loss, &[&vars[0], &vars[1]]);
    assert_eq!(g0.unwrap().to_vec::<f32>(), want[0]);
    // one source gives one gradient (`tape.gradient(y, x)`)
    assert_eq!(tape.gradient(&loss, &vars[1]).unwrap().item(), 3.0);
    let x = tensor(3.0);
    let t2 = GradientTape::new();
    t2.watch(&x);
    let y = &x * &x; // y = x^2  =>  dy/dx = 2x = 6
    assert_eq!(t2.gradient(&y, &x).unwrap().item(), 6.0);
}

#[test]
fn apply_gradients_takes_what_tape_gradient_returned() {
    let (vars, c) = two_vars();
    let tape = GradientTape::new();
    let grads = tape.gradient(&loss_of(&vars, c), &vars);
    let mut opt = SGD::new(0.25);
    opt.apply_gradients(&grads, &vars);
    // w0 - 0.25 * 2 w0 = w0 / 2;  w1 - 0.25 * 3 = 3.25
    assert_eq!(vars[0].to_vec::<f32>(), vec![0.5, -1.0]);
    assert_eq!(vars[1].item(), 3.25);
    // the older forms still work: array gradients and an array of &Variable
    let w = Variable::new(tensor([1.0, 1.0]));
    opt.apply_gradients(&[Some(tensor([4.0, -4.0]))], &[&w]);
    assert_eq!(w.to_vec::<f32>(), vec![0.0, 2.0]);
    // and a Vec<&Variable>, with the gradients of an array-form tape call
    let tape = GradientTape::new();
    let loss = w.square().sum(); // d/dw = 2w = [0, 4]
    let grads = tape.gradient(&loss, [&w]);
    opt.apply_gradients(&grads, &vec![&w]);
    assert_eq!(w.to_vec::<f32>(), vec![0.0, 1.0]);
    assert_eq!(opt.iterations(), 3);
    let msg = panic_message(|| SGD::new(0.1).apply_gradients(&[None, None], &vars[..1]));
    assert!(msg.contains("2 gradients for 1 variables"), "{msg}");
}

#[test]
fn custom_loop_on_trainable_weights_reduces_the_loss() {
    let _g = seeded(3);
    // y = 2 x0 - x1 + 0.5, fitted by a Dense(1) with the TF2 custom-loop spelling
    let x = tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [1.0, 3.0], [0.5, -1.0]]);
    let y = tensor([[-0.5], [2.5], [3.5], [-0.5], [2.5]]);
    let model = Sequential::new().add(Dense::new(1));
    let mut opt = Adam::new(0.1);
    let mse = MeanSquaredError;
    let mut losses = Vec::new();
    for _ in 0..150 {
        let tape = GradientTape::new();
        let pred = model.call(&x, true);
        let loss = mse.call(&y, &pred);
        let vars = model.trainable_weights();
        let grads = tape.gradient(&loss, &vars);
        opt.apply_gradients(&grads, &vars);
        losses.push(loss.item());
    }
    assert_eq!(model.trainable_variables().len(), 2);
    assert!(losses[0] > 1.0, "first loss {}", losses[0]);
    assert!(*losses.last().unwrap() < 1e-2, "last loss {losses:?}");
    let w = model.trainable_weights()[0].to_vec::<f32>();
    assert_close(&w, &[2.0, -1.0], 0.1);
}

#[test]
fn unconnected_gradients_zero_gives_zeros_of_the_sources_shape() {
    let a = Variable::new(tensor([1.0, 2.0]));
    let b = Variable::new(tensor([[1.0, 2.0], [3.0, 4.0]]));
    let tape = GradientTape::persistent();
    let y = a.square().sum(); // does not depend on b
    let [ga, gb] = tape.gradient(&y, [&a, &b]);
    assert_eq!(ga.unwrap().to_vec::<f32>(), vec![2.0, 4.0]);
    assert!(gb.is_none());
    let [ga, gb] = tape.gradient_with(&y, [&a, &b], UnconnectedGradients::Zero);
    assert_eq!(ga.unwrap().to_vec::<f32>(), vec![2.0, 4.0]);
    let gb = gb.unwrap();
    assert_eq!(gb.dims(), &[2, 2]);
    assert_eq!(gb.to_vec::<f32>(), vec![0.0; 4]);
}

#[test]
fn named_variables_and_watched_variables_keep_their_names() {
    let w = Variable::new(tensor([[1.0, 2.0]])).named("w");
    let b = Variable::new(tensor(0.5)).named("b").with_trainable(false);
    assert_eq!(w.name(), "w");
    assert_eq!(w.to_vec::<f32>(), vec![1.0, 2.0]);
    assert!(w.trainable() && !b.trainable());
    assert!(format!("{w:?}").starts_with("<tf.Variable 'w' shape=(1, 2)"));
    let tape = GradientTape::new();
    tape.watch(&b); // non-trainable: only an explicit watch tracks it
    let y = (w.sum() * &*b).sum(); // y = b (w0 + w1)  =>  dy/db = 3
    let names: Vec<String> = tape
        .watched_variables()
        .iter()
        .map(|v| v.name().to_string())
        .collect();
    assert_eq!(names, vec!["b", "w"]);
    let [gb] = tape.gradient(&y, [&b]);
    assert_eq!(gb.unwrap().item(), 3.0);
}

#[test]
fn reshape_takes_usize_and_i64_dims() {
    let x = arange(0.0, 128.0, 1.0).reshape([2, 64]);
    let r = Reshape::new([8usize, 8]).call(&x, false);
    assert_eq!(r.dims(), &[2, 8, 8]);
    assert_eq!(r.to_vec::<f32>(), x.to_vec::<f32>());
    assert_eq!(Reshape::new([8, 8]).call(&x, false).dims(), &[2, 8, 8]);
    assert_eq!(Reshape::new([-1i64, 4]).call(&x, false).dims(), &[2, 16, 4]);
    assert_eq!(
        Reshape::new(vec![4usize, 16]).call(&x, false).dims(),
        &[2, 4, 16]
    );
    // symbolic: Input(64) -> Reshape((8, 8))
    let inp = Input::new([64]);
    let out = Reshape::new([8, 8]).apply(&inp);
    assert_eq!(out.shape(), vec![None, Some(8), Some(8)]);
}

#[test]
fn version_is_the_crate_version() {
    assert_eq!(VERSION, env!("CARGO_PKG_VERSION"));
    assert_eq!(version(), VERSION);
    assert_eq!(VERSION.split('.').count(), 3);
}

#[test]
fn stateful_metrics_update_result_reset() {
    let mut loss = metrics::Mean::new("train_loss");
    loss.update_state(tensor(1.0));
    loss.update_state(tensor([2.0, 6.0]));
    assert_eq!(loss.result(), 3.0); // (1 + 2 + 6) / 3
    loss.reset_state();
    assert_eq!(loss.result(), 0.0);
    loss.update_state_weighted(tensor([1.0, 4.0]), &tensor([3.0, 1.0]));
    assert_eq!(loss.result(), 1.75); // (3 + 4) / 4
    let mut sum = metrics::Sum::new("n");
    sum.update_state(tensor([1.5, 2.5]));
    assert_eq!(sum.result(), 4.0);
    // labels 2, 0, 1 against rows whose argmax is 2, 1, 1: two of three right
    let mut acc = metrics::SparseCategoricalAccuracy::new("train_accuracy");
    let probs = tensor([[0.1, 0.2, 0.7], [0.2, 0.5, 0.3], [0.0, 0.9, 0.1]]);
    acc.update_state(tensor([2.0, 0.0, 1.0]), &probs);
    assert_close(&[acc.result()], &[2.0 / 3.0], 1e-6);
    acc.update_state(tensor([0.0]), tensor([[5.0, -1.0, 0.0]])); // logits work the same
    assert_eq!(acc.result(), 0.75);
    assert_eq!(acc.name(), "train_accuracy");
    acc.reset_states();
    assert_eq!(acc.result(), 0.0);
    let mut cat = metrics::CategoricalAccuracy::new("acc");
    cat.update_state(
        tensor([[0.0, 1.0], [1.0, 0.0]]),
        tensor([[0.3, 0.7], [0.4, 0.6]]),
    );
    assert_eq!(cat.result(), 0.5);
    let mut bin = metrics::BinaryAccuracy::new("bin");
    bin.update_state(tensor([1.0, 0.0, 1.0, 0.0]), tensor([0.9, 0.6, 0.4, 0.1]));
    assert_eq!(bin.result(), 0.5);
    let mut mse = metrics::MeanSquaredError::new("mse");
    mse.update_state(tensor([1.0, 2.0]), tensor([2.0, 4.0]));
    assert_eq!(mse.result(), 2.5); // (1 + 4) / 2
    let mut mae = metrics::MeanAbsoluteError::new("mae");
    mae.update_state(tensor([1.0, 2.0]), tensor([2.0, 4.0]));
    assert_eq!(mae.result(), 1.5);
}

test_device!(softmax_layer_rows_sum_to_one_and_match_the_formula, |dev| {
    let x = tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]).to(dev);
    let y = Softmax::new().call(&x, false).to_vec::<f32>();
    // softmax([1,2,3]) = e^k / (e + e^2 + e^3) = [0.09003057, 0.24472847, 0.66524096]
    assert_close(&y[..3], &[0.090_030_57, 0.244_728_47, 0.665_240_96], 1e-6);
    assert_close(&y[3..], &[1.0 / 3.0; 3], 1e-6);
    let cols = Softmax::new().axis(0).call(&x, false).to_vec::<f32>();
    // column 0: softmax([1, 0]) = [e/(e+1), 1/(e+1)] = [0.7310586, 0.2689414]
    assert_close(&[cols[0], cols[3]], &[0.731_058_6, 0.268_941_4], 1e-6);
});

test_device!(upsampling2d_repeats_rows_and_columns, |dev| {
    // x: (1, 2, 2, 1) = [[1, 2], [3, 4]]  ->  size (2, 3): each pixel a 2x3 block
    let x = tensor([1.0, 2.0, 3.0, 4.0]).reshape([1, 2, 2, 1]).to(dev);
    let y = UpSampling2D::new((2, 3)).call(&x, false);
    assert_eq!(y.dims(), &[1, 4, 6, 1]);
    #[rustfmt::skip]
    let want = [
        1.0, 1.0, 1.0, 2.0, 2.0, 2.0,
        1.0, 1.0, 1.0, 2.0, 2.0, 2.0,
        3.0, 3.0, 3.0, 4.0, 4.0, 4.0,
        3.0, 3.0, 3.0, 4.0, 4.0, 4.0,
    ];
    assert_eq!(y.to_vec::<f32>(), want);
    // y = up(x)  =>  d sum(w * y)/dx = the sum of w over each pixel's block
    check_grad(
        |x| UpSampling2D::new((2, 2)).call(x, true) * &rnd(&[1, 4, 4, 2], 5).to(dev),
        &rnd(&[1, 2, 2, 2], 4).to(dev),
        1e-2,
    );
});

#[test]
fn new_layers_infer_symbolic_shapes_in_functional_and_sequential_models() {
    let _g = seeded(11);
    let inp = Input::new([4, 4, 3]);
    let up = UpSampling2D::new((2, 2)).apply(&inp);
    assert_eq!(up.shape(), vec![None, Some(8), Some(8), Some(3)]);
    let flat = Flatten::new().apply(&up);
    let out = Softmax::new().apply(&Dense::new(5).apply(&flat));
    assert_eq!(out.shape(), vec![None, Some(5)]);
    let model = Model::new(&[&inp], &[&out]);
    let p = model.predict(&ones([2, 4, 4, 3]));
    assert_eq!(p.dims(), &[2, 5]);
    assert_close(&p.sum_axis(1, false).to_vec::<f32>(), &[1.0, 1.0], 1e-5);
    let seq = Sequential::new()
        .add(Reshape::new([2, 2, 1]))
        .add(UpSampling2D::new((3, 1)))
        .add(Flatten::new())
        .add(Softmax::new());
    let y = seq.call(&tensor([[1.0, 2.0, 3.0, 4.0]]), false);
    assert_eq!(y.dims(), &[1, 12]);
    assert_close(&[y.sum().item()], &[1.0], 1e-5);
}

#[test]
fn conv2d_transpose_layer_upsamples_and_trains_in_a_functional_decoder() {
    let _g = seeded(5);
    let inp = Input::new([4, 4, 3]);
    let up = Conv2DTranspose::new(2, 3)
        .strides(2)
        .padding("same")
        .activation("relu")
        .apply(&inp);
    assert_eq!(up.shape(), vec![None, Some(8), Some(8), Some(2)]);
    let valid = Conv2DTranspose::new(5, (3, 2)).apply(&inp);
    assert_eq!(valid.shape(), vec![None, Some(6), Some(5), Some(5)]);
    // the layer is conv2d_transpose(x, kernel) + bias, kernel (KH, KW, filters, in)
    let layer = Conv2DTranspose::new(2, 3).strides(2);
    let x = rnd(&[2, 3, 3, 3], 8);
    let y = layer.call(&x, false);
    assert_eq!(y.dims(), &[2, 7, 7, 2]);
    let w = layer.weights();
    assert_eq!(w[0].dims(), &[3, 3, 2, 3]);
    let want = x.conv2d_transpose(&w[0], (2, 2), "valid") + &*w[1];
    assert_close(&y.to_vec::<f32>(), &want.to_vec::<f32>(), 1e-6);
    // gradient with respect to the kernel, by finite differences
    super::common::keras::check_var_grad(
        || layer.call(&x, true) * &rnd(&[2, 7, 7, 2], 9),
        &w[0],
        1e-2,
    );
    // a decoder learns to upsample: fit reduces the loss
    let mut model = Sequential::new()
        .add(Conv2DTranspose::new(1, 2).strides(2))
        .input_shape([2, 2, 1]);
    let xs = rnd(&[16, 2, 2, 1], 10);
    let ys = UpSampling2D::new((2, 2)).call(&xs, false);
    model.compile(Adam::new(0.05), MeanSquaredError, &[]);
    let h = model
        .fit(&xs, &ys)
        .epochs(30)
        .batch_size(16)
        .verbose(0)
        .run();
    let l = h.get("loss").unwrap();
    assert!(l[l.len() - 1] < l[0] / 10.0, "losses {l:?}");
}

#[test]
fn new_layers_round_trip_through_save_and_load() {
    let _g = seeded(21);
    let model = Sequential::new()
        .add(Reshape::new([2, 2, 4]))
        .add(
            Conv2DTranspose::new(3, 3)
                .strides(2)
                .padding("same")
                .activation("relu"),
        )
        .add(UpSampling2D::new((2, 1)))
        .add(Flatten::new())
        .add(Dense::new(5))
        .add(Softmax::new())
        .input_shape([16]);
    let x = rnd(&[3, 16], 22);
    let before = model.predict(&x).to_vec::<f32>();
    let dir = std::env::temp_dir().join(format!("ferrolab-tf-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir
        .join("decoder.safetensors")
        .to_string_lossy()
        .into_owned();
    model.save(&path).unwrap();
    let loaded = Sequential::load(&path).unwrap();
    // Reshape (2,2,4) -> Conv2DTranspose same, stride 2 -> (4,4,3) -> UpSampling (8,4,3) = 96
    assert_eq!(loaded.summary().total_params, model.summary().total_params);
    assert_eq!(loaded.predict(&x).to_vec::<f32>(), before);
    std::fs::remove_dir_all(&dir).ok();
}
