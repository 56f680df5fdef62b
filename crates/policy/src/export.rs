//! Why a content is left out of the training manifest.

use crate::removal::Removal;
use crate::reservation::{Reason, Reservation};

/// The reason names, as stated in the export summary.
pub const NEAR_DUPLICATE: &str = "near_duplicate";

/// The one-reason rule, as stated in every export summary.
pub const REASON_RULE: &str = "one reason per excluded content: an erasure in force at `at` (erased) before a blocked source in force at `at` (source_blocked) before a reserved crawl-signal verdict on any capture (crawl_signal:KIND of the deciding signal) before registry entries in force at `at` (registry:SCOPE_KIND of the lowest entry id) before not being its near-duplicate cluster's keeper (near_duplicate); matched_by_reason counts every reason that applied";

/// The reasons that apply to a content, and the one it is excluded for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReasons {
    /// `None`: the content goes into the manifest.
    pub excluded_by: Option<String>,
    /// Every reason that applied (each counted once in `matched_by_reason`).
    pub matched: Vec<String>,
}

/// `erased` and `source_blocked` ([`crate::removal`]: removals are the
/// operator's duties, not rightholders' choices), then `crawl_signal:KIND`
/// of the earliest reserving capture, then `registry:SCOPE_KIND` of the
/// covering entries (distinct, in order of their lowest entry id), then
/// `near_duplicate` for a non-keeper. A content is excluded for the first of
/// them: crawl signals were stated at capture time, the registry came later,
/// deduplication is last.
pub fn export_reasons(removal: &Removal, reservation: &Reservation, keeper: bool) -> ExportReasons {
    let mut matched: Vec<String> = removal
        .reasons()
        .map(|(reason, _)| reason.to_owned())
        .collect();
    if let Some(Reason::CrawlSignal { kind, .. }) = reservation.crawl_signal() {
        matched.push(format!("crawl_signal:{kind}"));
    }
    for entry in reservation.registry_entries() {
        let reason = format!("registry:{}", entry.scope_kind);
        if !matched.contains(&reason) {
            matched.push(reason);
        }
    }
    if !keeper {
        matched.push(NEAR_DUPLICATE.to_owned());
    }
    ExportReasons {
        excluded_by: matched.first().cloned(),
        matched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reservation::{CaptureSignal, Cover, RegistryCover, Subject, Verdict, reservation};

    fn entry(id: u64, kind: &str, cover: Cover) -> RegistryCover {
        RegistryCover {
            entry_id: id,
            rightholder: "r".into(),
            scope_kind: kind.into(),
            scope_value: String::new(),
            cover,
            effective_from: 0,
            revoked_at: None,
            sketch_spec: String::new(),
        }
    }

    fn reasons(
        reserved_kind: Option<&str>,
        covers: &[RegistryCover],
        keeper: bool,
    ) -> ExportReasons {
        let captures: Vec<CaptureSignal> = reserved_kind
            .into_iter()
            .map(|kind| CaptureSignal {
                capture_id: 1,
                capture_time: 5,
                verdict: Verdict::Reserved,
                signal_kind: Some(kind.to_owned()),
            })
            .collect();
        export_reasons(
            &Removal::default(),
            &reservation(Subject {
                captures: &captures,
                covers,
                at: 10,
                index_sketch_spec: "",
            }),
            keeper,
        )
    }

    #[test]
    fn a_clean_keeper_is_kept() {
        let r = reasons(None, &[], true);
        assert_eq!(r.excluded_by, None);
        assert!(r.matched.is_empty());
    }

    #[test]
    fn crawl_signal_before_registry_before_near_duplicate() {
        let covers = [
            entry(7, "domain", Cover::Domain),
            entry(3, "work", Cover::WorkNear { jaccard: 0.9 }),
            entry(9, "work", Cover::WorkExact),
        ];
        let all = reasons(Some("tdmrep"), &covers, false);
        assert_eq!(all.excluded_by.as_deref(), Some("crawl_signal:tdmrep"));
        assert_eq!(
            all.matched,
            [
                "crawl_signal:tdmrep",
                "registry:work",
                "registry:domain",
                "near_duplicate"
            ]
        );
        let registry = reasons(None, &covers, false);
        assert_eq!(registry.excluded_by.as_deref(), Some("registry:work"));
        let dup = reasons(None, &[], false);
        assert_eq!(dup.excluded_by.as_deref(), Some("near_duplicate"));
        assert_eq!(dup.matched, ["near_duplicate"]);
    }

    #[test]
    fn erasure_and_blocked_sources_come_before_everything() {
        let captures = [CaptureSignal {
            capture_id: 1,
            capture_time: 5,
            verdict: Verdict::Reserved,
            signal_kind: Some("robots_txt".into()),
        }];
        let reserved = reservation(Subject {
            captures: &captures,
            covers: &[entry(3, "domain", Cover::Domain)],
            at: 10,
            index_sketch_spec: "",
        });
        let blocked = Removal {
            erased_by: None,
            blocked_by: Some(8),
        };
        let r = export_reasons(&blocked, &reserved, false);
        assert_eq!(r.excluded_by.as_deref(), Some("source_blocked"));
        assert_eq!(
            r.matched,
            [
                "source_blocked",
                "crawl_signal:robots_txt",
                "registry:domain",
                "near_duplicate"
            ]
        );
        let both = Removal {
            erased_by: Some(9),
            blocked_by: Some(8),
        };
        let r = export_reasons(&both, &reserved, true);
        assert_eq!(r.excluded_by.as_deref(), Some("erased"));
        assert_eq!(r.matched[..2], ["erased", "source_blocked"]);
    }
}
