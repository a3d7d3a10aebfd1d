//! The HTML report: one file, inline CSS and SVG, no external resources.

use std::fmt::Write as _;

use super::report::{utc, Minute, Report};

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn table(out: &mut String, title: &str, head: &[&str], rows: &[Vec<String>]) {
    let _ = write!(out, "<h2>{}</h2>\n<table>\n<tr>", esc(title));
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    if rows.is_empty() {
        let _ = writeln!(out, "<tr><td colspan=\"{}\">none</td></tr>", head.len());
    }
    for r in rows {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let class = if i == 0 { "" } else { " class=\"n\"" };
            let _ = write!(out, "<td{}>{}</td>", class, esc(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// At most this many points in the chart; longer timelines are bucketed.
const MAX_POINTS: usize = 720;

fn chart(out: &mut String, timeline: &[Minute]) {
    out.push_str("<h2>Packets per minute</h2>\n");
    if timeline.is_empty() {
        out.push_str("<p>No packets.</p>\n");
        return;
    }
    let (first, last) = match (timeline.first(), timeline.last()) {
        (Some(f), Some(l)) => (f.minute, l.minute),
        _ => return,
    };
    let minutes = (last - first) / 60 + 1;
    let per = minutes.div_ceil(MAX_POINTS as u64).max(1);
    let points = usize::try_from(minutes.div_ceil(per))
        .unwrap_or(MAX_POINTS)
        .clamp(1, MAX_POINTS);
    let mut buckets = vec![0u64; points];
    for m in timeline {
        let i = usize::try_from((m.minute - first) / 60 / per).unwrap_or(0);
        if let Some(b) = buckets.get_mut(i.min(points - 1)) {
            *b = b.saturating_add(m.packets);
        }
    }
    let max = buckets.iter().copied().max().unwrap_or(1).max(1);
    let (w, h, left, bottom, top) = (900.0f64, 260.0f64, 60.0f64, 30.0f64, 10.0f64);
    let plot_w = w - left - 10.0;
    let plot_h = h - bottom - top;
    let bar_w = plot_w / points as f64;
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"packets per minute\">"
    );
    let _ = writeln!(
        out,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"#f7f7f7\" stroke=\"#ccc\"/>"
    );
    for (i, &v) in buckets.iter().enumerate() {
        if v == 0 {
            continue;
        }
        let bh = plot_h * v as f64 / max as f64;
        let x = left + i as f64 * bar_w;
        let y = top + plot_h - bh;
        let t = first + i as u64 * per * 60;
        let _ = writeln!(
            out,
            "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{bh:.2}\" fill=\"#3b6ea5\"><title>{} UTC: {} packets</title></rect>",
            (bar_w * 0.9).max(0.5),
            esc(&utc(t)),
            v
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{max}</text>",
        left - 4.0,
        top + 10.0
    );
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">0</text>",
        left - 4.0,
        top + plot_h
    );
    let _ = writeln!(
        out,
        "<text x=\"{left}\" y=\"{}\" font-size=\"11\">{}</text>",
        h - 8.0,
        esc(&utc(first))
    );
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
        w - 10.0,
        h - 8.0,
        esc(&utc(last))
    );
    out.push_str("</svg>\n");
    if per > 1 {
        let _ = writeln!(out, "<p class=\"note\">Each bar is {per} minutes.</p>");
    }
}

pub(super) fn render(r: &Report) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>ferrocap statistics</title>\n<style>\n\
         body{font-family:sans-serif;margin:2em;color:#222}\
         table{border-collapse:collapse;margin-bottom:1em}\
         th,td{border:1px solid #ccc;padding:2px 8px}\
         th{background:#eee;text-align:left}\
         td.n{text-align:right;font-variant-numeric:tabular-nums}\
         .note{color:#666;font-size:90%}\n</style>\n</head>\n<body>\n<h1>ferrocap statistics</h1>\n",
    );
    let t = &r.totals;
    let _ = writeln!(out, "<p>Files: {}</p>", esc(&r.files.join(", ")));
    if let (Some(a), Some(b)) = (r.first_ts, r.last_ts) {
        let _ = writeln!(
            out,
            "<p>Period: {} – {} UTC</p>",
            esc(&utc(a)),
            esc(&utc(b))
        );
    }
    table(
        &mut out,
        "Totals",
        &["", "count"],
        &[
            vec!["records".into(), t.records.to_string()],
            vec!["packets".into(), t.packets.to_string()],
            vec!["bytes".into(), t.bytes.to_string()],
            vec!["other records".into(), t.other_records.to_string()],
            vec!["malformed".into(), t.malformed.to_string()],
            vec!["torn".into(), t.torn.to_string()],
            vec!["orphans".into(), t.orphans.to_string()],
            vec!["lines".into(), t.lines.to_string()],
        ],
    );
    chart(&mut out, &r.timeline);
    for t in r.tables(false) {
        table(&mut out, t.title, &t.head, &t.rows);
    }
    out.push_str("</body>\n</html>\n");
    out
}
