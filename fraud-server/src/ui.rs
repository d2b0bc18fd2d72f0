//! The web UI's files, embedded in the binary (the machine serving them may
//! have no internet, so nothing comes from a CDN).

/// The bytes and content type of an embedded file, by name.
pub fn find(name: &str) -> Option<(&'static [u8], &'static str)> {
    match name {
        "index.html" => Some((
            include_bytes!("../static/index.html"),
            "text/html; charset=utf-8",
        )),
        "app.js" => Some((
            include_bytes!("../static/app.js"),
            "text/javascript; charset=utf-8",
        )),
        "style.css" => Some((
            include_bytes!("../static/style.css"),
            "text/css; charset=utf-8",
        )),
        "favicon.svg" => Some((include_bytes!("../static/favicon.svg"), "image/svg+xml")),
        _ => None,
    }
}

/// The Content-Security-Policy of every response: only this server's own
/// scripts, styles and connections; no inline script, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
