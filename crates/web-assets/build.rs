//! Rebuilds the crate when the dashboard's bundle changes (a file added or
//! removed, not only edited: cargo scans the whole directory).

fn main() {
    println!("cargo:rerun-if-changed=../../dashboard/dist");
}
