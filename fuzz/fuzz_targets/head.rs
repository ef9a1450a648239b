//! The request-head parser over arbitrary bytes (see `courteous::fuzzing::head`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| courteous::fuzzing::head(data));
