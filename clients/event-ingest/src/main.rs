//! `event-ingest`: the command line over the `event_ingest` library (see `--help`).

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::args::{Cli, Command, FailedCommand, TargetArgs};
use cli::{config, exit};
use event_ingest::Client;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    init_logs(cli.log.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("event-ingest: cannot start: {error}");
            return ExitCode::from(exit::USAGE);
        }
    };
    ExitCode::from(runtime.block_on(run(cli)))
}

async fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Send(args) => cli::send::run(args, cli.target).await,
        Command::Failed(FailedCommand::List(args)) => match client(cli.target) {
            Ok(client) => cli::failed::list(args, client).await,
            Err(status) => status,
        },
        Command::Failed(FailedCommand::Replay(args)) => match client(cli.target) {
            Ok(client) => cli::failed::replay(args, client).await,
            Err(status) => status,
        },
        Command::Stats(args) => match client(cli.target) {
            Ok(client) => cli::stats::run(args, client).await,
            Err(status) => status,
        },
    }
}

fn client(target: TargetArgs) -> Result<Client, u8> {
    let target = config::resolve(target.url, target.key).map_err(|message| {
        eprintln!("event-ingest: {message}");
        exit::USAGE
    })?;
    Client::builder(target.url, target.key)
        .build()
        .map_err(|error| {
            eprintln!("event-ingest: {error}");
            exit::USAGE
        })
}

/// Diagnostics on stderr, `warn` unless `--log` or `RUST_LOG` says otherwise.
fn init_logs(filter: Option<&str>) {
    let filter = filter
        .map(str::to_owned)
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "warn".to_owned());
    let targets: tracing_subscriber::filter::Targets = filter.parse().unwrap_or_else(|_| {
        tracing_subscriber::filter::Targets::new().with_default(tracing::Level::WARN)
    });
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false),
        )
        .with(targets)
        .init();
}
