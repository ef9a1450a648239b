//! tiny_http 0.12 serving `GET /hello`, for the benchmarks.
//!
//! `peer-tiny-http [--addr HOST:PORT]`
//!
//! The canonical use: one thread takes requests from `incoming_requests`
//! and answers them; tiny_http itself reads each connection on a thread of
//! its own. It exits on SIGTERM or SIGINT (their default action: tiny_http
//! cannot drain).

use tiny_http::{Header, Method, Response, Server};

use courteous_peers::peer;

const NAME: &str = "peer-tiny-http";

fn main() {
    let args = peer::Args::parse(NAME, &[]);
    peer::raise_fd_limit();
    let server = Server::http(&args.addr).unwrap_or_else(|e| peer::fail(NAME, e));
    let addr = server
        .server_addr()
        .to_ip()
        .unwrap_or_else(|| peer::fail(NAME, "not listening on TCP"));
    let content_type = Header::from_bytes("Content-Type", peer::TEXT_PLAIN)
        .unwrap_or_else(|()| peer::fail(NAME, "bad header"));
    peer::announce(addr);
    for req in server.incoming_requests() {
        let resp = if *req.method() == Method::Get && req.url() == "/hello" {
            Response::from_string(peer::HELLO).with_header(content_type.clone())
        } else {
            Response::from_string("").with_status_code(404)
        };
        let _ = req.respond(resp);
    }
}
