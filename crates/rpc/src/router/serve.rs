//! The gRPC server of a router or of a server holding partitions:
//! ProvenanceService, LedgerService and AuditService over a [`Router`]
//! (AuditService's registry calls forwarded to the registry service),
//! ReportService's refusals naming the CLI, PartitionService (Describe),
//! health and reflection, with the same connection limits as `crate::serve`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use provindex_proto::v1::DescribeResponse;
use provindex_proto::v1::audit_service_server::AuditServiceServer;
use provindex_proto::v1::ledger_service_server::LedgerServiceServer;
use provindex_proto::v1::partition_service_server::PartitionServiceServer;
use provindex_proto::v1::provenance_service_server::ProvenanceServiceServer;
use provindex_proto::v1::report_service_server::ReportServiceServer;
use tokio::net::TcpListener;
use tonic::transport::Server;

use super::{RegistryService, Router, RouterApi, RouterAuditApi, RouterLedgerApi, RouterReportApi};
use crate::conn::{ConnectionLimits, Tracked, guarded_incoming};
use crate::metrics::{Metered, Metrics};
use crate::partition_service::PartitionApi;

/// How much longer a router lets a call run than the deadline it gives the
/// calls it forwards.
const FORWARDING_GRACE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct RouterServerConfig {
    pub max_message_bytes: usize,
    /// Deadline of a call forwarded to the registry service; the router's
    /// own is [`FORWARDING_GRACE`] later.
    pub request_timeout: Duration,
    pub concurrency_per_connection: usize,
    pub connections: ConnectionLimits,
    pub metrics: Option<Metrics>,
    /// The registry service AuditService's registry calls, FindPersonalData
    /// and ReportService are forwarded to.
    pub registry: Option<RegistryService>,
}

impl Default for RouterServerConfig {
    fn default() -> Self {
        let server = crate::ServerConfig::default();
        Self {
            max_message_bytes: server.max_message_bytes,
            request_timeout: server.request_timeout,
            concurrency_per_connection: server.concurrency_per_connection,
            connections: server.connections,
            metrics: None,
            registry: None,
        }
    }
}

/// Serves `router` on an already-bound listener until `shutdown` resolves;
/// Describe answers `description`.
pub async fn serve_router(
    listener: TcpListener,
    router: Arc<Router>,
    description: DescribeResponse,
    config: RouterServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Partitions without a ledger answer its calls UNIMPLEMENTED themselves;
    // Lineage is forwarded to the registry service.
    let ledger = LedgerServiceServer::new(
        RouterLedgerApi::new(Arc::clone(&router))
            .with_registry(config.registry.clone(), config.max_message_bytes),
    )
    .max_decoding_message_size(config.max_message_bytes)
    .max_encoding_message_size(config.max_message_bytes);
    // DrawSample through the partitions; the registry's calls and
    // FindPersonalData forwarded to the registry service (UNIMPLEMENTED
    // without one), as ReportService's are.
    let audit = AuditServiceServer::new(
        RouterAuditApi::new(Arc::clone(&router)).with_registry(config.registry.clone()),
    )
    .max_decoding_message_size(config.max_message_bytes)
    .max_encoding_message_size(config.max_message_bytes);
    let provenance = ProvenanceServiceServer::new(RouterApi::new(router))
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes);
    let partitions = PartitionServiceServer::new(PartitionApi::new(description));
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<ProvenanceServiceServer<RouterApi>>()
        .await;
    health_reporter
        .set_serving::<PartitionServiceServer<PartitionApi>>()
        .await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(provindex_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let metered = |metrics: &Option<Metrics>| metrics.clone();
    Server::builder()
        // The forwarded call's own deadline ends first, so the caller learns
        // which service did not answer.
        .timeout(config.request_timeout + FORWARDING_GRACE)
        .concurrency_limit_per_connection(config.concurrency_per_connection)
        .add_service(Tracked::new(Metered::new(
            health_service,
            metered(&config.metrics),
        )))
        .add_service(Tracked::new(Metered::new(
            reflection_v1,
            metered(&config.metrics),
        )))
        .add_service(Tracked::new(Metered::new(
            reflection_v1alpha,
            metered(&config.metrics),
        )))
        .add_service(Tracked::new(Metered::new(
            provenance,
            metered(&config.metrics),
        )))
        .add_service(Tracked::new(Metered::new(
            partitions,
            metered(&config.metrics),
        )))
        .add_service(Tracked::new(Metered::new(ledger, metered(&config.metrics))))
        .add_service(Tracked::new(Metered::new(audit, metered(&config.metrics))))
        .add_service(Tracked::new(Metered::new(
            ReportServiceServer::new(RouterReportApi::new(
                config.registry.clone(),
                config.max_message_bytes,
            ))
            .max_decoding_message_size(config.max_message_bytes)
            .max_encoding_message_size(config.max_message_bytes),
            metered(&config.metrics),
        )))
        .serve_with_incoming_shutdown(guarded_incoming(listener, config.connections), shutdown)
        .await?;
    Ok(())
}
