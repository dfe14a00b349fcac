//! Fused optimizer updates (SGD, Adam/AdamW, RMSprop): one kernel per step and parameter,
//! the same formulas as `cpu/optim.rs`. Slots are float32. Parameters are float32 (mixed
//! precision keeps float32 master weights) or f16/bf16, which are loaded to float32, updated and
//! rounded back once, as the CPU reference does. The gradient may be any float dtype and layout.

use super::kernels::{ctype, load, program, run, store, Arg, KLayout};
use super::CudaStorage;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::UpdateRule;

fn f32_check(s: &CudaStorage, what: &str) -> Result<()> {
    if s.dtype != DType::F32 {
        return Err(Error::DTypeMismatch {
            op: "apply_gradients",
            expected: format!("a float32 {what} (mixed precision keeps float32 master weights)"),
            got: s.dtype,
        });
    }
    Ok(())
}

/// (kernel tag, body, scalar params a0..a4, number of slots) of `rule`; `given` is the number
/// of slots the caller passed (RMSprop without momentum may come with one or two).
pub(super) fn rule_kernel(
    rule: UpdateRule,
    given: usize,
) -> (&'static str, &'static str, [f32; 5], usize) {
    match rule {
        UpdateRule::Sgd {
            lr, momentum: 0.0, ..
        } => ("sgd", "pv -= a0 * gv;", [lr, 0.0, 0.0, 0.0, 0.0], 0),
        UpdateRule::Sgd { lr, momentum, nesterov } => (
            "sgd_momentum",
            "float v = a1 * s0[i] - a0 * gv; s0[i] = v; pv += a2 != 0.f ? a1 * v - a0 * gv : v;",
            [lr, momentum, nesterov as u8 as f32, 0.0, 0.0],
            1,
        ),
        UpdateRule::Adam { lr, beta1, beta2, epsilon, t, weight_decay } => {
            let t = t as i32;
            let alpha = lr * (1.0 - beta2.powi(t)).sqrt() / (1.0 - beta1.powi(t));
            (
                "adam",
                "if (a4 != 0.f) pv -= pv * a4;
    float m = s0[i]; m += (gv - m) * (1.f - a1); s0[i] = m;
    float v = s1[i]; v += (gv * gv - v) * (1.f - a2); s1[i] = v;
    pv -= a0 * m / (sqrtf(v) + a3);",
                [alpha, beta1, beta2, epsilon, lr * weight_decay],
                2,
            )
        }
        UpdateRule::RmsProp { lr, rho, epsilon, .. } if given == 1 => (
            "rmsprop",
            "float v = a1 * s0[i] + (1.f - a1) * gv * gv; s0[i] = v; pv -= a0 * gv / sqrtf(v + a2);",
            [lr, rho, epsilon, 0.0, 0.0],
            1,
        ),
        UpdateRule::RmsProp { lr, rho, epsilon, momentum } => (
            "rmsprop_momentum",
            "float v = a1 * s0[i] + (1.f - a1) * gv * gv; s0[i] = v;
    float mo = a3 * s1[i] + a0 * gv / sqrtf(v + a2); s1[i] = mo; pv -= mo;",
            [lr, rho, epsilon, momentum, 0.0],
            2,
        ),
    }
}

pub(super) fn update_name(tag: &str, p: DType, g: DType) -> String {
    format!("update_{tag}_{}_{}", p.as_str(), g.as_str())
}

pub(super) fn update_code(name: &str, body: &str, p: DType, g: DType) -> String {
    program(&format!(
        "extern \"C\" __global__ void {name}(long long n, {pt}* p, L lg, const {gt}* g, float* s0, float* s1, float a0, float a1, float a2, float a3, float a4) {{
  GRID_LOOP(i, n) {{
    float gv = {gv};
    float pv = {pv};
    {body}
    p[i] = {st};
  }}
}}",
        pt = ctype(p),
        gt = ctype(g),
        gv = load(g, "g[off(lg, i)]"),
        pv = load(p, "p[i]"),
        st = store(p, "pv"),
    ))
}

pub fn apply_update(
    p: &mut CudaStorage,
    g: &CudaStorage,
    gl: &Layout,
    slots: &mut [&mut CudaStorage],
    rule: UpdateRule,
) -> Result<()> {
    if !p.dtype.is_float() {
        return Err(Error::DTypeMismatch {
            op: "apply_gradients",
            expected: "a float variable".into(),
            got: p.dtype,
        });
    }
    if !g.dtype.is_float() {
        return Err(Error::DTypeMismatch {
            op: "apply_gradients",
            expected: "a float gradient".into(),
            got: g.dtype,
        });
    }
    let n = p.len;
    if gl.elem_count() != n {
        return Err(Error::Msg(format!(
            "apply_gradients: gradient has {} elements, the variable {n}",
            gl.elem_count()
        )));
    }
    for s in slots.iter() {
        f32_check(s, "slot")?;
        if s.len != n {
            return Err(Error::Msg(
                "apply_gradients: slot size differs from the variable".into(),
            ));
        }
    }
    let (tag, body, a, nslots) = rule_kernel(rule, slots.len());
    if slots.len() != nslots {
        return Err(Error::Msg(format!(
            "apply_gradients: this optimizer needs {nslots} slot(s), got {}",
            slots.len()
        )));
    }
    let name = update_name(tag, p.dtype, g.dtype);
    let src = || update_code(&name, body, p.dtype, g.dtype);
    let slot_ptr = |i: usize| slots.get(i).map(|s| s.ptr()).unwrap_or(0);
    let mut args = vec![
        Arg::I64(n as i64),
        Arg::Ptr(p.ptr()),
        Arg::L(KLayout::new(gl)?),
        Arg::Ptr(g.ptr()),
        Arg::Ptr(slot_ptr(0)),
        Arg::Ptr(slot_ptr(1)),
    ];
    args.extend(a.iter().map(|&x| Arg::F32(x)));
    run(p.backend(), &name, src, n, &args)
}
