//! Request heads: httparse does the tokenizing; this module turns its
//! result into `http` types and decides the body framing by RFC 9112 §6,
//! refusing what a request-smuggling attack would need.

use http::header::{
    HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING,
};
use http::{HeaderMap, Method, StatusCode, Uri, Version};

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) framing: Framing,
    /// The client asked to keep the connection (HTTP/1.1 default, or
    /// HTTP/1.0 with `Connection: keep-alive`).
    pub(crate) keep_alive: bool,
    /// `Expect: 100-continue` on an HTTP/1.1 request.
    pub(crate) expect_continue: bool,
}

/// A head the server answers with an error status, then closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reject {
    pub(crate) status: StatusCode,
    pub(crate) reason: &'static str,
}

const fn reject(status: StatusCode, reason: &'static str) -> Reject {
    Reject { status, reason }
}

/// Limits the parser applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_headers: usize,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_uri_bytes: usize,
    pub(crate) max_body_bytes: Option<u64>,
}

const STACK_HEADERS: usize = 128;
/// Room on a request line for a method, a version and the spaces.
const METHOD_AND_VERSION: usize = 32;

/// Parses a head from the start of `buf`: `Ok(None)` when more bytes are
/// needed, `Ok(Some((head, len)))` when complete.
pub(crate) fn parse(buf: &[u8], limits: Limits) -> Result<Option<(Head, usize)>, Reject> {
    // The request line: method SP target SP version; a target past the
    // limit is 414 whether or not its line has ended yet.
    let line_len = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    if line_len > limits.max_uri_bytes + METHOD_AND_VERSION {
        return Err(reject(StatusCode::URI_TOO_LONG, "request target too long"));
    }
    if limits.max_headers <= STACK_HEADERS {
        let mut headers = [httparse::EMPTY_HEADER; STACK_HEADERS];
        parse_with(buf, &mut headers[..limits.max_headers], limits)
    } else {
        let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
        parse_with(buf, &mut headers, limits)
    }
}

fn parse_with<'b>(
    buf: &'b [u8],
    headers: &mut [httparse::Header<'b>],
    limits: Limits,
) -> Result<Option<(Head, usize)>, Reject> {
    let mut req = httparse::Request::new(headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() >= limits.max_header_bytes {
                return Err(too_large());
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(reject(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "too many header fields",
            ))
        }
        Err(httparse::Error::Version) => return Err(bad_version(buf)),
        Err(_) => return Err(reject(StatusCode::BAD_REQUEST, "malformed request head")),
    };
    if len > limits.max_header_bytes {
        return Err(too_large());
    }
    let method = req
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or(reject(StatusCode::BAD_REQUEST, "bad method"))?;
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => {
            return Err(reject(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "unsupported version",
            ))
        }
    };
    let path = req.path.unwrap_or("");
    let uri = parse_target(&method, path)?;

    let mut map = HeaderMap::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| reject(StatusCode::BAD_REQUEST, "bad header name"))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| reject(StatusCode::BAD_REQUEST, "bad header value"))?;
        map.append(name, value);
    }

    if version == Version::HTTP_11 && map.get_all(HOST).iter().count() != 1 {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "HTTP/1.1 needs exactly one Host",
        ));
    }
    let framing = framing(&map, version)?;
    if let (Framing::Length(n), Some(max)) = (framing, limits.max_body_bytes) {
        if n > max {
            return Err(reject(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
            ));
        }
    }
    let keep_alive = match version {
        Version::HTTP_11 => !has_token(&map, CONNECTION, "close"),
        _ => has_token(&map, CONNECTION, "keep-alive") && !has_token(&map, CONNECTION, "close"),
    };
    let expect_continue = version == Version::HTTP_11 && has_token(&map, EXPECT, "100-continue");
    Ok(Some((
        Head {
            method,
            uri,
            version,
            headers: map,
            framing,
            keep_alive,
            expect_continue,
        },
        len,
    )))
}

fn too_large() -> Reject {
    reject(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "request head too large",
    )
}

/// httparse says "version" both for `HTTP/2.0` (505) and for garbage (400).
fn bad_version(buf: &[u8]) -> Reject {
    let line = buf.split(|&b| b == b'\n').next().unwrap_or(buf);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or(b"");
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            reject(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "unsupported version",
            )
        }
        _ => reject(StatusCode::BAD_REQUEST, "malformed request line"),
    }
}

fn parse_target(method: &Method, path: &str) -> Result<Uri, Reject> {
    let ok = match path.as_bytes().first() {
        Some(b'/') => true,
        Some(b'*') => path == "*" && method == Method::OPTIONS,
        Some(_) => {
            // absolute-form for proxies, authority-form for CONNECT
            method == Method::CONNECT || path.contains("://")
        }
        None => false,
    };
    if !ok {
        return Err(reject(StatusCode::BAD_REQUEST, "bad request target"));
    }
    path.parse::<Uri>()
        .map_err(|_| reject(StatusCode::BAD_REQUEST, "bad request target"))
}

fn framing(map: &HeaderMap, version: Version) -> Result<Framing, Reject> {
    let te: Vec<&HeaderValue> = map.get_all(TRANSFER_ENCODING).iter().collect();
    let cl: Vec<&HeaderValue> = map.get_all(CONTENT_LENGTH).iter().collect();
    if !te.is_empty() {
        if !cl.is_empty() {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                "both Content-Length and Transfer-Encoding",
            ));
        }
        if version == Version::HTTP_10 {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                "Transfer-Encoding in HTTP/1.0",
            ));
        }
        // The only coding we decode is a lone `chunked`; anything else
        // (`gzip, chunked`, `chunked, identity`, `xchunked`) is refused
        // rather than guessed at.
        let mut codings = te
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .map(trim)
            .filter(|c| !c.is_empty());
        return match (codings.next(), codings.next()) {
            (Some(c), None) if c.eq_ignore_ascii_case(b"chunked") => Ok(Framing::Chunked),
            (None, _) => Err(reject(StatusCode::BAD_REQUEST, "empty Transfer-Encoding")),
            _ => Err(reject(
                StatusCode::NOT_IMPLEMENTED,
                "unsupported transfer coding",
            )),
        };
    }
    let mut len: Option<u64> = None;
    for v in cl {
        for part in v.as_bytes().split(|&b| b == b',') {
            let n = parse_length(trim(part))
                .ok_or(reject(StatusCode::BAD_REQUEST, "bad Content-Length"))?;
            match len {
                Some(prev) if prev != n => {
                    return Err(reject(
                        StatusCode::BAD_REQUEST,
                        "conflicting Content-Length",
                    ))
                }
                _ => len = Some(n),
            }
        }
    }
    Ok(match len {
        None | Some(0) => Framing::None,
        Some(n) => Framing::Length(n),
    })
}

fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t'))
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// True when a comma-separated header has `token` (case-insensitive).
pub(crate) fn has_token(map: &HeaderMap, name: HeaderName, token: &str) -> bool {
    map.get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// True when `buf` starts with a whole request head (for pipelining).
pub(crate) fn complete_head_buffered(buf: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; STACK_HEADERS];
    matches!(
        httparse::Request::new(&mut headers).parse(buf),
        Ok(httparse::Status::Complete(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_headers: 100,
        max_header_bytes: 8192,
        max_uri_bytes: 4096,
        max_body_bytes: Some(1 << 20),
    };

    fn ok(raw: &str) -> Head {
        match parse(raw.as_bytes(), LIMITS) {
            Ok(Some((h, n))) => {
                assert_eq!(n, raw.len());
                h
            }
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    fn status(raw: &str) -> u16 {
        match parse(raw.as_bytes(), LIMITS) {
            Err(r) => r.status.as_u16(),
            other => panic!("{raw:?}: expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn simple_get() {
        let h = ok("GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(h.method, Method::GET);
        assert_eq!(h.uri.path(), "/a");
        assert_eq!(h.uri.query(), Some("b=c"));
        assert_eq!(h.framing, Framing::None);
        assert!(h.keep_alive);
        assert!(!h.expect_continue);
    }

    #[test]
    fn partial_needs_more() {
        assert!(matches!(parse(b"GET / HTTP/1.1\r\nHo", LIMITS), Ok(None)));
    }

    #[test]
    fn http10_keep_alive_only_when_asked() {
        assert!(!ok("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(!ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive);
    }

    #[test]
    fn framing_rules() {
        assert_eq!(
            ok("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n").framing,
            Framing::Length(5)
        );
        assert_eq!(
            ok("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")
                .framing,
            Framing::Length(5)
        );
        assert_eq!(
            ok("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n").framing,
            Framing::Chunked
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n"),
            501
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n"),
            501
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n"),
            400
        );
    }

    #[test]
    fn versions_and_garbage() {
        assert_eq!(status("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
        assert_eq!(status("GET / HTTP/1.x\r\nHost: x\r\n\r\n"), 400);
        assert_eq!(status("\x00\x01\x02 / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\n\r\n"), 400, "no Host");
        assert_eq!(status("GET nopath HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
    }

    #[test]
    fn limits() {
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(9000));
        assert_eq!(status(&long), 414);
        let unfinished = format!("GET /{}", "a".repeat(5000));
        assert_eq!(status(&unfinished), 414, "414 before the line ends");
        let fits = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(4000));
        assert!(parse(fits.as_bytes(), LIMITS).unwrap().is_some());
        let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{}", "A: b\r\n".repeat(2000));
        assert_eq!(status(&many), 431);
        let fat = format!("GET / HTTP/1.1\r\nHost: x\r\nA: {}\r\n", "b".repeat(9000));
        assert_eq!(status(&fat), 431);
    }

    #[test]
    fn body_over_the_limit_is_413() {
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n"),
            413
        );
        assert!(matches!(
            parse(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n",
                LIMITS
            ),
            Ok(Some(_))
        ));
    }

    #[test]
    fn expect_continue() {
        assert!(
            ok("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")
                .expect_continue
        );
    }
}
