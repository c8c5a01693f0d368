//! Database telemetry: every SQL statement the store runs inside a traced call becomes a CLIENT
//! child span of the call's server span, with the database semantic conventions
//! (`db.system.name`, `db.operation.name`, `db.collection.name`, `db.query.summary`,
//! `db.namespace`, `server.address`/`server.port`); its duration goes to
//! `db.client.operation.duration`. Neither the SQL text nor any parameter value is recorded in
//! spans or metrics; a statement slower than the configured threshold is logged (WARN) with its
//! SQL text, whose values are placeholders (quoted literals masked).
//!
//! The store reports statements after they ran ([`crate::store::StatementInfo`]: SQL with
//! placeholders, elapsed time, failure), on the task that ran them, so the span is made
//! afterwards with the measured start and end times and the call's context as parent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};

use super::Telemetry;
use crate::store::{DbKind, StatementInfo};

/// How many database spans a call may still make; lives in the call's [`Context`]. Its presence
/// also marks "inside a traced call": statements of background work (health pings, migrations)
/// make no spans.
#[derive(Debug)]
pub(crate) struct DbSpanBudget {
    left: AtomicU32,
    dropped: AtomicU32,
}

impl DbSpanBudget {
    pub(crate) fn new(max: u32) -> Self {
        Self {
            left: AtomicU32::new(max),
            dropped: AtomicU32::new(0),
        }
    }

    fn take(&self) -> bool {
        let ok = self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if !ok {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Statements that made no span because the budget was spent.
    pub(crate) fn dropped(&self) -> u32 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Where the database is, for span attributes (from the URL; never user or password).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbTarget {
    /// `db.namespace`: the PostgreSQL database name.
    pub namespace: Option<String>,
    /// `server.address`: the PostgreSQL host.
    pub address: Option<String>,
    /// `server.port`: the PostgreSQL port.
    pub port: Option<u16>,
}

impl DbTarget {
    /// Reads host, port and database name from a `postgres://` URL; SQLite has none of them.
    pub fn from_url(kind: DbKind, url: &str) -> Self {
        if kind != DbKind::Postgres {
            return Self::default();
        }
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = match hostport.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((h, p)) => (h, p.strip_prefix(':').and_then(|p| p.parse::<u16>().ok())),
                None => (v6, None),
            },
            None => match hostport.rsplit_once(':') {
                Some((h, p)) => (h, p.parse::<u16>().ok()),
                None => (hostport, None),
            },
        };
        Self {
            namespace: (!path.is_empty()).then(|| path.to_owned()),
            address: (!host.is_empty()).then(|| host.to_owned()),
            port: port.or((!host.is_empty()).then_some(5432)),
        }
    }
}

/// Turns store statements into spans and durations; installed with
/// [`crate::store::Store::set_statement_observer`].
#[derive(Debug, Clone)]
pub struct DbObserver {
    telemetry: Telemetry,
    system: &'static str,
    target: DbTarget,
}

impl DbObserver {
    /// An observer for a store of `kind` at `target`.
    pub fn new(telemetry: Telemetry, kind: DbKind, target: DbTarget) -> Self {
        Self {
            telemetry,
            system: kind.as_str(),
            target,
        }
    }

    /// Records one statement: its duration always, a child span when a traced call is current.
    pub fn observe(&self, st: &StatementInfo<'_>) {
        if self
            .telemetry
            .slow_statement()
            .is_some_and(|limit| st.elapsed >= limit)
        {
            log_slow(st);
        }
        // Several statements sent as one command: the last one is what the call waited for.
        let last = match st.statements {
            0 | 1 => st.sql,
            _ => st
                .sql
                .rfind(crate::store::BATCH_SEPARATOR)
                .map_or(st.sql, |i| {
                    &st.sql[i + crate::store::BATCH_SEPARATOR.len()..]
                }),
        };
        let summary = summarize(last);
        let mut attrs = vec![KeyValue::new("db.system.name", self.system)];
        if st.statements > 1 {
            attrs.push(KeyValue::new(
                "db.operation.batch.size",
                i64::try_from(st.statements).unwrap_or(i64::MAX),
            ));
        }
        if let Some(op) = summary.operation {
            attrs.push(KeyValue::new("db.operation.name", op));
        }
        if let Some(c) = &summary.collection {
            attrs.push(KeyValue::new("db.collection.name", c.clone()));
        }
        if st.failed {
            attrs.push(KeyValue::new("error.type", "_OTHER"));
        }
        self.telemetry
            .metrics()
            .db_duration
            .record(st.elapsed.as_secs_f64(), &attrs);

        Context::map_current(|cx| {
            let Some(budget) = cx.get::<DbSpanBudget>() else {
                return;
            };
            if !cx.span().span_context().is_sampled() || !budget.take() {
                return;
            }
            let end = SystemTime::now();
            let start = end.checked_sub(st.elapsed).unwrap_or(end);
            let text = summary.text();
            let name = text.clone().unwrap_or_else(|| self.system.to_owned());
            if let Some(t) = text {
                attrs.push(KeyValue::new("db.query.summary", t));
            }
            if let Some(n) = &self.target.namespace {
                attrs.push(KeyValue::new("db.namespace", n.clone()));
            }
            if let Some(a) = &self.target.address {
                attrs.push(KeyValue::new("server.address", a.clone()));
            }
            if let Some(p) = self.target.port {
                attrs.push(KeyValue::new("server.port", i64::from(p)));
            }
            let tracer = self.telemetry.tracer();
            let mut span = tracer
                .span_builder(name)
                .with_kind(SpanKind::Client)
                .with_start_time(start)
                .with_attributes(attrs)
                .start_with_context(tracer, cx);
            if st.failed {
                span.set_status(Status::error("statement failed"));
            }
            span.end_with_timestamp(end);
        });
    }

    /// The observer as the closure the store takes.
    pub fn into_fn(self) -> impl Fn(&StatementInfo<'_>) + Send + Sync + 'static {
        let this = Arc::new(self);
        move |st| this.observe(st)
    }
}

/// The longest SQL text a slow-statement log line carries (long `IN` lists are cut).
const SLOW_SQL_CHARS: usize = 2_000;

/// Logs a slow statement: its SQL text (placeholders; a quoted literal, which the store does not
/// write but a future statement might, is masked), how long it took and whether it failed,
/// under the current call's span.
fn log_slow(st: &StatementInfo<'_>) {
    let sql = mask_literals(st.sql, SLOW_SQL_CHARS);
    tracing::warn!(
        target: "kinerja::db",
        elapsed_ms = st.elapsed.as_secs_f64() * 1e3,
        failed = st.failed,
        sql,
        "slow statement"
    );
}

/// `sql` with the content of every single-quoted literal replaced by `?`, cut after `max`
/// characters (marked with `...`).
fn mask_literals(sql: &str, max: usize) -> String {
    let mut out = String::with_capacity(sql.len().min(max + 3));
    let mut quoted = false;
    for (n, c) in sql.chars().enumerate() {
        if n == max {
            out.push_str("...");
            break;
        }
        match (quoted, c) {
            (false, '\'') => {
                quoted = true;
                out.push_str("'?");
            }
            // A doubled quote inside a literal closes and reopens it: still masked.
            (true, '\'') => {
                quoted = false;
                out.push('\'');
            }
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}

/// What a statement does, read from its SQL text without recording the text.
#[derive(Debug, Default, PartialEq, Eq)]
struct Summary {
    /// First keyword, upper case: `SELECT`, `INSERT`, `UPDATE`, `DELETE`, ...
    operation: Option<&'static str>,
    /// The one table the statement works on; `None` when it names several (joins, subqueries).
    collection: Option<String>,
    /// The main table: the first after FROM (INTO for an INSERT, UPDATE for an UPDATE).
    main: Option<String>,
}

impl Summary {
    /// Low-cardinality summary: operation and main table, e.g. `SELECT employee`; only built
    /// for a span.
    fn text(&self) -> Option<String> {
        let op = self.operation?;
        Some(match &self.main {
            Some(t) => format!("{op} {t}"),
            None => op.to_owned(),
        })
    }
}

const OPERATIONS: [&str; 10] = [
    "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "BEGIN", "COMMIT", "ROLLBACK", "CREATE",
    "ALTER",
];

/// The summary of `sql` in one pass over its words, without collecting them: it stops once the
/// main table is known and a second table (a join or subquery) rules out a single collection,
/// so a long statement costs what its first clauses cost.
fn summarize(sql: &str) -> Summary {
    let mut words = sql.split_ascii_whitespace();
    let Some(first) = words.next() else {
        return Summary::default();
    };
    let Some(op) = OPERATIONS
        .iter()
        .copied()
        .find(|k| first.eq_ignore_ascii_case(k))
    else {
        return Summary::default();
    };
    // The keyword whose next word names the main table; an UPDATE names it first.
    let main_after = match op {
        "SELECT" | "DELETE" => Some("FROM"),
        "INSERT" => Some("INTO"),
        _ => None,
    };
    let mut main = None;
    let mut main_known = main_after.is_none();
    if op == "UPDATE" {
        main = words.clone().next().and_then(identifier);
    }
    // Tables named after FROM, JOIN or INTO; one is a single collection (none for an UPDATE).
    let single_at = usize::from(op != "UPDATE");
    let mut tables = 0;
    let mut prev = first;
    for word in words {
        if !main_known && main_after.is_some_and(|k| prev.eq_ignore_ascii_case(k)) {
            main = identifier(word);
            main_known = true;
        }
        if ["FROM", "JOIN", "INTO"]
            .iter()
            .any(|k| word.eq_ignore_ascii_case(k))
        {
            tables += 1;
        }
        if main_known && tables > single_at {
            break;
        }
        prev = word;
    }
    Summary {
        operation: Some(op),
        collection: main.clone().filter(|_| tables == single_at),
        main,
    }
}

/// A table name token: quotes removed, schema kept (`public.employee`); `None` for anything
/// that is not a plain identifier (a subquery, a placeholder).
fn identifier(token: &str) -> Option<String> {
    let name: String = token
        .trim_end_matches([',', ';', '('])
        .chars()
        .filter(|c| !matches!(c, '"' | '`' | '[' | ']'))
        .collect();
    (!name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && !name.starts_with(|c: char| c.is_ascii_digit()))
    .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_of_store_statements() {
        let s = summarize(
            r#"SELECT "employee"."id", "employee"."nip" FROM "employee" WHERE "employee"."id" = $1 LIMIT $2"#,
        );
        assert_eq!(s.operation, Some("SELECT"));
        assert_eq!(s.collection.as_deref(), Some("employee"));
        assert_eq!(s.text().as_deref(), Some("SELECT employee"));

        let s = summarize(r#"INSERT INTO "agency" ("id", "code") VALUES (?, ?) RETURNING "id""#);
        assert_eq!(s.collection.as_deref(), Some("agency"));
        assert_eq!(s.text().as_deref(), Some("INSERT agency"));

        let s = summarize(r#"UPDATE "employee" SET "version" = "version" + ? WHERE "id" = ?"#);
        assert_eq!(s.operation, Some("UPDATE"));
        assert_eq!(s.collection.as_deref(), Some("employee"));

        let s = summarize("UPDATE unit SET id = id WHERE id = $1");
        assert_eq!(s.collection.as_deref(), Some("unit"));

        // A subquery over other tables: summary names the main table, no single collection.
        let s = summarize(
            r#"SELECT "employee"."id" FROM "employee" WHERE "employee"."id" IN (SELECT "assignment"."employee_id" FROM "assignment" INNER JOIN "unit" ON "unit"."id" = "assignment"."unit_id")"#,
        );
        assert_eq!(s.text().as_deref(), Some("SELECT employee"));
        assert_eq!(s.collection, None);

        let s = summarize("SELECT sqlite_version() AS v");
        assert_eq!(s.text().as_deref(), Some("SELECT"));
        assert_eq!(s.collection, None);

        assert_eq!(summarize("VACUUM"), Summary::default());
        assert_eq!(summarize(""), Summary::default());
    }

    #[test]
    fn slow_statements_are_logged_with_literals_masked() {
        use tracing_subscriber::layer::SubscriberExt as _;

        let (t, _g) = Telemetry::init(&crate::telemetry::TelemetryConfig {
            slow_statement: Some(std::time::Duration::from_millis(100)),
            ..Default::default()
        })
        .expect("init");
        let observer = DbObserver::new(t, DbKind::Sqlite, DbTarget::default());
        let buf = crate::telemetry::logs::tests::Buf::default();
        let w = buf.clone();
        let subscriber = tracing_subscriber::Registry::default().with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || w.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            for (sql, ms) in [
                ("SELECT fast FROM employees WHERE id = ?", 99),
                (
                    "SELECT slow FROM employees WHERE nip = '198503152010011001'",
                    100,
                ),
            ] {
                observer.observe(&StatementInfo {
                    sql,
                    statements: 1,
                    elapsed: std::time::Duration::from_millis(ms),
                    failed: false,
                });
            }
        });
        let text = buf.text();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("WARN"), "{text}");
        assert!(text.contains("slow statement"), "{text}");
        assert!(text.contains("elapsed_ms=100"), "{text}");
        assert!(text.contains("WHERE nip = '?'"), "{text}");
        assert!(!text.contains("1985"), "{text}");
    }

    #[test]
    fn literals_are_masked_and_long_text_cut() {
        assert_eq!(
            mask_literals("a = 'x''y' AND b = ? AND c = 'z'", 100),
            "a = '?''?' AND b = ? AND c = '?'"
        );
        assert_eq!(mask_literals("SELECT 1", 3), "SEL...");
        assert_eq!(mask_literals("SELECT 1", 8), "SELECT 1");
    }

    #[test]
    fn values_never_reach_the_summary() {
        // Even inlined literals stay out: only keywords and identifiers are kept.
        let s = summarize("SELECT * FROM employee WHERE nip = '198503152010011001'");
        assert_eq!(s.text().as_deref(), Some("SELECT employee"));
        assert_eq!(identifier("'198503152010011001'"), None);
        assert_eq!(identifier("$1"), None);
    }

    #[test]
    fn targets_from_urls() {
        assert_eq!(
            DbTarget::from_url(
                DbKind::Postgres,
                "postgres://kinerja:secret@db.internal:6432/kinerja?sslmode=require"
            ),
            DbTarget {
                namespace: Some("kinerja".into()),
                address: Some("db.internal".into()),
                port: Some(6432),
            }
        );
        assert_eq!(
            DbTarget::from_url(DbKind::Postgres, "postgres://postgres@127.0.0.1/app"),
            DbTarget {
                namespace: Some("app".into()),
                address: Some("127.0.0.1".into()),
                port: Some(5432),
            }
        );
        assert_eq!(
            DbTarget::from_url(DbKind::Sqlite, "sqlite://kinerja.db?mode=rwc"),
            DbTarget::default()
        );
    }

    #[test]
    fn budget_counts_what_it_drops() {
        let b = DbSpanBudget::new(2);
        assert!(b.take() && b.take());
        assert!(!b.take());
        assert!(!b.take());
        assert_eq!(b.dropped(), 2);
    }
}
