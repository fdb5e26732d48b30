//! The writer against real databases, on both back ends.

use chrono::Utc;
use sqlx::Row;
use tasknet_proto::tonic::Code;
use tasknet_proto::v1;
use tasknet_storage::testing::{TestDatabase, column_collation, migrations_up_to};
use tasknet_storage::{Database, DatabaseOptions};

use super::*;
use crate::parse;
use crate::store::{MIGRATIONS, query};
use crate::test_support::*;

async fn open(db: &TestDatabase) -> Writer {
    let database = Database::open(db.url(), &DatabaseOptions::default(), &MIGRATIONS)
        .await
        .unwrap();
    Writer::new(database, DEFAULT_MAX_BATCH).0
}

fn create(request: &v1::CreateTaskRequest) -> Mutation {
    Mutation::CreateTask(parse::create_task(request, Utc::now()).unwrap())
}

fn update(request: &v1::UpdateTaskRequest) -> Mutation {
    Mutation::UpdateTask(parse::update_task(request, Utc::now()).unwrap())
}

fn ack(outcome: &Result<Outcome>) -> &TaskAck {
    match outcome {
        Ok(Outcome::Task(ack)) => ack,
        other => panic!("expected a task acknowledgement, got {other:?}"),
    }
}

fn code(outcome: &Result<Outcome>) -> (Code, String) {
    match outcome {
        Err(error) => {
            let field = error.field().unwrap_or_default().to_owned();
            let code = match error {
                Error::Invalid(_) => Code::InvalidArgument,
                Error::NotFound(_) => Code::NotFound,
                Error::AlreadyExists(_) => Code::AlreadyExists,
                Error::FailedPrecondition(_) => Code::FailedPrecondition,
                Error::Unavailable(_) => Code::Unavailable,
                Error::PermissionDenied(_) => Code::PermissionDenied,
                Error::ResourceExhausted(_) => Code::ResourceExhausted,
                Error::Database(_) | Error::Internal(_) => Code::Internal,
            };
            (code, field)
        }
        Ok(outcome) => panic!("expected an error, got {outcome:?}"),
    }
}

async fn count(writer: &Writer, table: &str) -> i64 {
    let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
        .fetch_one(writer.database.pool())
        .await
        .unwrap();
    row.try_get("n").unwrap()
}

async fn changes(writer: &Writer) -> Vec<v1::Change> {
    query::read_changes(writer.database.pool(), 0, 1000)
        .await
        .unwrap()
}

fn task_event(change: &v1::Change) -> &v1::TaskEvent {
    match &change.event {
        Some(v1::change::Event::TaskEvent(event)) => event,
        other => panic!("expected a task event, got {other:?}"),
    }
}

async fn repeated_updates_are_acknowledged_not_reapplied(db: TestDatabase) {
    let writer = open(&db).await;
    let task_id = new_id();
    let creation = create_request(&task_id);
    let first = writer
        .apply_unrestricted(&[create(&creation)])
        .await
        .unwrap();
    let first = ack(&first[0]).clone();
    assert!(!first.duplicate);
    assert_eq!(first.version, 1);
    assert_eq!(first.task.as_ref().unwrap().id, task_id);

    // Again later, and twice more within one batch.
    let again = writer
        .apply_unrestricted(&[create(&creation), create(&creation)])
        .await
        .unwrap();
    for outcome in &again {
        let repeat = ack(outcome);
        assert!(repeat.duplicate);
        assert_eq!(
            (repeat.version, repeat.cursor),
            (first.version, first.cursor)
        );
    }
    let note = update_request(&task_id, "2024-06-02T01:00:00Z", note("started"));
    let outcomes = writer
        .apply_unrestricted(&[update(&note), update(&note)])
        .await
        .unwrap();
    let (applied, repeated) = (ack(&outcomes[0]), ack(&outcomes[1]));
    assert_eq!((applied.version, applied.duplicate), (2, false));
    assert_eq!((repeated.version, repeated.duplicate), (2, true));
    assert_eq!(repeated.cursor, applied.cursor);

    assert_eq!(count(&writer, "change_log").await, 2);
    assert_eq!(count(&writer, "applied_updates").await, 2);
    let task = query::get_task(writer.database.pool(), &task_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.version, 2);
}

async fn a_reused_update_id_with_other_content_is_refused(db: TestDatabase) {
    let writer = open(&db).await;
    let task_id = new_id();
    let creation = create_request(&task_id);
    writer
        .apply_unrestricted(&[create(&creation)])
        .await
        .unwrap();

    let mut other = update_request(&task_id, "2024-06-02T01:00:00Z", note("x"));
    other.update_id = creation.update_id.clone();
    let mut retitled = creation.clone();
    retitled.task.as_mut().unwrap().title = "Another title".into();
    let outcomes = writer
        .apply_unrestricted(&[update(&other), create(&retitled)])
        .await
        .unwrap();
    for outcome in &outcomes {
        assert_eq!(code(outcome), (Code::AlreadyExists, "update_id".to_owned()));
    }
    assert_eq!(count(&writer, "change_log").await, 1);
    let task = query::get_task(writer.database.pool(), &task_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (task.version, task.title.as_str()),
        (1, "Điều tra dân số giữa kỳ")
    );
}

async fn stale_versions_are_refused(db: TestDatabase) {
    let writer = open(&db).await;
    let task_id = new_id();
    writer
        .apply_unrestricted(&[create(&create_request(&task_id))])
        .await
        .unwrap();
    let mut stale = update_request(&task_id, "2024-06-02T01:00:00Z", complete());
    stale.expected_version = Some(2);
    let outcomes = writer.apply_unrestricted(&[update(&stale)]).await.unwrap();
    assert_eq!(
        code(&outcomes[0]),
        (Code::FailedPrecondition, "expected_version".to_owned())
    );
    assert_eq!(count(&writer, "change_log").await, 1);

    // The refused update id was not recorded: corrected, it applies.
    stale.expected_version = Some(1);
    let outcomes = writer.apply_unrestricted(&[update(&stale)]).await.unwrap();
    assert_eq!(ack(&outcomes[0]).version, 2);
}

async fn one_task_changed_several_times_in_one_batch(db: TestDatabase) {
    let writer = open(&db).await;
    let task_id = new_id();
    let mut expected = update_request(&task_id, "2024-06-03T01:00:00Z", complete());
    expected.expected_version = Some(2);
    let batch = [
        create(&create_request(&task_id)),
        update(&update_request(
            &task_id,
            "2024-06-02T01:00:00Z",
            note("started"),
        )),
        update(&expected),
        update(&update_request(
            &task_id,
            "2024-06-04T01:00:00Z",
            deadline(ymd(2024, 7, 15)),
        )),
    ];
    let outcomes = writer.apply_unrestricted(&batch).await.unwrap();
    let acks: Vec<&TaskAck> = outcomes.iter().map(ack).collect();
    assert_eq!(
        acks.iter().map(|a| a.version).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert!(acks.windows(2).all(|pair| pair[0].cursor < pair[1].cursor));

    let task = query::get_task(writer.database.pool(), &task_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.version, 4);
    assert_eq!(task.completed_on, Some(ymd(2024, 6, 3)));
    assert_eq!(task.deadline, ymd(2024, 7, 15));
    assert_eq!(task.last_note, "started");
    let log = changes(&writer).await;
    let versions: Vec<i64> = log
        .iter()
        .map(|c| task_event(c).task.as_ref().unwrap().version)
        .collect();
    assert_eq!(versions, vec![1, 2, 3, 4]);
}

async fn the_change_log_records_each_change_in_order(db: TestDatabase) {
    let writer = open(&db).await;
    let (a, b) = (new_id(), new_id());
    let create_a = create_request(&a);
    let done = update_request(&a, "2024-06-27T23:30:00Z", complete());
    writer
        .apply_unrestricted(&[create(&create_a), create(&create_request(&b))])
        .await
        .unwrap();
    let outcomes = writer
        .apply_unrestricted(&[
            update(&done),
            update(&update_request(
                &b,
                "2024-06-20T01:00:00Z",
                deadline(ymd(2024, 8, 1)),
            )),
        ])
        .await
        .unwrap();

    let log = changes(&writer).await;
    assert_eq!(log.len(), 4);
    assert!(log.windows(2).all(|pair| pair[0].cursor < pair[1].cursor));
    assert_eq!(log[2].cursor, ack(&outcomes[0]).cursor);
    let kinds: Vec<i32> = log.iter().map(|c| task_event(c).kind).collect();
    use v1::TaskEventKind::*;
    assert_eq!(
        kinds,
        vec![
            Created as i32,
            Created as i32,
            Completed as i32,
            DeadlineChanged as i32
        ]
    );
    let completion = task_event(&log[2]);
    assert_eq!(completion.update_id, done.update_id);
    assert_eq!(completion.effective_time, done.effective_time);
    assert_eq!(
        completion.effective_date,
        Some(tasknet_domain::date_to_proto(ymd(2024, 6, 28)))
    );
    let snapshot = completion.task.as_ref().unwrap();
    assert_eq!((snapshot.id.as_str(), snapshot.version), (a.as_str(), 2));
    assert_eq!(snapshot.status, v1::TaskStatus::Completed as i32);
    assert_eq!(
        task_event(&log[3]).new_deadline,
        Some(tasknet_domain::date_to_proto(ymd(2024, 8, 1)))
    );
    assert!(log.iter().all(|c| c.record_time.is_some()));

    // Resuming from a cursor yields exactly the rest.
    let rest = query::read_changes(writer.database.pool(), log[1].cursor, 1000)
        .await
        .unwrap();
    assert_eq!(rest, log[2..].to_vec());
    assert_eq!(
        query::head_cursor(writer.database.pool()).await.unwrap(),
        log[3].cursor
    );
}

async fn a_failed_item_does_not_affect_the_others(db: TestDatabase) {
    let writer = open(&db).await;
    let (a, b) = (new_id(), new_id());
    let mut clash = create_request(&a);
    clash.update_id = new_id();
    let batch = [
        create(&create_request(&a)),
        update(&update_request(
            &new_id(),
            "2024-06-02T01:00:00Z",
            note("nobody"),
        )),
        create(&clash),
        update(&update_request(&a, "2024-06-02T01:00:00Z", reopen())),
        create(&create_request(&b)),
        update(&update_request(&a, "2024-06-02T01:00:00Z", note("fine"))),
    ];
    let outcomes = writer.apply_unrestricted(&batch).await.unwrap();
    assert_eq!(ack(&outcomes[0]).version, 1);
    assert_eq!(code(&outcomes[1]), (Code::NotFound, "task_id".to_owned()));
    assert_eq!(
        code(&outcomes[2]),
        (Code::AlreadyExists, "task_id".to_owned())
    );
    assert_eq!(
        code(&outcomes[3]),
        (Code::FailedPrecondition, "reopen".to_owned())
    );
    assert_eq!(ack(&outcomes[4]).version, 1);
    assert_eq!(ack(&outcomes[5]).version, 2);
    assert_eq!(count(&writer, "change_log").await, 3);
    assert_eq!(count(&writer, "applied_updates").await, 3);
    assert_eq!(count(&writer, "tasks").await, 2);
}

async fn plans_are_created_once(db: TestDatabase) {
    let writer = open(&db).await;
    let plan_id = new_id();
    let request = v1::CreatePlanRequest {
        plan_id: plan_id.clone(),
        plan: Some(v1::Plan {
            name: "Chương trình xây dựng văn bản QPPL năm 2024".into(),
            kind: v1::PlanKind::LegalDocuments as i32,
            owner_unit_id: ASSIGNING_UNIT.into(),
            period: Some(v1::DateRange {
                start: Some(tasknet_domain::date_to_proto(ymd(2024, 1, 1))),
                end: Some(tasknet_domain::date_to_proto(ymd(2024, 12, 31))),
            }),
            ..Default::default()
        }),
    };
    let mutation = Mutation::CreatePlan(parse::create_plan(&request).unwrap());
    let outcomes = writer
        .apply_unrestricted(&[mutation.clone(), mutation.clone()])
        .await
        .unwrap();
    let (
        Ok(Outcome::Plan {
            plan: first,
            duplicate: false,
        }),
        Ok(Outcome::Plan {
            plan: second,
            duplicate: true,
        }),
    ) = (&outcomes[0], &outcomes[1])
    else {
        panic!("unexpected outcomes {outcomes:?}");
    };
    assert_eq!(first, second);
    let mut renamed = request.clone();
    renamed.plan.as_mut().unwrap().name = "Other".into();
    let outcomes = writer
        .apply_unrestricted(&[Mutation::CreatePlan(parse::create_plan(&renamed).unwrap())])
        .await
        .unwrap();
    assert_eq!(
        code(&outcomes[0]),
        (Code::AlreadyExists, "plan_id".to_owned())
    );

    // A task in the plan; the log holds the plan, then the task.
    let mut creation = create_request(&new_id());
    creation.task.as_mut().unwrap().plan_ids = vec![plan_id.clone()];
    writer
        .apply_unrestricted(&[create(&creation)])
        .await
        .unwrap();
    let log = changes(&writer).await;
    assert_eq!(log.len(), 2);
    assert!(
        matches!(&log[0].event, Some(v1::change::Event::PlanCreated(plan)) if plan.id == plan_id)
    );
    assert_eq!(
        task_event(&log[1]).task.as_ref().unwrap().plan_ids,
        vec![plan_id.clone()]
    );
    let stored = query::get_plan(writer.database.pool(), &plan_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&stored, first);
}

async fn queued_requests_share_batches_and_all_commit(db: TestDatabase) {
    let database = Database::open(db.url(), &DatabaseOptions::default(), &MIGRATIONS)
        .await
        .unwrap();
    let shutdown = tasknet_server::Shutdown::new();
    let spawned = Writer::spawn(database.clone(), 64, shutdown.clone());
    let mut receivers = Vec::new();
    let mut task_ids = Vec::new();
    for _ in 0..300 {
        let task_id = new_id();
        receivers.push(
            spawned
                .handle
                .enqueue(create(&create_request(&task_id)), Access::unrestricted())
                .await
                .unwrap(),
        );
        receivers.push(
            spawned
                .handle
                .enqueue(
                    update(&update_request(
                        &task_id,
                        "2024-06-02T01:00:00Z",
                        complete(),
                    )),
                    Access::unrestricted(),
                )
                .await
                .unwrap(),
        );
        task_ids.push(task_id);
    }
    let mut cursors = Vec::new();
    for receiver in receivers {
        let outcome = wait(receiver).await;
        cursors.push(ack(&outcome).cursor);
    }
    assert!(
        cursors.windows(2).all(|pair| pair[0] < pair[1]),
        "cursors follow queue order"
    );
    assert_eq!(*spawned.newest.borrow(), *cursors.last().unwrap());

    shutdown.trigger();
    spawned.task.await.unwrap();
    let refused = spawned
        .handle
        .submit(create(&create_request(&new_id())), Access::unrestricted())
        .await;
    assert!(matches!(refused, Err(Error::Unavailable(_))), "{refused:?}");
    let pool = database.pool();
    let completed = sqlx::query("SELECT COUNT(*) AS n FROM tasks WHERE status = 2")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(completed.try_get::<i64, _>("n").unwrap(), 300);
}

/// A mutation the database itself refuses (here: a plan that does not exist,
/// which the service checks before queueing, sent straight to the writer)
/// fails alone; the rest of its batch commits.
async fn a_mutation_the_database_refuses_fails_alone(db: TestDatabase) {
    let writer = open(&db).await;
    let (good, bad, also_good) = (new_id(), new_id(), new_id());
    let mut orphan = create_request(&bad);
    orphan.task.as_mut().unwrap().plan_ids = vec![new_id()];
    let mut jobs = Vec::new();
    let mut receivers = Vec::new();
    for request in [create_request(&good), orphan, create_request(&also_good)] {
        let (reply, receiver) = oneshot::channel();
        jobs.push(Job {
            mutation: create(&request),
            access: Access::unrestricted(),
            reply,
        });
        receivers.push(receiver);
    }
    writer
        .process(Prepared { jobs, ahead: None }, &Previous::Unknown)
        .await;
    let mut outcomes = Vec::new();
    for receiver in receivers {
        outcomes.push(wait(receiver).await);
    }
    assert_eq!(ack(&outcomes[0]).version, 1);
    assert!(
        matches!(outcomes[1], Err(Error::Unavailable(_))),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(ack(&outcomes[2]).version, 1);
    let pool = writer.database.pool();
    assert!(query::get_task(pool, &bad).await.unwrap().is_none());
    assert!(query::get_task(pool, &also_good).await.unwrap().is_some());
    assert_eq!(query::read_changes(pool, 0, 10).await.unwrap().len(), 2);
}

fn items(mutations: &[Mutation]) -> Vec<Item> {
    mutations
        .iter()
        .map(|mutation| (mutation.clone(), Access::unrestricted()))
        .collect()
}

/// What the writer reads for `mutations` beside the commit of the batch
/// before (on SQLite it reads only in the transaction: `None`).
async fn read_ahead(writer: &Writer, mutations: &[Item]) -> Option<ReadAhead> {
    let keys = writer.keys(mutations.iter().map(|(mutation, _)| mutation));
    match writer.store.read_ahead(&keys) {
        Some(read) => Some(read.await.unwrap()),
        None => None,
    }
}

/// The pipeline: the next batch's reads made before the current batch
/// committed miss its writes; laid over them, the next batch sees the task
/// it created, and a repeat of its creation is acknowledged at its cursor.
async fn a_batch_read_ahead_sees_the_batch_before(db: TestDatabase) {
    let writer = open(&db).await;
    let task_id = new_id();
    let creation = create(&create_request(&task_id));
    let first = items(std::slice::from_ref(&creation));
    let noted = update(&update_request(
        &task_id,
        "2024-06-02T01:00:00Z",
        note("started"),
    ));
    let second = items(&[creation.clone(), noted]);
    let ahead = read_ahead(&writer, &second).await;
    if let Some(ahead) = &ahead {
        assert!(
            ahead.prefetched.tasks.is_empty(),
            "read before the creation"
        );
    }
    let (outcomes, overlay) = writer
        .apply(&first, None, &Previous::Unknown)
        .await
        .unwrap();
    let created = ack(&outcomes[0]).clone();
    let previous = Previous::Committed(overlay);
    let (outcomes, _) = writer.apply(&second, ahead, &previous).await.unwrap();
    let repeat = ack(&outcomes[0]);
    assert!(repeat.duplicate);
    assert_eq!((repeat.version, repeat.cursor), (1, created.cursor));
    let noted = ack(&outcomes[1]);
    assert_eq!((noted.version, noted.duplicate), (2, false));
    assert_eq!(count(&writer, "change_log").await, 2);
    let task = query::get_task(writer.database.pool(), &task_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((task.version, task.last_note.as_str()), (2, "started"));
}

/// Reads made ahead are dropped when a change the writer did not make
/// committed after them (another replica's): the batch reads again under
/// the lock and builds on that change.
async fn reads_ahead_are_dropped_after_another_writers_commit(db: TestDatabase) {
    let writer = open(&db).await;
    let replica = open(&db).await;
    let task_id = new_id();
    let (_, overlay) = writer
        .apply(
            &items(&[create(&create_request(&task_id))]),
            None,
            &Previous::Unknown,
        )
        .await
        .unwrap();
    let previous = Previous::Committed(overlay);
    let ours = items(&[update(&update_request(
        &task_id,
        "2024-06-03T01:00:00Z",
        complete(),
    ))]);
    let ahead = read_ahead(&writer, &ours).await;
    replica
        .apply_unrestricted(&[update(&update_request(
            &task_id,
            "2024-06-02T01:00:00Z",
            note("by the other replica"),
        ))])
        .await
        .unwrap();
    let (outcomes, _) = writer.apply(&ours, ahead, &previous).await.unwrap();
    assert_eq!(ack(&outcomes[0]).version, 3);
    let task = query::get_task(writer.database.pool(), &task_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.version, 3);
    assert!(task.completed_on.is_some());
    assert_eq!(count(&writer, "change_log").await, 3);
}

/// Each task as stored.
async fn stored(writer: &Writer, ids: &[String]) -> Vec<Option<crate::model::TaskState>> {
    let mut tasks = Vec::new();
    for id in ids {
        tasks.push(query::get_task(writer.database.pool(), id).await.unwrap());
    }
    tasks
}

/// A database the previous release made and filled opens under today's
/// migrations (text keys compared byte-wise on PostgreSQL, 0003) with the
/// same tasks and change log; a repeat of an acknowledged update is still
/// recognised, and new updates follow on.
async fn a_database_of_the_previous_release_is_upgraded_in_place(db: TestDatabase) {
    let options = DatabaseOptions::default();
    let old = Writer::new(
        Database::open(db.url(), &options, migrations_up_to(&MIGRATIONS, 2))
            .await
            .unwrap(),
        DEFAULT_MAX_BATCH,
    )
    .0;
    let ids: Vec<String> = (0..20).map(|_| new_id()).collect();
    let creations: Vec<Mutation> = ids.iter().map(|id| create(&create_request(id))).collect();
    old.apply_unrestricted(&creations).await.unwrap();
    let started = update_request(&ids[3], "2024-06-02T01:00:00Z", note("started"));
    let noted = old.apply_unrestricted(&[update(&started)]).await.unwrap();
    let noted = ack(&noted[0]).clone();
    let log = changes(&old).await;
    let tasks = stored(&old, &ids).await;
    // The writer keeps its connection between batches: dropping it gives the
    // connection back (closing the pool first would wait for it forever).
    let database = old.database.clone();
    drop(old);
    database.close().await;

    let writer = open(&db).await;
    assert_eq!(changes(&writer).await, log);
    assert_eq!(stored(&writer, &ids).await, tasks);
    let again = writer
        .apply_unrestricted(&[update(&started)])
        .await
        .unwrap();
    let again = ack(&again[0]);
    assert!(again.duplicate);
    assert_eq!((again.version, again.cursor), (noted.version, noted.cursor));
    let later = update_request(&ids[3], "2024-06-03T01:00:00Z", note("halfway"));
    let later = writer.apply_unrestricted(&[update(&later)]).await.unwrap();
    assert_eq!(ack(&later[0]).version, 3);
    assert_eq!(count(&writer, "change_log").await, 22);
    if writer.database.backend() == tasknet_storage::Backend::Postgres {
        let collation = column_collation(writer.database.pool(), "tasks", "id").await;
        assert_eq!(collation.as_deref(), Some("C"));
    }
}

tasknet_storage::test_on_both_backends!(
    a_database_of_the_previous_release_is_upgraded_in_place,
    repeated_updates_are_acknowledged_not_reapplied,
    a_reused_update_id_with_other_content_is_refused,
    stale_versions_are_refused,
    one_task_changed_several_times_in_one_batch,
    the_change_log_records_each_change_in_order,
    a_failed_item_does_not_affect_the_others,
    plans_are_created_once,
    queued_requests_share_batches_and_all_commit,
    a_mutation_the_database_refuses_fails_alone,
    a_batch_read_ahead_sees_the_batch_before,
    reads_ahead_are_dropped_after_another_writers_commit,
);
