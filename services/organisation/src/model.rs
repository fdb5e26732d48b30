//! Units as the service holds them: the validated content a client controls
//! ([`UnitFields`]), the stored unit ([`StoredUnit`]), and their conversion
//! from and to the wire.

use chrono::{DateTime, NaiveDate, Utc};
use tasknet_domain::{FieldError, error::parse_uuid};
use tasknet_proto::v1::{self, UnitCategory};

/// Longest code accepted: administrative codes are short ("01", "TCTK").
const MAX_CODE_CHARS: usize = 32;
/// Longest name accepted, in characters.
const MAX_NAME_CHARS: usize = 300;
/// Longest region code accepted.
const MAX_REGION_CHARS: usize = 16;

/// The part of a unit its owner sets; everything else is the server's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFields {
    pub category: UnitCategory,
    /// Lower-case hyphenated UUID, `None` for a root.
    pub parent_id: Option<String>,
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub region_code: Option<String>,
    pub valid_from: NaiveDate,
    /// Inclusive; `None` while the unit exists.
    pub valid_to: Option<NaiveDate>,
}

/// A unit as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUnit {
    pub id: String,
    pub fields: UnitFields,
    pub version: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

impl StoredUnit {
    /// The unit as the audit log records it.
    pub fn to_json(&self) -> String {
        let f = &self.fields;
        serde_json::json!({
            "id": self.id, "category": f.category.as_str_name(), "parent_id": f.parent_id,
            "code": f.code, "name_vi": f.name_vi, "name_en": f.name_en,
            "region_code": f.region_code, "valid_from": f.valid_from.to_string(),
            "valid_to": f.valid_to.map(|d| d.to_string()), "version": self.version,
        })
        .to_string()
    }

    pub fn to_proto(&self) -> v1::Unit {
        let fields = &self.fields;
        v1::Unit {
            id: self.id.clone(),
            category: fields.category as i32,
            parent_id: fields.parent_id.clone().unwrap_or_default(),
            code: fields.code.clone(),
            name_vi: fields.name_vi.clone(),
            name_en: fields.name_en.clone(),
            region_code: fields.region_code.clone().unwrap_or_default(),
            valid_from: Some(tasknet_domain::date_to_proto(fields.valid_from)),
            valid_to: fields.valid_to.map(tasknet_domain::date_to_proto),
            version: self.version,
            create_time: Some(tasknet_domain::timestamp_to_proto(self.create_time)),
            update_time: Some(tasknet_domain::timestamp_to_proto(self.update_time)),
        }
    }
}

/// Normalises a UUID field to the stored form (lower-case, hyphenated).
pub fn canonical_uuid(field: &str, value: &str) -> Result<String, FieldError> {
    parse_uuid(field, value).map(|id| id.hyphenated().to_string())
}

/// An optional UUID field: empty is `None`.
pub fn optional_uuid(field: &str, value: &str) -> Result<Option<String>, FieldError> {
    if value.is_empty() {
        return Ok(None);
    }
    canonical_uuid(field, value).map(Some)
}

/// Validates every client-set field of `unit`; `prefix` is the path of the
/// unit in the request (`unit`), so errors read `unit.code: is required`.
pub fn fields_from_proto(prefix: &str, unit: &v1::Unit) -> Result<UnitFields, FieldError> {
    let field = |name: &str| format!("{prefix}.{name}");
    let category = tasknet_domain::category_from_i32(&field("category"), unit.category)?;
    let parent_id = optional_uuid(&field("parent_id"), &unit.parent_id)?;
    let code = validate_code(&field("code"), &unit.code)?;
    let name_vi = validate_name(&field("name_vi"), &unit.name_vi, true)?;
    let name_en = validate_name(&field("name_en"), &unit.name_en, false)?;
    let region_code = validate_region_code(&field("region_code"), &unit.region_code)?;
    let valid_from =
        tasknet_domain::date_from_proto(&field("valid_from"), unit.valid_from.as_ref())?;
    let valid_to =
        tasknet_domain::optional_date_from_proto(&field("valid_to"), unit.valid_to.as_ref())?;
    let fields = UnitFields {
        category,
        parent_id,
        code,
        name_vi,
        name_en,
        region_code,
        valid_from,
        valid_to,
    };
    check_interval(prefix, &fields)?;
    Ok(fields)
}

/// The validity interval is not empty.
pub fn check_interval(prefix: &str, fields: &UnitFields) -> Result<(), FieldError> {
    match fields.valid_to {
        Some(valid_to) if valid_to < fields.valid_from => Err(FieldError::new(
            format!("{prefix}.valid_to"),
            format!("{valid_to} is before valid_from {}", fields.valid_from),
        )),
        _ => Ok(()),
    }
}

fn validate_code(field: &str, code: &str) -> Result<String, FieldError> {
    if code.is_empty() {
        return Err(FieldError::missing(field));
    }
    if code.chars().count() > MAX_CODE_CHARS {
        return Err(FieldError::new(
            field,
            format!("is longer than {MAX_CODE_CHARS} characters"),
        ));
    }
    // Codes are typed into filters and printed in tables: no spaces or
    // control characters that would make two codes look alike.
    if code.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(FieldError::new(
            field,
            format!("{code:?} contains spaces or control characters"),
        ));
    }
    Ok(code.to_owned())
}

fn validate_name(field: &str, name: &str, required: bool) -> Result<String, FieldError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return if required {
            Err(FieldError::missing(field))
        } else {
            Ok(String::new())
        };
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new(
            field,
            format!("is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::new(field, "contains control characters"));
    }
    Ok(trimmed.to_owned())
}

fn validate_region_code(field: &str, code: &str) -> Result<Option<String>, FieldError> {
    if code.is_empty() {
        return Ok(None);
    }
    if code.chars().count() > MAX_REGION_CHARS
        || code.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(FieldError::new(
            field,
            format!("{code:?} is not a region code"),
        ));
    }
    Ok(Some(code.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> v1::Unit {
        v1::Unit {
            category: UnitCategory::ProvincialOffice as i32,
            code: "01".into(),
            name_vi: " Cục Thống kê Hà Nội ".into(),
            valid_from: Some(v1::Date {
                year: 2008,
                month: 8,
                day: 1,
            }),
            parent_id: "0190A5B2-7C3D-7E4F-8A1B-2C3D4E5F6A7B".into(),
            ..Default::default()
        }
    }

    #[test]
    fn valid_units_are_normalised() {
        let fields = fields_from_proto("unit", &valid()).unwrap();
        assert_eq!(fields.name_vi, "Cục Thống kê Hà Nội");
        assert_eq!(
            fields.parent_id.as_deref(),
            Some("0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b")
        );
        assert_eq!(fields.region_code, None);
        assert_eq!(fields.valid_to, None);
    }

    #[test]
    fn each_invalid_field_is_named() {
        type Mutation = Box<dyn Fn(&mut v1::Unit)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("unit.category", Box::new(|u| u.category = 0)),
            ("unit.category", Box::new(|u| u.category = 77)),
            ("unit.code", Box::new(|u| u.code.clear())),
            ("unit.code", Box::new(|u| u.code = "0 1".into())),
            ("unit.name_vi", Box::new(|u| u.name_vi = "  ".into())),
            ("unit.parent_id", Box::new(|u| u.parent_id = "x".into())),
            ("unit.valid_from", Box::new(|u| u.valid_from = None)),
            (
                "unit.valid_from",
                Box::new(|u| {
                    u.valid_from = Some(v1::Date {
                        year: 2024,
                        month: 2,
                        day: 30,
                    })
                }),
            ),
            (
                "unit.valid_to",
                Box::new(|u| {
                    u.valid_to = Some(v1::Date {
                        year: 2008,
                        month: 7,
                        day: 31,
                    })
                }),
            ),
            (
                "unit.region_code",
                Box::new(|u| u.region_code = "R R".into()),
            ),
        ];
        for (field, mutate) in cases {
            let mut unit = valid();
            mutate(&mut unit);
            let error = fields_from_proto("unit", &unit).unwrap_err();
            assert_eq!(error.field, field, "{error}");
        }
    }

    #[test]
    fn a_one_day_interval_is_allowed() {
        let mut unit = valid();
        unit.valid_to = unit.valid_from;
        assert!(fields_from_proto("unit", &unit).is_ok());
    }
}
