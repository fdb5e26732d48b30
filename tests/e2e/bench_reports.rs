//! Smoke tests of the benchmarks (`tasknet bench …`) at a tiny scale: they
//! assert correctness only, never speed. The reports benchmark's own
//! verification (gRPC answers equal to the naive SQL) must pass.
//! (The ingest/freshness/footprint smoke tests of the bench crate's other
//! owner may be added to this module too.)

use tasknet_system::testing::process::Launch;

const BINARY: &str = env!("CARGO_BIN_EXE_tasknet");

fn bench_reports(extra: &[&str]) {
    let output = Launch::new(BINARY)
        .args(["bench", "reports", "--tasks", "2000", "--queries", "2"])
        .args(extra)
        .rust_log("warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bench reports {extra:?} failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("12 equal, 0 differ"), "{stdout}");
}

#[test]
fn reports_benchmark_verifies_on_sqlite() {
    bench_reports(&["--backend", "sqlite"]);
}

/// On PostgreSQL when `TASKNET_TEST_POSTGRES_URL` names a server (the
/// benchmark creates and drops its own databases there).
#[test]
fn reports_benchmark_verifies_on_postgres() {
    let Ok(url) = std::env::var("TASKNET_TEST_POSTGRES_URL") else {
        return;
    };
    bench_reports(&["--backend", "postgres", "--postgres-url", &url]);
}
