//! Command line and environment settings of the `kinerja` binary.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::server::ServerConfig;
use crate::store::DbConfig;
use crate::telemetry::TelemetryConfig;

/// Kinerja: performance management of Indonesian civil servants (ASN) over gRPC.
#[derive(Debug, Parser)]
#[command(name = "kinerja", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands of the binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gRPC service (migrations are applied at start unless --no-migrate).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DbArgs),
}

/// Database settings.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database URL: `sqlite://FILE?mode=rwc` (created when missing) or
    /// `postgres://USER@HOST:PORT/DB`.
    #[arg(
        long,
        env = "KINERJA_DATABASE_URL",
        default_value = "sqlite://kinerja.db?mode=rwc"
    )]
    pub database_url: String,
    /// Maximum connections in the pool (per replica; replicas x this must stay below the
    /// PostgreSQL server's max_connections).
    #[arg(long, env = "KINERJA_DB_MAX_CONNECTIONS", default_value_t = 8)]
    pub db_max_connections: u32,
    /// Milliseconds a call waits for a pooled connection before failing with UNAVAILABLE
    /// (keep it below the request timeout).
    #[arg(long, env = "KINERJA_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 5_000)]
    pub db_acquire_timeout_ms: u64,
    /// SQLite only: milliseconds a writer waits for the write lock before failing.
    #[arg(long, env = "KINERJA_SQLITE_BUSY_TIMEOUT_MS", default_value_t = 10_000)]
    pub sqlite_busy_timeout_ms: u64,
}

impl DbArgs {
    /// The store settings these arguments describe.
    pub fn to_config(&self) -> DbConfig {
        DbConfig {
            url: self.database_url.clone(),
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms),
            busy_timeout: Duration::from_millis(self.sqlite_busy_timeout_ms),
        }
    }
}

/// Format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

/// Settings of `kinerja serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "KINERJA_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Database settings.
    #[command(flatten)]
    pub db: DbArgs,
    /// Do not apply migrations at start (run `kinerja migrate` separately).
    #[arg(long, env = "KINERJA_NO_MIGRATE", default_value_t = false)]
    pub no_migrate: bool,
    /// Server-side deadline of every call in milliseconds; a shorter client deadline wins.
    #[arg(long, env = "KINERJA_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,
    /// Largest request or response message in bytes.
    #[arg(long, env = "KINERJA_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,
    /// Milliseconds in-flight calls get to finish after SIGTERM/Ctrl-C.
    #[arg(long, env = "KINERJA_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,
    /// Milliseconds between database checks that drive gRPC health (SERVING / NOT_SERVING).
    #[arg(long, env = "KINERJA_HEALTH_INTERVAL_MS", default_value_t = 2_000)]
    pub health_interval_ms: u64,
    /// Log format.
    #[arg(long, env = "KINERJA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `kinerja=debug`.
    #[arg(long, env = "KINERJA_LOG", default_value = "info")]
    pub log: String,
    /// Baggage keys copied onto each call's span as attributes (comma-separated), e.g.
    /// `app.name`. Export itself is set with the standard OTEL_* variables.
    #[arg(long, env = "KINERJA_BAGGAGE_ATTRIBUTES", value_delimiter = ',')]
    pub baggage_attributes: Vec<String>,
    /// Milliseconds shutdown waits for the last traces, metrics and logs to reach the collector.
    #[arg(
        long,
        env = "KINERJA_TELEMETRY_FLUSH_TIMEOUT_MS",
        default_value_t = 5_000
    )]
    pub telemetry_flush_timeout_ms: u64,
}

impl ServeArgs {
    /// Telemetry settings: the standard OTEL_* variables plus the flags above.
    pub fn telemetry_config(&self) -> TelemetryConfig {
        TelemetryConfig {
            baggage_attributes: self
                .baggage_attributes
                .iter()
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .collect(),
            flush_timeout: Duration::from_millis(self.telemetry_flush_timeout_ms),
            ..TelemetryConfig::from_env()
        }
    }

    /// The server settings these arguments describe.
    pub fn to_config(&self) -> ServerConfig {
        ServerConfig {
            listen: self.listen,
            db: self.db.to_config(),
            migrate: !self.no_migrate,
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            max_message_bytes: self.max_message_bytes,
            shutdown_grace: Duration::from_millis(self.shutdown_grace_ms),
            health_interval: Duration::from_millis(self.health_interval_ms),
            telemetry: self.telemetry_config(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_readme() {
        let cli = Cli::try_parse_from(["kinerja", "serve"]).expect("parses");
        let Command::Serve(s) = cli.command else {
            panic!("serve expected")
        };
        let c = s.to_config();
        assert_eq!(c.listen.to_string(), "127.0.0.1:50051");
        assert_eq!(c.db.url, "sqlite://kinerja.db?mode=rwc");
        assert!(c.migrate);
        assert!(c.telemetry.baggage_attributes.is_empty());
    }

    #[test]
    fn baggage_attributes_are_a_list() {
        let cli = Cli::try_parse_from([
            "kinerja",
            "serve",
            "--baggage-attributes",
            "app.name, app.version,",
        ])
        .expect("parses");
        let Command::Serve(s) = cli.command else {
            panic!("serve expected")
        };
        assert_eq!(
            s.to_config().telemetry.baggage_attributes,
            vec!["app.name".to_owned(), "app.version".to_owned()]
        );
    }
}
