//! `ferrocap-bench`: traffic generator and benchmarks.
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use ferrocap_bench::gen::{self, presets, Composition, GenInterface};
use ferrocap_dataplane::expr::{compile, Directory, InterfaceKind, Matcher};
use ferrocap_dataplane::pcap::{DumpConfig, DumpFormat, DumpWriter, LINKTYPE_ETHERNET};

/// ferrocap's traffic generator and benchmarks.
#[derive(Parser)]
#[command(name = "ferrocap-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a deterministic synthetic capture (pcap or pcapng).
    #[command(after_help = GEN_EXAMPLES)]
    Gen(GenArgs),
    /// Run the benchmark scenarios side by side with their peers.
    #[command(after_help = RUN_EXAMPLES)]
    Run(run::RunArgs),
}

const RUN_EXAMPLES: &str = "\
Scenarios: matching dpdk scaling writer offline latency control (default: all).
Writes DIR/results.json, DIR/report.md and its SVG charts.

Examples:
  cargo build --release -p ferrocap -p ferrocap-bench
  target/release/ferrocap-bench run --out bench-results          # everything
  target/release/ferrocap-bench run --quick                      # smoke check, < 60 s
  target/release/ferrocap-bench run matching offline --out /tmp/b";

const GEN_EXAMPLES: &str = "\
Presets:
  mix      realistic: ~80% IPv4 / 20% IPv6, TCP ~70%, UDP ~20%, ICMP ~5%, ARP 1%,
           802.1Q 10%, QinQ 2%, IP fragments 3%, IPv6 extension headers 5%,
           a few frames cut short as by a small snaplen; bimodal sizes
  imix     IMIX sizes (64/594/1518 in 7:4:1), plain IPv4/IPv6 TCP/UDP/ICMP/ARP
  small64  64-byte frames, plain like imix
Sizes count the 4-byte FCS, which captures do not store (64 → 60 bytes).
The same --seed always produces the same file.

Examples:
  # A 100k-packet realistic capture for demos and tests:
  ferrocap-bench gen -o demo.pcapng --preset mix --packets 100000 --seed 1 \\
      --interfaces Internet:in,LAN:out

  # 1M minimum-size frames for a throughput benchmark (classic pcap):
  ferrocap-bench gen -o small.pcap --preset small64 --packets 1000000

  # The mix's protocols with your own frame sizes (weights 3:1):
  ferrocap-bench gen -o sized.pcap --preset mix --sizes 128:3,1024:1

  # Check what was produced:
  tshark -r demo.pcapng -q -z io,phs";

#[derive(clap::Args)]
struct GenArgs {
    /// Output file.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Traffic preset: mix, imix or small64.
    #[arg(long, default_value = "mix", value_parser = clap::builder::PossibleValuesParser::new(presets::NAMES))]
    preset: String,
    /// Number of frames to write.
    #[arg(short = 'n', long, default_value_t = 10_000)]
    packets: u64,
    /// PRNG seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output format [default: pcapng if the file name ends in .pcapng or
    /// --interfaces is given, else pcap].
    #[arg(long, value_name = "pcap|pcapng")]
    format: Option<DumpFormat>,
    /// Interfaces to spread flows over, as NAME:in, NAME:out or NAME
    /// (unknown direction), comma-separated; written as pcapng `if_name`
    /// and EPB direction flags. Each flow stays on one interface.
    #[arg(long, value_delimiter = ',', value_name = "NAME:DIR,...")]
    interfaces: Vec<GenInterface>,
    /// Snapshot length of the output (longer frames are cut).
    #[arg(long, default_value_t = ferrocap_dataplane::pcap::DEFAULT_SNAPLEN)]
    snaplen: u32,
    /// Number of distinct flows per traffic class.
    #[arg(long)]
    flows: Option<u32>,
    /// Frame sizes instead of the preset's: SIZE or SIZE:WEIGHT, comma-separated,
    /// in bytes with the FCS (64..=9018), e.g. `64:7,594:4,1518:1` or `128`.
    /// Frames whose headers need more room come out larger, and DNS,
    /// NetBIOS-NS, NTP and SSDP messages are as long as the message.
    #[arg(long, value_delimiter = ',', value_name = "SIZE[:WEIGHT],...")]
    sizes: Vec<gen::SizeWeight>,
    /// Make --match-fraction of the packets match this Kerio expression
    /// (and the rest not match it). Interfaces named in it are the
    /// --interfaces (or --match-interface); every route goes to the first.
    #[arg(long = "match", value_name = "EXPR", requires = "match_fraction")]
    match_expr: Option<String>,
    /// Share of packets matching --match, 0..=1 (exact: error diffusion).
    #[arg(long, value_name = "F", requires = "match_expr")]
    match_fraction: Option<f64>,
    /// Interface of packets for --match when --interfaces is not given.
    #[arg(long, value_name = "NAME", default_value = "Internet")]
    match_interface: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen(args) => run_gen(args),
        Command::Run(args) => run::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrocap-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_gen(args: GenArgs) -> anyhow::Result<()> {
    let Some(mut cfg) = presets::by_name(&args.preset, args.seed, args.packets) else {
        bail!("unknown preset {:?}", args.preset);
    };
    cfg.interfaces = args.interfaces;
    if !args.sizes.is_empty() {
        cfg.size = gen::SizeMix::from(args.sizes.as_slice());
    }
    if let Some(f) = args.flows {
        cfg.flows = f;
    }
    cfg.validate().context("invalid generator settings")?;
    let format = args.format.unwrap_or_else(|| {
        let ng = args
            .output
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("pcapng"));
        if ng || !cfg.interfaces.is_empty() {
            DumpFormat::Pcapng
        } else {
            DumpFormat::Pcap
        }
    });
    if format == DumpFormat::Pcap && !cfg.interfaces.is_empty() {
        eprintln!("note: pcap cannot record interface names or directions; use --format pcapng to keep them");
    }
    let dump = DumpConfig {
        format,
        snaplen: args.snaplen,
        ..DumpConfig::default()
    };
    let mut w = DumpWriter::create(&args.output, dump)?;
    if format == DumpFormat::Pcapng {
        if cfg.interfaces.is_empty() {
            w.add_interface(None, LINKTYPE_ETHERNET)?;
        }
        for i in &cfg.interfaces {
            w.add_interface(Some(&i.name), LINKTYPE_ETHERNET)?;
        }
    }
    let mut comp = Composition::default();
    let packets: Box<dyn Iterator<Item = anyhow::Result<gen::GenPacket>>> =
        match (&args.match_expr, args.match_fraction) {
            (Some(expr), Some(fraction)) => {
                let (dir, matcher) = match_setup(&cfg, &args.match_interface, expr)?;
                let sel = gen::MatchSelection {
                    matcher: &matcher,
                    directory: &dir,
                    default_interface: Some(&args.match_interface),
                    fraction,
                };
                // Collected so the borrows end here; --match is for
                // benchmark-sized files.
                let v: Vec<_> = gen::select(&cfg, sel)?
                    .map(|r| r.map_err(anyhow::Error::from))
                    .collect();
                Box::new(v.into_iter())
            }
            _ => Box::new(gen::generate(&cfg).map(Ok)),
        };
    for p in packets {
        let p = p?;
        let mut rec = p.as_record();
        if format == DumpFormat::Pcap {
            rec.interface = 0;
        }
        w.write(&rec)?;
        comp.add(&p);
    }
    let bytes = w.bytes_written();
    w.finish()?;
    if let (Some(expr), Some(f)) = (&args.match_expr, args.match_fraction) {
        eprintln!("a share of {f} of the packets matches {expr}");
    }
    eprintln!(
        "wrote {} ({format}, preset {}, seed {}, {} bytes)",
        args.output.display(),
        args.preset,
        args.seed,
        bytes
    );
    eprint!("{comp}");
    Ok(())
}

/// The directory and matcher for `gen --match`: the generated interfaces
/// (or `default_if`), every route to the first of them.
fn match_setup(
    cfg: &gen::GenConfig,
    default_if: &str,
    expr: &str,
) -> anyhow::Result<(Directory, Matcher)> {
    let mut names: Vec<&str> = cfg.interfaces.iter().map(|i| i.name.as_str()).collect();
    if names.is_empty() {
        names.push(default_if);
    }
    let mut b = Directory::builder();
    for n in &names {
        b = b.interface(n, InterfaceKind::Ethernet);
    }
    let first = names.first().copied().unwrap_or(default_if);
    let dir = b
        .route("0.0.0.0/0", first)
        .route("::/0", first)
        .build()
        .context("building the --match directory")?;
    let matcher = compile(expr, &dir)
        .map_err(|e| anyhow::anyhow!("--match {expr:?}: {e}"))?
        .matcher;
    Ok((dir, matcher))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use ferrocap_dataplane::pcap::CaptureReader;

    fn gen_args(argv: &[&str]) -> GenArgs {
        let cli = Cli::try_parse_from(argv).unwrap();
        let Command::Gen(a) = cli.command else {
            panic!("not gen");
        };
        a
    }

    /// `ferrocap-bench gen -o OUT ARGS...`.
    fn gen_to(out: &std::path::Path, args: &[&str]) -> anyhow::Result<()> {
        let out = out.to_str().unwrap();
        let argv: Vec<&str> = ["ferrocap-bench", "gen", "-o", out]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        run_gen(gen_args(&argv))
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn gen_writes_pcapng_with_interfaces_and_pcap_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        let ng = dir.path().join("a.out");
        let ng_s = ng.to_str().unwrap();
        run_gen(gen_args(&[
            "ferrocap-bench",
            "gen",
            "-o",
            ng_s,
            "--packets",
            "300",
            "--seed",
            "4",
            "--interfaces",
            "Internet:in,LAN:out",
        ]))
        .unwrap();
        let mut r = CaptureReader::open(&ng).unwrap();
        assert_eq!(r.format(), DumpFormat::Pcapng);
        let mut n = 0;
        while r.next_record().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 300);
        let names: Vec<_> = r.interfaces().iter().map(|i| i.name.clone()).collect();
        assert_eq!(names, [Some("Internet".to_owned()), Some("LAN".to_owned())]);

        let p = dir.path().join("b.pcap");
        gen_to(&p, &["--preset", "small64", "-n", "50"]).unwrap();
        let r = CaptureReader::open(&p).unwrap();
        assert_eq!(r.format(), DumpFormat::Pcap);
    }

    #[test]
    fn gen_match_fraction_writes_that_share_of_matching_packets() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.pcap");
        let expr = r#"if = "Internet" & (port = 137-139 | port = 445)"#;
        gen_to(
            &p,
            &[
                "--preset",
                "small64",
                "-n",
                "400",
                "--match",
                expr,
                "--match-fraction",
                "0.05",
            ],
        )
        .unwrap();
        let cfg = presets::small64(1, 400);
        let (d, m) = match_setup(&cfg, "Internet", expr).unwrap();
        let meta = ferrocap_dataplane::expr::PacketMeta {
            iif: d.interface_index("Internet"),
            ..Default::default()
        };
        let mut r = CaptureReader::open(&p).unwrap();
        let (mut n, mut matched) = (0, 0);
        while let Some(rec) = r.next_record().unwrap() {
            n += 1;
            matched += usize::from(m.matches(&meta, rec.data));
        }
        assert_eq!((n, matched), (400, 20));
        for argv in [
            &["ferrocap-bench", "gen", "-o", "x", "--match", "any"][..],
            &[
                "ferrocap-bench",
                "gen",
                "-o",
                "x",
                "--match-fraction",
                "0.5",
            ],
        ] {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?}");
        }
        let err = gen_to(&p, &["--match", "port = ", "--match-fraction", "0.5"]).unwrap_err();
        assert!(format!("{err:#}").contains("--match"), "{err:#}");
    }

    #[test]
    fn gen_sizes_sets_the_frame_size_distribution() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.pcap");
        gen_to(
            &p,
            &["--preset", "imix", "-n", "4000", "--sizes", "128:3,1024:1"],
        )
        .unwrap();
        let mut r = CaptureReader::open(&p).unwrap();
        let mut by_len = std::collections::BTreeMap::<usize, u32>::new();
        while let Some(rec) = r.next_record().unwrap() {
            *by_len.entry(rec.data.len()).or_default() += 1;
        }
        // Stored without the FCS; messages of DNS and the like keep their
        // own length, so most frames, not all, have the configured sizes.
        let (small, large) = (by_len[&124], by_len[&1020]);
        assert!(small + large >= 3000, "{by_len:?}");
        let share = f64::from(small) / f64::from(small + large);
        assert!(
            (0.70..0.80).contains(&share),
            "3:1 gave {share}: {by_len:?}"
        );
        assert!(
            !by_len.contains_key(&590),
            "IMIX's own sizes are gone: {by_len:?}"
        );

        for bad in ["63", "9019", "128:0", "128:x", "x", ""] {
            let argv = ["ferrocap-bench", "gen", "-o", "x", "--sizes", bad];
            assert!(Cli::try_parse_from(argv).is_err(), "--sizes {bad:?}");
        }
        let ok = "64,1518:2"
            .split(',')
            .map(|s| s.parse::<gen::SizeWeight>().unwrap());
        assert_eq!(
            ok.map(|s| (s.size, s.weight)).collect::<Vec<_>>(),
            [(64, 1), (1518, 2)]
        );
    }

    #[test]
    fn gen_rejects_bad_arguments() {
        for argv in [
            &["ferrocap-bench", "gen", "-o", "x", "--preset", "huge"][..],
            &["ferrocap-bench", "gen", "-o", "x", "--format", "pcap-ng"],
            &[
                "ferrocap-bench",
                "gen",
                "-o",
                "x",
                "--interfaces",
                "LAN:sideways",
            ],
            &["ferrocap-bench", "gen"],
        ] {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?}");
        }
        let err = run_gen(gen_args(&[
            "ferrocap-bench",
            "gen",
            "-o",
            "x",
            "--flows",
            "0",
        ]))
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("flows must be at least 1"),
            "{err:#}"
        );
    }
}
