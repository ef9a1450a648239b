//! A router: `GET /jobs/{id}` patterns (on `matchit`, axum's path
//! matcher), path parameters, and method routing that answers what a
//! router should answer by itself: `HEAD` from the `GET` route, `405` with
//! an accurate `Allow`, `OPTIONS`, `404`, and `501` for methods nobody
//! asked for.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::header::{HeaderValue, ALLOW};
use http::{Method, StatusCode};
use parking_lot::Mutex;

use crate::handle::Handle;
use crate::handler::Handler;
use crate::metrics::Counts;
use crate::request::Request;
use crate::response::Response;

/// Routes requests by method and path pattern to handlers. A router is a
/// [`Handler`]: serve it, or make it the handler of another router's route.
///
/// A route is `"METHOD /pattern"` (Go's `net/http` style), or a bare
/// `"/pattern"` for every method. Patterns are `matchit`'s: a `{name}`
/// segment is a parameter ([`Request::param`]), `{*name}` at the end takes
/// the rest of the path, `{{` and `}}` are literal braces. A static
/// segment wins over a parameter (`/jobs/new` over `/jobs/{id}`).
///
/// What the router answers by itself:
///
/// | request | answer |
/// |---|---|
/// | `HEAD` to a path with a `GET` route | the `GET` route, its body left out by the server |
/// | a method the path has no route for | `405 Method Not Allowed`, `Allow` listing the path's methods |
/// | `OPTIONS` to a path without an `OPTIONS` route | `204 No Content` with `Allow` |
/// | a path no route matches | `404 Not Found` |
/// | a method no route names and HTTP does not define (`BREW`) | `501 Not Implemented` |
/// | `CONNECT` (reaches handlers only with [`allow_connect`](crate::Builder::allow_connect)) | the `"CONNECT"` route, else `501` |
/// | a parameter that is not UTF-8 once percent-decoded | `400 Bad Request` |
///
/// The router counts the requests of each route, for
/// [`metrics`](Router::metrics).
///
/// # Panics
///
/// Building a router panics on a route it cannot take: a malformed pattern
/// or method, a pattern that conflicts with another (`/jobs/{id}` and
/// `/jobs/{name}`), the same method and pattern twice. Routes are fixed
/// at start-up, so these are programming errors, found at the first run.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::{RawClient, TestServer};
/// use courteous::{Request, Response, Router, Server};
/// use http::StatusCode;
///
/// const T: Duration = Duration::from_secs(5);
/// let app = Router::new()
///     .route("GET /healthz", |_: &mut Request| "ok\n")
///     .route("GET /jobs/{id}", |req: &mut Request| {
///         match req.param("id").and_then(|id| id.parse::<u64>().ok()) {
///             Some(id) => Response::text(format!("job {id}\n")),
///             None => Response::new(StatusCode::NOT_FOUND),
///         }
///     });
/// let server = TestServer::start(Server::builder(), app);
/// let mut client = RawClient::connect(server.local_addr()).unwrap();
/// assert_eq!(client.get("/jobs/7", T).unwrap().text(), "job 7\n");
/// assert_eq!(client.get("/nowhere", T).unwrap().status, 404);
/// let resp = client.request("DELETE", "/healthz", &[], b"", T).unwrap();
/// assert_eq!((resp.status, resp.header("allow")), (405, Some("GET, HEAD")));
/// let resp = client.request("HEAD", "/healthz", &[], b"", T).unwrap();
/// assert_eq!((resp.status, resp.header("content-length")), (200, Some("3")));
/// server.stop()?;
/// # Ok::<(), courteous::Error>(())
/// ```
///
/// Routers nest: a bare pattern takes every method, and the inner router
/// sees the whole path.
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::{RawClient, TestServer};
/// use courteous::{Request, Router, Server};
///
/// let admin = Router::new().route("GET /admin/users", |_: &mut Request| "alice\n");
/// let app = Router::new()
///     .route("GET /", |_: &mut Request| "home\n")
///     .route("/admin/{*rest}", admin);
/// let server = TestServer::start(Server::builder(), app);
/// let mut client = RawClient::connect(server.local_addr()).unwrap();
/// assert_eq!(client.get("/admin/users", Duration::from_secs(5)).unwrap().text(), "alice\n");
/// let resp = client.request("POST", "/admin/users", &[], b"", Duration::from_secs(5)).unwrap();
/// assert_eq!(resp.status, 405, "the inner router's answer");
/// server.stop()?;
/// # Ok::<(), courteous::Error>(())
/// ```
pub struct Router {
    paths: matchit::Router<usize>,
    resources: Vec<Resource>,
    /// Every method a route names, for telling 405 from 501.
    methods: Vec<Method>,
    connect: Option<Route>,
    counts: Arc<Counts>,
}

/// The routes of one pattern.
struct Resource {
    pattern: String,
    /// `None`: every method.
    routes: Vec<(Option<Method>, Route)>,
    /// The `Allow` value: the routes' methods, `HEAD` with `GET`.
    allow: HeaderValue,
    /// The same with `OPTIONS`, for the router's own `OPTIONS` answer.
    allow_options: HeaderValue,
}

struct Route {
    handler: Box<dyn Handler>,
    hits: Arc<AtomicU64>,
}

/// The path parameters of the matched route, percent-decoded.
#[derive(Clone, Debug)]
struct PathParams(Vec<(String, String)>);

impl Router {
    /// A router with no routes (it answers `404` to every path).
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::{Request, Router};
    ///
    /// let app = Router::new().route("GET /", |_: &mut Request| "home\n");
    /// # fn takes(_: impl courteous::Handler) {}
    /// # takes(app);
    /// ```
    pub fn new() -> Router {
        Router {
            paths: matchit::Router::new(),
            resources: Vec::new(),
            methods: Vec::new(),
            connect: None,
            counts: Arc::new(Counts {
                routes: Mutex::new(Vec::new()),
                not_found: AtomicU64::new(0),
                not_allowed: AtomicU64::new(0),
                not_implemented: AtomicU64::new(0),
            }),
        }
    }

    /// Adds a route: `"METHOD /pattern"` for one method, `"/pattern"` for
    /// every method but `CONNECT`, or `"CONNECT"` (whose target is a
    /// `host:port`, not a path). Methods are case-sensitive and written in
    /// capitals; any token is a method (`"PURGE /cache"`).
    ///
    /// For one path, a route for the request's method wins, then for a
    /// `HEAD` the `GET` route, then a route for every method.
    ///
    /// # Panics
    ///
    /// On a route it cannot take; see [`Router`].
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::{Request, Response, Router};
    /// use http::StatusCode;
    ///
    /// let app = Router::new()
    ///     .route("GET /files/{*path}", |req: &mut Request| {
    ///         Response::text(format!("file {}\n", req.param("path").unwrap_or("")))
    ///     })
    ///     .route("PUT /files/{*path}", |_: &mut Request| StatusCode::NO_CONTENT)
    ///     .route("/echo", |req: &mut Request| Response::text(format!("{}\n", req.method())));
    /// # fn takes(_: impl courteous::Handler) {}
    /// # takes(app);
    /// ```
    #[must_use]
    pub fn route(mut self, route: &str, handler: impl Handler) -> Router {
        let (method, pattern) = parse_route(route);
        let hits = Arc::new(AtomicU64::new(0));
        self.counts.routes.lock().push((
            method.as_ref().map_or("*", |m| m.as_str()).to_string(),
            pattern.unwrap_or("").to_string(),
            hits.clone(),
        ));
        let entry = Route {
            handler: Box::new(handler),
            hits,
        };
        if let Some(m) = &method {
            if !self.methods.contains(m) {
                self.methods.push(m.clone());
            }
        }
        let Some(pattern) = pattern else {
            if self.connect.is_some() {
                panic!("courteous::Router: the route {route:?} is registered twice");
            }
            self.connect = Some(entry);
            return self;
        };
        let index = match self.resources.iter().position(|r| r.pattern == pattern) {
            Some(i) => i,
            None => {
                if let Err(e) = self.paths.insert(pattern, self.resources.len()) {
                    panic!("courteous::Router: cannot add the route {route:?}: {e}");
                }
                self.resources.push(Resource {
                    pattern: pattern.to_string(),
                    routes: Vec::new(),
                    allow: HeaderValue::from_static(""),
                    allow_options: HeaderValue::from_static("OPTIONS"),
                });
                self.resources.len() - 1
            }
        };
        let resource = &mut self.resources[index];
        if resource.routes.iter().any(|(m, _)| *m == method) {
            panic!("courteous::Router: the route {route:?} is registered twice");
        }
        resource.routes.push((method, entry));
        resource.update_allow();
        self
    }

    /// Adds `GET path` (and so `HEAD`), answering with the server's
    /// [`Stats`](crate::Stats) and this router's request counts in the
    /// Prometheus text exposition format (see
    /// [`Stats::to_prometheus`](crate::Stats::to_prometheus)), plus
    ///
    /// - `courteous_route_requests_total{method, route}`: requests each
    ///   route served (`method="*"` for a route of every method), and
    /// - `courteous_router_unrouted_total{status}`: requests the router
    ///   answered itself with `404`, `405` or `501`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Router, Server};
    ///
    /// const T: Duration = Duration::from_secs(5);
    /// let server = Server::bind("127.0.0.1:0")?;
    /// let app = Router::new()
    ///     .route("GET /hello", |_: &mut Request| "hello\n")
    ///     .metrics("/metrics", &server.handle());
    /// let server = TestServer::serve(server, app);
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// client.get("/hello", T).unwrap();
    /// let metrics = client.get("/metrics", T).unwrap();
    /// assert!(metrics.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    /// assert!(metrics.text().contains("courteous_route_requests_total{method=\"GET\",route=\"/hello\"} 1\n"));
    /// assert!(metrics.text().contains("courteous_connections_accepted_total 1\n"));
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    #[must_use]
    pub fn metrics(self, path: &str, handle: &Handle) -> Router {
        let counts = self.counts.clone();
        let handle = handle.clone();
        self.route(&format!("GET {path}"), move |_: &mut Request| {
            let mut text = handle.stats().to_prometheus();
            crate::metrics::render_routes(&mut text, &counts);
            Response::text(text)
                .with_header(http::header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)
        })
    }

    fn refuse(&self, status: StatusCode) -> Response {
        let (counter, text) = match status {
            StatusCode::NOT_FOUND => (&self.counts.not_found, "not found\n"),
            StatusCode::METHOD_NOT_ALLOWED => (&self.counts.not_allowed, "method not allowed\n"),
            _ => (&self.counts.not_implemented, "method not implemented\n"),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Response::plain(status, text)
    }

    /// True for a method HTTP defines or a route names: the router
    /// answers `404`/`405` for it, not `501`.
    fn knows(&self, m: &Method) -> bool {
        rank(m) < UNKNOWN || self.methods.contains(m)
    }
}

impl Resource {
    fn update_allow(&mut self) {
        let mut methods: Vec<&Method> =
            self.routes.iter().filter_map(|(m, _)| m.as_ref()).collect();
        let has = |methods: &[&Method], m: &Method| methods.contains(&m);
        if has(&methods, &Method::GET) && !has(&methods, &Method::HEAD) {
            methods.push(&Method::HEAD);
        }
        methods.sort_by_key(|m| rank(m));
        let list = |methods: &[&Method]| {
            let names: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
            // Method names are tokens: always a valid header value.
            HeaderValue::from_str(&names.join(", ")).unwrap_or(HeaderValue::from_static(""))
        };
        self.allow = list(&methods);
        if !has(&methods, &Method::OPTIONS) {
            methods.push(&Method::OPTIONS);
            methods.sort_by_key(|m| rank(m));
        }
        self.allow_options = list(&methods);
    }

    /// The route for `method`: its own, `GET` for `HEAD`, else every method's.
    fn find(&self, method: &Method) -> Option<&Route> {
        let exact = |m: &Method| {
            self.routes
                .iter()
                .find(|(r, _)| r.as_ref() == Some(m))
                .map(|(_, route)| route)
        };
        exact(method)
            .or_else(|| {
                (method == Method::HEAD)
                    .then(|| exact(&Method::GET))
                    .flatten()
            })
            .or_else(|| {
                self.routes
                    .iter()
                    .find(|(r, _)| r.is_none())
                    .map(|(_, route)| route)
            })
    }
}

const UNKNOWN: usize = 9;

/// The order of methods in `Allow`; `UNKNOWN` for methods HTTP does not
/// define (listed last, in the order added).
fn rank(m: &Method) -> usize {
    const ORDER: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ];
    ORDER.iter().position(|x| x == m).unwrap_or(UNKNOWN)
}

/// `"METHOD /pattern"`, `"/pattern"` or `"CONNECT"`: the method (`None`
/// for every one) and the pattern (`None` for `CONNECT`).
fn parse_route(route: &str) -> (Option<Method>, Option<&str>) {
    let (method, pattern) = match route.split_once(' ') {
        Some((m, p)) => (Some(m), Some(p.trim_start())),
        None if route.starts_with('/') => (None, Some(route)),
        None => (Some(route), None),
    };
    let method = method.map(|m| match Method::from_bytes(m.as_bytes()) {
        Ok(parsed) if !m.bytes().any(|b| b.is_ascii_lowercase()) => parsed,
        _ => panic!(
            "courteous::Router: {m:?} in the route {route:?} is not a method in capitals \
             (routes are \"METHOD /pattern\", \"/pattern\" or \"CONNECT\")"
        ),
    });
    match (&method, pattern) {
        (Some(m), None) if *m != Method::CONNECT => {
            panic!("courteous::Router: the route {route:?} has no path (\"{m} /pattern\")")
        }
        (Some(m), Some(_)) if *m == Method::CONNECT => panic!(
            "courteous::Router: a CONNECT target is a host:port, not a path: write the route \"CONNECT\""
        ),
        (_, Some(p)) if !p.starts_with('/') => {
            panic!("courteous::Router: the pattern in the route {route:?} does not start with '/'")
        }
        _ => {}
    }
    (method, pattern)
}

impl Handler for Router {
    fn handle(&self, req: &mut Request<'_>) -> Response {
        if req.method() == Method::CONNECT {
            return match &self.connect {
                Some(route) => {
                    route.hits.fetch_add(1, Ordering::Relaxed);
                    route.handler.handle(req)
                }
                None => self.refuse(StatusCode::NOT_IMPLEMENTED),
            };
        }
        let (route, params) = {
            let Ok(found) = self.paths.at(req.uri().path()) else {
                return self.refuse(if self.knows(req.method()) {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::NOT_IMPLEMENTED
                });
            };
            let resource = &self.resources[*found.value];
            let Some(route) = resource.find(req.method()) else {
                if req.method() == Method::OPTIONS {
                    return Response::new(StatusCode::NO_CONTENT)
                        .with_header(ALLOW, resource.allow_options.clone());
                }
                if !self.knows(req.method()) {
                    return self.refuse(StatusCode::NOT_IMPLEMENTED);
                }
                return self
                    .refuse(StatusCode::METHOD_NOT_ALLOWED)
                    .with_header(ALLOW, resource.allow.clone());
            };
            let mut params = Vec::with_capacity(found.params.len());
            for (name, raw) in found.params.iter() {
                match percent_decode(raw) {
                    Some(value) => params.push((name.to_string(), value)),
                    None => {
                        return Response::plain(
                            StatusCode::BAD_REQUEST,
                            "path parameter is not UTF-8\n",
                        )
                    }
                }
            }
            (route, params)
        };
        if !params.is_empty() {
            req.extensions_mut().insert(PathParams(params));
        }
        route.hits.fetch_add(1, Ordering::Relaxed);
        route.handler.handle(req)
    }
}

impl Default for Router {
    fn default() -> Self {
        Router::new()
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<String> = self
            .counts
            .routes
            .lock()
            .iter()
            .map(|(m, p, _)| {
                if p.is_empty() {
                    m.clone()
                } else {
                    format!("{m} {p}")
                }
            })
            .collect();
        f.debug_struct("Router").field("routes", &routes).finish()
    }
}

/// `%XX` decoded; `None` when the result is not UTF-8. A `%` not followed
/// by two hex digits stays as it is.
fn percent_decode(raw: &str) -> Option<String> {
    if !raw.contains('%') {
        return Some(raw.to_string());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl Request<'_> {
    /// The path parameter `name` of the route that matched (see
    /// [`Router`]), percent-decoded: for the route `GET /jobs/{id}` and the
    /// path `/jobs/a%20b`, `param("id")` is `Some("a b")`. `None` when no
    /// router matched or the pattern has no such parameter.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Response, Router, Server};
    ///
    /// let app = Router::new().route("GET /users/{name}/posts/{n}", |req: &mut Request| {
    ///     let name = req.param("name").unwrap_or("?");
    ///     Response::text(format!("{name}, post {}\n", req.param("n").unwrap_or("?")))
    /// });
    /// let server = TestServer::start(Server::builder(), app);
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// let resp = client.get("/users/J%C3%BCrgen/posts/3", Duration::from_secs(5)).unwrap();
    /// assert_eq!(resp.text(), "Jürgen, post 3\n");
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn param(&self, name: &str) -> Option<&str> {
        self.extensions()
            .get::<PathParams>()?
            .0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("a%20b%2Fc").as_deref(), Some("a b/c"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz").as_deref(), Some("%zz"));
        assert_eq!(percent_decode("%FF"), None, "not UTF-8");
    }

    #[test]
    fn routes_parse() {
        assert_eq!(parse_route("GET /a"), (Some(Method::GET), Some("/a")));
        assert_eq!(parse_route("/a"), (None, Some("/a")));
        assert_eq!(parse_route("CONNECT"), (Some(Method::CONNECT), None));
        assert_eq!(parse_route("PURGE /c").0.unwrap().as_str(), "PURGE");
        for bad in ["get /a", "GET", "GET a", "CONNECT /a", "G@T /a", "nothing"] {
            let r = std::panic::catch_unwind(|| parse_route(bad));
            assert!(r.is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn allow_lists_methods_in_order_with_head_for_get() {
        let r = Router::new()
            .route("DELETE /x", |_: &mut Request| "")
            .route("GET /x", |_: &mut Request| "")
            .route("PURGE /x", |_: &mut Request| "");
        assert_eq!(r.resources[0].allow, "GET, HEAD, DELETE, PURGE");
        assert_eq!(
            r.resources[0].allow_options,
            "GET, HEAD, DELETE, OPTIONS, PURGE"
        );
    }

    #[test]
    #[should_panic(expected = "cannot add the route")]
    fn conflicting_patterns_panic() {
        let _ = Router::new()
            .route("GET /jobs/{id}", |_: &mut Request| "")
            .route("GET /jobs/{name}", |_: &mut Request| "");
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn a_route_twice_panics() {
        let _ = Router::new()
            .route("GET /a", |_: &mut Request| "")
            .route("GET /a", |_: &mut Request| "");
    }
}
