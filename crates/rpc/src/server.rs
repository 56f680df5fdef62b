//! The gRPC server: ProvenanceService, OptOutService (with a registry) and
//! ReportService, plus health and reflection, with limits.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use provindex_index::{IndexReader, Registry};
use provindex_proto::v1::audit_service_server::AuditServiceServer;
use provindex_proto::v1::ledger_service_server::LedgerServiceServer;
use provindex_proto::v1::opt_out_service_server::OptOutServiceServer;
use provindex_proto::v1::provenance_service_server::ProvenanceServiceServer;
use provindex_proto::v1::report_service_server::ReportServiceServer;
use tokio::net::TcpListener;
use tonic::transport::Server;

use crate::auth::{Auth, ReadGated, TlsIdentity};
use crate::conn::{ConnectionLimits, Tracked, guarded_incoming};
use crate::ledger::LedgerApi;
use crate::metrics::{Metered, Metrics};
use crate::registry_check::RegistryCheck;
use crate::{AuditApi, OptOutApi, ProvenanceApi, ReportApi};

/// Limits that keep one client from exhausting the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request or response message, in bytes.
    pub max_message_bytes: usize,
    /// Requests running longer than this fail with DEADLINE_EXCEEDED / CANCELLED.
    pub request_timeout: Duration,
    /// Concurrent requests per connection.
    pub concurrency_per_connection: usize,
    /// Connections at once, and how long one may stay without completing the
    /// HTTP/2 handshake or without an open stream.
    pub connections: ConnectionLimits,
    /// HTTP/2 PING this often on every connection (`None`: never) ...
    pub http2_keepalive_interval: Option<Duration>,
    /// ... and close it when the PING is not acknowledged within this.
    pub http2_keepalive_timeout: Duration,
    /// The writable opt-out registry; `None` serves no OptOutService.
    pub registry: Option<Arc<Registry>>,
    /// The registry as a service of its own (`serve --registry-url`), when
    /// `registry` is `None`: CheckOptOut consults it, OptOutService refuses
    /// writes naming it ([`crate::OptOutRedirect`]).
    pub remote_registry: Option<Arc<crate::RemoteRegistry>>,
    /// Bearer tokens and roles; `None`: OptOutService refuses every call
    /// (UNAUTHENTICATED) and reads are open.
    pub auth: Option<Arc<Auth>>,
    /// Serve over TLS with this identity; `None`: plaintext.
    pub tls: Option<TlsIdentity>,
    /// Where request counts and latencies are recorded (`None`: not recorded);
    /// `crate::serve_metrics` exposes them.
    pub metrics: Option<Metrics>,
    /// The HMAC key personal identifiers were hashed with at build time
    /// (`serve --pii-key`); `None`: FindPersonalData is refused.
    pub pii_key: Option<Arc<Vec<u8>>>,
    /// The index's verified ledger (`ledger.json`); `None`: LedgerService
    /// answers Lineage only.
    pub ledger: Option<Arc<provindex_pipeline::ledger::LoadedLedger>>,
    /// Days from receipt by which a complaint is due (`serve --complaint-due-days`).
    pub complaint_due_days: u32,
}

/// Deadline of one call unless configured otherwise (`--request-timeout-secs`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Days from receipt by which a complaint is due unless configured otherwise.
pub const DEFAULT_COMPLAINT_DUE_DAYS: u32 = provindex_policy::complaint::DEFAULT_DUE_DAYS;

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 8 << 20,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            concurrency_per_connection: 256,
            connections: ConnectionLimits::default(),
            // Finds dead peers (vanished NAT entries, half-open TCP) that
            // would otherwise hold a connection slot until the idle timeout.
            http2_keepalive_interval: Some(Duration::from_secs(60)),
            http2_keepalive_timeout: Duration::from_secs(20),
            registry: None,
            remote_registry: None,
            auth: None,
            tls: None,
            metrics: None,
            pii_key: None,
            ledger: None,
            complaint_due_days: DEFAULT_COMPLAINT_DUE_DAYS,
        }
    }
}

/// ProvenanceService over `index`; CheckOptOut consults `registry` (or the
/// registry service) when given.
fn provenance_api(
    index: Arc<IndexReader>,
    registry: Option<&Arc<Registry>>,
    remote: Option<&Arc<crate::RemoteRegistry>>,
) -> ProvenanceApi {
    let api = ProvenanceApi::new(Arc::clone(&index));
    match (registry, remote) {
        (Some(registry), _) => {
            api.with_registry(Arc::new(RegistryCheck::new(Arc::clone(registry), index)))
        }
        (None, Some(remote)) => {
            api.with_registry(Arc::clone(remote) as Arc<dyn crate::OptOutRegistry>)
        }
        (None, None) => api,
    }
}

/// Serves `index` on an already-bound listener until `shutdown` resolves, then
/// drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    index: Arc<IndexReader>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let opt_out = match &config.registry {
        Some(registry) => Some(
            OptOutServiceServer::new(OptOutApi::new(
                Arc::clone(registry),
                Arc::clone(&index),
                config.auth.clone(),
            )?)
            .max_decoding_message_size(config.max_message_bytes)
            .max_encoding_message_size(config.max_message_bytes),
        ),
        None => None,
    };
    let opt_out_redirect = match (&config.registry, &config.remote_registry) {
        (None, Some(remote)) => Some(OptOutServiceServer::new(crate::OptOutRedirect::new(
            remote.url(),
        ))),
        _ => None,
    };
    // Report and statement are reads; ExportTrainingManifest checks for an
    // admin token itself, whatever the read gate says.
    let report = ReadGated::new(
        ReportServiceServer::new(ReportApi::new(
            Arc::clone(&index),
            config.registry.clone(),
            config.auth.clone(),
        ))
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes),
        config.auth.clone(),
    );
    // Lineage needs no ledger; without one the proofs are UNIMPLEMENTED.
    let ledger_api = match &config.ledger {
        Some(ledger) => LedgerApi::new(Arc::clone(ledger), Arc::clone(&index)),
        None => LedgerApi::lineage_only(Arc::clone(&index), crate::ledger::NO_LEDGER),
    };
    let ledger = ReadGated::new(
        LedgerServiceServer::new(ledger_api.with_registry(config.registry.clone()))
            .max_decoding_message_size(config.max_message_bytes)
            .max_encoding_message_size(config.max_message_bytes),
        config.auth.clone(),
    );
    // Samples and rates are reads; RecordLabel and FindPersonalData check
    // for an admin token themselves.
    let audit = ReadGated::new(
        AuditServiceServer::new(
            AuditApi::new(
                Arc::clone(&index),
                config.registry.clone(),
                config.auth.clone(),
                config.pii_key.clone(),
            )
            .with_opt_outs(
                config
                    .remote_registry
                    .clone()
                    .map(|r| r as Arc<dyn crate::OptOutRegistry>),
            )
            .with_complaint_due_days(config.complaint_due_days),
        )
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes),
        config.auth.clone(),
    );
    // One partition covering every chunk, so a router can front replicas
    // of an unpartitioned index (issue 17).
    let partition = {
        let m = index.manifest();
        crate::partition_service::PartitionApi::new(provindex_proto::v1::DescribeResponse {
            index_digest: m.digest.clone(),
            partition_count: 1,
            partitions: vec![0],
            normalization_version: m.normalization_version,
            sketch_spec: m.sketch_spec.clone(),
            format_version: m.format_version,
        })
    };
    let partition =
        provindex_proto::v1::partition_service_server::PartitionServiceServer::new(partition);
    // Reads need a token only when the auth configuration gates them (--auth-reads).
    let provenance = ReadGated::new(
        ProvenanceServiceServer::new(provenance_api(
            index,
            config.registry.as_ref(),
            config.remote_registry.as_ref(),
        ))
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes),
        config.auth.clone(),
    );

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<ProvenanceServiceServer<ProvenanceApi>>()
        .await;
    health_reporter
        .set_serving::<ReportServiceServer<ReportApi>>()
        .await;
    health_reporter
        .set_serving::<AuditServiceServer<AuditApi>>()
        .await;
    health_reporter
        .set_serving::<LedgerServiceServer<LedgerApi>>()
        .await;
    if opt_out.is_some() {
        health_reporter
            .set_serving::<OptOutServiceServer<OptOutApi>>()
            .await;
    }

    // Both reflection versions: grpcurl and many other clients still ask v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(provindex_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let mut builder = Server::builder();
    if let Some(tls) = &config.tls {
        builder = builder.tls_config(tls.server_config())?;
    }
    // Tracked outermost: a call's stream stays open until its response body ends.
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
            reflection_v1,
            config.metrics.clone(),
        )))
        .add_service(Tracked::new(Metered::new(
            reflection_v1alpha,
            config.metrics.clone(),
        )))
        .add_service(Tracked::new(Metered::new(
            provenance,
            config.metrics.clone(),
        )))
        .add_service(Tracked::new(Metered::new(report, config.metrics.clone())))
        .add_service(Tracked::new(Metered::new(audit, config.metrics.clone())))
        .add_service(Tracked::new(Metered::new(
            partition,
            config.metrics.clone(),
        )))
        .add_service(Tracked::new(Metered::new(ledger, config.metrics.clone())))
        .add_optional_service(
            opt_out.map(|s| Tracked::new(Metered::new(s, config.metrics.clone()))),
        )
        .add_optional_service(
            opt_out_redirect.map(|s| Tracked::new(Metered::new(s, config.metrics.clone()))),
        )
        .serve_with_incoming_shutdown(guarded_incoming(listener, config.connections), shutdown)
        .await?;
    Ok(())
}

/// Accepted connections with TCP_NODELAY: without it Nagle's algorithm holds
/// the tail of each response until the client's delayed ACK (~40 ms a lookup).
/// No connection limits (the coordinator's server); [`serve`] applies
/// [`ConnectionLimits`].
pub fn incoming(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}
