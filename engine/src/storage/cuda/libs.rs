//! Finding NVRTC, cuBLAS and cuRAND where pip puts them, without a hand-set LD_LIBRARY_PATH.
//!
//! cudarc opens each library by name (`libnvrtc.so.13`, ...), which the dynamic loader finds
//! only on its search path. NVIDIA's CUDA 13 wheels (`nvidia-cuda-nvrtc`, `nvidia-cublas`,
//! `nvidia-curand`) install into `site-packages/nvidia/cu13/lib` (older ones into
//! `site-packages/nvidia/<name>/lib`). Once libcuda is found (and before NVRTC is first asked
//! for its version), [`preload`] opens each library that the loader cannot find from those
//! folders by its full path; a machine without a driver pays nothing for it. The loader then matches
//! cudarc's later open by the library's soname, so cudarc gets that copy.
//!
//! Folders searched, in order: `$VIRTUAL_ENV`, the repository's `.venv` (install.sh's, found
//! from where the engine was built), `$CONDA_PREFIX`.

use std::path::{Path, PathBuf};

/// (cudarc's name, soname of the CUDA 13 library, the pip wheel that ships it).
pub const LIBS: [(&str, &str, &str); 4] = [
    ("nvrtc", "libnvrtc.so.13", "nvidia-cuda-nvrtc"),
    // cuBLAS loads cuBLASLt itself; opening it first makes that work from any folder
    ("cublasLt", "libcublasLt.so.13", "nvidia-cublas"),
    ("cublas", "libcublas.so.13", "nvidia-cublas"),
    ("curand", "libcurand.so.10", "nvidia-curand"),
];

/// The wheel that ships cudarc's library `lib` (`nvrtc`, `cublas`, `curand`).
pub fn wheel(lib: &str) -> &'static str {
    LIBS.iter()
        .find(|l| l.0 == lib)
        .map(|l| l.2)
        .unwrap_or("nvidia-cuda-runtime")
}

/// What to do when `lib` is missing: the pip command that matches cudarc's CUDA 13 bindings.
pub fn missing_hint(lib: &str) -> String {
    format!(
        "lib{lib} not found: install it with `pip install {w}` (CUDA 13, as the engine's \
         bindings; ./install.sh puts it in .venv, where the engine finds it), or add the folder \
         of a CUDA 13 toolkit's lib{lib} to LD_LIBRARY_PATH",
        w = wheel(lib)
    )
}

/// Python environments that may hold NVIDIA's wheels.
fn env_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(v) = std::env::var_os("VIRTUAL_ENV") {
        roots.push(PathBuf::from(v));
    }
    // engine/ -> the repository, whose .venv install.sh made
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    roots.push(repo.join(".venv"));
    if let Some(c) = std::env::var_os("CONDA_PREFIX") {
        roots.push(PathBuf::from(c));
    }
    roots
}

/// Every `site-packages/nvidia/*/lib` folder under `roots` (`lib/python3.*/site-packages`).
pub fn wheel_lib_dirs_in(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for root in roots {
        let Ok(pys) = std::fs::read_dir(root.join("lib")) else {
            continue;
        };
        let mut pys: Vec<PathBuf> = pys.flatten().map(|e| e.path()).collect();
        pys.sort();
        for py in pys {
            let nvidia = py.join("site-packages").join("nvidia");
            let Ok(pkgs) = std::fs::read_dir(&nvidia) else {
                continue;
            };
            let mut pkgs: Vec<PathBuf> = pkgs.flatten().map(|e| e.path().join("lib")).collect();
            pkgs.sort();
            dirs.extend(pkgs.into_iter().filter(|d| d.is_dir()));
        }
    }
    dirs
}

/// The wheel folders of this process's environments.
pub fn wheel_lib_dirs() -> Vec<PathBuf> {
    wheel_lib_dirs_in(&env_roots())
}

/// The first `soname` file among `dirs`.
pub fn find_in(dirs: &[PathBuf], soname: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(soname)).find(|p| p.is_file())
}

/// Opens, from the wheel folders, each CUDA library the loader cannot find by name, so that
/// cudarc's own open finds it. Once per process (the state slot `storage.cuda.libs`); returns
/// the files opened. Never fails: a library found nowhere stays missing, and its probe says so.
pub fn preload() -> &'static Vec<PathBuf> {
    crate::state::slot!("storage.cuda.libs", Vec<PathBuf>, || {
        let dirs = wheel_lib_dirs();
        let mut opened = Vec::new();
        for (_, soname, _) in LIBS {
            if dlopen(Path::new(soname), false) {
                continue; // on the loader's path already (a toolkit, LD_LIBRARY_PATH)
            }
            if let Some(path) = find_in(&dirs, soname) {
                if dlopen(&path, true) {
                    opened.push(path);
                }
            }
        }
        opened
    })
}

/// Opens `path` (a name or a file); `keep` leaves it open for the life of the process.
fn dlopen(path: &Path, keep: bool) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: dlopen of a CUDA library, whose initialisers only set up its own state.
    let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if h.is_null() {
        return false;
    }
    if !keep {
        // SAFETY: `h` was just opened; a library already loaded stays loaded.
        unsafe { libc::dlclose(h) };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_folders_are_found_under_site_packages() {
        let root = std::env::temp_dir().join(format!("ferrolab-libs-{}", std::process::id()));
        let lib = root.join("lib/python3.11/site-packages/nvidia/cu13/lib");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(lib.join("libnvrtc.so.13"), b"").unwrap();
        let dirs = wheel_lib_dirs_in(std::slice::from_ref(&root));
        assert_eq!(dirs, vec![lib.clone()]);
        assert_eq!(
            find_in(&dirs, "libnvrtc.so.13"),
            Some(lib.join("libnvrtc.so.13"))
        );
        assert_eq!(find_in(&dirs, "libcublas.so.13"), None);
        std::fs::remove_dir_all(&root).unwrap();
        assert!(missing_hint("cublas").contains("pip install nvidia-cublas"));
    }
}
