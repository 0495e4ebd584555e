//! One canonical decoding of the path a request names (the query's is
//! `mlguard_http::query_pairs`). Anything MLflow could read
//! differently from mlguard is refused here, before any decision.

use mlguard_http::{ApiError, percent_decode};

fn invalid(what: &str) -> ApiError {
    ApiError::invalid_parameter(format!("The request {what} is not in canonical form."))
}

/// The request path, decoded once. Refused: invalid escapes or UTF-8, an encoded
/// `/`, `\` or `%` (a second decoding would change it), `.` and `..` segments, empty
/// segments, and control characters.
pub(crate) fn canonical_path(raw: &str) -> Result<String, ApiError> {
    let encodes_separator_or_escape = raw.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && matches!(
                (w[1], w[2].to_ascii_lowercase()),
                (b'2', b'f' | b'5') | (b'5', b'c')
            )
    });
    if encodes_separator_or_escape {
        return Err(invalid("path"));
    }
    let decoded = percent_decode(raw, false).ok_or_else(|| invalid("path"))?;
    if !decoded.starts_with('/') || decoded.chars().any(char::is_control) || decoded.contains('\\')
    {
        return Err(invalid("path"));
    }
    let mut segments = decoded[1..].split('/').peekable();
    while let Some(segment) = segments.next() {
        // A trailing slash leaves one empty last segment; MLflow's routes treat it as
        // another path, which the policy will simply not match.
        let empty_inside = segment.is_empty() && segments.peek().is_some();
        if segment == "." || segment == ".." || empty_inside {
            return Err(invalid("path"));
        }
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_decode_once_and_refuse_ambiguity() {
        assert_eq!(
            canonical_path("/api/2.0/mlflow/runs/get").expect("plain"),
            "/api/2.0/mlflow/runs/get"
        );
        assert_eq!(
            canonical_path("/api/2.0/mlflow-artifacts/artifacts/1/a%20b").expect("space"),
            "/api/2.0/mlflow-artifacts/artifacts/1/a b"
        );
        for bad in [
            "/api/2.0/mlflow-artifacts/artifacts/1%2F..%2F2/x",
            "/api/2.0/mlflow-artifacts/artifacts/1/../2/x",
            "/api/2.0/mlflow-artifacts/artifacts/1/%2e%2e/2",
            "/api/2.0/mlflow-artifacts/artifacts/./1",
            "/api/2.0//mlflow/runs/get",
            "/api/2.0/mlflow/runs/get%00",
            "/api/2.0/mlflow/runs/%ZZ",
            "/api/2.0/mlflow/runs/%FF",
            "/api/2.0/mlflow/runs/%252F",
            "/api/2.0/mlflow/runs/%+1",
            "/api/2.0/mlflow\\runs",
            "/api/2.0/mlflow-artifacts/artifacts/1%2f..%2f2/x",
            "/api/2.0/mlflow%5Cruns",
            "/api/2.0/mlflow%5cruns",
        ] {
            assert!(canonical_path(bad).is_err(), "accepted {bad}");
        }
    }
}
