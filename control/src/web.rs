//! The web admin page, compiled into the binary.
//!
//! Three static assets make the whole page: `GET /` serves [`INDEX_HTML`],
//! `GET /app.js` [`APP_JS`] and `GET /style.css` [`STYLE_CSS`]. They are plain
//! HTML, JavaScript and CSS written by hand: no framework, no build step.
//!
//! Promises (checked by the tests below):
//! - The page loads nothing from another host: no CDN, no web fonts, no
//!   protocol-relative URLs. It talks only to this server's `/api/v1`.
//! - Every element the script looks up by id exists in the page, and every
//!   form control has a label.
//! - The script calls only the API routes the control server serves.
//!
//! The page drives the API the way Kerio's "Logs > Debug" is used: packet
//! dumps (live expression check with the error position, create, start, stop,
//! download, delete), packet logging (set, remove, live tail) and counters (a
//! rate chart of received, matched and dropped packets per second, with the
//! port, worker and output tables). When the API answers 401 it asks for the
//! token, keeps it in the tab's `sessionStorage` and sends it as
//! `Authorization: Bearer`. `control/tests/web/` drives it in headless
//! Chromium (see `appliance/tests/web_ui.rs`).

/// The page (`GET /`, `text/html; charset=utf-8`).
pub(crate) const INDEX_HTML: &str = include_str!("web/index.html");

/// The page's script (`GET /app.js`, `text/javascript; charset=utf-8`).
pub(crate) const APP_JS: &str = include_str!("web/app.js");

/// The page's style sheet (`GET /style.css`, `text/css; charset=utf-8`).
pub(crate) const STYLE_CSS: &str = include_str!("web/style.css");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{APP_JS, INDEX_HTML, STYLE_CSS};

    /// Every string that follows `open` up to the next `close`.
    fn between<'a>(text: &'a str, open: &str, close: char) -> Vec<&'a str> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find(open) {
            rest = &rest[i + open.len()..];
            match rest.find(close) {
                Some(j) => {
                    out.push(&rest[..j]);
                    rest = &rest[j..];
                }
                None => break,
            }
        }
        out
    }

    fn html_ids() -> Vec<&'static str> {
        between(INDEX_HTML, " id=\"", '"')
    }

    #[test]
    fn helpers_extract_what_they_should() {
        assert_eq!(
            between(r#"<a id="x"><b id="y-2">"#, " id=\"", '"'),
            ["x", "y-2"]
        );
        assert_eq!(between(r#"el("a") + el("b")"#, "el(\"", '"'), ["a", "b"]);
        assert!(between("no match", "el(\"", '"').is_empty());
        assert!(between("el(\"unterminated", "el(\"", '"').is_empty());
    }

    #[test]
    fn ids_in_the_page_are_unique() {
        let ids = html_ids();
        let unique: BTreeSet<_> = ids.iter().collect();
        assert_eq!(ids.len(), unique.len(), "duplicate ids in index.html");
        assert!(ids.len() > 40, "the page has its controls: {ids:?}");
    }

    /// The ids app.js passes to the functions that look elements up by id.
    /// Each call must pass a string literal, or be inside one of those
    /// functions (whose parameter is `id`), so no lookup escapes the check.
    fn script_ids() -> BTreeSet<&'static str> {
        let mut ids = BTreeSet::new();
        for f in ["el(", "formMessage(", "positiveInt(", "fillTable("] {
            for (i, _) in APP_JS.match_indices(f) {
                // A longer name that ends in this one (e.g. "label(") is not a call.
                let prev = APP_JS[..i].chars().next_back().unwrap_or(' ');
                if prev.is_ascii_alphanumeric() || prev == '_' || prev == '.' {
                    continue;
                }
                let rest = APP_JS[i + f.len()..].trim_start();
                if let Some(lit) = rest.strip_prefix('"') {
                    let end = lit.find('"').expect("closed literal");
                    ids.insert(&lit[..end]);
                } else {
                    assert!(
                        rest.starts_with("id)") || rest.starts_with("id,"),
                        "app.js calls {f} with a computed id: {}",
                        &rest[..rest.len().min(40)]
                    );
                }
            }
        }
        ids
    }

    #[test]
    fn every_id_the_script_looks_up_exists() {
        let ids: BTreeSet<_> = html_ids().into_iter().collect();
        let used = script_ids();
        assert!(
            used.len() > 40,
            "the script looks up its elements: {used:?}"
        );
        for id in ["dump-max-mb", "port-rows", "dump-form-msg", "rate-chart"] {
            assert!(used.contains(id), "{id} not found in app.js");
        }
        let missing: Vec<_> = used.difference(&ids).collect();
        assert!(
            missing.is_empty(),
            "app.js looks up missing ids {missing:?}"
        );
        // el() is the only lookup by id; no selector names an id.
        assert!(!APP_JS.contains("querySelector(\"#"));
        assert_eq!(APP_JS.matches("getElementById(").count(), 1);
    }

    #[test]
    fn every_form_control_has_a_label() {
        let ids: BTreeSet<_> = html_ids().into_iter().collect();
        let labelled: BTreeSet<_> = between(INDEX_HTML, "<label ", '>')
            .into_iter()
            .flat_map(|attrs| between(attrs, "for=\"", '"'))
            .collect();
        assert!(labelled.len() >= 10, "{labelled:?}");
        let dangling: Vec<_> = labelled.difference(&ids).collect();
        assert!(dangling.is_empty(), "labels for missing ids {dangling:?}");
        for tag in ["<input ", "<select ", "<textarea "] {
            for attrs in between(INDEX_HTML, tag, '>') {
                let id = between(attrs, "id=\"", '"');
                let by_for = id.first().is_some_and(|id| labelled.contains(id));
                // A checkbox inside its <label> is labelled by it.
                let wrapped = attrs.contains("type=\"checkbox\"");
                assert!(
                    by_for || wrapped || attrs.contains("aria-label="),
                    "{tag}{attrs}> has no label"
                );
            }
        }
    }

    #[test]
    fn nothing_is_loaded_from_another_host() {
        // The SVG namespace is a name, not a request.
        const SVG_NS: &str = "http://www.w3.org/2000/svg";
        for (name, text) in [
            ("index.html", INDEX_HTML),
            ("app.js", APP_JS),
            ("style.css", STYLE_CSS),
        ] {
            let cleaned = text.replace(SVG_NS, "");
            for scheme in ["http://", "https://", "ws://", "wss://"] {
                assert!(
                    !cleaned.to_ascii_lowercase().contains(scheme),
                    "{name} names a {scheme} URL"
                );
            }
            for relative in ["src=\"//", "href=\"//", "url(//", "url(\"//", "url('//"] {
                assert!(!text.contains(relative), "{name} has {relative}");
            }
        }
        assert!(!STYLE_CSS.contains("@import"), "style.css imports");
        assert!(!STYLE_CSS.contains("@font-face"), "style.css loads a font");
        assert!(!STYLE_CSS.contains("url("), "style.css loads a resource");
    }

    #[test]
    fn the_page_loads_its_own_assets_and_no_inline_code() {
        assert!(INDEX_HTML.starts_with("<!doctype html>"));
        assert!(INDEX_HTML.contains("<html lang=\"en\">"));
        assert!(INDEX_HTML.contains("<meta charset=\"utf-8\">"));
        assert!(INDEX_HTML.contains(r#"<script src="app.js" defer></script>"#));
        assert!(INDEX_HTML.contains(r#"<link rel="stylesheet" href="style.css">"#));
        assert_eq!(
            INDEX_HTML.matches("<script").count(),
            1,
            "one script, no inline code"
        );
        assert!(!INDEX_HTML.contains("<style"), "no inline style sheet");
        // No inline event handler: no attribute " on<letters>=".
        let lower = INDEX_HTML.to_ascii_lowercase();
        for (i, _) in lower.match_indices(" on") {
            let rest = &lower[i + 3..];
            let name_len = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            assert!(
                name_len == 0 || !rest[name_len..].starts_with('='),
                "inline event handler at {}",
                &lower[i..(i + 20).min(lower.len())]
            );
        }
    }

    #[test]
    fn the_script_calls_only_served_routes() {
        let served = [
            "/status",
            "/expressions/check",
            "/dumps",
            "/dumps/",
            "/packet-logging",
            "/packet-logging/tail?lines=",
            "/log/level",
        ];
        let called = between(APP_JS, "API + \"", '"');
        assert!(called.len() >= 10, "{called:?}");
        for route in &called {
            assert!(served.contains(route), "app.js calls {route}");
        }
        for route in served {
            assert!(called.contains(&route), "app.js never calls {route}");
        }
        assert!(APP_JS.contains("const API = \"/api/v1\";"));
        // The token goes in the header the server checks, and stays in the tab.
        assert!(APP_JS.contains("headers.Authorization = \"Bearer \" + token"));
        assert!(APP_JS.contains("sessionStorage"));
        assert!(!APP_JS.contains("localStorage"));
    }

    #[test]
    fn the_script_builds_no_markup_from_strings() {
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!APP_JS.contains(sink), "app.js uses {sink}");
        }
    }
}
