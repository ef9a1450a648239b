//! The courteous manual: guides that do not fit on one type.
//!
//! The API reference says what each item does; these chapters say how the
//! pieces work together, which numbers to choose, and how to run a server
//! in production. They contain no code of their own, only documentation
//! (with examples that compile, like the rest of the docs).
//!
//! - [`howto_drain`]: **How draining works.** What happens to every
//!   connection when a server is told to stop, what each client sees, and
//!   why a close never turns into a reset.
//! - [`timeouts`]: **Choosing timeouts and pool size.** Every
//!   [`Config`](crate::Config) field, its default, and the reasoning behind
//!   it; how idle keep-alive clients are kept off the workers; when to
//!   raise [`workers`](crate::Builder::workers).
//! - [`deploying`]: **Deploying behind nginx, systemd and Kubernetes.**
//!   Keep-alive upstreams, FastCGI, socket activation, readiness
//!   notification, zero-downtime restarts, readiness drains.
//! - [`strictness`]: **What the server refuses in a request, and why.**
//!   Every request-line, `Host`, framing and chunked-body rule, with the
//!   RFC clause behind it and the reason for each choice the RFCs leave
//!   open.
//! - [`long_lived`]: **Long-lived connections at a drain.** Streams,
//!   server-sent events and WebSockets: how each ends with the drain (a
//!   last event and the chunked end, a Close 1001 and a FIN), what the
//!   client sees, and where the shutdown deadline still cuts in.
//! - [`from_go`]: **Coming from Go's manners and graceful.** Every function
//!   and type of `braintree/manners`, `tylerb/graceful` and `net/http`'s
//!   shutdown API, mapped to this crate; and the defects of those servers
//!   that this one fixes.
//!
//! The drain-testing kit that the crate's own tests use is documented in
//! the [`testing`](crate::testing) module (feature `testing`); the
//! examples in these chapters use it to show each rule at work.

pub mod deploying;
pub mod from_go;
pub mod howto_drain;
pub mod long_lived;
pub mod strictness;
pub mod timeouts;
