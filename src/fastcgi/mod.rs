//! FastCGI: courteous as a *responder* (FastCGI spec §6.2) behind a web
//! server such as nginx, Apache or `cgi-fcgi`. The web server speaks HTTP
//! to the client and FastCGI records to us, over a TCP or Unix connection
//! it opened; we play the CGI program, one request at a time per
//! connection.
//!
//! ```text
//!  web server                                        courteous
//!  BEGIN_REQUEST {id, RESPONDER, KEEP_CONN?}  ──►  record::RecordReader, record::BeginRequest
//!  PARAMS … PARAMS (empty)                    ──►  params::ParamsStream → params::CgiRequest
//!  STDIN … STDIN (empty)                      ──►  the request body
//!                                             ◄──  STDOUT "Status: …, headers, blank line, body"
//!                                                    (params::response_head, record::write_stdout)
//!                                             ◄──  STDOUT (empty), END_REQUEST {REQUEST_COMPLETE}
//!                                                    (record::finish_request)
//!  KEEP_CONN clear: we close the connection after END_REQUEST; set: the
//!  web server keeps it for its next BEGIN_REQUEST.
//! ```
//!
//! Around that exchange: management records (request id 0) are answered
//! at once, `GET_VALUES` with `GET_VALUES_RESULT`
//! (`params::Capabilities`), any other type with `UNKNOWN_TYPE`; a second
//! `BEGIN_REQUEST` while one is active gets `END_REQUEST {CANT_MPX_CONN}`,
//! a role other than responder `END_REQUEST {UNKNOWN_ROLE}`; and
//! `ABORT_REQUEST` ends the request with `END_REQUEST {REQUEST_COMPLETE}`.
//!
//! - [`record`]: the 8-byte header, record types and bodies, a reader of
//!   whole records, the writers.
//! - [`params`]: name-value pairs, the CGI variables → `http` types, and
//!   the CGI response head.

pub(crate) mod conn;
pub(crate) mod params;
pub(crate) mod record;

#[cfg(test)]
mod tests {
    use super::params::tests::{encode_all, NGINX_GET};
    use super::params::{CgiRequest, ParamsStream, DEFAULT_MAX_PARAMS_BYTES};
    use super::record::tests::{raw, read_all, Trickle, Writes};
    use super::record::*;

    /// A whole request as nginx puts it on the wire, read one byte at a
    /// time: the params cut into records at odd places, a body in two
    /// records, then the response written back.
    #[test]
    fn nginx_request_end_to_end() {
        let id = 1;
        let params = encode_all(NGINX_GET);
        let mut wire = raw(
            RecordType::BEGIN_REQUEST,
            id,
            &BeginRequest {
                role: Role::RESPONDER,
                flags: KEEP_CONN,
            }
            .encode(),
            0,
        );
        // A management query may come between records of a request.
        wire.extend(raw(RecordType::GET_VALUES, 0, b"\x0d\x00FCGI_MAX_REQS", 1));
        for part in params.chunks(37) {
            wire.extend(raw(
                RecordType::PARAMS,
                id,
                part,
                (8 - part.len() % 8) as u8 % 8,
            ));
        }
        wire.extend(raw(RecordType::PARAMS, id, b"", 0));
        wire.extend(raw(RecordType::STDIN, id, b"hel", 5));
        wire.extend(raw(RecordType::STDIN, id, b"lo", 6));
        wire.extend(raw(RecordType::STDIN, id, b"", 0));

        let records = read_all(&mut RecordReader::new(), &mut Trickle::new(&wire, 1)).unwrap();
        let mut begin = None;
        let mut ps = ParamsStream::new(DEFAULT_MAX_PARAMS_BYTES);
        let mut req = None;
        let mut body = Vec::new();
        let mut stdin_done = false;
        let mut out = Writes::default();
        for (h, content) in &records {
            match h.kind {
                RecordType::GET_VALUES => {
                    assert!(h.is_management());
                    let caps = super::params::Capabilities {
                        max_conns: 8,
                        max_reqs: 8,
                    };
                    write_get_values_result(&mut out, &caps.answer(content).unwrap()).unwrap();
                }
                RecordType::BEGIN_REQUEST => begin = Some(BeginRequest::decode(content).unwrap()),
                RecordType::PARAMS if content.is_empty() => {
                    let p = std::mem::replace(&mut ps, ParamsStream::new(0))
                        .finish()
                        .unwrap();
                    req = Some(CgiRequest::from_params(&p).unwrap());
                }
                RecordType::PARAMS => ps.push(content).unwrap(),
                RecordType::STDIN if content.is_empty() => stdin_done = true,
                RecordType::STDIN => body.extend_from_slice(content),
                other => panic!("unexpected {other:?}"),
            }
        }
        let begin = begin.unwrap();
        assert_eq!(begin.role, Role::RESPONDER);
        assert!(begin.keep_conn());
        let req = req.unwrap();
        assert_eq!(req.method, http::Method::GET);
        assert_eq!(req.uri, "/a/b?x=1");
        assert_eq!(req.headers["host"], "localhost:8080");
        assert!(stdin_done);
        assert_eq!(body, b"hello");

        let mut head = Vec::new();
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain"),
        );
        super::params::response_head(http::StatusCode::OK, &headers, &mut head);
        head.extend_from_slice(b"hi\n");
        let before = out.calls.len();
        finish_request(&mut out, id, &head, 0).unwrap();
        assert_eq!(out.calls.len(), before + 1, "a small response is one write");

        let sent = out.bytes();
        let back = read_all(&mut RecordReader::new(), &mut &sent[..]).unwrap();
        let kinds: Vec<_> = back.iter().map(|(h, _)| (h.kind, h.request_id)).collect();
        assert_eq!(
            kinds,
            [
                (RecordType::GET_VALUES_RESULT, 0),
                (RecordType::STDOUT, id),
                (RecordType::STDOUT, id),
                (RecordType::END_REQUEST, id),
            ]
        );
        assert_eq!(back[0].1, encode_all(&[("FCGI_MAX_REQS", "8")]));
        assert_eq!(
            back[1].1,
            b"Status: 200 OK\r\ncontent-type: text/plain\r\n\r\nhi\n"
        );
        assert_eq!(
            EndRequest::decode(&back[3].1).unwrap(),
            EndRequest::complete(0)
        );
    }
}
