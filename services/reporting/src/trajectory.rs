//! The delivery trajectory (GetTrajectory) of a plan or a unit: day by day,
//! the tasks assigned so far, the completions their deadlines call for by
//! then, and the completions made — the delivery-unit chart that shows early
//! whether a plan will be met (docs/scorecards.md).

use std::time::Duration;

use chrono::NaiveDate;
use tasknet_auth::Coverage;
use tasknet_domain::{
    DatePeriod, FieldError, date_from_storage, date_to_proto, date_to_storage, error::parse_uuid,
};
use tasknet_proto::v1::{self, ReportBasis};

use crate::basis::{self, Restatement};
use crate::catalog::UnitSource;
use crate::error::Error;
use crate::reports::Reports;
use crate::store::{self, trajectory::DeliveryRow};
use crate::wait::{validate_min_cursor, wait_for_cursor};

/// The longest range of days a trajectory covers (ten years of points).
const MAX_DAYS: i64 = 3_660;

/// What a trajectory is of.
#[derive(Debug, Clone)]
enum Subject {
    Plan(String),
    Unit(String),
}

/// Cumulative points over `range` from `tasks`: each day's tasks assigned,
/// deadlines reached and (up to `as_of`) completions, all on or before it.
pub fn points(
    range: DatePeriod,
    as_of: NaiveDate,
    tasks: &[DeliveryRow],
) -> Vec<v1::TrajectoryPoint> {
    let sorted = |pick: fn(&DeliveryRow) -> Option<i64>| {
        let mut days: Vec<i64> = tasks.iter().filter_map(pick).collect();
        days.sort_unstable();
        days
    };
    let assigned = sorted(|task| Some(task.assigned));
    let deadlines = sorted(|task| Some(task.deadline));
    let completed = sorted(|task| task.completed);
    // How many of the sorted days are on or before `day`.
    let upto = |days: &[i64], day: i64| days.partition_point(|d| *d <= day) as i64;
    range
        .start
        .iter_days()
        .take_while(|day| *day <= range.end)
        .map(|day| {
            let stored = date_to_storage(day);
            v1::TrajectoryPoint {
                date: Some(date_to_proto(day)),
                assigned: upto(&assigned, stored),
                expected: upto(&deadlines, stored),
                actual: (day <= as_of).then(|| upto(&completed, stored)),
            }
        })
        .collect()
}

impl<U: UnitSource> Reports<U> {
    /// GetTrajectory for a caller covering `coverage`: a plan's needs
    /// nationwide coverage (as PlanProgress does), a unit's needs the unit.
    pub async fn trajectory(
        &self,
        request: &v1::GetTrajectoryRequest,
        budget: Duration,
        coverage: &Coverage,
    ) -> Result<v1::GetTrajectoryResponse, Error> {
        use v1::get_trajectory_request::Subject as Wire;
        let subject = match &request.subject {
            None => return Err(FieldError::new("subject", "set plan_id or unit_id").into()),
            Some(Wire::PlanId(id)) => Subject::Plan(parse_uuid("plan_id", id)?.to_string()),
            Some(Wire::UnitId(id)) if id.trim().is_empty() => {
                return Err(FieldError::missing("unit_id").into());
            }
            Some(Wire::UnitId(id)) => Subject::Unit(id.clone()),
        };
        let basis = basis::parse("basis", request.basis)?;
        let min_cursor = validate_min_cursor(request.min_cursor)?;
        // A unit's tasks are those of a period; a plan's default to its own.
        let asked = match (&subject, &request.period) {
            (Subject::Plan(_), None) => None,
            (_, period) => Some(DatePeriod::from_proto("period", period.as_ref())?),
        };
        if let Some(period) = asked {
            period.as_of_from_proto("as_of", request.as_of.as_ref())?;
        }
        let applied = wait_for_cursor(&self.applied, min_cursor, budget).await?;
        let (range, as_of, tasks) = match subject {
            Subject::Plan(id) => {
                if !coverage.is_all() {
                    return Err(Error::PermissionDenied(
                        "a plan's trajectory is nationwide; this credential covers only some \
                         units (ask for a unit's)"
                            .to_owned(),
                    ));
                }
                let plan = store::plan_by_id(self.store.pool(), &id)
                    .await?
                    .ok_or_else(|| Error::not_found("plan_id", format!("no plan {id}")))?;
                let range = match asked {
                    Some(period) => period,
                    None => plan_period(&plan)?,
                };
                let as_of = range.as_of_from_proto("as_of", request.as_of.as_ref())?;
                let tasks = store::trajectory::plan_tasks(self.store.pool(), &id, as_of).await?;
                (range, as_of, tasks)
            }
            Subject::Unit(unit_id) => {
                let range = asked.ok_or_else(|| FieldError::missing("period"))?;
                let as_of = range.as_of_from_proto("as_of", request.as_of.as_ref())?;
                let catalog = self
                    .units
                    .catalog(vec![unit_id.clone()])
                    .await
                    .map_err(Error::Directory)?;
                if catalog.unit(&unit_id).is_none() {
                    return Err(Error::not_found("unit_id", format!("no unit {unit_id}")));
                }
                if !coverage.contains(&unit_id) {
                    return Err(Error::PermissionDenied(format!(
                        "unit_id: this credential does not cover unit {unit_id}"
                    )));
                }
                // On the current structure the unit's figures include its
                // predecessors' (as its StatusBreakdown row does).
                let mut units = vec![unit_id.clone()];
                if basis == ReportBasis::CurrentStructure {
                    let restatement = Restatement::on(as_of, catalog.lineage());
                    units.extend(
                        catalog
                            .units()
                            .keys()
                            .filter(|id| {
                                **id != unit_id && restatement.unit_for(id) == unit_id.as_str()
                            })
                            .cloned(),
                    );
                }
                let tasks =
                    store::trajectory::unit_tasks(self.store.pool(), &units, range, as_of).await?;
                (range, as_of, tasks)
            }
        };
        if (range.end - range.start).num_days() >= MAX_DAYS {
            return Err(FieldError::new(
                "period",
                format!("covers more than {MAX_DAYS} days; ask for a shorter period"),
            )
            .into());
        }
        Ok(v1::GetTrajectoryResponse {
            range: Some(range.to_proto()),
            points: points(range, as_of, &tasks),
            total: i64::try_from(tasks.len()).unwrap_or(i64::MAX),
            applied_cursor: applied,
        })
    }
}

/// A stored plan's period.
fn plan_period(plan: &store::decode::PlanRow) -> Result<DatePeriod, Error> {
    date_from_storage(plan.period_start)
        .zip(date_from_storage(plan.period_end))
        .and_then(|(start, end)| DatePeriod::new(start, end))
        .ok_or_else(|| Error::Render(format!("plan {} has no valid period", plan.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_cumulative_and_stop_counting_completions_after_as_of() {
        let period = DatePeriod::parse("2024-01").unwrap();
        let tasks = [
            DeliveryRow {
                assigned: 20231220,
                deadline: 20240105,
                completed: Some(20240104),
            },
            DeliveryRow {
                assigned: 20240103,
                deadline: 20240110,
                completed: Some(20240112),
            },
            DeliveryRow {
                assigned: 20240103,
                deadline: 20240210,
                completed: None,
            },
        ];
        let as_of = NaiveDate::from_ymd_opt(2024, 1, 20).unwrap();
        let points = points(period, as_of, &tasks);
        assert_eq!(points.len(), 31);
        let at = |day: usize| {
            let p = &points[day - 1];
            (p.assigned, p.expected, p.actual)
        };
        assert_eq!(at(1), (1, 0, Some(0)));
        assert_eq!(at(4), (3, 0, Some(1)));
        assert_eq!(at(10), (3, 2, Some(1)));
        assert_eq!(at(12), (3, 2, Some(2)));
        assert_eq!(at(20), (3, 2, Some(2)));
        assert_eq!(at(21), (3, 2, None));
    }
}
