//! The narrative paragraphs of the review report, in the source's wording
//! (Vietnamese) and in plain English.

use chrono::Datelike;
use serde::Serialize;
use tasknet_proto::v1::{PlanKind, UnitCategory};

use crate::numbers::{NumberStyle, Rounding, format_count, format_percent};
use crate::{Basis, PlanFigures, StatusFigures, SummaryFigures, headline_plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Language {
    Vietnamese,
    English,
}

impl Language {
    fn style(self) -> NumberStyle {
        match self {
            Language::Vietnamese => NumberStyle::Vietnamese,
            Language::English => NumberStyle::English,
        }
    }
}

/// The report's paragraphs, one sentence group per element, in the source's order:
/// key tasks, plans, tasks assigned by category, status split, then the
/// basis the figures are stated on and any notes.
pub fn narrative(figures: &SummaryFigures, language: Language, rounding: Rounding) -> Vec<String> {
    let writer = Writer {
        figures,
        language,
        rounding,
    };
    let mut paragraphs = Vec::new();
    paragraphs.extend(writer.key_tasks());
    paragraphs.extend(writer.other_plans());
    paragraphs.push(writer.assigned());
    paragraphs.push(writer.status_split());
    paragraphs.push(writer.basis());
    paragraphs.extend(figures.notes.iter().cloned());
    paragraphs
}

struct Writer<'a> {
    figures: &'a SummaryFigures,
    language: Language,
    rounding: Rounding,
}

impl Writer<'_> {
    fn count(&self, value: i64) -> String {
        format_count(value, self.language.style())
    }

    fn percent(&self, numerator: i64, denominator: i64, decimals: u32) -> String {
        format_percent(
            numerator,
            denominator,
            decimals,
            self.rounding,
            self.language.style(),
        )
        .unwrap_or_else(|| "–".to_owned())
    }

    /// "tăng 2,68%" / "giảm 30,27%" / "up 2.68%"; "không có số liệu" without a base.
    fn change(&self, current: i64, previous: i64) -> String {
        let vi = self.language == Language::Vietnamese;
        if previous == 0 {
            return if vi {
                "chưa có số liệu cùng kỳ"
            } else {
                "no figure a year earlier"
            }
            .to_owned();
        }
        let text = self.percent((current - previous).abs(), previous, 2);
        let word = match (current >= previous, vi) {
            (true, true) => "tăng",
            (false, true) => "giảm",
            (true, false) => "up",
            (false, false) => "down",
        };
        format!("{word} {text}%")
    }

    /// The plan the sentence about `kind` is about (not a sum over plans).
    fn plan(&self, kind: PlanKind) -> Option<&PlanFigures> {
        headline_plan(&self.figures.plans, kind, self.figures.period)
    }

    fn is_first_half(&self) -> bool {
        let period = self.figures.period;
        period.start.month() == 1
            && period.start.day() == 1
            && period.end.month() == 6
            && period.end.day() == 30
    }

    fn half_year(&self) -> String {
        let period = self.figures.period;
        let year = period.start.year();
        let first_half = self.is_first_half();
        match (self.language, first_half) {
            (Language::Vietnamese, true) => format!("nửa đầu năm {year}"),
            (Language::Vietnamese, false) => format!("kỳ {}", period.sdmx_label()),
            (Language::English, true) => format!("the first half of {year}"),
            (Language::English, false) => format!("the period {}", period.sdmx_label()),
        }
    }

    fn key_tasks(&self) -> Option<String> {
        let plan = self.plan(PlanKind::KeyTasks)?;
        let listed = plan.done_titles.join("; ");
        Some(match self.language {
            Language::Vietnamese => format!(
                "TCTK đã hoàn thành {}/{} nhiệm vụ trọng tâm trong {}{}",
                plan.done,
                plan.total,
                self.half_year(),
                if listed.is_empty() {
                    ".".to_owned()
                } else {
                    format!(", chi tiết gồm: {listed}.")
                }
            ),
            Language::English => format!(
                "{} of {} key tasks of {} were completed{}",
                plan.done,
                plan.total,
                self.half_year(),
                if listed.is_empty() {
                    ".".to_owned()
                } else {
                    format!(": {listed}.")
                }
            ),
        })
    }

    fn other_plans(&self) -> Option<String> {
        let legal = self.plan(PlanKind::LegalDocuments);
        let annual = self.plan(PlanKind::AnnualWorkPlan);
        let year = self.figures.period.start.year();
        let legal_vi = legal.map(|p| {
            format!(
                "đã hoàn thành {}/{} nhiệm vụ được giao thuộc Chương trình công tác và kế hoạch xây dựng văn bản quy phạm pháp luật năm {year}",
                p.done, p.total
            )
        });
        let annual_vi = annual.map(|p| {
            format!(
                "Hoàn thành {}/{} tổng số công việc đạt {}% thuộc kế hoạch công tác năm {year} của cơ quan Thống kê trung ương",
                p.done, p.total, self.percent(p.done, p.total, 1)
            )
        });
        let legal_en = legal.map(|p| {
            format!(
                "{} of {} tasks of the {year} programme of legal documents were completed",
                p.done, p.total
            )
        });
        let annual_en = annual.map(|p| {
            format!(
                "{} of {} tasks of the central statistics agency's {year} annual work plan were completed ({}%)",
                p.done, p.total, self.percent(p.done, p.total, 1)
            )
        });
        match self.language {
            Language::Vietnamese => {
                let parts: Vec<String> = [legal_vi, annual_vi].into_iter().flatten().collect();
                let lead = if self.is_first_half() {
                    "Sáu tháng đầu năm"
                } else {
                    "Trong kỳ"
                };
                (!parts.is_empty())
                    .then(|| format!("{lead}, Tổng cục thống kê {}.", parts.join("; ")))
            }
            Language::English => {
                let parts: Vec<String> = [legal_en, annual_en].into_iter().flatten().collect();
                let lead = if self.is_first_half() {
                    "In the first six months"
                } else {
                    "In the period"
                };
                (!parts.is_empty()).then(|| format!("{lead}, {}.", parts.join("; ")))
            }
        }
    }

    fn date(&self, date: chrono::NaiveDate) -> String {
        match self.language {
            Language::Vietnamese => format!("{}/{}/{}", date.day(), date.month(), date.year()),
            Language::English => date.format("%-d %B %Y").to_string(),
        }
    }

    fn assigned(&self) -> String {
        let figures = self.figures;
        let total = figures.national.total;
        let previous_year = figures.previous_period.start.year();
        let category =
            |wanted: UnitCategory| figures.categories.iter().find(|c| c.category == wanted);
        let mut parts = Vec::new();
        for (wanted, vi_lead, vi_tail, en_name) in [
            (
                UnitCategory::CentralDepartment,
                "Đơn vị trực thuộc TCTK được giao",
                "công việc",
                "units directly under the GSO were assigned",
            ),
            (
                UnitCategory::PublicServiceUnit,
                "Các đơn vị sự nghiệp công lập với",
                "công việc",
                "public service units had",
            ),
            (
                UnitCategory::ProvincialOffice,
                "Cục Thống kê các tỉnh, thành phố trực thuộc trung ương có",
                "đầu việc được giao",
                "provincial statistics offices were assigned",
            ),
        ] {
            let Some(c) = category(wanted) else { continue };
            let change = self.change(c.current.total, c.previous.total);
            parts.push(match self.language {
                Language::Vietnamese => format!(
                    "{vi_lead} {} {vi_tail} ({change})",
                    self.count(c.current.total)
                ),
                Language::English => {
                    format!("{en_name} {} tasks ({change})", self.count(c.current.total))
                }
            });
        }
        let change = self.change(total, figures.national_previous.total);
        match self.language {
            Language::Vietnamese => format!(
                "Tính đến hết ngày {}, đã có {} công việc được giao thông qua phần mềm quản lý công việc {} ({change} so với cùng kỳ năm {previous_year}) trong đó: {}.",
                self.date(figures.as_of),
                self.count(total),
                figures.system_name,
                parts.join("; ")
            ),
            Language::English => format!(
                "As of the end of {}, {} tasks had been assigned through the {} task management system ({change} on the same period of {previous_year}), of which: {}.",
                self.date(figures.as_of),
                self.count(total),
                figures.system_name,
                parts.join("; ")
            ),
        }
    }

    /// Which structure of units the figures are on: the comparison with a
    /// year earlier means something different across a reorganisation.
    fn basis(&self) -> String {
        let date = self.date(self.figures.as_of);
        match (self.figures.basis, self.language) {
            (Basis::CurrentStructure, Language::Vietnamese) => format!(
                "Số liệu của cả hai kỳ được tính theo cơ cấu tổ chức tại ngày {date}: số liệu của các đơn vị đã hợp nhất, chia tách hoặc đổi tên được tính vào đơn vị kế thừa."
            ),
            (Basis::CurrentStructure, Language::English) => format!(
                "Figures for both periods are stated on the structure of units in force on {date}: units merged, split or renamed since are counted under their successors."
            ),
            (Basis::HistoricalStructure, Language::Vietnamese) => {
                "Số liệu được tính theo cơ cấu tổ chức của từng kỳ, không tính lại theo các lần sắp xếp đơn vị.".to_owned()
            }
            (Basis::HistoricalStructure, Language::English) => {
                "Figures are stated on the structure of units in force in each period, not restated for reorganisations.".to_owned()
            }
        }
    }

    fn status_split(&self) -> String {
        let StatusFigures {
            total,
            completed_on_time,
            completed_late,
            open_within_deadline,
            open_overdue,
        } = self.figures.national;
        let share = |count| self.percent(count, total, 2);
        match self.language {
            Language::Vietnamese => format!(
                "Số công việc hoàn thành đạt mức {}%, hoàn thành trễ hạn là {}%, chưa hoàn thành nhưng còn thời hạn là {}% và chưa hoàn thành và quá thời hạn là {}%.",
                share(completed_on_time),
                share(completed_late),
                share(open_within_deadline),
                share(open_overdue)
            ),
            Language::English => format!(
                "{}% of tasks were completed on time, {}% were completed late, {}% were not completed but still within their deadline, and {}% were not completed and overdue.",
                share(completed_on_time),
                share(completed_late),
                share(open_within_deadline),
                share(open_overdue)
            ),
        }
    }
}
