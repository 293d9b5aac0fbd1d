//! The web view: one page with its script and style sheet, embedded in the
//! binary (no build step, nothing fetched from elsewhere). The page polls the
//! JSON API and draws the job graph, the checkpoint timeline and the
//! savepoints, with buttons that trigger a savepoint or stop the job.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("web/index.html");
const SCRIPT: &str = include_str!("web/app.js");
const STYLE: &str = include_str!("web/style.css");

/// `GET /`: the page.
pub(super) async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response()
}

/// The page's icon: a cairn (three stones), as SVG.
const ICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><ellipse cx="8" cy="13" rx="6" ry="2.5" fill="#667"/><ellipse cx="8" cy="8.5" rx="4.2" ry="2" fill="#889"/><ellipse cx="8" cy="4.5" rx="2.6" ry="1.6" fill="#aab"/></svg>"##;

/// `GET /favicon.ico`: the page's icon (browsers ask for it on every load).
pub(super) async fn icon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml")], ICON).into_response()
}

/// `GET /web/{asset}`: its script and style sheet.
pub(super) async fn asset(Path(asset): Path<String>) -> Response {
    match asset.as_str() {
        "app.js" => ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT).into_response(),
        "style.css" => ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response(),
        _ => (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({ "error": format!("no asset `{asset}`") }))).into_response(),
    }
}
