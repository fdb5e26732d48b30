//! Compiles `proto/tasknet/v1/*.proto` with protox (no system `protoc`) and
//! writes the descriptor set that the reflection service serves.

use std::path::PathBuf;

use prost::Message;

const FILES: &[&str] = &[
    "tasknet/v1/common.proto",
    "tasknet/v1/security.proto",
    "tasknet/v1/organisation.proto",
    "tasknet/v1/task.proto",
    "tasknet/v1/reporting.proto",
    "tasknet/v1/notification.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read when the script runs, not baked in when it is compiled: a target
    // directory copied from another checkout must compile this one's protos.
    let proto_root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let descriptors = protox::compile(FILES, [&proto_root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("tasknet_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
