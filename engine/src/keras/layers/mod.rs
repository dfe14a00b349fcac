//! Keras layers. Each builds its weights lazily on its first call, from the input's shape.
//!
//! A layer is anything that implements [`Layer`]: `call(&self, x, training)` plus its weights.
//! Weights are [`Variable`]s, so a layer called under a `GradientTape` is differentiated without
//! any registration step.
//!
//! You override `call` (or `call_many`); Sequential, the Functional API and `fit` call
//! [`Layer::invoke`], Keras' `layer(x, training=...)`. It wraps `call` with what every call
//! needs: the name scope ([`current_name_scope`]) and autocast (mixed precision,
//! [`autocast_call`], chosen per layer by [`Layer::autocast`]).
//!
//! Every built-in layer embeds a [`LayerBase`] (name and dtype policy, Keras' base `Layer`
//! arguments) and so gets `name()`, `dtype_policy()`, the `"name"`/`"dtype"` entries of
//! `get_config()` and the [`LayerArgs`] builders `.named(..)` and `.dtype(..)`. A subclassed
//! layer may embed one too (`base: LayerBase::new("my_layer")`, `fn base(&self)`), or just
//! override `name()` and follow the global policy. (`apply` is taken: `LayerApply::apply` calls a layer on symbolic tensors in
//! the Functional API, and `Dense::new(4).apply(&input)` must keep meaning that.)

mod attention;
mod conv;
mod conv_transpose;
mod core;
mod embedding;
pub mod masking;
mod merge;
mod normalization;
mod pooling;
mod position;
mod recurrent;
mod resampling;
mod text_vectorization;
mod transformer;
mod transformer_lm;

pub use self::conv::{Conv1D, Conv2D};
pub use self::core::{Activation, Dense, Dropout, Flatten, Reshape};
pub use attention::{AttentionCache, MultiHeadAttention};
pub use conv_transpose::Conv2DTranspose;
pub use embedding::Embedding;
pub use merge::{Add, Concatenate};
pub use normalization::{BatchNormalization, LayerNormalization};
pub use pooling::{AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D, MaxPooling2D};
pub use position::{PositionEmbedding, SinePositionEncoding};
pub use recurrent::{Recurrent, SimpleRNN, GRU, LSTM};
pub use resampling::{Softmax, UpSampling2D};
pub use text_vectorization::{Split, Standardize, TextVectorization};
pub use transformer::{TransformerDecoder, TransformerEncoder};
pub use transformer_lm::{Sampler, TransformerLM};

pub(crate) use masking::float_mask;

use std::sync::Arc;

use crate::autodiff::Variable;
use crate::dtype::DType;
use crate::keras::mixed_precision::{self, Policy};
use crate::tensor::Tensor;

/// A Keras layer: a function of its inputs and its weights.
pub trait Layer: Send + Sync {
    /// The [`LayerBase`] the layer embeds (its name and dtype policy), if it has one. Every
    /// built-in layer has; a subclassed layer may embed one too, or override `name`.
    fn base(&self) -> Option<&LayerBase> {
        None
    }
    /// The instance name (`dense`, `dense_1`, ...).
    fn name(&self) -> String {
        match self.base() {
            Some(b) => b.name.clone(),
            None => self.class_name().to_lowercase(),
        }
    }
    /// The Keras class name (`Dense`).
    fn class_name(&self) -> &'static str;
    /// The constructor arguments, as Keras' `get_config()` (used to save whole models), with
    /// the base entries ([`LayerBase::config`]: `name`, `dtype`).
    fn get_config(&self) -> serde_json::Value {
        match self.base() {
            Some(b) => b.config(serde_json::json!({})),
            None => serde_json::json!({}),
        }
    }
    /// The forward pass; `training` switches Dropout and BatchNormalization behaviour.
    fn call(&self, x: &Tensor, training: bool) -> Tensor;
    /// The forward pass of layers that take several inputs (Add, Concatenate, attention).
    fn call_many(&self, xs: &[Tensor], training: bool) -> Tensor {
        if xs.len() != 1 {
            panic!(
                "{} '{}' takes one input, got {}",
                self.class_name(),
                self.name(),
                xs.len()
            );
        }
        self.call(&xs[0], training)
    }
    /// Keras' `compute_mask`: the padding mask (batch, steps) that this layer's output carries,
    /// given its inputs and the mask that came in (see `masking.rs`). The default passes the
    /// incoming mask on; Sequential keeps it only while outputs stay (batch, steps, ...).
    fn compute_mask(&self, _xs: &[Tensor], mask: Option<&Tensor>) -> Option<Tensor> {
        mask.cloned()
    }
    /// Whether the layer uses a padding mask, taken as an extra last input
    /// (`call_many(&[x, mask])`); Sequential then passes the mask it carries (Keras'
    /// `_keras_mask` reaching a layer's `mask` argument).
    fn accepts_mask(&self) -> bool {
        false
    }
    /// Calls the layer, Keras' `layer(xs, training=...)` (`Layer.__call__`): the one entry that
    /// Sequential, the Functional API and `fit` use. Override `call`/`call_many`, not this.
    ///
    /// - Build: layers build their weights on their first call, from the input's shape
    ///   (`OnceLock` inside `call`), so the first `invoke` builds.
    /// - Name scope: the layer's name is pushed on this thread's scope for the call
    ///   ([`current_name_scope`] gives `sequential/dense` inside a Dense of a Sequential).
    /// - Autocast: see [`layer_call`].
    fn invoke(&self, xs: &[Tensor], training: bool) -> Tensor {
        match self.autocast() {
            Autocast::Off => layer_call(&self.name(), xs, |xs| self.call_many(xs, training)),
            mode => {
                let policy = self.dtype_policy();
                layer_call(&self.name(), xs, |xs| {
                    autocast_call(&policy, mode == Autocast::Float32Inside, xs, |xs| {
                        self.call_many(xs, training)
                    })
                })
            }
        }
    }
    /// How [`invoke`](Self::invoke) autocasts this layer's calls under a mixed policy. The
    /// default, [`Autocast::Compute`], suits any layer with its own weights, sub-layers or both;
    /// normalisation layers answer [`Autocast::Float32Inside`], Sequential and Functional
    /// models [`Autocast::Off`].
    fn autocast(&self) -> Autocast {
        Autocast::Compute
    }
    /// The layer's dtype policy (`layer.dtype_policy` in Keras): the global policy when the
    /// layer was constructed, or what `.dtype(..)` set (see [`crate::keras::mixed_precision`]).
    /// A layer without a [`LayerBase`] follows the global policy.
    fn dtype_policy(&self) -> Policy {
        match self.base() {
            Some(b) => b.dtype_policy.clone(),
            None => mixed_precision::global_policy(),
        }
    }
    /// The dtype the layer computes in (`layer.compute_dtype`).
    fn compute_dtype(&self) -> DType {
        self.dtype_policy().compute_dtype()
    }
    /// The dtype of the layer's variables (`layer.variable_dtype`): float32.
    fn variable_dtype(&self) -> DType {
        self.dtype_policy().variable_dtype()
    }
    /// All weights, trainable first (empty until built).
    fn weights(&self) -> Vec<Variable> {
        Vec::new()
    }
    fn trainable_weights(&self) -> Vec<Variable> {
        self.weights()
            .into_iter()
            .filter(|w| w.trainable())
            .collect()
    }
    /// TF's `model.trainable_variables`: the same list as [`trainable_weights`](Self::trainable_weights).
    fn trainable_variables(&self) -> Vec<Variable> {
        self.trainable_weights()
    }
    fn non_trainable_weights(&self) -> Vec<Variable> {
        self.weights()
            .into_iter()
            .filter(|w| !w.trainable())
            .collect()
    }
    /// Regularisation penalties on the current weights (added to the loss by `fit`).
    fn losses(&self) -> Vec<Tensor> {
        Vec::new()
    }
    /// Number of weight elements, as in Keras' summary.
    fn count_params(&self) -> usize {
        self.weights().iter().map(|w| w.elem_count()).sum()
    }
    /// Sub-layers, for summaries of nested models.
    fn layers(&self) -> Vec<Arc<dyn Layer>> {
        Vec::new()
    }
}

/// Shared (`Arc`) and boxed layers are layers too.
macro_rules! forward_layer {
    ($($ptr:ident),*) => {$(
        impl<L: Layer + ?Sized> Layer for $ptr<L> {
            fn base(&self) -> Option<&LayerBase> {
                (**self).base()
            }
            fn name(&self) -> String {
                (**self).name()
            }
            fn class_name(&self) -> &'static str {
                (**self).class_name()
            }
            fn get_config(&self) -> serde_json::Value {
                (**self).get_config()
            }
            fn call(&self, x: &Tensor, training: bool) -> Tensor {
                (**self).call(x, training)
            }
            fn call_many(&self, xs: &[Tensor], training: bool) -> Tensor {
                (**self).call_many(xs, training)
            }
            fn invoke(&self, xs: &[Tensor], training: bool) -> Tensor {
                (**self).invoke(xs, training)
            }
            fn compute_mask(&self, xs: &[Tensor], mask: Option<&Tensor>) -> Option<Tensor> {
                (**self).compute_mask(xs, mask)
            }
            fn accepts_mask(&self) -> bool {
                (**self).accepts_mask()
            }
            fn autocast(&self) -> Autocast {
                (**self).autocast()
            }
            fn dtype_policy(&self) -> Policy {
                (**self).dtype_policy()
            }
            fn weights(&self) -> Vec<Variable> {
                (**self).weights()
            }
            fn losses(&self) -> Vec<Tensor> {
                (**self).losses()
            }
            fn layers(&self) -> Vec<Arc<dyn Layer>> {
                (**self).layers()
            }
        }
    )*};
}
forward_layer!(Arc, Box);

/// How [`Layer::invoke`] runs a layer under a mixed dtype policy ([`Layer::autocast`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Autocast {
    /// Cast float inputs to the compute dtype and read every variable in it, the layer's own
    /// and those of sub-layers it calls directly; sub-layers called through `invoke` cast for
    /// themselves (Keras' `Layer(autocast=True)`, the default).
    Compute,
    /// Run in float32 (inputs and variables) and cast the output to the compute dtype:
    /// BatchNormalization and LayerNormalization keep their statistics in f32, as in Keras.
    Float32Inside,
    /// Pass inputs through: each layer of a Sequential or Functional model casts for itself.
    Off,
}

/// What every built-in layer holds, as Keras' base `Layer.__init__(name=..., dtype=...)`: the
/// instance name and the dtype policy. A layer embeds one (`base: LayerBase::new("dense")`),
/// answers [`Layer::base`] with it and gets `name()`, `dtype_policy()`, the base entries of
/// `get_config()` and the [`LayerArgs`] builders (`.named(..)`, `.dtype(..)`) from it, so the
/// policy travels with the layer whatever it is called.
#[derive(Clone, Debug)]
pub struct LayerBase {
    pub(crate) name: String,
    pub(crate) dtype_policy: Policy,
}

impl LayerBase {
    /// A fresh automatic name from `base` (`dense`, `dense_1`, ...) and the current global policy
    /// (Keras reads the global policy when a layer is constructed).
    pub fn new(base: &str) -> LayerBase {
        LayerBase {
            name: unique_name(base),
            dtype_policy: mixed_precision::global_policy(),
        }
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn dtype_policy(&self) -> &Policy {
        &self.dtype_policy
    }
    /// `config` (the layer's own constructor arguments) with the base entries, as Keras 3's
    /// `Layer.get_config`: `"name"` and `"dtype"`, the policy serialized as Keras does
    /// (`{"module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_float16"}, ...}`).
    pub fn config(&self, config: serde_json::Value) -> serde_json::Value {
        let mut c = serde_json::json!({
            "name": self.name,
            "dtype": self.dtype_policy.get_config(),
        });
        if let (Some(all), serde_json::Value::Object(own)) = (c.as_object_mut(), config) {
            all.extend(own);
        }
        c
    }
}

/// Keras' base layer arguments as builders, for every layer with a [`LayerBase`]:
/// `Dense::new(10).named("logits").dtype("float32")` (in either order) or `.dtype(&policy)`.
pub trait LayerArgs: Sized {
    fn base_mut(&mut self) -> &mut LayerBase;
    /// `name="logits"`: the layer's name (and the prefix of its weights' names).
    fn named(mut self, name: &str) -> Self {
        self.base_mut().name = name.to_string();
        self
    }
    /// `dtype="float32"` or a [`Policy`]: overrides the global policy for this layer.
    #[track_caller]
    fn dtype(mut self, policy: impl Into<Policy>) -> Self {
        self.base_mut().dtype_policy = policy.into();
        self
    }
}

/// [`LayerArgs`] for the built-in layers that keep their [`LayerBase`] in a `base` field (Conv1D
/// and Conv2D implement it in `conv.rs`).
macro_rules! layer_args {
    ($($t:ty),*) => {$(
        impl LayerArgs for $t {
            fn base_mut(&mut self) -> &mut LayerBase {
                &mut self.base
            }
        }
    )*};
}
layer_args!(
    Dense,
    Activation,
    Dropout,
    Flatten,
    Reshape,
    Conv2DTranspose,
    Embedding,
    Add,
    Concatenate,
    BatchNormalization,
    LayerNormalization,
    MaxPooling2D,
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalAveragePooling1D,
    PositionEmbedding,
    SinePositionEncoding,
    Recurrent,
    Softmax,
    UpSampling2D,
    MultiHeadAttention,
    TransformerEncoder,
    TransformerDecoder,
    TransformerLM
);

/// Runs one layer (or model) call `f` with the hooks every call shares; [`Layer::invoke`] and
/// `KerasModel::invoke_multi` go through here.
///
/// - Name scope: `name` is on this thread's scope stack while `f` runs, and comes off again
///   even when `f` panics. The stack lives in the process-wide state, keyed by thread, because
///   each notebook cell has its own copy of every static.
/// - Autocast: [`Layer::invoke`] wraps `f` in [`autocast_call`] with the layer's policy.
///   Models pass their inputs through unchanged: each of their layers casts for itself.
pub fn layer_call<R>(name: &str, xs: &[Tensor], f: impl FnOnce(&[Tensor]) -> R) -> R {
    let _scope = NameScope::enter(name);
    f(xs)
}

/// The autocast hook of every layer call (Keras' `Layer.__call__` autocasting): casts float
/// `xs` to the policy's compute dtype and runs `f` under an autocast scope of that dtype, so
/// the float32 variables the layer reads are cast too (`tensor/autocast.rs`). A float32 layer
/// gets f32 inputs and returns f32. `f32_inside` runs the layer in f32 and casts its output to
/// the compute dtype (normalisation layers: statistics in f32). With a float32 policy and no
/// outer scope this costs one dtype check per input.
pub fn autocast_call(
    policy: &Policy,
    f32_inside: bool,
    xs: &[Tensor],
    f: impl FnOnce(&[Tensor]) -> Tensor,
) -> Tensor {
    let compute = policy.compute_dtype();
    let inner = if f32_inside { DType::F32 } else { compute };
    let cast = |xs: &[Tensor]| -> Option<Vec<Tensor>> {
        xs.iter()
            .any(|x| x.dtype().is_float() && x.dtype() != inner)
            .then(|| {
                xs.iter()
                    .map(|x| {
                        if x.dtype().is_float() {
                            x.cast(inner)
                        } else {
                            x.clone()
                        }
                    })
                    .collect()
            })
    };
    let cast_xs = cast(xs);
    let xs = cast_xs.as_deref().unwrap_or(xs);
    let y = if inner == DType::F32 && crate::tensor::autocast::current().is_none() {
        f(xs) // the common float32 case: no scope, no per-op check
    } else {
        let _scope = crate::tensor::autocast::enter(inner);
        f(xs)
    };
    if f32_inside && y.dtype().is_float() && y.dtype() != compute {
        y.cast(compute)
    } else {
        y
    }
}

/// Per thread, the names of the layers being called, outermost first (Keras' name scope). In
/// the process-wide state: each notebook cell has its own copy of the engine's statics.
type NameScopes = std::sync::Mutex<std::collections::HashMap<std::thread::ThreadId, Vec<String>>>;

fn name_scopes() -> &'static NameScopes {
    crate::state::slot!("keras.name_scopes", NameScopes, Default::default)
}

/// One entry on this thread's name-scope stack; popped on drop (also while unwinding).
struct NameScope;

impl NameScope {
    fn enter(name: &str) -> NameScope {
        let mut scopes = name_scopes().lock().unwrap_or_else(|e| e.into_inner());
        scopes
            .entry(std::thread::current().id())
            .or_default()
            .push(name.to_string());
        NameScope
    }
}

impl Drop for NameScope {
    fn drop(&mut self) {
        let mut scopes = name_scopes().lock().unwrap_or_else(|e| e.into_inner());
        let me = std::thread::current().id();
        if let Some(stack) = scopes.get_mut(&me) {
            stack.pop();
            if stack.is_empty() {
                scopes.remove(&me);
            }
        }
    }
}

/// The names of the layers being called on this thread, outermost first, joined by `/`
/// (`"sequential/dense"` inside a Dense of a Sequential; `""` outside any layer call).
pub fn current_name_scope() -> String {
    let scopes = name_scopes().lock().unwrap_or_else(|e| e.into_inner());
    scopes
        .get(&std::thread::current().id())
        .map(|s| s.join("/"))
        .unwrap_or_default()
}

/// Keras' automatic names: the first Dense is `dense`, then `dense_1`, `dense_2`, ...
pub fn unique_name(base: &str) -> String {
    type Counters = std::sync::Mutex<std::collections::HashMap<String, usize>>;
    let counters = crate::state::slot!("keras.layer_names", Counters, Default::default);
    let mut names = counters.lock().unwrap_or_else(|e| e.into_inner());
    let n = names.entry(base.to_string()).or_insert(0);
    let name = if *n == 0 {
        base.to_string()
    } else {
        format!("{base}_{n}")
    };
    *n += 1;
    name
}

/// A named weight variable: `layer_name/kernel`.
pub(crate) fn add_weight(
    layer: &str,
    name: &str,
    init: crate::keras::initializers::Initializer,
    shape: &[usize],
    trainable: bool,
) -> Variable {
    Variable::with_options(&init.init(shape), &format!("{layer}/{name}"), trainable)
}

/// The last axis of an input, with a clear error for scalars.
#[track_caller]
pub(crate) fn last_dim(layer: &str, x: &Tensor) -> usize {
    match x.dims().last() {
        Some(&d) => d,
        None => panic!("{layer}: expected an input with at least one axis, got a scalar"),
    }
}

/// Rebuilds a layer from its class name and `get_config()` (Keras' `from_config`).
/// The `"dtype"` entry may be Keras 3's serialized policy, `{"name": ..}` or the policy's
/// name (files saved before layers had a dtype config); without one the layer takes the global
/// policy.
pub fn layer_from_config(class: &str, c: &serde_json::Value) -> crate::Result<Box<dyn Layer>> {
    let policy = match &c["dtype"] {
        serde_json::Value::Null => None,
        d => Some(Policy::from_config(d)?),
    };
    build_from_config(class, c, &policy)
}

/// `Box::new(layer)` with the saved policy, if any.
fn boxed<L: Layer + LayerArgs + 'static>(policy: &Option<Policy>, layer: L) -> Box<dyn Layer> {
    match policy {
        Some(p) => Box::new(layer.dtype(p)),
        None => Box::new(layer),
    }
}

fn build_from_config(
    class: &str,
    c: &serde_json::Value,
    policy: &Option<Policy>,
) -> crate::Result<Box<dyn Layer>> {
    let u = |k: &str| c[k].as_u64().map(|v| v as usize);
    let f = |k: &str| c[k].as_f64().map(|v| v as f32);
    let s = |k: &str| c[k].as_str().unwrap_or("linear").to_string();
    let b = |k: &str| c[k].as_bool().unwrap_or(true);
    let pair = |k: &str| -> Option<(usize, usize)> {
        let a = c[k].as_array()?;
        Some((a.first()?.as_u64()? as usize, a.get(1)?.as_u64()? as usize))
    };
    let missing = || {
        crate::error::invalid(
            "load_model",
            format!("layer {class}: incomplete config {c}"),
        )
    };
    let act = |name: &str| crate::keras::activations::Activation::parse(name);
    act(&s("activation"))?;
    Ok(match class {
        "Dense" => boxed(policy, Dense::new(u("units").ok_or_else(missing)?).activation(&s("activation")).use_bias(b("use_bias"))),
        "Activation" => boxed(policy, Activation::new(&s("activation"))),
        "Dropout" => {
            let mut d = Dropout::new(f("rate").ok_or_else(missing)?);
            if let Some(seed) = c["seed"].as_u64() {
                d = d.seed(seed);
            }
            boxed(policy, d)
        }
        "Flatten" => boxed(policy, Flatten::new()),
        "Reshape" => {
            let t: Vec<isize> = c["target_shape"].as_array().ok_or_else(missing)?.iter().map(|v| v.as_i64().unwrap_or(-1) as isize).collect();
            boxed(policy, Reshape::new(&t))
        }
        "Conv2D" => {
            let k = pair("kernel_size").ok_or_else(missing)?;
            boxed(policy,
                Conv2D::new(u("filters").ok_or_else(missing)?, k)
                    .strides(pair("strides").unwrap_or((1, 1)))
                    .dilation_rate(pair("dilation_rate").unwrap_or((1, 1)))
                    .padding(c["padding"].as_str().unwrap_or("valid"))
                    .activation(&s("activation"))
                    .use_bias(b("use_bias")),
            )
        }
        "Conv1D" => {
            let k = pair("kernel_size").ok_or_else(missing)?;
            boxed(policy,
                Conv1D::new(u("filters").ok_or_else(missing)?, k.1)
                    .strides(pair("strides").unwrap_or((1, 1)).1)
                    .dilation_rate(pair("dilation_rate").unwrap_or((1, 1)).1)
                    .padding(c["padding"].as_str().unwrap_or("valid"))
                    .activation(&s("activation"))
                    .use_bias(b("use_bias")),
            )
        }
        "MaxPooling2D" | "AveragePooling2D" => {
            let p = pair("pool_size").ok_or_else(missing)?;
            let st = pair("strides").unwrap_or(p);
            let pad = c["padding"].as_str().unwrap_or("valid");
            if class == "MaxPooling2D" {
                boxed(policy, MaxPooling2D::new(p).strides(st).padding(pad))
            } else {
                boxed(policy, AveragePooling2D::new(p).strides(st).padding(pad))
            }
        }
        "GlobalAveragePooling2D" => boxed(policy, GlobalAveragePooling2D::new()),
        "BatchNormalization" => boxed(policy, BatchNormalization::new().momentum(f("momentum").unwrap_or(0.99)).epsilon(f("epsilon").unwrap_or(1e-3))),
        "LayerNormalization" => boxed(policy, LayerNormalization::new().epsilon(f("epsilon").unwrap_or(1e-3))),
        "Embedding" => boxed(policy,
            Embedding::new(u("input_dim").ok_or_else(missing)?, u("output_dim").ok_or_else(missing)?)
                .mask_zero(c["mask_zero"].as_bool().unwrap_or(false)),
        ),
        "GlobalAveragePooling1D" => boxed(policy, GlobalAveragePooling1D::new()),
        "PositionEmbedding" => boxed(policy, PositionEmbedding::new(u("sequence_length").ok_or_else(missing)?)),
        "SinePositionEncoding" => boxed(policy, SinePositionEncoding::new().max_wavelength(c["max_wavelength"].as_f64().unwrap_or(10000.0))),
        "TransformerEncoder" | "TransformerDecoder" => {
            let (ff, heads) = (u("intermediate_dim").ok_or_else(missing)?, u("num_heads").ok_or_else(missing)?);
            let (rate, pre) = (f("dropout").unwrap_or(0.0), c["normalize_first"].as_bool().unwrap_or(false));
            if class == "TransformerEncoder" {
                boxed(policy, TransformerEncoder::new(ff, heads).dropout(rate).normalize_first(pre))
            } else {
                boxed(policy, TransformerDecoder::new(ff, heads).dropout(rate).normalize_first(pre))
            }
        }
        "TransformerLM" => Box::new(TransformerLM::new(
            u("vocab").ok_or_else(missing)?,
            u("max_length").ok_or_else(missing)?,
            u("d_model").ok_or_else(missing)?,
            u("num_layers").ok_or_else(missing)?,
            u("num_heads").ok_or_else(missing)?,
            u("intermediate_dim").ok_or_else(missing)?,
        )),
        "SimpleRNN" | "LSTM" | "GRU" => {
            let units = u("units").ok_or_else(missing)?;
            let l = match class {
                "SimpleRNN" => SimpleRNN::new(units),
                "LSTM" => LSTM::new(units),
                _ => GRU::new(units),
            };
            boxed(policy, l.return_sequences(c["return_sequences"].as_bool().unwrap_or(false)))
        }
        "MultiHeadAttention" => boxed(policy,
            MultiHeadAttention::new(u("num_heads").ok_or_else(missing)?, u("key_dim").ok_or_else(missing)?)
                .value_dim(u("value_dim").or(u("key_dim")).ok_or_else(missing)?)
                .use_causal_mask(c["use_causal_mask"].as_bool().unwrap_or(false)),
        ),
        "Conv2DTranspose" => {
            let k = pair("kernel_size").ok_or_else(missing)?;
            boxed(policy,
                Conv2DTranspose::new(u("filters").ok_or_else(missing)?, k)
                    .strides(pair("strides").unwrap_or((1, 1)))
                    .padding(c["padding"].as_str().unwrap_or("valid"))
                    .activation(&s("activation"))
                    .use_bias(b("use_bias")),
            )
        }
        "Softmax" => boxed(policy, Softmax::new().axis(c["axis"].as_i64().unwrap_or(-1) as isize)),
        "UpSampling2D" => boxed(policy, UpSampling2D::new(pair("size").ok_or_else(missing)?)),
        "Add" => boxed(policy, Add::new()),
        "Concatenate" => boxed(policy, Concatenate::new(c["axis"].as_i64().unwrap_or(-1) as isize)),
        other => {
            return Err(crate::error::invalid(
                "load_model",
                format!("layer class {other} cannot be rebuilt from a saved model yet; save the weights and rebuild the model in code"),
            ))
        }
    })
}
