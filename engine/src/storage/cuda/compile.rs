//! NVRTC, driven directly: CUDA C to a CUBIN for the device's exact arch (what any driver that
//! runs this CUDA major version loads), or to PTX (which the driver JIT-compiles, and which a
//! driver older than NVRTC rejects). Also NVRTC's version, the check of that version against the
//! driver's, and the reading of ptxas' `-v` log (register spills).
//!
//! Needs libnvrtc only, never a GPU: the CI compile check (`engine/tests/cuda_kernels_compile.rs`)
//! uses these functions on a machine without one.

use std::ffi::CString;

use cudarc::nvrtc::{result, sys};

/// What to compile to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// PTX for a virtual arch, e.g. `compute_90`.
    Ptx(&'a str),
    /// A CUBIN (SASS) for a real arch, e.g. `sm_90`; `verbose` asks ptxas for its register and
    /// spill report (in the log).
    Cubin { arch: &'a str, verbose: bool },
}

/// A compiled kernel: the image (PTX text with its trailing NUL dropped, or CUBIN bytes) and
/// NVRTC's log (warnings, and ptxas' report when asked).
#[derive(Clone, Debug)]
pub struct Compiled {
    pub image: Vec<u8>,
    pub log: String,
}

/// Compiles `code` (whose file name in messages is `name.cu`) for `target`. The error is
/// NVRTC's log, or why NVRTC could not be called. Panics inside cudarc (no libnvrtc) are caught.
pub fn compile(name: &str, code: &str, target: Target<'_>) -> Result<Compiled, String> {
    super::backend::guarded(|| compile_unguarded(name, code, target))
}

fn compile_unguarded(name: &str, code: &str, target: Target<'_>) -> Result<Compiled, String> {
    let src = CString::new(code).map_err(|_| format!("`{name}`: a NUL byte in the source"))?;
    let file = CString::new(format!("{name}.cu")).map_err(|e| e.to_string())?;
    let prog = result::create_program(&src, Some(&file))
        .map_err(|e| format!("nvrtcCreateProgram: {e:?}"))?;
    // --minimal: no texture/surface types or device runtime (none is used), a faster front end
    let mut opts = vec!["--std=c++17".to_string(), "--minimal".to_string()];
    match target {
        Target::Ptx(arch) => opts.push(format!("--gpu-architecture={arch}")),
        Target::Cubin { arch, verbose } => {
            opts.push(format!("--gpu-architecture={arch}"));
            if verbose {
                opts.push("--ptxas-options=-v".into());
            }
        }
    }
    // SAFETY: `prog` is live until destroy_program below; src and file outlive it.
    let out = unsafe {
        let status = result::compile_program(prog, &opts);
        let log = result::get_program_log(prog)
            .map(|l| c_chars_to_string(&l))
            .unwrap_or_default();
        let image = match (status, target) {
            (Err(e), _) => Err(format!("{e:?}\n{log}")),
            (Ok(()), Target::Ptx(_)) => result::get_ptx(prog)
                .map(|p| {
                    let mut b: Vec<u8> = p.iter().map(|&c| c as u8).collect();
                    while b.last() == Some(&0) {
                        b.pop();
                    }
                    b
                })
                .map_err(|e| format!("nvrtcGetPTX: {e:?}")),
            (Ok(()), Target::Cubin { .. }) => cubin(prog),
        };
        let _ = result::destroy_program(prog);
        image.map(|image| Compiled { image, log })
    };
    out
}

/// # Safety
/// `prog` is a live, compiled program.
unsafe fn cubin(prog: sys::nvrtcProgram) -> Result<Vec<u8>, String> {
    let mut size = 0usize;
    sys::nvrtcGetCUBINSize(prog, &mut size)
        .result()
        .map_err(|e| format!("nvrtcGetCUBINSize: {e:?}"))?;
    if size == 0 {
        return Err("NVRTC produced no CUBIN (was a virtual arch given?)".into());
    }
    let mut buf = vec![0 as std::ffi::c_char; size];
    sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr())
        .result()
        .map_err(|e| format!("nvrtcGetCUBIN: {e:?}"))?;
    Ok(buf.iter().map(|&c| c as u8).collect())
}

fn c_chars_to_string(v: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = v
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// NVRTC's version (major, minor), or why libnvrtc cannot be used.
pub fn nvrtc_version() -> Result<(i32, i32), String> {
    super::libs::preload();
    // SAFETY: only tries to dlopen libnvrtc.
    if !unsafe { sys::is_culib_present() } {
        return Err(super::libs::missing_hint("nvrtc"));
    }
    super::backend::guarded(|| {
        let (mut major, mut minor) = (0, 0);
        // SAFETY: writes two ints.
        unsafe { sys::nvrtcVersion(&mut major, &mut minor) }
            .result()
            .map_err(|e| format!("nvrtcVersion: {e:?}"))?;
        Ok((major, minor))
    })
}

/// The architectures NVRTC compiles for, as compute capabilities times ten (`[75, 80, ..]`).
pub fn supported_archs() -> Result<Vec<i32>, String> {
    super::libs::preload();
    super::backend::guarded(|| {
        let mut n = 0;
        // SAFETY: writes one int, then `n` ints into a buffer of that size.
        unsafe {
            sys::nvrtcGetNumSupportedArchs(&mut n)
                .result()
                .map_err(|e| format!("nvrtcGetNumSupportedArchs: {e:?}"))?;
            let mut v = vec![0i32; n.max(0) as usize];
            sys::nvrtcGetSupportedArchs(v.as_mut_ptr())
                .result()
                .map_err(|e| format!("nvrtcGetSupportedArchs: {e:?}"))?;
            Ok(v)
        }
    })
}

/// The arch to compile for on a device of compute capability `cc` (times ten): `cc` itself
/// when NVRTC knows it; for a GPU newer than NVRTC, the newest arch NVRTC knows below it (its
/// PTX, which the driver compiles forward); None for a GPU older than every arch NVRTC knows.
/// Pure.
pub fn arch_for(cc: i32, supported: &[i32]) -> Option<i32> {
    if supported.is_empty() || supported.contains(&cc) {
        return Some(cc);
    }
    supported.iter().copied().filter(|&a| a <= cc).max()
}

/// `12080` (as `cuDriverGetVersion` reports it) as `12.8`.
pub fn version_string(v: i32) -> String {
    format!("{}.{}", v / 1000, (v % 1000) / 10)
}

/// How NVRTC's output and the driver get on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compat {
    /// The driver is at least NVRTC's version: CUBIN and PTX both load.
    Full,
    /// Same major version, older minor: the CUBIN loads, NVRTC's PTX would not (only a note).
    CubinOnly(String),
    /// The driver is older than NVRTC's major version: nothing NVRTC makes will load.
    Incompatible(String),
}

/// Compares NVRTC `(major, minor)` with the driver's `cuDriverGetVersion` value. Pure.
pub fn compat(nvrtc: (i32, i32), driver: i32) -> Compat {
    let (dmaj, dmin) = (driver / 1000, (driver % 1000) / 10);
    let nv = format!("{}.{}", nvrtc.0, nvrtc.1);
    let dv = version_string(driver);
    if (dmaj, dmin) >= nvrtc {
        Compat::Full
    } else if dmaj == nvrtc.0 {
        Compat::CubinOnly(format!(
            "the NVIDIA driver supports CUDA {dv} and NVRTC is {nv}: kernels load as CUBINs \
             (PTX from NVRTC {nv} would need a driver for CUDA {nv} or newer)"
        ))
    } else {
        Compat::Incompatible(format!(
            "NVRTC {nv} makes code for CUDA {nv}, but the NVIDIA driver supports only CUDA {dv}. \
             Update the NVIDIA driver to one for CUDA {}.x (r580 or newer for CUDA 13), or use an \
             NVRTC of CUDA {dmaj}.x",
            nvrtc.0
        ))
    }
}

/// A function's spill figures from ptxas' `-v` report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spill {
    pub function: String,
    pub stack_frame: u64,
    pub spill_stores: u64,
    pub spill_loads: u64,
}

/// Reads ptxas' `-v` report (in NVRTC's log): one entry per function, in order. Pure.
///
/// ```text
/// ptxas info    : Function properties for k
/// ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
/// ```
pub fn spills(log: &str) -> Vec<Spill> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in log.lines() {
        if let Some(rest) = line.split("Function properties for ").nth(1) {
            current = Some(rest.trim().to_string());
        } else if line.contains("bytes spill stores") {
            let num = |key: &str| -> u64 {
                line.split(',')
                    .find(|p| p.contains(key))
                    .and_then(|p| p.split_whitespace().find_map(|w| w.parse().ok()))
                    .unwrap_or(0)
            };
            out.push(Spill {
                function: current.take().unwrap_or_default(),
                stack_frame: num("stack frame"),
                spill_stores: num("spill stores"),
                spill_loads: num("spill loads"),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_and_nvrtc_versions_are_compared_by_major_then_minor() {
        assert_eq!(compat((13, 5), 13050), Compat::Full);
        assert_eq!(compat((13, 0), 13020), Compat::Full);
        let Compat::CubinOnly(m) = compat((13, 5), 13000) else {
            panic!("same major, older driver: CUBIN only")
        };
        assert!(m.contains("13.0") && m.contains("13.5"), "{m}");
        let Compat::Incompatible(m) = compat((13, 5), 12080) else {
            panic!("CUDA 12.8 driver with NVRTC 13.5 cannot work")
        };
        assert!(m.contains("12.8") && m.contains("13.5") && m.contains("Update the NVIDIA driver"));
        assert_eq!(version_string(12080), "12.8");
    }

    #[test]
    fn a_gpu_newer_than_nvrtc_gets_the_newest_arch_below_it() {
        let nvrtc = [75, 80, 86, 87, 89, 90, 100, 103, 120];
        assert_eq!(arch_for(90, &nvrtc), Some(90));
        assert_eq!(
            arch_for(121, &nvrtc),
            Some(120),
            "PTX for 12.0, JIT-compiled forward"
        );
        assert_eq!(
            arch_for(70, &nvrtc),
            None,
            "Volta is older than every arch NVRTC 13 knows"
        );
        assert_eq!(
            arch_for(80, &[]),
            Some(80),
            "unknown list: the device's own arch"
        );
    }

    #[test]
    fn ptxas_reports_are_read_per_function() {
        let log = "ptxas info    : 0 bytes gmem\n\
                   ptxas info    : Compiling entry function 'k' for 'sm_90'\n\
                   ptxas info    : Function properties for k\n\
                   ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n\
                   ptxas info    : Used 13 registers, used 0 barriers\n\
                   ptxas info    : Function properties for big\n\
                   ptxas         .     48 bytes stack frame, 40 bytes spill stores, 36 bytes spill loads\n";
        let s = spills(log);
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].function.as_str(), s[0].spill_stores, s[0].spill_loads),
            ("k", 0, 0)
        );
        assert_eq!(
            (
                s[1].function.as_str(),
                s[1].stack_frame,
                s[1].spill_stores,
                s[1].spill_loads
            ),
            ("big", 48, 40, 36)
        );
    }
}
