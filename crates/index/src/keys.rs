//! Key codecs, one per column family. All integers are big-endian; signed times
//! have their sign bit flipped so that byte order equals numeric order.

/// Width of a capture_id / content_id (xxh3-128).
pub const ID_LEN: usize = 16;
/// Separator between the SURT and the time in a `urls` key. SURT keys never contain NUL.
pub const SURT_TERMINATOR: u8 = 0x00;

/// Encodes a signed time so that unsigned byte order is numeric order.
pub fn encode_time(time: i64) -> [u8; 8] {
    ((time as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`encode_time`].
pub fn decode_time(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

pub fn id_key(id: u128) -> [u8; ID_LEN] {
    id.to_be_bytes()
}

pub fn decode_id(bytes: &[u8]) -> Option<u128> {
    <[u8; ID_LEN]>::try_from(bytes)
        .ok()
        .map(u128::from_be_bytes)
}

/// `content_captures` key: content_id ‖ capture_id.
pub fn content_capture_key(content_id: u128, capture_id: u128) -> [u8; 2 * ID_LEN] {
    let mut key = [0u8; 2 * ID_LEN];
    key[..ID_LEN].copy_from_slice(&content_id.to_be_bytes());
    key[ID_LEN..].copy_from_slice(&capture_id.to_be_bytes());
    key
}

pub fn decode_content_capture_key(key: &[u8]) -> Option<(u128, u128)> {
    if key.len() != 2 * ID_LEN {
        return None;
    }
    Some((decode_id(&key[..ID_LEN])?, decode_id(&key[ID_LEN..])?))
}

/// Length of an `lsh` key naming its content in full: band (1) ‖ band key
/// (4) ‖ content_id (16).
pub const LSH_KEY_LEN: usize = LSH_PREFIX_LEN + ID_LEN;
/// Length of an `lsh` bucket prefix: band (1) ‖ band key (4).
pub const LSH_PREFIX_LEN: usize = 5;
/// Bytes of the content id an `lsh` key keeps when no other content of the
/// partition shares them ([`LshMember::Prefix`]).
pub const LSH_ID_PREFIX_LEN: usize = 4;
/// Length of an `lsh` key naming its content by prefix.
pub const LSH_SHORT_KEY_LEN: usize = LSH_PREFIX_LEN + LSH_ID_PREFIX_LEN;

/// The content an `lsh` row names: by the first [`LSH_ID_PREFIX_LEN`] bytes
/// of its id, which no other content of the partition starts with (a reader
/// resolves them with a prefix seek), or in full when another content of the
/// partition shares them (the builder decides: about n²/2³³ pairs among n
/// contents of a partition — 116 of 1M, 1.2% of the contents at 10⁸).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LshMember {
    Prefix(u32),
    Id(u128),
}

impl LshMember {
    /// The first [`LSH_ID_PREFIX_LEN`] bytes of a content id.
    pub fn prefix_of(content_id: u128) -> u32 {
        // The first bytes on purpose.
        #[allow(clippy::cast_possible_truncation)]
        let prefix = (content_id >> 96) as u32;
        prefix
    }
}

/// `lsh` key: band (u8) ‖ the band key's low 32 bits (BE) ‖ the content
/// ([`LshMember`]: its id's first 4 bytes, or all 16). All contents sharing
/// one band's key are adjacent, under [`lsh_prefix`], in content-id order. A
/// bucket is a candidate list that FindWork ranks by signature, so keys that
/// agree on their low 32 bits only (about one in 4·10⁹ pairs) cost a
/// comparison, never a wrong answer. Bands above 255 are refused by the
/// builder.
pub fn lsh_key(band: u16, band_key: u64, member: LshMember) -> Vec<u8> {
    let mut key = Vec::with_capacity(LSH_KEY_LEN);
    key.extend_from_slice(&lsh_prefix(band, band_key));
    match member {
        LshMember::Prefix(prefix) => key.extend_from_slice(&prefix.to_be_bytes()),
        LshMember::Id(id) => key.extend_from_slice(&id.to_be_bytes()),
    }
    key
}

/// The first bytes of every `lsh` key of one (band, band key) bucket.
pub fn lsh_prefix(band: u16, band_key: u64) -> [u8; LSH_PREFIX_LEN] {
    let mut key = [0u8; LSH_PREFIX_LEN];
    // Truncations on purpose: the stored form (see [`lsh_key`]).
    #[allow(clippy::cast_possible_truncation)]
    {
        key[0] = band as u8;
        key[1..].copy_from_slice(&(band_key as u32).to_be_bytes());
    }
    key
}

/// Splits an `lsh` key into (band, stored band key, content); `None` for
/// anything else.
pub fn decode_lsh_key(key: &[u8]) -> Option<(u16, u64, LshMember)> {
    if key.len() != LSH_KEY_LEN && key.len() != LSH_SHORT_KEY_LEN {
        return None;
    }
    let band = u16::from(key[0]);
    let band_key = u64::from(u32::from_be_bytes(key[1..LSH_PREFIX_LEN].try_into().ok()?));
    let rest = &key[LSH_PREFIX_LEN..];
    let member = match <[u8; LSH_ID_PREFIX_LEN]>::try_from(rest) {
        Ok(prefix) => LshMember::Prefix(u32::from_be_bytes(prefix)),
        Err(_) => LshMember::Id(decode_id(rest)?),
    };
    Some((band, band_key, member))
}

/// `urls` key: SURT ‖ 0x00 ‖ time ‖ capture_id.
pub fn url_key(surt: &str, time: i64, capture_id: u128) -> Vec<u8> {
    let mut key = Vec::with_capacity(surt.len() + 1 + 8 + ID_LEN);
    key.extend_from_slice(surt.as_bytes());
    key.push(SURT_TERMINATOR);
    key.extend_from_slice(&encode_time(time));
    key.extend_from_slice(&capture_id.to_be_bytes());
    key
}

/// A decoded `urls` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlKey<'a> {
    pub surt: &'a str,
    pub time: i64,
    pub capture_id: u128,
}

/// Splits a `urls` key; `None` for anything that is not one (never panics).
pub fn decode_url_key(key: &[u8]) -> Option<UrlKey<'_>> {
    const TAIL: usize = 1 + 8 + ID_LEN;
    if key.len() < TAIL {
        return None;
    }
    let (surt, tail) = key.split_at(key.len() - TAIL);
    if tail[0] != SURT_TERMINATOR || surt.contains(&SURT_TERMINATOR) {
        return None;
    }
    let surt = std::str::from_utf8(surt).ok()?;
    let time = decode_time(tail[1..9].try_into().ok()?);
    let capture_id = decode_id(&tail[9..])?;
    Some(UrlKey {
        surt,
        time,
        capture_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn time_order_is_byte_order(a: i64, b: i64) {
            prop_assert_eq!(a.cmp(&b), encode_time(a).cmp(&encode_time(b)));
            prop_assert_eq!(decode_time(encode_time(a)), a);
        }

        #[test]
        fn url_key_round_trips(surt in "[a-z,)/?=&.0-9]{0,40}", time: i64, id: u128) {
            let key = url_key(&surt, time, id);
            let decoded = decode_url_key(&key).expect("decodes");
            prop_assert_eq!(decoded, UrlKey { surt: &surt, time, capture_id: id });
        }

        #[test]
        fn url_keys_sort_by_surt_then_time(a in "[a-z,)/]{0,12}", b in "[a-z,)/]{0,12}", ta: i64, tb: i64) {
            let ka = url_key(&a, ta, 0);
            let kb = url_key(&b, tb, 0);
            let expected = (a.as_bytes(), encode_time(ta)).cmp(&(b.as_bytes(), encode_time(tb)));
            prop_assert_eq!(ka.cmp(&kb), expected);
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode_url_key(&bytes);
            let _ = decode_content_capture_key(&bytes);
            let _ = decode_id(&bytes);
            let _ = decode_lsh_key(&bytes);
        }

        #[test]
        fn lsh_key_round_trips_and_groups_by_bucket(band: u8, key: u64, a: u128, b: u128) {
            let band = u16::from(band);
            for member in [LshMember::Id(a), LshMember::Prefix(LshMember::prefix_of(a))] {
                prop_assert_eq!(
                    decode_lsh_key(&lsh_key(band, key, member)),
                    Some((band, key & u64::from(u32::MAX), member))
                );
                prop_assert!(lsh_key(band, key, member).starts_with(&lsh_prefix(band, key)));
            }
            // Within a bucket, rows sort by content id whatever their width.
            let (pa, pb) = (LshMember::prefix_of(a), LshMember::prefix_of(b));
            prop_assert_eq!(
                lsh_key(band, key, LshMember::Id(a)).cmp(&lsh_key(band, key, LshMember::Id(b))),
                a.cmp(&b)
            );
            if pa != pb {
                prop_assert_eq!(
                    lsh_key(band, key, LshMember::Prefix(pa))
                        .cmp(&lsh_key(band, key, LshMember::Id(b))),
                    pa.cmp(&pb)
                );
            }
        }

        #[test]
        fn content_capture_key_round_trips(a: u128, b: u128) {
            prop_assert_eq!(decode_content_capture_key(&content_capture_key(a, b)), Some((a, b)));
        }
    }
}
