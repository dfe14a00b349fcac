//! `keras.Sequential`: a plain stack of layers, one input and one output.

use std::sync::{Arc, Mutex};

use super::{KerasModel, Summary, TrainingState};
use crate::autodiff::Variable;
use crate::keras::layers::{unique_name, Autocast, Layer};
use crate::keras::saving;
use crate::tensor::Tensor;

/// ```
/// use ferrolab::prelude::*;
/// let model = Sequential::new()
///     .add(Dense::new(16).activation("relu"))
///     .add(Dense::new(1))
///     .input_shape([4]);
/// assert_eq!(model.count_params(), 4 * 16 + 16 + 16 + 1);
/// ```
pub struct Sequential {
    name: String,
    layers: Vec<Arc<dyn Layer>>,
    input_shape: Mutex<Option<Vec<usize>>>,
    state: TrainingState,
}

impl Sequential {
    pub fn new() -> Sequential {
        Sequential {
            name: unique_name("sequential"),
            layers: Vec::new(),
            input_shape: Mutex::new(None),
            state: TrainingState::default(),
        }
    }
    /// Appends a layer (`model.add(layer)`), builder style.
    #[allow(clippy::should_implement_trait)] // Keras' name, not `+`
    pub fn add(mut self, layer: impl Layer + 'static) -> Sequential {
        self.layers.push(Arc::new(layer));
        self
    }
    /// Appends a layer to an existing model.
    pub fn push(&mut self, layer: impl Layer + 'static) {
        self.layers.push(Arc::new(layer));
    }
    /// Declares the input shape (without the batch axis) and builds every layer now, like
    /// starting with `keras.Input(shape)`.
    #[track_caller]
    pub fn input_shape(self, shape: impl Into<crate::shape::Shape>) -> Sequential {
        crate::error::or_panic(self.try_input_shape(shape))
    }
    /// [`input_shape`](Self::input_shape), returning a layer's rejection of the shape as an error.
    /// The layers are called on a shape-only input: no kernel runs.
    pub fn try_input_shape(
        self,
        shape: impl Into<crate::shape::Shape>,
    ) -> crate::Result<Sequential> {
        let dims = shape.into().dims().to_vec();
        let x = super::functional::symbolic_batch(&dims, crate::dtype::DType::F32);
        super::functional::call_symbolic(
            "Sequential",
            &self,
            &[x],
            &[super::summary::shape_str(&dims)],
        )?;
        Ok(self)
    }
    pub fn named(mut self, name: &str) -> Sequential {
        self.name = name.to_string();
        self
    }
    /// Saves the whole model, architecture and weights, to one safetensors file (the
    /// architecture is JSON in its metadata), atomically: `model.save("model.safetensors")`.
    pub fn save(&self, path: &str) -> crate::Result<()> {
        let shape = self
            .input_shape
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let arch = serde_json::json!({
            "class_name": "Sequential",
            "name": self.name,
            "input_shape": shape,
            "layers": self.layers.iter().map(|l| saving::layer_entry(&**l)).collect::<Vec<_>>(),
        });
        saving::save_model(path, &self.weights(), &arch)
    }

    /// Rebuilds a model saved with [`Sequential::save`] (`keras.models.load_model`). It is not
    /// compiled: call `compile` before training it further.
    pub fn load(path: &str) -> crate::Result<Sequential> {
        let arch = saving::load_architecture(path, "Sequential")?;
        let mut model = Sequential::new();
        if let Some(n) = arch["name"].as_str() {
            model.name = n.to_string();
        }
        model.layers = saving::rebuild_layers(&arch)?;
        if let Some(shape) = arch["input_shape"].as_array() {
            let dims: Vec<usize> = shape
                .iter()
                .map(|d| d.as_u64().unwrap_or(0) as usize)
                .collect();
            model = model.try_input_shape(dims).map_err(|e| {
                crate::error::invalid("load_model", format!("rebuilding the layers failed: {e}"))
            })?;
        }
        saving::load_variables(path, &model.weights())?;
        Ok(model)
    }

    /// The layer at `index` (`model.layers[index]`).
    pub fn layer(&self, index: usize) -> Arc<dyn Layer> {
        self.layers[index].clone()
    }
}

impl Default for Sequential {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer for Sequential {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn class_name(&self) -> &'static str {
        "Sequential"
    }
    /// Each layer of the model casts for itself.
    fn autocast(&self) -> Autocast {
        Autocast::Off
    }
    fn call(&self, x: &Tensor, training: bool) -> Tensor {
        {
            let mut s = self.input_shape.lock().unwrap_or_else(|e| e.into_inner());
            if s.is_none() {
                *s = Some(x.dims().get(1..).unwrap_or(&[]).to_vec());
            }
        }
        // The padding mask travels with the activations (Keras' `_keras_mask`): layers that
        // accept one get it as a last input, and `compute_mask` says what goes on.
        let mut mask: Option<Tensor> = None;
        self.layers.iter().fold(x.clone(), |h, l| {
            let y = match (&mask, l.accepts_mask()) {
                (Some(m), true) => l.invoke(&[h.clone(), m.clone()], training),
                _ => l.invoke(std::slice::from_ref(&h), training),
            };
            mask = l
                .compute_mask(std::slice::from_ref(&h), mask.as_ref())
                .filter(|m| y.rank() >= 3 && m.dims() == &y.dims()[..2]);
            y
        })
    }
    fn weights(&self) -> Vec<Variable> {
        let all: Vec<Variable> = self.layers.iter().flat_map(|l| l.weights()).collect();
        // Keras lists trainable weights first
        let (mut t, n): (Vec<_>, Vec<_>) = all.into_iter().partition(|w| w.trainable());
        t.extend(n);
        t
    }
    fn losses(&self) -> Vec<Tensor> {
        self.layers.iter().flat_map(|l| l.losses()).collect()
    }
    fn layers(&self) -> Vec<Arc<dyn Layer>> {
        self.layers.clone()
    }
}

impl KerasModel for Sequential {
    fn training_state(&mut self) -> &mut TrainingState {
        &mut self.state
    }
    fn summary(&self) -> Summary {
        let shape = self
            .input_shape
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Summary::of_layers(&self.name, &self.layers, shape.as_deref())
    }
}
