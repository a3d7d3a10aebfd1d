//! The Prometheus exposition (`GET /metrics`), built at scrape time from
//! `Runtime::snapshot()`, the published port counters and the logger's
//! counters, and encoded with the `prometheus` crate's text encoder.
//!
//! Nothing here runs on the packet path: the workers' counters are plain
//! integers they publish with stores, and a scrape only reads them.
//!
//! Per-output series are keyed by the output's name; an output stopped and
//! started again (a dump) keeps adding to the same counters, since removed
//! outputs' final counters are summed in. Label sets are bounded: ports
//! and outputs are configured or created by the operator, workers are a
//! fixed number, reasons and severities are fixed lists.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use ferrocap_dataplane::log::Severity;
use ferrocap_dataplane::runtime::{OutputSnapshot, Snapshot};
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};
use prometheus::{Encoder, TextEncoder};

use crate::state::{worker_dropped, ControlPlane};

/// Every metric name the exposition holds.
pub const METRIC_NAMES: &[&str] = &[
    "ferrocap_build_info",
    "ferrocap_uptime_seconds",
    "ferrocap_port_rx_packets_total",
    "ferrocap_port_rx_bytes_total",
    "ferrocap_port_rx_missed_packets_total",
    "ferrocap_port_rx_nombuf_total",
    "ferrocap_port_rx_errors_total",
    "ferrocap_port_link_up",
    "ferrocap_worker_rx_packets_total",
    "ferrocap_worker_rx_bytes_total",
    "ferrocap_worker_matched_packets_total",
    "ferrocap_worker_unmatched_packets_total",
    "ferrocap_worker_dropped_packets_total",
    "ferrocap_output_matched_packets_total",
    "ferrocap_output_written_packets_total",
    "ferrocap_output_written_bytes_total",
    "ferrocap_output_dropped_packets_total",
    "ferrocap_output_files_rotated_total",
    "ferrocap_output_write_errors_total",
    "ferrocap_output_failed",
    "ferrocap_output_active",
    "ferrocap_output_file_bytes",
    "ferrocap_ring_occupancy_slots",
    "ferrocap_ring_capacity_slots",
    "ferrocap_log_messages_total",
    "ferrocap_log_records_dropped_total",
    "ferrocap_receive_to_write_latency_seconds",
    "ferrocap_output_set_generation",
];

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Collects metric families.
struct Families(Vec<MetricFamily>);

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(k, v)| {
            let mut l = LabelPair::default();
            l.set_name((*k).to_owned());
            l.set_value((*v).to_owned());
            l
        })
        .collect()
}

impl Families {
    /// Adds a family; one without series is left out (the text format
    /// has no empty families).
    fn family(&mut self, name: &str, help: &str, t: MetricType, metrics: Vec<Metric>) {
        if metrics.is_empty() {
            return;
        }
        let mut f = MetricFamily::default();
        f.set_name(name.to_owned());
        f.set_help(help.to_owned());
        f.set_field_type(t);
        f.set_metric(metrics);
        self.0.push(f);
    }

    fn counter(&mut self, name: &str, help: &str, series: Vec<(Vec<(&str, &str)>, f64)>) {
        let metrics = series
            .into_iter()
            .map(|(l, v)| {
                let mut m = Metric::from_label(labels(&l));
                let mut c = Counter::default();
                c.set_value(v);
                m.set_counter(c);
                m
            })
            .collect();
        self.family(name, help, MetricType::COUNTER, metrics);
    }

    fn gauge(&mut self, name: &str, help: &str, series: Vec<(Vec<(&str, &str)>, f64)>) {
        let metrics = series
            .into_iter()
            .map(|(l, v)| {
                let mut m = Metric::from_label(labels(&l));
                let mut g = Gauge::default();
                g.set_value(v);
                m.set_gauge(g);
                m
            })
            .collect();
        self.family(name, help, MetricType::GAUGE, metrics);
    }
}

/// One output's counters summed over its runs (active and removed).
#[derive(Default)]
struct OutputTotals {
    kind: String,
    matched: u64,
    written: u64,
    bytes: u64,
    queue_full: u64,
    write_error: u64,
    limit: u64,
    rotated: u64,
    write_errors: u64,
    active: bool,
    failed: bool,
    latency_count: u64,
    latency_sum_ns: u64,
    latency_buckets: Vec<[u64; 2]>,
}

impl OutputTotals {
    fn add(&mut self, o: &OutputSnapshot, active: bool) {
        o.kind.clone_into(&mut self.kind);
        self.matched += o.matched;
        self.written += o.written;
        self.bytes += o.bytes;
        self.queue_full += o.dropped_queue_full;
        self.write_error += o.dropped_write_error;
        self.limit += o.dropped_limit;
        self.rotated += o.files_rotated;
        self.write_errors += o.write_errors;
        if active {
            self.active = true;
            self.failed = o.failed;
        }
        self.latency_count += o.latency_ns.count;
        self.latency_sum_ns = self.latency_sum_ns.saturating_add(o.latency_ns.sum);
        if self.latency_buckets.is_empty() {
            self.latency_buckets.clone_from(&o.latency_ns.buckets);
        } else {
            for (mine, theirs) in self.latency_buckets.iter_mut().zip(&o.latency_ns.buckets) {
                mine[1] += theirs[1];
            }
        }
    }
}

/// The Kernun severities under the contract's label values.
fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::X | Severity::A | Severity::C | Severity::E => "error",
        Severity::W => "warning",
        Severity::N | Severity::K => "normal",
        Severity::I => "info",
        Severity::D => "debug",
        Severity::T => "trace",
        Severity::F => "full",
    }
}

/// The exposition text.
pub(crate) fn render(plane: &ControlPlane) -> String {
    let snap = plane.runtime().snapshot();
    let mut f = Families(Vec::new());
    let opts = &plane.shared.opts;
    f.gauge(
        "ferrocap_build_info",
        "ferrocap build: version and DPDK version (always 1).",
        vec![(
            vec![
                ("version", opts.version.as_str()),
                ("dpdk", opts.dpdk_version.as_str()),
            ],
            1.0,
        )],
    );
    f.gauge(
        "ferrocap_uptime_seconds",
        "Seconds since the control plane started.",
        vec![(vec![], plane.uptime_seconds())],
    );
    ports(&mut f, plane);
    workers(&mut f, &snap);
    outputs(&mut f, plane, &snap);
    logging(&mut f, plane);
    f.gauge(
        "ferrocap_output_set_generation",
        "Generation of the active output set (+1 per change).",
        vec![(vec![], snap.generation as f64)],
    );
    let mut buf = Vec::new();
    // The families are well-formed by construction; an encoder error would
    // leave a partial text, which promtool would flag in the tests.
    let _ = TextEncoder::new().encode(&f.0, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

fn ports(f: &mut Families, plane: &ControlPlane) {
    let ports = plane.ports();
    let per = |get: fn(&crate::PortStat) -> f64| {
        ports
            .iter()
            .map(|p| (vec![("port", p.name.as_str())], get(p)))
            .collect::<Vec<_>>()
    };
    f.counter(
        "ferrocap_port_rx_packets_total",
        "Packets the port received (DPDK ipackets).",
        per(|p| p.rx_packets as f64),
    );
    f.counter(
        "ferrocap_port_rx_bytes_total",
        "Bytes the port received (DPDK ibytes).",
        per(|p| p.rx_bytes as f64),
    );
    f.counter(
        "ferrocap_port_rx_missed_packets_total",
        "Packets the NIC dropped because no descriptor was free (DPDK imissed): the workers were too slow.",
        per(|p| p.imissed as f64),
    );
    f.counter(
        "ferrocap_port_rx_nombuf_total",
        "Receive failures because the mempool was empty (DPDK rx_nombuf).",
        per(|p| p.rx_nombuf as f64),
    );
    f.counter(
        "ferrocap_port_rx_errors_total",
        "Erroneous packets received (DPDK ierrors).",
        per(|p| p.rx_errors as f64),
    );
    f.gauge(
        "ferrocap_port_link_up",
        "1 when the port's link is up.",
        per(|p| if p.link_up { 1.0 } else { 0.0 }),
    );
}

fn workers(f: &mut Families, snap: &Snapshot) {
    let ids: Vec<String> = snap.workers.iter().map(|w| w.worker.to_string()).collect();
    let per = |get: &dyn Fn(usize) -> u64| {
        snap.workers
            .iter()
            .zip(&ids)
            .map(|(w, id)| (vec![("worker", id.as_str())], get(w.worker) as f64))
            .collect::<Vec<_>>()
    };
    let w = |i: usize| snap.workers.get(i).cloned().unwrap_or_default();
    f.counter(
        "ferrocap_worker_rx_packets_total",
        "Packets a worker received.",
        per(&|i| w(i).rx),
    );
    f.counter(
        "ferrocap_worker_rx_bytes_total",
        "Bytes a worker received (lengths on the wire).",
        per(&|i| w(i).rx_bytes),
    );
    f.counter(
        "ferrocap_worker_matched_packets_total",
        "Packets that matched at least one output.",
        per(&|i| w(i).matched),
    );
    f.counter(
        "ferrocap_worker_unmatched_packets_total",
        "Packets that matched no output (rx = matched + unmatched).",
        per(&|i| w(i).unmatched),
    );
    let dropped = snap
        .workers
        .iter()
        .zip(&ids)
        .map(|(wk, id)| {
            (
                vec![("worker", id.as_str()), ("reason", "queue_full")],
                worker_dropped(snap, wk.worker) as f64,
            )
        })
        .collect();
    f.counter(
        "ferrocap_worker_dropped_packets_total",
        "Matches a worker dropped, summed over the outputs, by reason (queue_full: the output's ring was full).",
        dropped,
    );
}

fn outputs(f: &mut Families, plane: &ControlPlane, snap: &Snapshot) {
    let mut totals: BTreeMap<String, OutputTotals> = BTreeMap::new();
    for o in &snap.removed {
        totals.entry(o.name.clone()).or_default().add(o, false);
    }
    for o in &snap.outputs {
        totals.entry(o.name.clone()).or_default().add(o, true);
    }
    let series = |get: &dyn Fn(&OutputTotals) -> u64, kind: bool| {
        totals
            .iter()
            .map(|(n, t)| {
                let mut l = vec![("output", n.as_str())];
                if kind {
                    l.push(("kind", t.kind.as_str()));
                }
                (l, get(t) as f64)
            })
            .collect::<Vec<_>>()
    };
    f.counter(
        "ferrocap_output_matched_packets_total",
        "Packets that matched the output's expression.",
        series(&|t| t.matched, true),
    );
    f.counter(
        "ferrocap_output_written_packets_total",
        "Packets written (flushed to the dump file, or handed to the logger).",
        series(&|t| t.written, true),
    );
    f.counter(
        "ferrocap_output_written_bytes_total",
        "Captured bytes of the written packets (without file headers).",
        series(&|t| t.bytes, true),
    );
    let mut dropped = Vec::new();
    for (n, t) in &totals {
        for (reason, v) in [
            ("queue_full", t.queue_full),
            ("write_error", t.write_error),
            ("limit", t.limit),
        ] {
            dropped.push((
                vec![
                    ("output", n.as_str()),
                    ("kind", t.kind.as_str()),
                    ("reason", reason),
                ],
                v as f64,
            ));
        }
    }
    f.counter(
        "ferrocap_output_dropped_packets_total",
        "Matches not written, by reason: queue_full (ring full), write_error (the output failed), limit (packet limit reached). matched = written + dropped + in flight.",
        dropped,
    );
    f.counter(
        "ferrocap_output_files_rotated_total",
        "Dump files closed by rotation.",
        series(&|t| t.rotated, false),
    );
    f.counter(
        "ferrocap_output_write_errors_total",
        "Write errors (the first one stops the output).",
        series(&|t| t.write_errors, false),
    );
    f.gauge(
        "ferrocap_output_failed",
        "1 when the output stopped on a write error.",
        series(&|t| u64::from(t.active && t.failed), false),
    );
    f.gauge(
        "ferrocap_output_active",
        "1 while the output is in the active set.",
        series(&|t| u64::from(t.active), false),
    );
    let file_bytes = plane.dump_file_bytes();
    f.gauge(
        "ferrocap_output_file_bytes",
        "Bytes on disk of a dump, all its rotated files included.",
        file_bytes
            .iter()
            .map(|(n, b)| (vec![("output", n.as_str())], *b as f64))
            .collect(),
    );
    let mut used = Vec::new();
    let mut cap = Vec::new();
    let workers: Vec<String> = (0..snap.workers.len()).map(|w| w.to_string()).collect();
    for o in &snap.outputs {
        for (w, id) in workers.iter().enumerate() {
            let l = vec![("output", o.name.as_str()), ("worker", id.as_str())];
            used.push((l.clone(), o.ring_used.get(w).copied().unwrap_or(0) as f64));
            cap.push((l, o.ring_capacity as f64));
        }
    }
    f.gauge(
        "ferrocap_ring_occupancy_slots",
        "Filled slots in a worker's ring for an active output.",
        used,
    );
    f.gauge(
        "ferrocap_ring_capacity_slots",
        "Slots in a worker's ring for an active output.",
        cap,
    );
    let hist = totals
        .iter()
        .map(|(n, t)| {
            let mut m = Metric::from_label(labels(&[("output", n.as_str())]));
            let mut h = Histogram::default();
            h.set_sample_count(t.latency_count);
            h.set_sample_sum(t.latency_sum_ns as f64 / 1e9);
            h.set_bucket(
                t.latency_buckets
                    .iter()
                    .map(|[le, c]| {
                        let mut b = Bucket::default();
                        b.set_upper_bound(*le as f64 / 1e9);
                        b.set_cumulative_count(*c);
                        b
                    })
                    .collect(),
            );
            m.set_histogram(h);
            m
        })
        .collect();
    f.family(
        "ferrocap_receive_to_write_latency_seconds",
        "Time from a packet's receive timestamp to its writer writing it.",
        MetricType::HISTOGRAM,
        hist,
    );
}

fn logging(f: &mut Families, plane: &ControlPlane) {
    let Some(logger) = &plane.shared.logger else {
        f.counter(
            "ferrocap_log_messages_total",
            "Log records accepted, by severity.",
            Vec::new(),
        );
        f.counter(
            "ferrocap_log_records_dropped_total",
            "Log records dropped because the logger's queue was full.",
            vec![(vec![], 0.0)],
        );
        return;
    };
    let mut by: BTreeMap<&str, u64> = BTreeMap::new();
    for s in Severity::ALL {
        *by.entry(severity_label(s)).or_default() += logger.count(s);
    }
    f.counter(
        "ferrocap_log_messages_total",
        "Log records accepted, by severity (Kernun X/A/C/E count as error, N/K as normal).",
        by.iter()
            .map(|(s, v)| (vec![("severity", *s)], *v as f64))
            .collect(),
    );
    f.counter(
        "ferrocap_log_records_dropped_total",
        "Log records dropped because the logger's queue was full.",
        vec![(vec![], logger.dropped() as f64)],
    );
}
