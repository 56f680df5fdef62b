//! Complaints (issue 19; TC260-003's complaint channel, the GPAI Code of
//! Practice's complaint mechanism): what may be complained about, the
//! states a complaint goes through, when it is due, who may see and review
//! it, and which registry entry upholding it creates.
//!
//! received → under_review → upheld | rejected. Upholding or rejecting needs
//! a review started; nothing follows a decision.

use crate::authorization::{Denied, Principal, Role};

/// Days from receipt by which a complaint is to be decided, unless the
/// server is configured otherwise.
pub const DEFAULT_DUE_DAYS: u32 = 15;

/// What a complaint is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplaintKind {
    Copyright,
    UnlawfulContent,
    PersonalInformation,
}

impl ComplaintKind {
    pub const ALL: [ComplaintKind; 3] = [
        ComplaintKind::Copyright,
        ComplaintKind::UnlawfulContent,
        ComplaintKind::PersonalInformation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintKind::Copyright => "copyright",
            ComplaintKind::UnlawfulContent => "unlawful_content",
            ComplaintKind::PersonalInformation => "personal_information",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Where a complaint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplaintState {
    Received,
    UnderReview,
    Upheld,
    Rejected,
}

impl ComplaintState {
    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintState::Received => "received",
            ComplaintState::UnderReview => "under_review",
            ComplaintState::Upheld => "upheld",
            ComplaintState::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            ComplaintState::Received,
            ComplaintState::UnderReview,
            ComplaintState::Upheld,
            ComplaintState::Rejected,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Upheld or rejected: nothing follows.
    pub fn decided(self) -> bool {
        matches!(self, ComplaintState::Upheld | ComplaintState::Rejected)
    }
}

/// A reviewer's step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStep {
    StartReview,
    Uphold,
    Reject,
}

impl ReviewStep {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStep::StartReview => "start_review",
            ReviewStep::Uphold => "uphold",
            ReviewStep::Reject => "reject",
        }
    }
}

/// The state a step leads to from `state`, or why it may not be taken
/// (FAILED_PRECONDITION; `id` names the complaint in the message).
pub fn transition(
    id: u64,
    state: ComplaintState,
    step: ReviewStep,
) -> Result<ComplaintState, String> {
    use ComplaintState::*;
    match (state, step) {
        (Received, ReviewStep::StartReview) => Ok(UnderReview),
        (UnderReview, ReviewStep::Uphold) => Ok(Upheld),
        (UnderReview, ReviewStep::Reject) => Ok(Rejected),
        (UnderReview, ReviewStep::StartReview) => {
            Err(format!("complaint {id} is already under review"))
        }
        (Received, _) => Err(format!(
            "complaint {id} is received, not under review: start_review before deciding it"
        )),
        (decided, _) => Err(format!(
            "complaint {id} was already {}: a decided complaint cannot {}",
            decided.as_str(),
            step.as_str()
        )),
    }
}

/// When a complaint received at `filed_at` (unix seconds) is due.
pub fn due_at(filed_at: i64, due_days: u32) -> i64 {
    filed_at.saturating_add(i64::from(due_days) * 86_400)
}

/// Undecided after its due time.
pub fn overdue(state: ComplaintState, due_at: i64, now: i64) -> bool {
    !state.decided() && now > due_at
}

/// What a complaint names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    ContentId,
    Url,
    WorkText,
}

/// The registry entry upholding a complaint creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// A rightholder's opt-out of the content (copyright, content or URL).
    ContentOptOut,
    /// A rightholder's opt-out of the work and its near-duplicates
    /// (copyright, work text).
    WorkOptOut,
    /// An erasure of the content (personal information; unlawful content
    /// when the reviewer removes the content only).
    ContentErasure,
    /// A source block of the registered domain / host / input object of the
    /// content's earliest capture (unlawful content).
    BlockDomain,
    BlockHost,
    BlockInput,
}

impl Remedy {
    pub fn as_str(self) -> &'static str {
        match self {
            Remedy::ContentOptOut => "content_opt_out",
            Remedy::WorkOptOut => "work_opt_out",
            Remedy::ContentErasure => "content_erasure",
            Remedy::BlockDomain => "source_block_domain",
            Remedy::BlockHost => "source_block_host",
            Remedy::BlockInput => "source_block_input",
        }
    }
}

/// The remedy upholding a complaint of `kind` about a `target` creates;
/// `requested` is the reviewer's choice (empty: the default). Copyright →
/// an opt-out of the work or content; personal information → an erasure;
/// unlawful content → as the reviewer gives it (`content` erasure,
/// `source_block_domain`, `source_block_host`, `source_block_input`),
/// `content` by default.
pub fn remedy(kind: ComplaintKind, target: TargetKind, requested: &str) -> Result<Remedy, Denied> {
    let invalid = |reason: String| Denied::Invalid {
        field: "remedy",
        reason,
    };
    match kind {
        ComplaintKind::Copyright | ComplaintKind::PersonalInformation if !requested.is_empty() => {
            Err(invalid(format!(
                "{requested:?}: a {} complaint's remedy is fixed ({}); give a remedy only for unlawful_content",
                kind.as_str(),
                if kind == ComplaintKind::Copyright {
                    "an opt-out"
                } else {
                    "an erasure"
                }
            )))
        }
        ComplaintKind::Copyright if target == TargetKind::WorkText => Ok(Remedy::WorkOptOut),
        ComplaintKind::Copyright => Ok(Remedy::ContentOptOut),
        ComplaintKind::PersonalInformation => Ok(Remedy::ContentErasure),
        ComplaintKind::UnlawfulContent => match requested {
            "" | "content" => Ok(Remedy::ContentErasure),
            "source_block_domain" => Ok(Remedy::BlockDomain),
            "source_block_host" => Ok(Remedy::BlockHost),
            "source_block_input" => Ok(Remedy::BlockInput),
            other => Err(invalid(format!(
                "{other:?} is not one of content, source_block_domain, source_block_host, source_block_input"
            ))),
        },
    }
}

/// Anyone authenticated may file a complaint (readers included: the public).
/// A complaint is seen by its complainant and by admins.
pub fn may_read_complaint(principal: &Principal, id: u64, complainant: &str) -> Result<(), Denied> {
    if principal.role == Role::Admin || principal.name == complainant {
        return Ok(());
    }
    Err(Denied::Permission(format!(
        "complaint {id} was filed by another complainant; {} may read only its own",
        principal.name
    )))
}

/// Reviewing complaints is the operator's: it needs the admin role (the
/// reviewers' role in the auth configuration).
pub fn may_review(principal: &Principal) -> Result<(), Denied> {
    if principal.role != Role::Admin {
        return Err(Denied::Permission(format!(
            "{} ({}) may not review complaints: ReviewComplaint needs the admin (reviewer) role",
            principal.name,
            principal.role.as_str()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_move_forward_only_through_a_review() {
        use ComplaintState::*;
        assert_eq!(
            transition(1, Received, ReviewStep::StartReview),
            Ok(UnderReview)
        );
        assert_eq!(transition(1, UnderReview, ReviewStep::Uphold), Ok(Upheld));
        assert_eq!(transition(1, UnderReview, ReviewStep::Reject), Ok(Rejected));
        let early = transition(4, Received, ReviewStep::Uphold).unwrap_err();
        assert!(early.contains("complaint 4 is received"), "{early}");
        let twice = transition(4, UnderReview, ReviewStep::StartReview).unwrap_err();
        assert!(twice.contains("already under review"), "{twice}");
        for decided in [Upheld, Rejected] {
            for step in [
                ReviewStep::StartReview,
                ReviewStep::Uphold,
                ReviewStep::Reject,
            ] {
                let error = transition(9, decided, step).unwrap_err();
                assert!(error.contains(decided.as_str()), "{error}");
            }
        }
        assert_eq!(ComplaintState::parse("under_review"), Some(UnderReview));
        assert_eq!(ComplaintState::parse("open"), None);
    }

    #[test]
    fn due_dates_and_overdue() {
        assert_eq!(due_at(1_000, DEFAULT_DUE_DAYS), 1_000 + 15 * 86_400);
        assert_eq!(due_at(i64::MAX - 1, 1), i64::MAX);
        assert!(!overdue(ComplaintState::Received, 100, 100));
        assert!(overdue(ComplaintState::UnderReview, 100, 101));
        assert!(!overdue(ComplaintState::Rejected, 100, 101));
    }

    #[test]
    fn remedies_follow_the_kind() {
        use ComplaintKind::*;
        assert_eq!(
            remedy(Copyright, TargetKind::WorkText, ""),
            Ok(Remedy::WorkOptOut)
        );
        assert_eq!(
            remedy(Copyright, TargetKind::Url, ""),
            Ok(Remedy::ContentOptOut)
        );
        assert_eq!(
            remedy(PersonalInformation, TargetKind::ContentId, ""),
            Ok(Remedy::ContentErasure)
        );
        assert_eq!(
            remedy(UnlawfulContent, TargetKind::Url, "source_block_host"),
            Ok(Remedy::BlockHost)
        );
        assert_eq!(
            remedy(UnlawfulContent, TargetKind::Url, ""),
            Ok(Remedy::ContentErasure)
        );
        assert!(matches!(
            remedy(UnlawfulContent, TargetKind::Url, "burn"),
            Err(Denied::Invalid {
                field: "remedy",
                ..
            })
        ));
        assert!(matches!(
            remedy(Copyright, TargetKind::Url, "source_block_host"),
            Err(Denied::Invalid {
                field: "remedy",
                ..
            })
        ));
        assert_eq!(ComplaintKind::parse("copyright"), Some(Copyright));
        assert_eq!(ComplaintKind::parse("spam"), None);
    }

    #[test]
    fn complainants_read_their_own_and_admins_review() {
        let who = |name: &str, role| Principal {
            name: name.into(),
            role,
            grants: Vec::new(),
        };
        assert!(may_read_complaint(&who("ann", Role::Reader), 1, "ann").is_ok());
        assert!(may_read_complaint(&who("ops", Role::Admin), 1, "ann").is_ok());
        assert!(matches!(
            may_read_complaint(&who("bob", Role::Reader), 1, "ann"),
            Err(Denied::Permission(_))
        ));
        assert!(may_review(&who("ops", Role::Admin)).is_ok());
        assert!(may_review(&who("ann", Role::Rightholder)).is_err());
    }
}
