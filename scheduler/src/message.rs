//! Message: the run message of a fire, the HTTP call a worker makes for it.
//!
//! The schedule's `data` goes out as the query string of a GET, DELETE or HEAD call and as the
//! JSON body of the others. The run id derives from the schedule and the nominal instant, so
//! every replica and every retry publishes the same run under the same id.

use chime_core::model::{run_id, ActionSpec, ConcurrencyPolicy, Job, RunMessage, Schedule};

/// The header naming the body's type, added to a body of `data` unless the job sets it.
const CONTENT_TYPE: &str = "content-type";

/// The run message of the fire of `schedule` at nominal instant `at`.
pub fn run_message(
    tenant: &str,
    job: &Job,
    schedule: &Schedule,
    at: i64,
    owner: &str,
    epoch: u64,
) -> RunMessage {
    let method = job.http_method;
    let mut url = job.action.clone();
    let mut body = None;
    let mut headers: Vec<(String, String)> = job
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(data) = &schedule.data {
        if !method.carries_body() {
            if let Some(q) = query_string(data) {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&q);
            }
        } else {
            body = Some(match data {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(CONTENT_TYPE))
            {
                headers.push((CONTENT_TYPE.into(), "application/json".into()));
            }
        }
    }
    RunMessage {
        run_id: run_id(&schedule.schedule_id, at),
        tenant: tenant.to_string(),
        job_id: job.id,
        schedule_id: schedule.schedule_id.clone(),
        scheduled_at: at,
        owner: owner.to_string(),
        epoch,
        fresh: false,
        requested_by: None,
        retry: job.retry_policy.filter(|p| p.retry_count > 0),
        attempt: 1,
        first_call_at: None,
        retry_at: None,
        replaceable: job.concurrency_policy == Some(ConcurrencyPolicy::Replace),
        notify: job.notifications.is_some(),
        action: ActionSpec {
            url,
            method,
            headers,
            secret_headers: job
                .secret_headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            body,
            timeout_ms: job.timeout_ms,
        },
    }
}

/// The run message of a manual fire ("run now") of `schedule`: the call its scheduled fires
/// make, under the run id `run` the API chose, at nominal instant `at` (the request instant),
/// marked as requested by the API key `key_id`.
pub fn manual_message(
    tenant: &str,
    job: &Job,
    schedule: &Schedule,
    manual: (&str, &str),
    at: i64,
    owner: &str,
    epoch: u64,
) -> RunMessage {
    let (run, key_id) = manual;
    let mut m = run_message(tenant, job, schedule, at, owner, epoch);
    m.run_id = run.to_string();
    m.requested_by = Some(key_id.to_string());
    m
}

/// `data` as a query string: an object's members as `k=v` (strings unquoted), or a string as is.
fn query_string(data: &serde_json::Value) -> Option<String> {
    match data {
        serde_json::Value::Object(map) if !map.is_empty() => {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in map {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                ser.append_pair(k, &v);
            }
            Some(ser.finish())
        }
        serde_json::Value::String(s) if !s.is_empty() => {
            Some(s.trim_start_matches('?').to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(method: &str, headers: serde_json::Value) -> Job {
        serde_json::from_value(json!({
            "_id": 7, "name": "j", "description": "", "action": "http://t/a?x=1",
            "active": true, "httpMethod": method, "startTime": null, "endTime": null,
            "headers": headers, "timeoutMs": 5000, "createdAt": "", "modifiedAt": "",
        }))
        .unwrap()
    }

    fn schedule(data: serde_json::Value) -> Schedule {
        serde_json::from_value(json!({
            "scheduleId": "s1", "description": "", "data": data, "type": "recurring",
            "cron": null, "time": null, "repeatInterval": "1 minute", "repeatAt": null,
            "active": true, "startTime": null, "endTime": null, "createdAt": "",
            "modifiedAt": "",
        }))
        .unwrap()
    }

    #[test]
    fn data_is_the_query_of_a_get_and_the_json_body_of_a_post() {
        let s = schedule(json!({"a": "b c", "n": 1}));
        let get = run_message("t", &job("GET", json!({})), &s, 1_000, "o", 2);
        assert_eq!(get.action.method, chime_core::run::HttpMethod::Get);
        assert_eq!(get.action.url, "http://t/a?x=1&a=b+c&n=1");
        assert_eq!(get.action.body, None);
        assert_eq!(get.run_id, run_id("s1", 1_000));
        assert_eq!((get.owner.as_str(), get.epoch, get.job_id), ("o", 2, 7));

        let post = run_message("t", &job("POST", json!({})), &s, 1_000, "o", 2);
        assert_eq!(post.action.url, "http://t/a?x=1");
        assert_eq!(post.action.body.as_deref(), Some(r#"{"a":"b c","n":1}"#));
        let ct = |m: &RunMessage| {
            m.action
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(CONTENT_TYPE))
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ct(&post), vec!["application/json".to_string()]);
        // The job's own content type wins; a string is sent as it is.
        let own = job("PUT", json!({"Content-Type": "text/plain"}));
        let put = run_message("t", &own, &schedule(json!("raw")), 1_000, "o", 2);
        assert_eq!(ct(&put), vec!["text/plain".to_string()]);
        assert_eq!(put.action.body.as_deref(), Some("raw"));
    }
}
