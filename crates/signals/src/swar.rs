//! Eight bytes at a time in a `u64` (SWAR): the byte tests the scanners
//! share, exact per byte (no carries between bytes).

/// 0x01 in every byte of a `u64`.
pub(crate) const ONES: u64 = u64::from_ne_bytes([1; 8]);
/// 0x80 in every byte of a `u64`.
pub(crate) const HIGH: u64 = ONES * 0x80;
/// 0x20 in every byte: `word | CASE` lowercases ASCII letters (and maps no
/// other byte to a lowercase letter).
pub(crate) const CASE: u64 = ONES * 0x20;

/// The eight bytes of `bytes` from `i` (little-endian: byte `i` lowest).
#[inline(always)]
pub(crate) fn word_at(bytes: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[i..i + 8]);
    u64::from_le_bytes(w)
}

/// 0x80 in each byte of `w` equal to `c`.
#[inline(always)]
pub(crate) fn bytes_equal(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * u64::from(c));
    !(((x & !HIGH) + !HIGH) | x) & HIGH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_equal_marks_exactly_the_equal_bytes() {
        for c in 0u8..=255 {
            for b in 0u8..=255 {
                for k in 0..8 {
                    let mut w = [c ^ 0x55; 8];
                    w[k] = b;
                    let got = bytes_equal(u64::from_le_bytes(w), c);
                    let want = w
                        .iter()
                        .enumerate()
                        .fold(0u64, |m, (j, &x)| m | (u64::from(x == c) << (8 * j + 7)));
                    assert_eq!(got, want, "{c:#x} {b:#x} at {k}");
                }
            }
        }
    }
}
