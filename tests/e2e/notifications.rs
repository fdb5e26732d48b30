//! The notification service as a real `tasknet serve notification` process
//! beside the other three, on the small demo, with a real SMTP server (the
//! test sink on loopback) and a real webhook receiver:
//!
//! 1. a scripted calendar of 60 days judged through JudgeDay: every
//!    reminder, due-today, overdue, digest and escalation arrives exactly
//!    once — compared with an expectation computed here from the tasks'
//!    deadlines and completions — in the recipient's language, none to an
//!    opted-out contact, and none inside a contact's quiet hours (deferred,
//!    delivered after);
//! 2. the process SIGKILLed while a message is in flight, then restarted
//!    on the same outbox: nothing is sent twice (per Message-ID at the
//!    sink) and nothing is lost;
//! 3. a webhook receiver that verifies signatures answers 500 twice then
//!    200 and sees the retries, refuses a replay; a receiver that always
//!    fails gets dead letters, which `tasknet notify status` lists and
//!    `tasknet notify retry` re-queues.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, SystemTime};

use chrono::{NaiveDate, Timelike, Utc};
use tasknet_domain::{
    TaskTimeline, TimelineEvent, date_from_proto, date_to_proto, timestamp_from_proto, vietnam_date,
};
use tasknet_notification::rules::notification_id;
use tasknet_notification::testing::smtp::SmtpSink;
use tasknet_notification::testing::webhook::WebhookReceiver;
use tasknet_proto::v1;
use tasknet_proto::v1::notification_service_client::NotificationServiceClient;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::update_task_request::Change;
use tasknet_server::{ClientOptions, TracedChannel};
use tasknet_storage::Backend;
use tasknet_storage::testing::TestDatabase;
use tasknet_system::ServiceKind;
use tasknet_system::testing::process::{Launch, Process};
use tasknet_system::testing::processes::{self, ServeProcesses};

const BINARY: &str = env!("CARGO_BIN_EXE_tasknet");
const DOMAIN: &str = "tasknet.test";
const REMINDER_DAYS: [i64; 2] = [7, 1];
const ESCALATION_DAYS: i64 = 7;

/// A contact the test creates, and what it expects of it.
#[derive(Debug, Clone)]
struct TestContact {
    unit_id: String,
    email: String,
    head: bool,
    english: bool,
    opted_out: bool,
}

fn run_cli(args: &[&str]) -> String {
    Launch::new(BINARY)
        .args(args)
        .run()
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// The notification process on `database_url`, told where the others are.
async fn start_notification(
    dir: &Path,
    database_url: &str,
    services: &ServeProcesses,
    config: &Path,
) -> Process {
    let launch = processes::serve(
        Path::new(BINARY),
        ServiceKind::Notification,
        database_url,
        dir,
    )
    .args([
        "--organisation-endpoint",
        services.organisation.endpoint(),
        "--reporting-endpoint",
        services.reporting.endpoint(),
        "--config",
        config.to_str().unwrap(),
    ]);
    processes::start(&launch, ServiceKind::Notification)
        .await
        .unwrap()
}

fn channel(endpoint: &str, client: &ClientOptions) -> TracedChannel {
    tasknet_server::connect_lazy_with(endpoint, client).unwrap()
}

/// Each task of the data set: assignee, assigning unit, assigned date, timeline.
struct DemoTask {
    task_id: String,
    assignee: String,
    assigning: String,
    assigned: NaiveDate,
    timeline: TaskTimeline,
}

fn demo_tasks(dataset: &tasknet_demo::DemoDataset) -> Vec<DemoTask> {
    dataset
        .tasks
        .iter()
        .map(|task| {
            let new = task.create.task.as_ref().unwrap();
            let mut timeline =
                TaskTimeline::new(date_from_proto("deadline", new.deadline.as_ref()).unwrap());
            for update in &task.updates {
                let effective = vietnam_date(
                    timestamp_from_proto("effective_time", update.effective_time.as_ref()).unwrap(),
                );
                let event = match &update.change {
                    Some(Change::DeadlineChange(change)) => TimelineEvent::DeadlineChanged {
                        effective,
                        deadline: date_from_proto("deadline", change.new_deadline.as_ref())
                            .unwrap(),
                    },
                    Some(Change::Complete(_)) => TimelineEvent::Completed { effective },
                    Some(Change::Reopen(_)) => TimelineEvent::Reopened { effective },
                    _ => continue,
                };
                timeline.events.push(event);
            }
            DemoTask {
                task_id: task.create.task_id.clone(),
                assignee: new.assignee_unit_id.clone(),
                assigning: new.assigning_unit_id.clone(),
                assigned: date_from_proto("assigned_date", new.assigned_date.as_ref()).unwrap(),
                timeline,
            }
        })
        .collect()
}

/// The emails the default rules call for on `days`: notification id →
/// (recipient, rule). Counted here from the tasks' deadlines and
/// completions as of each day's end.
fn expected_emails(
    tasks: &[DemoTask],
    contacts: &[TestContact],
    days: &[NaiveDate],
) -> BTreeMap<String, (String, v1::NotificationRule)> {
    let email = v1::NotificationChannel::Email;
    let takers = |unit: &str, heads_first: bool| -> Vec<&TestContact> {
        let active: Vec<&TestContact> = contacts
            .iter()
            .filter(|c| c.unit_id == unit && !c.opted_out)
            .collect();
        let heads: Vec<&TestContact> = active.iter().copied().filter(|c| c.head).collect();
        if heads_first && !heads.is_empty() {
            heads
        } else {
            active
        }
    };
    let mut expected = BTreeMap::new();
    for &day in days {
        let mut digest_units = BTreeSet::new();
        for task in tasks.iter().filter(|t| t.assigned <= day) {
            let state = task.timeline.state_as_of(day);
            if state.completed_on.is_some() {
                continue;
            }
            let until = (state.deadline - day).num_days();
            let mut add = |rule: v1::NotificationRule, days: i64, unit: &str, heads: bool| {
                for contact in takers(unit, heads) {
                    let id = notification_id(
                        &task.task_id,
                        rule,
                        days as i32,
                        email,
                        &contact.email,
                        day,
                    );
                    expected.insert(id, (contact.email.clone(), rule));
                }
            };
            for reminder in REMINDER_DAYS {
                if until == reminder {
                    add(
                        v1::NotificationRule::Reminder,
                        reminder,
                        &task.assignee,
                        false,
                    );
                }
            }
            if until == 0 {
                add(v1::NotificationRule::DueToday, 0, &task.assignee, false);
            }
            if until == -1 {
                add(v1::NotificationRule::Overdue, 1, &task.assignee, false);
            }
            if until == -ESCALATION_DAYS {
                add(
                    v1::NotificationRule::Escalation,
                    ESCALATION_DAYS,
                    &task.assigning,
                    true,
                );
            }
            if until <= REMINDER_DAYS[0] {
                digest_units.insert(task.assignee.clone());
            }
        }
        for unit in digest_units {
            for contact in takers(&unit, false) {
                let id = notification_id(
                    &format!("digest:{unit}"),
                    v1::NotificationRule::Digest,
                    0,
                    email,
                    &contact.email,
                    day,
                );
                expected.insert(id, (contact.email.clone(), v1::NotificationRule::Digest));
            }
        }
    }
    expected
}

async fn create_contact(
    organisation: &mut OrganisationServiceClient<TracedChannel>,
    contact: &TestContact,
    quiet_hours: Option<v1::QuietHours>,
) {
    organisation
        .create_unit_contact(v1::CreateUnitContactRequest {
            contact_id: String::new(),
            contact: Some(v1::UnitContact {
                unit_id: contact.unit_id.clone(),
                name: contact.email.clone(),
                role: if contact.head {
                    v1::ContactRole::Head
                } else {
                    v1::ContactRole::FocalPoint
                } as i32,
                email: contact.email.clone(),
                language: if contact.english {
                    v1::Language::En
                } else {
                    v1::Language::Vi
                } as i32,
                quiet_hours,
                opted_out: contact.opted_out,
                ..Default::default()
            }),
        })
        .await
        .unwrap();
}

async fn judge(
    notification: &mut NotificationServiceClient<TracedChannel>,
    day: NaiveDate,
    min_cursor: i64,
) -> v1::JudgeDayResponse {
    notification
        .judge_day(v1::JudgeDayRequest {
            day: Some(date_to_proto(day)),
            min_cursor,
        })
        .await
        .unwrap_or_else(|e| panic!("JudgeDay {day}: {e}"))
        .into_inner()
}

/// Waits until nothing is pending in the outbox.
async fn drained(notification: &mut NotificationServiceClient<TracedChannel>) {
    for _ in 0..600 {
        let status = notification
            .get_notification_status(v1::GetNotificationStatusRequest {})
            .await
            .unwrap()
            .into_inner();
        if status.channels.iter().all(|c| c.pending == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the outbox did not drain");
}

async fn scripted_calendar(backend: Backend) {
    let name = "notifications::scripted_calendar";
    let dir = tempfile::tempdir().unwrap();
    let Some((services, _databases)) =
        crate::processes::serve_processes(backend, name, dir.path()).await
    else {
        return;
    };
    let Some(notification_db) = TestDatabase::of(backend, name).await else {
        return;
    };
    let sink = SmtpSink::start().await;
    let config = dir.path().join("notify.toml");
    std::fs::write(
        &config,
        format!(
            "[notify]\ncalendar = false\nmax_attempts = 3\nbackoff_initial_ms = 200\n\
             backoff_max_ms = 400\npoll_interval_ms = 100\nlease_secs = 2\n\
             dashboard_url = \"http://dashboard.tasknet.test\"\n\
             [notify.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             from = \"tasknet <noreply@{DOMAIN}>\"\n",
            sink.port()
        ),
    )
    .unwrap();
    let process = start_notification(dir.path(), notification_db.url(), &services, &config).await;
    let admin = services.admin.clone();
    let summary = tasknet_demo::load_split(
        services.organisation.endpoint(),
        services.task.endpoint(),
        &admin,
        &tasknet_demo::DemoSpec::small(),
        |_| {},
    )
    .await
    .unwrap();
    let tasks = demo_tasks(&summary.dataset);

    // Contacts: two provincial offices (one in English, one quiet, one
    // opted out) and the head of the unit assigning most of their tasks.
    let provinces: Vec<&v1::Unit> = summary
        .units
        .iter()
        .filter(|u| u.category == v1::UnitCategory::ProvincialOffice as i32)
        .filter(|u| ["01", "79"].contains(&u.code.as_str()))
        .filter(|u| tasks.iter().any(|t| t.assignee == u.id))
        .collect();
    assert_eq!(provinces.len(), 2);
    let (hanoi, hcm) = (provinces[0].id.clone(), provinces[1].id.clone());
    let mut assigning: BTreeMap<&str, usize> = BTreeMap::new();
    for task in tasks
        .iter()
        .filter(|t| t.assignee == hanoi || t.assignee == hcm)
    {
        *assigning.entry(task.assigning.as_str()).or_default() += 1;
    }
    let assigner = assigning
        .iter()
        .max_by_key(|(_, n)| **n)
        .unwrap()
        .0
        .to_string();
    let contact =
        |unit: &str, email: &str, head: bool, english: bool, opted_out: bool| TestContact {
            unit_id: unit.to_owned(),
            email: email.to_owned(),
            head,
            english,
            opted_out,
        };
    let quiet = contact(&hcm, "quiet@hcm.tasknet.test", false, false, false);
    let contacts = vec![
        contact(&hanoi, "vi@hanoi.tasknet.test", false, false, false),
        contact(&hanoi, "en@hanoi.tasknet.test", false, true, false),
        contact(&hanoi, "gone@hanoi.tasknet.test", false, false, true),
        contact(&hcm, "focal@hcm.tasknet.test", false, true, false),
        quiet.clone(),
        contact(&assigner, "head@assigner.tasknet.test", true, true, false),
        contact(
            &assigner,
            "staff@assigner.tasknet.test",
            false,
            false,
            false,
        ),
    ];
    let mut organisation =
        OrganisationServiceClient::new(channel(services.organisation.endpoint(), &admin));
    // The quiet contact's window: from this minute (Vietnam time, whole
    // hours from UTC) to the next, or the one after late in a minute.
    let now = Utc::now();
    let local = now + chrono::Duration::hours(7);
    let minute = i32::try_from(local.time().num_seconds_from_midnight() / 60).unwrap();
    let length = if local.second() < 40 { 1 } else { 2 };
    let start_of_minute = now
        - chrono::Duration::seconds(i64::from(local.second()))
        - chrono::Duration::nanoseconds(i64::from(local.nanosecond()));
    let quiet_end = SystemTime::from(start_of_minute + chrono::Duration::minutes(length.into()));
    for c in &contacts {
        let window = (c.email == quiet.email).then_some(v1::QuietHours {
            start_minute: minute,
            end_minute: (minute + length) % 1440,
        });
        create_contact(&mut organisation, c, window).await;
    }

    let first_day = NaiveDate::from_ymd_opt(2024, 5, 2).unwrap();
    let days: Vec<NaiveDate> = first_day.iter_days().take(60).collect();
    let expected = expected_emails(&tasks, &contacts, &days);
    let mut notification = NotificationServiceClient::new(channel(process.endpoint(), &admin));

    // Days 1–30; day 1 judged twice adds nothing the second time.
    let mut decided = 0;
    for (index, day) in days[..30].iter().enumerate() {
        let cursor = if index == 0 { summary.last_cursor } else { 0 };
        decided += judge(&mut notification, *day, cursor).await.decided;
    }
    let again = judge(&mut notification, days[0], 0).await;
    assert_eq!(again.decided, 0);
    assert!(again.already_decided > 0);

    // Day 31 with the sink holding its reply to DATA: the process is
    // killed with a message in flight, then started again on its outbox.
    drained(&mut notification).await;
    sink.hold_data_reply(true);
    decided += judge(&mut notification, days[30], 0).await.decided;
    sink.wait_in_flight(Duration::from_secs(30)).await;
    process.kill_hard();
    sink.hold_data_reply(false);
    let process = start_notification(dir.path(), notification_db.url(), &services, &config).await;
    let mut notification = NotificationServiceClient::new(channel(process.endpoint(), &admin));
    for day in &days[30..] {
        decided += judge(&mut notification, *day, 0).await.decided;
    }
    drained(&mut notification).await;
    assert_eq!(decided as usize, expected.len(), "emails decided");

    // Every expected email arrived exactly once, nothing else did.
    let messages = sink.messages();
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for message in &messages {
        *per_id.entry(message.message_id()).or_default() += 1;
    }
    let twice: Vec<_> = per_id.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    let arrived: BTreeSet<String> = per_id.into_keys().collect();
    let wanted: BTreeSet<String> = expected
        .keys()
        .map(|id| tasknet_notification::email::message_id(id, DOMAIN))
        .collect();
    assert_eq!(arrived.len(), wanted.len());
    assert_eq!(arrived, wanted);
    // Each rule occurred, in each recipient's language, none to the opted out.
    let rules: BTreeSet<i32> = expected.values().map(|(_, rule)| *rule as i32).collect();
    assert_eq!(rules.len(), 5, "every rule fires over 60 days: {rules:?}");
    for message in &messages {
        let recipient = &message.to[0];
        let contact = contacts.iter().find(|c| &c.email == recipient).unwrap();
        assert!(!contact.opted_out);
        let language = if contact.english { "en" } else { "vi" };
        assert_eq!(
            message.header("Content-Language").as_deref(),
            Some(language)
        );
        let subject = message.header("Subject").unwrap();
        if contact.english {
            assert!(
                [
                    "Reminder",
                    "Due today",
                    "Overdue",
                    "Daily digest",
                    "Escalation"
                ]
                .iter()
                .any(|start| subject.starts_with(start)),
                "{subject}"
            );
        } else {
            // Vietnamese subjects are encoded words (non-ASCII).
            assert!(subject.starts_with("=?utf-8?"), "{subject}");
        }
        if recipient == &quiet.email {
            assert!(
                message.received_at >= quiet_end,
                "delivered inside quiet hours"
            );
        }
    }
    assert!(messages.iter().any(|m| m.to[0] == quiet.email));

    webhooks(
        &services,
        &process,
        &mut notification,
        days[59] + chrono::Duration::days(1),
        &hanoi,
    )
    .await;
    process.terminate().unwrap();
    services.stop().unwrap();
}

/// Part 3: a receiver that fails twice then accepts, and one that always fails.
async fn webhooks(
    services: &ServeProcesses,
    process: &Process,
    notification: &mut NotificationServiceClient<TracedChannel>,
    day: NaiveDate,
    unit: &str,
) {
    let token = services.credentials_dir.join("admin.token");
    let cli = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend([
            "--endpoint",
            process.endpoint(),
            "--token-file",
            token.to_str().unwrap(),
        ]);
        run_cli(&args)
    };
    let receiver = WebhookReceiver::start().await;
    let failing = WebhookReceiver::start().await;
    receiver.fail_first(2);
    failing.fail_first(usize::MAX);
    let secret = cli(&[
        "notify",
        "webhooks",
        "add",
        "--url",
        &receiver.url(),
        "--unit",
        unit,
        "--language",
        "en",
    ]);
    receiver.set_secret(secret.trim());
    let secret = cli(&[
        "notify",
        "webhooks",
        "add",
        "--url",
        &failing.url(),
        "--unit",
        unit,
    ]);
    failing.set_secret(secret.trim());
    let listed = cli(&["notify", "webhooks", "list", "--format", "json"]);
    assert!(
        listed.contains(&receiver.url()) && !listed.contains("whsec_"),
        "{listed}"
    );

    let judged = cli(&["notify", "judge-day", &day.to_string()]);
    assert!(judged.starts_with(&format!("judged {day}: ")), "{judged}");
    drained(notification).await;
    let hooks = notification
        .list_notifications(v1::ListNotificationsRequest {
            day: Some(date_to_proto(day)),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .notifications
        .into_iter()
        .filter(|n| n.channel == v1::NotificationChannel::Webhook as i32)
        .collect::<Vec<_>>();
    assert!(
        !hooks.is_empty(),
        "the unit has something due or overdue on {day}"
    );
    let per_receiver = hooks.len() / 2;
    // 500, 500, 200 for each; signatures verified (no 401).
    let seen = receiver.seen();
    assert_eq!(seen.len(), per_receiver * 3, "{seen:?}");
    assert!(seen.iter().all(|r| r.status != 401));
    assert_eq!(receiver.accepted().len(), per_receiver);
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
    assert_eq!(answer.status().as_u16(), 409, "a replay is refused");
    // The failing receiver's deliveries are dead letters after 3 attempts.
    assert_eq!(failing.seen().len(), per_receiver * 3);
    let status = cli(&["notify", "status", "--format", "json"]);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let dead = status["dead_letters"].as_array().unwrap();
    assert_eq!(dead.len(), per_receiver, "{status}");
    assert!(
        dead.iter()
            .all(|d| d["attempts"] == 3 && d["state"] == "dead")
    );
    let table = cli(&["notify", "status"]);
    assert!(table.contains("dead letters"), "{table}");
    let id = dead[0]["id"].as_str().unwrap();
    let retried = cli(&["notify", "retry", id]);
    assert!(retried.contains("is pending again"), "{retried}");
    // Retried: three more attempts, and a dead letter again.
    drained(notification).await;
    assert_eq!(failing.seen().len(), per_receiver * 3 + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_over_a_scripted_calendar_on_sqlite() {
    scripted_calendar(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_over_a_scripted_calendar_on_postgres() {
    scripted_calendar(Backend::Postgres).await;
}
