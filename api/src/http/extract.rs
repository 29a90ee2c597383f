//! Request extractors that turn every way a client can send a bad request
//! into a clear [`ApiError`]: a body that is not JSON (415), too large (413),
//! not well-formed (400), or well-formed with an unknown field or an invalid
//! value (422, naming the field by its path). Handlers take these instead of
//! actix's own `web::Json`/`web::Query`, whose errors carry no field path.
//!
//! Nothing here touches state: a rejected request has changed nothing.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use futures_util::future::{LocalBoxFuture, Ready, ready};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::http::strict::{Parsed, Strict};

/// The largest body a JSON endpoint accepts, set once in the app's data.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl Default for BodyLimit {
    fn default() -> Self {
        Self(1024 * 1024)
    }
}

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<BodyLimit>().copied().unwrap_or_default().0;
        if let Err(error) = check_json_content_type(req) {
            return Box::pin(ready(Err(error)));
        }
        let body = read_body(req, payload.take(), limit);
        Box::pin(async move { decode_json(&body.await?).map(Json) })
    }
}

/// Reads a body of at most `limit` bytes: 413 as soon as the declared
/// length or what arrived passes it, without reading the rest.
pub fn read_body(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
) -> LocalBoxFuture<'static, Result<Vec<u8>, ApiError>> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Box::pin(ready(Err(ApiError::PayloadTooLarge { limit })));
    }
    Box::pin(async move {
        // Grow with what arrives; a declared length is only a hint.
        let mut body = Vec::with_capacity(declared.unwrap_or(0).min(64 * 1024));
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| ApiError::MalformedBody {
                detail: "the body could not be read to its end".into(),
            })?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    })
}

/// `application/json` or any `application/*+json`, with any parameters.
fn check_json_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let unsupported = ApiError::UnsupportedMediaType {
        expected: "application/json",
    };
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Err(unsupported);
    };
    let essence = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let is_json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if is_json { Ok(()) } else { Err(unsupported) }
}

/// Decodes a JSON document, classifying failures: not JSON at all is 400;
/// JSON of the wrong shape (an array where an object belongs, a number
/// where an enum's string does, a key named twice, an unknown field) is 422
/// with the path of the field at fault ([`crate::http::strict`]).
pub fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = serde_path_to_error::deserialize::<_, Parsed>(&mut deserializer);
    let Parsed(value) = parsed.map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => data_error(&path, &without_position(&inner)),
            _ => ApiError::MalformedBody {
                detail: inner.to_string(),
            },
        }
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::MalformedBody {
            detail: error.to_string(),
        })?;
    serde_path_to_error::deserialize(Strict(value)).map_err(|error| {
        let path = error.path().to_string();
        data_error(&path, &without_position(error.inner()))
    })
}

/// A query string of type `T`. Unknown or invalid parameters are 422.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(decode_query(req.query_string()).map(Query))
    }
}

/// Decodes a URL query string; the path of an error is the parameter's name.
pub fn decode_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        data_error(&path, &error.into_inner().to_string())
    })
}

/// Maps a serde data error to `UnknownField` or `InvalidValue`, naming the
/// field by its full path (`items[2].profile`). The message never repeats the
/// value the client sent (it may be a secret sent in the wrong type).
fn data_error(path: &str, message: &str) -> ApiError {
    let at_root = path.is_empty() || path == ".";
    let child = |name: &str| {
        if at_root {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = quoted_after(message, "unknown field `") {
        // The path may already end at the unknown key.
        let last = path.rsplit('.').next().unwrap_or(path);
        let field = if last == name {
            path.to_owned()
        } else {
            child(name)
        };
        return ApiError::UnknownField { field };
    }
    if let Some(name) = quoted_after(message, "duplicate field `") {
        return ApiError::InvalidValue {
            field: child(name),
            message: "is given more than once".into(),
        };
    }
    if let Some(name) = quoted_after(message, "missing field `") {
        return ApiError::InvalidValue {
            field: child(name),
            message: "is required".into(),
        };
    }
    ApiError::InvalidValue {
        field: if at_root {
            "body".into()
        } else {
            path.to_owned()
        },
        message: without_value(message),
    }
}

/// `invalid type: string "hunter2", expected u8` → `invalid type: string, expected u8`.
fn without_value(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((found, expected)) = rest.split_once(", expected ")
        {
            let kind = found.split([' ', '`', '"']).next().unwrap_or(found);
            return format!("{prefix}{kind}, expected {expected}");
        }
    }
    message.to_owned()
}

/// The name in `` prefix`name` `` at the start of a serde message.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// serde_json appends " at line L column C"; a 422 names the field instead.
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        items: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        profile: Profile,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Profile {
        Personal,
    }

    fn field_of(error: ApiError) -> (String, &'static str) {
        let code = error.code();
        match error {
            ApiError::UnknownField { field } | ApiError::InvalidValue { field, .. } => {
                (field, code)
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field_by_path() {
        let cases = [
            (
                r#"{"name":"a","items":[],"nmae":1}"#,
                "nmae",
                "unknown_field",
            ),
            (r#"{"items":[]}"#, "name", "invalid_value"),
            (r#"{"name":5,"items":[]}"#, "name", "invalid_value"),
            (
                r#"{"name":"a","items":[{"profile":"personal"},{"profile":"x"}]}"#,
                "items[1].profile",
                "invalid_value",
            ),
            (
                r#"{"name":"a","items":[{"profile":"personal","p":1}]}"#,
                "items[0].p",
                "unknown_field",
            ),
            (r#""text""#, "body", "invalid_value"),
            // An array is not an object, at the root or below it.
            (r#"["a", []]"#, "body", "invalid_value"),
            (
                r#"{"name":"a","items":[["personal"]]}"#,
                "items[0]",
                "invalid_value",
            ),
            // An enum's value of another JSON type is a value error too.
            (
                r#"{"name":"a","items":[{"profile":0}]}"#,
                "items[0].profile",
                "invalid_value",
            ),
            (
                r#"{"name":"a","items":[{"profile":null}]}"#,
                "items[0].profile",
                "invalid_value",
            ),
            (
                r#"{"name":"a","items":[{"profile":{}}]}"#,
                "items[0].profile",
                "invalid_value",
            ),
            (
                r#"{"name":"a","name":"b","items":[]}"#,
                "name",
                "invalid_value",
            ),
        ];
        for (body, field, code) in cases {
            let error = decode_json::<Outer>(body.as_bytes()).unwrap_err();
            assert_eq!(field_of(error), (field.to_owned(), code), "{body}");
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Recovery {
        recovery_key: Key,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Key {
        key: String,
    }

    #[test]
    fn a_missing_field_is_named_below_its_parent() {
        let error = decode_json::<Recovery>(br#"{"recovery_key": {}}"#).unwrap_err();
        assert_eq!(field_of(error).0, "recovery_key.key");
        let error =
            decode_json::<Recovery>(br#"{"recovery_key": {"key": "k", "key2": 1}}"#).unwrap_err();
        assert_eq!(field_of(error).0, "recovery_key.key2");
    }

    #[test]
    fn messages_never_repeat_the_value_sent() {
        let error = decode_json::<Recovery>(br#"{"recovery_key": {"key": 31415926}}"#).unwrap_err();
        let ApiError::InvalidValue { message, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(message, "invalid type: integer, expected a string");
        assert!(!format!("{error} {error:?}").contains("31415926"));
    }

    #[test]
    fn malformed_json_is_400() {
        for body in ["", "{", r#"{"name":"a",}"#, r#"{"name":"a","items":[]} x"#] {
            let error = decode_json::<Outer>(body.as_bytes()).unwrap_err();
            assert_eq!(error.code(), "malformed_body", "{body:?}");
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Page {
        limit: Option<u32>,
    }

    #[test]
    fn query_errors_name_the_parameter() {
        assert_eq!(decode_query::<Page>("limit=10").unwrap().limit, Some(10));
        assert_eq!(
            field_of(decode_query::<Page>("limit=x").unwrap_err()).0,
            "limit"
        );
        assert_eq!(
            field_of(decode_query::<Page>("lmit=1").unwrap_err()),
            ("lmit".to_owned(), "unknown_field")
        );
    }
}
