//! Benchmarks for `courteous`: the peer servers' shared plumbing and the
//! Rust load generator the `bench` runner uses when `wrk` is not installed.
//!
//! The binaries: `peer-courteous`, `peer-hyper` and `peer-tiny-http` serve
//! the same `GET /hello`; `bench` runs them as child processes and prints
//! the tables (see this crate's README).

pub mod clock;
pub mod loadgen;
pub mod peer;
pub mod response;
