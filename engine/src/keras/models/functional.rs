//! The Functional API: `Input` -> layer calls on symbolic tensors -> `Model::new(inputs, outputs)`.
//!
//! Applying a layer to a symbolic tensor calls it once on a shape-only tensor (a batch of one,
//! no values: see [`Tensor::symbolic`]): every op inside infers its output shape without running
//! a kernel, the layer builds its weights, and the output's shape is the layer's. A shape
//! mismatch is reported right there, naming the layer, not later in `fit`. Layers wrapped in an
//! `Arc` can be applied several times (shared layers share weights).

use std::collections::HashMap;
use std::sync::Arc;

use super::summary::{shape_str, SummaryRow};
use super::{KerasModel, Summary, TrainingState};
use crate::autodiff::Variable;
use crate::dtype::DType;
use crate::keras::layers::{unique_name, Autocast, Layer};
use crate::keras::saving;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// A shape-only batch of one example of `shape` (no values; ops on it only infer shapes).
pub(crate) fn symbolic_batch(shape: &[usize], dtype: DType) -> Tensor {
    let mut d = vec![1];
    d.extend_from_slice(shape);
    Tensor::symbolic(d, dtype, crate::runtime::default_device())
}

/// Calls `layer` on shape-only inputs: builds its weights and returns its symbolic output.
///
/// No kernel runs and no shape is learned from a panic: the ops infer shapes. A layer that
/// rejects its input shapes does so by panicking in its own `call` (built-in layers name the
/// problem); that rejection is turned into an error here, the one place the Functional API
/// contains a panic, so that `try_apply` and `load` can return it instead of stopping a cell.
pub(crate) fn call_symbolic(
    op: &'static str,
    layer: &dyn Layer,
    xs: &[Tensor],
    shapes: &[String],
) -> crate::Result<Tensor> {
    let out = crate::state::catch_quietly(|| layer.invoke(xs, false)).map_err(|msg| {
        crate::error::invalid(
            op,
            format!(
                "layer '{}' ({}) cannot take input shape {}: {msg}",
                layer.name(),
                layer.class_name(),
                shapes.join(" and ")
            ),
        )
    })?;
    Ok(out)
}

struct SymNode {
    id: u64,
    shape: Vec<usize>,
    dtype: DType,
    name: String,
    producer: Option<(Arc<dyn Layer>, Vec<SymbolicTensor>)>,
}

/// A placeholder for a batch of tensors of a known shape (the batch axis excluded).
#[derive(Clone)]
pub struct SymbolicTensor(Arc<SymNode>);

impl SymbolicTensor {
    /// Keras-style shape: `None` for the batch axis.
    pub fn shape(&self) -> Vec<Option<usize>> {
        std::iter::once(None)
            .chain(self.0.shape.iter().map(|&d| Some(d)))
            .collect()
    }
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    /// A shape-only tensor for one example of this input (Keras' `KerasTensor`).
    fn symbolic(&self) -> Tensor {
        symbolic_batch(&self.0.shape, self.0.dtype)
    }
}

impl std::fmt::Debug for SymbolicTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<SymbolicTensor shape={} dtype={} name={}>",
            shape_str(&self.0.shape),
            self.0.dtype,
            self.0.name
        )
    }
}

/// `keras.Input(shape)`: the entry point of a functional model.
pub struct Input;

impl Input {
    /// A float32 input of `shape` (without the batch axis).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(shape: impl Into<Shape>) -> SymbolicTensor {
        Self::with_dtype(shape, DType::F32)
    }
    /// An input of another dtype (int64 token ids for an Embedding, say).
    pub fn with_dtype(shape: impl Into<Shape>, dtype: DType) -> SymbolicTensor {
        let name = unique_name("input_layer");
        SymbolicTensor(Arc::new(SymNode {
            id: crate::state::next_id(),
            shape: shape.into().dims().to_vec(),
            dtype,
            name,
            producer: None,
        }))
    }
}

/// Calling a layer on symbolic tensors (`Dense(64)(x)` in Keras).
pub trait LayerApply {
    fn apply(self, x: &SymbolicTensor) -> SymbolicTensor;
    fn apply_many(self, xs: &[&SymbolicTensor]) -> SymbolicTensor;
}

impl<L: Layer + 'static> LayerApply for L {
    #[track_caller]
    fn apply(self, x: &SymbolicTensor) -> SymbolicTensor {
        self.apply_many(&[x])
    }
    #[track_caller]
    fn apply_many(self, xs: &[&SymbolicTensor]) -> SymbolicTensor {
        crate::error::or_panic(try_apply(Arc::new(self), xs))
    }
}

/// Applies a layer, reporting a shape error with the layer's name instead of panicking.
pub fn try_apply(layer: Arc<dyn Layer>, xs: &[&SymbolicTensor]) -> crate::Result<SymbolicTensor> {
    let inputs: Vec<Tensor> = xs.iter().map(|x| x.symbolic()).collect();
    let shapes: Vec<String> = xs.iter().map(|x| shape_str(&x.0.shape)).collect();
    let out = call_symbolic("Functional API", &*layer, &inputs, &shapes)?;
    Ok(SymbolicTensor(Arc::new(SymNode {
        id: crate::state::next_id(),
        shape: out.dims().get(1..).unwrap_or(&[]).to_vec(),
        dtype: out.dtype(),
        name: layer.name(),
        producer: Some((layer, xs.iter().map(|x| (*x).clone()).collect())),
    })))
}

/// `keras.Model(inputs, outputs)`: a graph of layers with any number of inputs and outputs.
pub struct Model {
    name: String,
    inputs: Vec<SymbolicTensor>,
    outputs: Vec<SymbolicTensor>,
    /// Nodes in an order where every node comes after its inputs.
    order: Vec<SymbolicTensor>,
    state: TrainingState,
}

impl Model {
    /// `Model::new(&[&inputs], &[&outputs])`.
    #[track_caller]
    pub fn new(inputs: &[&SymbolicTensor], outputs: &[&SymbolicTensor]) -> Model {
        crate::error::or_panic(Self::try_new(inputs, outputs))
    }
    pub fn try_new(
        inputs: &[&SymbolicTensor],
        outputs: &[&SymbolicTensor],
    ) -> crate::Result<Model> {
        let inputs: Vec<SymbolicTensor> = inputs.iter().map(|x| (*x).clone()).collect();
        let outputs: Vec<SymbolicTensor> = outputs.iter().map(|x| (*x).clone()).collect();
        let mut order = Vec::new();
        let mut seen = HashMap::new();
        fn visit(
            n: &SymbolicTensor,
            inputs: &[SymbolicTensor],
            seen: &mut HashMap<u64, ()>,
            order: &mut Vec<SymbolicTensor>,
        ) -> crate::Result<()> {
            if seen.contains_key(&n.0.id) {
                return Ok(());
            }
            match &n.0.producer {
                None if !inputs.iter().any(|i| i.0.id == n.0.id) => {
                    return Err(crate::error::invalid(
                        "Model",
                        format!("the outputs depend on the input '{}', which is not in the model's inputs", n.0.name),
                    ))
                }
                None => {}
                Some((_, ins)) => {
                    for i in ins {
                        visit(i, inputs, seen, order)?;
                    }
                }
            }
            seen.insert(n.0.id, ());
            order.push(n.clone());
            Ok(())
        }
        for o in &outputs {
            visit(o, &inputs, &mut seen, &mut order)?;
        }
        Ok(Model {
            name: unique_name("functional"),
            inputs,
            outputs,
            order,
            state: TrainingState::default(),
        })
    }

    /// Saves the whole model, graph and weights, to one safetensors file (the graph is JSON
    /// in its metadata), atomically: `model.save("model.safetensors")`.
    pub fn save(&self, path: &str) -> crate::Result<()> {
        let layers = self.graph_layers();
        let mut ids: Vec<u64> = self.inputs.iter().map(|i| i.0.id).collect();
        let mut nodes = Vec::new();
        for n in &self.order {
            if let Some((l, ins)) = &n.0.producer {
                let li = layers
                    .iter()
                    .position(|x| same_layer(x, l))
                    .expect("layer of the graph");
                let refs: Vec<usize> = ins
                    .iter()
                    .map(|i| {
                        ids.iter()
                            .position(|&id| id == i.0.id)
                            .expect("node before its use")
                    })
                    .collect();
                nodes.push(serde_json::json!({"layer": li, "inputs": refs}));
                ids.push(n.0.id);
            }
        }
        let outputs: Vec<usize> = self
            .outputs
            .iter()
            .map(|o| {
                ids.iter()
                    .position(|&id| id == o.0.id)
                    .expect("output node")
            })
            .collect();
        let arch = serde_json::json!({
            "class_name": "Functional",
            "name": self.name,
            "inputs": self.inputs.iter().map(|i| serde_json::json!({"shape": i.0.shape, "dtype": i.0.dtype.as_str()})).collect::<Vec<_>>(),
            "layers": layers.iter().map(|l| saving::layer_entry(&**l)).collect::<Vec<_>>(),
            "nodes": nodes,
            "outputs": outputs,
        });
        saving::save_model(path, &self.weights(), &arch)
    }

    /// Rebuilds a model saved with [`Model::save`] (`keras.models.load_model`); not compiled.
    pub fn load(path: &str) -> crate::Result<Model> {
        let bad = |m: String| crate::error::invalid("load_model", m);
        let arch = saving::load_architecture(path, "Functional")?;
        let layers = saving::rebuild_layers(&arch)?;
        let mut syms: Vec<SymbolicTensor> = Vec::new();
        for i in arch["inputs"].as_array().into_iter().flatten() {
            let shape: Vec<usize> = i["shape"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| d.as_u64().unwrap_or(0) as usize)
                .collect();
            let dtype =
                DType::parse(i["dtype"].as_str().unwrap_or("float32")).unwrap_or(DType::F32);
            syms.push(Input::with_dtype(shape, dtype));
        }
        let n_inputs = syms.len();
        for node in arch["nodes"].as_array().into_iter().flatten() {
            let layer = layers
                .get(node["layer"].as_u64().unwrap_or(u64::MAX) as usize)
                .ok_or_else(|| bad("a node names a missing layer".into()))?;
            let ins: Vec<&SymbolicTensor> = node["inputs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    syms.get(r.as_u64().unwrap_or(u64::MAX) as usize)
                        .ok_or_else(|| bad("a node names a missing input".into()))
                })
                .collect::<crate::Result<_>>()?;
            let out = try_apply(layer.clone(), &ins)?;
            syms.push(out);
        }
        let pick = |k: &str| -> crate::Result<Vec<SymbolicTensor>> {
            arch[k]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    syms.get(r.as_u64().unwrap_or(u64::MAX) as usize)
                        .cloned()
                        .ok_or_else(|| bad(format!("bad {k} reference")))
                })
                .collect()
        };
        let outputs = pick("outputs")?;
        let inputs: Vec<SymbolicTensor> = syms[..n_inputs].to_vec();
        let mut model = Model::try_new(
            &inputs.iter().collect::<Vec<_>>(),
            &outputs.iter().collect::<Vec<_>>(),
        )?;
        if let Some(n) = arch["name"].as_str() {
            model.name = n.to_string();
        }
        saving::load_variables(path, &model.weights())?;
        Ok(model)
    }

    /// The distinct layers in graph order.
    fn graph_layers(&self) -> Vec<Arc<dyn Layer>> {
        let mut out: Vec<Arc<dyn Layer>> = Vec::new();
        for n in &self.order {
            if let Some((l, _)) = &n.0.producer {
                if !out.iter().any(|o| same_layer(o, l)) {
                    out.push(l.clone());
                }
            }
        }
        out
    }
}

/// Whether two graph nodes were produced by the same layer. `apply` wraps its receiver in a new
/// `Arc`, so a shared `Arc<Dense>` applied twice gives two different pointers to one layer:
/// compare the name and the first weight too.
fn same_layer(a: &Arc<dyn Layer>, b: &Arc<dyn Layer>) -> bool {
    Arc::ptr_eq(a, b)
        || (a.name() == b.name()
            && a.weights().first().map(|w| w.id()) == b.weights().first().map(|w| w.id()))
}

impl Layer for Model {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn class_name(&self) -> &'static str {
        "Functional"
    }
    /// Each layer of the model casts for itself.
    fn autocast(&self) -> Autocast {
        Autocast::Off
    }
    fn call(&self, x: &Tensor, training: bool) -> Tensor {
        self.call_many(std::slice::from_ref(x), training)
    }
    #[track_caller]
    fn call_many(&self, xs: &[Tensor], training: bool) -> Tensor {
        let mut outs = self.forward(xs, training);
        if outs.len() != 1 {
            panic!(
                "model '{}' has {} outputs; use forward() or predict_multi()",
                self.name,
                outs.len()
            );
        }
        outs.swap_remove(0)
    }
    fn weights(&self) -> Vec<Variable> {
        let all: Vec<Variable> = self
            .graph_layers()
            .iter()
            .flat_map(|l| l.weights())
            .collect();
        let (mut t, n): (Vec<_>, Vec<_>) = all.into_iter().partition(|w| w.trainable());
        t.extend(n);
        t
    }
    fn losses(&self) -> Vec<Tensor> {
        self.graph_layers()
            .iter()
            .flat_map(|l| l.losses())
            .collect()
    }
    fn layers(&self) -> Vec<Arc<dyn Layer>> {
        self.graph_layers()
    }
}

impl KerasModel for Model {
    fn training_state(&mut self) -> &mut TrainingState {
        &mut self.state
    }
    fn output_names(&self) -> Vec<String> {
        self.outputs.iter().map(|o| o.0.name.clone()).collect()
    }
    #[track_caller]
    fn forward(&self, xs: &[Tensor], training: bool) -> Vec<Tensor> {
        if xs.len() != self.inputs.len() {
            panic!(
                "model '{}' expects {} inputs, got {}",
                self.name,
                self.inputs.len(),
                xs.len()
            );
        }
        let mut vals: HashMap<u64, Tensor> = HashMap::new();
        for (i, x) in self.inputs.iter().zip(xs) {
            if x.dims().get(1..) != Some(&i.0.shape[..]) {
                panic!(
                    "model '{}': input '{}' expects shape {}, got {}",
                    self.name,
                    i.0.name,
                    shape_str(&i.0.shape),
                    x.shape()
                );
            }
            vals.insert(i.0.id, x.clone());
        }
        // Keras' automatic mask propagation (`_keras_mask`), as in Sequential: the padding mask
        // of a node's first masked input reaches a single-input layer that accepts one (as its
        // last input), and `compute_mask` says what the output carries. A mask passed as an
        // explicit input (`apply_many(&[&x, &mask])`) is left as it is.
        let mut masks: HashMap<u64, Tensor> = HashMap::new();
        for n in &self.order {
            if let Some((layer, ins)) = &n.0.producer {
                let args: Vec<Tensor> = ins.iter().map(|i| vals[&i.0.id].clone()).collect();
                let mask = ins.iter().find_map(|i| masks.get(&i.0.id)).cloned();
                let y = match &mask {
                    Some(m) if ins.len() == 1 && layer.accepts_mask() => {
                        layer.invoke(&[args[0].clone(), m.clone()], training)
                    }
                    _ => layer.invoke(&args, training),
                };
                if let Some(m) = layer
                    .compute_mask(&args, mask.as_ref())
                    .filter(|m| y.rank() >= 3 && m.dims() == &y.dims()[..2])
                {
                    masks.insert(n.0.id, m);
                }
                vals.insert(n.0.id, y);
            }
        }
        self.outputs.iter().map(|o| vals[&o.0.id].clone()).collect()
    }
    fn summary(&self) -> Summary {
        let mut rows: Vec<SummaryRow> = self
            .inputs
            .iter()
            .map(|i| SummaryRow {
                name: i.0.name.clone(),
                class_name: "InputLayer".into(),
                output_shape: shape_str(&i.0.shape),
                params: 0,
            })
            .collect();
        let mut done: Vec<Arc<dyn Layer>> = Vec::new();
        for n in &self.order {
            if let Some((l, _)) = &n.0.producer {
                let params = if done.iter().any(|d| same_layer(d, l)) {
                    0
                } else {
                    l.count_params()
                };
                done.push(l.clone());
                rows.push(SummaryRow {
                    name: l.name(),
                    class_name: super::summary::type_label(&**l),
                    output_shape: shape_str(&n.0.shape),
                    params,
                });
            }
        }
        Summary::finish(&self.name, rows, &self.weights())
    }
}
