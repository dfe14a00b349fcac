//! Mixed precision, as `tf.keras.mixed_precision`: dtype policies and loss scaling.
//!
//! ```
//! use ferrolab::prelude::*;
//! use ferrolab::keras::mixed_precision::{self, Policy};
//! mixed_precision::set_global_policy("mixed_bfloat16");
//! let dense = Dense::new(4);
//! let out = Activation::new("softmax").dtype("float32");   // TF's guide ends a model so
//! mixed_precision::set_global_policy("float32");
//! assert_eq!(dense.dtype_policy(), Policy::new("mixed_bfloat16"));
//! let y = dense.invoke(&[ones([2, 3])], false);
//! assert_eq!(y.dtype(), DType::BF16);                    // computed in bf16
//! assert_eq!(dense.kernel().unwrap().dtype(), DType::F32); // variables stay f32
//! assert_eq!(out.invoke(&[y], false).dtype(), DType::F32);
//! ```
//!
//! **Policies.** `"float32"` (the default), `"mixed_float16"` and `"mixed_bfloat16"`. A layer
//! takes the global policy when it is constructed ([`set_global_policy`] changes later layers
//! only, as in Keras); `.dtype("float32")` on any layer ([`LayerArgs`](crate::keras::layers::LayerArgs)) overrides it;
//! the policy lives in the layer's `LayerBase`. Under a
//! mixed policy the layer's variables stay float32 and [`Layer::invoke`] (the one hook, in
//! `layers::autocast_call`) casts float inputs to the compute dtype and opens an autocast scope,
//! so every variable the layer reads is cast too (`tensor/autocast.rs`, Keras'
//! `AutoCastVariable`). A float32 layer casts its inputs to f32 and returns f32.
//!
//! **What stays in float32 whatever the policy** (each one is tested, in
//! `tests/keras/mixed_precision.rs` and `tests/ops/half_accumulation.rs`, on the CPU and CUDA):
//! - softmax, log-softmax and logsumexp: computed in f32, rounded once to the input's dtype;
//! - losses: every loss casts the predictions (and float targets) to f32 first, so it is f32;
//! - reductions: sums accumulate in f64 on the CPU and CUDA for every float dtype, means divide
//!   in f32 (`sum` of 4096 f16 ones is 4096, where an f16 accumulator stops at 2048; `mean` of
//!   10^6 f16 ones is 1.0);
//! - BatchNormalization and LayerNormalization: the layer runs in f32 (statistics, moving
//!   averages, scale and offset) and returns the compute dtype, as Keras does;
//! - optimizer updates: variables and slots are f32, gradients arrive f32 (the `Cast` of a
//!   variable sends its gradient back in f32) and f16 gradients are cast before the update;
//! - matmul and conv: f16/bf16 inputs, f32 accumulation (gemm on the CPU, cuBLAS on CUDA).
//!
//! **Loss scaling.** f16 has 5 exponent bits: gradients below 6e-8 become 0. `compile` under
//! `mixed_float16` wraps the optimizer in a [`LossScaleOptimizer`] (dynamic scale, 2^15 at first),
//! and `train_step` multiplies the loss by the scale and divides the gradients by it. bfloat16
//! has float32's 8 exponent bits, so `mixed_bfloat16` needs no loss scaling and gets none.

mod loss_scale;

pub use loss_scale::LossScaleOptimizer;

use std::fmt;
use std::sync::Mutex;

use crate::dtype::DType;
use crate::error::{invalid, or_panic, Result};

/// A dtype policy (`tf.keras.mixed_precision.Policy`): the dtype layers compute in and the
/// dtype their variables are stored in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    name: &'static str,
}

impl Policy {
    /// `"float32"`, `"mixed_float16"` or `"mixed_bfloat16"`.
    #[track_caller]
    pub fn new(name: &str) -> Policy {
        or_panic(Self::try_new(name))
    }
    pub fn try_new(name: &str) -> Result<Policy> {
        let name = match name {
            "float32" | "f32" => "float32",
            "mixed_float16" => "mixed_float16",
            "mixed_bfloat16" => "mixed_bfloat16",
            other => {
                return Err(invalid(
                    "Policy",
                    format!("unknown dtype policy {other:?}; use \"float32\", \"mixed_float16\" or \"mixed_bfloat16\""),
                ))
            }
        };
        Ok(Policy { name })
    }
    pub fn name(&self) -> &str {
        self.name
    }
    /// The dtype a layer computes in (its inputs and variables are cast to it).
    pub fn compute_dtype(&self) -> DType {
        match self.name {
            "mixed_float16" => DType::F16,
            "mixed_bfloat16" => DType::BF16,
            _ => DType::F32,
        }
    }
    /// The dtype of a layer's variables: float32 under every policy.
    pub fn variable_dtype(&self) -> DType {
        DType::F32
    }
    /// The policy as Keras 3 serializes it in a layer's `get_config()["dtype"]`.
    pub fn get_config(&self) -> serde_json::Value {
        serde_json::json!({"module": "keras", "class_name": "DTypePolicy",
            "config": {"name": self.name}, "registered_name": null})
    }
    /// Reads a layer config's `"dtype"`: Keras 3's serialized policy, `{"name": ..}` or the
    /// policy's name.
    pub fn from_config(c: &serde_json::Value) -> Result<Policy> {
        let name = c
            .as_str()
            .or_else(|| c["config"]["name"].as_str())
            .or_else(|| c["name"].as_str());
        match name {
            Some(n) => Policy::try_new(n),
            None => Err(invalid(
                "Policy",
                format!("a layer's \"dtype\" must be a policy name or {{\"name\": ..}}, got {c}"),
            )),
        }
    }
    /// Whether this policy computes in 16 bits.
    pub fn is_mixed(&self) -> bool {
        self.compute_dtype() != DType::F32
    }
}

impl Default for Policy {
    fn default() -> Policy {
        Policy { name: "float32" }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Policy \"{}\">", self.name)
    }
}

impl From<&str> for Policy {
    #[track_caller]
    fn from(name: &str) -> Policy {
        Policy::new(name)
    }
}

impl From<&Policy> for Policy {
    fn from(p: &Policy) -> Policy {
        p.clone()
    }
}

/// The global policy, in the process-wide state (each notebook cell has its own copy of the
/// engine's statics). Each layer keeps its own policy in its `LayerBase`.
fn global() -> std::sync::MutexGuard<'static, Policy> {
    crate::state::slot!("keras.global_dtype_policy", Mutex<Policy>, Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// `tf.keras.mixed_precision.set_global_policy`: the policy of layers constructed from now on.
#[track_caller]
pub fn set_global_policy(policy: impl Into<Policy>) {
    *global() = policy.into();
}

/// `tf.keras.mixed_precision.global_policy()`.
pub fn global_policy() -> Policy {
    global().clone()
}
