//! The scan stage's output record: a [`PreparedCapture`] as bytes in a run
//! file (protobuf via prost, so a staging file is self-describing enough to
//! be read by the same version and fails cleanly on garbage).

use prost::Message;
use provindex_index::NewContent;
use provindex_index::records::{CaptureRecord, PiiCounts};

use crate::prepare::{PreparedCapture, PreparedSketch, RevisitRef};
use crate::site_signals::{SiteFile, SiteFileKind};

#[derive(Clone, PartialEq, Message)]
struct ScanRecord {
    #[prost(bytes = "vec", tag = "1")]
    capture_id: Vec<u8>,
    #[prost(message, optional, tag = "2")]
    record: Option<CaptureRecord>,
    #[prost(message, optional, tag = "3")]
    content: Option<ScanContent>,
    #[prost(message, optional, tag = "4")]
    revisit: Option<ScanRevisit>,
    #[prost(string, optional, tag = "5")]
    url_error: Option<String>,
    #[prost(message, optional, tag = "6")]
    site_file: Option<ScanSiteFile>,
    #[prost(message, optional, tag = "7")]
    sketch: Option<ScanSketch>,
}

#[derive(Clone, PartialEq, Message)]
struct ScanContent {
    #[prost(bytes = "vec", tag = "1")]
    content_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    sha256: Vec<u8>,
    #[prost(uint64, tag = "3")]
    length_bytes: u64,
    #[prost(uint64, tag = "4")]
    token_count: u64,
    #[prost(string, tag = "5")]
    preview: String,
    #[prost(string, tag = "6")]
    language: String,
    /// PII counts in `PiiKind::ALL` order (issue 19).
    #[prost(uint32, repeated, tag = "7")]
    pii: Vec<u32>,
    /// HMACs of its personal identifiers, 32 bytes each.
    #[prost(bytes = "vec", repeated, tag = "8")]
    pii_keys: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct ScanRevisit {
    #[prost(bytes = "vec", optional, tag = "1")]
    refers_to_capture: Option<Vec<u8>>,
    #[prost(string, optional, tag = "2")]
    payload_digest: Option<String>,
    #[prost(string, optional, tag = "3")]
    target_surt: Option<String>,
    #[prost(int64, optional, tag = "4")]
    target_time: Option<i64>,
}

#[derive(Clone, PartialEq, Message)]
struct ScanSiteFile {
    #[prost(uint32, tag = "1")]
    kind: u32,
    #[prost(string, tag = "2")]
    origin: String,
    #[prost(string, tag = "3")]
    host_prefix: String,
    #[prost(string, optional, tag = "4")]
    body: Option<String>,
    #[prost(bool, tag = "5")]
    truncated: bool,
}

#[derive(Clone, PartialEq, Message)]
struct ScanSketch {
    #[prost(bytes = "vec", tag = "1")]
    signature: Vec<u8>,
    #[prost(uint64, repeated, tag = "2")]
    band_keys: Vec<u64>,
}

/// Encodes a prepared capture for a scan run file.
pub(crate) fn encode(prepared: &PreparedCapture) -> Vec<u8> {
    let record = ScanRecord {
        capture_id: prepared.capture_id.to_be_bytes().to_vec(),
        record: Some(prepared.record.clone()),
        content: prepared.content.as_ref().map(|c| ScanContent {
            content_id: c.content_id.to_be_bytes().to_vec(),
            sha256: c.sha256.to_vec(),
            length_bytes: c.length_bytes,
            token_count: c.token_count,
            preview: c.preview.clone(),
            language: c.language.clone(),
            pii: c.pii.0.to_vec(),
            pii_keys: c.pii_keys.iter().map(|k| k.to_vec()).collect(),
        }),
        revisit: prepared.revisit.as_ref().map(|r| ScanRevisit {
            refers_to_capture: r.refers_to_capture.map(|id| id.to_be_bytes().to_vec()),
            payload_digest: r.payload_digest.clone(),
            target_surt: r.target.as_ref().map(|(surt, _)| surt.clone()),
            target_time: r.target.as_ref().and_then(|(_, time)| *time),
        }),
        url_error: prepared.url_error.clone(),
        site_file: prepared.site_file.as_ref().map(|f| ScanSiteFile {
            kind: match f.kind {
                SiteFileKind::RobotsTxt => 0,
                SiteFileKind::TdmrepJson => 1,
                SiteFileKind::AiTxt => 2,
            },
            origin: f.origin.clone(),
            host_prefix: f.host_prefix.clone(),
            body: f.body.clone(),
            truncated: f.truncated,
        }),
        sketch: prepared.sketch.as_ref().map(|s| ScanSketch {
            signature: s.signature.clone(),
            band_keys: s.band_keys.clone(),
        }),
    };
    record.encode_to_vec()
}

fn id(bytes: &[u8], field: &str) -> Result<u128, String> {
    <[u8; 16]>::try_from(bytes)
        .map(u128::from_be_bytes)
        .map_err(|_| format!("{field}: {} bytes, expected 16", bytes.len()))
}

/// Decodes a record written by [`encode`]; the error names the bad field.
pub(crate) fn decode(bytes: &[u8]) -> Result<PreparedCapture, String> {
    let scan = ScanRecord::decode(bytes).map_err(|e| format!("scan record: {e}"))?;
    let content = match scan.content {
        None => None,
        Some(c) => Some(NewContent {
            content_id: id(&c.content_id, "content_id")?,
            sha256: <[u8; 32]>::try_from(c.sha256.as_slice())
                .map_err(|_| format!("sha256: {} bytes, expected 32", c.sha256.len()))?,
            length_bytes: c.length_bytes,
            token_count: c.token_count,
            preview: c.preview,
            language: c.language,
            cluster: None,
            pii: match c.pii.len() {
                0 => Default::default(),
                _ => PiiCounts(
                    <[u32; 4]>::try_from(c.pii.as_slice())
                        .map_err(|_| format!("content.pii: {} counts, expected 4", c.pii.len()))?,
                ),
            },
            pii_keys: c
                .pii_keys
                .iter()
                .map(|k| {
                    <[u8; 32]>::try_from(k.as_slice())
                        .map_err(|_| format!("content.pii_keys: {} bytes, expected 32", k.len()))
                })
                .collect::<Result<_, _>>()?,
        }),
    };
    let revisit = match scan.revisit {
        None => None,
        Some(r) => Some(RevisitRef {
            refers_to_capture: r
                .refers_to_capture
                .as_deref()
                .map(|b| id(b, "refers_to_capture"))
                .transpose()?,
            payload_digest: r.payload_digest,
            target: r.target_surt.map(|surt| (surt, r.target_time)),
        }),
    };
    let site_file = match scan.site_file {
        None => None,
        Some(f) => Some(SiteFile {
            kind: match f.kind {
                0 => SiteFileKind::RobotsTxt,
                1 => SiteFileKind::TdmrepJson,
                2 => SiteFileKind::AiTxt,
                other => return Err(format!("site_file.kind: unknown value {other}")),
            },
            origin: f.origin,
            host_prefix: f.host_prefix,
            body: f.body,
            truncated: f.truncated,
        }),
    };
    Ok(PreparedCapture {
        capture_id: id(&scan.capture_id, "capture_id")?,
        record: scan.record.ok_or("record: missing")?,
        content,
        revisit,
        url_error: scan.url_error,
        site_file,
        sketch: scan.sketch.map(|s| PreparedSketch {
            signature: s.signature,
            band_keys: s.band_keys,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_captures_of_real_records_round_trip() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/sample");
        let files = crate::expand_inputs(&[dir.display().to_string()]).unwrap();
        let options = provindex_corpus::ReaderOptions {
            keep_html: true,
            ..Default::default()
        };
        let mut seen = 0;
        for file in files {
            for doc in provindex_corpus::read_path_with(&file, options.clone()).flatten() {
                let prepared = crate::prepare(doc, "crawl");
                let back = decode(&encode(&prepared)).unwrap();
                assert_eq!(format!("{prepared:?}"), format!("{back:?}"));
                seen += 1;
            }
        }
        assert!(seen > 100, "only {seen} records in the sample corpus");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        // A length-delimited field longer than the input.
        assert!(decode(b"\x0a\xff\x01").is_err());
        // A capture id of the wrong length.
        assert!(decode(b"\x0a\x03abc").unwrap_err().contains("capture_id"));
        assert!(decode(&[]).unwrap_err().contains("capture_id"));
    }
}
