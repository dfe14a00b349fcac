//! Fused optimizer updates: one pass per parameter instead of a dozen tensor ops.
//! Parameters and slots are contiguous float32 (other float dtypes go through f32).

use super::{s_dtype_pub as s_dtype, CpuStorage};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::UpdateRule;

fn f32_mut<'a>(s: &'a mut CpuStorage, what: &str) -> Result<&'a mut Vec<f32>> {
    match s {
        CpuStorage::F32(v) => Ok(v),
        other => Err(Error::DTypeMismatch {
            op: "apply_gradients",
            expected: format!("a float32 {what} (mixed precision keeps float32 master weights)"),
            got: s_dtype(other),
        }),
    }
}

pub(super) fn apply_update(
    param: &mut CpuStorage,
    grad: &CpuStorage,
    gl: &Layout,
    slots: &mut [&mut CpuStorage],
    rule: UpdateRule,
) -> Result<()> {
    if s_dtype(param) != DType::F32 {
        // Reference path for f16/bf16 parameters: update an f32 copy, round back.
        let dt = s_dtype(param);
        let mut p32 = CpuStorage::F32(param.to_f32_vec(&Layout::contiguous([param.len()])));
        apply_update(&mut p32, grad, gl, slots, rule)?;
        let CpuStorage::F32(v) = p32 else {
            unreachable!()
        };
        *param = CpuStorage::from_f32(v, dt);
        return Ok(());
    }
    let g = grad.to_f32_vec(gl);
    let p = f32_mut(param, "parameter")?;
    if g.len() != p.len() {
        return Err(Error::Msg(format!(
            "apply_gradients: gradient has {} elements, the variable {}",
            g.len(),
            p.len()
        )));
    }
    match rule {
        UpdateRule::Sgd {
            lr,
            momentum,
            nesterov,
        } => {
            if momentum == 0.0 {
                p.iter_mut().zip(&g).for_each(|(p, &g)| *p -= lr * g);
            } else {
                let [vel] = slots else {
                    return Err(Error::Msg("SGD with momentum needs one slot".into()));
                };
                let vel = f32_mut(vel, "slot")?;
                for ((p, v), &g) in p.iter_mut().zip(vel.iter_mut()).zip(&g) {
                    *v = momentum * *v - lr * g;
                    *p += if nesterov { momentum * *v - lr * g } else { *v };
                }
            }
        }
        UpdateRule::Adam {
            lr,
            beta1,
            beta2,
            epsilon,
            t,
            weight_decay,
        } => {
            let [m, v] = slots else {
                return Err(Error::Msg("Adam needs two slots".into()));
            };
            let (m, v) = (f32_mut(m, "slot")?, f32_mut(v, "slot")?);
            let t = t as i32;
            let alpha = lr * (1.0 - beta2.powi(t)).sqrt() / (1.0 - beta1.powi(t));
            let decay = lr * weight_decay;
            for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(&g) {
                if decay != 0.0 {
                    *p -= *p * decay;
                }
                *m += (g - *m) * (1.0 - beta1);
                *v += (g * g - *v) * (1.0 - beta2);
                *p -= alpha * *m / (v.sqrt() + epsilon);
            }
        }
        UpdateRule::RmsProp {
            lr,
            rho,
            epsilon,
            momentum,
        } => {
            let (vel, mom) = match slots {
                [vel] => (vel, None),
                [vel, mom] => (vel, Some(mom)),
                _ => return Err(Error::Msg("RMSprop needs one or two slots".into())),
            };
            let vel = f32_mut(vel, "slot")?;
            match mom {
                None => {
                    for ((p, v), &g) in p.iter_mut().zip(vel.iter_mut()).zip(&g) {
                        *v = rho * *v + (1.0 - rho) * g * g;
                        *p -= lr * g / (*v + epsilon).sqrt();
                    }
                }
                Some(mom) => {
                    let mom = f32_mut(mom, "slot")?;
                    for (((p, v), mo), &g) in
                        p.iter_mut().zip(vel.iter_mut()).zip(mom.iter_mut()).zip(&g)
                    {
                        *v = rho * *v + (1.0 - rho) * g * g;
                        *mo = momentum * *mo + lr * g / (*v + epsilon).sqrt();
                        *p -= *mo;
                    }
                }
            }
        }
    }
    Ok(())
}
