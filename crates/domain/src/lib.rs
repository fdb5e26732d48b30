//! Domain types and rules of tasknet, free of I/O: civil dates in Vietnam
//! time, reporting periods, unit categories, the four-way task status
//! classification, the field-level validation errors, and the one shape of a
//! service error and its one conversion to `tonic::Status`.

pub mod category;
pub mod date;
pub mod error;
pub mod history;
pub mod period;
pub mod service_error;
pub mod status;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;

pub use category::{category_from_i32, category_name_en, category_name_vi};
pub use date::{
    VIETNAM_OFFSET_SECONDS, date_from_proto, date_from_storage, date_to_proto, date_to_storage,
    optional_date_from_proto, timestamp_from_proto, timestamp_to_proto, vietnam_date,
    vietnam_start_of_day,
};
pub use error::FieldError;
pub use history::{
    ChangeKind, Conflict, FoldedTask, HistoryChange, TaskHistory, TaskOrigin, change_from_event,
    effective_order, history_from_events,
};
pub use period::{DatePeriod, previous_year_date};
pub use service_error::{ServiceError, Violation, to_status, violated_field};
pub use status::{StatusClass, TaskTimeline, TimelineEvent, TimelineSegment, TimelineState};
