//! The one removal decision (issue 19): registry entries that take a
//! content out of the training manifest without being a rightholder's
//! reservation — a blocked source (`source_block`: a registered domain, host
//! or input object found unacceptable, e.g. TC260-003's more than 5% unlawful
//! content) and an erasure (`erasure`: a content, or every content holding a
//! personal identifier, deleted on a data subject's request).
//!
//! They are not opt-outs: they never make a content `reserved` (CheckOptOut,
//! report and compensation ignore them), they only exclude it from exports,
//! before any other reason.

/// The registry scope kind of a source block.
pub const SOURCE_BLOCK: &str = "source_block";
/// The registry scope kind of an erasure.
pub const ERASURE: &str = "erasure";

/// The export reason of a content in a blocked source.
pub const SOURCE_BLOCKED: &str = "source_blocked";
/// The export reason of an erased content.
pub const ERASED: &str = "erased";

/// One `source_block` or `erasure` registry entry found covering a content
/// (found by the registry or, for a personal identifier's keyed hash, by the
/// index's `pii_keys` table; not yet judged: it may be revoked or not yet
/// effective).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovalCover {
    pub entry_id: u64,
    /// [`SOURCE_BLOCK`] or [`ERASURE`]; anything else is not a removal.
    pub scope_kind: String,
    pub scope_value: String,
    pub effective_from: i64,
    pub revoked_at: Option<i64>,
}

impl RemovalCover {
    fn in_force_at(&self, at: i64) -> bool {
        self.revoked_at.is_none() && self.effective_from <= at
    }
}

/// The decision: the lowest id of the erasure and of the source-block
/// entries in force at the time, if any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removal {
    pub erased_by: Option<u64>,
    pub blocked_by: Option<u64>,
}

impl Removal {
    pub fn removed(&self) -> bool {
        self.erased_by.is_some() || self.blocked_by.is_some()
    }

    /// The export reasons that apply, erasure first, each with its entry.
    pub fn reasons(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            self.erased_by.map(|id| (ERASED, id)),
            self.blocked_by.map(|id| (SOURCE_BLOCKED, id)),
        ]
        .into_iter()
        .flatten()
    }
}

/// Which removals apply at `at` (unix seconds): entries not revoked and
/// effective at or before `at`.
pub fn removal(covers: &[RemovalCover], at: i64) -> Removal {
    let lowest = |kind: &str| {
        covers
            .iter()
            .filter(|c| c.scope_kind == kind && c.in_force_at(at))
            .map(|c| c.entry_id)
            .min()
    };
    Removal {
        erased_by: lowest(ERASURE),
        blocked_by: lowest(SOURCE_BLOCK),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cover(id: u64, kind: &str, from: i64, revoked_at: Option<i64>) -> RemovalCover {
        RemovalCover {
            entry_id: id,
            scope_kind: kind.into(),
            scope_value: String::new(),
            effective_from: from,
            revoked_at,
        }
    }

    #[test]
    fn entries_in_force_remove_and_erasure_comes_first() {
        let covers = [
            cover(9, SOURCE_BLOCK, 10, None),
            cover(4, SOURCE_BLOCK, 50, None),
            cover(7, ERASURE, 20, None),
            cover(2, ERASURE, 0, Some(5)),
            cover(1, "domain", 0, None),
        ];
        assert_eq!(removal(&covers, 9), Removal::default());
        assert!(!removal(&covers, 9).removed());
        let at_20 = removal(&covers, 20);
        assert_eq!(
            at_20,
            Removal {
                erased_by: Some(7),
                blocked_by: Some(9)
            }
        );
        assert_eq!(
            at_20.reasons().collect::<Vec<_>>(),
            [(ERASED, 7), (SOURCE_BLOCKED, 9)]
        );
        assert_eq!(removal(&covers, 50).blocked_by, Some(4));
        // A revoked erasure and an opt-out kind remove nothing.
        assert_eq!(removal(&covers[3..], 100), Removal::default());
    }
}
