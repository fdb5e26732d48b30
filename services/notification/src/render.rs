//! What a notification says: the subject and the plain-text and HTML bodies
//! of an email, in the recipient's language (Vietnamese unless English is
//! asked for), and the JSON body of a webhook delivery.

use chrono::NaiveDate;
use tasknet_proto::v1;

use crate::outbox::Entry;
use crate::rules::{ListedTask, Payload};

/// An email's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn english(language: v1::Language) -> bool {
    language == v1::Language::En
}

/// 07/03/2024 in Vietnamese, 2024-03-07 in English.
fn date_text(date: NaiveDate, en: bool) -> String {
    if en {
        date.format("%Y-%m-%d").to_string()
    } else {
        date.format("%d/%m/%Y").to_string()
    }
}

/// The dashboard's drill-down of the task's unit with the task's timeline open
/// (docs/dashboard.md: the view state is the query string).
pub fn task_link(base_url: &str, task: &ListedTask, day: NaiveDate, en: bool) -> String {
    let class = if task.days_overdue > 0 {
        "open_overdue"
    } else {
        "open_within_deadline"
    };
    let lang = if en { "&lang=en" } else { "" };
    format!(
        "{}/?view=drill&period=2000-01-01..{day}&asof={day}&gk=unit&g={}&class={class}&task={}{lang}",
        base_url.trim_end_matches('/'),
        task.unit_id,
        task.task_id
    )
}

fn unit_name(payload: &Payload, en: bool) -> &str {
    if en && !payload.unit_en.is_empty() {
        &payload.unit_en
    } else {
        &payload.unit_vi
    }
}

fn subject(entry: &Entry, payload: &Payload, en: bool) -> String {
    let unit = unit_name(payload, en);
    let title = payload.tasks.first().map_or("", |task| task.title.as_str());
    let days = entry.days;
    match (entry.rule, en) {
        (v1::NotificationRule::Reminder, false) => {
            format!("Nhắc việc: còn {days} ngày đến hạn – {title}")
        }
        (v1::NotificationRule::Reminder, true) => {
            format!("Reminder: due in {days} days – {title}")
        }
        (v1::NotificationRule::DueToday, false) => format!("Đến hạn hôm nay – {title}"),
        (v1::NotificationRule::DueToday, true) => format!("Due today – {title}"),
        (v1::NotificationRule::Overdue, false) => format!("Quá hạn – {title}"),
        (v1::NotificationRule::Overdue, true) => format!("Overdue – {title}"),
        (v1::NotificationRule::Escalation, false) => {
            format!("Báo cáo quá hạn {days} ngày: {unit} – {title}")
        }
        (v1::NotificationRule::Escalation, true) => {
            format!("Escalation: {unit} is {days} days overdue – {title}")
        }
        (v1::NotificationRule::Digest | v1::NotificationRule::Unspecified, false) => format!(
            "Tổng hợp nhiệm vụ ngày {}: {unit}",
            date_text(entry.day, false)
        ),
        (v1::NotificationRule::Digest | v1::NotificationRule::Unspecified, true) => {
            format!("Daily digest {}: {unit}", date_text(entry.day, true))
        }
    }
}

fn task_line(task: &ListedTask, en: bool) -> String {
    let unit = if en && !task.unit_en.is_empty() {
        &task.unit_en
    } else {
        &task.unit_vi
    };
    let deadline = date_text(task.deadline, en);
    match (task.days_overdue, en) {
        (0, false) => format!("{} – {unit} – hạn {deadline}", task.title),
        (0, true) => format!("{} – {unit} – due {deadline}", task.title),
        (days, false) => format!(
            "{} – {unit} – hạn {deadline}, quá hạn {days} ngày",
            task.title
        ),
        (days, true) => format!(
            "{} – {unit} – due {deadline}, {days} days overdue",
            task.title
        ),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The email for an outbox row.
pub fn email(entry: &Entry, payload: &Payload, dashboard_url: &str) -> Message {
    let en = english(entry.language);
    let greeting = match (payload.recipient_name.is_empty(), en) {
        (true, false) => "Kính gửi anh/chị,".to_owned(),
        (true, true) => "Dear colleague,".to_owned(),
        (false, false) => format!("Kính gửi {},", payload.recipient_name),
        (false, true) => format!("Dear {},", payload.recipient_name),
    };
    let intro = match (entry.rule, en) {
        (v1::NotificationRule::Digest, false) => "Các nhiệm vụ sắp đến hạn và quá hạn của đơn vị:",
        (v1::NotificationRule::Digest, true) => "Your unit's tasks due soon and overdue:",
        (v1::NotificationRule::Escalation, false) => "Nhiệm vụ do đơn vị giao đã quá hạn:",
        (v1::NotificationRule::Escalation, true) => "A task your unit assigned is overdue:",
        (_, false) => "Nhiệm vụ:",
        (_, true) => "Task:",
    };
    let footer = if en {
        "Sent by tasknet. Reply to your unit's focal point to change what you receive."
    } else {
        "Thư do tasknet gửi. Liên hệ đầu mối của đơn vị để thay đổi thông báo nhận được."
    };
    let mut text = format!("{greeting}\n\n{intro}\n");
    let mut html = format!("<p>{}</p><p>{}</p><ul>", escape(&greeting), escape(intro));
    for task in &payload.tasks {
        let line = task_line(task, en);
        let link = task_link(dashboard_url, task, entry.day, en);
        text.push_str(&format!("- {line}\n  {link}\n"));
        html.push_str(&format!(
            "<li><a href=\"{}\">{}</a></li>",
            escape(&link),
            escape(&line)
        ));
    }
    text.push_str(&format!("\n{footer}\n"));
    html.push_str(&format!("</ul><p><small>{}</small></p>", escape(footer)));
    Message {
        subject: subject(entry, payload, en),
        text,
        html,
    }
}

/// The JSON body of a webhook delivery.
pub fn webhook_body(entry: &Entry, payload: &Payload, dashboard_url: &str) -> String {
    let en = english(entry.language);
    let tasks: Vec<serde_json::Value> = payload
        .tasks
        .iter()
        .map(|task| {
            serde_json::json!({
                "task_id": task.task_id,
                "title": task.title,
                "unit_id": task.unit_id,
                "unit_name": if en { &task.unit_en } else { &task.unit_vi },
                "deadline": task.deadline.to_string(),
                "days_overdue": task.days_overdue,
                "link": task_link(dashboard_url, task, entry.day, en),
            })
        })
        .collect();
    serde_json::json!({
        "id": entry.id,
        "rule": entry.rule.as_str_name(),
        "days": entry.days,
        "day": entry.day.to_string(),
        "unit_id": entry.unit_id,
        "unit_name": unit_name(payload, en),
        "language": if en { "en" } else { "vi" },
        "subject": subject(entry, payload, en),
        "tasks": tasks,
    })
    .to_string()
}
