//! An accepted connection as it moves between the accept loop, a worker and
//! the parker. Its registration in the registry lives exactly as long as
//! the value: dropping a `Conn` reports it `Closed` (or `Hijacked`) and
//! forgets it, on every path, panics included.

use std::sync::Arc;
use std::time::Instant;

use crate::drain::Shared;
use crate::io::Io;
use crate::net::{Protocol, Stream};
use crate::registry::{ConnInfo, ConnState};

pub(crate) struct Conn {
    pub(crate) info: Arc<ConnInfo>,
    pub(crate) stream: Arc<Stream>,
    /// The TLS session, for HTTPS connections.
    pub(crate) tls: Option<Box<rustls::ServerConnection>>,
    /// What the connection speaks.
    pub(crate) proto: Protocol,
    pub(crate) shared: Arc<Shared>,
    /// Mirror of the registry's state for this connection (New/Active/Idle).
    pub(crate) state: ConnState,
    /// Accept time for a new connection, else the end of its last response:
    /// the base of its idle timeout and of its drain grace.
    pub(crate) last_active: Instant,
    pub(crate) requests: u64,
    /// What the drop reports: `Closed`, or `Hijacked`.
    pub(crate) end: ConnState,
    /// Watched by the idle set's epoll (disarmed while a worker holds it).
    pub(crate) registered: bool,
}

impl Conn {
    /// Registers a freshly accepted connection (state `New`).
    pub(crate) fn accept(
        shared: &Arc<Shared>,
        stream: Stream,
        info: ConnInfo,
        tls: Option<Box<rustls::ServerConnection>>,
        proto: Protocol,
    ) -> Conn {
        let info = Arc::new(info);
        let stream = Arc::new(stream);
        shared.register(&info, &stream);
        Conn {
            info,
            stream,
            tls,
            proto,
            shared: shared.clone(),
            state: ConnState::New,
            last_active: Instant::now(),
            requests: 0,
            end: ConnState::Closed,
            registered: false,
        }
    }

    pub(crate) fn set_state(&mut self, new: ConnState) {
        if self.state != new {
            self.state = new;
            self.shared.transition(&self.info, new);
        }
    }

    /// The connection's byte stream, for one protocol step.
    pub(crate) fn io(&mut self) -> Io<'_> {
        Io {
            stream: &self.stream,
            tls: self.tls.as_deref_mut(),
        }
    }

    /// Sends our FIN, after a TLS `close_notify` (the peer sees a clean end
    /// of stream). The connection stays registered, as closing, until it
    /// is dropped after the linger; a shutdown deadline does not count it
    /// as killed. `wait`: as [`Io::shutdown_write`].
    pub(crate) fn shutdown_write(&mut self, wait: bool) {
        self.io().shutdown_write(wait);
        self.shared.closing(&self.info);
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.shared.deregister(&self.info, self.end);
    }
}

impl Conn {
    /// Until when this connection may wait for its next request's first
    /// byte: the header timeout for a new connection, the idle timeout for
    /// a kept-alive one; in a drain, no later than its grace.
    pub(crate) fn wait_deadline(&self, draining: bool) -> Instant {
        let cfg = &self.shared.config;
        let base = match self.state {
            ConnState::New => self.last_active + cfg.header_read_timeout,
            _ => self.last_active + cfg.idle_timeout,
        };
        if draining {
            base.min(self.last_active + cfg.drain_grace)
        } else {
            base
        }
    }
}
