//! What a worker lends each protocol step (one request on a connection,
//! HTTP/1.1 or FastCGI): the server's state, the handler, and buffers
//! reused from one request to the next, so that a keep-alive request
//! costs no allocation. The protocol loops see this, never the worker
//! that owns it, so they sit below the pool that schedules them.

use std::sync::Arc;

use crate::conn::{Conn, Next};
use crate::handler::Handler;
use crate::http1::buf::ReadBuf;
use crate::net::Waker;
use crate::state::ServerState;

/// One request on a connection, whatever the protocol.
pub(crate) type StepFn = fn(&mut StepContext, &mut Conn) -> Next;

pub(crate) struct StepContext {
    pub(crate) shared: Arc<ServerState>,
    pub(crate) handler: Arc<dyn Handler>,
    /// Rung when a drain starts, so that a worker waiting for the rest of
    /// a request head applies the drain's bound.
    pub(crate) waker: Arc<Waker>,
    /// What was read from the connection and not yet parsed.
    pub(crate) buf: ReadBuf,
    /// A response's head (and small body) before it is written.
    pub(crate) wbuf: Vec<u8>,
    /// What head parsing reuses between requests.
    pub(crate) scratch: crate::http1::head::Scratch,
    /// FastCGI's record buffer, reused across connections.
    pub(crate) records: crate::fastcgi::record::RecordReader,
}

impl StepContext {
    pub(crate) fn new(
        shared: Arc<ServerState>,
        handler: Arc<dyn Handler>,
        waker: Arc<Waker>,
    ) -> Self {
        StepContext {
            shared,
            handler,
            waker,
            buf: ReadBuf::new(),
            wbuf: Vec::with_capacity(1024),
            scratch: Default::default(),
            records: Default::default(),
        }
    }
}
