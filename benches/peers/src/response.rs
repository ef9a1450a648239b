//! Just enough of an HTTP/1.1 response parser for a benchmark client:
//! status, `Content-Length` framing and `Connection: close`.

use std::io::{self, Read};

/// A complete response at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Complete {
    /// Bytes the response takes, head and body.
    pub len: usize,
    /// The status code.
    pub status: u16,
    /// The server will close the connection after this response.
    pub close: bool,
}

/// What the front of a buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parse {
    /// Not a whole response yet.
    Partial,
    /// A whole response.
    Done(Complete),
    /// Not something this client can read.
    Invalid(&'static str),
}

/// Parses the response at the front of `buf`.
pub fn parse(buf: &[u8]) -> Parse {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let head = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parse::Partial,
        Err(_) => return Parse::Invalid("malformed response head"),
    };
    let mut close = resp.version == Some(0);
    let mut body: Option<usize> = None;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            match std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
            {
                Some(n) => body = Some(n),
                None => return Parse::Invalid("bad Content-Length"),
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Parse::Invalid("chunked responses are not supported");
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = h.value.eq_ignore_ascii_case(b"close");
        }
    }
    let Some(body) = body else {
        return Parse::Invalid("response without Content-Length");
    };
    let len = head + body;
    if buf.len() < len {
        return Parse::Partial;
    }
    Parse::Done(Complete {
        len,
        status: resp.code.unwrap_or(0),
        close,
    })
}

/// Reads one whole response from a blocking stream into `buf` (which may
/// already hold its start), then removes it from `buf`.
pub fn read_blocking(stream: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Complete> {
    let mut chunk = [0u8; 4096];
    loop {
        match parse(buf) {
            Parse::Done(c) => {
                buf.drain(..c.len);
                return Ok(c);
            }
            Parse::Invalid(why) => return Err(io::Error::new(io::ErrorKind::InvalidData, why)),
            Parse::Partial => {}
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The request line and headers of a `GET` to `path` on `host`.
pub fn get_request(path: &str, host: &str, close: bool) -> Vec<u8> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{connection}\r\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n";

    #[test]
    fn whole_partial_and_close() {
        assert_eq!(
            parse(OK),
            Parse::Done(Complete {
                len: OK.len(),
                status: 200,
                close: false
            })
        );
        assert_eq!(parse(&OK[..OK.len() - 1]), Parse::Partial);
        let closing = b"HTTP/1.1 503 X\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n";
        assert!(matches!(
            parse(closing),
            Parse::Done(Complete {
                status: 503,
                close: true,
                ..
            })
        ));
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\n\r\n"),
            Parse::Invalid(_)
        ));
    }

    #[test]
    fn blocking_read_keeps_what_follows() {
        let mut two = OK.to_vec();
        two.extend_from_slice(OK);
        let mut buf = Vec::new();
        let mut src = &two[..];
        assert_eq!(read_blocking(&mut src, &mut buf).unwrap().status, 200);
        assert_eq!(read_blocking(&mut src, &mut buf).unwrap().len, OK.len());
        assert!(buf.is_empty());
    }
}
