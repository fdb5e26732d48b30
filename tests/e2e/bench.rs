//! Smoke runs of `tasknet bench ingest|freshness|footprint`: each for a
//! second or two with tiny sizes, so the harness keeps working. Only
//! correctness is asserted (the benchmark's own checks, which make it exit
//! non-zero: every update acknowledged once and stored once, the report
//! counting what was pushed); the figures come from BENCHMARKS.md's runs,
//! never from here.

use std::process::Command;

use tasknet_storage::testing::postgres_admin_url;

const BINARY: &str = env!("CARGO_BIN_EXE_tasknet");

/// Runs `tasknet bench ARGS` and asserts it succeeded; returns its stdout.
fn bench(args: &[&str]) -> String {
    let output = Command::new(BINARY)
        .arg("bench")
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("TASKNET_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("tasknet bench {args:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "tasknet bench {args:?} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn ingest_on_sqlite() {
    let out = bench(&[
        "ingest",
        "--clients",
        "3",
        "--updates",
        "300",
        "--backend",
        "sqlite",
    ]);
    assert!(
        out.contains("verified: every update acknowledged once"),
        "{out}"
    );
}

#[test]
fn ingest_on_postgres_against_the_raw_ceiling() {
    let Some(url) = postgres_admin_url("bench::ingest_on_postgres_against_the_raw_ceiling") else {
        return;
    };
    let out = bench(&[
        "ingest",
        "--clients",
        "3",
        "--updates",
        "300",
        "--postgres-url",
        &url,
    ]);
    assert!(
        out.contains("verified: every update acknowledged once"),
        "{out}"
    );
    assert!(out.contains("ratio service / ceiling"), "{out}");
}

#[test]
fn freshness_on_sqlite() {
    let out = bench(&[
        "freshness",
        "--clients",
        "2",
        "--rate",
        "200",
        "--duration",
        "1",
        "--backend",
        "sqlite",
    ]);
    assert!(out.contains("verified: StatusBreakdown"), "{out}");
}

#[test]
fn freshness_on_postgres() {
    let Some(url) = postgres_admin_url("bench::freshness_on_postgres") else {
        return;
    };
    let out = bench(&[
        "freshness",
        "--clients",
        "2",
        "--rate",
        "200",
        "--duration",
        "1",
        "--postgres-url",
        &url,
    ]);
    assert!(out.contains("verified: StatusBreakdown"), "{out}");
}

/// Builds a tiny data directory, then runs again to reuse it.
#[test]
fn footprint_builds_then_reuses_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let args = [
        "footprint",
        "--tasks",
        "200",
        "--clients",
        "2",
        "--data-dir",
        data,
    ];
    let built = bench(&args);
    assert!(built.contains("built: 200 tasks"), "{built}");
    assert!(built.contains("health SERVING after"), "{built}");
    let reused = bench(&args);
    assert!(reused.contains("reusing 200 tasks"), "{reused}");
}
