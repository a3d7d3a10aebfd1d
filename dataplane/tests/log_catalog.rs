//! The committed `docs/messages.md` is the catalog's rendering.

use std::path::PathBuf;

use ferrocap_dataplane::log::catalog::{self, render_markdown};

#[test]
fn messages_md_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/messages.md");
    let want = render_markdown();
    if std::env::var_os("FERROCAP_BLESS").is_some() {
        std::fs::write(&path, &want).expect("write docs/messages.md");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/messages.md is out of date with dataplane/src/log/catalog.rs; regenerate it with \
         `FERROCAP_BLESS=1 cargo test -p ferrocap-dataplane --test log_catalog`"
    );
}

#[test]
fn every_entry_is_documented_once() {
    let md = render_markdown();
    for e in catalog::CATALOG {
        let head = format!("### {}-{}\n", e.id, e.severity);
        assert_eq!(md.matches(&head).count(), 1, "{head}");
        assert!(md.contains(e.explanation), "{}", e.id);
        assert_eq!(catalog::lookup(&e.id.to_string()), Some(*e));
    }
}
