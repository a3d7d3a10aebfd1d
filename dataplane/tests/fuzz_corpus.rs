//! Replays the committed fuzz seed corpora (`dataplane/fuzz/corpus/`) as
//! ordinary tests, so every CI run exercises them even without cargo-fuzz:
//! every frame decodes at every depth without panicking and agrees across
//! depths, every expression either compiles to a normalized form that
//! compiles again to the same form, or fails with a positioned error, and
//! the capture and stats-log corpora pass the checks their fuzz targets run
//! (`ferrocap_dataplane::fuzz_checks`).

use std::path::Path;

use ferrocap_dataplane::expr::{compile, Directory, InterfaceKind};
use ferrocap_dataplane::wire::{decode, Depth};

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn decode_corpus_replays() {
    let frames = corpus("decode");
    assert!(
        frames.len() >= 20,
        "decode corpus has {} files",
        frames.len()
    );
    for f in &frames {
        let full = decode(f, Depth::Transport);
        let net = decode(f, Depth::Network);
        let link = decode(f, Depth::Link);
        assert_eq!(
            (net.l3, net.ip_proto, net.fragment),
            (full.l3, full.ip_proto, full.fragment)
        );
        assert_eq!(
            (link.ethertype, link.outer_vlan),
            (full.ethertype, full.outer_vlan)
        );
        assert_eq!(decode(f, Depth::Metadata), Default::default());
    }
}

#[test]
fn expr_corpus_replays() {
    let dir = Directory::builder()
        .interface("Internet", InterfaceKind::Ethernet)
        .interface("LAN", InterfaceKind::Ethernet)
        .interface("Branch", InterfaceKind::VpnTunnel)
        .route("0.0.0.0/0", "Internet")
        .ip_group("servers", &["192.168.1.10", "2001:db8::/64"])
        .user("alice", &["192.168.1.50"])
        .user_group("admins", &["alice"])
        .build()
        .unwrap();
    let inputs = corpus("expr");
    assert!(inputs.len() >= 15, "expr corpus has {} files", inputs.len());
    let (mut ok, mut bad) = (0, 0);
    for raw in &inputs {
        let text = String::from_utf8_lossy(raw);
        match compile(&text, &dir) {
            Ok(c) => {
                ok += 1;
                let again = compile(&c.normalized, &dir).expect("normalized form compiles");
                assert_eq!(again.normalized, c.normalized);
            }
            Err(e) => {
                bad += 1;
                assert!(e.line >= 1 && e.char >= 1, "{e}");
                assert!(e
                    .to_string()
                    .starts_with(&format!("Line {}, char {}: ", e.line, e.char)));
            }
        }
    }
    assert!(
        ok > 0 && bad > 0,
        "corpus should hold good ({ok}) and bad ({bad}) expressions"
    );
}

#[test]
fn capture_corpus_replays() {
    let inputs = corpus("capture");
    assert!(
        inputs.len() >= 15,
        "capture corpus has {} files",
        inputs.len()
    );
    for input in &inputs {
        ferrocap_dataplane::fuzz_checks::capture_readers_agree(input);
    }
}

#[test]
fn stats_corpus_replays() {
    let inputs = corpus("stats");
    assert!(inputs.len() >= 5, "stats corpus has {} files", inputs.len());
    for input in &inputs {
        ferrocap_dataplane::fuzz_checks::stats_chunks_agree(input);
    }
}
