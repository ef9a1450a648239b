//! What several test files share: the bound on every wait, a ureq agent,
//! the raw-socket helpers of the suites that send exact bytes, and the
//! runner for the examples driven as child processes.
//!
//! Each test file is a crate of its own and uses some of these (`mod
//! common;`), hence the `dead_code` allowance.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use courteous::http::StatusCode;
use courteous::testing::{Ending, RawClient, RawResponse, TestServer};
use courteous::{Request, Response};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use rustix::process::{kill_process, Pid, Signal};

/// The bound on every wait that is expected to succeed.
pub const T: Duration = Duration::from_secs(10);

// ----- clients ----------------------------------------------------------------

/// A ureq agent that reports HTTP statuses as responses, uses no proxy,
/// and gives up after `T`.
pub fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(T))
            .build(),
    )
}

/// A raw client connected to `server`.
pub fn connect(server: &TestServer) -> RawClient {
    RawClient::connect(server.local_addr()).expect("connect")
}

/// Sends `request` and reads one response (not to a HEAD).
pub fn exchange(client: &mut RawClient, request: &[u8]) -> RawResponse {
    client.send(request).expect("send");
    client
        .read_response(T)
        .unwrap_or_else(|e| panic!("{:?}: no response: {e:?}", String::from_utf8_lossy(request)))
}

/// Sends `request` on a new connection: the server must answer `status`
/// with `Connection: close`, then close cleanly, serving nothing more.
pub fn assert_refused(server: &TestServer, request: &[u8], status: u16) -> RawResponse {
    let mut client = connect(server);
    let resp = exchange(&mut client, request);
    let ending = client.read_end(T);
    assert!(
        resp.status == status && resp.connection_close() && ending == Ending::Eof,
        "{:?}: expected {status} with Connection: close, then EOF; got {resp:?} ({}), then {ending:?}",
        String::from_utf8_lossy(request),
        resp.text()
    );
    resp
}

/// A request that a smuggling attack would hide behind a refused one: a
/// server that framed the attack differently from a front end would
/// answer it.
pub const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";

// ----- handlers ---------------------------------------------------------------

/// What a handler was asked for, in order (each suite says what it notes).
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    /// Notes one request.
    pub fn push(&self, what: String) {
        self.0.lock().unwrap().push(what);
    }

    /// Everything noted so far.
    pub fn list(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Returns the request body, or `400 bad body: KIND: ERROR` when reading
/// it fails.
pub fn echo(req: &mut Request) -> Response {
    let mut body = Vec::new();
    match req.body_mut().read_to_end(&mut body) {
        Ok(_) => Response::bytes(body),
        Err(e) => Response::text(format!("bad body: {:?}: {e}\n", e.kind()))
            .with_status(StatusCode::BAD_REQUEST),
    }
}

// ----- examples as child processes ----------------------------------------------

/// An example (built by `cargo test`) running as a child process, on
/// `127.0.0.1:0`, its stdout read line by line. Dropping it kills the
/// child if it still runs.
pub struct Example {
    name: &'static str,
    /// The child process.
    pub child: Child,
    /// The address from its first line, `listening ADDR`.
    pub addr: String,
    /// Its stdout lines after the first.
    pub lines: Receiver<String>,
}

impl Example {
    /// Starts `examples/NAME.rs` with `--addr 127.0.0.1:0` and `args`, and
    /// waits for its `listening ADDR` line.
    pub fn start(name: &'static str, args: &[&str]) -> Example {
        let mut child = Command::new(example_path(name))
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn the {name} example (built by cargo test): {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(T)
            .unwrap_or_else(|_| panic!("the {name} example prints a line"));
        let addr = first
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("first line should be 'listening ADDR', got {first:?}"))
            .to_string();
        Example {
            name,
            child,
            addr,
            lines,
        }
    }

    /// Sends `sig` to the child.
    pub fn signal(&self, sig: Signal) {
        kill_process(Pid::from_child(&self.child), sig).expect("kill");
    }

    /// The next stdout line, then the exit status once stdout closes.
    pub fn finish(mut self) -> (String, ExitStatus) {
        let line = self.lines.recv_timeout(T).expect("a line before exit");
        match self.lines.recv_timeout(T) {
            Err(RecvTimeoutError::Disconnected) => {}
            Err(RecvTimeoutError::Timeout) => panic!("the {} example did not exit", self.name),
            Ok(extra) => panic!("unexpected output {extra:?}"),
        }
        let status = self.child.wait().expect("wait");
        (line, status)
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Where cargo put the example `name`: from `target/debug/deps/TEST-HASH`
/// to `target/debug/examples/NAME`.
pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    dir.join("examples").join(name)
}
