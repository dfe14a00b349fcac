//! Stand-in for `half`, read only by rust-analyzer in the Ferrolab kernel.
#![allow(non_camel_case_types)]
macro_rules! half_type {
    ($($t:ident)*) => {$(
        #[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
        pub struct $t(u16);
        impl $t {
            pub const ZERO: $t = $t(0);
            pub const ONE: $t = $t(0);
            pub const NEG_ONE: $t = $t(0);
            pub const MIN: $t = $t(0);
            pub const MAX: $t = $t(0);
            pub const EPSILON: $t = $t(0);
            pub const INFINITY: $t = $t(0);
            pub const NEG_INFINITY: $t = $t(0);
            pub const NAN: $t = $t(0);
            pub const fn from_bits(bits: u16) -> $t { $t(bits) }
            pub const fn to_bits(self) -> u16 { self.0 }
            pub fn from_f32(_: f32) -> $t { $t(0) }
            pub fn from_f64(_: f64) -> $t { $t(0) }
            pub fn to_f32(self) -> f32 { 0.0 }
            pub fn to_f64(self) -> f64 { 0.0 }
            pub const fn from_f32_const(_: f32) -> $t { $t(0) }
            pub const fn from_f64_const(_: f64) -> $t { $t(0) }
            pub const fn to_f32_const(self) -> f32 { 0.0 }
            pub const fn to_f64_const(self) -> f64 { 0.0 }
            pub const fn from_le_bytes(_: [u8; 2]) -> $t { $t(0) }
            pub const fn from_be_bytes(_: [u8; 2]) -> $t { $t(0) }
            pub const fn from_ne_bytes(_: [u8; 2]) -> $t { $t(0) }
            pub const fn to_le_bytes(self) -> [u8; 2] { [0; 2] }
            pub const fn to_be_bytes(self) -> [u8; 2] { [0; 2] }
            pub const fn to_ne_bytes(self) -> [u8; 2] { [0; 2] }
            pub fn is_nan(self) -> bool { false }
            pub fn is_finite(self) -> bool { false }
            pub fn is_infinite(self) -> bool { false }
            pub fn is_normal(self) -> bool { false }
            pub fn is_sign_negative(self) -> bool { false }
            pub fn is_sign_positive(self) -> bool { false }
            pub fn classify(self) -> core::num::FpCategory { core::num::FpCategory::Zero }
            pub fn signum(self) -> $t { self }
            pub fn copysign(self, _: $t) -> $t { self }
            pub fn max(self, _: $t) -> $t { self }
            pub fn min(self, _: $t) -> $t { self }
            pub fn clamp(self, _: $t, _: $t) -> $t { self }
            pub fn total_cmp(&self, _: &$t) -> core::cmp::Ordering { core::cmp::Ordering::Equal }
        }
        impl core::fmt::Display for $t {
            fn fmt(&self, _: &mut core::fmt::Formatter<'_>) -> core::fmt::Result { Ok(()) }
        }
        impl From<$t> for f32 { fn from(_: $t) -> f32 { 0.0 } }
        impl From<$t> for f64 { fn from(_: $t) -> f64 { 0.0 } }
        impl core::ops::Add for $t { type Output = $t; fn add(self, _: $t) -> $t { self } }
        impl core::ops::Sub for $t { type Output = $t; fn sub(self, _: $t) -> $t { self } }
        impl core::ops::Mul for $t { type Output = $t; fn mul(self, _: $t) -> $t { self } }
        impl core::ops::Div for $t { type Output = $t; fn div(self, _: $t) -> $t { self } }
        impl core::ops::Neg for $t { type Output = $t; fn neg(self) -> $t { self } }
    )*};
}
half_type!(f16 bf16);
