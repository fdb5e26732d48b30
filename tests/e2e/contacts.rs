//! `tasknet org contacts …` as a person runs it, as a separate process:
//! adding (by unit code, and again with the same id), listing as a table,
//! JSON and CSV, updating, removing, the refusals in the service's words,
//! and a unit-staff credential refused.

use tasknet_auth::principal::Role;

use crate::auth::{issue, units};
use crate::support::TestSystem;
use crate::user_output::{tasknet, tasknet_as, texts};

const FOCAL_ID: &str = "0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b";

/// Runs `tasknet ARGS` as the administrator, expecting success; its stdout.
fn ok(system: &TestSystem, args: &[&str]) -> String {
    let output = tasknet(system, args);
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{args:?}\n{stdout}\n{stderr}");
    stdout
}

/// Runs `tasknet ARGS` as the administrator, expecting exit 1; its stderr.
fn refused(system: &TestSystem, args: &[&str]) -> String {
    let output = tasknet(system, args);
    let (stdout, stderr) = texts(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{args:?}\n{stdout}\n{stderr}"
    );
    stderr
}

fn listed(system: &TestSystem, unit: Option<&str>) -> Vec<serde_json::Value> {
    let mut args = vec!["org", "contacts", "list", "--format", "json"];
    if let Some(unit) = unit {
        args.extend(["--unit", unit]);
    }
    serde_json::from_str(&ok(system, &args)).unwrap()
}

async fn contacts_are_managed_from_the_command_line(system: &TestSystem) {
    let units = units(system).await;

    let add = [
        "org",
        "contacts",
        "add",
        "--unit",
        "01",
        "--name",
        "Nguyễn Văn An",
        "--email",
        "dau-moi.01@example.invalid",
        "--id",
        FOCAL_ID,
    ];
    let stdout = ok(system, &add);
    assert!(
        stdout.starts_with(&format!(
            "added contact {FOCAL_ID}: Nguyễn Văn An <dau-moi.01@example.invalid>, \
             focal-point of 01 "
        )),
        "{stdout}"
    );
    let stdout = ok(system, &add);
    assert!(
        stdout.contains("was already there with the same content, nothing changed"),
        "{stdout}"
    );
    let stdout = ok(
        system,
        &[
            "org",
            "contacts",
            "add",
            "--unit",
            units.hanoi.as_str(),
            "--name",
            "Tran Thi Binh",
            "--email",
            "Thu-Truong.01@Example.Invalid",
            "--role",
            "head",
            "--language",
            "en",
            "--quiet-hours",
            "22:00-06:00",
        ],
    );
    assert!(stdout.contains(", head of 01 "), "{stdout}");

    // The service's refusals, naming the field; nothing is added.
    let stderr = refused(
        system,
        &[
            "org",
            "contacts",
            "add",
            "--unit",
            "01",
            "--name",
            "Lê Hai",
            "--email",
            "a@example.invalid, b@example.invalid",
        ],
    );
    assert!(
        stderr.contains("CreateUnitContact failed") && stderr.contains("contact.email"),
        "{stderr}"
    );
    let stderr = refused(
        system,
        &[
            "org",
            "contacts",
            "add",
            "--unit",
            "01",
            "--name",
            "Lê Hai",
            "--email",
            "hai@example.invalid",
            "--quiet-hours",
            "06:00-06:00",
        ],
    );
    assert!(stderr.contains("contact.quiet_hours"), "{stderr}");
    let stderr = refused(
        system,
        &[
            "org",
            "contacts",
            "add",
            "--unit",
            "XX",
            "--name",
            "Lê Hai",
            "--email",
            "hai@example.invalid",
        ],
    );
    assert!(
        stderr.contains("no unit has the code \"XX\" today"),
        "{stderr}"
    );

    // By unit, then role (focal point before head), then name.
    let contacts = listed(system, None);
    assert_eq!(contacts.len(), 2, "{contacts:?}");
    let [focal, head] = contacts.as_slice() else {
        unreachable!()
    };
    assert_eq!(focal["id"], FOCAL_ID);
    assert_eq!(focal["unit_code"], "01");
    assert_eq!(focal["unit_id"], units.hanoi.as_str());
    assert_eq!(focal["role"], "focal-point");
    assert_eq!(focal["language"], "vi");
    assert_eq!(focal["quiet_hours"], "");
    assert_eq!(head["role"], "head");
    assert_eq!(head["email"], "Thu-Truong.01@example.invalid");
    assert_eq!(head["language"], "en");
    assert_eq!(head["quiet_hours"], "22:00-06:00");
    assert_eq!(head["opted_out"], false);
    let head_id = head["id"].as_str().unwrap().to_owned();
    assert_eq!(listed(system, Some("01")), contacts);
    assert!(listed(system, Some("31")).is_empty());
    assert_eq!(
        ok(system, &["org", "contacts", "list", "--unit", "31"]),
        "no contacts\n"
    );

    let csv = ok(system, &["org", "contacts", "list", "--format", "csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,unit_id,unit_code,unit_name,role,name,email,language,quiet_hours,opted_out,version"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].starts_with(&format!("{FOCAL_ID},{},01,", units.hanoi)));
    assert!(
        lines[2]
            .ends_with(",head,Tran Thi Binh,Thu-Truong.01@example.invalid,en,22:00-06:00,false,1")
    );

    let table = ok(system, &["org", "contacts", "list"]);
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows[0].starts_with("Unit ") && rows[0].contains(" Role ") && rows[0].ends_with(" Id"),
        "{table}"
    );
    assert!(
        rows[2].contains("Nguyễn Văn An") && rows[2].contains(FOCAL_ID),
        "{table}"
    );
    assert!(rows[3].contains("22:00-06:00"), "{table}");

    let update = [
        "org",
        "contacts",
        "update",
        head_id.as_str(),
        "--opt-out",
        "--no-quiet-hours",
    ];
    let stdout = ok(system, &update);
    assert!(
        stdout.starts_with(&format!("updated contact {head_id} to version 2: "))
            && stdout.contains("(en, no quiet hours, opted out)"),
        "{stdout}"
    );
    let stdout = ok(system, &update);
    assert!(stdout.contains("already so, nothing changed"), "{stdout}");
    let stdout = ok(
        system,
        &[
            "org",
            "contacts",
            "update",
            FOCAL_ID,
            "--name",
            "Nguyễn Văn Anh",
            "--quiet-hours",
            "21:30-07:00",
        ],
    );
    assert!(
        stdout.contains("Nguyễn Văn Anh <dau-moi.01@example.invalid>"),
        "{stdout}"
    );
    assert!(stdout.contains("quiet 21:30-07:00"), "{stdout}");
    let stderr = refused(system, &["org", "contacts", "update", FOCAL_ID]);
    assert!(stderr.contains("nothing to update"), "{stderr}");
    let stderr = refused(
        system,
        &["org", "contacts", "update", FOCAL_ID, "--email", "nobody"],
    );
    assert!(stderr.contains("contact.email"), "{stderr}");
    // clap refuses a malformed window itself (exit 2), before any call.
    let output = tasknet(
        system,
        &[
            "org",
            "contacts",
            "update",
            FOCAL_ID,
            "--quiet-hours",
            "25:00-01:00",
        ],
    );
    assert_eq!(output.status.code(), Some(2));

    let stdout = ok(system, &["org", "contacts", "remove", FOCAL_ID]);
    assert!(
        stdout.starts_with(&format!("removed contact {FOCAL_ID}: Nguyễn Văn Anh")),
        "{stdout}"
    );
    let stderr = refused(system, &["org", "contacts", "remove", FOCAL_ID]);
    assert!(
        stderr.contains(&format!("no contact {FOCAL_ID}")),
        "{stderr}"
    );
    let left = listed(system, None);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], head_id.as_str());
    assert_eq!(left[0]["opted_out"], true);
    assert_eq!(left[0]["version"], 2);

    // Contacts are personal data: unit staff may not read them.
    let staff = issue(system, Role::UnitStaff, Some(units.hanoi.as_str())).await;
    let output = tasknet_as(system, &staff, &["org", "contacts", "list"]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("ListUnitContacts failed") && stderr.contains("ermission"),
        "{stderr}"
    );
}

crate::system_tests!(contacts_are_managed_from_the_command_line);
