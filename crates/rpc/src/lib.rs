//! gRPC adapters: each service is a thin translation between protobuf messages
//! and index queries. Errors become `tonic::Status` in one place ([`ApiError`]).

pub mod auth;
mod batch;
mod checkoptout;
pub mod conn;
mod convert;
pub mod coordinator;
pub mod disclosure;
mod error;
mod findwork;
pub mod metrics;
mod optout;
mod provenance;
mod registry_check;
mod report;
mod server;

pub use checkoptout::{OptOutRegistry, RegistryEntry};
pub use conn::{ConnectionLimits, GuardedConnectInfo};
pub use error::{ApiError, echo};
pub use metrics::{Metered, Metrics, serve_metrics};
pub use optout::OptOutApi;
pub use provenance::ProvenanceApi;
pub use report::ReportApi;
pub use server::{ServerConfig, incoming, serve};
