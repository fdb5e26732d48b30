//! Unit contacts: the people a unit's notifications go to (a focal point, a
//! head), with the language they read and the hours they are not to be
//! disturbed. Here: the validated content a client controls
//! ([`ContactFields`]), the stored contact ([`StoredContact`]) and their
//! conversion from and to the wire. Storage is in [`store`], the RPCs in
//! [`handlers`].
//!
//! Choices the contract leaves open: a role must be given (a contact with
//! no role would leave escalations without a head, so it is refused, not
//! guessed); an unspecified language is stored as Vietnamese, as the
//! contract says it means; a contact's unit is fixed at creation.

mod handlers;
pub(crate) mod store;

use chrono::{DateTime, Utc};
use tasknet_domain::FieldError;
use tasknet_proto::v1::{self, ContactRole, Language};

/// Longest contact name, in characters (as unit names).
const MAX_NAME_CHARS: usize = 300;
/// Longest address (RFC 5321's path limit less the brackets).
const MAX_EMAIL_CHARS: usize = 254;
/// Longest local part (before the `@`), RFC 5321.
const MAX_LOCAL_PART_CHARS: usize = 64;
/// Minutes in a day: quiet hours are minutes after midnight below it.
const MINUTES_PER_DAY: i32 = 24 * 60;

/// The fields UpdateUnitContact can replace, as named in `update_mask`.
pub const UPDATABLE_CONTACT_PATHS: &[&str] = &[
    "name",
    "role",
    "email",
    "language",
    "quiet_hours",
    "opted_out",
];

/// A quiet window in minutes after local midnight; may wrap midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quiet {
    pub start_minute: i32,
    pub end_minute: i32,
}

/// The part of a contact its owner sets; everything else is the server's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactFields {
    /// Lower-case hyphenated UUID of an existing unit.
    pub unit_id: String,
    pub name: String,
    pub role: ContactRole,
    pub email: String,
    /// Never `Unspecified`: that is stored as Vietnamese.
    pub language: Language,
    pub quiet_hours: Option<Quiet>,
    pub opted_out: bool,
}

/// A contact as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContact {
    pub id: String,
    pub fields: ContactFields,
    pub version: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

impl StoredContact {
    /// The contact as the audit log records it.
    pub fn to_json(&self) -> String {
        let f = &self.fields;
        serde_json::json!({
            "id": self.id, "unit_id": f.unit_id, "name": f.name,
            "role": f.role.as_str_name(), "email": f.email,
            "language": f.language.as_str_name(),
            "quiet_hours": f.quiet_hours.map(|q| serde_json::json!({
                "start_minute": q.start_minute, "end_minute": q.end_minute,
            })),
            "opted_out": f.opted_out, "version": self.version,
        })
        .to_string()
    }

    pub fn to_proto(&self) -> v1::UnitContact {
        let f = &self.fields;
        v1::UnitContact {
            id: self.id.clone(),
            unit_id: f.unit_id.clone(),
            name: f.name.clone(),
            role: f.role as i32,
            email: f.email.clone(),
            language: f.language as i32,
            quiet_hours: f.quiet_hours.map(|q| v1::QuietHours {
                start_minute: q.start_minute,
                end_minute: q.end_minute,
            }),
            opted_out: f.opted_out,
            version: self.version,
            create_time: Some(tasknet_domain::timestamp_to_proto(self.create_time)),
            update_time: Some(tasknet_domain::timestamp_to_proto(self.update_time)),
        }
    }
}

/// Validates and normalises a contact from the wire; fields are named
/// `{prefix}.name` and so on. Whether the unit exists is the store's check.
pub fn contact_fields_from_proto(
    prefix: &str,
    contact: &v1::UnitContact,
) -> Result<ContactFields, FieldError> {
    let field = |name: &str| format!("{prefix}.{name}");
    let unit_id = crate::model::optional_uuid(&field("unit_id"), &contact.unit_id)?
        .ok_or_else(|| FieldError::missing(field("unit_id")))?;
    Ok(ContactFields {
        unit_id,
        name: validate_name(&field("name"), &contact.name)?,
        role: role_from_i32(&field("role"), contact.role)?,
        email: validate_email(&field("email"), &contact.email)?,
        language: language_from_i32(&field("language"), contact.language)?,
        quiet_hours: quiet_from_proto(&field("quiet_hours"), contact.quiet_hours.as_ref())?,
        opted_out: contact.opted_out,
    })
}

fn validate_name(field: &str, name: &str) -> Result<String, FieldError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(FieldError::missing(field));
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new(
            field,
            format!("is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    // Names are written into messages' greetings and subject lines.
    tasknet_domain::text::check_line(field, trimmed)?;
    Ok(trimmed.to_owned())
}

pub fn role_from_i32(field: &str, value: i32) -> Result<ContactRole, FieldError> {
    match ContactRole::try_from(value) {
        Ok(ContactRole::Unspecified) => Err(FieldError::new(
            field,
            "is required (CONTACT_ROLE_FOCAL_POINT or CONTACT_ROLE_HEAD)",
        )),
        Ok(role) => Ok(role),
        Err(_) => Err(FieldError::new(field, format!("{value} is not a role"))),
    }
}

fn language_from_i32(field: &str, value: i32) -> Result<Language, FieldError> {
    match Language::try_from(value) {
        Ok(Language::Unspecified) => Ok(Language::Vi),
        Ok(language) => Ok(language),
        Err(_) => Err(FieldError::new(field, format!("{value} is not a language"))),
    }
}

fn quiet_from_proto(
    field: &str,
    quiet: Option<&v1::QuietHours>,
) -> Result<Option<Quiet>, FieldError> {
    let Some(quiet) = quiet else {
        return Ok(None);
    };
    for (name, minute) in [
        ("start_minute", quiet.start_minute),
        ("end_minute", quiet.end_minute),
    ] {
        if !(0..MINUTES_PER_DAY).contains(&minute) {
            return Err(FieldError::new(
                format!("{field}.{name}"),
                format!("{minute} is not a minute of the day (0 to 1439)"),
            ));
        }
    }
    if quiet.start_minute == quiet.end_minute {
        return Err(FieldError::new(
            field,
            "start and end are the same minute (leave quiet_hours unset for none)",
        ));
    }
    Ok(Some(Quiet {
        start_minute: quiet.start_minute,
        end_minute: quiet.end_minute,
    }))
}

/// One plausible address, `local@domain.tld`: not a list, not a display
/// name with angle brackets, no spaces. Whether it receives mail is for the
/// mail server to say; this catches typing mistakes and pasted lists.
/// The domain is lower-cased (domains are case-insensitive); the local
/// part is kept as written.
fn validate_email(field: &str, email: &str) -> Result<String, FieldError> {
    let email = email.trim();
    if email.is_empty() {
        return Err(FieldError::missing(field));
    }
    let refuse = |why: &str| Err(FieldError::new(field, format!("{email:?} {why}")));
    if email.chars().count() > MAX_EMAIL_CHARS {
        return refuse(&format!("is longer than {MAX_EMAIL_CHARS} characters"));
    }
    if let Some(c) = email
        .chars()
        .find(|&c| c.is_whitespace() || c.is_control() || matches!(c, ',' | ';' | '<' | '>'))
    {
        return refuse(&format!(
            "is not one address: it contains {c:?} (give a single address)"
        ));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return refuse("is not an address: it has no @");
    };
    if domain.contains('@') {
        return refuse("is not one address: it has more than one @");
    }
    if local.is_empty() || local.chars().count() > MAX_LOCAL_PART_CHARS {
        return refuse(&format!(
            "has no name before the @, or one longer than {MAX_LOCAL_PART_CHARS} characters"
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return refuse("has a misplaced dot before the @");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return refuse("does not end in a domain name like example.vn");
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> v1::UnitContact {
        v1::UnitContact {
            unit_id: "0190A5B2-7C3D-7E4F-8A1B-2C3D4E5F6A7B".into(),
            name: "  Nguyễn Văn An ".into(),
            role: ContactRole::FocalPoint as i32,
            email: " an.nguyen@GSO.gov.vn ".into(),
            ..Default::default()
        }
    }

    #[test]
    fn valid_contacts_are_normalised() {
        let fields = contact_fields_from_proto("contact", &valid()).unwrap();
        assert_eq!(fields.unit_id, "0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b");
        assert_eq!(fields.name, "Nguyễn Văn An");
        assert_eq!(fields.email, "an.nguyen@gso.gov.vn");
        assert_eq!(fields.language, Language::Vi);
        assert_eq!(fields.quiet_hours, None);
    }

    #[test]
    fn quiet_hours_may_wrap_midnight() {
        let mut contact = valid();
        contact.quiet_hours = Some(v1::QuietHours {
            start_minute: 22 * 60,
            end_minute: 6 * 60,
        });
        let fields = contact_fields_from_proto("contact", &contact).unwrap();
        assert_eq!(
            fields.quiet_hours,
            Some(Quiet {
                start_minute: 1320,
                end_minute: 360
            })
        );
    }

    #[test]
    fn each_invalid_field_is_named() {
        type Mutation = Box<dyn Fn(&mut v1::UnitContact)>;
        let quiet = |start_minute, end_minute| {
            Some(v1::QuietHours {
                start_minute,
                end_minute,
            })
        };
        let cases: Vec<(&str, Mutation)> = vec![
            ("contact.unit_id", Box::new(|c| c.unit_id.clear())),
            ("contact.unit_id", Box::new(|c| c.unit_id = "01".into())),
            ("contact.name", Box::new(|c| c.name = "   ".into())),
            ("contact.name", Box::new(|c| c.name = "An\nB".into())),
            ("contact.name", Box::new(|c| c.name = "a".repeat(301))),
            ("contact.role", Box::new(|c| c.role = 0)),
            ("contact.role", Box::new(|c| c.role = 9)),
            ("contact.language", Box::new(|c| c.language = 9)),
            ("contact.email", Box::new(|c| c.email.clear())),
            ("contact.email", Box::new(|c| c.email = "an".into())),
            ("contact.email", Box::new(|c| c.email = "a@b@c.vn".into())),
            ("contact.email", Box::new(|c| c.email = "a@gso".into())),
            ("contact.email", Box::new(|c| c.email = "@gso.vn".into())),
            ("contact.email", Box::new(|c| c.email = "a@gso..vn".into())),
            ("contact.email", Box::new(|c| c.email = "a@-gso.vn".into())),
            ("contact.email", Box::new(|c| c.email = ".a@gso.vn".into())),
            (
                "contact.email",
                Box::new(|c| c.email = "a@gso.vn, b@gso.vn".into()),
            ),
            (
                "contact.email",
                Box::new(|c| c.email = "a@gso.vn;b@gso.vn".into()),
            ),
            (
                "contact.email",
                Box::new(|c| c.email = "An <a@gso.vn>".into()),
            ),
            (
                "contact.email",
                Box::new(|c| c.email = format!("{}@gso.vn", "a".repeat(65))),
            ),
            (
                "contact.quiet_hours.start_minute",
                Box::new(move |c| c.quiet_hours = quiet(-1, 10)),
            ),
            (
                "contact.quiet_hours.end_minute",
                Box::new(move |c| c.quiet_hours = quiet(0, 1440)),
            ),
            (
                "contact.quiet_hours",
                Box::new(move |c| c.quiet_hours = quiet(600, 600)),
            ),
        ];
        for (field, mutate) in cases {
            let mut contact = valid();
            mutate(&mut contact);
            let error = contact_fields_from_proto("contact", &contact).unwrap_err();
            assert_eq!(error.field, field, "{contact:?}: {error}");
        }
    }

    #[test]
    fn the_audit_view_names_enums_and_quiet_hours() {
        let mut fields = contact_fields_from_proto("contact", &valid()).unwrap();
        fields.quiet_hours = Some(Quiet {
            start_minute: 0,
            end_minute: 1,
        });
        let contact = StoredContact {
            id: "c".into(),
            fields,
            version: 1,
            create_time: Utc::now(),
            update_time: Utc::now(),
        };
        let json: serde_json::Value = serde_json::from_str(&contact.to_json()).unwrap();
        assert_eq!(json["role"], "CONTACT_ROLE_FOCAL_POINT");
        assert_eq!(json["language"], "LANGUAGE_VI");
        assert_eq!(json["quiet_hours"]["end_minute"], 1);
    }
}
