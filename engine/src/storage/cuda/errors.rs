//! Driver errors as engine errors that keep the driver's own words.
//!
//! - Only `CUDA_ERROR_OUT_OF_MEMORY` is [`Error::OutOfMemory`]; every other error keeps its
//!   name (`CUDA_ERROR_...`) and the driver's text, so a fault is never hidden behind "out of
//!   memory".
//! - A kernel fault (illegal address, misaligned access, device assert, ...) is sticky: the
//!   driver fails every later call on that context the same way. The message says so, and that
//!   the notebook's kernel must be restarted (a context cannot be rebuilt while tensors still
//!   point into it); every later GPU op repeats that, because the driver repeats the error.
//!
//! The mapping is pure (code, text in; error out), so it is unit-tested without a GPU.

use cudarc::driver::{sys::CUresult, DriverError};

use crate::device::Device;
use crate::error::Error;

/// True for the errors after which the context is unusable (the driver's "sticky" errors).
pub fn is_context_lost(code: CUresult) -> bool {
    use CUresult as R;
    matches!(
        code,
        R::CUDA_ERROR_ILLEGAL_ADDRESS
            | R::CUDA_ERROR_ILLEGAL_INSTRUCTION
            | R::CUDA_ERROR_MISALIGNED_ADDRESS
            | R::CUDA_ERROR_INVALID_ADDRESS_SPACE
            | R::CUDA_ERROR_INVALID_PC
            | R::CUDA_ERROR_LAUNCH_FAILED
            | R::CUDA_ERROR_HARDWARE_STACK_ERROR
            | R::CUDA_ERROR_ASSERT
            | R::CUDA_ERROR_ECC_UNCORRECTABLE
            | R::CUDA_ERROR_LAUNCH_TIMEOUT
            | R::CUDA_ERROR_CONTEXT_IS_DESTROYED
    )
}

/// The error of driver call `what` that returned `code`, with the driver's `text` when known.
pub fn describe(what: &str, code: CUresult, text: Option<&str>) -> Error {
    let text = text.map(|t| format!(" ({t})")).unwrap_or_default();
    let mut m = format!("CUDA {what} failed: {code:?}{text}");
    if is_context_lost(code) {
        m.push_str(
            ". The GPU context is lost: a kernel faulted, and every later GPU op fails the same \
             way. Restart the kernel (Kernel > Restart Kernel) to use the GPU again; tensors on \
             the GPU are gone, those on the CPU too after the restart",
        );
    }
    Error::Msg(m)
}

/// The error of an allocation of `requested` bytes that failed with `code`: out of memory only
/// for `CUDA_ERROR_OUT_OF_MEMORY`.
pub fn alloc_error(
    device: Device,
    requested: u64,
    free: u64,
    code: CUresult,
    text: Option<&str>,
) -> Error {
    if code == CUresult::CUDA_ERROR_OUT_OF_MEMORY {
        Error::OutOfMemory {
            device,
            requested,
            free,
        }
    } else {
        describe(
            &format!("allocation of {requested} bytes on {device}"),
            code,
            text,
        )
    }
}

/// The driver's text for `e` (cuGetErrorString), when the driver can say.
pub fn text(e: &DriverError) -> Option<String> {
    super::backend::guarded(|| {
        e.error_string()
            .map(|c| c.to_string_lossy().into_owned())
            .map_err(|_| String::new())
    })
    .ok()
}

/// [`describe`] for a live driver error.
pub fn driver_error(what: &str, e: DriverError) -> Error {
    describe(what, e.0, text(&e).as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_out_of_memory_is_out_of_memory() {
        let oom = alloc_error(
            Device::Cuda(0),
            1 << 30,
            1 << 20,
            CUresult::CUDA_ERROR_OUT_OF_MEMORY,
            None,
        );
        assert!(
            matches!(oom, Error::OutOfMemory { requested, free, .. } if requested == 1 << 30 && free == 1 << 20)
        );
        assert!(oom.to_string().contains("out of memory on cuda:0"), "{oom}");
        let other = alloc_error(
            Device::Cuda(0),
            4096,
            0,
            CUresult::CUDA_ERROR_INVALID_CONTEXT,
            Some("invalid device context"),
        );
        let m = other.to_string();
        assert!(!matches!(other, Error::OutOfMemory { .. }));
        assert!(
            m.contains("CUDA_ERROR_INVALID_CONTEXT") && m.contains("invalid device context"),
            "{m}"
        );
        assert!(
            !m.contains("out of memory") && !m.contains("context is lost"),
            "{m}"
        );
    }

    #[test]
    fn an_illegal_address_says_the_context_is_lost_and_to_restart() {
        let e = alloc_error(
            Device::Cuda(0),
            512,
            0,
            CUresult::CUDA_ERROR_ILLEGAL_ADDRESS,
            Some("an illegal memory access was encountered"),
        );
        let m = e.to_string();
        assert!(
            !matches!(e, Error::OutOfMemory { .. }),
            "a fault is not out of memory"
        );
        assert!(m.contains("CUDA_ERROR_ILLEGAL_ADDRESS"), "{m}");
        assert!(
            m.contains("an illegal memory access was encountered"),
            "{m}"
        );
        assert!(
            m.contains("GPU context is lost") && m.contains("Restart the kernel"),
            "{m}"
        );
        let launch =
            describe("kernel launch", CUresult::CUDA_ERROR_LAUNCH_FAILED, None).to_string();
        assert!(
            launch.starts_with("CUDA kernel launch failed: CUDA_ERROR_LAUNCH_FAILED"),
            "{launch}"
        );
        assert!(launch.contains("Restart the kernel"), "{launch}");
        assert!(is_context_lost(CUresult::CUDA_ERROR_ASSERT));
        assert!(!is_context_lost(CUresult::CUDA_ERROR_OUT_OF_MEMORY));
        assert!(!is_context_lost(CUresult::CUDA_ERROR_INVALID_VALUE));
    }
}
