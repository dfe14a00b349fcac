//! `model.summary()`: layers, output shapes and parameter counts, as text and as an HTML table.
//! Counts equal Keras's for the same architecture.

use std::fmt;
use std::sync::Arc;

use crate::keras::layers::Layer;

#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    pub name: String,
    pub class_name: String,
    /// Like Keras: `(None, 128)`; empty when unknown.
    pub output_shape: String,
    pub params: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub model_name: String,
    pub rows: Vec<SummaryRow>,
    pub total_params: usize,
    pub trainable_params: usize,
    pub non_trainable_params: usize,
}

/// The layer's type as the summary shows it: `Dense`, or `Dense, mixed_float16` when its
/// dtype policy is not float32.
pub(crate) fn type_label(l: &dyn Layer) -> String {
    let p = l.dtype_policy();
    if p.is_mixed() {
        format!("{}, {}", l.class_name(), p.name())
    } else {
        l.class_name().to_string()
    }
}

pub(crate) fn shape_str(dims: &[usize]) -> String {
    let mut s = String::from("(None");
    for d in dims {
        s.push_str(&format!(", {d}"));
    }
    s.push(')');
    s
}

fn with_commas(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bytes(n: usize) -> String {
    let b = n as f64 * 4.0;
    if b < 1024.0 {
        format!("{b:.2} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2} KB", b / 1024.0)
    } else {
        format!("{:.2} MB", b / 1048576.0)
    }
}

impl Summary {
    /// Rows for a stack of layers; output shapes come from a shape-only pass (no kernels) when
    /// the input shape is known.
    pub fn of_layers(
        model_name: &str,
        layers: &[Arc<dyn Layer>],
        input_shape: Option<&[usize]>,
    ) -> Summary {
        let mut shapes: Vec<String> = vec![String::new(); layers.len()];
        if let Some(s) = input_shape {
            let mut h = super::functional::symbolic_batch(s, crate::dtype::DType::F32);
            for (i, l) in layers.iter().enumerate() {
                h = l.invoke(std::slice::from_ref(&h), false);
                shapes[i] = shape_str(&h.dims()[1..]);
            }
        }
        let rows = layers
            .iter()
            .zip(shapes)
            .map(|(l, output_shape)| SummaryRow {
                name: l.name(),
                class_name: type_label(&**l),
                output_shape,
                params: l.count_params(),
            })
            .collect();
        let all: Vec<_> = layers.iter().flat_map(|l| l.weights()).collect();
        Self::finish(model_name, rows, &all)
    }

    pub(crate) fn finish(
        model_name: &str,
        rows: Vec<SummaryRow>,
        weights: &[crate::autodiff::Variable],
    ) -> Summary {
        let trainable: usize = weights
            .iter()
            .filter(|w| w.trainable())
            .map(|w| w.elem_count())
            .sum();
        let total: usize = weights.iter().map(|w| w.elem_count()).sum();
        Summary {
            model_name: model_name.to_string(),
            rows,
            total_params: total,
            trainable_params: trainable,
            non_trainable_params: total - trainable,
        }
    }

    /// The summary as an HTML table (what the notebook shows).
    pub fn to_html(&self) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let mut h = format!("<div><b>Model: \"{}\"</b><table><thead><tr><th>Layer (type)</th><th>Output Shape</th><th style=\"text-align:right\">Param #</th></tr></thead><tbody>", esc(&self.model_name));
        for r in &self.rows {
            h.push_str(&format!(
                "<tr><td>{} ({})</td><td>{}</td><td style=\"text-align:right\">{}</td></tr>",
                esc(&r.name),
                esc(&r.class_name),
                esc(&r.output_shape),
                with_commas(r.params)
            ));
        }
        h.push_str(&format!(
            "</tbody></table><p>Total params: {} ({})<br>Trainable params: {} ({})<br>Non-trainable params: {} ({})</p></div>",
            with_commas(self.total_params),
            bytes(self.total_params),
            with_commas(self.trainable_params),
            bytes(self.trainable_params),
            with_commas(self.non_trainable_params),
            bytes(self.non_trainable_params)
        ));
        h
    }

    /// What evcxr shows when a summary is a cell's last expression: text and HTML.
    pub fn evcxr_display(&self) {
        crate::display::evcxr_emit(&vec![
            ("text/plain".to_string(), self.to_string()),
            ("text/html".to_string(), self.to_html()),
        ]);
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w0 = self
            .rows
            .iter()
            .map(|r| r.name.len() + r.class_name.len() + 3)
            .max()
            .unwrap_or(0)
            .max(14);
        let w1 = self
            .rows
            .iter()
            .map(|r| r.output_shape.len())
            .max()
            .unwrap_or(0)
            .max(12);
        let w2 = 12;
        writeln!(f, "Model: \"{}\"", self.model_name)?;
        let line = |c: char| c.to_string().repeat(w0 + w1 + w2 + 6);
        writeln!(f, "{}", line('━'))?;
        writeln!(
            f,
            "{:<w0$}  {:<w1$}  {:>w2$}",
            "Layer (type)", "Output Shape", "Param #"
        )?;
        writeln!(f, "{}", line('━'))?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<w0$}  {:<w1$}  {:>w2$}",
                format!("{} ({})", r.name, r.class_name),
                r.output_shape,
                with_commas(r.params)
            )?;
        }
        writeln!(f, "{}", line('━'))?;
        writeln!(
            f,
            " Total params: {} ({})",
            with_commas(self.total_params),
            bytes(self.total_params)
        )?;
        writeln!(
            f,
            " Trainable params: {} ({})",
            with_commas(self.trainable_params),
            bytes(self.trainable_params)
        )?;
        write!(
            f,
            " Non-trainable params: {} ({})",
            with_commas(self.non_trainable_params),
            bytes(self.non_trainable_params)
        )
    }
}
