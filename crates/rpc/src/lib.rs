//! gRPC adapters: each service is a thin translation between protobuf messages
//! and index queries. Errors become `tonic::Status` in one place ([`ApiError`]).

pub mod auth;
mod convert;
mod error;
mod optout;
mod provenance;
mod server;

pub use error::ApiError;
pub use optout::OptOutApi;
pub use provenance::ProvenanceApi;
pub use server::{ServerConfig, serve};
