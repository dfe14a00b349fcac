//! A traced graph: the ops one call of a `function` ran, as data, with every input named by
//! where its value comes from (a graph input, an earlier op, a captured constant, or a captured
//! variable, held by handle so a replay reads its current value).
//!
//! What this file is not: the recording (`tracer.rs`) or the running (`replay.rs`). It holds
//! the graph, prunes ops the output does not need, and prints the graph as a table of ops.

use std::fmt;

use crate::device::Device;
use crate::display::{MimeBundle, Table};
use crate::dtype::DType;
use crate::shape::Shape;
use crate::tensor::op::compact;
use crate::tensor::{Op, Tensor};

/// Where one input of a graph op (or the graph's output) comes from.
#[derive(Clone)]
pub enum Source {
    /// The i-th argument of the call.
    Input(usize),
    /// The output of the i-th op of the graph.
    Node(usize),
    /// A tensor the closure used that is neither an argument nor made by a recorded op (a
    /// scalar such as `0.5`, a tensor made outside): its value is frozen into the graph.
    Constant(Tensor),
    /// A `Variable` read inside the closure, captured by handle: a replay sees `assign` updates.
    Variable(Tensor),
}

/// One recorded op of a graph.
#[derive(Clone)]
pub struct GraphOp {
    pub op: Op,
    pub inputs: Vec<Source>,
    pub shape: Shape,
    pub dtype: DType,
}

/// One argument's shape, dtype and device, like TF's `tf.TensorSpec`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorSpec {
    pub shape: Shape,
    pub dtype: DType,
    pub device: Device,
}

impl TensorSpec {
    pub fn of(t: &Tensor) -> TensorSpec {
        TensorSpec {
            shape: t.shape().clone(),
            dtype: t.dtype(),
            device: t.device(),
        }
    }
}

impl fmt::Display for TensorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.shape.dims().iter().map(|d| d.to_string()).collect();
        let shape = match dims.len() {
            1 => format!("({},)", dims[0]),
            _ => format!("({})", dims.join(", ")),
        };
        write!(f, "TensorSpec(shape={shape}, dtype={})", self.dtype)
    }
}

/// The input signature of a call: one [`TensorSpec`] per argument.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature(pub Vec<TensorSpec>);

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let specs: Vec<String> = self.0.iter().map(|s| s.to_string()).collect();
        write!(f, "({})", specs.join(", "))
    }
}

/// The ops of one trace and the source of its output.
#[derive(Clone)]
pub struct Graph {
    pub ops: Vec<GraphOp>,
    pub output: Source,
    /// For each op, the index of the last op that reads its output (`usize::MAX` when only the
    /// graph's output does): a replay frees an intermediate as soon as it is dead.
    pub(crate) last_use: Vec<usize>,
}

impl Graph {
    /// Keeps only the ops that the output depends on (ops run for a `println!` or an `.item()`
    /// read inside the closure are not replayed), renumbered in order.
    pub fn pruned(ops: Vec<GraphOp>, output: Source) -> Graph {
        let mut live = vec![false; ops.len()];
        if let Source::Node(i) = output {
            live[i] = true;
        }
        for i in (0..ops.len()).rev() {
            if live[i] {
                for s in &ops[i].inputs {
                    if let Source::Node(j) = s {
                        live[*j] = true;
                    }
                }
            }
        }
        let mut new_index = vec![usize::MAX; ops.len()];
        let mut kept = Vec::new();
        for (i, mut op) in ops.into_iter().enumerate() {
            if !live[i] {
                continue;
            }
            for s in &mut op.inputs {
                if let Source::Node(j) = s {
                    *j = new_index[*j];
                }
            }
            new_index[i] = kept.len();
            kept.push(op);
        }
        let output = match output {
            Source::Node(i) => Source::Node(new_index[i]),
            other => other,
        };
        let mut last_use = vec![usize::MAX; kept.len()];
        for (i, op) in kept.iter().enumerate() {
            for s in &op.inputs {
                if let Source::Node(j) = s {
                    last_use[*j] = i;
                }
            }
        }
        if let Source::Node(i) = output {
            last_use[i] = usize::MAX;
        }
        Graph {
            ops: kept,
            output,
            last_use,
        }
    }

    /// The graph as a table: one row per op with its inputs, output shape and dtype.
    pub fn table(&self, title: &str) -> Table {
        let mut t = Table::new(["#", "op", "inputs", "shape", "dtype"]).title(title);
        for (i, op) in self.ops.iter().enumerate() {
            let ins: Vec<String> = op.inputs.iter().map(source_name).collect();
            t.push_row((
                format!("%{i}"),
                op_label(&op.op),
                ins.join(", "),
                compact(op.shape.dims()),
                op.dtype.to_string(),
            ));
        }
        t.note(format!("output: {}", source_name(&self.output)))
    }
}

/// `x0`, `%3`, `const (3,)`, `var 'w'`.
fn source_name(s: &Source) -> String {
    match s {
        Source::Input(i) => format!("x{i}"),
        Source::Node(i) => format!("%{i}"),
        Source::Constant(t) if t.elem_count() == 1 && !t.is_symbolic() => {
            match t.try_cast(DType::F32).and_then(|c| c.try_to_vec::<f32>()) {
                Ok(v) => format!("const {}", v[0]),
                Err(_) => format!("const {}", compact(t.dims())),
            }
        }
        Source::Constant(t) => format!("const {}", compact(t.dims())),
        Source::Variable(t) => match &t.0.var {
            Some(v) => format!("var '{}'", v.name),
            None => "var".into(),
        },
    }
}

/// The op's name with its attributes where they matter (`cast f16`, `sum axes [1]`).
fn op_label(op: &Op) -> String {
    let name = op.name();
    match op {
        Op::Cast(d) => format!("{name} {}", d.rust_name()),
        Op::Reduce { axes, keepdims, .. } => {
            let keep = if *keepdims { " keepdims" } else { "" };
            format!("{name} axes {axes:?}{keep}")
        }
        Op::Reshape(s) | Op::BroadcastTo(s) => format!("{name} {}", compact(s.dims())),
        Op::Permute(p) => format!("{name} {p:?}"),
        Op::Concat { axis } | Op::IndexSelect { axis } => format!("{name} axis {axis}"),
        _ => name.to_string(),
    }
}

/// One trace of a `function`: its input signature and its graph (`f.concrete_functions()`).
#[derive(Clone)]
pub struct ConcreteFunction {
    pub name: String,
    pub signature: Signature,
    pub graph: std::sync::Arc<Graph>,
    /// The fusion plan `jit_compile` replays by.
    pub plan: std::sync::Arc<Vec<super::fuse::Step>>,
}

impl ConcreteFunction {
    /// How many ops a replay runs.
    pub fn op_count(&self) -> usize {
        self.graph.ops.len()
    }
    /// The fused groups of the `jit_compile` plan: how many graph ops each runs in one pass.
    pub fn fused_groups(&self) -> Vec<usize> {
        self.plan
            .iter()
            .filter_map(|s| match s {
                super::fuse::Step::Group(g) => Some(g.len()),
                super::fuse::Step::Op(_) => None,
            })
            .collect()
    }
    fn title(&self) -> String {
        format!(
            "{}{}: {} ops",
            self.name,
            self.signature,
            self.graph.ops.len()
        )
    }
    /// The graph as a table (what `display` shows).
    pub fn table(&self) -> Table {
        self.graph.table(&self.title())
    }
}

impl fmt::Display for ConcreteFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table())
    }
}

impl fmt::Debug for ConcreteFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<ConcreteFunction {}>", self.title())
    }
}

impl crate::display::Display for ConcreteFunction {
    fn mime_bundle(&self) -> MimeBundle {
        crate::display::Display::mime_bundle(&self.table())
    }
}
