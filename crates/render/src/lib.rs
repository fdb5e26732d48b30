//! Renders report figures the way the statistics office's review report
//! prints them: the narrative paragraphs in Vietnamese and English, numbers
//! in each language's format, percentages truncated (the source's rule) or
//! rounded half-to-even, and the same figures as SDMX-CSV observations.

pub mod figures;
pub mod narrative;
pub mod numbers;
pub mod scorecard_sdmx;
pub mod sdmx;

pub use figures::{
    Basis, CategoryFigures, PlanFigures, PlanKindFigures, StatusFigures, SummaryFigures,
    headline_plan,
};
pub use narrative::{Language, narrative};
pub use numbers::{NumberStyle, Rounding, format_count, format_percent};
pub use sdmx::sdmx_csv;
