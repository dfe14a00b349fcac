//! Element types: float32, float16, bfloat16, int64 and bool, with TF's names.

use std::fmt;

pub use half::{bf16, f16};

use crate::storage::CpuStorage;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F16,
    BF16,
    I64,
    Bool,
}

impl DType {
    /// TF's name: `float32`, `float16`, `bfloat16`, `int64`, `bool`.
    pub fn as_str(&self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::I64 => "int64",
            DType::Bool => "bool",
        }
    }
    /// The Rust element type's name: `f32`, `f16`, `bf16`, `i64`, `bool`.
    pub fn rust_name(&self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::I64 => "i64",
            DType::Bool => "bool",
        }
    }
    pub fn is_float(&self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16)
    }
    pub fn size_in_bytes(&self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::I64 => 8,
            DType::Bool => 1,
        }
    }
    /// Parses TF's names and short forms (`f32`, `float32`, `half`, `int64`, ...).
    pub fn parse(s: &str) -> Option<DType> {
        Some(match s {
            "f32" | "float32" | "float" => DType::F32,
            "f16" | "float16" | "half" => DType::F16,
            "bf16" | "bfloat16" => DType::BF16,
            "i64" | "int64" | "int" => DType::I64,
            "bool" => DType::Bool,
            _ => return None,
        })
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Rust type that can be a tensor element.
pub trait Element: Copy + Send + Sync + PartialOrd + fmt::Debug + 'static {
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    fn into_storage(v: Vec<Self>) -> CpuStorage;
    fn slice(s: &CpuStorage) -> Option<&[Self]>;
}

macro_rules! element {
    ($t:ty, $variant:ident, $to:expr, $from:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            #[inline]
            fn to_f64(self) -> f64 {
                ($to)(self)
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                ($from)(v)
            }
            fn into_storage(v: Vec<Self>) -> CpuStorage {
                CpuStorage::$variant(v)
            }
            fn slice(s: &CpuStorage) -> Option<&[Self]> {
                match s {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
element!(f32, F32, |x: f32| x as f64, |v: f64| v as f32);
element!(f16, F16, |x: f16| x.to_f64(), f16::from_f64);
element!(bf16, BF16, |x: bf16| x.to_f64(), bf16::from_f64);
element!(i64, I64, |x: i64| x as f64, |v: f64| v as i64);
element!(bool, Bool, |x: bool| x as u8 as f64, |v: f64| v != 0.0);

/// A Rust literal that can start a tensor: f64 literals become float32 and integer literals
/// become int64, as `tf.constant` gives float32 for Python floats.
pub trait Scalar: Copy {
    type Elem: Element;
    fn elem(self) -> Self::Elem;
}

macro_rules! scalar {
    ($($t:ty => $e:ty),*) => {$(
        impl Scalar for $t {
            type Elem = $e;
            #[inline]
            fn elem(self) -> $e { self as $e }
        }
    )*};
}
scalar!(f32 => f32, f64 => f32, i64 => i64, i32 => i64, u32 => i64, usize => i64, u8 => i64);
impl Scalar for bool {
    type Elem = bool;
    fn elem(self) -> bool {
        self
    }
}
impl Scalar for f16 {
    type Elem = f16;
    fn elem(self) -> f16 {
        self
    }
}
impl Scalar for bf16 {
    type Elem = bf16;
    fn elem(self) -> bf16 {
        self
    }
}
