//! CSV files: [`read_csv`] loads a whole file into typed columns and reports missing values;
//! `Dataset::from_csv` streams rows (`tf.data.experimental.CsvDataset`).
//!
//! - A header line names the columns (or `header(false)`: `column_0`, `column_1`, ...).
//! - Column types: float32, int64 or bool, given with `column_types`; otherwise `read_csv` infers
//!   int64 for columns of whole numbers and float32 for the rest, and `from_csv` reads float32.
//! - Missing values (an empty field, `NA`, `N/A`, `null`) become NaN in float32 columns, or the
//!   `fill_missing` value; in an int64 or bool column they are an error unless `fill_missing`
//!   is set. `read_csv` counts them per column.
//! - Errors name the file, the line (1-based, the header is line 1) and the column: a wrong
//!   number of fields, or a value that does not parse. Nothing panics on file contents.
//! - Fields may be quoted (`"a, b"`, with `""` for a quote); a quoted field cannot span lines.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::{Card, Dataset, Stage};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::create::from_vec;
use crate::tensor::Tensor;

/// Options for [`read_csv`] and `Dataset::from_csv`, as builder methods.
#[derive(Clone, Debug)]
pub struct CsvOptions {
    header: bool,
    delimiter: char,
    column_types: Option<Vec<DType>>,
    select_columns: Option<Vec<String>>,
    fill_missing: Option<f64>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: true,
            delimiter: ',',
            column_types: None,
            select_columns: None,
            fill_missing: None,
        }
    }
}

impl CsvOptions {
    pub fn new() -> Self {
        Self::default()
    }
    /// Whether the first line names the columns (default true).
    pub fn header(mut self, yes: bool) -> Self {
        self.header = yes;
        self
    }
    /// Field separator (default `,`).
    pub fn delimiter(mut self, c: char) -> Self {
        self.delimiter = c;
        self
    }
    /// The type of every column of the file (float32, int64 or bool), in file order.
    pub fn column_types(mut self, types: &[DType]) -> Self {
        self.column_types = Some(types.to_vec());
        self
    }
    /// Keep only these columns, in this order.
    pub fn select_columns(mut self, names: &[&str]) -> Self {
        self.select_columns = Some(names.iter().map(|s| s.to_string()).collect());
        self
    }
    /// The value that replaces a missing field in any column.
    pub fn fill_missing(mut self, value: f64) -> Self {
        self.fill_missing = Some(value);
        self
    }
}

/// One parsed field.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Value {
    F(f32),
    I(i64),
    B(bool),
}

fn is_missing(s: &str) -> bool {
    matches!(s, "" | "NA" | "N/A" | "null" | "NULL")
}

/// Splits one line into fields, honouring double quotes.
fn split_fields(line: &str, delim: char) -> std::result::Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') if cur.trim().is_empty() => {
                cur.clear();
                quoted = true
            }
            (false, c) if c == delim => out.push(std::mem::take(&mut cur)),
            (false, c) => cur.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed on this line");
    }
    out.push(cur);
    Ok(out)
}

/// What the reader knows about the file: names, types and which columns to keep.
struct Layout {
    file: String,
    names: Vec<String>,
    types: Vec<DType>,
    keep: Vec<usize>,
    delimiter: char,
    fill: Option<f64>,
}

impl Layout {
    fn new(
        path: &Path,
        first: Option<&str>,
        opts: &CsvOptions,
        types: Option<Vec<DType>>,
    ) -> Result<Layout> {
        let file = path.display().to_string();
        let first = first.ok_or_else(|| Error::Io(format!("{file}: the file is empty")))?;
        let fields = split_fields(first, opts.delimiter)
            .map_err(|why| Error::Io(format!("{file} line 1: {why}")))?;
        let names: Vec<String> = if opts.header {
            fields.iter().map(|s| s.trim().to_string()).collect()
        } else {
            (0..fields.len()).map(|i| format!("column_{i}")).collect()
        };
        let types = types.unwrap_or_else(|| vec![DType::F32; names.len()]);
        if types.len() != names.len() {
            return Err(Error::Io(format!(
                "{file}: column_types gives {} types for {} columns ({})",
                types.len(),
                names.len(),
                names.join(", ")
            )));
        }
        if let Some(t) = types
            .iter()
            .find(|t| !matches!(t, DType::F32 | DType::I64 | DType::Bool))
        {
            return Err(Error::Io(format!(
                "{file}: column type {t} is not supported in CSV; use float32, int64 or bool"
            )));
        }
        let keep = match &opts.select_columns {
            None => (0..names.len()).collect(),
            Some(sel) => sel
                .iter()
                .map(|s| {
                    names.iter().position(|n| n == s).ok_or_else(|| {
                        Error::Io(format!(
                            "{file}: no column named '{s}'; the columns are {}",
                            names.join(", ")
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?,
        };
        Ok(Layout {
            file,
            names,
            types,
            keep,
            delimiter: opts.delimiter,
            fill: opts.fill_missing,
        })
    }

    /// Parses the kept fields of one line; `None` marks a missing value without a fill.
    fn parse(&self, line: &str, lineno: usize) -> Result<Vec<(Value, bool)>> {
        let at = |col: usize, why: String| {
            Error::Io(format!(
                "{} line {lineno}, column '{}': {why}",
                self.file, self.names[col]
            ))
        };
        let fields = split_fields(line, self.delimiter)
            .map_err(|why| Error::Io(format!("{} line {lineno}: {why}", self.file)))?;
        if fields.len() != self.names.len() {
            return Err(Error::Io(format!(
                "{} line {lineno}: expected {} fields ({}), found {}",
                self.file,
                self.names.len(),
                self.names.join(", "),
                fields.len()
            )));
        }
        self.keep
            .iter()
            .map(|&c| {
                let s = fields[c].trim();
                let t = self.types[c];
                if is_missing(s) {
                    return match (self.fill, t) {
                        (Some(v), DType::I64) => Ok((Value::I(v as i64), true)),
                        (Some(v), DType::Bool) => Ok((Value::B(v != 0.0), true)),
                        (Some(v), _) => Ok((Value::F(v as f32), true)),
                        (None, DType::F32) => Ok((Value::F(f32::NAN), true)),
                        (None, _) => Err(at(
                            c,
                            format!("missing value in a {t} column; set fill_missing(..) or read it as float32"),
                        )),
                    };
                }
                let v = match t {
                    DType::I64 => s.parse::<i64>().map(Value::I).ok(),
                    DType::Bool => match s.to_ascii_lowercase().as_str() {
                        "true" | "1" => Some(Value::B(true)),
                        "false" | "0" => Some(Value::B(false)),
                        _ => None,
                    },
                    _ => s.parse::<f32>().map(Value::F).ok(),
                };
                v.map(|v| (v, false))
                    .ok_or_else(|| at(c, format!("cannot parse '{s}' as {t}")))
            })
            .collect()
    }
}

fn scalar(v: Value) -> Result<Tensor> {
    let none = Vec::<usize>::new();
    match v {
        Value::F(x) => from_vec(vec![x], none),
        Value::I(x) => from_vec(vec![x], none),
        Value::B(x) => from_vec(vec![x], none),
    }
}

fn open_lines(path: &Path) -> Result<std::io::Lines<BufReader<File>>> {
    File::open(path)
        .map(|f| BufReader::new(f).lines())
        .map_err(|e| Error::Io(format!("{}: {e}", path.display())))
}

/// A CSV file loaded into typed columns, with the count of missing values per column.
#[derive(Clone, Debug)]
pub struct CsvTable {
    pub names: Vec<String>,
    /// One 1-D tensor per column, `rows` long.
    pub columns: Vec<Tensor>,
    /// Missing fields per column (filled with NaN or `fill_missing`).
    pub missing: Vec<usize>,
    pub rows: usize,
}

impl CsvTable {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Tensor> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.columns[i])
    }
    /// The named columns side by side as float32 (rows, k), e.g. the features of a model.
    #[track_caller]
    pub fn features(&self, names: &[&str]) -> Tensor {
        let cols: Vec<Tensor> = names
            .iter()
            .map(|n| {
                self.column(n)
                    .unwrap_or_else(|| {
                        panic!(
                            "features: no column '{n}'; the columns are {}",
                            self.names.join(", ")
                        )
                    })
                    .cast(DType::F32)
            })
            .collect();
        crate::tensor::stack(&cols.iter().collect::<Vec<_>>(), 1)
    }
}

impl fmt::Display for CsvTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "CsvTable: {} rows, {} columns",
            self.rows,
            self.names.len()
        )?;
        for ((n, c), m) in self.names.iter().zip(&self.columns).zip(&self.missing) {
            writeln!(f, "  {n:<20} {:<8} missing {m}", c.dtype().as_str())?;
        }
        Ok(())
    }
}

/// Reads a whole CSV file into typed columns (like `pandas.read_csv`). Columns without a
/// given type are int64 when every value is a whole number, else float32.
pub fn read_csv(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<CsvTable> {
    let path = path.as_ref();
    let mut lines = open_lines(path)?;
    let first = lines.next().transpose()?;
    let probe = Layout::new(path, first.as_deref(), opts, opts.column_types.clone())?;
    let mut body: Vec<(usize, String)> = Vec::new();
    if !opts.header {
        body.push((1, first.clone().unwrap_or_default()));
    }
    for (i, l) in lines.enumerate() {
        let l = l.map_err(|e| Error::Io(format!("{} line {}: {e}", path.display(), i + 2)))?;
        if !l.trim().is_empty() {
            body.push((i + 2, l));
        }
        if crate::state::anchor()
            .cancel
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            return Err(Error::Cancelled);
        }
    }
    let types = match &opts.column_types {
        Some(t) => t.clone(),
        None => (0..probe.names.len())
            .map(|c| {
                let whole = body.iter().all(|(_, l)| {
                    split_fields(l, opts.delimiter)
                        .ok()
                        .and_then(|f| f.get(c).cloned())
                        .is_some_and(|s| {
                            let s = s.trim();
                            is_missing(s) && opts.fill_missing.is_some() || s.parse::<i64>().is_ok()
                        })
                });
                if whole && !body.is_empty() {
                    DType::I64
                } else {
                    DType::F32
                }
            })
            .collect(),
    };
    let layout = Layout::new(path, first.as_deref(), opts, Some(types))?;
    let k = layout.keep.len();
    let mut vals: Vec<Vec<Value>> = vec![Vec::with_capacity(body.len()); k];
    let mut missing = vec![0; k];
    for (lineno, line) in &body {
        for (j, (v, miss)) in layout.parse(line, *lineno)?.into_iter().enumerate() {
            vals[j].push(v);
            missing[j] += miss as usize;
        }
    }
    let rows = body.len();
    let columns = vals
        .into_iter()
        .zip(&layout.keep)
        .map(|(v, &c)| match layout.types[c] {
            DType::I64 => from_vec(
                v.iter()
                    .map(|x| if let Value::I(i) = x { *i } else { 0 })
                    .collect::<Vec<_>>(),
                [rows],
            ),
            DType::Bool => from_vec(
                v.iter()
                    .map(|x| matches!(x, Value::B(true)))
                    .collect::<Vec<_>>(),
                [rows],
            ),
            _ => from_vec(
                v.iter()
                    .map(|x| if let Value::F(f) = x { *f } else { 0.0 })
                    .collect::<Vec<_>>(),
                [rows],
            ),
        })
        .collect::<Result<Vec<_>>>()?;
    let names = layout
        .keep
        .iter()
        .map(|&c| layout.names[c].clone())
        .collect();
    Ok(CsvTable {
        names,
        columns,
        missing,
        rows,
    })
}

impl Dataset<Vec<Tensor>> {
    /// The rows of a CSV file, streamed: each element holds one scalar tensor per (selected)
    /// column, typed by `column_types` (default float32). A bad line is an error element that
    /// names the line; iteration goes on with the next line.
    ///
    /// ```no_run
    /// # use ferrolab::prelude::*;
    /// let ds = Dataset::from_csv("iris.csv", CsvOptions::new())
    ///     .map(|row| (stack(&[&row[0], &row[1], &row[2], &row[3]], 0), row[4].clone()));
    /// ```
    pub fn from_csv(path: impl AsRef<Path>, opts: CsvOptions) -> Dataset<Vec<Tensor>> {
        let path: PathBuf = path.as_ref().to_path_buf();
        Dataset::from_maker(Stage::Source, Card::Unknown, move |_| {
            let mut lines = match open_lines(&path) {
                Ok(l) => l,
                Err(e) => return Box::new(std::iter::once(Err(e))),
            };
            let first = match lines.next().transpose() {
                Ok(f) => f,
                Err(e) => return Box::new(std::iter::once(Err(e.into()))),
            };
            let layout =
                match Layout::new(&path, first.as_deref(), &opts, opts.column_types.clone()) {
                    Ok(l) => l,
                    Err(e) => return Box::new(std::iter::once(Err(e))),
                };
            let mut pending_first = if opts.header { None } else { first };
            let mut lineno = if opts.header { 1 } else { 0 };
            Box::new(std::iter::from_fn(move || loop {
                if let Some(c) = super::iter::cancel_point() {
                    return Some(c);
                }
                let line = match pending_first.take() {
                    Some(l) => l,
                    None => match lines.next()? {
                        Ok(l) => l,
                        Err(e) => return Some(Err(e.into())),
                    },
                };
                lineno += 1;
                if line.trim().is_empty() {
                    continue;
                }
                return Some(
                    layout
                        .parse(&line, lineno)
                        .and_then(|vals| vals.into_iter().map(|(v, _)| scalar(v)).collect()),
                );
            }))
        })
    }
}
