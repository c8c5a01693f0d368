//! The bench's own database work: making and dropping benchmark databases, seeding the unit
//! tree, reading back employee ids, and the write baselines the service is compared with — a
//! raw single-row-insert loop with the service's own connection settings, and `pgbench`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, Database, EntityTrait, Statement};

use super::load::CallFn;
use super::province::Province;
use crate::store::entities::{agency, unit};
use crate::store::{DbConfig, DbKind, Store};

/// Which database engine a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Engine {
    /// A SQLite file (WAL), as `kinerja serve` runs it by default.
    Sqlite,
    /// A database on the PostgreSQL server.
    Postgres,
}

/// A database made for a run; dropped (PostgreSQL) or deleted (SQLite) by [`BenchDb::drop_db`].
#[derive(Debug, Clone)]
pub struct BenchDb {
    /// Engine.
    pub engine: Engine,
    /// URL the service connects with.
    pub url: String,
    /// PostgreSQL: the admin URL and the database name.
    pg: Option<(String, String)>,
    /// SQLite: the file.
    file: Option<PathBuf>,
}

/// Replaces the database (path) of a PostgreSQL URL.
pub fn pg_with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl BenchDb {
    /// Creates an empty database named `name` (SQLite: `dir/name.db`).
    pub async fn create(engine: Engine, pg_admin: &str, dir: &Path, name: &str) -> Result<Self> {
        match engine {
            Engine::Sqlite => {
                let file = dir.join(format!("{name}.db"));
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
                Ok(Self {
                    engine,
                    url: format!("sqlite://{}?mode=rwc", file.display()),
                    pg: None,
                    file: Some(file),
                })
            }
            Engine::Postgres => {
                let admin = Database::connect(pg_admin)
                    .await
                    .context("connecting to PostgreSQL")?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                admin.close().await.ok();
                Ok(Self {
                    engine,
                    url: pg_with_database(pg_admin, name),
                    pg: Some((pg_admin.to_owned(), name.to_owned())),
                    file: None,
                })
            }
        }
    }

    /// The database name (PostgreSQL) or file (SQLite).
    pub fn name(&self) -> String {
        match (&self.pg, &self.file) {
            (Some((_, n)), _) => n.clone(),
            (_, Some(f)) => f.display().to_string(),
            _ => String::new(),
        }
    }

    /// Store settings as `kinerja serve` uses them by default.
    pub fn config(&self) -> DbConfig {
        DbConfig {
            url: self.url.clone(),
            ..DbConfig::default()
        }
    }

    /// Drops the database.
    pub async fn drop_db(&self) -> Result<()> {
        if let Some((admin, name)) = &self.pg {
            let admin = Database::connect(admin.as_str()).await?;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
            admin.close().await.ok();
        }
        if let Some(f) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", f.display()));
            }
        }
        Ok(())
    }

    /// Process ids of the PostgreSQL backends connected to this database (empty on SQLite).
    pub async fn backend_pids(&self) -> Vec<u32> {
        let Some((admin, name)) = &self.pg else {
            return Vec::new();
        };
        let Ok(conn) = Database::connect(admin.as_str()).await else {
            return Vec::new();
        };
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT pid FROM pg_stat_activity WHERE datname = $1",
                [name.clone().into()],
            ))
            .await
            .unwrap_or_default();
        conn.close().await.ok();
        rows.iter()
            .filter_map(|r| r.try_get::<i32>("", "pid").ok())
            .map(|p| p as u32)
            .collect()
    }

    /// Size on disk (SQLite file + WAL, or `pg_database_size`).
    pub async fn size_bytes(&self) -> Result<u64> {
        if let Some(f) = &self.file {
            let mut n = 0;
            for suffix in ["", "-wal"] {
                n += std::fs::metadata(format!("{}{suffix}", f.display())).map_or(0, |m| m.len());
            }
            return Ok(n);
        }
        let store = Store::connect(&self.config()).await?;
        let row = store
            .conn()
            .query_one_raw(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_database_size(current_database())::bigint AS n",
            ))
            .await?
            .context("no size")?;
        let n: i64 = row.try_get("", "n")?;
        store.close().await;
        Ok(n as u64)
    }
}

/// Migrates the database and inserts the province's agencies and units directly (setup, not
/// measured; the unit rows are exactly those `CreateUnit` would store).
pub async fn seed_org(db: &BenchDb, p: &Province) -> Result<()> {
    let store = Store::connect(&db.config()).await?;
    store.migrate().await?;
    let now = Utc::now();
    let agencies: Vec<_> = p
        .agencies
        .iter()
        .map(|a| agency::ActiveModel {
            id: Set(a.id.clone()),
            code: Set(a.code.clone()),
            name: Set(a.name.clone()),
            time_zone: Set("WITA".into()),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect();
    for chunk in agencies.chunks(500) {
        agency::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(store.conn())
            .await?;
    }
    let units: Vec<_> = p
        .units
        .iter()
        .map(|u| unit::ActiveModel {
            id: Set(u.id.clone()),
            agency_id: Set(p.agencies[u.agency].id.clone()),
            parent_id: Set(u.parent.map(|i| p.units[i].id.clone())),
            code: Set(u.code.clone()),
            name: Set(u.name.clone()),
            active: Set(true),
            depth: Set(u.depth),
            path: Set(u.path.clone()),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect();
    for chunk in units.chunks(500) {
        unit::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(store.conn())
            .await?;
    }
    store.close().await;
    Ok(())
}

/// PostgreSQL only: refreshes the planner's statistics after the seed import, as autovacuum
/// does within a minute of a bulk load in production. Without them the first custom plans of
/// a statement (PostgreSQL plans the first five runs of each prepared statement with the
/// values) are made for empty tables: a page of a unit subtree's employees scanned every
/// assignment (57 ms instead of 1.3 ms) on each pooled connection until the generic plan took
/// over. SQLite keeps no statistics (the service never runs `ANALYZE` there).
pub async fn analyze(db: &BenchDb) -> Result<()> {
    if db.engine != Engine::Postgres {
        return Ok(());
    }
    let store = Store::connect(&db.config()).await?;
    store.conn().execute_unprepared("ANALYZE").await?;
    store.close().await;
    Ok(())
}

/// Id, version and NIP of every employee, in NIP order (any fixed order does).
pub async fn employee_ids(db: &BenchDb) -> Result<Vec<(String, i64, String)>> {
    let store = Store::connect(&db.config()).await?;
    let backend = store.conn().get_database_backend();
    let rows = store
        .conn()
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, version, nip FROM employees ORDER BY nip",
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((
            r.try_get::<String>("", "id")?,
            r.try_get::<i64>("", "version")?,
            r.try_get::<String>("", "nip")?,
        ));
    }
    store.close().await;
    Ok(out)
}

const RAW_TABLE: &str = "bench_raw_insert";

/// The raw write baseline: single-row `INSERT`s (autocommit) through a pool opened exactly as
/// the service opens its own ([`Store::connect`]: WAL and `synchronous=NORMAL` with a busy
/// timeout on SQLite, the same pool size on both), into a table shaped like a small audit row.
pub async fn raw_insert_call(db: &BenchDb) -> Result<(Store, CallFn)> {
    let store = Store::connect(&db.config()).await?;
    let backend = store.conn().get_database_backend();
    store
        .conn()
        .execute_unprepared(&format!(
            "CREATE TABLE IF NOT EXISTS {RAW_TABLE} (id VARCHAR(36) PRIMARY KEY, at TIMESTAMP NOT NULL, payload VARCHAR(300) NOT NULL)"
        ))
        .await?;
    let sql = match store.kind() {
        DbKind::Sqlite => format!("INSERT INTO {RAW_TABLE} (id, at, payload) VALUES (?, ?, ?)"),
        DbKind::Postgres => {
            format!("INSERT INTO {RAW_TABLE} (id, at, payload) VALUES ($1, $2, $3)")
        }
    };
    let sql = Arc::new(sql);
    let s = store.clone();
    let call: CallFn = Arc::new(move |n| {
        let (s, sql) = (s.clone(), sql.clone());
        Box::pin(async move {
            s.conn()
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    sql.as_str(),
                    [
                        crate::store::new_id().into(),
                        Utc::now().naive_utc().into(),
                        format!("raw insert {n}").into(),
                    ],
                ))
                .await?;
            Ok(())
        })
    });
    Ok((store, call))
}

/// Result of a `pgbench` run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PgbenchResult {
    /// Transactions per second (without initial connection time).
    pub tps: f64,
    /// Average latency in milliseconds.
    pub latency_ms: f64,
    /// The command line.
    pub command: String,
}

/// Runs `pgbench` with a single-row `INSERT` script on `db` for `seconds` with `clients`.
pub async fn pgbench_insert(db: &BenchDb, clients: usize, seconds: u64) -> Result<PgbenchResult> {
    let store = Store::connect(&db.config()).await?;
    store
        .conn()
        .execute_unprepared(
            "CREATE TABLE IF NOT EXISTS bench_pgbench_insert (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT now(), payload VARCHAR(300) NOT NULL)",
        )
        .await?;
    store.close().await;
    let dir = std::env::temp_dir().join(format!("kinerja-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("insert.sql");
    std::fs::write(
        &script,
        "INSERT INTO bench_pgbench_insert (payload) VALUES ('pgbench single-row insert');\n",
    )?;
    let threads = clients.clamp(1, 2);
    let args = vec![
        "-n".to_owned(),
        "-M".to_owned(),
        "prepared".to_owned(),
        "-c".to_owned(),
        clients.to_string(),
        "-j".to_owned(),
        threads.to_string(),
        "-T".to_owned(),
        seconds.to_string(),
        "-f".to_owned(),
        script.display().to_string(),
        db.url.clone(),
    ];
    let command = format!("pgbench {}", args.join(" "));
    let out = tokio::process::Command::new("pgbench")
        .args(&args)
        .output()
        .await
        .context("running pgbench (install the PostgreSQL client tools)")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!(
            "pgbench failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let grab = |prefix: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .and_then(|l| l.split('=').nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    Ok(PgbenchResult {
        tps: grab("tps").context("no tps in pgbench output")?,
        latency_ms: grab("latency average").unwrap_or(0.0),
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            pg_with_database("postgres://postgres@127.0.0.1:5432/postgres", "b1"),
            "postgres://postgres@127.0.0.1:5432/b1"
        );
        assert_eq!(
            pg_with_database("postgres://u@h/postgres?sslmode=disable", "b1"),
            "postgres://u@h/b1?sslmode=disable"
        );
        assert_eq!(
            pg_with_database("postgres://u@h:1", "b1"),
            "postgres://u@h:1/b1"
        );
    }
}
