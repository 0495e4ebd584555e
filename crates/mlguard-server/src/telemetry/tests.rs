//! Log forging from the caller's side: request-derived values (a login name, a
//! path, a request id) never start a line of their own in the text format.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use mlguard_api::{AppState, AuthSettings};
use mlguard_domain::{BoxFuture, Password, Permission, UserStore, Username};
use mlguard_gateway::{ForwardError, Gateway};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

use super::{access_line, json_subscriber, level_filter, text_subscriber};
use crate::config::LogFormat;

/// The timestamp of a line mlguard did not write.
const FORGED: &str = "2026-12-01T00:00:00Z INFO forged";
const LOGIN: &str = "alice\n2026-12-01T00:00:00Z INFO forged admin login";

/// Log output kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

fn subscriber(logs: &Captured) -> impl tracing::Subscriber + Send + Sync + 'static {
    text_subscriber(level_filter(None, "trace").0, logs.clone(), false)
}

/// Every line is one event mlguard wrote: it starts with mlguard's own timestamp
/// (with fractions of a second) and none starts with the forged text.
fn assert_no_forged_lines(text: &str) {
    for line in text.lines() {
        assert!(!line.starts_with(FORGED), "forged line: {line:?}\n{text}");
        assert!(
            line.len() > 27 && line.as_bytes()[19] == b'.' && line.starts_with("20"),
            "not an event line: {line:?}\n{text}"
        );
    }
    for c in ['\r', '\u{1b}', '\u{2028}', '\u{202e}', '\u{85}'] {
        assert!(!text.contains(c), "{c:?} written as it is:\n{text}");
    }
}

#[test]
fn request_values_can_neither_break_a_line_nor_pose_as_a_field() {
    let logs = Captured::default();
    tracing::subscriber::with_default(subscriber(&logs), || {
        let path = "/x\r\n2026-12-01T00:00:00Z INFO forged path";
        let span =
            tracing::info_span!("request", http.path = %path, user.name = tracing::field::Empty);
        let _entered = span.enter();
        span.record("user.name", "bob\u{2028}2026-12-01T00:00:00Z INFO forged");
        tracing::info!(user.name = %LOGIN, "authentication failed");
        tracing::info!(target.user = %"mallory is_admin=true", "user created");
        tracing::info!(graphql.field = ?"a\nb", note = "\u{202e}\u{1b}[2K\u{85}", "denied");
        tracing::info!(
            a = "k=v",
            b = "say\"hi\"",
            c = "back\\slash",
            d = "del\u{7f}",
            e = "run-1/x.y",
            "ascii"
        );
        tracing::info!(
            "{}",
            "a message\r\n2026-12-01T00:00:00Z INFO forged message"
        );
    });
    let text = logs.text();
    assert_eq!(text.lines().count(), 5, "one line per event:\n{text}");
    assert!(
        text.contains(r#"a="k=v" b="say\"hi\"" c="back\\slash" d="del\u{7f}" e=run-1/x.y"#),
        "{text}"
    );
    assert_no_forged_lines(&text);
    assert!(text.contains(r#"user.name="alice\n2026-12-01T00:00:00Z INFO forged admin login""#));
    assert!(text.contains(r#"http.path="/x\r\n2026-12-01T00:00:00Z INFO forged path""#));
    assert!(
        text.contains(r#"target.user="mallory is_admin=true""#),
        "{text}"
    );
    assert!(text.contains(r#"note="\u{202e}\u{1b}[2K\u{85}""#), "{text}");
    // Plain values stay as they were.
    assert!(
        text.contains(": authentication failed user.name="),
        "{text}"
    );
}

/// Forwards nothing: the requests here are all refused before that.
struct NoUpstream;

impl NoUpstream {
    /// Answers one forwarded request.
    fn forward(
        &self,
        _: axum::extract::Request,
    ) -> BoxFuture<'static, Result<axum::response::Response, ForwardError>> {
        Box::pin(async { Err(ForwardError::Unreachable("no upstream in this test".into())) })
    }
}

/// One raw HTTP/1.1 request, as an attacker would send it; the status code.
fn send(address: SocketAddr, head: &str) -> u16 {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream
        .write_all(format!("{head}Host: mlguard\r\nConnection: close\r\n\r\n").as_bytes())
        .expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Authorization: Basic {encoded}\r\n")
}

#[tokio::test]
async fn a_forged_login_name_or_path_writes_no_line_of_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("mlguard.db").display());
    let store =
        mlguard_storage::Store::connect(&url, mlguard_storage::PoolOptions::default()).expect("db");
    store.run_migrations().expect("migrations");
    store
        .create_user(
            &Username::parse("alice").expect("name"),
            &Password::new("alice-password-123").expect("password"),
            false,
        )
        .expect("alice");
    let lookups = mlguard_upstream::TrackingLookups::new(
        mlguard_upstream::UpstreamClient::new(&mlguard_upstream::UpstreamOptions {
            base_url: "http://127.0.0.1:9".into(),
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
            max_idle_per_host: 1,
            pool_idle_timeout: Duration::from_secs(1),
        })
        .expect("client"),
        16,
    );
    let state = AppState::new(Arc::new(store), Permission::Read).with_auth(
        &AuthSettings::default(),
        None,
        Duration::from_secs(60),
    );
    let state = crate::serve::mount_gateway(
        state,
        Gateway::new(
            tower::service_fn({
                let upstream = Arc::new(NoUpstream);
                move |request| upstream.forward(request)
            }),
            Arc::new(lookups),
            None,
            1 << 20,
        ),
    );

    let logs = Captured::default();
    // This thread's subscriber: the server runs on it (a current-thread runtime).
    let _default = tracing::subscriber::set_default(subscriber(&logs));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = mlguard_api::app(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let alice = basic("alice", "alice-password-123");
    let requests = [
        (
            format!(
                "GET /api/2.0/mlflow/users/get?username=alice HTTP/1.1\r\n{}",
                basic(LOGIN, "alice-password-123")
            ),
            401,
        ),
        (
            format!(
                "GET /api/2.0/mlflow/users/get?username=alice HTTP/1.1\r\n{}",
                basic(
                    "alice\r\n2026-12-01T00:00:00Z INFO forged",
                    "wrong-password-1"
                )
            ),
            401,
        ),
        (
            format!(
                "GET /forged%0D%0A2026-12-01T00:00:00Z%20INFO%20forged%20path HTTP/1.1\r\n{alice}"
            ),
            // The gateway refuses a path with control characters outright.
            400,
        ),
        (
            format!(
                "GET /api/2.0/mlflow/users/get?username=alice HTTP/1.1\r\n{alice}X-Request-Id: a\tb=c d\r\n"
            ),
            200,
        ),
    ];
    for (head, expected) in requests {
        let status = tokio::task::spawn_blocking(move || send(address, &head))
            .await
            .expect("client");
        assert_eq!(status, expected);
    }
    server.abort();

    let text = logs.text();
    assert_no_forged_lines(&text);
    assert!(text.contains("not a valid username"), "{text}");
    assert!(text.contains(r#"request_id="a\tb=c d""#), "{text}");
    // A line logged while serving a request names the request it belongs to.
    let refused = text
        .lines()
        .find(|line| line.contains("not a valid username"))
        .expect("the refusal's line");
    assert!(refused.contains("request{request_id="), "{refused}");
    // One access line per request: what was asked, by whom, and the answer.
    let access: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("mlguard_api::access_log: request "))
        .collect();
    assert_eq!(access.len(), 4, "{text}");
    let served = access
        .iter()
        .find(|line| line.contains("http.status=200"))
        .expect("the served request's access line");
    for field in [
        "http.method=GET",
        "http.path=/api/2.0/mlflow/users/get",
        "user.name=alice",
        r#"request_id="a\tb=c d""#,
        "latency_us=",
    ] {
        assert!(served.contains(field), "{field} missing: {served}");
    }
    assert!(
        !access
            .iter()
            .any(|line| line.contains("http.status=401") && line.contains("user.name=")),
        "a refused login is logged as a user: {text}"
    );
}

/// What the buffer under test wrote out, batch by batch.
static WRITTEN: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

fn record_batch(batch: &[u8]) {
    WRITTEN.lock().expect("lock").push(batch.to_vec());
}

#[test]
fn info_lines_wait_for_the_flush_and_warnings_take_everything_out_in_order() {
    static BUFFER: super::LogBuffer = super::LogBuffer::new(record_batch);
    BUFFER
        .flusher_running
        .store(true, std::sync::atomic::Ordering::Release);
    BUFFER.append(b"info 1\n", false);
    BUFFER.append(b"info 2\n", false);
    assert!(
        WRITTEN.lock().expect("lock").is_empty(),
        "info lines went out one by one"
    );
    BUFFER.append(b"warn 3\n", true);
    assert_eq!(
        *WRITTEN.lock().expect("lock"),
        vec![b"info 1\ninfo 2\nwarn 3\n".to_vec()]
    );
    // A full buffer goes out without waiting for the flusher.
    let long = vec![b'x'; super::FLUSH_BYTES];
    BUFFER.append(&long, false);
    assert_eq!(WRITTEN.lock().expect("lock").len(), 2);
    BUFFER.append(b"info 4\n", false);
    super::LogBuffer::write_out(&BUFFER);
    assert_eq!(WRITTEN.lock().expect("lock")[2], b"info 4\n".to_vec());
}

#[test]
fn rust_log_overrides_the_configured_level_and_a_bad_one_is_ignored() {
    use tracing::Level;
    use tracing_subscriber::filter::Targets;
    let enabled =
        |filter: &Targets, target: &str, level: Level| filter.would_enable(target, &level);

    let (configured, ignored) = level_filter(None, "warn");
    assert!(ignored.is_empty());
    assert!(enabled(&configured, "mlguard_api::access_log", Level::WARN));
    assert!(!enabled(
        &configured,
        "mlguard_api::access_log",
        Level::INFO
    ));

    let (per_target, _) = level_filter(Some("warn,mlguard_api=debug"), "error");
    assert!(enabled(&per_target, "mlguard_api::auth", Level::DEBUG));
    assert!(!enabled(&per_target, "hyper", Level::INFO));
    assert!(enabled(&per_target, "hyper", Level::WARN));

    // Unparsable or blank RUST_LOG: the configured level; a bad one of both: info.
    // What was set but not understood is named, to be warned of.
    let (fallback, ignored) = level_filter(Some("mlguard=[span{x}]=nonsense"), "error");
    assert_eq!(ignored, ["RUST_LOG"]);
    assert!(!enabled(&fallback, "mlguard", Level::WARN));
    let (blank, ignored) = level_filter(Some("  "), "debug");
    assert!(ignored.is_empty());
    assert!(enabled(&blank, "mlguard", Level::DEBUG));
    let (default, ignored) = level_filter(Some("=?="), "=?=");
    assert_eq!(ignored, ["RUST_LOG", "log.level"]);
    assert!(enabled(&default, "mlguard", Level::INFO));
    assert!(!enabled(&default, "mlguard", Level::DEBUG));
}

/// What an operator sees: `debug` shows debug lines (no hidden info cap under the
/// filter), and `info` keeps them out.
#[test]
fn the_configured_level_is_what_the_log_shows() {
    for (level, shown) in [("debug", true), ("mlguard=debug", true), ("info", false)] {
        let logs = Captured::default();
        let subscriber = text_subscriber(level_filter(None, level).0, logs.clone(), false);
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "mlguard", "a debug line");
            tracing::info!(target: "mlguard", "an info line");
        });
        let text = logs.text();
        assert!(text.contains("an info line"), "{level}: {text}");
        assert_eq!(text.contains("a debug line"), shown, "{level}: {text}");
    }
}

/// Requests whose access lines are compared: plain, anonymous, and with values
/// that must be escaped or quoted.
fn access_entries() -> Vec<mlguard_api::AccessEntry<'static>> {
    let plain = mlguard_api::AccessEntry {
        method: "GET",
        path: "/api/2.0/mlflow/experiments/get",
        status: 200,
        latency_us: 87,
        request_id: "0b6f3c0e-1d2a-4f6e-9c1b-5a7d8e9f0a1b",
        user: Some("alice"),
    };
    vec![
        plain,
        mlguard_api::AccessEntry {
            user: None,
            status: 401,
            ..plain
        },
        mlguard_api::AccessEntry {
            method: "PATCH",
            path: "/x\r\n2026-12-01T00:00:00Z INFO forged path \"q\" a=b \u{2028}\\",
            request_id: "id with space",
            user: Some("bob\u{202e}"),
            latency_us: u64::MAX,
            ..plain
        },
    ]
}

/// One line through the fmt layer's event, one written directly.
fn both_lines(format: LogFormat, entry: &mlguard_api::AccessEntry<'_>) -> (String, String) {
    let logs = Captured::default();
    let filter = level_filter(None, "info").0;
    match format {
        LogFormat::Text => {
            tracing::subscriber::with_default(text_subscriber(filter, logs.clone(), false), || {
                mlguard_api::log_as_event(entry)
            })
        }
        LogFormat::Json => {
            tracing::subscriber::with_default(json_subscriber(filter, logs.clone()), || {
                mlguard_api::log_as_event(entry)
            })
        }
    }
    let mut direct = String::new();
    access_line(&mut direct, format, entry).expect("formats");
    (logs.text(), direct)
}

#[test]
fn the_direct_access_line_is_the_text_line_the_event_writes() {
    for entry in access_entries() {
        let (event, direct) = both_lines(LogFormat::Text, &entry);
        assert_eq!(event.lines().count(), 1, "{event}");
        assert!(
            direct.ends_with('\n') && direct.lines().count() == 1,
            "{direct:?}"
        );
        assert_no_forged_lines(&direct);
        // Apart from the timestamp (the first word), the two lines are equal.
        let (event_time, event_rest) = event.split_once(' ').expect("a timestamp");
        let (direct_time, direct_rest) = direct.split_once(' ').expect("a timestamp");
        assert_eq!(direct_rest, event_rest);
        assert_eq!(
            direct_time.len(),
            event_time.len(),
            "{direct_time} / {event_time}"
        );
    }
}

#[test]
fn the_direct_access_line_is_the_json_line_the_event_writes() {
    for entry in access_entries() {
        let (event, direct) = both_lines(LogFormat::Json, &entry);
        assert!(
            direct.ends_with('\n') && direct.lines().count() == 1,
            "{direct:?}"
        );
        let mut event: serde_json::Value = serde_json::from_str(&event).expect("JSON");
        let mut direct: serde_json::Value = serde_json::from_str(&direct).expect("JSON");
        let event_time = event.as_object_mut().and_then(|o| o.remove("timestamp"));
        let direct_time = direct.as_object_mut().and_then(|o| o.remove("timestamp"));
        assert_eq!(direct, event);
        assert_eq!(direct["http.path"], entry.path);
        let length = |time: Option<serde_json::Value>| time.and_then(|t| t.as_str().map(str::len));
        assert_eq!(length(direct_time), length(event_time));
    }
}

#[test]
fn timestamps_are_utc_dates_as_the_fmt_layer_writes_them() {
    use std::time::{Duration, UNIX_EPOCH};
    let at = |seconds: u64, micros: u64| {
        let mut text = String::new();
        super::push_timestamp(
            &mut text,
            UNIX_EPOCH + Duration::from_micros(seconds * 1_000_000 + micros),
        );
        text
    };
    assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
    assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
    assert_eq!(at(951_868_799, 999_999), "2000-02-29T23:59:59.999999Z");
    assert_eq!(at(1_709_251_199, 10), "2024-02-29T23:59:59.000010Z");
    assert_eq!(at(4_102_444_799, 123_456), "2099-12-31T23:59:59.123456Z");
    assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000000Z");
    // Within a second the cached date is kept; the next second gets its own.
    assert_eq!(at(1_796_083_199, 1), "2026-11-30T23:59:59.000001Z");
    assert_eq!(at(1_796_083_199, 2), "2026-11-30T23:59:59.000002Z");
    assert_eq!(at(1_796_083_200, 3), "2026-12-01T00:00:00.000003Z");
    // And now, as the fmt layer's timer says (to the minute: the two are read
    // one after the other).
    use tracing_subscriber::fmt::time::FormatTime as _;
    for _ in 0..3 {
        let mut theirs = String::new();
        tracing_subscriber::fmt::time::SystemTime
            .format_time(&mut tracing_subscriber::fmt::format::Writer::new(
                &mut theirs,
            ))
            .expect("formats");
        let mut ours = String::new();
        super::push_timestamp(&mut ours, std::time::SystemTime::now());
        assert_eq!(ours.len(), theirs.len(), "{ours} / {theirs}");
        if ours[..16] == theirs[..16] {
            return;
        }
    }
    panic!("the minute differs three times in a row");
}

/// Lines as a request's code writes them: plain, with numbers, a flag, a
/// fraction, a debug value and a message that must be escaped.
fn emit_request_lines() {
    tracing::info!(user.name = %LOGIN, "authentication failed");
    tracing::warn!(
        count = 3u64,
        delta = -2i64,
        ok = true,
        ratio = 0.5,
        note = ?"x\ny",
        "denied {}",
        "a\nb"
    );
}

/// The same lines through the stock fmt layer, outside and inside the `request`
/// span mlguard used to open per request, and through mlguard's format, outside
/// and inside a request scope: they must read the same.
fn stock_and_ours(format: LogFormat) -> (String, String) {
    let filter = || level_filter(None, "info").0;
    let (stock, ours) = (Captured::default(), Captured::default());
    let in_span = || {
        emit_request_lines();
        let span = tracing::info_span!("request", request_id = "r-1 \"x\"");
        let _entered = span.enter();
        emit_request_lines();
    };
    let in_scope = || {
        emit_request_lines();
        let id = axum::http::HeaderValue::from_static("r-1 \"x\"");
        mlguard_http::request_id::on_this_thread(Some(id), emit_request_lines);
    };
    match format {
        LogFormat::Text => {
            let stock_text = tracing_subscriber::registry().with(filter()).with(
                tracing_subscriber::fmt::layer()
                    .with_writer(stock.clone())
                    .with_ansi(false)
                    .fmt_fields(super::LineSafeFields),
            );
            tracing::subscriber::with_default(stock_text, in_span);
            tracing::subscriber::with_default(
                text_subscriber(filter(), ours.clone(), false),
                in_scope,
            );
        }
        LogFormat::Json => {
            let stock_json = tracing_subscriber::registry().with(filter()).with(
                tracing_subscriber::fmt::layer()
                    .with_writer(stock.clone())
                    .json()
                    .flatten_event(true),
            );
            tracing::subscriber::with_default(stock_json, in_span);
            tracing::subscriber::with_default(json_subscriber(filter(), ours.clone()), in_scope);
        }
    }
    (stock.text(), ours.text())
}

#[test]
fn text_lines_read_as_the_stock_format_with_a_request_span_wrote_them() {
    let (stock, ours) = stock_and_ours(LogFormat::Text);
    assert_eq!(ours.lines().count(), 4, "{ours}");
    assert_no_forged_lines(&ours);
    for (stock, ours) in stock.lines().zip(ours.lines()) {
        let (_, stock) = stock.split_once(' ').expect("a timestamp");
        let (_, ours) = ours.split_once(' ').expect("a timestamp");
        assert_eq!(ours, stock);
    }
    assert!(
        ours.contains(
            r#" request{request_id="r-1 \"x\""}: mlguard::telemetry::tests: denied a\nb count=3"#
        ),
        "{ours}"
    );
}

#[test]
fn json_lines_read_as_the_stock_format_with_a_request_span_wrote_them() {
    let (stock, ours) = stock_and_ours(LogFormat::Json);
    assert_eq!(ours.lines().count(), 4, "{ours}");
    for (stock, ours) in stock.lines().zip(ours.lines()) {
        let mut stock: serde_json::Value = serde_json::from_str(stock).expect("JSON");
        let mut ours: serde_json::Value = serde_json::from_str(ours).expect("JSON");
        let times = [&mut stock, &mut ours]
            .map(|line| line.as_object_mut().and_then(|o| o.remove("timestamp")));
        assert_eq!(ours, stock);
        let length =
            |time: &Option<serde_json::Value>| time.as_ref().and_then(|t| t.as_str().map(str::len));
        assert_eq!(length(&times[0]), length(&times[1]));
    }
    assert!(
        ours.lines().nth(3).is_some_and(
            |line| line.contains(r#""span":{"request_id":"r-1 \"x\"","name":"request"}"#)
        ),
        "{ours}"
    );
}
