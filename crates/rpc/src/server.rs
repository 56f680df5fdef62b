//! The gRPC server: ProvenanceService plus health and reflection, with limits.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use provindex_index::IndexReader;
use provindex_proto::v1::provenance_service_server::ProvenanceServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;

use crate::ProvenanceApi;

/// Limits that keep one client from exhausting the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request or response message, in bytes.
    pub max_message_bytes: usize,
    /// Requests running longer than this fail with DEADLINE_EXCEEDED / CANCELLED.
    pub request_timeout: Duration,
    /// Concurrent requests per connection.
    pub concurrency_per_connection: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 8 << 20,
            request_timeout: Duration::from_secs(30),
            concurrency_per_connection: 256,
        }
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
    let provenance = ProvenanceServiceServer::new(ProvenanceApi::new(index))
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes);

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<ProvenanceServiceServer<ProvenanceApi>>()
        .await;

    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(provindex_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;

    Server::builder()
        .timeout(config.request_timeout)
        .concurrency_limit_per_connection(config.concurrency_per_connection)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(provenance)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}
