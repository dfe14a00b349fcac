//! Recurrent layers: SimpleRNN, LSTM and GRU on (batch, timesteps, features), Keras' formulas,
//! gate orders and weight shapes (so parameter counts match Keras).
//!
//! - SimpleRNN: h_t = tanh(x_t W + h_{t-1} U + b)
//! - LSTM (gates i, f, c, o): c_t = f*c_{t-1} + i*tanh(c~), h_t = o*tanh(c_t); forget bias starts at 1
//! - GRU (gates z, r, h; reset_after=True, bias (2, 3u)): h_t = z*h_{t-1} + (1-z)*tanh(x_h + r*(h U_h + b_h))
//!
//! `return_sequences(true)` gives (batch, timesteps, units); otherwise the last output.
//! `call_with_state` also returns the final states (Keras' `return_state=True`).

use std::sync::OnceLock;

use super::{add_weight, last_dim, Layer, LayerBase};
use crate::autodiff::Variable;
use crate::keras::initializers::Initializer;
use crate::tensor::{stack, Tensor};

#[derive(Clone, Copy, PartialEq)]
enum Cell {
    Simple,
    Lstm,
    Gru,
}

impl Cell {
    fn gates(&self) -> usize {
        match self {
            Cell::Simple => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }
    fn class(&self) -> &'static str {
        match self {
            Cell::Simple => "SimpleRNN",
            Cell::Lstm => "LSTM",
            Cell::Gru => "GRU",
        }
    }
}

/// The shared machinery of the three recurrent layers.
pub struct Recurrent {
    cell: Cell,
    units: usize,
    return_sequences: bool,
    pub(super) base: LayerBase,
    weights: OnceLock<[Variable; 3]>,
}

impl Recurrent {
    fn new(cell: Cell, units: usize, base: &str) -> Recurrent {
        Recurrent {
            cell,
            units,
            return_sequences: false,
            base: LayerBase::new(base),
            weights: OnceLock::new(),
        }
    }
    /// Return the output at every timestep (`return_sequences=True`).
    pub fn return_sequences(mut self, on: bool) -> Recurrent {
        self.return_sequences = on;
        self
    }

    fn build(&self, features: usize) -> &[Variable; 3] {
        self.weights.get_or_init(|| {
            let (u, g) = (self.units, self.cell.gates());
            let k = add_weight(
                &self.base.name,
                "kernel",
                Initializer::GlorotUniform,
                &[features, g * u],
                true,
            );
            let r = add_weight(
                &self.base.name,
                "recurrent_kernel",
                Initializer::Orthogonal,
                &[u, g * u],
                true,
            );
            let b = match self.cell {
                Cell::Gru => add_weight(
                    &self.base.name,
                    "bias",
                    Initializer::Zeros,
                    &[2, g * u],
                    true,
                ),
                Cell::Lstm => {
                    // unit_forget_bias: the forget gate's bias starts at 1
                    let mut v = vec![0f32; g * u];
                    v[u..2 * u].iter_mut().for_each(|x| *x = 1.0);
                    let t = crate::tensor::create::from_vec(v, [g * u]).expect("bias shape");
                    Variable::with_options(&t, &format!("{}/bias", self.base.name), true)
                }
                Cell::Simple => {
                    add_weight(&self.base.name, "bias", Initializer::Zeros, &[g * u], true)
                }
            };
            [k, r, b]
        })
    }

    /// The output (last step or all steps) and the final states: `[h]`, or `[h, c]` for LSTM.
    #[track_caller]
    pub fn call_with_state(
        &self,
        x: &Tensor,
        initial_state: Option<&[Tensor]>,
    ) -> (Tensor, Vec<Tensor>) {
        if x.rank() != 3 {
            panic!(
                "{} '{}': expected input (batch, timesteps, features), got shape {}",
                self.cell.class(),
                self.base.name,
                x.shape()
            );
        }
        let (n, steps) = (x.dims()[0], x.dims()[1]);
        let u = self.units;
        let [k, r, b] = self.build(last_dim(&self.base.name, x));
        // initial states in the input's dtype (f16/bf16 under a mixed policy)
        let zeros = crate::tensor::create::zeros([n, u])
            .cast(x.dtype())
            .to(x.device());
        let mut h = initial_state
            .and_then(|s| s.first().cloned())
            .unwrap_or_else(|| zeros.clone());
        let mut c = initial_state
            .and_then(|s| s.get(1).cloned())
            .unwrap_or_else(|| zeros.clone());
        // Input projections of every step at once: (N, T, g*u).
        let (xb, rb) = match self.cell {
            Cell::Gru => (b.get(0), Some(b.get(1))),
            _ => ((**b).clone(), None),
        };
        let xp = x.matmul(k) + &xb;
        let mut outs = Vec::with_capacity(steps);
        for t in 0..steps {
            crate::state::check_cancel();
            let xt = xp.narrow(1, t, 1).squeeze(&[1]);
            match self.cell {
                Cell::Simple => h = (xt + h.matmul(r)).tanh(),
                Cell::Lstm => {
                    let z = xt + h.matmul(r);
                    let g = z.split(4, -1);
                    let (i, f, cand, o) =
                        (g[0].sigmoid(), g[1].sigmoid(), g[2].tanh(), g[3].sigmoid());
                    c = f * &c + i * cand;
                    h = o * c.tanh();
                }
                Cell::Gru => {
                    let rec = h.matmul(r) + rb.as_ref().expect("gru recurrent bias");
                    let (xg, rg) = (xt.split(3, -1), rec.split(3, -1));
                    let z = (&xg[0] + &rg[0]).sigmoid();
                    let rr = (&xg[1] + &rg[1]).sigmoid();
                    let hh = (&xg[2] + rr * &rg[2]).tanh();
                    h = &z * &h + (1.0 - &z) * hh;
                }
            }
            if self.return_sequences {
                outs.push(h.clone());
            }
        }
        let out = if self.return_sequences {
            if outs.is_empty() {
                crate::tensor::create::zeros([n, 0, u])
            } else {
                stack(&outs.iter().collect::<Vec<_>>(), 1)
            }
        } else {
            h.clone()
        };
        let states = if self.cell == Cell::Lstm {
            vec![h, c]
        } else {
            vec![h]
        };
        (out, states)
    }
}

impl Layer for Recurrent {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        self.cell.class()
    }
    fn get_config(&self) -> serde_json::Value {
        self.base.config(
            serde_json::json!({"units": self.units, "return_sequences": self.return_sequences}),
        )
    }
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        self.call_with_state(x, None).0
    }
    fn weights(&self) -> Vec<Variable> {
        self.weights.get().map(|w| w.to_vec()).unwrap_or_default()
    }
}

/// `keras.layers.SimpleRNN(units)`.
pub struct SimpleRNN;
impl SimpleRNN {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(units: usize) -> Recurrent {
        Recurrent::new(Cell::Simple, units, "simple_rnn")
    }
}
/// `keras.layers.LSTM(units)`.
pub struct LSTM;
impl LSTM {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(units: usize) -> Recurrent {
        Recurrent::new(Cell::Lstm, units, "lstm")
    }
}
/// `keras.layers.GRU(units)` (reset_after=True, Keras' default).
pub struct GRU;
impl GRU {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(units: usize) -> Recurrent {
        Recurrent::new(Cell::Gru, units, "gru")
    }
}
