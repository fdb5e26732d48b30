//! What each reporting RPC does, free of the transport: validate everything,
//! wait for `min_cursor`, query the read model, shape the answer.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, NaiveDate};
use tasknet_auth::Coverage;
use tasknet_domain::{
    DatePeriod, FieldError, date_from_proto, date_from_storage, date_to_proto, error::parse_uuid,
    previous_year_date, timestamp_to_proto,
};
use tasknet_proto::v1::{self, GroupBy, PlanKind, ReportBasis};
use tokio::sync::watch;

use crate::basis::{self, Restatement};
use crate::breakdown::breakdown_rows;
use crate::catalog::{Catalog, UnitSource};
use crate::error::Error;
use crate::scorecard::ScoreWeights;
use crate::store::{self, ReadModel, StatusQuery, UnitCounts, decode::PlanRow};
use crate::wait::{validate_min_cursor, wait_for_cursor};

/// The reports over one read model, grouping units from `U`.
#[derive(Debug, Clone)]
pub struct Reports<U> {
    pub(crate) store: ReadModel,
    pub(crate) units: U,
    pub(crate) applied: watch::Receiver<i64>,
    /// The weights of the scorecards' score.
    pub(crate) weights: ScoreWeights,
}

/// A validated StatusBreakdown request.
#[derive(Debug, Clone, Copy)]
struct BreakdownQuestion {
    period: DatePeriod,
    as_of: NaiveDate,
    group_by: GroupBy,
    min_cursor: i64,
    basis: ReportBasis,
}

/// Counts on a basis, and what names their units.
struct Stated {
    current: UnitCounts,
    previous: UnitCounts,
    catalog: Catalog,
    /// On the current structure: unit in force -> earlier units it took figures from.
    absorbed: HashMap<String, BTreeSet<String>>,
}

impl BreakdownQuestion {
    fn parse(request: &v1::StatusBreakdownRequest) -> Result<Self, FieldError> {
        let period = DatePeriod::from_proto("period", request.period.as_ref())?;
        let as_of = period.as_of_from_proto("as_of", request.as_of.as_ref())?;
        let group_by = parse_group_by(request.group_by)?;
        let min_cursor = validate_min_cursor(request.min_cursor)?;
        Ok(Self {
            period,
            as_of,
            group_by,
            min_cursor,
            basis: basis::parse("basis", request.basis)?,
        })
    }
}

/// A request's `group_by`; unspecified means the national row only.
pub fn parse_group_by(value: i32) -> Result<GroupBy, FieldError> {
    match GroupBy::try_from(value) {
        Ok(GroupBy::Unspecified) => Ok(GroupBy::None),
        Ok(group_by) => Ok(group_by),
        Err(_) => Err(FieldError::new(
            "group_by",
            format!("{value} is not a grouping"),
        )),
    }
}

/// Which plans a PlanProgress request asks about.
#[derive(Debug, Clone)]
enum PlanSelector {
    Id(String),
    /// `None`: every kind.
    Kind {
        kind: Option<PlanKind>,
        period: DatePeriod,
    },
}

impl PlanSelector {
    fn parse(selector: Option<&v1::plan_progress_request::Selector>) -> Result<Self, FieldError> {
        use v1::plan_progress_request::Selector;
        match selector {
            None => Err(FieldError::new("selector", "set plan_id or plans_of_kind")),
            Some(Selector::PlanId(id)) => Ok(Self::Id(parse_uuid("plan_id", id)?.to_string())),
            Some(Selector::PlansOfKind(of_kind)) => {
                let kind = match PlanKind::try_from(of_kind.kind) {
                    Ok(PlanKind::Unspecified) => None,
                    Ok(kind) => Some(kind),
                    Err(_) => {
                        let message = format!("{} is not a plan kind", of_kind.kind);
                        return Err(FieldError::new("plans_of_kind.kind", message));
                    }
                };
                let period =
                    DatePeriod::from_proto("plans_of_kind.period", of_kind.period.as_ref())?;
                Ok(Self::Kind { kind, period })
            }
        }
    }
}

impl<U: UnitSource> Reports<U> {
    pub fn new(store: ReadModel, units: U, applied: watch::Receiver<i64>) -> Self {
        Self {
            store,
            units,
            applied,
            weights: ScoreWeights::default(),
        }
    }

    /// The same reports scoring with `weights`.
    pub fn with_weights(mut self, weights: ScoreWeights) -> Self {
        self.weights = weights;
        self
    }

    /// StatusBreakdown, nationwide; `budget` bounds the wait for `min_cursor`.
    pub async fn status_breakdown(
        &self,
        request: &v1::StatusBreakdownRequest,
        budget: Duration,
    ) -> Result<v1::StatusBreakdownResponse, Error> {
        self.status_breakdown_for(request, budget, &Coverage::All)
            .await
    }

    /// StatusBreakdown counting only tasks assigned to the units `coverage`
    /// reaches (the national row is then the total over those units).
    pub async fn status_breakdown_for(
        &self,
        request: &v1::StatusBreakdownRequest,
        budget: Duration,
        coverage: &Coverage,
    ) -> Result<v1::StatusBreakdownResponse, Error> {
        let question = BreakdownQuestion::parse(request)?;
        let applied = wait_for_cursor(&self.applied, question.min_cursor, budget).await?;
        let current = StatusQuery {
            period: question.period,
            as_of: question.as_of,
        };
        let previous = StatusQuery {
            period: question.period.previous_year(),
            as_of: previous_year_date(question.as_of),
        };
        let mut results = self.store.status_by_unit(&[current, previous]).await?;
        let previous_counts = results.pop().unwrap_or_default();
        let current_counts = results.pop().unwrap_or_default();
        let stated = self
            .state(&question, coverage, current_counts, previous_counts)
            .await?;
        let (rows, national) = breakdown_rows(
            question.group_by,
            &stated.current,
            &stated.previous,
            &stated.catalog,
            &stated.absorbed,
        );
        let restated = question.basis == ReportBasis::CurrentStructure;
        Ok(v1::StatusBreakdownResponse {
            period: Some(current.period.to_proto()),
            as_of: Some(date_to_proto(current.as_of)),
            previous_period: Some(previous.period.to_proto()),
            previous_as_of: Some(date_to_proto(previous.as_of)),
            rows,
            national: Some(national),
            applied_cursor: applied,
            basis: question.basis as i32,
            structure_date: restated.then(|| date_to_proto(question.as_of)),
        })
    }

    /// Per-unit counts on the question's basis, scoped to `coverage`, with
    /// the catalog that names their units. On the current structure the
    /// counts are restated first and then scoped by the unit in force, so a
    /// successor's readers see its predecessors' figures.
    async fn state(
        &self,
        question: &BreakdownQuestion,
        coverage: &Coverage,
        mut current: UnitCounts,
        mut previous: UnitCounts,
    ) -> Result<Stated, Error> {
        let restating = question.basis == ReportBasis::CurrentStructure;
        if !restating && !coverage.is_all() {
            previous.retain(|unit, _| coverage.contains(unit));
            current.retain(|unit, _| coverage.contains(unit));
        }
        let mut absorbed = HashMap::new();
        if question.group_by == GroupBy::None && !restating {
            return Ok(Stated {
                current,
                previous,
                catalog: Catalog::default(),
                absorbed,
            });
        }
        let mut catalog = self.catalog_of(&current, &previous).await?;
        if restating {
            let restatement = Restatement::on(question.as_of, catalog.lineage());
            current = restatement.restate(current, &mut absorbed);
            previous = restatement.restate(previous, &mut absorbed);
            if !coverage.is_all() {
                previous.retain(|unit, _| coverage.contains(unit));
                current.retain(|unit, _| coverage.contains(unit));
                absorbed.retain(|unit, _| coverage.contains(unit));
            }
            let missing = current
                .keys()
                .chain(previous.keys())
                .any(|id| catalog.unit(id).is_none());
            if missing && question.group_by != GroupBy::None {
                // A successor created after the catalog's copy was taken.
                catalog = self.catalog_of(&current, &previous).await?;
            }
        }
        Ok(Stated {
            current,
            previous,
            catalog,
            absorbed,
        })
    }

    /// A catalog that knows every unit of `current` and `previous`.
    async fn catalog_of(
        &self,
        current: &UnitCounts,
        previous: &UnitCounts,
    ) -> Result<Catalog, Error> {
        let mut ids: Vec<String> = current.keys().cloned().collect();
        ids.extend(previous.keys().cloned());
        ids.sort_unstable();
        ids.dedup();
        self.units.catalog(ids).await.map_err(Error::Directory)
    }

    /// PlanProgress; `budget` bounds the wait for `min_cursor`.
    pub async fn plan_progress(
        &self,
        request: &v1::PlanProgressRequest,
        budget: Duration,
    ) -> Result<v1::PlanProgressResponse, Error> {
        let selector = PlanSelector::parse(request.selector.as_ref())?;
        let as_of = match &selector {
            PlanSelector::Kind { period, .. } => {
                period.as_of_from_proto("as_of", request.as_of.as_ref())?
            }
            PlanSelector::Id(_) => date_from_proto("as_of", request.as_of.as_ref())?,
        };
        let min_cursor = validate_min_cursor(request.min_cursor)?;
        let applied = wait_for_cursor(&self.applied, min_cursor, budget).await?;
        let plans = match selector {
            PlanSelector::Id(id) => match store::plan_by_id(self.store.pool(), &id).await? {
                Some(plan) => vec![plan],
                None => return Err(Error::not_found("plan_id", format!("no plan {id}"))),
            },
            PlanSelector::Kind { kind, period } => {
                let kind = kind.map(|kind| i64::from(kind as i32));
                store::plans_of_kind(self.store.pool(), kind, period).await?
            }
        };
        let ids: Vec<String> = plans.iter().map(|plan| plan.id.clone()).collect();
        let counts = store::plan_counts(self.store.pool(), &ids, as_of).await?;
        let plans = plans
            .iter()
            .map(|plan| {
                let (done, total) = counts.get(&plan.id).copied().unwrap_or((0, 0));
                v1::PlanProgressRow {
                    plan: Some(plan_to_proto(plan)),
                    done,
                    total,
                }
            })
            .collect();
        Ok(v1::PlanProgressResponse {
            plans,
            applied_cursor: applied,
        })
    }

    /// The units a principal's reports may cover (unit leadership needs
    /// the hierarchy, from the unit source).
    pub async fn coverage(&self, principal: &tasknet_auth::Principal) -> Result<Coverage, Error> {
        if let Some(coverage) = Coverage::without_hierarchy(principal) {
            return Ok(coverage);
        }
        let catalog = self
            .units
            .catalog(Vec::new())
            .await
            .map_err(Error::Directory)?;
        Ok(Coverage::of(principal, catalog.units()))
    }

    pub fn store(&self) -> &ReadModel {
        &self.store
    }

    pub fn units(&self) -> &U {
        &self.units
    }

    pub async fn sync_state(&self) -> Result<v1::GetSyncStateResponse, Error> {
        let (applied_cursor, time) = self.store.sync_state().await?;
        Ok(v1::GetSyncStateResponse {
            applied_cursor,
            last_applied_time: time.map(timestamp_to_proto),
        })
    }
}

fn plan_to_proto(plan: &PlanRow) -> v1::Plan {
    let date = |value| date_from_storage(value).map(date_to_proto);
    v1::Plan {
        id: plan.id.clone(),
        name: plan.name.clone(),
        kind: i32::try_from(plan.kind).unwrap_or_default(),
        owner_unit_id: plan.owner_unit_id.clone(),
        period: Some(v1::DateRange {
            start: date(plan.period_start),
            end: date(plan.period_end),
        }),
        create_time: DateTime::from_timestamp_micros(plan.create_time_us).map(timestamp_to_proto),
    }
}
