#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let e = provindex_corpus::html::extract(&s);
    assert!(!e.text.lines().any(|l| l.trim().is_empty()));
});
