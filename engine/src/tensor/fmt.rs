//! Printing tensors in TF's style:
//! `tf.Tensor(\n[[1. 2.]\n [3. 4.]], shape=(2, 2), dtype=float32)`.
//! Numbers follow NumPy's rules: integral floats print as `1.`, other floats with up to 8
//! significant decimals, aligned; scientific notation for very large or small magnitudes. Tensors
//! with more than 1000 elements show the first and last 3 entries of each long axis around `...`.

use std::fmt;

use crate::dtype::DType;
use crate::tensor::Tensor;

const THRESHOLD: usize = 1000;
const EDGE: usize = 3;

/// Formats every value to a string of equal width.
fn format_values(t: &Tensor, vals: &[f64]) -> Vec<String> {
    match t.dtype() {
        DType::Bool => {
            let s: Vec<String> = vals
                .iter()
                .map(|&v| if v != 0.0 { "True" } else { "False" }.to_string())
                .collect();
            pad(s, true)
        }
        DType::I64 => pad(
            vals.iter().map(|&v| format!("{}", v as i64)).collect(),
            true,
        ),
        _ => format_floats(vals),
    }
}

fn pad(s: Vec<String>, left: bool) -> Vec<String> {
    let w = s.iter().map(|x| x.len()).max().unwrap_or(0);
    s.into_iter()
        .map(|x| {
            if left {
                format!("{x:>w$}")
            } else {
                format!("{x:<w$}")
            }
        })
        .collect()
}

fn format_floats(vals: &[f64]) -> Vec<String> {
    let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
    let max = finite.iter().fold(0f64, |m, v| m.max(v.abs()));
    let min_nz = finite
        .iter()
        .filter(|v| **v != 0.0)
        .fold(f64::INFINITY, |m, v| m.min(v.abs()));
    let special = |v: f64| {
        if v.is_nan() {
            Some("nan".to_string())
        } else if v.is_infinite() {
            Some(if v > 0.0 { "inf" } else { "-inf" }.to_string())
        } else {
            None
        }
    };
    let sci = max >= 1e16
        || (min_nz < 1e-4 && min_nz.is_finite())
        || (min_nz.is_finite() && max / min_nz > 1e3 && max >= 1e3);
    if sci {
        // shortest mantissa (up to 8 decimals) that represents every value at f32 precision
        let digits = finite
            .iter()
            .map(|v| {
                (0..=8)
                    .find(|&d| {
                        (format!("{v:.d$e}").parse::<f64>().unwrap_or(0.0) - v).abs()
                            <= v.abs() * 1e-7
                    })
                    .unwrap_or(8)
            })
            .max()
            .unwrap_or(0)
            .max(1);
        let s = vals
            .iter()
            .map(|&v| {
                special(v).unwrap_or_else(|| {
                    let s = format!("{v:.digits$e}");
                    // NumPy writes exponents as e+05 / e-05
                    match s.split_once('e') {
                        Some((m, e)) => {
                            let (sign, e) =
                                e.strip_prefix('-').map(|e| ('-', e)).unwrap_or(('+', e));
                            format!("{m}e{sign}{e:0>2}")
                        }
                        None => s,
                    }
                })
            })
            .collect();
        return pad(s, true);
    }
    // fixed notation: the fewest decimals (<= 8) that show every value at f32 precision
    let decimals = |v: f64| {
        (0..=8)
            .find(|&d| {
                let r = format!("{v:.d$}").parse::<f64>().unwrap_or(0.0);
                (r - v).abs() <= (v.abs() * 1e-7).max(1e-12)
            })
            .unwrap_or(8)
    };
    let parts: Vec<(String, String)> = vals
        .iter()
        .map(|&v| match special(v) {
            Some(s) => (s, String::new()),
            None => {
                let d = decimals(v);
                let s = format!("{v:.d$}");
                match s.split_once('.') {
                    Some((i, f)) => (i.to_string(), f.to_string()),
                    None => (s, String::new()),
                }
            }
        })
        .collect();
    let iw = parts.iter().map(|(i, _)| i.len()).max().unwrap_or(0);
    let fw = parts.iter().map(|(_, f)| f.len()).max().unwrap_or(0);
    parts
        .into_iter()
        .map(|(i, f)| {
            if f.is_empty() && (i == "nan" || i.ends_with("inf")) {
                format!("{i:>iw$}{}", " ".repeat(fw + 1))
            } else {
                format!("{i:>iw$}.{f:<fw$}")
            }
        })
        .collect()
}

/// Indices shown along an axis of size `d` (None marks the `...`).
fn shown(d: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && d > 2 * EDGE {
        (0..EDGE)
            .map(Some)
            .chain([None])
            .chain((d - EDGE..d).map(Some))
            .collect()
    } else {
        (0..d).map(Some).collect()
    }
}

fn render(
    dims: &[usize],
    strides: &[usize],
    base: usize,
    cells: &[String],
    summarize: bool,
    indent: usize,
    out: &mut String,
) {
    if dims.is_empty() {
        out.push_str(&cells[base]);
        return;
    }
    out.push('[');
    let idx = shown(dims[0], summarize);
    for (k, i) in idx.iter().enumerate() {
        if k > 0 {
            if dims.len() == 1 {
                out.push(' ');
            } else {
                out.push_str(&"\n".repeat(dims.len() - 1));
                out.push_str(&" ".repeat(indent + 1));
            }
        }
        match i {
            Some(i) => render(
                &dims[1..],
                &strides[1..],
                base + i * strides[0],
                cells,
                summarize,
                indent + 1,
                out,
            ),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}

impl Tensor {
    /// The values as NumPy would print them (`str(x.numpy())`).
    pub fn format_values(&self) -> String {
        if self.is_symbolic() {
            return "<symbolic: shape only, no values>".into();
        }
        let vals: Vec<f64> = match self.dtype() {
            DType::I64 => self.to_vec::<i64>().into_iter().map(|v| v as f64).collect(),
            _ => match self.try_to_f32_vec() {
                Ok(v) => v.into_iter().map(|v| v as f64).collect(),
                Err(e) => return format!("<unreadable: {e}>"),
            },
        };
        if self.rank() == 0 {
            return match self.dtype() {
                DType::Bool => if vals[0] != 0.0 { "True" } else { "False" }.into(),
                DType::I64 => format!("{}", vals[0] as i64),
                _ => format!("{:?}", vals[0] as f32),
            };
        }
        let summarize = self.elem_count() > THRESHOLD;
        // Only format the values that will be shown, so alignment ignores hidden ones.
        let dims = self.dims();
        let strides = self.shape().contiguous_strides();
        let cells: Vec<String> = if summarize {
            let mut keep = vec![false; vals.len()];
            mark(dims, &strides, 0, &mut keep);
            let picked: Vec<f64> = vals
                .iter()
                .zip(&keep)
                .filter(|(_, &k)| k)
                .map(|(&v, _)| v)
                .collect();
            let mut f = format_values(self, &picked).into_iter();
            keep.iter()
                .map(|&k| {
                    if k {
                        f.next().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .collect()
        } else {
            format_values(self, &vals)
        };
        let mut out = String::new();
        render(dims, &strides, 0, &cells, summarize, 0, &mut out);
        out
    }

    /// What evcxr shows for a tensor as a cell's last expression: text/plain and text/html
    /// (see `html.rs`).
    pub fn evcxr_display(&self) {
        self.emit_evcxr();
    }
}

fn mark(dims: &[usize], strides: &[usize], base: usize, keep: &mut [bool]) {
    if dims.is_empty() {
        keep[base] = true;
        return;
    }
    for i in shown(dims[0], true).into_iter().flatten() {
        mark(&dims[1..], &strides[1..], base + i * strides[0], keep);
    }
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.format_values();
        let nl = if v.contains('\n') { "\n" } else { "" };
        write!(
            f,
            "tf.Tensor({nl}{v}, shape={}, dtype={}",
            self.shape(),
            self.dtype()
        )?;
        if !self.device().is_cpu() {
            write!(f, ", device={}", self.device())?;
        }
        write!(f, ")")
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
