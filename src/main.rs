//! The `tasknet` command: runs the services (all in one process with `up`, or
//! one at a time with `serve`), loads demo data, and queries a running system.

mod admin_bootstrap;
mod admin_cli;
mod agent_cli;
mod audit_cli;
mod cli;
mod compose;
mod connect;
mod dashboard_link;
mod demo;
mod endpoints;
mod health_cli;
mod notify_cli;
mod org_cli;
mod org_contacts_cli;
mod output;
mod report;
mod scorecard_cli;
mod units;

use std::process::ExitCode;

use clap::Parser;

// glibc's malloc spends a noticeable share of a busy service's CPU time on
// its own bookkeeping across threads; mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.prints_and_exits() {
        // Rust ignores SIGPIPE, so printing into a pipe whose reader has gone
        // (`tasknet report … | head`) panics. A command that prints its answer
        // and exits should end quietly there, as other Unix tools do; the
        // long-running ones (servers, agents, loads) keep the error instead.
        // Sockets are not affected: the standard library sends with
        // MSG_NOSIGNAL.
        sigpipe::reset();
    }
    let _telemetry = tasknet_server::telemetry::init(cli.command.service_name(), "info");
    let result = match cli.command {
        Command::Up(args) => compose::up(args).await,
        Command::Serve(args) => compose::serve(args).await,
        Command::Report(args) => report::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Admin(args) => admin_cli::run(args).await,
        Command::Agent(args) => agent_cli::run(args).await,
        Command::Org(args) => org_cli::run(args).await,
        Command::Health(args) => health_cli::run(args).await,
        Command::Notify(args) => notify_cli::run(args).await,
        Command::Bench(command) => bench(command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The whole cause chain, once, at the edge.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a benchmark, starting services from this very executable.
async fn bench(command: tasknet_bench::BenchCommand) -> anyhow::Result<()> {
    let tasknet = std::env::current_exe()?;
    tasknet_bench::run(command, &tasknet).await
}
