//! A finished run's record as its job's runs stream holds it, and the reading of either form
//! of a record (an unfinished run's hash, a finished run's stream entry).
//!
//! A finished record is one stream entry with one fixed list of fields in one order, so a
//! stream node stores their names once and each entry holds only its values (`runs.lua`,
//! `finish`):
//!
//! | field | holds |
//! | --- | --- |
//! | `id` | the run id |
//! | `s` | the schedule's number within its job (the job hash maps it back to its id) |
//! | `n` | the run number |
//! | `a` | the scheduled instant (ms) |
//! | `c`, `e`, `d` | created, execution start and completion, in ms after `a` |
//! | `u` | the call's duration (ms) |
//! | `h` | the HTTP status (`""` if none) |
//! | `k` | the lifecycle code: runStatus × 100 + runState × 10 + outcome (positions in their lists; the outcome's is 1 + its index in [`crate::OUTCOMES`], 0 for none) |
//! | `t` | the run text |
//! | `b`, `x` | the response body and the error: `""` none, `=` the same as the run text, else `>` and the text |
//! | `w`, `p` | the worker and the attempt |
//! | `o`, `q` | the leader that created the run and its epoch |
//! | `v` | only on a manual run's record ("run now"), first of the optional fields: the id of the API key that requested it (`-` if not known) |
//! | `r` | only on a run that was retried, after `v` if both: its failed attempts, one JSON line each ([`chime_core::model::Attempt`]) |
//! | `g` | only when known, after `r`: the last call's timing split, `dns,connect,tls,firstByte` in ms, empty parts unknown ([`chime_core::timing::Timing`]) |
//! | `f` | only on a failed run, last: its failure reason's name ([`chime_core::timing::FailureReason`]) |
//!
//! The query scripts append `job`, `sched` (the schedule id) and the marker `~` to an entry's
//! fields.

use crate::OUTCOMES;
use chime_core::model::RunRecord;
use chime_core::run::{Outcome, RunState, RunStatus};

/// The lifecycle code a finished record stores in `k`.
pub(crate) fn lifecycle_code(status: RunStatus, state: RunState, outcome: Option<Outcome>) -> u32 {
    let status = RunStatus::ALL
        .iter()
        .position(|s| *s == status)
        .unwrap_or(0) as u32;
    let state = RunState::ALL.iter().position(|s| *s == state).unwrap_or(0) as u32;
    let o = outcome.map_or(0, |o| {
        1 + OUTCOMES.iter().position(|n| *n == o.as_str()).unwrap_or(0) as u32
    });
    status * 100 + state * 10 + o
}

/// Reads a lifecycle code back; `None` when it names no status, state or outcome.
pub(crate) fn lifecycle_of(code: u32) -> Option<(RunStatus, RunState, Option<Outcome>)> {
    let status = *RunStatus::ALL.get((code / 100) as usize)?;
    let state = *RunState::ALL.get((code / 10 % 10) as usize)?;
    let outcome = match code % 10 {
        0 => None,
        k => Some(OUTCOMES.get(k as usize - 1)?.parse().ok()?),
    };
    Some((status, state, outcome))
}

/// A run's record from a query script's field list: a finished run's stream entry (marked
/// `~`) or an unfinished run's hash. `None` when it is not a record.
pub(crate) fn record_of(tenant: &str, fields: &[(String, String)]) -> Option<RunRecord> {
    if fields.iter().any(|(k, _)| k == "~") {
        from_entry(tenant, fields)
    } else {
        RunRecord::from_fields(tenant, fields)
    }
}

/// A finished run's record from its stream entry's fields (with `job` and `sched`).
fn from_entry(tenant: &str, fields: &[(String, String)]) -> Option<RunRecord> {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let num = |name: &str| get(name).and_then(|v| v.parse::<i64>().ok());
    let at = num("a")?;
    let (status, state, outcome) = lifecycle_of(get("k")?.parse().ok()?)?;
    let text = get("t").unwrap_or_default().to_string();
    let optional = |v: Option<&str>| match v {
        None | Some("") => None,
        Some("=") => Some(text.clone()),
        Some(v) => Some(v.strip_prefix('>').unwrap_or(v).to_string()),
    };
    let worker = get("w").filter(|w| !w.is_empty()).map(str::to_string);
    let mut record = RunRecord {
        run_id: get("id")?.to_string(),
        tenant: tenant.to_string(),
        job_id: get("job")?.parse().ok()?,
        schedule_id: get("sched").unwrap_or_default().to_string(),
        number: num("n").unwrap_or(0).max(0) as u64,
        scheduled_at: at,
        created_at: at + num("c").unwrap_or(0),
        status,
        state,
        executed_at: num("e").map(|d| at + d),
        completed_at: num("d").map(|d| at + d),
        http_status: get("h").and_then(|h| h.parse().ok()),
        outcome,
        response_body: optional(get("b")),
        error: optional(get("x")),
        run_text: text.clone(),
        duration_ms: get("u").and_then(|u| u.parse().ok()),
        attempt: get("p").and_then(|p| p.parse().ok()).unwrap_or(1),
        worker,
        owner: get("o").unwrap_or_default().to_string(),
        epoch: num("q").unwrap_or(0).max(0) as u64,
        log: String::new(),
        ..RunRecord::default()
    };
    if let Some(by) = get("v") {
        record.set_manual(by);
    }
    if let Some(tries) = get("r") {
        record.retried = chime_core::model::Attempt::parse_all(tries);
    }
    record.timing = get("g").and_then(chime_core::timing::Timing::decode);
    record.failure_reason = get("f").and_then(|f| f.parse().ok());
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lifecycle_code_reads_back() {
        for &status in RunStatus::ALL {
            for &state in RunState::ALL {
                for outcome in std::iter::once(None).chain(Outcome::ALL.iter().copied().map(Some)) {
                    let code = lifecycle_code(status, state, outcome);
                    assert_eq!(lifecycle_of(code), Some((status, state, outcome)), "{code}");
                }
            }
        }
        assert_eq!(lifecycle_of(999), None);
    }

    fn entry(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_entry_reads_as_its_record() {
        let code = lifecycle_code(
            RunStatus::Completed,
            RunState::Error,
            Some(Outcome::Failure),
        )
        .to_string();
        let f = entry(&[
            ("id", "R1"),
            ("s", "1"),
            ("n", "7"),
            ("a", "1000"),
            ("c", "2"),
            ("e", "5"),
            ("d", "30"),
            ("u", "25"),
            ("h", "500"),
            ("k", &code),
            ("t", "boom"),
            ("b", "="),
            ("x", ">endpoint returned status code 500"),
            ("w", "w1"),
            ("p", "2"),
            ("o", "leader"),
            ("q", "3"),
            ("job", "42"),
            ("sched", "S"),
            ("~", "1"),
        ]);
        let r = record_of("t", &f).expect("a record");
        assert_eq!(
            (
                r.run_id.as_str(),
                r.job_id,
                r.schedule_id.as_str(),
                r.number
            ),
            ("R1", 42, "S", 7)
        );
        assert_eq!(
            (r.scheduled_at, r.created_at, r.executed_at, r.completed_at),
            (1000, 1002, Some(1005), Some(1030))
        );
        assert_eq!(
            (r.status, r.state, r.outcome),
            (
                RunStatus::Completed,
                RunState::Error,
                Some(Outcome::Failure)
            )
        );
        assert_eq!(r.response_body.as_deref(), Some("boom"));
        assert_eq!(
            r.error.as_deref(),
            Some("endpoint returned status code 500")
        );
        assert_eq!(
            (r.http_status, r.duration_ms, r.attempt),
            (Some(500), Some(25), 2)
        );
        assert_eq!(
            (r.owner.as_str(), r.epoch, r.worker.as_deref()),
            ("leader", 3, Some("w1"))
        );
        let none = entry(&[("b", ""), ("x", "")]);
        let mut f2 = f.clone();
        f2.retain(|(k, _)| k != "b" && k != "x");
        f2.extend(none);
        let r = record_of("t", &f2).expect("a record");
        assert_eq!((r.response_body, r.error), (None, None));
        assert!(!r.manual);
        // A manual run's record names its requesting key last.
        let mut f3 = f.clone();
        f3.insert(17, ("v".into(), "k1".into()));
        let r = record_of("t", &f3).expect("a record");
        assert_eq!((r.manual, r.requested_by.as_deref()), (true, Some("k1")));
        assert_eq!((r.timing, r.failure_reason), (None, None));
        // Its timing split and failure reason come last.
        let mut f4 = f.clone();
        f4.insert(17, ("g".into(), "4,,,20".into()));
        f4.insert(18, ("f".into(), "http_5xx".into()));
        let r = record_of("t", &f4).expect("a record");
        assert_eq!(
            r.timing.map(|t| (t.dns_ms, t.connect_ms, t.first_byte_ms)),
            Some((Some(4), None, Some(20)))
        );
        assert_eq!(
            r.failure_reason,
            Some(chime_core::timing::FailureReason::Http5xx)
        );
    }
}
