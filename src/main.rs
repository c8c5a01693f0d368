//! The `kinerja` binary: `kinerja serve` runs the service, `kinerja migrate` applies migrations.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use kinerja::clock::SystemClock;
use kinerja::config::{Cli, Command, LogFormat};
use kinerja::store::Store;
use tracing_subscriber::EnvFilter;

fn init_logs(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Migrate(db) => {
            init_logs(LogFormat::Text, "info");
            async {
                let store = Store::connect(&db.to_config()).await?;
                store.migrate().await?;
                tracing::info!(database = store.kind().as_str(), "migrations applied");
                store.close().await;
                Ok::<_, kinerja::error::Error>(())
            }
            .await
        }
        Command::Token(args) => args.token().map(|t| println!("{t}")),
        Command::Serve(args) => {
            init_logs(args.log_format, &args.log);
            async {
                let server =
                    kinerja::server::start(args.to_config()?, Arc::new(SystemClock)).await?;
                kinerja::server::shutdown_signal().await;
                tracing::info!("shutdown requested; finishing in-flight calls");
                server.shutdown().await
            }
            .await
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
