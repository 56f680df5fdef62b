//! Prints `v1<TAB>v2<TAB>hex(text)` lines for every code point in a few
//! contexts and for pseudo-random mixed strings (for checking the Python
//! normalization against the Rust one during development).
use provindex_sketch::{NormalizationVersion, normalize_with};
use std::io::Write;

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn main() {
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let mut emit = |t: &str| {
        let v1 = normalize_with(NormalizationVersion::V1, t);
        let v2 = normalize_with(NormalizationVersion::V2, t);
        let _ = writeln!(out, "{}\t{}\t{}", hex(&v1), hex(&v2), hex(t));
    };
    for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
        emit(&format!("{c}"));
        emit(&format!("a{c}\u{301}中{c}Σ"));
    }
    let pool: Vec<char> = " \t.,-'aAeEiIzZ09中文가ก\u{301}\u{308}\u{338}\u{3099}İΣςﬁ①²Ａ，。ー々ิ่\u{FE0F}\u{200D}ᄀ\u{1161}\u{11A8}ℌΩÅ\u{0f73}\u{0344}\u{1D15E}"
        .chars()
        .collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..200_000 {
        let mut s = String::new();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 12) as usize;
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 5 == 0 {
                s.extend(char::from_u32((x >> 20) as u32 % 0x11_0000));
            } else {
                s.push(pool[(x >> 8) as usize % pool.len()]);
            }
        }
        emit(&s);
    }
}
