//! The safe tar reader on arbitrary `.tgz` bytes: it must never panic, and whatever it accepts
//! must be normalised (no absolute paths, no `..`, no duplicates, `pack.json` present).
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    common::read_and_check(data);
});
