//! HTTP/1 framing from the attacker's side: the real `mlguard` binary, a raw TCP
//! socket, and a recording upstream standing in for MLflow. Every ambiguous or
//! oversized request head is answered in MLflow's JSON error shape, never reaches the
//! upstream, and leaves the server answering.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "framing-test-password";

/// Answers every request `200 {}` and keeps what it received.
struct Upstream {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Upstream {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let record = Arc::clone(&record);
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut received = Vec::new();
                    let mut buf = [0u8; 8192];
                    // Each request head gets an answer; the connection may be reused.
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => received.extend_from_slice(&buf[..n]),
                        }
                        let text = String::from_utf8_lossy(&received).into_owned();
                        // A request head (not the end of a chunked body).
                        if text.contains(" HTTP/1.1\r\n") && text.contains("\r\n\r\n") {
                            record.lock().expect("lock").push(text);
                            received.clear();
                            let _ = stream.write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                  content-length: 2\r\n\r\n{}",
                            );
                        }
                    }
                });
            }
        });
        Self { url, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().expect("lock").clone()
    }
}

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(upstream: &Upstream) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_mlguard"));
        for (name, _) in std::env::vars() {
            if name.starts_with("MLGUARD_") {
                command.env_remove(name);
            }
        }
        let child = command
            .arg("serve")
            .env("MLGUARD_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "MLGUARD_DATABASE__URL",
                format!("sqlite://{}", dir.path().join("mlguard.db").display()),
            )
            .env("MLGUARD_AUTH__ADMIN_PASSWORD", PASSWORD)
            .env("MLGUARD_UPSTREAM__URL", &upstream.url)
            .env("MLGUARD_LOG__LEVEL", "warn")
            .env_remove("RUST_LOG")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mlguard");
        let server = Self {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && server
                    .send(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
                    .starts_with("HTTP/1.1 200")
            {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("mlguard did not become healthy");
    }

    /// Writes `request` as is and reads until the server closes the connection.
    fn send(&self, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        // The server may answer and close before it has read everything.
        let _ = stream.write_all(request);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }
}

fn authorization() -> String {
    use base64::Engine;
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"));
    format!("authorization: Basic {credentials}\r\n")
}

/// A request for an upstream route, as the admin (forwarded without any decision),
/// with `headers` and `body` as given.
fn to_upstream(headers: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /api/2.0/mlflow/runs/log-metric HTTP/1.1\r\nhost: 127.0.0.1\r\n{}\
         content-type: application/json\r\n{headers}\r\n{body}",
        authorization()
    )
    .into_bytes()
}

/// Status, then the JSON error body, of one answer.
fn json_error(answer: &str) -> (u16, serde_json::Value) {
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete answer: {answer:?}"));
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status: {answer:?}"));
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("\r\ncontent-type: application/json"),
        "{answer:?}"
    );
    assert!(lower.contains("\r\nx-request-id: "), "{answer:?}");
    let body: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer:?}"));
    assert!(body["error_code"].is_string(), "{body}");
    assert!(body["message"].is_string(), "{body}");
    (status, body)
}

#[test]
fn bad_framing_is_refused_in_json_and_never_forwarded() {
    let upstream = Upstream::start();
    let server = Server::start(&upstream);

    // The server and the upstream work: a plain and a chunked request go through.
    let answer = server.send(&to_upstream(
        "content-length: 2\r\nconnection: close\r\n",
        "{}",
    ));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let answer = server.send(&to_upstream(
        "transfer-encoding: chunked\r\nconnection: close\r\n",
        "2\r\n{}\r\n0\r\n\r\n",
    ));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let forwarded = upstream.requests().len();
    assert_eq!(forwarded, 2, "{:?}", upstream.requests());

    // A request MLflow would frame differently: the smuggled one would run as a
    // second request there.
    let smuggled = "GET /api/2.0/mlflow/experiments/delete HTTP/1.1\r\nhost: x\r\n\r\n";
    let chunked_smuggle = format!("0\r\n\r\n{smuggled}");
    let many_headers: String = (0..150).map(|i| format!("x-h{i}: v\r\n")).collect();
    let huge_header = format!("x-big: {}\r\n", "a".repeat(100 * 1024));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "Content-Length then Transfer-Encoding",
            to_upstream(
                "content-length: 4\r\ntransfer-encoding: chunked\r\n",
                &chunked_smuggle,
            ),
            400,
        ),
        (
            "Transfer-Encoding then Content-Length",
            to_upstream(
                "transfer-encoding: chunked\r\ncontent-length: 4\r\n",
                &chunked_smuggle,
            ),
            400,
        ),
        (
            "two equal Content-Length",
            to_upstream("content-length: 2\r\ncontent-length: 2\r\n", "{}"),
            400,
        ),
        (
            "two different Content-Length",
            to_upstream(
                "content-length: 2\r\ncontent-length: 60\r\n",
                &format!("{{}}{smuggled}"),
            ),
            400,
        ),
        (
            "a list as Content-Length",
            to_upstream("content-length: 2, 2\r\n", "{}"),
            400,
        ),
        (
            "Transfer-Encoding other than chunked",
            to_upstream(
                "transfer-encoding: gzip, chunked\r\n",
                "2\r\n{}\r\n0\r\n\r\n",
            ),
            400,
        ),
        (
            "obsolete line folding",
            to_upstream("content-length: 2\r\nx-folded: a\r\n b\r\n", "{}"),
            400,
        ),
        (
            "too many headers",
            to_upstream(&format!("content-length: 2\r\n{many_headers}"), "{}"),
            431,
        ),
        (
            "a too large header",
            to_upstream(&format!("content-length: 2\r\n{huge_header}"), "{}"),
            431,
        ),
    ];
    for (name, request, status) in cases {
        eprintln!("case: {name}");
        let answer = server.send(&request);
        let (got, body) = json_error(&answer);
        assert_eq!(got, status, "{name}: {answer}");
        assert_eq!(body["error_code"], "BAD_REQUEST", "{name}: {answer}");
        assert_eq!(
            upstream.requests().len(),
            forwarded,
            "{name} reached the upstream: {:?}",
            upstream.requests()
        );
        // Still serving.
        let health =
            server.send(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n");
        assert!(health.starts_with("HTTP/1.1 200"), "after {name}: {health}");
    }

    // On a kept-alive connection, a good request with a body is answered and the bad
    // one after it is refused.
    let mut pipelined = to_upstream("content-length: 2\r\n", "{}");
    pipelined.extend(to_upstream(
        "content-length: 4\r\ntransfer-encoding: chunked\r\n",
        &chunked_smuggle,
    ));
    // Asking for an upgrade that is not granted leaves the connection HTTP/1.
    let mut upgrade = b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\n\
        connection: upgrade\r\n\r\n"
        .to_vec();
    upgrade.extend(to_upstream(
        "content-length: 4\r\ntransfer-encoding: chunked\r\n",
        &chunked_smuggle,
    ));
    let answer = server.send(&upgrade);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let second = answer
        .find("HTTP/1.1 400")
        .unwrap_or_else(|| panic!("request after an upgrade not refused: {answer}"));
    json_error(&answer[second..]);
    assert_eq!(
        upstream.requests().len(),
        forwarded,
        "{:?}",
        upstream.requests()
    );

    let answer = server.send(&pipelined);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let second = answer
        .find("HTTP/1.1 400")
        .unwrap_or_else(|| panic!("second request not refused: {answer}"));
    json_error(&answer[second..]);
    assert_eq!(
        upstream.requests().len(),
        forwarded + 1,
        "{:?}",
        upstream.requests()
    );
    assert!(
        upstream
            .requests()
            .iter()
            .all(|r| !r.contains("experiments/delete")),
        "{:?}",
        upstream.requests()
    );
}
