//! `MirroredStrategy`: its replicas, its scope, and `run` / `reduce` /
//! `experimental_distribute_dataset` for custom training loops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use super::reduce::{reduce, PerReplica, Reduce, ReduceOp};
use crate::config::{self, LogicalDevice};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::keras::models::Batch;
use crate::tensor::Tensor;

/// Synchronous data parallelism over the replicas of one process (TF's
/// `tf.distribute.MirroredStrategy`). See the [module](super) for how a step works.
#[derive(Clone, Debug)]
pub struct MirroredStrategy {
    replicas: Arc<Vec<LogicalDevice>>,
}

impl Default for MirroredStrategy {
    fn default() -> Self {
        Self::new()
    }
}

impl MirroredStrategy {
    /// Every usable GPU, else every logical CPU (see `config::set_logical_device_configuration`).
    pub fn new() -> MirroredStrategy {
        let gpus = config::logical_gpu_devices();
        if gpus.len() == 1 {
            return MirroredStrategy {
                replicas: Arc::new(gpus),
            };
        }
        if gpus.len() > 1 {
            eprintln!("MirroredStrategy: {} GPUs found, but the all-reduce across GPUs (NCCL) is not built yet; using one replica on /device:GPU:0", gpus.len());
            return MirroredStrategy {
                replicas: Arc::new(gpus[..1].to_vec()),
            };
        }
        MirroredStrategy {
            replicas: Arc::new(config::logical_cpu_devices()),
        }
    }

    /// Replicas on the named logical devices, e.g. `&["/cpu:0", "/cpu:1"]` (TF's
    /// `MirroredStrategy(devices=[..])`).
    pub fn with_devices<S: AsRef<str>>(devices: &[S]) -> Result<MirroredStrategy> {
        if devices.is_empty() {
            return Err(Error::Msg(
                "MirroredStrategy::with_devices: give at least one device, e.g. &[\"/cpu:0\", \"/cpu:1\"]".into(),
            ));
        }
        let replicas = devices
            .iter()
            .map(|d| config::logical_device(d.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let gpus = replicas.iter().filter(|d| d.device.is_cuda()).count();
        if gpus > 0 && replicas.len() > 1 {
            return Err(Error::Msg(format!(
                "MirroredStrategy over several devices with a GPU among them ({}) needs NCCL's all-reduce between GPUs, which is not built yet; use one GPU, or logical CPUs",
                replicas.iter().map(|d| d.name.clone()).collect::<Vec<_>>().join(", ")
            )));
        }
        for (i, a) in replicas.iter().enumerate() {
            if replicas[..i].contains(a) {
                return Err(Error::Msg(format!(
                    "MirroredStrategy::with_devices: {} is listed twice",
                    a.name
                )));
            }
        }
        Ok(MirroredStrategy {
            replicas: Arc::new(replicas),
        })
    }

    /// The number of replicas that run each step (TF's `num_replicas_in_sync`).
    pub fn num_replicas_in_sync(&self) -> usize {
        self.replicas.len()
    }

    /// The replicas' logical devices, in replica order.
    pub fn extended_devices(&self) -> &[LogicalDevice] {
        &self.replicas
    }

    /// Runs `f` under this strategy (TF's `with strategy.scope():`): a model compiled inside
    /// trains with this strategy in `fit`, and tensors made inside (its weights) go to the
    /// replicas' device.
    pub fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let me = std::thread::current().id();
        scopes()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(me)
            .or_default()
            .push(self.clone());
        struct Close(ThreadId);
        impl Drop for Close {
            fn drop(&mut self) {
                let mut s = scopes().lock().unwrap_or_else(|e| e.into_inner());
                if let Some(v) = s.get_mut(&self.0) {
                    v.pop();
                    if v.is_empty() {
                        s.remove(&self.0);
                    }
                }
            }
        }
        let _close = Close(me);
        // variables made inside live on the replicas' device, as in TF
        crate::runtime::with_device(self.replicas[0].device, f)
    }

    /// Splits a global batch into one shard per replica along the first axis: sizes differ by at
    /// most one row (the first replicas get the extra rows); replicas with no rows are left out.
    pub fn split_batch(&self, batch: &Batch) -> Vec<Batch> {
        let n = batch.len();
        shard_sizes(n, self.num_replicas_in_sync())
            .into_iter()
            .filter(|(_, len)| *len > 0)
            .map(|(start, len)| {
                let rows = |ts: &[Tensor]| ts.iter().map(|t| t.narrow(0, start, len)).collect();
                Batch::new(rows(&batch.x), rows(&batch.y))
            })
            .collect()
    }

    /// TF's `experimental_distribute_dataset`: each global batch `(x, y)` becomes one shard per
    /// replica.
    pub fn experimental_distribute_dataset(
        &self,
        ds: &Dataset<(Tensor, Tensor)>,
    ) -> Dataset<PerReplica<(Tensor, Tensor)>> {
        let s = self.clone();
        ds.map(move |(x, y)| PerReplica {
            values: s
                .split_batch(&Batch::new(vec![x], vec![y]))
                .into_iter()
                .map(|b| (b.x[0].clone(), b.y[0].clone()))
                .collect(),
        })
    }

    /// TF's `strategy.run(fn, args=(inputs,))`: `f` runs on every replica's thread, in its logical
    /// device's scope, on that replica's input; the results come back per replica. A replica
    /// that panics makes `run` panic with the replica's name and message, after every other
    /// replica has finished.
    ///
    /// `f` must not apply an optimizer (that would update the shared weights once per replica):
    /// return the gradients, `reduce(SUM, ..)` them, and apply once, as in notebook 13.
    pub fn run<T: Sync, R: Send>(
        &self,
        f: impl Fn(&T) -> R + Sync,
        inputs: &PerReplica<T>,
    ) -> PerReplica<R> {
        assert!(
            inputs.len() <= self.num_replicas_in_sync(),
            "strategy.run: {} inputs for {} replicas",
            inputs.len(),
            self.num_replicas_in_sync()
        );
        match self.on_replicas(inputs.len(), |i| f(&inputs.values[i])) {
            Ok(values) => PerReplica { values },
            Err(msg) => panic!("{msg}"),
        }
    }

    /// TF's `strategy.reduce(ReduceOp::SUM | MEAN, per_replica, axis=None)`.
    pub fn reduce<T: Reduce + Clone>(&self, op: ReduceOp, value: &PerReplica<T>) -> T {
        reduce(op, value)
    }

    /// Runs `f(i)` for replicas `0..active`, each on its own thread in its device's scope, and
    /// joins them all. Err names the first replica that panicked.
    pub(crate) fn on_replicas<R: Send>(
        &self,
        active: usize,
        f: impl Fn(usize) -> R + Sync,
    ) -> std::result::Result<Vec<R>, String> {
        let f = &f;
        let results: Vec<std::result::Result<R, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = self.replicas[..active]
                .iter()
                .enumerate()
                .map(|(i, dev)| {
                    std::thread::Builder::new()
                        .name(format!("ferrolab-replica-{i}"))
                        .spawn_scoped(s, move || {
                            // quiet: the replica's panic is reported once, by the caller,
                            // with the replica's name; interrupts wait for the step's end
                            crate::state::catch_quietly(|| dev.scope(|| f(i)))
                        })
                        .expect("spawn a replica thread")
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("panic".into())))
                .collect()
        });
        let mut out = Vec::with_capacity(active);
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(v) => out.push(v),
                Err(msg) => {
                    return Err(format!(
                        "MirroredStrategy: replica {i} ({}) panicked: {msg}",
                        self.replicas[i].name
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// (start, len) of each replica's rows of an `n`-row batch.
fn shard_sizes(n: usize, replicas: usize) -> Vec<(usize, usize)> {
    let (base, extra) = (n / replicas, n % replicas);
    let mut start = 0;
    (0..replicas)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let s = (start, len);
            start += len;
            s
        })
        .collect()
}

type Scopes = Mutex<HashMap<ThreadId, Vec<MirroredStrategy>>>;

fn scopes() -> &'static Scopes {
    crate::state::slot!("distribute.scopes", Scopes, Default::default)
}

/// The strategy of the innermost open [`MirroredStrategy::scope`] on this thread (TF's
/// `tf.distribute.get_strategy()` inside a scope).
pub fn current_strategy() -> Option<MirroredStrategy> {
    let s = scopes().lock().unwrap_or_else(|e| e.into_inner());
    s.get(&std::thread::current().id())
        .and_then(|v| v.last().cloned())
}

#[cfg(test)]
mod tests {
    use super::shard_sizes;
    #[test]
    fn shards_cover_the_batch_and_differ_by_at_most_one() {
        assert_eq!(shard_sizes(32, 2), vec![(0, 16), (16, 16)]);
        assert_eq!(shard_sizes(7, 3), vec![(0, 3), (3, 2), (5, 2)]);
        assert_eq!(shard_sizes(1, 2), vec![(0, 1), (1, 0)]);
    }
}
