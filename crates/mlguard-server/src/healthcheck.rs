//! `mlguard healthcheck`: asks the running server's `/health` whether it is alive.
//!
//! The container image has no curl or wget (fewer tools, smaller attack surface), so the
//! image's HEALTHCHECK runs the binary itself. A hand-written HTTP/1.1 GET over a
//! plain socket is all it needs: no TLS (mlguard listens in plain HTTP behind the
//! platform's TLS) and no extra dependency.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::cli::CliError;

/// Long enough for a busy server, short enough for a container runtime's probe.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Succeeds when `GET /health` on the server listening at `listen` answers 200.
pub fn check(listen: SocketAddr, timeout: Duration) -> Result<(), CliError> {
    let target = reachable_address(listen);
    let mut stream = TcpStream::connect_timeout(&target, timeout)
        .map_err(|e| format!("healthcheck: cannot connect to {target}: {e}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // One write: `write!` would send the request in pieces.
    let request = format!("GET /health HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut status_line = String::new();
    BufReader::new(stream)
        .read_line(&mut status_line)
        .map_err(|e| format!("healthcheck: no answer from {target}: {e}"))?;
    // "HTTP/1.1 200 OK": the second word is the status code.
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        _ => Err(format!(
            "healthcheck: {target}/health answered {:?}",
            status_line.trim_end()
        )
        .into()),
    }
}

/// A server listening on every interface (`0.0.0.0`, `::`) is reached on loopback.
fn reachable_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;

    use super::*;

    /// A one-shot server answering the first request with `response`.
    fn answer_once(response: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            // The request may arrive in several segments: read up to its blank line.
            let mut request = Vec::new();
            let mut chunk = [0_u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let read = conn.read(&mut chunk).expect("read request");
                assert!(read > 0, "connection closed mid-request");
                request.extend_from_slice(&chunk[..read]);
            }
            assert!(
                request.starts_with(b"GET /health HTTP/1.1\r\n"),
                "unexpected request {:?}",
                String::from_utf8_lossy(&request)
            );
            conn.write_all(response.as_bytes()).expect("answer");
        });
        addr
    }

    #[test]
    fn healthy_when_health_answers_200() {
        let addr = answer_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nOK");
        check(addr, TIMEOUT).expect("healthy");
    }

    #[test]
    fn unhealthy_when_health_answers_an_error() {
        let addr = answer_once("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
        let error = check(addr, TIMEOUT).expect_err("503 is unhealthy");
        assert!(error.to_string().contains("503"), "{error}");
    }

    #[test]
    fn unhealthy_when_nothing_listens() {
        // Bind then drop: the port is free, so the connection is refused.
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port");
        check(addr, TIMEOUT).expect_err("nothing listens");
    }

    #[test]
    fn every_interface_is_reached_on_loopback() {
        let any_v4: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
        assert_eq!(reachable_address(any_v4).to_string(), "127.0.0.1:8080");
        let any_v6: SocketAddr = "[::]:8080".parse().expect("addr");
        assert_eq!(reachable_address(any_v6).to_string(), "[::1]:8080");
        let specific: SocketAddr = "10.1.2.3:9000".parse().expect("addr");
        assert_eq!(reachable_address(specific), specific);
    }
}
