//! Where elements come from: tensors in memory, Rust closures, integer ranges and files.
//!
//! CSV and NPY files have their own files ([`super::csv`], [`super::npy`]); here are
//! `from_tensor_slices`, `from_tensors`, `from_items`, `from_generator`, `range` and
//! `list_files`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::element::{Element, Item, TensorSlices};
use super::iter::cancel_point;
use super::{Card, Dataset, Stage, Stream};
use crate::error::{or_panic, Error, Result};
use crate::tensor::create::from_vec;
use crate::tensor::Tensor;

impl<T: Element> Dataset<T> {
    /// One element per row of the first axis (`tf.data.Dataset.from_tensor_slices`):
    /// `Dataset::from_tensor_slices((&x, &y))` gives `(x[i], y[i])` pairs. Panics when the
    /// components have different first dimensions; see [`try_from_tensor_slices`](Self::try_from_tensor_slices).
    #[track_caller]
    pub fn from_tensor_slices<S: TensorSlices<Elem = T>>(slices: S) -> Dataset<T> {
        or_panic(Self::try_from_tensor_slices(slices))
    }

    /// `from_tensor_slices` that returns an error naming both shapes when the components have
    /// different first dimensions.
    pub fn try_from_tensor_slices<S: TensorSlices<Elem = T>>(slices: S) -> Result<Dataset<T>> {
        let comps = slices.components();
        let n = match comps.first().map(|t| t.dims().first().copied()) {
            Some(Some(n)) => n,
            _ => {
                return Err(crate::error::invalid(
                    "from_tensor_slices",
                    "needs tensors with at least one axis to slice; use from_tensors for a single element",
                ))
            }
        };
        for (c, t) in comps.iter().enumerate().skip(1) {
            if t.dims().first() != Some(&n) {
                return Err(Error::ShapeMismatch {
                    op: "from_tensor_slices",
                    lhs: comps[0].dims().to_vec(),
                    rhs: t.dims().to_vec(),
                    hint: format!(
                        "component 0 has {n} rows but component {c} has {}; every component needs the same first dimension",
                        t.dims().first().copied().unwrap_or(0)
                    ),
                });
            }
        }
        let comps = Arc::new(comps);
        Ok(Dataset::from_maker(
            Stage::Source,
            Card::Finite(n),
            move |_| {
                let comps = comps.clone();
                Box::new((0..n).map(move |i| {
                    if let Some(c) = cancel_point() {
                        return c;
                    }
                    T::from_parts(comps.iter().map(|t| t.get(i)).collect())
                }))
            },
        ))
    }

    /// A dataset with `element` as its only element (`tf.data.Dataset.from_tensors`).
    pub fn from_tensors(element: T) -> Dataset<T> {
        Dataset::from_items(vec![element])
    }
}

impl<T: Item> Dataset<T> {
    /// The given elements, in order (handy for small examples and tests).
    pub fn from_items(items: Vec<T>) -> Dataset<T> {
        let items = Arc::new(items);
        let n = items.len();
        Dataset::from_maker(Stage::Source, Card::Finite(n), move |_| {
            let items = items.clone();
            Box::new((0..n).map(move |i| Ok(items[i].clone())))
        })
    }

    /// Elements from a Rust iterator (`tf.data.Dataset.from_generator`): `generator` is called
    /// at the start of every iteration, so each epoch replays it.
    ///
    /// ```
    /// # use ferrolab::prelude::*;
    /// let ds = Dataset::from_generator(|| (0..3).map(|i| tensor(i as f32)));
    /// assert_eq!(ds.iter().map(|t| t.item()).collect::<Vec<_>>(), vec![0.0, 1.0, 2.0]);
    /// ```
    pub fn from_generator<I, F>(generator: F) -> Dataset<T>
    where
        I: Iterator<Item = T> + Send + 'static,
        F: Fn() -> I + Send + Sync + 'static,
    {
        Dataset::from_maker(Stage::Source, Card::Unknown, move |_| {
            let it = generator();
            Box::new(it.map(|x| match cancel_point() {
                Some(c) => c,
                None => Ok(x),
            })) as Stream<T>
        })
    }
}

/// The bounds of [`Dataset::range`]: `n` (0 up to n) or `start..stop`.
pub trait RangeArgs {
    fn bounds(self) -> (i64, i64);
}
macro_rules! range_args {
    ($($t:ty),*) => {$(
        impl RangeArgs for $t {
            fn bounds(self) -> (i64, i64) { (0, self as i64) }
        }
        impl RangeArgs for std::ops::Range<$t> {
            fn bounds(self) -> (i64, i64) { (self.start as i64, self.end as i64) }
        }
    )*};
}
range_args!(i32, i64, usize);

impl Dataset<Tensor> {
    /// int64 scalars `0, 1, .., n - 1` for `range(n)` (`tf.data.Dataset.range(n)`), or
    /// `start, .., stop - 1` for `range(start..stop)` (`Dataset.range(start, stop)`).
    pub fn range(bounds: impl RangeArgs) -> Dataset<Tensor> {
        let (start, stop) = bounds.bounds();
        Dataset::range_step(start, stop, 1)
    }

    /// int64 scalars from `start` towards `stop` (excluded) by `step` (which may be negative).
    #[track_caller]
    pub fn range_step(start: i64, stop: i64, step: i64) -> Dataset<Tensor> {
        assert!(step != 0, "range: step must not be 0");
        let n = if step > 0 {
            ((stop - start).max(0) + step - 1) / step
        } else {
            ((start - stop).max(0) - step - 1) / -step
        } as usize;
        Dataset::from_maker(Stage::Source, Card::Finite(n), move |_| {
            Box::new((0..n).map(move |i| {
                if let Some(c) = cancel_point() {
                    return c;
                }
                from_vec(vec![start + step * i as i64], Vec::<usize>::new())
            }))
        })
    }
}

impl Dataset<PathBuf> {
    /// The files matching `pattern`, sorted by name (`tf.data.Dataset.list_files`, with
    /// `shuffle=False`; add `.shuffle(n, seed)` for a random order). `*` and `?` may appear in
    /// the file-name part: `"shards/train-*.npy"`. An error when nothing matches.
    pub fn list_files(pattern: impl AsRef<Path>) -> Result<Dataset<PathBuf>> {
        let pattern = pattern.as_ref();
        let dir = match pattern.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = pattern
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Io(format!("list_files: no file name in {pattern:?}")))?;
        let mut files = Vec::new();
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| Error::Io(format!("list_files: cannot read {}: {e}", dir.display())))?;
        for entry in entries {
            let path = entry?.path();
            let matches = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| glob_match(name.as_bytes(), n.as_bytes()));
            if matches && path.is_file() {
                files.push(path);
            }
        }
        if files.is_empty() {
            return Err(Error::Io(format!(
                "list_files: no files match {}",
                pattern.display()
            )));
        }
        files.sort();
        Ok(Dataset::from_items(files))
    }
}

/// Shell-style matching of one name: `*` any run of characters, `?` one character.
fn glob_match(pat: &[u8], name: &[u8]) -> bool {
    match (pat.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pat[1..], name) || (!name.is_empty() && glob_match(pat, &name[1..]))
        }
        (Some(b'?'), Some(_)) => glob_match(&pat[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => glob_match(&pat[1..], &name[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glob() {
        use super::glob_match as g;
        assert!(g(b"train-*.npy", b"train-003.npy"));
        assert!(g(b"a?c", b"abc"));
        assert!(!g(b"train-*.npy", b"test-003.npy"));
        assert!(g(b"*", b""));
        assert!(!g(b"*.csv", b"x.npy"));
    }
}
