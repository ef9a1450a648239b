//! The body decoder over arbitrary bytes (see `courteous::fuzzing::body`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| courteous::fuzzing::body(data));
