//! The terminal table, `report.md` and its SVG charts (drawn here: grouped
//! bar charts with axes, value labels and a legend).

use std::fmt::Write as _;
use std::path::Path;

use super::{Results, Row, ScenarioResult, Status};

fn num(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.3}"),
    }
}

fn verdict(r: &ScenarioResult) -> &'static str {
    match (r.status, r.target_met) {
        (Status::Skipped, _) => "skipped",
        (Status::Failed, _) => "FAILED",
        (_, Some(true)) => "target met",
        (_, Some(false)) => "TARGET MISSED",
        (_, None) => "measured",
    }
}

/// One line per finished scenario, for the terminal.
pub(crate) fn one_line(r: &ScenarioResult) -> String {
    let mut s = format!("{:<9} {:<13}", r.name, verdict(r));
    if let Some(x) = r.ratio {
        let _ = write!(s, " ratio {x:.3}");
    }
    if let Some(t) = &r.target {
        let _ = write!(s, " (target {t})");
    }
    if let Some(why) = &r.reason {
        let _ = write!(s, ": {why}");
    }
    let _ = write!(s, " [{:.1} s]", r.seconds);
    s
}

/// The readable table of every row.
pub(crate) fn table(res: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<9} {:<34} {:>11} {:>11} {:>8} {:<13} target",
        "scenario", "case", "ferrocap", "peer", "ratio", "unit"
    );
    for r in &res.scenarios {
        if r.rows.is_empty() {
            let _ = writeln!(
                s,
                "{:<9} {:<34} {}",
                r.name,
                verdict(r),
                r.reason.as_deref().unwrap_or("")
            );
            continue;
        }
        for row in &r.rows {
            let t = match row.target_met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "",
            };
            let _ = writeln!(
                s,
                "{:<9} {:<34} {:>11} {:>11} {:>8} {:<13} {t}",
                r.name,
                row.label,
                num(row.ferrocap),
                num(row.peer),
                num(row.ratio),
                row.unit
            );
        }
        if r.status != Status::Ok {
            let _ = writeln!(
                s,
                "{:<9} {} {}",
                r.name,
                verdict(r),
                r.reason.as_deref().unwrap_or("")
            );
        }
    }
    s
}

/// An axis tick: at most 3 decimals, no trailing zeros.
fn tick(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_owned()
    }
}

/// A grouped bar chart: one group per category, one bar per series.
pub(crate) struct Chart<'a> {
    pub title: &'a str,
    pub y_label: &'a str,
    pub categories: Vec<String>,
    /// (series name, one value per category).
    pub series: Vec<(String, Vec<Option<f64>>)>,
    /// Log-scale y axis (values must be > 0).
    pub log: bool,
}

const COLORS: [&str; 4] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Chart<'_> {
    /// The SVG text.
    pub(crate) fn svg(&self) -> String {
        let (w, h) = (720.0, 360.0);
        let (left, right, top, bottom) = (70.0, 20.0, 40.0, 70.0);
        let pw = w - left - right;
        let ph = h - top - bottom;
        let vals: Vec<f64> = self
            .series
            .iter()
            .flat_map(|(_, v)| v.iter().flatten().copied())
            .filter(|v| v.is_finite() && (!self.log || *v > 0.0))
            .collect();
        let max = vals.iter().copied().fold(0.0, f64::max);
        let min_pos = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let (lo, hi) = if self.log {
            let lo = if min_pos.is_finite() {
                min_pos.log10().floor()
            } else {
                0.0
            };
            (lo, (max.log10().ceil()).max(lo + 1.0))
        } else {
            (0.0, nice_max(max))
        };
        let y = |v: f64| -> f64 {
            let f = if self.log {
                (v.max(1e-12).log10() - lo) / (hi - lo)
            } else {
                v / hi
            };
            top + ph - f.clamp(0.0, 1.0) * ph
        };
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="{w}" height="{h}" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>
"#,
            w / 2.0,
            esc(self.title)
        );
        // Grid and y ticks.
        let ticks: Vec<f64> = if self.log {
            let mut t = Vec::new();
            let mut e = lo;
            while e <= hi + 1e-9 {
                t.push(10f64.powf(e));
                e += 1.0;
            }
            t
        } else {
            (0..=5).map(|i| hi * f64::from(i) / 5.0).collect()
        };
        for t in ticks {
            let yy = y(t);
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{yy:.1}" x2="{}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                left + pw,
                left - 6.0,
                yy + 4.0,
                tick(t)
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">{}</text>"#,
            top + ph / 2.0,
            top + ph / 2.0,
            esc(self.y_label)
        );
        let n = self.categories.len().max(1) as f64;
        let group = pw / n;
        let k = self.series.len().max(1) as f64;
        let bar = (group * 0.8 / k).min(60.0);
        for (ci, cat) in self.categories.iter().enumerate() {
            let gx = left + group * ci as f64 + (group - bar * k) / 2.0;
            for (si, (_, v)) in self.series.iter().enumerate() {
                let Some(val) = v.get(ci).copied().flatten() else {
                    continue;
                };
                let x = gx + bar * si as f64;
                let yy = y(val);
                let _ = writeln!(
                    s,
                    r#"<rect x="{x:.1}" y="{yy:.1}" width="{:.1}" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
                    bar - 2.0,
                    (top + ph - yy).max(0.0),
                    COLORS[si % COLORS.len()],
                    x + bar / 2.0 - 1.0,
                    yy - 3.0,
                    num(Some(val))
                );
            }
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                left + group * (ci as f64 + 0.5),
                top + ph + 18.0,
                esc(cat)
            );
        }
        let _ = writeln!(
            s,
            r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{:.1}" stroke="black"/><line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/>"#,
            top + ph,
            top + ph,
            left + pw,
            top + ph
        );
        for (si, (name, _)) in self.series.iter().enumerate() {
            let x = left + 160.0 * si as f64;
            let yy = h - 22.0;
            let _ = writeln!(
                s,
                r#"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{yy:.1}">{}</text>"#,
                yy - 10.0,
                COLORS[si % COLORS.len()],
                x + 16.0,
                esc(name)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

/// A round number at or above `v` for the top of a linear axis.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

fn find<'a>(res: &'a Results, name: &str) -> Option<&'a ScenarioResult> {
    res.scenarios
        .iter()
        .find(|r| r.name == name && !r.rows.is_empty())
}

fn share(v: Option<f64>) -> String {
    v.map_or("?".into(), |c| format!("{:.0}% of a CPU", c * 100.0))
}

fn extra_str(row: &Row, k: &str) -> Option<String> {
    row.extra.get(k).and_then(|v| v.as_str()).map(str::to_owned)
}

fn extra_f64(row: &Row, k: &str) -> Option<f64> {
    row.extra.get(k).and_then(serde_json::Value::as_f64)
}

/// The charts the results allow: (file name, alt text, chart).
fn charts(res: &Results) -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    if let Some(d) = find(res, "dpdk") {
        // Rate against frame size at the lowest match rate measured per size.
        let mut sizes: Vec<String> = Vec::new();
        for r in &d.rows {
            if let Some(s) = extra_str(r, "size") {
                if !sizes.contains(&s) {
                    sizes.push(s);
                }
            }
        }
        let pick = |size: &str| -> Option<&Row> {
            d.rows
                .iter()
                .filter(|r| extra_str(r, "size").as_deref() == Some(size))
                .min_by(|a, b| {
                    extra_f64(a, "match_rate")
                        .unwrap_or(1.0)
                        .total_cmp(&extra_f64(b, "match_rate").unwrap_or(1.0))
                })
        };
        let c = Chart {
            title: "DPDK receive rate against frame size (lowest match rate measured)",
            y_label: "Mpps",
            categories: sizes.clone(),
            series: vec![
                (
                    "ferrocap (1 worker)".into(),
                    sizes
                        .iter()
                        .map(|s| pick(s).and_then(|r| r.ferrocap))
                        .collect(),
                ),
                (
                    "dpdk-testpmd rxonly".into(),
                    sizes.iter().map(|s| pick(s).and_then(|r| r.peer)).collect(),
                ),
            ],
            log: false,
        };
        out.push(("rate-vs-size.svg", "rate against frame size", c.svg()));
        // Rate against match rate: one series per size.
        let mut rates: Vec<f64> = d
            .rows
            .iter()
            .filter_map(|r| extra_f64(r, "match_rate"))
            .collect();
        rates.sort_by(f64::total_cmp);
        rates.dedup();
        let mut series = Vec::new();
        for s in &sizes {
            let v: Vec<Option<f64>> = rates
                .iter()
                .map(|rate| {
                    d.rows
                        .iter()
                        .find(|r| {
                            extra_str(r, "size").as_deref() == Some(s)
                                && extra_f64(r, "match_rate") == Some(*rate)
                        })
                        .and_then(|r| r.ferrocap)
                })
                .collect();
            if v.iter().filter(|x| x.is_some()).count() > 1 {
                series.push((format!("ferrocap {s}"), v));
                let peer: Vec<Option<f64>> = rates
                    .iter()
                    .map(|rate| {
                        d.rows
                            .iter()
                            .find(|r| {
                                extra_str(r, "size").as_deref() == Some(s)
                                    && extra_f64(r, "match_rate") == Some(*rate)
                            })
                            .and_then(|r| r.peer)
                    })
                    .collect();
                series.push((format!("testpmd {s}"), peer));
            }
        }
        if !series.is_empty() {
            let c = Chart {
                title: "ferrocap receive rate against match rate (matches dumped to pcap)",
                y_label: "Mpps",
                categories: rates.iter().map(|r| format!("{}%", r * 100.0)).collect(),
                series,
                log: false,
            };
            out.push(("rate-vs-match.svg", "rate against match rate", c.svg()));
        }
    }
    if let Some(l) = find(res, "latency") {
        let mut cats: Vec<String> = Vec::new();
        let mut groups: Vec<String> = Vec::new();
        for r in &l.rows {
            let p = extra_str(r, "percentile").unwrap_or_default();
            let g = r.label.trim_end_matches(&p).trim().to_owned();
            if !cats.contains(&p) {
                cats.push(p);
            }
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        let series = groups
            .iter()
            .map(|g| {
                (
                    g.clone(),
                    cats.iter()
                        .map(|p| {
                            l.rows
                                .iter()
                                .find(|r| r.label == format!("{g} {p}"))
                                .and_then(|r| r.ferrocap)
                        })
                        .collect(),
                )
            })
            .collect();
        let c = Chart {
            title: "Receive-to-write latency percentiles (log scale)",
            y_label: "µs",
            categories: cats,
            series,
            log: true,
        };
        out.push(("latency.svg", "latency percentiles", c.svg()));
    }
    out
}

/// Writes `report.md` and the charts into `dir`.
pub(crate) fn write(dir: &Path, res: &Results) -> std::io::Result<()> {
    let mut s = String::new();
    let e = &res.environment;
    let _ = writeln!(s, "# ferrocap benchmark report\n");
    let _ = writeln!(
        s,
        "- date: {}\n- command: `{}`{}\n- machine: {} × {} CPUs, {} MiB, kernel {}, load average {} at start\n- DPDK {}, libpcap {}, {}\n- ferrocap: {}\n- commit: {}\n",
        e.date.as_deref().unwrap_or("?"),
        res.command,
        if res.quick { " (quick: short runs, noisy figures, no profiles)" } else { "" },
        e.cpu_model.as_deref().unwrap_or("?"),
        e.cores,
        e.memory_mib.map_or("?".into(), |m| m.to_string()),
        e.kernel.as_deref().unwrap_or("?"),
        e.load_average.as_deref().unwrap_or("?"),
        e.dpdk_version.as_deref().unwrap_or("?"),
        e.libpcap_version.as_deref().unwrap_or("?"),
        e.tcpdump_version.as_deref().unwrap_or("tcpdump ?"),
        e.ferrocap.as_deref().unwrap_or("not found"),
        e.git_commit.as_deref().unwrap_or("?"),
    );
    let _ = writeln!(
        s,
        "## Summary\n\n| scenario | result | ratio | target |\n|---|---|---|---|"
    );
    for r in &res.scenarios {
        let _ = writeln!(
            s,
            "| {} | {}{} | {} | {} |",
            r.name,
            verdict(r),
            r.reason
                .as_deref()
                .map_or(String::new(), |x| format!(": {}", x.replace('|', "\\|"))),
            num(r.ratio),
            r.target.as_deref().unwrap_or("–")
        );
    }
    let missed: Vec<&ScenarioResult> = res
        .scenarios
        .iter()
        .filter(|r| r.target_met == Some(false))
        .collect();
    if !missed.is_empty() {
        let _ = writeln!(s, "\n**Targets missed:**");
        for r in missed {
            let _ = writeln!(
                s,
                "- **{}**: {} against a target of {}. See its section for where the time goes.",
                r.name,
                num(r.ratio),
                r.target.as_deref().unwrap_or("?")
            );
        }
    }
    let charts = charts(res);
    if !charts.is_empty() {
        let _ = writeln!(s, "\n## Charts\n");
        for (file, alt, svg) in &charts {
            std::fs::write(dir.join(file), svg)?;
            let _ = writeln!(s, "![{alt}]({file})\n");
        }
    }
    for r in &res.scenarios {
        let _ = writeln!(s, "\n## {}\n\n{}\n", r.name, r.description);
        let _ = writeln!(
            s,
            "Result: **{}**{}{}\n",
            verdict(r),
            r.reason
                .as_deref()
                .map_or(String::new(), |x| format!(": {x}")),
            r.target
                .as_deref()
                .map_or(String::new(), |t| format!(" (target: {t})"))
        );
        if !r.rows.is_empty() {
            let _ = writeln!(
                s,
                "| case | ferrocap | peer | unit | ratio | target |\n|---|---|---|---|---|---|"
            );
            for row in &r.rows {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} |",
                    row.label,
                    num(row.ferrocap),
                    num(row.peer),
                    row.unit,
                    num(row.ratio),
                    match row.target_met {
                        Some(true) => "met",
                        Some(false) => "**missed**",
                        None => "",
                    }
                );
            }
            s.push('\n');
            for row in &r.rows {
                if let Some(x) = extra_f64(row, "ratio_per_cpu_s") {
                    let _ = writeln!(
                        s,
                        "- {} per CPU-second: ferrocap {} Mpps, testpmd {} Mpps, ratio {} \
                         (CPU used: ferrocap's worker {}, testpmd {})",
                        row.label,
                        num(extra_f64(row, "ferrocap_mpps_per_worker_cpu_s")),
                        num(extra_f64(row, "testpmd_mpps_per_cpu_s")),
                        num(Some(x)),
                        share(extra_f64(row, "ferrocap_worker_cpu_share")),
                        share(extra_f64(row, "testpmd_cpu_share"))
                    );
                }
            }
        }
        for row in &r.rows {
            if let Some(m) = row
                .extra
                .get("ferrocap_thread_cpu_s")
                .and_then(|v| v.as_object())
            {
                let mut v: Vec<(&String, f64)> = m
                    .iter()
                    .filter_map(|(k, v)| Some((k, v.as_f64()?)))
                    .collect();
                v.sort_by(|a, b| b.1.total_cmp(&a.1));
                let list: Vec<String> = v
                    .iter()
                    .filter(|(_, c)| *c >= 0.01)
                    .map(|(k, c)| format!("{k} {c:.2}"))
                    .collect();
                let _ = writeln!(
                    s,
                    "- {} ferrocap CPU seconds by thread (whole run, start-up included): {}",
                    row.label,
                    list.join(", ")
                );
            }
        }
        for n in &r.notes {
            let _ = writeln!(s, "- {n}");
        }
        if let Some(p) = &r.profile {
            let _ = writeln!(
                s,
                "\nWhere the time goes (`perf record -F 999`, `perf report --no-children`, top symbols):\n\n```\n{p}\n```"
            );
        } else if r.target_met == Some(false) {
            let _ =
                writeln!(
                s,
                "\nNo profile in this run ({}); run without --quick on a machine where perf works.",
                if res.quick { "--quick" } else { "perf unavailable or --no-profile" }
            );
        }
    }
    std::fs::write(dir.join("report.md"), s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_max_rounds_up_to_1_2_2p5_5() {
        for (v, want) in [
            (0.7, 1.0),
            (1.3, 2.0),
            (2.2, 2.5),
            (3.1, 5.0),
            (7.0, 10.0),
            (0.0, 1.0),
        ] {
            assert_eq!(nice_max(v), want, "{v}");
        }
    }

    #[test]
    fn ticks_drop_trailing_zeros() {
        for (v, want) in [
            (0.0, "0"),
            (4.0, "4"),
            (2.5, "2.5"),
            (0.125, "0.125"),
            (1000.0, "1000"),
        ] {
            assert_eq!(tick(v), want);
        }
    }

    #[test]
    fn chart_draws_one_bar_per_value_and_escapes_text() {
        let c = Chart {
            title: "a < b",
            y_label: "Mpps",
            categories: vec!["64B".into(), "IMIX".into()],
            series: vec![
                ("x".into(), vec![Some(1.0), Some(2.0)]),
                ("y".into(), vec![None, Some(3.0)]),
            ],
            log: false,
        };
        let svg = c.svg();
        // The background and three bars plus two legend squares.
        assert_eq!(svg.matches("<rect").count(), 1 + 3 + 2, "{svg}");
        assert!(svg.contains("a &lt; b"));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
