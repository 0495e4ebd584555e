//! One canonical decoding of what a request names. Anything MLflow could read
//! differently from mlguard is refused here, before any decision.

use mlguard_extract::ApiError;

fn invalid(what: &str) -> ApiError {
    ApiError::invalid_parameter(format!("The request {what} is not in canonical form."))
}

/// Decodes `%XX` escapes once into UTF-8. `plus_is_space` applies to query strings.
fn percent_decode(raw: &str, plus_is_space: bool) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
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
    let segments: Vec<&str> = decoded[1..].split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        // A trailing slash leaves one empty last segment; MLflow's routes treat it as
        // another path, which the policy will simply not match.
        let empty_inside = segment.is_empty() && i != last && decoded != "/";
        if *segment == "." || *segment == ".." || empty_inside {
            return Err(invalid("path"));
        }
    }
    Ok(decoded)
}

/// Query parameters in order, each decoded once. Invalid escapes or UTF-8 are refused.
pub(crate) fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(key, true).ok_or_else(|| invalid("query"))?;
            let value = percent_decode(value, true).ok_or_else(|| invalid("query"))?;
            if key.chars().chain(value.chars()).any(|c| c == '\0') {
                return Err(invalid("query"));
            }
            Ok((key, value))
        })
        .collect()
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
            "/api/2.0/mlflow\\runs",
            "/api/2.0/mlflow-artifacts/artifacts/1%2f..%2f2/x",
            "/api/2.0/mlflow%5Cruns",
            "/api/2.0/mlflow%5cruns",
        ] {
            assert!(canonical_path(bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn queries_decode_strictly() {
        assert_eq!(
            query_pairs(Some("path=1%2Fmodels&x=a+b&flag")).expect("ok"),
            vec![
                ("path".to_owned(), "1/models".to_owned()),
                ("x".to_owned(), "a b".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
        assert!(query_pairs(Some("username=%FF")).is_err());
        assert!(query_pairs(Some("a=%2")).is_err());
        assert!(query_pairs(Some("a=%00")).is_err());
    }
}
