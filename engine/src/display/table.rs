//! Row/column data as an HTML table with a text fallback: model summaries, training history,
//! metrics per class, anything tabular.
//!
//! ```
//! use ferrolab::display::Table;
//! let t = Table::new(["Layer (type)", "Output Shape", "Param #"])
//!     .title("Model: \"sequential\"")
//!     .row(("dense (Dense)", "(None, 128)", 8320))
//!     .row(("dense_1 (Dense)", "(None, 10)", 1290))
//!     .note("Total params: 9,610");
//! assert!(t.to_text().contains("8,320"));
//! ```
//!
//! Numbers are formatted the way Keras prints them: integers with thousands separators, floats
//! with 4 decimals (scientific notation when very large or very small), right-aligned.

use std::fmt::Write as _;

use super::{escape_html, evcxr_emit, Display, MimeBundle};

/// One table cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Float(f64),
    Empty,
}

impl Cell {
    /// The cell as shown (numbers formatted, see the module docs).
    pub fn format(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(v) => format_int(*v),
            Cell::Float(v) => format_float(*v),
            Cell::Empty => String::new(),
        }
    }
    fn is_number(&self) -> bool {
        matches!(self, Cell::Int(_) | Cell::Float(_))
    }
}

/// `1234567` -> `1,234,567`.
pub fn format_int(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Keras's metric format: `0.3142`; `1.234e-05` and `1.235e+06` outside [1e-4, 1e6).
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else if v == 0.0 || (1e-4..1e6).contains(&v.abs()) {
        format!("{v:.4}")
    } else {
        let s = format!("{v:.3e}");
        match s.split_once('e') {
            Some((m, e)) => {
                let (sign, e) = e.strip_prefix('-').map(|e| ('-', e)).unwrap_or(('+', e));
                format!("{m}e{sign}{e:0>2}")
            }
            None => s,
        }
    }
}

macro_rules! cell_from {
    ($($t:ty => $v:ident as $c:ty),*) => {$(
        impl From<$t> for Cell {
            fn from(v: $t) -> Cell { Cell::$v(v as $c) }
        }
    )*};
}
cell_from!(i64 => Int as i64, i32 => Int as i64, u32 => Int as i64, usize => Int as i64,
           u64 => Int as i64, f64 => Float as f64, f32 => Float as f64);

impl From<&str> for Cell {
    fn from(v: &str) -> Cell {
        Cell::Text(v.to_string())
    }
}
impl From<String> for Cell {
    fn from(v: String) -> Cell {
        Cell::Text(v)
    }
}
impl From<&String> for Cell {
    fn from(v: &String) -> Cell {
        Cell::Text(v.clone())
    }
}
impl From<bool> for Cell {
    fn from(v: bool) -> Cell {
        Cell::Text(if v { "True" } else { "False" }.into())
    }
}
impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Cell {
        v.map(Into::into).unwrap_or(Cell::Empty)
    }
}

/// Something that can be a table row: a tuple of up to 8 cells, or a `Vec`/array of one type.
pub trait IntoRow {
    fn into_row(self) -> Vec<Cell>;
}

impl<T: Into<Cell>> IntoRow for Vec<T> {
    fn into_row(self) -> Vec<Cell> {
        self.into_iter().map(Into::into).collect()
    }
}
impl<T: Into<Cell>, const N: usize> IntoRow for [T; N] {
    fn into_row(self) -> Vec<Cell> {
        self.into_iter().map(Into::into).collect()
    }
}
macro_rules! tuple_row {
    ($($name:ident),+) => {
        impl<$($name: Into<Cell>),+> IntoRow for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_row(self) -> Vec<Cell> {
                let ($($name,)+) = self;
                vec![$($name.into()),+]
            }
        }
    };
}
tuple_row!(A);
tuple_row!(A, B);
tuple_row!(A, B, C);
tuple_row!(A, B, C, D);
tuple_row!(A, B, C, D, E);
tuple_row!(A, B, C, D, E, F);
tuple_row!(A, B, C, D, E, F, G);
tuple_row!(A, B, C, D, E, F, G, H);

/// A table with headers, rows, an optional title and notes under it.
#[derive(Clone, Debug, Default)]
pub struct Table {
    title: Option<String>,
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
    notes: Vec<String>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            ..Table::default()
        }
    }

    /// A table from named columns of numbers, with a leading index column named `index`
    /// (counting from 1, e.g. "epoch"). Shorter columns leave empty cells.
    pub fn from_columns(index: &str, columns: &[(&str, &[f64])]) -> Table {
        let n = columns.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
        let mut t = Table::new(std::iter::once(index).chain(columns.iter().map(|(h, _)| *h)));
        for i in 0..n {
            let mut row = vec![Cell::Int(i as i64 + 1)];
            row.extend(columns.iter().map(|(_, c)| Cell::from(c.get(i).copied())));
            t.rows.push(row);
        }
        t
    }

    /// A caption shown above the table.
    pub fn title(mut self, title: impl Into<String>) -> Table {
        self.title = Some(title.into());
        self
    }
    /// Appends a row, e.g. `.row(("dense", "(None, 10)", 1290))`.
    pub fn row(mut self, row: impl IntoRow) -> Table {
        self.push_row(row);
        self
    }
    /// Appends a row in place.
    pub fn push_row(&mut self, row: impl IntoRow) {
        self.rows.push(row.into_row());
    }
    /// A line of text under the table (e.g. "Total params: 9,610").
    pub fn note(mut self, note: impl Into<String>) -> Table {
        self.notes.push(note.into());
        self
    }
    pub fn headers(&self) -> &[String] {
        &self.headers
    }
    pub fn rows(&self) -> &[Vec<Cell>] {
        &self.rows
    }

    fn ncols(&self) -> usize {
        self.rows
            .iter()
            .map(Vec::len)
            .chain([self.headers.len()])
            .max()
            .unwrap_or(0)
    }

    /// Right-align a column when all its non-empty cells are numbers.
    fn numeric_columns(&self) -> Vec<bool> {
        (0..self.ncols())
            .map(|c| {
                let mut cells = self.rows.iter().filter_map(|r| r.get(c));
                let mut any = false;
                let all = cells.all(|x| {
                    any |= x.is_number();
                    x.is_number() || *x == Cell::Empty
                });
                all && any
            })
            .collect()
    }

    /// The table as HTML (`<table>` with `<thead>`, `<tbody>`, a caption and notes).
    pub fn to_html(&self) -> String {
        let numeric = self.numeric_columns();
        let align = |c: usize| {
            if numeric.get(c).copied().unwrap_or(false) {
                "right"
            } else {
                "left"
            }
        };
        let mut h = String::from("<div class=\"ferrolab-table\">\n<table style=\"border-collapse:collapse;font-variant-numeric:tabular-nums\">\n");
        if let Some(t) = &self.title {
            let _ = writeln!(
                h,
                "<caption style=\"text-align:left;font-weight:bold;padding:4px 0\">{}</caption>",
                escape_html(t)
            );
        }
        h.push_str("<thead><tr>");
        for (c, head) in self.headers.iter().enumerate() {
            let _ = write!(
                h,
                "<th style=\"text-align:{};border-bottom:1px solid #888;padding:2px 10px\">{}</th>",
                align(c),
                escape_html(head)
            );
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            h.push_str("<tr>");
            for c in 0..self.ncols() {
                let text = row.get(c).map(Cell::format).unwrap_or_default();
                let _ = write!(
                    h,
                    "<td style=\"text-align:{};padding:2px 10px\">{}</td>",
                    align(c),
                    escape_html(&text)
                );
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody>\n</table>\n");
        for n in &self.notes {
            let _ = writeln!(h, "<div style=\"padding-top:2px\">{}</div>", escape_html(n));
        }
        h.push_str("</div>");
        h
    }

    /// The table as aligned text, Keras-summary style.
    pub fn to_text(&self) -> String {
        let n = self.ncols();
        let numeric = self.numeric_columns();
        let grid: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                (0..n)
                    .map(|c| r.get(c).map(Cell::format).unwrap_or_default())
                    .collect()
            })
            .collect();
        let width = |c: usize| {
            grid.iter()
                .map(|r| r[c].chars().count())
                .chain([self.headers.get(c).map_or(0, |h| h.chars().count())])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..n).map(width).collect();
        let line = |cells: &[String], out: &mut String| {
            let mut l = String::new();
            for (c, w) in widths.iter().enumerate() {
                let s = cells.get(c).map(String::as_str).unwrap_or("");
                let pad = w.saturating_sub(s.chars().count());
                if c > 0 {
                    l.push_str("  ");
                }
                if numeric[c] {
                    l.push_str(&" ".repeat(pad));
                    l.push_str(s);
                } else {
                    l.push_str(s);
                    l.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        let total = widths.iter().sum::<usize>() + 2 * n.saturating_sub(1);
        let mut out = String::new();
        if let Some(t) = &self.title {
            out.push_str(t);
            out.push('\n');
        }
        out.push_str(&"━".repeat(total));
        out.push('\n');
        line(&self.headers, &mut out);
        out.push_str(&"━".repeat(total));
        out.push('\n');
        for r in &grid {
            line(r, &mut out);
        }
        out.push_str(&"━".repeat(total));
        for note in &self.notes {
            out.push('\n');
            out.push_str(note);
        }
        out
    }

    /// Shows the table mid-cell.
    pub fn show(&self) {
        super::display(self);
    }
    /// What evcxr shows for a table as a cell's last expression.
    pub fn evcxr_display(&self) {
        evcxr_emit(&self.mime_bundle());
    }
}

impl Display for Table {
    fn mime_bundle(&self) -> MimeBundle {
        vec![
            ("text/plain".into(), self.to_text()),
            ("text/html".into(), self.to_html()),
        ]
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_like_keras() {
        assert_eq!(format_int(1234567), "1,234,567");
        assert_eq!(format_int(-1000), "-1,000");
        assert_eq!(format_int(999), "999");
        assert_eq!(format_float(0.31415926), "0.3142");
        assert_eq!(format_float(1.0), "1.0000");
        assert_eq!(format_float(1.23456e-5), "1.235e-05");
        assert_eq!(format_float(f64::NAN), "nan");
    }
}
