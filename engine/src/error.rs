//! Errors that teach: each names the op, the shapes and the likely fix.
//!
//! Tensor math panics like ndarray's operators (with `#[track_caller]`, so the panic points at the
//! learner's line); every panicking op has a `try_*` twin that returns [`Result`]. Anything that
//! touches files or devices returns `Result<_, ferrolab::Error>`.

use std::fmt;

use crate::device::Device;
use crate::dtype::DType;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Two shapes that do not fit together (broadcasting, matmul, concat...).
    ShapeMismatch {
        op: &'static str,
        lhs: Vec<usize>,
        rhs: Vec<usize>,
        hint: String,
    },
    /// A shape or argument that is wrong on its own (bad axis, bad reshape, bad slice...).
    InvalidArgument {
        op: &'static str,
        msg: String,
    },
    /// An op that does not support a dtype, or two dtypes that do not match.
    DTypeMismatch {
        op: &'static str,
        expected: String,
        got: DType,
    },
    /// Two tensors on different devices.
    DeviceMismatch {
        op: &'static str,
        lhs: Device,
        rhs: Device,
    },
    /// A CUDA device was asked for but none is usable.
    NoCudaDevice {
        requested: Device,
        reason: String,
    },
    /// Out of memory on a device.
    OutOfMemory {
        device: Device,
        requested: u64,
        free: u64,
    },
    /// File and parse errors.
    Io(String),
    /// The kernel asked the running code to stop.
    Cancelled,
    Msg(String),
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn fmt_shape(s: &[usize]) -> String {
    match s.len() {
        1 => format!("({},)", s[0]),
        _ => format!(
            "({})",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ShapeMismatch { op, lhs, rhs, hint } => {
                write!(f, "{op}: shapes {} and {} ", fmt_shape(lhs), fmt_shape(rhs))?;
                if hint.is_empty() {
                    write!(f, "do not match")
                } else {
                    write!(f, "do not match: {hint}")
                }
            }
            Error::InvalidArgument { op, msg } => write!(f, "{op}: {msg}"),
            Error::DTypeMismatch { op, expected, got } => {
                write!(f, "{op}: expected {expected}, got {got}")?;
                if got.is_float() || expected.contains("cast") {
                    Ok(())
                } else {
                    write!(f, "; cast first, e.g. x.cast(DType::F32)")
                }
            }
            Error::DeviceMismatch { op, lhs, rhs } => write!(
                f,
                "{op}: tensors are on different devices ({lhs} and {rhs}); move one with .to({lhs})"
            ),
            Error::NoCudaDevice { requested, reason } => write!(
                f,
                "no CUDA device for {requested}: {reason}. Use Device::Cpu, or run on a machine with an NVIDIA GPU"
            ),
            Error::OutOfMemory {
                device,
                requested,
                free,
            } => write!(
                f,
                "out of memory on {device}: asked for {:.1} MiB, {:.1} MiB free; use a smaller batch or free tensors",
                *requested as f64 / 1048576.0,
                *free as f64 / 1048576.0
            ),
            Error::Io(m) => write!(f, "{m}"),
            Error::Cancelled => write!(f, "KeyboardInterrupt"),
            Error::Msg(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

pub(crate) fn invalid(op: &'static str, msg: impl Into<String>) -> Error {
    Error::InvalidArgument {
        op,
        msg: msg.into(),
    }
}

/// Unwraps an op result, panicking with the error's message at the caller's line.
#[track_caller]
#[inline]
pub(crate) fn or_panic<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn messages_name_op_shapes_and_fix() {
        let e = Error::ShapeMismatch {
            op: "matmul",
            lhs: vec![32, 64],
            rhs: vec![10, 64],
            hint: "inner dims 64 != 10; did you mean b.t()?".into(),
        };
        assert_eq!(
            e.to_string(),
            "matmul: shapes (32, 64) and (10, 64) do not match: inner dims 64 != 10; did you mean b.t()?"
        );
        assert_eq!(fmt_shape(&[3]), "(3,)");
        assert_eq!(fmt_shape(&[]), "()");
    }
}
