//! The one reservation decision.
//!
//! Inputs are plain facts: the crawl-signal verdict stored with each capture
//! (decided at index time from robots.txt, TDMRep, meta tags, headers, rights
//! notices), the registry entries found to cover the capture or content (and
//! how), the time at which registry entries must be in force, and the sketch
//! spec of the index (near-duplicate work matches count only when the entry's
//! signature was made with the same spec).

/// A crawl-signal verdict as stored with a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Reserved,
    NotReserved,
    Unknown,
}

impl Verdict {
    /// The stored text (`reserved`, `not_reserved`; anything else, including
    /// empty, is `unknown`).
    pub fn parse(text: &str) -> Self {
        match text {
            "reserved" => Verdict::Reserved,
            "not_reserved" => Verdict::NotReserved,
            _ => Verdict::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Reserved => "reserved",
            Verdict::NotReserved => "not_reserved",
            Verdict::Unknown => "unknown",
        }
    }
}

/// One capture's crawl-signal finding.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureSignal {
    pub capture_id: u128,
    /// Unix seconds; a crawl signal reserves since the capture that saw it.
    pub capture_time: i64,
    pub verdict: Verdict,
    /// The deciding signal's kind (`robots_txt`, `tdmrep`, ...), if known.
    pub signal_kind: Option<String>,
}

/// How a registry entry covers the capture or content.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cover {
    /// The capture's registered domain is the entry's domain.
    Domain,
    /// The capture's SURT key lies inside the entry's URL prefix.
    UrlPrefix,
    /// The content id is the entry's content id.
    Content,
    /// The content is the work's normalized text.
    WorkExact,
    /// The content's MinHash signature is near the work's (estimated Jaccard).
    WorkNear { jaccard: f64 },
}

/// One registry entry found covering the capture or content (found by the
/// registry's lookup, not yet judged: it may be revoked, not yet effective,
/// or a near-duplicate match across sketch specs).
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryCover {
    pub entry_id: u64,
    pub rightholder: String,
    /// `domain`, `url_prefix`, `content`, `work`.
    pub scope_kind: String,
    pub scope_value: String,
    pub cover: Cover,
    pub effective_from: i64,
    pub revoked_at: Option<i64>,
    /// Work entries: the sketch spec of the entry's signature (empty: unknown).
    pub sketch_spec: String,
}

impl RegistryCover {
    /// Active (never revoked) and effective at `at`.
    pub fn in_force_at(&self, at: i64) -> bool {
        self.revoked_at.is_none() && self.effective_from <= at
    }

    /// Whether the match is meaningful under the index's sketch spec: a
    /// near-duplicate match compares signatures, which only means something
    /// when both were made with the same parameters (an unknown spec on
    /// either side is given the benefit of the doubt: the registry already
    /// compares only signatures of equal length).
    pub fn matches_under(&self, index_sketch_spec: &str) -> bool {
        match self.cover {
            Cover::WorkNear { .. } => {
                self.sketch_spec.is_empty()
                    || index_sketch_spec.is_empty()
                    || self.sketch_spec == index_sketch_spec
            }
            _ => true,
        }
    }
}

/// What to decide about: one capture (a URL's newest capture) or one content
/// with all of its captures.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub captures: &'a [CaptureSignal],
    pub covers: &'a [RegistryCover],
    /// Registry entries in force at this time (unix seconds) apply.
    pub at: i64,
    /// The index's sketch spec (`IndexManifest::sketch_spec`).
    pub index_sketch_spec: &'a str,
}

/// Why something is reserved.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// A capture's stored crawl-signal verdict is `reserved`.
    CrawlSignal {
        capture_id: u128,
        /// The deciding signal's kind; `unknown` when not recorded.
        kind: String,
        since: i64,
    },
    /// A registry entry in force at `at` covers it.
    Registry(RegistryCover),
}

impl Reason {
    pub fn since(&self) -> i64 {
        match self {
            Reason::CrawlSignal { since, .. } => *since,
            Reason::Registry(cover) => cover.effective_from,
        }
    }
}

/// The decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    /// `Reserved` when any reason applies; else `NotReserved` when any capture
    /// says so; else `Unknown`.
    pub verdict: Verdict,
    /// Every reason: crawl signals first (earliest capture first, ties by
    /// capture id), then registry entries (by entry id, each once).
    pub by: Vec<Reason>,
    /// The earliest `since` of the reasons.
    pub since: Option<i64>,
}

impl Reservation {
    pub fn reserved(&self) -> bool {
        self.verdict == Verdict::Reserved
    }

    /// The first crawl-signal reason (earliest reserving capture).
    pub fn crawl_signal(&self) -> Option<&Reason> {
        self.by
            .iter()
            .find(|r| matches!(r, Reason::CrawlSignal { .. }))
    }

    /// The registry entries that reserve, by entry id.
    pub fn registry_entries(&self) -> impl Iterator<Item = &RegistryCover> {
        self.by.iter().filter_map(|r| match r {
            Reason::Registry(cover) => Some(cover),
            Reason::CrawlSignal { .. } => None,
        })
    }
}

/// The reservation decision. A capture whose stored crawl-signal verdict is
/// `reserved` reserves its content from its capture time (whatever `at`: the
/// signal was stated when the page was fetched, and captures are never
/// revoked). A registry entry reserves when it is in force at `at` (not
/// revoked, effective at or before `at`) and, for a near-duplicate work
/// match, its sketch spec is the index's.
pub fn reservation(subject: Subject<'_>) -> Reservation {
    let mut crawl: Vec<&CaptureSignal> = subject
        .captures
        .iter()
        .filter(|c| c.verdict == Verdict::Reserved)
        .collect();
    crawl.sort_by_key(|c| (c.capture_time, c.capture_id));
    let mut by: Vec<Reason> = crawl
        .into_iter()
        .map(|c| Reason::CrawlSignal {
            capture_id: c.capture_id,
            kind: c
                .signal_kind
                .clone()
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| "unknown".to_owned()),
            since: c.capture_time,
        })
        .collect();
    let mut registry: Vec<&RegistryCover> = subject
        .covers
        .iter()
        .filter(|c| c.in_force_at(subject.at) && c.matches_under(subject.index_sketch_spec))
        .collect();
    registry.sort_by_key(|c| c.entry_id);
    registry.dedup_by_key(|c| c.entry_id);
    by.extend(registry.into_iter().cloned().map(Reason::Registry));
    let since = by.iter().map(Reason::since).min();
    let verdict = if !by.is_empty() {
        Verdict::Reserved
    } else if subject
        .captures
        .iter()
        .any(|c| c.verdict == Verdict::NotReserved)
    {
        Verdict::NotReserved
    } else {
        Verdict::Unknown
    };
    Reservation { verdict, by, since }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "norm=2;shingle=5;k=128;t=0.8;b=9;r=13;seed=1";

    fn capture(id: u128, time: i64, verdict: Verdict, kind: Option<&str>) -> CaptureSignal {
        CaptureSignal {
            capture_id: id,
            capture_time: time,
            verdict,
            signal_kind: kind.map(str::to_owned),
        }
    }

    fn cover(id: u64, cover: Cover, from: i64) -> RegistryCover {
        RegistryCover {
            entry_id: id,
            rightholder: format!("holder-{id}"),
            scope_kind: match cover {
                Cover::Domain => "domain",
                Cover::UrlPrefix => "url_prefix",
                Cover::Content => "content",
                Cover::WorkExact | Cover::WorkNear { .. } => "work",
            }
            .to_owned(),
            scope_value: String::new(),
            cover,
            effective_from: from,
            revoked_at: None,
            sketch_spec: SPEC.to_owned(),
        }
    }

    fn decide(captures: &[CaptureSignal], covers: &[RegistryCover], at: i64) -> Reservation {
        reservation(Subject {
            captures,
            covers,
            at,
            index_sketch_spec: SPEC,
        })
    }

    #[test]
    fn nothing_known_is_unknown_and_a_not_reserved_capture_says_so() {
        let none = decide(&[], &[], 100);
        assert_eq!((none.verdict, none.since), (Verdict::Unknown, None));
        let unknown = decide(&[capture(1, 10, Verdict::Unknown, None)], &[], 100);
        assert_eq!(unknown.verdict, Verdict::Unknown);
        let open = decide(
            &[
                capture(1, 10, Verdict::Unknown, None),
                capture(2, 20, Verdict::NotReserved, None),
            ],
            &[],
            100,
        );
        assert_eq!(open.verdict, Verdict::NotReserved);
        assert!(!open.reserved() && open.by.is_empty());
    }

    #[test]
    fn any_reserved_capture_reserves_from_the_earliest() {
        let r = decide(
            &[
                capture(9, 50, Verdict::Reserved, Some("tdmrep")),
                capture(3, 20, Verdict::NotReserved, None),
                capture(7, 30, Verdict::Reserved, None),
            ],
            &[],
            0,
        );
        assert!(r.reserved());
        assert_eq!(r.since, Some(30));
        assert_eq!(
            r.by,
            vec![
                Reason::CrawlSignal {
                    capture_id: 7,
                    kind: "unknown".into(),
                    since: 30
                },
                Reason::CrawlSignal {
                    capture_id: 9,
                    kind: "tdmrep".into(),
                    since: 50
                },
            ]
        );
    }

    #[test]
    fn registry_entries_count_when_in_force_at_the_time() {
        let mut revoked = cover(4, Cover::Content, 10);
        revoked.revoked_at = Some(60);
        let covers = [
            cover(2, Cover::Domain, 100),
            cover(1, Cover::UrlPrefix, 40),
            revoked,
            cover(1, Cover::UrlPrefix, 40),
        ];
        let captures = [capture(1, 10, Verdict::NotReserved, None)];
        // At 39 nothing is in force yet (entry 4 is revoked).
        assert_eq!(decide(&captures, &covers, 39).verdict, Verdict::NotReserved);
        let at_40 = decide(&captures, &covers, 40);
        assert!(at_40.reserved());
        assert_eq!(at_40.since, Some(40));
        assert_eq!(
            at_40
                .registry_entries()
                .map(|c| c.entry_id)
                .collect::<Vec<_>>(),
            vec![1]
        );
        let at_100 = decide(&captures, &covers, 100);
        assert_eq!(
            at_100
                .registry_entries()
                .map(|c| c.entry_id)
                .collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(at_100.since, Some(40));
    }

    #[test]
    fn near_duplicate_work_matches_need_the_same_sketch_spec() {
        let near = cover(5, Cover::WorkNear { jaccard: 0.9 }, 0);
        assert!(decide(&[], std::slice::from_ref(&near), 1).reserved());
        let mut other_spec = near.clone();
        other_spec.sketch_spec = "norm=1;shingle=5;k=128;t=0.8;b=9;r=13;seed=1".into();
        assert!(!decide(&[], std::slice::from_ref(&other_spec), 1).reserved());
        // Exact work matches do not compare signatures: the spec does not matter.
        let mut exact = other_spec.clone();
        exact.cover = Cover::WorkExact;
        assert!(decide(&[], &[exact], 1).reserved());
        // Unknown specs (old entries, old indexes) are not refused.
        let mut unknown = other_spec;
        unknown.sketch_spec.clear();
        assert!(decide(&[], &[unknown], 1).reserved());
    }

    #[test]
    fn crawl_signals_come_before_registry_entries_and_since_is_the_earliest() {
        let r = decide(
            &[capture(1, 500, Verdict::Reserved, Some("robots_txt"))],
            &[cover(3, Cover::Domain, 200)],
            1_000,
        );
        assert_eq!(r.since, Some(200));
        assert!(matches!(r.by[0], Reason::CrawlSignal { since: 500, .. }));
        assert!(matches!(&r.by[1], Reason::Registry(c) if c.entry_id == 3));
        assert!(r.crawl_signal().is_some());
    }
}
