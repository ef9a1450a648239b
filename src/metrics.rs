//! The server's counts in the Prometheus text exposition format (0.0.4),
//! for a `/metrics` route: [`Stats::to_prometheus`], and with a router
//! [`Router::metrics`](crate::Router::metrics).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::stats::Stats;

/// The `Content-Type` of the Prometheus text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Stats {
    /// These counts in the Prometheus text exposition format (version
    /// 0.0.4), every metric with its `# HELP` and `# TYPE` lines:
    ///
    /// | metric | type | from |
    /// |---|---|---|
    /// | `courteous_requests_in_flight` | gauge | [`in_flight`](Stats::in_flight) |
    /// | `courteous_routines` | gauge | [`routines`](Stats::routines) |
    /// | `courteous_connections` | gauge | [`connections`](Stats::connections) |
    /// | `courteous_connections_by_state{state="new"\|"active"\|"idle"\|"hijacked"}` | gauge | [`new`](Stats::new), [`active`](Stats::active), [`idle`](Stats::idle), [`hijacked`](Stats::hijacked) |
    /// | `courteous_connections_closing` | gauge | [`closing`](Stats::closing) |
    /// | `courteous_connections_accepted_total` | counter | [`accepted`](Stats::accepted) |
    /// | `courteous_responses_total` | counter | [`served`](Stats::served) |
    /// | `courteous_connections_killed_total` | counter | [`killed`](Stats::killed) |
    /// | `courteous_serving`, `courteous_listening`, `courteous_draining` | gauge, 0 or 1 | [`serving`](Stats::serving), [`listening`](Stats::listening), [`draining`](Stats::draining) |
    ///
    /// A [`Router`](crate::Router) adds its per-route counts with
    /// [`Router::metrics`](crate::Router::metrics).
    ///
    /// # Examples
    ///
    /// A metrics route without a router:
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Response, Server};
    ///
    /// let server = Server::bind("127.0.0.1:0")?;
    /// let handle = server.handle();
    /// let server = TestServer::serve(server, move |req: &mut Request| match req.uri().path() {
    ///     "/metrics" => Response::text(handle.stats().to_prometheus()),
    ///     _ => Response::text("hello\n"),
    /// });
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// let text = client.get("/metrics", Duration::from_secs(5)).unwrap().text();
    /// assert!(text.contains("# TYPE courteous_requests_in_flight gauge\ncourteous_requests_in_flight 1\n"));
    /// assert!(text.contains("courteous_connections_by_state{state=\"active\"} 1\n"));
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn to_prometheus(&self) -> String {
        let mut out = String::with_capacity(2048);
        let flag = |b: bool| u64::from(b);
        let gauges: [(&str, &str, u64); 4] = [
            (
                "courteous_requests_in_flight",
                "Requests whose head was read and whose response is not yet written.",
                self.in_flight as u64,
            ),
            (
                "courteous_routines",
                "Routines tracked with Handle::track and not yet finished.",
                self.routines as u64,
            ),
            (
                "courteous_connections",
                "Open connections, in any state.",
                self.connections as u64,
            ),
            (
                "courteous_connections_closing",
                "Connections that sent their FIN and wait for the peer's.",
                self.closing as u64,
            ),
        ];
        for (name, help, value) in gauges {
            metric(&mut out, name, help, "gauge", value);
        }
        header(
            &mut out,
            "courteous_connections_by_state",
            "Open connections by state.",
            "gauge",
        );
        for (state, n) in [
            ("new", self.new),
            ("active", self.active),
            ("idle", self.idle),
            ("hijacked", self.hijacked),
        ] {
            let _ = writeln!(
                out,
                "courteous_connections_by_state{{state=\"{state}\"}} {n}"
            );
        }
        let counters: [(&str, &str, u64); 3] = [
            (
                "courteous_connections_accepted_total",
                "Connections accepted.",
                self.accepted,
            ),
            (
                "courteous_responses_total",
                "Responses written.",
                self.served,
            ),
            (
                "courteous_connections_killed_total",
                "Connections force-closed at a shutdown deadline.",
                self.killed,
            ),
        ];
        for (name, help, value) in counters {
            metric(&mut out, name, help, "counter", value);
        }
        let flags: [(&str, &str, u64); 3] = [
            (
                "courteous_serving",
                "1 while serve runs (serving or draining).",
                flag(self.serving),
            ),
            (
                "courteous_listening",
                "1 while the listener is open.",
                flag(self.listening),
            ),
            (
                "courteous_draining",
                "1 from an accepted close until serve returns.",
                flag(self.draining),
            ),
        ];
        for (name, help, value) in flags {
            metric(&mut out, name, help, "gauge", value);
        }
        out
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn metric(out: &mut String, name: &str, help: &str, kind: &str, value: u64) {
    header(out, name, help, kind);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value, escaped as the text format wants (`\`, `"`, newline).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Appends a router's per-route and unrouted counts.
pub(crate) fn render_routes(out: &mut String, counts: &Counts) {
    header(
        out,
        "courteous_route_requests_total",
        "Requests each route served (method \"*\": a route of every method).",
        "counter",
    );
    for (method, route, hits) in counts.routes.lock().iter() {
        let _ = writeln!(
            out,
            "courteous_route_requests_total{{method=\"{}\",route=\"{}\"}} {}",
            label(method),
            label(route),
            hits.load(Ordering::Relaxed)
        );
    }
    header(
        out,
        "courteous_router_unrouted_total",
        "Requests the router answered itself: no route (404), no route for the method (405), a method no route names (501).",
        "counter",
    );
    for (status, n) in [
        (404, &counts.not_found),
        (405, &counts.not_allowed),
        (501, &counts.not_implemented),
    ] {
        let _ = writeln!(
            out,
            "courteous_router_unrouted_total{{status=\"{status}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
}

/// The router's request counts, shared with its metrics route.
pub(crate) struct Counts {
    /// (method, pattern, count), in the order the routes were added.
    pub(crate) routes: Mutex<Vec<(String, String, Arc<AtomicU64>)>>,
    pub(crate) not_found: AtomicU64,
    pub(crate) not_allowed: AtomicU64,
    pub(crate) not_implemented: AtomicU64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_has_help_and_type_and_parses() {
        let text = Stats::default().to_prometheus();
        let mut typed = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(kind == "gauge" || kind == "counter", "{line}");
                typed.insert(name.to_string());
            } else if !line.starts_with("# HELP ") {
                let (series, value) = line.rsplit_once(' ').unwrap();
                let name = series.split('{').next().unwrap();
                assert!(typed.contains(name), "{name} has no TYPE line before it");
                value.parse::<u64>().unwrap();
            }
        }
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(label("x\ny"), "x\\ny");
    }
}
