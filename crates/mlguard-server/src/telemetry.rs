//! Structured logs on stderr, as JSON or as text.
//!
//! Many logged values come from requests (login names, paths, names a caller
//! chose). JSON escapes them; in text every field goes through [`LineSafeFields`],
//! so a value can neither end its line (and forge the next one) nor pose as another
//! field.

use std::fmt::{self, Write as _};
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, LogSettings};

/// Structured logs on stderr; `RUST_LOG` overrides the configured level.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests, repeated commands) keeps the first subscriber.
    let _ = match settings.format {
        LogFormat::Json => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .try_init()
            .is_ok(),
        LogFormat::Text => {
            text_subscriber(filter, std::io::stderr, std::io::stderr().is_terminal())
                .try_init()
                .is_ok()
        }
    };
}

/// The text format: tracing-subscriber's, with every field written line-safe.
fn text_subscriber<W>(
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi)
        .fmt_fields(LineSafeFields)
        .finish()
}

/// Writes event and span fields as `name=value`, the message bare, like
/// tracing-subscriber's default, except that no value can break the line or the
/// field list: control characters (line breaks, ANSI escapes), Unicode line
/// separators and bidi overrides are escaped (`\n`, `\u{1b}`, ...) wherever they
/// are, and a value that is not one plain token (empty, or with whitespace, `"`,
/// `=`, `\` or such characters) is written as a quoted, escaped string.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineSafeFields;

impl<'writer> FormatFields<'writer> for LineSafeFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = LineSafeVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct LineSafeVisitor<'writer> {
    writer: Writer<'writer>,
    first: bool,
    result: fmt::Result,
}

impl LineSafeVisitor<'_> {
    fn write(&mut self, field: &Field, value: &str) {
        let name = field.name();
        // Metadata of events bridged from `log`, as the default formatter does.
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        self.result = if name == "message" {
            write!(self.writer, "{separator}{}", Escaped(value))
        } else {
            let name = name.strip_prefix("r#").unwrap_or(name);
            write!(self.writer, "{separator}{}={}", Escaped(name), Token(value))
        };
    }
}

impl Visit for LineSafeVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        if write!(text, "{value:?}").is_err() {
            self.result = Err(fmt::Error);
            return;
        }
        self.write(field, &text);
    }
}

/// Characters that must never reach a text log line as they are: control
/// characters (`\n`, `\r`, ESC, NEL, ...), Unicode line and paragraph separators,
/// and bidi controls that would make the line read differently.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Text with its unsafe characters escaped, the rest as it is.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if unsafe_char(c) {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// A field value: bare when it is one plain token, else quoted and escaped.
struct Token<'a>(&'a str);

impl fmt::Display for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = !self.0.is_empty()
            && !self
                .0
                .chars()
                .any(|c| c.is_whitespace() || unsafe_char(c) || matches!(c, '"' | '=' | '\\'));
        if plain {
            return f.write_str(self.0);
        }
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if unsafe_char(c) => write!(f, "{}", c.escape_default())?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

#[cfg(test)]
mod tests;
