//! The notifier: delivers the notes of jobs with a `notifications` URL (`chime_store::Note`:
//! a run failed after its retries, a schedule recovered or was deactivated) as signed JSON
//! events, beside the runs and never in their way: it has its own permits
//! (`notify_concurrency`, a tenant at most a quarter of them) and its own timeout
//! (`notify_timeout_ms`), and no run waits for it.
//!
//! Each worker runs one. It looks at the tenants hinted to have notes due every
//! `notify_poll_ms` (and at once when this worker has just recorded a result that may have
//! made one), and at every tenant every `notify_scan_secs`, since a hint is lost when a process
//! dies between making a note and hinting it. A note is claimed for its call's timeout plus
//! [`LEASE_MARGIN`]; an attempt that fails is tried again after [`RETRIES`]' backoff (full
//! jitter), and a note whose retries are spent, or whose URL the address guard refuses, is
//! given up (`failed`). A worker that dies mid-call leaves its claim to run out: delivery is
//! at least once, and the event's `id` (also its `webhook-id`) tells a repeat.

use crate::executor::{Action, CallKind, CallMeta};
use crate::{chrono_now, Inner};
use chime_core::retry::RetryPolicy;
use chime_core::run::HttpMethod;
use chime_store::{Event, Note, NoteAttempt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

/// A notification's retries: up to 12 after the first call, the ceiling doubling from 5 s to
/// an hour (about three and a half hours in all at most), within a day.
pub const RETRIES: RetryPolicy = RetryPolicy {
    retry_count: 12,
    min_backoff_seconds: 5,
    max_backoff_seconds: 3600,
    max_doublings: 16,
    max_retry_seconds: 86_400,
};

/// A claim outlives its call's timeout by this much (the attempt's record takes
/// milliseconds).
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// The notifier's state: its permits, each tenant's deliveries in progress, and its wake-up.
pub(crate) struct Notifier {
    wake: Notify,
    permits: Arc<Semaphore>,
    per_tenant: usize,
    busy: Mutex<HashMap<String, usize>>,
}

impl Notifier {
    pub(crate) fn new(concurrency: usize) -> Notifier {
        Notifier {
            wake: Notify::new(),
            permits: Arc::new(Semaphore::new(concurrency)),
            per_tenant: (concurrency / 4).max(1),
            busy: Mutex::new(HashMap::new()),
        }
    }

    /// Takes up to `want` of the tenant's share; returns how many.
    fn take(&self, tenant: &str, want: usize) -> usize {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let n = busy.entry(tenant.to_string()).or_default();
        let got = want.min(self.per_tenant.saturating_sub(*n));
        *n += got;
        got
    }

    fn put_back(&self, tenant: &str, n: usize) {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = busy.get_mut(tenant) {
            *held = held.saturating_sub(n);
            if *held == 0 {
                busy.remove(tenant);
            }
        }
    }
}

impl Inner {
    /// After this worker recorded a result that may have made a note of `tenant`'s.
    pub(crate) async fn hint_notes(&self, tenant: &str) {
        if let Err(e) = self.store.hint_notes(tenant).await {
            tracing::debug!(tenant, error = %e, "notes hint not stored; the scan finds them");
        }
        self.notifier.wake.notify_one();
    }

    /// The notifier's loop, until `cancel`.
    pub(crate) async fn notify_loop(self: Arc<Self>, cancel: CancellationToken) {
        let poll = Duration::from_millis(self.settings.notify_poll_ms);
        let scan_every = Duration::from_secs(self.settings.notify_scan_secs);
        let mut scanned: Option<Instant> = None;
        loop {
            let all = scanned.is_none_or(|at| at.elapsed() >= scan_every);
            let tenants = if all {
                scanned = Some(Instant::now());
                self.store.tenants().await
            } else {
                self.store.hinted_note_tenants().await
            };
            match tenants {
                Ok(tenants) => {
                    for t in tenants {
                        self.clone().deliver_due(&t, !all).await;
                    }
                }
                Err(e) => chime_runtime::telemetry::warn_throttled(
                    "notify_tenants",
                    &format!("cannot read the tenants with notifications due: {e}"),
                ),
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(poll) => {}
                () = self.notifier.wake.notified() => {}
            }
        }
    }

    /// Claims the tenant's notes due, as many as its share has room for, and delivers each in
    /// a task of its own. `hinted`: the tenant came from the hints, which it leaves when it
    /// has no note waiting at all.
    async fn deliver_due(self: Arc<Self>, tenant: &str, hinted: bool) {
        let room = self.notifier.take(tenant, usize::MAX);
        if room == 0 {
            return;
        }
        let lease = Duration::from_millis(self.settings.notify_timeout_ms) + LEASE_MARGIN;
        let claimed = self
            .store
            .claim_notes(tenant, chrono_now(), lease.as_millis() as i64, room)
            .await;
        let notes = match claimed {
            Ok(notes) => notes,
            Err(e) => {
                self.notifier.put_back(tenant, room);
                chime_runtime::telemetry::warn_throttled(
                    "notify_claim",
                    &format!("cannot claim the notifications of tenant {tenant}: {e}"),
                );
                return;
            }
        };
        self.notifier.put_back(tenant, room - notes.len());
        if notes.is_empty() && hinted {
            if let Ok(0) = self.store.notes_waiting(tenant).await {
                let _ = self.store.drop_note_hint(tenant).await;
            }
        }
        for note in notes {
            let me = self.clone();
            let tenant = tenant.to_string();
            tokio::spawn(async move {
                let permit = me.notifier.permits.clone().acquire_owned().await;
                me.deliver(&tenant, &note).await;
                drop(permit);
                me.notifier.put_back(&tenant, 1);
            });
        }
    }

    /// One attempt to deliver `note`, and its record.
    async fn deliver(&self, tenant: &str, note: &Note) {
        let attempt = note.tries + 1;
        let signer = match self.signing.of(tenant).await {
            Ok(signing) => signing.signer(),
            Err(e) => Err(format!("the signing secret could not be read: {e}")),
        };
        let body = serde_json::to_string(&Event::of(note)).expect("events serialise");
        let (status, error, kind, retry_after) = match signer {
            Err(e) => (None, Some(e), CallKind::Error, None),
            Ok(signer) => {
                let action = Action {
                    url: note.url.clone(),
                    method: HttpMethod::Post,
                    headers: vec![
                        ("content-type".into(), "application/json".into()),
                        ("x-chime-event".into(), note.kind.clone()),
                    ],
                    secret_headers: vec![],
                    body: Some(body),
                    timeout: Duration::from_millis(self.settings.notify_timeout_ms),
                };
                let meta = CallMeta {
                    job_id: note.job_id.to_string(),
                    schedule_id: note.schedule_id.clone(),
                    run_id: note.run_id.clone().unwrap_or_default(),
                    scheduler_host: self.settings.public_url.clone(),
                    attempt,
                    signer,
                    message_id: Some(note.id.clone()),
                };
                let o = self.executor.execute(&action, &meta).await;
                (o.http_status, o.error, o.kind, o.retry_after)
            }
        };
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        let now = chrono_now();
        let retry_at = (!delivered && !matches!(kind, CallKind::Blocked))
            .then(|| RETRIES.wait(attempt, rand::random::<f64>(), retry_after))
            .filter(|wait| {
                let since =
                    Duration::from_millis(u64::try_from(now - note.created_at).unwrap_or(0));
                RETRIES.allows(attempt, since, *wait)
            })
            .map(|wait| now + wait.as_millis() as i64);
        let error = match (&error, status) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(s)) if !delivered => Some(format!("the URL answered {s}")),
            _ => None,
        };
        let outcome = if delivered {
            "delivered"
        } else if retry_at.is_some() {
            "retry"
        } else {
            "failed"
        };
        metrics::counter!("chime_notifications_total", "outcome" => outcome).increment(1);
        tracing::info!(tenant, note = %note.id, kind = %note.kind, attempt, status = ?status, outcome, "notification attempted");
        let recorded = NoteAttempt {
            at: now,
            http_status: status,
            error: error.as_deref(),
            delivered,
            retry_at,
        };
        if let Err(e) = self
            .store
            .record_note_attempt(tenant, &note.id, &recorded)
            .await
        {
            chime_runtime::telemetry::warn_throttled(
                "notify_record",
                &format!("the attempt of notification {} was not recorded (it is tried again when its claim runs out): {e}", note.id),
            );
        }
    }
}
