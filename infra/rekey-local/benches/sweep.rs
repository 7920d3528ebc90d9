//! How long one sweep takes over a few thousand credentials in the
//! embedded store, and how much memory it holds: the figures DESIGN.md's
//! "one sweep invocation rotates a few thousand credentials" rests on.
//!
//! ```sh
//! cargo bench -p rekey-local --bench sweep
//! REKEY_BENCH_CREDENTIALS=5000 REKEY_BENCH_CONCURRENCY=16 cargo bench -p rekey-local --bench sweep
//! ```
//!
//! Each phase is one sweep on a real SQLite file, with audit lines
//! serialized as in production and written to a sink: deciding when
//! nothing is due, rotating everything once every value is past its
//! maximum age, and retiring every previous value once its grace period is
//! over. `BENCHMARKS.md` at the repository's root keeps the latest figures.

// A benchmark's report is its standard output.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rekey_core::audit::JsonLines;
use rekey_core::{
    Clock, Engine, ManualClock, POLICY_TAG, PolicySet, SecretValue, SweepSummary, Trigger,
};
use rekey_local::{LocalDb, LocalLedger, LocalStore};
use time::OffsetDateTime;

const POLICY: &str = r#"
[bench]
max_age = "1h"
grace_period = "10m"
generator = { type = "password", length = 32 }
"#;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The process's peak resident set, from `/proc/self/status` (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report(phase: &str, count: usize, took: Duration) {
    let per_second = count as f64 / took.as_secs_f64();
    let per_item = took.as_secs_f64() * 1e6 / count.max(1) as f64;
    let peak = peak_rss_kib().map_or("-".into(), |kib| format!("{} MiB", kib / 1024));
    println!(
        "{phase:<10} {count:>6} in {:>8.1} ms  {per_second:>8.0}/s  {per_item:>7.0} µs each  peak RSS {peak}",
        took.as_secs_f64() * 1e3
    );
}

fn check(summary: &SweepSummary, rotated: usize, retired: usize) {
    assert!(summary.failed.is_empty(), "failures: {:?}", summary.failed);
    assert_eq!(
        (summary.rotated.len(), summary.retired.len()),
        (rotated, retired)
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let count = setting("REKEY_BENCH_CREDENTIALS", 2000);
    let concurrency = setting("REKEY_BENCH_CONCURRENCY", rekey_core::DEFAULT_CONCURRENCY);
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let db = LocalDb::open(dir.path())?;
    let store = Arc::new(LocalStore::new(db.clone(), clock.clone()));
    let policies: PolicySet = toml::from_str(POLICY)?;
    let engine = Engine::new(policies, Arc::new(LocalLedger::new(db)))
        .with_clock(clock.clone())
        .with_store(store.clone())
        .with_audit(Arc::new(JsonLines::new(std::io::sink())));
    let trigger = Trigger::Schedule {
        source: "bench".into(),
    };
    println!(
        "{count} credentials, concurrency {concurrency}, SQLite in {}",
        dir.path().display()
    );

    let started = Instant::now();
    let tags = BTreeMap::from([(POLICY_TAG.to_owned(), "bench".to_owned())]);
    for n in 0..count {
        let value = SecretValue::new(format!("initial-value-{n:06}"));
        store
            .ensure_credential(
                &format!("bench/{n:06}"),
                tags.clone(),
                Some(&value),
                clock.now(),
            )
            .await?;
    }
    report("seed", count, started.elapsed());

    let started = Instant::now();
    let summary = engine.sweep(&trigger, concurrency).await;
    report("decide", summary.examined, started.elapsed());
    check(&summary, 0, 0);

    clock.advance(Duration::from_secs(2 * 3600));
    let started = Instant::now();
    let summary = engine.sweep(&trigger, concurrency).await;
    report("rotate", summary.rotated.len(), started.elapsed());
    check(&summary, count, 0);

    clock.advance(Duration::from_secs(15 * 60));
    let started = Instant::now();
    let summary = engine.sweep(&trigger, concurrency).await;
    report("retire", summary.retired.len(), started.elapsed());
    check(&summary, 0, count);
    Ok(())
}
