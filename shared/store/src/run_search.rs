//! The tenant-wide run search (`runs_search.lua`): a tenant's runs that pass every filter,
//! newest first, read from one index and bounded in the work a call does.
//!
//! Which index a search reads: a job's records when it names a job; the tenant's runs of one
//! outcome when its status, state and outcome filters leave finished runs of only one
//! outcome; else the tenant's runs stream. An index entry of the tenant's carries the job, the
//! lifecycle code, the HTTP status and the duration, so those filters are decided on the
//! entry; a record is read only for a run that passed them. A call examines at most
//! [`RunSearch::budget`] entries and reads at most [`RunSearch::reads`] records; when it
//! stops early its page may be short (even empty) and carries a cursor to go on from.

use crate::record::{lifecycle_code, record_of};
use crate::run_queries::pairs;
use crate::{template_args, Result, Store, OUTCOMES};
use chime_core::model::RunRecord;
use chime_core::run::{Outcome, RunState, RunStatus};
use redis::Script;
use std::sync::LazyLock;

static RUNS_SEARCH: LazyLock<Script> = crate::query_script!("runs_search.lua");

/// Index entries one call examines at most.
pub const SEARCH_BUDGET: u64 = 5_000;
/// Records one call reads at most (a run that passed the index's filters, or the text filter's
/// candidates).
pub const SEARCH_READS: u64 = 500;

/// One search of a tenant's runs. Every filter left empty keeps every run.
#[derive(Clone, Debug, Default)]
pub struct RunSearch {
    pub tenant: String,
    pub job: Option<u64>,
    pub statuses: Vec<RunStatus>,
    pub states: Vec<RunState>,
    /// Only finished runs have one: a search by outcome finds no unfinished run.
    pub outcomes: Vec<Outcome>,
    /// HTTP statuses kept, as inclusive ranges.
    pub http: Vec<(u16, u16)>,
    /// Keep runs whose call lasted longer (ms).
    pub duration_above_ms: Option<u64>,
    /// Text the response body contains (case-insensitive).
    pub body_contains: Option<String>,
    /// Bounds (ms, inclusive) on when a run finished, or, not finished, was created.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Where the previous page stopped ([`SearchPage::cursor`]).
    pub cursor: Option<String>,
    pub size: u64,
    /// Index entries to examine at most (0: [`SEARCH_BUDGET`]).
    pub budget: u64,
    /// Records to read at most (0: [`SEARCH_READS`]).
    pub reads: u64,
}

/// A page of a search.
#[derive(Clone, Debug)]
pub struct SearchPage {
    pub runs: Vec<RunRecord>,
    /// Where to go on from; `None` when the search has read its whole index.
    pub cursor: Option<String>,
    /// Index entries this call examined.
    pub examined: u64,
}

/// Whether `cursor` is one a search answered: `F`, `f<stream id>` or `l<score>|<member>`.
pub fn is_search_cursor(cursor: &str) -> bool {
    let stream_id = |s: &str| {
        s.split_once('-').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
    };
    match cursor.split_at_checked(1) {
        Some(("F", "")) => true,
        Some(("f", rest)) => stream_id(rest),
        Some(("l", rest)) => rest.split_once('|').is_some_and(|(score, member)| {
            !member.is_empty() && score.parse::<f64>().is_ok_and(f64::is_finite)
        }),
        _ => false,
    }
}

impl RunSearch {
    pub fn new(tenant: &str) -> RunSearch {
        RunSearch {
            tenant: tenant.to_string(),
            size: 50,
            ..RunSearch::default()
        }
    }

    fn status_kept(&self, s: RunStatus) -> bool {
        self.statuses.is_empty() || self.statuses.contains(&s)
    }

    fn state_kept(&self, s: RunState) -> bool {
        self.states.is_empty() || self.states.contains(&s)
    }

    /// The lifecycle codes a finished run may have, each between commas; `""` any.
    fn codes(&self) -> (String, Vec<u32>) {
        if self.statuses.is_empty() && self.states.is_empty() && self.outcomes.is_empty() {
            return (String::new(), vec![]);
        }
        let outcomes: Vec<Option<Outcome>> = if self.outcomes.is_empty() {
            std::iter::once(None)
                .chain(Outcome::ALL.iter().copied().map(Some))
                .collect()
        } else {
            self.outcomes.iter().copied().map(Some).collect()
        };
        let mut codes = vec![];
        for &status in RunStatus::ALL.iter().filter(|s| self.status_kept(**s)) {
            for &state in RunState::ALL.iter().filter(|s| self.state_kept(**s)) {
                for &o in &outcomes {
                    codes.push(lifecycle_code(status, state, o));
                }
            }
        }
        let list: String = codes.iter().map(|c| format!(",{c}")).collect();
        // No code at all: a list that names none (',').
        (format!("{list},"), codes)
    }

    /// The (runStatus/runState) pairs an unfinished run may have, each between commas: `""`
    /// any, `"-"` none (a search by outcome).
    fn live_kept(&self) -> String {
        if !self.outcomes.is_empty() {
            return "-".into();
        }
        if self.statuses.is_empty() && self.states.is_empty() {
            return String::new();
        }
        let mut s = String::new();
        for status in RunStatus::ALL.iter().filter(|s| self.status_kept(**s)) {
            for state in RunState::ALL.iter().filter(|s| self.state_kept(**s)) {
                s.push_str(&format!(",{status}/{state}"));
            }
        }
        if s.is_empty() {
            "-".into()
        } else {
            s + ","
        }
    }
}

impl Store {
    /// One page of a [`RunSearch`]. The cursor must be one a search answered
    /// ([`is_search_cursor`]); the caller checks it.
    pub async fn search_runs(&self, q: &RunSearch) -> Result<SearchPage> {
        let k = &self.keys;
        let t = &q.tenant;
        let (codes, code_list) = q.codes();
        // The index: the job's records, the tenant's runs of the one outcome left, or all.
        let mut outcome_digits: Vec<u32> = code_list.iter().map(|c| c % 10).collect();
        outcome_digits.sort_unstable();
        outcome_digits.dedup();
        let (kind, index) = match q.job {
            Some(job) => ("j", k.job_runs(t, job)),
            None => match outcome_digits[..] {
                [d] if d >= 1 => ("t", k.tenant_outcome_runs(t, OUTCOMES[d as usize - 1])),
                _ => ("t", k.tenant_runs(t)),
            },
        };
        let http: Vec<String> = q.http.iter().map(|(a, b)| format!("{a}-{b}")).collect();
        let mut inv = RUNS_SEARCH.prepare_invoke();
        inv.key(k.tenant(t)).key(k.live(t)).key(index);
        inv.arg(kind)
            .arg(self.retention.ttl_ms)
            .arg(q.job.map(|j| j.to_string()).unwrap_or_default())
            .arg(codes)
            .arg(http.join(","))
            .arg(
                q.duration_above_ms
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            )
            .arg(q.body_contains.as_deref().unwrap_or("").to_lowercase())
            .arg(q.from_ms.map(|m| m.max(0).to_string()).unwrap_or_default())
            .arg(q.to_ms.map(|m| m.max(0).to_string()).unwrap_or_default())
            .arg(q.cursor.as_deref().unwrap_or(""))
            .arg(q.size.max(1))
            .arg(if q.budget == 0 {
                SEARCH_BUDGET
            } else {
                q.budget
            })
            .arg(if q.reads == 0 { SEARCH_READS } else { q.reads })
            .arg(q.live_kept());
        template_args(&mut inv, [k.run_template(t)]);
        let job = k.job_template(t);
        inv.arg(&job.prefix)
            .arg(&job.suffix)
            .arg(k.job_runs_template(t).suffix);
        let raw: Vec<redis::Value> = inv.invoke_async(&mut self.c()).await?;
        let mut it = raw.into_iter();
        let cursor: String = it
            .next()
            .map(redis::from_redis_value)
            .transpose()?
            .unwrap_or_default();
        let examined: u64 = it
            .next()
            .map(redis::from_redis_value)
            .transpose()?
            .unwrap_or(0);
        let mut runs = Vec::new();
        while let (Some(_), Some(rec)) = (it.next(), it.next()) {
            if let Some(r) = record_of(t, &pairs(redis::from_redis_value(rec)?)) {
                runs.push(r);
            }
        }
        Ok(SearchPage {
            runs,
            cursor: (!cursor.is_empty()).then_some(cursor),
            examined,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_checked() {
        for ok in ["F", "f1700000000000-0", "l1740800000000|3|s|r"] {
            assert!(is_search_cursor(ok), "{ok}");
        }
        for bad in [
            "", "f", "f12", "f-1", "fa-b", "l|x", "l12|", "x12-0", "FF", "lnan|m",
        ] {
            assert!(!is_search_cursor(bad), "{bad}");
        }
    }

    #[test]
    fn an_outcome_keeps_no_unfinished_run_and_a_status_keeps_its_states() {
        let mut q = RunSearch::new("t");
        assert_eq!(q.live_kept(), "");
        assert_eq!(q.codes().0, "");
        q.outcomes = vec![Outcome::Failure];
        assert_eq!(q.live_kept(), "-");
        let (_, codes) = q.codes();
        assert!(codes.iter().all(|c| c % 10 == 2), "{codes:?}");
        q.outcomes.clear();
        q.statuses = vec![RunStatus::Running];
        q.states = vec![RunState::Triggered];
        assert_eq!(q.live_kept(), ",RUNNING/TRIGGERED,");
    }
}
