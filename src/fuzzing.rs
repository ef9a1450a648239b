//! Entry points for the fuzz targets in `fuzz/` (built only with
//! `--cfg fuzzing`, which cargo-fuzz sets): the request-head parser and the
//! body decoder, each run over one input. Each checks what must hold and
//! panics only when it does not: a panic here is a bug found.

use std::io::{self, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::http1::body::{read_all, Decoder, TestLimits};
use crate::http1::buf::ReadBuf;
use crate::http1::head::{self, Framing, Limits};
use crate::net::Stream;

/// The statuses a head may be refused with.
const REFUSALS: [u16; 6] = [400, 413, 414, 431, 501, 505];

/// Runs the head parser over `data`. The first byte picks the limits (the
/// defaults, or small ones that the input can reach) and whether `CONNECT`
/// is allowed; the rest is the head.
pub fn head(data: &[u8]) {
    let Some((&pick, buf)) = data.split_first() else {
        return;
    };
    let limits = if pick & 1 == 0 {
        Limits {
            max_headers: 100,
            max_header_bytes: 64 * 1024,
            max_uri_bytes: 8 * 1024,
            max_body_bytes: Some(16 << 20),
            allow_connect: pick & 2 != 0,
        }
    } else {
        Limits {
            max_headers: usize::from(pick >> 5) + 1,
            max_header_bytes: 64 + usize::from(pick) * 4,
            max_uri_bytes: usize::from(pick >> 2),
            max_body_bytes: Some(u64::from(pick) * 7),
            allow_connect: pick & 2 != 0,
        }
    };
    match head::parse(buf, limits) {
        Ok(None) => {}
        Err(r) => assert!(REFUSALS.contains(&r.status.as_u16()), "{r:?}"),
        Ok(Some((h, n))) => {
            assert!(n > 0 && n <= buf.len() && n <= limits.max_header_bytes);
            assert!(h.headers.len() <= limits.max_headers);
            if let (Framing::Length(len), Some(max)) = (h.framing, limits.max_body_bytes) {
                assert!(len <= max);
            }
            // The head ends where it ends, whatever follows it, and no read
            // ending earlier (at a line end, or one byte short) sees it whole.
            match head::parse(&buf[..n], limits) {
                Ok(Some((again, m))) => {
                    assert_eq!(m, n);
                    assert_eq!(
                        (&again.method, &again.uri, &again.headers, again.framing),
                        (&h.method, &h.uri, &h.headers, h.framing)
                    );
                }
                other => panic!("the head alone: {other:?}"),
            }
            let ends = buf[..n]
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1)
                .chain([n - 1]);
            for end in ends.filter(|&e| e < n) {
                let got = head::parse(&buf[..end], limits);
                assert!(matches!(got, Ok(None)), "prefix {end}: {got:?}");
            }
        }
    }
}

/// What one decode gave: the body bytes, and how it ended.
type Decoded = (Vec<u8>, Result<(), io::ErrorKind>);

/// Decodes `wire` (all of it sent, then the sender's FIN) with `framing`,
/// reading `out_len` bytes at a time.
fn decode(wire: &[u8], framing: Framing, out_len: usize, max_body: Option<u64>) -> Decoded {
    let (mut client, server) = match UnixStream::pair() {
        Ok(pair) => pair,
        Err(_) => return (Vec::new(), Ok(())),
    };
    // Small inputs fit in the socket buffer: no writer thread needed.
    if client.write_all(wire).is_err() || client.shutdown(Shutdown::Write).is_err() {
        return (Vec::new(), Ok(()));
    }
    let limits = TestLimits {
        read_timeout: Duration::from_secs(5),
        max_trailer_bytes: 1024,
        max_body,
    };
    let mut dec = Decoder::for_framing(framing);
    let stream = Stream::Unix(server);
    let (body, end) = read_all(&mut dec, &stream, &mut ReadBuf::new(), out_len, limits);
    (body, end.map_err(|e| e.kind()))
}

/// Runs the body decoder over `data`. The first byte picks the framing
/// (chunked, or a length from the next two bytes), the read size and the
/// body limit; the rest is the body as it arrives. The same input read in
/// pieces of another size must decode the same.
pub fn body(data: &[u8]) {
    if data.len() < 3 || data.len() > 64 * 1024 {
        return;
    }
    let (pick, len, wire) = (data[0], u16::from_be_bytes([data[1], data[2]]), &data[3..]);
    let framing = if pick & 1 == 0 {
        Framing::Chunked
    } else {
        Framing::Length(u64::from(len))
    };
    let max_body = (pick & 2 == 0).then_some(u64::from(len));
    let out_len = usize::from(pick >> 2) + 1;
    let (body, end) = decode(wire, framing, out_len, max_body);
    assert_ne!(
        end,
        Err(io::ErrorKind::TimedOut),
        "the whole input was there"
    );
    assert!(body.len() <= wire.len());
    if let Framing::Length(_) = framing {
        let n = usize::from(len).min(wire.len());
        assert_eq!(body, &wire[..n]);
        if usize::from(len) > wire.len() {
            assert_eq!(end, Err(io::ErrorKind::UnexpectedEof));
        } else {
            assert_eq!(end, Ok(()));
        }
    }
    let other = decode(wire, framing, 4096 - out_len, max_body);
    assert_eq!((body, end), other, "the read size changed the decoding");
}
