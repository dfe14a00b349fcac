//! NumPy `.npy` files: read and write whole tensors, and stream rows with `Dataset::from_npy`.
//!
//! Format (NEP 1): the magic `\x93NUMPY`, a version, a header length, then a Python dict literal
//! such as `{'descr': '<f4', 'fortran_order': False, 'shape': (10, 64), }` padded to a multiple
//! of 64 bytes, then the raw little-endian values in C order. Written as version 1.0.
//!
//! | descr | read as | written from |
//! |---|---|---|
//! | `<f4` | float32 | float32 |
//! | `<f2` | float16 | float16 |
//! | `<f8` | float32 (converted) | - |
//! | `<i8`, `<i4`, `|u1`, `|i1` | int64 (converted) | int64 (`<i8`) |
//! | `|b1` | bool | bool |
//!
//! bfloat16 has no NumPy type: cast to float32 before saving. Big-endian and Fortran-order
//! files are reported as errors, as are truncated files.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::{Card, Dataset, Stage};
use crate::dtype::{bf16, f16, DType};
use crate::error::{Error, Result};
use crate::tensor::create::from_vec;
use crate::tensor::Tensor;

const MAGIC: &[u8] = b"\x93NUMPY";

/// The on-disk element type of an `.npy` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Descr {
    F4,
    F2,
    F8,
    I8,
    I4,
    U1,
    I1,
    B1,
}

impl Descr {
    fn parse(s: &str) -> Option<Descr> {
        Some(match s {
            "<f4" => Descr::F4,
            "<f2" => Descr::F2,
            "<f8" => Descr::F8,
            "<i8" => Descr::I8,
            "<i4" => Descr::I4,
            "|u1" | "<u1" => Descr::U1,
            "|i1" | "<i1" => Descr::I1,
            "|b1" => Descr::B1,
            _ => return None,
        })
    }
    fn size(self) -> usize {
        match self {
            Descr::F8 | Descr::I8 => 8,
            Descr::F4 | Descr::I4 => 4,
            Descr::F2 => 2,
            Descr::U1 | Descr::I1 | Descr::B1 => 1,
        }
    }
}

/// Little-endian bytes of a tensor's values in row-major order.
pub(crate) fn tensor_bytes(t: &Tensor) -> Result<Vec<u8>> {
    Ok(match t.dtype() {
        DType::F32 => t
            .try_to_vec::<f32>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::F16 => t
            .try_to_vec::<f16>()?
            .iter()
            .flat_map(|v| v.to_bits().to_le_bytes())
            .collect(),
        DType::BF16 => t
            .try_to_vec::<bf16>()?
            .iter()
            .flat_map(|v| v.to_bits().to_le_bytes())
            .collect(),
        DType::I64 => t
            .try_to_vec::<i64>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::Bool => t.try_to_vec::<bool>()?.iter().map(|&b| b as u8).collect(),
    })
}

/// A tensor from little-endian bytes written by [`tensor_bytes`].
pub(crate) fn tensor_from_bytes(dtype: DType, shape: Vec<usize>, b: &[u8]) -> Result<Tensor> {
    match dtype {
        DType::F32 => from_vec(
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect::<Vec<_>>(),
            shape,
        ),
        DType::F16 => from_vec(
            b.chunks_exact(2)
                .map(|c| f16::from_bits(u16::from_le_bytes([c[0], c[1]])))
                .collect::<Vec<_>>(),
            shape,
        ),
        DType::BF16 => from_vec(
            b.chunks_exact(2)
                .map(|c| bf16::from_bits(u16::from_le_bytes([c[0], c[1]])))
                .collect::<Vec<_>>(),
            shape,
        ),
        DType::I64 => from_vec(
            b.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect::<Vec<_>>(),
            shape,
        ),
        DType::Bool => from_vec(b.iter().map(|&v| v != 0).collect::<Vec<_>>(), shape),
    }
}

fn decode(descr: Descr, shape: Vec<usize>, b: &[u8]) -> Result<Tensor> {
    let ints = |v: Vec<i64>| from_vec(v, shape.clone());
    match descr {
        Descr::F4 => tensor_from_bytes(DType::F32, shape, b),
        Descr::F2 => tensor_from_bytes(DType::F16, shape, b),
        Descr::I8 => tensor_from_bytes(DType::I64, shape, b),
        Descr::B1 => tensor_from_bytes(DType::Bool, shape, b),
        Descr::F8 => from_vec(
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect::<Vec<_>>(),
            shape,
        ),
        Descr::I4 => ints(
            b.chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
                .collect(),
        ),
        Descr::U1 => ints(b.iter().map(|&v| v as i64).collect()),
        Descr::I1 => ints(b.iter().map(|&v| v as i8 as i64).collect()),
    }
}

/// Writes `t` to `path` as a version 1.0 `.npy` file (`np.save`).
pub fn write_npy(path: impl AsRef<Path>, t: &Tensor) -> Result<()> {
    let path = path.as_ref();
    let descr = match t.dtype() {
        DType::F32 => "<f4",
        DType::F16 => "<f2",
        DType::I64 => "<i8",
        DType::Bool => "|b1",
        DType::BF16 => {
            return Err(Error::Io(format!(
                "write_npy {}: NumPy has no bfloat16; save x.cast(DType::F32) instead",
                path.display()
            )))
        }
    };
    let shape = match t.dims() {
        [d] => format!("({d},)"),
        d => format!(
            "({})",
            d.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let io = |e: std::io::Error| Error::Io(format!("write_npy {}: {e}", path.display()));
    let mut w = BufWriter::new(File::create(path).map_err(io)?);
    w.write_all(MAGIC).map_err(io)?;
    w.write_all(&[1, 0]).map_err(io)?;
    w.write_all(&(header.len() as u16).to_le_bytes())
        .map_err(io)?;
    w.write_all(header.as_bytes()).map_err(io)?;
    w.write_all(&tensor_bytes(t)?).map_err(io)?;
    w.flush().map_err(io)
}

/// The parsed header: element type and shape; the reader is left at the first value.
struct Header {
    descr: Descr,
    shape: Vec<usize>,
}

/// Reads the header and checks that the file holds every value it promises, so a damaged
/// header can never make the reader allocate more than the file's size.
fn read_header(r: &mut impl Read, path: &Path, file_len: u64) -> Result<Header> {
    let bad = |why: String| Error::Io(format!("read_npy {}: {why}", path.display()));
    let io = |e: std::io::Error| bad(format!("cannot read the header ({e})"));
    let mut pre = [0u8; 8];
    r.read_exact(&mut pre).map_err(io)?;
    if &pre[..6] != MAGIC {
        return Err(bad("not an .npy file (no \\x93NUMPY magic)".into()));
    }
    let (len, prefix) = match pre[6] {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b).map_err(io)?;
            (u16::from_le_bytes(b) as usize, 10)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b).map_err(io)?;
            (u32::from_le_bytes(b) as usize, 12)
        }
        v => return Err(bad(format!("unsupported format version {v}"))),
    };
    if len > 1 << 20 {
        return Err(bad(format!("header of {len} bytes is too large")));
    }
    let mut h = vec![0u8; len];
    r.read_exact(&mut h).map_err(io)?;
    let h = String::from_utf8_lossy(&h);
    let field = |key: &str| -> Result<String> {
        let at = h
            .find(&format!("'{key}'"))
            .ok_or_else(|| bad(format!("header has no '{key}': {h}")))?;
        let rest = h[at + key.len() + 2..].trim_start();
        Ok(rest
            .strip_prefix(':')
            .unwrap_or(rest)
            .trim_start()
            .to_string())
    };
    let d = field("descr")?;
    let d = d.trim_start_matches(['\'', '"']);
    let d = &d[..d.find(['\'', '"']).unwrap_or(d.len())];
    let descr = Descr::parse(d).ok_or_else(|| {
        bad(format!(
            "dtype '{d}' is not supported; use float32, float16, float64, int64, int32, uint8, int8 or bool (little-endian)"
        ))
    })?;
    if field("fortran_order")?.starts_with("True") {
        return Err(bad(
            "Fortran-order arrays are not supported; save np.ascontiguousarray(a)".into(),
        ));
    }
    let s = field("shape")?;
    let inner = s
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad(format!("cannot read the shape in {h}")))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| bad(format!("bad dimension '{v}' in the shape")))
        })
        .collect::<Result<Vec<_>>>()?;
    let payload = shape
        .iter()
        .try_fold(descr.size() as u64, |acc, &d| acc.checked_mul(d as u64));
    let have = file_len.saturating_sub((prefix + len) as u64);
    match payload {
        Some(p) if p <= have => Ok(Header { descr, shape }),
        _ => Err(bad(format!(
            "the header promises shape {shape:?} of '{d}' but the file holds only {have} bytes of values (truncated?)"
        ))),
    }
}

/// Opens `path` and reads its header.
fn open(path: &Path) -> Result<(BufReader<File>, Header)> {
    let io = |e: std::io::Error| Error::Io(format!("read_npy {}: {e}", path.display()));
    let f = File::open(path).map_err(io)?;
    let file_len = f.metadata().map_err(io)?.len();
    let mut r = BufReader::new(f);
    let h = read_header(&mut r, path, file_len)?;
    Ok((r, h))
}

/// Reads a whole `.npy` file into a tensor (`np.load`).
pub fn read_npy(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let (mut r, h) = open(path)?;
    let n: usize = h.shape.iter().product();
    let mut b = vec![0u8; n * h.descr.size()];
    r.read_exact(&mut b).map_err(|_| {
        Error::Io(format!(
            "read_npy {}: the file ends before its {n} values (truncated?)",
            path.display()
        ))
    })?;
    decode(h.descr, h.shape, &b)
}

impl Dataset<Tensor> {
    /// The rows of an `.npy` file, read one at a time from disk: an array of shape (N, ...)
    /// gives N elements of shape (...). The file is opened when iteration starts; a missing,
    /// malformed or truncated file is an error element.
    pub fn from_npy(path: impl AsRef<Path>) -> Dataset<Tensor> {
        let path: PathBuf = path.as_ref().to_path_buf();
        Dataset::from_maker(Stage::Source, Card::Unknown, move |_| {
            let path = path.clone();
            let mut state: Option<(BufReader<File>, Header, usize)> = None;
            let mut failed = false;
            Box::new(std::iter::from_fn(move || {
                if failed {
                    return None;
                }
                if let Some(c) = super::iter::cancel_point() {
                    return Some(c);
                }
                if state.is_none() {
                    let opened = open(&path).map(|(r, h)| (r, h, 0));
                    match opened {
                        Ok(s) => state = Some(s),
                        Err(e) => {
                            failed = true;
                            return Some(Err(e));
                        }
                    }
                }
                let (r, h, row) = state.as_mut()?;
                let (n, rest) = match h.shape.split_first() {
                    Some((&n, rest)) => (n, rest.to_vec()),
                    None => (1, vec![]),
                };
                if *row >= n {
                    return None;
                }
                let mut b = vec![0u8; rest.iter().product::<usize>() * h.descr.size()];
                if r.read_exact(&mut b).is_err() {
                    failed = true;
                    return Some(Err(Error::Io(format!(
                        "from_npy {}: the file ends after {row} of {n} rows (truncated?)",
                        path.display()
                    ))));
                }
                *row += 1;
                Some(decode(h.descr, rest, &b))
            }))
        })
    }
}
