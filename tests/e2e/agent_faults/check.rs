//! The exact check after a fault test: every update the offices entered is
//! in the centre's change log exactly once, each task's updates in the order
//! the office made them, nothing else is there, every outbox entry is
//! acknowledged, and every task ends in the state the office's updates give.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use tasknet_agent::{EntryState, OutboxEntry};
use tasknet_domain::date_to_proto;
use tasknet_proto::v1;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_server::TracedChannel;

use super::workload::OfficeWork;

/// What the check found, for the test's report.
#[derive(Debug, Default)]
pub struct Checked {
    pub updates: usize,
    pub tasks: usize,
    /// Acknowledgements the centre marked as repeats (resent after a fault).
    pub duplicates: usize,
}

/// `entries[i]` is the outbox of the office of `work[i]`.
/// `centre` reaches the task service with a credential that may read everything.
pub async fn exact_check(
    centre: TracedChannel,
    work: &[&OfficeWork],
    entries: &[Vec<OutboxEntry>],
) -> Checked {
    let mut entered: HashMap<String, Vec<String>> = HashMap::new();
    let mut checked = Checked::default();
    for (office, entries) in work.iter().zip(entries) {
        assert_eq!(
            entries.len(),
            office.update_count(),
            "outbox of {} is incomplete",
            office.office
        );
        for entry in entries {
            assert_eq!(entry.state, EntryState::Sent, "{entry:?}");
            let ack = entry.ack.as_ref().unwrap();
            checked.duplicates += usize::from(ack.duplicate);
            let task = entered.entry(entry.task_id.to_string()).or_default();
            task.push(entry.update_id.to_string());
            // The centre's version after the update counts the task's updates so far.
            assert_eq!(ack.version, task.len() as i64, "{entry:?}");
        }
    }
    checked.updates = entered.values().map(Vec::len).sum();
    checked.tasks = entered.len();
    let applied = change_log(centre.clone(), checked.updates).await;
    let applied_count: usize = applied.values().map(Vec::len).sum();
    assert_eq!(
        applied_count, checked.updates,
        "the change log holds a different number of updates"
    );
    for (task, updates) in &entered {
        assert_eq!(
            applied.get(task),
            Some(updates),
            "task {task}: applied updates differ from those entered"
        );
    }
    final_states(centre, work).await;
    checked
}

/// The change log's task events by task, in cursor order; read until
/// `expected` have come, then a little longer to catch any extra.
async fn change_log(centre: TracedChannel, expected: usize) -> HashMap<String, Vec<String>> {
    let mut client = TaskServiceClient::new(centre);
    let mut stream = client
        .watch_changes(v1::WatchChangesRequest {
            after_cursor: 0,
            max_batch: 5000,
        })
        .await
        .unwrap()
        .into_inner();
    let mut applied: HashMap<String, Vec<String>> = HashMap::new();
    let mut count = 0;
    loop {
        let wait = if count >= expected {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(60)
        };
        let Ok(Some(batch)) = tokio::time::timeout(wait, stream.next()).await else {
            break;
        };
        for change in batch.unwrap().changes {
            if let Some(v1::change::Event::TaskEvent(event)) = change.event {
                let task = event.task.unwrap().id;
                applied.entry(task).or_default().push(event.update_id);
                count += 1;
            }
        }
    }
    applied
}

/// Each office's tasks, read back from the centre, against the expected states.
async fn final_states(centre: TracedChannel, work: &[&OfficeWork]) {
    let mut client = TaskServiceClient::new(centre);
    for office in work {
        let mut stored = HashMap::new();
        let mut page_token = String::new();
        loop {
            let page = client
                .list_tasks(v1::ListTasksRequest {
                    assignee_unit_id: office.office.clone(),
                    page_size: 1000,
                    page_token,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            stored.extend(page.tasks.into_iter().map(|task| (task.id.clone(), task)));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        assert_eq!(
            stored.len(),
            office.tasks.len(),
            "tasks of {}",
            office.office
        );
        for task in &office.tasks {
            let got = &stored[&task.task_id.to_string()];
            let want = &task.expected;
            let status = if want.completed_on.is_some() {
                v1::TaskStatus::Completed
            } else {
                v1::TaskStatus::Open
            };
            assert_eq!(got.version, want.version, "{got:?}");
            assert_eq!(got.status, status as i32, "{got:?}");
            assert_eq!(
                got.completed_on,
                want.completed_on.map(date_to_proto),
                "{got:?}"
            );
            assert_eq!(got.deadline, Some(date_to_proto(want.deadline)), "{got:?}");
            assert_eq!(got.last_note, want.last_note, "{got:?}");
        }
    }
}
