//! `ferrocap-bench run --quick` runs every scenario and reports each one in
//! results.json: measured with numbers, or skipped with a reason. It checks
//! that the tool runs and reports, never a timing.

use std::process::Command;

use serde_json::Value;

const SCENARIOS: [&str; 7] = [
    "matching", "dpdk", "scaling", "writer", "offline", "latency", "control",
];

#[test]
fn quick_run_reports_every_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_ferrocap-bench"))
        .args(["run", "--quick", "--out"])
        .arg(dir.path())
        .output()
        .expect("run ferrocap-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ferrocap-bench run --quick failed:\n{stderr}"
    );
    let text = std::fs::read_to_string(dir.path().join("results.json")).expect("results.json");
    let v: Value = serde_json::from_str(&text).expect("results.json is JSON");
    assert!(
        v["environment"]["cores"].as_u64().unwrap_or(0) >= 1,
        "{text}"
    );
    assert!(v["environment"]["kernel"].is_string(), "{text}");
    let scenarios = v["scenarios"].as_array().expect("scenarios");
    let names: Vec<&str> = scenarios
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, SCENARIOS, "{text}");
    for s in scenarios {
        let name = s["name"].as_str().unwrap_or("?");
        let reason = s["reason"].as_str().unwrap_or("");
        match s["status"].as_str() {
            Some("ok") => {
                let rows = s["rows"].as_array().expect("rows");
                assert!(
                    rows.iter()
                        .any(|r| r["ferrocap"].as_f64().is_some_and(f64::is_finite)),
                    "{name}: ok without a figure: {s}"
                );
            }
            Some("skipped") => assert!(
                !reason.trim().is_empty(),
                "{name}: skipped without a reason"
            ),
            other => panic!("{name}: status {other:?}: {reason}\n{stderr}"),
        }
    }
    let report = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md");
    for name in SCENARIOS {
        assert!(
            report.contains(&format!("\n## {name}\n")),
            "report.md lacks {name}"
        );
    }
}
