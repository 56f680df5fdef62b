//! The index manifest: what was built, from what, with which parameters. It is
//! written last; an index without one is not published and will not open.

use serde::{Deserialize, Serialize};

/// Bumped whenever the on-disk layout changes incompatibly. 4: the typed
/// store; enumerations in capture records are protobuf enums, not text.
/// 5: signatures keep the low 16 bits of each value. 6: the digest is over
/// chunk digests ([`crate::partition`]); partitioned indexes; signatures keep
/// the low 8 bits of each value; `lsh` keys of 21 bytes. 7: site file
/// bodies and revisit targets in capture records. 8 (compact index): the low
/// 4 bits of each signature value, two a byte; `lsh` rows name their content
/// by a 4-byte id prefix; `content_sha256` keyed by an 8-byte SHA-256 prefix
/// and the content id; `content_captures` without the capture time. 9:
/// content previews of 64 bytes (were 120), so an incremental build's rows
/// from its base are the rows a fresh build writes; 32 KiB blocks, restarts
/// every 32 keys and Ribbon filters (readable by any version, but measured
/// with this one). 10: content languages by langid.py's model (were
/// `whatlang`'s), so an incremental build does not mix the two detectors.
/// 11: the language is detected on a text's first 2 KiB (was 8 KiB), which
/// changes it on 2.7 % of the benchmark's pages. 12: a partition holds the
/// signatures of its own contents only (no copies for its captures), so a
/// server of an older version would skip near-duplicate work entries; blocks
/// compressed with Zstandard, not LZ4. 13: a partition's copies of its
/// contents' captures owned elsewhere are `content_captures` values (the
/// record without its content id), not `captures` rows.
pub const FORMAT_VERSION: u32 = 13;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// Version of the text normalization used for content ids.
    pub normalization_version: u32,
    pub crawls: Vec<String>,
    pub inputs: Vec<String>,
    /// Unix seconds when the build finished.
    pub built_at: i64,
    pub captures: u64,
    pub contents: u64,
    pub urls: u64,
    /// Records and files that could not be read, by input.
    pub read_errors: u64,
    /// Captures skipped because their capture_id was already in the index.
    pub duplicate_captures: u64,
    /// Hex SHA-256 over the logical contents (see `IndexReader::digest`).
    pub digest: String,
    /// Text form of the MinHash/LSH parameters the `signatures` and `lsh`
    /// tables were built with (`provindex_sketch::SketchSpec`), e.g.
    /// `norm=1;shingle=5;k=128;t=0.8;b=9;r=13;seed=1`. Empty: no sketches.
    #[serde(default)]
    pub sketch_spec: String,
    /// Near-duplicate clusters with more than one content, and the contents in them.
    #[serde(default)]
    pub clusters: u64,
    #[serde(default)]
    pub clustered_contents: u64,
    /// Partitions of the index this database is one of (0: not partitioned,
    /// the whole index). Counts then are this partition's owned rows and
    /// `digest` is over its own chunks only.
    #[serde(default)]
    pub partitions: u32,
    #[serde(default)]
    pub partition: u32,
    /// Hex digests of this partition's chunks, in chunk order (empty when
    /// not partitioned); all partitions' make the index digest
    /// (`digest_of_chunks`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunk_digests: Vec<String>,
    /// The `warcinfo` records the scan saw (issue 19: who crawled, with what
    /// software, user agent and robots policy): each distinct record's
    /// fields with the inputs that carried it. Metadata like `inputs`: not
    /// part of the digest, and absent (empty) in indexes built before it, so
    /// no format change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warcinfo: Vec<InputWarcinfo>,
}

/// One distinct `warcinfo` record of a build's inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct InputWarcinfo {
    /// `name: value` fields of its block, in order, as written.
    pub fields: Vec<(String, String)>,
    /// The input objects holding it, sorted.
    pub inputs: Vec<String>,
}

impl InputWarcinfo {
    /// The first field with this name (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Groups per-input records (input, fields) into distinct records with
    /// their inputs; the result is sorted by fields, each input list sorted,
    /// so it does not depend on the order inputs were scanned in.
    pub fn group(
        per_input: impl IntoIterator<Item = (String, Vec<(String, String)>)>,
    ) -> Vec<Self> {
        let mut groups: std::collections::BTreeMap<Vec<(String, String)>, Vec<String>> =
            std::collections::BTreeMap::new();
        for (input, fields) in per_input {
            groups.entry(fields).or_default().push(input);
        }
        groups
            .into_iter()
            .map(|(fields, mut inputs)| {
                inputs.sort();
                inputs.dedup();
                InputWarcinfo { fields, inputs }
            })
            .collect()
    }
}

impl Manifest {
    /// A manifest with nothing counted yet.
    pub fn empty() -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            normalization_version: 0,
            crawls: Vec::new(),
            inputs: Vec::new(),
            built_at: 0,
            captures: 0,
            contents: 0,
            urls: 0,
            read_errors: 0,
            duplicate_captures: 0,
            digest: String::new(),
            sketch_spec: String::new(),
            clusters: 0,
            clustered_contents: 0,
            partitions: 0,
            partition: 0,
            chunk_digests: Vec::new(),
            warcinfo: Vec::new(),
        }
    }
}
