//! A minimal HTTP/1.1 client for the load test: `POST` on one keep-alive
//! connection, `Content-Length` or chunked replies. Enough for the clinic
//! server on loopback, nothing more.

use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};

/// One keep-alive connection to `addr` (reopened when the server closes it).
pub struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

impl Conn {
    /// A client for the server at `addr` (connects on first use).
    pub fn new(addr: SocketAddr) -> Conn {
        Conn { addr, stream: None }
    }

    fn connect(&mut self) -> io::Result<&mut BufReader<TcpStream>> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr)?;
            s.set_nodelay(true)?;
            self.stream = Some(BufReader::with_capacity(64 * 1024, s));
        }
        Ok(self.stream.as_mut().expect("connected"))
    }

    /// `POST path` with `body`; the status and the reply's body. A
    /// connection the server closed while idle is reopened once, before
    /// anything of the reply was read.
    pub fn post(
        &mut self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> io::Result<(u16, Vec<u8>)> {
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        let reused = self.stream.is_some();
        match self.exchange(&req) {
            Err(Retry) if reused => {
                self.stream = None;
                self.exchange(&req)
                    .map_err(|Retry| bad("the server closed the connection"))?
            }
            Err(Retry) => Err(bad("the server closed the connection")),
            Ok(r) => r,
        }
    }

    /// Sends `req` and reads the reply; `Err(Retry)` when the connection
    /// was closed before any of the reply arrived.
    fn exchange(&mut self, req: &[u8]) -> Result<io::Result<(u16, Vec<u8>)>, Retry> {
        let s = match self.connect() {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        if s.get_mut().write_all(req).is_err() {
            return Err(Retry);
        }
        let mut line = String::new();
        match s.read_line(&mut line) {
            Ok(0) | Err(_) => return Err(Retry),
            Ok(_) => {}
        }
        Ok(self.rest(line))
    }

    fn rest(&mut self, status_line: String) -> io::Result<(u16, Vec<u8>)> {
        let s = self.stream.as_mut().expect("connected");
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| bad("not an HTTP status line"))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        loop {
            let mut h = String::new();
            if s.read_line(&mut h)? == 0 {
                return Err(bad("the reply's headers end early"));
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let Some((name, value)) = h.split_once(':') else {
                return Err(bad("a header without a colon"));
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().map_err(|_| bad("content-length"))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                s.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| bad("chunk size"))?;
                let start = body.len();
                body.resize(start + n, 0);
                s.read_exact(&mut body[start..])?;
                let mut crlf = [0u8; 2];
                s.read_exact(&mut crlf)?;
                if n == 0 {
                    break;
                }
            }
        } else {
            let n = length.ok_or_else(|| bad("a reply without a length"))?;
            body.resize(n, 0);
            s.read_exact(&mut body)?;
        }
        if close {
            self.stream = None;
        }
        Ok((status, body))
    }
}

struct Retry;
