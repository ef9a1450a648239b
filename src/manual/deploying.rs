//! Deploying behind nginx, systemd and Kubernetes.
//!
//! A drain is only as good as what surrounds it: the proxy must not send
//! requests to a connection that is closing, the supervisor must give the
//! drain time, and the load balancer must stop sending before the listener
//! closes. This chapter gives working settings for the usual setups. The
//! numbers (timeouts, delays) are explained in
//! [`timeouts`](super::timeouts); the drain itself in
//! [`howto_drain`](super::howto_drain).
//!
//! # Behind nginx, as an HTTP upstream
//!
//! Let nginx keep connections to the server open between requests (it
//! does not by default):
//!
//! ```text
//! upstream app {
//!     server 127.0.0.1:8080;
//!     keepalive 16;            # idle upstream connections kept per nginx worker
//!     keepalive_timeout 50s;   # below the server's idle_timeout (60 s)
//! }
//! server {
//!     listen 80;
//!     location / {
//!         proxy_pass http://app;
//!         proxy_http_version 1.1;          # keep-alive needs HTTP/1.1
//!         proxy_set_header Connection "";  # do not forward the client's "close"
//!         proxy_set_header Host $host;
//!     }
//! }
//! ```
//!
//! What nginx sees when the server drains:
//!
//! - Requests in flight are answered, with `Connection: close`; nginx then
//!   closes that upstream connection instead of keeping it.
//! - Idle upstream connections get the server's FIN. nginx watches the
//!   connections it keeps and drops one as soon as its peer closes it.
//! - A request nginx sends on a kept connection at the very moment the
//!   server closes it gets a clean EOF without a status line; nginx
//!   retries it on a new connection (idempotent methods only, unless
//!   `proxy_next_upstream` includes `non_idempotent`).
//! - New connects are refused at once, so nginx moves on to the next
//!   server of the upstream block without waiting for a timeout. With a
//!   single upstream server, requests that arrive while it is down get a
//!   `502`: use a [restart](crate::restart) or systemd socket activation
//!   (below), which keep the listening socket open across the swap.
//!
//! Keep nginx's upstream `keepalive_timeout` below the server's
//! [`idle_timeout`](crate::Builder::idle_timeout), so that nginx, not the
//! server, closes idle connections in ordinary operation.
//!
//! # Behind nginx, as a FastCGI responder
//!
//! The same handlers can serve FastCGI (the responder role), on a Unix
//! socket or TCP ([`Builder::fastcgi`](crate::Builder::fastcgi), then
//! [`bind_unix`](crate::Builder::bind_unix) or [`bind`](crate::Builder::bind)),
//! with the same drain. To reuse connections nginx needs all three of an
//! `upstream` block, `keepalive` in it, and `fastcgi_keep_conn on` (which
//! sets `FCGI_KEEP_CONN` on every request):
//!
//! ```text
//! upstream app_fcgi {
//!     server unix:/run/app/fcgi.sock;
//!     keepalive 8;
//! }
//! server {
//!     listen 80;
//!     location / {
//!         include fastcgi_params;
//!         fastcgi_param REQUEST_URI $request_uri;
//!         fastcgi_keep_conn on;
//!         fastcgi_pass app_fcgi;
//!     }
//! }
//! ```
//!
//! ```no_run
//! use courteous::{Request, Response, Server};
//!
//! let server = Server::builder()
//!     .unix_mode(0o660) // nginx's user must be in the socket's group
//!     .fastcgi(true)
//!     .bind_unix("/run/app/fcgi.sock")?;
//! server.handle().close_on_signals(courteous::DEFAULT_SIGNALS)?;
//! server.serve(|req: &mut Request| {
//!     Response::text(format!("hello, {:?}\n", req.remote_addr()))
//! })?;
//! # Ok::<(), courteous::Error>(())
//! ```
//!
//! [`Request::remote_addr`](crate::Request::remote_addr),
//! [`Request::local_addr`](crate::Request::local_addr) and
//! [`Request::is_https`](crate::Request::is_https) report what nginx
//! passed on (`REMOTE_ADDR`, `SERVER_ADDR`, `HTTPS`). When the server
//! drains, a request in flight is answered and its connection is then
//! closed (no `FCGI_KEEP_CONN` reuse during a drain); idle connections
//! get a FIN. Debian's `cgi-fcgi` (package libfcgi-bin) talks to the socket
//! without a web server, for a quick check.
//!
//! # systemd
//!
//! Three systemd features fit a draining server: **socket activation**
//! (systemd owns the listening socket, so it exists before the process
//! starts and across restarts), **readiness notification** (`Type=notify`:
//! the server says `READY=1` once it listens) and a **reload** that
//! restarts without refusing a connection.
//!
//! ```text
//! # /etc/systemd/system/app.socket
//! [Socket]
//! ListenStream=8080
//!
//! [Install]
//! WantedBy=sockets.target
//!
//! # /etc/systemd/system/app.service
//! [Service]
//! Type=notify
//! NotifyAccess=all
//! ExecStart=/usr/local/bin/app
//! ExecReload=/bin/kill -USR2 $MAINPID
//! KillSignal=SIGTERM
//! TimeoutStopSec=30
//! ```
//!
//! ```no_run
//! use std::time::Duration;
//! use courteous::{Request, Server, SIGINT, SIGTERM, SIGUSR2};
//!
//! let server = Server::builder()
//!     .shutdown_timeout(Duration::from_secs(20)) // below TimeoutStopSec
//!     .bind_or_activate("0.0.0.0:8080")?;        // the socket unit's, else bind
//! let handle = server.handle();
//! handle.close_on_signals(&[SIGTERM, SIGINT])?;
//! handle.restart_on_signal(SIGUSR2)?;
//! server.serve(|_: &mut Request| "hello\n")?;
//! if handle.stats().killed > 0 {
//!     eprintln!("{} connections force-closed", handle.stats().killed);
//! }
//! # Ok::<(), courteous::Error>(())
//! ```
//!
//! - [`Builder::bind_or_activate`](crate::Builder::bind_or_activate) takes
//!   the socket systemd passed (`LISTEN_FDS`), or binds the address when
//!   started by hand. [`Builder::from_systemd`](crate::Builder::from_systemd)
//!   insists on a passed socket.
//! - `serve` sends `READY=1` to `NOTIFY_SOCKET` once it listens, so
//!   `systemctl start` returns when the server is really up and units
//!   ordered after it start only then.
//! - `systemctl stop` sends SIGTERM: the server drains and exits. Keep
//!   [`shutdown_timeout`](crate::Builder::shutdown_timeout) (plus any
//!   drain delay) a few seconds below `TimeoutStopSec`, after which
//!   systemd sends SIGKILL. A second SIGTERM (`systemctl kill app`) cuts
//!   a drain delay short, or during the drain force-closes what is left.
//! - `systemctl reload` sends SIGUSR2: [`restart`](crate::restart) starts
//!   a new process on the same socket, waits for its `READY=1`, tells
//!   systemd its new main PID (which `NotifyAccess=all` allows), and drains
//!   the old one. No connect is refused, no request is lost.
//! - With socket activation, connects made while the service is stopped
//!   or restarting are not refused: the kernel queues them on systemd's
//!   socket until the next process accepts them. A connect to a stopped
//!   service also starts it again; stop `app.socket` too to take the
//!   server down for good.
//!
//! # Kubernetes (and other load balancers)
//!
//! When a pod is deleted, Kubernetes sends the container SIGTERM and, at
//! the same time, starts removing the pod from its Services' endpoints.
//! The removal takes a few seconds to reach every kube-proxy, ingress
//! controller and cloud load balancer; meanwhile they go on sending
//! traffic. A server that closes its listener at once refuses that
//! traffic. So do not close at once: keep serving for a **drain delay**,
//! with the health route failing, then drain.
//!
//! ```no_run
//! use std::time::Duration;
//! use courteous::{Request, Server, SIGTERM};
//!
//! let server = Server::builder()
//!     .drain_delay(Duration::from_secs(5))       // keep serving after SIGTERM
//!     .health_route("/healthz")                   // 200 until then, 503 from SIGTERM on
//!     .shutdown_timeout(Duration::from_secs(20))
//!     .bind("0.0.0.0:8080")?;
//! server.handle().close_on_signals(&[SIGTERM])?;
//! server.serve(|_: &mut Request| "hello\n")?;
//! # Ok::<(), courteous::Error>(())
//! ```
//!
//! ```text
//! spec:
//!   terminationGracePeriodSeconds: 30      # > drain delay + shutdown timeout + a margin
//!   containers:
//!     - name: app
//!       image: registry.example/app:1
//!       command: ["/app"]                  # exec form: the server itself gets SIGTERM
//!       ports:
//!         - containerPort: 8080
//!       readinessProbe:
//!         httpGet: { path: /healthz, port: 8080 }
//!         periodSeconds: 2
//!         failureThreshold: 1
//! ```
//!
//! - During the [`drain_delay`](crate::Builder::drain_delay) the server
//!   serves as usual, but the [`health_route`](crate::Builder::health_route)
//!   answers `503 draining`, and every response says `Connection: close`,
//!   so that clients and proxies reconnect (through the balancer, which by
//!   then sends them elsewhere). Make the delay longer than the readiness
//!   probe needs to fail (`periodSeconds × failureThreshold`) plus the time
//!   endpoint changes take to propagate: 5 s is a common choice. No
//!   `preStop: sleep` hook is needed.
//! - Then the drain proper: requests in flight finish, idle connections
//!   close, and `serve` returns. Past
//!   [`shutdown_timeout`](crate::Builder::shutdown_timeout) what is left
//!   is force-closed and counted.
//! - `terminationGracePeriodSeconds` (default 30) is the deadline after
//!   which the kubelet sends SIGKILL: keep it above the drain delay plus
//!   the shutdown timeout plus a few seconds.
//! - Point only the **readiness** probe at the health route. A liveness
//!   probe that fails during a drain would get the container killed: give
//!   liveness a route of its own, or none.
//! - Run the binary directly (`command` in exec form, or `ENTRYPOINT
//!   ["/app"]`), not through `sh -c`, which does not pass SIGTERM on. As
//!   PID 1 the server still receives SIGTERM, since it installs a handler.
//!
//! The same pattern serves any load balancer that health-checks its
//! backends (AWS target groups, HAProxy, Envoy): a drain delay covering
//! the checker's interval times its unhealthy threshold, then the drain.
