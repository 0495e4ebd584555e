//! Structured logs on stderr, as JSON or as text.
//!
//! Many logged values come from requests (login names, paths, names a caller
//! chose). JSON escapes them; in text every field goes through [`LineSafeFields`],
//! so a value can neither end its line (and forge the next one) nor pose as another
//! field.

use std::fmt::{self, Write as _};
use std::io::{IsTerminal, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, LogSettings};

/// Log lines gathered in memory, written out together.
static LOG: LogBuffer = LogBuffer::new(write_to_stderr);

fn write_to_stderr(batch: &[u8]) {
    let mut stderr = std::io::stderr().lock();
    // Nowhere left to report a failed write to stderr.
    let _ = stderr.write_all(batch).and_then(|()| stderr.flush());
}

/// Structured logs on stderr; `RUST_LOG` overrides the configured level.
pub fn init(settings: &LogSettings) {
    let (filter, ignored) =
        level_filter(std::env::var("RUST_LOG").ok().as_deref(), &settings.level);
    let ansi = std::io::stderr().is_terminal();
    // A second init (tests, repeated commands) keeps the first subscriber.
    let installed = match settings.format {
        LogFormat::Json => json_subscriber(filter, &LOG).try_init().is_ok(),
        LogFormat::Text => text_subscriber(filter, &LOG, ansi).try_init().is_ok(),
    };
    if installed {
        LOG.start_flusher();
        // With colours on, the fmt layer's own line is kept: it colours the level.
        if !ansi {
            mlguard_api::set_access_sink(Box::new(DirectAccessLines {
                format: settings.format,
                buffer: &LOG,
            }));
        }
        for source in ignored {
            tracing::warn!(
                setting = source,
                "not a level list like `warn,mlguard_api=debug`; ignored"
            );
        }
    }
}

/// The filter: `RUST_LOG` if it parses, else the configured level, else `info`;
/// and the settings that were set but did not parse, to warn of once logging runs.
///
/// A static per-target filter, in `RUST_LOG` syntax without span and field
/// directives: tracing-subscriber's `EnvFilter` takes a shared lock each time a
/// span is entered or left, which the request span is on every poll.
fn level_filter(rust_log: Option<&str>, configured: &str) -> (Targets, Vec<&'static str>) {
    let mut ignored = Vec::new();
    let mut parse = |source: &'static str, text: Option<&str>| {
        let text = text.filter(|text| !text.trim().is_empty())?;
        let parsed = text.parse::<Targets>().ok();
        if parsed.is_none() {
            ignored.push(source);
        }
        parsed
    };
    let filter = parse("RUST_LOG", rust_log)
        .or_else(|| parse("log.level", Some(configured)))
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    (filter, ignored)
}

/// Writes out every gathered line; call before the process ends.
pub fn flush() {
    LOG.write_out();
}

/// How long an info line may wait in memory before it is written.
const FLUSH_INTERVAL: Duration = Duration::from_millis(20);
/// Gathered bytes past which the thread that logs writes them out itself.
const FLUSH_BYTES: usize = 64 * 1024;

/// The access log writes one line per request: one `write` each would cost as
/// much as the proxying itself, and a logging thread woken per line more still.
/// Lines are appended under a lock instead and written every [`FLUSH_INTERVAL`]
/// by a flusher thread; a warning or an error, or a full buffer, is written at
/// once by the thread that logs it. Nothing is dropped.
struct LogBuffer {
    pending: Mutex<Vec<u8>>,
    /// Held while a batch goes out, so batches keep their order. The batch's
    /// buffer is swapped with `pending`'s, so neither is grown afresh each time.
    writing: Mutex<Vec<u8>>,
    sink: fn(&[u8]),
    flusher: std::sync::Once,
    /// Without a flusher thread, every line is written at once.
    flusher_running: AtomicBool,
}

impl LogBuffer {
    const fn new(sink: fn(&[u8])) -> Self {
        Self {
            pending: Mutex::new(Vec::new()),
            writing: Mutex::new(Vec::new()),
            sink,
            flusher: std::sync::Once::new(),
            flusher_running: AtomicBool::new(false),
        }
    }

    fn start_flusher(&'static self) {
        self.flusher.call_once(|| {
            let spawned = std::thread::Builder::new()
                .name("mlguard-log".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(FLUSH_INTERVAL);
                        self.write_out();
                    }
                });
            match spawned {
                Ok(_) => self.flusher_running.store(true, Ordering::Release),
                Err(_) => {
                    eprintln!("mlguard: no log flusher thread; log lines are written as they come");
                }
            }
        });
    }

    fn append(&self, line: &[u8], at_once: bool) {
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending.extend_from_slice(line);
            pending.len() >= FLUSH_BYTES
        };
        if at_once || full || !self.flusher_running.load(Ordering::Acquire) {
            self.write_out();
        }
    }

    fn write_out(&self) {
        let mut batch = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(
            &mut *batch,
            &mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner),
        );
        if !batch.is_empty() {
            (self.sink)(&batch);
            batch.clear();
        }
        // A burst's buffer is not kept for good.
        if batch.capacity() > 4 * FLUSH_BYTES {
            *batch = Vec::new();
        }
    }
}

/// One event's line, as the fmt layer writes it.
struct LogLine {
    buffer: &'static LogBuffer,
    at_once: bool,
}

impl std::io::Write for LogLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.append(bytes, self.at_once);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for &'static LogBuffer {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine {
            buffer: self,
            at_once: true,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> LogLine {
        LogLine {
            buffer: self,
            at_once: *meta.level() <= tracing::Level::WARN,
        }
    }
}

/// The JSON format: one object per line, the event's fields at its top level.
fn json_subscriber<W>(
    filter: Targets,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry().with(filter).with(
        tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .event_format(JsonLines),
    )
}
/// tracing-subscriber's flattened JSON line (`timestamp`, `level`, the fields,
/// `target`), and for a line written while serving a request the `span` and
/// `spans` its request span would have given: the request is named by
/// [`mlguard_http::request_id`], not by a span.
struct JsonLines;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JsonLines
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        _: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let text = |value: &str| serde_json::to_string(value).map_err(|_| fmt::Error);
        let timestamp = timestamp_now();
        let mut line = String::with_capacity(256);
        write!(
            line,
            r#"{{"timestamp":{},"level":"{}""#,
            text(&timestamp)?,
            meta.level()
        )?;
        let mut fields = JsonFields {
            line: &mut line,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        write!(line, r#","target":{}"#, text(meta.target())?)?;
        mlguard_http::request_id::with_current(|id| match id {
            Some(id) => {
                let span = format!(r#"{{"request_id":{},"name":"request"}}"#, text(id)?);
                write!(line, r#","span":{span},"spans":[{span}]"#)
            }
            None => Ok(()),
        })?;
        line.push('}');
        writeln!(writer, "{line}")
    }
}

/// An event's fields as `,"name":value` pairs, as tracing-serde writes them.
struct JsonFields<'a> {
    line: &'a mut String,
    result: fmt::Result,
}

impl JsonFields<'_> {
    fn entry(&mut self, field: &Field, value: Result<String, serde_json::Error>) {
        // Metadata of events bridged from `log`, which tracing-serde leaves out.
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        self.result = match (serde_json::to_string(field.name()), value) {
            (Ok(name), Ok(value)) => write!(self.line, ",{name}:{value}"),
            _ => Err(fmt::Error),
        };
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, serde_json::to_string(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, serde_json::to_string(&value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, serde_json::to_string(&value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.entry(field, serde_json::to_string(&value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, serde_json::to_string(&value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, serde_json::to_string(&format!("{value:?}")));
    }
}

/// tracing-subscriber's full text line (timestamp, level, spans, target, fields), and
/// for a line written while serving a request the `request{request_id=...}: `
/// its request span would have given: the request is named by
/// [`mlguard_http::request_id`], not by a span.
struct TextLines {
    ansi: bool,
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for TextLines
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let timestamp = timestamp_now();
        let level = *meta.level();
        if self.ansi {
            let colour = match level {
                tracing::Level::ERROR => "31",
                tracing::Level::WARN => "33",
                tracing::Level::INFO => "32",
                tracing::Level::DEBUG => "34",
                tracing::Level::TRACE => "35",
            };
            write!(
                writer,
                "\x1b[2m{timestamp}\x1b[0m \x1b[{colour}m{level:>5}\x1b[0m "
            )?;
        } else {
            write!(writer, "{timestamp} {level:>5} ")?;
        }
        mlguard_http::request_id::with_current(|id| match id {
            Some(id) => write!(writer, "request{{request_id={}}}: ", Token(id)),
            None => Ok(()),
        })?;
        // Spans a library opened, as the stock format writes them.
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, "{}", span.name())?;
                let extensions = span.extensions();
                if let Some(fields) =
                    extensions.get::<tracing_subscriber::fmt::FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{{{fields}}}")?;
                }
                writer.write_char(':')?;
            }
            writer.write_char(' ')?;
        }
        write!(writer, "{}: ", meta.target())?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// The access line written straight into the log buffer: the line the fmt layer
/// writes for [`mlguard_api::log_as_event`], without visiting and formatting an
/// event's fields through `tracing` on every request.
struct DirectAccessLines {
    format: LogFormat,
    buffer: &'static LogBuffer,
}

impl mlguard_api::AccessSink for DirectAccessLines {
    fn write(&self, entry: &mlguard_api::AccessEntry<'_>) {
        // One buffer per thread, reused.
        thread_local! {
            static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        let written = LINE.try_with(|line| {
            let Ok(mut line) = line.try_borrow_mut() else {
                return false;
            };
            line.clear();
            if access_line(&mut line, self.format, entry).is_err() {
                return false;
            }
            self.buffer.append(line.as_bytes(), false);
            true
        });
        if written != Ok(true) {
            mlguard_api::log_as_event(entry);
        }
    }
}

const ACCESS_TARGET: &str = "mlguard_api::access_log";

/// `entry` as the fmt layer would write its event, in `format`, with a newline.
fn access_line(
    out: &mut String,
    format: LogFormat,
    entry: &mlguard_api::AccessEntry<'_>,
) -> fmt::Result {
    match format {
        LogFormat::Text => {
            push_timestamp(out, std::time::SystemTime::now());
            out.push_str("  INFO ");
            out.push_str(ACCESS_TARGET);
            out.push_str(": request http.method=");
            push_token(out, entry.method)?;
            out.push_str(" http.path=");
            push_token(out, entry.path)?;
            write!(
                out,
                " http.status={} latency_us={} request_id=",
                entry.status, entry.latency_us
            )?;
            push_token(out, entry.request_id)?;
            if let Some(user) = entry.user {
                out.push_str(" user.name=");
                push_token(out, user)?;
            }
        }
        LogFormat::Json => {
            let timestamp = timestamp_now();
            let text = |value: &str| serde_json::to_string(value).map_err(|_| fmt::Error);
            write!(
                out,
                r#"{{"timestamp":{},"level":"INFO","message":"request","http.method":{},"http.path":{},"http.status":{},"latency_us":{},"request_id":{}"#,
                text(&timestamp)?,
                text(entry.method)?,
                text(entry.path)?,
                entry.status,
                entry.latency_us,
                text(entry.request_id)?,
            )?;
            if let Some(user) = entry.user {
                write!(out, r#","user.name":{}"#, text(user)?)?;
            }
            write!(out, r#","target":"{ACCESS_TARGET}"}}"#)?;
        }
    }
    out.push('\n');
    Ok(())
}

/// A field value as [`Token`] writes it, without the formatting machinery when it
/// is a plain token already (as almost every method, path and id is).
fn push_token(out: &mut String, value: &str) -> fmt::Result {
    if is_plain_ascii_token(value) {
        out.push_str(value);
        Ok(())
    } else {
        write!(out, "{}", Token(value))
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, as tracing-subscriber's `SystemTime` writes it.
const TIMESTAMP_LEN: usize = 27;

/// Now, as [`push_timestamp`] writes it, on its own.
fn timestamp_now() -> String {
    let mut timestamp = String::with_capacity(TIMESTAMP_LEN);
    push_timestamp(&mut timestamp, std::time::SystemTime::now());
    timestamp
}

/// `at` in UTC as tracing-subscriber's `SystemTime` timer writes it. The date and
/// time of day are worked out once a second per thread; a line in the same
/// second only writes its microseconds.
fn push_timestamp(out: &mut String, at: std::time::SystemTime) {
    thread_local! {
        /// The second last written, and its text up to the fraction.
        static SECOND: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((u64::MAX, [0; 19])) };
    }
    // Before 1970 is no time a log line is written at.
    let since_epoch = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (cached, mut text) = SECOND
        .try_with(std::cell::Cell::get)
        .unwrap_or((u64::MAX, [0; 19]));
    if cached != seconds {
        text = utc_second(seconds);
        let _ = SECOND.try_with(|cell| cell.set((seconds, text)));
    }
    // Only ASCII digits and separators were put in.
    out.push_str(std::str::from_utf8(&text).unwrap_or("1970-01-01T00:00:00"));
    let _ = write!(out, ".{:06}Z", since_epoch.subsec_micros());
}

/// `YYYY-MM-DDTHH:MM:SS` of a second since 1970 (proleptic Gregorian, UTC).
fn utc_second(seconds: u64) -> [u8; 19] {
    let days = seconds / 86_400;
    let in_day = seconds % 86_400;
    // Days to a civil date: the era-based method (H. Hinnant, "chrono-Compatible
    // Low-Level Date Algorithms"), counted from 0000-03-01.
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    let mut text = [0u8; 19];
    let mut put = |at: usize, width: usize, mut value: u64| {
        for slot in text[at..at + width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8; // a digit
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, in_day / 3600);
    put(14, 2, in_day / 60 % 60);
    put(17, 2, in_day % 60);
    for (at, separator) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')] {
        text[at] = separator;
    }
    text
}

/// The text format: tracing-subscriber's, with every field written line-safe.
fn text_subscriber<W>(
    filter: Targets,
    writer: W,
    ansi: bool,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // A bare registry: `tracing_subscriber::fmt()` would add a level cap of its
    // own (info), under which `RUST_LOG=debug` would show nothing more.
    tracing_subscriber::registry().with(filter).with(
        tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(ansi)
            .event_format(TextLines { ansi })
            .fmt_fields(LineSafeFields),
    )
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
    /// The separator before the next field, and whether the field is written.
    fn start(&mut self, field: &Field) -> Option<&'static str> {
        // Metadata of events bridged from `log`, as the default formatter does.
        if self.result.is_err() || field.name().starts_with("log.") {
            return None;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        Some(separator)
    }

    fn write(&mut self, field: &Field, value: &str) {
        let Some(separator) = self.start(field) else {
            return;
        };
        let name = field.name();
        self.result = if name == "message" {
            write!(self.writer, "{separator}{}", Escaped(value))
        } else {
            let name = name.strip_prefix("r#").unwrap_or(name);
            write!(self.writer, "{separator}{}={}", Escaped(name), Token(value))
        };
    }

    /// A value whose text is never anything but a plain token (a number, a bool).
    fn write_plain(&mut self, field: &Field, value: impl fmt::Display) {
        let Some(separator) = self.start(field) else {
            return;
        };
        let name = field.name();
        self.result = if name == "message" {
            write!(self.writer, "{separator}{value}")
        } else {
            let name = name.strip_prefix("r#").unwrap_or(name);
            write!(self.writer, "{separator}{}={value}", Escaped(name))
        };
    }
}

impl Visit for LineSafeVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(field, value);
    }

    // Numbers and booleans need no escaping and no buffer: most fields of the
    // per-request line (status, counts) are written straight out.
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.write_plain(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.write_plain(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.write_plain(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // One buffer per thread, reused: a formatted value is escaped before it
        // is written, so it must be whole first. Taken out while in use, so a
        // value whose formatting logs gets a buffer of its own.
        thread_local! {
            static TEXT: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
        }
        let mut text = TEXT.try_with(std::cell::Cell::take).unwrap_or_default();
        text.clear();
        if write!(text, "{value:?}").is_err() {
            self.result = Err(fmt::Error);
            return;
        }
        self.write(field, &text);
        if text.capacity() <= 4096 {
            let _ = TEXT.try_with(|cell| cell.set(text));
        }
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
        // Safe runs are written whole: most values have no character to escape.
        if self.0.bytes().all(|b| (b' '..0x7f).contains(&b)) {
            return f.write_str(self.0);
        }
        let mut rest = self.0;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| unsafe_char(c)) {
            f.write_str(&rest[..at])?;
            write!(f, "{}", c.escape_default())?;
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

struct Token<'a>(&'a str);

/// A non-empty printable ASCII value with nothing to quote: written as it is.
fn is_plain_ascii_token(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'=' | b'\\'))
}

impl fmt::Display for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Most values are printable ASCII: checked byte by byte, without decoding.
        let plain = is_plain_ascii_token(self.0)
            || (!self.0.is_ascii()
                && !self
                    .0
                    .chars()
                    .any(|c| c.is_whitespace() || unsafe_char(c) || matches!(c, '"' | '=' | '\\')));
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
