//! Elementwise math with NumPy broadcasting: unary functions, binary ops and operators,
//! comparisons (returning bool tensors), `where_` and `cast`. Each records its gradient.

use std::sync::Arc;

use crate::autodiff::{record, Variable};
use crate::dtype::DType;
use crate::error::{or_panic, Error, Result};
use crate::shape::broadcast_shapes;
use crate::storage::{BinaryOp, CmpOp, Storage, UnaryOp};
use crate::tensor::Tensor;

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

/// Runs `f` on the storages of `a` and `b`, reading a shared storage only once.
fn with_two<R>(a: &Tensor, b: &Tensor, f: impl FnOnce(&Storage, &Storage) -> R) -> R {
    let sa = a.storage();
    if a.shares_storage_with(b) {
        return f(&sa, &sa);
    }
    let sb = b.storage();
    f(&sa, &sb)
}

impl Tensor {
    /// A unary primitive, unrecorded.
    pub(crate) fn map_unary(&self, op: UnaryOp) -> Result<Tensor> {
        let s = self.storage().unary(self.layout(), op)?;
        Ok(Tensor::from_storage(s, self.shape().clone()))
    }

    fn unary_grad(
        &self,
        name: &'static str,
        op: UnaryOp,
        grad: impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor + Send + Sync + 'static,
    ) -> Result<Tensor> {
        let out = self.map_unary(op).map_err(|e| named(e, name))?;
        record(name, &[self], &out, || {
            let (x, y) = (self.clone(), out.clone());
            Arc::new(move |g| vec![Some(grad(g, &x, &y))])
        });
        Ok(out)
    }

    /// A binary primitive with broadcasting, unrecorded.
    pub(crate) fn map_binary(
        &self,
        rhs: &Tensor,
        op: BinaryOp,
        name: &'static str,
    ) -> Result<Tensor> {
        check_dtypes(name, self, rhs)?;
        let shape = broadcast_shapes(name, self.dims(), rhs.dims())?;
        let (la, lb) = (
            self.layout().broadcast_as(&shape)?,
            rhs.layout().broadcast_as(&shape)?,
        );
        let s =
            with_two(self, rhs, |a, b| a.binary(&la, b, &lb, op)).map_err(|e| named(e, name))?;
        Ok(Tensor::from_storage(s, shape))
    }

    fn binary_grad(
        &self,
        rhs: &Tensor,
        name: &'static str,
        op: BinaryOp,
        grad: impl Fn(&Tensor, &Tensor, &Tensor, &Tensor) -> (Tensor, Tensor) + Send + Sync + 'static,
    ) -> Result<Tensor> {
        let out = self.map_binary(rhs, op, name)?;
        record(name, &[self, rhs], &out, || {
            let (a, b, y) = (self.clone(), rhs.clone(), out.clone());
            Arc::new(move |g| {
                let (ga, gb) = grad(g, &a, &b, &y);
                vec![
                    Some(ga.sum_to_shape(a.shape())),
                    Some(gb.sum_to_shape(b.shape())),
                ]
            })
        });
        Ok(out)
    }

    pub fn try_add(&self, rhs: impl Operand) -> Result<Tensor> {
        let rhs = rhs.operand(self);
        self.binary_grad(&rhs, "add", BinaryOp::Add, |g, _, _, _| {
            (g.clone(), g.clone())
        })
    }
    pub fn try_sub(&self, rhs: impl Operand) -> Result<Tensor> {
        let rhs = rhs.operand(self);
        self.binary_grad(&rhs, "sub", BinaryOp::Sub, |g, _, _, _| (g.clone(), -g))
    }
    pub fn try_mul(&self, rhs: impl Operand) -> Result<Tensor> {
        let rhs = rhs.operand(self);
        self.binary_grad(&rhs, "mul", BinaryOp::Mul, |g, a, b, _| (g * b, g * a))
    }
    pub fn try_div(&self, rhs: impl Operand) -> Result<Tensor> {
        let rhs = rhs.operand(self);
        // y = a / b  =>  dy/da = 1/b, dy/db = -a/b^2 = -y/b
        self.binary_grad(&rhs, "div", BinaryOp::Div, |g, _, b, y| {
            (g / b, -(g * y) / b)
        })
    }
    /// Elementwise maximum (`tf.maximum`); ties send the gradient to `self`.
    #[track_caller]
    pub fn maximum(&self, rhs: impl Operand) -> Tensor {
        or_panic(self.try_maximum(rhs))
    }
    pub fn try_maximum(&self, rhs: impl Operand) -> Result<Tensor> {
        let rhs = rhs.operand(self);
        self.binary_grad(&rhs, "maximum", BinaryOp::Maximum, |g, a, b, _| {
            let m = a.greater_equal(b).cast(g.dtype());
            (g * &m, g * (1.0 - &m))
        })
    }
    /// Elementwise minimum (`tf.minimum`); ties send the gradient to `self`.
    #[track_caller]
    pub fn minimum(&self, rhs: impl Operand) -> Tensor {
        or_panic(self.try_minimum(rhs))
    }
    pub fn try_minimum(&self, rhs: impl Operand) -> Result<Tensor> {
        let rhs = rhs.operand(self);
        self.binary_grad(&rhs, "minimum", BinaryOp::Minimum, |g, a, b, _| {
            let m = a.less_equal(b).cast(g.dtype());
            (g * &m, g * (1.0 - &m))
        })
    }
    /// `tf.pow(x, p)`: a number uses a fast scalar power; a tensor exponent is differentiable too.
    #[track_caller]
    pub fn pow(&self, p: impl Operand) -> Tensor {
        or_panic(self.try_pow(p))
    }
    pub fn try_pow(&self, p: impl Operand) -> Result<Tensor> {
        if let (Some(p), true) = (p.as_scalar(), self.dtype().is_float()) {
            let p = p as f32;
            // y = x^p  =>  dy/dx = p x^(p-1)
            return self.unary_grad("pow", UnaryOp::Powf(p), move |g, x, _| {
                g * x.powf(p - 1.0) * p
            });
        }
        let e = p.operand(self);
        // y = a^b  =>  dy/da = b a^(b-1), dy/db = y ln a (taken as 0 where a <= 0, as TF does:
        // 0^b is 0 for every b > 0, and ln a is undefined below 0)
        self.binary_grad(&e, "pow", BinaryOp::Pow, |g, a, b, y| {
            let ln_a = where_(&a.greater(0.0), &a.log(), &a.zeros_like());
            (g * b * a.pow(b - 1.0), g * y * ln_a)
        })
    }
    /// `x^p` for a number `p`.
    #[track_caller]
    pub fn powf(&self, p: f32) -> Tensor {
        self.pow(p)
    }

    fn compare(&self, rhs: impl Operand, op: CmpOp, name: &'static str) -> Result<Tensor> {
        let rhs = rhs.operand(self);
        check_dtypes(name, self, &rhs)?;
        let shape = broadcast_shapes(name, self.dims(), rhs.dims())?;
        let (la, lb) = (
            self.layout().broadcast_as(&shape)?,
            rhs.layout().broadcast_as(&shape)?,
        );
        let s = with_two(self, &rhs, |a, b| a.cmp(&la, b, &lb, op))?;
        Ok(Tensor::from_storage(s, shape))
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
                .and_then(|_| self.map_binary(rhs, BinaryOp::LogicalAnd, "logical_and")),
        )
    }
    #[track_caller]
    pub fn logical_or(&self, rhs: &Tensor) -> Tensor {
        or_panic(
            check_bool("logical_or", self, rhs)
                .and_then(|_| self.map_binary(rhs, BinaryOp::LogicalOr, "logical_or")),
        )
    }
    #[track_caller]
    pub fn logical_not(&self) -> Tensor {
        or_panic(
            check_bool("logical_not", self, self).and_then(|_| self.map_unary(UnaryOp::LogicalNot)),
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
        let s = self.storage().cast(self.layout(), dtype)?;
        let out = Tensor::from_storage(s, self.shape().clone());
        if self.dtype().is_float() {
            let src = self.dtype();
            record("cast", &[self], &out, || {
                Arc::new(move |g| vec![Some(g.cast(src))])
            });
        }
        Ok(out)
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
        self.unary_grad("clamp", UnaryOp::Clamp(lo, hi), move |g, x, _| {
            let inside = x
                .greater_equal(lo as f64)
                .logical_and(&x.less_equal(hi as f64));
            g * inside.cast(g.dtype())
        })
    }
    /// d gelu/dx = Phi(x) + x phi(x), recorded with its own derivative
    /// d2 gelu/dx2 = phi(x) (2 - x^2), so nested tapes give gelu's second derivative.
    fn gelu_grad(&self) -> Result<Tensor> {
        self.unary_grad("gelu_grad", UnaryOp::GeluGrad, |g, x, _| {
            let pdf = (x.square() * -0.5).exp() * (1.0 / (2.0 * std::f64::consts::PI).sqrt());
            g * pdf * (2.0 - x.square())
        })
    }
    /// `x * mul + add` in one pass.
    #[track_caller]
    pub fn affine(&self, mul: f32, add: f32) -> Tensor {
        or_panic(
            self.unary_grad("affine", UnaryOp::Affine(mul, add), move |g, _, _| {
                g * mul as f64
            }),
        )
    }
}

pub(crate) fn check_dtypes(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.dtype() != b.dtype() {
        // suggest casting toward the float side (ints to floats, as a learner usually means)
        let (who, to) = if b.dtype().is_float() && !a.dtype().is_float() {
            ("x", b.dtype())
        } else {
            ("y", a.dtype())
        };
        return Err(crate::error::invalid(
            op,
            format!(
                "dtypes {} and {} do not match; cast one first, e.g. {who}.cast(DType::{to:?})",
                a.dtype(),
                b.dtype(),
            ),
        ));
    }
    Ok(())
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

/// Names the tensor op in a backend's dtype error ("unary op" / "binary op" -> "exp").
fn named(e: Error, name: &'static str) -> Error {
    match e {
        Error::DTypeMismatch {
            op: "unary op" | "binary op",
            expected,
            got,
        } => Error::DTypeMismatch {
            op: name,
            expected,
            got,
        },
        e => e,
    }
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
    let shape = broadcast_shapes("where", x.dims(), y.dims())?;
    let shape = broadcast_shapes("where", cond.dims(), shape.dims())?;
    let lc = cond.layout().broadcast_as(&shape)?;
    let (lx, ly) = (
        x.layout().broadcast_as(&shape)?,
        y.layout().broadcast_as(&shape)?,
    );
    let s = {
        let (sc, sx) = (cond.storage(), x.storage());
        if x.shares_storage_with(y) {
            sc.where_cond(&lc, &sx, &lx, &sx, &ly)?
        } else {
            sc.where_cond(&lc, &sx, &lx, &y.storage(), &ly)?
        }
    };
    let out = Tensor::from_storage(s, shape);
    record("where", &[x, y], &out, || {
        let (c, xs, ys) = (cond.clone(), x.shape().clone(), y.shape().clone());
        Arc::new(move |g| {
            let z = g.zeros_like();
            vec![
                Some(where_(&c, g, &z).sum_to_shape(&xs)),
                Some(where_(&c, &z, g).sum_to_shape(&ys)),
            ]
        })
    });
    Ok(out)
}

// ------------------------------------------------------------------------------------------------
// Unary functions. Each line: name, primitive, and the gradient rule with its math.

macro_rules! unary_fns {
    ($($(#[$doc:meta])* $name:ident, $try:ident, $op:expr, |$g:ident, $x:ident, $y:ident| $grad:expr;)*) => {
        impl Tensor {$(
            $(#[$doc])*
            #[track_caller]
            pub fn $name(&self) -> Tensor { or_panic(self.$try()) }
            pub fn $try(&self) -> Result<Tensor> {
                #[allow(unused_variables)]
                self.unary_grad(stringify!($name), $op, |$g: &Tensor, $x: &Tensor, $y: &Tensor| $grad)
            }
        )*}
    };
}

unary_fns! {
    /// -x
    neg, try_neg, UnaryOp::Neg, |g, x, y| -g;
    /// |x|; d/dx = sign(x)
    abs, try_abs, UnaryOp::Abs, |g, x, y| g * x.sign();
    /// e^x; d/dx = e^x
    exp, try_exp, UnaryOp::Exp, |g, x, y| g * y;
    /// natural log; d/dx = 1/x
    log, try_log, UnaryOp::Log, |g, x, y| g / x;
    /// sqrt(x); d/dx = 1 / (2 sqrt(x))
    sqrt, try_sqrt, UnaryOp::Sqrt, |g, x, y| g / y * 0.5;
    /// 1/sqrt(x); d/dx = -1/2 x^(-3/2) = -y^3/2
    rsqrt, try_rsqrt, UnaryOp::Rsqrt, |g, x, y| g * y.powf(3.0) * -0.5;
    /// sin(x); d/dx = cos(x)
    sin, try_sin, UnaryOp::Sin, |g, x, y| g * x.cos();
    /// cos(x); d/dx = -sin(x)
    cos, try_cos, UnaryOp::Cos, |g, x, y| -(g * x.sin());
    /// tanh(x); d/dx = 1 - tanh^2
    tanh, try_tanh, UnaryOp::Tanh, |g, x, y| g * (1.0 - y.square());
    /// 1 / (1 + e^-x); d/dx = y (1 - y)
    sigmoid, try_sigmoid, UnaryOp::Sigmoid, |g, x, y| g * y * (1.0 - y);
    /// max(x, 0); d/dx = 1 where x > 0
    relu, try_relu, UnaryOp::Relu, |g, x, y| g * x.map_unary(UnaryOp::Step).expect("step");
    /// exact GELU, x Phi(x) (Keras' default approximate=False); d/dx = Phi(x) + x phi(x)
    gelu, try_gelu, UnaryOp::Gelu, |g, x, y| g * x.gelu_grad().expect("gelu grad");
    /// ln(1 + e^x); d/dx = sigmoid(x)
    softplus, try_softplus, UnaryOp::Softplus, |g, x, y| g * x.sigmoid();
    /// x^2; d/dx = 2x
    square, try_square, UnaryOp::Square, |g, x, y| g * x * 2.0;
    /// 1/x; d/dx = -1/x^2
    reciprocal, try_reciprocal, UnaryOp::Recip, |g, x, y| -(g * y.square());
    /// erf(x); d/dx = 2/sqrt(pi) e^(-x^2)
    erf, try_erf, UnaryOp::Erf, |g, x, y| g * (-x.square()).exp() * std::f64::consts::FRAC_2_SQRT_PI;
}

macro_rules! unary_nograd {
    ($($(#[$doc:meta])* $name:ident, $op:expr;)*) => {
        impl Tensor {$(
            $(#[$doc])*
            #[track_caller]
            pub fn $name(&self) -> Tensor { or_panic(self.map_unary($op).map_err(|e| named(e, stringify!($name)))) }
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
