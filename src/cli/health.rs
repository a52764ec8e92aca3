//! `zfsync health`: asks the running daemon whether it is up (`/healthz`) or ready (`/readyz`),
//! on the address its configuration listens on. Container images have no curl: this is their
//! health check (`HEALTHCHECK`, compose's `healthcheck`); an orchestrator that speaks HTTP (a
//! Kubernetes probe) asks the routes directly.
//!
//! One plain HTTP/1.0 request on loopback, with the configured admin token when there is one (so
//! `/readyz` says why it is not ready). Failure modes ([`HealthError`]): nothing listens there,
//! no answer within [`TIMEOUT`], or an answer that is not HTTP; each names the address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use secrecy::ExposeSecret as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::config::{Config, ENV_LISTEN};

/// How long the daemon has to answer: a health check that hangs is a failed one.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The most of the answer read: a status line, a few headers and a one-line reason.
const MAX_ANSWER_BYTES: u64 = 16 * 1024;

/// Why the daemon could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// Nothing accepts connections on the address.
    #[error("nothing answers on {addr} (server.listen, or {ENV_LISTEN}): is zfsync running there? ({cause})")]
    Unreachable {
        /// The address asked.
        addr: SocketAddr,
        /// The system's reason.
        cause: std::io::Error,
    },
    /// The connection stalled.
    #[error("zfsync on {addr} did not answer within {} s", TIMEOUT.as_secs())]
    Timeout {
        /// The address asked.
        addr: SocketAddr,
    },
    /// Something else listens there.
    #[error("what listens on {addr} did not answer HTTP: is it zfsync?")]
    NotHttp {
        /// The address asked.
        addr: SocketAddr,
    },
}

/// The daemon's answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status (200 up or ready, 503 not ready).
    pub status: u16,
    /// The body, trimmed: `ok`, `ready`, or why not.
    pub text: String,
}

/// Where to reach a daemon listening on `listen`: a wildcard address (a container's
/// `0.0.0.0:8080`) is asked on loopback.
pub fn probe_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// Asks the daemon of `config` for `/readyz` when `ready`, else `/healthz`.
pub async fn ask(config: &Config, ready: bool) -> Result<Answer, HealthError> {
    let addr = probe_address(config.server.listen);
    let path = if ready { "/readyz" } else { "/healthz" };
    let auth = config
        .admin_token()
        .map(|t| format!("Authorization: Bearer {}\r\n", t.expose_secret().trim()))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}\r\n");
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|cause| HealthError::Unreachable { addr, cause })?;
        let mut answer = Vec::new();
        let io = async {
            stream.write_all(request.as_bytes()).await?;
            (&mut stream)
                .take(MAX_ANSWER_BYTES)
                .read_to_end(&mut answer)
                .await
        };
        // A reset after a partial answer still leaves a status line to read.
        if io.await.is_err() && answer.is_empty() {
            return Err(HealthError::NotHttp { addr });
        }
        parse(&answer).ok_or(HealthError::NotHttp { addr })
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| HealthError::Timeout { addr })?
}

/// The status and body of an HTTP/1 answer.
fn parse(answer: &[u8]) -> Option<Answer> {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status_line = head.lines().next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    Some(Answer {
        status,
        text: body.trim().to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_asked_on_loopback() {
        let p = |s: &str| probe_address(s.parse().unwrap()).to_string();
        assert_eq!(p("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(p("[::]:8080"), "[::1]:8080");
        assert_eq!(p("10.0.0.5:9000"), "10.0.0.5:9000");
    }

    #[test]
    fn answers_are_read_and_strangers_refused() {
        let a = parse(b"HTTP/1.0 503 Service Unavailable\r\ncontent-length: 11\r\n\r\nunavailable")
            .unwrap();
        assert_eq!(
            a,
            Answer {
                status: 503,
                text: "unavailable".into()
            }
        );
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\n\r\nok\n").unwrap().status, 200);
        assert!(parse(b"SSH-2.0-OpenSSH_9.2\r\n").is_none());
        assert!(parse(b"").is_none());
    }
}
