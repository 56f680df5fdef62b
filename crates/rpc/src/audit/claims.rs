//! Claims for payment in `AuditService` (issue 19): `ClaimContent` by a
//! rightholder for itself or by a collective management organisation for a
//! member whose mandate an admin recorded (`RegisterMandate`). The scope is
//! canonicalized and authorized exactly as an opt-out's
//! ([`crate::OptOutApi`]); who is paid and the one-claimant-per-content rule
//! are [`provindex_policy::claims`]'s, checked by the registry under its
//! writer lock.

use std::sync::Arc;

use provindex_index::registry::{Actor, CaptureKey, ClaimRecord, RegistryError, Scope};
use provindex_index::{IndexReader, Registry};
use provindex_policy::authorization::{self, Role};
use provindex_policy::claims;
use provindex_proto::v1 as pb;
use serde_json::json;

use super::AuditApi;
use crate::ApiError;
use crate::auth::Principal;

/// Longest evidence note or name, in bytes (as OptOutService).
const MAX_NOTE_BYTES: usize = 8192;
const MAX_NAME_BYTES: usize = 256;
/// Captures of a claimed content recorded for the overlap rule.
const MAX_CAPTURES: usize = 10_000;

fn actor(principal: &Principal) -> Actor {
    Actor {
        name: principal.name.clone(),
        role: principal.role.as_str().into(),
    }
}

/// (SURT key, registered domain) of a content's captures.
fn capture_keys(index: &IndexReader, content_id: u128) -> Result<Vec<CaptureKey>, ApiError> {
    let (captures, _) = index.content_captures(content_id, None, MAX_CAPTURES)?;
    Ok(captures
        .into_iter()
        .map(|(_, capture)| CaptureKey {
            surt: capture.surt,
            registered_domain: capture.registered_domain,
        })
        .collect())
}

fn to_proto(claim: &ClaimRecord) -> pb::Claim {
    pb::Claim {
        id: claim.id.to_string(),
        rightholder: claim.rightholder.clone(),
        claimant: claim.claimant.clone(),
        scope_kind: claim.scope_kind.clone(),
        scope_key: claim.scope_value.clone(),
        evidence: claim.evidence.clone(),
        created_at: claim.created_at,
        revoked_at: claim.revoked_at.unwrap_or(0),
        revocation_reason: claim.revocation_reason.clone(),
    }
}

fn bounded(field: &'static str, text: &str, max: usize) -> Result<(), ApiError> {
    if text.len() > max {
        return Err(ApiError::invalid(field, format!("longer than {max} bytes")));
    }
    Ok(())
}

impl AuditApi {
    pub(super) async fn claim_content(
        &self,
        principal: &Principal,
        request: pb::ClaimContentRequest,
    ) -> Result<pb::Claim, ApiError> {
        let registry = self.registry()?;
        bounded("member", &request.member, MAX_NAME_BYTES)?;
        bounded("evidence", &request.evidence, MAX_NOTE_BYTES)?;
        if request.evidence.trim().is_empty() {
            return Err(ApiError::invalid(
                "evidence",
                "is required (the licence or mandate the claim rests on)",
            ));
        }
        let member = request.member.trim();
        let mandates = registry.mandates_of(&principal.name)?;
        let rightholder = claims::claimant(principal, member, &mandates)?;
        let optouts = crate::OptOutApi::new(
            Arc::clone(&registry),
            Arc::clone(&self.index),
            self.auth.clone(),
        )
        .map_err(ApiError::FailedPrecondition)?;
        let canonical = optouts.canonical_scope(request.scope.as_ref())?;
        let (kind, value, content) = match &canonical.scope {
            Scope::Domain(d) => ("domain", d.clone(), None),
            Scope::UrlPrefix(p) => ("url_prefix", p.clone(), None),
            Scope::Content(id) => ("content", format!("{id:032x}"), Some(*id)),
            Scope::Work(id) => ("work", format!("{id:032x}"), Some(*id)),
            _ => {
                return Err(ApiError::invalid(
                    "scope",
                    "a claim covers a domain, url_prefix, content_id or work_text",
                ));
            }
        };
        optouts.authorize(principal, &canonical).await?;
        let captures = match content {
            Some(id) => self.blocking(move |index| capture_keys(index, id)).await?,
            None => Vec::new(),
        };
        let claim = ClaimRecord {
            id: 0,
            rightholder,
            claimant: principal.name.clone(),
            scope_kind: kind.into(),
            scope_value: value,
            captures,
            evidence: request.evidence.clone(),
            created_at: 0,
            created_by: String::new(),
            revoked_at: None,
            ..ClaimRecord::default()
        };
        let who = actor(principal);
        let logged = json!({
            "member": request.member,
            "scope": {kind: claim.scope_value},
            "evidence": request.evidence,
        });
        let now = provindex_disclosure::now();
        let claim =
            tokio::task::spawn_blocking(move || registry.register_claim(claim, &who, now, logged))
                .await
                .map_err(|join| ApiError::Internal(format!("claim task failed: {join}")))??;
        tracing::info!(id = claim.id, rightholder = claim.rightholder, claimant = %principal.name, "content claimed");
        Ok(to_proto(&claim))
    }

    /// The active claims covering an indexed content (32 hex characters; by
    /// id, and by its captures' SURT keys and registered domains), as the
    /// compensation statement finds them; none on a server without a registry.
    pub fn claims_covering(&self, content_id: &str) -> Result<Vec<pb::Claim>, ApiError> {
        let content_id = crate::provenance::parse_id("content_id", content_id)?;
        let Some(registry) = &self.registry else {
            return Ok(Vec::new());
        };
        if !registry.has_claims() {
            return Ok(Vec::new());
        }
        let keys = capture_keys(&self.index, content_id)?;
        let pairs: Vec<(&str, &str)> = keys
            .iter()
            .map(|k| (k.surt.as_str(), k.registered_domain.as_str()))
            .collect();
        Ok(registry
            .claims_covering(content_id, &pairs)?
            .iter()
            .map(to_proto)
            .collect())
    }

    /// RevokeClaim: who may is [`claims::may_revoke`]'s, decided by the
    /// registry under its writer lock with the revocation.
    pub(super) async fn revoke_claim(
        &self,
        principal: &Principal,
        request: pb::RevokeClaimRequest,
    ) -> Result<pb::Claim, ApiError> {
        let registry = self.registry()?;
        let id: u64 = request.id.trim().parse().map_err(|_| {
            ApiError::invalid(
                "id",
                format!("{:?} is not a claim id", crate::echo(&request.id)),
            )
        })?;
        bounded("reason", &request.reason, MAX_NOTE_BYTES)?;
        if request.reason.trim().is_empty() {
            return Err(ApiError::invalid("reason", "is required"));
        }
        let who = actor(principal);
        let caller = principal.clone();
        let now = provindex_disclosure::now();
        let claim = tokio::task::spawn_blocking(move || {
            registry.revoke_claim(id, &who, request.reason.trim(), now, |claim| {
                claims::may_revoke(&caller, &claim.claimant, &claim.rightholder).map_err(|denied| {
                    match denied {
                        authorization::Denied::Permission(message) => {
                            RegistryError::Denied(message)
                        }
                        authorization::Denied::Invalid { field, reason } => {
                            RegistryError::Denied(format!("{field}: {reason}"))
                        }
                    }
                })
            })
        })
        .await
        .map_err(|join| ApiError::Internal(format!("claim task failed: {join}")))??;
        tracing::info!(id = claim.id, rightholder = claim.rightholder, by = %principal.name, "claim revoked");
        Ok(to_proto(&claim))
    }

    pub(super) async fn register_mandate(
        &self,
        principal: &Principal,
        request: pb::RegisterMandateRequest,
    ) -> Result<String, ApiError> {
        if principal.role != Role::Admin {
            return Err(authorization::Denied::Permission(format!(
                "{} ({}) may not register mandates: RegisterMandate needs the admin role",
                principal.name,
                principal.role.as_str()
            ))
            .into());
        }
        let registry: Arc<Registry> = self.registry()?;
        for (field, text) in [("cmo", &request.cmo), ("member", &request.member)] {
            bounded(field, text, MAX_NAME_BYTES)?;
            if text.trim().is_empty() {
                return Err(ApiError::invalid(field, "is empty"));
            }
        }
        bounded("evidence", &request.evidence, MAX_NOTE_BYTES)?;
        let who = actor(principal);
        let now = provindex_disclosure::now();
        let mandate = tokio::task::spawn_blocking(move || {
            registry.register_mandate(
                request.cmo.trim(),
                request.member.trim(),
                &request.evidence,
                &who,
                now,
            )
        })
        .await
        .map_err(|join| ApiError::Internal(format!("mandate task failed: {join}")))??;
        Ok(mandate.id.to_string())
    }
}
