//! A job's notifications and their deliveries (`GET /scheduler/jobs/{jobId}/notifications`).

use chime_core::time::format_instant;
use chime_store::{Event, Note};
use serde::Serialize;
use utoipa::ToSchema;

/// A job's newest notifications (at most 100 are kept), newest first.
#[derive(Serialize, ToSchema, Debug)]
#[serde(rename_all = "camelCase")]
pub struct NotificationList {
    pub job_id: u64,
    pub total: usize,
    pub results: Vec<Delivery>,
}

/// One notification: the event sent, and how its delivery went.
#[derive(Serialize, ToSchema, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The event's id (its `webhook-id`).
    pub id: String,
    /// `run.failed`, `schedule.recovered` or `schedule.deactivated`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where it goes (user and password in the URL shown as `***`).
    pub url: String,
    /// `pending` (due, or waiting for its next attempt), `delivered` (a 2xx answer) or
    /// `failed` (its retries spent, or its URL refused by the address guard).
    pub state: String,
    /// Delivery attempts made.
    pub attempts: u32,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
    /// The last attempt's HTTP status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_http_status: Option<u16>,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The event as its URL receives it.
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
}

impl Delivery {
    pub fn of(n: &Note) -> Delivery {
        let at = |v: Option<i64>| v.map(format_instant);
        Delivery {
            id: n.id.clone(),
            kind: n.kind.clone(),
            url: chime_core::secrets::mask_userinfo(&n.url),
            state: n.state.clone(),
            attempts: n.tries,
            created_at: format_instant(n.created_at),
            last_attempt_at: at(n.last_attempt_at),
            next_attempt_at: at(n.next_attempt_at),
            delivered_at: at(n.delivered_at),
            last_http_status: n.last_status,
            last_error: n.last_error.clone(),
            event: serde_json::to_value(Event::of(n)).unwrap_or_default(),
        }
    }
}
