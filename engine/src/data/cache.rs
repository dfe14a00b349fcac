//! `cache`: keep the elements of the first complete pass, in memory or in a file.
//!
//! The first iteration runs the pipeline above the cache and records what passes through; later
//! iterations replay the recording and skip that work (opening files, parsing, `map`). As in TF,
//! only a *complete* first pass is kept: an iteration stopped early (a `take` after the cache,
//! an error, an interrupt) records nothing, and the next one starts over. Put random
//! transformations (shuffle, augmentation) *after* the cache, or every epoch sees the same ones.
//!
//! The file cache streams both ways (memory stays bounded) and survives the process: a later
//! pipeline with the same file reads it directly. Format: `FLCACHE1\n`, then per element the
//! number of tensors (u32) and per tensor its dtype (u8), rank (u8), dims (u64 each) and its
//! little-endian values. It is written to `<file>.partial` and renamed when the pass completes.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::element::{Element, Item};
use super::npy::{tensor_bytes, tensor_from_bytes};
use super::{Dataset, Stage, Stream};
use crate::dtype::DType;
use crate::error::{Error, Result};

const MAGIC: &[u8] = b"FLCACHE1\n";
const DTYPES: [DType; 5] = [DType::F32, DType::F16, DType::BF16, DType::I64, DType::Bool];

impl<T: Item> Dataset<T> {
    /// Keeps the elements of the first complete pass in memory and replays them after that
    /// (`Dataset.cache()`).
    pub fn cache(&self) -> Dataset<T> {
        let store: Arc<Mutex<Option<Arc<Vec<T>>>>> = Arc::new(Mutex::new(None));
        let upstream = self.clone();
        // The upstream stream is only started when there is no recording yet: starting it
        // would already set parallel stages to work.
        Dataset::from_maker(Stage::Other, self.card, move |_| {
            let done = store.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(items) = done {
                return Box::new((0..items.len()).map(move |i| Ok(items[i].clone()))) as Stream<T>;
            }
            let (store, mut up) = (store.clone(), upstream.stream());
            let mut seen: Option<Vec<T>> = Some(Vec::new());
            Box::new(std::iter::from_fn(move || match up.next() {
                Some(Ok(x)) => {
                    if let Some(s) = seen.as_mut() {
                        s.push(x.clone());
                    }
                    Some(Ok(x))
                }
                Some(Err(e)) => {
                    seen = None; // an incomplete pass is not cached
                    Some(Err(e))
                }
                None => {
                    if let Some(s) = seen.take() {
                        *store.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(s));
                    }
                    None
                }
            }))
        })
    }
}

impl<T: Element> Dataset<T> {
    /// Like `cache()`, but records to `path` (`Dataset.cache(filename)`): for datasets larger
    /// than memory, and kept across runs. Delete the file when the pipeline above it changes.
    pub fn cache_to_file(&self, path: impl AsRef<Path>) -> Dataset<T> {
        let path = path.as_ref().to_path_buf();
        let upstream = self.clone();
        Dataset::from_maker(Stage::Other, self.card, move |_| {
            if path.exists() {
                return read_cache::<T>(path.clone());
            }
            let mut up = upstream.stream();
            let partial = PathBuf::from(format!("{}.partial", path.display()));
            let mut writer = match File::create(&partial) {
                Ok(f) => {
                    let mut w = BufWriter::new(f);
                    w.write_all(MAGIC).ok().map(|_| w)
                }
                Err(_) => None,
            };
            let path = path.clone();
            let mut failed_write = writer.is_none();
            Box::new(std::iter::from_fn(move || match up.next() {
                Some(Ok(x)) => {
                    if let Some(w) = writer.as_mut() {
                        if let Err(e) = write_element(w, &x) {
                            writer = None;
                            failed_write = true;
                            return Some(Err(Error::Io(format!(
                                "cache_to_file {}: {e}",
                                path.display()
                            ))));
                        }
                    }
                    Some(Ok(x))
                }
                Some(Err(e)) => {
                    writer = None; // incomplete: the .partial file is not promoted
                    Some(Err(e))
                }
                None => {
                    if let Some(mut w) = writer.take() {
                        if w.flush().is_ok() && !failed_write {
                            drop(w);
                            let _ = std::fs::rename(&partial, &path);
                        }
                    }
                    None
                }
            }))
        })
    }
}

fn write_element<T: Element>(w: &mut impl Write, x: &T) -> Result<()> {
    let parts = x.parts();
    w.write_all(&(parts.len() as u32).to_le_bytes())?;
    for t in &parts {
        let code = DTYPES.iter().position(|&d| d == t.dtype()).unwrap_or(0) as u8;
        w.write_all(&[code, t.rank() as u8])?;
        for &d in t.dims() {
            w.write_all(&(d as u64).to_le_bytes())?;
        }
        w.write_all(&tensor_bytes(t)?)?;
    }
    Ok(())
}

fn read_cache<T: Element>(path: PathBuf) -> Stream<T> {
    let bad = {
        let path = path.clone();
        move |why: String| Error::Io(format!("cache_to_file {}: {why}", path.display()))
    };
    let (mut r, file_len) = match File::open(&path).and_then(|f| Ok((f.metadata()?.len(), f))) {
        Ok((len, f)) => (BufReader::new(f), len),
        Err(e) => return Box::new(std::iter::once(Err(bad(e.to_string())))),
    };
    let mut magic = [0u8; MAGIC.len()];
    if r.read_exact(&mut magic).is_err() || magic != MAGIC {
        return Box::new(std::iter::once(Err(bad(
            "not a ferrolab cache file; delete it to rebuild the cache".into(),
        ))));
    }
    let mut failed = false;
    Box::new(std::iter::from_fn(move || {
        if failed {
            return None;
        }
        let mut n = [0u8; 4];
        match r.read(&mut n[..1]) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => {
                failed = true;
                return Some(Err(bad(e.to_string())));
            }
        }
        let out = (|| -> std::io::Result<Result<T>> {
            r.read_exact(&mut n[1..])?;
            let mut parts = Vec::new();
            for _ in 0..u32::from_le_bytes(n) {
                let mut head = [0u8; 2];
                r.read_exact(&mut head)?;
                let dtype = DTYPES[(head[0] as usize).min(4)];
                let mut dims = Vec::with_capacity(head[1] as usize);
                for _ in 0..head[1] {
                    let mut d = [0u8; 8];
                    r.read_exact(&mut d)?;
                    dims.push(u64::from_le_bytes(d) as usize);
                }
                let len = dims
                    .iter()
                    .try_fold(dtype.size_in_bytes() as u64, |a, &d| {
                        a.checked_mul(d as u64)
                    })
                    .filter(|&l| l <= file_len)
                    .ok_or_else(|| std::io::Error::other("a tensor larger than the file"))?;
                let mut b = vec![0u8; len as usize];
                r.read_exact(&mut b)?;
                match tensor_from_bytes(dtype, dims, &b) {
                    Ok(t) => parts.push(t),
                    Err(e) => return Ok(Err(e)),
                }
            }
            Ok(T::from_parts(parts))
        })();
        Some(out.unwrap_or_else(|e| {
            failed = true;
            Err(bad(format!(
                "truncated or damaged ({e}); delete it to rebuild the cache"
            )))
        }))
    }))
}
