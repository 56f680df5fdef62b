//! `RegistryReadService`, the registry writer's read API for index servers
//! (`provindex registry-server`): the entries covering a URL or a content,
//! found with [`Registry::covering`] / [`Registry::covering_content`] exactly
//! as a local [`crate::RegistryCheck`] finds them, so a replica consulting the
//! service answers CheckOptOut like a server holding the registry itself.
//! Also the proto ↔ [`RegistryCover`] conversion both ends share.

use std::sync::Arc;

use provindex_index::registry::{CoverQuery, registered_domain_of_surt};
use provindex_index::{IndexReader, Registry};
use provindex_policy::{Cover, RegistryCover};
use provindex_proto::v1::{
    self as pb, CoversForContentRequest, CoversForUrlRequest, CoversResponse,
    registry_read_service_server::RegistryReadService,
};
use tonic::{Request, Response, Status};

use crate::ApiError;

/// Captures of one content a request may carry (CheckOptOut examines at most
/// this many, `checkoptout::MAX_CAPTURES_CHECKED`).
pub const MAX_CAPTURE_KEYS: usize = crate::checkoptout::MAX_CAPTURES_CHECKED;

/// Entries covering one URL, given with its SURT key: its registered domain
/// (from the URL, else from the SURT key) and URL-prefix entries.
pub(crate) fn url_covers(
    registry: &Registry,
    url: &str,
    surt: &str,
) -> Result<Vec<RegistryCover>, ApiError> {
    let domain = provindex_signals::surt(url)
        .ok()
        .and_then(|s| s.registered_domain)
        .or_else(|| registered_domain_of_surt(surt));
    Ok(registry
        .covering(&CoverQuery {
            surt_key: Some(surt),
            registered_domain: domain.as_deref(),
            ..CoverQuery::default()
        })?
        .iter()
        .map(|c| c.to_policy())
        .collect())
}

/// Entries covering a content: by id and MinHash `signature` (made with the
/// index's sketch spec), and by its captures' (SURT key, registered domain).
pub(crate) fn content_covers(
    registry: &Registry,
    content_id: u128,
    signature: Option<&[u32]>,
    captures: &[(&str, &str)],
) -> Result<Vec<RegistryCover>, ApiError> {
    Ok(registry
        .covering_content(content_id, signature, captures)?
        .iter()
        .map(|c| c.to_policy())
        .collect())
}

/// `content_id`'s signature in `index` (`None` when its text had none);
/// FAILED_PRECONDITION when the index lacks the content: the asking server
/// serves another index.
fn signature_in(index: &IndexReader, content_id: u128) -> Result<Option<Vec<u32>>, ApiError> {
    if let Some(signature) = index.signature(content_id)? {
        return Ok(Some(signature));
    }
    if index.content(content_id)?.is_none() {
        return Err(ApiError::FailedPrecondition(format!(
            "content {content_id:032x} is not in the registry service's index (digest {}): \
             the index servers and the registry service must serve one index",
            index.manifest().digest
        )));
    }
    Ok(None)
}

/// A cover as sent over the wire.
pub(crate) fn cover_to_proto(cover: &RegistryCover) -> pb::RegistryCover {
    let (how, jaccard) = match cover.cover {
        Cover::Domain => ("domain", 0.0),
        Cover::UrlPrefix => ("url_prefix", 0.0),
        Cover::Content => ("content", 0.0),
        Cover::WorkExact => ("work_exact", 0.0),
        Cover::WorkNear { jaccard } => ("work_near", jaccard),
    };
    pb::RegistryCover {
        entry_id: cover.entry_id,
        rightholder: cover.rightholder.clone(),
        scope_kind: cover.scope_kind.clone(),
        scope_value: cover.scope_value.clone(),
        cover: how.to_owned(),
        jaccard,
        effective_from: cover.effective_from,
        revoked_at: cover.revoked_at,
        sketch_spec: cover.sketch_spec.clone(),
    }
}

/// A cover as received; an unknown `cover` kind is the registry server's
/// fault (a newer server than this client), named in the error.
pub(crate) fn cover_from_proto(cover: pb::RegistryCover) -> Result<RegistryCover, String> {
    let how = match cover.cover.as_str() {
        "domain" => Cover::Domain,
        "url_prefix" => Cover::UrlPrefix,
        "content" => Cover::Content,
        "work_exact" => Cover::WorkExact,
        "work_near" if cover.jaccard.is_finite() => Cover::WorkNear {
            jaccard: cover.jaccard,
        },
        other => {
            return Err(format!(
                "entry {}: unknown cover kind {:?} (jaccard {})",
                cover.entry_id, other, cover.jaccard
            ));
        }
    };
    Ok(RegistryCover {
        entry_id: cover.entry_id,
        rightholder: cover.rightholder,
        scope_kind: cover.scope_kind,
        scope_value: cover.scope_value,
        cover: how,
        effective_from: cover.effective_from,
        revoked_at: cover.revoked_at,
        sketch_spec: cover.sketch_spec,
    })
}

/// The read service over the one writable registry.
#[derive(Clone)]
pub struct RegistryReadApi {
    registry: Arc<Registry>,
    /// The index the entries apply to: the signatures of contents a
    /// partition server does not hold (`signature_from_index`).
    index: Arc<IndexReader>,
}

impl RegistryReadApi {
    pub fn new(registry: Arc<Registry>, index: Arc<IndexReader>) -> Self {
        Self { registry, index }
    }

    /// Runs a registry look-up off the async workers (it takes the
    /// registry's read lock).
    async fn blocking<F>(&self, work: F) -> Result<Response<CoversResponse>, Status>
    where
        F: FnOnce(&Registry) -> Result<Vec<RegistryCover>, ApiError> + Send + 'static,
    {
        let registry = Arc::clone(&self.registry);
        let (covers, entries) = tokio::task::spawn_blocking(move || {
            work(&registry).map(|covers| (covers, registry.len() as u64))
        })
        .await
        .map_err(|join| ApiError::Internal(format!("registry task failed: {join}")))??;
        Ok(Response::new(CoversResponse {
            covers: covers.iter().map(cover_to_proto).collect(),
            registry_entries: entries,
        }))
    }
}

#[tonic::async_trait]
impl RegistryReadService for RegistryReadApi {
    async fn covers_for_url(
        &self,
        request: Request<CoversForUrlRequest>,
    ) -> Result<Response<CoversResponse>, Status> {
        let request = request.into_inner();
        if request.surt.is_empty() && request.url.trim().is_empty() {
            return Err(ApiError::invalid("url", "is empty (and so is surt)").into());
        }
        self.blocking(move |registry| url_covers(registry, &request.url, &request.surt))
            .await
    }

    async fn covers_for_content(
        &self,
        request: Request<CoversForContentRequest>,
    ) -> Result<Response<CoversResponse>, Status> {
        let request = request.into_inner();
        let content_id = crate::convert::hex_u128(&request.content_id)
            .filter(|_| request.content_id.len() == 32)
            .ok_or_else(|| {
                ApiError::invalid(
                    "content_id",
                    format!("{} is not 32 hex digits", crate::echo(&request.content_id)),
                )
            })?;
        if request.captures.len() > MAX_CAPTURE_KEYS {
            return Err(ApiError::invalid(
                "captures",
                format!(
                    "{} captures, more than {MAX_CAPTURE_KEYS}",
                    request.captures.len()
                ),
            )
            .into());
        }
        let index = request
            .signature_from_index
            .then(|| Arc::clone(&self.index));
        self.blocking(move |registry| {
            let keys: Vec<(&str, &str)> = request
                .captures
                .iter()
                .map(|c| (c.surt.as_str(), c.registered_domain.as_str()))
                .collect();
            let signature = match &index {
                Some(index) => signature_in(index, content_id)?,
                None => Some(request.signature),
            };
            let signature = signature.as_deref().filter(|s| !s.is_empty());
            content_covers(registry, content_id, signature, &keys)
        })
        .await
    }
}

/// Why the registry service answers LedgerService's calls other than Lineage
/// UNIMPLEMENTED.
const LINEAGE_ONLY: &str = "the registry service answers LedgerService.Lineage only: ask the \
     index servers (or their router) for the signed manifest and proofs";

/// `provindex registry-server`: OptOutService (the one writer), the
/// RegistryReadService index servers consult, AuditService (the registry's
/// labels, complaints, claims and mandates, and FindPersonalData with the
/// PII key), ReportService and LedgerService.Lineage (routers forward those
/// calls here), health
/// and reflection, with `config`'s limits, TLS and tokens,
/// until `shutdown` resolves. `index` (the whole index) gives work
/// registrations their sketch spec, content registrations their captures
/// (for a rightholder's granted scopes), and the audit calls what they
/// look up (a complaint's target, a claim's captures, a label's sample).
pub async fn serve_registry(
    listener: tokio::net::TcpListener,
    registry: Arc<Registry>,
    index: Arc<provindex_index::IndexReader>,
    config: crate::ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use crate::conn::{Tracked, guarded_incoming};
    use crate::metrics::Metered;
    use provindex_proto::v1::audit_service_server::AuditServiceServer;
    use provindex_proto::v1::ledger_service_server::LedgerServiceServer;
    use provindex_proto::v1::opt_out_service_server::OptOutServiceServer;
    use provindex_proto::v1::registry_read_service_server::RegistryReadServiceServer;
    use provindex_proto::v1::report_service_server::ReportServiceServer;

    let opt_out = OptOutServiceServer::new(crate::OptOutApi::new(
        Arc::clone(&registry),
        Arc::clone(&index),
        config.auth.clone(),
    )?)
    .max_decoding_message_size(config.max_message_bytes)
    .max_encoding_message_size(config.max_message_bytes);
    // AuditService's registry calls (labels, rates, complaints, claims,
    // mandates) and FindPersonalData (with `--pii-key`) answered here, over
    // the registry and the whole index it applies to, exactly as `serve
    // --registry`: routers forward them (`router --registry-url`), so their
    // state has this one writer.
    let audit = crate::auth::ReadGated::new(
        AuditServiceServer::new(
            crate::AuditApi::new(
                Arc::clone(&index),
                Some(Arc::clone(&registry)),
                config.auth.clone(),
                config.pii_key.clone(),
            )
            .with_complaint_due_days(config.complaint_due_days),
        )
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes),
        config.auth.clone(),
    );
    // The reports walk the whole index and the export consults the
    // registry: routers forward them here too.
    let report = crate::auth::ReadGated::new(
        ReportServiceServer::new(crate::ReportApi::new(
            Arc::clone(&index),
            Some(Arc::clone(&registry)),
            config.auth.clone(),
        ))
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes),
        config.auth.clone(),
    );
    // Lineage reads the registry's lineage log (the exports forwarded here
    // recorded it) and the whole index: routers forward it here too. The
    // proofs are the index servers'.
    let lineage = crate::auth::ReadGated::new(
        LedgerServiceServer::new(
            crate::LedgerApi::lineage_only(Arc::clone(&index), LINEAGE_ONLY)
                .with_registry(Some(Arc::clone(&registry))),
        )
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes),
        config.auth.clone(),
    );
    let read = RegistryReadServiceServer::new(RegistryReadApi::new(
        Arc::clone(&registry),
        Arc::clone(&index),
    ))
    .max_decoding_message_size(config.max_message_bytes)
    .max_encoding_message_size(config.max_message_bytes);
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<OptOutServiceServer<crate::OptOutApi>>()
        .await;
    health_reporter
        .set_serving::<RegistryReadServiceServer<RegistryReadApi>>()
        .await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(provindex_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &config.tls {
        builder = builder.tls_config(tls.server_config())?;
    }
    builder
        .timeout(config.request_timeout)
        .concurrency_limit_per_connection(config.concurrency_per_connection)
        .http2_keepalive_interval(config.http2_keepalive_interval)
        .http2_keepalive_timeout(Some(config.http2_keepalive_timeout))
        .add_service(Tracked::new(Metered::new(
            health_service,
            config.metrics.clone(),
        )))
        .add_service(Tracked::new(Metered::new(
            reflection().build_v1()?,
            config.metrics.clone(),
        )))
        .add_service(Tracked::new(Metered::new(
            reflection().build_v1alpha()?,
            config.metrics.clone(),
        )))
        .add_service(Tracked::new(Metered::new(opt_out, config.metrics.clone())))
        .add_service(Tracked::new(Metered::new(read, config.metrics.clone())))
        .add_service(Tracked::new(Metered::new(audit, config.metrics.clone())))
        .add_service(Tracked::new(Metered::new(report, config.metrics.clone())))
        .add_service(Tracked::new(Metered::new(lineage, config.metrics.clone())))
        .serve_with_incoming_shutdown(guarded_incoming(listener, config.connections), shutdown)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_survive_the_wire() {
        for (cover, revoked_at) in [
            (Cover::Domain, None),
            (Cover::UrlPrefix, Some(5)),
            (Cover::Content, None),
            (Cover::WorkExact, None),
            (Cover::WorkNear { jaccard: 0.875 }, None),
        ] {
            let original = RegistryCover {
                entry_id: 7,
                rightholder: "Crown".into(),
                scope_kind: "work".into(),
                scope_value: "ab".into(),
                cover,
                effective_from: 100,
                revoked_at,
                sketch_spec: "v2".into(),
            };
            let back = cover_from_proto(cover_to_proto(&original)).expect("known kind");
            assert_eq!(format!("{back:?}"), format!("{original:?}"));
        }
        let unknown = pb::RegistryCover {
            entry_id: 3,
            cover: "galaxy".into(),
            ..Default::default()
        };
        let error = cover_from_proto(unknown).expect_err("unknown kind");
        assert!(
            error.contains("entry 3") && error.contains("galaxy"),
            "{error}"
        );
    }
}
