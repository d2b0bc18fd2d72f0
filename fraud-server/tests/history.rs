//! One history test suite, run on both backends: each test below is
//! written once, inside `history_suite!`, which runs it against a fresh
//! SQLite file (`sqlite::...`) and a fresh database on a real PostgreSQL
//! server (`postgres::...`, started from Debian's package by the tests).
//! A new history method gets tested on both by adding one test here.

mod common;

use std::sync::Arc;

use fraud_server::config::{Durability, FailurePolicy};
use fraud_server::history::{
    self, schema, BackendOptions, Filter, History, HistoryError, Location, NewRecord, Policy,
    Recorded,
};
use fraud_server::metrics::Metrics;

/// A fresh, empty history location for one test, removed afterwards.
pub struct Fixture {
    location: Location,
    metrics: Metrics,
    /// The SQLite file's directory, removed when the fixture is dropped.
    _dir: Option<common::TempDir>,
}

impl Fixture {
    fn sqlite(name: &str) -> Fixture {
        let dir = common::temp_dir(&format!("history-{name}"));
        Fixture {
            location: Location::Sqlite(dir.join("history.db")),
            metrics: Metrics::new().expect("metrics"),
            _dir: Some(dir),
        }
    }

    fn postgres(name: &str) -> Fixture {
        let url = common::postgres::shared().create_database(name);
        Fixture {
            location: Location::parse(&url).expect("a postgres URL"),
            metrics: Metrics::new().expect("metrics"),
            _dir: None,
        }
    }

    /// Opens the history with `policy`.
    fn open(&self, policy: Policy) -> History {
        History::open_location(
            &self.location,
            policy,
            BackendOptions::default(),
            self.metrics.clone(),
        )
        .expect("the history opens")
    }

    /// `commit`, `fail-closed`.
    fn open_commit(&self) -> History {
        self.open(Policy::commit(64))
    }
}

/// Writes each test once, as an async fn taking a [`Fixture`], and runs
/// it on both backends.
macro_rules! history_suite {
    ($(async fn $name:ident($fixture:ident: Fixture) $body:block)*) => {
        mod cases {
            #[allow(unused_imports)]
            use super::*;
            $(pub async fn $name($fixture: Fixture) $body)*
        }
        mod sqlite {
            $(#[test]
            fn $name() {
                super::run(super::cases::$name(super::Fixture::sqlite(stringify!($name))));
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::run(super::cases::$name(super::Fixture::postgres(stringify!($name))));
            })*
        }
    };
}

fn run(test: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(test);
}

/// A record as the server makes one; `n` varies every field.
fn record(n: usize) -> NewRecord {
    NewRecord {
        timestamp: format!(
            "2026-11-{:02}T{:02}:{:02}:07.{:03}Z",
            1 + n % 28,
            n % 24,
            n % 60,
            n % 1000
        ),
        request_id: format!("req-{n}"),
        transaction_id: (n % 3 != 0).then(|| format!("tx-{n}")),
        model_version: Arc::from(format!("model-{}", n % 2).as_str()),
        features_json: format!(
            r#"{{"amount":{}.25,"merchant_category":"Grocery","n":{n}}}"#,
            n * 10
        ),
        fraud_probability: n as f64 / 997.0,
        is_fraud: n % 5 == 0,
        risk_level: ["LOW", "MEDIUM", "HIGH"][n % 3],
        latency_ms: 0.001 * n as f64 + 0.1,
        shadow: (n % 4 == 0).then(|| (Arc::from("shadow-model"), n as f64 / 1009.0)),
    }
}

/// Checks a stored record against the one written.
fn assert_stored(stored: &history::Record, written: &NewRecord) {
    assert_eq!(stored.timestamp, written.timestamp);
    assert_eq!(stored.request_id, written.request_id);
    assert_eq!(stored.transaction_id, written.transaction_id);
    assert_eq!(stored.model_version, &*written.model_version);
    assert_eq!(
        stored.features,
        serde_json::from_str::<serde_json::Value>(&written.features_json).expect("JSON")
    );
    assert_eq!(
        stored.fraud_probability.to_bits(),
        written.fraud_probability.to_bits()
    );
    assert_eq!(stored.is_fraud, u8::from(written.is_fraud));
    assert_eq!(stored.risk_level, written.risk_level);
    assert_eq!(stored.latency_ms.to_bits(), written.latency_ms.to_bits());
    assert_eq!(
        stored.shadow_version.as_deref(),
        written.shadow.as_ref().map(|(v, _)| &**v)
    );
    assert_eq!(
        stored.shadow_probability.map(f64::to_bits),
        written.shadow.as_ref().map(|(_, p)| p.to_bits())
    );
    assert_eq!(stored.label, None);
}

history_suite! {
    async fn records_round_trip_exactly(fixture: Fixture) {
        let history = fixture.open_commit();
        let mut odd = record(7);
        // What a hostile or careless caller may send comes back as sent.
        odd.transaction_id = Some("<script>alert('x')</script> \"é\" 🐛 \\ \u{7f}".into());
        odd.features_json = r#"{"merchant_category":"<img src=x onerror=alert(1)>","note":"\u0000 \ud83d\udc1b","nested":{"a":[1,2.5,null,true]}}"#.into();
        odd.fraud_probability = 0.1 + 0.2;
        let written = vec![record(1), record(2), odd];
        for r in &written {
            assert_eq!(history.record(vec![r.clone()]).await.expect("stored"), Recorded::Stored);
        }
        let page = history.list(10, 0, Filter::default()).await.expect("a page");
        assert_eq!(page.total, 3);
        assert_eq!(page.predictions.len(), 3);
        for (stored, written) in page.predictions.iter().zip(written.iter().rev()) {
            assert_stored(stored, written);
        }
        history.close().await.expect("closed");
    }

    async fn pages_are_newest_first_and_counted(fixture: Fixture) {
        let history = fixture.open_commit();
        let written: Vec<NewRecord> = (0..25).map(record).collect();
        history.record(written.clone()).await.expect("stored");
        let first = history.list(10, 0, Filter::default()).await.expect("a page");
        assert_eq!((first.total, first.limit, first.offset), (25, 10, 0));
        let ids: Vec<i64> = first.predictions.iter().map(|r| r.id).collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
        // One request's records keep their order.
        assert_eq!(first.predictions[0].request_id, "req-24");
        assert_eq!(first.predictions[9].request_id, "req-15");
        let last = history.list(10, 20, Filter::default()).await.expect("a page");
        assert_eq!(last.predictions.len(), 5);
        assert_stored(&last.predictions[4], &written[0]);
        let past = history.list(10, 400, Filter::default()).await.expect("a page");
        assert!(past.predictions.is_empty());
        assert_eq!(past.total, 25);
        history.close().await.expect("closed");
    }

    async fn filters_select_the_same_records_on_every_backend(fixture: Fixture) {
        let history = fixture.open_commit();
        let written: Vec<NewRecord> = (0..60).map(record).collect();
        history.record(written.clone()).await.expect("stored");
        let expect = |keep: &dyn Fn(&NewRecord) -> bool| -> Vec<String> {
            written.iter().rev().filter(|r| keep(r)).map(|r| r.request_id.clone()).collect()
        };
        let listed = |page: history::Page| -> Vec<String> {
            page.predictions.into_iter().map(|r| r.request_id).collect()
        };
        let high = Filter { risk_level: Some("HIGH"), ..Filter::default() };
        assert_eq!(
            listed(history.list(100, 0, high).await.expect("a page")),
            expect(&|r| r.risk_level == "HIGH")
        );
        let flagged_since = Filter {
            is_fraud: Some(true),
            since: Some("2026-11-10T00:00:00.000Z".into()),
            until: Some("2026-11-20T23:59:59.999Z".into()),
            ..Filter::default()
        };
        let page = history.list(100, 0, flagged_since).await.expect("a page");
        let wanted = expect(&|r| {
            r.is_fraud
                && r.timestamp.as_str() >= "2026-11-10T00:00:00.000Z"
                && r.timestamp.as_str() <= "2026-11-20T23:59:59.999Z"
        });
        assert!(!wanted.is_empty());
        assert_eq!(page.total, wanted.len() as u64);
        assert_eq!(listed(page), wanted);
        let nothing = Filter { risk_level: Some("LOW"), is_fraud: Some(true), since: Some("2030-01-01T00:00:00.000Z".into()), ..Filter::default() };
        assert_eq!(history.list(100, 0, nothing).await.expect("a page").total, 0);
        history.close().await.expect("closed");
    }

    async fn concurrent_requests_are_all_committed(fixture: Fixture) {
        let history = fixture.open(Policy::commit(16));
        let mut tasks = Vec::new();
        for n in 0..300 {
            let h = history.clone();
            tasks.push(tokio::spawn(async move { h.record(vec![record(n)]).await }));
        }
        for task in tasks {
            assert_eq!(task.await.expect("joined").expect("stored"), Recorded::Stored);
        }
        assert_eq!(fixture.metrics.history_written.get(), 300);
        let page = history.list(1000, 0, Filter::default()).await.expect("a page");
        assert_eq!(page.total, 300);
        let mut ids: Vec<&str> = page.predictions.iter().map(|r| r.request_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 300);
        history.close().await.expect("closed");
    }

    async fn async_records_are_written_by_flush_and_close(fixture: Fixture) {
        let history = fixture.open(Policy {
            queue: 8,
            durability: Durability::Async,
            failure: FailurePolicy::FailOpen,
        });
        for n in 0..40 {
            assert_eq!(history.record(vec![record(n)]).await.expect("queued"), Recorded::Queued);
        }
        history.flush().await.expect("flushed");
        assert_eq!(history.list(1, 0, Filter::default()).await.expect("a page").total, 40);
        for n in 40..60 {
            history.record(vec![record(n)]).await.expect("queued");
        }
        history.close().await.expect("closed");
        assert!(matches!(history.record(vec![record(99)]).await, Err(HistoryError::Closed)));
        let reopened = fixture.open_commit();
        assert_eq!(reopened.list(1, 0, Filter::default()).await.expect("a page").total, 60);
        reopened.close().await.expect("closed");
    }

    async fn reopening_keeps_records_and_migrates_once(fixture: Fixture) {
        let first = history::migrate(&fixture.location).expect("migrated");
        assert_eq!(first.from, 0);
        assert_eq!(first.to, schema::latest());
        assert_eq!(first.applied.len(), schema::MIGRATIONS.len());
        let history = fixture.open_commit();
        history.record(vec![record(1)]).await.expect("stored");
        history.close().await.expect("closed");
        let again = history::migrate(&fixture.location).expect("migrated");
        assert_eq!((again.from, again.to), (schema::latest(), schema::latest()));
        assert!(again.applied.is_empty());
        assert!(again.to_string().contains("nothing to apply"), "{again}");
        let reopened = fixture.open_commit();
        let page = reopened.list(10, 0, Filter::default()).await.expect("a page");
        assert_eq!(page.total, 1);
        assert_stored(&page.predictions[0], &record(1));
        reopened.close().await.expect("closed");
    }

    async fn replicas_migrating_at_once_apply_each_migration_once(fixture: Fixture) {
        let location = Arc::new(fixture.location.clone());
        let racers: Vec<_> = (0..4)
            .map(|_| {
                let location = Arc::clone(&location);
                std::thread::spawn(move || history::migrate(&location))
            })
            .collect();
        let mut applied = 0;
        for racer in racers {
            let report = racer.join().expect("joined").expect("migrated");
            assert_eq!(report.to, schema::latest());
            applied += report.applied.len();
        }
        assert_eq!(applied, schema::MIGRATIONS.len(), "each migration ran once");
    }

    // Labels (issue 12).

    async fn labels_are_stored_all_or_nothing_and_read_in_time_order(fixture: Fixture) {
        use history::{Label, LabelKey, LabelOutcome, LabelledQuery};
        // Async: a label must still find the record queued just before it.
        let history = fixture.open(Policy {
            durability: Durability::Async,
            ..Policy::commit(64)
        });
        let written: Vec<NewRecord> = (0..30).map(record).collect();
        assert_eq!(history.record(written.clone()).await.expect("queued"), Recorded::Queued);
        let label = |key: LabelKey, label: u8| Label {
            key,
            label,
            labelled_by: "analyst-7".into(),
            labelled_at: "2026-12-01T10:00:00.123Z".into(),
        };
        let tx = |id: &str| LabelKey::TransactionId(id.into());
        let outcome = history
            .label(vec![
                label(tx("tx-2"), 0),
                label(tx("tx-1"), 1),
                label(LabelKey::RequestId("req-3".into()), 1),
            ])
            .await
            .expect("stored");
        assert_eq!(outcome, LabelOutcome::Applied { rows: 3 });
        // One unknown id: nothing of the set is stored.
        let outcome = history
            .label(vec![label(tx("tx-4"), 1), label(tx("tx-nope"), 0)])
            .await
            .expect("answered");
        assert_eq!(outcome, LabelOutcome::Unknown(vec![tx("tx-nope")]));

        let all = history.labelled(LabelledQuery::default()).await.expect("read");
        let ids: Vec<&str> = all.iter().map(|r| r.request_id.as_str()).collect();
        assert_eq!(ids, ["req-1", "req-2", "req-3"], "oldest first, tx-4 unlabelled");
        assert_eq!(all.iter().map(|r| r.label).collect::<Vec<_>>(), [Some(1), Some(0), Some(1)]);
        for r in &all {
            assert_eq!(r.labelled_by.as_deref(), Some("analyst-7"));
            assert_eq!(r.labelled_at.as_deref(), Some("2026-12-01T10:00:00.123Z"));
            assert_eq!(r.features, serde_json::Value::Null, "not asked for");
        }
        let with_inputs = history
            .labelled(LabelledQuery { features: true, ..LabelledQuery::default() })
            .await
            .expect("read");
        for (stored, n) in with_inputs.iter().zip(1..) {
            assert_stored(&history::Record { label: None, ..stored.clone() }, &written[n]);
        }
        // `since` includes its time, `before` excludes its own.
        let span = history
            .labelled(LabelledQuery {
                since: Some(written[2].timestamp.clone()),
                before: Some(written[3].timestamp.clone()),
                features: false,
            })
            .await
            .expect("read");
        assert_eq!(span.len(), 1);
        assert_eq!(span[0].request_id, "req-2");
        // A later label overwrites an earlier one.
        history.label(vec![label(tx("tx-1"), 0)]).await.expect("stored");
        let again = history.labelled(LabelledQuery::default()).await.expect("read");
        assert_eq!(again[0].label, Some(0));
        history.close().await.expect("closed");
    }
}

#[test]
fn a_database_that_cannot_be_reached_is_an_error_at_once() {
    // A closed port: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let location =
        Location::parse(&format!("postgres://fraud:pw@127.0.0.1:{port}/frauddb")).expect("a URL");
    let started = std::time::Instant::now();
    let error = History::open_location(
        &location,
        Policy::commit(8),
        BackendOptions::default(),
        Metrics::new().expect("metrics"),
    )
    .err()
    .expect("an error");
    let text = error.to_string();
    assert!(
        text.contains(&format!("postgres://fraud@127.0.0.1:{port}/frauddb")),
        "{text}"
    );
    assert!(text.contains("refused"), "{text}");
    assert!(!text.contains("pw@"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
}

// ---- model lifecycle: the shadow comparison's reads ----

mod shadow {
    use super::*;

    history_suite! {
        async fn shadow_pairs_are_the_newest_of_one_live_and_shadow_pair(fixture: Fixture) {
            let history = fixture.open_commit();
            let mut records = Vec::new();
            for n in 0..40 {
                let mut r = record(n);
                r.model_version = Arc::from(if n % 2 == 0 { "live-a" } else { "live-b" });
                r.shadow = match n % 4 {
                    0 | 1 => Some((Arc::from("shadow-s"), n as f64 / 100.0)),
                    2 => Some((Arc::from("shadow-t"), 0.5)),
                    _ => None,
                };
                records.push(r);
            }
            history.record(records.clone()).await.expect("stored");
            let pairs = history.shadow_pairs("live-a", "shadow-s", 1000).await.expect("pairs");
            // n = 0, 4, 8, ...: live-a with shadow-s; newest first.
            let expected: Vec<(f64, f64)> = (0..40)
                .rev()
                .filter(|n| n % 4 == 0)
                .map(|n| (records[n].fraud_probability, n as f64 / 100.0))
                .collect();
            let got: Vec<(f64, f64)> = pairs.iter().map(|p| (p.live, p.shadow)).collect();
            assert_eq!(got, expected);
            assert!(pairs.iter().all(|p| p.label.is_none()));
            let newest = history.shadow_pairs("live-a", "shadow-s", 3).await.expect("pairs");
            assert_eq!(newest.len(), 3);
            assert_eq!(newest[0].shadow, 36.0 / 100.0);
            assert!(history.shadow_pairs("live-a", "nobody", 10).await.expect("pairs").is_empty());
            history.close().await.expect("closed");
        }
    }
}
