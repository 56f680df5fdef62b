//! Generated protobuf messages and gRPC stubs for `provindex.v1`.

/// `provindex.v1`: the public read API and (later) the internal coordinator API.
pub mod v1 {
    #![allow(clippy::all, missing_docs, rust_2018_idioms)]
    tonic::include_proto!("provindex.v1");
}

/// Encoded `FileDescriptorSet` of every provindex proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("provindex_descriptor");
