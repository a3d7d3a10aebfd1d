//! Placeholder for the web admin page's assets (replaced by the web page's
//! own module at merge).

/// The page.
pub(crate) const INDEX_HTML: &str =
    "<!doctype html><html><head><title>ferrocap</title><link rel=\"stylesheet\" href=\"/style.css\"></head><body><h1>ferrocap</h1><script src=\"/app.js\"></script></body></html>\n";
/// Its script.
pub(crate) const APP_JS: &str = "\"use strict\";\n";
/// Its style sheet.
pub(crate) const STYLE_CSS: &str = "body { font-family: sans-serif; }\n";
