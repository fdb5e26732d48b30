use std::time::{Duration, Instant};

use tasknet_proto::prost::Message;
use tasknet_proto::v1;

use super::*;

fn row(seq: i64, task: &str) -> StoredItem {
    let request = v1::IngestRequest {
        mutation: Some(v1::ingest_request::Mutation::Update(
            v1::UpdateTaskRequest {
                update_id: format!("u{seq}"),
                task_id: task.to_owned(),
                ..Default::default()
            },
        )),
    };
    StoredItem {
        seq,
        update_id: format!("u{seq}"),
        task_id: task.to_owned(),
        parked: false,
        request: request.encode_to_vec(),
    }
}

fn drain_ready(schedule: &mut Schedule, now: Instant) -> Vec<i64> {
    std::iter::from_fn(|| schedule.next_ready(now))
        .map(|item| item.seq)
        .collect()
}

#[test]
fn one_update_per_task_in_flight_oldest_first() {
    let rows = vec![
        row(1, "a"),
        row(2, "a"),
        row(3, "b"),
        row(4, "a"),
        row(5, "c"),
    ];
    let (mut schedule, corrupt) = Schedule::load(rows);
    assert!(corrupt.is_empty());
    let now = Instant::now();
    assert_eq!(drain_ready(&mut schedule, now), vec![1, 3, 5]);
    schedule.acked("a");
    schedule.acked("b");
    assert_eq!(drain_ready(&mut schedule, now), vec![2]);
    schedule.acked("a");
    schedule.acked("c");
    assert_eq!(drain_ready(&mut schedule, now), vec![4]);
    schedule.acked("a");
    assert!(schedule.is_empty());
}

#[test]
fn a_parked_update_holds_back_the_rest_of_its_task() {
    let mut parked = row(2, "a");
    parked.parked = true;
    let rows = vec![row(1, "a"), parked, row(3, "a"), row(4, "b")];
    let (mut schedule, _) = Schedule::load(rows);
    // Row 1 of "a" goes (it is before the parked one); 3 waits behind 2.
    assert_eq!(drain_ready(&mut schedule, Instant::now()), vec![1, 4]);
    schedule.acked("a");
    schedule.acked("b");
    assert!(schedule.is_empty());

    let (mut schedule, _) = Schedule::load(vec![row(1, "a"), row(2, "a"), row(3, "a")]);
    assert_eq!(drain_ready(&mut schedule, Instant::now()), vec![1]);
    assert_eq!(schedule.parked("a"), 2);
    assert!(schedule.is_empty());
}

#[test]
fn a_transient_failure_delays_only_its_task() {
    let (mut schedule, _) = Schedule::load(vec![row(1, "a"), row(2, "a"), row(3, "b")]);
    let now = Instant::now();
    assert_eq!(drain_ready(&mut schedule, now), vec![1, 3]);
    assert_eq!(schedule.failed("a"), 1);
    schedule.retry_at("a", now + Duration::from_secs(5));
    schedule.acked("b");
    assert_eq!(drain_ready(&mut schedule, now), Vec::<i64>::new());
    assert_eq!(schedule.next_due(), Some(now + Duration::from_secs(5)));
    // The same head goes again once due, then the rest in order.
    assert_eq!(
        drain_ready(&mut schedule, now + Duration::from_secs(5)),
        vec![1]
    );
    schedule.acked("a");
    assert_eq!(drain_ready(&mut schedule, now), vec![2]);
}

#[test]
fn returned_and_stale_entries_never_put_a_task_in_flight_twice() {
    let (mut schedule, _) = Schedule::load(vec![row(1, "a"), row(2, "a")]);
    let now = Instant::now();
    assert_eq!(drain_ready(&mut schedule, now), vec![1]);
    schedule.failed("a");
    schedule.retry_at("a", now);
    // The link broke too: the head is returned as well as delayed.
    schedule.returned("a");
    assert_eq!(drain_ready(&mut schedule, now), vec![1]);
    schedule.acked("a");
    assert_eq!(drain_ready(&mut schedule, now), vec![2]);
    assert_eq!(schedule.remaining(), 1);
}

#[test]
fn rows_that_do_not_decode_are_set_aside_with_their_task() {
    let mut broken = row(1, "a");
    broken.request = vec![0xff, 0xff, 0xff];
    let (mut schedule, corrupt) = Schedule::load(vec![broken, row(2, "a"), row(3, "b")]);
    assert_eq!(corrupt.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1]);
    assert_eq!(drain_ready(&mut schedule, Instant::now()), vec![3]);
}

#[test]
fn retry_delays_carry_over_to_a_schedule_loaded_afresh() {
    let rows = || vec![row(1, "a"), row(2, "b")];
    let (mut schedule, _) = Schedule::load(rows());
    let now = Instant::now();
    let later = now + Duration::from_secs(5);
    assert_eq!(drain_ready(&mut schedule, now), vec![1, 2]);
    assert_eq!(schedule.failed("a"), 1);
    schedule.retry_at("a", later);
    schedule.returned("b");
    let delays = schedule.delays();
    assert_eq!(delays.get("a"), Some(&(1, Some(later))));
    assert_eq!(delays.len(), 1);

    let (mut fresh, _) = Schedule::load(rows());
    fresh.restore(&delays, now);
    assert!(fresh.has_ready(now));
    assert_eq!(drain_ready(&mut fresh, now), vec![2]);
    fresh.acked("b");
    // Only "a" is left, and it waits: a session would end here (Waiting).
    assert!(!fresh.has_ready(now));
    assert_eq!(fresh.next_due(), Some(later));
    assert!(fresh.has_ready(later));
    assert_eq!(drain_ready(&mut fresh, later), vec![1]);
    // The failure count carried over: the next delay is longer.
    assert_eq!(fresh.failed("a"), 2);
}
