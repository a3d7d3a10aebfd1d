//! CPU hints for the packet loops.
//!
//! What it promises: [`prefetch`] asks the CPU to start loading the first
//! cache line of a frame, so that a loop can ask for frame `i + k` while it
//! matches frame `i` and find it in cache when it gets there. It is only a
//! hint: it never faults, reads nothing the caller can see, and costs one
//! instruction (nothing on targets other than x86-64). [`prefetch_write`]
//! does the same for a line the caller is about to write, taking it in
//! exclusive state so the write does not wait for another core's copy.
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

/// Starts taking the cache line at `p` for writing (`prefetchw` where the
/// CPU has it, else a plain prefetch). Any address will do: a prefetch
/// reads nothing and never faults.
#[inline(always)]
pub fn prefetch_write<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetchw` is a hint: it never faults, whatever the
    // address, and writes nothing (CPUs without it run it as a NOP).
    // `_mm_prefetch` with a write hint would fall back to a read prefetch
    // unless the whole build targets `prfchw`.
    unsafe {
        std::arch::asm!(
            "prefetchw [{0}]",
            in(reg) p,
            options(nostack, preserves_flags, readonly)
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
