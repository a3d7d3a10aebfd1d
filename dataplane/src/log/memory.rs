//! The memory log: a fixed-size circular buffer mapped to a file.
//!
//! One per process. Lines are plain text, so `less FILE` shows them: a
//! header line first, then the records; when the buffer is full, the oldest
//! records are overwritten and a marker line ([`WRAP_MARKER`]) always sits
//! right after the newest record (newer above it, older below it). The file
//! never grows: it is exactly the configured size.
//!
//! The file is deleted by [`MemoryLog::close_clean`] and kept otherwise:
//! after [`MemoryLog::keep`] (a panic or a fatal error), or when the value
//! is dropped without a clean close.
//!
//! This is the one module of the logging facility with `unsafe`: mapping a
//! file (see the SAFETY note in [`MemoryLog::create`]).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

/// The line that marks the wrap point.
pub const WRAP_MARKER: &str =
    "======== memory log wraps here: newer records above, older records below ========\n";

/// The smallest memory log size in bytes; smaller requests are raised to it.
pub const MIN_SIZE: usize = 4096;

/// A circular log buffer mapped to a file.
#[derive(Debug)]
pub struct MemoryLog {
    map: MmapMut,
    path: PathBuf,
    header_len: usize,
    pos: usize,
    kept: bool,
}

impl MemoryLog {
    /// Creates (replacing any stale file) the memory log `path` of `size`
    /// bytes (at least [`MIN_SIZE`]), starting with the line `header`.
    pub fn create(path: &Path, size: usize, header: &str) -> io::Result<MemoryLog> {
        let size = size.max(MIN_SIZE);
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let file: File = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        file.set_len(size as u64)?;
        // SAFETY: the file was just created by this process with O_EXCL and
        // mode 0600 under a per-process name, and has its final length; no
        // other code in this process truncates or remaps it, so the mapping
        // stays valid for the life of `MmapMut`. A foreign process
        // truncating it would be tampering with our private state.
        let mut map = unsafe { MmapMut::map_mut(&file)? };
        map.fill(b'\n');
        let mut h = header.replace('\n', " ");
        h.push('\n');
        let header_len = h.len().min(size / 4);
        if let (Some(dst), Some(src)) = (map.get_mut(..header_len), h.as_bytes().get(..header_len))
        {
            dst.copy_from_slice(src);
        }
        let mut log = MemoryLog {
            map,
            path: path.to_path_buf(),
            header_len,
            pos: header_len,
            kept: false,
        };
        log.put_marker();
        Ok(log)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The buffer size in bytes.
    pub fn size(&self) -> usize {
        self.map.len()
    }

    /// Whether the file will be kept.
    pub fn is_kept(&self) -> bool {
        self.kept
    }

    fn put_marker(&mut self) {
        let size = self.map.len();
        let m = WRAP_MARKER.as_bytes();
        let end = (self.pos + m.len()).min(size);
        if let Some(dst) = self.map.get_mut(self.pos..end) {
            let n = dst.len();
            if let Some(src) = m.get(..n) {
                dst.copy_from_slice(src);
            }
        }
        // Blank the rest of the partly overwritten old line so the file
        // shows whole lines only.
        let mut i = end;
        while let Some(b) = self.map.get_mut(i) {
            if *b == b'\n' {
                break;
            }
            *b = b' ';
            i += 1;
        }
    }

    /// Appends one line (a newline is added). A line longer than the
    /// buffer can hold is cut.
    pub fn write_line(&mut self, line: &str) {
        let size = self.map.len();
        let room = size
            .saturating_sub(self.header_len)
            .saturating_sub(WRAP_MARKER.len())
            .saturating_sub(1);
        let bytes = line.as_bytes();
        let bytes = bytes.get(..bytes.len().min(room)).unwrap_or(bytes);
        let len = bytes.len() + 1;
        if self.pos + len + WRAP_MARKER.len() > size {
            // Pad the tail so the old records there read as whole lines.
            if let Some(tail) = self.map.get_mut(self.pos..) {
                tail.fill(b' ');
                if let Some(last) = tail.last_mut() {
                    *last = b'\n';
                }
            }
            self.pos = self.header_len;
        }
        if let Some(dst) = self.map.get_mut(self.pos..self.pos + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        if let Some(nl) = self.map.get_mut(self.pos + bytes.len()) {
            *nl = b'\n';
        }
        self.pos += len;
        self.put_marker();
    }

    /// Marks the file to be kept (after a panic or a fatal error) and
    /// flushes it to disk.
    pub fn keep(&mut self) {
        self.kept = true;
        let _ = self.map.flush();
    }

    /// Flushes the mapping to the file.
    pub fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }

    /// Closes the log on a clean exit: the file is deleted unless
    /// [`MemoryLog::keep`] was called, in which case it is flushed and kept.
    pub fn close_clean(self) -> io::Result<()> {
        if self.kept {
            self.map.flush()
        } else {
            let path = self.path.clone();
            drop(self);
            fs::remove_file(path)
        }
    }
}

impl Drop for MemoryLog {
    fn drop(&mut self) {
        let _ = self.map.flush();
    }
}

/// The memory log path for process `pid`: `{pid}` in `template` is
/// replaced by the process id.
pub fn path_for_pid(template: &Path, pid: u32) -> PathBuf {
    PathBuf::from(
        template
            .to_string_lossy()
            .replace("{pid}", &pid.to_string()),
    )
}
