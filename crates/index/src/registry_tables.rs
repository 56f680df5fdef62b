//! The opt-out registry's tables (a database of its own beside the index).

use provindex_store::{CodecError, ColumnFamilySpec, KeyCodec, ValueCodec, define_schema};

use crate::keys::ID_LEN;
use crate::registry::{
    AuditRecord, ClaimRecord, ComplaintRecord, MandateRecord, OptOutEntry, RegistrationRecord,
    Scope, ScopeKind,
};

define_schema!(
    /// scope kind (1) ‖ scope ‖ id (8) → the entry: every entry of one scope is
    /// adjacent.
    OptOuts,
    OptOutKey,
    OptOutEntry,
    "optouts"
);
define_schema!(
    /// id (8) → the entry's key in [`OptOuts`].
    OptOutIds,
    EntryId,
    OptOutKey,
    "optout_ids"
);
define_schema!(
    /// sequence number (8) → one audit record (JSON). Append-only.
    Audit,
    AuditSeq,
    AuditRecord,
    "audit"
);

define_schema!(
    /// complaint id (8) → the complaint (protobuf), rewritten at each step.
    Complaints,
    ComplaintId,
    ComplaintRecord,
    "complaints"
);

define_schema!(
    /// claim id (8) → a claim for payment (protobuf).
    Claims,
    ClaimId,
    ClaimRecord,
    "claims"
);
define_schema!(
    /// mandate id (8) → a CMO's mandate from a member (protobuf).
    Mandates,
    ClaimId,
    MandateRecord,
    "mandates"
);

pub(crate) const REGISTRY_TABLES: [ColumnFamilySpec; 6] = [
    ColumnFamilySpec {
        name: "optouts",
        point_lookups: false,
    },
    ColumnFamilySpec {
        name: "optout_ids",
        point_lookups: true,
    },
    ColumnFamilySpec {
        name: "audit",
        point_lookups: false,
    },
    ColumnFamilySpec {
        name: "complaints",
        point_lookups: true,
    },
    ColumnFamilySpec {
        name: "claims",
        point_lookups: false,
    },
    ColumnFamilySpec {
        name: "mandates",
        point_lookups: false,
    },
];

/// An entry's key: its scope, then its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutKey {
    pub scope: Scope,
    pub id: u64,
}

/// An opt-out entry's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryId(pub u64);

/// A complaint's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ComplaintId(pub u64);

/// A claim's or mandate's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClaimId(pub u64);

/// An audit record's sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AuditSeq(pub u64);

fn u64_from(bytes: &[u8], what: &str) -> Result<u64, CodecError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| CodecError::length(what, bytes.len(), 8))
}

fn encode_entry_key(key: &OptOutKey) -> Vec<u8> {
    key.scope.entry_key(key.id)
}

fn decode_entry_key(bytes: &[u8]) -> Result<OptOutKey, CodecError> {
    let (&tag, rest) = bytes
        .split_first()
        .ok_or_else(|| CodecError::new("empty entry key"))?;
    let kind = ScopeKind::from_tag(tag)
        .ok_or_else(|| CodecError::new(format!("unknown scope tag {tag}")))?;
    let id_at = rest
        .len()
        .checked_sub(8)
        .ok_or_else(|| CodecError::new(format!("entry key of {} bytes", bytes.len())))?;
    let (scope_bytes, id) = rest.split_at(id_at);
    let id = u64_from(id, "entry id")?;
    let scope = match kind {
        ScopeKind::SourceBlock | ScopeKind::Erasure => {
            let text = scope_bytes
                .strip_suffix(&[0])
                .filter(|text| !text.contains(&0))
                .ok_or_else(|| CodecError::new("scope text is not NUL-terminated"))?;
            let text = std::str::from_utf8(text)
                .map_err(|e| CodecError::new(format!("scope text: {e}")))?;
            Scope::from_parts(kind.as_str(), text)
                .ok_or_else(|| CodecError::new(format!("bad {} scope {text:?}", kind.as_str())))?
        }
        ScopeKind::Domain | ScopeKind::UrlPrefix => {
            let text = scope_bytes
                .strip_suffix(&[0])
                .filter(|text| !text.contains(&0))
                .ok_or_else(|| CodecError::new("scope text is not NUL-terminated"))?;
            let text = std::str::from_utf8(text)
                .map_err(|e| CodecError::new(format!("scope text: {e}")))?
                .to_owned();
            if kind == ScopeKind::Domain {
                Scope::Domain(text)
            } else {
                Scope::UrlPrefix(text)
            }
        }
        ScopeKind::Content | ScopeKind::Work => {
            let id = crate::keys::decode_id(scope_bytes)
                .ok_or_else(|| CodecError::length("scope id", scope_bytes.len(), ID_LEN))?;
            if kind == ScopeKind::Content {
                Scope::Content(id)
            } else {
                Scope::Work(id)
            }
        }
    };
    Ok(OptOutKey { scope, id })
}

impl KeyCodec<OptOuts> for OptOutKey {
    fn encode_key(&self) -> Vec<u8> {
        encode_entry_key(self)
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        decode_entry_key(bytes)
    }
}

impl ValueCodec<OptOutIds> for OptOutKey {
    fn encode_value(&self) -> Vec<u8> {
        encode_entry_key(self)
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        decode_entry_key(bytes)
    }
}

impl ValueCodec<OptOuts> for OptOutEntry {
    fn encode_value(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(&self.to_record())
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        let record: RegistrationRecord =
            prost::Message::decode(bytes).map_err(|e| CodecError::new(e.to_string()))?;
        OptOutEntry::from_record(record).map_err(CodecError::new)
    }
}

impl KeyCodec<OptOutIds> for EntryId {
    fn encode_key(&self) -> Vec<u8> {
        self.0.to_be_bytes().to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        u64_from(bytes, "entry id").map(EntryId)
    }
}

impl KeyCodec<Complaints> for ComplaintId {
    fn encode_key(&self) -> Vec<u8> {
        self.0.to_be_bytes().to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        u64_from(bytes, "complaint id").map(ComplaintId)
    }
}

impl ValueCodec<Complaints> for ComplaintRecord {
    fn encode_value(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        prost::Message::decode(bytes).map_err(|e| CodecError::new(e.to_string()))
    }
}

macro_rules! id_and_protobuf_codecs {
    ($schema:ty, $value:ty) => {
        impl KeyCodec<$schema> for ClaimId {
            fn encode_key(&self) -> Vec<u8> {
                self.0.to_be_bytes().to_vec()
            }
            fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
                u64_from(bytes, "id").map(ClaimId)
            }
        }

        impl ValueCodec<$schema> for $value {
            fn encode_value(&self) -> Vec<u8> {
                prost::Message::encode_to_vec(self)
            }
            fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
                prost::Message::decode(bytes).map_err(|e| CodecError::new(e.to_string()))
            }
        }
    };
}
id_and_protobuf_codecs!(Claims, ClaimRecord);
id_and_protobuf_codecs!(Mandates, MandateRecord);

impl KeyCodec<Audit> for AuditSeq {
    fn encode_key(&self) -> Vec<u8> {
        self.0.to_be_bytes().to_vec()
    }
    fn decode_key(bytes: &[u8]) -> Result<Self, CodecError> {
        u64_from(bytes, "sequence number").map(AuditSeq)
    }
}

impl ValueCodec<Audit> for AuditRecord {
    fn encode_value(&self) -> Vec<u8> {
        // Plain data with string keys: serializing cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        serde_json::from_slice(bytes).map_err(|e| CodecError::new(e.to_string()))
    }
}

#[cfg(test)]
mod strategies {
    use proptest::prelude::*;

    use crate::registry::{
        Actor, AuditRecord, CaptureKey, ClaimRecord, ComplaintRecord, ComplaintStep, MandateRecord,
        OptOutEntry, Scope,
    };

    pub fn scope() -> impl Strategy<Value = Scope> {
        prop_oneof![
            "[a-z0-9.-]{1,20}".prop_map(Scope::Domain),
            "[a-z0-9,)/?=&.-]{1,30}".prop_map(Scope::UrlPrefix),
            any::<u128>().prop_map(Scope::Content),
            any::<u128>().prop_map(Scope::Work),
            "[a-z0-9.-]{1,20}".prop_map(Scope::BlockedDomain),
            "[a-z0-9.-]{1,20}".prop_map(Scope::BlockedHost),
            "[a-z0-9:/._-]{1,40}".prop_map(Scope::BlockedInput),
            any::<u128>().prop_map(Scope::ErasedContent),
            any::<[u8; 32]>().prop_map(Scope::ErasedPii),
        ]
    }

    pub fn entry() -> impl Strategy<Value = OptOutEntry> {
        (
            scope(),
            any::<u64>(),
            "\\PC{0,16}",
            proptest::collection::vec(any::<u32>(), 0..4),
            any::<i64>(),
            proptest::option::of(any::<i64>()),
        )
            .prop_map(
                |(scope, id, rightholder, work_signature, effective_from, revoked_at)| {
                    OptOutEntry {
                        id,
                        rightholder,
                        scope,
                        submitted: String::new(),
                        work_signature,
                        sketch_spec: String::new(),
                        work_token_count: 0,
                        effective_from,
                        evidence: "e".into(),
                        created_at: 1,
                        created_by: "admin".into(),
                        revoked_at,
                        revoked_by: String::new(),
                        revocation_reason: String::new(),
                    }
                },
            )
    }

    pub fn complaint() -> impl Strategy<Value = ComplaintRecord> {
        (
            any::<u64>(),
            "[a-z_]{1,20}",
            "\\PC{0,40}",
            proptest::collection::vec("[0-9a-f]{32}", 0..3),
            any::<i64>(),
            proptest::option::of(any::<u64>()),
            proptest::collection::vec(any::<u32>(), 0..4),
            proptest::collection::vec((any::<i64>(), "[a-z_]{1,12}"), 0..3),
        )
            .prop_map(
                |(id, kind, target, content_ids, filed_at, entry, signature, steps)| {
                    ComplaintRecord {
                        id,
                        kind,
                        target_kind: "url".into(),
                        target,
                        content_ids,
                        complainant: "ann".into(),
                        complainant_role: "reader".into(),
                        rightholder: String::new(),
                        description: "d".into(),
                        state: "received".into(),
                        filed_at,
                        due_at: filed_at / 2,
                        decided_at: entry.map(|e| e as i64),
                        reviewer: String::new(),
                        decision_note: String::new(),
                        registry_entry_id: entry,
                        remedy: String::new(),
                        work_signature: signature,
                        sketch_spec: String::new(),
                        work_token_count: 0,
                        work_content_id: String::new(),
                        history: steps
                            .into_iter()
                            .map(|(at, state)| ComplaintStep {
                                at,
                                actor: "ops".into(),
                                state,
                                note: String::new(),
                            })
                            .collect(),
                    }
                },
            )
    }

    pub fn claim() -> impl Strategy<Value = ClaimRecord> {
        (
            any::<u64>(),
            "\\PC{0,16}",
            "[a-z_]{1,12}",
            "\\PC{0,30}",
            proptest::collection::vec(("[a-z,)/]{1,20}", "[a-z.]{0,12}"), 0..3),
            proptest::option::of(any::<i64>()),
        )
            .prop_map(
                |(id, rightholder, scope_kind, scope_value, captures, revoked_at)| ClaimRecord {
                    id,
                    rightholder,
                    claimant: "cmo".into(),
                    scope_kind,
                    scope_value,
                    captures: captures
                        .into_iter()
                        .map(|(surt, registered_domain)| CaptureKey {
                            surt,
                            registered_domain,
                        })
                        .collect(),
                    evidence: "mandate".into(),
                    created_at: 5,
                    created_by: "ops".into(),
                    revoked_at,
                    ..ClaimRecord::default()
                },
            )
    }

    pub fn mandate() -> impl Strategy<Value = MandateRecord> {
        (
            any::<u64>(),
            "\\PC{0,16}",
            "\\PC{0,16}",
            proptest::option::of(any::<i64>()),
        )
            .prop_map(|(id, cmo, member, revoked_at)| MandateRecord {
                id,
                cmo,
                member,
                evidence: "signed".into(),
                created_at: 1,
                created_by: "ops".into(),
                revoked_at,
            })
    }

    pub fn audit() -> impl Strategy<Value = AuditRecord> {
        (
            any::<u64>(),
            any::<i64>(),
            "\\PC{0,12}",
            proptest::option::of(any::<u64>()),
        )
            .prop_map(|(seq, at, message, entry_id)| AuditRecord {
                seq,
                at,
                actor: Actor {
                    name: "alice".into(),
                    role: "rightholder".into(),
                },
                action: "register".into(),
                entry_id,
                request: serde_json::json!({"scope": "domain"}),
                result: "ok".into(),
                message,
            })
    }
}

#[cfg(test)]
use proptest::prelude::*;

provindex_store::test_schema_codecs!(
    optouts_codecs,
    OptOuts,
    (strategies::scope(), any::<u64>()).prop_map(|(scope, id)| OptOutKey { scope, id }),
    strategies::entry()
);
provindex_store::test_schema_codecs!(
    optout_ids_codecs,
    OptOutIds,
    any::<u64>().prop_map(EntryId),
    (strategies::scope(), any::<u64>()).prop_map(|(scope, id)| OptOutKey { scope, id })
);
provindex_store::test_schema_codecs!(
    audit_codecs,
    Audit,
    any::<u64>().prop_map(AuditSeq),
    strategies::audit()
);
provindex_store::test_schema_codecs!(
    complaints_codecs,
    Complaints,
    any::<u64>().prop_map(ComplaintId),
    strategies::complaint()
);
provindex_store::test_schema_codecs!(
    claims_codecs,
    Claims,
    any::<u64>().prop_map(ClaimId),
    strategies::claim()
);
provindex_store::test_schema_codecs!(
    mandates_codecs,
    Mandates,
    any::<u64>().prop_map(ClaimId),
    strategies::mandate()
);
