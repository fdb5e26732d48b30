//! The workspace's layering, checked over `cargo metadata`: dependencies point
//! down only (docs/design.md has the map).
//!
//! | layer | folder | may depend on |
//! |---|---|---|
//! | foundation | `crates/*` (not `system`) | foundations |
//! | service | `services/*` | foundations |
//! | assembly | `crates/system` | foundations, services |
//! | client | `clients/*` | foundations |
//! | tool | `tools/*` | anything below the binary |
//! | binary | the root package | anything |
//!
//! Dev-dependencies follow the same rules, except that a service's or a
//! client's tests may start the services they talk to: they may use the
//! assembly (`tasknet-system`) or a service crate as their harness.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test: a panic is the failure report

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Foundation,
    Service,
    Client,
    Assembly,
    Tool,
    Binary,
}

/// The layer of a workspace package, from the folder it lives in.
fn layer_of(manifest: &Path, root: &Path) -> Layer {
    let relative = manifest
        .parent()
        .and_then(|dir| dir.strip_prefix(root).ok())
        .map(|dir| dir.to_string_lossy().into_owned())
        .unwrap_or_default();
    match relative.split('/').collect::<Vec<_>>().as_slice() {
        [""] => Layer::Binary,
        ["crates", "system"] => Layer::Assembly,
        ["crates", _] => Layer::Foundation,
        ["services", _] => Layer::Service,
        ["clients", _] => Layer::Client,
        ["tools", _] => Layer::Tool,
        other => panic!("{relative}: a workspace package outside the layer folders ({other:?})"),
    }
}

/// Whether `from` may depend on `to` (`dev`: as a dev-dependency).
fn allowed(from: Layer, to: Layer, dev: bool) -> bool {
    use Layer::*;
    match from {
        Foundation => to == Foundation,
        Service | Client => to == Foundation || (dev && matches!(to, Service | Assembly)),
        Assembly => matches!(to, Foundation | Service),
        Tool => to != Binary,
        Binary => true,
    }
}

fn workspace_packages() -> (Vec<Value>, std::path::PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata is JSON");
    let packages = metadata["packages"]
        .as_array()
        .expect("metadata lists packages")
        .clone();
    (packages, root.to_path_buf())
}

#[test]
fn dependencies_point_down_only() {
    let (packages, root) = workspace_packages();
    let layers: BTreeMap<String, Layer> = packages
        .iter()
        .map(|package| {
            let name = package["name"].as_str().expect("package name").to_owned();
            let manifest = package["manifest_path"].as_str().expect("manifest path");
            (name, layer_of(Path::new(manifest), &root))
        })
        .collect();
    assert!(
        layers.len() >= 10,
        "expected the whole workspace: {layers:?}"
    );

    let mut violations = Vec::new();
    for package in &packages {
        let name = package["name"].as_str().expect("package name");
        let from = layers[name];
        for dependency in package["dependencies"].as_array().into_iter().flatten() {
            let target = dependency["name"].as_str().expect("dependency name");
            let Some(&to) = layers.get(target) else {
                continue; // not a workspace package
            };
            let dev = dependency["kind"].as_str() == Some("dev");
            if !allowed(from, to, dev) {
                let kind = if dev { "dev-dependency" } else { "dependency" };
                violations.push(format!(
                    "{name} ({from:?}) has a {kind} on {target} ({to:?})"
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "dependencies that point up or sideways:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_rules_refuse_upward_edges() {
    // The table itself, so a careless edit to `allowed` cannot pass silently.
    assert!(!allowed(Layer::Foundation, Layer::Service, false));
    assert!(!allowed(Layer::Foundation, Layer::Service, true));
    assert!(!allowed(Layer::Service, Layer::Tool, false));
    assert!(!allowed(Layer::Service, Layer::Service, false));
    assert!(!allowed(Layer::Service, Layer::Client, true));
    assert!(!allowed(Layer::Service, Layer::Tool, true));
    assert!(allowed(Layer::Service, Layer::Service, true));
    assert!(!allowed(Layer::Client, Layer::Service, false));
    assert!(!allowed(Layer::Assembly, Layer::Tool, false));
    assert!(allowed(Layer::Service, Layer::Assembly, true));
    assert!(!allowed(Layer::Service, Layer::Assembly, false));
    assert!(allowed(Layer::Tool, Layer::Service, false));
}
