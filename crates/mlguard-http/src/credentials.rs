use std::fmt;

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Username and password from an `Authorization: Basic` header.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What an `Authorization` header carries.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Basic(BasicCredentials),
    /// A bearer token mlguard issued (`MLFLOW_TRACKING_TOKEN`).
    Bearer(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic(basic) => basic.fmt(f),
            Credentials::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// Why an `Authorization` header was refused. All of them answer 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsError {
    /// More than one `Authorization` header: which one counts would be a guess.
    Ambiguous,
    /// Not `Basic <base64>` of UTF-8 `user:password`.
    Malformed,
    /// A scheme mlguard does not accept.
    UnsupportedScheme,
}

/// Reads the request's credentials. `Ok(None)` when there is no header at all.
pub fn parse_authorization(headers: &HeaderMap) -> Result<Option<Credentials>, CredentialsError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(CredentialsError::Ambiguous);
    }
    let value = value.to_str().map_err(|_| CredentialsError::Malformed)?;
    let (scheme, payload) = value.split_once(' ').ok_or(CredentialsError::Malformed)?;
    if scheme.eq_ignore_ascii_case("bearer") {
        let token = payload.trim();
        let well_formed = !token.is_empty()
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~+/=".contains(&b));
        return if well_formed {
            Ok(Some(Credentials::Bearer(token.to_owned())))
        } else {
            Err(CredentialsError::Malformed)
        };
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(CredentialsError::UnsupportedScheme);
    }
    let decoded = STANDARD
        .decode(payload.trim())
        .map_err(|_| CredentialsError::Malformed)?;
    let decoded = String::from_utf8(decoded).map_err(|_| CredentialsError::Malformed)?;
    let (username, password) = decoded.split_once(':').ok_or(CredentialsError::Malformed)?;
    Ok(Some(Credentials::Basic(BasicCredentials {
        username: username.to_owned(),
        password: password.to_owned(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(
                header::AUTHORIZATION,
                HeaderValue::from_str(v).expect("test header"),
            );
        }
        map
    }

    fn basic(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    #[test]
    fn parses_basic_and_keeps_colons_in_password() {
        let Some(Credentials::Basic(creds)) =
            parse_authorization(&headers(&[&basic("alice:pa:ss")])).expect("valid")
        else {
            panic!("expected Basic credentials");
        };
        assert_eq!(creds.username, "alice");
        assert_eq!(creds.password, "pa:ss");
        assert!(!format!("{creds:?}").contains("pa:ss"));
    }

    #[test]
    fn parses_bearer_tokens_and_never_prints_them() {
        let parsed = parse_authorization(&headers(&["Bearer abc.def-ghi_jkl"])).expect("valid");
        assert_eq!(
            parsed,
            Some(Credentials::Bearer("abc.def-ghi_jkl".to_owned()))
        );
        assert!(!format!("{parsed:?}").contains("abc"));
    }

    #[test]
    fn absent_header_is_anonymous() {
        assert_eq!(parse_authorization(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn refuses_malformed_and_ambiguous_headers() {
        let no_colon = basic("alice");
        let two = [basic("a:b"), basic("c:d")];
        let cases: Vec<(Vec<&str>, CredentialsError)> = vec![
            (vec!["Basic"], CredentialsError::Malformed),
            (vec!["Basic !!!notbase64"], CredentialsError::Malformed),
            (vec![no_colon.as_str()], CredentialsError::Malformed),
            (vec!["Basic /w=="], CredentialsError::Malformed),
            (vec!["Digest abc"], CredentialsError::UnsupportedScheme),
            (vec!["Bearer "], CredentialsError::Malformed),
            (vec!["Bearer a b"], CredentialsError::Malformed),
            (
                vec![two[0].as_str(), two[1].as_str()],
                CredentialsError::Ambiguous,
            ),
        ];
        for (values, expected) in cases {
            assert_eq!(
                parse_authorization(&headers(&values)),
                Err(expected),
                "{values:?}"
            );
        }
    }
}
