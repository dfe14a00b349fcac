//! The one Keras/TF/NumPy-to-Ferrolab table: the source of the README's cheat sheet (between
//! its `cheatsheet` markers, written by `ferrolab-kernel cheatsheet --write README.md`) and of
//! the "In Ferrolab: ..." hint appended to rustc's "cannot find" errors.
//!
//! Each row says what a TF2 learner types (`tf`), the Ferrolab spelling (`ferrolab`), the
//! identifiers rustc reports as missing when that name is typed in Rust (`names`, empty when a
//! transliteration cannot produce a "cannot find"), and `check`: Rust statements that use the
//! Ferrolab spelling. `tests/test_learner_errors.py` runs every `check` in a real kernel (after
//! [`CHECK_SETUP`]), so a row cannot name something that does not compile.

/// One mapping.
pub struct Mapping {
    pub tf: &'static str,
    pub ferrolab: &'static str,
    pub names: &'static [&'static str],
    pub check: &'static str,
}

/// What every `check` may use: tensors `x` (4x6), `a` (2x3), `b` (3x4), labels `y`, a compiled
/// `model` with 6 inputs, variables `w` and `bias` and a `loss` recorded on `tape`.
pub const CHECK_SETUP: &str = r#"
let x = randn([4, 6]);
let a = randn([2, 3]);
let b = randn([3, 4]);
let y = tensor([0.0f32, 1.0, 2.0, 1.0]);
let mut model = Sequential::new().add(Dense::new(3)).input_shape([6]);
model.compile(Adam::new(1e-3), SparseCategoricalCrossentropy::from_logits(), &["accuracy"]);
let w = Variable::new(randn([6, 3]));
let bias = Variable::new(zeros([3]));
let tape = GradientTape::new();
let loss = (x.matmul(&w) + &*bias).square().mean();
"#;

const fn m(
    tf: &'static str,
    ferrolab: &'static str,
    names: &'static [&'static str],
    check: &'static str,
) -> Mapping {
    Mapping {
        tf,
        ferrolab,
        names,
        check,
    }
}

/// The cheat sheet, in the README's order.
pub const MAPPINGS: &[Mapping] = &[
    m(
        "`tf.constant([[1., 2.], [3., 4.]])`, `np.array(...)`, `tf.convert_to_tensor(...)`",
        "`tensor([[1.0, 2.0], [3.0, 4.0]])`",
        &["constant", "array", "convert_to_tensor"],
        "let _ = tensor([[1.0, 2.0], [3.0, 4.0]]);",
    ),
    m(
        "`tf.zeros((2, 3))`, `tf.random.normal((2, 3))`, `tf.random.uniform((2, 3))`",
        "`zeros([2, 3])`, `randn([2, 3])`, `rand([2, 3])`, `normal([2, 3], 0.0, 1.0, None)`",
        &["random", "random_normal", "random_uniform"],
        "let _ = (zeros([2, 3]), randn([2, 3]), rand([2, 3]), normal([2, 3], 0.0, 1.0, None));",
    ),
    m(
        "`tf.random.set_seed(42)`",
        "`set_seed(42)`",
        &[],
        "set_seed(42);",
    ),
    m(
        "`x[:, 1:3]`, `x[::2]`",
        "`x.slice(s![.., 1..3])`, `x.slice(s![..;2])`",
        &[],
        "let _ = (x.slice(s![.., 1..3]), x.slice(s![..;2]));",
    ),
    m(
        "`tf.reshape(x, (-1, 3))`",
        "`x.reshape([-1, 3])`",
        &["reshape"],
        "let _ = x.reshape([-1, 3]);",
    ),
    m(
        "`tf.reduce_mean(x, axis=1, keepdims=True)`, `np.mean(x)`",
        "`reduce_mean_axis(&x, 1, true)`, `reduce_mean(&x)`, or `x.mean_axis(1, true)`, `x.mean()`",
        &["mean"],
        "let _ = (reduce_mean_axis(&x, 1, true), reduce_mean(&x), x.mean_axis(1, true), x.mean());",
    ),
    m(
        "`tf.reduce_sum(x)`, `tf.reduce_sum(x, axis=1)`, `np.sum(x)`",
        "`reduce_sum(&x)`, `reduce_sum_axis(&x, 1, false)`, or `x.sum()`, `x.sum_axis(1, false)`",
        &["sum"],
        "let _ = (reduce_sum(&x), reduce_sum_axis(&x, 1, false), x.sum(), x.sum_axis(1, false));",
    ),
    m(
        "`tf.reduce_max(x)`, `tf.reduce_min(x, axis=0)`",
        "`reduce_max(&x)`, `reduce_min_axis(&x, 0, false)`, or `x.max()`, `x.min_axis(0, false)`",
        &[],
        "let _ = (reduce_max(&x), reduce_min_axis(&x, 0, false), x.max(), x.max_axis(1, false), \
         x.min(), x.min_axis(0, false));",
    ),
    m(
        "`tf.math.reduce_std(x)`, `tf.math.reduce_variance(x, axis=0)`",
        "`reduce_std(&x)`, `reduce_variance_axis(&x, 0, false)`, or `x.std()`, `x.var_axis(0, false)`",
        &[],
        "let _ = (x.std(), x.var(), x.std_axis(0, false), x.var_axis(0, false));",
    ),
    m(
        "`tf.reduce_logsumexp(x, axis=1)`",
        "`reduce_logsumexp_axis(&x, 1, false)`, or `x.logsumexp(1, false)`",
        &[],
        "let _ = (reduce_logsumexp_axis(&x, 1, false), x.logsumexp(1, false));",
    ),
    m(
        "`tf.argmax(x, axis=1)`, `np.argmin(x, 0)`",
        "`x.argmax(1)`, `x.argmin(0)`",
        &["argmax", "argmin"],
        "let _ = (x.argmax(1), x.argmin(0));",
    ),
    m(
        "`tf.matmul(a, b)`, `a @ b`, `np.dot(a, b)`",
        "`a.matmul(&b)`",
        &["matmul", "dot"],
        "let _ = a.matmul(&b);",
    ),
    m(
        "`tf.nn.relu(x)`, `tf.sigmoid(x)`, `tf.tanh(x)`, `tf.exp(x)`, `tf.math.log(x)`",
        "`x.relu()`, `x.sigmoid()`, `x.tanh()`, `x.exp()`, `x.log()`",
        &["relu", "sigmoid", "tanh", "exp", "log"],
        "let _ = (x.relu(), x.sigmoid(), x.tanh(), x.exp(), x.abs().log());",
    ),
    m(
        "`tf.sqrt(x)`, `tf.square(x)`, `tf.abs(x)`, `x ** 2`",
        "`x.sqrt()`, `x.square()`, `x.abs()`, `x.powf(2.0)`",
        &["sqrt", "square", "abs"],
        "let _ = (x.abs().sqrt(), x.square(), x.abs(), x.powf(2.0));",
    ),
    m(
        "`tf.nn.softmax(x, axis=-1)`, `tf.nn.log_softmax(x)`",
        "`x.softmax(-1)`, `x.log_softmax(-1)`",
        &["softmax", "log_softmax"],
        "let _ = (x.softmax(-1), x.log_softmax(-1));",
    ),
    m(
        "`tf.maximum(a, b)`, `tf.minimum(a, 0.0)`",
        "`a.maximum(&b)`, `a.minimum(0.0)`",
        &["maximum", "minimum"],
        "let _ = (a.maximum(&a), a.minimum(0.0));",
    ),
    m(
        "`tf.expand_dims(x, 0)`, `tf.squeeze(x, [0])`",
        "`x.expand_dims(0)`, `x.squeeze(&[0])`",
        &["expand_dims", "squeeze"],
        "let _ = x.expand_dims(0).squeeze(&[0]);",
    ),
    m(
        "`tf.transpose(x)`, `tf.transpose(x, perm=[1, 0])`",
        "`x.t()`, `x.permute(&[1, 0])`",
        &["transpose"],
        "let _ = (x.t(), x.permute(&[1, 0]));",
    ),
    m(
        "`x.shape`, `tf.rank(x)`, `tf.size(x)`, `len(x)`",
        "`x.dims()` (a `&[usize]`), `x.rank()`, `x.elem_count()`, `x.dims()[0]`",
        &["rank", "size", "len"],
        "let _ = (x.dims().to_vec(), x.rank(), x.elem_count(), x.dims()[0]);",
    ),
    m(
        "`tf.zeros_like(x)`, `tf.ones_like(x)`",
        "`x.zeros_like()`, `x.ones_like()`",
        &["zeros_like", "ones_like"],
        "let _ = (x.zeros_like(), x.ones_like());",
    ),
    m(
        "`tf.where(c, x, y)`",
        "`where_(&c, &x, &y)`",
        &[],
        "let _ = where_(&x.greater(0.0), &x, &x.zeros_like());",
    ),
    m(
        "`tf.keras.utils.to_categorical(y, 3)`, `tf.one_hot(y, 3)`",
        "`one_hot(&y, 3)`",
        &["to_categorical"],
        "let labels = y.cast(DType::I64); let _ = one_hot(&labels, 3);",
    ),
    m(
        "`tf.cast(x, tf.float16)`",
        "`x.cast(DType::F16)`",
        &["cast"],
        "let _ = x.cast(DType::F16);",
    ),
    m(
        "`x.numpy()`",
        "`x.to_vec::<f32>()`, `x.item()`",
        &["numpy"],
        "let _ = (x.to_vec::<f32>(), x.sum().item());",
    ),
    m(
        "`print(x)`",
        "`println!(\"{x}\")`",
        &["print"],
        "println!(\"{x}\");",
    ),
    m(
        "`for i in range(10):`",
        "`for i in 0..10 {`",
        &["range"],
        "let total: i32 = (0..10).sum(); assert_eq!(total, 45);",
    ),
    m(
        "`tf.Variable(x)`, `v.assign_sub(d)`",
        "`Variable::new(x)`, `v.assign_sub(&d)`",
        &[],
        "let v = Variable::new(x.clone()); v.assign_sub(&x);",
    ),
    m(
        "`with tf.GradientTape() as tape:`",
        "`let tape = GradientTape::new();`",
        &[],
        "let _tape = GradientTape::new();",
    ),
    m(
        "`tape.gradient(loss, [w, b])`",
        "`tape.gradient(&loss, [&w, &b])`; a list: `tape.gradient(&loss, &model.trainable_weights())`",
        &[],
        "let _ = tape.gradient(&loss, [&w, &bias]); \
         let t = GradientTape::new(); let l = (x.matmul(&w) + &*bias).square().mean(); \
         let _ = t.gradient(&l, &vec![w.clone(), bias.clone()]);",
    ),
    m(
        "`optimizer.apply_gradients(zip(grads, vars))`",
        "`optimizer.apply_gradients(&grads, &vars)` (`vars` a `Vec<Variable>` or `[&w, &b]`)",
        &[],
        "let grads = [Some(w.read_value().zeros_like()), Some(bias.read_value().zeros_like())]; \
         let mut optimizer = SGD::new(0.1); optimizer.apply_gradients(&grads, &[&w, &bias]); \
         let vars = vec![w.clone(), bias.clone()]; optimizer.apply_gradients(&grads, &vars);",
    ),
    m(
        "`layers.Dense(64, activation=\"relu\")`",
        "`Dense::new(64).activation(\"relu\")`",
        &[],
        "let _ = Dense::new(64).activation(\"relu\");",
    ),
    m(
        "`layers.Conv2D(32, 3, padding=\"same\")`",
        "`Conv2D::new(32, 3).padding(\"same\")`",
        &[],
        "let _ = Conv2D::new(32, 3).padding(\"same\");",
    ),
    m(
        "`keras.Sequential([...])`",
        "`Sequential::new().add(...).add(...)`",
        &[],
        "let _ = Sequential::new().add(Dense::new(8)).add(Dense::new(1));",
    ),
    m(
        "`inputs = keras.Input((64,)); x = Dense(8)(inputs)`",
        "`let inputs = Input::new([64]); let x = Dense::new(8).apply(&inputs);`",
        &[],
        "let inputs = Input::new([64]); let h = Dense::new(8).apply(&inputs); let _ = (inputs, h);",
    ),
    m(
        "`keras.Model(inputs, outputs)`",
        "`Model::new(&[&inputs], &[&outputs])`",
        &[],
        "let inputs = Input::new([6]); let outputs = Dense::new(2).apply(&inputs); \
         let _ = Model::new(&[&inputs], &[&outputs]);",
    ),
    m(
        "`model.compile(optimizer=\"adam\", loss=..., metrics=[\"accuracy\"])`",
        "`model.compile(Adam::new(1e-3), loss, &[\"accuracy\"])`",
        &[],
        "model.compile(Adam::new(1e-3), SparseCategoricalCrossentropy::from_logits(), &[\"accuracy\"]);",
    ),
    m(
        "`model.fit(x, y, epochs=5, batch_size=32, validation_split=0.1)`",
        "`model.fit(&x, &y).epochs(5).batch_size(32).validation_split(0.1).run()`",
        &[],
        "let _ = model.fit(&x, &y).epochs(1).batch_size(2).validation_split(0.5).verbose(0).run();",
    ),
    m(
        "`callbacks=[EarlyStopping(patience=3)]`",
        "`.callback(EarlyStopping::new(\"val_loss\").patience(3))`",
        &[],
        "let _ = model.fit(&x, &y).epochs(1).verbose(0).validation_split(0.5) \
         .callback(EarlyStopping::new(\"val_loss\").patience(3)).run();",
    ),
    m(
        "`ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1)`",
        "`.callback(ReduceLROnPlateau::new(\"val_loss\").factor(0.5).patience(2).cooldown(1))`",
        &[],
        "let _ = ReduceLROnPlateau::new(\"val_loss\").factor(0.5).patience(2).cooldown(1);",
    ),
    m(
        "`layer.get_config()` (a dict)",
        "`layer.get_config()` (a `ferrolab::serde_json::Value`: `cfg[\"units\"]`)",
        &[],
        "let cfg = Dense::new(4).get_config(); assert_eq!(cfg[\"units\"], 4);",
    ),
    m(
        "`model.evaluate(x, y)`, `model.predict(x)`",
        "`model.evaluate(&x, &y)`, `model.predict(&x)`",
        &[],
        "let _ = (model.evaluate(&x, &y), model.predict(&x));",
    ),
    m(
        "`def train_step(self, data):` in a subclassed model",
        "`fn train_step(&mut self, batch: &Batch) -> Logs` in `impl KerasModel` (also `test_step`, \
         `predict_step`; helpers `compute_loss`, `compute_metrics`)",
        &[],
        "fn _hooks<M: KerasModel>(m: &mut M, batch: &Batch) -> Logs { \
         let y_pred = m.forward(&batch.x, true); let _ = m.compute_loss(batch, &y_pred); \
         let _ = m.test_step(batch); m.compute_metrics(batch, &y_pred); m.train_step(batch) }",
    ),
    m(
        "a custom optimizer's `update_step(gradient, variable, learning_rate)`",
        "`fn update_step(&mut self, grad: &Tensor, var: &Variable, lr: f32)` in `impl Optimizer`; \
         `.fused(false)` runs the built-ins as tensor ops",
        &[],
        "use ferrolab::keras::optimizers::OptimizerCore; struct SignSGD(OptimizerCore); \
         impl Optimizer for SignSGD { fn name(&self) -> &str { \"SignSGD\" } \
         fn core(&self) -> &OptimizerCore { &self.0 } \
         fn core_mut(&mut self) -> &mut OptimizerCore { &mut self.0 } \
         fn update_step(&mut self, grad: &Tensor, var: &Variable, lr: f32) { \
         var.assign_sub(grad.sign() * lr as f64); } } \
         let mut opt = SignSGD(OptimizerCore::new(0.5)); \
         opt.apply_gradients(&[Some(tensor([3.0, -0.1]))], &[&Variable::new(tensor([1.0, -1.0]))]); \
         let _ = Adam::new(1e-3).fused(false);",
    ),
    m(
        "`with tf.device(\"/CPU:0\"):`",
        "`with_device(Device::Cpu, || ...)` (this thread, until the closure returns)",
        &[],
        "let _ = with_device(Device::Cpu, || x.sum());",
    ),
    m(
        "`tf.config.set_logical_device_configuration(cpu, [LogicalDeviceConfiguration()] * 2)`",
        "`config::set_logical_device_configuration(Device::Cpu, 2)`; `config::list_logical_devices()` \
         (each logical CPU gets cores/n intra-op threads)",
        &["set_logical_device_configuration", "list_logical_devices"],
        "config::set_logical_device_configuration(Device::Cpu, 2).unwrap(); \
         let _ = config::list_logical_devices(); \
         config::set_logical_device_configuration(Device::Cpu, 1).unwrap();",
    ),
    m(
        "`strategy = tf.distribute.MirroredStrategy()`; `with strategy.scope(): model = ...`",
        "`let strategy = MirroredStrategy::new(); let model = strategy.scope(|| { build; compile; model })`; \
         custom loops: `strategy.experimental_distribute_dataset(&ds)`, `strategy.run(|(x, y)| .., &batch)`, \
         `strategy.reduce(ReduceOp::Sum, &per_replica)`, `distribute::compute_average_loss(&l, global_batch)`",
        &[],
        "let strategy = MirroredStrategy::new(); \
         let _m = strategy.scope(|| { let mut m = Sequential::new().add(Dense::new(2)).input_shape([6]); \
         m.compile(SGD::new(0.1), \"mse\", &[]); m }); \
         let _ = strategy.num_replicas_in_sync();",
    ),
    m(
        "`print(tape)` (what a tape recorded)",
        "`println!(\"{tape}\")`: `matmul (2,3)x(3,4) f32 -> add (2,4)+(4,) -> relu`",
        &[],
        "println!(\"{tape}\");",
    ),
    m(
        "`model.summary()`",
        "`model.summary()` (a table in the notebook)",
        &[],
        "let _ = model.summary();",
    ),
    m(
        "`mixed_precision.set_global_policy(\"mixed_float16\")`",
        "`mixed_precision::set_global_policy(\"mixed_float16\")`; one layer: \
         `Activation::new(\"softmax\").dtype(\"float32\")`. Variables stay f32; softmax, log-softmax, \
         losses, reductions, BatchNormalization/LayerNormalization statistics and optimizer updates \
         stay in f32 (list in `keras::mixed_precision`'s docs)",
        &["set_global_policy"],
        "mixed_precision::set_global_policy(\"mixed_float16\"); \
         let _ = Activation::new(\"softmax\").dtype(\"float32\"); \
         mixed_precision::set_global_policy(\"float32\");",
    ),
    m(
        "`Dense(10, name=\"logits\", dtype=\"float32\")`, `layer.dtype_policy`",
        "`Dense::new(10).named(\"logits\").dtype(\"float32\")` (any layer, either order); \
         `layer.dtype_policy()`, `layer.compute_dtype()`; `get_config()[\"dtype\"]` is the policy",
        &[],
        "let d = Dense::new(10).named(\"logits\").dtype(\"float32\"); \
         assert_eq!(d.dtype_policy().name(), \"float32\"); \
         assert_eq!(d.get_config()[\"dtype\"][\"config\"][\"name\"], \"float32\");",
    ),
    m(
        "`mixed_precision.LossScaleOptimizer(opt)`",
        "`LossScaleOptimizer::new(opt)` (`compile` adds it under `mixed_float16`; bf16 needs none); \
         custom loops: `get_scaled_loss`, `get_unscaled_gradients`",
        &[],
        "let mut opt = LossScaleOptimizer::new(SGD::new(0.1)); \
         let t = GradientTape::new(); let l = (x.matmul(&w) + &*bias).square().mean(); \
         let grads = t.gradient(&opt.get_scaled_loss(&l), [&w, &bias]); \
         let grads = opt.get_unscaled_gradients(&grads); opt.apply_gradients(&grads, &[&w, &bias]);",
    ),
    m(
        "`@tf.function`, `tf.function(f, jit_compile=True)`",
        "`let f = function(|x: &Tensor| ...).jit_compile(true); f.call(&x)` (traces once per \
         shape and dtype, then replays; `f.concrete_functions()` lists the traces)",
        &[],
        "let f = function(|t: &Tensor| (t * 2.0).relu()).jit_compile(true); \
         let _ = f.call(&x); let _ = f.concrete_functions();",
    ),
    m(
        "`model.compile(optimizer, loss, jit_compile=True)`",
        "`model.compile(opt, loss, &[..]).jit_compile(true)` (`fit` replays a traced, fused \
         train step; `model.training_state().jit_trace_count()` counts the traces)",
        &[],
        "model.compile(Adam::new(1e-3), SparseCategoricalCrossentropy::from_logits(), &[\"accuracy\"]) \
         .jit_compile(true);",
    ),
    m(
        "`keras_hub.layers.TransformerEncoder(intermediate_dim=512, num_heads=4)`",
        "`TransformerEncoder::new(512, 4)` (also `TransformerDecoder`, `PositionEmbedding`, \
         `SinePositionEncoding`; masks from `Embedding::new(..).mask_zero(true)`)",
        &[],
        "let _ = (TransformerEncoder::new(512, 4), TransformerDecoder::new(512, 4));",
    ),
    m(
        "`layers.TextVectorization(max_tokens=2000, output_sequence_length=8)`, `tv.adapt(texts)`, \
         `tv(texts)`",
        "`TextVectorization::new().max_tokens(2000).output_sequence_length(8)`, `tv.adapt(texts)`, \
         `tv.call(texts)` (also `.split(\"character\")`, `.standardize(\"none\")`, \
         `get_vocabulary()`)",
        &[],
        "let mut tv = TextVectorization::new().max_tokens(2000).output_sequence_length(8); \
         tv.adapt([\"the cat\", \"the dog\"]); let _ = (tv.call([\"the bird\"]), tv.get_vocabulary());",
    ),
    m(
        "`mha(q, v, return_attention_scores=True)`",
        "`mha.call_full(&q, &v, None, None)` returns `(output, scores)`",
        &[],
        "let mha = MultiHeadAttention::new(2, 4); let q = randn([1, 3, 8]); \
         let (_out, _scores) = mha.call_full(&q, &q, None, None);",
    ),
    m(
        "`keras_hub.samplers.TopKSampler(k=5, temperature=0.8)`, `causal_lm.generate(prompt)`",
        "`lm.generate(&prompt, n, Sampler::TopK { k: 5, temperature: 0.8, seed: 1 }, true)` \
         (`Sampler::Greedy`; the last argument turns the key/value cache on)",
        &["TopKSampler", "GreedySampler"],
        "let lm = TransformerLM::new(10, 8, 8, 1, 2, 16); let p = from_vec(vec![1i64, 2], [1, 2]).unwrap(); \
         let _ = lm.generate(&p, 3, Sampler::TopK { k: 5, temperature: 0.8, seed: 1 }, true);",
    ),
    m(
        "`tf.keras.utils.get_file(\"shakespeare.txt\", url)` (TF's text-generation tutorial)",
        "`datasets::shakespeare_sonnets()` (shipped offline; `datasets::text_corpus(0.9)` splits it)",
        &["get_file"],
        "let text = datasets::shakespeare_sonnets(); let (_train, _val) = datasets::text_corpus(0.9); \
         let _ = text.len();",
    ),
    m(
        "`model.save_weights(\"w.weights.h5\")`",
        "`model.save_weights(\"w.safetensors\")`",
        &[],
        "let path = std::env::temp_dir().join(\"ferrolab-cheatsheet.safetensors\"); \
         model.save_weights(path.to_str().unwrap()).unwrap(); let _ = std::fs::remove_file(&path);",
    ),
    m(
        "`tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1024).batch(64).prefetch(AUTOTUNE)`",
        "`Dataset::from_tensor_slices((&x, &y)).shuffle(1024, seed).batch(64).prefetch(AUTOTUNE)`",
        &[],
        "let _ = Dataset::from_tensor_slices((&x, &y)).shuffle(1024, 7).batch(64).prefetch(AUTOTUNE);",
    ),
];
