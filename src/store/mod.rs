//! The store layer: the only code that speaks sea-orm. It owns the connection pool, migrations,
//! transactions (IMMEDIATE on SQLite so concurrent writers queue instead of failing), and one
//! repository module per aggregate.

pub mod assessment;
pub mod assignments;
pub mod audit;
pub mod cache;
pub mod calibration;
pub mod cascade;
mod content;
mod direct;
pub mod employees;
pub mod entities;
pub mod export;
pub mod followup;
pub mod idempotency;
pub mod org;
pub mod outbox;
pub mod periods;
pub mod reports;
pub mod skp;
mod sql;
mod template;

use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
    TransactionTrait,
};

use crate::error::{Error, Result};

pub use entities::{
    agency::Model as AgencyRow, assignment::Model as AssignmentRow, employee::Model as EmployeeRow,
    unit::Model as UnitRow,
};

/// Which database engine backs the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// Embedded SQLite file (the default).
    Sqlite,
    /// PostgreSQL server (production, many replicas).
    Postgres,
}

impl DbKind {
    /// Name used in logs and telemetry (`db.system`).
    pub fn as_str(self) -> &'static str {
        match self {
            DbKind::Sqlite => "sqlite",
            DbKind::Postgres => "postgresql",
        }
    }
}

/// Settings of the database connection.
#[derive(Debug, Clone)]
pub struct DbConfig {
    /// `sqlite://file.db?mode=rwc` or `postgres://user@host:port/db`.
    pub url: String,
    /// Maximum pooled connections.
    pub max_connections: u32,
    /// How long a call waits for a pooled connection before failing with UNAVAILABLE.
    pub acquire_timeout: Duration,
    /// SQLite: how long a writer waits for the write lock.
    pub busy_timeout: Duration,
    /// SQLite: how long a pooled connection may sit idle before it is closed (one always stays
    /// open). An idle connection holds its page cache (up to 2 MB), its prepared statements and
    /// a worker thread; reopening one costs about a millisecond.
    pub sqlite_idle_timeout: Duration,
    /// A pooled connection idle at least this long is pinged before a call gets it (a dropped
    /// connection is then replaced instead of failing the call); busier connections are handed
    /// out without the ping, which would cost a round trip (PostgreSQL) or a hop to the
    /// connection's worker thread (SQLite) per query. Zero pings on every checkout.
    pub ping_if_idle_for: Duration,
    /// SKPs whose content (RHK, indicators, behaviour values) this replica keeps in memory for
    /// reads, by version ([`cache`]); 0 turns the cache off.
    pub content_cache_entries: usize,
}

/// Default size of the SKP content cache: about 10 kB per SKP of five RHK with two indicators
/// each, so up to 20 MB under load (the cache is emptied when the server goes idle).
pub const DEFAULT_CONTENT_CACHE_ENTRIES: usize = 2_048;

impl Default for DbConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://kinerja.db?mode=rwc".into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(10),
            sqlite_idle_timeout: Duration::from_secs(1),
            ping_if_idle_for: Duration::from_secs(30),
            content_cache_entries: DEFAULT_CONTENT_CACHE_ENTRIES,
        }
    }
}

/// What the store reports about one executed SQL statement, for telemetry: the SQL text with
/// placeholders (never the bound values), how long it ran and whether it failed.
#[derive(Debug, Clone, Copy)]
pub struct StatementInfo<'a> {
    /// SQL text with backend placeholders (`?` / `$1`); parameter values are not part of it.
    pub sql: &'a str,
    /// Statements sent in this one command (more than 1: SQLite statements of a transaction
    /// sent together, their SQL joined by `";\n"`, the one whose result was awaited last).
    pub statements: usize,
    /// Execution time as seen by the pool (including waiting for a connection).
    pub elapsed: Duration,
    /// True when the statement returned an error.
    pub failed: bool,
}

/// Connections of the pool at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Open connections (idle and in use).
    pub open: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// Most connections the pool may open.
    pub max: u32,
}

/// PostgreSQL: connections of the direct pool idle this long are closed (sqlx's default).
const POSTGRES_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Connections of the direct pool older than this are closed when idle (sqlx's default).
const MAX_CONNECTION_LIFETIME: Duration = Duration::from_secs(1800);

/// Rows a SQLite connection's worker thread may hand over before the reading task takes them.
/// sqlx's default (50) makes the worker stop and wait every 50 rows of a result (two thread
/// switches each time): a page of evaluations reads about 500 realisasi values. The channel
/// grows as rows arrive, so the bound is not memory allocated per statement.
const SQLITE_ROW_CHANNEL: usize = 4096;

/// The settings of every SQLite connection Kinerja opens: WAL, `synchronous=NORMAL` (durable
/// at checkpoints, no fsync per commit), the busy timeout, foreign keys, create if missing,
/// and [`SQLITE_ROW_CHANNEL`].
fn sqlite_settings(
    o: sea_orm::sqlx::sqlite::SqliteConnectOptions,
    busy: Duration,
) -> sea_orm::sqlx::sqlite::SqliteConnectOptions {
    o.journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(busy)
        .foreign_keys(true)
        .create_if_missing(true)
        .row_buffer_size(SQLITE_ROW_CHANNEL)
}

/// Settings of every PostgreSQL connection of the service: just-in-time compilation off (unless
/// the URL's `options` set `jit` itself, as `jit=` or URL-encoded `jit%3D`). PostgreSQL compiles a statement whose estimated cost
/// passes `jit_above_cost`, which a generic plan's estimate over a large table easily does,
/// and the compilation took 100-200 ms of a statement that ran in 0.5 ms (the walk of a large
/// unit subtree in `ListEmployees` at 200,000 employees, BENCHMARKS.md session 10). The
/// service runs short statements only; its reports are aggregates over indexes, which JIT
/// does not make faster by more than it costs.
fn postgres_settings(
    o: sea_orm::sqlx::postgres::PgConnectOptions,
    url: &str,
) -> sea_orm::sqlx::postgres::PgConnectOptions {
    let lower = url.to_ascii_lowercase();
    if lower.contains("jit=") || lower.contains("jit%3d") {
        o
    } else {
        o.options([("jit", "off")])
    }
}

/// Advisory lock key that serialises migrations of replicas starting at once ("KINERJA1").
const MIGRATION_LOCK_KEY: i64 = 0x4b49_4e45_524a_4131;

/// Handle to the database; cheap to clone (a pool inside).
#[derive(Clone, Debug)]
pub struct Store {
    /// sea-orm's pool: only the migrations at start-up (its connections close soon after).
    db: DatabaseConnection,
    /// Every statement of the service, in transactions or not ([`direct`]).
    direct: direct::Direct,
    kind: DbKind,
    events: std::sync::Arc<tokio::sync::Notify>,
    /// SQLite only: the one connection every write transaction of this process runs on, a pool
    /// of one whose queue is the writers' turn. One writer at a time asks SQLite for the write
    /// lock (concurrent writers would spin in SQLite's busy handler, which sleeps 1, 2, 5, 10,
    /// ... 100 ms between tries: throughput collapses and the tail latency grows to tens of
    /// milliseconds under load), and its page cache stays warm: in WAL mode a connection drops
    /// its whole page cache when another connection has written since its last transaction, so
    /// writers taking turns on the readers' connections read every page again from the file.
    writer: Option<direct::Direct>,
    /// The content of SKPs read recently, by version (reads outside transactions only).
    content: Arc<cache::ContentCache>,
}

/// A transaction of the store (see [`direct::Txn`]); a write transaction on SQLite holds the
/// process's writer connection until it commits or is dropped (rolled back).
pub(crate) use direct::{BATCH_SEPARATOR, Txn};
/// A write transaction (IMMEDIATE on SQLite).
pub(crate) type WriteTxn = Txn;

/// Turns on SQLite's query planner stability guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`) for a new
/// pooled connection, so a prepared statement keeps its plan whatever values are bound to it.
///
/// Without it, SQLite (3.51, as sqlx bundles it) plans `LIMIT ?` with the bound number and marks
/// the statement to be compiled again whenever that parameter is bound anew: every statement
/// with a bound limit (each `find ... one()`, each list page) was parsed and planned again on
/// every execution, 17 % of the server's CPU in `CreateRealisasi`
/// (`sqlite3Reprepare`, seen with perf and gdb). The guarantee gives up only plans that depend on
/// bound values: the LIKE prefix optimisation, which needs NOCASE columns Kinerja does not have,
/// and STAT4 statistics, which it does not gather.
async fn stable_plans(
    conn: &mut sea_orm::sqlx::sqlite::SqliteConnection,
) -> std::result::Result<(), sea_orm::sqlx::Error> {
    use libsqlite3_sys::{SQLITE_DBCONFIG_ENABLE_QPSG, SQLITE_OK, sqlite3_db_config};
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is this connection's open handle, locked for this thread by `lock_handle`
    // until `handle` drops; the option takes an int (1: on) and a pointer for the previous
    // setting, which may be null.
    let rc = unsafe {
        sqlite3_db_config(
            db,
            SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            std::ptr::null_mut::<std::ffi::c_int>(),
        )
    };
    if rc == SQLITE_OK {
        Ok(())
    } else {
        Err(sea_orm::sqlx::Error::Configuration(
            format!("SQLite refused the query planner stability guarantee (code {rc})").into(),
        ))
    }
}

/// Registers the service's SQL functions on a new SQLite connection:
/// `kinerja_entry_hash(prev, before, seq, after)`, the hash of an audit entry placed after the
/// entry hashed `prev` as number `seq` (`audit::placed_hash`; NULL if an argument is NULL), so a
/// write appends its audit entry without reading the chain's head first.
async fn sql_functions(
    conn: &mut sea_orm::sqlx::sqlite::SqliteConnection,
) -> std::result::Result<(), sea_orm::sqlx::Error> {
    use libsqlite3_sys::{
        SQLITE_DETERMINISTIC, SQLITE_OK, SQLITE_UTF8, sqlite3_context, sqlite3_create_function_v2,
        sqlite3_value,
    };

    /// The bytes of a text or blob argument, `None` for NULL.
    ///
    /// SAFETY: `v` is an argument of the running call; the bytes live until the call returns.
    unsafe fn bytes<'a>(v: *mut sqlite3_value) -> Option<&'a [u8]> {
        use libsqlite3_sys::{
            SQLITE_NULL, sqlite3_value_blob, sqlite3_value_bytes, sqlite3_value_type,
        };
        unsafe {
            if sqlite3_value_type(v) == SQLITE_NULL {
                return None;
            }
            // The pointer first, then its length (SQLite's documented order).
            let p = sqlite3_value_blob(v).cast::<u8>();
            let n = usize::try_from(sqlite3_value_bytes(v)).unwrap_or(0);
            Some(if p.is_null() || n == 0 {
                &[]
            } else {
                std::slice::from_raw_parts(p, n)
            })
        }
    }

    /// `kinerja_entry_hash`: four arguments, checked by SQLite at registration.
    unsafe extern "C" fn entry_hash(
        ctx: *mut sqlite3_context,
        argc: std::ffi::c_int,
        argv: *mut *mut sqlite3_value,
    ) {
        use libsqlite3_sys::{
            SQLITE_NULL, SQLITE_TRANSIENT, sqlite3_result_null, sqlite3_result_text,
            sqlite3_value_int64, sqlite3_value_type,
        };
        // SAFETY: SQLite passes `argc` (4, as registered) valid arguments for this call.
        unsafe {
            let args = std::slice::from_raw_parts(argv, usize::try_from(argc).unwrap_or(0));
            let [prev, before, seq, after] = args else {
                sqlite3_result_null(ctx);
                return;
            };
            let (Some(prev), Some(before), Some(after)) =
                (bytes(*prev), bytes(*before), bytes(*after))
            else {
                sqlite3_result_null(ctx);
                return;
            };
            if sqlite3_value_type(*seq) == SQLITE_NULL {
                sqlite3_result_null(ctx);
                return;
            }
            let hash = audit::placed_hash(prev, before, sqlite3_value_int64(*seq), after);
            // 64 hex digits; SQLite copies them (TRANSIENT) before this returns.
            sqlite3_result_text(
                ctx,
                hash.as_ptr().cast(),
                hash.len() as std::ffi::c_int,
                SQLITE_TRANSIENT(),
            );
        }
    }

    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is this connection's open handle, locked for this thread by `lock_handle`
    // until `handle` drops; the name is NUL-terminated; no user data, so no destructor.
    let rc = unsafe {
        sqlite3_create_function_v2(
            db,
            c"kinerja_entry_hash".as_ptr(),
            4,
            SQLITE_UTF8 | SQLITE_DETERMINISTIC,
            std::ptr::null_mut(),
            Some(entry_hash),
            None,
            None,
            None,
        )
    };
    if rc == SQLITE_OK {
        Ok(())
    } else {
        Err(sea_orm::sqlx::Error::Configuration(
            format!("SQLite refused the function kinerja_entry_hash (code {rc})").into(),
        ))
    }
}

impl Store {
    /// Opens the pool. SQLite files are created when missing and run in WAL mode with a busy
    /// timeout; PostgreSQL uses the configured pool size and acquire timeout.
    pub async fn connect(cfg: &DbConfig) -> Result<Self> {
        let kind = if cfg.url.starts_with("sqlite:") {
            DbKind::Sqlite
        } else if cfg.url.starts_with("postgres://") || cfg.url.starts_with("postgresql://") {
            DbKind::Postgres
        } else {
            return Err(Error::invalid(
                "database_url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        };
        // sea-orm's pool serves the migrations only (sea-orm-migration runs on it): two
        // connections at most, none kept once idle for a second.
        let mut opts = ConnectOptions::new(cfg.url.clone());
        opts.max_connections(2)
            .min_connections(0)
            .acquire_timeout(cfg.acquire_timeout)
            .connect_timeout(cfg.acquire_timeout)
            .idle_timeout(Duration::from_secs(1))
            .test_before_acquire(true)
            .sqlx_logging(false);
        // Its SQLite connections are set up as the service's own: a migration that appends
        // audit entries finds `kinerja_entry_hash`.
        opts.map_sqlx_sqlite_pool_opts(|o| {
            o.after_connect(|conn, _| {
                Box::pin(async move {
                    stable_plans(conn).await?;
                    sql_functions(conn).await
                })
            })
        });
        let busy = cfg.busy_timeout;
        opts.map_sqlx_sqlite_opts(move |o| sqlite_settings(o, busy));
        let db = Database::connect(opts)
            .await
            .map_err(|e| Error::Unavailable(format!("cannot open the database: {e}")))?;
        let direct_options = match direct::Options::parse(&cfg.url, kind.backend()) {
            Ok(direct::Options::Sqlite(o)) => direct::Options::Sqlite(sqlite_settings(o, busy)),
            Ok(direct::Options::Postgres(o)) => {
                direct::Options::Postgres(postgres_settings(o, &cfg.url))
            }
            Err(e) => return Err(Error::invalid("database_url", e.to_string())),
        };
        let settings = direct::Settings {
            max_connections: cfg.max_connections.max(1) as usize,
            acquire_timeout: cfg.acquire_timeout,
            ping_if_idle_for: cfg.ping_if_idle_for,
            idle_timeout: match kind {
                DbKind::Sqlite => cfg.sqlite_idle_timeout.max(Duration::from_millis(10)),
                DbKind::Postgres => POSTGRES_IDLE_TIMEOUT,
            },
            max_lifetime: MAX_CONNECTION_LIFETIME,
            keep_idle: usize::from(kind == DbKind::Sqlite),
        };
        let writer = match &direct_options {
            direct::Options::Sqlite(_) => Some(direct::Direct::new(
                direct_options.clone(),
                &direct::Settings {
                    max_connections: 1,
                    ..settings.clone()
                },
            )?),
            direct::Options::Postgres(_) => None,
        };
        let direct = direct::Direct::new(direct_options, &settings)?;
        Ok(Self {
            db,
            direct,
            kind,
            writer,
            events: std::sync::Arc::new(tokio::sync::Notify::new()),
            content: Arc::new(cache::ContentCache::new(cfg.content_cache_entries)),
        })
    }

    /// The SKP content cache of this replica.
    pub(crate) fn content_cache(&self) -> &cache::ContentCache {
        &self.content
    }

    /// Forgets the cached SKP content (the server is idle; the memory goes back to the system
    /// with the next purge).
    pub fn drop_cached_content(&self) {
        self.content.clear();
    }

    /// Signalled after this process commits events (feed consumers wake up at once; other
    /// replicas' events are found by polling).
    pub fn event_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.events.clone()
    }

    /// Commits `txn` and wakes local feed consumers.
    pub(crate) async fn commit_with_events(&self, txn: WriteTxn) -> Result<()> {
        txn.commit().await?;
        self.events.notify_waiters();
        Ok(())
    }

    /// Database engine in use.
    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// Calls `observer` after every SQL statement the store runs (inside and outside
    /// transactions), on the task that ran it, so the caller's trace context is current. Set it
    /// before the store is cloned: clones made earlier keep the previous observer.
    pub fn set_statement_observer<F>(&mut self, observer: F)
    where
        F: Fn(&StatementInfo<'_>) + Send + Sync + 'static,
    {
        let observer: direct::Observer = Arc::new(observer);
        self.direct.set_observer(observer.clone());
        if let Some(w) = &mut self.writer {
            w.set_observer(observer.clone());
        }
        self.db.set_metric_callback(move |info| {
            observer(&StatementInfo {
                sql: &info.statement.sql,
                statements: 1,
                elapsed: info.elapsed,
                failed: info.failed,
            })
        });
    }

    /// Connections of the pool now, SQLite's writer included (cheap: reads the pools'
    /// counters).
    pub fn pool_usage(&self) -> PoolUsage {
        let (mut open, mut idle, mut max) = self.direct.usage();
        if let Some(w) = &self.writer {
            let (o, i, m) = w.usage();
            (open, idle, max) = (open + o, idle + i, max + m);
        }
        PoolUsage { open, idle, max }
    }

    /// sea-orm's pool itself (the bench's bulk seeding uses PostgreSQL's COPY on it).
    #[cfg(feature = "bench")]
    pub(crate) fn pool(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The pool, for statements outside a transaction, for the store's own modules.
    pub(crate) fn conn(&self) -> &direct::Direct {
        &self.direct
    }

    /// Applies pending migrations. On PostgreSQL an advisory lock makes replicas that start at
    /// the same time run them one after the other (the later ones find nothing to do).
    pub async fn migrate(&self) -> Result<()> {
        match self.kind {
            DbKind::Sqlite => {
                // One IMMEDIATE lock holder at a time; the busy timeout makes others wait.
                Migrator::up(&self.db, None).await?;
            }
            DbKind::Postgres => {
                // Session-level lock on a dedicated transaction-free connection would need a
                // pinned connection; a transaction-level lock around the whole migration run
                // gives the same guarantee, and PostgreSQL DDL is transactional.
                let txn = self.db.begin().await?;
                txn.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_advisory_xact_lock($1)",
                    [MIGRATION_LOCK_KEY.into()],
                ))
                .await?;
                Migrator::up(&txn, None).await?;
                txn.commit().await?;
            }
        }
        Ok(())
    }

    /// Version string of the database server or library.
    pub async fn server_version(&self) -> Result<String> {
        let sql = match self.kind {
            DbKind::Sqlite => "SELECT sqlite_version() AS v",
            DbKind::Postgres => "SELECT current_setting('server_version') AS v",
        };
        let row = self
            .db
            .query_one_raw(Statement::from_string(self.kind.backend(), sql))
            .await?
            .ok_or_else(|| Error::Internal("no version row".into()))?;
        Ok(row.try_get::<String>("", "v")?)
    }

    /// Closes idle connections so that the memory each holds in this process goes back to the
    /// allocator (the server is idle). SQLite: every one, the one the pool keeps open while idle
    /// included: its page cache, prepared statements and worker thread with that thread's
    /// allocation cache; the next statement, often the health check's ping, opens a fresh one
    /// (about a millisecond). PostgreSQL: all but one: each keeps its buffers, grown to the
    /// largest result it carried, and its prepared statements; the next burst of calls opens
    /// connections again (a few milliseconds each). Otherwise SQLite connections close after
    /// `--sqlite-idle-timeout-ms`, PostgreSQL ones after 10 minutes idle.
    pub fn close_idle_connections(&self) {
        self.direct
            .close_idle(usize::from(self.kind == DbKind::Postgres));
        if let Some(w) = &self.writer {
            w.close_idle(0);
        }
    }

    /// Checks that the database answers, through the pool every call uses.
    pub async fn ping(&self) -> Result<()> {
        self.direct
            .query_one_raw(Statement::from_string(self.kind.backend(), "SELECT 1"))
            .await
            .map(|_| ())
            .map_err(|e| Error::Unavailable(e.to_string()))
    }

    /// Closes the pool (at shutdown).
    pub async fn close(&self) {
        self.direct.close();
        if let Some(w) = &self.writer {
            w.close();
        }
        if let Err(e) = self.db.close_by_ref().await {
            tracing::warn!(error = %e, "closing the database pool failed");
        }
    }

    /// A transaction for several reads: one pooled connection and one snapshot for all of them
    /// (SQLite: DEFERRED, no write lock; PostgreSQL: REPEATABLE READ, READ ONLY — its default
    /// READ COMMITTED would give each statement its own snapshot). Commit it when done.
    pub(crate) async fn begin_read(&self) -> Result<Txn> {
        Ok(self.direct.begin(direct::TxnKind::Read).await?)
    }

    /// Starts a write transaction: IMMEDIATE on SQLite, so the write lock is taken at BEGIN and
    /// concurrent writers wait for it (busy timeout) instead of failing on upgrade.
    /// On SQLite the process's writers take turns on its one writer connection (see
    /// [`Store`]); the busy timeout still covers other processes (`kinerja migrate`, another
    /// replica on the same file) and the few writes made outside transactions.
    pub(crate) async fn begin_write(&self) -> Result<WriteTxn> {
        let pool = self.writer.as_ref().unwrap_or(&self.direct);
        Ok(pool.begin(direct::TxnKind::Write).await?)
    }
}

impl DbKind {
    fn backend(self) -> DbBackend {
        match self {
            DbKind::Sqlite => DbBackend::Sqlite,
            DbKind::Postgres => DbBackend::Postgres,
        }
    }
}

/// Takes a row lock on `table.id = id` inside `txn` (PostgreSQL; SQLite already holds the
/// database write lock), so check-then-insert rules such as "no overlapping assignments" hold
/// under concurrent writers. Returns false when the row does not exist.
pub(crate) async fn lock_row(txn: &Txn, kind: DbKind, table: &str, id: &str) -> Result<bool> {
    lock_row_by(txn, kind, table, "id", id.into()).await
}

/// Like [`lock_row`], on any unique key column.
///
/// A read, not a write: `SELECT ... FOR UPDATE` on PostgreSQL (the same lock strength an update
/// of the key takes, so it also holds off rows that would reference it); on SQLite, whose write
/// transaction already excludes every other writer, only whether the row exists. The no-op
/// `UPDATE t SET id = id` this replaced wrote a new version of the row (a new tuple, its WAL and
/// the foreign-key checks of every table referencing `t` on PostgreSQL; a rewritten page on
/// SQLite) on every call that locks an SKP.
pub(crate) async fn lock_row_by(
    txn: &Txn,
    kind: DbKind,
    table: &str,
    column: &str,
    key: sea_orm::Value,
) -> Result<bool> {
    let sql = match kind {
        DbKind::Sqlite => format!("SELECT 1 AS found FROM {table} WHERE {column} = ?"),
        DbKind::Postgres => {
            format!("SELECT 1 AS found FROM {table} WHERE {column} = $1 FOR UPDATE")
        }
    };
    let found = txn
        .query_one_raw(Statement::from_sql_and_values(kind.backend(), sql, [key]))
        .await?;
    Ok(found.is_some())
}

/// Hands memory freed by a large operation (a bulk import batch: its rows, statements and the
/// enlarged SQLite page cache) back to the operating system at once, instead of when the
/// allocator's decay would (see [`crate::memory::release_free_memory`]). Runs on a blocking
/// thread.
pub(crate) fn release_free_memory() {
    tokio::task::spawn_blocking(crate::memory::release_free_memory);
}

/// The row of entity `E` whose primary key is `id`, or `NOT_FOUND` naming it as a `kind`.
pub(crate) async fn find_or_not_found<E, C>(
    db: &C,
    kind: &'static str,
    id: &str,
) -> Result<E::Model>
where
    E: sea_orm::EntityTrait,
    String: Into<<E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType>,
    C: ConnectionTrait,
{
    E::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(kind, id))
}

/// One keyset page of `q` by the unique text column `key`, ascending (or descending when
/// `desc`), after the page token's key; `key_of` reads the key of a row for the next token.
pub(crate) async fn keyset_page<E, C>(
    db: &C,
    q: sea_orm::Select<E>,
    key: E::Column,
    desc: bool,
    page: &crate::pagination::Page,
    key_of: impl Fn(&E::Model) -> String,
) -> Result<(Vec<E::Model>, String)>
where
    E: sea_orm::EntityTrait,
    C: ConnectionTrait,
{
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    let after = page
        .after
        .as_ref()
        .map(|k| k.first().cloned().unwrap_or_default());
    let q = match (after, desc) {
        (Some(a), false) => q.filter(key.gt(a)).order_by_asc(key),
        (Some(a), true) => q.filter(key.lt(a)).order_by_desc(key),
        (None, false) => q.order_by_asc(key),
        (None, true) => q.order_by_desc(key),
    };
    let rows = q.limit(page.fetch_limit()).all(db).await?;
    Ok(page.finish(rows, |r| vec![key_of(r)]))
}

/// A new identifier (UUIDv7: time-ordered, so keyset pages follow creation order).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the query planner stability setting of one pooled SQLite connection (`conn`, or
    /// one the pool hands out).
    async fn qpsg_of(store: &Store, held: Option<&mut direct::RawConn>) -> std::ffi::c_int {
        use libsqlite3_sys::{SQLITE_DBCONFIG_ENABLE_QPSG, sqlite3_db_config};
        let mut obj = None;
        let raw = match held {
            Some(c) => c,
            None => &mut **obj.insert(store.direct.checkout().await),
        };
        let direct::RawConn::Sqlite(conn) = raw else {
            panic!("a SQLite store holds SQLite connections");
        };
        let mut handle = conn.lock_handle().await.expect("the connection's handle");
        let mut on: std::ffi::c_int = -1;
        // SAFETY: the handle is open and locked for this thread; -1 asks for the setting
        // without changing it, written to `on`.
        unsafe {
            sqlite3_db_config(
                handle.as_raw_handle().as_ptr(),
                SQLITE_DBCONFIG_ENABLE_QPSG,
                -1 as std::ffi::c_int,
                &mut on as *mut std::ffi::c_int,
            )
        };
        on
    }

    /// A store on a new SQLite file in a temporary directory (kept while the directory lives),
    /// with the default settings and a pool of `max_connections`.
    async fn sqlite_store(max_connections: u32) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = DbConfig {
            url: format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display()),
            max_connections,
            ..DbConfig::default()
        };
        let store = Store::connect(&cfg).await.expect("store");
        (dir, store)
    }

    /// The bundled SQLite is built as `.cargo/config.toml` asks: no global memory statistics and
    /// no process-wide page cache, so its connections (one per worker thread) share no mutex
    /// on allocations or page reads.
    #[tokio::test]
    async fn sqlite_is_built_without_global_allocation_locks() {
        let (_dir, store) = sqlite_store(1).await;
        let rows = store
            .conn()
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT compile_options AS o FROM pragma_compile_options",
            ))
            .await
            .expect("compile options");
        let opts: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String>("", "o").expect("text"))
            .collect();
        assert!(
            opts.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "SQLite keeps global memory statistics: {opts:?}"
        );
        assert!(
            !opts.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "SQLite shares one page cache between connections: {opts:?}"
        );
        // What the option means: SQLite counts no allocations (with statistics on, the schema
        // alone read by the migrations is hundreds of kilobytes).
        // SAFETY: a plain read of a process-wide counter, no arguments.
        assert_eq!(unsafe { libsqlite3_sys::sqlite3_memory_used() }, 0);
    }

    /// Bytes of page cache the pooled SQLite connection holds (`SQLITE_DBSTATUS_CACHE_USED`).
    async fn cache_used(store: &Store) -> std::ffi::c_int {
        use libsqlite3_sys::{SQLITE_DBSTATUS_CACHE_USED, sqlite3_db_status};
        let mut held = store.direct.checkout().await;
        let direct::RawConn::Sqlite(conn) = &mut *held else {
            panic!("a SQLite store holds SQLite connections");
        };
        let mut handle = conn.lock_handle().await.expect("the connection's handle");
        let (mut used, mut peak): (std::ffi::c_int, std::ffi::c_int) = (0, 0);
        // SAFETY: the handle is open and locked for this thread; the two outputs are written,
        // nothing is reset.
        unsafe {
            sqlite3_db_status(
                handle.as_raw_handle().as_ptr(),
                SQLITE_DBSTATUS_CACHE_USED,
                &mut used,
                &mut peak,
                0,
            )
        };
        used
    }

    /// The health loop closes the connection the idle pool keeps (its page cache, statements
    /// and thread go), and the store still answers on a new one.
    #[tokio::test]
    async fn the_idle_sqlite_connection_is_closed_on_request() {
        let (_dir, store) = sqlite_store(1).await;
        store.migrate().await.expect("migrate");
        for table in ["employees", "units", "skps", "skp_evaluations", "realisasi"] {
            store
                .conn()
                .query_all_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Sqlite,
                    format!("SELECT COUNT(*) FROM {table}"),
                ))
                .await
                .expect("count");
        }
        assert!(cache_used(&store).await > 0, "reads fill the page cache");
        assert_eq!(store.direct.usage().0, 1, "one connection kept open");
        store.close_idle_connections();
        assert_eq!(store.direct.usage().0, 0, "none open after");
        store.ping().await.expect("the store answers after");
    }

    /// SQLite's write transactions take turns on the one writer connection, beside the readers'
    /// pool: a second writer waits until the first ends, readers do not, and the writer is
    /// closed with the idle connections.
    #[tokio::test]
    async fn sqlite_writers_take_turns_on_one_connection_of_their_own() {
        let (_dir, store) = sqlite_store(2).await;
        store.migrate().await.expect("migrate");
        let count = || {
            sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT COUNT(*) AS n FROM units",
            )
        };
        let first = store.begin_write().await.expect("begin");
        first
            .query_one_raw(count())
            .await
            .expect("read in the write");
        let writer = store.writer.as_ref().expect("a SQLite store has a writer");
        assert_eq!(writer.usage(), (1, 0, 1), "the writer is in use");
        let second = tokio::time::timeout(Duration::from_millis(200), store.begin_write()).await;
        assert!(second.is_err(), "a second writer waits for its turn");
        // Readers go on meanwhile, on their own pool.
        store.conn().query_one_raw(count()).await.expect("read");
        first.commit().await.expect("commit");
        let second = tokio::time::timeout(Duration::from_secs(5), store.begin_write())
            .await
            .expect("the second writer's turn came")
            .expect("begin");
        second
            .query_one_raw(count())
            .await
            .expect("read in the write");
        second.commit().await.expect("commit");
        assert_eq!(store.pool_usage().max, 3, "2 readers and the writer");
        assert_eq!(writer.usage(), (1, 1, 1), "idle after the commit");
        store.close_idle_connections();
        assert_eq!(writer.usage().0, 0, "closed when the server is idle");
    }

    #[tokio::test]
    async fn every_sqlite_connection_keeps_its_plans_whatever_is_bound() {
        let (_dir, store) = sqlite_store(2).await;
        let mut first = store.direct.checkout().await;
        assert_eq!(
            qpsg_of(&store, Some(&mut first)).await,
            1,
            "the first connection"
        );
        // A second connection while the first is held: opened by the pool the same way.
        assert_eq!(qpsg_of(&store, None).await, 1, "a newly opened connection");
        drop(first);
    }

    /// The plan of `st` (the `detail` column of `EXPLAIN QUERY PLAN`) in the bundled SQLite, on
    /// a migrated empty database: without statistics SQLite plans an empty database as it plans
    /// a province, so this is the plan the service runs (the system `sqlite3` shell may plan
    /// differently).
    async fn sqlite_plan(mut st: sea_orm::Statement) -> Vec<String> {
        let (_dir, store) = sqlite_store(1).await;
        store.migrate().await.expect("migrate");
        st.sql = format!("EXPLAIN QUERY PLAN {}", st.sql);
        store
            .conn()
            .query_all_raw(st)
            .await
            .expect("plan")
            .iter()
            .map(|r| r.try_get::<String>("", "detail").expect("detail"))
            .collect()
    }

    /// The walk down a unit subtree (sizing a `ListEmployees` by unit) probes the children of
    /// each unit found in `units(parent_id)`.
    #[tokio::test]
    async fn the_subtree_walk_probes_children_by_parent() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).expect("date");
        let plan = sqlite_plan(employees::subtree_sizing(DbKind::Sqlite, "u-1", day)).await;
        let step = plan
            .iter()
            .skip_while(|l| *l != "RECURSIVE STEP")
            .take(3)
            .cloned()
            .collect::<Vec<_>>();
        assert_eq!(
            step,
            [
                "RECURSIVE STEP",
                "SCAN sub",
                "SEARCH c USING INDEX ix_units_parent_id (parent_id=?)"
            ],
            "{plan:#?}"
        );
    }

    /// The name-prefix filter of `ListEmployees` on SQLite: a range of `ix_employees_name` when
    /// the prefix has few matches, a walk in id order testing each name when it has many (a
    /// `LIKE` pattern was served by no index: every employee was read whatever the prefix).
    #[tokio::test]
    async fn a_name_prefix_search_is_a_range_of_the_name_index_or_a_walk_in_id_order() {
        use employees::NameScan;
        use sea_orm::{
            EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, QueryTrait as _,
        };
        let plan = |scan| {
            sqlite_plan(
                entities::employee::Entity::find()
                    .filter(employees::name_starts_with(DbKind::Sqlite, "siti", scan))
                    .order_by_asc(entities::employee::Column::Id)
                    .limit(51)
                    .build(DbBackend::Sqlite),
            )
        };
        let range = plan(NameScan::Range).await;
        assert_eq!(
            range,
            [
                "SEARCH employees USING INDEX ix_employees_name (name_lower>? AND name_lower<?)",
                "USE TEMP B-TREE FOR ORDER BY"
            ],
            "{range:#?}"
        );
        let walk = plan(NameScan::Walk).await;
        assert_eq!(
            walk,
            ["SCAN employees USING INDEX sqlite_autoindex_employees_1"],
            "{walk:#?}"
        );
    }

    /// A common prefix is walked in id order, a rare one read through the name index; both give
    /// the same matches in id order (SQLite).
    #[tokio::test]
    async fn name_searches_pick_their_plan_by_the_number_of_matches() {
        use employees::{EmployeeFilter, NameScan};
        let (_dir, store) = sqlite_store(2).await;
        store.migrate().await.expect("migrate");
        let at = "'2026-01-01T00:00:00+00:00'";
        for sql in [
            agency_a1(at),
            // 5,000 "siti ..." (more than the range plan takes) and, between them in id
            // order, three "agus ...".
            format!(
                "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 5002) \
                 INSERT INTO employees (id, nip, name, name_lower, status, position_type, \
                   position_name, agency_id, version, created_at, updated_at) \
                 SELECT printf('e%05d', i), printf('19850315200001%04d', i), \
                        CASE WHEN i % 2000 = 1 THEN 'Agus ' || i ELSE 'Siti ' || i END, \
                        CASE WHEN i % 2000 = 1 THEN 'agus ' || i ELSE 'siti ' || i END, \
                        'PNS', 'PELAKSANA', 'P', 'a1', 1, {at}, {at} FROM c"
            ),
        ] {
            store.db.execute_unprepared(&sql).await.expect(&sql);
        }
        assert_eq!(store.name_scan("siti").await.expect("scan"), NameScan::Walk);
        assert_eq!(
            store.name_scan("agus").await.expect("scan"),
            NameScan::Range
        );
        assert_eq!(
            store.name_scan("siti 12").await.expect("scan"),
            NameScan::Range
        );
        let ids = |prefix: &'static str| {
            let store = store.clone();
            async move {
                let f = EmployeeFilter {
                    name_prefix: Some(prefix.to_owned()),
                    ..Default::default()
                };
                let page = crate::pagination::Page::parse(50, "", &[]).expect("page");
                let (rows, _) = store.list_employees(&f, &page).await.expect("list");
                rows.into_iter().map(|e| e.id).collect::<Vec<_>>()
            }
        };
        let common = ids("siti").await;
        assert_eq!(common.len(), 50);
        assert_eq!(common[..3], ["e00000", "e00002", "e00003"]);
        assert_eq!(ids("agus").await, ["e00001", "e02001", "e04001"]);
        assert_eq!(ids("siti 12").await[..3], ["e00012", "e00120", "e00121"]);
        store.close().await;
    }

    /// On PostgreSQL the name-prefix range compares in code-point order (`COLLATE "C"`, exact
    /// whatever the database's collation), which the name index built by the migrations serves.
    #[tokio::test]
    async fn postgres_serves_a_name_prefix_search_from_the_name_index() {
        use sea_orm::{EntityTrait as _, QueryFilter as _, QuerySelect as _, QueryTrait as _};
        let (store, _cleanup) = fresh_store().await;
        if store.kind() != DbKind::Postgres {
            return;
        }
        store.migrate().await.expect("migrate");
        let mut q = entities::employee::Entity::find()
            .filter(employees::name_starts_with(
                DbKind::Postgres,
                "siti",
                employees::NameScan::Range,
            ))
            .limit(51)
            .build(DbBackend::Postgres);
        q.sql = format!("EXPLAIN {}", q.sql);
        let txn = store.begin_read().await.expect("read transaction");
        // An empty table: without this the planner reads it whole, as it should.
        txn.execute_unprepared("SET LOCAL enable_seqscan = off")
            .await
            .expect("set");
        let plan: Vec<String> = txn
            .query_all_raw(q)
            .await
            .expect("plan")
            .iter()
            .map(|r| r.try_get_by_index::<String>(0).expect("line"))
            .collect();
        txn.commit().await.expect("commit");
        // The range is the index scan's condition, not a filter over a walk of the whole index
        // (which is what an index in the database's own collation would give).
        let scan = plan
            .iter()
            .position(|l| l.contains("ix_employees_name"))
            .unwrap_or_else(|| panic!("no scan of the name index: {plan:#?}"));
        assert!(
            plan[scan + 1..]
                .iter()
                .take(1)
                .any(|l| l.contains("Index Cond") && l.contains("name_lower")),
            "{plan:#?}"
        );
        store.close().await;
    }

    /// A page of a large unit subtree walks the unit's agency's employees in id order, and
    /// finds members seconded from other agencies through the partial index of secondments
    /// (neither statement reads every employee or every assignment).
    #[tokio::test]
    async fn large_subtree_pages_walk_the_agency_and_probe_secondments() {
        use sea_orm::{
            ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _,
            QuerySelect as _, QueryTrait as _,
        };
        let now = chrono::Utc::now();
        let u = UnitRow {
            id: "u-1".into(),
            agency_id: "a-1".into(),
            parent_id: None,
            code: "ROOT".into(),
            name: "Root".into(),
            active: true,
            depth: 0,
            path: "/u-1/".into(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).expect("date");
        let q = entities::employee::Entity::find()
            .order_by_asc(entities::employee::Column::Id)
            .filter(entities::employee::Column::Id.gt("x"));
        let [home, seconded] = employees::large_subtree_members(DbKind::Sqlite, q, &u, day);
        let home = sqlite_plan(home.limit(51).build(DbBackend::Sqlite)).await;
        assert!(
            home[0].starts_with(
                "SEARCH employees USING INDEX ix_employees_agency (agency_id=? AND id>?)"
            ),
            "{home:#?}"
        );
        let seconded = sqlite_plan(seconded.limit(51).build(DbBackend::Sqlite)).await;
        assert!(
            seconded
                .iter()
                .any(|l| l.contains("USING") && l.contains("INDEX ix_assignments_outside_agency")),
            "{seconded:#?}"
        );
        // The only scan is of the partial index, which holds secondments only.
        assert!(
            seconded
                .iter()
                .filter(|l| l.starts_with("SCAN"))
                .all(|l| l.ends_with("USING INDEX ix_assignments_outside_agency")),
            "{seconded:#?}"
        );
    }

    /// Upgrading to `outside_agency` flags the assignments stored before it: a secondment (the
    /// unit in another agency than the employee's) is flagged, a post in the own agency is not.
    #[tokio::test]
    async fn the_upgrade_flags_stored_secondments() {
        use sea_orm::{EntityTrait as _, QueryOrder as _};
        let (store, _cleanup) = fresh_store().await;
        let before = Migrator::migrations()
            .iter()
            .position(|m| m.name() == "m20261207_000014_assignments_outside_agency")
            .expect("the migration") as u32;
        Migrator::up(&store.db, Some(before))
            .await
            .expect("migrations before");
        let at = "'2026-01-01T00:00:00+00:00'";
        for sql in [
            format!(
                "INSERT INTO agencies (id, code, name, time_zone, version, created_at, updated_at) \
                 VALUES ('a1', 'A1', 'A', 'WIB', 1, {at}, {at}), ('a2', 'A2', 'B', 'WIB', 1, {at}, {at})"
            ),
            format!(
                "INSERT INTO units (id, agency_id, parent_id, code, name, active, depth, path, \
                   version, created_at, updated_at) \
                 VALUES ('u1', 'a1', NULL, 'U1', 'U', TRUE, 0, '/u1/', 1, {at}, {at})"
            ),
            format!(
                "INSERT INTO employees (id, nip, name, name_lower, status, position_type, \
                   position_name, agency_id, version, created_at, updated_at) \
                 VALUES ('e1', '198503152000011001', 'E', 'e', 'PNS', 'PELAKSANA', 'P', 'a1', 1, \
                         {at}, {at}), \
                        ('e2', '198503152000011002', 'F', 'f', 'PNS', 'PELAKSANA', 'P', 'a2', 1, \
                         {at}, {at})"
            ),
            format!(
                "INSERT INTO assignments (id, employee_id, unit_id, superior_employee_id, \
                   position_name, position_type, kind, start_date, end_date, version, \
                   created_at, updated_at) \
                 VALUES ('s1', 'e1', 'u1', NULL, 'P', 'PELAKSANA', 'DEFINITIF', '2026-01-01', NULL, \
                         1, {at}, {at}), \
                        ('s2', 'e2', 'u1', NULL, 'P', 'PELAKSANA', 'DEFINITIF', '2026-01-01', NULL, \
                         1, {at}, {at})"
            ),
        ] {
            store.db.execute_unprepared(&sql).await.expect(&sql);
        }
        Migrator::up(&store.db, None)
            .await
            .expect("the remaining migrations");
        let flags: Vec<(String, bool)> = entities::assignment::Entity::find()
            .order_by_asc(entities::assignment::Column::Id)
            .all(store.conn())
            .await
            .expect("assignments")
            .into_iter()
            .map(|a| (a.id, a.outside_agency))
            .collect();
        assert_eq!(flags, [("s1".to_owned(), false), ("s2".to_owned(), true)]);
    }

    /// A unit's leader on a day, as the database finds the candidates: the definitive post whose
    /// superior is not posted in the unit that day (or who has none); among several, the higher
    /// post type, then the smaller employee id. Ended, future and acting posts do not count.
    #[tokio::test]
    async fn a_units_leader_is_the_post_whose_superior_is_outside_the_unit() {
        let (store, _cleanup) = fresh_store().await;
        Migrator::up(&store.db, None).await.expect("migrations");
        let at = "'2026-01-01T00:00:00+00:00'";
        let nip = |i: u32| format!("19850315200001100{i}");
        let employees: Vec<String> = (1..=7)
            .map(|i| {
                format!(
                    "('e{i}', '{}', 'E{i}', 'e{i}', 'PNS', 'PELAKSANA', 'P', 'a1', 1, {at}, {at})",
                    nip(i)
                )
            })
            .collect();
        // (id, employee, unit, superior, position type, kind, start, end)
        let posts = [
            // e1 heads u1 (superior e7 is outside it); e2 and e3 report to e1.
            (
                "p1",
                "e1",
                "u1",
                Some("e7"),
                "ADMINISTRATOR",
                "DEFINITIF",
                "2026-01-01",
                None,
            ),
            (
                "p2",
                "e2",
                "u1",
                Some("e1"),
                "PENGAWAS",
                "DEFINITIF",
                "2026-01-01",
                None,
            ),
            (
                "p3",
                "e3",
                "u1",
                Some("e1"),
                "JPT",
                "DEFINITIF",
                "2026-01-01",
                None,
            ),
            // An acting JPT without a superior, and an ended one: neither counts.
            ("p4", "e4", "u1", None, "JPT", "PLT", "2026-01-01", None),
            (
                "p5",
                "e5",
                "u1",
                None,
                "JPT",
                "DEFINITIF",
                "2025-01-01",
                Some("2025-12-31"),
            ),
            // u2: two heads of the same type (no superior, superior in another unit): e5 < e6.
            (
                "p6",
                "e6",
                "u2",
                None,
                "PENGAWAS",
                "DEFINITIF",
                "2026-01-01",
                None,
            ),
            (
                "p7",
                "e5",
                "u2",
                Some("e1"),
                "PENGAWAS",
                "DEFINITIF",
                "2026-01-01",
                None,
            ),
            // From June a JPT in u2 who reports to e6 there: not a head.
            (
                "p8",
                "e7",
                "u2",
                Some("e6"),
                "JPT",
                "DEFINITIF",
                "2026-06-01",
                None,
            ),
        ];
        let posts: Vec<String> = posts
            .iter()
            .map(|(id, e, u, sup, ty, kind, start, end)| {
                let opt = |v: &Option<&str>| v.map_or("NULL".to_owned(), |v| format!("'{v}'"));
                format!(
                    "('{id}', '{e}', '{u}', {}, 'P', '{ty}', '{kind}', '{start}', {}, 1, {at}, {at})",
                    opt(sup),
                    opt(end)
                )
            })
            .collect();
        for sql in [
            agency_a1(at),
            format!(
                "INSERT INTO units (id, agency_id, parent_id, code, name, active, depth, path, \
                   version, created_at, updated_at) \
                 VALUES ('u1', 'a1', NULL, 'U1', 'U', TRUE, 0, '/u1/', 1, {at}, {at}), \
                        ('u2', 'a1', NULL, 'U2', 'V', TRUE, 0, '/u2/', 1, {at}, {at}), \
                        ('u3', 'a1', NULL, 'U3', 'W', TRUE, 0, '/u3/', 1, {at}, {at})"
            ),
            format!(
                "INSERT INTO employees (id, nip, name, name_lower, status, position_type, \
                   position_name, agency_id, version, created_at, updated_at) VALUES {}",
                employees.join(", ")
            ),
            format!(
                "INSERT INTO assignments (id, employee_id, unit_id, superior_employee_id, \
                   position_name, position_type, kind, start_date, end_date, version, \
                   created_at, updated_at) VALUES {}",
                posts.join(", ")
            ),
        ] {
            store.db.execute_unprepared(&sql).await.expect(&sql);
        }
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let leader = |u: &'static str, d: &'static str| {
            let store = store.clone();
            async move {
                calibration::unit_leader_on(store.conn(), u, day(d))
                    .await
                    .expect("leader")
            }
        };
        // The JPT e3 reports to e1 inside the unit, so e1 leads u1 despite the lower type.
        assert_eq!(leader("u1", "2026-03-31").await.as_deref(), Some("e1"));
        // In 2025 only the ended post was held: its holder led the unit then.
        assert_eq!(leader("u1", "2025-06-30").await.as_deref(), Some("e5"));
        // u2 before June: e5 (superior outside) and e6 (none), both PENGAWAS: smaller id.
        assert_eq!(leader("u2", "2026-03-31").await.as_deref(), Some("e5"));
        // From June the JPT e7 is posted in u2, but reports to e6 there: still e5.
        assert_eq!(leader("u2", "2026-12-31").await.as_deref(), Some("e5"));
        // A unit without posts has no leader.
        assert_eq!(leader("u3", "2026-03-31").await, None);
        store.close().await;
    }

    /// The sweeper that finalizes results reads a batch of expired results in index order: no
    /// sort of every expired result per batch.
    #[tokio::test]
    async fn expired_results_are_read_in_index_order() {
        use sea_orm::QueryTrait as _;
        let now = chrono::Utc::now();
        for agency in [None, Some("a-1")] {
            let st = calibration::expired_results(now, agency, 100).build(DbBackend::Sqlite);
            let plan = sqlite_plan(st).await;
            assert!(
                plan[0].starts_with("SEARCH skp_evaluations USING INDEX ix_skp_evaluations_expiry"),
                "{plan:#?}"
            );
            assert!(!plan.iter().any(|l| l.contains("TEMP B-TREE")), "{plan:#?}");
        }
    }

    /// `jit = off` is added to every PostgreSQL connection unless the URL's options set `jit`
    /// (a database whose name merely contains "jit" still gets it).
    #[test]
    fn postgres_connections_get_jit_off_unless_the_url_sets_it() {
        use std::str::FromStr as _;
        let opts = |url: &str| {
            let o = sea_orm::sqlx::postgres::PgConnectOptions::from_str(url).expect("url");
            postgres_settings(o, url).get_options().map(str::to_owned)
        };
        let plain = opts("postgres://kinerja@db:5432/jitter");
        assert!(
            plain.as_deref().is_some_and(|o| o.contains("jit=off")),
            "{plain:?}"
        );
        let own = opts("postgres://kinerja@db:5432/k?options=-c%20jit%3Don");
        assert!(
            own.as_deref().is_some_and(|o| !o.contains("jit=off")),
            "{own:?}"
        );
    }

    /// The service's PostgreSQL connections run without just-in-time compilation; on SQLite
    /// there is nothing to check.
    #[tokio::test]
    async fn postgres_connections_do_not_compile_statements() {
        let (store, _cleanup) = fresh_store().await;
        if store.kind() != DbKind::Postgres {
            return;
        }
        let row = store
            .conn()
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT current_setting('jit') AS jit",
            ))
            .await
            .expect("setting")
            .expect("a row");
        assert_eq!(row.try_get::<String>("", "jit").expect("jit"), "off");
    }

    /// Every SQLite connection, the migrations' pool's too, has `kinerja_entry_hash`, which
    /// computes what the verifier computes, and NULL for a NULL argument.
    #[tokio::test]
    async fn sqlite_connections_hash_audit_entries_as_the_verifier_does() {
        let (_dir, store) = sqlite_store(2).await;
        let hash = |sql: &str| Statement::from_string(DbBackend::Sqlite, sql.to_owned());
        let expected = audit::placed_hash(b"ab", &[1, 2], 7, &[3]);
        let sql = "SELECT kinerja_entry_hash('ab', x'0102', 7, x'03') AS h";
        let null = "SELECT kinerja_entry_hash(NULL, x'0102', 7, x'03') AS h";
        for (pool, row, none) in [
            (
                "the service's",
                store.conn().query_one_raw(hash(sql)).await,
                store.conn().query_one_raw(hash(null)).await,
            ),
            (
                "the migrations'",
                store.db.query_one_raw(hash(sql)).await,
                store.db.query_one_raw(hash(null)).await,
            ),
        ] {
            let row = row.expect(pool).expect("a row");
            assert_eq!(
                row.try_get::<String>("", "h").expect(pool),
                expected,
                "{pool}"
            );
            let none = none.expect(pool).expect("a row");
            assert_eq!(
                none.try_get::<Option<String>>("", "h").expect(pool),
                None,
                "{pool}"
            );
        }
    }

    /// A write whose audit chain has lost its head fails and stores nothing: on PostgreSQL the
    /// update and its entry are one statement, which fails as a whole (the entry's `seq` would
    /// be NULL); on SQLite the append fails its transaction.
    #[tokio::test]
    async fn a_write_whose_audit_chain_has_no_head_fails_and_stores_nothing() {
        let (store, _cleanup) = fresh_store().await;
        store.migrate().await.expect("migrations");
        let at = "'2026-01-01T00:00:00+00:00'";
        for sql in [
            agency_a1(at),
            format!(
                "INSERT INTO employees (id, nip, name, name_lower, status, position_type, \
                   position_name, agency_id, version, created_at, updated_at) \
                 VALUES ('e1', '198503152000011001', 'E', 'e', 'PNS', 'PELAKSANA', 'P', 'a1', 1, \
                         {at}, {at})"
            ),
            "DELETE FROM audit_heads".to_owned(),
        ] {
            store.db.execute_unprepared(&sql).await.expect(&sql);
        }
        let changes = employees::EmployeeChanges {
            name: Some("Baru".into()),
            ..Default::default()
        };
        let err = store
            .update_employee(&audit::Actor::default(), "e1", 1, changes)
            .await
            .expect_err("no chain head to append to");
        assert!(matches!(err, Error::Internal(_)), "{err:?}");
        let e = <entities::employee::Entity as sea_orm::EntityTrait>::find_by_id("e1".to_owned())
            .one(store.conn())
            .await
            .expect("read")
            .expect("the employee");
        assert_eq!((e.name.as_str(), e.version), ("E", 1), "nothing stored");
        assert_eq!(count_rows(store.conn(), "audit_log").await, 0);
    }

    /// A store on a new database: PostgreSQL when `KINERJA_TEST_DATABASE_URL` names a server
    /// (a database of its own, dropped by the returned guard), otherwise a SQLite file.
    async fn fresh_store() -> (Store, impl Drop) {
        /// The PostgreSQL database to drop, or the SQLite file's directory (removed on drop).
        struct Cleanup {
            pg: Option<(String, String)>,
            _dir: Option<tempfile::TempDir>,
        }
        impl Drop for Cleanup {
            fn drop(&mut self) {
                if let Some((admin, name)) = self.pg.take() {
                    // Drop from a plain thread: the test's runtime may be shutting down.
                    let _ = std::thread::spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("runtime");
                        rt.block_on(async {
                            if let Ok(db) = Database::connect(admin.as_str()).await {
                                let _ = db
                                    .execute_unprepared(&format!(
                                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                    ))
                                    .await;
                            }
                        });
                    })
                    .join();
                }
            }
        }
        match std::env::var("KINERJA_TEST_DATABASE_URL") {
            Ok(admin) if !admin.is_empty() => {
                let name = format!("kinerja_t_{}", uuid::Uuid::new_v4().simple());
                let db = Database::connect(admin.as_str()).await.expect("PostgreSQL");
                db.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create database");
                db.close().await.ok();
                let (base, query) = admin.split_once('?').unwrap_or((admin.as_str(), ""));
                let host = base.rsplit_once('/').map_or(base, |(h, _)| h);
                let url = if query.is_empty() {
                    format!("{host}/{name}")
                } else {
                    format!("{host}/{name}?{query}")
                };
                let cfg = DbConfig {
                    url,
                    ..DbConfig::default()
                };
                let store = Store::connect(&cfg).await.expect("store");
                (
                    store,
                    Cleanup {
                        pg: Some((admin, name)),
                        _dir: None,
                    },
                )
            }
            _ => {
                let (dir, store) = sqlite_store(DbConfig::default().max_connections).await;
                (
                    store,
                    Cleanup {
                        pg: None,
                        _dir: Some(dir),
                    },
                )
            }
        }
    }

    /// The insert of agency `a1` (code `A1`, WIB) created and updated at `at`, an SQL literal.
    fn agency_a1(at: &str) -> String {
        format!(
            "INSERT INTO agencies (id, code, name, time_zone, version, created_at, updated_at) \
             VALUES ('a1', 'A1', 'A', 'WIB', 1, {at}, {at})"
        )
    }

    /// Rows in `table`, read through `db`.
    pub(super) async fn count_rows(db: &impl ConnectionTrait, table: &str) -> i64 {
        db.query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT count(*) AS n FROM {table}"),
        ))
        .await
        .expect("count")
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("n")
    }

    /// A read transaction sees one snapshot: a change committed by another connection after
    /// its first read is not seen by its later reads (SQLite DEFERRED; PostgreSQL REPEATABLE
    /// READ — under its default READ COMMITTED the second count would be 2).
    #[tokio::test]
    async fn a_read_transaction_reads_one_snapshot() {
        let (store, _cleanup) = fresh_store().await;
        let db = store.conn();
        db.execute_unprepared("CREATE TABLE snap (k TEXT PRIMARY KEY)")
            .await
            .expect("create");
        db.execute_unprepared("INSERT INTO snap (k) VALUES ('a')")
            .await
            .expect("first row");
        let txn = store.begin_read().await.expect("read transaction");
        assert_eq!(count_rows(&txn, "snap").await, 1);
        db.execute_unprepared("INSERT INTO snap (k) VALUES ('b')")
            .await
            .expect("a change committed meanwhile");
        assert_eq!(
            count_rows(&txn, "snap").await,
            1,
            "the transaction keeps its snapshot"
        );
        txn.commit().await.expect("commit");
        assert_eq!(
            count_rows(db, "snap").await,
            2,
            "after it, the change is seen"
        );
        store.close().await;
    }
}
