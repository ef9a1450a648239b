//! Request heads: httparse does the tokenizing; this module turns its
//! result into `http` types, checks what httparse lets through (line
//! endings, the request target, `Host`, fields that must come once), and
//! decides the body framing by RFC 9112 §6, refusing what a
//! request-smuggling attack would need. Every rule, and why:
//! [`manual::strictness`](crate::manual::strictness).

use bytes::{Bytes, BytesMut};
use http::header::{
    HeaderName, HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, EXPECT, HOST,
    TRANSFER_ENCODING,
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
    /// HTTP/1.0 with `Connection: keep-alive`); never for `CONNECT`.
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

const fn bad(reason: &'static str) -> Reject {
    reject(StatusCode::BAD_REQUEST, reason)
}

/// Limits and rules the parser applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_headers: usize,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_uri_bytes: usize,
    pub(crate) max_body_bytes: Option<u64>,
    /// Hand `CONNECT` requests to the handler (else 501).
    pub(crate) allow_connect: bool,
}

const STACK_HEADERS: usize = 128;

/// Longest method token: a longer one is a malformed request line (400),
/// not a large head (431). The longest registered method
/// (`UPDATEREDIRECTREF`) has 17 bytes.
pub(crate) const MAX_METHOD_BYTES: usize = 32;

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
    // The request line: method SP target SP version. A method or target
    // past its limit is refused whether or not its line has ended yet.
    // Empty lines before the request line are skipped (RFC 9112 §2.2), as
    // httparse does; they do not lift the limit.
    let start = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let line = &buf[start..];
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let method_len = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    if method_len > MAX_METHOD_BYTES {
        return Err(bad("method too long"));
    }
    // The target runs from after the method's space to the next space (or
    // to what has arrived so far).
    if let Some(rest) = line.get(method_len + 1..) {
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

/// True when `b` holds an LF that no CR comes right before.
fn has_bare_lf(b: &[u8]) -> bool {
    let mut prev = 0u8;
    b.iter().any(|&c| {
        let bare = c == b'\n' && prev != b'\r';
        prev = c;
        bare
    })
}

fn parse_with<'b>(
    buf: &'b [u8],
    headers: &mut [httparse::Header<'b>],
    limits: Limits,
    scratch: &mut Scratch,
) -> Result<Option<(Head, usize)>, Reject> {
    let mut req = httparse::Request::new(headers);
    // httparse takes a bare LF for a line end, as RFC 9112 §2.2 allows;
    // this server does not (see `manual::strictness`). Until the head is
    // complete every byte so far is part of it, so a bare LF is refused as
    // soon as it arrives.
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if has_bare_lf(buf) {
                return Err(bad("bare LF line ending"));
            }
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
        Err(_) => return Err(bad("malformed request head")),
    };
    if len > limits.max_header_bytes {
        return Err(too_large());
    }
    if has_bare_lf(&buf[..len]) {
        return Err(bad("bare LF line ending"));
    }
    let method = req
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or(bad("bad method"))?;
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
    let (uri, form) = parse_target(&method, path, shared(path.as_bytes()))?;

    let mut map = std::mem::take(&mut scratch.headers);
    map.reserve(req.headers.len());
    let mut seen = Seen::default();
    for h in req.headers.iter() {
        if h.name.contains('_') && is_control_field(h.name.as_bytes(), true) {
            // `Content_Length` is not `Content-Length` here, but it is to a
            // front end (or a CGI-style gateway) that maps `_` to `-`.
            return Err(bad("underscore in the name of a framing field"));
        }
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| bad("bad header name"))?;
        let value =
            HeaderValue::from_maybe_shared(shared(h.value)).map_err(|_| bad("bad header value"))?;
        seen.note(&name);
        map.append(name, value);
    }

    check_host(&map, version, &uri, form)?;
    if seen.content_type > 1 || seen.authorization > 1 {
        return Err(bad("a field that must come once came twice"));
    }
    let framing = if seen.framing {
        framing(&map, version)?
    } else {
        Framing::None
    };
    if method == Method::CONNECT && !limits.allow_connect {
        return Err(connect_refused());
    }
    if let (Framing::Length(n), Some(max)) = (framing, limits.max_body_bytes) {
        if n > max {
            return Err(reject(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
            ));
        }
    }
    // A CONNECT the handler answers without taking the connection (a
    // hijack, to tunnel) ends it: what the client sends next is tunnel
    // data, not a request.
    let keep_alive = method != Method::CONNECT
        && match (version, seen.connection) {
            (Version::HTTP_11, false) => true,
            (Version::HTTP_11, true) => !has_token(&map, CONNECTION, "close"),
            (_, false) => false,
            (_, true) => {
                has_token(&map, CONNECTION, "keep-alive") && !has_token(&map, CONNECTION, "close")
            }
        };
    let expect_continue =
        version == Version::HTTP_11 && seen.expect && has_token(&map, EXPECT, "100-continue");
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

/// The one place `CONNECT` is refused: the server does not tunnel, and a
/// handler that did not ask for `CONNECT` (with
/// [`Builder::allow_connect`](crate::Builder::allow_connect)) must not be
/// handed one. 501: the server does not support the method at all (RFC
/// 9110 §15.6.2), not for this resource only (405).
fn connect_refused() -> Reject {
    reject(StatusCode::NOT_IMPLEMENTED, "CONNECT is not supported")
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
        _ => bad("malformed request line"),
    }
}

/// The four forms of request-target (RFC 9112 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `/path?query`
    Origin,
    /// `http://host/path?query`
    Absolute,
    /// `host:port`, for `CONNECT` only.
    Authority,
    /// `*`, for `OPTIONS` only.
    Asterisk,
}

const BAD_TARGET: Reject = bad("bad request target");

fn parse_target(method: &Method, target: &str, bytes: Bytes) -> Result<(Uri, Form), Reject> {
    let t = target.as_bytes();
    // request-target is ASCII (RFC 3986 characters, non-ASCII ones
    // percent-encoded) and has no fragment (RFC 9112 §3.2).
    if t.iter().any(|&b| !b.is_ascii() || b == b'#') {
        return Err(BAD_TARGET);
    }
    let form = match t.first() {
        None => return Err(BAD_TARGET),
        _ if *method == Method::CONNECT => Form::Authority,
        Some(b'/') => Form::Origin,
        Some(b'*') if t == b"*" && *method == Method::OPTIONS => Form::Asterisk,
        Some(b'*') => return Err(BAD_TARGET),
        Some(_) => Form::Absolute,
    };
    if form == Form::Authority && !valid_authority(t, true) {
        return Err(BAD_TARGET);
    }
    let uri = Uri::from_maybe_shared(bytes).map_err(|_| BAD_TARGET)?;
    match form {
        Form::Origin => check_path(t.split(|&b| b == b'?').next().unwrap_or(t))?,
        Form::Absolute => {
            // Only the schemes this server serves; an authority without
            // userinfo (RFC 9110 §4.2.4) naming a host.
            let scheme_ok = uri
                .scheme_str()
                .is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"));
            let authority_ok = uri
                .authority()
                .is_some_and(|a| valid_authority(a.as_str().as_bytes(), false));
            if !scheme_ok || !authority_ok {
                return Err(BAD_TARGET);
            }
            check_path(uri.path().as_bytes())?;
        }
        Form::Authority | Form::Asterisk => {}
    }
    Ok((uri, form))
}

/// Percent-encoding in the path is `%` and two hex digits, and never
/// `%00` (a decoded NUL cuts a path short in C and the filesystem).
/// Other encoded bytes (`%0d%0a` too) are the handler's to decode.
fn check_path(path: &[u8]) -> Result<(), Reject> {
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'%' {
            match (path.get(i + 1), path.get(i + 2)) {
                (Some(b'0'), Some(b'0')) => return Err(bad("%00 in the path")),
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return Err(bad("bad percent-encoding in the path")),
            }
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// `uri-host [ ":" port ]` as this server takes it (RFC 9110 §7.2, RFC
/// 3986 §3.2.2): an IPv6 literal in brackets, or a name of letters,
/// digits, `-`, `.` and `_` (DNS names, IPv4 addresses, service names),
/// with no empty label; then a port of 1 to 5 digits, which `need_port`
/// makes required. No userinfo, path, list, or empty host.
fn valid_authority(a: &[u8], need_port: bool) -> bool {
    let (host_ok, rest) = if a.first() == Some(&b'[') {
        match a.iter().position(|&b| b == b']') {
            Some(end) => {
                let inner = &a[1..end];
                let ok = inner.contains(&b':')
                    && inner
                        .iter()
                        .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
                (ok, &a[end + 1..])
            }
            None => (false, &a[..0]),
        }
    } else {
        let end = a.iter().position(|&b| b == b':').unwrap_or(a.len());
        let host = &a[..end];
        let ok = !host.is_empty()
            && host[0] != b'.'
            && !host.windows(2).any(|w| w == b"..")
            && host
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        (ok, &a[end..])
    };
    let port_ok = match rest {
        [] => !need_port,
        [b':', port @ ..] => (1..=5).contains(&port.len()) && port.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    host_ok && port_ok
}

/// `Host` (RFC 9112 §3.2, RFC 9110 §7.2): exactly one in HTTP/1.1, at most
/// one in HTTP/1.0, and a valid, non-empty `uri-host [":" port]`. An empty
/// Host is only meant for a target URI without an authority, which no
/// `http` or `https` URI is. With an absolute-form target the Host must
/// name the same authority (the target's wins, RFC 9112 §3.2.2; a
/// different Host would route differently in a front end).
fn check_host(map: &HeaderMap, version: Version, uri: &Uri, form: Form) -> Result<(), Reject> {
    let mut hosts = map.get_all(HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(bad("more than one Host"));
    }
    let Some(host) = host else {
        return if version == Version::HTTP_11 {
            Err(bad("HTTP/1.1 needs exactly one Host"))
        } else {
            Ok(())
        };
    };
    let host = host.as_bytes();
    if !valid_authority(host, false) {
        return Err(bad("bad Host"));
    }
    if form == Form::Absolute {
        let default_port: &[u8] = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => b":443",
            _ => b":80",
        };
        let authority = uri.authority().map_or(&b""[..], |a| a.as_str().as_bytes());
        let host = host.strip_suffix(default_port).unwrap_or(host);
        let authority = authority.strip_suffix(default_port).unwrap_or(authority);
        if !host.eq_ignore_ascii_case(authority) {
            return Err(bad("Host differs from the target's authority"));
        }
    }
    Ok(())
}

/// Which of the fields the checks above look at a request has, noted as
/// the head is read (comparing a standard name is one integer compare),
/// so that the checks look up only fields that are there: most requests
/// carry none but Host, and each lookup hashes the name.
#[derive(Default)]
struct Seen {
    content_type: u8,
    authorization: u8,
    /// Content-Length or Transfer-Encoding.
    framing: bool,
    connection: bool,
    expect: bool,
}

impl Seen {
    fn note(&mut self, name: &HeaderName) {
        if name == CONTENT_TYPE {
            self.content_type = self.content_type.saturating_add(1);
        } else if name == AUTHORIZATION {
            self.authorization = self.authorization.saturating_add(1);
        } else if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            self.framing = true;
        } else if name == CONNECTION {
            self.connection = true;
        } else if name == EXPECT {
            self.expect = true;
        }
    }
}

/// `tchar` (RFC 9110 §5.6.2).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The fields the server frames, routes or manages the connection by: a
/// trailer section must not carry them (RFC 9110 §6.5.1), and an
/// underscore spelling of one (`Content_Length`) is refused.
const CONTROL_FIELDS: [&str; 9] = [
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
];

/// True when `name` is one of [`CONTROL_FIELDS`] (ASCII case-insensitive;
/// with `underscores`, `_` also matches `-`).
pub(crate) fn is_control_field(name: &[u8], underscores: bool) -> bool {
    CONTROL_FIELDS.iter().any(|f| {
        f.len() == name.len()
            && f.bytes().zip(name).all(|(f, &n)| {
                f == n.to_ascii_lowercase() || (underscores && f == b'-' && n == b'_')
            })
    })
}

fn framing(map: &HeaderMap, version: Version) -> Result<Framing, Reject> {
    let te = map.get_all(TRANSFER_ENCODING);
    let mut cl = map.get_all(CONTENT_LENGTH).iter();
    if te.iter().next().is_some() {
        if cl.next().is_some() {
            return Err(bad("both Content-Length and Transfer-Encoding"));
        }
        if version == Version::HTTP_10 {
            return Err(bad("Transfer-Encoding in HTTP/1.0"));
        }
        return transfer_codings(te);
    }
    let Some(value) = cl.next() else {
        return Ok(Framing::None);
    };
    // One field, one number: a list (`5, 5`) or a second field, equal or
    // not, is refused rather than collapsed (RFC 9110 §8.6 allows either).
    if cl.next().is_some() {
        return Err(bad("more than one Content-Length"));
    }
    match parse_length(value.as_bytes()).ok_or(bad("bad Content-Length"))? {
        0 => Ok(Framing::None),
        n => Ok(Framing::Length(n)),
    }
}

/// `Transfer-Encoding` (RFC 9112 §6.1, §6.3): the codings in order, across
/// all its fields. `chunked` must come last and once, else the body's end
/// cannot be found (400); before it, any other coding is one this server
/// does not decode (501). The only coding accepted is a lone `chunked`.
fn transfer_codings(te: http::header::GetAll<'_, HeaderValue>) -> Result<Framing, Reject> {
    let mut codings = 0usize;
    let mut last_is_chunked = false;
    for element in te
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(trim)
        .filter(|c| !c.is_empty())
    {
        // transfer-coding = token *( OWS ";" OWS transfer-parameter )
        let name = trim(element.split(|&b| b == b';').next().unwrap_or(element));
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(bad("malformed Transfer-Encoding"));
        }
        if last_is_chunked {
            return Err(bad("chunked is not the last transfer coding"));
        }
        last_is_chunked = element.eq_ignore_ascii_case(b"chunked");
        codings += 1;
    }
    match (codings, last_is_chunked) {
        (0, _) => Err(bad("empty Transfer-Encoding")),
        (_, false) => Err(bad("chunked is not the last transfer coding")),
        (1, true) => Ok(Framing::Chunked),
        (_, true) => Err(reject(
            StatusCode::NOT_IMPLEMENTED,
            "unsupported transfer coding",
        )),
    }
}

/// `1*DIGIT`, without leading zeros (`0` itself aside): `005` is a number
/// to this server but may be octal, or a different number, to another.
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || (digits.len() > 1 && digits[0] == b'0') {
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
        allow_connect: false,
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
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
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

    /// Bare LF line endings are refused (RFC 9112 §2.2 allows accepting
    /// them; this server does not), wherever they are, as soon as they
    /// arrive.
    #[test]
    fn bare_lf_line_endings_are_400() {
        for raw in [
            "POST /p HTTP/1.1\nHost: x\nContent-Length: 3\n\n",
            "GET / HTTP/1.1\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\nX-B: b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n\n",
            "\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
            // Not yet complete: refused at once, not after a timeout.
            "GET / HTTP/1.1\nHost: x",
        ] {
            assert_eq!(status(raw), 400, "{raw:?}");
        }
        // A CRLF empty line before the request line is still skipped.
        ok("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
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

    fn get_with_host(host: &str) -> String {
        format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n")
    }

    /// RFC 9112 §3.2, RFC 9110 §7.2: one Host, one `uri-host [":" port]`.
    #[test]
    fn host_must_be_one_valid_authority() {
        for host in [
            "user@127.0.0.1:8080",
            "127.0.0.1:8080/path",
            "",
            "127.0.0.1:8080, other.example.com",
            "a,b",
            "a b",
            "a\\b",
            "a?b",
            "a#b",
            "a%41b",
            "..",
            "a..b",
            ".a",
            "a:",
            ":80",
            "a:123456",
            "a:8x",
            "a:80:80",
            "[::1",
            "[]",
            "[1.2.3.4]",
            "[::1]x",
            "[::1]:",
            "[v1.x]",
        ] {
            assert_eq!(status(&get_with_host(host)), 400, "Host: {host:?}");
        }
        for host in [
            "127.0.0.1:8080",
            "example.com",
            "EXAMPLE.com.",
            "my_service:8080",
            "a-b.c",
            "[::1]",
            "[::1]:443",
            "[2001:db8::1.2.3.4]",
            "localhost:1",
        ] {
            ok(&get_with_host(host));
        }
        assert_eq!(
            status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
            400,
            "two Host fields, even equal"
        );
        assert_eq!(
            status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
            400,
            "HTTP/1.0 too"
        );
        assert_eq!(status("GET / HTTP/1.0\r\nHost: a@b\r\n\r\n"), 400);
        assert_eq!(ok("GET / HTTP/1.0\r\n\r\n").version, Version::HTTP_10);
    }

    /// RFC 9112 §3.2.2, RFC 9110 §4.2.4: an absolute-form target is an
    /// `http` or `https` URI with a host and no userinfo, and the Host names
    /// the same authority.
    #[test]
    fn absolute_form_targets() {
        let h = ok("GET http://a.test:8080/p?q HTTP/1.1\r\nHost: a.test:8080\r\n\r\n");
        assert_eq!((h.uri.host(), h.uri.path()), (Some("a.test"), "/p"));
        ok("GET HTTPS://A.test/ HTTP/1.1\r\nHost: a.TEST:443\r\n\r\n");
        ok("GET http://a.test:80/ HTTP/1.1\r\nHost: a.test\r\n\r\n");
        ok("GET http://a.test HTTP/1.1\r\nHost: a.test\r\n\r\n");
        for raw in [
            "GET http://a.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n",
            "GET http://a.test/ HTTP/1.1\r\nHost: \r\n\r\n",
            "GET http://a.test:81/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
            "GET http://u@a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
            "GET ftp://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
            "GET x://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
            "GET http:///p HTTP/1.1\r\nHost: a.test\r\n\r\n",
            "GET http://a.test/%00 HTTP/1.1\r\nHost: a.test\r\n\r\n",
        ] {
            assert_eq!(status(raw), 400, "{raw:?}");
        }
    }

    /// RFC 9112 §3.2.3, §3.2.4: authority-form is for CONNECT alone, and
    /// CONNECT is refused (501) unless allowed; `*` is for OPTIONS alone.
    #[test]
    fn connect_authority_form_and_asterisk() {
        let connect = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
        assert_eq!(status(connect), 501);
        let allowed = Limits {
            allow_connect: true,
            ..LIMITS
        };
        let (h, _) = parse(connect.as_bytes(), allowed).unwrap().unwrap();
        assert_eq!(h.method, Method::CONNECT);
        assert_eq!(
            h.uri.authority().map(|a| a.as_str()),
            Some("example.com:443")
        );
        assert!(!h.keep_alive, "a CONNECT never keeps its connection");
        for raw in [
            // CONNECT with another form of target (malformed: 400 first).
            "CONNECT /p HTTP/1.1\r\nHost: a\r\n\r\n",
            "CONNECT http://a:443/ HTTP/1.1\r\nHost: a\r\n\r\n",
            "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n",
            "CONNECT u@example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n",
            "CONNECT * HTTP/1.1\r\nHost: a\r\n\r\n",
            // authority-form with another method.
            "GET example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            "OPTIONS example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n",
            // asterisk-form with another method, or with more.
            "GET * HTTP/1.1\r\nHost: a\r\n\r\n",
            "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n",
            "OPTIONS */ HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            assert_eq!(status(raw), 400, "{raw:?}");
            assert_eq!(
                parse(raw.as_bytes(), allowed).map(|_| ()),
                Err(bad("bad request target")),
                "{raw:?}"
            );
        }
        assert_eq!(ok("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").uri, "*");
    }

    /// RFC 9112 §3.2, RFC 3986: the target is ASCII, has no fragment, and
    /// its path percent-encodes with two hex digits and never `%00`.
    #[test]
    fn request_target_bytes() {
        for target in [
            "/caf\u{e9}",
            "/path#frag",
            "/#",
            "/p?q#f",
            "/%00",
            "/a%00b",
            "/%0",
            "/%zz",
            "/%",
            "/a%g0",
        ] {
            let raw = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
            assert_eq!(status(&raw), 400, "{target:?}");
        }
        let raw = b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n";
        assert!(matches!(parse(raw, LIMITS), Err(r) if r.status == 400));
        let raw = b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n";
        assert!(matches!(parse(raw, LIMITS), Err(r) if r.status == 400));
        // Encoded bytes are the handler's to decode, CRLF included; in the
        // query anything encoded passes (trackers send `%00` there).
        for target in [
            "/caf%C3%A9",
            "/a%0d%0ab",
            "/%2F",
            "/p?x=%00",
            "/p?100%",
            "/a|b^c{d}",
        ] {
            let raw = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
            assert_eq!(ok(&raw).uri.to_string(), target);
        }
    }

    /// A method longer than any real one is a malformed request line (400),
    /// refused before the line ends; not a head too large (431).
    #[test]
    fn an_overlong_method_is_400() {
        let long = "A".repeat(100_000);
        assert_eq!(
            status(&format!("{long} / HTTP/1.1\r\nHost: a\r\n\r\n")),
            400
        );
        assert_eq!(
            status(&long[..MAX_METHOD_BYTES + 1]),
            400,
            "before its space"
        );
        let limit = "A".repeat(MAX_METHOD_BYTES);
        let h = ok(&format!("{limit} / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert_eq!(h.method.as_str(), limit);
        // An unknown but well-formed method is the handler's.
        assert_eq!(
            ok("BREW / HTTP/1.1\r\nHost: a\r\n\r\n").method.as_str(),
            "BREW"
        );
        assert_eq!(status("GE[T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    }

    /// RFC 9112 §6.1, §6.3: chunked must be the last coding, and once
    /// (400 and close); another coding before it is one the server does not
    /// implement (501).
    #[test]
    fn transfer_coding_lists() {
        let te = |v: &str| {
            status(&format!(
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {v}\r\n\r\n"
            ))
        };
        for v in [
            "chunked, gzip",
            "chunked,gzip",
            "chunked, chunked",
            "gzip",
            "identity",
            "\"chunked\"",
            "chunked;q=1",
            "chunked x",
            ",",
            "gzip, chunked;x",
        ] {
            assert_eq!(te(v), 400, "{v:?}");
        }
        for v in [
            "gzip, chunked",
            "br,chunked",
            "x-custom;p=1, chunked",
            "identity, chunked",
        ] {
            assert_eq!(te(v), 501, "{v:?}");
        }
        for v in ["chunked", "CHUNKED", "chunked,", ", chunked"] {
            assert_eq!(
                ok(&format!(
                    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {v}\r\n\r\n"
                ))
                .framing,
                Framing::Chunked,
                "{v:?}"
            );
        }
        // Across fields, in order.
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
            501
        );
    }

    /// RFC 9110 §8.6: one Content-Length, a plain decimal without leading
    /// zeros; the OWS around a field value is not part of it.
    #[test]
    fn content_length_values() {
        let cl = |line: &str| format!("POST / HTTP/1.1\r\nHost: x\r\n{line}\r\n\r\n");
        for line in [
            "Content-Length: 005",
            "Content-Length: 00",
            "Content-Length: 0200",
            "Content-Length: 5, 5",
            "Content-Length: 5,5",
            "Content-Length: 5\r\nContent-Length: 5",
            "Content-Length: 5\r\ncontent-length: 6",
        ] {
            assert_eq!(status(&cl(line)), 400, "{line:?}");
        }
        for line in [
            "Content-Length: 5 ",
            "Content-Length:   5",
            "Content-Length:\t5",
            "Content-Length: \t5\t ",
            "Content-Length:5",
        ] {
            assert_eq!(ok(&cl(line)).framing, Framing::Length(5), "{line:?}");
        }
        assert_eq!(ok(&cl("Content-Length: 0")).framing, Framing::None);
        assert_eq!(status(&cl("Content-Length: 999999999")), 413);
    }

    /// Fields a request carries once: Content-Type and Authorization (as
    /// Host and Content-Length) twice are refused, not one picked.
    #[test]
    fn singleton_fields_twice_are_400() {
        for name in ["Content-Type", "Authorization"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: x\r\n{name}: a\r\n{name}: a\r\n\r\n");
            assert_eq!(status(&raw), 400, "{name}");
            ok(&format!("GET / HTTP/1.1\r\nHost: x\r\n{name}: a\r\n\r\n"));
        }
        // Other fields may repeat.
        let h = ok("GET / HTTP/1.1\r\nHost: x\r\nAccept: a\r\nAccept: b\r\n\r\n");
        assert_eq!(h.headers.get_all("accept").iter().count(), 2);
    }

    /// An underscore spelling of a framing or routing field is refused (a
    /// front end that maps `_` to `-` would frame by it); other underscore
    /// names reach the handler.
    #[test]
    fn underscore_lookalikes_of_framing_fields_are_400() {
        for name in [
            "Transfer_Encoding",
            "Content_Length",
            "content_length",
            "CONTENT_length",
            "Keep_Alive",
        ] {
            let raw = format!("POST / HTTP/1.1\r\nHost: x\r\n{name}: 5\r\n\r\n");
            assert_eq!(status(&raw), 400, "{name}");
        }
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: x\r\nContent_Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400
        );
        for name in [
            "X_Api_Key",
            "Host_",
            "_Host",
            "Content-Length_",
            "x_forwarded_for",
        ] {
            let h = ok(&format!("GET / HTTP/1.1\r\nHost: x\r\n{name}: k\r\n\r\n"));
            assert_eq!(h.headers[name.to_ascii_lowercase().as_str()], "k", "{name}");
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
            /// Field lines in the order sent: name as sent, OWS before the
            /// value, the value, OWS after it.
            fields: Vec<(String, String, Vec<u8>, String)>,
            framing: Framing,
            keep_alive: bool,
            expect_continue: bool,
        }

        impl Req {
            fn bytes(&self) -> Vec<u8> {
                let eol: &[u8] = b"\r\n";
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
            // Percent-encoded bytes, but not %00 (refused in the path).
            let pchar = "([A-Za-z0-9._~!$&'()*+,;=:@-]|%(0[1-9A-F]|[1-9A-F][0-9A-F]))";
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
                1 => "[A-Z]{1,12}".prop_filter("CONNECT is refused", |m| m != "CONNECT"),
            ]
        }

        #[derive(Debug, Clone)]
        enum Body {
            None,
            Length(u64),
            Chunked,
        }

        prop_compose! {
            fn request()(
                method in method(),
                target in target(),
                http10 in any::<bool>(),
                leading_empty_line in prop::bool::weighted(0.1),
                extra in vec((token(0, 12), ows(), value(), ows()), 0..10),
                host in (
                    any_case("host"),
                    ows(),
                    "[a-z0-9_][a-z0-9_-]{0,8}(\\.[a-z0-9_-]{1,8}){0,2}\\.?(:[0-9]{1,5})?",
                    ows(),
                ),
                with_host in any::<bool>(),
                body in prop_oneof![
                    Just(Body::None),
                    (0u64..=(1 << 20)).prop_map(Body::Length),
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
                    // An absolute-form target's Host names its authority.
                    let value = match target.strip_prefix("http://") {
                        Some(rest) => rest.split('/').next().unwrap_or(rest).to_string(),
                        None => host.2,
                    };
                    special.push((host.0, host.1, value.into_bytes(), host.3));
                }
                let framing = match body {
                    Body::None => Framing::None,
                    Body::Length(n) => {
                        special.push((cl_name, " ".into(), n.to_string().into_bytes(), "".into()));
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

        proptest! {
            #![proptest_config(cases(128))]

            /// A valid head with one of its CRLFs cut to a bare LF is refused
            /// (400) as soon as the LF has arrived, complete or not: never a
            /// wait for more. Before the LF, it needs more, as the valid one.
            #[test]
            fn a_bare_lf_anywhere_in_a_head_is_400_once_it_arrives(
                req in request(),
                pick in any::<prop::sample::Index>(),
            ) {
                let head = req.bytes();
                let crlfs: Vec<usize> = head
                    .windows(2)
                    .enumerate()
                    .filter(|(_, w)| *w == b"\r\n")
                    .map(|(i, _)| i)
                    .collect();
                let at = crlfs[pick.index(crlfs.len())];
                let mut wire = head.clone();
                wire.remove(at);
                for end in 0..=wire.len() {
                    let got = parse(&wire[..end], LIMITS);
                    if end <= at {
                        prop_assert!(matches!(got, Ok(None)), "prefix {}: {:?}", end, got);
                    } else {
                        prop_assert_eq!(
                            got.map(|_| ()),
                            Err(bad("bare LF line ending")),
                            "prefix {} of {:?}",
                            end,
                            String::from_utf8_lossy(&wire)
                        );
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
                2 => (
                    1usize..12,
                    8usize..1024,
                    0usize..256,
                    prop::option::of(0u64..2000),
                    any::<bool>(),
                )
                    .prop_map(
                        |(max_headers, max_header_bytes, max_uri_bytes, max_body_bytes, allow_connect)| {
                            Limits {
                                max_headers,
                                max_header_bytes,
                                max_uri_bytes,
                                max_body_bytes,
                                allow_connect,
                            }
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
