//! Writing responses: status line, headers the server owns (`Date`,
//! framing, `Connection`), and the body, fixed-length, chunked or
//! close-delimited.

use std::io::{self, Read};

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{StatusCode, Version};

use super::date;
use crate::io::Io;
use crate::response::{Payload, Response};

/// Bodies up to this size go out in the same write as the head.
const COALESCE: usize = 16 * 1024;
const CHUNK: usize = 16 * 1024;

/// What the request asked for that shapes the response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reply {
    pub(crate) head_request: bool,
    pub(crate) version: Version,
    /// The connection may stay open after this response (the client wants
    /// it, the server is not draining, the body was consumed).
    pub(crate) keep_alive: bool,
}

/// Writes `resp`; returns whether the connection may stay open. An error
/// means the connection is unusable.
pub(crate) fn write_response(
    io: &mut Io<'_>,
    wbuf: &mut Vec<u8>,
    resp: Response,
    reply: Reply,
) -> io::Result<bool> {
    let Response {
        status,
        headers,
        body,
        ..
    } = resp;
    let mut keep_alive = reply.keep_alive && !super::head::has_token(&headers, CONNECTION, "close");
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if status.is_informational() {
        // A handler cannot switch protocols without taking the stream.
        keep_alive = false;
    }
    let send_body = !bodiless && !reply.head_request;

    // Framing.
    let declared = match &body {
        Payload::Bytes(b) => Some(b.len() as u64),
        Payload::Reader { len, .. } => len.or_else(|| {
            headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse().ok())
        }),
        Payload::Writer(_) => None,
    };
    enum Frame {
        None,
        Length(u64),
        Chunked,
        UntilClose,
    }
    let frame = match declared {
        _ if bodiless => Frame::None,
        Some(n) => Frame::Length(n),
        None if reply.head_request => Frame::None,
        None if reply.version == Version::HTTP_11 => Frame::Chunked,
        None => {
            keep_alive = false;
            Frame::UntilClose
        }
    };

    wbuf.clear();
    wbuf.extend_from_slice(b"HTTP/1.1 ");
    wbuf.extend_from_slice(status.as_str().as_bytes());
    wbuf.push(b' ');
    wbuf.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    wbuf.extend_from_slice(b"\r\n");
    if !headers.contains_key(DATE) {
        wbuf.extend_from_slice(b"date: ");
        date::append_now(wbuf);
        wbuf.extend_from_slice(b"\r\n");
    }
    for (name, value) in &headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING || name == CONNECTION {
            continue;
        }
        wbuf.extend_from_slice(name.as_str().as_bytes());
        wbuf.extend_from_slice(b": ");
        // HeaderValue cannot hold CR, LF or NUL (safe code cannot build
        // one that does), so a handler cannot split the response.
        wbuf.extend_from_slice(value.as_bytes());
        wbuf.extend_from_slice(b"\r\n");
    }
    match frame {
        Frame::Length(n) if status != StatusCode::NO_CONTENT => {
            wbuf.extend_from_slice(b"content-length: ");
            wbuf.extend_from_slice(itoa(n, &mut [0u8; 20]));
            wbuf.extend_from_slice(b"\r\n");
        }
        Frame::Chunked => wbuf.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        _ => {}
    }
    if !keep_alive {
        wbuf.extend_from_slice(b"connection: close\r\n");
    } else if reply.version == Version::HTTP_10 {
        wbuf.extend_from_slice(b"connection: keep-alive\r\n");
    }
    wbuf.extend_from_slice(b"\r\n");

    if !send_body {
        io.write_all(wbuf)?;
        return Ok(keep_alive);
    }
    match (body, frame) {
        (Payload::Bytes(b), _) => {
            if b.len() <= COALESCE {
                wbuf.extend_from_slice(&b);
                io.write_all(wbuf)?;
            } else {
                io.write_all(wbuf)?;
                io.write_all(&b)?;
            }
        }
        (Payload::Reader { mut reader, .. }, Frame::Length(n)) => {
            io.write_all(wbuf)?;
            let copied = std::io::copy(&mut (&mut reader).take(n), io)?;
            if copied < n {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "response body shorter than its length",
                ));
            }
        }
        (Payload::Reader { mut reader, .. }, Frame::Chunked) => {
            write_chunked(&mut *reader, io, wbuf)?;
        }
        (Payload::Reader { mut reader, .. }, _) => {
            io.write_all(wbuf)?;
            std::io::copy(&mut reader, io)?;
        }
        // The head goes at once; each write of the closure is sent as it
        // comes (one chunk), then the chunked end.
        (Payload::Writer(w), frame) => {
            io.write_all(wbuf)?;
            if let Frame::Chunked = frame {
                crate::stream::run(w, &mut crate::stream::Chunks { out: io, buf: wbuf })?;
                io.write_all(b"0\r\n\r\n")?;
            } else {
                crate::stream::run(w, io)?;
            }
        }
    }
    Ok(keep_alive)
}

/// Sends `reader` as chunks; the head already in `wbuf` goes with the first.
fn write_chunked(reader: &mut dyn Read, out: &mut Io<'_>, wbuf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            wbuf.extend_from_slice(b"0\r\n\r\n");
            return out.write_all(wbuf);
        }
        wbuf.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        wbuf.extend_from_slice(&chunk[..n]);
        wbuf.extend_from_slice(b"\r\n");
        out.write_all(wbuf)?;
        wbuf.clear();
    }
}

fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::itoa;

    #[test]
    fn itoa_works() {
        assert_eq!(itoa(0, &mut [0; 20]), b"0");
        assert_eq!(itoa(1234567890, &mut [0; 20]), b"1234567890");
        assert_eq!(itoa(u64::MAX, &mut [0; 20]), b"18446744073709551615");
    }
}
