//! Metric instruments: RPC durations and calls in flight (recorded by the telemetry layer),
//! database statement durations and pool use (recorded from the store), and the meter that
//! domain counters (SKPs by state, results by predikat) are made from.

use std::sync::{Arc, Mutex};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter, ObservableUpDownCounter, UpDownCounter};

use crate::store::Store;

/// Histogram buckets in seconds, as the semantic conventions advise for durations.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The instruments of one server. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    meter: Meter,
    /// `rpc.server.call.duration` (s) by rpc.system, rpc.service, rpc.method and status code.
    pub(crate) rpc_duration: Histogram<f64>,
    /// `kinerja.rpc.server.active_calls`: calls being served, by service and method.
    pub(crate) rpc_active: UpDownCounter<i64>,
    /// `db.client.operation.duration` (s) by db.system.name, operation and collection.
    pub(crate) db_duration: Histogram<f64>,
    /// Keeps the observable pool instruments alive.
    pool: Arc<Mutex<Vec<ObservableUpDownCounter<i64>>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Creates the instruments on `meter`.
    pub fn new(meter: Meter) -> Self {
        let rpc_duration = meter
            .f64_histogram("rpc.server.call.duration")
            .with_unit("s")
            .with_description("Duration of RPCs served, from the request headers to the status")
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build();
        let rpc_active = meter
            .i64_up_down_counter("kinerja.rpc.server.active_calls")
            .with_unit("{call}")
            .with_description("RPCs being served now")
            .build();
        let db_duration = meter
            .f64_histogram("db.client.operation.duration")
            .with_unit("s")
            .with_description("Duration of database statements")
            .with_boundaries([0.001, 0.002].into_iter().chain(DURATION_BUCKETS).collect())
            .build();
        Self {
            meter,
            rpc_duration,
            rpc_active,
            db_duration,
            pool: Arc::default(),
        }
    }

    /// The meter to make further (domain) instruments from, e.g. a counter of SKPs by state.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Reports the store's pool as `db.client.connection.count` (by state `used` / `idle`) and
    /// `db.client.connection.max`, read when metrics are collected.
    pub fn observe_pool(&self, store: &Store) {
        let pool_name = KeyValue::new("db.client.connection.pool.name", "kinerja");
        let (s1, s2) = (store.clone(), store.clone());
        let (n1, n2) = (pool_name.clone(), pool_name);
        let count = self
            .meter
            .i64_observable_up_down_counter("db.client.connection.count")
            .with_unit("{connection}")
            .with_description("Connections of the database pool by state")
            .with_callback(move |o| {
                let u = s1.pool_usage();
                let used = i64::from(u.open.saturating_sub(u.idle));
                o.observe(
                    used,
                    &[
                        n1.clone(),
                        KeyValue::new("db.client.connection.state", "used"),
                    ],
                );
                o.observe(
                    i64::from(u.idle),
                    &[
                        n1.clone(),
                        KeyValue::new("db.client.connection.state", "idle"),
                    ],
                );
            })
            .build();
        let max = self
            .meter
            .i64_observable_up_down_counter("db.client.connection.max")
            .with_unit("{connection}")
            .with_description("Most connections the database pool may open")
            .with_callback(move |o| {
                o.observe(i64::from(s2.pool_usage().max), std::slice::from_ref(&n2))
            })
            .build();
        if let Ok(mut v) = self.pool.lock() {
            v.push(count);
            v.push(max);
        }
    }
}
