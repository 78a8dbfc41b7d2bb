//! Reload: atomic, generation by generation; a broken set keeps the previous one and is
//! reported.
// Test code: a failed unwrap or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use schloss_policy::{
    Action, Mode, PolicyStore, ReloadEvent, ReloadHook, ReloadOutcome, StoreConfig,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Grants Write on acme's topics; `marker` names the topic the generation allows Read on.
fn generation_file(marker: usize) -> String {
    format!(
        "@id(\"gen\")\npermit (principal in Kafka::Tenant::\"acme\", action == Kafka::Action::\"Read\", resource is Kafka::Topic in Kafka::Tenant::\"acme\")\nwhen {{ resource.name == \"t{marker}\" }};\n@id(\"gen-describe\")\nforbid (principal, action == Kafka::Action::\"Describe\", resource is Kafka::Topic in Kafka::Tenant::\"acme\")\nwhen {{ resource.name != \"t{marker}\" }};\n"
    )
}

fn recording_store(dir: &std::path::Path) -> (Arc<PolicyStore>, Arc<Mutex<Vec<ReloadEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let hook: ReloadHook = Arc::new(move |event: &ReloadEvent| {
        sink.lock().unwrap().push(event.clone());
    });
    let store = PolicyStore::open(
        StoreConfig {
            mode: Mode::Cedar {
                dir: dir.to_owned(),
            },
            super_users: Vec::new(),
        },
        Some(hook),
    )
    .unwrap();
    (Arc::new(store), events)
}

#[test]
fn a_reload_swaps_in_a_new_generation_and_reports_it() {
    let dir = policy_dir(&[
        ("base.cedar", &base_policy()),
        ("gen.cedar", &generation_file(1)),
    ]);
    let (store, events) = recording_store(dir.path());
    let first = store.snapshot();
    assert_eq!(first.generation(), 1);
    std::fs::write(dir.path().join("gen.cedar"), generation_file(2)).unwrap();
    assert_eq!(
        store.reload().unwrap(),
        ReloadOutcome::Accepted { generation: 2 }
    );
    let second = store.snapshot();
    assert_eq!(second.generation(), 2);
    assert_ne!(first.sha256(), second.sha256());
    let alice = user("acme/alice", &[]);
    // The old snapshot keeps deciding by its own generation.
    assert!(decide(&first, &alice, Action::Read, &topic("acme", "t1")).is_allowed());
    assert!(!decide(&second, &alice, Action::Read, &topic("acme", "t1")).is_allowed());
    assert!(decide(&second, &alice, Action::Read, &topic("acme", "t2")).is_allowed());

    // The same contents again: no new generation.
    assert_eq!(
        store.reload().unwrap(),
        ReloadOutcome::Unchanged { generation: 2 }
    );
    let events = events.lock().unwrap();
    assert!(
        matches!(
            &events[0],
            ReloadEvent::Accepted {
                generation: 1,
                policies: 4,
                ..
            }
        ),
        "{events:?}"
    );
    match &events[1] {
        ReloadEvent::Accepted {
            generation: 2,
            sha256,
            ..
        } => assert_eq!(Some(sha256.as_str()), second.sha256()),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        &events[2],
        ReloadEvent::Unchanged { generation: 2, .. }
    ));
}

#[test]
fn a_broken_file_during_reload_keeps_the_old_set_and_reports_the_refusal() {
    let dir = policy_dir(&[
        ("base.cedar", &base_policy()),
        ("gen.cedar", &generation_file(1)),
    ]);
    let (store, events) = recording_store(dir.path());
    std::fs::write(
        dir.path().join("gen.cedar"),
        "permit (principal, action, resource\n",
    )
    .unwrap();
    let error = store.reload().unwrap_err();
    assert!(error.to_string().contains("gen.cedar:1:"), "{error}");
    let snapshot = store.snapshot();
    assert_eq!(snapshot.generation(), 1);
    let alice = user("acme/alice", &[]);
    assert!(decide(&snapshot, &alice, Action::Read, &topic("acme", "t1")).is_allowed());
    {
        let events = events.lock().unwrap();
        match events.last().unwrap() {
            ReloadEvent::Refused {
                kept_generation: Some(1),
                error,
            } => assert!(error.contains("gen.cedar:1:"), "{error}"),
            other => panic!("{other:?}"),
        }
    }
    // Fixed again: the next generation is 2, not 3; a refusal uses no generation.
    std::fs::write(dir.path().join("gen.cedar"), generation_file(3)).unwrap();
    assert_eq!(
        store.reload().unwrap(),
        ReloadOutcome::Accepted { generation: 2 }
    );
}

#[test]
fn a_refused_set_at_startup_refuses_to_open_and_is_reported() {
    let dir = policy_dir(&[(
        "bad.cedar",
        "forbid (principal, action, resource) when { 1 };\n",
    )]);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let hook: ReloadHook = Arc::new(move |e: &ReloadEvent| sink.lock().unwrap().push(e.clone()));
    let error = PolicyStore::open(
        StoreConfig {
            mode: Mode::Cedar {
                dir: dir.path().to_owned(),
            },
            super_users: Vec::new(),
        },
        Some(hook),
    )
    .unwrap_err();
    assert!(error.to_string().contains("bad.cedar:1:"), "{error}");
    assert!(matches!(
        events.lock().unwrap().as_slice(),
        [ReloadEvent::Refused {
            kept_generation: None,
            ..
        }]
    ));
}

#[test]
fn polling_reloads_only_after_a_change_and_reports_a_broken_file_once() {
    let dir = policy_dir(&[("base.cedar", &base_policy())]);
    let (store, events) = recording_store(dir.path());
    assert!(store.poll().is_none());
    std::fs::write(dir.path().join("gen.cedar"), generation_file(1)).unwrap();
    assert!(matches!(
        store.poll(),
        Some(Ok(ReloadOutcome::Accepted { generation: 2 }))
    ));
    assert!(store.poll().is_none());
    std::fs::write(dir.path().join("gen.cedar"), "this is not cedar").unwrap();
    assert!(matches!(store.poll(), Some(Err(_))));
    assert!(store.poll().is_none());
    std::fs::remove_file(dir.path().join("gen.cedar")).unwrap();
    assert!(matches!(
        store.poll(),
        Some(Ok(ReloadOutcome::Accepted { generation: 3 }))
    ));
    let refusals = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, ReloadEvent::Refused { .. }))
        .count();
    assert_eq!(refusals, 1);
}

#[test]
fn the_watcher_picks_up_changes_and_stops_when_dropped() {
    let dir = policy_dir(&[("base.cedar", &base_policy())]);
    let (store, _events) = recording_store(dir.path());
    let watcher = store.watch(Duration::from_millis(20)).unwrap();
    std::fs::write(dir.path().join("gen.cedar"), generation_file(1)).unwrap();
    let mut waited = 0;
    while store.snapshot().generation() == 1 && waited < 500 {
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
    }
    assert_eq!(store.snapshot().generation(), 2);
    drop(watcher);
    std::fs::write(dir.path().join("gen.cedar"), generation_file(2)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(store.snapshot().generation(), 2);
}

/// Readers deciding while another thread reloads see, in every decision, one generation's
/// policies: generation N allows Read on `tN` and Describe on `tN` only. A mix would allow
/// Read on one topic and Describe on another within the same snapshot.
#[test]
fn concurrent_readers_see_the_old_or_the_new_generation_never_a_mix() {
    let dir = policy_dir(&[
        ("base.cedar", &base_policy()),
        ("gen.cedar", &generation_file(1)),
    ]);
    let (store, _events) = recording_store(dir.path());
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let store = Arc::clone(&store);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let alice = user("acme/alice", &[]);
                let mut last = 0;
                let mut seen = 0;
                while !done.load(Ordering::Relaxed) {
                    let snapshot = store.snapshot();
                    let generation = snapshot.generation();
                    assert!(generation >= last, "generations go forward");
                    last = generation;
                    // Generation g was written with marker g (see the writer below).
                    let mine = topic("acme", &format!("t{generation}"));
                    let other = topic("acme", &format!("t{}", generation + 1));
                    for action in [Action::Read, Action::Describe] {
                        let own = decide(&snapshot, &alice, action, &mine);
                        assert!(own.is_allowed(), "{action} t{generation}: {own:?}");
                        assert_eq!(own.generation, generation);
                        assert!(!decide(&snapshot, &alice, action, &other).is_allowed());
                    }
                    seen += 1;
                }
                seen
            })
        })
        .collect();
    for marker in 2..=20 {
        std::fs::write(dir.path().join("gen.cedar"), generation_file(marker)).unwrap();
        assert_eq!(
            store.reload().unwrap(),
            ReloadOutcome::Accepted {
                generation: marker as u64
            }
        );
    }
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.join().unwrap() > 0);
    }
    assert_eq!(store.snapshot().generation(), 20);
}
