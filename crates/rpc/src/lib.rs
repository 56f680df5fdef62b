//! gRPC adapters: each service is a thin translation between protobuf messages
//! and index queries. Errors become `tonic::Status` in one place ([`ApiError`]).

mod convert;
mod error;
mod provenance;
mod server;

pub use error::ApiError;
pub use provenance::ProvenanceApi;
pub use server::{ServerConfig, serve};
