//! Replays the committed seed corpus of the `http` fuzz target
//! (`control/fuzz/corpus/http`) as an ordinary test, so every CI run
//! exercises it without cargo-fuzz: each request, in order, gets an answer
//! below 500, and a JSON error with every 4xx.

use std::path::Path;

#[test]
fn http_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/http");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 20, "http corpus has {} files", files.len());
    for f in &files {
        let input = std::fs::read(f).expect("read");
        ferrocap_control::fuzz_checks::request_gets_a_clear_answer(&input);
    }
    let _ = std::fs::remove_dir_all(ferrocap_control::fuzz_checks::scratch_dir());
}
