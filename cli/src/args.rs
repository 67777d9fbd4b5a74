//! The command line: every command, its arguments and flags (clap's derive).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  an unexpected error, the server failed (5xx) or is rate-limiting the key (429)
  2  a usage error (a bad flag or argument)
  3  not logged in, or the token was refused (401, 403)
  4  not found (404): no such job, schedule, run, tenant or key
  5  the server refused the input (400, 409, 413, 422)
  6  the server could not be reached

Configuration: `chime login` keeps the URL and the token in $XDG_CONFIG_HOME/chime/config.toml
(~/.config/chime/config.toml; CHIME_CLI_CONFIG names another file). CHIME_URL and CHIME_TOKEN
override it, --url and --token override both. The token is a tenant's API key
(<keyId>.<secret>) or the operator's admin token (for `chime admin`).";

/// chime's command line: jobs, schedules, runs, live tails and exports of a chime cluster,
/// tenants and keys for its operator, and its services (`chime serve`).
#[derive(Parser, Debug)]
#[command(name = "chime", version, after_long_help = EXIT_CODES)]
pub struct Cli {
    /// The API's URL (default: CHIME_URL, then the config file).
    #[arg(long, global = true, env = "CHIME_URL", hide_env_values = true)]
    pub url: Option<String>,
    /// The token: a tenant API key `<keyId>.<secret>` or the admin token (default:
    /// CHIME_TOKEN, then the config file).
    #[arg(long, global = true, env = "CHIME_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the API's JSON instead of tables (one object per line for streams).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check a URL and a token and keep them in the config file (mode 0600). Asks for what
    /// --url and --token do not give; reads the token from stdin when stdin is not a terminal.
    Login,
    /// Forget the saved URL and token (delete the config file).
    Logout,
    /// Jobs: list, show, create, edit, delete, pause, resume.
    #[command(subcommand)]
    Jobs(JobsCmd),
    /// A job's schedules.
    #[command(subcommand)]
    Schedules(SchedulesCmd),
    /// Run a job now: its schedule's run, fired at once (whether or not it is active).
    Run {
        /// The job id or name.
        job: String,
        /// The schedule id (default: the job's only schedule).
        schedule: Option<String>,
    },
    /// Runs: list a job's, show one, follow a job's live.
    #[command(subcommand)]
    Runs(RunsCmd),
    /// Export a job's runs as NDJSON or CSV, to stdout or a file.
    Export(ExportArgs),
    /// The key's tenant: its name, retention, quota and limits.
    Tenant,
    /// The tenant's API keys (a key with the `admin` scope): list, create, revoke.
    #[command(subcommand)]
    Keys(OwnKeysCmd),
    /// The operator's calls (the admin token): tenants, API keys, the fleet, dead letters.
    #[command(subcommand)]
    Admin(AdminCmd),
    /// Print a shell completion script (e.g. `chime completions bash > /etc/bash_completion.d/chime`).
    Completions { shell: clap_complete::Shell },
    /// Run one of chime's services (settings from CHIME_* and CHIME_CONFIG, as the
    /// per-service binaries).
    Serve { service: Service },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Service {
    Api,
    Scheduler,
    Worker,
}

#[derive(Subcommand, Debug)]
pub enum JobsCmd {
    /// The tenant's jobs.
    List {
        /// SAP's filter expression, e.g. "contains(name, 'report')".
        #[arg(long)]
        filter: Option<String>,
    },
    /// One job and its schedules.
    Show { job: String },
    /// Create a job (from flags, a JSON file, or both: the flags win).
    Create(JobFields),
    /// Change a job: the fields given (flags, or a JSON file).
    Edit {
        job: String,
        #[command(flatten)]
        fields: JobFields,
    },
    /// Delete a job, its schedules and runs.
    Delete { job: String },
    /// Deactivate every schedule of the job.
    Pause { job: String },
    /// Activate every schedule of the job.
    Resume { job: String },
}

/// A job's fields as flags; with `--file`, SAP's job JSON they are laid over.
#[derive(Args, Debug, Default)]
pub struct JobFields {
    /// SAP's job JSON (`-` for stdin).
    #[arg(long, short)]
    pub file: Option<PathBuf>,
    #[arg(long)]
    pub name: Option<String>,
    /// The URL chime calls.
    #[arg(long)]
    pub action: Option<String>,
    /// GET, POST, PUT, DELETE or PATCH (default POST).
    #[arg(long)]
    pub method: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// Create the job inactive (it fires once activated).
    #[arg(long, conflicts_with = "active")]
    pub inactive: bool,
    /// Activate the job.
    #[arg(long)]
    pub active: bool,
    #[command(flatten)]
    pub schedule: ScheduleMode,
}

/// A schedule's timing: one mode at most.
#[derive(Args, Debug, Default, Clone)]
#[group(multiple = false)]
pub struct ScheduleMode {
    /// SAP's cron: year month day weekday hour minute second, e.g. "* * * * * */5 0".
    #[arg(long)]
    pub cron: Option<String>,
    /// Standard cron: minute hour day-of-month month day-of-week (or @daily, @hourly, …).
    #[arg(long)]
    pub crontab: Option<String>,
    /// An interval, e.g. "30 seconds", "2 hours".
    #[arg(long)]
    pub repeat_every: Option<String>,
    /// Once, at this time (e.g. "now", "2026-12-01T10:00:00Z", "in 10 minutes").
    #[arg(long)]
    pub time: Option<String>,
    /// Every day at this time of day, e.g. "4.40pm", "16:40".
    #[arg(long)]
    pub repeat_at: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum SchedulesCmd {
    /// A job's schedules.
    List { job: String },
    /// One schedule.
    Show { job: String, schedule: String },
    /// Add a schedule to a job.
    Create {
        job: String,
        #[command(flatten)]
        fields: ScheduleFields,
    },
    /// Change a schedule: the fields given.
    Edit {
        job: String,
        schedule: String,
        #[command(flatten)]
        fields: ScheduleFields,
    },
    /// Delete a schedule.
    Delete { job: String, schedule: String },
    /// Activate a schedule.
    Activate { job: String, schedule: String },
    /// Deactivate a schedule.
    Deactivate { job: String, schedule: String },
}

/// A schedule's fields as flags; with `--file`, SAP's schedule JSON they are laid over.
#[derive(Args, Debug, Default)]
pub struct ScheduleFields {
    /// SAP's schedule JSON (`-` for stdin).
    #[arg(long, short)]
    pub file: Option<PathBuf>,
    #[arg(long)]
    pub description: Option<String>,
    /// An IANA time zone the schedule is evaluated in, e.g. Europe/Berlin.
    #[arg(long)]
    pub time_zone: Option<String>,
    /// Create the schedule inactive.
    #[arg(long)]
    pub inactive: bool,
    #[command(flatten)]
    pub mode: ScheduleMode,
}

#[derive(Subcommand, Debug)]
pub enum RunsCmd {
    /// A job's runs, newest first.
    List {
        job: String,
        /// A runStatus (SCHEDULED, RUNNING, COMPLETED), a runState (SUCCESS, ERROR, …) or an
        /// outcome (success, failure, error, timeout); a comma-separated list of one kind.
        #[arg(long)]
        status: Option<String>,
        /// Runs finished since this instant: RFC 3339, a date, or a duration ago (30m, 1h, 2d).
        #[arg(long)]
        since: Option<String>,
        /// At most this many runs.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One run in detail, with its log, by its id (`GET /scheduler/runs/{runId}`); --job
    /// (and --schedule), when given, must be the run's.
    Show {
        run: String,
        #[arg(long)]
        job: Option<String>,
        #[arg(long, requires = "job")]
        schedule: Option<String>,
    },
    /// Follow a job's runs as they finish (the live tail), until Ctrl-C or the stream ends.
    Tail { job: String },
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    pub job: String,
    /// The first fire time: RFC 3339, a date, or a duration ago (1h, 7d). Default: the start of
    /// the retention window.
    #[arg(long)]
    pub from: Option<String>,
    /// The last fire time (same forms). Default: now.
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Ndjson)]
    pub format: Format,
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

#[derive(Subcommand, Debug)]
pub enum AdminCmd {
    /// Tenants: list, show, create, update, delete.
    #[command(subcommand)]
    Tenants(TenantsCmd),
    /// A tenant's API keys: list, create, revoke.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// The fleet: each shard's leader and epoch, schedulers, workers, queues, tenants' pace.
    Operations,
    /// The dead-letter queue: list its messages, replay or discard one.
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(DeadLettersCmd),
}

#[derive(Subcommand, Debug)]
pub enum DeadLettersCmd {
    /// The messages and the runs they carry, oldest first.
    List {
        /// Messages to skip.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// At most this many (1 to 100).
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// Publish a message's runs again (a finished run is not called again).
    Replay { id: String },
    /// Forget a message, finishing its unfinished runs as errors.
    Discard { id: String },
}

#[derive(Subcommand, Debug)]
pub enum OwnKeysCmd {
    /// The tenant's keys (never their secrets).
    List,
    /// Create a key of the tenant (its token is shown once).
    Create {
        /// Its scopes (default read, write, run-update).
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// It stops working after this many seconds.
        #[arg(long)]
        expires_in: Option<u64>,
    },
    /// Revoke a key of the tenant.
    Revoke { key: String },
}

#[derive(Subcommand, Debug)]
pub enum TenantsCmd {
    /// Every tenant, by name.
    List,
    /// A tenant's name and effective settings.
    Show { tenant: String },
    /// Create a tenant (its signing secret is shown once).
    Create { name: String },
    /// Change a tenant's retention, quota and limits (0 = no limit).
    Update {
        tenant: String,
        #[arg(long)]
        retention_days: Option<u64>,
        #[arg(long)]
        runs_per_minute: Option<u64>,
        #[arg(long)]
        max_jobs: Option<u64>,
        #[arg(long)]
        max_schedules: Option<u64>,
        #[arg(long)]
        max_in_flight: Option<u64>,
        #[arg(long)]
        requests_per_second: Option<u64>,
    },
    /// Delete a tenant with its keys, jobs and runs.
    Delete { tenant: String },
}

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// A tenant's keys (never their secrets).
    List { tenant: String },
    /// Create a key (its token is shown once).
    Create {
        tenant: String,
        /// Its scopes (default read, write, run-update).
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// It stops working after this many seconds.
        #[arg(long)]
        expires_in: Option<u64>,
    },
    /// Revoke a key.
    Revoke { tenant: String, key: String },
}
