//! Command line and environment settings of the `kinerja` binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::Role;
use crate::auth::jwt::{Claims, DEFAULT_AUDIENCE, DEV_ISSUER, DevKey, KeySource, VerifierConfig};
use crate::auth::layer::AuthSettings;
use crate::error::{Error, Result};
use crate::server::{AuthConfig, ServerConfig, TlsFiles};
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
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(DbArgs),
    /// Print a token signed by the local development key (for local use only).
    Token(TokenArgs),
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
    /// PostgreSQL server's max_connections). SQLite opens one more: its writers' connection.
    #[arg(long, env = "KINERJA_DB_MAX_CONNECTIONS", default_value_t = 8)]
    pub db_max_connections: u32,
    /// Milliseconds a call waits for a pooled connection before failing with UNAVAILABLE
    /// (keep it below the request timeout).
    #[arg(long, env = "KINERJA_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 5_000)]
    pub db_acquire_timeout_ms: u64,
    /// SQLite only: milliseconds a writer waits for the write lock before failing.
    #[arg(long, env = "KINERJA_SQLITE_BUSY_TIMEOUT_MS", default_value_t = 10_000)]
    pub sqlite_busy_timeout_ms: u64,
    /// SQLite only: milliseconds an idle pooled connection stays open (one always stays); each
    /// holds its page cache and prepared statements (about 3 MB after load).
    #[arg(long, env = "KINERJA_SQLITE_IDLE_TIMEOUT_MS", default_value_t = 1_000)]
    pub sqlite_idle_timeout_ms: u64,
    /// Milliseconds a pooled connection must have been idle before it is pinged on checkout
    /// (0: ping on every checkout, which costs a round trip per query).
    #[arg(long, env = "KINERJA_DB_PING_IDLE_MS", default_value_t = 30_000)]
    pub db_ping_idle_ms: u64,
    /// SKPs whose content (RHK, indicators, behaviour values) a replica keeps in memory for
    /// reads, checked against the SKP's version on every read (0: off). About 10 kB each.
    #[arg(long, env = "KINERJA_SKP_CACHE_ENTRIES", default_value_t = crate::store::DEFAULT_CONTENT_CACHE_ENTRIES)]
    pub skp_cache_entries: usize,
}

impl DbArgs {
    /// The store settings these arguments describe.
    pub fn to_config(&self) -> DbConfig {
        DbConfig {
            url: self.database_url.clone(),
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms),
            busy_timeout: Duration::from_millis(self.sqlite_busy_timeout_ms),
            sqlite_idle_timeout: Duration::from_millis(self.sqlite_idle_timeout_ms),
            ping_if_idle_for: Duration::from_millis(self.db_ping_idle_ms),
            content_cache_entries: self.skp_cache_entries,
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
    /// Token verification settings.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Calls in flight across all connections; further calls are shed with RESOURCE_EXHAUSTED.
    #[arg(long, env = "KINERJA_MAX_IN_FLIGHT", default_value_t = 1024)]
    pub max_in_flight: usize,
    /// Server certificate chain (PEM) to serve TLS; plaintext without it.
    #[arg(long, env = "KINERJA_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, env = "KINERJA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Milliseconds between looks for events committed by other replicas (event feed).
    #[arg(long, env = "KINERJA_WATCH_POLL_MS", default_value_t = 500)]
    pub watch_poll_ms: u64,
    /// Milliseconds between sweeps that make FINAL the set results whose objection window
    /// passed without objection (0 disables the sweeper; readers see such results as FINAL
    /// anyway, and `FinalizeExpiredResults` does the same on demand). Safe on every replica.
    #[arg(long, env = "KINERJA_FINALIZE_INTERVAL_MS", default_value_t = 60_000)]
    pub finalize_interval_ms: u64,
    /// Milliseconds between sweeps that publish `plan.overdue` for development-plan actions past
    /// their target date unfinished (0 disables it; `ListOverdueDevelopmentActions` computes
    /// overdue when read anyway). Once per action, safe on every replica.
    #[arg(long, env = "KINERJA_OVERDUE_INTERVAL_MS", default_value_t = 300_000)]
    pub overdue_interval_ms: u64,
    /// CA certificate (PEM) whose client certificates are required (mutual TLS). The client
    /// certificate's common name is recorded as the calling service when the token names none.
    #[arg(long, env = "KINERJA_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
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
    /// Milliseconds from which a SQL statement is logged as slow (WARN, with its SQL text
    /// with placeholders, never parameter values); 0 turns the log off.
    #[arg(long, env = "KINERJA_SLOW_STATEMENT_MS", default_value_t = 500)]
    pub slow_statement_ms: u64,
}

/// How callers are authenticated.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// JWKS file with the public keys that sign callers' tokens (each key names its `alg`).
    /// Reloaded when it changes and on SIGHUP. Without it, a local development key is used.
    #[arg(long, env = "KINERJA_JWKS_FILE")]
    pub jwks_file: Option<PathBuf>,
    /// Accepted token issuer (`iss`); required with --jwks-file.
    #[arg(long, env = "KINERJA_TOKEN_ISSUER")]
    pub token_issuer: Option<String>,
    /// Accepted token audience (`aud`).
    #[arg(long, env = "KINERJA_TOKEN_AUDIENCE", default_value = DEFAULT_AUDIENCE)]
    pub token_audience: String,
    /// Development key file (Ed25519, created with mode 0600 when missing) used when no
    /// --jwks-file is given; `kinerja token` signs with it.
    #[arg(
        long,
        env = "KINERJA_DEV_KEY_FILE",
        default_value = "kinerja-dev-key.pem"
    )]
    pub dev_key_file: PathBuf,
    /// Allow the development key on a non-loopback listen address (never in production).
    #[arg(
        long,
        env = "KINERJA_ALLOW_DEV_KEY_ON_NETWORK",
        default_value_t = false
    )]
    pub allow_dev_key_on_network: bool,
    /// Require a token for gRPC health checks too.
    #[arg(long, env = "KINERJA_HEALTH_REQUIRES_TOKEN", default_value_t = false)]
    pub health_requires_token: bool,
    /// Require a token for server reflection too.
    #[arg(
        long,
        env = "KINERJA_REFLECTION_REQUIRES_TOKEN",
        default_value_t = false
    )]
    pub reflection_requires_token: bool,
    /// Sustained calls per second allowed per caller (token subject).
    #[arg(long, env = "KINERJA_RATE_LIMIT_PER_SECOND", default_value_t = 200)]
    pub rate_limit_per_second: u32,
    /// Burst of calls allowed per caller above the sustained rate.
    #[arg(long, env = "KINERJA_RATE_LIMIT_BURST", default_value_t = 400)]
    pub rate_limit_burst: u32,
}

impl AuthArgs {
    /// The authentication settings these arguments describe; creates the development key when
    /// no JWKS is configured, and refuses it on a non-loopback address unless allowed.
    pub fn to_config(&self, listen: SocketAddr) -> Result<AuthConfig> {
        let verifier = match &self.jwks_file {
            Some(path) => VerifierConfig {
                keys: KeySource::JwksFile(path.clone()),
                issuer: self.token_issuer.clone().ok_or_else(|| {
                    Error::invalid("token_issuer", "is required with --jwks-file")
                })?,
                audience: self.token_audience.clone(),
            },
            None => {
                if !listen.ip().is_loopback() && !self.allow_dev_key_on_network {
                    return Err(Error::invalid(
                        "listen",
                        format!(
                            "{listen} is not a loopback address and no --jwks-file is set: the \
                             development key is for local use only (pass \
                             --allow-dev-key-on-network to override)"
                        ),
                    ));
                }
                let key = DevKey::load_or_create(&self.dev_key_file)?;
                tracing::warn!(
                    key = %self.dev_key_file.display(),
                    "no --jwks-file: accepting only tokens signed by the local development key"
                );
                VerifierConfig {
                    keys: KeySource::Jwks(key.jwks()),
                    issuer: self
                        .token_issuer
                        .clone()
                        .unwrap_or_else(|| DEV_ISSUER.to_owned()),
                    audience: self.token_audience.clone(),
                }
            }
        };
        Ok(AuthConfig {
            verifier,
            settings: AuthSettings {
                health_without_token: !self.health_requires_token,
                reflection_without_token: !self.reflection_requires_token,
                rate_per_second: self.rate_limit_per_second,
                rate_burst: self.rate_limit_burst,
            },
        })
    }
}

/// Settings of `kinerja token`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// Subject: the employee's NIP, or a service account name.
    #[arg(long)]
    pub sub: String,
    /// Roles (repeatable): employee, admin, system_admin, auditor, service.
    #[arg(long = "role", required = true)]
    pub roles: Vec<String>,
    /// Unit ids an admin manages (repeatable).
    #[arg(long = "unit")]
    pub units: Vec<String>,
    /// Scopes of a service account (repeatable), e.g. results:read.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Calling service acting for the subject (RFC 8693 `act`).
    #[arg(long)]
    pub act: Option<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl_secs: i64,
    /// Development key file to sign with.
    #[arg(
        long,
        env = "KINERJA_DEV_KEY_FILE",
        default_value = "kinerja-dev-key.pem"
    )]
    pub dev_key_file: PathBuf,
    /// Audience of the token.
    #[arg(long, env = "KINERJA_TOKEN_AUDIENCE", default_value = DEFAULT_AUDIENCE)]
    pub audience: String,
}

impl TokenArgs {
    /// Signs the token these arguments describe with the development key (created if missing).
    pub fn token(&self) -> Result<String> {
        let mut roles = Vec::new();
        for r in &self.roles {
            roles.push(Role::parse(r).ok_or_else(|| {
                Error::invalid(
                    "role",
                    format!("{r} is not one of employee, admin, system_admin, auditor, service"),
                )
            })?);
        }
        let key = DevKey::load_or_create(&self.dev_key_file)?;
        let claims = Claims::new(&self.sub, DEV_ISSUER, &self.audience, self.ttl_secs)
            .roles(&roles)
            .units(&self.units)
            .scopes(&self.scopes)
            .acting_service(self.act.as_deref());
        key.sign(&claims)
    }
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
            slow_statement: (self.slow_statement_ms > 0)
                .then(|| Duration::from_millis(self.slow_statement_ms)),
            ..TelemetryConfig::from_env()
        }
    }

    /// The server settings these arguments describe.
    pub fn to_config(&self) -> Result<ServerConfig> {
        Ok(ServerConfig {
            listen: self.listen,
            db: self.db.to_config(),
            migrate: !self.no_migrate,
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            max_message_bytes: self.max_message_bytes,
            shutdown_grace: Duration::from_millis(self.shutdown_grace_ms),
            health_interval: Duration::from_millis(self.health_interval_ms),
            auth: self.auth.to_config(self.listen)?,
            max_in_flight: self.max_in_flight,
            watch_poll: Duration::from_millis(self.watch_poll_ms),
            finalize_interval: Duration::from_millis(self.finalize_interval_ms),
            overdue_interval: Duration::from_millis(self.overdue_interval_ms),
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    client_ca: self.tls_client_ca.clone(),
                }),
                _ => None,
            },
            telemetry: self.telemetry_config(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> ServeArgs {
        match Cli::try_parse_from(args).expect("parses").command {
            Command::Serve(s) => *s,
            other => panic!("serve expected, got {other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_readme() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("dev.pem");
        let key = key.to_str().expect("utf-8");
        let c = serve(&["kinerja", "serve", "--dev-key-file", key])
            .to_config()
            .expect("config");
        assert_eq!(c.listen.to_string(), "127.0.0.1:50051");
        assert_eq!(c.db.url, "sqlite://kinerja.db?mode=rwc");
        assert!(c.migrate);
        assert!(c.telemetry.baggage_attributes.is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key)
                .expect("key written")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "the development key is private");
        }
    }

    #[test]
    fn dev_key_is_refused_on_the_network() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("dev.pem");
        let key = key.to_str().expect("utf-8");
        let args = [
            "kinerja",
            "serve",
            "--listen",
            "0.0.0.0:50051",
            "--dev-key-file",
            key,
        ];
        assert!(serve(&args).to_config().is_err());
        let mut allowed = args.to_vec();
        allowed.push("--allow-dev-key-on-network");
        assert!(serve(&allowed).to_config().is_ok());
    }

    #[test]
    fn token_command_signs_verifiable_tokens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("dev.pem");
        let key_s = key.to_str().expect("utf-8");
        let args = [
            "kinerja",
            "token",
            "--sub",
            "198503152010011001",
            "--role",
            "employee",
            "--dev-key-file",
            key_s,
        ];
        let Command::Token(t) = Cli::try_parse_from(args).expect("parses").command else {
            panic!("token expected")
        };
        let token = t.token().expect("token");
        let dev = DevKey::load(&key).expect("key");
        let v = crate::auth::jwt::Verifier::new(VerifierConfig {
            keys: KeySource::Jwks(dev.jwks()),
            issuer: DEV_ISSUER.into(),
            audience: DEFAULT_AUDIENCE.into(),
        })
        .expect("verifier");
        assert_eq!(
            v.verify(&token).expect("valid").subject,
            "198503152010011001"
        );
    }

    #[test]
    fn baggage_attributes_are_a_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("dev.pem");
        let key = key.to_str().expect("utf-8");
        let s = serve(&[
            "kinerja",
            "serve",
            "--dev-key-file",
            key,
            "--baggage-attributes",
            "app.name, app.version,",
        ]);
        assert_eq!(
            s.to_config().expect("config").telemetry.baggage_attributes,
            vec!["app.name".to_owned(), "app.version".to_owned()]
        );
    }
}
