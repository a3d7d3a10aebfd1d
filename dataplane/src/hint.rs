//! CPU hints for the packet loops.
//!
//! What it promises: [`prefetch`] asks the CPU to start loading the first
//! cache line of a frame, so that a loop can ask for frame `i + k` while it
//! matches frame `i` and find it in cache when it gets there. It is only a
//! hint: it never faults, reads nothing the caller can see, and costs one
//! instruction (nothing on targets other than x86-64).
#![allow(unsafe_code)]

/// How many frames ahead the matching loops prefetch.
pub const PREFETCH_AHEAD: usize = 16;

/// Starts loading the first cache line of `frame` into every cache level.
#[inline(always)]
pub fn prefetch(frame: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address,
    // and here the address is that of a live slice.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            frame.as_ptr().cast::<i8>(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = frame;
}
