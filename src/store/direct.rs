//! The store's connections: one pool (deadpool's managed pool of sqlx connections) for every
//! statement, in a transaction ([`Txn`]) or not ([`Direct`] itself), with sea-orm's
//! `ConnectionTrait` implemented over both, so the store's code reads as with sea-orm's pool.
//!
//! Why not sea-orm's pool: sqlx's pool pings every connection it takes back
//! (`PoolConnection::return_to_pool`: a `Sync` round trip on PostgreSQL, a hop to the
//! connection's worker thread on SQLite), so each statement sea-orm ran through it outside a
//! transaction cost two driver interactions: 15 % of a point read's server CPU on PostgreSQL
//! (BENCHMARKS.md, session 5). This pool hands a connection back as it is; a connection is only
//! tested when it has been idle for [`Settings::ping_if_idle_for`] before a call gets it.
//!
//! What the ping on release protected against is handled here instead: a connection whose
//! statement did not run to the end (its future was dropped: the call's deadline, a cancelled
//! call) or failed at the connection level (I/O, TLS, protocol, a crashed SQLite worker) is
//! closed, never handed out again; after such a failure the idle connections, which went over
//! the same path, are closed too, and a read (or PostgreSQL's `BEGIN`; SQLite's goes with the
//! transaction's first statement) is tried once more on a new connection; a write outside a
//! transaction ([`Direct::write_returning`]) is not, as it may have committed. A transaction
//! dropped without its commit is rolled back before its connection goes back to the pool.
//!
//! On SQLite every command is a hop to the connection's worker thread and back (a wake-up of
//! each side), which costs more than most statements themselves. A transaction therefore
//! sends its `BEGIN` with its first statement, the writes whose outcome the caller does not
//! read ([`Txn::hold`]: the audit entry and its chain head's move) with its next statement or
//! its `COMMIT` (or with a last statement whose rows the caller reads, sent with the `COMMIT`:
//! [`Txn::commit_with`], an employee's update, a new realisasi), and reads the caller fetches
//! ahead ([`Txn::prefetch`]: an explanation's action plans and feedback) with the statement
//! they ride on, as one command of several statements. On PostgreSQL, whose driver sends one
//! statement per command, each statement is sent when it is run.
//!
//! sea-orm's own pool is kept only for the migrations at start-up (sea-orm-migration runs on
//! it), and closes its connections soon after.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, Object, Pool, RecycleError, RecycleResult, WeakPool};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection, Postgres};
use sea_orm::sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqliteConnection};
use sea_orm::sqlx::{self, ConnectOptions as _, Connection as _};
use sea_orm::{
    ConnAcquireErr, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr, Statement, Values,
};
use sea_query_sqlx::SqlxValues;

use super::StatementInfo;

/// Called after every statement, for telemetry (see [`super::Store::set_statement_observer`]).
pub(crate) type Observer = Arc<dyn Fn(&StatementInfo<'_>) + Send + Sync>;

/// One open connection of either engine.
pub(crate) enum RawConn {
    /// A PostgreSQL connection.
    Postgres(PgConnection),
    /// A SQLite connection (with its worker thread).
    Sqlite(SqliteConnection),
}

impl RawConn {
    async fn ping(&mut self) -> Result<(), sqlx::Error> {
        match self {
            RawConn::Postgres(c) => c.ping().await,
            RawConn::Sqlite(c) => c.ping().await,
        }
    }
}

/// How new connections are opened.
#[derive(Clone, Debug)]
pub(crate) enum Options {
    /// PostgreSQL connection settings.
    Postgres(PgConnectOptions),
    /// SQLite connection settings (the same pragmas as sea-orm's pool).
    Sqlite(SqliteConnectOptions),
}

impl Options {
    /// Parses `url` for `backend`, with statement logging off (as in sea-orm's pool).
    pub(crate) fn parse(url: &str, backend: DbBackend) -> Result<Self, sqlx::Error> {
        Ok(match backend {
            DbBackend::Postgres => {
                Options::Postgres(PgConnectOptions::from_str(url)?.disable_statement_logging())
            }
            _ => Options::Sqlite(SqliteConnectOptions::from_str(url)?.disable_statement_logging()),
        })
    }
}

/// Opens connections and decides whether an idle one may be handed out again.
pub(crate) struct Manager {
    options: Options,
    ping_if_idle_for: Duration,
}

impl managed::Manager for Manager {
    type Type = RawConn;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<RawConn, sqlx::Error> {
        match &self.options {
            Options::Postgres(o) => Ok(RawConn::Postgres(PgConnection::connect_with(o).await?)),
            Options::Sqlite(o) => {
                let mut c = SqliteConnection::connect_with(o).await?;
                super::stable_plans(&mut c).await?;
                super::sql_functions(&mut c).await?;
                Ok(RawConn::Sqlite(c))
            }
        }
    }

    async fn recycle(&self, conn: &mut RawConn, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        if metrics.last_used() < self.ping_if_idle_for {
            return Ok(());
        }
        conn.ping().await.map_err(RecycleError::Backend)
    }
}

/// Settings of the pool.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// Most connections open at once.
    pub max_connections: usize,
    /// How long a call waits for a connection (also the limit for opening one).
    pub acquire_timeout: Duration,
    /// A connection idle for this long is pinged before it is handed out (zero: always).
    pub ping_if_idle_for: Duration,
    /// Idle connections unused for this long are closed (but `keep_idle` of them).
    pub idle_timeout: Duration,
    /// Connections older than this are closed when idle, so none lives for ever.
    pub max_lifetime: Duration,
    /// Idle connections kept open past the idle timeout (SQLite: 1, so a quiet server still
    /// answers without opening the file again).
    pub keep_idle: usize,
}

/// The pool, with the statement observer. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Direct {
    pool: Pool<Manager>,
    /// The configured size (the pool's own falls to 0 when it is closed at shutdown).
    max_connections: usize,
    backend: DbBackend,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("backend", &self.backend)
            .field("status", &self.pool.status())
            .finish()
    }
}

/// What one statement asks of the connection.
#[derive(Clone, Copy)]
enum Op {
    All,
    One,
    Execute,
    Unprepared,
}

/// What one statement returned.
enum Out {
    Rows(Vec<QueryResult>),
    Row(Option<QueryResult>),
    Done(ExecResult),
}

impl Direct {
    /// A pool of up to `settings.max_connections`; opens nothing until the first statement.
    /// Starts the maintenance task that closes idle and old connections (it ends with the pool).
    pub(crate) fn new(options: Options, settings: &Settings) -> Result<Self, DbErr> {
        let backend = match options {
            Options::Postgres(_) => DbBackend::Postgres,
            Options::Sqlite(_) => DbBackend::Sqlite,
        };
        let pool = Pool::builder(Manager {
            options,
            ping_if_idle_for: settings.ping_if_idle_for,
        })
        .max_size(settings.max_connections.max(1))
        .wait_timeout(Some(settings.acquire_timeout))
        .create_timeout(Some(settings.acquire_timeout))
        .recycle_timeout(Some(settings.acquire_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| DbErr::Custom(format!("cannot build the connection pool: {e}")))?;
        tokio::spawn(maintain(pool.weak(), settings.clone()));
        Ok(Self {
            pool,
            max_connections: settings.max_connections.max(1),
            backend,
            observer: None,
        })
    }

    /// Sets the statement observer (telemetry).
    pub(crate) fn set_observer(&mut self, observer: Observer) {
        self.observer = Some(observer);
    }

    /// Open and idle connections, and the most allowed.
    pub(crate) fn usage(&self) -> (u32, u32, u32) {
        let s = self.pool.status();
        let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        (
            n(s.size),
            n(s.available).min(n(s.size)),
            n(self.max_connections),
        )
    }

    /// Closes the idle connections now but the first `keep` (those in use are kept); the pool
    /// opens new ones as calls need them.
    pub(crate) fn close_idle(&self, keep: usize) {
        let mut kept = 0;
        self.pool.retain(|_, _| {
            kept += 1;
            kept <= keep
        });
    }

    /// Closes the idle connections and refuses new calls (at shutdown).
    pub(crate) fn close(&self) {
        self.pool.close();
    }

    /// Runs one statement: reads are tried once more on a new connection after a
    /// connection-level failure (the statement changed nothing), writes are not.
    async fn run(&self, stmt: Statement, op: Op) -> Result<Out, DbErr> {
        let retries = if matches!(op, Op::All | Op::One) {
            1
        } else {
            0
        };
        self.run_trying(stmt, op, retries).await
    }

    /// Runs one write that returns rows (`RETURNING`), outside a transaction: its own. Not
    /// tried again after a connection-level failure, which may have come after its commit.
    pub(crate) async fn write_returning(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self.run_trying(stmt, Op::All, 0).await? {
            Out::Rows(rows) => Ok(rows),
            _ => Err(mismatch()),
        }
    }

    /// Runs one statement, tried `retries` more times on a new connection after a
    /// connection-level failure.
    async fn run_trying(&self, stmt: Statement, op: Op, retries: u32) -> Result<Out, DbErr> {
        let started = Instant::now();
        let mut attempt = 0;
        let result = loop {
            let result = self.run_once(&stmt, op).await;
            match &result {
                Err(Failure::Connection(_)) if attempt < retries => attempt += 1,
                _ => break result,
            }
        };
        notify(&self.observer, &stmt.sql, started, result.is_err());
        result.map_err(|f| f.into_db_err(op))
    }

    async fn run_once(&self, stmt: &Statement, op: Op) -> Result<Out, Failure> {
        let obj = self.pool.get().await.map_err(Failure::Acquire)?;
        let mut lease = Lease(Some(obj));
        match execute(lease.conn(), stmt, op).await {
            Ok(out) => {
                lease.release();
                Ok(out)
            }
            Err(e) if connection_broken(&e) => {
                // Dropping the lease closes this connection; the idle ones went over the same
                // path and are closed too, so the next call opens a fresh one.
                drop(lease);
                self.pool.retain(|_, _| false);
                Err(Failure::Connection(e))
            }
            Err(e) => {
                lease.release();
                Err(Failure::Statement(e))
            }
        }
    }

    /// Begins a transaction on a connection of its own (on PostgreSQL tried once more on a new
    /// connection if the first one turns out broken). The connection is the transaction's
    /// until it ends, including the rollback of a dropped one: in a pool of one (SQLite's
    /// writer, see `Store::begin_write`) the next transaction begins after that rollback.
    pub(crate) async fn begin(&self, kind: TxnKind) -> Result<Txn, DbErr> {
        let sql = match (self.backend, kind) {
            // IMMEDIATE: the write lock is taken at BEGIN, so writers queue instead of failing
            // to upgrade a read lock later.
            (DbBackend::Sqlite, TxnKind::Write) => "BEGIN IMMEDIATE",
            // DEFERRED: no lock until the first read, which fixes the snapshot.
            (DbBackend::Sqlite, TxnKind::Read) => "BEGIN",
            // One snapshot for every statement of a read (READ COMMITTED would give each its
            // own); a read-only transaction never fails to serialize.
            (_, TxnKind::Read) => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            (_, TxnKind::Write) => "BEGIN",
        };
        let begin = Statement::from_string(self.backend, sql);
        let started = Instant::now();
        if self.backend == DbBackend::Sqlite {
            // SQLite: the `BEGIN` goes with the transaction's first statement, in one command.
            let obj = self.pool.get().await;
            let obj = obj.map_err(|e| Failure::Acquire(e).into_db_err(Op::Unprepared))?;
            return Ok(Txn {
                conn: tokio::sync::Mutex::new(TxnConn::new(
                    obj,
                    Some(begin),
                    kind == TxnKind::Read,
                )),
                backend: self.backend,
                observer: self.observer.clone(),
            });
        }
        let mut attempt = 0;
        let result = loop {
            let obj = match self.pool.get().await {
                Ok(obj) => obj,
                Err(e) => break Err(Failure::Acquire(e)),
            };
            let txn = Txn {
                conn: tokio::sync::Mutex::new(TxnConn::new(obj, None, kind == TxnKind::Read)),
                backend: self.backend,
                observer: self.observer.clone(),
            };
            let begun = txn.conn.lock().await.execute(&begin, Op::Unprepared).await;
            match begun {
                Ok(_) => break Ok(txn),
                Err(e) if connection_broken(&e) && attempt == 0 => {
                    attempt += 1;
                    self.pool.retain(|_, _| false);
                    txn.close();
                }
                Err(e) => break Err(Failure::of(e)),
            }
        };
        notify(&self.observer, sql, started, result.is_err());
        result.map_err(|f| f.into_db_err(Op::Unprepared))
    }
}

/// Runs one statement on `conn`.
async fn execute(conn: &mut RawConn, stmt: &Statement, op: Op) -> Result<Out, sqlx::Error> {
    let values = stmt.values.clone().unwrap_or(Values(Vec::new()));
    match conn {
        RawConn::Postgres(c) => on::<Postgres>(c, &stmt.sql, values, op).await,
        RawConn::Sqlite(c) => on::<Sqlite>(c, &stmt.sql, values, op).await,
    }
}

/// Runs `stmt`, several SQLite statements in one (see [`TxnConn::with_held`]), in one command
/// on the connection's worker thread: the rows and the outcome of each statement, in order.
async fn execute_batch(
    conn: &mut SqliteConnection,
    stmt: &Statement,
) -> Result<Vec<(Vec<QueryResult>, ExecResult)>, sqlx::Error> {
    use futures::TryStreamExt as _;
    let values = stmt.values.clone().unwrap_or(Values(Vec::new()));
    let query = sqlx::query_with::<Sqlite, _>(sqlx::AssertSqlSafe(&*stmt.sql), SqlxValues(values));
    let mut results = sqlx::Executor::fetch_many(conn, query);
    let mut each = Vec::new();
    let mut rows = Vec::new();
    // Each statement's rows come first, then its outcome.
    while let Some(r) = results.try_next().await? {
        match r {
            sqlx::Either::Left(done) => each.push((std::mem::take(&mut rows), done.into())),
            sqlx::Either::Right(row) => rows.push(QueryResult::from(row)),
        }
    }
    Ok(each)
}

/// Whether a transaction only reads or also writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxnKind {
    /// Several reads from one snapshot.
    Read,
    /// A change: on SQLite it holds the database's write lock from `BEGIN` to the end.
    Write,
}

/// The connection of a transaction, and whether it may still be handed back.
struct TxnConn {
    /// The connection; `None` once the transaction has ended.
    lease: Option<Object<Manager>>,
    /// A statement did not run to its end, or the connection broke: close it, never reuse it.
    poisoned: bool,
    /// Statements held back to be sent with the transaction's next one, in one command (SQLite:
    /// its `BEGIN`, writes whose outcome nobody reads, reads fetched ahead; see [`Txn::hold`],
    /// [`Txn::prefetch`]).
    held: Vec<Held>,
    /// The rows of reads fetched ahead, until they are run; in a write transaction only until
    /// the next command is sent.
    prefetched: Vec<(Statement, Vec<QueryResult>)>,
    /// A read transaction: one snapshot throughout, so what was fetched ahead stays current.
    snapshot: bool,
    /// Something was sent on the connection; until then (SQLite's `BEGIN` still held) there is
    /// nothing to commit or roll back.
    begun: bool,
}

/// A statement held back for the transaction's next command.
struct Held {
    stmt: Statement,
    /// A read fetched ahead: its rows are kept for when it is run.
    keep_rows: bool,
}

impl TxnConn {
    /// A connection just taken from the pool for a transaction; `begin`, if any, is sent with
    /// its first statement.
    fn new(obj: Object<Manager>, begin: Option<Statement>, snapshot: bool) -> Self {
        TxnConn {
            lease: Some(obj),
            poisoned: false,
            snapshot,
            begun: begin.is_none(),
            held: begin
                .into_iter()
                .map(|stmt| Held {
                    stmt,
                    keep_rows: false,
                })
                .collect(),
            prefetched: Vec::new(),
        }
    }

    /// The rows of `stmt` if they were fetched ahead (and are still current).
    fn take_prefetched(&mut self, stmt: &Statement) -> Option<Vec<QueryResult>> {
        let i = self.prefetched.iter().position(|(s, _)| s == stmt)?;
        Some(self.prefetched.swap_remove(i).1)
    }

    /// Runs `stmt`, after the held statements in the same command (SQLite); returns what `op`
    /// asks of `stmt`, the SQL text sent and how many statements it held.
    async fn send(&mut self, stmt: Statement, op: Op) -> (Result<Out, sqlx::Error>, String, usize) {
        if !self.snapshot {
            self.prefetched.clear();
        }
        if self.held.is_empty() {
            let result = self.execute(&stmt, op).await;
            return (result, stmt.sql, 1);
        }
        let (batch, kept) = self.with_held(stmt);
        let n = kept.len() + 1;
        let Some(RawConn::Sqlite(c)) = self.lease.as_deref_mut() else {
            let ended = sqlx::Error::Protocol("the transaction has ended".into());
            return (Err(ended), batch.sql, n);
        };
        // Set until the command returns: if its future is dropped midway, it stays set.
        self.poisoned = true;
        self.begun = true;
        let result = execute_batch(c, &batch).await;
        self.poisoned = matches!(&result, Err(e) if connection_broken(e));
        let result = result.and_then(|mut each| {
            let (rows, done) =
                each.pop()
                    .filter(|_| each.len() == kept.len())
                    .ok_or_else(|| {
                        sqlx::Error::Protocol("a statement of the command gave no outcome".into())
                    })?;
            for (keep, (rows, _)) in kept.into_iter().zip(each) {
                if let Some(stmt) = keep {
                    self.prefetched.push((stmt, rows));
                }
            }
            Ok(match op {
                Op::All => Out::Rows(rows),
                Op::One => Out::Row(rows.into_iter().next()),
                Op::Execute | Op::Unprepared => Out::Done(done),
            })
        });
        (result, batch.sql, n)
    }

    /// Runs `stmt` alone.
    async fn execute(&mut self, stmt: &Statement, op: Op) -> Result<Out, sqlx::Error> {
        let Some(obj) = self.lease.as_mut() else {
            return Err(sqlx::Error::Protocol("the transaction has ended".into()));
        };
        // Set until the statement returns: if its future is dropped midway, it stays set.
        self.poisoned = true;
        self.begun = true;
        let result = execute(obj, stmt, op).await;
        self.poisoned = matches!(&result, Err(e) if connection_broken(e));
        result
    }

    /// `stmt` preceded by the held statements, as one statement of several (SQL text joined by
    /// [`BATCH_SEPARATOR`], values in order), and for each held one the statement if its rows
    /// are to be kept.
    fn with_held(&mut self, stmt: Statement) -> (Statement, Vec<Option<Statement>>) {
        let mut sql = String::new();
        let mut values = Vec::new();
        let mut kept = Vec::with_capacity(self.held.len());
        let last = Held {
            stmt,
            keep_rows: false,
        };
        for (i, h) in self.held.drain(..).chain(std::iter::once(last)).enumerate() {
            if i > 0 {
                sql.push_str(BATCH_SEPARATOR);
            }
            kept.push(h.keep_rows.then(|| h.stmt.clone()));
            sql.push_str(&h.stmt.sql);
            values.extend(h.stmt.values.map(|v| v.0).unwrap_or_default());
        }
        kept.pop();
        (
            Statement::from_sql_and_values(DbBackend::Sqlite, sql, values),
            kept,
        )
    }
}

/// Joins the statements sent together in one SQLite command (see [`Txn::hold`]); the telemetry
/// takes the last one as the command's summary.
pub(crate) const BATCH_SEPARATOR: &str = ";\n";

/// A transaction on one connection of the pool (see [`Direct::begin`]). [`Txn::commit`] ends it
/// and hands the connection back; dropped without a commit it is rolled back on a spawned task
/// first (or its connection closed, if a statement was abandoned midway or it broke).
pub(crate) struct Txn {
    conn: tokio::sync::Mutex<TxnConn>,
    backend: DbBackend,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Txn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Txn {
    async fn run(&self, stmt: Statement, op: Op) -> Result<Out, DbErr> {
        let started = Instant::now();
        let mut conn = self.conn.lock().await;
        if matches!(op, Op::All | Op::One)
            && let Some(rows) = conn.take_prefetched(&stmt)
        {
            return Ok(match op {
                Op::One => Out::Row(rows.into_iter().next()),
                _ => Out::Rows(rows),
            });
        }
        let (result, sql, statements) = conn.send(stmt, op).await;
        drop(conn);
        notify_batch(&self.observer, &sql, statements, started, result.is_err());
        result.map_err(|e| Failure::of(e).into_db_err(op))
    }

    /// Fetches the rows of `stmt`, a read, with the transaction's next command (SQLite), to be
    /// answered once without a command of its own: in a read transaction whenever it is run
    /// (one snapshot throughout), in a write transaction only when it is run right after that
    /// command (before any other command is sent; a later run reads again). The caller's
    /// promise in a write transaction: nothing the next command does changes what `stmt`
    /// reads. On PostgreSQL it does nothing.
    pub(crate) async fn prefetch(&self, stmt: Statement) {
        if self.backend == DbBackend::Sqlite {
            self.conn.lock().await.held.push(Held {
                stmt,
                keep_rows: true,
            });
        }
    }

    /// Runs `stmt`, a write whose outcome (rows affected) the caller does not need: on SQLite
    /// it is held and sent with the transaction's next statement or its `COMMIT`, in one
    /// command (one hand-off to the connection's worker thread instead of two); a failure
    /// shows there. On PostgreSQL it runs now.
    pub(crate) async fn hold(&self, stmt: Statement) -> Result<(), DbErr> {
        if self.backend != DbBackend::Sqlite {
            return self.run(stmt, Op::Execute).await.map(drop);
        }
        self.conn.lock().await.held.push(Held {
            stmt,
            keep_rows: false,
        });
        Ok(())
    }

    /// Commits and hands the connection back. If the commit fails, the transaction is rolled
    /// back as when dropped. A transaction that has nothing to send but its `BEGIN` (SQLite)
    /// has nothing to commit.
    pub(crate) async fn commit(mut self) -> Result<(), DbErr> {
        let conn = self.conn.get_mut();
        // Before anything was sent, the first held statement is the `BEGIN`.
        if !conn.begun && conn.held.len() <= 1 {
            conn.held.clear();
        } else {
            self.run(
                Statement::from_string(self.backend, "COMMIT"),
                Op::Unprepared,
            )
            .await?;
        }
        let conn = self.conn.get_mut();
        // Ended: the connection goes back to the pool as it is.
        drop(conn.lease.take());
        Ok(())
    }

    /// Runs `stmt` and commits, in one command on SQLite (with the held statements before it);
    /// the rows `stmt` returned. A failure of `stmt` or of the commit rolls the transaction back
    /// as when dropped. On PostgreSQL `stmt`, then the `COMMIT`. The transaction commits
    /// whatever `stmt` finds: a held write that must not stand if `stmt` changes nothing is
    /// guarded by `stmt`'s own condition (as the audit entry of an update, or the withdrawal of
    /// a request id's claim when an insert will be skipped).
    pub(crate) async fn commit_with(mut self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        if self.backend != DbBackend::Sqlite {
            let rows = match self.run(stmt, Op::All).await? {
                Out::Rows(rows) => rows,
                _ => return Err(mismatch()),
            };
            self.commit().await?;
            return Ok(rows);
        }
        self.conn.get_mut().held.push(Held {
            stmt: stmt.clone(),
            keep_rows: true,
        });
        self.run(
            Statement::from_string(self.backend, "COMMIT"),
            Op::Unprepared,
        )
        .await?;
        let conn = self.conn.get_mut();
        let rows = conn.take_prefetched(&stmt).ok_or_else(mismatch);
        // Ended: the connection goes back to the pool as it is.
        drop(conn.lease.take());
        rows
    }

    /// Ends a transaction that never began (its `BEGIN` failed): closes its connection.
    fn close(mut self) {
        if let Some(obj) = self.conn.get_mut().lease.take() {
            drop(Object::take(obj));
        }
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        let conn = self.conn.get_mut();
        let Some(obj) = conn.lease.take() else {
            return;
        };
        if !conn.begun {
            // Nothing was sent (SQLite's `BEGIN` was still held): the connection is as it was.
            return;
        }
        if conn.poisoned {
            drop(Object::take(obj));
            return;
        }
        let rollback = Statement::from_string(self.backend, "ROLLBACK");
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            // No runtime to roll back on (shutting down): closing the connection rolls back.
            drop(Object::take(obj));
            return;
        };
        rt.spawn(async move {
            let mut conn = TxnConn::new(obj, None, false);
            let rolled_back = conn.execute(&rollback, Op::Unprepared).await.is_ok();
            // Only now does the connection go back (or close): in a pool of one, the next
            // writer starts after the rollback released the write lock.
            if let Some(obj) = conn.lease.take() {
                if rolled_back {
                    drop(obj);
                } else {
                    drop(Object::take(obj));
                }
            }
        });
    }
}

/// Runs `sql` with `values` on one connection of engine `DB`.
async fn on<DB>(
    conn: &mut DB::Connection,
    sql: &str,
    values: Values,
    op: Op,
) -> Result<Out, sqlx::Error>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    SqlxValues: sqlx::IntoArguments<DB>,
    QueryResult: From<DB::Row>,
    ExecResult: From<DB::QueryResult>,
{
    let query = || sqlx::query_with::<DB, _>(sqlx::AssertSqlSafe(sql), SqlxValues(values));
    Ok(match op {
        Op::All => Out::Rows(
            query()
                .fetch_all(conn)
                .await?
                .into_iter()
                .map(QueryResult::from)
                .collect(),
        ),
        Op::One => Out::Row(query().fetch_optional(conn).await?.map(QueryResult::from)),
        Op::Execute => Out::Done(query().execute(conn).await?.into()),
        Op::Unprepared => Out::Done(
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(conn)
                .await?
                .into(),
        ),
    })
}

/// A checked-out connection. Handed back by [`Lease::release`] after a statement that ran to
/// its end; dropped without it (the statement's future was dropped, or the connection broke),
/// the connection is closed instead of going back to the pool in an unknown state.
struct Lease(Option<Object<Manager>>);

impl Lease {
    fn conn(&mut self) -> &mut RawConn {
        self.0
            .as_mut()
            .expect("a lease holds its connection until released")
    }

    fn release(mut self) {
        // Dropping the object returns the connection to the pool as it is.
        drop(self.0.take());
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(obj) = self.0.take() {
            drop(Object::take(obj));
        }
    }
}

/// Why a statement did not run.
enum Failure {
    /// No connection within the acquire timeout, or none could be opened.
    Acquire(managed::PoolError<sqlx::Error>),
    /// The connection broke during the statement.
    Connection(sqlx::Error),
    /// The statement failed (constraint, syntax, decoding, ...); the connection is fine.
    Statement(sqlx::Error),
}

impl Failure {
    /// A statement's error: the connection's fault or the statement's.
    fn of(e: sqlx::Error) -> Self {
        if connection_broken(&e) {
            Failure::Connection(e)
        } else {
            Failure::Statement(e)
        }
    }

    fn into_db_err(self, op: Op) -> DbErr {
        match self {
            Failure::Acquire(managed::PoolError::Timeout(_)) => {
                DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)
            }
            Failure::Acquire(managed::PoolError::Closed) => {
                DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)
            }
            Failure::Acquire(managed::PoolError::Backend(e)) => {
                DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e)))
            }
            Failure::Acquire(e) => DbErr::Conn(RuntimeErr::Internal(e.to_string())),
            // The connection broke: the database is unreachable for now (UNAVAILABLE, retry).
            Failure::Connection(e) => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))),
            // The same kinds sea-orm's own pool gives, so `DbErr::sql_err` (unique violations)
            // and the mapping to gRPC codes treat both pools alike.
            Failure::Statement(e) => match op {
                Op::All | Op::One => DbErr::Query(RuntimeErr::SqlxError(Arc::new(e))),
                Op::Execute | Op::Unprepared => DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e))),
            },
        }
    }
}

/// Tells the statement observer (telemetry), if any, about one statement.
fn notify(observer: &Option<Observer>, sql: &str, started: Instant, failed: bool) {
    notify_batch(observer, sql, 1, started, failed);
}

/// Tells the statement observer (telemetry), if any, about one command of `statements`
/// statements.
fn notify_batch(
    observer: &Option<Observer>,
    sql: &str,
    statements: usize,
    started: Instant,
    failed: bool,
) {
    if let Some(observe) = observer {
        observe(&StatementInfo {
            sql,
            statements,
            elapsed: started.elapsed(),
            failed,
        });
    }
}

/// True when `e` leaves the connection unusable (as opposed to a failed statement).
fn connection_broken(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::PoolClosed
            | sqlx::Error::PoolTimedOut
    )
}

/// Closes connections idle for the idle timeout (but the first `keep_idle` of them) or older
/// than the maximum lifetime, checking every quarter of the idle timeout (at most every 30 s);
/// ends when the pool is gone.
async fn maintain(pool: WeakPool<Manager>, s: Settings) {
    let every = (s.idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(30));
    loop {
        tokio::time::sleep(every).await;
        let Some(pool) = pool.upgrade() else { return };
        if pool.is_closed() {
            return;
        }
        let mut kept = 0;
        pool.retain(|_, m| {
            let keep =
                m.age() < s.max_lifetime && (m.last_used() < s.idle_timeout || kept < s.keep_idle);
            kept += usize::from(keep);
            keep
        });
    }
}

/// [`on`] answers each [`Op`] with its own [`Out`]; this is the error if it ever did not.
fn mismatch() -> DbErr {
    DbErr::Custom("the statement's result does not match its kind".into())
}

/// sea-orm's `ConnectionTrait` for a type with `backend` and `run(stmt, op)`: the pool itself
/// ([`Direct`]) and a transaction ([`Txn`]).
macro_rules! connection_trait {
    ($t:ty) => {
        #[sea_orm::prelude::async_trait::async_trait]
        impl sea_orm::ConnectionTrait for $t {
            fn get_database_backend(&self) -> DbBackend {
                self.backend
            }

            async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
                match self.run(stmt, Op::Execute).await? {
                    Out::Done(r) => Ok(r),
                    _ => Err(mismatch()),
                }
            }

            async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
                let stmt = Statement::from_string(self.backend, sql);
                match self.run(stmt, Op::Unprepared).await? {
                    Out::Done(r) => Ok(r),
                    _ => Err(mismatch()),
                }
            }

            async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
                match self.run(stmt, Op::One).await? {
                    Out::Row(r) => Ok(r),
                    _ => Err(mismatch()),
                }
            }

            async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
                match self.run(stmt, Op::All).await? {
                    Out::Rows(r) => Ok(r),
                    _ => Err(mismatch()),
                }
            }
        }
    };
}

connection_trait!(Txn);
connection_trait!(Direct);

#[cfg(test)]
impl Direct {
    /// A connection of the pool, for tests that look inside it.
    pub(super) async fn checkout(&self) -> Object<Manager> {
        self.pool.get().await.expect("a pooled connection")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sea_orm::ConnectionTrait;

    use super::*;

    /// A pool on a new SQLite file with the service's settings.
    fn sqlite_pool(dir: &tempfile::TempDir, idle_timeout: Duration) -> Direct {
        sqlite_pool_busy(dir, idle_timeout, Duration::from_secs(5))
    }

    /// Like [`sqlite_pool`], with the given busy timeout.
    fn sqlite_pool_busy(dir: &tempfile::TempDir, idle_timeout: Duration, busy: Duration) -> Direct {
        sqlite_pool_sized(dir, 4, idle_timeout, busy)
    }

    /// A pool of `size` on the file of [`sqlite_pool`], with the given busy timeout.
    fn sqlite_pool_of(dir: &tempfile::TempDir, size: usize, busy: Duration) -> Direct {
        sqlite_pool_sized(dir, size, Duration::from_secs(60), busy)
    }

    fn sqlite_pool_sized(
        dir: &tempfile::TempDir,
        size: usize,
        idle_timeout: Duration,
        busy: Duration,
    ) -> Direct {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("d.db").display());
        let Options::Sqlite(o) = Options::parse(&url, DbBackend::Sqlite).expect("url") else {
            panic!("a SQLite URL gives SQLite options");
        };
        Direct::new(
            Options::Sqlite(super::super::sqlite_settings(o, busy)),
            &Settings {
                max_connections: size,
                acquire_timeout: Duration::from_secs(5),
                ping_if_idle_for: Duration::from_secs(30),
                idle_timeout,
                max_lifetime: Duration::from_secs(1800),
                keep_idle: 0,
            },
        )
        .expect("pool")
    }

    fn stmt(sql: &str) -> Statement {
        Statement::from_string(DbBackend::Sqlite, sql)
    }

    /// A statement that runs for a good fraction of a second.
    fn slow_statement() -> Statement {
        stmt(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000000) \
             SELECT count(*) FROM n",
        )
    }

    /// Drops `call` after 20 ms, as a call's deadline would, while it is still running.
    async fn give_up_on<F: std::future::Future>(call: F) {
        let gave_up = tokio::time::timeout(Duration::from_millis(20), call).await;
        assert!(gave_up.is_err(), "the statement must still be running");
    }

    /// (open, idle) connections.
    fn open_idle(d: &Direct) -> (u32, u32) {
        let (open, idle, _) = d.usage();
        (open, idle)
    }

    #[tokio::test]
    async fn a_connection_goes_back_as_it_is_and_is_reused() {
        let dir = tempfile::tempdir().expect("dir");
        let d = sqlite_pool(&dir, Duration::from_secs(60));
        for i in 0..5 {
            let row = d
                .query_one_raw(stmt(&format!("SELECT {i} AS v")))
                .await
                .expect("query")
                .expect("a row");
            assert_eq!(row.try_get::<i64>("", "v").expect("v"), i);
        }
        assert_eq!(
            open_idle(&d),
            (1, 1),
            "one connection, reused by every statement"
        );
        // The connection kept the planner setting of every Kinerja SQLite connection.
        let mut obj = d.pool.get().await.expect("connection");
        let RawConn::Sqlite(c) = &mut *obj else {
            panic!("a SQLite pool holds SQLite connections")
        };
        let row: (i64,) = sqlx::query_as("PRAGMA foreign_keys")
            .fetch_one(&mut *c)
            .await
            .expect("pragma");
        assert_eq!(
            row.0, 1,
            "foreign keys are enforced on direct connections too"
        );
    }

    #[tokio::test]
    async fn a_statement_abandoned_midway_closes_its_connection() {
        let dir = tempfile::tempdir().expect("dir");
        let d = sqlite_pool(&dir, Duration::from_secs(60));
        d.query_one_raw(stmt("SELECT 1")).await.expect("warm-up");
        assert_eq!(open_idle(&d), (1, 1));
        // A long statement whose caller gives up (as a call's deadline does): its future is
        // dropped while the connection is still busy with it.
        give_up_on(d.query_one_raw(slow_statement())).await;
        assert_eq!(
            open_idle(&d),
            (0, 0),
            "the busy connection is closed, not handed back"
        );
        // The next statement gets a new connection.
        d.query_one_raw(stmt("SELECT 1"))
            .await
            .expect("works again");
        assert_eq!(open_idle(&d), (1, 1));
    }

    #[tokio::test]
    async fn a_failed_statement_keeps_its_connection_and_its_error_kind() {
        let dir = tempfile::tempdir().expect("dir");
        let d = pool_with_t(&dir, "k TEXT PRIMARY KEY").await;
        let insert = || {
            Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "INSERT INTO t (k) VALUES (?)",
                ["a".into()],
            )
        };
        assert_eq!(
            d.execute_raw(insert())
                .await
                .expect("insert")
                .rows_affected(),
            1
        );
        let err = d.execute_raw(insert()).await.expect_err("duplicate key");
        assert!(
            matches!(
                err.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ),
            "a unique violation is recognised as with sea-orm's pool: {err:?}"
        );
        let err = d
            .query_all_raw(stmt("SELECT nope FROM t"))
            .await
            .expect_err("bad column");
        assert!(matches!(err, DbErr::Query(_)), "{err:?}");
        assert_eq!(
            open_idle(&d),
            (1, 1),
            "statement errors keep the connection"
        );
    }

    #[tokio::test]
    async fn idle_connections_are_closed_after_the_idle_timeout() {
        let dir = tempfile::tempdir().expect("dir");
        let d = sqlite_pool(&dir, Duration::from_millis(100));
        let (a, b, c) = tokio::join!(
            d.query_one_raw(stmt("SELECT 1")),
            d.query_one_raw(stmt("SELECT 2")),
            d.query_one_raw(stmt("SELECT 3")),
        );
        for r in [a, b, c] {
            r.expect("query");
        }
        assert!(open_idle(&d).0 >= 1);
        let mut waited = Duration::ZERO;
        while open_idle(&d).0 > 0 {
            assert!(
                waited < Duration::from_secs(5),
                "idle connections were never closed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += Duration::from_millis(50);
        }
        d.query_one_raw(stmt("SELECT 1")).await.expect("reopens");
    }

    #[tokio::test]
    async fn idle_connections_are_closed_on_request_but_those_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let d = sqlite_pool(&dir, Duration::from_secs(60));
        let (a, b, c) = (d.checkout().await, d.checkout().await, d.checkout().await);
        assert_eq!(open_idle(&d), (3, 0), "three in use");
        drop((a, b));
        d.close_idle(1);
        assert_eq!(
            open_idle(&d),
            (2, 1),
            "one idle kept, the one in use untouched"
        );
        drop(c);
        d.close_idle(0);
        assert_eq!(open_idle(&d), (0, 0), "none kept");
        d.query_one_raw(stmt("SELECT 1")).await.expect("reopens");
    }

    #[tokio::test]
    async fn the_observer_sees_every_statement_and_its_outcome() {
        let dir = tempfile::tempdir().expect("dir");
        let mut d = sqlite_pool(&dir, Duration::from_secs(60));
        let seen = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let (s2, f2) = (seen.clone(), failed.clone());
        d.set_observer(Arc::new(move |info: &StatementInfo<'_>| {
            s2.fetch_add(1, Ordering::SeqCst);
            if info.failed {
                f2.fetch_add(1, Ordering::SeqCst);
            }
            assert!(info.sql.starts_with("SELECT"), "{}", info.sql);
        }));
        d.query_all_raw(stmt("SELECT 1")).await.expect("ok");
        d.query_all_raw(stmt("SELECT nope"))
            .await
            .expect_err("fails");
        assert_eq!(seen.load(Ordering::SeqCst), 2);
        assert_eq!(failed.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_closed_pool_refuses_calls_as_unavailable() {
        let dir = tempfile::tempdir().expect("dir");
        let d = sqlite_pool(&dir, Duration::from_secs(60));
        d.query_one_raw(stmt("SELECT 1")).await.expect("ok");
        d.close();
        let err = d.query_one_raw(stmt("SELECT 1")).await.expect_err("closed");
        assert!(matches!(err, DbErr::ConnectionAcquire(_)), "{err:?}");
        assert!(matches!(
            crate::error::Error::from(err),
            crate::error::Error::Unavailable(_)
        ));
    }

    /// A write transaction begins on `d`, runs `insert` and commits, and `t` then holds `rows`:
    /// no transaction was left open on the pool's connections.
    async fn assert_a_write_commits(d: &Direct, insert: &str, rows: i64) {
        let txn = d.begin(TxnKind::Write).await.expect("begin");
        txn.execute_unprepared(insert).await.expect("insert");
        txn.commit().await.expect("commit");
        assert_eq!(rows_in_t(d).await, rows);
    }

    async fn rows_in_t(d: &Direct) -> i64 {
        super::super::tests::count_rows(d, "t").await
    }

    #[tokio::test]
    async fn a_committed_transaction_keeps_its_changes_and_its_connection() {
        let dir = tempfile::tempdir().expect("dir");
        let d = pool_with_t(&dir, "k TEXT PRIMARY KEY").await;
        assert_a_write_commits(&d, "INSERT INTO t (k) VALUES ('a')", 1).await;
        assert_eq!(
            open_idle(&d).0,
            open_idle(&d).1,
            "every connection is back and idle"
        );
        assert!(open_idle(&d).0 >= 1);
    }

    #[tokio::test]
    async fn a_dropped_transaction_is_rolled_back_before_the_next_writer_gets_its_turn() {
        let dir = tempfile::tempdir().expect("dir");
        // No busy timeout: a writer that found the write lock still held would fail at once.
        let d = sqlite_pool_busy(&dir, Duration::from_secs(60), Duration::ZERO);
        d.execute_unprepared("CREATE TABLE t (k TEXT PRIMARY KEY)")
            .await
            .expect("create");
        // The writers' pool of one connection (as `Store::begin_write` uses on SQLite), and a
        // second pool on the same file to read with.
        let writer = sqlite_pool_of(&dir, 1, Duration::ZERO);
        for round in 0..20 {
            let txn = writer.begin(TxnKind::Write).await.expect("begin");
            txn.execute_unprepared("INSERT INTO t (k) VALUES ('a')")
                .await
                .expect("insert");
            drop(txn); // an error path: no commit
            // The next writer: the turn comes back only after the rollback released the lock.
            let next = writer
                .begin(TxnKind::Write)
                .await
                .unwrap_or_else(|e| panic!("round {round}: the write lock was still held: {e}"));
            next.execute_unprepared("INSERT INTO t (k) VALUES ('b')")
                .await
                .unwrap_or_else(|e| panic!("round {round}: the write lock was still held: {e}"));
            drop(next);
        }
        // The connection comes back after the last rollback.
        let last = writer.begin(TxnKind::Write).await.expect("begin");
        last.commit().await.expect("commit");
        assert_eq!(
            rows_in_t(&d).await,
            0,
            "every dropped insert was rolled back"
        );
        let (open, idle) = open_idle(&writer);
        assert_eq!(open, idle, "rolled-back connections went back to the pool");
        assert!(open >= 1, "and were not closed");
    }

    /// A SQLite statement with bound values, as the store builds them.
    fn stmt_with(sql: &str, values: Vec<sea_orm::Value>) -> Statement {
        Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
    }

    /// A pool on a new file holding table `t` with `columns`.
    async fn pool_with_t(dir: &tempfile::TempDir, columns: &str) -> Direct {
        let d = sqlite_pool(dir, Duration::from_secs(60));
        d.execute_unprepared(&format!("CREATE TABLE t ({columns})"))
            .await
            .expect("create");
        d
    }

    /// Records every command the pool sends: its SQL and how many statements it holds.
    fn record_commands(d: &mut Direct) -> Arc<std::sync::Mutex<Vec<(String, usize)>>> {
        let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = sent.clone();
        d.set_observer(Arc::new(move |st: &StatementInfo<'_>| {
            log.lock()
                .expect("log")
                .push((st.sql.to_owned(), st.statements));
        }));
        sent
    }

    /// A pool holding table `t` with rows `a` = 1 and `b` = 2, recording its commands.
    async fn pool_with_a_and_b(
        dir: &tempfile::TempDir,
    ) -> (Direct, Arc<std::sync::Mutex<Vec<(String, usize)>>>) {
        let mut d = pool_with_t(dir, "k TEXT PRIMARY KEY, v INTEGER NOT NULL").await;
        d.execute_unprepared("INSERT INTO t (k, v) VALUES ('a', 1), ('b', 2)")
            .await
            .expect("insert");
        let sent = record_commands(&mut d);
        (d, sent)
    }

    /// The read of row `k`'s value.
    fn read(k: &str) -> Statement {
        stmt_with("SELECT v FROM t WHERE k = ?", vec![k.into()])
    }

    /// The value a [`read`] found.
    fn value_of(row: Option<QueryResult>) -> i64 {
        row.expect("a row").try_get::<i64>("", "v").expect("v")
    }

    #[tokio::test]
    async fn held_writes_go_with_the_next_statement_of_their_transaction() {
        let dir = tempfile::tempdir().expect("dir");
        let mut d = pool_with_t(&dir, "k TEXT PRIMARY KEY, v INTEGER NOT NULL").await;
        let sent = record_commands(&mut d);
        let txn = d.begin(TxnKind::Write).await.expect("begin");
        let insert = "INSERT INTO t (k, v) VALUES (?, ?)";
        txn.hold(stmt_with(insert, vec!["a".into(), 1i64.into()]))
            .await
            .expect("hold");
        txn.hold(stmt_with(
            "UPDATE t SET v = v + ? WHERE k = ?",
            vec![10i64.into(), "a".into()],
        ))
        .await
        .expect("hold");
        assert!(sent.lock().expect("log").is_empty(), "nothing sent yet");
        // The next statement sees the held writes, and its values follow theirs.
        let row = txn
            .query_one_raw(stmt_with("SELECT v FROM t WHERE k = ?", vec!["a".into()]))
            .await
            .expect("select")
            .expect("a row");
        assert_eq!(row.try_get::<i64>("", "v").expect("v"), 11);
        txn.hold(stmt_with(insert, vec!["b".into(), 2i64.into()]))
            .await
            .expect("hold");
        // Rows affected are the last statement's, not the held insert's too.
        let done = txn
            .execute_raw(stmt_with(
                "UPDATE t SET v = 0 WHERE k = ?",
                vec!["b".into()],
            ))
            .await
            .expect("update");
        assert_eq!(done.rows_affected(), 1);
        txn.commit().await.expect("commit");
        assert_eq!(rows_in_t(&d).await, 2);
        let sent = sent.lock().expect("log").clone();
        let shape: Vec<usize> = sent.iter().map(|(_, n)| *n).collect();
        assert_eq!(shape, [4, 2, 1, 1], "{sent:#?}");
        assert!(sent[0].0.starts_with("BEGIN IMMEDIATE;\n"), "{sent:#?}");
        assert_eq!(sent[2].0, "COMMIT");
    }

    /// `commit_with` sends the held writes, its statement and the `COMMIT` in one command and
    /// answers its statement's rows; if its statement fails, nothing of the transaction is
    /// stored and the connection serves the next transaction.
    #[tokio::test]
    async fn a_statement_committed_with_answers_its_rows_in_one_command() {
        let dir = tempfile::tempdir().expect("dir");
        let (d, sent) = pool_with_a_and_b(&dir).await;
        let txn = d.begin(TxnKind::Write).await.expect("begin");
        txn.hold(stmt_with("INSERT INTO t (k, v) VALUES ('c', 3)", vec![]))
            .await
            .expect("hold");
        let rows = txn
            .commit_with(stmt_with(
                "UPDATE t SET v = v + ? WHERE k <> 'b' RETURNING k, v",
                vec![10i64.into()],
            ))
            .await
            .expect("update and commit");
        let mut got: Vec<(String, i64)> = rows
            .iter()
            .map(|r| {
                (
                    r.try_get("", "k").expect("k"),
                    r.try_get("", "v").expect("v"),
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, [("a".to_owned(), 11), ("c".to_owned(), 13)]);
        let commands = sent.lock().expect("log").clone();
        assert_eq!(commands.len(), 1, "{commands:#?}");
        assert_eq!(commands[0].1, 4, "BEGIN, insert, update, COMMIT");
        assert_eq!(rows_in_t(&d).await, 3);
        // A statement that fails (`v` is NOT NULL) stores nothing, held writes included.
        let txn = d.begin(TxnKind::Write).await.expect("begin");
        txn.hold(stmt_with("INSERT INTO t (k, v) VALUES ('d', 4)", vec![]))
            .await
            .expect("hold");
        let failed = txn
            .commit_with(stmt_with(
                "UPDATE t SET v = NULL WHERE k = 'a' RETURNING k",
                vec![],
            ))
            .await;
        assert!(failed.is_err());
        assert_eq!(rows_in_t(&d).await, 3);
        assert_eq!(
            value_of(d.query_one_raw(read("a")).await.expect("read")),
            11
        );
        assert_a_write_commits(&d, "INSERT INTO t (k, v) VALUES ('e', 5)", 4).await;
    }

    #[tokio::test]
    async fn a_read_fetched_ahead_is_answered_once_and_only_right_after_its_command() {
        let dir = tempfile::tempdir().expect("dir");
        let (d, sent) = pool_with_a_and_b(&dir).await;
        let bump = |k: &str| stmt_with("UPDATE t SET v = v + 10 WHERE k = ?", vec![k.into()]);
        let txn = d.begin(TxnKind::Write).await.expect("begin");
        txn.prefetch(read("a")).await;
        txn.execute_raw(bump("b")).await.expect("update");
        assert_eq!(sent.lock().expect("log").len(), 1, "one command so far");
        // Answered from the command above, once; run again, it is read again.
        assert_eq!(
            value_of(txn.query_one_raw(read("a")).await.expect("read")),
            1
        );
        assert_eq!(sent.lock().expect("log").len(), 1, "no command for it");
        assert_eq!(
            value_of(txn.query_one_raw(read("a")).await.expect("read")),
            1
        );
        assert_eq!(sent.lock().expect("log").len(), 2);
        // Fetched ahead, then another command: the read goes to the database and sees it.
        txn.prefetch(read("b")).await;
        txn.execute_raw(bump("a")).await.expect("update");
        txn.execute_raw(bump("b")).await.expect("update");
        assert_eq!(
            value_of(txn.query_one_raw(read("b")).await.expect("read")),
            22
        );
        // A different statement is never answered from another's rows.
        txn.prefetch(read("a")).await;
        txn.execute_raw(bump("a")).await.expect("update");
        assert_eq!(
            value_of(txn.query_one_raw(read("b")).await.expect("read")),
            22
        );
        txn.commit().await.expect("commit");
        let shape: Vec<usize> = sent.lock().expect("log").iter().map(|(_, n)| *n).collect();
        assert_eq!(shape, [3, 1, 2, 1, 1, 2, 1, 1]);
    }

    #[tokio::test]
    async fn in_a_read_transaction_a_read_fetched_ahead_stays_current_until_run() {
        let dir = tempfile::tempdir().expect("dir");
        let (d, sent) = pool_with_a_and_b(&dir).await;
        let txn = d.begin(TxnKind::Read).await.expect("begin");
        txn.prefetch(read("b")).await;
        assert_eq!(
            value_of(txn.query_one_raw(read("a")).await.expect("read")),
            1
        );
        // A write made meanwhile outside the snapshot is not seen, in either answer.
        d.execute_unprepared("UPDATE t SET v = 20 WHERE k = 'b'")
            .await
            .expect("update");
        assert_eq!(
            value_of(txn.query_one_raw(read("a")).await.expect("read")),
            1
        );
        assert_eq!(
            value_of(txn.query_one_raw(read("b")).await.expect("read")),
            2,
            "answered from the snapshot, after another command"
        );
        txn.commit().await.expect("commit");
        let shape: Vec<usize> = sent.lock().expect("log").iter().map(|(_, n)| *n).collect();
        assert_eq!(
            shape,
            [3, 1, 1, 1],
            "BEGIN + fetched ahead + read, the update, a read, COMMIT"
        );
    }

    #[tokio::test]
    async fn a_held_write_that_fails_fails_its_transaction_and_stores_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let d = pool_with_t(&dir, "k TEXT PRIMARY KEY").await;
        d.execute_unprepared("INSERT INTO t (k) VALUES ('a')")
            .await
            .expect("insert");
        let txn = d.begin(TxnKind::Write).await.expect("begin");
        let insert = "INSERT INTO t (k) VALUES (?)";
        txn.hold(stmt_with(insert, vec!["b".into()]))
            .await
            .expect("hold");
        txn.hold(stmt_with(insert, vec!["a".into()]))
            .await
            .expect("hold");
        let err = txn
            .commit()
            .await
            .expect_err("the duplicate fails the commit");
        assert!(
            matches!(
                err.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ),
            "{err:?}"
        );
        // The rollback runs on a spawned task; the write lock is free once it has.
        let next = d.begin(TxnKind::Write).await.expect("begin");
        next.hold(stmt_with(insert, vec!["c".into()]))
            .await
            .expect("hold");
        next.commit().await.expect("the next writer commits");
        let keys = d
            .query_all_raw(stmt("SELECT k FROM t ORDER BY k"))
            .await
            .expect("keys");
        let keys: Vec<String> = keys
            .iter()
            .map(|r| r.try_get::<String>("", "k").expect("k"))
            .collect();
        assert_eq!(keys, ["a", "c"], "the failed transaction stored nothing");
    }

    #[tokio::test]
    async fn a_transaction_that_sent_nothing_neither_commits_nor_rolls_back() {
        let dir = tempfile::tempdir().expect("dir");
        let mut d = pool_with_t(&dir, "k TEXT PRIMARY KEY").await;
        let sent = record_commands(&mut d);
        let txn = d.begin(TxnKind::Write).await.expect("begin");
        txn.commit().await.expect("commit");
        drop(d.begin(TxnKind::Read).await.expect("begin"));
        assert!(sent.lock().expect("log").is_empty(), "nothing was sent");
        assert_eq!(open_idle(&d), (1, 1), "the connection went back as it was");
        // No transaction was left open on it: a write begins, commits and is seen.
        assert_a_write_commits(&d, "INSERT INTO t (k) VALUES ('a')", 1).await;
    }

    #[tokio::test]
    async fn a_transaction_abandoned_midway_closes_its_connection() {
        let dir = tempfile::tempdir().expect("dir");
        let d = sqlite_pool(&dir, Duration::from_secs(60));
        let txn = d.begin(TxnKind::Read).await.expect("begin");
        give_up_on(txn.query_one_raw(slow_statement())).await;
        drop(txn);
        assert_eq!(
            open_idle(&d),
            (0, 0),
            "its connection is closed, not rolled back"
        );
        d.query_one_raw(stmt("SELECT 1"))
            .await
            .expect("works again");
    }

    #[tokio::test]
    async fn sqlite_keeps_one_idle_connection_when_asked() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("d.db").display());
        let d = Direct::new(
            Options::parse(&url, DbBackend::Sqlite).expect("url"),
            &Settings {
                max_connections: 4,
                acquire_timeout: Duration::from_secs(5),
                ping_if_idle_for: Duration::from_secs(30),
                idle_timeout: Duration::from_millis(50),
                max_lifetime: Duration::from_secs(1800),
                keep_idle: 1,
            },
        )
        .expect("pool");
        let (a, b, c) = tokio::join!(
            d.query_one_raw(stmt("SELECT 1")),
            d.query_one_raw(stmt("SELECT 2")),
            d.query_one_raw(stmt("SELECT 3")),
        );
        for r in [a, b, c] {
            r.expect("query");
        }
        let mut waited = Duration::ZERO;
        while open_idle(&d).0 > 1 {
            assert!(
                waited < Duration::from_secs(5),
                "idle connections were never closed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += Duration::from_millis(50);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(open_idle(&d), (1, 1), "one idle connection stays open");
    }
}
