//! The terminal table, `report.md` and its SVG charts (drawn here: grouped
//! bar charts with axes, value labels and a legend, and the latency
//! histogram on a log-scaled latency axis).

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
        let mut s = svg_open(w, h, self.title);
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
        svg_axes(&mut s, left, top, pw, ph);
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

/// A latency histogram: packets per latency bucket on a log-scaled latency
/// axis (each bar spans its bucket's bounds), log-scaled counts, and the
/// percentiles of each series as dashed markers.
pub(crate) struct LatencyHistogram<'a> {
    pub title: &'a str,
    /// Bucket bounds in ns, increasing and > 0: bucket `i` holds the values
    /// in `(bounds[i], bounds[i + 1]]`.
    pub bounds: Vec<f64>,
    /// (series name, packets per bucket, percentile markers as (name, ns)).
    pub series: Vec<HistogramSeries>,
}

/// One distribution of a [`LatencyHistogram`].
pub(crate) struct HistogramSeries {
    pub name: String,
    /// Packets per bucket, one per bucket of [`LatencyHistogram::bounds`].
    pub counts: Vec<u64>,
    /// Percentile markers: (name, ns).
    pub marks: Vec<(String, f64)>,
}

/// A latency in ns as an axis label: `100 ns`, `1 µs`, `10 ms`, `1 s`.
fn ns_label(ns: f64) -> String {
    let (v, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    format!("{} {unit}", tick(v))
}

/// Per-bucket counts from the summary's cumulative `[le_ns, count <= le]`
/// pairs and the total: the bounds start one decade below the first `le`
/// (the first bucket holds everything up to it), and values beyond the
/// last `le` get a bucket of one more decade when there are any. `None`
/// when the pairs are not increasing bounds with non-decreasing counts.
pub(crate) fn histogram_buckets(
    cumulative: &[[u64; 2]],
    total: u64,
) -> Option<(Vec<f64>, Vec<u64>)> {
    let first = cumulative.first()?;
    if first[0] == 0 {
        return None;
    }
    let mut bounds = vec![first[0] as f64 / 10.0];
    let mut counts = Vec::with_capacity(cumulative.len() + 1);
    let (mut le, mut below) = (0u64, 0u64);
    for &[bound, cum] in cumulative {
        if bound <= le || cum < below {
            return None;
        }
        bounds.push(bound as f64);
        counts.push(cum - below);
        (le, below) = (bound, cum);
    }
    if total > below {
        bounds.push(le as f64 * 10.0);
        counts.push(total - below);
    }
    Some((bounds, counts))
}

impl LatencyHistogram<'_> {
    /// The SVG text. Bars carry `class="bar"` and `data-count`.
    pub(crate) fn svg(&self) -> String {
        let legend = 16.0 * self.series.len() as f64;
        let (w, h) = (720.0, 360.0 + legend);
        let (left, right, top, bottom) = (70.0, 20.0, 40.0, 70.0 + legend);
        let pw = w - left - right;
        let ph = h - top - bottom;
        let lx0 = self.bounds.first().map_or(0.0, |b| b.max(1e-3).log10());
        let lx1 = self
            .bounds
            .last()
            .map_or(1.0, |b| b.max(1e-3).log10())
            .max(lx0 + 1.0);
        let x = |ns: f64| left + ((ns.max(1e-3).log10() - lx0) / (lx1 - lx0)).clamp(0.0, 1.0) * pw;
        let max = self
            .series
            .iter()
            .flat_map(|s| s.counts.iter().copied())
            .max()
            .unwrap_or(0);
        // Counts from 1 up; the bottom of the axis is 0.5 so that a bucket
        // of one packet still shows.
        let ly0 = 0.5f64.log10();
        let ly1 = (max.max(1) as f64).log10().ceil().max(1.0);
        let y = |c: f64| top + ph - ((c.max(0.5).log10() - ly0) / (ly1 - ly0)).clamp(0.0, 1.0) * ph;
        let mut s = svg_open(w, h, self.title);
        let mut e = 0.0;
        while e <= ly1 + 1e-9 {
            let yy = y(10f64.powf(e));
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{yy:.1}" x2="{}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                left + pw,
                left - 6.0,
                yy + 4.0,
                count_label(10f64.powf(e))
            );
            e += 1.0;
        }
        let mut e = lx0.ceil();
        while e <= lx1 + 1e-9 {
            let xx = x(10f64.powf(e));
            let _ = writeln!(
                s,
                r##"<line x1="{xx:.1}" y1="{top}" x2="{xx:.1}" y2="{:.1}" stroke="#eee"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                top + ph,
                top + ph + 16.0,
                esc(&ns_label(10f64.powf(e)))
            );
            e += 1.0;
        }
        let _ = writeln!(
            s,
            r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">packets (log scale)</text><text x="{:.1}" y="{:.1}" text-anchor="middle">receive-to-write latency (log scale; each bar spans its bucket)</text>"#,
            top + ph / 2.0,
            top + ph / 2.0,
            left + pw / 2.0,
            top + ph + 36.0
        );
        let k = self.series.len().max(1) as f64;
        for (i, pair) in self.bounds.windows(2).enumerate() {
            let (x0, x1) = (x(pair[0]), x(pair[1]));
            let bar = ((x1 - x0) * 0.9 / k).max(1.0);
            for (si, series) in self.series.iter().enumerate() {
                let Some(&count) = series.counts.get(i).filter(|c| **c > 0) else {
                    continue;
                };
                let bx = x0 + (x1 - x0) * 0.05 + bar * si as f64;
                let yy = y(count as f64);
                let _ = writeln!(
                    s,
                    r#"<rect class="bar" data-count="{count}" x="{bx:.1}" y="{yy:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{count} packets</title></rect>"#,
                    (bar - 1.0).max(0.5),
                    (top + ph - yy).max(0.0),
                    COLORS[si % COLORS.len()],
                );
            }
        }
        // Percentile markers: dashed lines; their values are in the legend.
        for (si, series) in self.series.iter().enumerate() {
            for (name, ns) in &series.marks {
                let xx = x(*ns);
                let _ = writeln!(
                    s,
                    r#"<line x1="{xx:.1}" y1="{top}" x2="{xx:.1}" y2="{:.1}" stroke="{}" stroke-dasharray="4 3"><title>{} {}</title></line>"#,
                    top + ph,
                    COLORS[si % COLORS.len()],
                    esc(name),
                    esc(&ns_label(*ns))
                );
            }
        }
        svg_axes(&mut s, left, top, pw, ph);
        // One legend line per series: its name and its percentiles (the
        // dashed lines).
        for (si, series) in self.series.iter().enumerate() {
            let yy = top + ph + 58.0 + 16.0 * si as f64;
            let marks: Vec<String> = series
                .marks
                .iter()
                .map(|(name, ns)| format!("{name} {}", ns_label(*ns)))
                .collect();
            let text = if marks.is_empty() {
                series.name.clone()
            } else {
                format!("{}: {}", series.name, marks.join(", "))
            };
            let _ = writeln!(
                s,
                r#"<rect x="{left:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{yy:.1}">{}</text>"#,
                yy - 10.0,
                COLORS[si % COLORS.len()],
                left + 16.0,
                esc(&text)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

/// The start of a `w` × `h` chart: the `<svg>` element, a white
/// background and the title.
fn svg_open(w: f64, h: f64, title: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="{w}" height="{h}" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>
"#,
        w / 2.0,
        esc(title)
    );
    s
}

/// The y axis and the x axis of a plot area `pw` × `ph` whose top left
/// corner is (`left`, `top`).
fn svg_axes(s: &mut String, left: f64, top: f64, pw: f64, ph: f64) {
    let bottom = top + ph;
    let _ = writeln!(
        s,
        r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom:.1}" stroke="black"/><line x1="{left}" y1="{bottom:.1}" x2="{:.1}" y2="{bottom:.1}" stroke="black"/>"#,
        left + pw
    );
}

/// A power of ten as an axis label: 1, 10, 100, 1k … 100M, 1G.
fn count_label(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{}G", tick(v / 1e9)),
        v if v >= 1e6 => format!("{}M", tick(v / 1e6)),
        v if v >= 1e3 => format!("{}k", tick(v / 1e3)),
        v => tick(v),
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
        if let Some(hist) = latency_histogram(l) {
            out.push((LATENCY_HISTOGRAM, "latency histogram", hist.svg()));
        }
    }
    out
}

/// The file name of the latency histogram chart.
const LATENCY_HISTOGRAM: &str = "latency-histogram.svg";

/// The histogram of every output of the latency scenario whose row carries
/// `latency_buckets_ns`, on the bounds of the one that reaches furthest
/// (the others must be a prefix of them, or they are left out); `None`
/// when there is none.
fn latency_histogram(l: &ScenarioResult) -> Option<LatencyHistogram<'static>> {
    let mut found: Vec<(Vec<f64>, HistogramSeries)> = Vec::new();
    for row in &l.rows {
        let Some(cum) = row
            .extra
            .get("latency_buckets_ns")
            .and_then(|v| serde_json::from_value::<Vec<[u64; 2]>>(v.clone()).ok())
        else {
            continue;
        };
        let total = row
            .extra
            .get("latency_count")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or_else(|| cum.last().map_or(0, |c| c[1]));
        let Some((bounds, counts)) = histogram_buckets(&cum, total) else {
            continue;
        };
        let p = extra_str(row, "percentile").unwrap_or_default();
        let group = row.label.trim_end_matches(&p).trim().to_owned();
        let output = extra_str(row, "output");
        let marks = l
            .rows
            .iter()
            .filter(|r| {
                let rp = extra_str(r, "percentile").unwrap_or_default();
                r.label.trim_end_matches(&rp).trim() == group && extra_str(r, "output") == output
            })
            .filter_map(|r| Some((extra_str(r, "percentile")?, r.ferrocap? * 1000.0)))
            .collect();
        // The output's name, when it is not the scenario's only one (the
        // summary gives it as a JSON path ending in the name).
        let outputs = l
            .rows
            .iter()
            .filter_map(|r| extra_str(r, "output"))
            .collect::<std::collections::BTreeSet<_>>();
        let name = match output.as_deref() {
            Some(o) if outputs.len() > 1 => {
                format!("{group} ({})", o.rsplit('/').next().unwrap_or(o))
            }
            _ => group,
        };
        found.push((
            bounds,
            HistogramSeries {
                name,
                counts,
                marks,
            },
        ));
    }
    let bounds = found.iter().map(|f| &f.0).max_by_key(|b| b.len())?.clone();
    let series = found
        .into_iter()
        .filter(|(b, _)| bounds.starts_with(b))
        .map(|(_, mut s)| {
            s.counts.resize(bounds.len() - 1, 0);
            s
        })
        .collect();
    Some(LatencyHistogram {
        title: "Receive-to-write latency histogram (packets per bucket)",
        bounds,
        series,
    })
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
        if r.name == "latency" && charts.iter().any(|c| c.0 == LATENCY_HISTOGRAM) {
            let _ = writeln!(s, "![latency histogram]({LATENCY_HISTOGRAM})\n");
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
    use serde_json::json;

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

    /// One element of an SVG: its name and attributes.
    type Element = (String, std::collections::BTreeMap<String, String>);

    /// A small XML well-formedness check: every tag closes in order,
    /// attributes are `name="value"`, and text holds no stray `<` or bare
    /// `&`. Returns the elements in document order.
    fn parse_xml(doc: &str) -> Result<Vec<Element>, String> {
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'))
        };
        let text_ok = |t: &str| {
            let mut rest = t;
            while let Some(i) = rest.find('&') {
                let after = &rest[i + 1..];
                let end = after.find(';').ok_or("unterminated entity")?;
                if !matches!(&after[..end], "amp" | "lt" | "gt" | "quot" | "apos") {
                    return Err(format!("unknown entity &{};", &after[..end]));
                }
                rest = &after[end + 1..];
            }
            Ok::<(), String>(())
        };
        let mut out = Vec::new();
        let mut open: Vec<String> = Vec::new();
        let mut rest = doc.trim();
        while !rest.is_empty() {
            let lt = rest.find('<').unwrap_or(rest.len());
            text_ok(&rest[..lt])?;
            rest = &rest[lt..];
            if rest.is_empty() {
                break;
            }
            let gt = rest.find('>').ok_or("unterminated tag")?;
            let tag = &rest[1..gt];
            rest = &rest[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match open.pop() {
                    Some(o) if o == name.trim() => continue,
                    o => return Err(format!("</{name}> closes {o:?}")),
                }
            }
            let (tag, closed) = match tag.strip_suffix('/') {
                Some(t) => (t, true),
                None => (tag, false),
            };
            if tag.contains('<') {
                return Err(format!("'<' inside a tag: {tag}"));
            }
            let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
            let name = &tag[..name_end];
            if !name_ok(name) {
                return Err(format!("bad element name {name:?}"));
            }
            let mut attrs = std::collections::BTreeMap::new();
            let mut a = tag[name_end..].trim_start();
            while !a.is_empty() {
                let eq = a.find('=').ok_or(format!("attribute without value: {a}"))?;
                let key = a[..eq].trim();
                if !name_ok(key) || !a[eq + 1..].starts_with('"') {
                    return Err(format!("bad attribute in {tag}"));
                }
                let val_end = a[eq + 2..].find('"').ok_or("unterminated attribute")?;
                let val = &a[eq + 2..eq + 2 + val_end];
                text_ok(val)?;
                if attrs.insert(key.to_owned(), val.to_owned()).is_some() {
                    return Err(format!("attribute {key} twice"));
                }
                a = a[eq + 3 + val_end..].trim_start();
            }
            if out.is_empty() && name != "svg" {
                return Err("the root is not <svg>".into());
            }
            if open.is_empty() && !out.is_empty() {
                return Err(format!("second root element {name}"));
            }
            out.push((name.to_owned(), attrs));
            if !closed {
                open.push(name.to_owned());
            }
        }
        if !open.is_empty() {
            return Err(format!("unclosed {open:?}"));
        }
        Ok(out)
    }

    #[test]
    fn the_xml_check_rejects_broken_documents() {
        for bad in [
            "<svg><rect></svg>",
            "<svg><rect x=1/></svg>",
            "<svg>a & b</svg>",
            "<svg><text>a</svg></text>",
            "<svg/><svg/>",
            "<svg",
        ] {
            assert!(parse_xml(bad).is_err(), "{bad}");
        }
        let ok = parse_xml(r#"<svg a="1"><rect b="x &amp; y"/><text>&lt;</text></svg>"#).unwrap();
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[1].1["b"], "x &amp; y");
    }

    #[test]
    fn cumulative_buckets_become_counts_per_bucket() {
        // (cumulative pairs, total) -> (bounds, counts)
        type Case = (Vec<[u64; 2]>, u64, Option<(Vec<f64>, Vec<u64>)>);
        let cases: Vec<Case> = vec![
            (
                vec![[1_000, 5], [5_000, 25], [10_000, 25], [50_000, 30]],
                30,
                Some((vec![100.0, 1e3, 5e3, 1e4, 5e4], vec![5, 20, 0, 5])),
            ),
            // Values beyond the last bound get one more decade.
            (
                vec![[1_000, 0], [5_000, 4]],
                7,
                Some((vec![100.0, 1e3, 5e3, 5e4], vec![0, 4, 3])),
            ),
            // Counts that fall, bounds that do not rise, a zero bound.
            (vec![[1_000, 5], [5_000, 4]], 5, None),
            (vec![[1_000, 5], [1_000, 6]], 6, None),
            (vec![[0, 5]], 5, None),
            (vec![], 0, None),
        ];
        for (cum, total, want) in cases {
            assert_eq!(histogram_buckets(&cum, total), want, "{cum:?}");
        }
    }

    fn latency_results() -> Results {
        let mut rows = Vec::new();
        for (group, buckets, count) in [
            (
                "64B 100%",
                json!([[1_000, 0], [5_000, 900], [10_000, 990], [50_000, 1000]]),
                1000,
            ),
            (
                "IMIX 100%",
                json!([[1_000, 0], [5_000, 10], [10_000, 400], [50_000, 400]]),
                402,
            ),
        ] {
            for (i, (p, us)) in [("p50", 3.0), ("p99", 9.0), ("p99.9", 40.0), ("max", 45.0)]
                .into_iter()
                .enumerate()
            {
                let mut row = Row {
                    label: format!("{group} {p}"),
                    ferrocap: Some(us),
                    unit: "µs".into(),
                    ..Row::default()
                };
                row.extra.insert("percentile".into(), json!(p));
                row.extra.insert("output".into(), json!("/outputs/dump"));
                if i == 0 {
                    row.extra
                        .insert("latency_buckets_ns".into(), buckets.clone());
                    row.extra.insert("latency_count".into(), json!(count));
                }
                rows.push(row);
            }
        }
        let mut latency = ScenarioResult::new("latency", "receive-to-write latency");
        latency.rows = rows;
        Results {
            quick: true,
            command: "test".into(),
            environment: super::super::env::Environment {
                cpu_model: None,
                cores: 2,
                memory_mib: None,
                kernel: None,
                dpdk_version: None,
                libpcap_version: None,
                tcpdump_version: None,
                git_commit: None,
                date: None,
                ferrocap: None,
                load_average: None,
            },
            scenarios: vec![latency],
        }
    }

    #[test]
    fn the_latency_histogram_is_well_formed_with_one_bar_per_filled_bucket() {
        let res = latency_results();
        let l = find(&res, "latency").unwrap();
        let hist = latency_histogram(l).unwrap();
        assert_eq!(hist.series.len(), 2);
        // The second series has 2 values beyond 50 µs: a bucket more, which
        // the first one gets too, empty.
        assert_eq!(hist.bounds, vec![100.0, 1e3, 5e3, 1e4, 5e4, 5e5]);
        assert_eq!(hist.series[0].counts, vec![0, 900, 90, 10, 0]);
        assert_eq!(hist.series[1].counts, vec![0, 10, 390, 0, 2]);
        let svg = hist.svg();
        let elements = parse_xml(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        let bars: Vec<&Element> = elements
            .iter()
            .filter(|(n, a)| n == "rect" && a.get("class").map(String::as_str) == Some("bar"))
            .collect();
        let counts: Vec<u64> = bars
            .iter()
            .map(|(_, a)| a["data-count"].parse().unwrap())
            .collect();
        assert_eq!(counts, vec![900, 10, 90, 390, 10, 2]);
        let height = |i: usize| bars[i].1["height"].parse::<f64>().unwrap();
        // Log-scaled counts: 900 is taller than 90, which is taller than 10.
        assert!(height(0) > height(2) && height(2) > height(1) && height(1) > 0.0);
        // Percentile markers and the axis labels.
        assert!(svg.contains("p99.9 40 µs"), "{svg}");
        for label in ["1 µs", "10 µs", "100 µs"] {
            assert!(svg.contains(&format!(">{label}<")), "{label}");
        }
    }

    #[test]
    fn the_report_holds_the_histogram_next_to_the_percentiles() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &latency_results()).unwrap();
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        let section = md.split("\n## latency").nth(1).unwrap();
        assert!(section.contains("| 64B 100% p99 |"), "{section}");
        assert!(section.contains("![latency histogram](latency-histogram.svg)"));
        for file in ["latency.svg", "latency-histogram.svg"] {
            let svg = std::fs::read_to_string(dir.path().join(file)).unwrap();
            parse_xml(&svg).unwrap_or_else(|e| panic!("{file}: {e}"));
        }
        // Without buckets (an older summary) there is no histogram, and the
        // percentile chart is still drawn.
        let mut res = latency_results();
        for r in &mut res.scenarios[0].rows {
            r.extra.remove("latency_buckets_ns");
        }
        assert!(latency_histogram(&res.scenarios[0]).is_none());
        assert_eq!(charts(&res).len(), 1);
    }
}
