//! Request bodies, read strictly: a request is carried out as what it asked
//! for or refused, never as something weaker. An empty body means "no
//! options"; anything else must be `Content-Type: application/json` holding a
//! JSON object whose every field the endpoint knows, with the right types.

use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

/// Why a body was refused: the status and the message of the JSON error.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refused {
    /// 415 for a body that is not JSON by its content type, 400 otherwise.
    pub status: StatusCode,
    /// What is wrong, and what the endpoint takes.
    pub message: String,
}

/// The body of an endpoint that takes no options.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct NoOptions {}

/// Reads `bytes` as `T` (`takes` describes `T` in refusals, e.g.
/// `{"savepoint": bool, "drain": bool}`).
pub(super) fn read<T: DeserializeOwned + Default>(headers: &HeaderMap, bytes: &[u8], takes: &str) -> Result<T, Refused> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let refuse = |status, why: String| Refused { status, message: format!("{why}; this endpoint takes an empty body or the JSON object {takes}") };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        let shown = if content_type.is_empty() { "none".to_string() } else { format!("`{content_type}`") };
        return Err(refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("the body is not sent as `Content-Type: application/json` (content type: {shown})")));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(refuse(StatusCode::BAD_REQUEST, format!("the body is JSON but not an object ({})", kind(&value))));
    }
    serde_json::from_value(value).map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("the body cannot be read: {e}")))
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Default, Debug, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Stop {
        savepoint: bool,
    }

    fn json() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
        h
    }

    #[test]
    fn empty_means_defaults_and_a_json_object_is_read_whole() {
        assert_eq!(read::<Stop>(&HeaderMap::new(), b"", "{}"), Ok(Stop::default()));
        assert_eq!(read::<Stop>(&HeaderMap::new(), b" \n", "{}"), Ok(Stop::default()));
        assert_eq!(read::<Stop>(&json(), br#"{"savepoint": true}"#, "{}"), Ok(Stop { savepoint: true }));
    }

    #[test]
    fn anything_else_is_refused_never_read_as_less() {
        let status = |h: &HeaderMap, b: &[u8]| read::<Stop>(h, b, "{}").unwrap_err().status;
        // The savepoint asked for must not become a stop without one.
        assert_eq!(status(&HeaderMap::new(), br#"{"savepoint": true}"#), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let mut text = HeaderMap::new();
        text.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(status(&text, br#"{"savepoint": true}"#), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        for bad in [&b"[]"[..], b"[true]", b"true", b"null", b"\"savepoint\"", br#"{"savepont": true}"#, br#"{"savepoint": "yes"}"#, b"{"] {
            assert_eq!(status(&json(), bad), StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(bad));
        }
        let e = read::<NoOptions>(&json(), br#"{"savepoint": true}"#, "{}").unwrap_err();
        assert!(e.message.contains("savepoint"), "{}", e.message);
    }
}
