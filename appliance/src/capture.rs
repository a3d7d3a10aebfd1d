//! `ferrocap capture -r`: offline capture from a pcap/pcapng file.
//!
//! Promises: every packet read is counted as matched, unmatched or skipped
//! (undecodable: not Ethernet, or shorter than an Ethernet header); every
//! matched packet is written or the command fails; a truncated input yields
//! the packets it held and a warning; the output is closed valid for tshark
//! on every path that returns.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, ValueEnum};
use ferrocap_dataplane::expr::{
    self, Direction, Directory, IfIndex, InterfaceDef, InterfaceKind, PacketMeta,
};
use ferrocap_dataplane::pcap::{
    CaptureError, CaptureReader, CaptureRecord, CapturedDirection, DumpConfig, DumpFormat,
    DumpWriter, InterfaceInfo, LINKTYPE_ETHERNET,
};

use crate::config::{DirectionRuleConfig, Loaded};

/// Arguments of `ferrocap capture`.
#[derive(Debug, Args)]
pub(crate) struct CaptureArgs {
    /// Input capture file (pcap or pcapng).
    #[arg(short = 'r', long = "read", value_name = "IN")]
    input: PathBuf,
    /// Output file for the packets that match.
    #[arg(short = 'w', long = "write", value_name = "OUT")]
    output: PathBuf,
    /// Output format. Default: pcap when OUT ends in `.pcap`, pcapng otherwise.
    #[arg(long, value_name = "FORMAT")]
    format: Option<DumpFormat>,
    /// Config file: interfaces, routes, IP groups and users the expression names.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Interface of packets whose input names none (plain pcap, or a pcapng
    /// interface without if_name).
    #[arg(long, value_name = "NAME")]
    interface: Option<String>,
    /// Direction of packets whose input records none.
    #[arg(long, value_enum, value_name = "in|out")]
    direction: Option<DirectionArg>,
    /// Stop after writing COUNT packets.
    #[arg(short = 'c', long = "count", value_name = "COUNT")]
    count: Option<u64>,
    /// Keep at most SNAPLEN bytes of each packet (the original length is kept).
    #[arg(short = 's', long = "snaplen", value_name = "SNAPLEN", default_value_t = 65535,
          value_parser = clap::value_parser!(u32).range(1..=262_144))]
    snaplen: u32,
    /// The Kerio expression selecting the packets to write.
    #[arg(value_name = "EXPR")]
    expression: String,
}

/// `--direction`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum DirectionArg {
    In,
    Out,
}

/// What happened to the packets, for the summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    read: u64,
    matched: u64,
    unmatched: u64,
    skipped: u64,
    written: u64,
}

/// How packets of one input interface are classified.
#[derive(Debug, Clone)]
struct InputInterface {
    name: Option<String>,
    decodable: bool,
    iif: Option<IfIndex>,
    rule: Rule,
    out_index: Option<u32>,
}

/// A resolved direction rule.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Fixed(Direction),
    ByMac([u8; 6]),
}

/// Runs `ferrocap capture` in offline mode.
pub(crate) fn run(args: &CaptureArgs) -> ExitCode {
    match capture(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ferrocap: {e}");
            ExitCode::from(1)
        }
    }
}

fn capture(args: &CaptureArgs) -> Result<ExitCode, CaptureError> {
    let loaded = match crate::load_config(args.config.as_ref()) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let directory = match &loaded {
        Some(l) => l.directory.clone(),
        None => directory_from_input(&args.input, args.interface.as_deref())?,
    };
    let compiled = match expr::compile(&args.expression, &directory) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            if loaded.is_none() && matches!(e.kind, expr::ExprErrorKind::UnknownInterface) {
                eprintln!("hint: without --config, the interfaces are the names in the input file and --interface");
            }
            return Ok(ExitCode::from(2));
        }
    };
    for w in &compiled.warnings {
        eprintln!("warning: {w}");
    }
    let rules = direction_rules(loaded.as_ref(), &directory);
    let fallback_iif = args
        .interface
        .as_deref()
        .and_then(|n| directory.interface_index(n));
    let fallback_dir = match args.direction {
        Some(DirectionArg::In) => Direction::In,
        Some(DirectionArg::Out) => Direction::Out,
        None => Direction::Unknown,
    };

    let mut reader = CaptureReader::open(&args.input)?;
    let format = args.format.unwrap_or_else(|| default_format(&args.output));
    let mut cfg = DumpConfig::new(format);
    cfg.snaplen = args.snaplen;
    cfg.pcap_resolution = reader.lossless_pcap_resolution();
    if let Some(first) = reader.interfaces().first() {
        // pcap has one link type per file; carry the input's over.
        cfg.linktype = first.linktype;
    }
    let mut writer = DumpWriter::create(&args.output, cfg)?;
    let matcher = &compiled.matcher;

    let mut inputs: Vec<InputInterface> = Vec::new();
    let mut counts = Counts::default();
    let progress = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut last_report = started;
    // The first packet of each input interface is copied here so the
    // reader's interface table can be consulted; every other packet is
    // matched straight from the reader's buffer.
    let mut first_of_interface: Vec<u8> = Vec::new();
    loop {
        let rec = match reader.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(CaptureError::Truncated { .. }) => {
                eprintln!(
                    "ferrocap: warning: {} ends in the middle of a record; kept the {} whole packets before it",
                    args.input.display(),
                    counts.read
                );
                break;
            }
            Err(e) => {
                // Close what was written so far so it stays readable.
                writer.finish()?;
                return Err(e);
            }
        };
        let idx = rec.interface as usize;
        let rec = if idx < inputs.len() {
            rec
        } else {
            first_of_interface.clear();
            first_of_interface.extend_from_slice(rec.data);
            let copied = CaptureRecord { data: &[], ..rec };
            while inputs.len() <= idx {
                let info = reader.interfaces().get(inputs.len());
                inputs.push(classify(
                    info,
                    &directory,
                    &rules,
                    fallback_iif,
                    fallback_dir,
                    args.interface.as_deref(),
                ));
            }
            CaptureRecord {
                data: &first_of_interface,
                ..copied
            }
        };
        counts.read += 1;
        let input = &mut inputs[idx];
        if !input.decodable || rec.data.len() < 14 {
            counts.skipped += 1;
            continue;
        }
        let meta = PacketMeta {
            iif: input.iif,
            direction: direction_of(&rec, input.rule),
        };
        if !matcher.matches(&meta, rec.data) {
            counts.unmatched += 1;
            continue;
        }
        counts.matched += 1;
        let out_index = match input.out_index {
            Some(i) => i,
            None => {
                let i = writer.add_interface(input.name.as_deref(), LINKTYPE_ETHERNET)?;
                input.out_index = Some(i);
                i
            }
        };
        writer.write(&CaptureRecord {
            interface: out_index,
            direction: rec.direction.or(match meta.direction {
                Direction::In => Some(CapturedDirection::Inbound),
                Direction::Out => Some(CapturedDirection::Outbound),
                Direction::Unknown => None,
            }),
            ..rec
        })?;
        counts.written += 1;
        if args.count.is_some_and(|c| counts.written >= c) {
            break;
        }
        if progress && counts.read % 65_536 == 0 && last_report.elapsed().as_secs() >= 1 {
            last_report = Instant::now();
            eprint!(
                "\r{} packets read, {} matched …",
                counts.read, counts.matched
            );
            let _ = std::io::stderr().flush();
        }
    }
    let bytes = writer.bytes_written();
    writer.finish()?;
    if progress {
        eprint!("\r\x1b[K");
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "ferrocap: {} packets read from {}: {} matched, {} unmatched, {} skipped as undecodable",
        counts.read,
        args.input.display(),
        counts.matched,
        counts.unmatched,
        counts.skipped
    );
    eprintln!(
        "ferrocap: {} packets written to {} ({format}, {bytes} bytes) in {secs:.3} s ({:.2} Mpps)",
        counts.written,
        args.output.display(),
        counts.read as f64 / secs.max(1e-9) / 1e6
    );
    Ok(ExitCode::SUCCESS)
}

/// Output format from the file name: `.pcap` → pcap, anything else → pcapng.
fn default_format(path: &Path) -> DumpFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("pcap") => DumpFormat::Pcap,
        _ => DumpFormat::Pcapng,
    }
}

/// Without a config, the interfaces are the names the input's header declares
/// (read up to its first packet) plus `--interface`.
fn directory_from_input(input: &Path, extra: Option<&str>) -> Result<Directory, CaptureError> {
    let mut reader = CaptureReader::open(input)?;
    // Reading the first record makes the reader take in every interface
    // block in front of it; errors surface again in the real pass.
    let _ = reader.next_record();
    let mut names: Vec<String> = reader
        .interfaces()
        .iter()
        .filter_map(|i| i.name.clone())
        .collect();
    names.extend(extra.map(str::to_owned));
    names.sort();
    names.dedup();
    let interfaces = names
        .into_iter()
        .map(|name| InterfaceDef {
            name,
            kind: InterfaceKind::Ethernet,
        })
        .collect();
    Ok(Directory::new(
        interfaces,
        Vec::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
    )
    .unwrap_or_default())
}

/// The config's direction rule per interface name.
fn direction_rules(loaded: Option<&Loaded>, directory: &Directory) -> BTreeMap<u16, Rule> {
    let mut rules = BTreeMap::new();
    let Some(l) = loaded else { return rules };
    for i in &l.config.interfaces {
        let Some(idx) = directory.interface_index(i.name.get_ref()) else {
            continue;
        };
        let rule = match i.direction {
            DirectionRuleConfig::In => Rule::Fixed(Direction::In),
            DirectionRuleConfig::Out => Rule::Fixed(Direction::Out),
            DirectionRuleConfig::Unknown => Rule::Fixed(Direction::Unknown),
            DirectionRuleConfig::ByMac => match i
                .mac
                .as_ref()
                .map(|m| crate::config::parse_mac(m.get_ref()))
            {
                Some(Ok(mac)) => Rule::ByMac(mac),
                _ => Rule::Fixed(Direction::Unknown),
            },
        };
        rules.insert(idx.0, rule);
    }
    rules
}

/// Classifies one input interface: is it Ethernet, which `iif` is it, and
/// how do its packets get a direction when the file records none.
fn classify(
    info: Option<&InterfaceInfo>,
    directory: &Directory,
    rules: &BTreeMap<u16, Rule>,
    fallback_iif: Option<IfIndex>,
    fallback_dir: Direction,
    fallback_name: Option<&str>,
) -> InputInterface {
    let decodable = info.map_or(true, |i| i.linktype == LINKTYPE_ETHERNET);
    let iif = info
        .and_then(|i| i.name.as_deref())
        .and_then(|n| directory.interface_index(n))
        .or(fallback_iif);
    let rule = match (fallback_dir, iif.and_then(|i| rules.get(&i.0))) {
        (Direction::In | Direction::Out, _) => Rule::Fixed(fallback_dir),
        (Direction::Unknown, Some(r)) => *r,
        (Direction::Unknown, None) => Rule::Fixed(Direction::Unknown),
    };
    InputInterface {
        name: info
            .and_then(|i| i.name.clone())
            .or_else(|| fallback_name.map(str::to_owned)),
        decodable,
        iif,
        rule,
        out_index: None,
    }
}

/// A packet's direction: what the file records, else the interface's rule.
#[inline]
fn direction_of(rec: &CaptureRecord<'_>, rule: Rule) -> Direction {
    match rec.direction {
        Some(CapturedDirection::Inbound) => Direction::In,
        Some(CapturedDirection::Outbound) => Direction::Out,
        None => match rule {
            Rule::Fixed(d) => d,
            Rule::ByMac(mac) => {
                if rec.data.get(0..6) == Some(&mac[..]) {
                    Direction::In
                } else if rec.data.get(6..12) == Some(&mac[..]) {
                    Direction::Out
                } else {
                    Direction::Unknown
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(default_format(Path::new("a.pcap")), DumpFormat::Pcap);
        assert_eq!(default_format(Path::new("a.PCAP")), DumpFormat::Pcap);
        assert_eq!(default_format(Path::new("a.pcapng")), DumpFormat::Pcapng);
        assert_eq!(default_format(Path::new("dump")), DumpFormat::Pcapng);
    }

    #[test]
    fn by_mac_direction() {
        let mac = [0, 0x11, 0x22, 0x33, 0x44, 0x55];
        let mut frame = [0u8; 14];
        let rec = |data: &'static [u8]| CaptureRecord {
            ts_nanos: 0,
            orig_len: data.len() as u32,
            data,
            interface: 0,
            direction: None,
        };
        frame[0..6].copy_from_slice(&mac);
        let to: &'static [u8] = Box::leak(Box::new(frame));
        assert_eq!(direction_of(&rec(to), Rule::ByMac(mac)), Direction::In);
        let mut frame = [0u8; 14];
        frame[6..12].copy_from_slice(&mac);
        let from: &'static [u8] = Box::leak(Box::new(frame));
        assert_eq!(direction_of(&rec(from), Rule::ByMac(mac)), Direction::Out);
        assert_eq!(
            direction_of(&rec(&[0u8; 14]), Rule::ByMac(mac)),
            Direction::Unknown
        );
        let mut inbound = rec(from);
        inbound.direction = Some(CapturedDirection::Inbound);
        assert_eq!(
            direction_of(&inbound, Rule::ByMac(mac)),
            Direction::In,
            "the file's flag wins"
        );
    }
}
