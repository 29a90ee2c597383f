//! Conditional requests (RFC 9110 §13): an object's version as its strong
//! `ETag`, and what a request's `If-Match` names, for the domain layer's
//! [`Precondition`].

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

use crate::app::backup::Precondition;

/// The strong ETag of an object's version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// What `If-Match` names: nothing, any version (`*`), or the versions of
/// its strong tags (RFC 9110 §13.1.1: a weak tag, or one that is not a
/// version's, never matches).
pub fn precondition(req: &HttpRequest) -> Precondition {
    let values: Vec<&str> = req
        .headers()
        .get_all(header::IF_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        Precondition::Absent
    } else if values.contains(&"*") {
        Precondition::Any
    } else {
        Precondition::Versions(
            values
                .iter()
                .filter_map(|v| {
                    let version = v.strip_prefix('"')?.strip_suffix('"')?.parse().ok()?;
                    // Strong comparison is of the exact text (`"07"` is not `"7"`).
                    (etag(version) == *v).then_some(version)
                })
                .collect(),
        )
    }
}

/// `response` with the `ETag` of `version`.
pub fn with_etag(mut response: HttpResponse, version: i64) -> HttpResponse {
    response.headers_mut().insert(
        header::ETAG,
        HeaderValue::from_str(&etag(version)).expect("an ETag is a header value"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values: &[&str]) -> Precondition {
        let mut request = actix_web::test::TestRequest::default();
        for value in values {
            request = request.append_header((header::IF_MATCH, *value));
        }
        precondition(&request.to_http_request())
    }

    #[test]
    fn if_match_names_versions_by_their_exact_strong_tags() {
        assert_eq!(of(&[]), Precondition::Absent);
        assert_eq!(of(&["*"]), Precondition::Any);
        assert_eq!(of(&["\"3\""]), Precondition::Versions(vec![3]));
        assert_eq!(of(&["\"2\", \"3\""]), Precondition::Versions(vec![2, 3]));
        assert_eq!(of(&["\"2\"", "\"4\""]), Precondition::Versions(vec![2, 4]));
        // Weak tags, other spellings and garbage never match a version.
        for unusable in ["W/\"3\"", "\"03\"", "\"+3\"", "3", "\"x\""] {
            assert_eq!(
                of(&[unusable]),
                Precondition::Versions(Vec::new()),
                "{unusable}"
            );
        }
    }
}
