//! The demo's unit contacts, so notifications have recipients out of the
//! box: for every unit valid on the demo's last day, a focal point (đầu
//! mối), and for each provincial office also its head (thủ trưởng).
//! Addresses are under the reserved domain `example.invalid`
//! (`dau-moi.01@example.invalid`, `thu-truong.01@example.invalid`), which
//! no mail can reach. Most read Vietnamese; the international cooperation
//! department and the focal points of Đà Nẵng and Hồ Chí Minh City read
//! English. Heads have quiet hours 22:00–06:00, focal points none.
//!
//! Ids are derived from the unit and the role, so a repeated load finds
//! them: contacts already there (even if edited since) are left alone.

use std::collections::HashSet;

use anyhow::Context;
use chrono::NaiveDate;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::{self, ContactRole, Language, UnitCategory};
use tasknet_server::ClientOptions;
use uuid::Uuid;

use crate::load::channel;

/// The namespace of the demo contacts' UUIDv5 ids.
const CONTACT_NAMESPACE: Uuid = Uuid::from_u128(0x5d0c_7a1e_3b2f_4c8d_9e6a_1f0b_2c3d_4e5f);
/// Units whose focal point reads English.
const ENGLISH_FOCAL_POINTS: &[&str] = &["HTQT", "48", "79"];
/// Heads' quiet hours, minutes after midnight (Vietnam time): 22:00–06:00.
const HEAD_QUIET_HOURS: (i32, i32) = (22 * 60, 6 * 60);

const FAMILY_NAMES: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý",
];
const MIDDLE_NAMES: &[&str] = &[
    "Văn", "Thị", "Minh", "Thanh", "Hữu", "Ngọc", "Quốc", "Thu", "Đức",
];
const GIVEN_NAMES: &[&str] = &[
    "An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Hằng", "Hiếu", "Hoa", "Hùng", "Hương",
    "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Phong", "Phương", "Quân", "Sơn", "Tâm",
    "Thảo", "Trang", "Tuấn", "Vân",
];

/// The demo's contacts for `units` (any list; those valid on `last_day`
/// get contacts), each with its id set, in (unit code, role) order.
pub fn demo_contacts(units: &[v1::Unit], last_day: NaiveDate) -> Vec<v1::UnitContact> {
    let mut valid: Vec<&v1::Unit> = units
        .iter()
        .filter(|unit| is_valid_on(unit, last_day))
        .collect();
    valid.sort_by(|a, b| a.code.cmp(&b.code));
    let mut contacts = Vec::new();
    for unit in valid {
        contacts.push(contact(unit, ContactRole::FocalPoint));
        if unit.category == UnitCategory::ProvincialOffice as i32 {
            contacts.push(contact(unit, ContactRole::Head));
        }
    }
    contacts
}

fn is_valid_on(unit: &v1::Unit, day: NaiveDate) -> bool {
    let date = |d: Option<&v1::Date>| tasknet_domain::optional_date_from_proto("date", d);
    match (date(unit.valid_from.as_ref()), date(unit.valid_to.as_ref())) {
        (Ok(Some(from)), Ok(to)) => from <= day && to.is_none_or(|to| to >= day),
        _ => false,
    }
}

fn contact(unit: &v1::Unit, role: ContactRole) -> v1::UnitContact {
    let (prefix, role_key) = match role {
        ContactRole::Head => ("thu-truong", "head"),
        _ => ("dau-moi", "focal-point"),
    };
    let key = format!("contact:{role_key}:{}", unit.id);
    let english =
        role == ContactRole::FocalPoint && ENGLISH_FOCAL_POINTS.contains(&unit.code.as_str());
    v1::UnitContact {
        id: Uuid::new_v5(&CONTACT_NAMESPACE, key.as_bytes()).to_string(),
        unit_id: unit.id.clone(),
        name: person_name(&key),
        role: role as i32,
        email: format!("{prefix}.{}@example.invalid", unit.code.to_lowercase()),
        language: (if english { Language::En } else { Language::Vi }) as i32,
        quiet_hours: (role == ContactRole::Head).then_some(v1::QuietHours {
            start_minute: HEAD_QUIET_HOURS.0,
            end_minute: HEAD_QUIET_HOURS.1,
        }),
        ..Default::default()
    }
}

/// A Vietnamese name picked by a stable hash of `key` (FNV-1a): the same
/// unit and role always get the same person.
fn person_name(key: &str) -> String {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    let pick = |list: &[&'static str], shift: u32| {
        let len = list.len() as u64;
        list[usize::try_from((hash >> shift) % len).unwrap_or(0)]
    };
    format!(
        "{} {} {}",
        pick(FAMILY_NAMES, 0),
        pick(MIDDLE_NAMES, 16),
        pick(GIVEN_NAMES, 32)
    )
}

/// What loading the contacts did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactsSummary {
    /// Created by this load (0 on a repeat).
    pub created: usize,
    /// The demo's contacts in all.
    pub total: usize,
}

impl std::fmt::Display for ContactsSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} unit contacts ({} created now): a focal point for each unit, and a head for \
             each provincial office, at example.invalid",
            self.total, self.created
        )
    }
}

/// Creates the demo's contacts that are missing from the organisation
/// service at `endpoint`; `units` as [`crate::load_units`] returns them.
pub async fn load_contacts(
    endpoint: &str,
    options: &ClientOptions,
    units: &[v1::Unit],
    last_day: NaiveDate,
) -> anyhow::Result<ContactsSummary> {
    let mut client = OrganisationServiceClient::new(channel(endpoint, options)?);
    let mut present = HashSet::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_unit_contacts(v1::ListUnitContactsRequest {
                unit_id: String::new(),
                page_size: 1000,
                page_token,
            })
            .await
            .context("ListUnitContacts failed")?
            .into_inner();
        present.extend(page.contacts.into_iter().map(|c| c.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let contacts = demo_contacts(units, last_day);
    let mut created = 0;
    for contact in &contacts {
        if present.contains(&contact.id) {
            continue;
        }
        client
            .create_unit_contact(v1::CreateUnitContactRequest {
                contact_id: contact.id.clone(),
                contact: Some(contact.clone()),
            })
            .await
            .with_context(|| format!("CreateUnitContact {} failed", contact.email))?;
        created += 1;
    }
    Ok(ContactsSummary {
        created,
        total: contacts.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(
        code: &str,
        category: UnitCategory,
        from: (i32, i32),
        to: Option<(i32, i32)>,
    ) -> v1::Unit {
        let date = |(year, month): (i32, i32)| v1::Date {
            year,
            month,
            day: 1,
        };
        v1::Unit {
            id: Uuid::new_v5(&Uuid::NAMESPACE_OID, code.as_bytes()).to_string(),
            code: code.to_owned(),
            category: category as i32,
            valid_from: Some(date(from)),
            valid_to: to.map(date),
            ..Default::default()
        }
    }

    #[test]
    fn units_valid_on_the_last_day_get_a_focal_point_and_offices_a_head() {
        let last_day = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
        let units = [
            unit("TCTK", UnitCategory::Headquarters, (2008, 1), None),
            unit("HTQT", UnitCategory::CentralDepartment, (2008, 1), None),
            unit("79", UnitCategory::ProvincialOffice, (2025, 7), None),
            // Merged away before the end: no contacts.
            unit(
                "74",
                UnitCategory::ProvincialOffice,
                (2008, 1),
                Some((2025, 6)),
            ),
        ];
        let contacts = demo_contacts(&units, last_day);
        let emails: Vec<&str> = contacts.iter().map(|c| c.email.as_str()).collect();
        assert_eq!(
            emails,
            [
                "dau-moi.79@example.invalid",
                "thu-truong.79@example.invalid",
                "dau-moi.htqt@example.invalid",
                "dau-moi.tctk@example.invalid",
            ]
        );
        let english: Vec<&str> = contacts
            .iter()
            .filter(|c| c.language == Language::En as i32)
            .map(|c| c.email.as_str())
            .collect();
        assert_eq!(
            english,
            ["dau-moi.79@example.invalid", "dau-moi.htqt@example.invalid"]
        );
        let quiet: Vec<bool> = contacts.iter().map(|c| c.quiet_hours.is_some()).collect();
        assert_eq!(quiet, [false, true, false, false]);
        // Deterministic: the same ids and names every time, all distinct ids.
        assert_eq!(demo_contacts(&units, last_day), contacts);
        let ids: HashSet<&str> = contacts.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids.len(), contacts.len());
        for contact in &contacts {
            assert_eq!(contact.name.split(' ').count(), 3, "{}", contact.name);
        }
    }
}
