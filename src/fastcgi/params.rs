//! Name-value pairs (spec §3.4) and what a responder makes of them: the
//! CGI/1.1 variables of a `PARAMS` stream turned into an HTTP request
//! (RFC 3875 §4.1), and the CGI response head that goes back on `STDOUT`
//! (RFC 3875 §6.3).
//!
//! ```text
//!  a pair:  name length ─ value length ─ name bytes ─ value bytes
//!  a length: 0xxxxxxx                             (0 ..= 127, one byte)
//!          | 1xxxxxxx xxxxxxxx xxxxxxxx xxxxxxxx  (31 bits, four bytes)
//! ```
//!
//! A `PARAMS` stream may be cut into records anywhere, even inside a
//! length: [`ParamsStream`] joins the record contents (up to a limit) and
//! decodes the whole once the empty record has ended the stream.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use http::header::{
    HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING,
};
use http::{HeaderMap, Method, StatusCode, Uri, Version};

/// Default bound on a `PARAMS` stream, as for an HTTP/1 head
/// (`max_header_bytes`).
pub(crate) const DEFAULT_MAX_PARAMS_BYTES: usize = 64 * 1024;

/// Longest length the four-byte form can carry.
const MAX_LEN: usize = 0x7fff_ffff;

/// What can be wrong with a `PARAMS` stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamsError {
    /// The stream is longer than the limit (or a pair too long to encode).
    TooLarge,
    /// A pair runs past the end of the stream.
    Truncated,
    /// A CGI variable does not make a valid HTTP request; names it.
    Invalid(&'static str),
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamsError::TooLarge => f.write_str("FastCGI params too large"),
            ParamsError::Truncated => f.write_str("FastCGI params truncated"),
            ParamsError::Invalid(var) => write!(f, "FastCGI param {var} invalid"),
        }
    }
}

impl std::error::Error for ParamsError {}

impl From<ParamsError> for io::Error {
    fn from(e: ParamsError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

fn encode_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.extend_from_slice(&(len as u32 | 0x8000_0000).to_be_bytes());
    }
}

/// Appends one pair; `TooLarge` for a name or value over 2³¹ − 1 bytes.
pub(crate) fn encode_pair(out: &mut Vec<u8>, name: &[u8], value: &[u8]) -> Result<(), ParamsError> {
    if name.len() > MAX_LEN || value.len() > MAX_LEN {
        return Err(ParamsError::TooLarge);
    }
    encode_len(out, name.len());
    encode_len(out, value.len());
    out.extend_from_slice(name);
    out.extend_from_slice(value);
    Ok(())
}

/// Reads a length at `*at`; `None` when the bytes run out.
fn decode_len(b: &[u8], at: &mut usize) -> Option<usize> {
    let first = *b.get(*at)?;
    if first & 0x80 == 0 {
        *at += 1;
        return Some(usize::from(first));
    }
    let four = b.get(*at..*at + 4)?;
    *at += 4;
    Some((u32::from_be_bytes([four[0], four[1], four[2], four[3]]) & 0x7fff_ffff) as usize)
}

/// Decoded name-value pairs: the stream's bytes and where each pair lies
/// in them. Looking a name up returns the last pair with that name (as
/// PHP-FPM and Go's `net/http/fcgi` do when a web server repeats one).
pub(crate) struct Params {
    buf: Vec<u8>,
    pairs: Vec<(Range<usize>, Range<usize>)>,
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

impl Params {
    /// Decodes a whole stream (the contents of its records, joined).
    pub(crate) fn decode(buf: Vec<u8>) -> Result<Params, ParamsError> {
        let mut pairs = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            let name_len = decode_len(&buf, &mut at).ok_or(ParamsError::Truncated)?;
            let value_len = decode_len(&buf, &mut at).ok_or(ParamsError::Truncated)?;
            // Checked against what is there before any arithmetic could
            // overflow: a 2 GiB length in a 64 KiB stream is just short.
            let left = buf.len() - at;
            if name_len > left || value_len > left - name_len {
                return Err(ParamsError::Truncated);
            }
            let name = at..at + name_len;
            let value = name.end..name.end + value_len;
            at = value.end;
            pairs.push((name, value));
        }
        Ok(Params { buf, pairs })
    }

    /// The pairs, in stream order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.pairs
            .iter()
            .map(|(n, v)| (&self.buf[n.clone()], &self.buf[v.clone()]))
    }

    /// The value of the last pair named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .filter(|(n, _)| *n == name.as_bytes())
            .last()
            .map(|(_, v)| v)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pairs.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// A `PARAMS` stream being received, record by record.
#[derive(Debug)]
pub(crate) struct ParamsStream {
    buf: Vec<u8>,
    limit: usize,
}

impl ParamsStream {
    /// A stream of at most `limit` bytes.
    pub(crate) fn new(limit: usize) -> ParamsStream {
        ParamsStream {
            buf: Vec::new(),
            limit,
        }
    }

    /// Adds the content of one non-empty `PARAMS` record.
    pub(crate) fn push(&mut self, content: &[u8]) -> Result<(), ParamsError> {
        if content.len() > self.limit - self.buf.len() {
            return Err(ParamsError::TooLarge);
        }
        self.buf.extend_from_slice(content);
        Ok(())
    }

    /// The empty `PARAMS` record came: decodes what was pushed.
    pub(crate) fn finish(self) -> Result<Params, ParamsError> {
        Params::decode(self.buf)
    }
}

/// The variables `FCGI_GET_VALUES` may ask about (spec §4.1), as this
/// application answers them. It never multiplexes: `FCGI_MPXS_CONNS` is
/// always `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Capabilities {
    /// `FCGI_MAX_CONNS`: concurrent transport connections accepted.
    pub(crate) max_conns: usize,
    /// `FCGI_MAX_REQS`: concurrent requests accepted.
    pub(crate) max_reqs: usize,
}

impl Capabilities {
    /// The content of the `GET_VALUES_RESULT` for `query`, the content of
    /// a `GET_VALUES`: each known name asked for, once, with its value;
    /// unknown names left out.
    pub(crate) fn answer(&self, query: &[u8]) -> Result<Vec<u8>, ParamsError> {
        let query = Params::decode(query.to_vec())?;
        let mut out = Vec::new();
        let mut done = [false; 3];
        for (name, _) in query.iter() {
            let (i, value) = match name {
                b"FCGI_MAX_CONNS" => (0, self.max_conns.to_string()),
                b"FCGI_MAX_REQS" => (1, self.max_reqs.to_string()),
                b"FCGI_MPXS_CONNS" => (2, "0".to_string()),
                _ => continue,
            };
            if !std::mem::replace(&mut done[i], true) {
                encode_pair(&mut out, name, value.as_bytes())?;
            }
        }
        Ok(out)
    }
}

/// An HTTP request as the CGI variables describe it.
#[derive(Debug)]
pub(crate) struct CgiRequest {
    pub(crate) method: Method,
    /// The request target as the web server got it (`REQUEST_URI`:
    /// origin form as a rule, `*` or absolute form as HTTP allows), or else
    /// `SCRIPT_NAME` + `PATH_INFO` (percent-encoded) + `?QUERY_STRING`.
    pub(crate) uri: Uri,
    /// `SERVER_PROTOCOL`; HTTP/1.1 when absent or not an HTTP version.
    pub(crate) version: Version,
    /// `HTTP_*` variables, plus `Content-Type` and `Content-Length` from
    /// `CONTENT_TYPE` and `CONTENT_LENGTH`.
    pub(crate) headers: HeaderMap,
    /// `CONTENT_LENGTH`, when not empty. The body itself is the `STDIN`
    /// stream, which ends with its empty record whatever this says.
    pub(crate) content_length: Option<u64>,
    /// The client reached the web server over TLS (`HTTPS` is `on` or
    /// `1`, or `REQUEST_SCHEME` is `https`).
    pub(crate) https: bool,
    /// `REMOTE_ADDR`:`REMOTE_PORT`, the HTTP client; `None` when not an IP
    /// address (nginx says `unix:` for a Unix socket).
    pub(crate) peer: Option<SocketAddr>,
    /// `SERVER_ADDR`:`SERVER_PORT`, where the web server took the request.
    pub(crate) local: Option<SocketAddr>,
}

impl CgiRequest {
    /// Maps the variables of a responder request. Fails when
    /// `REQUEST_METHOD` is missing or invalid, when the URI, a header or
    /// `CONTENT_LENGTH` is invalid: the answer to that is a 400.
    pub(crate) fn from_params(p: &Params) -> Result<CgiRequest, ParamsError> {
        let method = p
            .get("REQUEST_METHOD")
            .and_then(|m| Method::from_bytes(m).ok())
            .ok_or(ParamsError::Invalid("REQUEST_METHOD"))?;
        let uri = request_uri(p)?;
        let version = match p.get("SERVER_PROTOCOL") {
            Some(b"HTTP/1.0") => Version::HTTP_10,
            Some(b"HTTP/0.9") => Version::HTTP_09,
            Some(b"HTTP/2.0" | b"HTTP/2") => Version::HTTP_2,
            Some(b"HTTP/3.0" | b"HTTP/3") => Version::HTTP_3,
            _ => Version::HTTP_11,
        };

        let mut headers = HeaderMap::new();
        let mut name_buf = Vec::new();
        for (name, value) in p.iter() {
            let Some(rest) = name.strip_prefix(b"HTTP_") else {
                continue;
            };
            // CONTENT_TYPE and CONTENT_LENGTH say these (RFC 3875 §4.1.18).
            if rest == b"CONTENT_TYPE" || rest == b"CONTENT_LENGTH" {
                continue;
            }
            name_buf.clear();
            name_buf.extend(rest.iter().map(|&b| match b {
                b'_' => b'-',
                b => b.to_ascii_lowercase(),
            }));
            let name = HeaderName::from_bytes(&name_buf)
                .map_err(|_| ParamsError::Invalid("HTTP_* (header name)"))?;
            let value = HeaderValue::from_bytes(value)
                .map_err(|_| ParamsError::Invalid("HTTP_* (header value)"))?;
            headers.append(name, value);
        }
        if let Some(ct) = p.get("CONTENT_TYPE").filter(|v| !v.is_empty()) {
            let ct =
                HeaderValue::from_bytes(ct).map_err(|_| ParamsError::Invalid("CONTENT_TYPE"))?;
            headers.insert(CONTENT_TYPE, ct);
        }
        let content_length = match p.get("CONTENT_LENGTH").filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => {
                let n = std::str::from_utf8(v)
                    .ok()
                    .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or(ParamsError::Invalid("CONTENT_LENGTH"))?;
                headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
                Some(n)
            }
        };

        let https = p
            .get("HTTPS")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"on") || v == b"1")
            || p.get("REQUEST_SCHEME")
                .is_some_and(|v| v.eq_ignore_ascii_case(b"https"));
        Ok(CgiRequest {
            method,
            uri,
            version,
            headers,
            content_length,
            https,
            peer: socket_addr(p.get("REMOTE_ADDR"), p.get("REMOTE_PORT")),
            local: socket_addr(p.get("SERVER_ADDR"), p.get("SERVER_PORT")),
        })
    }
}

/// `REQUEST_URI` when the web server sent one (nginx, Apache and lighttpd
/// do); else rebuilt from the CGI variables (RFC 3875 §4.1.5, §4.1.7,
/// §4.1.13), which hold the path decoded and the query as sent.
fn request_uri(p: &Params) -> Result<Uri, ParamsError> {
    if let Some(raw) = p.get("REQUEST_URI").filter(|v| !v.is_empty()) {
        return Uri::try_from(raw).map_err(|_| ParamsError::Invalid("REQUEST_URI"));
    }
    let script = p.get("SCRIPT_NAME").unwrap_or_default();
    let info = p.get("PATH_INFO").unwrap_or_default();
    let query = p.get("QUERY_STRING").unwrap_or_default();
    let mut s = String::new();
    if !script.starts_with(b"/") {
        s.push('/');
    }
    for &b in script.iter().chain(info) {
        push_encoded(&mut s, b, is_path_byte);
    }
    if !query.is_empty() {
        s.push('?');
        for &b in query {
            push_encoded(&mut s, b, is_query_byte);
        }
    }
    Uri::try_from(s).map_err(|_| ParamsError::Invalid("SCRIPT_NAME/PATH_INFO/QUERY_STRING"))
}

/// RFC 3986 `pchar` and `/`, minus `%` (the path is decoded).
fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b)
}

/// RFC 3986 `query`, plus `%` (the query is still encoded).
fn is_query_byte(b: u8) -> bool {
    is_path_byte(b) || b == b'?' || b == b'%'
}

fn push_encoded(s: &mut String, b: u8, keep: fn(u8) -> bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if keep(b) {
        s.push(char::from(b));
    } else {
        s.push('%');
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
}

fn socket_addr(addr: Option<&[u8]>, port: Option<&[u8]>) -> Option<SocketAddr> {
    let addr = std::str::from_utf8(addr?).ok()?;
    let addr = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr);
    let ip: IpAddr = addr.parse().ok()?;
    let port = match port {
        None | Some(b"") => 0,
        Some(p) => std::str::from_utf8(p).ok()?.parse().ok()?,
    };
    Some(SocketAddr::new(ip, port))
}

/// Appends the CGI response head to `out`: `Status: 200 OK`, the headers
/// one line each, and the empty line (RFC 3875 §6.3; FastCGI spec §6.1:
/// the status goes in `Status`, there are no non-parsed headers).
///
/// Left out: a `Status` header (the status line says it), and
/// `Transfer-Encoding` and `Connection`, which are about a connection the
/// application does not have: the web server frames the response to its
/// client. A status with no standard reason is sent with an empty one
/// (`Status: 599 `), which RFC 3875's grammar allows.
pub(crate) fn response_head(status: StatusCode, headers: &HeaderMap, out: &mut Vec<u8>) {
    out.extend_from_slice(b"Status: ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if name.as_str() == "status" || name == TRANSFER_ENCODING || name == CONNECTION {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        // A HeaderValue holds no CR, LF or NUL: no header splitting.
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn encode_all(pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, v) in pairs {
            encode_pair(&mut out, n.as_bytes(), v.as_bytes()).unwrap();
        }
        out
    }

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    fn decode_all(b: &[u8]) -> Result<Pairs, ParamsError> {
        Ok(Params::decode(b.to_vec())?
            .iter()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect())
    }

    /// What nginx sends for `GET /a/b?x=1` from curl with an
    /// `X-Request-Id` header: conf/fastcgi_params in its order, the
    /// `SCRIPT_FILENAME` a site adds after the include, then one `HTTP_*`
    /// per request header. `HTTPS` is `if_not_empty` so absent on plain
    /// HTTP; `CONTENT_TYPE` and `CONTENT_LENGTH` are sent empty.
    pub(crate) const NGINX_GET: &[(&str, &str)] = &[
        ("QUERY_STRING", "x=1"),
        ("REQUEST_METHOD", "GET"),
        ("CONTENT_TYPE", ""),
        ("CONTENT_LENGTH", ""),
        ("SCRIPT_NAME", "/a/b"),
        ("REQUEST_URI", "/a/b?x=1"),
        ("DOCUMENT_URI", "/a/b"),
        ("DOCUMENT_ROOT", "/var/www/html"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_SCHEME", "http"),
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SERVER_SOFTWARE", "nginx/1.22.1"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("REMOTE_PORT", "51234"),
        ("SERVER_ADDR", "127.0.0.1"),
        ("SERVER_PORT", "8080"),
        ("SERVER_NAME", "localhost"),
        ("REDIRECT_STATUS", "200"),
        ("SCRIPT_FILENAME", "/var/www/html/a/b"),
        ("HTTP_HOST", "localhost:8080"),
        ("HTTP_USER_AGENT", "curl/7.88.1"),
        ("HTTP_ACCEPT", "*/*"),
        ("HTTP_X_REQUEST_ID", "f00d"),
    ];

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::decode(encode_all(pairs)).unwrap()
    }

    fn with(
        base: &[(&'static str, &'static str)],
        extra: &[(&'static str, &'static str)],
    ) -> Params {
        let mut all = base.to_vec();
        all.extend_from_slice(extra);
        params(&all)
    }

    #[test]
    fn one_byte_lengths() {
        let b = encode_all(&[("A", "bc"), ("", "")]);
        assert_eq!(b, b"\x01\x02Abc\x00\x00");
        let got = decode_all(&b).unwrap();
        assert_eq!(got, [(b"A".to_vec(), b"bc".to_vec()), (vec![], vec![])]);
    }

    #[test]
    fn four_byte_lengths() {
        // 127 is the last one-byte length, 128 the first four-byte one.
        let name = "N".repeat(127);
        let value = "v".repeat(128);
        let b = encode_all(&[(&name, &value)]);
        assert_eq!(&b[..5], &[127, 0x80, 0, 0, 128]);
        assert_eq!(b.len(), 5 + 127 + 128);
        let big = "x".repeat(70_000);
        let b = encode_all(&[(&big, "1")]);
        assert_eq!(&b[..5], &[0x80, 0x01, 0x11, 0x70, 1]);
        let got = decode_all(&b).unwrap();
        assert_eq!(got[0].0.len(), 70_000);
        assert_eq!(got[0].1, b"1");
        // A sender may use the four-byte form for a short length too.
        let got = decode_all(b"\x80\x00\x00\x01\x80\x00\x00\x02ABC").unwrap();
        assert_eq!(got, [(b"A".to_vec(), b"BC".to_vec())]);
    }

    #[test]
    fn round_trip() {
        let pairs: Vec<(String, String)> = (0..300)
            .map(|i| (format!("NAME_{i}"), "é=\0".repeat(i)))
            .collect();
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let p = params(&refs);
        assert_eq!(p.len(), 300);
        for ((n, v), (gn, gv)) in refs.iter().zip(p.iter()) {
            assert_eq!((n.as_bytes(), v.as_bytes()), (gn, gv));
        }
        assert!(Params::decode(Vec::new()).unwrap().is_empty());
    }

    #[test]
    fn truncated_pairs_are_refused() {
        let whole = encode_all(&[("NAME", &"v".repeat(200))]);
        for cut in 1..whole.len() {
            assert_eq!(
                decode_all(&whole[..cut]).unwrap_err(),
                ParamsError::Truncated,
                "cut at {cut}"
            );
        }
        // Lengths far past the end (up to 2³¹ − 1) are just short: no
        // allocation, no overflow.
        assert_eq!(
            decode_all(b"\xff\xff\xff\xff\xff\xff\xff\xffab").unwrap_err(),
            ParamsError::Truncated
        );
        assert_eq!(
            decode_all(b"\x01\xff\xff\xff\xffa").unwrap_err(),
            ParamsError::Truncated
        );
    }

    #[test]
    fn last_of_a_repeated_name_wins() {
        let p = params(&[("A", "1"), ("B", "2"), ("A", "3")]);
        assert_eq!(p.get("A"), Some(&b"3"[..]));
        assert_eq!(p.get("B"), Some(&b"2"[..]));
        assert_eq!(p.get("C"), None);
    }

    #[test]
    fn split_across_records_at_every_byte() {
        let wire = encode_all(&[
            ("REQUEST_METHOD", "GET"),
            ("LONG", &"x".repeat(300)),
            (&"N".repeat(130), "y"),
            ("E", ""),
        ]);
        let expect = decode_all(&wire).unwrap();
        for a in 0..=wire.len() {
            let b = (a + 7).min(wire.len());
            let mut s = ParamsStream::new(DEFAULT_MAX_PARAMS_BYTES);
            for part in [&wire[..a], &wire[a..b], &wire[b..]] {
                if !part.is_empty() {
                    s.push(part).unwrap();
                }
            }
            let got: Vec<_> = s
                .finish()
                .unwrap()
                .iter()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect();
            assert_eq!(got, expect, "split at {a} and {b}");
        }
    }

    #[test]
    fn stream_size_is_bounded() {
        let mut s = ParamsStream::new(10);
        s.push(&[0; 6]).unwrap();
        s.push(&[0; 4]).unwrap();
        assert_eq!(s.push(&[0; 1]), Err(ParamsError::TooLarge));
        let mut s = ParamsStream::new(10);
        assert_eq!(s.push(&[0; 11]), Err(ParamsError::TooLarge));
        let e: io::Error = ParamsError::TooLarge.into();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn get_values_answer() {
        let caps = Capabilities {
            max_conns: 64,
            max_reqs: 64,
        };
        let query = encode_all(&[
            ("FCGI_MAX_CONNS", ""),
            ("FCGI_WHAT", ""),
            ("FCGI_MAX_REQS", ""),
            ("FCGI_MPXS_CONNS", ""),
            ("FCGI_MAX_CONNS", ""),
        ]);
        let answer = caps.answer(&query).unwrap();
        assert_eq!(
            answer,
            encode_all(&[
                ("FCGI_MAX_CONNS", "64"),
                ("FCGI_MAX_REQS", "64"),
                ("FCGI_MPXS_CONNS", "0"),
            ])
        );
        assert_eq!(caps.answer(b"").unwrap(), b"");
        assert_eq!(caps.answer(b"\x05").unwrap_err(), ParamsError::Truncated);
    }

    #[test]
    fn nginx_get() {
        let req = CgiRequest::from_params(&params(NGINX_GET)).unwrap();
        assert_eq!(req.method, Method::GET);
        assert_eq!(req.uri, "/a/b?x=1");
        assert_eq!(req.uri.path(), "/a/b");
        assert_eq!(req.uri.query(), Some("x=1"));
        assert_eq!(req.version, Version::HTTP_11);
        assert_eq!(req.content_length, None);
        assert!(!req.https);
        assert_eq!(req.peer, Some("127.0.0.1:51234".parse().unwrap()));
        assert_eq!(req.local, Some("127.0.0.1:8080".parse().unwrap()));
        let h = &req.headers;
        assert_eq!(h.len(), 4, "{h:?}");
        assert_eq!(h["host"], "localhost:8080");
        assert_eq!(h["user-agent"], "curl/7.88.1");
        assert_eq!(h["accept"], "*/*");
        assert_eq!(h["x-request-id"], "f00d");
        assert!(!h.contains_key(CONTENT_LENGTH));
        assert!(!h.contains_key(CONTENT_TYPE));
    }

    #[test]
    fn nginx_post_over_https_from_ipv6() {
        let mut base: Vec<_> = NGINX_GET
            .iter()
            .copied()
            .filter(|(n, _)| {
                !matches!(
                    *n,
                    "REQUEST_METHOD"
                        | "CONTENT_TYPE"
                        | "CONTENT_LENGTH"
                        | "REMOTE_ADDR"
                        | "SERVER_ADDR"
                        | "REQUEST_SCHEME"
                )
            })
            .collect();
        base.extend_from_slice(&[
            ("REQUEST_METHOD", "POST"),
            ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
            ("CONTENT_LENGTH", "11"),
            ("REQUEST_SCHEME", "https"),
            ("HTTPS", "on"),
            ("REMOTE_ADDR", "2001:db8::7"),
            ("SERVER_ADDR", "::1"),
            // nginx also passes these as headers; CONTENT_* win.
            ("HTTP_CONTENT_TYPE", "text/plain"),
            ("HTTP_CONTENT_LENGTH", "11"),
            ("SERVER_PROTOCOL", "HTTP/2.0"),
        ]);
        let req = CgiRequest::from_params(&params(&base)).unwrap();
        assert_eq!(req.method, Method::POST);
        assert_eq!(req.version, Version::HTTP_2);
        assert!(req.https);
        assert_eq!(req.content_length, Some(11));
        assert_eq!(req.headers.get_all(CONTENT_LENGTH).iter().count(), 1);
        assert_eq!(req.headers[CONTENT_LENGTH], "11");
        assert_eq!(req.headers.get_all(CONTENT_TYPE).iter().count(), 1);
        assert_eq!(
            req.headers[CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(req.peer, Some("[2001:db8::7]:51234".parse().unwrap()));
        assert_eq!(req.local, Some("[::1]:8080".parse().unwrap()));
    }

    #[test]
    fn cgi_fcgi_style_without_request_uri() {
        // A plain CGI environment: the URI comes from its parts, the path
        // re-encoded, the query kept as sent.
        let p = params(&[
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_NAME", "/app.fcgi"),
            ("PATH_INFO", "/a b/100%/é"),
            ("QUERY_STRING", "q=a%20b&r=\"x\""),
        ]);
        let req = CgiRequest::from_params(&p).unwrap();
        assert_eq!(req.uri.path(), "/app.fcgi/a%20b/100%25/%C3%A9");
        assert_eq!(req.uri.query(), Some("q=a%20b&r=%22x%22"));
        assert_eq!(req.version, Version::HTTP_11);
        assert!(req.peer.is_none() && req.local.is_none());

        let req = CgiRequest::from_params(&params(&[("REQUEST_METHOD", "GET")])).unwrap();
        assert_eq!(req.uri, "/");
        let req = CgiRequest::from_params(&params(&[
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_NAME", ""),
            ("PATH_INFO", "x"),
            ("REQUEST_URI", ""),
        ]))
        .unwrap();
        assert_eq!(req.uri, "/x");
    }

    #[test]
    fn request_uri_forms() {
        for (raw, path) in [("*", "*"), ("/p?", "/p"), ("http://h/x?y", "/x")] {
            let req = CgiRequest::from_params(&params(&[
                ("REQUEST_METHOD", "OPTIONS"),
                ("REQUEST_URI", raw),
            ]))
            .unwrap();
            assert_eq!(req.uri.path(), path, "{raw}");
        }
        assert_eq!(
            CgiRequest::from_params(&params(&[
                ("REQUEST_METHOD", "GET"),
                ("REQUEST_URI", "/a b")
            ]))
            .unwrap_err(),
            ParamsError::Invalid("REQUEST_URI")
        );
    }

    #[test]
    fn repeated_headers_are_all_kept() {
        // nginx before 1.23 sent one HTTP_* per header line.
        let p = with(
            NGINX_GET,
            &[("HTTP_ACCEPT", "text/html"), ("HTTP_COOKIE", "a=1")],
        );
        let req = CgiRequest::from_params(&p).unwrap();
        let accept: Vec<_> = req.headers.get_all("accept").iter().collect();
        assert_eq!(accept, ["*/*", "text/html"]);
        assert_eq!(req.headers["cookie"], "a=1");
    }

    #[test]
    fn protocols() {
        for (proto, v) in [
            ("HTTP/1.0", Version::HTTP_10),
            ("HTTP/1.1", Version::HTTP_11),
            ("HTTP/0.9", Version::HTTP_09),
            ("HTTP/2", Version::HTTP_2),
            ("HTTP/3.0", Version::HTTP_3),
            ("INCLUDED", Version::HTTP_11),
        ] {
            let p = params(&[("REQUEST_METHOD", "GET"), ("SERVER_PROTOCOL", proto)]);
            assert_eq!(CgiRequest::from_params(&p).unwrap().version, v, "{proto}");
        }
    }

    #[test]
    fn addresses() {
        for (addr, port, want) in [
            ("10.0.0.1", "80", Some("10.0.0.1:80")),
            ("10.0.0.1", "", Some("10.0.0.1:0")),
            ("[::1]", "443", Some("[::1]:443")),
            ("unix:", "", None),
            ("10.0.0.1", "99999", None),
            ("", "80", None),
        ] {
            let p = params(&[
                ("REQUEST_METHOD", "GET"),
                ("REMOTE_ADDR", addr),
                ("REMOTE_PORT", port),
            ]);
            let got = CgiRequest::from_params(&p).unwrap().peer;
            assert_eq!(got, want.map(|w| w.parse().unwrap()), "{addr} {port}");
        }
    }

    #[test]
    fn https_flags() {
        for (var, value, want) in [
            ("HTTPS", "on", true),
            ("HTTPS", "ON", true),
            ("HTTPS", "1", true),
            ("HTTPS", "off", false),
            ("HTTPS", "", false),
            ("REQUEST_SCHEME", "https", true),
            ("REQUEST_SCHEME", "http", false),
        ] {
            let p = params(&[("REQUEST_METHOD", "GET"), (var, value)]);
            assert_eq!(
                CgiRequest::from_params(&p).unwrap().https,
                want,
                "{var}={value}"
            );
        }
    }

    #[test]
    fn invalid_variables_are_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "REQUEST_METHOD"),
            (&[("REQUEST_METHOD", "")], "REQUEST_METHOD"),
            (&[("REQUEST_METHOD", "G T")], "REQUEST_METHOD"),
            (
                &[("REQUEST_METHOD", "GET"), ("CONTENT_LENGTH", "-1")],
                "CONTENT_LENGTH",
            ),
            (
                &[("REQUEST_METHOD", "GET"), ("CONTENT_LENGTH", "+5")],
                "CONTENT_LENGTH",
            ),
            (
                &[
                    ("REQUEST_METHOD", "GET"),
                    ("CONTENT_LENGTH", "99999999999999999999"),
                ],
                "CONTENT_LENGTH",
            ),
            (
                &[("REQUEST_METHOD", "GET"), ("CONTENT_TYPE", "a\x01b")],
                "CONTENT_TYPE",
            ),
            (
                &[("REQUEST_METHOD", "GET"), ("HTTP_X", "a\x7fb")],
                "HTTP_* (header value)",
            ),
            (
                &[("REQUEST_METHOD", "GET"), ("HTTP_", "x")],
                "HTTP_* (header name)",
            ),
            (
                &[("REQUEST_METHOD", "GET"), ("HTTP_A:B", "x")],
                "HTTP_* (header name)",
            ),
        ];
        for (pairs, var) in cases {
            let e = CgiRequest::from_params(&params(pairs)).unwrap_err();
            assert_eq!(e, ParamsError::Invalid(var), "{pairs:?}");
        }
    }

    #[test]
    fn response_head_format() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        h.append("set-cookie", HeaderValue::from_static("a=1"));
        h.append("set-cookie", HeaderValue::from_static("b=2"));
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("5"));
        let mut out = b"kept".to_vec();
        response_head(StatusCode::OK, &h, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "keptStatus: 200 OK\r\n\
             content-type: text/plain\r\n\
             set-cookie: a=1\r\n\
             set-cookie: b=2\r\n\
             content-length: 5\r\n\
             \r\n"
        );
    }

    #[test]
    fn response_head_drops_what_is_not_the_applications() {
        let mut h = HeaderMap::new();
        h.insert("status", HeaderValue::from_static("500 Nope"));
        h.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        h.insert(CONNECTION, HeaderValue::from_static("close"));
        h.insert("location", HeaderValue::from_static("/next"));
        let mut out = Vec::new();
        response_head(StatusCode::FOUND, &h, &mut out);
        assert_eq!(out, b"Status: 302 Found\r\nlocation: /next\r\n\r\n");

        let mut out = Vec::new();
        response_head(
            StatusCode::from_u16(599).unwrap(),
            &HeaderMap::new(),
            &mut out,
        );
        assert_eq!(out, b"Status: 599 \r\n\r\n");
    }
}
