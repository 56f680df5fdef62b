//! Index records → API messages, and strict parsing of the ids they carry.

use provindex_index::records::{CaptureRecord, ContentRecord};
use provindex_proto::v1;

pub fn capture(capture_id: u128, record: CaptureRecord) -> v1::Capture {
    let optout = optout(&record);
    let license = record.license.as_ref().map(|license| v1::License {
        class: license.class().as_str().to_owned(),
        id: license.id.clone(),
        spdx: license.spdx.clone(),
        location: license.location().as_str().to_owned(),
        evidence: license.evidence.clone(),
        conflict: license.conflict,
    });
    let content_id = record
        .content_id()
        .map(|id| format!("{id:032x}"))
        .unwrap_or_default();
    let cluster_id = record
        .cluster_id()
        .map(|id| format!("{id:032x}"))
        .unwrap_or_default();
    let framing = record.location_framing().as_str().to_owned();
    let record_kind = record.record_kind().as_str().to_owned();
    v1::Capture {
        capture_id: format!("{capture_id:032x}"),
        url: record.url,
        surt: record.surt,
        capture_time: record.capture_time,
        capture_time_raw: record.capture_time_raw,
        http_status: record.http_status,
        content_type: record.content_type,
        language: record.language,
        location: Some(v1::RecordLocation {
            uri: record.location_uri,
            offset: record.location_offset,
            length: record.location_length,
            framing,
        }),
        payload_digest: record.payload_digest,
        content_id,
        record_id: record.record_id,
        record_kind,
        crawl: record.crawl,
        host: record.host,
        registered_domain: record.registered_domain,
        refers_to: record.refers_to,
        license,
        optout: Some(optout),
        cluster_id,
        content_language: record.content_language,
    }
}

/// A content's captures as read with their records.
pub fn content_captures(captures: Vec<(u128, CaptureRecord)>) -> Vec<v1::Capture> {
    captures
        .into_iter()
        .map(|(capture_id, record)| capture(capture_id, record))
        .collect()
}

pub fn content(content_id: u128, record: ContentRecord) -> v1::Content {
    let cluster = record.cluster(content_id);
    v1::Content {
        cluster: Some(v1::Cluster {
            cluster_id: format!("{:032x}", cluster.cluster_id),
            size: cluster.size,
            keeper: format!("{:032x}", cluster.keeper),
        }),
        is_keeper: record.is_keeper(content_id),
        content_id: format!("{content_id:032x}"),
        sha256: hex::encode(&record.sha256),
        length_bytes: record.length_bytes,
        token_count: record.token_count,
        capture_count: record.capture_count,
        first_seen: record.first_seen.unwrap_or_default(),
        preview: record.preview,
        language: record.language,
    }
}

/// A 128-bit id written as exactly 32 hex digits. Checked digit by digit:
/// `u128::from_str_radix` alone also takes a leading `+` (`+000…` was an id).
pub fn hex_u128(text: &str) -> Option<u128> {
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}

/// A decimal id as the API writes it: ASCII digits, no sign, no whitespace,
/// no leading zero. `str::parse` alone also takes `+1`.
pub fn decimal_u64(text: &str) -> Option<u64> {
    if text.is_empty()
        || !text.bytes().all(|b| b.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return None;
    }
    text.parse().ok()
}

fn signal(record: &provindex_index::records::SignalRecord) -> v1::OptOutSignal {
    v1::OptOutSignal {
        kind: record.kind().as_str().to_owned(),
        source: record.source().as_str().to_owned(),
        stance: record.stance().as_str().to_owned(),
        value: record.value.clone(),
        agent: record.agent.clone(),
        evidence: record.evidence.clone(),
        seen_at: record.captured_at,
    }
}

fn optout(record: &CaptureRecord) -> v1::OptOutStatus {
    let deciding_signal = record
        .optout_decider
        .and_then(|i| record.signals.get(i as usize))
        .map(signal);
    v1::OptOutStatus {
        verdict: record.optout_verdict().as_str().to_owned(),
        deciding_signal,
        signals: record.signals.iter().map(signal).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_strictly() {
        let zero = "0".repeat(32);
        assert_eq!(hex_u128(&zero), Some(0));
        assert_eq!(hex_u128(&format!("{:032x}", u128::MAX)), Some(u128::MAX));
        assert_eq!(
            hex_u128(&"AbC0".repeat(8)),
            Some(0xabc0_abc0_abc0_abc0_abc0_abc0_abc0_abc0)
        );
        for bad in [
            format!("+{}", "0".repeat(31)),
            format!("-{}", "0".repeat(31)),
            format!(" {}", "0".repeat(31)),
            "0".repeat(31),
            "0".repeat(33),
            format!("0x{}", "0".repeat(30)),
            "g".repeat(32),
        ] {
            assert_eq!(hex_u128(&bad), None, "{bad:?}");
        }
        assert_eq!(decimal_u64("1"), Some(1));
        assert_eq!(decimal_u64("0"), Some(0));
        assert_eq!(decimal_u64("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "+1",
            "-1",
            " 1",
            "1 ",
            "01",
            "",
            "1e3",
            "18446744073709551616",
            "١",
        ] {
            assert_eq!(decimal_u64(bad), None, "{bad:?}");
        }
    }
}
