//! Values stored in the index. They are protobuf-encoded (prost) so that fields
//! can be added without rewriting existing indexes; the index crate owns these
//! types, independent of the public API messages.

use prost::Message;

use crate::IndexError;

/// One fetched record of the crawl (value of `captures`).
#[derive(Clone, PartialEq, Message)]
pub struct CaptureRecord {
    #[prost(string, tag = "1")]
    pub url: String,
    #[prost(string, tag = "2")]
    pub surt: String,
    #[prost(int64, tag = "3")]
    pub capture_time: i64,
    #[prost(string, tag = "4")]
    pub capture_time_raw: String,
    #[prost(uint32, tag = "5")]
    pub http_status: u32,
    #[prost(string, tag = "6")]
    pub content_type: String,
    #[prost(string, tag = "7")]
    pub language: String,
    #[prost(string, tag = "8")]
    pub location_uri: String,
    #[prost(uint64, tag = "9")]
    pub location_offset: u64,
    #[prost(uint64, tag = "10")]
    pub location_length: u64,
    #[prost(string, tag = "11")]
    pub payload_digest: String,
    /// 16 bytes, or empty when the record had no text.
    #[prost(bytes = "vec", tag = "12")]
    pub content_id: Vec<u8>,
    #[prost(string, tag = "13")]
    pub record_id: String,
    #[prost(string, tag = "14")]
    pub record_kind: String,
    #[prost(string, tag = "15")]
    pub crawl: String,
    #[prost(string, tag = "16")]
    pub host: String,
    #[prost(string, tag = "17")]
    pub registered_domain: String,
    #[prost(string, tag = "18")]
    pub refers_to: String,
    /// How `location_offset`/`location_length` address the object:
    /// `plain`, `gzip_member` or `decompressed`.
    #[prost(string, tag = "19")]
    pub location_framing: String,
    /// License found in the captured page; absent when none was stated.
    #[prost(message, optional, tag = "20")]
    pub license: Option<LicenseRecord>,
    /// Every opt-out / reservation signal seen at capture time.
    #[prost(message, repeated, tag = "21")]
    pub signals: Vec<SignalRecord>,
    /// `reserved`, `not_reserved` or `unknown` (combined over `signals`).
    #[prost(string, tag = "22")]
    pub optout_verdict: String,
    /// Index into `signals` of the signal that decided the verdict.
    #[prost(uint32, optional, tag = "23")]
    pub optout_decider: Option<u32>,
    /// The near-duplicate cluster of the capture's content (16 bytes), copied
    /// from the content at the end of the build so a URL lookup needs no
    /// second read; empty when the cluster id is the content's own id (alone
    /// in its cluster, or its smallest member) or the capture has no content.
    #[prost(bytes = "vec", tag = "24")]
    pub cluster_id: Vec<u8>,
    /// Language of the capture's text: the content's detected language
    /// (ISO 639-3, `provindex_sketch::detect_language`), else the language
    /// the page declares (`language`, as written); empty when neither is
    /// known or the index was built before issue 16.
    #[prost(string, tag = "25")]
    pub content_language: String,
}

/// The page license a capture states.
#[derive(Clone, PartialEq, Message)]
pub struct LicenseRecord {
    /// permissive | non_commercial | no_derivatives | public_domain | unknown
    #[prost(string, tag = "1")]
    pub class: String,
    /// e.g. `cc-by-sa-4.0`.
    #[prost(string, tag = "2")]
    pub id: String,
    #[prost(string, tag = "3")]
    pub spdx: String,
    /// meta | json_ld | link_rel | anchor_rel | anchor
    #[prost(string, tag = "4")]
    pub location: String,
    #[prost(string, tag = "5")]
    pub evidence: String,
    /// The page states more than one distinct license.
    #[prost(bool, tag = "6")]
    pub conflict: bool,
}

/// One opt-out / reservation signal with its evidence.
#[derive(Clone, PartialEq, Message)]
pub struct SignalRecord {
    #[prost(string, tag = "1")]
    pub kind: String,
    #[prost(string, tag = "2")]
    pub source: String,
    /// reserved | not_reserved | info | malformed
    #[prost(string, tag = "3")]
    pub stance: String,
    #[prost(string, tag = "4")]
    pub value: String,
    /// User agent the signal is scoped to; empty for every agent.
    #[prost(string, tag = "5")]
    pub agent: String,
    #[prost(string, tag = "6")]
    pub evidence: String,
    #[prost(int64, tag = "7")]
    pub captured_at: i64,
}

/// One distinct normalized text (value of `contents`).
#[derive(Clone, PartialEq, Message)]
pub struct ContentRecord {
    #[prost(bytes = "vec", tag = "1")]
    pub sha256: Vec<u8>,
    #[prost(uint64, tag = "2")]
    pub length_bytes: u64,
    #[prost(uint64, tag = "3")]
    pub token_count: u64,
    /// Filled in when the build finishes: distinct captures of this content.
    #[prost(uint64, tag = "4")]
    pub capture_count: u64,
    /// Earliest capture time among its captures; set when the build finishes.
    #[prost(int64, optional, tag = "5")]
    pub first_seen: Option<i64>,
    /// The first characters of the normalized text.
    #[prost(string, tag = "6")]
    pub preview: String,
    /// Near-duplicate cluster (16 bytes); empty when the content is alone in
    /// its cluster (then the cluster id is its own content id).
    #[prost(bytes = "vec", tag = "7")]
    pub cluster_id: Vec<u8>,
    /// The cluster's keeper (16 bytes); empty when alone (it keeps itself).
    #[prost(bytes = "vec", tag = "8")]
    pub cluster_keeper: Vec<u8>,
    /// Contents in the cluster; 0 when alone (a cluster of one).
    #[prost(uint64, tag = "9")]
    pub cluster_size: u64,
    /// Detected language of the text (ISO 639-3, e.g. `cmn`, `eng`; from
    /// `provindex_sketch::detect_language`, so the same for every capture of
    /// the content); empty when detection was not reliable or the index was
    /// built before issue 16 (a field added with a default: old indexes read).
    #[prost(string, tag = "10")]
    pub language: String,
}

/// A content's near-duplicate cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterInfo {
    pub cluster_id: u128,
    pub keeper: u128,
    pub size: u64,
}

impl ContentRecord {
    /// The cluster of content `content_id` (this record): a cluster of one
    /// when the build found no near-duplicate.
    pub fn cluster(&self, content_id: u128) -> ClusterInfo {
        match (
            crate::keys::decode_id(&self.cluster_id),
            crate::keys::decode_id(&self.cluster_keeper),
        ) {
            (Some(cluster_id), Some(keeper)) if self.cluster_size > 1 => ClusterInfo {
                cluster_id,
                keeper,
                size: self.cluster_size,
            },
            _ => ClusterInfo {
                cluster_id: content_id,
                keeper: content_id,
                size: 1,
            },
        }
    }

    /// Whether this content is its cluster's keeper (the one a deduplicated
    /// training manifest keeps).
    pub fn is_keeper(&self, content_id: u128) -> bool {
        provindex_policy::keeper::is_keeper(content_id, self.cluster(content_id).keeper)
    }
}

impl CaptureRecord {
    /// The capture's stored crawl-signal finding, as a fact for
    /// [`provindex_policy::reservation`].
    pub fn crawl_signal(&self, capture_id: u128) -> provindex_policy::CaptureSignal {
        provindex_policy::CaptureSignal {
            capture_id,
            capture_time: self.capture_time,
            verdict: provindex_policy::Verdict::parse(&self.optout_verdict),
            signal_kind: self
                .optout_decider
                .and_then(|i| self.signals.get(i as usize))
                .map(|s| s.kind.clone()),
        }
    }

    pub fn content_id(&self) -> Option<u128> {
        crate::keys::decode_id(&self.content_id)
    }

    /// The near-duplicate cluster of the capture's content: the stored one,
    /// else the content's own id (a cluster of one, or the cluster's smallest
    /// member); `None` without content.
    pub fn cluster_id(&self) -> Option<u128> {
        crate::keys::decode_id(&self.cluster_id).or_else(|| self.content_id())
    }
}

pub(crate) fn decode<T: Message + Default>(
    cf: &'static str,
    bytes: &[u8],
) -> Result<T, IndexError> {
    T::decode(bytes).map_err(|error| IndexError::Corrupt {
        cf,
        reason: error.to_string(),
    })
}
