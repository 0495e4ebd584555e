//! The one query decoder: a query string read once, strictly, the same way for
//! the native API and the gateway.

use crate::ApiError;

fn invalid() -> ApiError {
    ApiError::invalid_parameter("The request query is not in canonical form.")
}

/// Decodes `%XX` escapes once into UTF-8. `plus_is_space` applies to query strings.
pub fn percent_decode(raw: &str, plus_is_space: bool) -> Option<String> {
    let bytes = raw.as_bytes();
    // Nothing to decode (most paths and values): the text as it is.
    if !bytes
        .iter()
        .any(|&b| b == b'%' || (plus_is_space && b == b'+'))
    {
        return Some(raw.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                // Exactly two hex digits: `from_str_radix` alone would take `%+1`.
                let hex = bytes.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
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

/// Query parameters in order, each decoded once. Invalid escapes or UTF-8 are refused.
pub fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(key, true).ok_or_else(invalid)?;
            let value = percent_decode(value, true).ok_or_else(invalid)?;
            if key.chars().chain(value.chars()).any(|c| c == '\0') {
                return Err(invalid());
            }
            Ok((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // A sign is not a hex digit, though `from_str_radix` would take it.
        assert!(query_pairs(Some("a=%+1")).is_err());
        assert!(percent_decode("%+f", false).is_none());
    }
}
