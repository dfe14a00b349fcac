//! A traced graph: the ops one call of a `function` ran, as data, with every input named by
//! where its value comes from (a graph input, an earlier op, a captured constant, or a captured
//! variable, held by handle so a replay reads its current value).
//!
//! What this file is not: the recording (`tracer.rs`) or the running (`replay.rs`). It holds
//! the graph, prunes ops the output does not need, and prints the graph as a table of ops.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::device::Device;
use crate::display::{MimeBundle, Table};
use crate::dtype::DType;
use crate::shape::Shape;
use crate::storage::UpdateRule;
use crate::tensor::op::compact;
use crate::tensor::{Op, RandomDist, RuleSource, Tensor};

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

/// What one graph node does: a tensor op, or one of the stateful events a replay repeats.
#[derive(Clone)]
pub enum Node {
    /// An op run through `dispatch::apply`.
    Op(Op),
    /// A random draw (no inputs): a replay draws fresh numbers, as TF's random ops do.
    Random {
        dist: RandomDist,
        seed: Option<u64>,
        device: Device,
    },
    /// `var.assign(value)`; inputs `[var, value]`; no output.
    Assign,
    /// A fused optimizer update; inputs `[var, grad, slots..]`; no output. The rule is read
    /// when the replay runs (learning rate and step number of that replay).
    Update(RuleSource),
    /// An optimizer's `iterations += 1`; no inputs, no output.
    Count(Arc<AtomicU64>),
}

impl Node {
    /// Nodes kept by pruning even though no output reads them: they change variables.
    pub fn is_stateful(&self) -> bool {
        matches!(self, Node::Assign | Node::Update(_) | Node::Count(_))
    }
    /// The op, for a plain op node.
    pub fn op(&self) -> Option<&Op> {
        match self {
            Node::Op(op) => Some(op),
            _ => None,
        }
    }
}

/// One recorded op of a graph.
#[derive(Clone)]
pub struct GraphOp {
    pub op: Node,
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
    /// The values the call returns (one for a `function`; a traced Keras train step returns
    /// the loss and the predictions).
    pub outputs: Vec<Source>,
    /// For each op, the index of the last op that reads its output (`usize::MAX` when only the
    /// graph's output does): a replay frees an intermediate as soon as it is dead.
    pub(crate) last_use: Vec<usize>,
}

impl Graph {
    /// Keeps only the ops that the output depends on (ops run for a `println!` or an `.item()`
    /// read inside the closure are not replayed), renumbered in order.
    pub fn pruned(ops: Vec<GraphOp>, outputs: Vec<Source>) -> Graph {
        let mut live: Vec<bool> = ops.iter().map(|o| o.op.is_stateful()).collect();
        for o in &outputs {
            if let Source::Node(i) = o {
                live[*i] = true;
            }
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
        let outputs: Vec<Source> = outputs
            .into_iter()
            .map(|o| match o {
                Source::Node(i) => Source::Node(new_index[i]),
                other => other,
            })
            .collect();
        let mut last_use = vec![usize::MAX; kept.len()];
        for (i, op) in kept.iter().enumerate() {
            for s in &op.inputs {
                if let Source::Node(j) = s {
                    last_use[*j] = i;
                }
            }
        }
        for o in &outputs {
            if let Source::Node(i) = o {
                last_use[*i] = usize::MAX;
            }
        }
        Graph {
            ops: kept,
            outputs,
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
        let outs: Vec<String> = self.outputs.iter().map(source_name).collect();
        t.note(format!("output: {}", outs.join(", ")))
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
fn op_label(node: &Node) -> String {
    let op = match node {
        Node::Op(op) => op,
        Node::Random { dist, seed, .. } => {
            let seed = seed.map(|s| format!(" seed {s}")).unwrap_or_default();
            return match dist {
                RandomDist::Uniform { lo, hi } => format!("random_uniform [{lo}, {hi}){seed}"),
                RandomDist::Normal { mean, std } => format!("random_normal ({mean}, {std}){seed}"),
            };
        }
        Node::Assign => return "assign".into(),
        Node::Update(rule) => return format!("apply_update {}", rule_name(&rule())),
        Node::Count(_) => return "iterations += 1".into(),
    };
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

fn rule_name(r: &UpdateRule) -> &'static str {
    match r {
        UpdateRule::Sgd { .. } => "sgd",
        UpdateRule::Adam { .. } => "adam",
        UpdateRule::RmsProp { .. } => "rmsprop",
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
