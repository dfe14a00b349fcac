//! Replay: runs a traced graph on new arguments, op by op through `dispatch::apply`, without the
//! closure's Rust code. Because every op goes through the one door, a `GradientTape` around a
//! replay records it, interrupts stop it, device checks and errors behave as in eager mode.
//! Intermediates are dropped as soon as no later op reads them. Stateful nodes run again:
//! random draws draw fresh numbers, assigns and optimizer updates change their variables, and
//! an optimizer's step counter counts.
//!
//! With `jit_compile`, the same walk runs over the fusion plan (`fuse.rs`): a fused group runs
//! as one pass and writes only the values the rest of the graph reads.

use super::fuse::{self, Step};
use std::sync::atomic::Ordering;

use super::graph::{Graph, Node, Source};
use crate::autodiff::Variable;
use crate::error::{invalid, Result};
use crate::tensor::create::random_on;
use crate::tensor::dispatch::{record_effect, Effect};
use crate::tensor::{apply, Tensor};

/// Runs `graph` with `args`: by the fusion plan when `jit` and no recorder (a tape) watches this
/// thread, op by op otherwise; the output tensors.
pub fn run(graph: &Graph, plan: &[Step], jit: bool, args: &[Tensor]) -> Result<Vec<Tensor>> {
    if jit && !crate::tensor::dispatch::recording() {
        replay_fused(graph, plan, args)
    } else {
        replay(graph, args)
    }
}

/// Runs `graph` with `args` as its inputs; the output tensors.
pub(crate) fn replay(graph: &Graph, args: &[Tensor]) -> Result<Vec<Tensor>> {
    let mut values: Vec<Option<Tensor>> = vec![None; graph.ops.len()];
    for i in 0..graph.ops.len() {
        run_op(graph, i, args, &mut values)?;
    }
    Ok(graph
        .outputs
        .iter()
        .map(|o| resolve(o, args, &values))
        .collect())
}

/// Runs `graph` by the fusion plan `steps` (on the CPU, with no recorder active).
pub(crate) fn replay_fused(graph: &Graph, steps: &[Step], args: &[Tensor]) -> Result<Vec<Tensor>> {
    let mut values: Vec<Option<Tensor>> = vec![None; graph.ops.len()];
    for step in steps {
        match step {
            Step::Op(i) => run_op(graph, *i, args, &mut values)?,
            Step::Group(g) => {
                let ext = fuse::ext_tensors(g, graph, args, &values);
                match fuse::run_group(g, &ext) {
                    Some(outs) => {
                        for (&(_, op), t) in g.outputs().iter().zip(outs) {
                            values[op] = Some(t);
                        }
                        for i in g.first..=g.last {
                            free_dead_inputs(graph, i, &mut values);
                        }
                    }
                    // not float32 CPU data: the ops one by one
                    None => {
                        for i in g.first..=g.last {
                            run_op(graph, i, args, &mut values)?;
                        }
                    }
                }
            }
        }
    }
    Ok(graph
        .outputs
        .iter()
        .map(|o| resolve(o, args, &values))
        .collect())
}

fn run_op(graph: &Graph, i: usize, args: &[Tensor], values: &mut [Option<Tensor>]) -> Result<()> {
    let g = &graph.ops[i];
    let ins: Vec<Tensor> = g.inputs.iter().map(|s| resolve(s, args, values)).collect();
    let refs: Vec<&Tensor> = ins.iter().collect();
    // every node reports itself to the recorders again (an outer trace, a tape)
    let out = match &g.op {
        Node::Op(op) => Some(apply(op.clone(), &refs)?),
        Node::Random { dist, seed, device } => {
            Some(random_on(*dist, g.shape.clone(), *seed, *device)?)
        }
        Node::Assign => {
            variable(&ins[0])?.try_assign(&ins[1])?;
            None
        }
        Node::Update(rule) => {
            let slots = ins[2..]
                .iter()
                .map(variable)
                .collect::<Result<Vec<Variable>>>()?;
            let slot_refs: Vec<&Variable> = slots.iter().collect();
            variable(&ins[0])?.fused_update_at(&ins[1], &slot_refs, rule(), rule)?;
            None
        }
        Node::Count(c) => {
            c.fetch_add(1, Ordering::Relaxed);
            record_effect(&Effect::Count(c));
            None
        }
    };
    free_dead_inputs(graph, i, values);
    values[i] = out;
    Ok(())
}

fn variable(t: &Tensor) -> Result<Variable> {
    Variable::from_handle(t).ok_or_else(|| invalid("function", "a traced assign needs a Variable"))
}

/// Drops the intermediates whose last reader is op `i`.
fn free_dead_inputs(graph: &Graph, i: usize, values: &mut [Option<Tensor>]) {
    for s in &graph.ops[i].inputs {
        if let Source::Node(j) = s {
            if graph.last_use[*j] == i {
                values[*j] = None;
            }
        }
    }
}

fn resolve(s: &Source, args: &[Tensor], values: &[Option<Tensor>]) -> Tensor {
    match s {
        Source::Input(i) => args[*i].clone(),
        Source::Node(i) => values[*i]
            .clone()
            .expect("a traced op's output is live until its last reader"),
        Source::Constant(t) | Source::Variable(t) => t.clone(),
    }
}
