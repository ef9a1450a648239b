//! Request heads: httparse does the tokenizing; this module turns its
//! result into `http` types and decides the body framing by RFC 9112 §6,
//! refusing what a request-smuggling attack would need.

use bytes::{Bytes, BytesMut};
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

/// What parsing reuses from one request to the next, so that a keep-alive
/// request costs no heap allocation: the head's bytes are copied into one
/// shared buffer that the URI and header values point into (its memory is
/// reclaimed once the request is dropped), and the header map keeps its
/// capacity.
pub(crate) struct Scratch {
    bytes: BytesMut,
    pub(crate) headers: HeaderMap,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            bytes: BytesMut::with_capacity(4096),
            headers: HeaderMap::with_capacity(16),
        }
    }
}

/// Parses a head from the start of `buf`: `Ok(None)` when more bytes are
/// needed, `Ok(Some((head, len)))` when complete.
#[cfg(any(test, fuzzing))]
pub(crate) fn parse(buf: &[u8], limits: Limits) -> Result<Option<(Head, usize)>, Reject> {
    parse_into(buf, limits, &mut Scratch::default())
}

/// [`parse`], reusing `scratch`.
pub(crate) fn parse_into(
    buf: &[u8],
    limits: Limits,
    scratch: &mut Scratch,
) -> Result<Option<(Head, usize)>, Reject> {
    // The request line: method SP target SP version; a target past the
    // limit is 414 whether or not its line has ended yet.
    // Empty lines before the request line are skipped (RFC 9112 §2.2), as
    // httparse does; they do not lift the limit.
    let start = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let line = &buf[start..];
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    // The target runs from after the method's space to the next space (or
    // to what has arrived so far).
    if let Some(sp) = line.iter().position(|&b| b == b' ') {
        let rest = &line[sp + 1..];
        let target_len = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        if target_len > limits.max_uri_bytes {
            return Err(reject(StatusCode::URI_TOO_LONG, "request target too long"));
        }
    }
    if limits.max_headers <= STACK_HEADERS {
        let mut headers = [httparse::EMPTY_HEADER; STACK_HEADERS];
        parse_with(buf, &mut headers[..limits.max_headers], limits, scratch)
    } else {
        let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
        parse_with(buf, &mut headers, limits, scratch)
    }
}

fn parse_with<'b>(
    buf: &'b [u8],
    headers: &mut [httparse::Header<'b>],
    limits: Limits,
    scratch: &mut Scratch,
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
    // One copy of the head; the URI and every header value share it. The
    // previous request's values go first, so the buffer is ours alone again
    // and its memory is reused rather than reallocated.
    scratch.headers.clear();
    scratch.bytes.clear();
    scratch.bytes.extend_from_slice(&buf[..len]);
    let head = scratch.bytes.split().freeze();
    let base = buf.as_ptr() as usize;
    let shared = |part: &[u8]| {
        let at = part.as_ptr() as usize - base;
        head.slice(at..at + part.len())
    };
    let path = req.path.unwrap_or("");
    let uri = parse_target(&method, path, shared(path.as_bytes()))?;

    let mut map = std::mem::take(&mut scratch.headers);
    map.reserve(req.headers.len());
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| reject(StatusCode::BAD_REQUEST, "bad header name"))?;
        let value = HeaderValue::from_maybe_shared(shared(h.value))
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
    let start = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let line = buf[start..].split(|&b| b == b'\n').next().unwrap_or(buf);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // Only a well-formed line (method SP target SP version) is a version
    // problem; `GET /a b HTTP/1.1` is a malformed target.
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    match parts.as_slice() {
        [_, _, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]]
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

fn parse_target(method: &Method, path: &str, bytes: Bytes) -> Result<Uri, Reject> {
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
    Uri::from_maybe_shared(bytes).map_err(|_| reject(StatusCode::BAD_REQUEST, "bad request target"))
}

fn framing(map: &HeaderMap, version: Version) -> Result<Framing, Reject> {
    let te = map.get_all(TRANSFER_ENCODING);
    let cl = map.get_all(CONTENT_LENGTH);
    if te.iter().next().is_some() {
        if cl.iter().next().is_some() {
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
        let at_limit = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(4095));
        assert!(
            parse(at_limit.as_bytes(), LIMITS).unwrap().is_some(),
            "4096 bytes fit"
        );
        let one_over = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(4096));
        assert_eq!(status(&one_over), 414, "one byte over the limit");
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

    /// The URI limit holds however the request line is placed: a leading
    /// empty line (which RFC 9112 §2.2 lets a server skip) does not lift it.
    #[test]
    fn uri_limit_holds_after_a_leading_empty_line() {
        let long = format!("\r\nGET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(5000));
        assert_eq!(status(&long), 414);
    }

    /// Bare LF line endings are accepted (RFC 9112 §2.2 allows it), and give
    /// the same head as CRLF.
    #[test]
    fn bare_lf_line_endings_give_the_same_head() {
        let lf = ok("POST /p HTTP/1.1\nHost: x\nContent-Length: 3\n\n");
        let crlf = ok("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(
            (lf.method, lf.uri, lf.headers, lf.framing),
            (crlf.method, crlf.uri, crlf.headers, crlf.framing)
        );
    }

    /// NUL, bare CR and obs-fold in a head are refused, never folded in.
    #[test]
    fn control_bytes_and_obs_fold_are_400() {
        for raw in [
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX\0A: b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n",
            "GET / HTTP/1.1\r\n Host: x\r\n\r\n",
        ] {
            assert_eq!(status(raw), 400, "{raw:?}");
        }
    }

    // ----- properties --------------------------------------------------------

    mod props {
        use super::*;
        use proptest::collection::vec;
        use proptest::prelude::*;
        use proptest::sample::select;

        /// Few cases (the suite runs on 2 cores), no regression files in src/.
        fn cases(n: u32) -> ProptestConfig {
            ProptestConfig {
                cases: n,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        /// A valid request, as a model: what was sent and what must be parsed.
        #[derive(Debug, Clone)]
        struct Req {
            method: String,
            target: String,
            http10: bool,
            leading_empty_line: bool,
            lf_only: bool,
            /// Field lines in the order sent: name as sent, OWS before the
            /// value, the value, OWS after it.
            fields: Vec<(String, String, Vec<u8>, String)>,
            framing: Framing,
            keep_alive: bool,
            expect_continue: bool,
        }

        impl Req {
            fn bytes(&self) -> Vec<u8> {
                let eol: &[u8] = if self.lf_only { b"\n" } else { b"\r\n" };
                let mut out = Vec::new();
                if self.leading_empty_line {
                    out.extend_from_slice(eol);
                }
                out.extend_from_slice(self.method.as_bytes());
                out.push(b' ');
                out.extend_from_slice(self.target.as_bytes());
                out.extend_from_slice(if self.http10 {
                    b" HTTP/1.0"
                } else {
                    b" HTTP/1.1"
                });
                out.extend_from_slice(eol);
                for (name, before, value, after) in &self.fields {
                    out.extend_from_slice(name.as_bytes());
                    out.push(b':');
                    out.extend_from_slice(before.as_bytes());
                    out.extend_from_slice(value);
                    out.extend_from_slice(after.as_bytes());
                    out.extend_from_slice(eol);
                }
                out.extend_from_slice(eol);
                out
            }

            fn headers(&self) -> HeaderMap {
                let mut map = HeaderMap::new();
                for (name, _, value, _) in &self.fields {
                    map.append(
                        HeaderName::from_bytes(name.as_bytes()).unwrap(),
                        HeaderValue::from_bytes(value).unwrap(),
                    );
                }
                map
            }
        }

        fn token(min: usize, max: usize) -> impl Strategy<Value = String> {
            let tchar = "[A-Za-z0-9!#$%&'*+.^_`|~-]";
            proptest::string::string_regex(&format!("{tchar}{{{min},{max}}}")).unwrap()
        }

        /// Random letter case, as clients send names.
        fn any_case(s: &'static str) -> impl Strategy<Value = String> {
            vec(any::<bool>(), s.len()).prop_map(move |up| {
                s.chars()
                    .zip(up)
                    .map(|(c, u)| {
                        if u {
                            c.to_ascii_uppercase()
                        } else {
                            c.to_ascii_lowercase()
                        }
                    })
                    .collect()
            })
        }

        fn ows() -> impl Strategy<Value = String> {
            select(vec!["", "", " ", "  ", "\t", " \t"]).prop_map(String::from)
        }

        /// A field value: visible ASCII, obs-text, and inner spaces and tabs
        /// (httparse trims the outer ones).
        fn value() -> impl Strategy<Value = Vec<u8>> {
            let byte = prop_oneof![
                8 => 0x21u8..=0x7e,
                1 => Just(b' '),
                1 => Just(b'\t'),
                1 => 0x80u8..=0xff,
            ];
            vec(byte, 0..24).prop_map(|mut v| {
                while v.last().is_some_and(|b| *b == b' ' || *b == b'\t') {
                    v.pop();
                }
                let start = v.iter().position(|b| *b != b' ' && *b != b'\t');
                v.drain(..start.unwrap_or(v.len()));
                v
            })
        }

        fn target() -> impl Strategy<Value = String> {
            let pchar = "([A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-F]{2})";
            let origin = format!("(/{pchar}{{0,12}}){{1,4}}(\\?({pchar}|/|\\?){{0,16}})?");
            prop_oneof![
                8 => proptest::string::string_regex(&origin).unwrap(),
                1 => Just("/".to_string()),
                1 => proptest::string::string_regex(&format!("http://[a-z]{{1,8}}\\.test{origin}"))
                    .unwrap(),
            ]
        }

        fn method() -> impl Strategy<Value = String> {
            prop_oneof![
                4 => select(vec!["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"])
                    .prop_map(String::from),
                1 => "[A-Z]{1,12}",
            ]
        }

        #[derive(Debug, Clone)]
        enum Body {
            None,
            Length(u64, bool),
            Chunked,
        }

        prop_compose! {
            fn request()(
                method in method(),
                target in target(),
                http10 in any::<bool>(),
                leading_empty_line in prop::bool::weighted(0.1),
                lf_only in prop::bool::weighted(0.2),
                extra in vec((token(0, 12), ows(), value(), ows()), 0..10),
                host in (any_case("host"), ows(), "[a-z0-9.-]{1,20}(:[0-9]{1,5})?", ows()),
                with_host in any::<bool>(),
                body in prop_oneof![
                    Just(Body::None),
                    (0u64..=(1 << 20), any::<bool>()).prop_map(|(n, twice)| Body::Length(n, twice)),
                    Just(Body::Chunked),
                ],
                cl_name in any_case("content-length"),
                te_name in any_case("transfer-encoding"),
                te_value in any_case("chunked"),
                connection in select(vec![None, Some("close"), Some("keep-alive"),
                    Some("Keep-Alive"), Some("upgrade, close"), Some("te, keep-alive")]),
                conn_name in any_case("connection"),
                expect in any::<bool>(),
                expect_name in any_case("expect"),
                order in any::<prop::sample::Index>(),
            ) -> Req {
                let http10 = http10 && !matches!(body, Body::Chunked);
                let mut fields: Vec<(String, String, Vec<u8>, String)> = extra
                    .into_iter()
                    .map(|(n, b, v, a)| (format!("X-{n}"), b, v, a))
                    .collect();
                let mut special = Vec::new();
                if with_host || !http10 {
                    special.push((host.0, host.1, host.2.into_bytes(), host.3));
                }
                let framing = match body {
                    Body::None => Framing::None,
                    Body::Length(n, twice) => {
                        special.push((cl_name.clone(), " ".into(), n.to_string().into_bytes(), "".into()));
                        if twice {
                            special.push((cl_name, "".into(), format!("{n},{n}").into_bytes(), " ".into()));
                        }
                        if n == 0 { Framing::None } else { Framing::Length(n) }
                    }
                    Body::Chunked => {
                        special.push((te_name, " ".into(), te_value.into_bytes(), "".into()));
                        Framing::Chunked
                    }
                };
                if let Some(c) = connection {
                    special.push((conn_name, " ".into(), c.as_bytes().to_vec(), "".into()));
                }
                if expect {
                    special.push((expect_name, " ".into(), b"100-continue".to_vec(), "".into()));
                }
                // The special fields go in at one random place among the others.
                let at = order.index(fields.len() + 1);
                for (i, f) in special.into_iter().enumerate() {
                    fields.insert(at + i, f);
                }
                let keep_alive = if http10 {
                    connection.is_some_and(|c| c.to_ascii_lowercase().contains("keep-alive"))
                } else {
                    !connection.is_some_and(|c| c.contains("close"))
                };
                Req {
                    method,
                    target,
                    http10,
                    leading_empty_line,
                    lf_only,
                    fields,
                    framing,
                    keep_alive,
                    expect_continue: expect && !http10,
                }
            }
        }

        /// The statuses a head may be refused with.
        const REFUSALS: [u16; 6] = [400, 413, 414, 431, 501, 505];

        fn same_head(a: &Head, b: &Head) -> bool {
            a.method == b.method
                && a.uri == b.uri
                && a.version == b.version
                && a.headers == b.headers
                && a.framing == b.framing
                && a.keep_alive == b.keep_alive
                && a.expect_continue == b.expect_continue
        }

        proptest! {
            #![proptest_config(cases(256))]

            /// A valid request parses to its model, and the connection loop's
            /// way of reading (re-parse the accumulated bytes after each read)
            /// gets the same head however the bytes are split: every proper
            /// prefix of the head needs more, and the head's end is found
            /// whatever follows it (a body, the next request).
            #[test]
            fn a_valid_head_parses_the_same_however_split(
                req in request(),
                after in vec(any::<u8>(), 0..64),
                cuts in vec(any::<prop::sample::Index>(), 0..8),
            ) {
                let head = req.bytes();
                let mut wire = head.clone();
                wire.extend_from_slice(&after);

                let (h, n) = match parse(&wire, LIMITS) {
                    Ok(Some(got)) => got,
                    other => panic!("{:?}: {other:?}", String::from_utf8_lossy(&head)),
                };
                prop_assert_eq!(n, head.len());
                prop_assert_eq!(h.method.as_str(), req.method.as_str());
                prop_assert_eq!(h.uri.to_string(), req.target.clone());
                prop_assert_eq!(h.version, if req.http10 { Version::HTTP_10 } else { Version::HTTP_11 });
                prop_assert_eq!(&h.headers, &req.headers());
                prop_assert_eq!(h.framing, req.framing);
                prop_assert_eq!(h.keep_alive, req.keep_alive);
                prop_assert_eq!(h.expect_continue, req.expect_continue);

                for end in 0..head.len() {
                    let got = parse(&wire[..end], LIMITS);
                    prop_assert!(matches!(got, Ok(None)), "prefix {}: {:?}", end, got);
                }

                // Reads ending at random places, as the connection loop sees them.
                let mut ends: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
                ends.push(wire.len());
                ends.sort_unstable();
                for end in ends {
                    match parse(&wire[..end], LIMITS) {
                        Ok(None) => prop_assert!(end < head.len()),
                        Ok(Some((again, m))) => {
                            prop_assert!(end >= head.len());
                            prop_assert_eq!(m, n);
                            prop_assert!(same_head(&again, &h), "{:?} vs {:?}", again, h);
                        }
                        Err(r) => prop_assert!(false, "read ending at {}: {:?}", end, r),
                    }
                }
            }
        }

        /// Bytes worth putting into a head to break it.
        fn nasty_byte() -> impl Strategy<Value = u8> {
            prop_oneof![
                3 => any::<u8>(),
                1 => select(b"\r\n\0 \t:,;\"\\/?#%\x7f\x80\xff0".to_vec()),
            ]
        }

        #[derive(Debug, Clone)]
        enum Edit {
            Set(prop::sample::Index, u8),
            Insert(prop::sample::Index, u8),
            Delete(prop::sample::Index),
            Repeat(prop::sample::Index, usize),
        }

        fn edit() -> impl Strategy<Value = Edit> {
            prop_oneof![
                (any::<prop::sample::Index>(), nasty_byte()).prop_map(|(i, b)| Edit::Set(i, b)),
                (any::<prop::sample::Index>(), nasty_byte()).prop_map(|(i, b)| Edit::Insert(i, b)),
                any::<prop::sample::Index>().prop_map(Edit::Delete),
                (any::<prop::sample::Index>(), 1usize..600).prop_map(|(i, n)| Edit::Repeat(i, n)),
            ]
        }

        fn apply(mut wire: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
            for e in edits {
                match *e {
                    Edit::Set(ref i, b) if !wire.is_empty() => {
                        let i = i.index(wire.len());
                        wire[i] = b;
                    }
                    Edit::Insert(ref i, b) => {
                        let i = i.index(wire.len() + 1);
                        wire.insert(i, b);
                    }
                    Edit::Delete(ref i) if !wire.is_empty() => {
                        let i = i.index(wire.len());
                        wire.remove(i);
                    }
                    Edit::Repeat(ref i, n) if !wire.is_empty() => {
                        let i = i.index(wire.len());
                        let b = wire[i];
                        wire.splice(i..i, std::iter::repeat(b).take(n));
                    }
                    _ => {}
                }
            }
            wire
        }

        fn limits() -> impl Strategy<Value = Limits> {
            prop_oneof![
                1 => Just(LIMITS),
                2 => (1usize..12, 8usize..1024, 0usize..256, prop::option::of(0u64..2000)).prop_map(
                    |(max_headers, max_header_bytes, max_uri_bytes, max_body_bytes)| Limits {
                        max_headers,
                        max_header_bytes,
                        max_uri_bytes,
                        max_body_bytes,
                    }
                ),
            ]
        }

        proptest! {
            #![proptest_config(cases(256))]

            /// Hostile bytes (noise, or a valid request with random edits)
            /// never panic the parser; a refusal is one of the head statuses;
            /// an accepted head keeps the limits and is accepted the same when
            /// it arrives in pieces.
            #[test]
            fn hostile_bytes_are_refused_with_a_head_status_or_parsed_within_limits(
                wire in prop_oneof![
                    1 => vec(any::<u8>(), 0..512),
                    3 => (request(), vec(edit(), 1..6)).prop_map(|(r, e)| apply(r.bytes(), &e)),
                ],
                limits in limits(),
            ) {
                match parse(&wire, limits) {
                    Ok(None) => {}
                    Err(r) => prop_assert!(REFUSALS.contains(&r.status.as_u16()), "{:?}", r),
                    Ok(Some((h, n))) => {
                        prop_assert!(n > 0 && n <= wire.len() && n <= limits.max_header_bytes);
                        prop_assert!(h.headers.len() <= limits.max_headers);
                        // The limit holds for the target as sent.
                        let line = wire
                            .iter()
                            .skip_while(|&&b| b == b'\r' || b == b'\n')
                            .take_while(|&&b| b != b'\n')
                            .copied()
                            .collect::<Vec<u8>>();
                        let target = line.split(|&b| b == b' ').nth(1).unwrap_or(&[]);
                        prop_assert!(
                            target.len() <= limits.max_uri_bytes,
                            "a {}-byte target passed a {}-byte limit ({:?})",
                            target.len(),
                            limits.max_uri_bytes,
                            h.uri
                        );
                        if let (Framing::Length(len), Some(max)) = (h.framing, limits.max_body_bytes) {
                            prop_assert!(len <= max);
                        }
                        for end in 0..n {
                            let got = parse(&wire[..end], limits);
                            prop_assert!(matches!(got, Ok(None)), "prefix {}: {:?}", end, got);
                        }
                        let again = parse(&wire[..n], limits);
                        prop_assert!(
                            matches!(&again, Ok(Some((a, m))) if *m == n && same_head(a, &h)),
                            "{:?}",
                            again
                        );
                    }
                }
            }
        }
    }
}
