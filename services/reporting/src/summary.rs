//! ReportSummary and AddReportNote: the review report's figures gathered from
//! the read model (status by category against last year, plan progress, the
//! notes attached to the period) and rendered by `tasknet-render`.

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;
use tasknet_domain::{DatePeriod, FieldError, error::parse_uuid};
use tasknet_proto::v1::{
    self, GroupBy, Language, PercentRounding, PlanKind, ReportBasis, SummaryFormat, UnitCategory,
};
use tasknet_render::{
    Basis, CategoryFigures, PlanFigures, PlanKindFigures, Rounding, StatusFigures, SummaryFigures,
    narrative, sdmx_csv,
};

use crate::catalog::UnitSource;
use crate::error::Error;
use crate::reports::Reports;
use crate::store::decode::PlanRow;
use crate::store::notes::{self, Note};
use crate::store::{distinct_plan_counts, plan_counts, plans_of_kind};

/// The plan kinds a review report states progress for, in its order.
const REPORTED_PLANS: [PlanKind; 3] = [
    PlanKind::KeyTasks,
    PlanKind::LegalDocuments,
    PlanKind::AnnualWorkPlan,
];

/// The longest note text accepted, in characters.
const MAX_NOTE_CHARS: usize = 2000;

struct SummaryQuestion {
    basis: ReportBasis,
    period: DatePeriod,
    as_of: chrono::NaiveDate,
    language: tasknet_render::Language,
    format: SummaryFormat,
    rounding: Rounding,
    min_cursor: i64,
    system_name: String,
}

impl SummaryQuestion {
    fn parse(request: &v1::ReportSummaryRequest) -> Result<Self, FieldError> {
        let period = DatePeriod::from_proto("period", request.period.as_ref())?;
        let as_of = period.as_of_from_proto("as_of", request.as_of.as_ref())?;
        let language = match Language::try_from(request.language) {
            Ok(Language::Unspecified | Language::Vi) => tasknet_render::Language::Vietnamese,
            Ok(Language::En) => tasknet_render::Language::English,
            Err(_) => {
                return Err(FieldError::new(
                    "language",
                    format!("{} is not a language", request.language),
                ));
            }
        };
        let format = match SummaryFormat::try_from(request.format) {
            Ok(SummaryFormat::Unspecified) => SummaryFormat::Text,
            Ok(format) => format,
            Err(_) => {
                return Err(FieldError::new(
                    "format",
                    format!("{} is not a format", request.format),
                ));
            }
        };
        let rounding = match PercentRounding::try_from(request.rounding) {
            Ok(PercentRounding::Unspecified | PercentRounding::Truncate) => Rounding::Truncate,
            Ok(PercentRounding::HalfEven) => Rounding::HalfEven,
            Err(_) => {
                return Err(FieldError::new(
                    "rounding",
                    format!("{} is not a rounding rule", request.rounding),
                ));
            }
        };
        if request.system_name.chars().count() > 100 {
            return Err(FieldError::new(
                "system_name",
                "is longer than 100 characters",
            ));
        }
        tasknet_domain::text::check_line("system_name", &request.system_name)?;
        let system_name = match request.system_name.trim() {
            "" => "tasknet".to_owned(),
            name => name.to_owned(),
        };
        Ok(Self {
            basis: crate::basis::parse("basis", request.basis)?,
            period,
            as_of,
            language,
            format,
            rounding,
            min_cursor: request.min_cursor,
            system_name,
        })
    }
}

/// The JSON form: every figure exact, shares as exact fractions' decimal values.
#[derive(Serialize)]
struct SummaryJson<'a> {
    figures: &'a SummaryFigures,
    shares_percent: Shares,
    notes: &'a [String],
}

#[derive(Serialize)]
struct Shares {
    completed_on_time: Option<f64>,
    completed_late: Option<f64>,
    open_within_deadline: Option<f64>,
    open_overdue: Option<f64>,
    total_change: Option<f64>,
}

fn share(count: i64, total: i64) -> Option<f64> {
    (total != 0).then(|| count as f64 * 100.0 / total as f64)
}

fn status(counts: Option<&v1::StatusCounts>) -> StatusFigures {
    let counts = counts.cloned().unwrap_or_default();
    StatusFigures {
        total: counts.total,
        completed_on_time: counts.completed_on_time,
        completed_late: counts.completed_late,
        open_within_deadline: counts.open_within_deadline,
        open_overdue: counts.open_overdue,
    }
}

impl<U: UnitSource> Reports<U> {
    pub async fn report_summary(
        &self,
        request: &v1::ReportSummaryRequest,
        budget: Duration,
    ) -> Result<v1::ReportSummaryResponse, Error> {
        let question = SummaryQuestion::parse(request)?;
        let breakdown = self
            .status_breakdown(
                &v1::StatusBreakdownRequest {
                    period: request.period.clone(),
                    as_of: request.as_of,
                    group_by: GroupBy::UnitCategory as i32,
                    min_cursor: question.min_cursor,
                    basis: question.basis as i32,
                },
                budget,
            )
            .await?;
        let figures = self.summary_figures(&question, &breakdown).await?;
        let notes: Vec<String> = figures.notes.clone();
        let (content_type, body) = match question.format {
            SummaryFormat::Json => {
                let json = SummaryJson {
                    shares_percent: Shares {
                        completed_on_time: share(
                            figures.national.completed_on_time,
                            figures.national.total,
                        ),
                        completed_late: share(
                            figures.national.completed_late,
                            figures.national.total,
                        ),
                        open_within_deadline: share(
                            figures.national.open_within_deadline,
                            figures.national.total,
                        ),
                        open_overdue: share(figures.national.open_overdue, figures.national.total),
                        total_change: share(
                            figures.national.total - figures.national_previous.total,
                            figures.national_previous.total,
                        ),
                    },
                    figures: &figures,
                    notes: &notes,
                };
                let body = serde_json::to_string_pretty(&json)
                    .map_err(|e| Error::Render(e.to_string()))?;
                ("application/json", body)
            }
            SummaryFormat::SdmxCsv => {
                let body = sdmx_csv(&figures, question.rounding)
                    .map_err(|e| Error::Render(e.to_string()))?;
                ("text/csv; charset=utf-8", body)
            }
            _ => {
                let mut paragraphs = narrative(&figures, question.language, question.rounding);
                paragraphs.push(String::new());
                (
                    "text/plain; charset=utf-8",
                    paragraphs.join("\n\n").trim_end().to_owned() + "\n",
                )
            }
        };
        Ok(v1::ReportSummaryResponse {
            content_type: content_type.to_owned(),
            body,
            notes,
            applied_cursor: breakdown.applied_cursor,
        })
    }

    async fn summary_figures(
        &self,
        question: &SummaryQuestion,
        breakdown: &v1::StatusBreakdownResponse,
    ) -> Result<SummaryFigures, Error> {
        let categories = breakdown
            .rows
            .iter()
            .filter_map(|row| {
                let category = UnitCategory::from_str_name(&row.group_key)?;
                Some(CategoryFigures {
                    category,
                    current: status(row.current.as_ref()),
                    previous: status(row.previous.as_ref()),
                })
            })
            .filter(|c| c.category != UnitCategory::Headquarters || c.current.total > 0)
            .collect();
        let national = breakdown.national.clone().unwrap_or_default();
        let (plans, plan_kinds) = self.plan_figures(question).await?;
        let notes = notes::notes_for(self.store().pool(), question.period)
            .await?
            .into_iter()
            .map(|note| match question.language {
                tasknet_render::Language::Vietnamese => note.text_vi,
                tasknet_render::Language::English => note.text_en,
            })
            .collect();
        Ok(SummaryFigures {
            period: question.period,
            as_of: question.as_of,
            previous_period: question.period.previous_year(),
            previous_as_of: tasknet_domain::previous_year_date(question.as_of),
            national: status(national.current.as_ref()),
            national_previous: status(national.previous.as_ref()),
            categories,
            plans,
            plan_kinds,
            system_name: question.system_name.clone(),
            notes,
            basis: match question.basis {
                ReportBasis::HistoricalStructure => Basis::HistoricalStructure,
                _ => Basis::CurrentStructure,
            },
        })
    }

    /// One row per plan of each reported kind overlapping the period, and
    /// per kind the distinct tasks of its plans (a task in two plans of a
    /// kind counts once). The narrative picks the plan each sentence is about.
    async fn plan_figures(
        &self,
        question: &SummaryQuestion,
    ) -> Result<(Vec<PlanFigures>, Vec<PlanKindFigures>), Error> {
        let pool = self.store().pool();
        let mut figures = Vec::new();
        let mut kinds = Vec::new();
        for kind in REPORTED_PLANS {
            let plans = plans_of_kind(pool, Some(i64::from(kind as i32)), question.period).await?;
            if plans.is_empty() {
                continue;
            }
            let ids: Vec<String> = plans.iter().map(|plan| plan.id.clone()).collect();
            let counts = plan_counts(pool, &ids, question.as_of).await?;
            let central = self.central_owners(&plans).await?;
            for plan in &plans {
                let (done, total) = counts.get(&plan.id).copied().unwrap_or((0, 0));
                let done_titles = if kind == PlanKind::KeyTasks {
                    notes::completed_titles(pool, &plan.id, question.as_of).await?
                } else {
                    Vec::new()
                };
                figures.push(PlanFigures {
                    id: plan.id.clone(),
                    kind,
                    name: plan.name.clone(),
                    period: plan_period(plan),
                    central: central.contains(&plan.owner_unit_id),
                    done,
                    total,
                    done_titles,
                });
            }
            let (done, total) = distinct_plan_counts(pool, &ids, question.as_of).await?;
            kinds.push(PlanKindFigures {
                kind,
                plans: i64::try_from(plans.len()).unwrap_or(i64::MAX),
                done,
                total,
            });
        }
        Ok((figures, kinds))
    }

    /// The owners among `plans`' that are the central agency (headquarters).
    async fn central_owners(&self, plans: &[PlanRow]) -> Result<HashSet<String>, Error> {
        let mut owners: Vec<String> = plans.iter().map(|p| p.owner_unit_id.clone()).collect();
        owners.sort_unstable();
        owners.dedup();
        let catalog = self
            .units()
            .catalog(owners.clone())
            .await
            .map_err(Error::Directory)?;
        Ok(owners
            .into_iter()
            .filter(|id| {
                catalog
                    .unit(id)
                    .is_some_and(|unit| unit.category == UnitCategory::Headquarters as i32)
            })
            .collect())
    }

    /// AddReportNote; `audit` is recorded with a new note.
    pub async fn add_report_note(
        &self,
        request: &v1::AddReportNoteRequest,
        audit: Option<tasknet_auth::AuditEntry>,
    ) -> Result<(), Error> {
        let id = parse_uuid("note_id", &request.note_id)?.to_string();
        let period = DatePeriod::from_proto("period", request.period.as_ref())?;
        for (field, text) in [("text_vi", &request.text_vi), ("text_en", &request.text_en)] {
            if text.trim().is_empty() {
                return Err(FieldError::missing(field).into());
            }
            if text.chars().count() > MAX_NOTE_CHARS {
                let message = format!("is longer than {MAX_NOTE_CHARS} characters");
                return Err(FieldError::new(field, message).into());
            }
            if text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            {
                return Err(FieldError::new(field, "contains control characters").into());
            }
        }
        let note = Note {
            text_vi: request.text_vi.trim().to_owned(),
            text_en: request.text_en.trim().to_owned(),
        };
        let audit = audit.map(|mut entry| {
            entry.target = format!("note/{id}");
            entry
        });
        notes::add_note(self.store().pool(), &id, period, &note, audit).await?;
        Ok(())
    }
}

/// A plan's period as stored (yyyymmdd); an unreadable one reads as empty.
fn plan_period(plan: &PlanRow) -> DatePeriod {
    let day = |value| tasknet_domain::date_from_storage(value).unwrap_or_default();
    DatePeriod {
        start: day(plan.period_start),
        end: day(plan.period_end),
    }
}
