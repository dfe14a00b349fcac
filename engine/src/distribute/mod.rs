//! Distribution strategies, as TF's `tf.distribute`: data parallelism over the replicas of one
//! process ([`MirroredStrategy`]), and model parallelism over devices ([`Pipeline`], GPipe).
//!
//! ```
//! use ferrolab::prelude::*;
//! use ferrolab::distribute::MirroredStrategy;
//! ferrolab::config::set_logical_device_configuration(Device::Cpu, 2).unwrap();
//! let strategy = MirroredStrategy::new();
//! assert_eq!(strategy.num_replicas_in_sync(), 2);
//! let mut model = strategy.scope(|| {
//!     let mut m = Sequential::new().add(Dense::new(4).activation("relu")).add(Dense::new(1));
//!     m.compile(SGD::new(0.1), "mse", &[]);
//!     m
//! });
//! let (x, y) = (randn([64, 3]), randn([64, 1]));
//! model.fit(&x, &y).batch_size(32).verbose(0).run(); // each batch: 16 rows per replica
//! ferrolab::config::set_logical_device_configuration(Device::Cpu, 1).unwrap();
//! ```
//!
//! How a mirrored step works (`fit` under a strategy, [`mirrored_train_step`]):
//! 1. the global batch is split along its first axis into one shard per replica (the first
//!    `n % replicas` replicas get one row more; a replica with no rows sits the step out);
//! 2. every replica runs forward and backward on its shard on its own thread, inside its logical
//!    device's scope (its share of the cores);
//! 3. each replica's loss is scaled by the global batch (`loss_r * n_r / n`, TF's
//!    `compute_average_loss`), so the gradients' sum is the gradient of the global batch's mean;
//! 4. the gradients are all-reduced (summed) in process, and one update is applied.
//!
//! Logical CPU replicas share one memory, so a mirrored variable is one tensor that every replica
//! reads; the single update is what every replica sees. GPUs: one GPU is one replica; several
//! GPUs would need NCCL's all-reduce, which is not built yet (`with_devices` says so).

mod mirrored;
mod pipeline;
mod reduce;
mod step;

pub use mirrored::{current_strategy, MirroredStrategy};
pub use pipeline::{Pipeline, PipelineEvent};
pub use reduce::{compute_average_loss, PerReplica, Reduce, ReduceOp};
pub use step::mirrored_train_step;
