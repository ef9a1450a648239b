//! JSON bodies (feature `json`): [`Response::json`] and [`Request::json`],
//! whose errors are the right HTTP answers (`400`, `413`, `415`).

use std::fmt;
use std::io::{self, Read};

use http::header::{HeaderValue, CONTENT_TYPE};
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::request::Request;
use crate::response::Response;

/// Why [`Request::json`] could not give a value: each is an HTTP answer.
/// It converts into that [`Response`] (its reason, as text), so a handler
/// returning `Result<Response, JsonError>` can use `?` on it.
///
/// | status | when |
/// |---|---|
/// | `415 Unsupported Media Type` | the `Content-Type` is not `application/json` (nor `application/*+json`), or is missing |
/// | `413 Content Too Large` | the body outgrew [`max_body_bytes`](crate::Builder::max_body_bytes) |
/// | `408 Request Timeout` | the body did not arrive within the read timeout |
/// | `400 Bad Request` | the body is not JSON, or not JSON of the type asked for, or could not be read |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::{RawClient, TestServer};
/// use courteous::{JsonError, Request, Response, Server};
///
/// #[derive(serde::Deserialize)]
/// struct Job { name: String }
///
/// let server = TestServer::start(Server::builder(), |req: &mut Request| -> Result<Response, JsonError> {
///     let job: Job = req.json()?;
///     Ok(Response::text(format!("queued {}\n", job.name)))
/// });
/// let mut client = RawClient::connect(server.local_addr()).unwrap();
/// const T: Duration = Duration::from_secs(5);
/// let json = [("Content-Type", "application/json")];
/// assert_eq!(client.request("POST", "/", &json, br#"{"name":"backup"}"#, T).unwrap().text(), "queued backup\n");
/// assert_eq!(client.request("POST", "/", &json, b"{oops", T).unwrap().status, 400);
/// let text = [("Content-Type", "text/plain")];
/// assert_eq!(client.request("POST", "/", &text, br#"{"name":"x"}"#, T).unwrap().status, 415);
/// server.stop()?;
/// # Ok::<(), courteous::Error>(())
/// ```
#[derive(Debug)]
pub struct JsonError {
    status: StatusCode,
    reason: String,
}

impl JsonError {
    fn new(status: StatusCode, reason: impl Into<String>) -> JsonError {
        JsonError {
            status,
            reason: reason.into(),
        }
    }

    /// The status to answer with.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::{JsonError, Request, Response};
    ///
    /// fn handler(req: &mut Request) -> Response {
    ///     match req.json::<Vec<u32>>() {
    ///         Ok(numbers) => Response::text(format!("{}\n", numbers.iter().sum::<u32>())),
    ///         Err(e) => {
    ///             eprintln!("refused with {}: {e}", e.status());
    ///             e.into()
    ///         }
    ///     }
    /// }
    /// # fn takes(_: impl courteous::Handler) {}
    /// # takes(handler);
    /// # let _: fn(JsonError) -> Response = Response::from;
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for JsonError {}

impl From<JsonError> for Response {
    fn from(e: JsonError) -> Response {
        let mut text = e.reason;
        text.push('\n');
        Response::text(text).with_status(e.status)
    }
}

/// True for `application/json` and `application/*+json`, parameters
/// (`; charset=utf-8`) allowed.
fn is_json(value: &HeaderValue) -> bool {
    let Ok(v) = value.to_str() else {
        return false;
    };
    let media = v
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json"
        || media
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

impl Request<'_> {
    /// Reads the body as JSON into a `T`. Errors are the answers to send
    /// (see [`JsonError`]): `415` for another `Content-Type`, `413` past
    /// the body limit, `400` for a body that is not a `T` in JSON.
    ///
    /// # Examples
    ///
    /// See [`JsonError`].
    pub fn json<T: DeserializeOwned>(&mut self) -> Result<T, JsonError> {
        match self.headers().get(CONTENT_TYPE) {
            Some(v) if is_json(v) => {}
            Some(_) => {
                return Err(JsonError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "the body must be application/json",
                ))
            }
            None => {
                return Err(JsonError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "the body must be application/json (no Content-Type was given)",
                ))
            }
        }
        let expected = self.body().content_length().unwrap_or(0);
        let mut bytes = Vec::with_capacity(expected.min(1 << 20) as usize);
        if let Err(e) = self.body_mut().read_to_end(&mut bytes) {
            return Err(if crate::http1::body::is_too_large(&e) {
                JsonError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
            } else if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) {
                JsonError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "the body did not arrive in time",
                )
            } else {
                JsonError::new(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the body: {e}"),
                )
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| JsonError::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")))
    }
}

impl Response {
    /// A `200 OK` with `value` as JSON, `Content-Type: application/json`.
    /// A value that cannot be JSON (a map with keys that are not strings)
    /// gives a `500`, and the reason is logged.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::Response;
    /// use http::StatusCode;
    ///
    /// #[derive(serde::Serialize)]
    /// struct Job { id: u64, name: String }
    ///
    /// let resp = Response::json(&Job { id: 1, name: "backup".into() })
    ///     .with_status(StatusCode::CREATED)
    ///     .with_header(http::header::LOCATION, "/jobs/1");
    /// assert_eq!(resp.headers()["content-type"], "application/json");
    /// assert_eq!(resp.body_len(), Some(r#"{"id":1,"name":"backup"}"#.len() as u64));
    /// ```
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(body) => Response::bytes(body)
                .with_header(CONTENT_TYPE, HeaderValue::from_static("application/json")),
            Err(e) => {
                log::error!("courteous: a response could not be JSON: {e}");
                Response::plain(StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
        ] {
            assert!(is_json(&HeaderValue::from_static(ok)), "{ok}");
        }
        for bad in [
            "text/json",
            "application/jsonx",
            "text/plain",
            "application/+jsonx",
        ] {
            assert!(!is_json(&HeaderValue::from_static(bad)), "{bad}");
        }
    }
}
