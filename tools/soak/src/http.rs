//! Raw HTTP/1.1 over a tokio `TcpStream`.
//!
//! Requests are bytes, so they can carry what real clients refuse to send:
//! non-UTF-8 and control bytes in header values, heads of tens of KiB, a
//! `Content-Length` that announces more than is sent. Of the answer only the
//! status line and the framing headers are parsed; a body is read when
//! `Content-Length` frames it.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest response head read; a longer one counts as a bad response.
const MAX_HEAD: usize = 64 * 1024;
/// Longest response body kept; the connection is dropped after a longer one.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// What [`Body::Filler`] sends, chunk by chunk.
static FILLER: [u8; 64 * 1024] = [b' '; 64 * 1024];

/// What follows a request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// No body and no `Content-Length`.
    Empty,
    /// These bytes, their length announced.
    Bytes(Vec<u8>),
    /// `announced` bytes announced in `Content-Length`, of which only `sent`
    /// spaces are written; `sent < announced` is a lying length. The
    /// connection is never reused after such a request: the server may
    /// leave the body unread.
    Filler {
        /// The `Content-Length` sent.
        announced: usize,
        /// The bytes actually written.
        sent: usize,
    },
}

/// One request, written to the wire as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// The request target: path and query.
    pub target: String,
    /// Header names and raw values, in order (`Host` and `Content-Length`
    /// are added when encoding).
    pub headers: Vec<(&'static str, Vec<u8>)>,
    /// The body.
    pub body: Body,
}

impl RawRequest {
    /// A request without headers or body.
    pub fn new(method: &'static str, target: impl Into<String>) -> Self {
        RawRequest {
            method,
            target: target.into(),
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// Adds a header; the value is sent byte for byte.
    pub fn header(mut self, name: &'static str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// A JSON body with its `Content-Type`.
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.header("content-type", "application/json")
            .body(Body::Bytes(value.to_string().into_bytes()))
    }

    /// The bytes written first: head, then a [`Body::Bytes`] body.
    pub fn encode(&self, host: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(
            format!(
                "{} {} HTTP/1.1\r\nhost: {host}\r\n",
                self.method, self.target
            )
            .as_bytes(),
        );
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        let length = match &self.body {
            Body::Empty => None,
            Body::Bytes(bytes) => Some(bytes.len()),
            Body::Filler { announced, .. } => Some(*announced),
        };
        if let Some(length) = length {
            out.extend_from_slice(format!("content-length: {length}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if let Body::Bytes(bytes) = &self.body {
            out.extend_from_slice(bytes);
        }
        out
    }
}

/// What one request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// The server answered with this status.
    Status(u16),
    /// The server closed or reset the connection before a whole status line.
    Closed,
    /// The server answered something that is not an HTTP/1.x status line.
    BadResponse,
    /// No status line within the time limit.
    Timeout,
    /// The connection could not be opened.
    Refused,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Status(code) => write!(f, "{code}"),
            Outcome::Closed => f.write_str("closed"),
            Outcome::BadResponse => f.write_str("bad response"),
            Outcome::Timeout => f.write_str("timeout"),
            Outcome::Refused => f.write_str("refused"),
        }
    }
}

/// The status code of an HTTP/1.x status line (`HTTP/1.1 401 Unauthorized`,
/// the reason phrase optional), or `None` for anything else.
pub fn parse_status_line(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let (&minor, rest) = rest.split_first()?;
    let rest = rest.strip_prefix(b" ")?;
    if !minor.is_ascii_digit() || rest.len() < 3 || !rest[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    if rest.len() > 3 && rest[3] != b' ' {
        return None;
    }
    let code = rest[..3]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    (100..=599).contains(&code).then_some(code)
}

/// A parsed response head: the status and what framing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// `Content-Length`, when present once (or repeated with one value).
    pub content_length: Option<usize>,
    /// Whether the connection can carry another request: HTTP/1.1 without
    /// `Connection: close`, and without a length that cannot be trusted.
    pub keep_alive: bool,
}

/// Parses a response head (status line and header lines, with or without
/// the blank line). `None` when the status line is not HTTP/1.x.
pub fn parse_head(head: &[u8]) -> Option<Head> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let status_line = lines.next()?;
    let status = parse_status_line(status_line)?;
    let mut keep_alive = status_line.starts_with(b"HTTP/1.1");
    let mut content_length = None;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &line[..colon];
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") {
            let parsed = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<usize>().ok());
            match (parsed, content_length) {
                (Some(n), None) => content_length = Some(n),
                (Some(n), Some(m)) if n == m => {}
                // Unparsable or conflicting: the framing cannot be trusted.
                _ => {
                    content_length = None;
                    keep_alive = false;
                }
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Not decoded: the status is what counts, the connection goes.
            keep_alive = false;
        } else if name.eq_ignore_ascii_case(b"connection")
            && value
                .split(|&b| b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"))
        {
            keep_alive = false;
        }
    }
    let bodiless = status < 200 || status == 204 || status == 304;
    if !bodiless && content_length.is_none() {
        // Delimited by close, or chunked: not reusable.
        keep_alive = false;
    }
    Some(Head {
        status,
        content_length: if bodiless { Some(0) } else { content_length },
        keep_alive,
    })
}

/// Where the head ends (just past its blank line), if it has.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// An answer: the status, the body when `Content-Length` framed it.
#[derive(Debug)]
struct Response {
    status: u16,
    body: Vec<u8>,
    keep_alive: bool,
}

/// Why no answer was read.
enum ReadFailure {
    /// EOF or reset; `any_bytes` says whether part of an answer came first.
    Closed { any_bytes: bool },
    /// Bytes that are not an HTTP/1.x response.
    Garbled,
}

/// Reads more bytes into `buf`; 0 for EOF and for errors (a reset).
async fn read_more<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut Vec<u8>) -> usize {
    buf.reserve(16 * 1024);
    rd.read_buf(buf).await.unwrap_or(0)
}

async fn read_response<R: AsyncRead + Unpin>(rd: &mut R) -> Result<Response, ReadFailure> {
    let mut buf = Vec::with_capacity(4096);
    let end = loop {
        if let Some(end) = head_end(&buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadFailure::Garbled);
        }
        if read_more(rd, &mut buf).await == 0 {
            let prefix = &buf[..buf.len().min(7)];
            return Err(if b"HTTP/1.".starts_with(prefix) {
                ReadFailure::Closed {
                    any_bytes: !buf.is_empty(),
                }
            } else {
                ReadFailure::Garbled
            });
        }
    };
    let head = parse_head(&buf[..end]).ok_or(ReadFailure::Garbled)?;
    let mut body = buf.split_off(end);
    let mut keep_alive = head.keep_alive;
    match head.content_length {
        Some(len) if len <= MAX_BODY => {
            while body.len() < len {
                if read_more(rd, &mut body).await == 0 {
                    keep_alive = false;
                    break;
                }
            }
            // Anything past the body is unexpected: do not reuse.
            keep_alive &= body.len() == len;
            body.truncate(len);
        }
        _ => keep_alive = false,
    }
    Ok(Response {
        status: head.status,
        body,
        keep_alive,
    })
}

async fn write_request<W: AsyncWrite + Unpin>(
    wr: &mut W,
    encoded: &[u8],
    body: &Body,
) -> std::io::Result<()> {
    wr.write_all(encoded).await?;
    if let Body::Filler { sent, .. } = body {
        let mut left = *sent;
        while left > 0 {
            let n = left.min(FILLER.len());
            wr.write_all(&FILLER[..n]).await?;
            left -= n;
        }
    }
    wr.flush().await
}

/// Writes the request while reading the answer, so a server that answers
/// before the body is sent (and stops reading) is seen answering. The
/// answer, and whether the whole request went out.
async fn exchange(
    stream: &mut TcpStream,
    encoded: &[u8],
    body: &Body,
) -> Result<(Response, bool), ReadFailure> {
    let (mut rd, mut wr) = stream.split();
    let read = read_response(&mut rd);
    tokio::pin!(read);
    let written = tokio::select! {
        biased;
        answer = &mut read => return answer.map(|r| (r, false)),
        // A failed write (the server closed) still leaves an answer to read.
        result = write_request(&mut wr, encoded, body) => result.is_ok(),
    };
    read.await.map(|r| (r, written))
}

/// A keep-alive connection to one server, reopened when needed.
#[derive(Debug)]
pub struct Connection {
    addr: SocketAddr,
    host: String,
    timeout: Duration,
    stream: Option<TcpStream>,
}

impl Connection {
    /// A connection to `addr` (opened on first use); every request gets
    /// `timeout` to be answered.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Connection {
            addr,
            host: addr.to_string(),
            timeout,
            stream: None,
        }
    }

    /// Sends `req`: what came of it, and the answer's body when
    /// `Content-Length` framed it.
    pub async fn send(&mut self, req: &RawRequest) -> (Outcome, Vec<u8>) {
        match tokio::time::timeout(self.timeout, self.send_untimed(req)).await {
            Ok(result) => result,
            Err(_) => {
                self.stream = None;
                (Outcome::Timeout, Vec::new())
            }
        }
    }

    async fn send_untimed(&mut self, req: &RawRequest) -> (Outcome, Vec<u8>) {
        let encoded = req.encode(&self.host);
        let one_shot = matches!(req.body, Body::Filler { .. });
        loop {
            let reused = self.stream.is_some();
            let mut stream = match self.stream.take() {
                Some(stream) => stream,
                None => match TcpStream::connect(self.addr).await {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        stream
                    }
                    Err(_) => return (Outcome::Refused, Vec::new()),
                },
            };
            return match exchange(&mut stream, &encoded, &req.body).await {
                Ok((response, written)) => {
                    if response.keep_alive && written && !one_shot {
                        self.stream = Some(stream);
                    }
                    (Outcome::Status(response.status), response.body)
                }
                // A kept-alive connection the server has closed since its
                // last answer: try again on a new one, as HTTP clients do.
                Err(ReadFailure::Closed { any_bytes: false }) if reused => continue,
                Err(ReadFailure::Closed { .. }) => (Outcome::Closed, Vec::new()),
                Err(ReadFailure::Garbled) => (Outcome::BadResponse, Vec::new()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK"), Some(200));
        assert_eq!(parse_status_line(b"HTTP/1.0 400 Bad Request"), Some(400));
        assert_eq!(parse_status_line(b"HTTP/1.1 204"), Some(204));
        assert_eq!(
            parse_status_line(b"HTTP/1.1 431 Request Header Fields Too Large"),
            Some(431)
        );
        for bad in [
            &b""[..],
            b"HTTP/1.1",
            b"HTTP/1.1 20",
            b"HTTP/1.1 2000",
            b"HTTP/1.1 20x OK",
            b"HTTP/1.1  200 OK",
            b"HTTP/2 200",
            b"http/1.1 200 OK",
            b"HTTP/1.1 099 Low",
            b"HTTP/1.1 600 High",
            b"\xff\xfe garbage",
        ] {
            assert_eq!(parse_status_line(bad), None, "{}", bad.escape_ascii());
        }
    }

    #[test]
    fn heads_and_framing() {
        let head = parse_head(
            b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\ncontent-type: application/json\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            head,
            Head {
                status: 200,
                content_length: Some(12),
                keep_alive: true
            }
        );
        let head = parse_head(
            b"HTTP/1.1 400 Bad Request\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        assert!(!head.keep_alive);
        let head = parse_head(b"HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n").unwrap();
        assert_eq!((head.content_length, head.keep_alive), (Some(0), true));
        // Chunked, conflicting or missing lengths: status kept, connection not.
        for head in [
            &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n",
        ] {
            let parsed = parse_head(head).unwrap();
            assert_eq!(parsed.status, 200);
            assert!(!parsed.keep_alive, "{}", head.escape_ascii());
        }
        assert_eq!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n"), None);
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n\r\nbody"), Some(19));
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n"), None);
    }

    #[test]
    fn encoding_keeps_bytes_and_announces_lengths() {
        let req = RawRequest::new("GET", "/todos")
            .header("authorization", b"Bearer \x00\xff\x7f".to_vec());
        assert_eq!(
            req.encode("h:1"),
            b"GET /todos HTTP/1.1\r\nhost: h:1\r\nauthorization: Bearer \x00\xff\x7f\r\n\r\n"
        );
        let req = RawRequest::new("POST", "/todos").json(&serde_json::json!({"title": "x"}));
        assert!(req.encode("h").ends_with(
            b"content-type: application/json\r\ncontent-length: 13\r\n\r\n{\"title\":\"x\"}"
        ));
        let req = RawRequest::new("POST", "/todos").body(Body::Filler {
            announced: 8 << 20,
            sent: 1024,
        });
        assert!(
            req.encode("h")
                .ends_with(b"content-length: 8388608\r\n\r\n")
        );
    }

    /// A one-connection server that reads the request head, then acts.
    async fn server(act: &'static [u8], close: bool) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            while head_end(&buf).is_none() && read_more(&mut stream, &mut buf).await > 0 {}
            stream.write_all(act).await.unwrap();
            if !close {
                std::future::pending::<()>().await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn outcomes_of_servers_that_misbehave() {
        let timeout = Duration::from_millis(500);
        let get = RawRequest::new("GET", "/");
        let cases: [(&'static [u8], bool, Outcome); 5] = [
            (
                b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\nno",
                false,
                Outcome::Status(401),
            ),
            (b"", true, Outcome::Closed),
            (b"HTTP/1.1 4", true, Outcome::Closed),
            (b"SSH-2.0-OpenSSH_9.6\r\n", true, Outcome::BadResponse),
            (b"", false, Outcome::Timeout),
        ];
        for (answer, close, expected) in cases {
            let addr = server(answer, close).await;
            let (outcome, body) = Connection::new(addr, timeout).send(&get).await;
            assert_eq!(outcome, expected, "{}", answer.escape_ascii());
            if expected == Outcome::Status(401) {
                assert_eq!(body, b"no");
            }
        }
        // Nothing listens on a port just freed.
        let addr = server(b"", true).await;
        let _ = TcpStream::connect(addr).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            Connection::new(addr, timeout).send(&get).await.0,
            Outcome::Refused
        );
    }

    #[tokio::test]
    async fn an_answer_before_the_body_is_seen_and_the_connection_dropped() {
        // The server answers after the head and never reads the 8 MiB body.
        let addr = server(
            b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n",
            false,
        )
        .await;
        let mut conn = Connection::new(addr, Duration::from_secs(5));
        let huge = RawRequest::new("POST", "/").body(Body::Filler {
            announced: 8 << 20,
            sent: 8 << 20,
        });
        assert_eq!(conn.send(&huge).await.0, Outcome::Status(401));
        assert!(conn.stream.is_none());
    }
}
