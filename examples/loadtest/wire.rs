//! The load generator's HTTP/1.1 client: one keep-alive connection per
//! simulated client, the request's bytes built once, each response read
//! into a buffer that is reused and only framed (status, `Content-Length`
//! or chunks), never copied, collected or decoded.
//!
//! Why not hyper's client: with `--upstream-cpu` the load generator shares
//! its core with the gateway, so everything it spends per request is
//! counted against the gateway. hyper's pooled client (a pool checkout, a
//! hand-over to a connection task and back, the body collected and copied)
//! cost about 50 µs of that core per request of the 100-account scenario,
//! a fifth of what the gateway and the generator together spent; a load
//! generator should be as cheap as it can be (the reason `wrk` is written
//! in C), so that the figures are the gateway's.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A request as the bytes sent for it, and where they go.
#[derive(Clone)]
pub struct WireRequest {
    addr: SocketAddr,
    bytes: Vec<u8>,
}

impl WireRequest {
    /// The request `method url` with `headers` and `body`; `url` is
    /// `http://IP:PORT/path?query` (the load test only talks to loopback
    /// addresses, so no name is resolved).
    pub fn new(method: &str, url: &str, headers: &[(&str, String)], body: &[u8]) -> WireRequest {
        let uri: http::Uri = url.parse().expect("a URL");
        let authority = uri.authority().expect("a URL with a host").as_str();
        let addr: SocketAddr = authority.parse().expect("an IP address and port");
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {authority}\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || method != "GET" {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        WireRequest { addr, bytes }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// What a response was: its status and the length of its body (without
/// the chunks' framing).
pub struct WireResponse {
    pub status: u16,
    pub body_len: u64,
}

/// One keep-alive connection.
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// How a response's body ends.
enum Framing {
    Length(usize),
    Chunked,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> io::Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Sends `request` and reads its whole response.
    pub async fn send(&mut self, request: &WireRequest) -> io::Result<WireResponse> {
        self.stream.write_all(&request.bytes).await?;
        self.buf.clear();
        let (status, head_len, framing) = loop {
            self.read_more().await?;
            let mut headers = [httparse::EMPTY_HEADER; 48];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let status = response.code.unwrap_or(0);
                    break (status, len, framing(response.headers)?);
                }
                Ok(httparse::Status::Partial) => continue,
                Err(e) => return Err(invalid(format!("response head: {e}"))),
            }
        };
        let body_len = match framing {
            Framing::Length(n) => {
                while self.buf.len() < head_len + n {
                    self.read_more().await?;
                }
                n
            }
            Framing::Chunked => self.read_chunks(head_len).await?,
        };
        Ok(WireResponse {
            status,
            body_len: body_len as u64,
        })
    }

    /// Reads a chunked body starting at `at`: the sum of its chunks'
    /// sizes. Trailers are not expected (neither server sends them).
    async fn read_chunks(&mut self, mut at: usize) -> io::Result<usize> {
        let mut total = 0;
        loop {
            let line_end = loop {
                if let Some(i) = find_crlf(&self.buf[at..]) {
                    break at + i;
                }
                self.read_more().await?;
            };
            let line = std::str::from_utf8(&self.buf[at..line_end])
                .map_err(|_| invalid("a chunk size that is not text".into()))?;
            let hex = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(hex, 16)
                .map_err(|_| invalid(format!("chunk size {hex:?}")))?;
            // The chunk's data and its CRLF; after the last (empty) chunk,
            // the CRLF that ends the body.
            let end = line_end + 2 + size + 2;
            while self.buf.len() < end {
                self.read_more().await?;
            }
            if size == 0 {
                return Ok(total);
            }
            total += size;
            at = end;
        }
    }

    /// Appends what the socket has to the buffer; the end of the stream
    /// before the response is whole is an error.
    async fn read_more(&mut self) -> io::Result<()> {
        if self.buf.capacity() - self.buf.len() < 16 * 1024 {
            self.buf.reserve(64 * 1024);
        }
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

fn framing(headers: &[httparse::Header<'_>]) -> io::Result<Framing> {
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| invalid("Content-Length".into()))?;
            return Ok(Framing::Length(n));
        }
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Ok(Framing::Chunked);
        }
    }
    Ok(Framing::Length(0))
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
