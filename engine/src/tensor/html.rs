//! Tensors as rich notebook output: an HTML table headed with shape, dtype and device, next to
//! the TF-style text of `fmt.rs` (the text/plain fallback).
//!
//! - rank 0: the value; rank 1: one row; rank 2: a table with row and column indices;
//! - rank 3 and more: a stack of 2-D slices, each captioned with its index (`[1, :, :]`);
//! - large tensors are elided: more than 12 rows or columns show the first and last 5 around an
//!   ellipsis, more than 6 slices show the first and last 3, so even a 1000x1000 tensor stays a
//!   few KB of HTML.
//!
//! The numbers are formatted by `fmt.rs` itself (one shared format for the shown values, as NumPy
//! aligns a whole array), after rounding floats to 5 significant digits so wide tables stay
//! readable; the text/plain form keeps every digit.

use std::fmt::Write as _;

use crate::display::{evcxr_emit, Display, MimeBundle};
use crate::dtype::DType;
use crate::tensor::Tensor;

/// Rows or columns shown in full up to this many; beyond it, `EDGE` each side of an ellipsis.
const MAX_FULL: usize = 12;
const EDGE: usize = 5;
/// Leading slices shown in full up to this many; beyond it, `SLICE_EDGE` each side.
const MAX_SLICES: usize = 6;
const SLICE_EDGE: usize = 3;

const TABLE_STYLE: &str = "border-collapse:collapse;font-family:monospace;font-size:12px;\
                           text-align:right;margin:2px 0 8px 0";
const INDEX_STYLE: &str = "color:#888;font-weight:normal;padding:1px 6px";
const CELL_STYLE: &str = "padding:1px 6px";

/// Indices shown along an axis of length `d` (None marks the ellipsis).
fn shown(d: usize, max_full: usize, edge: usize) -> Vec<Option<usize>> {
    if d <= max_full {
        (0..d).map(Some).collect()
    } else {
        (0..edge)
            .map(Some)
            .chain([None])
            .chain((d - edge..d).map(Some))
            .collect()
    }
}

/// `v` rounded to 5 significant digits: the table stays narrow (the text form keeps every digit).
fn significant(v: f32) -> f32 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    format!("{v:.4e}").parse().unwrap_or(v)
}

/// The multi-index of flat slice number `i` over the leading dims.
fn unravel(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for (k, &d) in dims.iter().enumerate().rev() {
        idx[k] = i % d.max(1);
        i /= d.max(1);
    }
    idx
}

impl Tensor {
    /// Formats the values at `flat` (row-major indices) with fmt.rs's shared format.
    fn format_picked(&self, flat: &[usize]) -> crate::Result<Vec<String>> {
        if flat.is_empty() {
            return Ok(Vec::new());
        }
        let cpu = crate::device::Device::Cpu;
        let n = [flat.len()];
        let picked = match self.dtype() {
            DType::I64 => {
                let v = self.try_to_vec::<i64>()?;
                let p: Vec<i64> = flat.iter().map(|&i| v[i]).collect();
                Tensor::from_cpu(crate::storage::CpuStorage::I64(p), n, cpu)?
            }
            DType::Bool => {
                let v = self.try_to_vec::<bool>()?;
                let p: Vec<bool> = flat.iter().map(|&i| v[i]).collect();
                Tensor::from_cpu(crate::storage::CpuStorage::Bool(p), n, cpu)?
            }
            _ => {
                let v = self.try_to_f32_vec()?;
                let p: Vec<f32> = flat.iter().map(|&i| significant(v[i])).collect();
                Tensor::from_cpu(crate::storage::CpuStorage::F32(p), n, cpu)?
            }
        };
        let text = picked.format_values();
        Ok(text
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split_whitespace()
            .map(str::to_string)
            .collect())
    }

    /// The tensor as an HTML table (see the module docs for layout and elision).
    pub fn to_html(&self) -> String {
        if self.is_symbolic() {
            return format!(
                "<div class=\"ferrolab-tensor\"><b>Tensor</b> shape={} dtype={} (symbolic: no values)</div>",
                self.shape(),
                self.dtype()
            );
        }
        let mut h = String::from("<div class=\"ferrolab-tensor\">");
        let _ = write!(
            h,
            "<div style=\"font-family:monospace;font-size:12px;color:#555\">\
             <b style=\"color:#222\">Tensor</b> shape={} dtype={} device={}</div>",
            self.shape(),
            self.dtype(),
            self.device()
        );
        match self.html_body() {
            Ok(body) => h.push_str(&body),
            Err(e) => {
                let _ = write!(
                    h,
                    "<pre>&lt;unreadable: {}&gt;</pre>",
                    crate::display::escape_html(&e.to_string())
                );
            }
        }
        h.push_str("</div>");
        h
    }

    fn html_body(&self) -> crate::Result<String> {
        let dims = self.dims().to_vec();
        let mut h = String::new();
        if self.elem_count() == 0 {
            h.push_str("<div style=\"font-family:monospace\">(empty)</div>");
            return Ok(h);
        }
        if dims.is_empty() {
            let v = self.format_picked(&[0])?;
            let _ = write!(
                h,
                "<div style=\"font-family:monospace;font-size:14px\">{}</div>",
                v[0]
            );
            return Ok(h);
        }
        // View every tensor as [slices, rows, cols].
        let r = dims.len();
        let cols = dims[r - 1];
        let rows = if r >= 2 { dims[r - 2] } else { 1 };
        let lead: &[usize] = if r >= 2 { &dims[..r - 2] } else { &[] };
        let nslices: usize = lead.iter().product();
        let slice_idx = shown(nslices, MAX_SLICES, SLICE_EDGE);
        let row_idx = if r >= 2 {
            shown(rows, MAX_FULL, EDGE)
        } else {
            vec![Some(0)]
        };
        let col_idx = shown(cols, MAX_FULL, EDGE);

        let mut flat = Vec::new();
        for s in slice_idx.iter().flatten() {
            for i in row_idx.iter().flatten() {
                for j in col_idx.iter().flatten() {
                    flat.push((s * rows + i) * cols + j);
                }
            }
        }
        let cells = self.format_picked(&flat)?;
        let mut next = cells.iter();

        for s in &slice_idx {
            let Some(s) = s else {
                h.push_str("<div style=\"font-family:monospace;color:#888\">⋮</div>");
                continue;
            };
            if !lead.is_empty() {
                let idx = unravel(*s, lead);
                let mut label: Vec<String> = idx.iter().map(usize::to_string).collect();
                label.extend([":".to_string(), ":".to_string()]);
                let _ = write!(
                    h,
                    "<div style=\"font-family:monospace;font-size:12px;color:#555\">[{}]</div>",
                    label.join(", ")
                );
            }
            let _ = write!(h, "<table style=\"{TABLE_STYLE}\"><thead><tr><th></th>");
            for j in &col_idx {
                match j {
                    Some(j) => {
                        let _ = write!(h, "<th style=\"{INDEX_STYLE}\">{j}</th>");
                    }
                    None => {
                        let _ = write!(h, "<th style=\"{INDEX_STYLE}\">…</th>");
                    }
                }
            }
            h.push_str("</tr></thead><tbody>");
            for i in &row_idx {
                h.push_str("<tr>");
                match i {
                    Some(i) => {
                        let _ = write!(h, "<th style=\"{INDEX_STYLE}\">{i}</th>");
                        for j in &col_idx {
                            let v = match j {
                                Some(_) => next.next().map(String::as_str).unwrap_or(""),
                                None => "…",
                            };
                            let _ = write!(h, "<td style=\"{CELL_STYLE}\">{v}</td>");
                        }
                    }
                    None => {
                        let _ = write!(h, "<th style=\"{INDEX_STYLE}\">⋮</th>");
                        for j in &col_idx {
                            let v = if j.is_some() { "⋮" } else { "⋱" };
                            let _ = write!(h, "<td style=\"{CELL_STYLE};color:#888\">{v}</td>");
                        }
                    }
                }
                h.push_str("</tr>");
            }
            h.push_str("</tbody></table>");
        }
        Ok(h)
    }

    /// Shows the tensor mid-cell (text/plain and text/html).
    pub fn show(&self) {
        crate::display::display(self);
    }

    /// Prints the tensor as evcxr's content blocks (text/plain and text/html).
    pub(crate) fn emit_evcxr(&self) {
        evcxr_emit(&self.mime_bundle());
    }
}

impl Display for Tensor {
    fn mime_bundle(&self) -> MimeBundle {
        vec![
            ("text/plain".into(), self.to_string()),
            ("text/html".into(), self.to_html()),
        ]
    }
}
