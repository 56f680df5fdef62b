//! The index's tables: one [`provindex_store::Schema`] per column family, with
//! its key and value types and their codecs.
//!
//! Keys are big-endian so that byte order is numeric order ([`crate::keys`]);
//! values are protobuf records ([`crate::records`], evolvable) or fixed-width
//! bytes. Every codec rejects bytes that are not its type (length, UTF-8,
//! unknown enumeration codes) with a reason instead of panicking; the
//! `*_codecs` property tests below check both.

use provindex_store::{CodecError, ColumnFamilySpec, KeyCodec, ValueCodec, define_schema};

use crate::keys::{self, ID_LEN};
use crate::records::{CaptureRecord, ContentRecord};
use crate::{Manifest, ids::CaptureId, ids::ContentId};

define_schema!(
    /// capture_id → the capture.
    Captures,
    CaptureId,
    CaptureRecord,
    "captures"
);
define_schema!(
    /// content_id → the content.
    Contents,
    ContentId,
    ContentRecord,
    "contents"
);
define_schema!(
    /// content_id ‖ capture_id → where the capture's record is: a content's
    /// captures ([`CaptureCopy`]).
    ContentCaptures,
    ContentCaptureKey,
    CaptureCopy,
    "content_captures"
);
define_schema!(
    /// Not a table: the builder's sorted run of `content_captures` rows with
    /// each capture's time, from which it computes a content's first seen.
    ContentCaptureTimes,
    ContentCaptureKey,
    TimedCapture,
    "content_capture_times"
);
define_schema!(
    /// SURT ‖ 0x00 ‖ capture time ‖ capture_id → nothing: captures by URL, then time.
    Urls,
    UrlKey,
    (),
    "urls"
);
define_schema!(
    /// The first [`SHA_PREFIX_LEN`] bytes of the SHA-256 of the normalized
    /// text ‖ content_id → nothing (LookupContent by SHA-256): the full
    /// SHA-256 is in the content record, which a lookup checks, so the
    /// index keeps one copy of it.
    ContentSha256,
    ShaKey,
    (),
    "content_sha256"
);
define_schema!(
    /// content_id → MinHash signature: the low 4 bits of each of the K values
    /// (two a byte; `provindex_sketch::COMPARED_BITS`, the manifest's sketch
    /// spec). Contents with empty normalized text have none.
    Signatures,
    ContentId,
    Signature,
    "signatures"
);
define_schema!(
    /// band (1) ‖ band key's low 32 bits (4) ‖ content_id's first 4 bytes (or
    /// all 16 when another content shares them; [`keys::LshMember`]) →
    /// nothing: the LSH buckets FindWork probes.
    Lsh,
    LshKey,
    (),
    "lsh"
);
define_schema!(
    /// cluster_id ‖ content_id → nothing: members of each near-duplicate
    /// cluster of more than one content (cluster_id = its smallest content_id).
    Clusters,
    ClusterMemberKey,
    (),
    "clusters"
);
define_schema!(
    /// Build facts by name; today only the manifest (JSON).
    Meta,
    MetaKey,
    Manifest,
    "meta"
);

/// Every table, in a fixed order (the digest walks them in this order, `meta` excluded).
pub const TABLES: [ColumnFamilySpec; 10] = [
    point(<Captures as provindex_store::Schema>::COLUMN_FAMILY),
    point(<Contents as provindex_store::Schema>::COLUMN_FAMILY),
    scanned(<ContentCaptures as provindex_store::Schema>::COLUMN_FAMILY),
    scanned(<Urls as provindex_store::Schema>::COLUMN_FAMILY),
    scanned(<ContentSha256 as provindex_store::Schema>::COLUMN_FAMILY),
    point(<Signatures as provindex_store::Schema>::COLUMN_FAMILY),
    scanned(<Lsh as provindex_store::Schema>::COLUMN_FAMILY),
    scanned(<Clusters as provindex_store::Schema>::COLUMN_FAMILY),
    point(<Meta as provindex_store::Schema>::COLUMN_FAMILY),
    scanned(<PiiKeys as provindex_store::Schema>::COLUMN_FAMILY),
];

/// Column family names of [`TABLES`], for errors that name a table.
pub const CAPTURES: &str = TABLES[0].name;
pub const SIGNATURES: &str = TABLES[5].name;
pub const META: &str = TABLES[8].name;

const fn point(name: &'static str) -> ColumnFamilySpec {
    ColumnFamilySpec {
        name,
        point_lookups: true,
    }
}

const fn scanned(name: &'static str) -> ColumnFamilySpec {
    ColumnFamilySpec {
        name,
        point_lookups: false,
    }
}

fn id_from(bytes: &[u8], what: &str) -> Result<u128, CodecError> {
    keys::decode_id(bytes).ok_or_else(|| CodecError::length(what, bytes.len(), ID_LEN))
}

impl KeyCodec<Captures> for CaptureId {
    fn encode_key(&self) -> Vec<u8> {
        keys::id_key(self.0).to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        id_from(bytes, "capture_id").map(CaptureId)
    }
}

fn encode_content_id(id: &ContentId) -> Vec<u8> {
    keys::id_key(id.0).to_vec()
}

fn decode_content_id(bytes: &[u8]) -> Result<ContentId, CodecError> {
    id_from(bytes, "content_id").map(ContentId)
}

impl KeyCodec<Contents> for ContentId {
    fn encode_key(&self) -> Vec<u8> {
        encode_content_id(self)
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        decode_content_id(bytes)
    }
}

impl KeyCodec<Signatures> for ContentId {
    fn encode_key(&self) -> Vec<u8> {
        encode_content_id(self)
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        decode_content_id(bytes)
    }
}

fn decode_record<T: prost::Message + Default>(bytes: &[u8]) -> Result<T, CodecError> {
    T::decode(bytes).map_err(|e| CodecError::new(e.to_string()))
}

/// Captures are stored compacted ([`CaptureRecord::compacted`]): the SURT,
/// host, registered domain and a whole-second WARC-Date are derived again
/// when read.
impl ValueCodec<Captures> for CaptureRecord {
    fn encode_value(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(&self.compacted())
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut record: CaptureRecord = decode_record(bytes)?;
        record.validate().map_err(CodecError::new)?;
        record.expand().map_err(CodecError::new)?;
        Ok(record)
    }
}

impl ValueCodec<Contents> for ContentRecord {
    fn encode_value(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        decode_record(bytes)
    }
}

/// A `content_captures` value: where the record of the key's capture is.
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureCopy {
    /// In `captures`: this database owns the capture (stored as no bytes).
    Owned,
    /// Here: the record of a capture another partition owns, so the
    /// content's partition answers for all its captures. Stored compacted
    /// like `captures` and without its content id (the key's), after a
    /// [`COPY_TAG`] byte; decoded with the content id left empty.
    Copy(Box<CaptureRecord>),
}

/// First byte of a [`CaptureCopy::Copy`] value (an owned capture's value is empty).
pub const COPY_TAG: u8 = 1;

impl ValueCodec<ContentCaptures> for CaptureCopy {
    fn encode_value(&self) -> Vec<u8> {
        match self {
            CaptureCopy::Owned => Vec::new(),
            CaptureCopy::Copy(record) => {
                let mut stored = record.compacted();
                stored.content_id.clear();
                let mut value = vec![COPY_TAG];
                value.extend(prost::Message::encode_to_vec(&stored));
                value
            }
        }
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        match bytes.split_first() {
            None => Ok(CaptureCopy::Owned),
            Some((&COPY_TAG, stored)) => {
                let mut record: CaptureRecord = decode_record(stored)?;
                if !record.content_id.is_empty() {
                    return Err(CodecError::new(
                        "a copied capture carries a content id; the key gives it",
                    ));
                }
                record.validate().map_err(CodecError::new)?;
                record.expand().map_err(CodecError::new)?;
                Ok(CaptureCopy::Copy(Box::new(record)))
            }
            Some((tag, _)) => Err(CodecError::new(format!(
                "value starts with {tag:#04x}: neither empty (owned) nor a copy ({COPY_TAG:#04x})"
            ))),
        }
    }
}

/// A row of the builder's [`ContentCaptureTimes`]: the capture's time (unix
/// seconds) and its `content_captures` value.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedCapture {
    pub time: i64,
    pub copy: CaptureCopy,
}

impl ValueCodec<ContentCaptureTimes> for TimedCapture {
    fn encode_value(&self) -> Vec<u8> {
        let mut value = keys::encode_time(self.time).to_vec();
        value.extend(<CaptureCopy as ValueCodec<ContentCaptures>>::encode_value(
            &self.copy,
        ));
        value
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        let (time, copy) = bytes
            .split_first_chunk::<8>()
            .ok_or_else(|| CodecError::length("capture time", bytes.len(), 8))?;
        Ok(TimedCapture {
            time: keys::decode_time(*time),
            copy: <CaptureCopy as ValueCodec<ContentCaptures>>::decode_value(copy)?,
        })
    }
}

/// `content_captures` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContentCaptureKey {
    pub content_id: ContentId,
    pub capture_id: CaptureId,
}

macro_rules! content_capture_key {
    ($($schema:ty),+) => {$(
        impl KeyCodec<$schema> for ContentCaptureKey {
            fn encode_key(&self) -> Vec<u8> {
                keys::content_capture_key(self.content_id.0, self.capture_id.0).to_vec()
            }
            fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
                keys::decode_content_capture_key(bytes)
                    .map(|(content, capture)| ContentCaptureKey {
                        content_id: ContentId(content),
                        capture_id: CaptureId(capture),
                    })
                    .ok_or_else(|| CodecError::length("key", bytes.len(), 2 * ID_LEN))
            }
        }
    )+};
}
content_capture_key!(ContentCaptures, ContentCaptureTimes);

/// `urls` key: the SURT, the capture time and the capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlKey {
    pub surt: String,
    pub time: i64,
    pub capture_id: CaptureId,
}

impl KeyCodec<Urls> for UrlKey {
    fn encode_key(&self) -> Vec<u8> {
        keys::url_key(&self.surt, self.time, self.capture_id.0)
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        let key = keys::decode_url_key(bytes).ok_or_else(|| {
            CodecError::new(format!(
                "not SURT ‖ 0x00 ‖ time ‖ capture_id ({} bytes)",
                bytes.len()
            ))
        })?;
        Ok(UrlKey {
            surt: key.surt.to_owned(),
            time: key.time,
            capture_id: CaptureId(key.capture_id),
        })
    }
}

/// Tables whose rows are their keys store an empty value.
macro_rules! empty_value {
    ($($schema:ty),+) => {$(
        impl ValueCodec<$schema> for () {
            fn encode_value(&self) -> Vec<u8> {
                Vec::new()
            }
            fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
                if bytes.is_empty() {
                    Ok(())
                } else {
                    Err(CodecError::length("value", bytes.len(), 0))
                }
            }
        }
    )+};
}
empty_value!(Urls, Lsh, Clusters, ContentSha256);

/// Bytes of a SHA-256 kept in a [`ContentSha256`] key: enough that two
/// contents rarely share them (a shared prefix costs a content read, never a
/// wrong answer: the lookup compares the full SHA-256).
pub const SHA_PREFIX_LEN: usize = 8;

/// `content_sha256` key: a SHA-256 prefix and the content it may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ShaKey {
    pub sha_prefix: [u8; SHA_PREFIX_LEN],
    pub content_id: ContentId,
}

impl ShaKey {
    pub fn new(sha256: &[u8; 32], content_id: ContentId) -> Self {
        let mut sha_prefix = [0u8; SHA_PREFIX_LEN];
        sha_prefix.copy_from_slice(&sha256[..SHA_PREFIX_LEN]);
        Self {
            sha_prefix,
            content_id,
        }
    }
}

impl KeyCodec<ContentSha256> for ShaKey {
    fn encode_key(&self) -> Vec<u8> {
        let mut key = self.sha_prefix.to_vec();
        key.extend_from_slice(&keys::id_key(self.content_id.0));
        key
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.len() != SHA_PREFIX_LEN + ID_LEN {
            return Err(CodecError::length(
                "key",
                bytes.len(),
                SHA_PREFIX_LEN + ID_LEN,
            ));
        }
        let (prefix, id) = bytes.split_at(SHA_PREFIX_LEN);
        let mut sha_prefix = [0u8; SHA_PREFIX_LEN];
        sha_prefix.copy_from_slice(prefix);
        Ok(Self {
            sha_prefix,
            content_id: decode_content_id(id)?,
        })
    }
}

/// A stored MinHash signature: the compared bits of each of its K values
/// (`provindex_sketch::COMPARED_BITS`, 4), two values a byte, the first in
/// the high nibble. K is even (the builder refuses an odd K): an odd count
/// would come back with a zero value appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature(pub Vec<u16>);

impl ValueCodec<Signatures> for Signature {
    fn encode_value(&self) -> Vec<u8> {
        // Values are compared bits (< 16): a nibble each.
        #[allow(clippy::cast_possible_truncation)]
        let nibble = |v: Option<&u16>| v.map_or(0, |v| (*v & 0x0f) as u8);
        self.0
            .chunks(2)
            .map(|pair| (nibble(pair.first()) << 4) | nibble(pair.get(1)))
            .collect()
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(Signature(
            bytes
                .iter()
                .flat_map(|b| [u16::from(b >> 4), u16::from(b & 0x0f)])
                .collect(),
        ))
    }
}

/// `lsh` key: one content in one band's bucket, by id prefix or in full
/// ([`keys::LshMember`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LshKey {
    pub band: u16,
    pub band_key: u64,
    pub member: keys::LshMember,
}

impl KeyCodec<Lsh> for LshKey {
    fn encode_key(&self) -> Vec<u8> {
        keys::lsh_key(self.band, self.band_key, self.member)
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        keys::decode_lsh_key(bytes)
            .map(|(band, band_key, member)| LshKey {
                band,
                band_key,
                member,
            })
            .ok_or_else(|| {
                CodecError::new(format!(
                    "lsh key of {} bytes, expected {} or {}",
                    bytes.len(),
                    keys::LSH_SHORT_KEY_LEN,
                    keys::LSH_KEY_LEN
                ))
            })
    }
}

/// `clusters` key: a cluster and one of its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClusterMemberKey {
    pub cluster_id: ContentId,
    pub member: ContentId,
}

impl KeyCodec<Clusters> for ClusterMemberKey {
    fn encode_key(&self) -> Vec<u8> {
        keys::content_capture_key(self.cluster_id.0, self.member.0).to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        keys::decode_content_capture_key(bytes)
            .map(|(cluster, member)| ClusterMemberKey {
                cluster_id: ContentId(cluster),
                member: ContentId(member),
            })
            .ok_or_else(|| CodecError::length("key", bytes.len(), 2 * ID_LEN))
    }
}

/// Names of the `meta` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKey {
    Manifest,
}

impl KeyCodec<Meta> for MetaKey {
    fn encode_key(&self) -> Vec<u8> {
        match self {
            MetaKey::Manifest => b"manifest".to_vec(),
        }
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        match bytes {
            b"manifest" => Ok(MetaKey::Manifest),
            _ => Err(CodecError::new(format!(
                "unknown meta key {:?}",
                String::from_utf8_lossy(bytes)
            ))),
        }
    }
}

impl ValueCodec<Meta> for Manifest {
    fn encode_value(&self) -> Vec<u8> {
        // Plain data with string keys: serializing cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        serde_json::from_slice(bytes).map_err(|e| CodecError::new(format!("manifest: {e}")))
    }
}

#[cfg(test)]
mod strategies {
    use proptest::prelude::*;

    use super::CaptureCopy;
    use crate::ids::{CaptureId, ContentId};
    use crate::records::*;

    pub fn capture_id() -> impl Strategy<Value = CaptureId> {
        any::<u128>().prop_map(CaptureId)
    }

    pub fn content_id() -> impl Strategy<Value = ContentId> {
        any::<u128>().prop_map(ContentId)
    }

    fn code<E: Copy + Into<i32> + std::fmt::Debug + 'static>(
        all: &'static [E],
    ) -> impl Strategy<Value = i32> {
        proptest::sample::select(all).prop_map(Into::into)
    }

    fn url() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,30}",
            Just("https://www.example.co.uk/a/b?x=1".to_owned()),
            Just("http://data.gov.uk:8080/dataset/".to_owned()),
            Just("https://zh.wikipedia.org/wiki/%E4%B8%AD%E6%96%87".to_owned()),
            Just("http://192.168.0.1/x".to_owned()),
        ]
    }

    pub fn capture() -> impl Strategy<Value = CaptureRecord> {
        let signal = (
            code(SignalKind::ALL),
            code(SignalSource::ALL),
            code(Stance::ALL),
            "\\PC{0,12}",
            any::<i64>(),
        )
            .prop_map(
                |(kind, source, stance, evidence, captured_at)| SignalRecord {
                    kind,
                    source,
                    stance,
                    value: "1".into(),
                    agent: String::new(),
                    evidence,
                    captured_at,
                },
            );
        let license =
            (code(LicenseClass::ALL), code(LicenseLocation::ALL)).prop_map(|(class, location)| {
                LicenseRecord {
                    class,
                    location,
                    id: "cc-by-4.0".into(),
                    ..LicenseRecord::default()
                }
            });
        (
            (
                url(),
                -(1i64 << 40)..(1i64 << 40),
                any::<u64>(),
                any::<u64>(),
            ),
            (
                code(RecordKind::ALL),
                code(Framing::ALL),
                code(Verdict::ALL),
                any::<(bool, bool)>(),
            ),
            proptest::option::of(license),
            proptest::collection::vec(signal, 0..3),
            proptest::option::of(any::<u128>()),
            any::<u32>(),
        )
            .prop_map(
                |(
                    (url, time, offset, length),
                    (kind, framing, verdict, (keys_from_url, raw_from_time)),
                    license,
                    signals,
                    content,
                    decider,
                )| {
                    let optout_decider =
                        (!signals.is_empty()).then(|| decider % signals.len() as u32);
                    // Records whose derived fields agree with their URL and
                    // time (stored compacted) and records whose fields do not
                    // (stored as they are) must both come back unchanged.
                    let (surt, host, registered_domain) =
                        match provindex_signals::surt(&url).ok().filter(|_| keys_from_url) {
                            Some(s) => (s.key, s.host, s.registered_domain.unwrap_or_default()),
                            None => (
                                "com,example)/other".into(),
                                "example.com".into(),
                                String::new(),
                            ),
                        };
                    let capture_time_raw = if raw_from_time {
                        provindex_signals::utc(time)
                    } else {
                        "2024-01-01T00:00:00.5Z".into()
                    };
                    CaptureRecord {
                        surt,
                        host,
                        registered_domain,
                        capture_time_raw,
                        url,
                        capture_time: time,
                        location_offset: offset,
                        location_length: length,
                        record_kind: kind,
                        location_framing: framing,
                        optout_verdict: verdict,
                        license,
                        signals,
                        optout_decider,
                        content_id: content
                            .map(|c| c.to_be_bytes().to_vec())
                            .unwrap_or_default(),
                        ..CaptureRecord::default()
                    }
                },
            )
    }

    /// A `content_captures` value: owned, or a copy (stored without its
    /// content id).
    pub fn capture_copy() -> impl Strategy<Value = CaptureCopy> {
        prop_oneof![
            Just(CaptureCopy::Owned),
            capture().prop_map(|mut record| {
                record.content_id.clear();
                CaptureCopy::Copy(Box::new(record))
            }),
        ]
    }

    pub fn content() -> impl Strategy<Value = ContentRecord> {
        (
            any::<[u8; 32]>(),
            any::<u64>(),
            any::<u64>(),
            "\\PC{0,20}",
            proptest::option::of(any::<i64>()),
        )
            .prop_map(|(sha, length, tokens, preview, first_seen)| ContentRecord {
                sha256: sha.to_vec(),
                length_bytes: length,
                token_count: tokens,
                preview,
                first_seen,
                ..ContentRecord::default()
            })
    }
}

#[cfg(test)]
use proptest::prelude::*;

provindex_store::test_schema_codecs!(
    captures_codecs,
    Captures,
    strategies::capture_id(),
    strategies::capture()
);
provindex_store::test_schema_codecs!(
    contents_codecs,
    Contents,
    strategies::content_id(),
    strategies::content()
);
provindex_store::test_schema_codecs!(
    content_captures_codecs,
    ContentCaptures,
    (strategies::content_id(), strategies::capture_id()).prop_map(|(content_id, capture_id)| {
        ContentCaptureKey {
            content_id,
            capture_id,
        }
    }),
    strategies::capture_copy()
);
provindex_store::test_schema_codecs!(
    content_capture_times_codecs,
    ContentCaptureTimes,
    (strategies::content_id(), strategies::capture_id()).prop_map(|(content_id, capture_id)| {
        ContentCaptureKey {
            content_id,
            capture_id,
        }
    }),
    (any::<i64>(), strategies::capture_copy()).prop_map(|(time, copy)| TimedCapture { time, copy })
);
provindex_store::test_schema_codecs!(
    urls_codecs,
    Urls,
    (
        "[a-z,)/?=&.:0-9]{0,40}",
        any::<i64>(),
        strategies::capture_id()
    )
        .prop_map(|(surt, time, capture_id)| UrlKey {
            surt,
            time,
            capture_id
        }),
    Just(())
);
provindex_store::test_schema_codecs!(
    content_sha256_codecs,
    ContentSha256,
    (any::<[u8; 32]>(), strategies::content_id()).prop_map(|(sha, id)| ShaKey::new(&sha, id)),
    Just(())
);
provindex_store::test_schema_codecs!(
    signatures_codecs,
    Signatures,
    strategies::content_id(),
    // Even counts of 4-bit values: what the builder stores.
    proptest::collection::vec((0u16..16, 0u16..16), 0..32)
        .prop_map(|pairs| Signature(pairs.into_iter().flat_map(|(a, b)| [a, b]).collect()))
);
provindex_store::test_schema_codecs!(
    lsh_codecs,
    Lsh,
    (any::<u8>(), any::<u32>(), any::<u128>(), any::<bool>()).prop_map(
        |(band, band_key, id, short)| LshKey {
            band: u16::from(band),
            band_key: u64::from(band_key),
            member: if short {
                keys::LshMember::Prefix(keys::LshMember::prefix_of(id))
            } else {
                keys::LshMember::Id(id)
            },
        }
    ),
    Just(())
);
provindex_store::test_schema_codecs!(
    clusters_codecs,
    Clusters,
    (strategies::content_id(), strategies::content_id())
        .prop_map(|(cluster_id, member)| ClusterMemberKey { cluster_id, member }),
    Just(())
);
provindex_store::test_schema_codecs!(
    meta_codecs,
    Meta,
    Just(MetaKey::Manifest),
    ("\\PC{0,12}", any::<u32>(), any::<u64>()).prop_map(|(crawl, version, captures)| Manifest {
        crawls: vec![crawl],
        normalization_version: version,
        captures,
        ..Manifest::empty()
    })
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_enumeration_code_is_corrupt_not_a_default() {
        let mut record = CaptureRecord {
            optout_verdict: 9,
            ..CaptureRecord::default()
        };
        let error = <CaptureRecord as ValueCodec<Captures>>::decode_value(
            &prost::Message::encode_to_vec(&record),
        )
        .expect_err("code 9 is no verdict");
        assert_eq!(error.0, "optout_verdict: unknown code 9");
        record.optout_verdict = 0;
        record.optout_decider = Some(0);
        let error = <CaptureRecord as ValueCodec<Captures>>::decode_value(
            &prost::Message::encode_to_vec(&record),
        )
        .expect_err("no signal 0");
        assert!(error.0.contains("names no signal"), "{}", error.0);
    }
}

define_schema!(
    /// HMAC-SHA-256 of a personal identifier under the build's PII key
    /// ([`provindex_policy::pii::pii_key`]) ‖ content_id → nothing: the
    /// contents holding an identifier, without the identifier (issue 19).
    /// Empty when the build had no PII key.
    PiiKeys,
    PiiKeyRow,
    (),
    "pii_keys"
);

/// Bytes of a [`PiiKeys`] key: the HMAC, then the content id.
pub const PII_KEY_LEN: usize = 32 + ID_LEN;

/// `pii_keys` key: one content holding the identifier with this HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PiiKeyRow {
    pub hmac: [u8; 32],
    pub content_id: ContentId,
}

impl KeyCodec<PiiKeys> for PiiKeyRow {
    fn encode_key(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(PII_KEY_LEN);
        key.extend_from_slice(&self.hmac);
        key.extend_from_slice(&keys::id_key(self.content_id.0));
        key
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.len() != PII_KEY_LEN {
            return Err(CodecError::length("key", bytes.len(), PII_KEY_LEN));
        }
        let mut hmac = [0u8; 32];
        hmac.copy_from_slice(&bytes[..32]);
        Ok(PiiKeyRow {
            hmac,
            content_id: ContentId(id_from(&bytes[32..], "content_id")?),
        })
    }
}

empty_value!(PiiKeys);

provindex_store::test_schema_codecs!(
    pii_keys_codecs,
    PiiKeys,
    (any::<[u8; 32]>(), strategies::content_id())
        .prop_map(|(hmac, content_id)| PiiKeyRow { hmac, content_id }),
    Just(())
);
