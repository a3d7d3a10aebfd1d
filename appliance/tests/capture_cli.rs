//! End-to-end tests of `ferrocap check` and `ferrocap capture -r`: the real
//! binary, real files, and tshark reading what it wrote.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{tshark_frames, write_capture};
use ferrocap_bench::gen::{self, presets};
use ferrocap_dataplane::pcap::{DumpConfig, DumpFormat, DumpWriter, TsResolution};

fn ferrocap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrocap"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes `n` packets of the mix preset as a plain pcap (no interface names).
fn write_pcap(p: &Path, n: u64, res: TsResolution) {
    let mut cfg = DumpConfig::new(DumpFormat::Pcap);
    cfg.pcap_resolution = res;
    let mut w = DumpWriter::create(p, cfg).unwrap();
    for pkt in gen::generate(&presets::mix(3, n)) {
        w.write(&pkt.as_record()).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn check_prints_normalized_plan_and_warning() {
    let o = ferrocap(&[
        "check",
        r#"if = "Internet" & (port >= 137 & port <= 139 | port = 445)"#,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(
            r#"expression: ((if = "Internet") & (((port >= 137) & (port <= 139)) | (port = 445)))"#
        ),
        "{out}"
    );
    assert!(
        out.contains("plan:") && out.contains("depth: Transport"),
        "{out}"
    );
    assert!(
        out.contains("\nLine 1, char 20: warning: `port >= 137 & port <= 139`")
            && out.contains("port = 137-139")
            && !out.contains("warning: Line"),
        "{out}"
    );
}

#[test]
fn check_reports_errors_kernun_style_with_exit_2() {
    let cases = [
        ("dport = 80 & saddr = 10.0.0.300", "Line 1, char 22:"),
        ("port = 70000", "Line 1, char 8:"),
        ("port = 139-137", "Line 1, char 8:"),
        ("daddr = 10.0.0.1 &", "Line 1, char 19:"),
        ("tcpfl = SYN\n  & bogus = 1", "Line 2, char 5:"),
        (r#"saddr = list:"nope""#, "Line 1, char 15:"),
    ];
    for (expr, want) in cases {
        let o = ferrocap(&["check", expr]);
        assert_eq!(o.status.code(), Some(2), "`{expr}`: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.starts_with(want),
            "`{expr}`: expected {want:?}, got:\n{err}"
        );
        assert!(
            err.lines().any(|l| l.trim() == "^"),
            "`{expr}`: no caret line:\n{err}"
        );
    }
}

#[test]
fn capture_honours_pcapng_names_and_directions() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.pcapng");
    write_capture(&input, 11, 3000);
    let out = dir.path().join("out.pcapng");
    let o = ferrocap(&[
        "capture",
        "-r",
        path(&input),
        "-w",
        path(&out),
        r#"iif = "LAN" & direc = out & tcpfl = ACK"#,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let theirs = tshark_frames(
        &input,
        Some(
            r#"frame.interface_name == "LAN" && frame.packet_flags_direction == 2 && tcp.flags.ack == 1 && tcp.urgent_pointer"#,
        ),
    );
    assert!(!theirs.is_empty());
    assert_eq!(tshark_frames(&out, None), theirs);
    // The output keeps the interface name and the direction.
    let names = Command::new("tshark")
        .args([
            "-r",
            path(&out),
            "-T",
            "fields",
            "-e",
            "frame.interface_name",
            "-e",
            "frame.packet_flags_direction",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&names.stdout);
    for line in text.lines() {
        let (name, flags) = line.split_once('\t').unwrap();
        let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).unwrap();
        assert_eq!((name, flags), ("LAN", 2), "{line}");
    }
    let summary = stderr(&o);
    assert!(summary.contains("3000 packets read"), "{summary}");
    assert!(
        summary.contains(&format!("{} matched", theirs.len())),
        "{summary}"
    );
}

#[test]
fn plain_pcap_gets_interface_and_direction_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    for res in [TsResolution::Micro, TsResolution::Nano] {
        let input = dir.path().join(format!("in-{res:?}.pcap"));
        write_pcap(&input, 2000, res);
        let out = dir.path().join(format!("out-{res:?}.pcap"));
        let o = ferrocap(&[
            "capture",
            "-r",
            path(&input),
            "-w",
            path(&out),
            "--interface",
            "Internet",
            "--direction",
            "in",
            r#"if = "Internet" & direc = in & tcpfl = SYN"#,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let theirs = tshark_frames(
            &input,
            Some("tcp.flags.syn == 1 && tcp.urgent_pointer && !icmp && !icmpv6"),
        );
        assert!(!theirs.is_empty());
        assert_eq!(tshark_frames(&out, None), theirs, "{res:?}");
        // Without --direction the direction is unknown, so nothing is `in`.
        let o = ferrocap(&[
            "capture",
            "-r",
            path(&input),
            "-w",
            path(&out),
            "direc = in",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(tshark_frames(&out, None).is_empty());
    }
}

#[test]
fn count_snaplen_and_format() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.pcapng");
    write_capture(&input, 5, 2000);
    let out = dir.path().join("out.pcap");
    let o = ferrocap(&[
        "capture",
        "-r",
        path(&input),
        "-w",
        path(&out),
        "-c",
        "25",
        "-s",
        "64",
        "any",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let fields = Command::new("tshark")
        .args([
            "-r",
            path(&out),
            "-T",
            "fields",
            "-e",
            "frame.cap_len",
            "-e",
            "frame.len",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&fields.stdout);
    let rows: Vec<(u32, u32)> = text
        .lines()
        .map(|l| {
            let (c, w) = l.split_once('\t').unwrap();
            (c.parse().unwrap(), w.parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 25, "-c 25");
    assert!(
        rows.iter().all(|&(cap, len)| cap <= 64 && len >= cap),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|&(cap, len)| cap == 64 && len > 64),
        "snaplen cut something"
    );
    // `.pcap` output is classic pcap, in nanoseconds because the pcapng
    // input carries them.
    let magic = std::fs::read(&out).unwrap();
    assert_eq!(&magic[..4], &0xa1b2_3c4du32.to_le_bytes());
    // --format overrides the extension.
    let ng = dir.path().join("out.pcap");
    let o = ferrocap(&[
        "capture",
        "-r",
        path(&input),
        "-w",
        path(&ng),
        "--format",
        "pcapng",
        "-c",
        "1",
        "any",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        &std::fs::read(&ng).unwrap()[..4],
        &0x0a0d_0d0au32.to_le_bytes()
    );
}

#[test]
fn truncated_input_yields_what_it_held() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.pcap");
    write_pcap(&whole, 500, TsResolution::Micro);
    let bytes = std::fs::read(&whole).unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 30]).unwrap();
    let out = dir.path().join("out.pcap");
    let o = ferrocap(&["capture", "-r", path(&cut), "-w", path(&out), "any"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("ends in the middle of a record") && err.contains("499 whole packets"),
        "{err}"
    );
    let all = tshark_frames(&whole, Some("ip or ipv6"));
    let got = tshark_frames(&out, None);
    // Every IP packet but (possibly) the cut last one.
    assert!(
        got.len() == all.len() || got.len() + 1 == all.len(),
        "{} vs {}",
        got.len(),
        all.len()
    );
    assert!(got.iter().all(|k| all.contains(k)));
}

#[test]
fn bad_inputs_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"GET / HTTP/1.1\r\nHost: example\r\n\r\n").unwrap();
    let out = dir.path().join("out.pcap");
    let o = ferrocap(&["capture", "-r", path(&junk), "-w", path(&out), "any"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a pcap or pcapng file"),
        "{}",
        stderr(&o)
    );

    let missing = dir.path().join("missing.pcap");
    let o = ferrocap(&["capture", "-r", path(&missing), "-w", path(&out), "any"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("missing.pcap"), "{}", stderr(&o));

    let input = dir.path().join("in.pcapng");
    write_capture(&input, 1, 10);
    let o = ferrocap(&[
        "capture",
        "-r",
        path(&input),
        "-w",
        path(&out),
        r#"if = "Nowhere""#,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown interface"), "{}", stderr(&o));
    assert!(stderr(&o).contains("hint:"), "{}", stderr(&o));

    let bad_cfg = dir.path().join("bad.toml");
    std::fs::write(&bad_cfg, "[[interface]]\nname = \"LAN\"\nkind = \"wifi\"\n").unwrap();
    let o = ferrocap(&[
        "capture",
        "--config",
        path(&bad_cfg),
        "-r",
        path(&input),
        "-w",
        path(&out),
        "any",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Line 3, char 8:"), "{}", stderr(&o));
}

/// A pcap larger than a window of parallel spans (1 MiB each) is matched on
/// every core; the dump must be byte for byte what the one-record-at-a-time
/// path writes (`-c` forces that path), hold the frames tshark selects, and
/// a cut last record must still be reported after the parallel part.
#[test]
fn large_pcap_matched_in_parallel_equals_the_sequential_result() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.pcap");
    // ~20 MB of the mix preset: twenty spans, so (on up to 2 CPUs) several
    // windows of work.
    write_pcap(&big, 40_000, TsResolution::Nano);
    let size = std::fs::metadata(&big).unwrap().len();
    assert!(size > 4 * (4 << 20), "{size} bytes is too few chunks");
    let expr = "port = 80 | port = 443 | tcpfl = SYN";
    let (par, seq) = (dir.path().join("par.pcap"), dir.path().join("seq.pcap"));
    let o = ferrocap(&["capture", "-r", path(&big), "-w", path(&par), expr]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = ferrocap(&[
        "capture",
        "-r",
        path(&big),
        "-w",
        path(&seq),
        "-c",
        "1000000000",
        expr,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("40000 packets read"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&par).unwrap(), std::fs::read(&seq).unwrap());
    // A complete outer TCP/UDP header (see tshark_crosscheck.rs).
    let l4 = "(!icmp and !icmpv6 and (tcp.urgent_pointer or udp.checksum))";
    let want = tshark_frames(
        &big,
        Some(&format!(
            "{l4} and (tcp.port == 80 or tcp.port == 443 or udp.port == 80 or udp.port == 443 or tcp.flags.syn == 1)"
        )),
    );
    assert!(want.len() > 1000, "{} matches", want.len());
    let got = tshark_frames(&par, None);
    assert!(
        got == want,
        "{} frames written, tshark selects {}",
        got.len(),
        want.len()
    );

    // Cut into the last record: every whole record is read in parallel,
    // then the truncation is reported as for any input.
    let bytes = std::fs::read(&big).unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
    let out = dir.path().join("cut-out.pcap");
    let o = ferrocap(&["capture", "-r", path(&cut), "-w", path(&out), "any"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("ends in the middle of a record") && err.contains("39999 whole packets"),
        "{err}"
    );
}

/// Several -r inputs are filtered at once into a directory, one output per
/// input named like it, each the same as a run over that input alone.
#[test]
fn several_inputs_go_to_one_output_each_in_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for (i, n) in [(1, 3000), (2, 500), (3, 4000)] {
        let p = dir.path().join(format!("in{i}.pcap"));
        write_pcap(&p, n, TsResolution::Micro);
        inputs.push(p);
    }
    let ng = dir.path().join("in4.pcapng");
    write_capture(&ng, 4, 2000);
    inputs.push(ng);
    let expr = "tcpfl = SYN | port = 53";
    let outdir = dir.path().join("out");
    let mut args = vec!["capture"];
    for p in &inputs {
        args.extend(["-r", path(p)]);
    }
    args.extend(["-w", path(&outdir), expr]);
    let o = ferrocap(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("4 of 4 inputs done: 9500 packets read"),
        "{err}"
    );
    for p in &inputs {
        let name = p.file_name().unwrap();
        let alone = dir.path().join(format!("alone-{}", name.to_str().unwrap()));
        let o = ferrocap(&["capture", "-r", path(p), "-w", path(&alone), expr]);
        assert!(o.status.success(), "{}", stderr(&o));
        let got = tshark_frames(&outdir.join(name), None);
        assert!(!got.is_empty(), "{}", name.to_str().unwrap());
        assert_eq!(
            got,
            tshark_frames(&alone, None),
            "{}",
            name.to_str().unwrap()
        );
    }

    // Two inputs with one file name, and -w naming a file, are refused.
    let other = dir.path().join("sub");
    std::fs::create_dir(&other).unwrap();
    std::fs::copy(&inputs[0], other.join("in1.pcap")).unwrap();
    let dup = other.join("in1.pcap");
    let o = ferrocap(&[
        "capture",
        "-r",
        path(&inputs[0]),
        "-r",
        path(&dup),
        "-w",
        path(&outdir),
        expr,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("would both be written to"),
        "{}",
        stderr(&o)
    );
    let o = ferrocap(&[
        "capture",
        "-r",
        path(&inputs[0]),
        "-r",
        path(&inputs[1]),
        "-w",
        path(&inputs[2]),
        expr,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("names a directory"), "{}", stderr(&o));
    // -w pointing at the inputs' own directory would overwrite them.
    let o = ferrocap(&[
        "capture",
        "-r",
        path(&inputs[0]),
        "-r",
        path(&inputs[1]),
        "-w",
        path(dir.path()),
        expr,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("would overwrite it"), "{}", stderr(&o));
    assert!(std::fs::metadata(&inputs[0]).unwrap().len() > 100_000);
}

/// A runt (shorter than an Ethernet header) is matched like any frame:
/// interface and direction tests hold on it, every other test is false,
/// as tshark's `frame.interface_name` and `ip` see it. It is not skipped.
#[test]
fn runts_meet_interface_and_direction_tests() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("runts.pcap");
    let mut w = DumpWriter::create(&input, DumpConfig::new(DumpFormat::Pcap)).unwrap();
    let tcp = gen::generate(&presets::small64(5, 1))
        .next()
        .expect("one packet")
        .frame;
    let frames: [&[u8]; 4] = [
        &[0xff; 10],
        &[],
        &tcp,
        &[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08],
    ];
    for (i, data) in frames.iter().enumerate() {
        w.write(&ferrocap_dataplane::pcap::CaptureRecord {
            ts_nanos: 1_700_000_000_000_000_000 + i as u64,
            orig_len: data.len() as u32,
            data,
            interface: 0,
            direction: None,
        })
        .unwrap();
    }
    w.finish().unwrap();
    let out = dir.path().join("out.pcap");
    for (expr, want) in [
        (r#"iif = "LAN" & direc = in"#, 4),
        (r#"if != "LAN""#, 0),
        ("any", 1),
        ("port >= 0", 1),
    ] {
        let o = ferrocap(&[
            "capture",
            "-r",
            path(&input),
            "-w",
            path(&out),
            "--interface",
            "LAN",
            "--direction",
            "in",
            expr,
        ]);
        assert!(o.status.success(), "{expr}: {}", stderr(&o));
        assert_eq!(tshark_frames(&out, None).len(), want, "{expr}");
        let summary = stderr(&o);
        assert!(summary.contains("4 packets read"), "{summary}");
        assert!(summary.contains(&format!("{want} matched")), "{summary}");
    }
}
