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

/// The page a browser gets for an address that is not here: a person, not a
/// program, is reading it. It names no part of the address asked for, so
/// nothing a link put there is shown back.
const NOT_FOUND_PAGE: &str = "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>Not found - fraud-server</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head>
<body><main><section class=\"page\"><h1>Page not found</h1>
<p>There is nothing at this address. The web UI is at <a href=\"/\">the start page</a>;
the API is described at <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p>
</section></main></body></html>
";

/// Whether an `Accept` header asks for a web page first (a browser), rather
/// than JSON (the API's clients, `curl`'s `*/*`).
fn prefers_html(accept: &str) -> bool {
    let first = accept.split(',').next().unwrap_or("").trim();
    first.starts_with("text/html") || first.starts_with("application/xhtml+xml")
}

/// A 404 for a browser becomes a readable page; every other response, and a
/// 404 for any other client, is left as it is (JSON).
pub fn not_found_for_browsers(
    accept: Option<String>,
    response: warp::reply::Response,
) -> warp::reply::Response {
    use warp::http::{header, HeaderValue, StatusCode};
    if response.status() != StatusCode::NOT_FOUND || !accept.as_deref().is_some_and(prefers_html) {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    warp::reply::Response::from_parts(parts, NOT_FOUND_PAGE.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_are_told_apart_from_api_clients() {
        assert!(prefers_html(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(!prefers_html("*/*"));
        assert!(!prefers_html("application/json"));
        assert!(!prefers_html("application/json, text/html"));
    }
}
