//! What the server refuses in a request, and why.
//!
//! The server parses every HTTP/1.1 request itself before a handler sees
//! it, and it refuses what RFC 9110 and RFC 9112 say to refuse. Where the
//! RFCs leave a choice (a recipient *MAY* accept something), it picks the
//! stricter answer whenever accepting is a known way for a front end (a
//! proxy, a load balancer, a WAF) and this server to read one request two
//! ways: request smuggling, or routing by a different host. It does not
//! refuse what real clients send: safe by default, as strict as the
//! strictest of hyper, nginx and actix-web, short of refusing real
//! clients.
//!
//! A refused head gets its status and a one-line reason as text, with
//! `Connection: close`; the connection closes after it (cleanly, a FIN,
//! as in a drain), so no byte behind the refused request is ever read as
//! another request. The handler is not called. The one exception is a
//! chunked body, which is read after the handler runs: see
//! [below](#chunked-bodies).
//!
//! ```
//! use std::time::Duration;
//! use courteous::testing::{RawClient, TestServer};
//! use courteous::{Request, Server};
//!
//! assert!(!Server::builder().config().allow_connect(), "CONNECT is refused by default");
//! let server = TestServer::start(Server::builder(), |_: &mut Request| "ok\n");
//! let mut client = RawClient::connect(server.local_addr()).unwrap();
//! client.send(b"GET / HTTP/1.1\r\nHost: user@example.test\r\n\r\n").unwrap();
//! let resp = client.read_response(Duration::from_secs(5)).unwrap();
//! assert_eq!((resp.status, resp.text().as_str()), (400, "bad Host\n"));
//! assert!(resp.connection_close());
//! server.stop()?;
//! # Ok::<(), courteous::Error>(())
//! ```
//!
//! # The decisions
//!
//! Each row: what a request carries, what the server answers, the rule,
//! and why. "Served" means the handler gets the request. Rows marked
//! *MAY* are the RFCs' free choices, decided here; none of them has a
//! setting, as no real client depends on the leniency.
//!
//! ## Request line and target
//!
//! | input | answer | RFC | why |
//! |---|---|---|---|
//! | a method longer than 32 bytes (e.g. 100,000 `A`s) | 400, before the line ends | RFC 9112 §3.1 | A method is a token on the request line, not a header field, so 431 would be wrong; the longest registered method has 17 bytes, so a longer one is malformed. |
//! | an unknown, well-formed method (`BREW`) | served | RFC 9110 §9.1 | Methods are extensible; the handler decides (a router can answer 405 or 501). |
//! | a method with a non-token byte (`GE[T`) | 400 | RFC 9112 §3.1 | Malformed. |
//! | `CONNECT host:port` | 501, unless [`Builder::allow_connect`](crate::Builder::allow_connect) | RFC 9110 §9.3.6, §15.6.2 | The server does not tunnel, and a handler written for ordinary requests must not be handed one. 501 (not implemented by the server), not 405 (not allowed for this resource). Allowed, the handler sees it, tunnels by hijacking, and a `CONNECT` answered without a hijack closes its connection. |
//! | an authority-form target (`host:port`) with any other method | 400 | RFC 9112 §3.2.3 | That form is for `CONNECT` only. |
//! | `CONNECT` with another form of target, or without a port | 400 | RFC 9112 §3.2.3 | `CONNECT` takes `uri-host ":" port` only. |
//! | `*` with a method other than `OPTIONS`, or `*` followed by more | 400 | RFC 9112 §3.2.4 | The asterisk form is for a server-wide `OPTIONS` only. |
//! | an absolute-form target (`http://host/path`) | served, if its scheme is `http` or `https` and its authority has a host and no userinfo | RFC 9112 §3.2.2, RFC 9110 §4.2.4 | A server must accept the absolute form. Userinfo in an `http` URI must be treated as an error. Other schemes are not this server's. |
//! | raw non-ASCII bytes in the target (`/caf\xC3\xA9`) | 400 | RFC 9112 §3.2, RFC 3986 §2 | The request-target is URI characters, which are ASCII; non-ASCII is sent percent-encoded (`/caf%C3%A9`, served). |
//! | a fragment (`/path#frag`) | 400 | RFC 9112 §3.2 | The request-target has no fragment; a client never sends one. |
//! | `%` not followed by two hex digits in the path (`/%zz`, `/100%`) | 400 | RFC 3986 §2.1 | Malformed, and decoders disagree on what it means (nginx also refuses it). The query is left alone, as browsers send a typed `%` there as it is. |
//! | `%00` in the path | 400 | (RFC 3986 allows it) | A decoded NUL cuts a path short in C libraries and filesystems (the classic NUL-byte injection); no real client needs one in a path. In the query, `%00` is served: BitTorrent trackers, for one, send binary there. |
//! | `%0d%0a` (or any other encoded byte) in the path | served, undecoded | RFC 3986 §2.1 | Legal URI syntax. Handlers get the raw target: decoding is theirs. A decoded CR or LF cannot split a response, as the `http` header types refuse them. |
//! | bytes browsers send unencoded (`\|`, `^`, `{`, `}`, `"` in the path) | served | (WHATWG URL) | Real clients send them; the `http` crate accepts them. |
//!
//! ## Line endings
//!
//! | input | answer | RFC | why |
//! |---|---|---|---|
//! | a bare LF (an LF without its CR) anywhere in the head | 400, as soon as the LF arrives | RFC 9112 §2.2 (*MAY* accept) | A front end that keeps a bare LF inside a field value sees one field where this server would see two (`X-A: a\nContent-Length: 0`), the start of a desync. Real clients send CRLF (use `nc -C`, or `printf '...\r\n'`, by hand). Refused when it arrives, so a client never waits for the head timeout. |
//! | empty lines (CRLF) before the request line | skipped | RFC 9112 §2.2 | The RFC says to ignore at least one; old clients send a CRLF after a POST body. |
//! | a bare CR, NUL or other control byte in the head | 400 | RFC 9112 §2.2, RFC 9110 §5.5 | As before: never taken for a line end or kept in a value. |
//! | obs-fold (a field line starting with SP or HTAB), whitespace before a field's colon | 400 | RFC 9112 §5.1, §5.2 | The RFC's *MUST* (obs-fold: refuse or replace; this server refuses). |
//!
//! ## Host
//!
//! | input | answer | RFC | why |
//! |---|---|---|---|
//! | `Host: user@127.0.0.1:8080` (userinfo) | 400 | RFC 9112 §3.2, RFC 9110 §7.2 | Host is `uri-host [ ":" port ]`, with no userinfo. |
//! | `Host: 127.0.0.1:8080/path` | 400 | RFC 9112 §3.2 | No path either. |
//! | `Host: ` (empty) | 400 | RFC 9110 §7.2, §4.2.1 | An empty Host is only meant for a target URI without an authority; every URI this server serves is `http` or `https`, which must have a non-empty host (a recipient *MUST* reject one without). Real clients always send a host. |
//! | `Host: a, b` (a list), or two Host fields (even equal) | 400 | RFC 9112 §3.2, RFC 9110 §7.2 | One Host, one value: a list is what two Host fields look like once an intermediary combined them, and two hosts route two ways. |
//! | no Host in HTTP/1.1 | 400 | RFC 9112 §3.2 | The RFC's *MUST*. HTTP/1.0 may omit it; if it sends one, the same rules apply. |
//! | a host of other bytes than letters, digits, `-`, `.`, `_` (or an IPv6 literal in brackets); an empty label (`..`, a leading `.`); a port that is empty or over 5 digits | 400 | RFC 3986 §3.2.2 (reg-name allows more) | DNS names, IPv4 addresses and service names (`my_service:8080`) are what real clients send. Sub-delimiters and `%` are legal in a reg-name but name nothing DNS or `/etc/hosts` can resolve, and a Host goes into URLs, logs and file paths the application builds: `..` is refused for the same reason as in nginx. |
//! | absolute-form target and a Host naming another authority | 400 | RFC 9110 §7.2, RFC 9112 §3.2.2 | The client must send the target's authority as Host; the server must use the target's. When they differ, a front end routing by Host and a handler reading the URI disagree, so neither is picked. A default port (`:80` for `http`, `:443` for `https`) may be on either side. |
//!
//! ## Fields and framing
//!
//! | input | answer | RFC | why |
//! |---|---|---|---|
//! | `Transfer-Encoding: chunked, gzip` (chunked not last), or `gzip` alone, `xchunked`, `"chunked"` | 400 | RFC 9112 §6.3 | The RFC's *MUST*: the body's end cannot be found, so 400 and a close. It outranks §6.1's *SHOULD* (501 for a coding the server does not understand), which is left for the row below. |
//! | `chunked` twice (`chunked, chunked`, in one field or two) | 400 | RFC 9112 §6.1 | A sender must not apply chunked twice. |
//! | `Transfer-Encoding: gzip, chunked` (chunked last, after a coding this server does not decode) | 501 | RFC 9112 §6.1 | A server should answer 501 to a transfer coding it does not understand; the framing itself is sound. |
//! | both `Transfer-Encoding` and `Content-Length`; `Transfer-Encoding` in HTTP/1.0 | 400 | RFC 9112 §6.1, §6.3 | Ambiguous framing: refused and closed. |
//! | `Content-Length: 999999999` (over `max_body_bytes`) | 413, before the handler runs | RFC 9110 §15.5.14 | Unchanged; no `100 Continue` is sent first. |
//! | `Content-Length: 005`, `00`, `0200` (leading zeros) | 400 | RFC 9110 §8.6 (`1*DIGIT` allows them) | Some parsers read a leading zero as octal, or stop at it; real clients never send one. `0` itself is fine. |
//! | `Content-Length: 5, 5`, or two `Content-Length: 5` fields | 400 | RFC 9110 §8.6 (*MAY* collapse) | One field, one number. Collapsing equal values is for intermediaries that combined fields; refusing is nginx's answer too, and leaves no list for another parser to read differently. |
//! | `Content-Length: 5 ` (trailing SP), `Content-Length:   5`, `Content-Length:\t5` | served, a length of 5 | RFC 9112 §5 | The whitespace around a field value is OWS, not part of the value: these all say `5`. (`5 5`, `5,` and `+5` are 400.) |
//! | two `Content-Type` fields; two `Authorization` fields | 400 | RFC 9110 §5.3 | Fields defined as a single value: one field carries it. With two, a WAF that checks the first and a handler that parses the last see different requests. |
//! | an underscore spelling of a framing or routing field (`Content_Length`, `Transfer_Encoding`, `content_length`) | 400 | (RFC 9110 §5.1 allows `_` in names) | To this server `Content_Length` is not `Content-Length`, but to a front end or CGI-style gateway that maps `_` to `-` it is: the two would frame the body differently. No real client sends one. The fields concerned: `Content-Length`, `Transfer-Encoding`, `Host`, `Connection`, `Keep-Alive`, `Upgrade`, `TE`, `Trailer`, `Expect`. |
//! | other underscore names (`X_Api_Key`) | served, unchanged | RFC 9110 §5.1 | Real clients send them; nginx drops them by default (`underscores_in_headers off`), which breaks those clients without protecting a handler that reads fields by name through the `http` types. |
//!
//! ## Chunked bodies
//!
//! A body is read after the handler starts: by the handler through
//! [`Body`](crate::Body), and what it leaves unread by the server before
//! it writes the response. A chunked body that breaks these rules fails
//! the handler's read with [`InvalidData`](std::io::ErrorKind::InvalidData)
//! (the handler answers as it likes: it saw the error); when the server
//! finds the break itself, in what the handler left unread, it answers
//! `400 malformed chunked body` (or `413` for a body over
//! `max_body_bytes`) instead of the handler's response, which was written
//! for a request that was not what it seemed. The connection closes after
//! either. (A connection that closes anyway, say for `Connection: close`,
//! is not read further, and the handler's response goes out.)
//!
//! | input | answer | RFC | why |
//! |---|---|---|---|
//! | a chunk-size line `5;` (extension without a name) | 400 | RFC 9112 §7.1.1 | `chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`: a name follows every `;`. |
//! | `5;bad[=x` (`[` is not a tchar) | 400 | RFC 9112 §7.1.1 | Names and unquoted values are tokens; quoted values are quoted-strings. |
//! | `5 ` (whitespace after the size, no extension), `5;a=b ` | 400 | RFC 9112 §7.1.1 | Whitespace (BWS) is allowed only around `;` and `=`. Lenient chunk-line parsing is one of the known smuggling vectors. |
//! | `5 ;a=b`, `5; a = "x y"` | served | RFC 9112 §7.1.1 | BWS where the grammar has it. Extensions are read and dropped. |
//! | a chunk size of more than 15 hex digits (leading zeros included) | 400 | RFC 9112 §7.1 | No overflow games. |
//! | a last chunk followed by a trailer section ended by a bare LF (`0\r\n\n`), or any bare LF or CR in the framing | 400, at once | RFC 9112 §7.1 | Chunked framing is CRLF only. The line is refused as soon as the LF is seen: the server never waits for a CRLF the client will never send. |
//! | a trailer field `Content-Length`, `Transfer-Encoding`, `Host` (or any field in the list above, or its underscore spelling) | 400 | RFC 9110 §6.5.1 | Fields that frame, route or manage the connection must not be trailers; silently ignoring one hides an attack. |
//! | other trailer fields | read and dropped | RFC 9112 §7.1.2 | A recipient may discard trailers; handlers are not shown them. |
//! | a trailer line that is not a field line (no colon, a space before the colon, a leading space, a control byte) | 400 | RFC 9112 §5, §7.1.2 | Trailer fields have the header fields' grammar. |
//!
//! # FastCGI
//!
//! These rules are the HTTP/1.1 parser's. A FastCGI request
//! ([`Builder::fastcgi`](crate::Builder::fastcgi)) arrives
//! already parsed by the web server in front, which applies its own.
