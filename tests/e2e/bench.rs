//! Smoke runs of `tasknet bench ingest|freshness|footprint`: each for a
//! second or two with tiny sizes, so the harness keeps working. Only
//! correctness is asserted (the benchmark's own checks, which make it exit
//! non-zero: every update acknowledged once and stored once, the report
//! counting what was pushed); the figures come from BENCHMARKS.md's runs,
//! never from here.

use tasknet_storage::Backend;
use tasknet_storage::testing::postgres_admin_url;
use tasknet_system::testing::process::Launch;

const BINARY: &str = env!("CARGO_BIN_EXE_tasknet");

/// Runs `tasknet bench ARGS` and asserts it succeeded; returns its stdout.
fn bench(args: &[&str]) -> String {
    let output = Launch::new(BINARY)
        .arg("bench")
        .args(args)
        .rust_log("warn")
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

/// The flags choosing `backend`; `None` when PostgreSQL is not configured
/// (outside CI: `postgres_admin_url` prints the notice).
fn storage_flags(backend: Backend, test_name: &str) -> Option<Vec<String>> {
    match backend {
        Backend::Sqlite => Some(vec!["--backend".into(), "sqlite".into()]),
        Backend::Postgres => {
            postgres_admin_url(test_name).map(|url| vec!["--postgres-url".into(), url])
        }
    }
}

/// `bench NAME TINY_SIZES STORAGE_FLAGS`, asserting its verification line.
fn smoke(backend: Backend, test_name: &str, sizes: &[&str], verified: &str) -> Option<String> {
    let flags = storage_flags(backend, test_name)?;
    let mut args = sizes.to_vec();
    args.extend(flags.iter().map(String::as_str));
    let out = bench(&args);
    assert!(out.contains(verified), "{out}");
    Some(out)
}

const INGEST: &[&str] = &["ingest", "--clients", "3", "--updates", "300"];
const INGEST_VERIFIED: &str = "verified: every update acknowledged once";
const FRESHNESS: &[&str] = &[
    "freshness",
    "--clients",
    "2",
    "--rate",
    "200",
    "--duration",
    "1",
];
const FRESHNESS_VERIFIED: &str = "verified: StatusBreakdown";

#[test]
fn ingest_on_sqlite() {
    smoke(
        Backend::Sqlite,
        "bench::ingest_on_sqlite",
        INGEST,
        INGEST_VERIFIED,
    );
}

#[test]
fn ingest_on_postgres_against_the_raw_ceiling() {
    let name = "bench::ingest_on_postgres_against_the_raw_ceiling";
    if let Some(out) = smoke(Backend::Postgres, name, INGEST, INGEST_VERIFIED) {
        assert!(out.contains("ratio service / ceiling"), "{out}");
    }
}

#[test]
fn freshness_on_sqlite() {
    smoke(
        Backend::Sqlite,
        "bench::freshness_on_sqlite",
        FRESHNESS,
        FRESHNESS_VERIFIED,
    );
}

#[test]
fn freshness_on_postgres() {
    smoke(
        Backend::Postgres,
        "bench::freshness_on_postgres",
        FRESHNESS,
        FRESHNESS_VERIFIED,
    );
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
