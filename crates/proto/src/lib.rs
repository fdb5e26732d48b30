//! The tasknet.v1 contracts: generated messages, clients and servers, and the
//! descriptor set for gRPC reflection. Re-exports `tonic`, `prost` and
//! `prost_types` so every crate uses the same versions.

pub use prost;
pub use prost_types;
pub use tonic;

use tonic::server::NamedService;

/// Version 1 of the contracts (`package tasknet.v1`).
pub mod v1 {
    #![allow(clippy::all, clippy::pedantic)]
    tonic::include_proto!("tasknet.v1");
}

/// Encoded `FileDescriptorSet` of every tasknet.v1 file, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/tasknet_descriptor.bin"));

/// The fully qualified gRPC name of each service, as health checks and
/// reflection list them: the generated servers' `NamedService::NAME`.
pub const ORGANISATION_SERVICE: &str =
    <v1::organisation_service_server::OrganisationServiceServer<()> as NamedService>::NAME;
pub const TASK_SERVICE: &str =
    <v1::task_service_server::TaskServiceServer<()> as NamedService>::NAME;
pub const REPORTING_SERVICE: &str =
    <v1::reporting_service_server::ReportingServiceServer<()> as NamedService>::NAME;

/// Every service's fully qualified gRPC name.
pub const SERVICE_NAMES: &[&str] = &[ORGANISATION_SERVICE, TASK_SERVICE, REPORTING_SERVICE];
