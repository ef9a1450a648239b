//! What a handler returns.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;

use http::header::{HeaderName, HeaderValue, IntoHeaderName, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};

use crate::state::ServerState;
use crate::stream::BodyWriter;

/// A response: status, headers and a body that is bytes, text or a reader.
///
/// The server adds `Date`, `Content-Length` or `Transfer-Encoding` and
/// `Connection` itself. A body of known length is sent with
/// `Content-Length`; a reader of unknown length is sent chunked to HTTP/1.1
/// clients and close-delimited to HTTP/1.0 ones. `HEAD` requests and
/// 1xx, 204 and 304 responses carry no body whatever the handler set.
///
/// ```
/// use courteous::Response;
/// use http::StatusCode;
///
/// let ok = Response::text("hello\n");
/// let missing = Response::text("no such page\n").with_status(StatusCode::NOT_FOUND);
/// let json = Response::bytes(br#"{"ok":true}"#.as_slice())
///     .with_header(http::header::CONTENT_TYPE, "application/json");
/// assert_eq!(missing.status(), StatusCode::NOT_FOUND);
/// # let _ = (ok, json);
/// ```
pub struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Payload,
    /// A header value given to [`with_header`](Response::with_header) was
    /// not valid: the server answers `500` instead of this response.
    pub(crate) invalid_header: bool,
}

/// A response body, as the connection loop sends it.
pub(crate) enum Payload {
    Bytes(Cow<'static, [u8]>),
    Reader {
        reader: Box<dyn Read + Send>,
        len: Option<u64>,
    },
    /// Written by the handler's closure, on the worker (`Response::stream`).
    Writer(crate::stream::Writer),
}

impl Response {
    /// An empty response with this status.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::Response;
    /// use http::StatusCode;
    ///
    /// let resp = Response::new(StatusCode::NO_CONTENT);
    /// assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    /// assert_eq!(resp.body_len(), Some(0));
    /// // A status converts too: a handler may return `StatusCode::NOT_FOUND`.
    /// let missing: Response = StatusCode::NOT_FOUND.into();
    /// assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    /// ```
    pub fn new(status: StatusCode) -> Response {
        Response {
            status,
            headers: HeaderMap::new(),
            body: Payload::Bytes(Cow::Borrowed(b"")),
            invalid_header: false,
        }
    }

    /// A `200 OK` with a `text/plain; charset=utf-8` body.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::Response;
    ///
    /// let fixed = Response::text("hello\n"); // a &'static str: not copied
    /// let made = Response::text(format!("{} items\n", 3)); // a String
    /// assert_eq!(made.headers()["content-type"], "text/plain; charset=utf-8");
    /// assert_eq!((fixed.body_len(), made.body_len()), (Some(6), Some(8)));
    /// ```
    pub fn text(body: impl Into<Cow<'static, str>>) -> Response {
        let body = match body.into() {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        };
        let mut resp = Response::bytes(body);
        resp.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        resp
    }

    /// A `200 OK` with these bytes as its body (no `Content-Type` set).
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::Response;
    /// use http::{header::CONTENT_TYPE, HeaderValue};
    ///
    /// let png: Vec<u8> = vec![0x89, b'P', b'N', b'G'];
    /// let resp = Response::bytes(png)
    ///     .with_header(CONTENT_TYPE, HeaderValue::from_static("image/png"));
    /// assert_eq!(resp.body_len(), Some(4));
    /// ```
    pub fn bytes(body: impl Into<Cow<'static, [u8]>>) -> Response {
        Response {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Payload::Bytes(body.into()),
            invalid_header: false,
        }
    }

    /// A `200 OK` streaming its body from a reader of unknown length: sent
    /// chunked (close-delimited to HTTP/1.0 clients).
    ///
    /// The handler's worker writes the body as the reader yields it, so a
    /// stream holds its worker until it ends. The response head goes out
    /// with the first bytes the reader yields (one write, not two): for a
    /// stream whose first bytes may take a while, or that should end at a
    /// drain, use [`stream`](Response::stream), which sends the head at
    /// once and can wait for the drain.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Response, Server};
    ///
    /// let server = TestServer::start(Server::builder(), |_: &mut Request| {
    ///     let lines = "one\n".as_bytes().chain("two\n".as_bytes()); // any `Read`
    ///     Response::reader(lines)
    /// });
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// let resp = client.get("/", Duration::from_secs(5)).unwrap();
    /// assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    /// assert_eq!(resp.text(), "one\ntwo\n");
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn reader(reader: impl Read + Send + 'static) -> Response {
        Response {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Payload::Reader {
                reader: Box::new(reader),
                len: None,
            },
            invalid_header: false,
        }
    }

    /// A `200 OK` streaming exactly `len` bytes from a reader, sent with
    /// `Content-Length`. A reader that ends early closes the connection.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::fs::File;
    /// use courteous::{Request, Response};
    /// use http::StatusCode;
    ///
    /// fn download(_req: &mut Request) -> Response {
    ///     let Ok(file) = File::open("/srv/files/report.pdf") else {
    ///         return Response::new(StatusCode::NOT_FOUND);
    ///     };
    ///     match file.metadata() {
    ///         Ok(meta) => Response::sized_reader(file, meta.len()),
    ///         Err(_) => Response::new(StatusCode::INTERNAL_SERVER_ERROR),
    ///     }
    /// }
    /// # fn takes(_: impl courteous::Handler) {}
    /// # takes(download);
    /// ```
    ///
    /// ```
    /// let resp = courteous::Response::sized_reader(std::io::Cursor::new(vec![0u8; 1024]), 1024);
    /// assert_eq!(resp.body_len(), Some(1024));
    /// ```
    pub fn sized_reader(reader: impl Read + Send + 'static, len: u64) -> Response {
        Response {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Payload::Reader {
                reader: Box::new(reader),
                len: Some(len),
            },
            invalid_header: false,
        }
    }

    /// Sets the status.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::Response;
    /// use http::StatusCode;
    ///
    /// let resp = Response::text("created\n").with_status(StatusCode::CREATED);
    /// assert_eq!(resp.status(), StatusCode::CREATED);
    /// ```
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Response {
        self.status = status;
        self
    }

    /// Adds a header (keeping earlier values of the same name, but for
    /// `Content-Type`, which a response has one of: it replaces the one a
    /// constructor such as [`text`](Response::text) set). The value is
    /// anything that converts to a [`HeaderValue`]: a `&str`, a `String`,
    /// a number, a `HeaderValue`.
    ///
    /// A value that is not a valid header value (a CR or LF in it, say)
    /// makes the server answer `500 Internal Server Error` instead of this
    /// response, and log why: a response with a header left out could be
    /// wrong in ways that matter (a cookie, a security policy), and one
    /// with the header split would be an injection.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::Response;
    /// use http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
    ///
    /// let id = 42;
    /// let resp = Response::text("{}")
    ///     .with_header(CONTENT_TYPE, "application/json")
    ///     .with_header(LOCATION, format!("/jobs/{id}"))
    ///     .with_header(SET_COOKIE, "a=1")
    ///     .with_header(SET_COOKIE, "b=2")
    ///     .with_header("x-request-id", id);
    /// assert_eq!(resp.headers().get_all(SET_COOKIE).iter().count(), 2);
    /// assert_eq!(resp.headers()[LOCATION], "/jobs/42");
    /// ```
    #[must_use]
    pub fn with_header<V>(mut self, name: impl IntoHeaderName, value: V) -> Response
    where
        V: TryInto<HeaderValue>,
        V::Error: fmt::Display,
    {
        match value.try_into() {
            Ok(value) => match self.headers.entry(name) {
                // Replaced, not appended: a response has one type.
                http::header::Entry::Occupied(mut e) if *e.key() == CONTENT_TYPE => {
                    e.insert(value);
                }
                http::header::Entry::Occupied(mut e) => e.append(value),
                http::header::Entry::Vacant(e) => {
                    e.insert(value);
                }
            },
            Err(e) => {
                log::error!(
                    "courteous: a handler set an invalid header value ({e}): answering 500"
                );
                self.invalid_header = true;
            }
        }
        self
    }

    /// The status.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(courteous::Response::text("hi\n").status(), http::StatusCode::OK);
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Changes the status.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::StatusCode;
    ///
    /// let mut resp = courteous::Response::text("busy, try later\n");
    /// resp.set_status(StatusCode::SERVICE_UNAVAILABLE);
    /// assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    /// ```
    pub fn set_status(&mut self, status: StatusCode) {
        self.status = status;
    }

    /// The headers the handler set (the server adds `Date`, the framing
    /// headers and `Connection` when it writes the response).
    ///
    /// # Examples
    ///
    /// ```
    /// let resp = courteous::Response::text("hi\n");
    /// assert_eq!(resp.headers().len(), 1, "only Content-Type so far");
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The headers, to change.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::{header::CACHE_CONTROL, HeaderValue};
    ///
    /// let mut resp = courteous::Response::text("hi\n");
    /// resp.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    /// assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    /// ```
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The body's length when known: `None` for a
    /// [`reader`](Response::reader) (sent chunked).
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::Response;
    ///
    /// assert_eq!(Response::text("hi\n").body_len(), Some(3));
    /// assert_eq!(Response::reader(std::io::empty()).body_len(), None);
    /// ```
    pub fn body_len(&self) -> Option<u64> {
        match &self.body {
            Payload::Bytes(b) => Some(b.len() as u64),
            Payload::Reader { len, .. } => *len,
            Payload::Writer(_) => None,
        }
    }

    pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response {
        Response::text(text).with_status(status)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body_len())
            .finish()
    }
}

impl Default for Response {
    /// An empty `200 OK`.
    fn default() -> Self {
        Response::new(StatusCode::OK)
    }
}

impl From<StatusCode> for Response {
    fn from(status: StatusCode) -> Self {
        Response::new(status)
    }
}

impl From<&'static str> for Response {
    fn from(s: &'static str) -> Self {
        Response::text(s)
    }
}

impl From<String> for Response {
    fn from(s: String) -> Self {
        Response::text(s)
    }
}

impl From<Vec<u8>> for Response {
    fn from(v: Vec<u8>) -> Self {
        Response::bytes(v)
    }
}

impl<T: Into<Response>, E: Into<Response>> From<Result<T, E>> for Response {
    /// Either side: so a handler can return `Result<Response, E>` for an
    /// error type `E` that converts to a `Response` (a `StatusCode`, or with
    /// the `json` feature a `JsonError`) and use `?` on it. (A small `E`:
    /// `Result<Response, Response>` works too, but clippy's
    /// `result_large_err` objects to it.)
    ///
    /// ```
    /// use courteous::{Request, Response};
    /// use http::StatusCode;
    ///
    /// fn job_id(req: &Request) -> Result<u64, StatusCode> {
    ///     req.param("id").and_then(|id| id.parse().ok()).ok_or(StatusCode::NOT_FOUND)
    /// }
    ///
    /// let handler = |req: &mut Request| -> Result<Response, StatusCode> {
    ///     let id = job_id(req)?;
    ///     Ok(Response::text(format!("job {id}\n")))
    /// };
    /// # fn takes(_: impl courteous::Handler) {}
    /// # takes(handler);
    /// ```
    fn from(r: Result<T, E>) -> Self {
        match r {
            Ok(t) => t.into(),
            Err(e) => e.into(),
        }
    }
}

impl<T: Into<Response>> From<http::Response<T>> for Response {
    /// Takes status and headers from the `http` response, the body from `T`.
    /// Headers of the `http` response replace the body's defaults.
    fn from(r: http::Response<T>) -> Self {
        let (parts, body) = r.into_parts();
        let mut resp: Response = body.into();
        resp.status = parts.status;
        let mut last: Option<HeaderName> = None;
        for (name, value) in parts.headers {
            match name {
                Some(n) => {
                    resp.headers.insert(n.clone(), value);
                    last = Some(n);
                }
                None => {
                    if let Some(n) = &last {
                        resp.headers.append(n.clone(), value);
                    }
                }
            }
        }
        resp
    }
}

// Streaming bodies (their writer lives in `stream.rs`).
impl Response {
    /// A `200 OK` whose body the closure writes, on the handler's worker,
    /// after the handler returned: each write goes out at once as one
    /// chunk (close-delimited to HTTP/1.0 clients). The head is sent before
    /// the closure runs, so the client sees the status and headers at once.
    ///
    /// The [`BodyWriter`] tells when the server began to drain
    /// ([`is_draining`](BodyWriter::is_draining),
    /// [`wait_draining`](BodyWriter::wait_draining)), so that a stream that
    /// would go on for ever ends with the drain: a last event, then the
    /// body's proper end (the chunked terminator). A stream counts as a
    /// request in flight until the closure returns: the drain waits for it,
    /// and the shutdown deadline cuts it off (its writes then fail) and
    /// counts it as killed.
    ///
    /// The closure returning an error ends the connection without the
    /// body's end, so the client knows the body is cut short. For a `HEAD`
    /// request (or a status that has no body) the closure does not run.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{BodyWriter, Request, Response, Server};
    ///
    /// const T: Duration = Duration::from_secs(5);
    /// let server = TestServer::start(Server::builder(), |_: &mut Request| {
    ///     Response::stream(|out: &mut BodyWriter| {
    ///         out.write_all(b"data: hello\n\n")?;
    ///         out.wait_draining(Duration::from_secs(60)); // until the drain
    ///         out.write_all(b"event: bye\ndata: draining\n\n")
    ///     })
    ///     .with_header(http::header::CONTENT_TYPE, "text/event-stream")
    /// });
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// client.send(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    /// let head = client.read_head(T).unwrap();
    /// assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    /// assert_eq!(client.read_chunk(T).unwrap().unwrap(), b"data: hello\n\n");
    ///
    /// server.handle().close(); // the stream sees the drain
    /// assert_eq!(client.read_chunk(T).unwrap().unwrap(), b"event: bye\ndata: draining\n\n");
    /// assert_eq!(client.read_chunk(T).unwrap(), None, "the chunked end");
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn stream<F>(write: F) -> Response
    where
        F: FnOnce(&mut BodyWriter<'_>) -> io::Result<()> + Send + 'static,
    {
        Response {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Payload::Writer(crate::stream::Writer::new(Box::new(write))),
            invalid_header: false,
        }
    }

    /// Gives a streaming body the server's drain state (when the handler
    /// returned it; every protocol calls this through `respond`).
    pub(crate) fn attach_drain(&mut self, shared: &Arc<ServerState>) {
        if let Payload::Writer(w) = &mut self.body {
            w.attach_drain(shared);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_http_response_keeps_status_headers_and_body() {
        let r = http::Response::builder()
            .status(201)
            .header("x-a", "1")
            .header("x-a", "2")
            .header(CONTENT_TYPE, "application/json")
            .body("{}")
            .unwrap();
        let r: Response = r.into();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers().get_all("x-a").iter().count(), 2);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(r.body_len(), Some(2));
    }
}
