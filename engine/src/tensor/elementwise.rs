//! Elementwise math with NumPy broadcasting: unary functions, binary ops and operators,
//! comparisons (returning bool tensors), `where_` and `cast`. Each checks its arguments and
//! goes through `dispatch::apply`; gradients are in `autodiff/backward.rs`.

use crate::autodiff::Variable;
use crate::dtype::DType;
use crate::error::{or_panic, Error, Result};
use crate::storage::{BinaryOp, CmpOp, UnaryOp};
use crate::tensor::{apply, Op, Tensor};

/// A right-hand operand: a tensor, a variable or a plain number (which takes the tensor's dtype).
pub trait Operand {
    fn operand(self, like: &Tensor) -> Tensor;
    /// The number, when the operand is a plain number.
    fn as_scalar(&self) -> Option<f64> {
        None
    }
}
impl Operand for &Tensor {
    fn operand(self, _: &Tensor) -> Tensor {
        self.clone()
    }
}
impl Operand for Tensor {
    fn operand(self, _: &Tensor) -> Tensor {
        self
    }
}
impl Operand for &Variable {
    fn operand(self, _: &Tensor) -> Tensor {
        (**self).clone()
    }
}
macro_rules! scalar_operand {
    ($($t:ty),*) => {$(
        impl Operand for $t {
            fn operand(self, like: &Tensor) -> Tensor { like.scalar_operand(self as f64) }
            fn as_scalar(&self) -> Option<f64> { Some(*self as f64) }
        }
    )*};
}
scalar_operand!(f32, f64, i32, i64);

impl Tensor {
    /// A unary primitive.
    pub(crate) fn unary_op(&self, op: UnaryOp) -> Result<Tensor> {
        apply(Op::Unary(op), &[self])
    }

    /// A binary primitive with broadcasting (`Op::infer` checks the dtypes and suggests a cast).
    fn binary_op(&self, rhs: &Tensor, op: BinaryOp) -> Result<Tensor> {
        apply(Op::Binary(op), &[self, rhs])
    }

    pub fn try_add(&self, rhs: impl Operand) -> Result<Tensor> {
        self.binary_op(&rhs.operand(self), BinaryOp::Add)
    }
    pub fn try_sub(&self, rhs: impl Operand) -> Result<Tensor> {
        self.binary_op(&rhs.operand(self), BinaryOp::Sub)
    }
    pub fn try_mul(&self, rhs: impl Operand) -> Result<Tensor> {
        self.binary_op(&rhs.operand(self), BinaryOp::Mul)
    }
    pub fn try_div(&self, rhs: impl Operand) -> Result<Tensor> {
        self.binary_op(&rhs.operand(self), BinaryOp::Div)
    }
    /// Elementwise maximum (`tf.maximum`); ties send the gradient to `self`.
    #[track_caller]
    pub fn maximum(&self, rhs: impl Operand) -> Tensor {
        or_panic(self.try_maximum(rhs))
    }
    pub fn try_maximum(&self, rhs: impl Operand) -> Result<Tensor> {
        self.binary_op(&rhs.operand(self), BinaryOp::Maximum)
    }
    /// Elementwise minimum (`tf.minimum`); ties send the gradient to `self`.
    #[track_caller]
    pub fn minimum(&self, rhs: impl Operand) -> Tensor {
        or_panic(self.try_minimum(rhs))
    }
    pub fn try_minimum(&self, rhs: impl Operand) -> Result<Tensor> {
        self.binary_op(&rhs.operand(self), BinaryOp::Minimum)
    }
    /// `tf.pow(x, p)`: a number uses a fast scalar power; a tensor exponent is differentiable too.
    #[track_caller]
    pub fn pow(&self, p: impl Operand) -> Tensor {
        or_panic(self.try_pow(p))
    }
    pub fn try_pow(&self, p: impl Operand) -> Result<Tensor> {
        if let (Some(p), true) = (p.as_scalar(), self.dtype().is_float()) {
            return self.unary_op(UnaryOp::Powf(p as f32));
        }
        self.binary_op(&p.operand(self), BinaryOp::Pow)
    }
    /// `x^p` for a number `p`.
    #[track_caller]
    pub fn powf(&self, p: f32) -> Tensor {
        self.pow(p)
    }

    fn compare(&self, rhs: impl Operand, op: CmpOp, name: &'static str) -> Result<Tensor> {
        let rhs = rhs.operand(self);
        check_dtypes(name, self, &rhs)?;
        apply(Op::Compare(op), &[self, &rhs])
    }

    /// `x == y` elementwise, as a bool tensor (`tf.equal`).
    #[track_caller]
    pub fn equal(&self, rhs: impl Operand) -> Tensor {
        or_panic(self.compare(rhs, CmpOp::Eq, "equal"))
    }
    #[track_caller]
    pub fn not_equal(&self, rhs: impl Operand) -> Tensor {
        or_panic(self.compare(rhs, CmpOp::Ne, "not_equal"))
    }
    #[track_caller]
    pub fn less(&self, rhs: impl Operand) -> Tensor {
        or_panic(self.compare(rhs, CmpOp::Lt, "less"))
    }
    #[track_caller]
    pub fn less_equal(&self, rhs: impl Operand) -> Tensor {
        or_panic(self.compare(rhs, CmpOp::Le, "less_equal"))
    }
    #[track_caller]
    pub fn greater(&self, rhs: impl Operand) -> Tensor {
        or_panic(self.compare(rhs, CmpOp::Gt, "greater"))
    }
    #[track_caller]
    pub fn greater_equal(&self, rhs: impl Operand) -> Tensor {
        or_panic(self.compare(rhs, CmpOp::Ge, "greater_equal"))
    }
    pub fn try_compare(&self, rhs: impl Operand, op: CmpOp) -> Result<Tensor> {
        self.compare(rhs, op, "compare")
    }
    /// Elementwise AND of two bool tensors.
    #[track_caller]
    pub fn logical_and(&self, rhs: &Tensor) -> Tensor {
        or_panic(
            check_bool("logical_and", self, rhs)
                .and_then(|_| self.binary_op(rhs, BinaryOp::LogicalAnd)),
        )
    }
    #[track_caller]
    pub fn logical_or(&self, rhs: &Tensor) -> Tensor {
        or_panic(
            check_bool("logical_or", self, rhs)
                .and_then(|_| self.binary_op(rhs, BinaryOp::LogicalOr)),
        )
    }
    #[track_caller]
    pub fn logical_not(&self) -> Tensor {
        or_panic(
            check_bool("logical_not", self, self).and_then(|_| self.unary_op(UnaryOp::LogicalNot)),
        )
    }

    /// `tf.cast`: float <-> float rounds, float -> int truncates toward zero, bool <-> numbers is 0/1.
    #[track_caller]
    pub fn cast(&self, dtype: DType) -> Tensor {
        or_panic(self.try_cast(dtype))
    }
    pub fn try_cast(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        apply(Op::Cast(dtype), &[self])
    }

    /// Clips values to [lo, hi] (`tf.clip_by_value`); the gradient is 0 outside.
    #[track_caller]
    pub fn clamp(&self, lo: f32, hi: f32) -> Tensor {
        or_panic(self.try_clamp(lo, hi))
    }
    pub fn try_clamp(&self, lo: f32, hi: f32) -> Result<Tensor> {
        if lo > hi {
            return Err(crate::error::invalid(
                "clamp",
                format!("lo ({lo}) is greater than hi ({hi})"),
            ));
        }
        self.unary_op(UnaryOp::Clamp(lo, hi))
    }
    /// d gelu/dx = Phi(x) + x phi(x) (for gelu's gradient; it has its own, so nested tapes
    /// give gelu's second derivative).
    pub(crate) fn gelu_grad(&self) -> Tensor {
        or_panic(self.unary_op(UnaryOp::GeluGrad))
    }
    /// 1 where x > 0, else 0 (relu's gradient).
    pub(crate) fn step(&self) -> Tensor {
        or_panic(self.unary_op(UnaryOp::Step))
    }
    /// `x * mul + add` in one pass.
    #[track_caller]
    pub fn affine(&self, mul: f32, add: f32) -> Tensor {
        or_panic(self.unary_op(UnaryOp::Affine(mul, add)))
    }
}

pub(crate) fn check_dtypes(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    // under an autocast scope, float variables are read in the compute dtype (`apply` casts)
    let autocast = crate::tensor::autocast::current();
    let seen = |t: &Tensor| match autocast {
        Some(d) if t.0.var.is_some() && t.dtype().is_float() => d,
        _ => t.dtype(),
    };
    crate::tensor::op::check_same_dtype(op, seen(a), seen(b))
}

impl Tensor {
    /// A plain number as an operand of this tensor: it takes this tensor's dtype, unless that
    /// would silently change it (2.5 for an int64 tensor), in which case it stays float32 and
    /// the op reports the dtype mismatch.
    fn scalar_operand(&self, v: f64) -> Tensor {
        if !self.dtype().is_float() && v.fract() != 0.0 {
            return or_panic(crate::tensor::create::full_on(
                crate::shape::Shape::scalar(),
                v,
                DType::F32,
                self.device(),
            ));
        }
        self.scalar_like(v)
    }
}

fn check_bool(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    for t in [a, b] {
        if t.dtype() != DType::Bool {
            return Err(Error::DTypeMismatch {
                op,
                expected: "bool tensors (e.g. x.greater(0.0) or x.cast(DType::Bool))".into(),
                got: t.dtype(),
            });
        }
    }
    Ok(())
}

/// `tf.where(cond, x, y)`: `x` where `cond` is true, else `y`, with broadcasting.
#[track_caller]
pub fn where_(cond: &Tensor, x: &Tensor, y: &Tensor) -> Tensor {
    or_panic(try_where(cond, x, y))
}
pub fn try_where(cond: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    if cond.dtype() != DType::Bool {
        return Err(Error::DTypeMismatch {
            op: "where",
            expected: "a bool condition, e.g. x.greater(0.0)".into(),
            got: cond.dtype(),
        });
    }
    check_dtypes("where", x, y)?;
    apply(Op::Where, &[cond, x, y])
}

// ------------------------------------------------------------------------------------------------
// Unary functions. Each line: name and primitive; the gradients are in `autodiff/backward.rs`.

macro_rules! unary_fns {
    ($($(#[$doc:meta])* $name:ident, $try:ident, $op:expr;)*) => {
        impl Tensor {$(
            $(#[$doc])*
            #[track_caller]
            pub fn $name(&self) -> Tensor { or_panic(self.$try()) }
            pub fn $try(&self) -> Result<Tensor> {
                self.unary_op($op)
            }
        )*}
    };
}

unary_fns! {
    /// -x
    neg, try_neg, UnaryOp::Neg;
    /// |x|
    abs, try_abs, UnaryOp::Abs;
    /// e^x
    exp, try_exp, UnaryOp::Exp;
    /// natural log
    log, try_log, UnaryOp::Log;
    /// sqrt(x)
    sqrt, try_sqrt, UnaryOp::Sqrt;
    /// 1/sqrt(x)
    rsqrt, try_rsqrt, UnaryOp::Rsqrt;
    /// sin(x)
    sin, try_sin, UnaryOp::Sin;
    /// cos(x)
    cos, try_cos, UnaryOp::Cos;
    /// tanh(x)
    tanh, try_tanh, UnaryOp::Tanh;
    /// 1 / (1 + e^-x)
    sigmoid, try_sigmoid, UnaryOp::Sigmoid;
    /// max(x, 0)
    relu, try_relu, UnaryOp::Relu;
    /// exact GELU, x Phi(x) (Keras' default approximate=False)
    gelu, try_gelu, UnaryOp::Gelu;
    /// ln(1 + e^x)
    softplus, try_softplus, UnaryOp::Softplus;
    /// x^2
    square, try_square, UnaryOp::Square;
    /// 1/x
    reciprocal, try_reciprocal, UnaryOp::Recip;
    /// erf(x)
    erf, try_erf, UnaryOp::Erf;
}

macro_rules! unary_nograd {
    ($($(#[$doc:meta])* $name:ident, $op:expr;)*) => {
        impl Tensor {$(
            $(#[$doc])*
            #[track_caller]
            pub fn $name(&self) -> Tensor { or_panic(self.unary_op($op)) }
        )*}
    };
}
unary_nograd! {
    /// -1, 0 or 1 (no gradient, like TF).
    sign, UnaryOp::Sign;
    floor, UnaryOp::Floor;
    ceil, UnaryOp::Ceil;
    /// Rounds half to even, like tf.round.
    round, UnaryOp::Round;
}

// ------------------------------------------------------------------------------------------------
// Operators: Tensor, &Tensor, Variable and &Variable on either side, and plain numbers.

macro_rules! bin_ops {
    ($trait:ident, $method:ident, $try:ident) => {
        impl<R: Operand> std::ops::$trait<R> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: R) -> Tensor {
                or_panic(self.$try(rhs))
            }
        }
        impl<R: Operand> std::ops::$trait<R> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: R) -> Tensor {
                or_panic(self.$try(rhs))
            }
        }
        impl<R: Operand> std::ops::$trait<R> for &Variable {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: R) -> Tensor {
                or_panic((**self).$try(rhs))
            }
        }
        // One float and one integer type only: with two of either, a literal such as
        // `(2.0 * &x).sum()` is ambiguous ("type annotations needed").
        bin_ops!(@scalar_lhs $trait, $method, $try, f64, i64);
    };
    (@scalar_lhs $trait:ident, $method:ident, $try:ident, $($s:ty),*) => {$(
        impl std::ops::$trait<&Tensor> for $s {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                or_panic(rhs.scalar_operand(self as f64).$try(rhs))
            }
        }
        impl std::ops::$trait<Tensor> for $s {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                or_panic(rhs.scalar_operand(self as f64).$try(&rhs))
            }
        }
        impl std::ops::$trait<&Variable> for $s {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Variable) -> Tensor {
                or_panic(rhs.scalar_operand(self as f64).$try(&**rhs))
            }
        }
    )*};
}
bin_ops!(Add, add, try_add);
bin_ops!(Sub, sub, try_sub);
bin_ops!(Mul, mul, try_mul);
bin_ops!(Div, div, try_div);

impl std::ops::Neg for &Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}
impl std::ops::Neg for Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        Tensor::neg(&self)
    }
}
impl std::ops::Neg for &Variable {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}
