//! The peer servers as child processes: start, find, watch, stop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

use crate::Result;

/// The servers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Courteous,
    TinyHttp,
    Hyper,
}

impl Peer {
    /// In table order: courteous first, then the peers its ratios are to.
    pub const ALL: [Peer; 3] = [Peer::Courteous, Peer::TinyHttp, Peer::Hyper];

    pub fn name(self) -> &'static str {
        match self {
            Peer::Courteous => "courteous",
            Peer::TinyHttp => "tiny_http",
            Peer::Hyper => "hyper",
        }
    }

    fn bin(self) -> &'static str {
        match self {
            Peer::Courteous => "peer-courteous",
            Peer::TinyHttp => "peer-tiny-http",
            Peer::Hyper => "peer-hyper",
        }
    }
}

/// Where the peer binaries are: beside this one.
pub struct Bins {
    dir: PathBuf,
}

impl Bins {
    /// Finds the peer binaries. Run by `cargo run`, it first builds them
    /// (`cargo run --bin bench` builds only `bench`) in the same profile,
    /// so they always match the source tree being measured.
    pub fn locate() -> Result<Bins> {
        let exe = std::env::current_exe()?;
        let dir = exe.parent().ok_or("bench has no directory")?.to_path_buf();
        if let Some(cargo) = std::env::var_os("CARGO") {
            let mut build = Command::new(cargo);
            // `cargo run` gave us the package's variables (CARGO_PKG_NAME,
            // CARGO_MANIFEST_DIR, ...). Passed on, they would change the
            // fingerprint of build scripts that watch them (ring's does):
            // ring, rustls and courteous would be rebuilt here, and again
            // by the next `cargo run`, which does not have them.
            for (key, _) in std::env::vars_os() {
                let key = key.to_string_lossy();
                if [
                    "CARGO_PKG_",
                    "CARGO_MANIFEST_",
                    "CARGO_CRATE_",
                    "CARGO_BIN_",
                ]
                .iter()
                .any(|p| key.starts_with(p))
                    || key == "CARGO_PRIMARY_PACKAGE"
                {
                    build.env_remove(key.as_ref());
                }
            }
            build.args(["build", "--quiet", "--bins", "--manifest-path"]);
            build.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
            if !cfg!(debug_assertions) {
                build.arg("--release");
            }
            if !build.status()?.success() {
                return Err("building the peer binaries failed".into());
            }
        }
        for peer in Peer::ALL {
            let path = dir.join(peer.bin());
            if !path.exists() {
                return Err(format!(
                    "{} not found; build the peers first: cargo build --release --bins",
                    path.display()
                )
                .into());
            }
        }
        Ok(Bins { dir })
    }

    pub fn path(&self, peer: Peer) -> PathBuf {
        self.dir.join(peer.bin())
    }

    /// Starts `peer` on a free loopback port with `args` added.
    pub fn start(&self, peer: Peer, args: &[&str]) -> Result<Server> {
        let mut cmd = Command::new(self.path(peer));
        cmd.args(["--addr", "127.0.0.1:0"]).args(args);
        Server::spawn(cmd, Duration::from_secs(10))
    }
}

/// A running server process, killed if dropped while still running.
pub struct Server {
    child: std::process::Child,
    pub addr: SocketAddr,
    lines: Receiver<String>,
}

impl Server {
    /// Runs `cmd` and waits (up to `startup`) for its `listening ADDR` line.
    pub fn spawn(mut cmd: Command, startup: Duration) -> Result<Server> {
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            lines,
        };
        let line = server.line_starting("listening ", startup)?;
        server.addr = line["listening ".len()..].trim().parse()?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line of its output that starts with `prefix`.
    pub fn line_starting(&self, prefix: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Ok(line),
                Ok(_) => {}
                Err(_) => return Err(format!("no `{prefix}` line from the server").into()),
            }
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) -> Result<()> {
        signal(self.pid(), Signal::TERM)
    }

    /// Sends SIGTERM to the process's first child: the server, when the
    /// process is a tracer (strace) that started it. The tracer exits
    /// once its tracee has.
    pub fn terminate_child(&self) -> Result<()> {
        let pid = self.pid();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))?;
        let child: u32 = children
            .split_whitespace()
            .next()
            .ok_or("the tracer has no child")?
            .parse()?;
        signal(child, Signal::TERM)
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err("the server did not exit in time".into());
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// SIGTERM, then waits for the exit (courteous drains; the others just exit).
    pub fn stop(mut self, timeout: Duration) -> Result<()> {
        self.terminate()?;
        self.wait(timeout)?;
        Ok(())
    }

    /// Resident memory, in KiB (`VmRSS` of /proc/PID/status).
    pub fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .ok_or("no VmRSS in /proc/PID/status")?;
        Ok(line.trim().trim_end_matches("kB").trim().parse()?)
    }

    /// Threads (entries of /proc/PID/task).
    pub fn threads(&self) -> Result<usize> {
        Ok(std::fs::read_dir(format!("/proc/{}/task", self.pid()))?.count())
    }
}

fn signal(pid: u32, sig: Signal) -> Result<()> {
    let pid = Pid::from_raw(pid as i32).ok_or("bad pid")?;
    kill_process(pid, sig)?;
    Ok(())
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
