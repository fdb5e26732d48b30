//! Tests of the outbox on both back ends: a decision is stored once however
//! often it is made, leases keep two senders off the same row, an expired
//! lease lets another sender take over, and failures end as dead letters.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use tasknet_auth::AuditEntry;
use tasknet_proto::v1;
use tasknet_storage::DatabaseOptions;
use tasknet_storage::testing::TestDatabase;

mod delivery;

use crate::outbox::{AfterFailure, ListFilter, Outbox};
use crate::rules::{self, Contact, Facts, OpenTask, Rules, UnitInfo};

const BOTH: &[v1::NotificationChannel] = &[
    v1::NotificationChannel::Email,
    v1::NotificationChannel::Webhook,
];

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// Two units, three contacts and tasks due around 2024-03-10.
fn facts() -> Facts {
    let mut facts = Facts::default();
    for (id, vi, en) in [("u-hn", "Hà Nội", "Ha Noi"), ("u-hq", "Tổng cục", "HQ")] {
        facts.units.insert(
            id.to_owned(),
            UnitInfo {
                name_vi: vi.to_owned(),
                name_en: en.to_owned(),
                category: v1::UnitCategory::ProvincialOffice as i32,
            },
        );
    }
    let contact = |unit: &str, email: &str, head: bool| Contact {
        unit_id: unit.to_owned(),
        name: email.to_owned(),
        head,
        email: email.to_owned(),
        language: v1::Language::Vi,
        quiet_hours: None,
        opted_out: false,
    };
    facts.contacts = vec![
        contact("u-hn", "a@hn.vn", false),
        contact("u-hn", "b@hn.vn", false),
        contact("u-hq", "head@hq.vn", true),
    ];
    for (id, deadline) in [
        ("t1", "2024-03-17"),
        ("t2", "2024-03-09"),
        ("t3", "2024-03-03"),
    ] {
        facts.tasks.push(OpenTask {
            task_id: id.to_owned(),
            title: format!("task {id}"),
            assignee_unit_id: "u-hn".to_owned(),
            assigning_unit_id: "u-hq".to_owned(),
            deadline: day(deadline),
        });
    }
    facts
}

async fn open(db: &TestDatabase) -> Outbox {
    Outbox::open(db.url(), &DatabaseOptions::default())
        .await
        .unwrap()
}

async fn a_day_judged_twice_is_stored_once(db: TestDatabase) {
    let outbox = open(&db).await;
    let now = at("2024-03-10T00:00:00Z");
    let decisions = rules::judge(&Rules::default(), day("2024-03-10"), now, &facts());
    // t1: 7-day reminder; t2: overdue (1 day); t3: escalation (7 days) to
    // the head; a digest of the three. Two contacts each at u-hn.
    let rules_seen: Vec<_> = decisions
        .iter()
        .map(|d| (d.rule, d.recipient.as_str()))
        .collect();
    assert_eq!(decisions.len(), 7, "{rules_seen:?}");
    let first = outbox
        .write_day(day("2024-03-10"), 5, &decisions, now)
        .await
        .unwrap();
    assert_eq!((first.decided, first.already_decided), (7, 0));
    let again = rules::judge(
        &Rules::default(),
        day("2024-03-10"),
        now + Duration::hours(3),
        &facts(),
    );
    let second = outbox
        .write_day(day("2024-03-10"), 6, &again, now)
        .await
        .unwrap();
    assert_eq!((second.decided, second.already_decided), (0, 7));
    let status = outbox.status().await.unwrap();
    assert_eq!(status.last_judged, Some((day("2024-03-10"), 6)));
    let pending: i64 = status.counts.iter().map(|(_, _, n)| n).sum();
    assert_eq!(pending, 7);
}

async fn leases_keep_senders_apart_until_they_expire(db: TestDatabase) {
    let outbox = open(&db).await;
    let now = at("2024-03-10T00:00:00Z");
    let decisions = rules::judge(&Rules::default(), day("2024-03-10"), now, &facts());
    outbox
        .write_day(day("2024-03-10"), 1, &decisions, now)
        .await
        .unwrap();
    let lease = now + Duration::seconds(30);
    let (a, b) = tokio::join!(
        outbox.claim("sender-a", now, lease, 100, BOTH),
        outbox.claim("sender-b", now, lease, 100, BOTH)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.len() + b.len(),
        7,
        "every row claimed by exactly one sender"
    );
    assert!(a.iter().all(|row| b.iter().all(|other| other.id != row.id)));
    // Nothing is left to claim while the leases hold.
    assert!(
        outbox
            .claim("sender-c", now, lease, 100, BOTH)
            .await
            .unwrap()
            .is_empty()
    );
    // sender-a dies; once its lease expires its rows go to sender-c.
    let (winner, loser) = if a.is_empty() {
        (&b, "sender-b")
    } else {
        (&a, "sender-a")
    };
    let later = lease + Duration::seconds(1);
    let taken = outbox
        .claim("sender-c", later, later + Duration::seconds(30), 100, BOTH)
        .await
        .unwrap();
    assert_eq!(taken.len(), 7);
    // The dead sender's late acknowledgement changes nothing…
    assert!(!outbox.mark_sent(&winner[0].id, loser, later).await.unwrap());
    // …the new holder's does, once.
    assert!(
        outbox
            .mark_sent(&winner[0].id, "sender-c", later)
            .await
            .unwrap()
    );
    assert!(
        !outbox
            .mark_sent(&winner[0].id, "sender-c", later)
            .await
            .unwrap()
    );
    let sent = outbox.get(&winner[0].id).await.unwrap().unwrap();
    assert_eq!(sent.state, v1::DeliveryState::Sent);
    assert_eq!(sent.attempts, 1);
}

async fn failures_retry_then_die_and_can_be_retried(db: TestDatabase) {
    let outbox = open(&db).await;
    let now = at("2024-03-10T00:00:00Z");
    let decisions = rules::judge(&Rules::default(), day("2024-03-10"), now, &facts());
    outbox
        .write_day(day("2024-03-10"), 1, &decisions, now)
        .await
        .unwrap();
    let id = decisions[0].id.clone();
    let mut time = now;
    for attempt in 1..=3 {
        let claimed = outbox
            .claim("s", time, time + Duration::seconds(30), 100, BOTH)
            .await
            .unwrap();
        let entry = claimed.iter().find(|e| e.id == id).unwrap();
        assert_eq!(entry.attempts, attempt - 1);
        let retry_at = time + Duration::seconds(10);
        let after = outbox
            .mark_failed(entry, "s", "HTTP 500", 3, retry_at)
            .await
            .unwrap();
        let expected = if attempt < 3 {
            AfterFailure::Retry
        } else {
            AfterFailure::Dead
        };
        assert_eq!(after, expected);
        // Not due again before the backoff has passed.
        let early = outbox
            .claim(
                "s2",
                time + Duration::seconds(1),
                time + Duration::seconds(31),
                100,
                BOTH,
            )
            .await
            .unwrap();
        assert!(early.iter().all(|e| e.id != id));
        // Release everything else claimed.
        for other in claimed.iter().filter(|e| e.id != id) {
            outbox.defer(&other.id, "s", time, "").await.unwrap();
        }
        for other in early {
            outbox.defer(&other.id, "s2", time, "").await.unwrap();
        }
        time = retry_at;
    }
    let status = outbox.status().await.unwrap();
    assert_eq!(status.dead_letters.len(), 1);
    assert_eq!(status.dead_letters[0].last_error, "HTTP 500");
    let dead = ListFilter {
        state: Some(v1::DeliveryState::Dead),
        page_size: 10,
        ..ListFilter::default()
    };
    assert_eq!(outbox.list(&dead).await.unwrap().len(), 1);
    let retried = outbox
        .retry(&id, time, AuditEntry::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retried.state, v1::DeliveryState::Pending);
    assert_eq!(retried.attempts, 0);
    // Only a dead letter can be retried.
    assert!(
        outbox
            .retry(&id, time, AuditEntry::default())
            .await
            .unwrap()
            .is_none()
    );
}

async fn lists_page_newest_first(db: TestDatabase) {
    let outbox = open(&db).await;
    for (offset, date) in ["2024-03-08", "2024-03-09", "2024-03-10"]
        .iter()
        .enumerate()
    {
        let now = at("2024-03-10T00:00:00Z") + Duration::minutes(offset as i64);
        let decisions = rules::judge(&Rules::default(), day(date), now, &facts());
        outbox
            .write_day(day(date), 1, &decisions, now)
            .await
            .unwrap();
    }
    let mut filter = ListFilter {
        page_size: 2,
        ..ListFilter::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = outbox.list(&filter).await.unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        filter.after = Some((last.create_time_us, last.id.clone()));
        seen.extend(page);
    }
    let total: i64 = outbox
        .status()
        .await
        .unwrap()
        .counts
        .iter()
        .map(|(_, _, n)| n)
        .sum();
    assert_eq!(seen.len() as i64, total);
    assert!(
        seen.windows(2)
            .all(|w| w[0].create_time_us >= w[1].create_time_us)
    );
    let one_day = ListFilter {
        day: Some(day("2024-03-10")),
        unit_id: Some("u-hn".to_owned()),
        page_size: 100,
        ..ListFilter::default()
    };
    let listed = outbox.list(&one_day).await.unwrap();
    assert!(!listed.is_empty());
    assert!(
        listed
            .iter()
            .all(|e| e.day == day("2024-03-10") && e.unit_id == "u-hn")
    );
}

tasknet_storage::test_on_both_backends!(
    a_day_judged_twice_is_stored_once,
    leases_keep_senders_apart_until_they_expire,
    failures_retry_then_die_and_can_be_retried,
    lists_page_newest_first,
);
