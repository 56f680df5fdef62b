#![no_main]

use libfuzzer_sys::fuzz_target;
use provindex_corpus::{ReaderOptions, WarcReader, open_docs};

fuzz_target!(|data: &[u8]| {
    let opts = ReaderOptions {
        max_record_size: 1 << 20,
        max_header_size: 16 << 10,
        ..ReaderOptions::default()
    };
    let bound = data.len() + 4;
    let n = WarcReader::with_options(data, "fuzz", opts.clone()).take(bound + 1).count();
    assert!(n <= bound);
    let n = open_docs(data, "fuzz", opts).take(bound + 1).count();
    assert!(n <= bound);
});
