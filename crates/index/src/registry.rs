//! The opt-out registry: a small, writable RocksDB database next to the
//! (read-only) published index, holding rightholders' opt-out registrations
//! and an append-only audit log of every write.
//!
//! * Every write is one atomic `WriteBatch` (entry, id index, audit record)
//!   written with `sync = true`: an acknowledged registration survives a crash
//!   or `kill -9`, and a failed one leaves nothing behind.
//! * All entries are also held in memory, indexed by scope, so that
//!   [`Registry::entries_covering`] answers without touching the disk and
//!   registrations apply to lookups on an existing index at once, without a
//!   rebuild.
//!
//! Column families (keys big-endian, as in [`crate::keys`]):
//!
//! | column family | key | value |
//! |---|---|---|
//! | `optouts` | scope kind (1) ‖ scope ‖ id (8) | [`RegistrationRecord`] (protobuf) |
//! | `optout_ids` | id (8) | the entry's `optouts` key |
//! | `audit` | sequence number (8) | [`AuditRecord`] (JSON) |
//!
//! Scope encodings in `optouts` keys: domain `0x01 ‖ registered domain ‖ 0x00`,
//! URL prefix `0x02 ‖ SURT prefix ‖ 0x00`, content `0x03 ‖ content_id (16)`,
//! work `0x04 ‖ content_id (16)` of the normalized submitted text; source
//! blocks `0x05 ‖ (domain:|host:|input:)value ‖ 0x00` and erasures
//! `0x06 ‖ (content:|pii_hmac:)hex ‖ 0x00` (issue 19: removals, which take
//! contents out of exports without being opt-outs, see
//! [`Registry::removals_covering`]).
//!
//! This crate does no URL parsing or text normalization: callers hand over
//! canonical scopes (registered domain, SURT prefix, content ids, MinHash
//! signatures) computed with `provindex-signals` and `provindex-sketch`.
//! Whether a SURT key lies inside a URL-prefix entry is decided by
//! [`provindex_signals::url_prefix_covers`], the rule that also bounds
//! rightholders' grants.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use prost::Message;
use provindex_store::{Durability, OpenMode, SchemaBatch, Store};
use serde::{Deserialize, Serialize};

use crate::IndexError;
use crate::keys::ID_LEN;
use crate::registry_tables::{
    Audit, AuditSeq, ClaimId, Claims, ComplaintId, Complaints, EntryId, Mandates, OptOutIds,
    OptOutKey, OptOuts, REGISTRY_TABLES,
};

/// The tables of registries written before complaints and claims (issue
/// 19): the first of [`REGISTRY_TABLES`].
const LEGACY_TABLES: usize = 3;

/// Name of the entries' table, for errors.
const OPTOUTS: &str = "optouts";

/// Default near-duplicate threshold for work entries (estimated Jaccard),
/// the default `SketchSpec` threshold.
pub const DEFAULT_WORK_THRESHOLD: f64 = 0.8;

/// What an opt-out registration covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Every capture whose registered domain is this one (e.g. `data.gov.uk`).
    Domain(String),
    /// Every capture inside this SURT prefix (e.g. `uk,gov,data)/dataset`)
    /// up to path-segment boundaries: `/dataset`, `/dataset/…`,
    /// `/dataset?…`, not `/datasets` ([`provindex_signals::url_prefix_covers`]).
    UrlPrefix(String),
    /// One content (normalized text) by content_id.
    Content(u128),
    /// A submitted work: its normalized text's content_id (exact matches);
    /// near-duplicates are matched by the entry's MinHash signature.
    Work(u128),
    /// `source_block`: every content with a capture whose registered domain
    /// is this one (lowercase) is left out of exports
    /// ([`provindex_policy::removal`]; not an opt-out).
    BlockedDomain(String),
    /// `source_block` of a host (lowercase, as captures store it).
    BlockedHost(String),
    /// `source_block` of an input object (a capture's location URI as stored).
    BlockedInput(String),
    /// `erasure` of one content.
    ErasedContent(u128),
    /// `erasure` of every content holding the personal identifier whose
    /// keyed hash (HMAC under the build's PII key) this is.
    ErasedPii([u8; 32]),
}

/// The kind of a [`Scope`], as written in the API and audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    Domain,
    UrlPrefix,
    Content,
    Work,
    SourceBlock,
    Erasure,
}

impl ScopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Domain => "domain",
            ScopeKind::UrlPrefix => "url_prefix",
            ScopeKind::Content => "content",
            ScopeKind::Work => "work",
            ScopeKind::SourceBlock => provindex_policy::removal::SOURCE_BLOCK,
            ScopeKind::Erasure => provindex_policy::removal::ERASURE,
        }
    }

    /// Whether entries of this kind are removals (source blocks, erasures),
    /// not rightholders' opt-outs.
    pub fn is_removal(self) -> bool {
        matches!(self, ScopeKind::SourceBlock | ScopeKind::Erasure)
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "domain" => ScopeKind::Domain,
            "url_prefix" => ScopeKind::UrlPrefix,
            "content" => ScopeKind::Content,
            "work" => ScopeKind::Work,
            "source_block" => ScopeKind::SourceBlock,
            "erasure" => ScopeKind::Erasure,
            _ => return None,
        })
    }

    pub(crate) fn from_tag(tag: u8) -> Option<Self> {
        Some(match tag {
            1 => ScopeKind::Domain,
            2 => ScopeKind::UrlPrefix,
            3 => ScopeKind::Content,
            4 => ScopeKind::Work,
            5 => ScopeKind::SourceBlock,
            6 => ScopeKind::Erasure,
            _ => return None,
        })
    }

    fn tag(self) -> u8 {
        match self {
            ScopeKind::Domain => 1,
            ScopeKind::UrlPrefix => 2,
            ScopeKind::Content => 3,
            ScopeKind::Work => 4,
            ScopeKind::SourceBlock => 5,
            ScopeKind::Erasure => 6,
        }
    }
}

impl Scope {
    pub fn kind(&self) -> ScopeKind {
        match self {
            Scope::Domain(_) => ScopeKind::Domain,
            Scope::UrlPrefix(_) => ScopeKind::UrlPrefix,
            Scope::Content(_) => ScopeKind::Content,
            Scope::Work(_) => ScopeKind::Work,
            Scope::BlockedDomain(_) | Scope::BlockedHost(_) | Scope::BlockedInput(_) => {
                ScopeKind::SourceBlock
            }
            Scope::ErasedContent(_) | Scope::ErasedPii(_) => ScopeKind::Erasure,
        }
    }

    /// The scope as text: the domain, the SURT prefix, or the content id in
    /// hex; removals as `domain:`, `host:`, `input:` (source blocks),
    /// `content:`, `pii_hmac:` (erasures) and the value.
    pub fn value(&self) -> String {
        match self {
            Scope::Domain(text) | Scope::UrlPrefix(text) => text.clone(),
            Scope::Content(id) | Scope::Work(id) => format!("{id:032x}"),
            Scope::BlockedDomain(text) => format!("domain:{text}"),
            Scope::BlockedHost(text) => format!("host:{text}"),
            Scope::BlockedInput(text) => format!("input:{text}"),
            Scope::ErasedContent(id) => format!("content:{id:032x}"),
            Scope::ErasedPii(hmac) => {
                let hex: String = hmac.iter().map(|b| format!("{b:02x}")).collect();
                format!("pii_hmac:{hex}")
            }
        }
    }

    pub(crate) fn from_parts(kind: &str, value: &str) -> Option<Self> {
        Some(match ScopeKind::parse(kind)? {
            ScopeKind::Domain => Scope::Domain(value.to_owned()),
            ScopeKind::UrlPrefix => Scope::UrlPrefix(value.to_owned()),
            ScopeKind::Content => Scope::Content(parse_hex_id(value)?),
            ScopeKind::Work => Scope::Work(parse_hex_id(value)?),
            ScopeKind::SourceBlock => match value.split_once(':')? {
                ("domain", text) => Scope::BlockedDomain(text.to_owned()),
                ("host", text) => Scope::BlockedHost(text.to_owned()),
                ("input", text) => Scope::BlockedInput(text.to_owned()),
                _ => return None,
            },
            ScopeKind::Erasure => match value.split_once(':')? {
                ("content", id) => Scope::ErasedContent(parse_hex_id(id)?),
                ("pii_hmac", hex) => Scope::ErasedPii(parse_hmac(hex)?),
                _ => return None,
            },
        })
    }

    /// Key prefix in [`OPTOUTS`] shared by every entry of this scope.
    pub fn key_prefix(&self) -> Vec<u8> {
        let mut key = vec![self.kind().tag()];
        match self {
            Scope::Domain(text) | Scope::UrlPrefix(text) => {
                key.extend_from_slice(text.as_bytes());
                key.push(0);
            }
            Scope::Content(id) | Scope::Work(id) => key.extend_from_slice(&id.to_be_bytes()),
            // Removals are few: their text form, NUL-terminated.
            _ => {
                key.extend_from_slice(self.value().as_bytes());
                key.push(0);
            }
        }
        key
    }

    /// The [`OPTOUTS`] key of entry `id` with this scope.
    pub fn entry_key(&self, id: u64) -> Vec<u8> {
        let mut key = self.key_prefix();
        key.extend_from_slice(&id.to_be_bytes());
        key
    }
}

fn parse_hex_id(text: &str) -> Option<u128> {
    // Digit by digit: `from_str_radix` alone takes a leading `+`.
    if text.len() != 2 * ID_LEN || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}

/// A PII keyed hash: exactly 64 lowercase or uppercase hex digits.
pub fn parse_hmac(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Stored value of an [`OPTOUTS`] entry. Protobuf, so fields can be added.
#[derive(Clone, PartialEq, Message)]
pub struct RegistrationRecord {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub rightholder: String,
    /// domain | url_prefix | content | work
    #[prost(string, tag = "3")]
    pub scope_kind: String,
    /// Registered domain, SURT prefix or content id (hex).
    #[prost(string, tag = "4")]
    pub scope_value: String,
    /// What the client submitted for the scope (URL as given, domain as given;
    /// empty for work texts, which are not stored).
    #[prost(string, tag = "5")]
    pub submitted: String,
    /// Work entries: MinHash signature of the normalized text.
    #[prost(uint32, repeated, tag = "6")]
    pub work_signature: Vec<u32>,
    /// Work entries: the `SketchSpec` the signature was made with.
    #[prost(string, tag = "7")]
    pub sketch_spec: String,
    #[prost(int64, tag = "8")]
    pub effective_from: i64,
    #[prost(string, tag = "9")]
    pub evidence: String,
    #[prost(int64, tag = "10")]
    pub created_at: i64,
    #[prost(string, tag = "11")]
    pub created_by: String,
    #[prost(int64, optional, tag = "12")]
    pub revoked_at: Option<i64>,
    #[prost(string, tag = "13")]
    pub revoked_by: String,
    #[prost(string, tag = "14")]
    pub revocation_reason: String,
    /// Work entries: whitespace tokens of the normalized text.
    #[prost(uint64, tag = "15")]
    pub work_token_count: u64,
}

/// One complaint (issue 19) in the registry's `complaints` table, rewritten
/// at each step (every step is also in the audit log). Protobuf, so fields
/// can be added. The rules (states, due dates, remedies) are
/// [`provindex_policy::complaint`]'s.
#[derive(Clone, PartialEq, Message)]
pub struct ComplaintRecord {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// copyright | unlawful_content | personal_information
    #[prost(string, tag = "2")]
    pub kind: String,
    /// content_id | url | work_text
    #[prost(string, tag = "3")]
    pub target_kind: String,
    /// The content id or URL as given; empty for work texts (not stored).
    #[prost(string, tag = "4")]
    pub target: String,
    /// The indexed contents the target resolved to when filed (hex).
    #[prost(string, repeated, tag = "5")]
    pub content_ids: Vec<String>,
    /// The principal that filed it.
    #[prost(string, tag = "6")]
    pub complainant: String,
    #[prost(string, tag = "7")]
    pub complainant_role: String,
    /// Copyright: the rightholder an upheld complaint's opt-out is for.
    #[prost(string, tag = "8")]
    pub rightholder: String,
    #[prost(string, tag = "9")]
    pub description: String,
    /// received | under_review | upheld | rejected
    #[prost(string, tag = "10")]
    pub state: String,
    #[prost(int64, tag = "11")]
    pub filed_at: i64,
    /// When a decision is due (unix seconds).
    #[prost(int64, tag = "12")]
    pub due_at: i64,
    #[prost(int64, optional, tag = "13")]
    pub decided_at: Option<i64>,
    #[prost(string, tag = "14")]
    pub reviewer: String,
    #[prost(string, tag = "15")]
    pub decision_note: String,
    /// The registry entry upholding it created (or found in place).
    #[prost(uint64, optional, tag = "16")]
    pub registry_entry_id: Option<u64>,
    /// The remedy applied (policy::complaint::Remedy::as_str).
    #[prost(string, tag = "17")]
    pub remedy: String,
    /// Work texts: MinHash signature, sketch spec, tokens and content id of
    /// the normalized text, for the work opt-out upholding creates.
    #[prost(uint32, repeated, tag = "18")]
    pub work_signature: Vec<u32>,
    #[prost(string, tag = "19")]
    pub sketch_spec: String,
    #[prost(uint64, tag = "20")]
    pub work_token_count: u64,
    #[prost(string, tag = "21")]
    pub work_content_id: String,
    #[prost(message, repeated, tag = "22")]
    pub history: Vec<ComplaintStep>,
}

/// A claim for payment (issue 19): content left in the training data whose
/// compensation goes to `rightholder`. Protobuf.
#[derive(Clone, PartialEq, Message)]
pub struct ClaimRecord {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Who is paid: the claiming rightholder, or the CMO's member.
    #[prost(string, tag = "2")]
    pub rightholder: String,
    /// The principal that claimed (the rightholder itself, or the CMO).
    #[prost(string, tag = "3")]
    pub claimant: String,
    /// domain | url_prefix | content | work
    #[prost(string, tag = "4")]
    pub scope_kind: String,
    /// Registered domain, SURT prefix, or content id (hex).
    #[prost(string, tag = "5")]
    pub scope_value: String,
    /// Content and work claims: where the content was captured when claimed
    /// (for the overlap rule against domain and URL-prefix claims).
    #[prost(message, repeated, tag = "6")]
    pub captures: Vec<CaptureKey>,
    #[prost(string, tag = "7")]
    pub evidence: String,
    #[prost(int64, tag = "8")]
    pub created_at: i64,
    #[prost(string, tag = "9")]
    pub created_by: String,
    #[prost(int64, optional, tag = "10")]
    pub revoked_at: Option<i64>,
    /// Who revoked it, and why (empty while active).
    #[prost(string, tag = "11")]
    pub revoked_by: String,
    #[prost(string, tag = "12")]
    pub revocation_reason: String,
}

/// Where a content was captured: SURT key and registered domain.
#[derive(Clone, PartialEq, Message)]
pub struct CaptureKey {
    #[prost(string, tag = "1")]
    pub surt: String,
    #[prost(string, tag = "2")]
    pub registered_domain: String,
}

/// A collective management organisation's mandate from one member, as an
/// admin recorded it. Protobuf.
#[derive(Clone, PartialEq, Message)]
pub struct MandateRecord {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub cmo: String,
    #[prost(string, tag = "3")]
    pub member: String,
    #[prost(string, tag = "4")]
    pub evidence: String,
    #[prost(int64, tag = "5")]
    pub created_at: i64,
    #[prost(string, tag = "6")]
    pub created_by: String,
    #[prost(int64, optional, tag = "7")]
    pub revoked_at: Option<i64>,
}

impl ClaimRecord {
    /// The claim as [`provindex_policy::claims`] sees it; `None` for a
    /// scope it cannot read.
    pub fn to_policy(&self) -> Option<provindex_policy::claims::ClaimFacts> {
        use provindex_policy::claims::ClaimScope;
        let scope = match self.scope_kind.as_str() {
            "domain" => ClaimScope::Domain(self.scope_value.clone()),
            "url_prefix" => ClaimScope::UrlPrefix(self.scope_value.clone()),
            "content" => ClaimScope::Content(parse_hex_id(&self.scope_value)?),
            "work" => ClaimScope::Work(parse_hex_id(&self.scope_value)?),
            _ => return None,
        };
        Some(provindex_policy::claims::ClaimFacts {
            id: self.id,
            rightholder: self.rightholder.clone(),
            scope,
            captures: self
                .captures
                .iter()
                .map(|c| (c.surt.clone(), c.registered_domain.clone()))
                .collect(),
        })
    }
}

/// One step of a complaint: the state it entered, when, by whom, why.
#[derive(Clone, PartialEq, Message)]
pub struct ComplaintStep {
    #[prost(int64, tag = "1")]
    pub at: i64,
    #[prost(string, tag = "2")]
    pub actor: String,
    #[prost(string, tag = "3")]
    pub state: String,
    #[prost(string, tag = "4")]
    pub note: String,
}

/// One opt-out registration.
#[derive(Debug, Clone, PartialEq)]
pub struct OptOutEntry {
    pub id: u64,
    pub rightholder: String,
    pub scope: Scope,
    /// The scope as the client submitted it (URL, domain); empty for works.
    pub submitted: String,
    /// Work entries: MinHash signature of the normalized text (empty otherwise).
    pub work_signature: Vec<u32>,
    /// Work entries: the sketch spec of `work_signature`, e.g.
    /// `norm=1;shingle=5;k=128;t=0.8;b=9;r=13;seed=1`.
    pub sketch_spec: String,
    pub work_token_count: u64,
    /// Unix seconds from which the opt-out applies.
    pub effective_from: i64,
    pub evidence: String,
    pub created_at: i64,
    /// Principal that registered it.
    pub created_by: String,
    pub revoked_at: Option<i64>,
    pub revoked_by: String,
    pub revocation_reason: String,
}

impl OptOutEntry {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }

    /// Active and already effective at `time` (unix seconds).
    pub fn in_effect_at(&self, time: i64) -> bool {
        self.is_active() && self.effective_from <= time
    }

    pub(crate) fn to_record(&self) -> RegistrationRecord {
        RegistrationRecord {
            id: self.id,
            rightholder: self.rightholder.clone(),
            scope_kind: self.scope.kind().as_str().to_owned(),
            scope_value: self.scope.value(),
            submitted: self.submitted.clone(),
            work_signature: self.work_signature.clone(),
            sketch_spec: self.sketch_spec.clone(),
            effective_from: self.effective_from,
            evidence: self.evidence.clone(),
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            revoked_at: self.revoked_at,
            revoked_by: self.revoked_by.clone(),
            revocation_reason: self.revocation_reason.clone(),
            work_token_count: self.work_token_count,
        }
    }

    /// A `source_block` or `erasure` entry as a fact for
    /// [`provindex_policy::removal`].
    pub fn to_removal(&self) -> provindex_policy::removal::RemovalCover {
        provindex_policy::removal::RemovalCover {
            entry_id: self.id,
            scope_kind: self.scope.kind().as_str().to_owned(),
            scope_value: self.scope.value(),
            effective_from: self.effective_from,
            revoked_at: self.revoked_at,
        }
    }

    pub(crate) fn from_record(record: RegistrationRecord) -> Result<Self, String> {
        let scope =
            Scope::from_parts(&record.scope_kind, &record.scope_value).ok_or_else(|| {
                format!(
                    "entry {}: bad scope {:?} {:?}",
                    record.id, record.scope_kind, record.scope_value
                )
            })?;
        Ok(Self {
            id: record.id,
            rightholder: record.rightholder,
            scope,
            submitted: record.submitted,
            work_signature: record.work_signature,
            sketch_spec: record.sketch_spec,
            work_token_count: record.work_token_count,
            effective_from: record.effective_from,
            evidence: record.evidence,
            created_at: record.created_at,
            created_by: record.created_by,
            revoked_at: record.revoked_at,
            revoked_by: record.revoked_by,
            revocation_reason: record.revocation_reason,
        })
    }
}

/// A registration to add (validated and canonicalized by the caller).
#[derive(Debug, Clone)]
pub struct NewRegistration {
    pub rightholder: String,
    pub scope: Scope,
    pub submitted: String,
    pub work_signature: Vec<u32>,
    pub sketch_spec: String,
    pub work_token_count: u64,
    pub effective_from: i64,
    pub evidence: String,
}

/// Who did something, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The principal's name from the auth configuration.
    pub name: String,
    /// admin | rightholder | reader
    pub role: String,
}

/// One audit log record: who did what, when, with which result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Sequence number (the key); filled in when read back.
    #[serde(default)]
    pub seq: u64,
    /// Unix seconds.
    pub at: i64,
    pub actor: Actor,
    /// register | revoke
    pub action: String,
    /// The entry written or addressed, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<u64>,
    /// The request as understood (scope, rightholder, effective_from, evidence, reason).
    pub request: serde_json::Value,
    /// `ok`, or the gRPC status code name of the rejection (e.g. `ALREADY_EXISTS`).
    pub result: String,
    /// Human-readable detail of a rejection; empty on success.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Why a registry write was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("an identical active opt-out already exists: id {existing}")]
    Duplicate { existing: u64 },
    #[error("no opt-out with id {0}")]
    NotFound(u64),
    #[error("opt-out {id} was already revoked at {revoked_at}")]
    AlreadyRevoked { id: u64, revoked_at: i64 },
    #[error("no complaint with id {0}")]
    ComplaintNotFound(u64),
    #[error("no claim with id {0}")]
    ClaimNotFound(u64),
    /// The caller may not do this (PERMISSION_DENIED).
    #[error("{0}")]
    Denied(String),
    /// A step the complaint's state does not allow (FAILED_PRECONDITION).
    #[error("{0}")]
    Precondition(String),
    /// A claim overlapping another rightholder's (ALREADY_EXISTS).
    #[error("{0}")]
    ClaimOverlap(String),
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// How an entry covers a capture or content.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CoverReason {
    /// The capture's registered domain is the entry's domain.
    Domain,
    /// The capture's SURT key lies inside the entry's SURT prefix.
    UrlPrefix,
    /// The content id is the entry's content id.
    Content,
    /// The content id is the work's normalized-text content id.
    WorkExact,
    /// The content's MinHash signature is within the threshold of the work's.
    WorkNear { jaccard: f64 },
}

impl CoverReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            CoverReason::Domain => "domain",
            CoverReason::UrlPrefix => "url_prefix",
            CoverReason::Content => "content",
            CoverReason::WorkExact => "work_exact",
            CoverReason::WorkNear { .. } => "work_near_duplicate",
        }
    }
}

/// One entry covering a target, and how.
#[derive(Debug, Clone)]
pub struct Coverage {
    pub entry: Arc<OptOutEntry>,
    pub reason: CoverReason,
}

impl Coverage {
    /// The coverage as a fact for [`provindex_policy::reservation`], which
    /// decides whether it reserves (in force at a time, sketch-spec guard).
    pub fn to_policy(&self) -> provindex_policy::RegistryCover {
        let entry = &self.entry;
        provindex_policy::RegistryCover {
            entry_id: entry.id,
            rightholder: entry.rightholder.clone(),
            scope_kind: entry.scope.kind().as_str().to_owned(),
            scope_value: entry.scope.value(),
            cover: match self.reason {
                CoverReason::Domain => provindex_policy::Cover::Domain,
                CoverReason::UrlPrefix => provindex_policy::Cover::UrlPrefix,
                CoverReason::Content => provindex_policy::Cover::Content,
                CoverReason::WorkExact => provindex_policy::Cover::WorkExact,
                CoverReason::WorkNear { jaccard } => provindex_policy::Cover::WorkNear { jaccard },
            },
            effective_from: entry.effective_from,
            revoked_at: entry.revoked_at,
            sketch_spec: entry.sketch_spec.clone(),
        }
    }
}

/// The registered domain of the host in a SURT key (`uk,gov,data,www2)/x` →
/// `data.gov.uk`); `None` for IP hosts and keys without a host part.
pub fn registered_domain_of_surt(surt: &str) -> Option<String> {
    let host_part = &surt[..surt.find(')')?];
    let host_part = host_part.split(':').next().unwrap_or(host_part);
    let host: Vec<&str> = host_part.split(',').rev().collect();
    provindex_signals::registered_domain(&host.join("."))
}

/// What to check coverage for: any of the fields may be missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct CoverQuery<'a> {
    /// The capture's SURT key (e.g. `uk,gov,data)/dataset/x`).
    pub surt_key: Option<&'a str>,
    /// The capture's registered domain (e.g. `data.gov.uk`).
    pub registered_domain: Option<&'a str>,
    pub content_id: Option<u128>,
    /// The content's MinHash signature (index's spec) for near-duplicate
    /// matching of work entries; compared only to signatures of equal length.
    pub signature: Option<&'a [u32]>,
    /// Estimated Jaccard at or above which a work covers a near-duplicate;
    /// `None` = [`DEFAULT_WORK_THRESHOLD`].
    pub threshold: Option<f64>,
}

/// Where a capture came from, for [`Registry::removals_covering`]: its
/// registered domain, host and input object (location URI); empty = unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct CaptureSource<'a> {
    pub registered_domain: &'a str,
    pub host: &'a str,
    pub input: &'a str,
}

/// Filter for [`Registry::list`].
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub rightholder: Option<String>,
    pub kind: Option<ScopeKind>,
    pub scope: Option<Scope>,
    pub include_revoked: bool,
}

#[derive(Default)]
struct State {
    entries: BTreeMap<u64, Arc<OptOutEntry>>,
    // Active entries only, by scope.
    by_domain: HashMap<String, Vec<u64>>,
    by_prefix: BTreeMap<String, Vec<u64>>,
    by_content: HashMap<u128, Vec<u64>>,
    works: Vec<u64>,
    // Active source blocks and erasures, by their scope.
    removals: HashMap<Scope, Vec<u64>>,
    next_id: u64,
    next_complaint: u64,
    // Claims and mandates, all (active and revoked), by id.
    claims: BTreeMap<u64, ClaimRecord>,
    mandates: BTreeMap<u64, MandateRecord>,
}

impl State {
    fn insert(&mut self, entry: OptOutEntry) {
        let id = entry.id;
        self.next_id = self.next_id.max(id + 1);
        if entry.is_active() {
            match &entry.scope {
                Scope::Domain(domain) => self.by_domain.entry(domain.clone()).or_default().push(id),
                Scope::UrlPrefix(prefix) => {
                    self.by_prefix.entry(prefix.clone()).or_default().push(id)
                }
                Scope::Content(cid) => self.by_content.entry(*cid).or_default().push(id),
                Scope::Work(cid) => {
                    self.by_content.entry(*cid).or_default().push(id);
                    self.works.push(id);
                }
                removal => self.removals.entry(removal.clone()).or_default().push(id),
            }
        }
        self.entries.insert(id, Arc::new(entry));
    }

    fn deactivate(&mut self, entry: &OptOutEntry) {
        fn drop_id<K: Eq + std::hash::Hash>(map: &mut HashMap<K, Vec<u64>>, key: &K, id: u64) {
            if let Some(ids) = map.get_mut(key) {
                ids.retain(|x| *x != id);
                if ids.is_empty() {
                    map.remove(key);
                }
            }
        }
        let id = entry.id;
        match &entry.scope {
            Scope::Domain(domain) => drop_id(&mut self.by_domain, domain, id),
            Scope::UrlPrefix(prefix) => {
                if let Some(ids) = self.by_prefix.get_mut(prefix) {
                    ids.retain(|x| *x != id);
                    if ids.is_empty() {
                        self.by_prefix.remove(prefix);
                    }
                }
            }
            Scope::Content(cid) => drop_id(&mut self.by_content, cid, id),
            Scope::Work(cid) => {
                drop_id(&mut self.by_content, cid, id);
                self.works.retain(|x| *x != id);
            }
            removal => drop_id(&mut self.removals, removal, id),
        }
    }

    fn get(&self, id: u64) -> Option<&Arc<OptOutEntry>> {
        self.entries.get(&id)
    }

    /// The active entry of `rightholder` with exactly `scope`, if any.
    fn active_with_scope(&self, scope: &Scope, rightholder: &str) -> Option<u64> {
        let ids = match scope {
            Scope::Domain(domain) => self.by_domain.get(domain),
            Scope::UrlPrefix(prefix) => self.by_prefix.get(prefix),
            Scope::Content(cid) | Scope::Work(cid) => self.by_content.get(cid),
            removal => self.removals.get(removal),
        }?;
        ids.iter().copied().find(|id| {
            self.get(*id)
                .is_some_and(|e| e.scope == *scope && e.rightholder == rightholder)
        })
    }
}

/// An active erasure by personal identifier and its keyed hash (HMAC of the
/// identifier), as [`Registry::pii_erasures`] lists them.
pub type PiiErasure = (Arc<OptOutEntry>, [u8; 32]);

/// The opt-out registry database. Open it once per process; it is `Sync` and
/// serializes writes internally.
pub struct Registry {
    store: Store,
    path: PathBuf,
    state: RwLock<State>,
    // Serializes writes: id and sequence allocation, duplicate checks, the
    // batch and the in-memory update happen under it.
    writer: Mutex<u64>,
    // Opened read-only from before complaints and claims (issue 19): the
    // `complaints`, `claims` and `mandates` tables do not exist (and hold
    // nothing).
    without_issue_19_tables: bool,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn lock_poisoned<T>(_: T) -> IndexError {
    IndexError::Corrupt {
        cf: OPTOUTS,
        reason: "registry lock poisoned by a panicked writer".into(),
    }
}

impl Registry {
    /// Opens (creating if needed) the registry at `path` for reading and
    /// writing. One process at a time: a second opener fails on RocksDB's lock.
    pub fn open(path: &Path) -> Result<Self, IndexError> {
        let store = Store::open(path, &REGISTRY_TABLES, OpenMode::ReadWrite, 8 << 20)?;
        Self::load(store, path, false)
    }

    /// Opens an existing registry read-only (e.g. to read the audit log while
    /// a server holds it open for writing). Writes fail.
    pub fn open_read_only(path: &Path) -> Result<Self, IndexError> {
        if !path.join("CURRENT").is_file() {
            return Err(IndexError::NotAnIndex {
                path: path.to_path_buf(),
                reason: "no opt-out registry here".into(),
            });
        }
        match Store::open(path, &REGISTRY_TABLES, OpenMode::ReadOnly, 8 << 20) {
            Ok(store) => Self::load(store, path, false),
            // A registry written before complaints and claims lacks their
            // tables, which a read-only open cannot create (a read-write
            // open adds them).
            Err(error) => match Store::open(
                path,
                &REGISTRY_TABLES[..LEGACY_TABLES],
                OpenMode::ReadOnly,
                8 << 20,
            ) {
                Ok(store) => Self::load(store, path, true),
                Err(_) => Err(error.into()),
            },
        }
    }

    fn load(store: Store, path: &Path, legacy: bool) -> Result<Self, IndexError> {
        let mut state = State::default();
        store.for_each::<OptOuts, IndexError>(|_, entry| {
            state.insert(entry);
            Ok(())
        })?;
        let next_seq = {
            let mut iter = store.iter::<Audit>()?;
            iter.seek_to_last();
            let last = iter.key().transpose()?;
            iter.status()?;
            last.map_or(1, |seq| seq.0 + 1)
        };
        if state.next_id == 0 {
            state.next_id = 1;
        }
        if legacy {
            state.next_complaint = 1;
            return Ok(Self {
                store,
                path: path.to_path_buf(),
                state: RwLock::new(state),
                writer: Mutex::new(next_seq),
                without_issue_19_tables: true,
            });
        }
        store.for_each::<Claims, IndexError>(|id, claim| {
            state.claims.insert(id.0, claim);
            Ok(())
        })?;
        store.for_each::<Mandates, IndexError>(|id, mandate| {
            state.mandates.insert(id.0, mandate);
            Ok(())
        })?;
        state.next_complaint = {
            let mut iter = store.iter::<Complaints>()?;
            iter.seek_to_last();
            let last = iter.key().transpose()?;
            iter.status()?;
            last.map_or(1, |id| id.0 + 1)
        };
        Ok(Self {
            store,
            path: path.to_path_buf(),
            state: RwLock::new(state),
            writer: Mutex::new(next_seq),
            without_issue_19_tables: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_synced(&self, batch: SchemaBatch) -> Result<(), IndexError> {
        Ok(self.store.write(batch, Durability::Synced)?)
    }

    fn put_audit(&self, batch: &mut SchemaBatch, seq: u64, record: &AuditRecord) {
        let mut record = record.clone();
        record.seq = seq;
        batch.put::<Audit>(&AuditSeq(seq), &record);
    }

    /// Adds a registration. Refused with [`RegistryError::Duplicate`] when the
    /// same rightholder already has an active entry with the same scope. The
    /// entry, its id index and the audit record are written in one synced
    /// batch: on `Ok` the registration is durable.
    pub fn register(
        &self,
        new: NewRegistration,
        actor: &Actor,
        now: i64,
        request: serde_json::Value,
    ) -> Result<OptOutEntry, RegistryError> {
        let mut next_seq = self.writer.lock().map_err(lock_poisoned)?;
        let id = {
            let state = self.state.read().map_err(lock_poisoned)?;
            if let Some(existing) = state.active_with_scope(&new.scope, &new.rightholder) {
                return Err(RegistryError::Duplicate { existing });
            }
            state.next_id
        };
        let mut batch = SchemaBatch::default();
        let entry = self.put_entry(&mut batch, id, new, actor, now, *next_seq, request);
        self.write_synced(batch)?;
        *next_seq += 1;
        self.state
            .write()
            .map_err(lock_poisoned)?
            .insert(entry.clone());
        Ok(entry)
    }

    /// A new entry `id` with its id index and its `register` audit record
    /// (sequence `seq`) put in `batch`.
    #[allow(clippy::too_many_arguments)]
    fn put_entry(
        &self,
        batch: &mut SchemaBatch,
        id: u64,
        new: NewRegistration,
        actor: &Actor,
        now: i64,
        seq: u64,
        request: serde_json::Value,
    ) -> OptOutEntry {
        let entry = OptOutEntry {
            id,
            rightholder: new.rightholder,
            scope: new.scope,
            submitted: new.submitted,
            work_signature: new.work_signature,
            sketch_spec: new.sketch_spec,
            work_token_count: new.work_token_count,
            effective_from: new.effective_from,
            evidence: new.evidence,
            created_at: now,
            created_by: actor.name.clone(),
            revoked_at: None,
            revoked_by: String::new(),
            revocation_reason: String::new(),
        };
        let key = OptOutKey {
            scope: entry.scope.clone(),
            id,
        };
        batch.put::<OptOuts>(&key, &entry);
        batch.put::<OptOutIds>(&EntryId(id), &key);
        self.put_audit(
            batch,
            seq,
            &AuditRecord {
                seq: 0,
                at: now,
                actor: actor.clone(),
                action: "register".into(),
                entry_id: Some(id),
                request,
                result: "ok".into(),
                message: String::new(),
            },
        );
        entry
    }

    /// Files a complaint: `complaint` as validated and resolved by the caller
    /// (its id is assigned here), written with its `complaint_file` audit
    /// record in one synced batch.
    pub fn file_complaint(
        &self,
        mut complaint: ComplaintRecord,
        actor: &Actor,
        now: i64,
        request: serde_json::Value,
    ) -> Result<ComplaintRecord, RegistryError> {
        let mut next_seq = self.writer.lock().map_err(lock_poisoned)?;
        let id = self.state.read().map_err(lock_poisoned)?.next_complaint;
        complaint.id = id;
        let mut batch = SchemaBatch::default();
        batch.put::<Complaints>(&ComplaintId(id), &complaint);
        self.put_audit(
            &mut batch,
            *next_seq,
            &complaint_audit(&complaint, "complaint_file", actor, now, None, request),
        );
        self.write_synced(batch)?;
        *next_seq += 1;
        self.state.write().map_err(lock_poisoned)?.next_complaint = id + 1;
        Ok(complaint)
    }

    /// Records a CMO's mandate from `member` (refused as a duplicate when an
    /// active one exists), with its audit record, in one synced batch.
    pub fn register_mandate(
        &self,
        cmo: &str,
        member: &str,
        evidence: &str,
        actor: &Actor,
        now: i64,
    ) -> Result<MandateRecord, RegistryError> {
        let mut next_seq = self.writer.lock().map_err(lock_poisoned)?;
        let id = {
            let state = self.state.read().map_err(lock_poisoned)?;
            if let Some(existing) = state
                .mandates
                .values()
                .find(|m| m.revoked_at.is_none() && m.cmo == cmo && m.member == member)
            {
                return Err(RegistryError::Duplicate {
                    existing: existing.id,
                });
            }
            state.mandates.keys().next_back().map_or(1, |last| last + 1)
        };
        let mandate = MandateRecord {
            id,
            cmo: cmo.to_owned(),
            member: member.to_owned(),
            evidence: evidence.to_owned(),
            created_at: now,
            created_by: actor.name.clone(),
            revoked_at: None,
        };
        let mut batch = SchemaBatch::default();
        batch.put::<Mandates>(&ClaimId(id), &mandate);
        self.put_audit(
            &mut batch,
            *next_seq,
            &AuditRecord {
                seq: 0,
                at: now,
                actor: actor.clone(),
                action: "mandate".into(),
                entry_id: None,
                request: serde_json::json!({"mandate_id": id, "cmo": cmo, "member": member, "evidence": evidence}),
                result: "ok".into(),
                message: String::new(),
            },
        );
        self.write_synced(batch)?;
        *next_seq += 1;
        self.state
            .write()
            .map_err(lock_poisoned)?
            .mandates
            .insert(id, mandate.clone());
        Ok(mandate)
    }

    /// The members whose active mandates `cmo` holds.
    pub fn mandates_of(&self, cmo: &str) -> Result<Vec<String>, IndexError> {
        let state = self.state.read().map_err(lock_poisoned)?;
        Ok(state
            .mandates
            .values()
            .filter(|m| m.revoked_at.is_none() && m.cmo == cmo)
            .map(|m| m.member.clone())
            .collect())
    }

    /// Adds a claim (`claim.id` is assigned here) unless it overlaps another
    /// rightholder's active claim ([`provindex_policy::claims::check_overlap`],
    /// checked under the writer lock: two overlapping claims cannot both
    /// pass), with its audit record, in one synced batch.
    pub fn register_claim(
        &self,
        mut claim: ClaimRecord,
        actor: &Actor,
        now: i64,
        request: serde_json::Value,
    ) -> Result<ClaimRecord, RegistryError> {
        let mut next_seq = self.writer.lock().map_err(lock_poisoned)?;
        {
            let state = self.state.read().map_err(lock_poisoned)?;
            let facts = claim.to_policy().ok_or_else(|| {
                RegistryError::Precondition(format!(
                    "a claim's scope is domain, url_prefix, content or work, not {:?}",
                    claim.scope_kind
                ))
            })?;
            let existing: Vec<_> = state
                .claims
                .values()
                .filter(|c| c.revoked_at.is_none())
                .filter_map(ClaimRecord::to_policy)
                .collect();
            provindex_policy::claims::check_overlap(&facts, &existing)
                .map_err(RegistryError::ClaimOverlap)?;
            claim.id = state.claims.keys().next_back().map_or(1, |last| last + 1);
        }
        claim.created_at = now;
        claim.created_by = actor.name.clone();
        let mut batch = SchemaBatch::default();
        batch.put::<Claims>(&ClaimId(claim.id), &claim);
        self.put_audit(
            &mut batch,
            *next_seq,
            &AuditRecord {
                seq: 0,
                at: now,
                actor: actor.clone(),
                action: "claim".into(),
                entry_id: None,
                request: serde_json::json!({"claim_id": claim.id, "request": request}),
                result: "ok".into(),
                message: String::new(),
            },
        );
        self.write_synced(batch)?;
        *next_seq += 1;
        self.state
            .write()
            .map_err(lock_poisoned)?
            .claims
            .insert(claim.id, claim.clone());
        Ok(claim)
    }

    /// One claim by id (active or revoked).
    pub fn claim(&self, id: u64) -> Result<Option<ClaimRecord>, IndexError> {
        Ok(self
            .state
            .read()
            .map_err(lock_poisoned)?
            .claims
            .get(&id)
            .cloned())
    }

    /// Revokes claim `id` (it stays, with its revocation, and stops paying:
    /// the compensation statement reads active claims only). `may` decides
    /// under the writer lock whether the actor may revoke it (so a refusal
    /// and a revocation cannot race). The claim and its `claim_revoke`
    /// audit record are one synced batch.
    pub fn revoke_claim(
        &self,
        id: u64,
        actor: &Actor,
        reason: &str,
        now: i64,
        may: impl FnOnce(&ClaimRecord) -> Result<(), RegistryError>,
    ) -> Result<ClaimRecord, RegistryError> {
        let mut next_seq = self.writer.lock().map_err(lock_poisoned)?;
        let mut claim = self
            .state
            .read()
            .map_err(lock_poisoned)?
            .claims
            .get(&id)
            .cloned()
            .ok_or(RegistryError::ClaimNotFound(id))?;
        may(&claim)?;
        if let Some(revoked_at) = claim.revoked_at {
            return Err(RegistryError::Precondition(format!(
                "claim {id} was already revoked at {revoked_at}"
            )));
        }
        claim.revoked_at = Some(now);
        claim.revoked_by = actor.name.clone();
        claim.revocation_reason = reason.to_owned();
        let mut batch = SchemaBatch::default();
        batch.put::<Claims>(&ClaimId(id), &claim);
        self.put_audit(
            &mut batch,
            *next_seq,
            &AuditRecord {
                seq: 0,
                at: now,
                actor: actor.clone(),
                action: "claim_revoke".into(),
                entry_id: None,
                request: serde_json::json!({"claim_id": id, "rightholder": claim.rightholder, "reason": reason}),
                result: "ok".into(),
                message: String::new(),
            },
        );
        self.write_synced(batch)?;
        *next_seq += 1;
        self.state
            .write()
            .map_err(lock_poisoned)?
            .claims
            .insert(id, claim.clone());
        Ok(claim)
    }

    /// Active claims covering a content (by id, and by its captures' SURT
    /// keys and registered domains), in id order.
    pub fn claims_covering(
        &self,
        content_id: u128,
        captures: &[(&str, &str)],
    ) -> Result<Vec<ClaimRecord>, IndexError> {
        let state = self.state.read().map_err(lock_poisoned)?;
        Ok(state
            .claims
            .values()
            .filter(|c| c.revoked_at.is_none())
            .filter(|c| {
                c.to_policy().is_some_and(|facts| {
                    provindex_policy::claims::covers(&facts.scope, content_id, captures)
                })
            })
            .cloned()
            .collect())
    }

    /// Whether any claim was ever made (compensation skips the look-ups
    /// otherwise).
    pub fn has_claims(&self) -> bool {
        self.state
            .read()
            .map(|s| !s.claims.is_empty())
            .unwrap_or(true)
    }

    /// One complaint by id.
    pub fn complaint(&self, id: u64) -> Result<Option<ComplaintRecord>, IndexError> {
        if self.without_issue_19_tables {
            return Ok(None);
        }
        Ok(self.store.get::<Complaints>(&ComplaintId(id))?)
    }

    /// Every complaint, in id order (the AI Act summary counts them by kind
    /// and state).
    pub fn complaints(&self) -> Result<Vec<ComplaintRecord>, IndexError> {
        if self.without_issue_19_tables {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        self.store
            .for_each::<Complaints, IndexError>(|_, complaint| {
                out.push(complaint);
                Ok(())
            })?;
        Ok(out)
    }

    /// A reviewer's step on complaint `id`, under the writer lock (so two
    /// reviewers cannot both decide it): `step` checks the state and updates
    /// the record, and returns the registration upholding it creates, if any.
    /// An identical active entry already in place is linked instead of
    /// created. The complaint, the entry and their audit records (`action`,
    /// then `register`) are one synced batch.
    pub fn step_complaint(
        &self,
        id: u64,
        actor: &Actor,
        now: i64,
        action: &str,
        request: serde_json::Value,
        step: impl FnOnce(&mut ComplaintRecord) -> Result<Option<NewRegistration>, RegistryError>,
    ) -> Result<(ComplaintRecord, Option<OptOutEntry>), RegistryError> {
        let mut next_seq = self.writer.lock().map_err(lock_poisoned)?;
        let mut complaint = self
            .complaint(id)?
            .ok_or(RegistryError::ComplaintNotFound(id))?;
        let registration = step(&mut complaint)?;
        let mut batch = SchemaBatch::default();
        let mut created = None;
        let mut seq = *next_seq;
        if let Some(new) = registration {
            let (existing, entry_id) = {
                let state = self.state.read().map_err(lock_poisoned)?;
                (
                    state.active_with_scope(&new.scope, &new.rightholder),
                    state.next_id,
                )
            };
            match existing {
                Some(existing) => complaint.registry_entry_id = Some(existing),
                None => {
                    let entry_request = serde_json::json!({
                        "complaint_id": id,
                        "scope": {new.scope.kind().as_str(): new.scope.value()},
                        "rightholder": new.rightholder,
                    });
                    // The complaint's record first, then the entry's.
                    let entry = self.put_entry(
                        &mut batch,
                        entry_id,
                        new,
                        actor,
                        now,
                        seq + 1,
                        entry_request,
                    );
                    complaint.registry_entry_id = Some(entry_id);
                    created = Some(entry);
                }
            }
        }
        batch.put::<Complaints>(&ComplaintId(id), &complaint);
        self.put_audit(
            &mut batch,
            seq,
            &complaint_audit(
                &complaint,
                action,
                actor,
                now,
                complaint.registry_entry_id,
                request,
            ),
        );
        seq += 1 + u64::from(created.is_some());
        self.write_synced(batch)?;
        *next_seq = seq;
        if let Some(entry) = &created {
            self.state
                .write()
                .map_err(lock_poisoned)?
                .insert(entry.clone());
        }
        Ok((complaint, created))
    }

    /// Revokes entry `id`: it stays in the registry (and the audit log) with
    /// its revocation time, and stops covering anything.
    pub fn revoke(
        &self,
        id: u64,
        actor: &Actor,
        reason: &str,
        now: i64,
        request: serde_json::Value,
    ) -> Result<OptOutEntry, RegistryError> {
        let mut next_seq = self.writer.lock().map_err(lock_poisoned)?;
        let current = self
            .state
            .read()
            .map_err(lock_poisoned)?
            .get(id)
            .cloned()
            .ok_or(RegistryError::NotFound(id))?;
        if let Some(revoked_at) = current.revoked_at {
            return Err(RegistryError::AlreadyRevoked { id, revoked_at });
        }
        let mut entry = (*current).clone();
        entry.revoked_at = Some(now);
        entry.revoked_by = actor.name.clone();
        entry.revocation_reason = reason.to_owned();
        let mut batch = SchemaBatch::default();
        batch.put::<OptOuts>(
            &OptOutKey {
                scope: entry.scope.clone(),
                id,
            },
            &entry,
        );
        self.put_audit(
            &mut batch,
            *next_seq,
            &AuditRecord {
                seq: 0,
                at: now,
                actor: actor.clone(),
                action: "revoke".into(),
                entry_id: Some(id),
                request,
                result: "ok".into(),
                message: String::new(),
            },
        );
        self.write_synced(batch)?;
        *next_seq += 1;
        let mut state = self.state.write().map_err(lock_poisoned)?;
        state.deactivate(&current);
        state.insert(entry.clone());
        Ok(entry)
    }

    /// Appends a record of a refused write (invalid, denied, duplicate...) to
    /// the audit log. `record.seq` is assigned here.
    pub fn audit_rejection(&self, record: AuditRecord) -> Result<u64, IndexError> {
        let mut next_seq = self.writer.lock().map_err(lock_poisoned)?;
        let mut batch = SchemaBatch::default();
        let seq = *next_seq;
        self.put_audit(&mut batch, seq, &record);
        self.write_synced(batch)?;
        *next_seq += 1;
        Ok(seq)
    }

    /// Audit records with sequence number > `after`, in order, at most `limit`.
    pub fn audit_log(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, IndexError> {
        let mut iter = self.store.iter::<Audit>()?;
        iter.seek_key(&AuditSeq(after.saturating_add(1)));
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(row) = iter.entry() else { break };
            let (seq, mut record) = row?;
            record.seq = seq.0;
            out.push(record);
            iter.next();
        }
        iter.status()?;
        Ok(out)
    }

    /// One entry by id (active or revoked). Like every read of the
    /// registry, an error when a writer panicked while holding the state
    /// lock: a registry that cannot answer must not answer "no entries".
    pub fn get(&self, id: u64) -> Result<Option<Arc<OptOutEntry>>, IndexError> {
        Ok(self.state.read().map_err(lock_poisoned)?.get(id).cloned())
    }

    /// Entries matching `filter` with id > `after`, in id order, at most
    /// `limit`; the second value is the id to resume after when more follow.
    pub fn list(
        &self,
        filter: &ListFilter,
        after: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<Arc<OptOutEntry>>, Option<u64>), IndexError> {
        let state = self.state.read().map_err(lock_poisoned)?;
        let start = after.map_or(0, |a| a.saturating_add(1));
        let mut out = Vec::new();
        for entry in state.entries.range(start..).map(|(_, e)| e) {
            let keep = (filter.include_revoked || entry.is_active())
                && filter
                    .rightholder
                    .as_ref()
                    .is_none_or(|r| *r == entry.rightholder)
                && filter.kind.is_none_or(|k| k == entry.scope.kind())
                && filter.scope.as_ref().is_none_or(|s| *s == entry.scope);
            if !keep {
                continue;
            }
            if out.len() == limit {
                let next = after_of(&out);
                return Ok((out, next));
            }
            out.push(Arc::clone(entry));
        }
        Ok((out, None))
    }

    /// Every active (not revoked) entry covering a capture or content, with
    /// how it covers it, in id order. Includes entries whose `effective_from`
    /// is still in the future: check [`OptOutEntry::in_effect_at`].
    ///
    /// Domain entries match `registered_domain`; URL-prefix entries match
    /// when `surt_key` lies inside their SURT prefix (at a path-segment
    /// boundary, [`provindex_signals::url_prefix_covers`]); content entries match
    /// `content_id`; work entries match `content_id` exactly, and `signature`
    /// (when given, same length) at estimated Jaccard ≥ the threshold.
    pub fn covering(&self, query: &CoverQuery<'_>) -> Result<Vec<Coverage>, IndexError> {
        let state = self.state.read().map_err(lock_poisoned)?;
        let mut found: BTreeMap<u64, CoverReason> = BTreeMap::new();
        if let Some(domain) = query.registered_domain.filter(|d| !d.is_empty())
            && let Some(ids) = state.by_domain.get(&domain.to_ascii_lowercase())
        {
            for id in ids {
                found.entry(*id).or_insert(CoverReason::Domain);
            }
        }
        if let Some(key) = query.surt_key.filter(|k| !k.is_empty()) {
            for (end, _) in key.char_indices().skip(1).chain([(key.len(), ' ')]) {
                let prefix = &key[..end];
                if let Some(ids) = state.by_prefix.get(prefix)
                    && provindex_signals::url_prefix_covers(prefix, key)
                {
                    for id in ids {
                        found.entry(*id).or_insert(CoverReason::UrlPrefix);
                    }
                }
            }
        }
        if let Some(cid) = query.content_id
            && let Some(ids) = state.by_content.get(&cid)
        {
            for id in ids {
                let reason = match state.get(*id).map(|e| e.scope.kind()) {
                    Some(ScopeKind::Work) => CoverReason::WorkExact,
                    _ => CoverReason::Content,
                };
                found.entry(*id).or_insert(reason);
            }
        }
        if let Some(signature) = query.signature.filter(|s| !s.is_empty()) {
            let threshold = query.threshold.unwrap_or(DEFAULT_WORK_THRESHOLD);
            for id in &state.works {
                if found.contains_key(id) {
                    continue;
                }
                let Some(entry) = state.get(*id) else {
                    continue;
                };
                if entry.work_signature.len() != signature.len() {
                    continue;
                }
                let jaccard = provindex_sketch::agreement(&entry.work_signature, signature);
                if jaccard >= threshold {
                    found.insert(*id, CoverReason::WorkNear { jaccard });
                }
            }
        }
        Ok(found
            .into_iter()
            .filter_map(|(id, reason)| {
                state.get(id).map(|entry| Coverage {
                    entry: Arc::clone(entry),
                    reason,
                })
            })
            .collect())
    }

    /// Every entry covering a content (the facts for
    /// [`provindex_policy::reservation`], not yet judged: revoked, future and
    /// cross-spec entries included), each once, in id order: by its id and
    /// stored MinHash `signature` (content, work exact and near-duplicate),
    /// and by each capture's SURT key and registered domain (`captures`:
    /// (SURT key, registered domain); an empty domain is derived from the
    /// SURT key). `CheckOptOut`, export and compensation all ask this.
    pub fn covering_content(
        &self,
        content_id: u128,
        signature: Option<&[u32]>,
        captures: &[(&str, &str)],
    ) -> Result<Vec<Coverage>, IndexError> {
        let mut found: BTreeMap<u64, Coverage> = BTreeMap::new();
        for coverage in self.covering(&CoverQuery {
            content_id: Some(content_id),
            signature,
            ..CoverQuery::default()
        })? {
            found.entry(coverage.entry.id).or_insert(coverage);
        }
        let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
        for &(surt, domain) in captures {
            if !seen.insert((surt, domain)) {
                continue;
            }
            let derived;
            let domain = if domain.is_empty() {
                derived = registered_domain_of_surt(surt).unwrap_or_default();
                derived.as_str()
            } else {
                domain
            };
            for coverage in self.covering(&CoverQuery {
                surt_key: Some(surt),
                registered_domain: Some(domain),
                ..CoverQuery::default()
            })? {
                found.entry(coverage.entry.id).or_insert(coverage);
            }
        }
        Ok(found.into_values().collect())
    }

    /// The seam for `CheckOptOut` and export: every active registry entry
    /// covering a capture with this SURT key and registered domain, and/or a
    /// content (exact content and work matches). Pass `""` / `None` for what
    /// is unknown. For near-duplicate work matches use [`Registry::covering`]
    /// with the content's MinHash signature.
    pub fn entries_covering(
        &self,
        surt_key: &str,
        registered_domain: &str,
        content_id: Option<u128>,
    ) -> Result<Vec<OptOutEntry>, IndexError> {
        Ok(self
            .covering(&CoverQuery {
                surt_key: Some(surt_key),
                registered_domain: Some(registered_domain),
                content_id,
                ..CoverQuery::default()
            })?
            .into_iter()
            .map(|c| (*c.entry).clone())
            .collect())
    }

    /// Every active `source_block` and `erasure` entry covering a content
    /// (facts for [`provindex_policy::removal`], not yet judged: entries
    /// effective in the future included): erasures of its id, and source
    /// blocks of its captures' registered domains, hosts and input objects
    /// (compared lowercase for domains and hosts, exactly for inputs). An
    /// erasure by personal identifier is found through the index
    /// ([`Registry::pii_erasures`]), which alone knows who holds it.
    pub fn removals_covering(
        &self,
        content_id: u128,
        sources: &[CaptureSource<'_>],
    ) -> Result<Vec<Arc<OptOutEntry>>, IndexError> {
        let state = self.state.read().map_err(lock_poisoned)?;
        if state.removals.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: BTreeSet<u64> = BTreeSet::new();
        let mut add = |scope: Scope| {
            if let Some(found) = state.removals.get(&scope) {
                ids.extend(found.iter().copied());
            }
        };
        add(Scope::ErasedContent(content_id));
        for source in sources {
            if !source.registered_domain.is_empty() {
                add(Scope::BlockedDomain(
                    source.registered_domain.to_ascii_lowercase(),
                ));
            }
            if !source.host.is_empty() {
                add(Scope::BlockedHost(source.host.to_ascii_lowercase()));
            }
            if !source.input.is_empty() {
                add(Scope::BlockedInput(source.input.to_owned()));
            }
        }
        Ok(ids
            .into_iter()
            .filter_map(|id| state.get(id).cloned())
            .collect())
    }

    /// Every active erasure by personal identifier, with its keyed hash, in
    /// id order: the caller asks the index which contents hold each.
    pub fn pii_erasures(&self) -> Result<Vec<PiiErasure>, IndexError> {
        let state = self.state.read().map_err(lock_poisoned)?;
        let mut out: Vec<PiiErasure> = Vec::new();
        for (scope, ids) in &state.removals {
            if let Scope::ErasedPii(hmac) = scope {
                for id in ids {
                    if let Some(entry) = state.get(*id) {
                        out.push((Arc::clone(entry), *hmac));
                    }
                }
            }
        }
        out.sort_by_key(|(entry, _)| entry.id);
        Ok(out)
    }

    /// Number of entries (active and revoked).
    pub fn len(&self) -> usize {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entries
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The registry's state as an export read it (lineage, issue 18): the
    /// last audit sequence number and a SHA-256 over every entry (active and
    /// revoked) in id order, each as its stored protobuf record after its
    /// length (8 bytes, big-endian). Taken under the writer lock, so both
    /// describe one state; a revocation changes the digest.
    pub fn snapshot(&self) -> Result<RegistrySnapshot, IndexError> {
        use sha2::Digest;
        let next_seq = self.writer.lock().map_err(lock_poisoned)?;
        let state = self.state.read().map_err(lock_poisoned)?;
        let mut hasher = sha2::Sha256::new();
        for entry in state.entries.values() {
            let bytes = entry.to_record().encode_to_vec();
            hasher.update((bytes.len() as u64).to_be_bytes());
            hasher.update(&bytes);
        }
        Ok(RegistrySnapshot {
            audit_seq: next_seq.saturating_sub(1),
            entries: state.entries.len() as u64,
            last_entry_id: state.entries.keys().next_back().copied(),
            entries_digest: hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        })
    }
}

/// [`Registry::snapshot`]: which registry state a computation used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrySnapshot {
    /// The last audit record's sequence number (0: none yet).
    pub audit_seq: u64,
    /// Entries, active and revoked.
    pub entries: u64,
    /// The highest entry id (entries are numbered in registration order).
    pub last_entry_id: Option<u64>,
    /// SHA-256 (hex) over the entries, see [`Registry::snapshot`].
    pub entries_digest: String,
}

/// A complaint step's audit record: the complaint's id and state with the
/// request as understood.
fn complaint_audit(
    complaint: &ComplaintRecord,
    action: &str,
    actor: &Actor,
    now: i64,
    entry_id: Option<u64>,
    request: serde_json::Value,
) -> AuditRecord {
    AuditRecord {
        seq: 0,
        at: now,
        actor: actor.clone(),
        action: action.into(),
        entry_id,
        request: serde_json::json!({
            "complaint_id": complaint.id,
            "state": complaint.state,
            "request": request,
        }),
        result: "ok".into(),
        message: String::new(),
    }
}

fn after_of(page: &[Arc<OptOutEntry>]) -> Option<u64> {
    page.last().map(|e| e.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surt_hosts_map_to_registered_domains() {
        for (surt, domain) in [
            ("uk,gov,data)/dataset", Some("data.gov.uk")),
            ("uk,gov,data,beta)/", Some("data.gov.uk")),
            ("org,iana:8080)/x", Some("iana.org")),
            ("org,iana)/", Some("iana.org")),
            ("uk,co)/", None),
            ("no-host-part", None),
        ] {
            assert_eq!(registered_domain_of_surt(surt).as_deref(), domain, "{surt}");
        }
    }

    fn actor() -> Actor {
        Actor {
            name: "admin".into(),
            role: "admin".into(),
        }
    }

    fn new(rightholder: &str, scope: Scope) -> NewRegistration {
        NewRegistration {
            rightholder: rightholder.into(),
            scope,
            submitted: String::new(),
            work_signature: Vec::new(),
            sketch_spec: String::new(),
            work_token_count: 0,
            effective_from: 100,
            evidence: "letter".into(),
        }
    }

    #[test]
    fn a_poisoned_registry_refuses_to_answer_instead_of_answering_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::open(&dir.path().join("registry")).expect("open");
        let cover = CoverQuery {
            surt_key: Some("uk,gov,data)/dataset"),
            registered_domain: Some("data.gov.uk"),
            ..CoverQuery::default()
        };
        assert!(registry.covering(&cover).expect("healthy").is_empty());
        // A writer that panics while holding the state lock.
        std::thread::scope(|scope| {
            let panicked = scope
                .spawn(|| {
                    let _state = registry.state.write().expect("lock");
                    panic!("writer failed mid-update");
                })
                .join();
            assert!(panicked.is_err());
        });
        assert!(matches!(
            registry.covering(&cover),
            Err(IndexError::Corrupt { .. })
        ));
        assert!(
            registry
                .entries_covering("uk,gov)/", "gov.uk", None)
                .is_err()
        );
        assert!(registry.list(&ListFilter::default(), None, 10).is_err());
        assert!(registry.get(1).is_err());
    }

    #[test]
    fn register_cover_revoke_and_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("registry");
        let registry = Registry::open(&path).expect("open");
        let domain = registry
            .register(
                new("Gov", Scope::Domain("data.gov.uk".into())),
                &actor(),
                10,
                serde_json::json!({}),
            )
            .expect("register");
        assert_eq!(domain.id, 1);
        let prefix = registry
            .register(
                new("Gov", Scope::UrlPrefix("uk,gov,data)/dataset".into())),
                &actor(),
                11,
                serde_json::json!({}),
            )
            .expect("register");
        let work = registry
            .register(
                NewRegistration {
                    work_signature: (1..=10).collect(),
                    ..new("Author", Scope::Work(7))
                },
                &actor(),
                12,
                serde_json::json!({}),
            )
            .expect("register");
        assert!(matches!(
            registry.register(
                new("Gov", Scope::Domain("data.gov.uk".into())),
                &actor(),
                13,
                serde_json::json!({})
            ),
            Err(RegistryError::Duplicate { existing: 1 })
        ));

        let hits = registry
            .covering(&CoverQuery {
                surt_key: Some("uk,gov,data)/dataset/abc"),
                registered_domain: Some("data.gov.uk"),
                content_id: Some(7),
                ..CoverQuery::default()
            })
            .expect("covering");
        let reasons: Vec<_> = hits.iter().map(|c| (c.entry.id, c.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (domain.id, CoverReason::Domain),
                (prefix.id, CoverReason::UrlPrefix),
                (work.id, CoverReason::WorkExact)
            ]
        );
        assert!(
            registry
                .entries_covering("uk,gov,data)/other", "other.org", None)
                .expect("covering")
                .is_empty()
        );
        // A URL prefix covers at path-segment boundaries only (issue 14).
        for (key, covered) in [
            ("uk,gov,data)/dataset", true),
            ("uk,gov,data)/dataset?page=2", true),
            ("uk,gov,data)/datasets", false),
            ("uk,gov,data)/dataset-admin/x", false),
            ("uk,gov,data)/dataset.json", false),
        ] {
            let ids: Vec<u64> = registry
                .entries_covering(key, "", None)
                .expect("covering")
                .iter()
                .map(|e| e.id)
                .collect();
            assert_eq!(ids.contains(&prefix.id), covered, "{key}");
        }
        let near = registry
            .covering(&CoverQuery {
                content_id: Some(8),
                signature: Some(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 99]),
                ..CoverQuery::default()
            })
            .expect("covering");
        assert_eq!(near.len(), 1);
        // 9 of 10 values agree: 0.9, less the chance agreement of values
        // compared on their low COMPARED_BITS bits.
        let chance = 1.0 / f64::from(1u32 << provindex_sketch::COMPARED_BITS);
        let expected = (0.9 - chance) / (1.0 - chance);
        assert_eq!(near[0].reason, CoverReason::WorkNear { jaccard: expected });

        registry
            .revoke(prefix.id, &actor(), "withdrawn", 20, serde_json::json!({}))
            .expect("revoke");
        assert!(matches!(
            registry.revoke(prefix.id, &actor(), "again", 21, serde_json::json!({})),
            Err(RegistryError::AlreadyRevoked { revoked_at: 20, .. })
        ));
        assert!(matches!(
            registry.revoke(99, &actor(), "", 21, serde_json::json!({})),
            Err(RegistryError::NotFound(99))
        ));
        assert_eq!(
            registry
                .entries_covering("uk,gov,data)/dataset/abc", "", None)
                .expect("covering")
                .len(),
            0
        );
        drop(registry);

        let registry = Registry::open(&path).expect("reopen");
        assert_eq!(registry.len(), 3);
        let (page, next) = registry
            .list(&ListFilter::default(), None, 1)
            .expect("list");
        assert_eq!(page[0].id, 1);
        let (page, next) = registry
            .list(&ListFilter::default(), next, 10)
            .expect("list");
        assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), vec![3]);
        assert_eq!(next, None);
        let all = ListFilter {
            include_revoked: true,
            ..ListFilter::default()
        };
        assert_eq!(registry.list(&all, None, 10).expect("list").0.len(), 3);
        let revoked = registry.get(prefix.id).expect("get").expect("entry");
        assert_eq!(revoked.revoked_at, Some(20));
        assert_eq!(revoked.revocation_reason, "withdrawn");
        let audit = registry.audit_log(0, 100).expect("audit");
        assert_eq!(
            audit
                .iter()
                .map(|r| (r.seq, r.action.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (1, "register"),
                (2, "register"),
                (3, "register"),
                (4, "revoke")
            ]
        );
        // A new registration after reopening continues the id sequence.
        let again = registry
            .register(
                new("Gov", Scope::Content(5)),
                &actor(),
                30,
                serde_json::json!({}),
            )
            .expect("register");
        assert_eq!(again.id, 4);
        assert_eq!(registry.audit_log(4, 10).expect("audit")[0].seq, 5);
    }

    #[test]
    fn source_blocks_and_erasures_are_removals_not_opt_outs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("registry");
        let registry = Registry::open(&path).expect("open");
        let hmac = [7u8; 32];
        let mut ids = Vec::new();
        for scope in [
            Scope::BlockedDomain("data.gov.uk".into()),
            Scope::BlockedHost("www.iana.org".into()),
            Scope::BlockedInput("s3://corpus/a.warc.gz".into()),
            Scope::ErasedContent(42),
            Scope::ErasedPii(hmac),
        ] {
            let entry = registry
                .register(new("operator", scope), &actor(), 10, serde_json::json!({}))
                .expect("register");
            ids.push(entry.id);
        }
        // Not opt-outs: the reservation look-ups never see them.
        assert!(
            registry
                .covering_content(42, None, &[("uk,gov,data)/x", "data.gov.uk")])
                .expect("covering")
                .is_empty()
        );
        let found = |content: u128, sources: &[CaptureSource<'_>]| -> Vec<u64> {
            registry
                .removals_covering(content, sources)
                .expect("removals")
                .iter()
                .map(|e| e.id)
                .collect()
        };
        let source = |domain, host, input| CaptureSource {
            registered_domain: domain,
            host,
            input,
        };
        assert_eq!(found(42, &[]), [ids[3]]);
        assert_eq!(
            found(
                1,
                &[source(
                    "DATA.gov.uk",
                    "beta.data.gov.uk",
                    "s3://corpus/b.warc.gz"
                )]
            ),
            [ids[0]]
        );
        assert_eq!(
            found(
                1,
                &[source("iana.org", "WWW.iana.org", "s3://corpus/a.warc.gz")]
            ),
            [ids[1], ids[2]]
        );
        assert!(
            found(
                1,
                &[source("iana.org", "iana.org", "s3://corpus/A.warc.gz")]
            )
            .is_empty()
        );
        let pii = registry.pii_erasures().expect("pii");
        assert_eq!(pii.len(), 1);
        assert_eq!((pii[0].0.id, pii[0].1), (ids[4], hmac));
        assert_eq!(
            pii[0].0.to_removal().scope_value,
            format!("pii_hmac:{}", "07".repeat(32))
        );
        // The same removal twice is a duplicate; revoked, it removes nothing.
        assert!(matches!(
            registry.register(
                new("operator", Scope::ErasedContent(42)),
                &actor(),
                11,
                serde_json::json!({})
            ),
            Err(RegistryError::Duplicate { existing }) if existing == ids[3]
        ));
        registry
            .revoke(ids[3], &actor(), "restored", 12, serde_json::json!({}))
            .expect("revoke");
        assert!(found(42, &[]).is_empty());
        drop(registry);
        let registry = Registry::open(&path).expect("reopen");
        let kinds: Vec<(ScopeKind, String)> = registry
            .list(&ListFilter::default(), None, 10)
            .expect("list")
            .0
            .iter()
            .map(|e| (e.scope.kind(), e.scope.value()))
            .collect();
        assert_eq!(kinds.len(), 4);
        assert_eq!(
            kinds[2],
            (ScopeKind::SourceBlock, "input:s3://corpus/a.warc.gz".into())
        );
        assert_eq!(
            registry
                .removals_covering(0, &[source("", "www.iana.org", "")])
                .expect("removals")
                .len(),
            1
        );
    }

    #[test]
    fn claims_refuse_other_rightholders_overlaps_and_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("registry");
        let registry = Registry::open(&path).expect("open");
        let claim =
            |holder: &str, kind: &str, value: &str, captures: &[(&str, &str)]| ClaimRecord {
                id: 0,
                rightholder: holder.into(),
                claimant: "CMO".into(),
                scope_kind: kind.into(),
                scope_value: value.into(),
                captures: captures
                    .iter()
                    .map(|(surt, domain)| CaptureKey {
                        surt: (*surt).into(),
                        registered_domain: (*domain).into(),
                    })
                    .collect(),
                evidence: "mandate 1".into(),
                created_at: 0,
                created_by: String::new(),
                revoked_at: None,
                ..ClaimRecord::default()
            };
        let news = registry
            .register_claim(
                claim("Ann", "url_prefix", "org,example)/news", &[]),
                &actor(),
                10,
                serde_json::json!({}),
            )
            .expect("claim");
        assert_eq!(news.id, 1);
        let content = format!("{:032x}", 7u128);
        let overlap = registry
            .register_claim(
                claim(
                    "Bo",
                    "content",
                    &content,
                    &[("org,example)/news/a", "example.org")],
                ),
                &actor(),
                11,
                serde_json::json!({}),
            )
            .expect_err("overlap");
        assert!(
            matches!(&overlap, RegistryError::ClaimOverlap(m) if m.contains("claim 1 of Ann")),
            "{overlap}"
        );
        // Ann's own content claim inside her prefix is fine.
        registry
            .register_claim(
                claim("Ann", "content", &content, &[("org,example)/news/a", "")]),
                &actor(),
                12,
                serde_json::json!({}),
            )
            .expect("own overlap");
        registry
            .register_mandate("CMO", "Ann", "signed 2024", &actor(), 13)
            .expect("mandate");
        assert!(matches!(
            registry.register_mandate("CMO", "Ann", "again", &actor(), 14),
            Err(RegistryError::Duplicate { existing: 1 })
        ));
        drop(registry);
        let registry = Registry::open(&path).expect("reopen");
        assert_eq!(registry.mandates_of("CMO").expect("mandates"), ["Ann"]);
        let covering: Vec<u64> = registry
            .claims_covering(9, &[("org,example)/news/b", "")])
            .expect("covering")
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(covering, [1]);
        assert_eq!(registry.claims_covering(7, &[]).expect("covering").len(), 1);
        assert!(registry.has_claims());
        let log = registry.audit_log(0, 10).expect("audit");
        assert_eq!(
            log.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
            ["claim", "claim", "mandate"]
        );
        // Revoking Ann's prefix claim: it stops covering, survives a reopen,
        // frees the prefix for Bo, and cannot be revoked twice.
        let refused = registry
            .revoke_claim(1, &actor(), "ended", 15, |_| {
                Err(RegistryError::Denied("not yours".into()))
            })
            .expect_err("refused by the rule");
        assert!(matches!(refused, RegistryError::Denied(m) if m == "not yours"));
        assert!(matches!(
            registry.revoke_claim(99, &actor(), "x", 15, |_| Ok(())),
            Err(RegistryError::ClaimNotFound(99))
        ));
        let revoked = registry
            .revoke_claim(1, &actor(), "licence ended", 16, |_| Ok(()))
            .expect("revoke");
        assert_eq!(revoked.revoked_at, Some(16));
        assert_eq!(revoked.revocation_reason, "licence ended");
        drop(registry);
        let registry = Registry::open(&path).expect("reopen");
        assert!(
            registry
                .claims_covering(9, &[("org,example)/news/b", "")])
                .expect("covering")
                .is_empty()
        );
        assert!(matches!(
            registry.revoke_claim(1, &actor(), "again", 17, |_| Ok(())),
            Err(RegistryError::Precondition(m)) if m.contains("already revoked at 16")
        ));
        registry
            .register_claim(
                claim("Bo", "url_prefix", "org,example)/news/b", &[]),
                &actor(),
                18,
                serde_json::json!({}),
            )
            .expect("the prefix is free again");
        let log = registry.audit_log(0, 10).expect("audit");
        assert_eq!(
            log.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
            ["claim", "claim", "mandate", "claim_revoke", "claim"]
        );
    }

    #[test]
    fn a_snapshot_names_the_state_and_changes_with_every_entry_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("registry");
        let registry = Registry::open(&path).expect("open");
        let empty = registry.snapshot().expect("snapshot");
        assert_eq!(
            (empty.audit_seq, empty.entries, empty.last_entry_id),
            (0, 0, None)
        );
        let entry = registry
            .register(
                new("Gov", Scope::Domain("data.gov.uk".into())),
                &actor(),
                10,
                serde_json::json!({}),
            )
            .expect("register");
        let one = registry.snapshot().expect("snapshot");
        assert_eq!(
            (one.audit_seq, one.entries, one.last_entry_id),
            (1, 1, Some(entry.id))
        );
        assert_ne!(one.entries_digest, empty.entries_digest);
        registry
            .revoke(entry.id, &actor(), "withdrawn", 20, serde_json::json!({}))
            .expect("revoke");
        let revoked = registry.snapshot().expect("snapshot");
        assert_eq!((revoked.audit_seq, revoked.entries), (2, 1));
        assert_ne!(revoked.entries_digest, one.entries_digest);
        drop(registry);
        // The same state read back by another opener.
        let reopened = Registry::open_read_only(&path).expect("reopen");
        assert_eq!(reopened.snapshot().expect("snapshot"), revoked);
    }

    #[test]
    fn a_registry_from_before_complaints_and_claims_still_opens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("registry");
        drop(
            Store::open(
                &path,
                &REGISTRY_TABLES[..LEGACY_TABLES],
                OpenMode::ReadWrite,
                8 << 20,
            )
            .expect("old registry"),
        );
        let old = Registry::open_read_only(&path).expect("read-only");
        assert!(old.is_empty() && !old.has_claims());
        assert_eq!(old.complaint(1).expect("complaint"), None);
        drop(old);
        // A writer adds the new tables.
        let registry = Registry::open(&path).expect("read-write");
        registry
            .register_mandate("CMO", "Ann", "m", &actor(), 1)
            .expect("mandate");
        drop(registry);
        let reopened = Registry::open_read_only(&path).expect("read-only");
        assert_eq!(reopened.mandates_of("CMO").expect("mandates"), ["Ann"]);
    }
}
