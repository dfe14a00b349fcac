//! Seeded random numbers with a global seed, like `tf.random.set_seed`.
//!
//! The generator is xoshiro256++ seeded through SplitMix64. It lives in the process-wide state,
//! so `set_seed(1)` in one notebook cell and `randn(..)` in the next give the same numbers as both
//! in one cell.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// xoshiro256++: small, fast, and good enough for initialisers, dropout and shuffling.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn seed_from_u64(seed: u64) -> Rng {
        let mut x = seed;
        Rng {
            s: [
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
            ],
        }
    }

    pub fn from_entropy() -> Rng {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Rng::seed_from_u64(t ^ ((std::process::id() as u64) << 32))
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = (s[0].wrapping_add(s[3])).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 24 random bits (exact in f32).
    #[inline]
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// Uniform in [0, 1) with 53 random bits.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Standard normal samples (Box-Muller, two at a time).
    pub fn fill_normal(&mut self, out: &mut [f32], mean: f32, std: f32) {
        let mut i = 0;
        while i < out.len() {
            let u1 = 1.0 - self.next_f64(); // (0, 1]
            let u2 = self.next_f64();
            let r = (-2.0 * u1.ln()).sqrt();
            let th = 2.0 * std::f64::consts::PI * u2;
            out[i] = mean + std * (r * th.cos()) as f32;
            if i + 1 < out.len() {
                out[i + 1] = mean + std * (r * th.sin()) as f32;
            }
            i += 2;
        }
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// The global generator and seed, one per process (the slot `random.rng`).
struct GlobalRng {
    rng: Mutex<Rng>,
    /// Seed of the last `set_seed`, if any (op-level seeds are derived from it, as in TF).
    seed: Mutex<Option<u64>>,
}

fn global_rng() -> &'static GlobalRng {
    crate::state::slot!("random.rng", GlobalRng, || GlobalRng {
        rng: Mutex::new(Rng::from_entropy()),
        seed: Mutex::new(None),
    })
}

/// Sets the global seed, like `tf.random.set_seed`: every random op after it is reproducible.
pub fn set_seed(seed: u64) {
    let g = global_rng();
    *g.seed.lock().unwrap_or_else(|e| e.into_inner()) = Some(seed);
    *g.rng.lock().unwrap_or_else(|e| e.into_inner()) = Rng::seed_from_u64(seed);
}

/// Runs `f` with the process-wide generator.
pub fn with_global_rng<R>(f: impl FnOnce(&mut Rng) -> R) -> R {
    let mut rng = global_rng().rng.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut rng)
}

/// The 64-bit seed of one random op: `Some(seed)` is used as is (like TF's op seed), `None`
/// takes the next value of the global generator (so after `set_seed` the sequence of ops is
/// reproducible). Every random op draws exactly one value here, on every device.
pub fn seed_for(seed: Option<u64>) -> u64 {
    match seed {
        Some(s) => s,
        None => with_global_rng(|r| r.next_u64()),
    }
}

/// A generator for an op-level seed: `Some(seed)` gives a fixed stream (like TF's op seed),
/// `None` draws a fresh one from the global generator.
pub fn rng_for(seed: Option<u64>) -> Rng {
    Rng::seed_from_u64(seed_for(seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_streams_repeat_and_normals_look_normal() {
        let mut a = Rng::seed_from_u64(7);
        let mut b = Rng::seed_from_u64(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut v = vec![0f32; 100_000];
        a.fill_normal(&mut v, 0.0, 1.0);
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "var {var}");
        let u: f64 = (0..100_000).map(|_| a.next_f32() as f64).sum::<f64>() / 1e5;
        assert!((u - 0.5).abs() < 0.01);
    }
}
