//! # Ferrolab engine
//!
//! Eager tensors on the CPU (and the GPU when there is one), GradientTape autodiff, a Keras-like
//! API, tf.data-style pipelines and inline plots, for learning deep learning in Rust notebooks.
//!
//! ```
//! use ferrolab::prelude::*;
//! let x = tensor([[1.0, 2.0], [3.0, 4.0]]);
//! let w = Variable::new(ones([2, 1]));
//! let tape = GradientTape::new();
//! let loss = x.matmul(&w).square().mean();
//! let [dw] = tape.gradient(&loss, [&w]);
//! // loss = mean((xw)^2)  =>  dloss/dw = x^T (xw) = [24, 34]
//! assert_eq!(dw.unwrap().to_vec::<f32>(), vec![24.0, 34.0]);
//! ```
//!
//! Modules, in the order data moves through them:
//! - [`state`]: the process-wide home of engine state (seed, device, cancel flag, tapes);
//! - [`dtype`], [`shape`], [`device`]: what a tensor is made of and where it lives;
//! - [`storage`]: the backend boundary, `enum Storage { Cpu, Cuda }` over a few primitives, and
//!   `BackendDevice` for what a device does beyond ops (allocate, draw, synchronise);
//! - [`runtime`]: the default device (`with_device` scopes over a process default), GPU info,
//!   memory stats;
//! - [`config`]: logical devices (the CPU split in n, as `tf.config` does for testing strategies);
//! - [`tensor`]: the `Tensor` handle, creation, views and math (one file per op family);
//! - [`autodiff`]: `Variable` and `GradientTape`;
//! - [`function`]: traced functions (`tf.function`): trace once per input signature, replay;
//! - [`keras`]: layers, models, losses, metrics, optimizers, callbacks and saving;
//! - [`distribute`]: `MirroredStrategy` (data parallelism over replicas) and `Pipeline` (a model
//!   split over devices, GPipe micro-batches);
//! - [`display`]: the display line protocol that the kernel turns into rich output, the
//!   `Display` trait, tables and progress bars;
//! - [`plot`]: inline charts, heatmaps, image grids and live plots.

pub mod autodiff;
pub mod config;
pub mod data;
pub mod datasets;
pub mod device;
pub mod display;
pub mod distribute;
pub mod dtype;
pub mod error;
pub mod function;
pub mod keras;
pub mod plot;
pub mod random;
pub mod runtime;
pub mod shape;
pub mod state;
pub mod storage;
pub mod tensor;

pub use error::{Error, Result};

/// The engine's version, like `tf.__version__`: `ferrolab::VERSION` or `version()`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The engine's version string (`tf.__version__`), e.g. `"0.1.0"`.
pub fn version() -> &'static str {
    VERSION
}
/// The JSON crate behind `Layer::get_config()` and saved model configs, so a notebook can name
/// `ferrolab::serde_json::Value` and use `ferrolab::serde_json::json!`.
pub use serde_json;

/// Everything a notebook cell needs; the kernel imports it in every cell.
pub mod prelude {
    pub use crate::autodiff::{stop_gradient, GradientTape, UnconnectedGradients, Variable};
    pub use crate::config;
    pub use crate::data::{self, timeseries_dataset_from_array, CsvOptions, Dataset, AUTOTUNE};
    pub use crate::datasets;
    pub use crate::device::Device;
    pub use crate::display::{
        clear_output, display, update_display, Display, DisplayHandle, Html, ProgressBar, Table,
    };
    pub use crate::distribute::{self, MirroredStrategy, PerReplica, Pipeline, ReduceOp};
    pub use crate::dtype::{bf16, f16, DType};
    pub use crate::function::{function, function2, function3, ConcreteFunction, Function};
    pub use crate::keras;
    pub use crate::keras::callbacks::{
        Callback, EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau,
    };
    pub use crate::keras::layers::{
        Activation, Add, AveragePooling2D, BatchNormalization, Concatenate, Conv1D, Conv2D,
        Conv2DTranspose, Dense, Dropout, Embedding, Flatten, GlobalAveragePooling1D,
        GlobalAveragePooling2D, Layer, LayerArgs, LayerNormalization, MaxPooling2D,
        MultiHeadAttention, PositionEmbedding, Reshape, Sampler, SimpleRNN, SinePositionEncoding,
        Softmax, TextVectorization, TransformerDecoder, TransformerEncoder, TransformerLM,
        UpSampling2D, GRU, LSTM,
    };
    pub use crate::keras::losses::{
        BinaryCrossentropy, CategoricalCrossentropy, Huber, KLDivergence, Loss, MeanAbsoluteError,
        MeanSquaredError, SparseCategoricalCrossentropy,
    };
    pub use crate::keras::metrics::{self, confusion_matrix};
    pub use crate::keras::mixed_precision::{self, LossScaleOptimizer, Policy};
    pub use crate::keras::models::{
        Batch, History, Input, KerasModel, LayerApply, Logs, Model, Sequential, TrainingState,
    };
    pub use crate::keras::optimizers::{
        Adam, AdamW, CosineDecay, ExponentialDecay, Optimizer, RMSprop, TransformerSchedule, SGD,
    };
    pub use crate::keras::regularizers::{l1, l2};
    pub use crate::plot::{self, Figure, ImageGrid, LivePlot};
    pub use crate::random::set_seed;
    pub use crate::runtime::{default_device, gpu_info, set_default_device, with_device};
    pub use crate::s;
    pub use crate::shape::Shape;
    pub use crate::tensor::create::*;
    pub use crate::tensor::math::*;
    pub use crate::tensor::{concat, one_hot, stack, where_, Tensor};
    pub use crate::{version, Error, Result, VERSION};
}
