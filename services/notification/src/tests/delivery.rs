//! Delivery against real receivers on loopback, on both back ends: a real
//! SMTP server (the test sink) and a webhook receiver that verifies
//! signatures. The clock is the test's, so quiet hours and backoff are
//! walked through without waiting.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::testing::smtp::SmtpSink;
use crate::testing::webhook::WebhookReceiver;
use chrono::{DateTime, Timelike, Utc};
use tasknet_proto::v1;
use tasknet_storage::testing::TestDatabase;
use tokio::sync::Notify;

use super::{day, facts, open};
use crate::clock::Clock;
use crate::deliver::{Deliverer, DeliverySettings};
use crate::email::{EmailSender, SmtpSettings, SmtpTls};
use crate::outbox::{Outbox, Webhook};
use crate::quiet::QuietHours;
use crate::rules::{self, Rules, Subscriber};
use crate::webhook::WebhookSender;

#[derive(Debug)]
struct TestClock(Mutex<DateTime<Utc>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

impl TestClock {
    fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

fn deliverer(outbox: &Outbox, sink: &SmtpSink, clock: Arc<TestClock>) -> Deliverer {
    let email = EmailSender::new(&SmtpSettings {
        host: "127.0.0.1".to_owned(),
        port: sink.port(),
        tls: SmtpTls::None,
        from: "tasknet <noreply@tasknet.test>".to_owned(),
        username: None,
        password: None,
        timeout: Duration::from_secs(10),
    })
    .unwrap();
    Deliverer::new(
        outbox.clone(),
        Some(email),
        WebhookSender::new(Duration::from_secs(5)).unwrap(),
        DeliverySettings {
            max_attempts: 3,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(2),
            ..DeliverySettings::default()
        },
        clock,
        Arc::new(Notify::new()),
    )
}

async fn add_webhook(outbox: &Outbox, url: &str, secret: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    outbox
        .create_webhook(
            &Webhook {
                id: id.clone(),
                url: url.to_owned(),
                unit_ids: vec![],
                label: "test".to_owned(),
                language: v1::Language::En,
                secret: secret.to_owned(),
                create_time_us: 0,
            },
            tasknet_auth::AuditEntry::default(),
        )
        .await
        .unwrap();
    id
}

async fn emails_and_webhooks_are_delivered_once(db: TestDatabase) {
    let outbox = open(&db).await;
    let sink = SmtpSink::start().await;
    let receiver = WebhookReceiver::start().await;
    let failing = WebhookReceiver::start().await;
    receiver.set_secret("s3cret");
    receiver.fail_first(2);
    failing.set_secret("other");
    failing.fail_first(usize::MAX);
    let good_hook = add_webhook(&outbox, &receiver.url(), "s3cret").await;
    let bad_hook = add_webhook(&outbox, &failing.url(), "other").await;

    let now = Utc::now();
    let clock = Arc::new(TestClock(Mutex::new(now)));
    // One contact in English, one quiet for the next two minutes (local time).
    let mut facts = facts();
    facts.contacts[1].language = v1::Language::En;
    let minute = i32::try_from(
        (now + chrono::Duration::hours(7))
            .time()
            .num_seconds_from_midnight()
            / 60,
    )
    .unwrap();
    facts.contacts[0].quiet_hours = QuietHours::new(minute, (minute + 2) % 1440);
    facts.subscribers = vec![
        Subscriber {
            id: good_hook.clone(),
            unit_ids: vec![],
            language: v1::Language::En,
        },
        Subscriber {
            id: bad_hook.clone(),
            unit_ids: vec![],
            language: v1::Language::Vi,
        },
    ];
    let decisions = rules::judge(&Rules::default(), day("2024-03-10"), now, &facts);
    let emails: Vec<_> = decisions
        .iter()
        .filter(|d| d.channel == v1::NotificationChannel::Email)
        .collect();
    let quiet: Vec<_> = emails.iter().filter(|d| d.recipient == "a@hn.vn").collect();
    assert_eq!(quiet.len(), 3, "a@hn.vn: reminder, overdue, digest");
    assert!(quiet.iter().all(|d| d.not_before > now));
    outbox
        .write_day(day("2024-03-10"), 1, &decisions, now)
        .await
        .unwrap();
    let deliverer = deliverer(&outbox, &sink, clock.clone());

    // First pass: every email outside quiet hours; each webhook fails once.
    deliverer.deliver_due().await.unwrap();
    let first = sink.messages();
    assert_eq!(first.len(), emails.len() - quiet.len());
    assert!(first.iter().all(|m| m.to != vec!["a@hn.vn".to_owned()]));
    for message in &first {
        let decision = emails
            .iter()
            .find(|d| message.message_id() == format!("<{}@tasknet.test>", d.id))
            .expect("a Message-ID derived from a decision");
        let language = if decision.language == v1::Language::En {
            "en"
        } else {
            "vi"
        };
        assert_eq!(
            message.header("Content-Language").as_deref(),
            Some(language)
        );
        if language == "en" {
            assert!(message.header("Subject").unwrap().is_ascii());
        }
    }
    // The backoff (1–2 s) has not passed: nothing is due.
    assert_eq!(deliverer.deliver_due().await.unwrap(), 0);
    // Past the quiet hours and the retries: everything else goes.
    for _ in 0..4 {
        clock.advance(chrono::Duration::seconds(61));
        deliverer.deliver_due().await.unwrap();
    }
    let all = sink.messages();
    assert_eq!(all.len(), emails.len());
    let mut ids: Vec<String> = all.iter().map(|m| m.message_id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), emails.len(), "each Message-ID once");

    // The good receiver: 500, 500, then 200 for each notification, signatures verified.
    let hooks: Vec<_> = decisions
        .iter()
        .filter(|d| d.recipient == good_hook)
        .collect();
    let seen = receiver.seen();
    assert_eq!(seen.len(), hooks.len() * 3, "{seen:?}");
    assert!(seen.iter().all(|r| r.status != 401), "signatures verify");
    assert_eq!(receiver.accepted().len(), hooks.len());
    // A replayed delivery is refused by the receiver.
    let replayed = seen.iter().find(|r| r.status == 200).unwrap();
    let answer = reqwest::Client::new()
        .post(receiver.url())
        .header("Idempotency-Key", &replayed.idempotency_key)
        .header("X-Tasknet-Timestamp", &replayed.timestamp)
        .header("X-Tasknet-Signature", &replayed.signature)
        .body(replayed.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 409);
    // A tampered body is refused.
    let answer = reqwest::Client::new()
        .post(receiver.url())
        .header("Idempotency-Key", "another")
        .header("X-Tasknet-Timestamp", &replayed.timestamp)
        .header("X-Tasknet-Signature", &replayed.signature)
        .body(replayed.body.replace("2024", "2025"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 401);

    // The failing receiver's notifications are dead letters after 3 attempts.
    let dead_count = decisions.iter().filter(|d| d.recipient == bad_hook).count();
    let status = outbox.status().await.unwrap();
    assert_eq!(status.dead_letters.len(), dead_count);
    assert!(
        status
            .dead_letters
            .iter()
            .all(|e| e.attempts == 3 && e.last_error.contains("500"))
    );
    let pending: i64 = status
        .counts
        .iter()
        .filter(|(_, state, _)| *state == v1::DeliveryState::Pending as i32)
        .map(|(_, _, n)| n)
        .sum();
    assert_eq!(pending, 0);
}

tasknet_storage::test_on_both_backends!(emails_and_webhooks_are_delivered_once);
