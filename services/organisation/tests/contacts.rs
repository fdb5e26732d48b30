//! Unit contacts over real gRPC, on SQLite and on PostgreSQL: each RPC, each
//! refusal (and that a refusal changes nothing), idempotent creation,
//! keyset pagination in (unit, role, name) order, and the audit records.
// A test crate: a panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tasknet_organisation::reference::{self, HEADQUARTERS_CODE};
use tasknet_proto::prost_types::FieldMask;
use tasknet_proto::tonic::{Code, Status};
use tasknet_proto::v1::{self, ContactRole, Language, UnitCategory};
use tasknet_storage::testing::TestDatabase;

mod common;

use common::{Client, start};

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn hq() -> String {
    reference::reference_unit_id(UnitCategory::Headquarters, HEADQUARTERS_CODE)
}

fn province(code: &str) -> String {
    reference::reference_unit_id(UnitCategory::ProvincialOffice, code)
}

fn contact(unit_id: &str, name: &str, role: ContactRole, email: &str) -> v1::UnitContact {
    v1::UnitContact {
        unit_id: unit_id.to_owned(),
        name: name.to_owned(),
        role: role as i32,
        email: email.to_owned(),
        ..Default::default()
    }
}

fn focal_point() -> v1::UnitContact {
    contact(
        &province("01"),
        "Nguyễn Văn An",
        ContactRole::FocalPoint,
        "an.nguyen@example.invalid",
    )
}

fn quiet(start_minute: i32, end_minute: i32) -> Option<v1::QuietHours> {
    Some(v1::QuietHours {
        start_minute,
        end_minute,
    })
}

fn assert_error<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, field: &str) {
    let status = result.expect_err("the request should fail");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().starts_with(&format!("{field}:")),
        "expected the message to name {field}: {status:?}"
    );
}

async fn ready(db: TestDatabase) -> common::Running {
    let running = start(db).await;
    running
        .client
        .clone()
        .load_reference_units(v1::LoadReferenceUnitsRequest {})
        .await
        .unwrap();
    running
}

async fn create(
    client: &mut Client,
    contact_id: &str,
    contact: v1::UnitContact,
) -> Result<v1::UnitContact, Status> {
    let request = v1::CreateUnitContactRequest {
        contact_id: contact_id.to_owned(),
        contact: Some(contact),
    };
    Ok(client
        .create_unit_contact(request)
        .await?
        .into_inner()
        .contact
        .unwrap())
}

async fn update(
    client: &mut Client,
    contact: v1::UnitContact,
    paths: &[&str],
    expected_version: Option<i64>,
) -> Result<v1::UnitContact, Status> {
    let request = v1::UpdateUnitContactRequest {
        contact: Some(contact),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
        expected_version,
    };
    Ok(client
        .update_unit_contact(request)
        .await?
        .into_inner()
        .contact
        .unwrap())
}

async fn get(client: &mut Client, contact_id: &str) -> Result<v1::UnitContact, Status> {
    let request = v1::GetUnitContactRequest {
        contact_id: contact_id.to_owned(),
    };
    Ok(client
        .get_unit_contact(request)
        .await?
        .into_inner()
        .contact
        .unwrap())
}

async fn delete(client: &mut Client, contact_id: &str) -> Result<(), Status> {
    let request = v1::DeleteUnitContactRequest {
        contact_id: contact_id.to_owned(),
    };
    client.delete_unit_contact(request).await.map(drop)
}

/// Every contact (of `unit_id`, when not empty), walking pages of `page_size`.
async fn list_all(client: &mut Client, unit_id: &str, page_size: i32) -> Vec<v1::UnitContact> {
    let mut request = v1::ListUnitContactsRequest {
        unit_id: unit_id.to_owned(),
        page_size,
        page_token: String::new(),
    };
    let mut contacts = Vec::new();
    loop {
        let page = client
            .list_unit_contacts(request.clone())
            .await
            .unwrap()
            .into_inner();
        assert!(page.contacts.len() <= page_size.max(1) as usize);
        contacts.extend(page.contacts);
        if page.next_page_token.is_empty() {
            return contacts;
        }
        request.page_token = page.next_page_token;
    }
}

/// The accepted audit records about contacts, oldest first.
async fn contact_audit(client: &mut Client) -> Vec<v1::AuditRecord> {
    let records = client
        .list_audit_records(v1::ListAuditRecordsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    records
        .into_iter()
        .filter(|r| r.target.starts_with("contact/"))
        .collect()
}

async fn creates_gets_updates_and_deletes_a_contact(db: TestDatabase) {
    let running = ready(db).await;
    let mut client = running.client.clone();

    let id = new_id();
    let created = create(&mut client, &id, focal_point()).await.unwrap();
    assert_eq!(created.id, id);
    assert_eq!(created.unit_id, province("01"));
    assert_eq!(created.version, 1);
    assert_eq!(
        created.language,
        Language::Vi as i32,
        "unspecified is stored as Vietnamese"
    );
    assert_eq!(created.quiet_hours, None);
    assert!(!created.opted_out);
    assert!(created.create_time.is_some());
    assert_eq!(get(&mut client, &id).await.unwrap(), created);

    let patch = v1::UnitContact {
        id: id.clone(),
        name: "Nguyễn Văn Anh".into(),
        language: Language::En as i32,
        quiet_hours: quiet(22 * 60, 6 * 60),
        // Not in the mask: left alone.
        email: "ignored@example.invalid".into(),
        ..Default::default()
    };
    let updated = update(
        &mut client,
        patch,
        &["name", "language", "quiet_hours"],
        Some(1),
    )
    .await
    .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.name, "Nguyễn Văn Anh");
    assert_eq!(updated.language, Language::En as i32);
    assert_eq!(updated.quiet_hours, quiet(1320, 360));
    assert_eq!(updated.email, created.email);
    assert_eq!(updated.create_time, created.create_time);
    assert_eq!(get(&mut client, &id).await.unwrap(), updated);

    // Opting out, then clearing the quiet hours (unset under its path).
    let patch = v1::UnitContact {
        id: id.clone(),
        opted_out: true,
        ..Default::default()
    };
    let opted_out = update(&mut client, patch, &["opted_out", "quiet_hours"], None)
        .await
        .unwrap();
    assert!(opted_out.opted_out);
    assert_eq!(opted_out.quiet_hours, None);
    assert_eq!(opted_out.version, 3);

    // The same values again change nothing, not even the version.
    let same = v1::UnitContact {
        id: id.clone(),
        opted_out: true,
        ..Default::default()
    };
    let unchanged = update(&mut client, same, &["opted_out"], Some(3))
        .await
        .unwrap();
    assert_eq!(unchanged, opted_out);

    delete(&mut client, &id).await.unwrap();
    assert_error(get(&mut client, &id).await, Code::NotFound, "contact_id");
    assert_error(delete(&mut client, &id).await, Code::NotFound, "contact_id");
    assert!(list_all(&mut client, "", 100).await.is_empty());
}

async fn repeated_creations_are_acknowledged_once(db: TestDatabase) {
    let running = ready(db).await;
    let mut client = running.client.clone();

    let id = new_id();
    let first = create(&mut client, &id, focal_point()).await.unwrap();
    // The same id (in any case, in either field) and content: acknowledged.
    let mut inner = focal_point();
    inner.id = id.to_uppercase();
    let again = create(&mut client, "", inner).await.unwrap();
    assert_eq!(again, first, "the repeat returns the stored contact");

    let mut other = focal_point();
    other.name = "Người khác".into();
    assert_error(
        create(&mut client, &id, other).await,
        Code::AlreadyExists,
        "contact_id",
    );
    let mut mismatched = focal_point();
    mismatched.id = new_id();
    assert_error(
        create(&mut client, &id, mismatched).await,
        Code::InvalidArgument,
        "contact.id",
    );
    assert_eq!(
        list_all(&mut client, "", 100).await,
        std::slice::from_ref(&first)
    );
    assert_eq!(contact_audit(&mut client).await.len(), 1, "one creation");

    // Without an id the server makes a UUIDv7.
    let generated = create(
        &mut client,
        "",
        contact(
            &hq(),
            "Trần Thị Bình",
            ContactRole::Head,
            "binh@example.invalid",
        ),
    )
    .await
    .unwrap();
    let uuid = uuid::Uuid::parse_str(&generated.id).unwrap();
    assert_eq!(uuid.get_version_num(), 7);
}

async fn invalid_creations_are_refused_and_write_nothing(db: TestDatabase) {
    let running = ready(db).await;
    let mut client = running.client.clone();
    let existing = create(&mut client, &new_id(), focal_point()).await.unwrap();

    let missing = client
        .create_unit_contact(v1::CreateUnitContactRequest {
            contact_id: new_id(),
            contact: None,
        })
        .await;
    assert_error(missing, Code::InvalidArgument, "contact");
    assert_error(
        create(&mut client, "nope", focal_point()).await,
        Code::InvalidArgument,
        "contact_id",
    );

    type Mutation = Box<dyn Fn(&mut v1::UnitContact)>;
    let cases: Vec<(Code, &str, Mutation)> = vec![
        (
            Code::NotFound,
            "contact.unit_id",
            Box::new(|c| c.unit_id = new_id()),
        ),
        (
            Code::InvalidArgument,
            "contact.unit_id",
            Box::new(|c| c.unit_id.clear()),
        ),
        (
            Code::InvalidArgument,
            "contact.name",
            Box::new(|c| c.name = " ".into()),
        ),
        (
            Code::InvalidArgument,
            "contact.role",
            Box::new(|c| c.role = ContactRole::Unspecified as i32),
        ),
        (
            Code::InvalidArgument,
            "contact.language",
            Box::new(|c| c.language = 42),
        ),
        (
            Code::InvalidArgument,
            "contact.email",
            Box::new(|c| c.email = "a@example.invalid, b@example.invalid".into()),
        ),
        (
            Code::InvalidArgument,
            "contact.email",
            Box::new(|c| c.email = "not an address".into()),
        ),
        (
            Code::InvalidArgument,
            "contact.quiet_hours",
            Box::new(|c| c.quiet_hours = quiet(600, 600)),
        ),
        (
            Code::InvalidArgument,
            "contact.quiet_hours.end_minute",
            Box::new(|c| c.quiet_hours = quiet(600, 1440)),
        ),
        // The unit's focal point already has this address.
        (
            Code::AlreadyExists,
            "contact.email",
            Box::new(|c| c.name = "Someone Else".into()),
        ),
    ];
    for (code, field, mutate) in cases {
        let mut contact = focal_point();
        mutate(&mut contact);
        assert_error(create(&mut client, &new_id(), contact).await, code, field);
    }
    // The same address as the unit's head is another contact.
    let mut head = focal_point();
    head.role = ContactRole::Head as i32;
    let head = create(&mut client, &new_id(), head).await.unwrap();

    let listed = list_all(&mut client, "", 100).await;
    assert_eq!(listed, [existing, head]);
    assert_eq!(contact_audit(&mut client).await.len(), 2);
}

async fn invalid_updates_are_refused_and_write_nothing(db: TestDatabase) {
    let running = ready(db).await;
    let mut client = running.client.clone();
    let id = new_id();
    let stored = create(&mut client, &id, focal_point()).await.unwrap();
    let mut head = focal_point();
    head.role = ContactRole::Head as i32;
    head.email = "head@example.invalid".into();
    let head = create(&mut client, &new_id(), head).await.unwrap();

    let patch = |change: fn(&mut v1::UnitContact)| {
        let mut contact = v1::UnitContact {
            id: id.clone(),
            ..stored.clone()
        };
        change(&mut contact);
        contact
    };
    assert_error(
        update(&mut client, patch(|_| {}), &[], None).await,
        Code::InvalidArgument,
        "update_mask",
    );
    // The unit is fixed at creation, and the server's fields are not paths.
    for path in ["unit_id", "version", "nickname"] {
        assert_error(
            update(&mut client, patch(|_| {}), &[path], None).await,
            Code::InvalidArgument,
            "update_mask",
        );
    }
    assert_error(
        update(&mut client, patch(|c| c.id = "x".into()), &["name"], None).await,
        Code::InvalidArgument,
        "contact.id",
    );
    assert_error(
        update(&mut client, patch(|c| c.id = new_id()), &["name"], None).await,
        Code::NotFound,
        "contact.id",
    );
    assert_error(
        update(
            &mut client,
            patch(|c| c.name = "Stale".into()),
            &["name"],
            Some(7),
        )
        .await,
        Code::FailedPrecondition,
        "expected_version",
    );
    assert_error(
        update(&mut client, patch(|c| c.name.clear()), &["name"], None).await,
        Code::InvalidArgument,
        "contact.name",
    );
    assert_error(
        update(&mut client, patch(|c| c.role = 0), &["role"], None).await,
        Code::InvalidArgument,
        "contact.role",
    );
    assert_error(
        update(
            &mut client,
            patch(|c| c.email = "a@b@example.invalid".into()),
            &["email"],
            None,
        )
        .await,
        Code::InvalidArgument,
        "contact.email",
    );
    assert_error(
        update(
            &mut client,
            patch(|c| c.quiet_hours = quiet(-5, 60)),
            &["quiet_hours"],
            None,
        )
        .await,
        Code::InvalidArgument,
        "contact.quiet_hours.start_minute",
    );
    // Becoming a second head with the head's address.
    assert_error(
        update(
            &mut client,
            patch(|c| {
                c.role = ContactRole::Head as i32;
                c.email = "head@example.invalid".into();
            }),
            &["role", "email"],
            None,
        )
        .await,
        Code::AlreadyExists,
        "contact.email",
    );
    assert_eq!(get(&mut client, &id).await.unwrap(), stored);
    assert_eq!(list_all(&mut client, "", 100).await, [stored, head]);
    assert_eq!(
        contact_audit(&mut client).await.len(),
        2,
        "the two creations"
    );
}

async fn a_stale_expected_version_loses_to_the_first_writer(db: TestDatabase) {
    let running = ready(db).await;
    let mut client = running.client.clone();
    let id = new_id();
    create(&mut client, &id, focal_point()).await.unwrap();
    let named = |name: &str| v1::UnitContact {
        id: id.clone(),
        name: name.to_owned(),
        ..Default::default()
    };
    let first = update(&mut client, named("First"), &["name"], Some(1))
        .await
        .unwrap();
    assert_eq!(first.version, 2);
    assert_error(
        update(&mut client, named("Second"), &["name"], Some(1)).await,
        Code::FailedPrecondition,
        "expected_version",
    );
    assert_eq!(get(&mut client, &id).await.unwrap().name, "First");
}

async fn listing_orders_by_unit_role_and_name_in_pages(db: TestDatabase) {
    let running = ready(db).await;
    let mut client = running.client.clone();
    let units = [hq(), province("01"), province("79")];
    let names = ["Đỗ Minh", "An Bình", "Chu Văn", "Bùi Lan", "An Bình"];
    let mut created = Vec::new();
    for unit in &units {
        for (index, name) in names.iter().enumerate() {
            let role = if index % 2 == 0 {
                ContactRole::FocalPoint
            } else {
                ContactRole::Head
            };
            let email = format!("p{index}@example.invalid");
            let made = create(&mut client, &new_id(), contact(unit, name, role, &email))
                .await
                .unwrap();
            created.push(made);
        }
    }
    let mut expected = created.clone();
    expected.sort_by(|a, b| {
        (&a.unit_id, a.role, &a.name, &a.id).cmp(&(&b.unit_id, b.role, &b.name, &b.id))
    });
    for page_size in [1, 2, 4, 15, 1000] {
        assert_eq!(
            list_all(&mut client, "", page_size).await,
            expected,
            "pages of {page_size}"
        );
    }
    let hanoi: Vec<v1::UnitContact> = expected
        .iter()
        .filter(|c| c.unit_id == province("01"))
        .cloned()
        .collect();
    assert_eq!(hanoi.len(), names.len());
    assert_eq!(list_all(&mut client, &province("01"), 2).await, hanoi);
    assert!(list_all(&mut client, &new_id(), 10).await.is_empty());

    // A token is bound to the filter it was issued for.
    let page = client
        .list_unit_contacts(v1::ListUnitContactsRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let refused = client
        .list_unit_contacts(v1::ListUnitContactsRequest {
            unit_id: province("01"),
            page_size: 2,
            page_token: page.next_page_token,
        })
        .await;
    assert_error(refused, Code::InvalidArgument, "page_token");
    for (request, field) in [
        (
            v1::ListUnitContactsRequest {
                page_size: 1001,
                ..Default::default()
            },
            "page_size",
        ),
        (
            v1::ListUnitContactsRequest {
                unit_id: "79".into(),
                ..Default::default()
            },
            "unit_id",
        ),
        (
            v1::ListUnitContactsRequest {
                page_token: "zz".into(),
                ..Default::default()
            },
            "page_token",
        ),
    ] {
        assert_error(
            client.list_unit_contacts(request).await,
            Code::InvalidArgument,
            field,
        );
    }
}

async fn every_change_is_audited_with_before_and_after(db: TestDatabase) {
    let running = ready(db).await;
    let mut client = running.client.clone();
    let id = new_id();
    create(&mut client, &id, focal_point()).await.unwrap();
    let patch = v1::UnitContact {
        id: id.clone(),
        email: "an.moi@example.invalid".into(),
        ..Default::default()
    };
    update(&mut client, patch.clone(), &["email"], None)
        .await
        .unwrap();
    // A change that changes nothing is not a change.
    update(&mut client, patch, &["email"], None).await.unwrap();
    delete(&mut client, &id).await.unwrap();

    let records = contact_audit(&mut client).await;
    let rpcs: Vec<&str> = records.iter().map(|r| r.rpc.as_str()).collect();
    assert_eq!(
        rpcs,
        [
            "/tasknet.v1.OrganisationService/CreateUnitContact",
            "/tasknet.v1.OrganisationService/UpdateUnitContact",
            "/tasknet.v1.OrganisationService/DeleteUnitContact",
        ]
    );
    let json = |text: &str| -> serde_json::Value {
        if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(text).unwrap()
        }
    };
    for record in &records {
        assert_eq!(record.target, format!("contact/{id}"));
        assert_eq!(record.subject_unit_id, province("01"));
        assert_eq!(record.outcome, v1::AuditOutcome::Accepted as i32);
    }
    let [created, updated, deleted] = records.as_slice() else {
        unreachable!()
    };
    assert_eq!(json(&created.before), serde_json::Value::Null);
    assert_eq!(json(&created.after)["email"], "an.nguyen@example.invalid");
    assert_eq!(json(&created.after)["role"], "CONTACT_ROLE_FOCAL_POINT");
    assert_eq!(json(&updated.before)["email"], "an.nguyen@example.invalid");
    assert_eq!(json(&updated.after)["email"], "an.moi@example.invalid");
    assert_eq!(json(&updated.after)["version"], 2);
    assert_eq!(json(&deleted.before)["email"], "an.moi@example.invalid");
    assert_eq!(json(&deleted.after), serde_json::Value::Null);

    // The unit's own audit listing finds them (subject unit).
    let of_unit = client
        .list_audit_records(v1::ListAuditRecordsRequest {
            unit_id: province("01"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(
        of_unit
            .iter()
            .filter(|r| r.target == format!("contact/{id}"))
            .count(),
        3
    );
}

tasknet_storage::test_on_both_backends!(
    creates_gets_updates_and_deletes_a_contact,
    repeated_creations_are_acknowledged_once,
    invalid_creations_are_refused_and_write_nothing,
    invalid_updates_are_refused_and_write_nothing,
    a_stale_expected_version_loses_to_the_first_writer,
    listing_orders_by_unit_role_and_name_in_pages,
    every_change_is_audited_with_before_and_after,
);
