//! Generated protobuf and gRPC code of the `kinerja.v1` API.
#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// Messages and services of package `kinerja.v1`.
pub mod v1 {
    tonic::include_proto!("kinerja.v1");
}

/// Encoded file descriptor set of the API, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("kinerja_descriptor");
