//! The handler: what turns a request into a response.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use http::{Method, StatusCode};

use crate::request::Request;
use crate::response::Response;
use crate::state::ServerState;

/// Turns a request into a response. Closures `Fn(&mut Request) -> R`
/// (where `R: Into<Response>`) are handlers; so are `Arc` and `Box` of one,
/// so a trait object serves too.
///
/// A handler that panics costs its client one `500` (and the connection);
/// the worker and the server's counts are unharmed.
///
/// ```
/// use courteous::{Handler, Request, Response};
///
/// struct Hello;
/// impl Handler for Hello {
///     fn handle(&self, _req: &mut Request) -> Response {
///         Response::text("hello\n")
///     }
/// }
/// let boxed: Box<dyn Handler> = Box::new(Hello);
/// let closure = |_req: &mut Request| "hello\n";
/// # fn takes(_h: impl Handler) {}
/// # takes(boxed); takes(closure);
/// ```
///
/// # Examples
///
/// A handler with state of its own, shared by all workers (so it must be
/// `Sync`: use atomics or locks):
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::time::Duration;
/// use courteous::testing::{RawClient, TestServer};
/// use courteous::{Handler, Request, Response, Server};
///
/// struct Counter(AtomicU64);
///
/// impl Handler for Counter {
///     fn handle(&self, _req: &mut Request) -> Response {
///         let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
///         Response::text(format!("visit {n}\n"))
///     }
/// }
///
/// let server = TestServer::start(Server::builder(), Counter(AtomicU64::new(0)));
/// let mut client = RawClient::connect(server.local_addr()).unwrap();
/// client.get("/", Duration::from_secs(5)).unwrap();
/// assert_eq!(client.get("/", Duration::from_secs(5)).unwrap().text(), "visit 2\n");
/// server.stop()?;
/// # Ok::<(), courteous::Error>(())
/// ```
///
/// A panic costs one `500`, not the server:
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::{RawClient, TestServer};
/// use courteous::{Request, Server};
///
/// let server = TestServer::start(Server::builder(), |req: &mut Request| {
///     if req.uri().path() == "/bug" {
///         panic!("a bug in the handler");
///     }
///     "fine\n"
/// });
/// let get = |path| RawClient::connect(server.local_addr()).unwrap().get(path, Duration::from_secs(5));
/// assert_eq!(get("/bug").unwrap().status, 500);
/// assert_eq!(get("/").unwrap().text(), "fine\n");
/// server.stop()?;
/// # Ok::<(), courteous::Error>(())
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Serves one request.
    fn handle(&self, req: &mut Request<'_>) -> Response;
}

impl<F, R> Handler for F
where
    F: Fn(&mut Request<'_>) -> R + Send + Sync + 'static,
    R: Into<Response>,
{
    fn handle(&self, req: &mut Request<'_>) -> Response {
        self(req).into()
    }
}

impl<H: Handler + ?Sized> Handler for Arc<H> {
    fn handle(&self, req: &mut Request<'_>) -> Response {
        (**self).handle(req)
    }
}

impl Handler for Box<dyn Handler> {
    fn handle(&self, req: &mut Request<'_>) -> Response {
        (**self).handle(req)
    }
}

/// Answers a request, whatever the protocol: the built-in health route
/// when configured, else the handler. A panicking handler gives a `500`;
/// the flag says it panicked (the connection then closes).
pub(crate) fn respond(
    shared: &Arc<ServerState>,
    handler: &dyn Handler,
    req: &mut Request<'_>,
) -> (Response, bool) {
    if let Some(resp) = health_check(shared, req) {
        return (resp, false);
    }
    match catch_unwind(AssertUnwindSafe(|| handler.handle(req))) {
        Ok(resp) if resp.invalid_header => (
            Response::plain(StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n"),
            false,
        ),
        Ok(mut resp) => {
            resp.attach_drain(shared);
            (resp, false)
        }
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(not a string)".into());
            log::error!("courteous: handler panicked: {msg}");
            (
                Response::plain(StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n"),
                true,
            )
        }
    }
}

/// The built-in health route, when configured and asked for: `200 ok`
/// while serving, `503 draining` from the close on.
fn health_check(shared: &ServerState, req: &Request<'_>) -> Option<Response> {
    let path = shared.config.drain.health_route.as_deref()?;
    if req.uri().path() != path || !(req.method() == Method::GET || req.method() == Method::HEAD) {
        return None;
    }
    Some(if shared.is_draining() {
        Response::plain(StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        Response::plain(StatusCode::OK, "ok\n")
    })
}
