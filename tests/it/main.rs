//! Integration tests: real servers on 127.0.0.1:0 with tonic clients, on SQLite by default and on
//! PostgreSQL when `KINERJA_TEST_DATABASE_URL` names a server (each test gets its own database).

mod collector;
mod harness;

mod assessment;
mod assignments;
mod employees;
mod events;
mod export;
mod followup;
mod import;
mod organization;
mod plumbing;
mod reports;
mod security;
mod skp;
mod telemetry;
mod tls;
