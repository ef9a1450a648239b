//! The handler: what turns a request into a response.

use std::sync::Arc;

use crate::request::Request;
use crate::response::Response;

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
