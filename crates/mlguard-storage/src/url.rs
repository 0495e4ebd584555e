//! Reading a database URL: which backend, where, and how to show it safely.

use std::fmt;

use crate::error::StorageError;

/// Where the data lives, decided by the URL scheme alone.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A database file (relative to the working directory unless absolute).
    SqliteFile(String),
    /// A private in-memory database, lost when its connection closes.
    SqliteMemory,
    /// A libpq connection URL, passed through unchanged.
    Postgres(String),
}

impl Target {
    /// `sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:`, `postgres://…`, `postgresql://…`.
    /// `sqlite://mlguard.db` is `mlguard.db` in the working directory and
    /// `sqlite:///abs/path.db` is `/abs/path.db`.
    pub(crate) fn parse(url: &str) -> Result<Self, StorageError> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        let rest = &url[scheme.len()..];
        if scheme.eq_ignore_ascii_case("sqlite") {
            let path = rest
                .strip_prefix("://")
                .or_else(|| rest.strip_prefix(':'))
                .unwrap_or(rest);
            return match path {
                "" => Err(StorageError::InvalidUrl {
                    url: url.to_owned(),
                    reason: "no database file given".to_owned(),
                }),
                ":memory:" => Ok(Target::SqliteMemory),
                path => Ok(Target::SqliteFile(path.to_owned())),
            };
        }
        if (scheme.eq_ignore_ascii_case("postgres") || scheme.eq_ignore_ascii_case("postgresql"))
            && rest.starts_with("://")
        {
            return Ok(Target::Postgres(url.to_owned()));
        }
        Err(StorageError::UnsupportedUrl {
            scheme: shown_scheme(scheme),
        })
    }

    /// The URL as it may appear in a message: any password replaced by `***`.
    pub(crate) fn redacted(&self) -> String {
        match self {
            Target::SqliteFile(path) => format!("sqlite://{path}"),
            Target::SqliteMemory => "sqlite::memory:".to_owned(),
            Target::Postgres(url) => redact_url(url),
        }
    }

    /// Removes the URL's password from `text` (a driver message), in case a driver
    /// ever echoes it.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let Target::Postgres(url) = self else {
            return text.to_owned();
        };
        passwords_in(url)
            .into_iter()
            .filter(|p| !p.is_empty())
            .fold(text.to_owned(), |acc, p| acc.replace(p, "***"))
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// A scheme is shown only if it looks like one; anything else (a key=value
/// connection string, say) could hold a password.
fn shown_scheme(scheme: &str) -> String {
    let looks_like_scheme = !scheme.is_empty()
        && scheme.len() <= 32
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if looks_like_scheme {
        scheme.to_owned()
    } else {
        "<none>".to_owned()
    }
}

/// Splits `scheme://[userinfo@]host[/path][?query]` into its parts.
struct UrlParts<'a> {
    /// `scheme://`
    prefix: &'a str,
    userinfo: Option<&'a str>,
    /// Host, path and anything else up to the query.
    host_and_path: &'a str,
    query: Option<&'a str>,
}

fn split_url(url: &str) -> Option<UrlParts<'_>> {
    let scheme_end = url.find("://")? + 3;
    let (prefix, rest) = url.split_at(scheme_end);
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    let (userinfo, host_and_path) = match before_query[..authority_end].rfind('@') {
        Some(at) => (Some(&before_query[..at]), &before_query[at..]),
        None => (None, before_query),
    };
    Some(UrlParts {
        prefix,
        userinfo,
        host_and_path,
        query,
    })
}

fn is_password_param(pair: &str) -> bool {
    pair.split_once('=')
        .is_some_and(|(key, _)| key.eq_ignore_ascii_case("password"))
}

/// `user:secret@host/db?password=x` becomes `user:***@host/db?password=***`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(parts) = split_url(url) else {
        return url.to_owned();
    };
    let mut out = parts.prefix.to_owned();
    if let Some(userinfo) = parts.userinfo {
        match userinfo.split_once(':') {
            Some((user, _)) => {
                out.push_str(user);
                out.push_str(":***");
            }
            None => out.push_str(userinfo),
        }
    }
    out.push_str(parts.host_and_path);
    if let Some(query) = parts.query {
        let redacted: Vec<&str> = query
            .split('&')
            .map(|pair| {
                if is_password_param(pair) {
                    "password=***"
                } else {
                    pair
                }
            })
            .collect();
        out.push('?');
        out.push_str(&redacted.join("&"));
    }
    out
}

fn passwords_in(url: &str) -> Vec<&str> {
    let Some(parts) = split_url(url) else {
        return Vec::new();
    };
    let from_userinfo = parts
        .userinfo
        .and_then(|u| u.split_once(':'))
        .map(|(_, password)| password);
    let from_query = parts.query.into_iter().flat_map(|q| {
        q.split('&')
            .filter(|pair| is_password_param(pair))
            .filter_map(|pair| pair.split_once('=').map(|(_, v)| v))
    });
    from_userinfo.into_iter().chain(from_query).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_the_backend() {
        let cases = [
            (
                "sqlite://mlguard.db",
                Target::SqliteFile("mlguard.db".into()),
            ),
            (
                "sqlite:///abs/path.db",
                Target::SqliteFile("/abs/path.db".into()),
            ),
            ("sqlite:data/m.db", Target::SqliteFile("data/m.db".into())),
            ("SQLITE://m.db", Target::SqliteFile("m.db".into())),
            ("sqlite::memory:", Target::SqliteMemory),
            ("sqlite://:memory:", Target::SqliteMemory),
            (
                "postgres://u:p@h/db",
                Target::Postgres("postgres://u:p@h/db".into()),
            ),
            (
                "postgresql://h:5432/db",
                Target::Postgres("postgresql://h:5432/db".into()),
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(Target::parse(url).ok(), Some(expected), "{url}");
        }
    }

    #[test]
    fn other_urls_are_refused_without_echoing_them() {
        for url in [
            "mysql://root:hunter2@h/db",
            "host=h password=hunter2",
            "",
            "mlguard.db",
            "postgres:hunter2",
            "sqlite://",
        ] {
            let err = Target::parse(url).expect_err(url).to_string();
            assert!(!err.contains("hunter2"), "{err}");
        }
        assert_eq!(
            Target::parse("mysql://root:hunter2@h/db"),
            Err(StorageError::UnsupportedUrl {
                scheme: "mysql".into()
            })
        );
    }

    #[test]
    fn passwords_are_redacted() {
        let cases = [
            (
                "postgres://alice:s3cr:et@db.example:5432/mlguard",
                "postgres://alice:***@db.example:5432/mlguard",
            ),
            ("postgres://alice@db/mlguard", "postgres://alice@db/mlguard"),
            ("postgres://db/mlguard", "postgres://db/mlguard"),
            (
                "postgresql://u:pw@h/d?sslmode=require&password=pw2",
                "postgresql://u:***@h/d?sslmode=require&password=***",
            ),
            ("postgres://u:p%40ss@h", "postgres://u:***@h"),
        ];
        for (url, expected) in cases {
            assert_eq!(redact_url(url), expected);
            let target = Target::Postgres(url.to_owned());
            assert_eq!(format!("{target:?}"), expected);
        }
        let target = Target::Postgres("postgres://u:topsecret@h/d?password=other".into());
        assert_eq!(
            target.scrub("bad password topsecret / other"),
            "bad password *** / ***"
        );
    }
}
