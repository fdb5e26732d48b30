//! The calendar: judges each Vietnam civil day once, at a configured local
//! time (07:00 by default), and on start catches up the days missed since
//! the last one judged (at most `catch_up_days` of them).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use tasknet_domain::{VIETNAM_OFFSET_SECONDS, vietnam_date, vietnam_start_of_day};
use tasknet_server::{Backoff, Shutdown};

use crate::clock::SharedClock;
use crate::judge::Judge;
use crate::outbox::Outbox;

#[derive(Debug, Clone)]
pub struct CalendarSettings {
    /// Local (UTC+7) time of day a day is judged.
    pub judge_at: NaiveTime,
    /// Missed days judged on start, at most (the newest ones).
    pub catch_up_days: u32,
}

/// The latest day due to be judged at `now`: today once the judging time
/// has passed, else yesterday.
pub fn due_day(now: DateTime<Utc>, judge_at: NaiveTime) -> NaiveDate {
    let today = vietnam_date(now);
    let local_time = (now + chrono::Duration::seconds(i64::from(VIETNAM_OFFSET_SECONDS))).time();
    if local_time >= judge_at {
        today
    } else {
        today.pred_opt().unwrap_or(today)
    }
}

/// The days to judge now, oldest first: those after `last_judged` up to
/// the due day, at most `catch_up_days` of them.
pub fn days_to_judge(
    now: DateTime<Utc>,
    last_judged: Option<NaiveDate>,
    settings: &CalendarSettings,
) -> Vec<NaiveDate> {
    let due = due_day(now, settings.judge_at);
    let earliest = due - chrono::Duration::days(i64::from(settings.catch_up_days.max(1)) - 1);
    let from = match last_judged {
        Some(last) => (last + chrono::Duration::days(1)).max(earliest),
        None => due,
    };
    from.iter_days().take_while(|day| *day <= due).collect()
}

/// When the next day falls due after `now`.
fn next_judging(now: DateTime<Utc>, judge_at: NaiveTime) -> DateTime<Utc> {
    let next_day = due_day(now, judge_at) + chrono::Duration::days(1);
    vietnam_start_of_day(next_day) + (judge_at - NaiveTime::MIN)
}

/// Judges what is due, then sleeps until the next day is; until `shutdown`.
pub async fn run(
    judge: Judge,
    outbox: Outbox,
    clock: SharedClock,
    settings: CalendarSettings,
    shutdown: Shutdown,
) {
    let mut backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(300));
    loop {
        let judged = async {
            let last = outbox.last_judged().await?.map(|(day, _)| day);
            for day in days_to_judge(clock.now(), last, &settings) {
                judge.judge_day(day, 0).await?;
            }
            Ok::<(), crate::error::Error>(())
        }
        .await;
        let wait = match judged {
            Ok(()) => {
                backoff.reset();
                let until = next_judging(clock.now(), settings.judge_at);
                // Wake at least hourly: a clock step (NTP) is noticed.
                (until - clock.now())
                    .to_std()
                    .unwrap_or_default()
                    .min(Duration::from_secs(3600))
            }
            Err(error) => {
                let wait = backoff.next_delay();
                tracing::warn!(%error, retry_in = ?wait, "cannot judge the day yet");
                wait
            }
        };
        tokio::select! {
            () = shutdown.wait() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn days_fall_due_at_the_local_judging_time_and_missed_ones_are_caught_up() {
        let settings = CalendarSettings {
            judge_at: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            catch_up_days: 3,
        };
        // 06:59 local on 10 March (23:59Z on the 9th): the 9th is due.
        assert_eq!(
            due_day(at("2024-03-09T23:59:00Z"), settings.judge_at),
            day("2024-03-09")
        );
        // 07:00 local on 10 March: the 10th.
        assert_eq!(
            due_day(at("2024-03-10T00:00:00Z"), settings.judge_at),
            day("2024-03-10")
        );
        let now = at("2024-03-10T00:30:00Z");
        assert_eq!(days_to_judge(now, None, &settings), vec![day("2024-03-10")]);
        assert_eq!(
            days_to_judge(now, Some(day("2024-03-10")), &settings),
            vec![]
        );
        assert_eq!(
            days_to_judge(now, Some(day("2024-03-08")), &settings),
            vec![day("2024-03-09"), day("2024-03-10")]
        );
        // A long outage: only the newest three.
        assert_eq!(
            days_to_judge(now, Some(day("2024-02-01")), &settings),
            vec![day("2024-03-08"), day("2024-03-09"), day("2024-03-10")]
        );
        // Days judged ahead by hand (JudgeDay) are not judged again.
        assert_eq!(
            days_to_judge(now, Some(day("2024-03-12")), &settings),
            vec![]
        );
        assert_eq!(
            next_judging(now, settings.judge_at),
            at("2024-03-11T00:00:00Z")
        );
    }
}
