//! The tasknet.v1 contracts: generated messages, clients and servers, and the
//! descriptor set for gRPC reflection. Re-exports `tonic`, `prost` and
//! `prost_types` so every crate uses the same versions.

pub use prost;
pub use prost_types;
pub use tonic;

/// Version 1 of the contracts (`package tasknet.v1`).
pub mod v1 {
    #![allow(clippy::all, clippy::pedantic)]
    tonic::include_proto!("tasknet.v1");
}

/// Encoded `FileDescriptorSet` of every tasknet.v1 file, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/tasknet_descriptor.bin"));

/// Fully qualified gRPC service names, as health checks and reflection list
/// them (tonic generates each server's `NamedService::NAME` from the proto).
pub const SERVICE_NAMES: &[&str] = &[
    v1::organisation_service_server::SERVICE_NAME,
    v1::task_service_server::SERVICE_NAME,
    v1::reporting_service_server::SERVICE_NAME,
    v1::notification_service_server::SERVICE_NAME,
];
