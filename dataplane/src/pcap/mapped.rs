//! Reading a capture file through a read-only memory map.
//!
//! What it promises: [`CaptureReader::open_mapped`] gives the same records,
//! errors and truncation handling as [`CaptureReader::open`] (it is the
//! in-memory reader over the mapped bytes), without copying the file out of
//! the page cache. The map is not populated up front: that would map every
//! page on the opening thread before any record is read, while the kernel's
//! fault-around maps 16 pages per fault on whichever thread reads them
//! first, so the mapping work overlaps the matching.
//!
//! The caveat of every memory map: if another process truncates the file
//! while it is mapped, touching the lost pages raises SIGBUS. ferrocap's own
//! dumps are only ever appended to and rotated by rename, never truncated;
//! for a file that something else may truncate, use [`CaptureReader::open`].
#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;

use memmap2::{Mmap, MmapOptions};

use super::{CaptureError, CaptureReader};

/// The mapped bytes of a file, owned by the reader.
struct Mapped(Mmap);

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl CaptureReader<File> {
    /// Opens a regular capture file through a read-only memory map and
    /// reads its header. Anything else (a pipe, a FIFO, a character device,
    /// an empty file) is streamed as by [`CaptureReader::open`].
    pub fn open_mapped(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let read_err = |cause| CaptureError::Read {
            file: name.clone(),
            offset: 0,
            cause,
        };
        let file = File::open(path).map_err(read_err)?;
        let meta = file.metadata().map_err(read_err)?;
        if !meta.is_file() || meta.len() == 0 {
            return Self::new(file, name);
        }
        // SAFETY: the map is read-only and private to this reader, which
        // owns it for as long as records borrow from it. The memory stays
        // valid unless another process truncates the file, which the module
        // docs state as this function's caveat (SIGBUS, not undefined
        // behaviour in the Rust sense of aliasing: we never write through it).
        let map = unsafe { MmapOptions::new().map(&file) }.map_err(read_err)?;
        // The pages are read in order; tell the kernel so it reads ahead.
        let _ = map.advise(memmap2::Advice::Sequential);
        Self::in_memory(std::sync::Arc::new(Mapped(map)), name)
    }
}
