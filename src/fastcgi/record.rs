//! FastCGI records (spec §3.3): the 8-byte header, the record types, the
//! discrete bodies (`BEGIN_REQUEST`, `END_REQUEST`, `UNKNOWN_TYPE`), a
//! reader that pulls whole records from any `Read`, and the writers a
//! responder needs.
//!
//! ```text
//!  byte:  0        1     2     3     4      5      6        7
//!       version  type  id B1 id B0 len B1 len B0 padding reserved
//!       then `len` content bytes, then `padding` bytes that mean nothing
//! ```
//!
//! The reader keeps its place across calls, so a read timeout in the
//! middle of a record loses nothing:
//!
//! ```text
//!  Header(n < 8) ──8 bytes, version 1, length ≤ limit──► Body(n < len + padding)
//!       ▲   │                                                  │
//!       │   └─bad version or length──► Broken                  │ all bytes in
//!       └────────────────── record returned ◄──────────────────┘
//! ```
//!
//! Writers pad every record to a multiple of 8 bytes, as libfcgi does and
//! §3.3 recommends; a stream longer than one record is split into records
//! of [`STREAM_CHUNK`] (65528, a multiple of 8) bytes, so only the last one
//! needs padding. A record of up to 8 KiB goes out in one `write_all`,
//! together with the records written by the same call.

use std::fmt;
use std::io::{self, Read, Write};

/// `FCGI_VERSION_1`, the only version there is.
pub(crate) const VERSION_1: u8 = 1;
/// Bytes in a record header.
pub(crate) const HEADER_LEN: usize = 8;
/// Largest content a record can carry (the length is 16 bits).
pub(crate) const MAX_CONTENT: usize = u16::MAX as usize;
/// Content per record when a stream is split: the largest multiple of 8
/// that fits, so full records need no padding.
pub(crate) const STREAM_CHUNK: usize = MAX_CONTENT & !7;
/// `FCGI_NULL_REQUEST_ID`: the request id of management records.
pub(crate) const NULL_REQUEST_ID: u16 = 0;
/// `FCGI_KEEP_CONN`, the one flag of `BEGIN_REQUEST`: when clear, the
/// application closes the connection after its response.
pub(crate) const KEEP_CONN: u8 = 1;

/// Records one call assembles for a single write.
const SCRATCH: usize = 8 * 1024;

/// A record type (spec §8). Unknown values are kept, so the answer to an
/// unknown management record can name them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RecordType(pub(crate) u8);

impl RecordType {
    pub(crate) const BEGIN_REQUEST: RecordType = RecordType(1);
    pub(crate) const ABORT_REQUEST: RecordType = RecordType(2);
    pub(crate) const END_REQUEST: RecordType = RecordType(3);
    pub(crate) const PARAMS: RecordType = RecordType(4);
    pub(crate) const STDIN: RecordType = RecordType(5);
    pub(crate) const STDOUT: RecordType = RecordType(6);
    pub(crate) const STDERR: RecordType = RecordType(7);
    pub(crate) const DATA: RecordType = RecordType(8);
    pub(crate) const GET_VALUES: RecordType = RecordType(9);
    pub(crate) const GET_VALUES_RESULT: RecordType = RecordType(10);
    pub(crate) const UNKNOWN_TYPE: RecordType = RecordType(11);

    /// The spec's name, for the types version 1 defines.
    pub(crate) fn name(self) -> Option<&'static str> {
        Some(match self {
            RecordType::BEGIN_REQUEST => "BEGIN_REQUEST",
            RecordType::ABORT_REQUEST => "ABORT_REQUEST",
            RecordType::END_REQUEST => "END_REQUEST",
            RecordType::PARAMS => "PARAMS",
            RecordType::STDIN => "STDIN",
            RecordType::STDOUT => "STDOUT",
            RecordType::STDERR => "STDERR",
            RecordType::DATA => "DATA",
            RecordType::GET_VALUES => "GET_VALUES",
            RecordType::GET_VALUES_RESULT => "GET_VALUES_RESULT",
            RecordType::UNKNOWN_TYPE => "UNKNOWN_TYPE",
            _ => return None,
        })
    }
}

impl fmt::Debug for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "RecordType({})", self.0),
        }
    }
}

/// The role a `BEGIN_REQUEST` asks for (spec §5.1, §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Role(pub(crate) u16);

impl Role {
    pub(crate) const RESPONDER: Role = Role(1);
    // The other roles, named as the spec does; we answer them UNKNOWN_ROLE.
    #[cfg(test)]
    pub(crate) const AUTHORIZER: Role = Role(2);
    #[cfg(test)]
    pub(crate) const FILTER: Role = Role(3);
}

/// The protocol-level outcome in an `END_REQUEST` (spec §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProtocolStatus(pub(crate) u8);

impl ProtocolStatus {
    /// The request ran to its end.
    pub(crate) const REQUEST_COMPLETE: ProtocolStatus = ProtocolStatus(0);
    /// Refused: a second request on a connection that serves one at a time.
    pub(crate) const CANT_MPX_CONN: ProtocolStatus = ProtocolStatus(1);
    /// Refused: out of some resource.
    #[cfg(test)]
    pub(crate) const OVERLOADED: ProtocolStatus = ProtocolStatus(2);
    /// Refused: a role this application does not play.
    pub(crate) const UNKNOWN_ROLE: ProtocolStatus = ProtocolStatus(3);
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// A record header; the version is always [`VERSION_1`] and the reserved
/// byte is ignored on reading and zero on writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) kind: RecordType,
    pub(crate) request_id: u16,
    pub(crate) content_length: u16,
    pub(crate) padding_length: u8,
}

impl Header {
    /// A header for `content_length` bytes, padded to a multiple of 8.
    pub(crate) fn new(kind: RecordType, request_id: u16, content_length: u16) -> Header {
        Header {
            kind,
            request_id,
            content_length,
            padding_length: padding_for(usize::from(content_length)),
        }
    }

    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let [id1, id0] = self.request_id.to_be_bytes();
        let [len1, len0] = self.content_length.to_be_bytes();
        [
            VERSION_1,
            self.kind.0,
            id1,
            id0,
            len1,
            len0,
            self.padding_length,
            0,
        ]
    }

    /// Decodes a header; fails for any version but 1 (libfcgi does too).
    pub(crate) fn decode(b: &[u8; HEADER_LEN]) -> io::Result<Header> {
        if b[0] != VERSION_1 {
            return Err(invalid("unsupported FastCGI version"));
        }
        Ok(Header {
            kind: RecordType(b[1]),
            request_id: u16::from_be_bytes([b[2], b[3]]),
            content_length: u16::from_be_bytes([b[4], b[5]]),
            padding_length: b[6],
        })
    }

    /// A management record (request id 0, spec §3.3).
    pub(crate) fn is_management(&self) -> bool {
        self.request_id == NULL_REQUEST_ID
    }
}

/// Padding that brings `len` to a multiple of 8.
fn padding_for(len: usize) -> u8 {
    ((8 - len % 8) % 8) as u8
}

/// The body of a `BEGIN_REQUEST` (spec §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BeginRequest {
    pub(crate) role: Role,
    pub(crate) flags: u8,
}

impl BeginRequest {
    /// The web server keeps the connection after this request; when false
    /// the application closes it after `END_REQUEST`.
    pub(crate) fn keep_conn(&self) -> bool {
        self.flags & KEEP_CONN != 0
    }

    /// Decodes the 8-byte body; any other length is a protocol error (as
    /// in libfcgi).
    pub(crate) fn decode(content: &[u8]) -> io::Result<BeginRequest> {
        match content {
            [r1, r0, flags, _, _, _, _, _] => Ok(BeginRequest {
                role: Role(u16::from_be_bytes([*r1, *r0])),
                flags: *flags,
            }),
            _ => Err(invalid("FastCGI BEGIN_REQUEST body is not 8 bytes")),
        }
    }

    #[cfg(test)]
    pub(crate) fn encode(&self) -> [u8; 8] {
        let [r1, r0] = self.role.0.to_be_bytes();
        [r1, r0, self.flags, 0, 0, 0, 0, 0]
    }
}

/// The body of an `END_REQUEST` (spec §5.5). For a responder, `app_status`
/// is what a CGI program would have passed to `exit` (§6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EndRequest {
    pub(crate) app_status: u32,
    pub(crate) protocol_status: ProtocolStatus,
}

impl EndRequest {
    /// A normal end: `REQUEST_COMPLETE` with this application status.
    pub(crate) fn complete(app_status: u32) -> EndRequest {
        EndRequest {
            app_status,
            protocol_status: ProtocolStatus::REQUEST_COMPLETE,
        }
    }

    /// A refusal of a new request (`CANT_MPX_CONN`, `OVERLOADED`,
    /// `UNKNOWN_ROLE`), application status 0.
    pub(crate) fn refuse(protocol_status: ProtocolStatus) -> EndRequest {
        EndRequest {
            app_status: 0,
            protocol_status,
        }
    }

    pub(crate) fn encode(&self) -> [u8; 8] {
        let [a3, a2, a1, a0] = self.app_status.to_be_bytes();
        [a3, a2, a1, a0, self.protocol_status.0, 0, 0, 0]
    }

    /// Decodes the 8-byte body (for tests and a client side).
    #[cfg(test)]
    pub(crate) fn decode(content: &[u8]) -> io::Result<EndRequest> {
        match content {
            [a3, a2, a1, a0, status, _, _, _] => Ok(EndRequest {
                app_status: u32::from_be_bytes([*a3, *a2, *a1, *a0]),
                protocol_status: ProtocolStatus(*status),
            }),
            _ => Err(invalid("FastCGI END_REQUEST body is not 8 bytes")),
        }
    }
}

/// One record as read: its header and its content (padding skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub(crate) header: Header,
    pub(crate) content: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Header bytes read so far.
    Header(usize),
    /// A header is in; content and padding bytes read so far.
    Body(Header, usize),
    /// A bad header was seen: the stream is out of step for good.
    Broken,
}

/// Pulls whole records from a byte stream. One buffer, grown to the
/// largest record seen (at most 64 KiB and a little padding), serves every
/// record; a record is returned only once all of it, padding included, is
/// in.
///
/// An error from the underlying reader (a read timeout, say) keeps the
/// bytes read so far: the next call carries on where this one stopped.
pub(crate) struct RecordReader {
    head: [u8; HEADER_LEN],
    state: State,
    buf: Vec<u8>,
    max_content: usize,
}

impl fmt::Debug for RecordReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordReader")
            .field("state", &self.state)
            .field("max_content", &self.max_content)
            .finish_non_exhaustive()
    }
}

impl Default for RecordReader {
    fn default() -> Self {
        RecordReader::new()
    }
}

impl RecordReader {
    /// A reader that accepts any record the protocol can express.
    pub(crate) fn new() -> RecordReader {
        RecordReader::with_max_content(MAX_CONTENT)
    }

    /// A reader that refuses records with more than `max_content` content
    /// bytes (the check is on the header, before any content is read).
    pub(crate) fn with_max_content(max_content: usize) -> RecordReader {
        RecordReader {
            head: [0; HEADER_LEN],
            state: State::Header(0),
            buf: Vec::new(),
            max_content: max_content.min(MAX_CONTENT),
        }
    }

    /// True when part of a record has been read and the rest is owed.
    #[cfg(test)]
    pub(crate) fn in_record(&self) -> bool {
        !matches!(self.state, State::Header(0))
    }

    /// Reads the next record. `Ok(None)`: the stream ended cleanly between
    /// records. The stream ending inside a record is `UnexpectedEof`; a
    /// version other than 1 or content over the limit is `InvalidData`,
    /// and every later call fails too.
    pub(crate) fn read<R: Read + ?Sized>(&mut self, r: &mut R) -> io::Result<Option<Record<'_>>> {
        loop {
            match self.state {
                State::Broken => return Err(invalid("FastCGI stream unreadable after an error")),
                State::Header(HEADER_LEN) => {
                    let header = match Header::decode(&self.head) {
                        Ok(h) if usize::from(h.content_length) <= self.max_content => h,
                        Ok(_) => {
                            self.state = State::Broken;
                            return Err(invalid("FastCGI record content over the limit"));
                        }
                        Err(e) => {
                            self.state = State::Broken;
                            return Err(e);
                        }
                    };
                    let total =
                        usize::from(header.content_length) + usize::from(header.padding_length);
                    if self.buf.len() < total {
                        self.buf.resize(total, 0);
                    }
                    self.state = State::Body(header, 0);
                }
                State::Header(have) => match fill(r, &mut self.head[have..])? {
                    0 if have == 0 => return Ok(None),
                    0 => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed inside a FastCGI record header",
                        ))
                    }
                    n => self.state = State::Header(have + n),
                },
                State::Body(header, have) => {
                    let total =
                        usize::from(header.content_length) + usize::from(header.padding_length);
                    if have == total {
                        self.state = State::Header(0);
                        let content = &self.buf[..usize::from(header.content_length)];
                        return Ok(Some(Record { header, content }));
                    }
                    match fill(r, &mut self.buf[have..total])? {
                        0 => {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "connection closed inside a FastCGI record",
                            ))
                        }
                        n => self.state = State::Body(header, have + n),
                    }
                }
            }
        }
    }
}

/// One `read`, retried when interrupted.
fn fill<R: Read + ?Sized>(r: &mut R, out: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(out) {
            Ok(n) => return Ok(n.min(out.len())),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Records gathered for one `write_all`.
struct Batch {
    buf: [u8; SCRATCH],
    len: usize,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            buf: [0; SCRATCH],
            len: 0,
        }
    }

    /// Writes a record: into the batch when it fits, else straight to `w`
    /// (after what the batch holds) as header, content and padding.
    fn record<W: Write + ?Sized>(
        &mut self,
        w: &mut W,
        kind: RecordType,
        request_id: u16,
        content: &[u8],
    ) -> io::Result<()> {
        let len = u16::try_from(content.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "FastCGI record content over 65535 bytes",
            )
        })?;
        let header = Header::new(kind, request_id, len);
        let pad = usize::from(header.padding_length);
        let size = HEADER_LEN + content.len() + pad;
        if self.len + size > SCRATCH {
            self.flush(w)?;
        }
        if size > SCRATCH {
            w.write_all(&header.encode())?;
            w.write_all(content)?;
            return w.write_all(&[0; 8][..pad]);
        }
        let at = self.len;
        self.buf[at..at + HEADER_LEN].copy_from_slice(&header.encode());
        self.buf[at + HEADER_LEN..at + HEADER_LEN + content.len()].copy_from_slice(content);
        self.buf[at + HEADER_LEN + content.len()..at + size].fill(0);
        self.len += size;
        Ok(())
    }

    fn stream<W: Write + ?Sized>(
        &mut self,
        w: &mut W,
        kind: RecordType,
        request_id: u16,
        bytes: &[u8],
    ) -> io::Result<()> {
        for chunk in bytes.chunks(STREAM_CHUNK) {
            self.record(w, kind, request_id, chunk)?;
        }
        Ok(())
    }

    fn flush<W: Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        let len = std::mem::take(&mut self.len);
        if len > 0 {
            w.write_all(&self.buf[..len])?;
        }
        Ok(())
    }
}

/// Writes one record; `content` is at most [`MAX_CONTENT`] bytes
/// (`InvalidInput` otherwise).
pub(crate) fn write_record<W: Write + ?Sized>(
    w: &mut W,
    kind: RecordType,
    request_id: u16,
    content: &[u8],
) -> io::Result<()> {
    let mut batch = Batch::new();
    batch.record(w, kind, request_id, content)?;
    batch.flush(w)
}

/// Writes `bytes` on stream `kind` of a request, split into records of at
/// most [`STREAM_CHUNK`] bytes. Empty `bytes` write nothing: an empty
/// record would end the stream (that is [`write_stream_end`]).
pub(crate) fn write_stream<W: Write + ?Sized>(
    w: &mut W,
    kind: RecordType,
    request_id: u16,
    bytes: &[u8],
) -> io::Result<()> {
    let mut batch = Batch::new();
    batch.stream(w, kind, request_id, bytes)?;
    batch.flush(w)
}

/// Writes response bytes on `STDOUT` (see [`write_stream`]).
pub(crate) fn write_stdout<W: Write + ?Sized>(
    w: &mut W,
    request_id: u16,
    bytes: &[u8],
) -> io::Result<()> {
    write_stream(w, RecordType::STDOUT, request_id, bytes)
}

/// Writes error text on `STDERR`, which the web server logs (see
/// [`write_stream`]).
pub(crate) fn write_stderr<W: Write + ?Sized>(
    w: &mut W,
    request_id: u16,
    bytes: &[u8],
) -> io::Result<()> {
    write_stream(w, RecordType::STDERR, request_id, bytes)
}

/// Ends stream `kind` of a request: an empty record.
#[cfg(test)]
pub(crate) fn write_stream_end<W: Write + ?Sized>(
    w: &mut W,
    kind: RecordType,
    request_id: u16,
) -> io::Result<()> {
    write_record(w, kind, request_id, &[])
}

/// Writes an `END_REQUEST` and flushes `w`. On its own it answers a
/// refused `BEGIN_REQUEST`; a served request ends with [`finish_request`].
pub(crate) fn write_end_request<W: Write + ?Sized>(
    w: &mut W,
    request_id: u16,
    end: EndRequest,
) -> io::Result<()> {
    write_record(w, RecordType::END_REQUEST, request_id, &end.encode())?;
    w.flush()
}

/// Ends a served request: the last `STDOUT` bytes (may be empty), the
/// empty `STDOUT` record that closes the stream, and `END_REQUEST`
/// (`REQUEST_COMPLETE`, `app_status`); then flushes `w`. When it all fits
/// in 8 KiB (a small response, head and body) it is one write.
pub(crate) fn finish_request<W: Write + ?Sized>(
    w: &mut W,
    request_id: u16,
    last: &[u8],
    app_status: u32,
) -> io::Result<()> {
    let mut batch = Batch::new();
    batch.stream(w, RecordType::STDOUT, request_id, last)?;
    batch.record(w, RecordType::STDOUT, request_id, &[])?;
    let end = EndRequest::complete(app_status).encode();
    batch.record(w, RecordType::END_REQUEST, request_id, &end)?;
    batch.flush(w)?;
    w.flush()
}

/// Answers a management record of a type this application does not know:
/// `{UNKNOWN_TYPE, 0, {T}}` (spec §4.2); then flushes `w`.
pub(crate) fn write_unknown_type<W: Write + ?Sized>(w: &mut W, kind: RecordType) -> io::Result<()> {
    let body = [kind.0, 0, 0, 0, 0, 0, 0, 0];
    write_record(w, RecordType::UNKNOWN_TYPE, NULL_REQUEST_ID, &body)?;
    w.flush()
}

/// Answers a `GET_VALUES` with `content`, the encoded name-value pairs
/// (see `params::Capabilities::answer`), as one `GET_VALUES_RESULT`
/// (spec §4.1); then flushes `w`.
pub(crate) fn write_get_values_result<W: Write + ?Sized>(
    w: &mut W,
    content: &[u8],
) -> io::Result<()> {
    write_record(w, RecordType::GET_VALUES_RESULT, NULL_REQUEST_ID, content)?;
    w.flush()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Hands out its bytes `step` at a time; with `stall`, every other read
    /// fails with `WouldBlock` (a read timeout) first.
    pub(crate) struct Trickle<'a> {
        pub(crate) data: &'a [u8],
        pub(crate) step: usize,
        pub(crate) stall: bool,
        stalled: bool,
    }

    impl<'a> Trickle<'a> {
        pub(crate) fn new(data: &'a [u8], step: usize) -> Trickle<'a> {
            Trickle {
                data,
                step,
                stall: false,
                stalled: false,
            }
        }
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.stall && !self.stalled && !self.data.is_empty() {
                self.stalled = true;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.stalled = false;
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// A writer that records each `write` call.
    #[derive(Default)]
    pub(crate) struct Writes {
        pub(crate) calls: Vec<Vec<u8>>,
        pub(crate) flushes: usize,
    }

    impl Writes {
        pub(crate) fn bytes(&self) -> Vec<u8> {
            self.calls.concat()
        }
    }

    impl Write for Writes {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.calls.push(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.flushes += 1;
            Ok(())
        }
    }

    /// Owned copy of a record, for comparisons.
    pub(crate) type Owned = (Header, Vec<u8>);

    /// Reads every record of `wire` through `r`, retrying `WouldBlock`.
    pub(crate) fn read_all<R: Read>(
        reader: &mut RecordReader,
        r: &mut R,
    ) -> io::Result<Vec<Owned>> {
        let mut out = Vec::new();
        loop {
            match reader.read(r) {
                Ok(Some(rec)) => out.push((rec.header, rec.content.to_vec())),
                Ok(None) => return Ok(out),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// A raw record with explicit padding (filled with 0xAA, to show it is
    /// skipped, not parsed).
    pub(crate) fn raw(kind: RecordType, id: u16, content: &[u8], padding: u8) -> Vec<u8> {
        let mut v = Header {
            kind,
            request_id: id,
            content_length: content.len() as u16,
            padding_length: padding,
        }
        .encode()
        .to_vec();
        v.extend_from_slice(content);
        v.resize(v.len() + usize::from(padding), 0xAA);
        v
    }

    /// A wire with a bit of everything: discrete and stream records,
    /// empty ones, padding of 0, 7 and 255 bytes, the largest id.
    fn sample_wire() -> (Vec<u8>, Vec<Owned>) {
        let begin = BeginRequest {
            role: Role::RESPONDER,
            flags: KEEP_CONN,
        }
        .encode();
        let records: Vec<(RecordType, u16, Vec<u8>, u8)> = vec![
            (RecordType::BEGIN_REQUEST, 1, begin.to_vec(), 0),
            (RecordType::PARAMS, 1, b"\x04\x03HOSTabc".to_vec(), 7),
            (RecordType::PARAMS, 1, vec![], 0),
            (RecordType::STDIN, 1, b"hello".to_vec(), 255),
            (RecordType::STDIN, 1, vec![], 3),
            (
                RecordType::GET_VALUES,
                0,
                b"\x0e\x00FCGI_MAX_CONNS".to_vec(),
                2,
            ),
            (RecordType(200), 0xffff, vec![9; 40], 0),
        ];
        let mut wire = Vec::new();
        let mut expect = Vec::new();
        for (kind, id, content, pad) in records {
            wire.extend(raw(kind, id, &content, pad));
            let h = Header {
                kind,
                request_id: id,
                content_length: content.len() as u16,
                padding_length: pad,
            };
            expect.push((h, content));
        }
        (wire, expect)
    }

    #[test]
    fn header_round_trips() {
        for (kind, id, len) in [
            (RecordType::STDOUT, 1, 0),
            (RecordType::PARAMS, 0x1234, 0xabcd),
            (RecordType::GET_VALUES, 0, u16::MAX),
            (RecordType(0xff), u16::MAX, 7),
        ] {
            let h = Header::new(kind, id, len);
            assert_eq!((usize::from(len) + usize::from(h.padding_length)) % 8, 0);
            let b = h.encode();
            assert_eq!(b[0], VERSION_1);
            assert_eq!(b[7], 0);
            assert_eq!(Header::decode(&b).unwrap(), h);
        }
        assert_eq!(
            Header::new(RecordType::STDIN, 0x0102, 0x0304).encode(),
            [1, 5, 1, 2, 3, 4, 4, 0]
        );
    }

    #[test]
    fn other_versions_are_refused() {
        let mut b = Header::new(RecordType::STDIN, 1, 0).encode();
        for v in [0, 2, 255] {
            b[0] = v;
            let e = Header::decode(&b).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        }
    }

    #[test]
    fn record_type_names() {
        assert_eq!(format!("{:?}", RecordType::STDOUT), "STDOUT");
        assert_eq!(format!("{:?}", RecordType(42)), "RecordType(42)");
        for t in 1..=11 {
            assert!(RecordType(t).name().is_some());
        }
        assert!(RecordType(0).name().is_none());
        assert!(RecordType(12).name().is_none());
    }

    #[test]
    fn begin_request_body() {
        let b = BeginRequest::decode(&[0, 1, 1, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(b.role, Role::RESPONDER);
        assert!(b.keep_conn());
        let b = BeginRequest::decode(&[0, 3, 0, 9, 9, 9, 9, 9]).unwrap();
        assert_eq!(b.role, Role::FILTER);
        assert!(!b.keep_conn());
        // Flags other than KEEP_CONN are kept but do not count as it.
        assert!(!BeginRequest::decode(&[0, 2, 0xfe, 0, 0, 0, 0, 0])
            .unwrap()
            .keep_conn());
        for b in [
            BeginRequest {
                role: Role::AUTHORIZER,
                flags: 0,
            },
            BeginRequest {
                role: Role(0xbeef),
                flags: KEEP_CONN,
            },
        ] {
            assert_eq!(BeginRequest::decode(&b.encode()).unwrap(), b);
        }
        for bad in [&[0u8, 1, 1][..], &[0; 7], &[0; 9], &[]] {
            assert!(BeginRequest::decode(bad).is_err());
        }
    }

    #[test]
    fn end_request_body() {
        let e = EndRequest {
            app_status: 0x01020304,
            protocol_status: ProtocolStatus::OVERLOADED,
        };
        assert_eq!(e.encode(), [1, 2, 3, 4, 2, 0, 0, 0]);
        assert_eq!(EndRequest::decode(&e.encode()).unwrap(), e);
        assert_eq!(ProtocolStatus::REQUEST_COMPLETE.0, 0);
        assert_eq!(ProtocolStatus::CANT_MPX_CONN.0, 1);
        assert_eq!(ProtocolStatus::UNKNOWN_ROLE.0, 3);
        assert!(EndRequest::decode(&[0; 5]).is_err());
    }

    #[test]
    fn reads_records_whole() {
        let (wire, expect) = sample_wire();
        let mut reader = RecordReader::new();
        let got = read_all(&mut reader, &mut &wire[..]).unwrap();
        assert_eq!(got, expect);
        assert!(!reader.in_record());
    }

    #[test]
    fn reads_one_byte_at_a_time() {
        // One byte per read: every record boundary and every position
        // inside headers, content and padding is a split point.
        let (wire, expect) = sample_wire();
        let mut reader = RecordReader::new();
        let got = read_all(&mut reader, &mut Trickle::new(&wire, 1)).unwrap();
        assert_eq!(got, expect);
    }

    #[test]
    fn resumes_after_a_timeout_anywhere() {
        // A WouldBlock before every byte: the reader keeps its place.
        let (wire, expect) = sample_wire();
        let mut reader = RecordReader::new();
        let mut src = Trickle::new(&wire, 1);
        src.stall = true;
        let mut got = Vec::new();
        let mut stalls = 0;
        loop {
            match reader.read(&mut src) {
                Ok(Some(rec)) => got.push((rec.header, rec.content.to_vec())),
                Ok(None) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => stalls += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, expect);
        assert_eq!(stalls, wire.len());
    }

    #[test]
    fn split_at_every_position() {
        // Two reads, split at each byte: same records.
        let (wire, expect) = sample_wire();
        for at in 0..=wire.len() {
            let mut r = (&wire[..at]).chain(&wire[at..]);
            let mut reader = RecordReader::new();
            assert_eq!(
                read_all(&mut reader, &mut r).unwrap(),
                expect,
                "split at {at}"
            );
        }
    }

    #[test]
    fn interrupted_reads_are_retried() {
        struct Interrupting<'a>(&'a [u8], bool);
        impl Read for Interrupting<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                self.1 = !self.1;
                if self.1 {
                    return Err(io::ErrorKind::Interrupted.into());
                }
                self.0.read(out)
            }
        }
        let wire = raw(RecordType::STDIN, 3, b"abc", 5);
        let mut reader = RecordReader::new();
        let rec = reader
            .read(&mut Interrupting(&wire, false))
            .unwrap()
            .unwrap();
        assert_eq!(rec.content, b"abc");
    }

    #[test]
    fn padding_is_skipped_not_parsed() {
        // Padding bytes that look like a header must not be taken for one.
        let fake_header = Header::new(RecordType::STDIN, 1, 100).encode();
        let mut wire = Header {
            kind: RecordType::STDIN,
            request_id: 1,
            content_length: 2,
            padding_length: 8,
        }
        .encode()
        .to_vec();
        wire.extend_from_slice(b"hi");
        wire.extend_from_slice(&fake_header);
        wire.extend(raw(RecordType::STDIN, 1, b"", 0));
        let mut reader = RecordReader::new();
        let got = read_all(&mut reader, &mut Trickle::new(&wire, 3)).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, b"hi");
        assert_eq!(got[1].0.content_length, 0);
    }

    #[test]
    fn eof_between_records_is_clean_inside_is_not() {
        let wire = raw(RecordType::STDIN, 1, b"abcdef", 2);
        let mut reader = RecordReader::new();
        assert!(reader.read(&mut &[][..]).unwrap().is_none());
        for cut in 1..wire.len() {
            let mut reader = RecordReader::new();
            let e = reader.read(&mut &wire[..cut]).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
            assert!(reader.in_record());
        }
    }

    #[test]
    fn oversized_content_is_refused_before_reading_it() {
        let mut reader = RecordReader::with_max_content(1024);
        let ok = raw(RecordType::STDIN, 1, &[7; 1024], 0);
        assert_eq!(
            reader.read(&mut &ok[..]).unwrap().unwrap().content.len(),
            1024
        );
        // Only the header is on the wire: the content is never waited for.
        let header = Header::new(RecordType::STDIN, 1, 1025).encode();
        let e = reader.read(&mut &header[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // The stream is out of step for good.
        let e = reader.read(&mut &ok[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn largest_record_with_largest_padding() {
        let content = (0..MAX_CONTENT).map(|i| i as u8).collect::<Vec<_>>();
        let mut wire = raw(RecordType::STDIN, 9, &content, 255);
        wire.extend(raw(RecordType::STDIN, 9, b"", 0));
        let mut reader = RecordReader::new();
        let got = read_all(&mut reader, &mut Trickle::new(&wire, 4093)).unwrap();
        assert_eq!(got[0].1, content);
        assert_eq!(got[1].1, b"");
    }

    #[test]
    fn bad_version_breaks_the_stream() {
        let mut wire = raw(RecordType::STDIN, 1, b"x", 0);
        wire[0] = 2;
        let mut reader = RecordReader::new();
        assert_eq!(
            reader.read(&mut &wire[..]).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let good = raw(RecordType::STDIN, 1, b"x", 0);
        assert!(reader.read(&mut &good[..]).is_err());
    }

    #[test]
    fn one_buffer_serves_every_record() {
        let mut wire = raw(RecordType::STDIN, 1, &[1; 5000], 0);
        for n in [10, 4000, 0, 4999] {
            wire.extend(raw(RecordType::STDIN, 1, &vec![2; n], 0));
        }
        let mut reader = RecordReader::new();
        let mut src = &wire[..];
        reader.read(&mut src).unwrap().unwrap();
        let (ptr, cap) = (reader.buf.as_ptr(), reader.buf.capacity());
        while let Some(rec) = reader.read(&mut src).unwrap() {
            assert!(rec.content.iter().all(|&b| b == 2));
        }
        assert_eq!((reader.buf.as_ptr(), reader.buf.capacity()), (ptr, cap));
    }

    #[test]
    fn stdout_small_is_one_padded_record_in_one_write() {
        let mut w = Writes::default();
        write_stdout(&mut w, 7, b"Status: 200 OK\r\n\r\nhi").unwrap();
        assert_eq!(w.calls.len(), 1);
        let wire = w.bytes();
        assert_eq!(wire.len() % 8, 0);
        assert_eq!(&wire[..8], &[1, 6, 0, 7, 0, 20, 4, 0]);
        assert_eq!(&wire[8..28], b"Status: 200 OK\r\n\r\nhi");
        assert_eq!(&wire[28..], &[0; 4]);
    }

    #[test]
    fn stdout_empty_writes_nothing() {
        let mut w = Writes::default();
        write_stdout(&mut w, 1, b"").unwrap();
        assert!(w.calls.is_empty());
    }

    #[test]
    fn stdout_splits_long_output() {
        let body = (0..200_003u32).map(|i| (i * 7) as u8).collect::<Vec<_>>();
        let mut w = Writes::default();
        write_stdout(&mut w, 0x0102, &body).unwrap();
        let wire = w.bytes();
        let mut reader = RecordReader::new();
        let got = read_all(&mut reader, &mut &wire[..]).unwrap();
        let lens = got
            .iter()
            .map(|(h, c)| (h.content_length as usize, c.len()))
            .collect::<Vec<_>>();
        assert_eq!(
            lens,
            [(65528, 65528), (65528, 65528), (65528, 65528), (3419, 3419)]
        );
        assert!(got
            .iter()
            .all(|(h, _)| h.kind == RecordType::STDOUT && h.request_id == 0x0102));
        // Only the last record needs padding; each record ends 8-aligned.
        assert_eq!(
            got.iter()
                .map(|(h, _)| h.padding_length)
                .collect::<Vec<_>>(),
            [0, 0, 0, 5]
        );
        assert_eq!(wire.len() % 8, 0);
        assert_eq!(
            got.into_iter().flat_map(|(_, c)| c).collect::<Vec<_>>(),
            body
        );
    }

    #[test]
    fn stream_boundaries_around_the_scratch_buffer() {
        // Lengths around the one-write limit, and around a record.
        for n in [
            1,
            7,
            8,
            SCRATCH - 16,
            SCRATCH - 15,
            SCRATCH - 8,
            SCRATCH,
            65527,
            65528,
            65529,
        ] {
            let body = vec![0x5a; n];
            let mut w = Writes::default();
            write_stdout(&mut w, 1, &body).unwrap();
            let wire = w.bytes();
            assert_eq!(wire.len() % 8, 0, "n = {n}");
            if n + HEADER_LEN + usize::from(padding_for(n)) <= SCRATCH {
                assert_eq!(w.calls.len(), 1, "n = {n}");
            }
            let mut reader = RecordReader::new();
            let got = read_all(&mut reader, &mut &wire[..]).unwrap();
            assert_eq!(
                got.into_iter().flat_map(|(_, c)| c).collect::<Vec<_>>(),
                body
            );
        }
    }

    #[test]
    fn stream_end_is_an_empty_record() {
        let mut w = Writes::default();
        write_stream_end(&mut w, RecordType::STDOUT, 0x1234).unwrap();
        assert_eq!(w.bytes(), [1, 6, 0x12, 0x34, 0, 0, 0, 0]);
        let mut w = Writes::default();
        write_stderr(&mut w, 1, b"oops").unwrap();
        write_stream_end(&mut w, RecordType::STDERR, 1).unwrap();
        assert_eq!(
            w.bytes(),
            [
                &[1, 7, 0, 1, 0, 4, 4, 0][..],
                b"oops",
                &[0; 4],
                &[1, 7, 0, 1, 0, 0, 0, 0]
            ]
            .concat()
        );
    }

    #[test]
    fn end_request_bytes() {
        let mut w = Writes::default();
        write_end_request(&mut w, 5, EndRequest::refuse(ProtocolStatus::CANT_MPX_CONN)).unwrap();
        assert_eq!(w.bytes(), [1, 3, 0, 5, 0, 8, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(w.flushes, 1);
    }

    #[test]
    fn finish_request_is_one_write() {
        let mut w = Writes::default();
        finish_request(&mut w, 1, b"Status: 204 No Content\r\n\r\n", 0).unwrap();
        assert_eq!(w.calls.len(), 1);
        assert_eq!(w.flushes, 1);
        let wire = w.bytes();
        let mut reader = RecordReader::new();
        let got = read_all(&mut reader, &mut &wire[..]).unwrap();
        let kinds = got
            .iter()
            .map(|(h, c)| (h.kind, c.len()))
            .collect::<Vec<_>>();
        assert_eq!(
            kinds,
            [
                (RecordType::STDOUT, 26),
                (RecordType::STDOUT, 0),
                (RecordType::END_REQUEST, 8)
            ]
        );
        assert_eq!(
            EndRequest::decode(&got[2].1).unwrap(),
            EndRequest::complete(0)
        );

        // Nothing left to send: just the two closing records, still one write.
        let mut w = Writes::default();
        finish_request(&mut w, 2, b"", 3).unwrap();
        assert_eq!(
            w.calls,
            [vec![
                1, 6, 0, 2, 0, 0, 0, 0, 1, 3, 0, 2, 0, 8, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0
            ]]
        );

        // A long body: records in order, the end after all of it.
        let body = vec![1u8; 100_000];
        let mut w = Writes::default();
        finish_request(&mut w, 3, &body, 0).unwrap();
        let wire = w.bytes();
        let got = read_all(&mut RecordReader::new(), &mut &wire[..]).unwrap();
        let n = got.len();
        assert_eq!(got[n - 1].0.kind, RecordType::END_REQUEST);
        assert_eq!(got[n - 2].1.len(), 0);
        let out: usize = got[..n - 2].iter().map(|(_, c)| c.len()).sum();
        assert_eq!(out, body.len());
    }

    #[test]
    fn unknown_type_bytes() {
        let mut w = Writes::default();
        write_unknown_type(&mut w, RecordType(200)).unwrap();
        assert_eq!(
            w.bytes(),
            [1, 11, 0, 0, 0, 8, 0, 0, 200, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(w.flushes, 1);
    }

    #[test]
    fn get_values_result_is_one_padded_management_record() {
        let content = b"\x0f\x01FCGI_MPXS_CONNS0";
        let mut w = Writes::default();
        write_get_values_result(&mut w, content).unwrap();
        let wire = w.bytes();
        assert_eq!(&wire[..8], &[1, 10, 0, 0, 0, 18, 6, 0]);
        assert_eq!(wire.len(), 32);
        let got = read_all(&mut RecordReader::new(), &mut &wire[..]).unwrap();
        assert!(got[0].0.is_management());
        assert_eq!(got[0].1, content);
    }

    #[test]
    fn record_content_over_65535_is_refused() {
        let mut w = Writes::default();
        let e = write_record(&mut w, RecordType::STDOUT, 1, &vec![0; MAX_CONTENT + 1]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(w.calls.is_empty());
        write_record(&mut w, RecordType::STDOUT, 1, &vec![0; MAX_CONTENT]).unwrap();
        // 65535 bytes pad by one to 65536.
        assert_eq!(w.bytes().len(), HEADER_LEN + MAX_CONTENT + 1);
    }

    #[test]
    fn write_read_round_trip_every_type() {
        let mut w = Writes::default();
        let mut expect = Vec::new();
        for t in 1..=12u8 {
            for len in [0usize, 1, 8, 13, 300] {
                let content = vec![t; len];
                write_record(&mut w, RecordType(t), u16::from(t) * 31, &content).unwrap();
                expect.push((RecordType(t), u16::from(t) * 31, content));
            }
        }
        let wire = w.bytes();
        let got = read_all(&mut RecordReader::new(), &mut Trickle::new(&wire, 5)).unwrap();
        let got = got
            .into_iter()
            .map(|(h, c)| (h.kind, h.request_id, c))
            .collect::<Vec<_>>();
        assert_eq!(got, expect);
    }
}
