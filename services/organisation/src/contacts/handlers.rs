//! The unit-contact RPCs, free of the transport: validation, then the store.
//! `service.rs` wires them to the generated trait.

use tasknet_auth::{AuditEntry, AuthContext};
use tasknet_domain::FieldError;
use tasknet_proto::v1;

use super::store::{self, ContactCursor};
use super::{UPDATABLE_CONTACT_PATHS, contact_fields_from_proto};
use crate::error::Error;
use crate::model::{canonical_uuid, optional_uuid};
use crate::page_token;
use crate::service::{Organisation, creation_id, page_size};

/// The contact listing's kind of page token.
const TOKEN_KIND: &str = "c1";

impl Organisation {
    /// CreateUnitContact: a repeat with the same id and content is
    /// acknowledged; other content under the same id is ALREADY_EXISTS.
    pub(crate) async fn create_contact(
        &self,
        request: &v1::CreateUnitContactRequest,
        context: &AuthContext,
    ) -> Result<v1::UnitContact, Error> {
        let contact = request
            .contact
            .as_ref()
            .ok_or_else(|| FieldError::missing("contact"))?;
        let id = creation_id(
            ("contact_id", &request.contact_id),
            ("contact.id", &contact.id),
        )?;
        let fields = contact_fields_from_proto("contact", contact)?;
        let audit = AuditEntry::accepted(context, format!("contact/{id}"), &fields.unit_id);
        let (stored, created) =
            store::create(self.store().database(), &id, fields, Some(audit)).await?;
        tracing::info!(contact_id = %stored.id, unit_id = %stored.fields.unit_id, created, "create unit contact");
        Ok(stored.to_proto())
    }

    /// UpdateUnitContact: the masked fields are replaced; the unit stays.
    pub(crate) async fn update_contact(
        &self,
        request: &v1::UpdateUnitContactRequest,
        context: &AuthContext,
    ) -> Result<v1::UnitContact, Error> {
        let contact = request
            .contact
            .as_ref()
            .ok_or_else(|| FieldError::missing("contact"))?;
        let id = canonical_uuid("contact.id", &contact.id)?;
        let paths = request
            .update_mask
            .as_ref()
            .map(|mask| mask.paths.clone())
            .unwrap_or_default();
        if paths.is_empty() {
            return Err(FieldError::missing("update_mask").into());
        }
        if let Some(unknown) = paths
            .iter()
            .find(|p| !UPDATABLE_CONTACT_PATHS.contains(&p.as_str()))
        {
            return Err(FieldError::new(
                "update_mask",
                format!(
                    "unknown path {unknown:?} (known: {})",
                    UPDATABLE_CONTACT_PATHS.join(", ")
                ),
            )
            .into());
        }
        let audit = AuditEntry::accepted(context, format!("contact/{id}"), "");
        let stored = store::update(
            self.store().database(),
            &id,
            &paths,
            contact,
            request.expected_version,
            Some(audit),
        )
        .await?;
        tracing::info!(contact_id = %id, version = stored.version, "update unit contact");
        Ok(stored.to_proto())
    }

    /// DeleteUnitContact: an unknown id is NOT_FOUND (so is a second delete).
    pub(crate) async fn delete_contact(
        &self,
        request: &v1::DeleteUnitContactRequest,
        context: &AuthContext,
    ) -> Result<(), Error> {
        let id = canonical_uuid("contact_id", &request.contact_id)?;
        let audit = AuditEntry::accepted(context, format!("contact/{id}"), "");
        let deleted = store::delete(self.store().database(), &id, Some(audit)).await?;
        tracing::info!(contact_id = %id, unit_id = %deleted.fields.unit_id, "delete unit contact");
        Ok(())
    }

    pub(crate) async fn get_contact(
        &self,
        request: &v1::GetUnitContactRequest,
    ) -> Result<v1::UnitContact, Error> {
        let id = canonical_uuid("contact_id", &request.contact_id)?;
        let contact = store::get(self.store().database(), &id)
            .await?
            .ok_or_else(|| Error::not_found("contact_id", format!("no contact {id}")))?;
        Ok(contact.to_proto())
    }

    /// ListUnitContacts: by unit, role, name (and id), in keyset pages.
    pub(crate) async fn list_contacts(
        &self,
        request: &v1::ListUnitContactsRequest,
    ) -> Result<v1::ListUnitContactsResponse, Error> {
        let unit_id = optional_uuid("unit_id", &request.unit_id)?;
        let page_size = page_size(request.page_size)?;
        let filters = unit_id.clone().unwrap_or_default();
        let cursor = decode_cursor(&filters, &request.page_token)?;
        let mut contacts = store::list(
            self.store().database(),
            unit_id.as_deref(),
            cursor.as_ref(),
            // One more than a page tells whether another page follows.
            i64::from(page_size) + 1,
        )
        .await?;
        let mut next_page_token = String::new();
        if contacts.len() > page_size as usize {
            contacts.truncate(page_size as usize);
            if let Some(last) = contacts.last() {
                next_page_token = encode_cursor(&filters, &ContactCursor::after(last));
            }
        }
        Ok(v1::ListUnitContactsResponse {
            contacts: contacts.iter().map(|c| c.to_proto()).collect(),
            next_page_token,
        })
    }
}

fn encode_cursor(filters: &str, cursor: &ContactCursor) -> String {
    page_token::seal(
        TOKEN_KIND,
        filters,
        &[
            cursor.unit_id.as_str(),
            &cursor.role.to_string(),
            &cursor.name,
            &cursor.id,
        ],
    )
}

fn decode_cursor(filters: &str, token: &str) -> Result<Option<ContactCursor>, FieldError> {
    let Some(parts) = page_token::open(TOKEN_KIND, filters, token)? else {
        return Ok(None);
    };
    let invalid = || FieldError::new("page_token", "is not a token this service issued");
    let [unit_id, role, name, id] = parts.as_slice() else {
        return Err(invalid());
    };
    let role = role.parse::<i64>().map_err(|_| invalid())?;
    if uuid::Uuid::try_parse(unit_id).is_err() || uuid::Uuid::try_parse(id).is_err() {
        return Err(invalid());
    }
    Ok(Some(ContactCursor {
        unit_id: unit_id.clone(),
        role,
        name: name.clone(),
        id: id.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_tokens_round_trip_and_are_bound_to_the_unit_filter() {
        let cursor = ContactCursor {
            unit_id: "0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b".into(),
            role: 2,
            name: "Trần Thị Bình".into(),
            id: "0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7c".into(),
        };
        let token = encode_cursor("", &cursor);
        assert_eq!(decode_cursor("", &token).unwrap(), Some(cursor.clone()));
        assert_eq!(decode_cursor("", "").unwrap(), None);
        let other = decode_cursor(&cursor.unit_id, &token).unwrap_err();
        assert_eq!(other.field, "page_token");
        // A unit listing's token is not a contact listing's.
        let units = page_token::seal("u1", "", &["01", cursor.id.as_str()]);
        assert_eq!(decode_cursor("", &units).unwrap_err().field, "page_token");
        for garbage in ["zz", "00", &hex::encode("c1\u{1f}x")] {
            assert_eq!(decode_cursor("", garbage).unwrap_err().field, "page_token");
        }
    }
}
