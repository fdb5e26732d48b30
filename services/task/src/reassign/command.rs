//! The reassignment command: pass a task from an ended unit to its
//! successor, with an update id derived from the task and the
//! reorganisation, so that running a transfer again repeats, not re-applies.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Namespace of reassignment update ids. Fixed forever: a repeated transfer
/// must produce the same ids to be recognised as a repeat.
const REASSIGN_NAMESPACE: Uuid = Uuid::from_u128(0x7a3e_55c1_9d0b_4f62_8e17_4b2c_60d9_a1f3);

/// Pass `task_id` from `from_unit_id` to `to_unit_id` on `effective`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassign {
    pub update_id: String,
    pub task_id: String,
    pub from_unit_id: String,
    pub to_unit_id: String,
    pub effective: NaiveDate,
    pub reorganisation_id: String,
    pub digest: String,
}

impl Reassign {
    /// The reassignment of one task by one reorganisation: its update id is
    /// derived from both, so running a transfer again repeats, not re-applies.
    pub fn new(
        task_id: &str,
        from_unit_id: &str,
        to_unit_id: &str,
        effective: NaiveDate,
        reorganisation_id: &str,
    ) -> Self {
        let name = format!("reassign:{reorganisation_id}:{task_id}");
        let update_id = Uuid::new_v5(&REASSIGN_NAMESPACE, name.as_bytes()).to_string();
        let mut reassign = Self {
            update_id,
            task_id: task_id.to_owned(),
            from_unit_id: from_unit_id.to_owned(),
            to_unit_id: to_unit_id.to_owned(),
            effective,
            reorganisation_id: reorganisation_id.to_owned(),
            digest: String::new(),
        };
        reassign.digest = digest(&reassign);
        reassign
    }
}

fn digest(reassign: &Reassign) -> String {
    let canonical = format!(
        "tasknet.reassign\0{}\0{}\0{}\0{}\0{}\0{}",
        reassign.update_id,
        reassign.task_id,
        reassign.from_unit_id,
        reassign.to_unit_id,
        reassign.effective,
        reassign.reorganisation_id
    );
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reassign() -> Reassign {
        let effective = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
        Reassign::new("t", "binh-dinh", "gia-lai", effective, "r")
    }

    #[test]
    fn ids_and_digests_are_stable() {
        assert_eq!(reassign(), reassign());
        assert_eq!(
            Uuid::parse_str(&reassign().update_id)
                .unwrap()
                .get_version_num(),
            5
        );
        let other = Reassign::new("t", "binh-dinh", "gia-lai", reassign().effective, "r2");
        assert_ne!(other.update_id, reassign().update_id);
    }
}
