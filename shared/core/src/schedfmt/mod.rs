//! Schedule formats of the chime job scheduler, following SAP BTP Job Scheduling
//! Service: the 7-field SAP cron ([`SapCron`]), `repeatInterval`
//! ([`parse_repeat_interval`]), `repeatAt` ([`parse_repeat_at`]) and the date
//! values of `time`, `startTime` and `endTime` ([`parse_sap_datetime`], or
//! [`parse_sap_datetime_in`] for a schedule's `timeZone`); and chime's standard cron,
//! `crontab` ([`Crontab`]). Results are UTC instants; grids and date values without an
//! offset are wall-clock times of the schedule's zone (UTC unless one is given,
//! [`crate::zone`]).

pub mod crontab;
pub mod datetime;
pub mod interval;
pub mod sapcron;

pub use crontab::{Crontab, CrontabError};
pub use datetime::{parse_repeat_at, parse_sap_datetime, parse_sap_datetime_in};
pub use interval::parse_repeat_interval;
pub use sapcron::{CronError, SapCron};

/// A rejected schedule value. Messages name the value and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// An invalid `repeatInterval`.
    #[error("invalid repeatInterval '{value}': {problem}")]
    Interval {
        /// The value as given.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An invalid `time`, `startTime` or `endTime` value.
    #[error("invalid date/time '{value}': {problem}")]
    DateTime {
        /// The value as given (JSON text for non-string values).
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A moment.js format token that chime does not parse.
    #[error("unsupported date format token '{token}' in format '{format}'")]
    UnsupportedToken {
        /// The token, e.g. `Q` or `DDDD`.
        token: String,
        /// The whole format.
        format: String,
    },
    /// An invalid `repeatAt` value.
    #[error("invalid repeatAt '{value}': {problem}")]
    RepeatAt {
        /// The value as given.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An invalid `cron` value.
    #[error(transparent)]
    Cron(#[from] CronError),
    /// An unknown `timeZone`.
    #[error("unknown time zone '{value}': expected an IANA name such as Europe/Berlin or UTC")]
    TimeZone {
        /// The value as given.
        value: String,
    },
    /// An invalid `crontab` value.
    #[error(transparent)]
    Crontab(#[from] CrontabError),
}
