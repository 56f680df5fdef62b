//! Every *rule* of provindex in one pure crate (no I/O, no RocksDB, no tonic;
//! docs/DESIGN.md "policy"): callers gather facts from the index and the
//! registry, and ask here what they mean.
//!
//! - [`reservation`]: whether a capture or content is reserved (opted out),
//!   by what and since when — crawl signals, registry entries in force at a
//!   time, work coverage and the sketch-spec guard. `CheckOptOut`, export,
//!   report and compensation all call it.
//! - [`keeper`]: which member of a near-duplicate cluster counts.
//! - [`removal`]: whether a blocked source or an erasure takes a content
//!   out of exports (not a reservation).
//! - [`export`]: the reason a content is excluded from the training manifest.
//! - [`arithmetic`]: report and compensation numbers (shares, pro-rata pool
//!   split, equal split among rightholders, the collection period test, top
//!   domains).
//! - [`authorization`]: roles, rightholders' granted scopes, who may
//!   register, revoke, list and export.
//! - [`claims`]: claims for payment (by rightholders and CMOs with
//!   mandates) and the one-claimant-per-content overlap rule.
//! - [`complaint`]: complaint states, due dates, remedies and who may
//!   read and review them.
//! - [`pii`]: personal identifiers in a text (kinds and distinct counts) and
//!   their keyed hashes for data subjects' requests.
//! - [`sampling`]: reproducible audit samples per source, failure-rate
//!   intervals and the TC260 acceptance rules.

pub mod arithmetic;
pub mod authorization;
pub mod claims;
pub mod complaint;
pub mod export;
pub mod keeper;
pub mod pii;
pub mod removal;
pub mod reservation;
pub mod sampling;

pub use reservation::{
    CaptureSignal, Cover, Reason, RegistryCover, Reservation, Subject, Verdict, reservation,
};

pub use pii::{PiiError, PiiFindings, PiiKind, canonical_query, detect, detect_each, pii_key};
pub use sampling::{BottomN, Interval, sample_rank, wilson_interval};
