//! gRPC adapters: each service is a thin translation between protobuf messages
//! and index queries. Every error is a domain error implementing
//! [`provindex_errors::ErrorExt`]; it becomes a `tonic::Status` in one place,
//! [`status_of`] (issue 15).

mod audit;
pub mod auth;
mod batch;
mod checkoptout;
pub mod conn;
mod convert;
pub mod coordinator;
mod error;
mod findwork;
mod ledger;
pub mod lineage;
pub mod metrics;
mod optout;
pub mod partition_service;
mod provenance;
mod registry_check;
mod registry_read;
pub mod remote_registry;
mod report;
pub mod router;
mod server;

pub use audit::AuditApi;
pub use checkoptout::{OptOutRegistry, check_opt_out};
pub use conn::{ConnectionLimits, GuardedConnectInfo};
pub use error::{ApiError, echo, status_of};
pub use findwork::{MAX_WORK_TEXT_BYTES, WorkSearch, find_work};
pub use ledger::{LedgerApi, PartitionLedger};
pub use metrics::{Metered, Metrics, serve_metrics};
pub use optout::OptOutApi;
pub use provenance::{
    MAX_PAGE_SIZE as MAX_URL_PAGE_SIZE, MAX_RECORD_BYTES, ProvenanceApi, UrlCapturesPage,
    read_original_record, url_captures, url_prefixes,
};
pub use registry_check::RegistryCheck;
pub use registry_read::{RegistryReadApi, serve_registry};
pub use remote_registry::{OptOutRedirect, RemoteRegistry};
pub use report::ReportApi;
pub use server::{
    DEFAULT_COMPLAINT_DUE_DAYS, DEFAULT_REQUEST_TIMEOUT, ServerConfig, incoming, serve,
};
