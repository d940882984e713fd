//! The safe tar reader with the fuzz input as the *uncompressed* tar stream: it is gzipped here
//! (stored, no compression) so the fuzzer mutates tar headers and entry data directly instead of
//! spending its time failing gzip checksums.
#![no_main]

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let mut gz = GzEncoder::new(Vec::with_capacity(data.len() + 64), Compression::none());
    gz.write_all(data).expect("writing to a Vec cannot fail");
    let tgz = gz.finish().expect("writing to a Vec cannot fail");
    common::read_and_check(&tgz);
});
