//! The main log outputs: a syslog datagram socket or two append-mode files.
//!
//! Used only by the logger thread (and, synchronously, by the panic hook).
//! Every write reports its error; the policy lives in the logger.
#![forbid(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// Which stream a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stats,
    Debug,
}

#[derive(Debug)]
pub(crate) struct SyslogOutput {
    path: PathBuf,
    sock: Option<UnixDatagram>,
}

impl SyslogOutput {
    pub(crate) fn new(path: &Path) -> SyslogOutput {
        SyslogOutput {
            path: path.to_path_buf(),
            sock: None,
        }
    }

    fn connect(&mut self) -> io::Result<&UnixDatagram> {
        if self.sock.is_none() {
            let s = UnixDatagram::unbound()?;
            s.connect(&self.path)?;
            self.sock = Some(s);
        }
        self.sock
            .as_ref()
            .ok_or_else(|| io::Error::other("syslog socket unavailable"))
    }

    /// Sends one datagram; on failure reconnects once (the daemon may have
    /// restarted) before giving up.
    pub(crate) fn send(&mut self, datagram: &str) -> io::Result<()> {
        let first = self.connect().and_then(|s| s.send(datagram.as_bytes()));
        match first {
            Ok(_) => Ok(()),
            Err(_) => {
                self.sock = None;
                self.connect()?.send(datagram.as_bytes()).map(|_| ())
            }
        }
    }

    pub(crate) fn describe(&self) -> String {
        format!("syslog {}", self.path.display())
    }
}

#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    w: Option<BufWriter<File>>,
    /// Bytes accepted into the buffer but not written when a write failed.
    unwritten: Vec<u8>,
}

impl LogFile {
    fn open(path: &Path) -> io::Result<LogFile> {
        let mut f = LogFile {
            path: path.to_path_buf(),
            w: None,
            unwritten: Vec::new(),
        };
        f.reopen()?;
        Ok(f)
    }

    fn reopen(&mut self) -> io::Result<()> {
        if let Some(w) = self.w.as_mut() {
            if w.flush().is_err() {
                self.fail();
            }
        }
        self.w = None;
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.w = Some(BufWriter::with_capacity(64 * 1024, f));
        Ok(())
    }

    fn write_line(&mut self, line: &str) -> io::Result<()> {
        if self.w.is_none() {
            self.reopen()?;
        }
        let w = self
            .w
            .as_mut()
            .ok_or_else(|| io::Error::other("log file not open"))?;
        // Make room first, so that a failure never leaves half a line in
        // the buffer: the buffer then holds whole lines only.
        let mut r = Ok(());
        if w.capacity() - w.buffer().len() < line.len() + 1 {
            r = w.flush();
        }
        if r.is_ok() {
            r = w
                .write_all(line.as_bytes())
                .and_then(|()| w.write_all(b"\n"));
        }
        if r.is_err() {
            self.fail();
        }
        r
    }

    /// Keeps what the buffer still holds for [`LogFile::take_unwritten`]
    /// and drops the writer; the next write reopens the file.
    fn fail(&mut self) {
        if let Some(w) = self.w.take() {
            let (_file, buf) = w.into_parts();
            if let Ok(b) = buf {
                self.unwritten.extend_from_slice(&b);
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.w.as_mut() {
            Some(w) => {
                let r = w.flush();
                if r.is_err() {
                    self.fail();
                }
                r
            }
            None => Ok(()),
        }
    }
}

/// `ferrocap-stats` and `ferrocap-debug`, or one file for both.
#[derive(Debug)]
pub(crate) struct FileOutput {
    stats: LogFile,
    debug: Option<LogFile>,
}

impl FileOutput {
    pub(crate) fn open(stats: &Path, debug: &Path) -> io::Result<FileOutput> {
        let stats_f = LogFile::open(stats)?;
        let debug = if debug == stats {
            None
        } else {
            Some(LogFile::open(debug)?)
        };
        Ok(FileOutput {
            stats: stats_f,
            debug,
        })
    }

    pub(crate) fn single(path: &Path) -> io::Result<FileOutput> {
        FileOutput::open(path, path)
    }

    pub(crate) fn write_line(&mut self, stream: Stream, line: &str) -> io::Result<()> {
        match (stream, self.debug.as_mut()) {
            (Stream::Debug, Some(d)) => d.write_line(line),
            _ => self.stats.write_line(line),
        }
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        let a = self.stats.flush();
        let b = self.debug.as_mut().map_or(Ok(()), LogFile::flush);
        a.and(b)
    }

    pub(crate) fn reopen(&mut self) -> io::Result<()> {
        let a = self.stats.reopen();
        let b = self.debug.as_mut().map_or(Ok(()), LogFile::reopen);
        a.and(b)
    }

    /// Lines that were buffered but not written when a write failed.
    pub(crate) fn take_unwritten(&mut self) -> Vec<u8> {
        let mut v = std::mem::take(&mut self.stats.unwritten);
        if let Some(d) = self.debug.as_mut() {
            v.append(&mut d.unwritten);
        }
        v
    }

    /// Appends raw bytes (whole lines) to the stream.
    pub(crate) fn write_raw(&mut self, stream: Stream, bytes: &[u8]) -> io::Result<()> {
        let f = match (stream, self.debug.as_mut()) {
            (Stream::Debug, Some(d)) => d,
            _ => &mut self.stats,
        };
        if f.w.is_none() {
            f.reopen()?;
        }
        match f.w.as_mut() {
            Some(w) => w.write_all(bytes),
            None => Err(io::Error::other("log file not open")),
        }
    }

    pub(crate) fn describe(&self, stream: Stream) -> String {
        match (stream, self.debug.as_ref()) {
            (Stream::Debug, Some(d)) => d.path.display().to_string(),
            _ => self.stats.path.display().to_string(),
        }
    }
}

/// The main output.
#[derive(Debug)]
pub(crate) enum MainOutput {
    Syslog(SyslogOutput),
    Files(FileOutput),
}
