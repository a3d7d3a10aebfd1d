//! CPU hints for the packet loops.
//!
//! What it promises: [`prefetch`] asks the CPU to start loading the cache
//! lines that hold a frame's first [`HEADER_SPAN`] bytes (one line, or two
//! when the frame starts late in a line), so that a loop can ask for frame
//! `i + k` while it matches frame `i` and find it in cache when it gets
//! there. It is only a hint: it never faults, reads nothing the caller can
//! see, and costs two instructions (nothing on targets other than x86-64).
//! [`prefetch_write`] does the same for a line the caller is about to write, taking it in
//! exclusive state so the write does not wait for another core's copy.
#![allow(unsafe_code)]

/// How many frames ahead the matching loops prefetch.
pub const PREFETCH_AHEAD: usize = 16;

/// Bytes from the start of a frame that [`prefetch`] asks for: Ethernet,
/// two VLAN tags, an IPv4 header and a TCP header's first 20 bytes (62)
/// lie inside them. A frame that does not start on a cache line spreads
/// them over two lines, and the matcher would wait for the second.
pub const HEADER_SPAN: usize = 64;

/// Starts loading the cache lines of `frame`'s first [`HEADER_SPAN`] bytes
/// into every cache level.
#[inline(always)]
pub fn prefetch(frame: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address,
    // and here the address is that of a live slice.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            frame.as_ptr().cast::<i8>(),
        );
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            frame
                .as_ptr()
                .wrapping_add(frame.len().min(HEADER_SPAN).saturating_sub(1))
                .cast::<i8>(),
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
