//! The read buffer a worker keeps across the connections it serves, and
//! the timed fill that every socket read goes through.

use std::io;
use std::time::Instant;

use crate::io::Io;
use crate::net::{Got, Waker};

/// Bytes read from a connection and not yet consumed.
pub(crate) struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
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

    /// Free space to read into, compacting or growing the buffer up to
    /// `limit` bytes in all; `None` when it already holds `limit` bytes.
    fn spare(&mut self, limit: usize) -> Option<&mut [u8]> {
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.data.len() < limit {
                let grown = (self.data.len() * 2).clamp(INITIAL, limit.max(INITIAL));
                self.data.resize(grown, 0);
            } else {
                return None;
            }
        }
        Some(&mut self.data[self.end..])
    }

    /// Reads what a plain socket holds now, without waiting.
    pub(crate) fn fill_now(&mut self, io: &mut Io<'_>) -> io::Result<Got> {
        let Some(spare) = self.spare(INITIAL) else {
            return Ok(Got::Data(0));
        };
        let got = io.read_now(spare)?;
        if let Got::Data(n) = got {
            self.end += n;
        }
        Ok(got)
    }

    /// Waits (until `deadline`, or a wake) for the connection, then reads
    /// once into free space, growing the buffer up to `limit` bytes. The
    /// caller checks the limit first: a full buffer is an error here.
    pub(crate) fn fill(
        &mut self,
        io: &mut Io<'_>,
        limit: usize,
        deadline: Instant,
        waker: Option<&Waker>,
        readable: bool,
    ) -> io::Result<Got> {
        let Some(spare) = self.spare(limit) else {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "read buffer full",
            ));
        };
        let got = io.fill(spare, deadline, waker, readable)?;
        if let Got::Data(n) = got {
            self.end += n;
        }
        Ok(got)
    }
}
