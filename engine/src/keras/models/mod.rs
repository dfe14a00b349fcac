//! Models, three ways: [`Sequential`], the Functional API ([`Input`] -> layer calls ->
//! [`Model::new`]) and subclassing (your struct implements [`Layer`](super::layers::Layer) and
//! [`KerasModel`]). All three share `compile`, `fit`, `evaluate`, `predict` and `summary`.

mod data_adapter;
mod functional;
mod history;
mod jit_step;
mod sequential;
mod summary;
mod training;

pub use data_adapter::Batch;
pub use functional::{try_apply, Input, LayerApply, Model, SymbolicTensor};
pub use history::{History, Logs};
pub use sequential::Sequential;
pub use summary::Summary;
pub(crate) use training::{compiled_loss, unscale_gradients};
pub use training::{predicted_classes, CompileOptions, FitBuilder, KerasModel, TrainingState};
