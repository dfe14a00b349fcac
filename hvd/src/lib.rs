//! # ferrolab-hvd: Horovod-style data parallelism over MPI
//!
//! A single-process training program becomes a data-parallel one with four changes, as with
//! Horovod (`import horovod.tensorflow.keras as hvd`):
//!
//! ```text
//!   let _hvd = hvd::init()?;                                   // 1. start MPI
//!   let (x, y) = shard(&x, &y, hvd::rank(), hvd::size());      // 2. each rank its own rows
//!   model.compile(hvd::DistributedOptimizer::new(Adam::new(1e-3)), loss, &["accuracy"]); // 3.
//!   model.fit(&x, &y).callback(hvd::BroadcastGlobalVariablesCallback::new(0)).run();   // 4.
//! ```
//!
//! and runs as `mpirun -np 2 program`. [`DistributedOptimizer`] averages every gradient over the
//! ranks (MPI_Allreduce, then / size) before the wrapped optimizer applies it, so every rank makes
//! the same update; [`broadcast_variables`] (and the callback, at the start of `fit`) copies rank
//! 0's initial weights to the others, so they start equal and stay equal.
//!
//! Built on the `mpi` crate (rsmpi) over the system's MPI (Debian's OpenMPI; install.sh installs
//! it). It is a workspace crate beside the engine and never an engine dependency: notebook cells
//! never link MPI. Gradients are reduced on the host (a CPU copy of each tensor); a GPU build
//! would hand device buffers to NCCL instead, which is not built here.

use std::sync::atomic::{AtomicBool, Ordering};

use ferrolab::autodiff::Variable;
use ferrolab::keras::callbacks::{Callback, CallbackContext};
use ferrolab::keras::models::Logs;
use ferrolab::keras::optimizers::{Optimizer, OptimizerCore};
use ferrolab::prelude::*;
use mpi::collective::SystemOperation;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::*;

static STARTED: AtomicBool = AtomicBool::new(false);

/// MPI, started by [`init`]; dropping it finalises MPI (keep it alive until the end of `main`).
pub struct Hvd {
    _universe: mpi::environment::Universe,
}

/// Starts MPI (Horovod's `hvd.init()`). Run the program under `mpirun -np N`; run alone it is
/// one rank of size 1. Keep the returned guard until the end of `main`.
pub fn init() -> Result<Hvd> {
    match mpi::initialize() {
        Some(universe) => {
            STARTED.store(true, Ordering::SeqCst);
            Ok(Hvd {
                _universe: universe,
            })
        }
        None => Err(Error::Msg(
            "hvd::init: MPI is already initialised in this process; call hvd::init() once, at the start of main".into(),
        )),
    }
}

fn world() -> SimpleCommunicator {
    assert!(
        STARTED.load(Ordering::SeqCst),
        "ferrolab-hvd: call hvd::init() first (at the start of main)"
    );
    SimpleCommunicator::world()
}

/// This process's rank, 0..size (`hvd.rank()`).
pub fn rank() -> usize {
    world().rank() as usize
}

/// The number of processes (`hvd.size()`).
pub fn size() -> usize {
    world().size() as usize
}

/// The rank among the processes on this machine (`hvd.local_rank()`): the GPU a rank should
/// use on a multi-GPU node.
pub fn local_rank() -> usize {
    world().split_shared(0).rank() as usize
}

/// Sums `buf` over all ranks, in place (MPI_Allreduce with MPI_SUM).
pub fn allreduce_sum(buf: &mut [f32]) {
    let send = buf.to_vec();
    world().all_reduce_into(&send[..], buf, SystemOperation::sum());
}

/// The average of `t` over all ranks (`hvd.allreduce(t, op=Average)`), as an f32 tensor on
/// `t`'s device.
pub fn allreduce(t: &Tensor) -> Tensor {
    let mut v = t.to_f32_vec();
    allreduce_sum(&mut v);
    let n = size() as f32;
    v.iter_mut().for_each(|x| *x /= n);
    from_vec(v, t.dims().to_vec())
        .expect("same shape")
        .to(t.device())
}

/// Copies `root`'s values of `vars` to every rank (`hvd.broadcast_variables(vars, root_rank)`).
pub fn broadcast_variables(vars: &[Variable], root: usize) {
    let w = world();
    let root_proc = w.process_at_rank(root as i32);
    for v in vars {
        let mut buf = v.read_value().to_f32_vec();
        root_proc.broadcast_into(&mut buf[..]);
        let t = from_vec(buf, v.dims().to_vec())
            .expect("same shape")
            .cast(v.dtype())
            .to(v.device());
        v.assign(t);
    }
}

/// Blocks until every rank has arrived (`hvd.join()`-like barrier).
pub fn barrier() {
    world().barrier();
}

/// Wraps an optimizer so that each gradient is averaged over the ranks before it is applied
/// (`hvd.DistributedOptimizer(opt)`).
pub struct DistributedOptimizer<O: Optimizer> {
    inner: O,
}

impl<O: Optimizer> DistributedOptimizer<O> {
    pub fn new(optimizer: O) -> Self {
        DistributedOptimizer { inner: optimizer }
    }
}

impl<O: Optimizer> Optimizer for DistributedOptimizer<O> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn core(&self) -> &OptimizerCore {
        self.inner.core()
    }
    fn core_mut(&mut self) -> &mut OptimizerCore {
        self.inner.core_mut()
    }
    fn build(&mut self, vars: &[&Variable]) {
        self.inner.build(vars)
    }
    fn update_step(&mut self, grad: &Tensor, var: &Variable, lr: f32) {
        self.inner.update_step(grad, var, lr)
    }
    /// Averages every gradient over the ranks (one allreduce per tensor, in the same order on
    /// every rank; a `None` gradient stays `None` on every rank), then applies them.
    fn apply_gradients(&mut self, grads: &[Option<Tensor>], vars: &[&Variable]) {
        let averaged: Vec<Option<Tensor>> =
            grads.iter().map(|g| g.as_ref().map(allreduce)).collect();
        self.inner.apply_gradients(&averaged, vars)
    }
    fn loss_scale(&self) -> Option<f32> {
        self.inner.loss_scale()
    }
}

/// Broadcasts rank `root`'s weights to every rank when `fit` starts (after the first step when
/// the model builds its weights lazily), as Horovod's `BroadcastGlobalVariablesCallback`.
pub struct BroadcastGlobalVariablesCallback {
    root: usize,
    done: bool,
}

impl BroadcastGlobalVariablesCallback {
    pub fn new(root: usize) -> Self {
        BroadcastGlobalVariablesCallback { root, done: false }
    }
}

impl Callback for BroadcastGlobalVariablesCallback {
    fn on_train_begin(&mut self, ctx: &mut CallbackContext) {
        if !self.done && !ctx.weights.is_empty() {
            broadcast_variables(ctx.weights, self.root);
            self.done = true;
        }
    }
    fn on_train_batch_end(&mut self, _batch: usize, _logs: &Logs, ctx: &mut CallbackContext) {
        if !self.done && !ctx.weights.is_empty() {
            broadcast_variables(ctx.weights, self.root);
            self.done = true;
        }
    }
}

/// Rows `rank, rank + size, ...` of `t` (`ds.shard(size, rank)` on arrays).
pub fn shard(t: &Tensor, rank: usize, size: usize) -> Tensor {
    let n = t.dims()[0];
    let idx: Vec<i64> = (rank..n).step_by(size).map(|i| i as i64).collect();
    let len = idx.len();
    t.gather(&from_vec(idx, [len]).expect("index"), 0)
}

/// Runs this program again under `mpirun -np <np>` with `args`, and returns its exit status;
/// a clear error when MPI's launcher is not installed.
pub fn launch(np: usize, args: &[String]) -> Result<std::process::ExitStatus> {
    let exe = std::env::current_exe().map_err(|e| Error::Msg(format!("hvd::launch: {e}")))?;
    let mut cmd = std::process::Command::new("mpirun");
    cmd.arg("-np").arg(np.to_string());
    if std::env::var("OMPI_ALLOW_RUN_AS_ROOT").is_ok() || np > 1 {
        cmd.arg("--oversubscribe");
    }
    cmd.arg(exe).args(args);
    cmd.status().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Msg("MPI is missing: `mpirun` was not found on PATH. Install OpenMPI (./install.sh does it, or `apt-get install openmpi-bin libopenmpi-dev`), then run again".into())
        } else {
            Error::Msg(format!("hvd::launch: could not start mpirun: {e}"))
        }
    })
}
