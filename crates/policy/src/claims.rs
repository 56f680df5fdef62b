//! Claims (issue 19): a rightholder — or a collective management
//! organisation (CMO) for a member whose mandate it holds — claims content
//! for payment while leaving it in the training data. One content has at
//! most one claiming rightholder: a claim overlapping another rightholder's
//! is refused, so the compensation statement never has to split a claimed
//! content.

use crate::authorization::{Denied, Principal, Role};

/// What a claim covers (canonical, as the registry stores opt-out scopes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimScope {
    /// A registered domain (`example.org`): every capture on it.
    Domain(String),
    /// A SURT prefix (`org,example)/docs`), at path-segment boundaries.
    UrlPrefix(String),
    /// A content by id.
    Content(u128),
    /// A work: the content with its normalized text (exact).
    Work(u128),
}

impl ClaimScope {
    pub fn kind(&self) -> &'static str {
        match self {
            ClaimScope::Domain(_) => "domain",
            ClaimScope::UrlPrefix(_) => "url_prefix",
            ClaimScope::Content(_) => "content",
            ClaimScope::Work(_) => "work",
        }
    }

    pub fn value(&self) -> String {
        match self {
            ClaimScope::Domain(text) | ClaimScope::UrlPrefix(text) => text.clone(),
            ClaimScope::Content(id) | ClaimScope::Work(id) => format!("{id:032x}"),
        }
    }
}

/// A claim with what the index knows of it: for content and work claims,
/// the (SURT key, registered domain) of the content's captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimFacts {
    pub id: u64,
    /// The rightholder paid (the CMO's member, for a CMO's claim).
    pub rightholder: String,
    pub scope: ClaimScope,
    pub captures: Vec<(String, String)>,
}

/// The registered domain of a SURT key's host (`org,example,www)/x` →
/// `example.org`).
fn surt_domain(surt: &str) -> Option<String> {
    let host = &surt[..surt.find(')')?];
    let host = host.split(':').next().unwrap_or(host);
    let labels: Vec<&str> = host.split(',').rev().collect();
    provindex_signals::registered_domain(&labels.join("."))
}

fn domain_of(surt: &str, domain: &str) -> Option<String> {
    if domain.is_empty() {
        surt_domain(surt)
    } else {
        Some(domain.to_ascii_lowercase())
    }
}

/// Whether two claims can cover one content: the same scope; a domain and
/// a URL prefix on it; nested URL prefixes; the same content or work id; a
/// content and a domain or URL prefix one of its captures lies in.
pub fn overlaps(a: &ClaimFacts, b: &ClaimFacts) -> bool {
    use ClaimScope::*;
    let captures_in = |facts: &ClaimFacts, scope: &ClaimScope| {
        facts.captures.iter().any(|(surt, domain)| match scope {
            Domain(d) => domain_of(surt, domain).as_deref() == Some(d.as_str()),
            UrlPrefix(p) => provindex_signals::url_prefix_covers(p, surt),
            _ => false,
        })
    };
    match (&a.scope, &b.scope) {
        (Domain(x), Domain(y)) => x == y,
        (Domain(d), UrlPrefix(p)) | (UrlPrefix(p), Domain(d)) => {
            surt_domain(p).as_deref() == Some(d.as_str())
        }
        (UrlPrefix(p), UrlPrefix(q)) => {
            provindex_signals::url_prefix_covers(p, q) || provindex_signals::url_prefix_covers(q, p)
        }
        (Content(x) | Work(x), Content(y) | Work(y)) => x == y,
        (Content(_) | Work(_), scope) => captures_in(a, scope),
        (scope, Content(_) | Work(_)) => captures_in(b, scope),
    }
}

/// Whether a claim covers a content: its id (content and work claims), or
/// one of its captures (SURT key, registered domain; empty = derived from
/// the key) in the claimed domain or URL prefix.
pub fn covers(scope: &ClaimScope, content_id: u128, captures: &[(&str, &str)]) -> bool {
    match scope {
        ClaimScope::Content(id) | ClaimScope::Work(id) => *id == content_id,
        ClaimScope::Domain(d) => captures
            .iter()
            .any(|(surt, domain)| domain_of(surt, domain).as_deref() == Some(d.as_str())),
        ClaimScope::UrlPrefix(p) => captures
            .iter()
            .any(|(surt, _)| provindex_signals::url_prefix_covers(p, surt)),
    }
}

/// Whether two claims cover exactly the same: the same scope, or the same
/// content as a content and as a work.
fn same_coverage(a: &ClaimScope, b: &ClaimScope) -> bool {
    use ClaimScope::*;
    match (a, b) {
        (Content(x) | Work(x), Content(y) | Work(y)) => x == y,
        _ => a == b,
    }
}

/// Refuses `new` when it overlaps another rightholder's claim, or repeats
/// one of its rightholder's (the same coverage); the message names that
/// claim, its rightholder and scope. A rightholder's own claims may
/// otherwise overlap (it is paid once per content all the same).
pub fn check_overlap(new: &ClaimFacts, existing: &[ClaimFacts]) -> Result<(), String> {
    let repeated = existing
        .iter()
        .find(|c| c.rightholder == new.rightholder && same_coverage(&c.scope, &new.scope))
        .map(|same| (same, "repeats", ", which is active"));
    let refused = repeated.or_else(|| {
        existing
            .iter()
            .filter(|c| c.rightholder != new.rightholder)
            .find(|c| overlaps(new, c))
            .map(|other| {
                (
                    other,
                    "overlaps",
                    ": one content is claimed by one rightholder",
                )
            })
    });
    match refused {
        None => Ok(()),
        Some((other, relation, why)) => Err(format!(
            "the {} claim {} {relation} claim {} of {} ({} {}){why}",
            new.scope.kind(),
            new.scope.value(),
            other.id,
            other.rightholder,
            other.scope.kind(),
            other.scope.value()
        )),
    }
}

/// Whom a claim is for: a rightholder claims for itself (`member` empty or
/// its own name); a CMO (a rightholder principal) for a member only when it
/// holds that member's mandate (`mandates`: the members it represents);
/// admins for anyone named.
pub fn claimant(
    principal: &Principal,
    member: &str,
    mandates: &[String],
) -> Result<String, Denied> {
    match principal.role {
        Role::Reader => Err(Denied::Permission(format!(
            "{} is a reader: readers cannot claim content",
            principal.name
        ))),
        Role::Admin if member.is_empty() => Err(Denied::Invalid {
            field: "member",
            reason: "is required (the rightholder the claim pays)".into(),
        }),
        Role::Admin => Ok(member.to_owned()),
        Role::Rightholder if member.is_empty() || member == principal.name => {
            Ok(principal.name.clone())
        }
        Role::Rightholder if mandates.iter().any(|m| m == member) => Ok(member.to_owned()),
        Role::Rightholder => Err(Denied::Permission(format!(
            "{} holds no mandate from {member:?}: a collective management organisation claims only for members whose mandates are registered",
            principal.name
        ))),
    }
}

/// Who may revoke a claim: an admin, the principal that made it (the
/// rightholder itself, or its CMO), or the rightholder it pays.
pub fn may_revoke(principal: &Principal, claimant: &str, rightholder: &str) -> Result<(), Denied> {
    match principal.role {
        Role::Admin => Ok(()),
        Role::Rightholder if principal.name == claimant || principal.name == rightholder => Ok(()),
        _ => Err(Denied::Permission(format!(
            "{} ({}) may not revoke a claim made by {claimant:?} for {rightholder:?}: only they or an admin may",
            principal.name,
            principal.role.as_str()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_revoke_a_claim() {
        let p = |name: &str, role: Role| Principal {
            name: name.into(),
            role,
            grants: Vec::new(),
        };
        assert!(may_revoke(&p("cmo", Role::Rightholder), "cmo", "member").is_ok());
        assert!(may_revoke(&p("member", Role::Rightholder), "cmo", "member").is_ok());
        assert!(may_revoke(&p("root", Role::Admin), "cmo", "member").is_ok());
        assert!(may_revoke(&p("other", Role::Rightholder), "cmo", "member").is_err());
        assert!(may_revoke(&p("member", Role::Reader), "cmo", "member").is_err());
    }

    fn claim(id: u64, holder: &str, scope: ClaimScope, captures: &[(&str, &str)]) -> ClaimFacts {
        ClaimFacts {
            id,
            rightholder: holder.into(),
            scope,
            captures: captures
                .iter()
                .map(|(s, d)| ((*s).to_owned(), (*d).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn overlapping_scopes() {
        use ClaimScope::*;
        let domain = claim(1, "A", Domain("example.org".into()), &[]);
        let docs = claim(2, "B", UrlPrefix("org,example,www)/docs".into()), &[]);
        let docs_api = claim(3, "B", UrlPrefix("org,example,www)/docs/api".into()), &[]);
        let other = claim(4, "B", UrlPrefix("org,example,www)/docsearch".into()), &[]);
        let content = claim(5, "C", Content(7), &[("org,example,www)/docs/a", "")]);
        let elsewhere = claim(6, "C", Content(8), &[("net,other)/a", "other.net")]);
        let work = claim(7, "D", Work(7), &[]);
        assert!(overlaps(&domain, &docs));
        assert!(overlaps(&docs, &domain));
        assert!(overlaps(&docs, &docs_api));
        assert!(!overlaps(&docs, &other));
        assert!(overlaps(&content, &docs));
        assert!(overlaps(&domain, &content));
        assert!(!overlaps(&elsewhere, &domain));
        assert!(overlaps(&content, &work));
        assert!(!overlaps(&elsewhere, &work));
    }

    #[test]
    fn claims_cover_by_id_and_by_capture() {
        use ClaimScope::*;
        let captures = [
            ("org,example,www)/docs/a", ""),
            ("net,other)/", "other.net"),
        ];
        assert!(covers(&Domain("example.org".into()), 1, &captures));
        assert!(covers(&Domain("other.net".into()), 1, &captures));
        assert!(!covers(&Domain("example.net".into()), 1, &captures));
        assert!(covers(
            &UrlPrefix("org,example,www)/docs".into()),
            1,
            &captures
        ));
        assert!(!covers(
            &UrlPrefix("org,example,www)/doc".into()),
            1,
            &captures
        ));
        assert!(covers(&Content(1), 1, &[]) && !covers(&Work(2), 1, &captures));
    }

    #[test]
    fn another_rightholders_overlap_is_refused_with_its_claim_named() {
        use ClaimScope::*;
        let existing = [
            claim(3, "Press", Domain("example.org".into()), &[]),
            claim(4, "Writers", Content(9), &[]),
        ];
        let mine = claim(0, "Press", UrlPrefix("org,example)/news".into()), &[]);
        assert!(check_overlap(&mine, &existing).is_ok());
        let again = claim(0, "Press", Domain("example.org".into()), &[]);
        let error = check_overlap(&again, &existing).unwrap_err();
        assert!(
            error.contains("repeats claim 3 of Press (domain example.org)"),
            "{error}"
        );
        let as_work = claim(0, "Writers", Work(9), &[]);
        let error = check_overlap(&as_work, &existing).unwrap_err();
        assert!(error.contains("repeats claim 4 of Writers"), "{error}");
        let theirs = claim(0, "Photo", UrlPrefix("org,example)/news".into()), &[]);
        let error = check_overlap(&theirs, &existing).unwrap_err();
        assert!(
            error.contains("claim 3 of Press (domain example.org)"),
            "{error}"
        );
        let free = claim(0, "Photo", Content(10), &[("net,other)/", "other.net")]);
        assert!(check_overlap(&free, &existing).is_ok());
    }

    #[test]
    fn cmos_claim_for_members_with_mandates_only() {
        let who = |name: &str, role| Principal {
            name: name.into(),
            role,
            grants: Vec::new(),
        };
        let cmo = who("CMO", Role::Rightholder);
        let members = ["Ann".to_owned(), "Bo".to_owned()];
        assert_eq!(claimant(&cmo, "Ann", &members), Ok("Ann".into()));
        assert_eq!(claimant(&cmo, "", &members), Ok("CMO".into()));
        match claimant(&cmo, "Cy", &members) {
            Err(Denied::Permission(message)) => assert!(message.contains("no mandate from \"Cy\"")),
            other => panic!("{other:?}"),
        }
        assert!(claimant(&who("x", Role::Reader), "", &[]).is_err());
        assert!(matches!(
            claimant(&who("ops", Role::Admin), "", &[]),
            Err(Denied::Invalid {
                field: "member",
                ..
            })
        ));
    }
}
