//! A PostgreSQL cluster of the test's own — `initdb` into a temporary
//! directory, its own port, started, stopped and restarted at will, removed
//! afterwards — so restarting it disturbs nobody (the shared server other
//! tests use is never touched).

use std::os::unix::fs::chown;
use std::path::PathBuf;

use tasknet_system::testing::process::Launch;

/// Where the PostgreSQL programs are (`TASKNET_TEST_PG_BIN` overrides it).
fn bin_dir() -> PathBuf {
    std::env::var_os("TASKNET_TEST_PG_BIN").map_or_else(
        || PathBuf::from("/usr/lib/postgresql/15/bin"),
        PathBuf::from,
    )
}

pub struct OwnCluster {
    dir: tempfile::TempDir,
    port: u16,
    /// PostgreSQL refuses to run as root: as root, it runs as `postgres`.
    run_as: Option<(u32, u32)>,
    running: bool,
}

impl OwnCluster {
    /// Creates and starts a cluster; `None` (after a loud notice) where
    /// PostgreSQL is not installed, unless CI requires it.
    pub fn start() -> Option<Self> {
        if !bin_dir().join("initdb").is_file() {
            assert!(
                std::env::var_os("CI").is_none(),
                "initdb not found in {}",
                bin_dir().display()
            );
            eprintln!(
                "\n!!! SKIPPED: no initdb in {} (set TASKNET_TEST_PG_BIN) !!!\n",
                bin_dir().display()
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let run_as = if running_as_root() {
            Some(postgres_ids())
        } else {
            None
        };
        if let Some((uid, gid)) = run_as {
            chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let mut cluster = Self {
            dir,
            port: free_port(),
            run_as,
            running: false,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        cluster.start_server();
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn start_server(&mut self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        self.running = true;
    }

    /// `fast`: a clean shutdown (sessions cut, a checkpoint). `immediate`:
    /// as a crash; the next start recovers from the WAL.
    pub fn stop_server(&mut self, mode: &str) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", mode, "-w", "-t", "60", "stop"],
        );
        self.running = false;
    }

    fn command(&self, program: &str) -> Launch {
        let command = Launch::new(bin_dir().join(program))
            .dir(self.dir.path())
            .env_remove("PGDATA");
        match self.run_as {
            Some((uid, gid)) => command.run_as(uid, gid),
            None => command,
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self.command(program).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        if self.running {
            let _ = self
                .command("pg_ctl")
                .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
                .output();
        }
    }
}

fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn postgres_ids() -> (u32, u32) {
    let user = nix::unistd::User::from_name("postgres")
        .unwrap()
        .expect("running as root needs a postgres user");
    (user.uid.as_raw(), user.gid.as_raw())
}

/// A free port other than the shared server's.
fn free_port() -> u16 {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if port != 5432 {
            return port;
        }
    }
}
