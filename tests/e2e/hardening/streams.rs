//! Long-lived streams hold their credential to account for their whole life:
//! a revoked or expired credential ends an open `Ingest` or `WatchChanges`
//! stream with UNAUTHENTICATED, and an item sent after that is not applied;
//! an oversize `Ingest` item ends the stream with RESOURCE_EXHAUSTED naming
//! the limit (it used to end OK, the items after it silently dropped).

use std::time::Duration;

use tasknet_auth::principal::Role;
use tasknet_proto::tonic::{Code, Status, Streaming};
use tasknet_proto::v1;
use tasknet_proto::v1::ingest_request::Mutation;
use tasknet_proto::v1::ingest_response::Outcome;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::auth::{Units, audited_eventually, creation, issue, issue_expiring, tasks_as, units};
use crate::support::TestSystem;

/// How long a test waits for what must happen before it fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// An open Ingest stream as `token`.
struct Push {
    items: mpsc::Sender<v1::IngestRequest>,
    answers: Streaming<v1::IngestResponse>,
}

async fn push_as(system: &TestSystem, token: &str) -> Push {
    let (items, receiver) = mpsc::channel(16);
    let answers = tasks_as(system, Some(token))
        .ingest(ReceiverStream::new(receiver))
        .await
        .unwrap()
        .into_inner();
    Push { items, answers }
}

fn create(request: &v1::CreateTaskRequest) -> v1::IngestRequest {
    v1::IngestRequest {
        mutation: Some(Mutation::Create(request.clone())),
    }
}

impl Push {
    /// Sends a creation of the office's own and waits for its acknowledgement.
    async fn acknowledged(&mut self, units: &Units) {
        let request = creation(&units.hanoi, &units.hanoi);
        self.items.send(create(&request)).await.unwrap();
        let answer = self.answers.message().await.unwrap().unwrap();
        assert_eq!(answer.update_id, request.update_id);
        assert!(
            matches!(answer.outcome, Some(Outcome::Ack(_))),
            "{answer:?}"
        );
    }

    /// Sends `request` (if any) and reads until the stream fails; no answer
    /// may acknowledge it.
    async fn refused(&mut self, request: Option<&v1::CreateTaskRequest>) -> Status {
        if let Some(request) = request {
            // The stream may already be closed: that is a refusal too.
            let _ = self.items.send(create(request)).await;
        }
        let ending = async {
            loop {
                match self.answers.message().await {
                    Ok(Some(answer)) => {
                        let sent = request.map(|r| r.update_id.as_str());
                        assert_ne!(Some(answer.update_id.as_str()), sent, "{answer:?}");
                    }
                    Ok(None) => panic!("the stream ended OK"),
                    Err(status) => return status,
                }
            }
        };
        tokio::time::timeout(PATIENCE, ending)
            .await
            .expect("the stream went on")
    }
}

async fn task_exists(system: &TestSystem, task_id: &str) -> bool {
    match system
        .tasks()
        .get_task(v1::GetTaskRequest {
            task_id: task_id.to_owned(),
        })
        .await
    {
        Ok(_) => true,
        Err(status) if status.code() == Code::NotFound => false,
        Err(status) => panic!("{status:?}"),
    }
}

async fn revoke(system: &TestSystem, token: &str) {
    let credential_id = tasknet_auth::token::parse(token).unwrap().credential_id;
    system
        .organisation()
        .revoke_credential(v1::RevokeCredentialRequest { credential_id })
        .await
        .unwrap();
}

/// Waits until a new call with `token` is refused by the task service.
async fn refused_on_new_calls(system: &TestSystem, token: &str) {
    let refused = async {
        loop {
            let listed = tasks_as(system, Some(token))
                .list_tasks(v1::ListTasksRequest::default())
                .await;
            if listed.is_err_and(|status| status.code() == Code::Unauthenticated) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(PATIENCE, refused)
        .await
        .expect("the revoked credential is still admitted on new calls");
}

async fn revocation_ends_an_open_ingest_stream(system: &TestSystem) {
    let units = units(system).await;
    let agent = issue(system, Role::OfficeAgent, Some(&units.hanoi)).await;
    let mut push = push_as(system, &agent).await;
    push.acknowledged(&units).await;
    revoke(system, &agent).await;
    refused_on_new_calls(system, &agent).await;
    let late = creation(&units.hanoi, &units.hanoi);
    let status = push.refused(Some(&late)).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("revoked"), "{status:?}");
    assert!(!task_exists(system, &late.task_id).await);
}

async fn expiry_ends_an_open_ingest_stream(system: &TestSystem) {
    let units = units(system).await;
    let expiry = chrono::Utc::now() + chrono::TimeDelta::seconds(3);
    let agent = issue_expiring(system, Role::OfficeAgent, Some(&units.hanoi), Some(expiry)).await;
    let mut push = push_as(system, &agent).await;
    push.acknowledged(&units).await;
    let left = (expiry - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(300)).await;
    let late = creation(&units.hanoi, &units.hanoi);
    let status = push.refused(Some(&late)).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("expired"), "{status:?}");
    assert!(!task_exists(system, &late.task_id).await);
}

/// A change-feed subscriber as `token`, having read its first answer.
async fn watching(system: &TestSystem, token: &str) -> Streaming<v1::WatchChangesResponse> {
    let units = units(system).await;
    // Something to read, so the stream has answered once.
    system
        .tasks()
        .create_task(creation(&units.hq, &units.hanoi))
        .await
        .unwrap();
    let mut changes = tasks_as(system, Some(token))
        .watch_changes(v1::WatchChangesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(changes.message().await.unwrap().is_some());
    changes
}

async fn ended(mut changes: Streaming<v1::WatchChangesResponse>) -> Status {
    let ending = async {
        loop {
            match changes.message().await {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the stream ended OK"),
                Err(status) => return status,
            }
        }
    };
    tokio::time::timeout(PATIENCE, ending)
        .await
        .expect("the change feed went on")
}

async fn revocation_and_expiry_end_a_change_feed(system: &TestSystem) {
    let follower = issue(system, Role::Service, None).await;
    let changes = watching(system, &follower).await;
    revoke(system, &follower).await;
    let status = ended(changes).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("revoked"), "{status:?}");

    let expiry = chrono::Utc::now() + chrono::TimeDelta::seconds(3);
    let follower = issue_expiring(system, Role::Service, None, Some(expiry)).await;
    let changes = watching(system, &follower).await;
    let status = ended(changes).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("expired"), "{status:?}");
}

async fn an_oversize_item_ends_ingest_naming_the_limit(system: &TestSystem) {
    let units = units(system).await;
    let agent = issue(system, Role::OfficeAgent, Some(&units.hanoi)).await;
    let mut push = push_as(system, &agent).await;
    push.acknowledged(&units).await;
    let mut huge = creation(&units.hanoi, &units.hanoi);
    huge.task.as_mut().unwrap().title = "x".repeat(2 * 1024 * 1024);
    let after = creation(&units.hanoi, &units.hanoi);
    push.items.send(create(&huge)).await.unwrap();
    let _ = push.items.send(create(&after)).await;
    let status = push.refused(None).await;
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("limit"), "{status:?}");
    assert!(!task_exists(system, &huge.task_id).await);
    assert!(!task_exists(system, &after.task_id).await);
    audited_eventually(system, v1::AuditOutcome::Invalid, |record| {
        record.rpc.ends_with("/Ingest") && record.message.contains("limit")
    })
    .await;
}

crate::system_tests!(
    revocation_ends_an_open_ingest_stream,
    expiry_ends_an_open_ingest_stream,
    revocation_and_expiry_end_a_change_feed,
    an_oversize_item_ends_ingest_naming_the_limit,
);
