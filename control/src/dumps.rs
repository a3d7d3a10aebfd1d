//! The download of a dump: every file of its ring, oldest first, merged
//! into one temporary file of the dump's format. Memory stays bounded (one
//! record and the writer's buffer); the caller streams the file.
//!
//! A file being written may end in a record cut by the last flush: the
//! merge keeps every whole record before it. A file that disappears during
//! the merge (rotated away) is skipped.
#![forbid(unsafe_code)]

use std::fs::File;
use std::path::Path;

use ferrocap_dataplane::pcap::{
    CaptureError, CaptureReader, CaptureRecord, DumpConfig, DumpFormat, DumpWriter,
    LINKTYPE_ETHERNET,
};

/// Writes the records of `files` (oldest first) as one capture of `format`
/// into `out`. Returns the number of packets written.
pub(crate) fn merge(files: &[&Path], format: DumpFormat, out: File) -> Result<u64, CaptureError> {
    let mut cfg = DumpConfig::new(format);
    // Keep the first file's link type and pcap timestamp resolution.
    let mut first_ok = None;
    for f in files {
        if let Ok(r) = CaptureReader::open(f) {
            first_ok = Some(r);
            break;
        }
    }
    if let Some(r) = &first_ok {
        cfg.linktype = r
            .interfaces()
            .first()
            .map_or(LINKTYPE_ETHERNET, |i| i.linktype);
        cfg.pcap_resolution = r.lossless_pcap_resolution();
    }
    drop(first_ok);
    let mut w = DumpWriter::new(out, "download", cfg)?;
    // Output interfaces by (name, linktype), shared by all input files.
    let mut known: Vec<(Option<String>, u16)> = Vec::new();
    let mut packets = 0u64;
    // One record's bytes, reused.
    let mut buf: Vec<u8> = Vec::with_capacity(65536);
    for f in files {
        let Ok(mut r) = CaptureReader::open(f) else {
            continue;
        };
        // Input interface index -> output index. pcapng IDBs are read as
        // the reader meets them, so the map grows as records need it.
        let mut map: Vec<u32> = Vec::new();
        loop {
            let (ts_nanos, orig_len, interface, direction) = match r.next_record() {
                Ok(Some(rec)) => {
                    buf.clear();
                    buf.extend_from_slice(rec.data);
                    (rec.ts_nanos, rec.orig_len, rec.interface, rec.direction)
                }
                Ok(None) => break,
                // A cut last record (the file is being written) or damage:
                // keep what was whole.
                Err(_) => break,
            };
            while map.len() <= interface as usize {
                let Some(info) = r.interfaces().get(map.len()).cloned() else {
                    break;
                };
                let linktype = if format == DumpFormat::Pcap {
                    cfg.linktype
                } else {
                    info.linktype
                };
                let key = (info.name.clone(), linktype);
                let idx = match known.iter().position(|k| *k == key) {
                    Some(i) => u32::try_from(i).unwrap_or(0),
                    None => {
                        let i = w.add_interface(info.name.as_deref(), linktype)?;
                        known.push(key);
                        i
                    }
                };
                map.push(idx);
            }
            let Some(&interface) = map.get(interface as usize) else {
                // A record for an interface the file never described.
                continue;
            };
            w.write(&CaptureRecord {
                ts_nanos,
                orig_len,
                data: &buf,
                interface,
                direction,
            })?;
            packets += 1;
        }
    }
    w.finish()?;
    Ok(packets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocap_dataplane::pcap::CapturedDirection;

    fn write(path: &Path, format: DumpFormat, ts: &[u64], names: &[&str]) {
        let mut w = DumpWriter::create(path, DumpConfig::new(format)).expect("create");
        for n in names {
            w.add_interface(Some(n), LINKTYPE_ETHERNET).expect("idb");
        }
        for (i, t) in ts.iter().enumerate() {
            let data = vec![u8::try_from(i % 251).unwrap_or(0); 60];
            w.write(&CaptureRecord {
                ts_nanos: *t,
                orig_len: 60,
                data: &data,
                interface: u32::try_from(i % names.len().max(1)).unwrap_or(0),
                direction: Some(CapturedDirection::Inbound),
            })
            .expect("write");
        }
        w.finish().expect("finish");
    }

    fn read_ts(path: &Path) -> Vec<(u64, Option<String>)> {
        let mut r = CaptureReader::open(path).expect("open");
        let mut v = Vec::new();
        while let Some(rec) = r.next_record().expect("rec") {
            v.push((rec.ts_nanos, rec.interface));
        }
        // pcapng IDBs are known once read.
        let names: Vec<Option<String>> = r.interfaces().iter().map(|i| i.name.clone()).collect();
        v.into_iter()
            .map(|(t, i)| (t, names.get(i as usize).cloned().flatten()))
            .collect()
    }

    #[test]
    fn merges_oldest_first_in_both_formats() {
        for format in [DumpFormat::Pcap, DumpFormat::Pcapng] {
            let dir = tempfile::tempdir().expect("tempdir");
            let a = dir.path().join("d.2.x");
            let b = dir.path().join("d.1.x");
            let c = dir.path().join("d.x");
            write(&a, format, &[1_000, 2_000], &["Internet", "LAN"]);
            write(&b, format, &[3_000], &["Internet", "LAN"]);
            write(&c, format, &[4_000, 5_000, 6_000], &["Internet", "LAN"]);
            // A cut file: the last record loses its tail.
            let bytes = std::fs::read(&c).expect("read");
            std::fs::write(&c, &bytes[..bytes.len() - 10]).expect("cut");
            let out = dir.path().join("merged");
            let n = merge(
                &[&a, &b, &c, &dir.path().join("gone")],
                format,
                File::create(&out).expect("out"),
            )
            .expect("merge");
            assert_eq!(n, 5, "{format}");
            let got = read_ts(&out);
            let ts: Vec<u64> = got.iter().map(|g| g.0).collect();
            assert_eq!(ts, [1_000, 2_000, 3_000, 4_000, 5_000], "{format}");
            if format == DumpFormat::Pcapng {
                let names: Vec<&str> = got.iter().filter_map(|g| g.1.as_deref()).collect();
                assert_eq!(names, ["Internet", "LAN", "Internet", "Internet", "LAN"]);
            }
        }
    }

    #[test]
    fn no_files_gives_an_empty_valid_capture() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("merged.pcap");
        let n = merge(&[], DumpFormat::Pcap, File::create(&out).expect("out")).expect("merge");
        assert_eq!(n, 0);
        assert!(read_ts(&out).is_empty());
    }
}
