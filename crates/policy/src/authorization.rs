//! Who may write which opt-out scope: roles, rightholders' granted scopes and
//! the checks `OptOutService` (register, revoke, list) and `ReportService`
//! make. Pure: the caller authenticates (rpc's `auth`) and gathers what the
//! index knows (the SURT keys of a content's captures).
//!
//! `admin` may do everything; `rightholder` may register and revoke opt-outs
//! within its grants and list its own; `reader` may read but never write. A
//! domain grant covers the domain and all its subdomains; a URL grant every
//! URL under its SURT prefix, up to path-segment boundaries
//! ([`provindex_signals::url_prefix_covers`]).

/// What a principal may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Rightholder,
    Reader,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Rightholder => "rightholder",
            Role::Reader => "reader",
        }
    }
}

/// A scope granted to a rightholder, canonicalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// A host and all its subdomains: `surt` is the domain SURT prefix
    /// (`uk,gov,data` for `data.gov.uk`).
    Domain { given: String, surt: String },
    /// Every URL inside the SURT prefix `surt`, up to segment boundaries
    /// ([`provindex_signals::url_prefix_covers`]).
    UrlPrefix { given: String, surt: String },
}

impl Grant {
    /// Whether a URL with SURT key (or SURT prefix) `key` lies inside this grant.
    pub fn covers_key(&self, key: &str) -> bool {
        match self {
            Grant::Domain { surt, .. } => provindex_signals::domain_key_matches(key, surt),
            Grant::UrlPrefix { surt, .. } => provindex_signals::url_prefix_covers(surt, key),
        }
    }

    /// Whether every capture of the domain with domain SURT prefix
    /// `domain_surt` (e.g. `uk,gov,data`) lies inside this grant.
    pub fn covers_domain(&self, domain_surt: &str) -> bool {
        match self {
            Grant::Domain { surt, .. } => {
                domain_surt == surt
                    || domain_surt
                        .strip_prefix(surt.as_str())
                        .is_some_and(|rest| rest.starts_with(','))
            }
            Grant::UrlPrefix { .. } => false,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub grants: Vec<Grant>,
}

impl Principal {
    /// Whether a URL (SURT key or prefix) is inside the principal's grants.
    /// Admins: always; readers: never.
    pub fn may_cover_url(&self, surt_key: &str) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Reader => false,
            Role::Rightholder => self.grants.iter().any(|g| g.covers_key(surt_key)),
        }
    }

    /// Whether a whole domain (its domain SURT prefix, e.g. `uk,gov,data`) is
    /// inside the principal's grants.
    pub fn may_cover_domain(&self, domain_surt: &str) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Reader => false,
            Role::Rightholder => self.grants.iter().any(|g| g.covers_domain(domain_surt)),
        }
    }

    /// Whether authorizing a content scope needs its captures' SURT keys
    /// (everyone but admins: a content is inside the grants when a capture is).
    pub fn needs_captures_for_content(&self) -> bool {
        self.role != Role::Admin
    }

    /// The granted scopes as written in the configuration.
    pub fn grant_list(&self) -> String {
        self.grants
            .iter()
            .map(|g| match g {
                Grant::Domain { given, .. } | Grant::UrlPrefix { given, .. } => given.as_str(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// PERMISSION_DENIED.
    Permission(String),
    /// INVALID_ARGUMENT naming `field`.
    Invalid { field: &'static str, reason: String },
}

/// The scope a registration asks for, canonicalized by the caller.
#[derive(Debug, Clone, Copy)]
pub enum RequestedScope<'a> {
    /// `domain` as shown in messages, `surt` its domain SURT prefix.
    Domain { domain: &'a str, surt: &'a str },
    /// `shown`: the submitted URL as shown in messages; `surt` its SURT prefix.
    UrlPrefix { shown: &'a str, surt: &'a str },
    /// A content, with the SURT keys of its captures (gathered only when
    /// [`Principal::needs_captures_for_content`]).
    Content {
        content_id: u128,
        capture_surts: &'a [String],
    },
    /// A work text: anyone who may write may register one (with evidence).
    Work,
}

/// Readers never write (`action`: `register`, `revoke`).
pub fn may_write(principal: &Principal, action: &str) -> Result<(), Denied> {
    if principal.role == Role::Reader {
        return Err(Denied::Permission(format!(
            "{} is a reader: readers cannot {action} opt-outs",
            principal.name
        )));
    }
    Ok(())
}

/// The rightholder a registration is for: a rightholder registers only for
/// itself (empty = itself); others must name one. `shown` is the requested
/// name as shown in messages.
pub fn registrant(principal: &Principal, requested: &str, shown: &str) -> Result<String, Denied> {
    match principal.role {
        Role::Rightholder if requested.is_empty() || requested == principal.name => {
            Ok(principal.name.clone())
        }
        Role::Rightholder => Err(Denied::Permission(format!(
            "rightholder: {} may register opt-outs only for itself, not {shown}",
            principal.name
        ))),
        _ if requested.is_empty() => Err(Denied::Invalid {
            field: "rightholder",
            reason: "is required (the rightholder the opt-out is registered for)".into(),
        }),
        _ => Ok(requested.to_owned()),
    }
}

/// Whether the principal may register an opt-out for this scope: domains and
/// URL prefixes inside its grants; a content when one of its captures is.
pub fn authorize_scope(principal: &Principal, scope: RequestedScope<'_>) -> Result<(), Denied> {
    let outside = |what: String| {
        Err(Denied::Permission(format!(
            "{what} is outside the scopes granted to {} ({})",
            principal.name,
            principal.grant_list()
        )))
    };
    match scope {
        RequestedScope::Domain { domain, surt } if !principal.may_cover_domain(surt) => {
            outside(format!("scope.domain: {domain}"))
        }
        RequestedScope::UrlPrefix { shown, surt } if !principal.may_cover_url(surt) => {
            outside(format!("scope.url_prefix: {shown}"))
        }
        RequestedScope::Content {
            content_id,
            capture_surts,
        } if principal.needs_captures_for_content()
            && !capture_surts.iter().any(|s| principal.may_cover_url(s)) =>
        {
            Err(Denied::Permission(format!(
                "scope.content_id: no capture of {content_id:032x} in the index lies in the scopes granted to {} ({})",
                principal.name,
                principal.grant_list()
            )))
        }
        _ => Ok(()),
    }
}

/// A rightholder revokes only its own entries.
pub fn may_revoke(principal: &Principal, entry_id: u64, owner: &str) -> Result<(), Denied> {
    may_write(principal, "revoke")?;
    if principal.role == Role::Rightholder && owner != principal.name {
        return Err(Denied::Permission(format!(
            "opt-out {entry_id} belongs to another rightholder; {} may revoke only its own",
            principal.name
        )));
    }
    Ok(())
}

/// Whose entries a listing shows: a rightholder only its own (empty = its
/// own); others any one rightholder, or all (`None`).
pub fn list_filter(principal: &Principal, requested: &str) -> Result<Option<String>, Denied> {
    match principal.role {
        Role::Rightholder if requested.is_empty() || requested == principal.name => {
            Ok(Some(principal.name.clone()))
        }
        Role::Rightholder => Err(Denied::Permission(format!(
            "rightholder: {} may list only its own opt-outs",
            principal.name
        ))),
        _ if requested.is_empty() => Ok(None),
        _ => Ok(Some(requested.to_owned())),
    }
}

/// Source blocks and erasures (issue 19) need an admin: they are the
/// operator's decisions (an audit's verdict, a data subject's request), and
/// remove contents whoever holds their rights.
pub fn may_remove(principal: &Principal, kind: &str) -> Result<(), Denied> {
    if principal.role != Role::Admin {
        return Err(Denied::Permission(format!(
            "{} ({}) may not register a {kind}: it needs the admin role",
            principal.name,
            principal.role.as_str()
        )));
    }
    Ok(())
}

/// Exports need an admin.
pub fn may_export(principal: &Principal) -> Result<(), Denied> {
    if principal.role != Role::Admin {
        return Err(Denied::Permission(format!(
            "{} ({}) may not export: ExportTrainingManifest needs the admin role",
            principal.name,
            principal.role.as_str()
        )));
    }
    Ok(())
}

/// Audit labels and personal-data look-ups (issue 19) need an admin: the
/// operator's reviewers and data-protection officer, not rightholders or
/// readers (a look-up tells which samples hold a person's identifier).
pub fn may_audit(principal: &Principal, action: &str) -> Result<(), Denied> {
    if principal.role != Role::Admin {
        return Err(Denied::Permission(format!(
            "{} ({}) may not {action}: it needs the admin role",
            principal.name,
            principal.role.as_str()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role, grants: Vec<Grant>) -> Principal {
        Principal {
            name: "Gov".into(),
            role,
            grants,
        }
    }

    fn gov() -> Principal {
        who(
            Role::Rightholder,
            vec![
                Grant::Domain {
                    given: "data.gov.uk".into(),
                    surt: "uk,gov,data".into(),
                },
                Grant::UrlPrefix {
                    given: "https://iana.org/domains/".into(),
                    surt: "org,iana)/domains/".into(),
                },
            ],
        )
    }

    #[test]
    fn scopes_inside_grants_only() {
        let gov = gov();
        let domain =
            |d: &'static str, surt: &'static str| RequestedScope::Domain { domain: d, surt };
        assert!(authorize_scope(&gov, domain("data.gov.uk", "uk,gov,data")).is_ok());
        assert!(authorize_scope(&gov, domain("beta.data.gov.uk", "uk,gov,data,beta")).is_ok());
        assert!(authorize_scope(&gov, domain("gov.uk", "uk,gov")).is_err());
        assert!(authorize_scope(&gov, domain("datab.gov.uk", "uk,gov,datab")).is_err());
        let url = |surt: &'static str| RequestedScope::UrlPrefix { shown: surt, surt };
        assert!(authorize_scope(&gov, url("org,iana)/domains/root")).is_ok());
        assert!(authorize_scope(&gov, url("org,iana)/about")).is_err());
        fn content(capture_surts: &[String]) -> RequestedScope<'_> {
            RequestedScope::Content {
                content_id: 7,
                capture_surts,
            }
        }
        let inside = &["org,iana)/about".to_owned(), "uk,gov,data)/x".to_owned()][..];
        let outside = &["org,iana)/about".to_owned()][..];
        assert!(authorize_scope(&gov, content(inside)).is_ok());
        assert!(authorize_scope(&gov, content(outside)).is_err());
        assert!(authorize_scope(&gov, content(&[])).is_err());
        let admin = who(Role::Admin, vec![]);
        assert!(!admin.needs_captures_for_content());
        assert!(authorize_scope(&admin, content(&[])).is_ok());
        assert!(authorize_scope(&admin, domain("gov.uk", "uk,gov")).is_ok());
        let reader = who(Role::Reader, vec![]);
        assert!(authorize_scope(&reader, domain("gov.uk", "uk,gov")).is_err());
        assert!(authorize_scope(&gov, RequestedScope::Work).is_ok());
    }

    #[test]
    fn who_registers_revokes_and_lists() {
        let gov = gov();
        let admin = who(Role::Admin, vec![]);
        let reader = who(Role::Reader, vec![]);
        assert!(may_write(&reader, "register").is_err());
        assert!(may_write(&gov, "register").is_ok());
        assert_eq!(registrant(&gov, "", "\"\"").as_deref(), Ok("Gov"));
        assert!(matches!(
            registrant(&gov, "Other", "\"Other\""),
            Err(Denied::Permission(_))
        ));
        assert!(matches!(
            registrant(&admin, "", "\"\""),
            Err(Denied::Invalid {
                field: "rightholder",
                ..
            })
        ));
        assert_eq!(registrant(&admin, "Other", "").as_deref(), Ok("Other"));
        assert!(may_revoke(&gov, 1, "Gov").is_ok());
        assert!(may_revoke(&gov, 1, "Other").is_err());
        assert!(may_revoke(&admin, 1, "Other").is_ok());
        assert!(may_revoke(&reader, 1, "Gov").is_err());
        assert_eq!(list_filter(&gov, ""), Ok(Some("Gov".into())));
        assert!(list_filter(&gov, "Other").is_err());
        assert_eq!(list_filter(&reader, ""), Ok(None));
        assert_eq!(list_filter(&admin, "Other"), Ok(Some("Other".into())));
        assert!(may_export(&admin).is_ok() && may_export(&gov).is_err());
    }
}
