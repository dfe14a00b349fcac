//! Merging layers for several inputs: Add and Concatenate.

use super::{Layer, LayerBase};
use crate::tensor::Tensor;

/// `keras.layers.Add()`: the elementwise sum of its inputs.
pub struct Add {
    pub(super) base: LayerBase,
}
impl Add {
    pub fn new() -> Add {
        Add {
            base: LayerBase::new("add"),
        }
    }
}
impl Default for Add {
    fn default() -> Self {
        Self::new()
    }
}
impl Layer for Add {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "Add"
    }
    #[track_caller]
    fn call(&self, _x: &Tensor, _training: bool) -> Tensor {
        panic!(
            "Add '{}' takes a list of inputs: use call_many(&[a, b], training)",
            self.base.name
        )
    }
    #[track_caller]
    fn call_many(&self, xs: &[Tensor], _training: bool) -> Tensor {
        let Some((first, rest)) = xs.split_first() else {
            panic!("Add '{}' needs at least one input", self.base.name)
        };
        rest.iter()
            .fold(first.clone(), |acc, x| match acc.try_add(x) {
                Ok(y) => y,
                Err(e) => panic!("Add '{}': {e}", self.base.name),
            })
    }
}

/// `keras.layers.Concatenate(axis=-1)`.
pub struct Concatenate {
    axis: isize,
    pub(super) base: LayerBase,
}
impl Concatenate {
    pub fn new(axis: isize) -> Concatenate {
        Concatenate {
            axis,
            base: LayerBase::new("concatenate"),
        }
    }
}
impl Default for Concatenate {
    fn default() -> Self {
        Self::new(-1)
    }
}
impl Layer for Concatenate {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "Concatenate"
    }
    fn get_config(&self) -> serde_json::Value {
        self.base.config(serde_json::json!({"axis": self.axis}))
    }
    #[track_caller]
    fn call(&self, _x: &Tensor, _training: bool) -> Tensor {
        panic!(
            "Concatenate '{}' takes a list of inputs: use call_many(&[a, b], training)",
            self.base.name
        )
    }
    #[track_caller]
    fn call_many(&self, xs: &[Tensor], _training: bool) -> Tensor {
        match crate::tensor::try_concat(&xs.iter().collect::<Vec<_>>(), self.axis) {
            Ok(y) => y,
            Err(e) => panic!("Concatenate '{}': {e}", self.base.name),
        }
    }
}
