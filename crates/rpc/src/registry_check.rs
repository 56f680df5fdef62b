//! The opt-out registry behind `CheckOptOut`: [`RegistryCheck`] implements the
//! [`OptOutRegistry`] seam with [`Registry::covering`], so registrations apply
//! to answers about the existing index at once, without a rebuild.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use provindex_index::registry::{CoverQuery, CoverReason, Coverage};
use provindex_index::{IndexReader, Registry};

use crate::ApiError;
use crate::checkoptout::{OptOutRegistry, RegistryEntry};

/// Registry entries in force now, for `CheckOptOut`.
pub struct RegistryCheck {
    registry: Arc<Registry>,
    index: Arc<IndexReader>,
}

impl RegistryCheck {
    pub fn new(registry: Arc<Registry>, index: Arc<IndexReader>) -> Self {
        Self { registry, index }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The registered domain of the host in a SURT key (`uk,gov,data,www2)/x` →
/// `data.gov.uk`); `None` for IP hosts and keys without a host part.
pub fn registered_domain_of_surt(surt: &str) -> Option<String> {
    let host_part = &surt[..surt.find(')')?];
    let host_part = host_part.split(':').next().unwrap_or(host_part);
    let host: Vec<&str> = host_part.split(',').rev().collect();
    provindex_signals::registered_domain(&host.join("."))
}

/// `scope` text of a finding: `domain:data.gov.uk`, `url_prefix:uk,gov,data)/x`,
/// `content:<id>`, `work:<id>` (exact) or `work:<id>~0.86` (near-duplicate,
/// estimated Jaccard).
fn entry(coverage: &Coverage) -> RegistryEntry {
    let kind = coverage.entry.scope.kind().as_str();
    let value = coverage.entry.scope.value();
    let scope = match coverage.reason {
        CoverReason::WorkNear { jaccard } => format!("{kind}:{value}~{jaccard:.2}"),
        _ => format!("{kind}:{value}"),
    };
    RegistryEntry {
        id: coverage.entry.id.to_string(),
        scope,
        effective_from: coverage.entry.effective_from,
    }
}

fn in_force(found: Vec<Coverage>, into: &mut BTreeMap<u64, RegistryEntry>) {
    let now = now();
    for coverage in found {
        if coverage.entry.in_effect_at(now) {
            into.entry(coverage.entry.id)
                .or_insert_with(|| entry(&coverage));
        }
    }
}

impl OptOutRegistry for RegistryCheck {
    fn entries_for_url(&self, url: &str, surt: &str) -> Result<Vec<RegistryEntry>, ApiError> {
        let domain = provindex_signals::surt(url)
            .ok()
            .and_then(|s| s.registered_domain)
            .or_else(|| registered_domain_of_surt(surt));
        let mut out = BTreeMap::new();
        in_force(
            self.registry.covering(&CoverQuery {
                surt_key: Some(surt),
                registered_domain: domain.as_deref(),
                ..CoverQuery::default()
            })?,
            &mut out,
        );
        Ok(out.into_values().collect())
    }

    fn entries_for_content(
        &self,
        content_id: u128,
        capture_surts: &[String],
    ) -> Result<Vec<RegistryEntry>, ApiError> {
        // Work entries also cover near-duplicates: compare with the content's
        // stored MinHash signature (same length = same spec).
        let signature = self
            .index
            .signature(content_id)?
            .and_then(|bytes| provindex_sketch::Signature::from_bytes(&bytes).ok());
        let mut out = BTreeMap::new();
        in_force(
            self.registry.covering(&CoverQuery {
                content_id: Some(content_id),
                signature: signature.as_ref().map(|s| s.0.as_slice()),
                ..CoverQuery::default()
            })?,
            &mut out,
        );
        for surt in capture_surts {
            let domain = registered_domain_of_surt(surt);
            in_force(
                self.registry.covering(&CoverQuery {
                    surt_key: Some(surt),
                    registered_domain: domain.as_deref(),
                    ..CoverQuery::default()
                })?,
                &mut out,
            );
        }
        Ok(out.into_values().collect())
    }
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
}
