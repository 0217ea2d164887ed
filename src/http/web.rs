//! The web face of tanya: the embeddable chat widget (`/widget/…`), the demo page (`GET /`)
//! and the password page's stylesheet, compiled into the binary from `web/`, and the CORS
//! policy that lets pages on other origins (`TANYA_CORS_ORIGINS`) call the chat API.

use super::AppState;
use crate::fnv::fnv1a;
use axum::Router;
use axum::extract::State;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The demo page's policy: everything from this origin, nothing inline, no framing. The page
/// keeps its script and styles in files for exactly this reason.
pub const DEMO_PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Embedding pages load the widget on every view: a short lifetime keeps them fast, the ETag
/// makes the revalidation after it a `304`, and a new release reaches everyone within minutes.
const WIDGET_CACHE: &str = "public, max-age=300";
/// The demo page names its assets without a version, so browsers always revalidate them.
const PAGE_CACHE: &str = "no-cache";

/// Stands in the demo page for `demo` or `production`, so its script knows whether to show
/// the demo inbox.
const MODE_MARKER: &str = "__TANYA_MODE__";

const DEMO_PAGE: &str = include_str!("../../web/index.html");

/// A file of `web/`, served as is.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    cache_control: &'static str,
    body: &'static [u8],
    /// A hash of `body`, computed at compile time.
    etag: u64,
}

impl Asset {
    const fn new(
        path: &'static str,
        content_type: &'static str,
        cache_control: &'static str,
        body: &'static [u8],
    ) -> Asset {
        Asset {
            path,
            content_type,
            cache_control,
            body,
            // Enough to tell one build's asset from another's, and computed at compile time.
            etag: fnv1a(body),
        }
    }
}

const ASSETS: &[Asset] = &[
    Asset::new(
        "/widget/widget.js",
        "text/javascript; charset=utf-8",
        WIDGET_CACHE,
        include_bytes!("../../web/widget.js"),
    ),
    Asset::new(
        "/widget/widget.css",
        "text/css; charset=utf-8",
        WIDGET_CACHE,
        include_bytes!("../../web/widget.css"),
    ),
    Asset::new(
        "/demo/demo.js",
        "text/javascript; charset=utf-8",
        PAGE_CACHE,
        include_bytes!("../../web/demo.js"),
    ),
    Asset::new(
        "/demo/demo.css",
        "text/css; charset=utf-8",
        PAGE_CACHE,
        include_bytes!("../../web/demo.css"),
    ),
    // The password page's only asset (`password_page`): versionless, like the demo page's.
    Asset::new(
        "/password-page/page.css",
        "text/css; charset=utf-8",
        PAGE_CACHE,
        include_bytes!("../../web/password-page.css"),
    ),
    Asset::new(
        "/favicon.svg",
        "image/svg+xml",
        PAGE_CACHE,
        include_bytes!("../../web/favicon.svg"),
    ),
];

/// The demo page and the static assets.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new().route("/", get(demo_page));
    for asset in ASSETS {
        router = router.route(
            asset.path,
            get(move |headers: HeaderMap| async move { serve_asset(asset, &headers) }),
        );
    }
    router
}

/// Adds the CORS policy for `origins` (`*` alone: any origin); none when the list is empty,
/// so browsers keep the same-origin rule.
pub fn with_cors(router: Router, origins: &[String]) -> Router {
    if origins.is_empty() {
        return router;
    }
    let allow_origin = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        // The configuration accepted only well-formed origins, which are valid header values.
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        )
    };
    router.layer(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE])
            // The widget tells a rate-limited member how long to wait.
            .expose_headers([header::RETRY_AFTER])
            .max_age(Duration::from_secs(60 * 60)),
    )
}

async fn demo_page(State(state): State<AppState>) -> Response {
    let mode = if state.outbox.is_some() {
        "demo"
    } else {
        "production"
    };
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, PAGE_CACHE),
        (header::CONTENT_SECURITY_POLICY, DEMO_PAGE_CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    (headers, DEMO_PAGE.replace(MODE_MARKER, mode)).into_response()
}

fn serve_asset(asset: &Asset, request: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", asset.etag);
    let headers = [
        (header::CONTENT_TYPE, asset.content_type.to_string()),
        (header::CACHE_CONTROL, asset.cache_control.to_string()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        // Other sites embed the widget: let their pages load it even under COEP.
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "cross-origin".to_string(),
        ),
        (header::ETAG, etag.clone()),
    ];
    let fresh = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        });
    if fresh {
        (StatusCode::NOT_MODIFIED, headers).into_response()
    } else {
        (headers, asset.body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_page_has_no_inline_script_or_style() {
        // The CSP forbids them; an inline one would silently not run.
        let page = DEMO_PAGE.to_lowercase();
        for script in page.split("<script").skip(1) {
            let tag = &script[..script.find('>').expect("a closed <script> tag")];
            assert!(tag.contains("src="), "inline <script{tag}>");
        }
        assert!(!page.contains("<style"), "inline <style>");
        assert!(!page.contains(" style="), "inline style attribute");
        let handler = regex::Regex::new(r"\son[a-z]+\s*=").expect("a valid regex");
        assert!(!handler.is_match(&page), "inline event handler attribute");
        assert!(page.contains(MODE_MARKER.to_lowercase().as_str()));
    }

    #[test]
    fn the_widget_renders_text_as_text() {
        // XSS by construction: content goes through textContent, never through HTML parsing.
        for (name, source) in [
            ("widget.js", include_str!("../../web/widget.js")),
            ("demo.js", include_str!("../../web/demo.js")),
        ] {
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!source.contains(sink), "{name} uses {sink}");
            }
        }
    }

    /// The value of `var NAME = …;` in the widget's source, as written.
    fn widget_declares(name: &str) -> &'static str {
        let prefix = format!("var {name} = ");
        include_str!("../../web/widget.js")
            .lines()
            .find_map(|line| line.trim().strip_prefix(prefix.as_str()))
            .and_then(|value| value.strip_suffix(';'))
            .unwrap_or_else(|| panic!("widget.js declares `var {name} = …;`"))
    }

    #[test]
    fn the_widget_stops_at_the_servers_text_limit() {
        // The widget says a message is too long before sending it; the number it counts to is
        // `input::MAX_TEXT_CHARS`, the one home of the limit, written out again in JavaScript.
        let declared = widget_declares("MAX_CHARS");
        assert_eq!(
            declared.parse::<usize>().ok(),
            Some(crate::input::MAX_TEXT_CHARS),
            "widget.js MAX_CHARS"
        );
    }

    /// The widget's own echo of a typed password and the history the server keeps show it
    /// alike, so a reloaded page shows what the member saw before.
    #[test]
    fn the_widget_hides_a_password_as_the_transcript_does() {
        let declared = widget_declares("HIDDEN_PASSWORD");
        assert_eq!(declared, format!("'{}'", crate::engine::HIDDEN_PASSWORD));
    }

    #[test]
    fn asset_tags_change_with_their_content() {
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        let mut tags: Vec<u64> = ASSETS.iter().map(|asset| asset.etag).collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), ASSETS.len());
    }
}
