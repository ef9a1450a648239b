//! The read buffer a worker keeps across the connections it serves, and
//! the timed fill that every socket read goes through.

use std::io::{self, Read};
use std::time::Instant;

use crate::net::{wait_readable, Ready, Stream, Waker};

/// Bytes read from a connection and not yet consumed.
pub(crate) struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

/// What a timed fill got.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fill {
    /// This many new bytes are buffered.
    Data(usize),
    /// The peer closed its side.
    Eof,
    /// The deadline passed with nothing read.
    TimedOut,
    /// The waker fired; the caller re-checks what it waits for.
    Woken,
}

pub(crate) const INITIAL: usize = 8 * 1024;

impl ReadBuf {
    pub(crate) fn new() -> ReadBuf {
        ReadBuf {
            data: vec![0; INITIAL],
            start: 0,
            end: 0,
        }
    }

    pub(crate) fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Forgets everything, and gives back memory a large request grew.
    pub(crate) fn reset(&mut self) {
        self.start = 0;
        self.end = 0;
        if self.data.len() > 4 * INITIAL {
            self.data.truncate(INITIAL);
            self.data.shrink_to_fit();
        }
    }

    /// Takes the buffered bytes out (for a hijacking handler).
    pub(crate) fn take(&mut self) -> Vec<u8> {
        let v = self.filled().to_vec();
        self.start = 0;
        self.end = 0;
        v
    }

    /// Copies buffered bytes into `out`.
    pub(crate) fn copy_to(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len());
        out[..n].copy_from_slice(&self.data[self.start..self.start + n]);
        self.consume(n);
        n
    }

    /// One `read` into free space, growing the buffer up to `limit` bytes.
    /// Returns `Ok(0)` at end of file. The caller checks the limit first:
    /// with `len() >= limit` there is no room and this reads nothing.
    pub(crate) fn read_from(&mut self, mut stream: &Stream, limit: usize) -> io::Result<usize> {
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.data.len() < limit {
                let grown = (self.data.len() * 2).clamp(INITIAL, limit.max(INITIAL));
                self.data.resize(grown, 0);
            } else {
                return Err(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    "read buffer full",
                ));
            }
        }
        loop {
            match stream.read(&mut self.data[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits (until `deadline`, or a wake) for the socket, then reads once.
    pub(crate) fn fill(
        &mut self,
        stream: &Stream,
        limit: usize,
        deadline: Instant,
        waker: Option<&Waker>,
    ) -> io::Result<Fill> {
        match wait_readable(stream, waker, Some(deadline))? {
            Ready::Readable => {}
            Ready::Woken => return Ok(Fill::Woken),
            Ready::TimedOut => return Ok(Fill::TimedOut),
        }
        match self.read_from(stream, limit)? {
            0 => Ok(Fill::Eof),
            n => Ok(Fill::Data(n)),
        }
    }
}
