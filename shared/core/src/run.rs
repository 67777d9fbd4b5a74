//! A run's lifecycle in SAP's words, typed: `runStatus`, `runState`, chime's outcome, and the
//! one mapping from how a call ended to all three ([`CallKind::lifecycle`]).
//!
//! The strings are the wire format (SAP's API, the run record in Redis, the Lua scripts);
//! [`RunStatus::as_str`] and friends are the only place Rust spells them.

named_enum!(
    /// SAP's `runStatus`; a run is created `SCHEDULED`.
    #[derive(Default)]
    RunStatus, "runStatus", {
        #[default]
        Scheduled = "SCHEDULED",
        Running = "RUNNING",
        Completed = "COMPLETED",
    }
);

named_enum!(
    /// SAP's `runState`; a run is created `SCHEDULED`.
    #[derive(Default)]
    RunState, "runState", {
        #[default]
        Scheduled = "SCHEDULED",
        Triggered = "TRIGGERED",
        /// The endpoint answered 202: it reports the result later.
        AckRecvd = "ACK_RECVD",
        Success = "SUCCESS",
        /// The endpoint answered 5xx.
        Error = "ERROR",
        /// 4xx, network errors, timeouts and blocked targets.
        RequestError = "REQUEST_ERROR",
        Unknown = "UNKNOWN",
    }
);

named_enum!(
    /// chime's outcome of a finished run (what the outcome indexes and dialect filters use).
    Outcome, "outcome", {
        Success = "success",
        Failure = "failure",
        Error = "error",
        Timeout = "timeout",
    }
);

named_enum!(
    /// The HTTP methods a job's action may use (SAP's five).
    HttpMethod, "httpMethod", {
        Get = "GET",
        Post = "POST",
        Put = "PUT",
        Delete = "DELETE",
        Patch = "PATCH",
    }
);

impl HttpMethod {
    /// Whether the schedule's `data` goes in the body (else in the query string).
    pub const fn carries_body(self) -> bool {
        matches!(self, HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch)
    }
}

/// How a call to a job's action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// HTTP 200-399 except 202.
    Success,
    /// HTTP 202: the target runs the job asynchronously and reports back later.
    Accepted,
    /// HTTP 4xx/5xx (or any status outside 200-399).
    Failure,
    /// Network error, invalid URL or header.
    Error,
    /// The SSRF guard refused the target's address.
    Blocked,
    /// The call did not complete within the action timeout.
    Timeout,
}

/// Where a call leaves its run: SAP's status and state, and chime's outcome once finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifecycle {
    pub status: RunStatus,
    pub state: RunState,
    /// `None` while the run is not finished (an asynchronous job's 202).
    pub outcome: Option<Outcome>,
}

/// SAP's `ASYNC_EXEC_TIMEOUT`, in seconds: how long a run acknowledged asynchronously (202,
/// `RUNNING/ACK_RECVD`) waits for its job's report. A tenant's own value is 1 to this.
pub const ASYNC_EXEC_TIMEOUT_MAX_SECS: u64 = 604_800;
/// A tenant's `ASYNC_EXEC_TIMEOUT` until it sets one (seconds; SAP's default, seven days).
pub const ASYNC_EXEC_TIMEOUT_DEFAULT_SECS: u64 = ASYNC_EXEC_TIMEOUT_MAX_SECS;

/// Where the asynchronous deadline leaves a run whose job did not report within
/// `ASYNC_EXEC_TIMEOUT`: SAP's `COMPLETED/UNKNOWN`, and chime's outcome `timeout`.
pub const ASYNC_DEADLINE: Lifecycle = Lifecycle {
    status: RunStatus::Completed,
    state: RunState::Unknown,
    outcome: Some(Outcome::Timeout),
};

impl CallKind {
    /// SAP's reading of a call's end: 2xx/3xx succeed (202 waits for the job's report), 5xx
    /// is an `ERROR`, everything else a `REQUEST_ERROR`. `http_status` is the answer's status,
    /// when there was one.
    pub fn lifecycle(self, http_status: Option<u16>) -> Lifecycle {
        use {Outcome as O, RunState as S, RunStatus::*};
        let (status, state, outcome) = match self {
            CallKind::Success => (Completed, S::Success, Some(O::Success)),
            CallKind::Accepted => (Running, S::AckRecvd, None),
            CallKind::Failure if http_status.unwrap_or(500) >= 500 => {
                (Completed, S::Error, Some(O::Failure))
            }
            CallKind::Failure => (Completed, S::RequestError, Some(O::Failure)),
            CallKind::Error | CallKind::Blocked => (Completed, S::RequestError, Some(O::Error)),
            CallKind::Timeout => (Completed, S::RequestError, Some(O::Timeout)),
        };
        Lifecycle {
            status,
            state,
            outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_end_maps_to_sap_status_and_state() {
        let cases = [
            (
                CallKind::Success,
                Some(200),
                "COMPLETED",
                "SUCCESS",
                Some("success"),
            ),
            (
                CallKind::Success,
                Some(302),
                "COMPLETED",
                "SUCCESS",
                Some("success"),
            ),
            (CallKind::Accepted, Some(202), "RUNNING", "ACK_RECVD", None),
            (
                CallKind::Failure,
                Some(500),
                "COMPLETED",
                "ERROR",
                Some("failure"),
            ),
            (
                CallKind::Failure,
                Some(503),
                "COMPLETED",
                "ERROR",
                Some("failure"),
            ),
            (
                CallKind::Failure,
                Some(404),
                "COMPLETED",
                "REQUEST_ERROR",
                Some("failure"),
            ),
            (
                CallKind::Failure,
                None,
                "COMPLETED",
                "ERROR",
                Some("failure"),
            ),
            (
                CallKind::Error,
                None,
                "COMPLETED",
                "REQUEST_ERROR",
                Some("error"),
            ),
            (
                CallKind::Blocked,
                None,
                "COMPLETED",
                "REQUEST_ERROR",
                Some("error"),
            ),
            (
                CallKind::Timeout,
                None,
                "COMPLETED",
                "REQUEST_ERROR",
                Some("timeout"),
            ),
        ];
        for (kind, http, status, state, outcome) in cases {
            let l = kind.lifecycle(http);
            assert_eq!(l.status.as_str(), status, "{kind:?} {http:?}");
            assert_eq!(l.state.as_str(), state, "{kind:?} {http:?}");
            assert_eq!(l.outcome.map(Outcome::as_str), outcome, "{kind:?} {http:?}");
        }
    }

    #[test]
    fn names_read_back_and_serialise_as_on_the_wire() {
        for s in RunState::ALL {
            assert_eq!(s.as_str().parse::<RunState>(), Ok(*s));
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{s}\""));
        }
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(*s));
        }
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(*o));
        }
        for m in HttpMethod::ALL {
            assert_eq!(m.as_str().parse::<HttpMethod>(), Ok(*m));
        }
        let err = "FINISHED".parse::<RunStatus>().unwrap_err();
        assert_eq!(err.to_string(), "unknown runStatus \"FINISHED\"");
        assert!(
            "get".parse::<HttpMethod>().is_err(),
            "methods are upper case"
        );
    }
}
