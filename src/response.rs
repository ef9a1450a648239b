//! What a handler returns.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;

use http::header::{HeaderName, HeaderValue, IntoHeaderName, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};

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
///     .with_header(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
/// assert_eq!(missing.status(), StatusCode::NOT_FOUND);
/// # let _ = (ok, json);
/// ```
pub struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Payload,
}

/// A response body, as the connection loop sends it.
pub(crate) enum Payload {
    Bytes(Cow<'static, [u8]>),
    Reader {
        reader: Box<dyn Read + Send>,
        len: Option<u64>,
    },
}

impl Response {
    /// An empty response with this status.
    pub fn new(status: StatusCode) -> Response {
        Response {
            status,
            headers: HeaderMap::new(),
            body: Payload::Bytes(Cow::Borrowed(b"")),
        }
    }

    /// A `200 OK` with a `text/plain; charset=utf-8` body.
    pub fn text(body: impl Into<Cow<'static, str>>) -> Response {
        let body = match body.into() {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        };
        Response::bytes(body).with_header(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )
    }

    /// A `200 OK` with these bytes as its body (no `Content-Type` set).
    pub fn bytes(body: impl Into<Cow<'static, [u8]>>) -> Response {
        Response {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Payload::Bytes(body.into()),
        }
    }

    /// A `200 OK` streaming its body from a reader of unknown length: sent
    /// chunked (close-delimited to HTTP/1.0 clients).
    pub fn reader(reader: impl Read + Send + 'static) -> Response {
        Response {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Payload::Reader {
                reader: Box::new(reader),
                len: None,
            },
        }
    }

    /// A `200 OK` streaming exactly `len` bytes from a reader, sent with
    /// `Content-Length`. A reader that ends early closes the connection.
    pub fn sized_reader(reader: impl Read + Send + 'static, len: u64) -> Response {
        Response {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Payload::Reader {
                reader: Box::new(reader),
                len: Some(len),
            },
        }
    }

    /// Sets the status.
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Response {
        self.status = status;
        self
    }

    /// Adds a header (keeping earlier values of the same name).
    #[must_use]
    pub fn with_header(mut self, name: impl IntoHeaderName, value: HeaderValue) -> Response {
        self.headers.append(name, value);
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Changes the status.
    pub fn set_status(&mut self, status: StatusCode) {
        self.status = status;
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The headers, to change.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The body's length when known.
    pub fn body_len(&self) -> Option<u64> {
        match &self.body {
            Payload::Bytes(b) => Some(b.len() as u64),
            Payload::Reader { len, .. } => *len,
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
