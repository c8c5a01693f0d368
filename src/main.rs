//! The `kinerja` binary: `kinerja serve` runs the service, `kinerja migrate` applies migrations.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use kinerja::clock::SystemClock;
use kinerja::config::{Cli, Command, LogFormat};
use kinerja::store::Store;
use kinerja::telemetry::{TelemetryConfig, logs};

fn main() -> ExitCode {
    // The runtime of `#[tokio::main]`, plus: each worker thread flushes its allocation cache
    // when it goes idle after the server asked for it (`kinerja::memory`).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(|| {
            kinerja::memory::flush_thread_cache_if_asked();
        })
        .build();
    match runtime {
        Ok(rt) => rt.block_on(run(Cli::parse())),
        Err(e) => {
            eprintln!("kinerja: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command of `cli`.
async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Migrate(db) => {
            match logs::init(LogFormat::Text, "info", &TelemetryConfig::default()) {
                Err(e) => Err(e),
                Ok(_logs) => {
                    async {
                        let store = Store::connect(&db.to_config()).await?;
                        store.migrate().await?;
                        tracing::info!(database = store.kind().as_str(), "migrations applied");
                        store.close().await;
                        Ok::<_, kinerja::error::Error>(())
                    }
                    .await
                }
            }
        }
        Command::Token(args) => args.token().map(|t| println!("{t}")),
        Command::Serve(args) => {
            // Logs first, so warnings about the configuration (e.g. the development key) show.
            match logs::init(args.log_format, &args.log, &args.telemetry_config()) {
                Err(e) => Err(e),
                Ok(log_guard) => {
                    let served = async {
                        let server =
                            kinerja::server::start(args.to_config()?, Arc::new(SystemClock))
                                .await?;
                        kinerja::server::shutdown_signal().await;
                        tracing::info!("shutdown requested; finishing in-flight calls");
                        server.shutdown().await
                    }
                    .await;
                    if let Err(e) = &served {
                        tracing::error!(error = %e, "kinerja stopped with an error");
                    }
                    log_guard.shutdown().await;
                    served
                }
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kinerja: {e}");
            ExitCode::FAILURE
        }
    }
}
