use sea_orm::sqlx::{self, Connection, Row, sqlite::SqliteConnection};
#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut c = SqliteConnection::connect(&format!("sqlite://{}", args[1]))
        .await
        .unwrap();
    let stmts: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&args[2]).unwrap()).unwrap();
    for s in stmts {
        let sql = s["sql"].as_str().unwrap();
        if sql == "BEGIN" || sql == "COMMIT" {
            continue;
        }
        let mut n = 0usize;
        let b = sql.as_bytes();
        let mut i = 0;
        let mut quoted = false;
        while i < b.len() {
            let ch = b[i];
            if ch == b'\'' {
                quoted = !quoted
            } else if ch == b'?' && !quoted {
                let mut j = i + 1;
                let mut num = 0usize;
                while j < b.len() && b[j].is_ascii_digit() {
                    num = num * 10 + (b[j] - b'0') as usize;
                    j += 1;
                }
                if j > i + 1 { n = n.max(num) } else { n += 1 }
            }
            i += 1;
        }
        let text = format!("EXPLAIN QUERY PLAN {sql}");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(text));
        for _ in 0..n {
            q = q.bind(None::<String>);
        }
        match q.fetch_all(&mut c).await {
            Ok(rows) => {
                let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>(3)).collect();
                let bad = plan.iter().any(|l| {
                    (l.starts_with("SCAN") && !l.starts_with("SCAN sub") && !l.contains("CONSTANT"))
                        || l.contains("AUTOMATIC")
                        || l.contains("TEMP B-TREE")
                });
                println!(
                    "{} n={} median={} rpcs={} :: {}",
                    if bad { "CHECK" } else { "ok" },
                    s["n"],
                    s["median"],
                    s["rpcs"],
                    &sql[..sql.len().min(160)]
                );
                if bad {
                    for l in plan {
                        println!("      {l}");
                    }
                }
            }
            Err(e) => println!("ERR {e} :: {}", &sql[..sql.len().min(100)]),
        }
    }
}
