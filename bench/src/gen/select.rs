//! A tunable fraction of packets matching an expression.
//!
//! [`select`] draws candidates from the generator and sorts them into
//! "matches" and "does not match" with a compiled ferrocap [`Matcher`], then
//! emits them so that the running share of matching packets stays as close
//! as possible to the requested fraction: after `n` packets exactly
//! `round_down(n × fraction + 0.5)`-ish of them match (error diffusion, no
//! randomness), so 1% of 10 000 packets is 100 packets. Output timestamps
//! increase strictly. Same config, same expression, same output.
#![forbid(unsafe_code)]

use std::collections::VecDeque;

use ferrocap_dataplane::expr::{Directory, Matcher, PacketMeta};
use ferrocap_dataplane::pcap::CapturedDirection;

use super::{generate, GenConfig, GenConfigError, GenPacket, Generator};

/// Candidates drawn in a row without finding one of the wanted kind before
/// [`select`] gives up with [`GenConfigError::MatchTooRare`].
pub const MAX_TRIES: u64 = 2_000_000;
/// Candidates of the other kind kept for later; extra ones are discarded.
const KEEP: usize = 4096;

/// What to select on.
pub struct MatchSelection<'a> {
    /// The compiled expression.
    pub matcher: &'a Matcher,
    /// The directory it was compiled against: the packet's generated
    /// interface name is looked up here for `iif`.
    pub directory: &'a Directory,
    /// The interface name of packets whose generated interface is not in
    /// the directory (e.g. when the config has no interfaces).
    pub default_interface: Option<&'a str>,
    /// Share of packets that must match, 0..=1.
    pub fraction: f64,
}

/// The iterator returned by [`select`]. Yields `cfg.packets` items, or stops
/// after an `Err` when a kind of packet cannot be found.
pub struct Selected<'a> {
    base: Generator,
    sel: MatchSelection<'a>,
    names: Vec<String>,
    total: u64,
    emitted: u64,
    emitted_matching: u64,
    matching: VecDeque<GenPacket>,
    other: VecDeque<GenPacket>,
    last_ts: u64,
    failed: bool,
    max_tries: u64,
}

/// Generates `cfg.packets` packets of which `sel.fraction` match
/// `sel.matcher`. Fails at once when the fraction is not in 0..=1.
pub fn select<'a>(
    cfg: &GenConfig,
    sel: MatchSelection<'a>,
) -> Result<Selected<'a>, GenConfigError> {
    if !(0.0..=1.0).contains(&sel.fraction) {
        return Err(GenConfigError::BadFraction {
            name: "match fraction",
            value: sel.fraction,
        });
    }
    let mut base_cfg = cfg.clone();
    base_cfg.packets = u64::MAX;
    Ok(Selected {
        base: generate(&base_cfg),
        names: cfg.interfaces.iter().map(|i| i.name.clone()).collect(),
        sel,
        total: cfg.packets,
        emitted: 0,
        emitted_matching: 0,
        matching: VecDeque::new(),
        other: VecDeque::new(),
        last_ts: 0,
        failed: false,
        max_tries: MAX_TRIES,
    })
}

impl Selected<'_> {
    fn meta(&self, p: &GenPacket) -> PacketMeta {
        let name = self
            .names
            .get(p.interface as usize)
            .map(String::as_str)
            .or(self.sel.default_interface);
        PacketMeta {
            iif: name.and_then(|n| self.sel.directory.interface_index(n)),
            direction: match p.direction {
                Some(CapturedDirection::Inbound) => ferrocap_dataplane::expr::Direction::In,
                Some(CapturedDirection::Outbound) => ferrocap_dataplane::expr::Direction::Out,
                None => ferrocap_dataplane::expr::Direction::Unknown,
            },
        }
    }

    /// Whether the next packet should match: keeps `emitted_matching`
    /// within half a packet of `emitted × fraction`.
    fn want_match(&self) -> bool {
        let target = (self.emitted + 1) as f64 * self.sel.fraction;
        (self.emitted_matching as f64) + 0.5 <= target
    }

    fn take(&mut self, want: bool) -> Result<GenPacket, GenConfigError> {
        let mut tries = 0u64;
        loop {
            let q = if want {
                &mut self.matching
            } else {
                &mut self.other
            };
            if let Some(p) = q.pop_front() {
                return Ok(p);
            }
            if tries >= self.max_tries {
                return Err(GenConfigError::MatchTooRare {
                    matching: want,
                    tried: tries,
                });
            }
            let Some(p) = self.base.next() else {
                return Err(GenConfigError::MatchTooRare {
                    matching: want,
                    tried: tries,
                });
            };
            tries += 1;
            let m = self.sel.matcher.matches(&self.meta(&p), &p.frame);
            let q = if m {
                &mut self.matching
            } else {
                &mut self.other
            };
            if q.len() < KEEP {
                q.push_back(p);
            }
        }
    }
}

impl Iterator for Selected<'_> {
    type Item = Result<GenPacket, GenConfigError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.emitted >= self.total {
            return None;
        }
        let want = self.want_match();
        match self.take(want) {
            Ok(mut p) => {
                self.emitted += 1;
                self.emitted_matching += u64::from(want);
                p.ts_nanos = p.ts_nanos.max(self.last_ts.saturating_add(1));
                self.last_ts = p.ts_nanos;
                Some(Ok(p))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::presets;
    use ferrocap_dataplane::expr::{compile, InterfaceKind};

    fn dir() -> Directory {
        Directory::builder()
            .interface("Internet", InterfaceKind::Ethernet)
            .route("0.0.0.0/0", "Internet")
            .route("::/0", "Internet")
            .build()
            .unwrap()
    }

    #[test]
    fn the_share_of_matching_packets_is_exact_and_output_is_deterministic() {
        let dir = dir();
        let expr = r#"if = "Internet" & (port = 137-139 | port = 445)"#;
        let m = compile(expr, &dir).unwrap().matcher;
        let meta = PacketMeta {
            iif: dir.interface_index("Internet"),
            ..PacketMeta::default()
        };
        for (fraction, want) in [(0.0, 0), (0.01, 20), (0.25, 500), (1.0, 2000)] {
            let cfg = presets::small64(5, 2000);
            let run = || -> Vec<GenPacket> {
                let sel = MatchSelection {
                    matcher: &m,
                    directory: &dir,
                    default_interface: Some("Internet"),
                    fraction,
                };
                select(&cfg, sel).unwrap().map(Result::unwrap).collect()
            };
            let pkts = run();
            assert_eq!(pkts.len(), 2000);
            let n = pkts.iter().filter(|p| m.matches(&meta, &p.frame)).count();
            assert_eq!(n, want, "fraction {fraction}");
            assert!(pkts.windows(2).all(|w| w[0].ts_nanos < w[1].ts_nanos));
            assert_eq!(pkts, run(), "fraction {fraction}");
        }
    }

    #[test]
    fn bad_fractions_and_impossible_matches_are_errors() {
        let dir = dir();
        let m = compile("daddr = 203.0.113.99", &dir).unwrap().matcher;
        let cfg = presets::small64(1, 10);
        let sel = |fraction| MatchSelection {
            matcher: &m,
            directory: &dir,
            default_interface: None,
            fraction,
        };
        for f in [-0.1, 1.5, f64::NAN] {
            assert!(matches!(
                select(&cfg, sel(f)),
                Err(GenConfigError::BadFraction { .. })
            ));
        }
        let mut it = select(&cfg, sel(0.5)).unwrap();
        it.max_tries = 500;
        // The first packet already should match (0.5 rounds up).
        assert_eq!(
            it.next().unwrap(),
            Err(GenConfigError::MatchTooRare {
                matching: true,
                tried: 500
            })
        );
        assert!(it.next().is_none(), "stops after the error");
    }
}
