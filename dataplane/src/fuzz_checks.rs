//! The checks behind the fuzz targets of `dataplane/fuzz` that read
//! whole files, as library functions, so that the fuzz targets and the
//! tests that replay their seed corpora (`tests/fuzz_corpus.rs`) run the
//! same code. Each panics when a property fails; that is its purpose.
//! Not part of the crate's API.

use std::io::{Read, Write};

use crate::pcap::{CaptureReader, CaptureRecord, CapturedDirection, MAX_CAPLEN};
use crate::stats::{analyze_with, AnalyzeOptions};

/// A record, owned.
#[derive(Debug, PartialEq, Eq)]
struct Rec {
    ts_nanos: u64,
    orig_len: u32,
    data: Vec<u8>,
    interface: u32,
    direction: Option<CapturedDirection>,
}

fn own(r: CaptureRecord<'_>) -> Rec {
    assert!(r.data.len() <= MAX_CAPLEN as usize);
    assert!(r.orig_len as usize >= r.data.len());
    Rec {
        ts_nanos: r.ts_nanos,
        orig_len: r.orig_len,
        data: r.data.to_vec(),
        interface: r.interface,
        direction: r.direction,
    }
}

/// The records `next_record` gives until the end or the first error, and
/// whether it ended with an error.
fn rest<R: Read>(r: &mut CaptureReader<R>, out: &mut Vec<Rec>) -> bool {
    loop {
        match r.next_record() {
            Ok(Some(rec)) => out.push(own(rec)),
            Ok(None) => return false,
            Err(_) => return true,
        }
    }
}

/// A reader that hands out at most `step` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// `input[0]` sets the read and span sizes, the rest is the capture: it
/// must read the same (the same records, ending the same way) in memory
/// one record at a time, as a stream of reads of a few bytes, and (pcap)
/// cut into spans read apart and committed, the parallel path of `capture
/// -r`. Every record holds at most [`MAX_CAPLEN`] bytes and an original
/// length of at least its captured length.
pub fn capture_readers_agree(input: &[u8]) {
    // The first byte sets the read size and the span size; the rest is
    // the capture.
    let Some((&knob, data)) = input.split_first() else {
        return;
    };
    let opened = CaptureReader::from_bytes(data.to_vec(), "fuzz");
    let streamed = CaptureReader::new(
        Trickle {
            data,
            step: usize::from(knob % 64) + 1,
        },
        "fuzz",
    );
    let (mut memory, mut stream) = match (opened, streamed) {
        (Ok(m), Ok(s)) => (m, s),
        (Err(_), Err(_)) => return,
        (m, s) => panic!(
            "in memory {:?}, streamed {:?}",
            m.map(|_| ()).map_err(|e| e.to_string()),
            s.map(|_| ()).map_err(|e| e.to_string())
        ),
    };
    let mut a = Vec::new();
    let a_failed = rest(&mut memory, &mut a);
    let mut b = Vec::new();
    let b_failed = rest(&mut stream, &mut b);
    assert_eq!(a, b, "in memory and streamed records differ");
    assert_eq!(a_failed, b_failed);
    assert_eq!(memory.packets_read(), a.len() as u64);
    assert_eq!(memory.interfaces(), stream.interfaces());

    // The span path, as `capture -r` takes it.
    let Ok(mut spans_reader) = CaptureReader::from_bytes(data.to_vec(), "fuzz") else {
        panic!("opened once, not twice");
    };
    let span_bytes = usize::from(knob >> 2) + 16;
    let mut c = Vec::new();
    let mut wrong = 0;
    loop {
        let spans = spans_reader.split_pcap_spans(3, span_bytes);
        if spans.is_empty() {
            break;
        }
        let mut per_span = Vec::new();
        let outcomes: Vec<_> = spans
            .iter()
            .map(|s| {
                let mut recs = Vec::new();
                let outcome = s.read(|r| recs.push(own(r)));
                assert_eq!(outcome.records(), recs.len() as u64);
                per_span.push(recs);
                outcome
            })
            .collect();
        let accepted = spans_reader.commit_pcap_spans(&outcomes);
        assert!(accepted <= outcomes.len());
        for recs in per_span.into_iter().take(accepted) {
            c.extend(recs);
        }
        if accepted == 0 || outcomes[accepted - 1].stopped() {
            break;
        }
        if accepted < outcomes.len() {
            wrong += 1;
            if wrong > 4 {
                break;
            }
        }
    }
    let c_failed = rest(&mut spans_reader, &mut c);
    assert_eq!(a, c, "sequential and span records differ");
    assert_eq!(a_failed, c_failed);
}

/// `input[0]` sets a chunk size, the rest is a stats log: `analyze_with`
/// must not panic, and reading the file in chunks of that size on several
/// threads must give the report of reading it in one piece (records
/// across chunk boundaries, continuation lines, invalid UTF-8). Every
/// report renders as text, JSON and HTML.
pub fn stats_chunks_agree(input: &[u8]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let Some((&knob, data)) = input.split_first() else {
        return;
    };
    let path = std::env::temp_dir().join(format!(
        "ferrocap-fuzz-stats-{}-{}.log",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(data));
    if written.is_err() {
        let _ = std::fs::remove_file(&path);
        panic!("cannot write {}", path.display());
    }
    let paths = [path.clone()];
    let read = |chunk_bytes| {
        analyze_with(
            &paths,
            &AnalyzeOptions {
                top: 5,
                chunk_bytes,
            },
        )
    };
    let whole = read(u64::MAX / 2);
    let cut = read(u64::from(knob % 97) + 24);
    let _ = std::fs::remove_file(&path);
    match (whole, cut) {
        (Ok(w), Ok(c)) => {
            assert_eq!(w, c, "chunked report differs");
            let _ = (w.to_text(), w.to_json(), w.to_html());
        }
        (Err(_), Err(_)) => {}
        (w, c) => panic!("whole {:?} vs chunked {:?}", w.is_ok(), c.is_ok()),
    }
}
