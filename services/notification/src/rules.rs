//! The rules that decide who is told what on a Vietnam civil day, as pure
//! functions of the day, the open tasks (as reporting's read model states
//! them), the units' contacts and the webhook subscriptions. Nothing here
//! reads a clock or the network: the judge feeds it, the outbox stores what
//! it returns.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tasknet_proto::v1;

use crate::quiet::QuietHours;

/// The rules of one unit category, all optional: what is unset falls back
/// to the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleOverrides {
    pub reminder_days: Option<Vec<u32>>,
    pub due_today: Option<bool>,
    pub overdue: Option<bool>,
    pub digest: Option<bool>,
    pub escalation_days: Option<u32>,
}

/// The rules in force (`[notify.rules]`), with per-category overrides
/// (`[notify.rules.categories.provincial_office]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Remind the assignee this many days before the deadline in force.
    pub reminder_days: Vec<u32>,
    /// Tell the assignee on the deadline's day.
    pub due_today: bool,
    /// Tell the assignee the day after the deadline.
    pub overdue: bool,
    /// One daily list per unit of what is due within the reminder horizon
    /// and what is overdue.
    pub digest: bool,
    /// Tell the assigning unit once a task is this many days overdue; 0: never.
    pub escalation_days: u32,
    /// Overrides by unit category: `headquarters`, `central_department`,
    /// `public_service_unit`, `provincial_office`.
    pub categories: BTreeMap<String, RuleOverrides>,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            reminder_days: vec![7, 1],
            due_today: true,
            overdue: true,
            digest: true,
            escalation_days: 7,
            categories: BTreeMap::new(),
        }
    }
}

/// The rules for one unit, overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRules {
    pub reminder_days: Vec<u32>,
    pub due_today: bool,
    pub overdue: bool,
    pub digest: bool,
    pub escalation_days: u32,
}

impl UnitRules {
    /// How far ahead a digest looks: the longest reminder (0: today only).
    pub fn horizon(&self) -> i64 {
        self.reminder_days
            .iter()
            .copied()
            .max()
            .map_or(0, i64::from)
    }
}

/// The configuration key of a unit category (`provincial_office`).
pub fn category_key(category: i32) -> Option<&'static str> {
    match v1::UnitCategory::try_from(category).ok()? {
        v1::UnitCategory::Headquarters => Some("headquarters"),
        v1::UnitCategory::CentralDepartment => Some("central_department"),
        v1::UnitCategory::PublicServiceUnit => Some("public_service_unit"),
        v1::UnitCategory::ProvincialOffice => Some("provincial_office"),
        v1::UnitCategory::Unspecified => None,
    }
}

const CATEGORY_KEYS: [&str; 4] = [
    "headquarters",
    "central_department",
    "public_service_unit",
    "provincial_office",
];

impl Rules {
    /// Refuses overrides for categories that do not exist (a typo would
    /// otherwise silently change nothing).
    pub fn validate(&self) -> Result<(), String> {
        for key in self.categories.keys() {
            if !CATEGORY_KEYS.contains(&key.as_str()) {
                return Err(format!(
                    "notify.rules.categories.{key}: unknown unit category (use one of {})",
                    CATEGORY_KEYS.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The rules for a unit of `category`.
    pub fn for_category(&self, category: i32) -> UnitRules {
        let overrides = category_key(category)
            .and_then(|key| self.categories.get(key))
            .cloned()
            .unwrap_or_default();
        UnitRules {
            reminder_days: overrides
                .reminder_days
                .unwrap_or_else(|| self.reminder_days.clone()),
            due_today: overrides.due_today.unwrap_or(self.due_today),
            overdue: overrides.overdue.unwrap_or(self.overdue),
            digest: overrides.digest.unwrap_or(self.digest),
            escalation_days: overrides.escalation_days.unwrap_or(self.escalation_days),
        }
    }
}

/// A task open at the end of the judged day, as reporting states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTask {
    pub task_id: String,
    pub title: String,
    pub assignee_unit_id: String,
    pub assigning_unit_id: String,
    /// The deadline in force on the day.
    pub deadline: NaiveDate,
}

/// A unit's names and category.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitInfo {
    pub name_vi: String,
    pub name_en: String,
    pub category: i32,
}

/// A unit's contact, as the organisation service lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub unit_id: String,
    pub name: String,
    pub head: bool,
    pub email: String,
    pub language: v1::Language,
    pub quiet_hours: Option<QuietHours>,
    pub opted_out: bool,
}

/// A webhook subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub id: String,
    /// Empty: every unit.
    pub unit_ids: Vec<String>,
    pub language: v1::Language,
}

impl Subscriber {
    fn covers(&self, unit_id: &str) -> bool {
        self.unit_ids.is_empty() || self.unit_ids.iter().any(|id| id == unit_id)
    }
}

/// What the judge knows on a day.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub tasks: Vec<OpenTask>,
    pub units: BTreeMap<String, UnitInfo>,
    pub contacts: Vec<Contact>,
    pub subscribers: Vec<Subscriber>,
}

/// One task as a message lists it (stored with the decision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedTask {
    pub task_id: String,
    pub title: String,
    pub unit_id: String,
    pub unit_vi: String,
    pub unit_en: String,
    pub deadline: NaiveDate,
    /// Days past the deadline on the day (0 when not overdue).
    pub days_overdue: i64,
}

/// What a message says, fixed when it is decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// Whom an email addresses; empty for a webhook.
    pub recipient_name: String,
    pub unit_id: String,
    pub unit_vi: String,
    pub unit_en: String,
    pub tasks: Vec<ListedTask>,
}

/// One notification the rules call for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub id: String,
    pub rule: v1::NotificationRule,
    pub days: i32,
    pub task_id: String,
    pub unit_id: String,
    pub day: NaiveDate,
    pub channel: v1::NotificationChannel,
    pub recipient: String,
    pub language: v1::Language,
    pub payload: Payload,
    pub quiet_hours: Option<QuietHours>,
    /// Not to be sent before this (the end of the recipient's quiet hours).
    pub not_before: DateTime<Utc>,
}

/// Namespace of notification ids (UUIDv5 of the decision's key).
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6e6f_7469_6679_4b0a_8a1e_7461_736b_6e65);

/// The id of a decision: the same (subject, rule, days, recipient, day) is
/// the same id, whoever decides it and however often.
pub fn notification_id(
    subject: &str,
    rule: v1::NotificationRule,
    days: i32,
    channel: v1::NotificationChannel,
    recipient: &str,
    day: NaiveDate,
) -> String {
    let key = format!(
        "{subject}|{}|{days}|{}|{}|{day}",
        rule as i32, channel as i32, recipient
    );
    uuid::Uuid::new_v5(&ID_NAMESPACE, key.as_bytes()).to_string()
}

/// The language written in: Vietnamese unless English is asked for.
fn language_of(language: v1::Language) -> v1::Language {
    match language {
        v1::Language::En => v1::Language::En,
        v1::Language::Vi | v1::Language::Unspecified => v1::Language::Vi,
    }
}

/// Someone a notification goes to.
struct Recipient<'a> {
    channel: v1::NotificationChannel,
    address: String,
    name: &'a str,
    language: v1::Language,
    quiet_hours: Option<QuietHours>,
}

/// The assignee unit's contacts that take messages, and the subscribers covering it.
fn recipients_of<'a>(facts: &'a Facts, unit_id: &str, heads_first: bool) -> Vec<Recipient<'a>> {
    let active: Vec<&Contact> = facts
        .contacts
        .iter()
        .filter(|contact| contact.unit_id == unit_id && !contact.opted_out)
        .collect();
    let heads: Vec<&Contact> = active.iter().copied().filter(|c| c.head).collect();
    let chosen = if heads_first && !heads.is_empty() {
        heads
    } else {
        active
    };
    let mut seen = BTreeSet::new();
    let mut recipients = Vec::new();
    for contact in chosen {
        let address = contact.email.trim().to_lowercase();
        if seen.insert(address.clone()) {
            recipients.push(Recipient {
                channel: v1::NotificationChannel::Email,
                address,
                name: &contact.name,
                language: language_of(contact.language),
                quiet_hours: contact.quiet_hours,
            });
        }
    }
    for subscriber in facts.subscribers.iter().filter(|s| s.covers(unit_id)) {
        recipients.push(Recipient {
            channel: v1::NotificationChannel::Webhook,
            address: subscriber.id.clone(),
            name: "",
            language: language_of(subscriber.language),
            quiet_hours: None,
        });
    }
    recipients
}

/// Everything the rules call for on `day`, judged at `now` (which only
/// places rows after their recipients' quiet hours).
pub fn judge(rules: &Rules, day: NaiveDate, now: DateTime<Utc>, facts: &Facts) -> Vec<Decision> {
    let unit = |id: &str| facts.units.get(id).cloned().unwrap_or_default();
    let listed = |task: &OpenTask| {
        let info = unit(&task.assignee_unit_id);
        ListedTask {
            task_id: task.task_id.clone(),
            title: task.title.clone(),
            unit_id: task.assignee_unit_id.clone(),
            unit_vi: info.name_vi,
            unit_en: info.name_en,
            deadline: task.deadline,
            days_overdue: (day - task.deadline).num_days().max(0),
        }
    };
    let mut decisions = Vec::new();
    let mut decide = |subject: &str,
                      rule: v1::NotificationRule,
                      days: i32,
                      unit_id: &str,
                      told_unit: &str,
                      heads_first: bool,
                      tasks: Vec<ListedTask>| {
        let info = unit(unit_id);
        for recipient in recipients_of(facts, told_unit, heads_first) {
            let not_before = recipient
                .quiet_hours
                .and_then(|quiet| quiet.until(now))
                .unwrap_or(now);
            decisions.push(Decision {
                id: notification_id(
                    subject,
                    rule,
                    days,
                    recipient.channel,
                    &recipient.address,
                    day,
                ),
                rule,
                days,
                task_id: if rule == v1::NotificationRule::Digest {
                    String::new()
                } else {
                    subject.to_owned()
                },
                unit_id: unit_id.to_owned(),
                day,
                channel: recipient.channel,
                recipient: recipient.address,
                language: recipient.language,
                payload: Payload {
                    recipient_name: recipient.name.to_owned(),
                    unit_id: unit_id.to_owned(),
                    unit_vi: info.name_vi.clone(),
                    unit_en: info.name_en.clone(),
                    tasks: tasks.clone(),
                },
                quiet_hours: recipient.quiet_hours,
                not_before,
            });
        }
    };

    let mut tasks: Vec<&OpenTask> = facts.tasks.iter().collect();
    tasks.sort_by(|a, b| (a.deadline, &a.task_id).cmp(&(b.deadline, &b.task_id)));
    let mut digests: BTreeMap<&str, Vec<ListedTask>> = BTreeMap::new();
    for task in &tasks {
        let unit_id = task.assignee_unit_id.as_str();
        let unit_rules = rules.for_category(unit(unit_id).category);
        let until_deadline = (task.deadline - day).num_days();
        let subject = task.task_id.as_str();
        for &days in &unit_rules.reminder_days {
            if days > 0 && until_deadline == i64::from(days) {
                let days = i32::try_from(days).unwrap_or(i32::MAX);
                let rule = v1::NotificationRule::Reminder;
                decide(
                    subject,
                    rule,
                    days,
                    unit_id,
                    unit_id,
                    false,
                    vec![listed(task)],
                );
            }
        }
        if unit_rules.due_today && until_deadline == 0 {
            let rule = v1::NotificationRule::DueToday;
            decide(
                subject,
                rule,
                0,
                unit_id,
                unit_id,
                false,
                vec![listed(task)],
            );
        }
        if unit_rules.overdue && until_deadline == -1 {
            let rule = v1::NotificationRule::Overdue;
            decide(
                subject,
                rule,
                1,
                unit_id,
                unit_id,
                false,
                vec![listed(task)],
            );
        }
        let escalation = i64::from(unit_rules.escalation_days);
        if escalation > 0 && -until_deadline == escalation && !task.assigning_unit_id.is_empty() {
            let days = i32::try_from(escalation).unwrap_or(i32::MAX);
            let rule = v1::NotificationRule::Escalation;
            let told = task.assigning_unit_id.as_str();
            decide(subject, rule, days, unit_id, told, true, vec![listed(task)]);
        }
        if unit_rules.digest && until_deadline <= unit_rules.horizon() {
            digests.entry(unit_id).or_default().push(listed(task));
        }
    }
    for (unit_id, listed_tasks) in digests {
        let subject = format!("digest:{unit_id}");
        let rule = v1::NotificationRule::Digest;
        decide(&subject, rule, 0, unit_id, unit_id, false, listed_tasks);
    }
    decisions
}
