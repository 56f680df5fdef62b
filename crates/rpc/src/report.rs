//! `ReportService`: the transparency summary, the compensation statement and
//! the training-manifest export over gRPC, computed by [`provindex_disclosure`]
//! exactly as the `provindex report` / `compensation` / `export` subcommands
//! compute them.
//!
//! Report and statement are reads (behind [`crate::auth::ReadGated`] in the
//! server); the export writes objects and needs an admin token, whatever the
//! read gate says. Export attempts by authenticated callers land in the
//! registry's audit log (action `export`) when the server has a registry.

use std::sync::Arc;

use provindex_corpus::store::CorpusStore;
use provindex_index::registry::{Actor, AuditRecord};
use provindex_index::{IndexReader, Registry};
use provindex_proto::v1 as pb;
use provindex_proto::v1::report_service_server::ReportService;
use serde_json::json;
use tonic::{Request, Response, Status};

use crate::ApiError;
use crate::auth::{Auth, AuthError, Principal};
use provindex_disclosure::{self as disclosure, CompensationTerms, DisclosureError, Sources};

/// The report service over one index (and its registry, when served).
#[derive(Clone)]
pub struct ReportApi {
    index: Arc<IndexReader>,
    registry: Option<Arc<Registry>>,
    auth: Option<Arc<Auth>>,
    store: Arc<CorpusStore>,
}

impl ReportApi {
    /// Must be called inside a tokio runtime (exports use it for their writes).
    pub fn new(
        index: Arc<IndexReader>,
        registry: Option<Arc<Registry>>,
        auth: Option<Arc<Auth>>,
    ) -> Self {
        Self {
            index,
            registry,
            auth,
            store: Arc::new(CorpusStore::with_handle(tokio::runtime::Handle::current())),
        }
    }

    /// Runs a walk over the index off the async workers.
    async fn blocking<T, F>(&self, work: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&IndexReader, Option<&Registry>) -> Result<T, DisclosureError> + Send + 'static,
    {
        let index = Arc::clone(&self.index);
        let registry = self.registry.clone();
        tokio::task::spawn_blocking(move || work(&index, registry.as_deref()))
            .await
            .map_err(|join| ApiError::Internal(format!("report task failed: {join}")))?
            .map_err(|error| ApiError::from(error).into())
    }

    /// The admin behind the request: UNAUTHENTICATED without a known token
    /// (or without an auth configuration), PERMISSION_DENIED for other roles.
    fn admin<T>(&self, request: &Request<T>) -> Result<Arc<Principal>, ApiError> {
        let auth = self
            .auth
            .as_ref()
            .ok_or(AuthError::NotConfigured("ExportTrainingManifest"))?;
        let principal = auth.authenticate(request.metadata())?;
        provindex_policy::authorization::may_export(&principal)?;
        Ok(principal)
    }

    /// Appends an `export` record to the registry's audit log (if any).
    async fn audit(
        &self,
        principal: &Principal,
        request: serde_json::Value,
        outcome: &Result<pb::ExportSummary, Status>,
    ) {
        let Some(registry) = self.registry.clone() else {
            return;
        };
        let (result, message) = match outcome {
            Ok(summary) => (
                "ok".to_owned(),
                format!(
                    "kept {} of {} contents into {}",
                    summary.kept, summary.contents, summary.manifest_uri
                ),
            ),
            Err(status) => (format!("{:?}", status.code()), status.message().to_owned()),
        };
        let record = AuditRecord {
            seq: 0,
            at: disclosure::now(),
            actor: Actor {
                name: principal.name.clone(),
                role: principal.role.as_str().into(),
            },
            action: "export".into(),
            entry_id: None,
            request,
            result,
            message,
        };
        let logged = tokio::task::spawn_blocking(move || registry.audit_rejection(record)).await;
        if !matches!(logged, Ok(Ok(_))) {
            tracing::error!("could not record an export in the audit log");
        }
    }
}

fn validate_output(uri: &str) -> Result<(), ApiError> {
    let field = "output_uri";
    let uri = uri.trim();
    if uri.is_empty() {
        return Err(ApiError::invalid(field, "is empty"));
    }
    if !uri.contains("://") && !uri.starts_with('/') {
        return Err(ApiError::invalid(
            field,
            format!(
                "{:?} is a relative path; give an absolute path, file:///path or s3://bucket/key",
                crate::echo(uri)
            ),
        ));
    }
    if uri.split_once("://").is_some_and(|(scheme, _)| {
        !matches!(scheme.to_ascii_lowercase().as_str(), "file" | "s3" | "s3a")
    }) {
        return Err(ApiError::invalid(
            field,
            format!(
                "{:?}: unsupported scheme (use an absolute path, file:///path or s3://bucket/key)",
                crate::echo(uri)
            ),
        ));
    }
    Ok(())
}

fn report_message(r: disclosure::TransparencyReport) -> pb::TransparencyReport {
    pb::TransparencyReport {
        title: r.title,
        index: r.index,
        index_digest: r.index_digest,
        built_at: r.built_at,
        generated_at: r.generated_at,
        crawls: r.crawls,
        collection_period: Some(pb::CollectionPeriod {
            from: r.collection_period.from,
            to: r.collection_period.to,
            from_utc: r.collection_period.from_utc,
            to_utc: r.collection_period.to_utc,
        }),
        totals: Some(pb::ReportTotals {
            captures: r.totals.captures,
            captures_with_text: r.totals.captures_with_text,
            contents: r.totals.contents,
            keepers: r.totals.keepers,
            tokens_after_exact_dedup: r.totals.tokens_after_exact_dedup,
            registered_domains: r.totals.registered_domains,
        }),
        top_domains: Some(pb::TopDomains {
            rule: r.top_domains.rule,
            count: r.top_domains.count,
            share_of_tokens: r.top_domains.share_of_tokens,
            domains: r
                .top_domains
                .domains
                .into_iter()
                .map(|d| pb::DomainTokens {
                    domain: d.domain,
                    tokens: d.tokens,
                    contents: d.contents,
                    share_of_tokens: d.share_of_tokens,
                })
                .collect(),
        }),
        license_mix: Some(pb::LicenseMix {
            rule: r.license_mix.rule,
            classes: r
                .license_mix
                .classes
                .into_iter()
                .map(|c| pb::LicenseClassShare {
                    class: c.class,
                    contents: c.contents,
                    share: c.share,
                })
                .collect(),
        }),
        reservation_signals: Some(pb::ReservationSignals {
            contents_with_reservation: r.reservation_signals.contents_with_reservation,
            share_of_contents: r.reservation_signals.share_of_contents,
            captures_reserved: r.reservation_signals.captures_reserved,
            by_signal_kind: r.reservation_signals.by_signal_kind.into_iter().collect(),
            honoured: r.reservation_signals.honoured,
            excluded_from_export: r.reservation_signals.excluded_from_export,
        }),
        duplicates: Some(pb::Duplicates {
            captures_with_text: r.duplicates.captures_with_text,
            contents: r.duplicates.contents,
            duplicate_rate: r.duplicates.duplicate_rate,
            rule: r.duplicates.rule,
            near_duplicates: r.duplicates.near_duplicates,
            near_duplicate_contents: r.duplicates.near_duplicate_contents,
            near_duplicate_rate: r.duplicates.near_duplicate_rate,
        }),
        dedup: r.dedup,
        languages: r.languages.into_iter().collect(),
        personal_data: Some(pb::PersonalData {
            contents_with_any: r.personal_data.contents_with_any,
            share_of_contents: r.personal_data.share_of_contents,
            contents_by_kind: r.personal_data.contents_by_kind.into_iter().collect(),
            share_by_kind: r.personal_data.share_by_kind.into_iter().collect(),
            rule: r.personal_data.rule,
        }),
    }
}

fn statement_message(s: disclosure::CompensationStatement) -> pb::CompensationStatement {
    pb::CompensationStatement {
        pool: s.pool,
        from: s.from,
        to: s.to,
        at: s.at,
        contents: s.contents,
        tokens: s.tokens,
        rule: s.rule,
        rightholder_rule: s.rightholder_rule,
        shares: s
            .shares
            .into_iter()
            .map(|d| pb::DomainShare {
                registered_domain: d.registered_domain,
                contents: d.contents,
                tokens: d.tokens,
                share: d.share,
                amount: d.amount,
                amount_minor_units: d.amount_minor_units,
            })
            .collect(),
        rightholder_shares: s
            .rightholder_shares
            .into_iter()
            .map(|r| pb::RightholderShare {
                rightholder: r.rightholder,
                contents: r.contents,
                tokens: r.tokens,
                share: r.share,
                amount: r.amount,
                entry_ids: r.entry_ids,
                claim_ids: r.claim_ids,
                amount_minor_units: r.amount_minor_units,
            })
            .collect(),
        unclaimed: Some(pb::UnclaimedShare {
            contents: s.unclaimed.contents,
            tokens: s.unclaimed.tokens,
            share: s.unclaimed.share,
            amount: s.unclaimed.amount,
            amount_minor_units: s.unclaimed.amount_minor_units,
        }),
        registry_used: s.registry.is_some(),
        pool_minor_units: s.pool_minor_units,
        minor_units_rule: s.minor_units_rule,
    }
}

fn summary_message(s: disclosure::ExportSummary) -> pb::ExportSummary {
    pb::ExportSummary {
        summary_uri: disclosure::summary_uri(&s.manifest),
        manifest_uri: s.manifest,
        exclusions_uri: s.exclusions,
        format: s.format,
        index_digest: s.index_digest,
        manifest_bytes: s.manifest_bytes,
        exclusions_bytes: s.exclusions_bytes,
        at: s.at,
        contents: s.contents,
        kept: s.kept,
        kept_tokens: s.kept_tokens,
        excluded: s.excluded,
        excluded_by_reason: s.excluded_by_reason.into_iter().collect(),
        matched_by_reason: s.matched_by_reason.into_iter().collect(),
        reason_rule: s.reason_rule,
        dedup: s.dedup,
        registry_used: s.registry.is_some(),
    }
}

#[tonic::async_trait]
impl ReportService for ReportApi {
    async fn get_transparency_report(
        &self,
        _request: Request<pb::GetTransparencyReportRequest>,
    ) -> Result<Response<pb::TransparencyReport>, Status> {
        let report = self
            .blocking(|index, _| disclosure::build_report(index))
            .await?;
        Ok(Response::new(report_message(report)))
    }

    async fn get_compensation_statement(
        &self,
        request: Request<pb::GetCompensationStatementRequest>,
    ) -> Result<Response<pb::CompensationStatement>, Status> {
        let request = request.into_inner();
        let terms = CompensationTerms {
            pool: request.pool,
            from: request.from,
            to: request.to,
        };
        terms.validate().map_err(ApiError::from)?;
        let at = request.at.unwrap_or_else(disclosure::now);
        let statement = self
            .blocking(move |reader, registry| {
                disclosure::build_compensation(
                    Sources {
                        reader: reader.into(),
                        registry,
                        at,
                    },
                    terms,
                )
            })
            .await?;
        Ok(Response::new(statement_message(statement)))
    }

    async fn export_training_manifest(
        &self,
        request: Request<pb::ExportTrainingManifestRequest>,
    ) -> Result<Response<pb::ExportSummary>, Status> {
        let principal = self.admin(&request)?;
        let request = request.into_inner();
        let logged = json!({"output_uri": request.output_uri, "at": request.at});
        let outcome = async {
            validate_output(&request.output_uri)?;
            let out = request.output_uri.trim().to_owned();
            // From the name (.parquet, .jsonl.zst, else JSONL).
            let format = None;
            disclosure::export_names(&out, format, "output_uri").map_err(ApiError::from)?;
            disclosure::check_destination(&self.store, &out, "output_uri")
                .await
                .map_err(ApiError::from)?;
            let at = request.at.unwrap_or_else(disclosure::now);
            let store = Arc::clone(&self.store);
            let summary = self
                .blocking(move |reader, registry| {
                    disclosure::build_export(
                        &store,
                        Sources {
                            reader: reader.into(),
                            registry,
                            at,
                        },
                        &out,
                        &disclosure::ExportOptions {
                            format,
                            create_only: true,
                            ..disclosure::ExportOptions::default()
                        },
                        "output_uri",
                    )
                })
                .await?;
            Ok(summary_message(summary))
        }
        .await;
        self.audit(&principal, logged, &outcome).await;
        outcome.map(Response::new)
    }
}
