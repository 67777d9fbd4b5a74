//! The chime worker: consumes runs from RabbitMQ, calls each job's action through the guarded
//! executor, records the result in Redis, and only then acknowledges the delivery.
//!
//! Layout: this file (the consume loop, the recorder's group commit, a delivery's runs);
//! [`executor`], the HTTP client that calls a job's action and reads how the call ended;
//! [`ssrf`], the guard that decides which addresses the executor may dial; [`signing`], the
//! tenants' signing secrets, kept in memory for a short while. The worker is the only crate
//! that calls targets.
//!
//! Per delivery: `start` (marks RUNNING/TRIGGERED; answers `AlreadyRecorded` when the run has
//! its result, so a redelivery is acknowledged without calling the target again), execute, `complete`
//! (records once per run id), ack. No run starts before its nominal instant on this machine's
//! clock. The first delivery of a fresh message (its record created by the publish that sent
//! it) does not wait for `start`: a read-only `check` (its job and schedule exist, it has no
//! result; batched like every step) clears it, it calls, and it is marked only if the call
//! outlasts `mark_running_after_ms`, so a quick run costs one record write; every other
//! delivery is marked first, so a run that has its result is never called again. A crash before the ack redelivers the run; the record scripts make that
//! harmless. A message carries one or more runs (the leader's `runs_per_message`): they
//! execute side by side and the message is acknowledged when all are recorded. At most
//! `worker_concurrency` runs execute at once, each tenant's at most its share ([`lanes`]), and twice
//! as many messages are prefetched.
//!
//! Shutdown order: stop consuming (cancel the consumer), let in-flight runs finish under
//! `shutdown_grace_secs`, then close the channel so what is unfinished goes back to the queue.

pub mod executor;
pub mod lanes;
mod notify;
pub mod redact;
mod retry;
pub mod signing;
pub mod ssrf;

use crate::executor::{Action, CallKind, CallMeta, Executor, ExecutorConfig, Outcome};
use crate::lanes::Lanes;
use crate::signing::SigningKeys;
use crate::ssrf::TargetPolicy;
use anyhow::Context;
use chime_broker::{RunConsumer, RunDelivery, Topology};
use chime_core::model::RunMessage;
use chime_runtime::config::Settings;
use chime_store::{
    Checked, Completed, Retention, Retrying, RunResult, RunStep, Started, StepAnswer, Store,
    StoreError, Target,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// A built worker; [`Worker::run`] consumes until cancelled.
pub struct Worker {
    inner: Arc<Inner>,
    ops_addr: SocketAddr,
    ops_cancel: CancellationToken,
}

struct Inner {
    settings: Settings,
    executor: Executor,
    topology: Topology,
    recorder: Recorder,
    /// A permit per run executing: `worker_concurrency` of them.
    running: Semaphore,
    /// Each tenant's share of the permits and of call time.
    lanes: Lanes,
    store: Store,
    id: String,
    /// Opens the runs' secret headers (`secret_keys`).
    secrets: chime_core::secrets::Keyring,
    /// Sends retries through the delay queues.
    publisher: chime_broker::Publisher,
    /// The tenants' signing secrets, opened with the same keyring.
    signing: SigningKeys,
    /// Delivers the notes of jobs with a `notifications` URL.
    notifier: notify::Notifier,
}

/// Group commit of run record steps. Runs in flight hand their steps (start, complete) to one
/// task, which sends whatever has gathered as one script call per tenant while at most
/// [`Recorder::IN_FLIGHT`] calls are outstanding. Idle, a step goes out alone at once; busy,
/// steps gather while the previous calls run, so Redis pays one script call for many runs.
#[derive(Clone)]
struct Recorder {
    tx: mpsc::Sender<Pending>,
}

enum Step {
    /// Mark the run started, as at least this attempt.
    Start(u32),
    /// Check, before the call of a fresh message's first delivery, that the run may be called.
    Check,
    Complete(RunResult),
    /// Record a failed attempt whose retry is about to be sent.
    Retry(Retrying),
}

/// What the step before a call decided.
enum Gate {
    /// Call, as this attempt.
    Call(u32),
    /// Do not call, for this reason.
    Skip(&'static str),
}

struct Pending {
    msg: Arc<RunMessage>,
    step: Step,
    reply: oneshot::Sender<Result<StepAnswer, String>>,
}

impl Recorder {
    const IN_FLIGHT: usize = 2;
    const MAX_BATCH: usize = 512;

    fn spawn(store: Store, worker: String) -> Recorder {
        let (tx, mut rx) = mpsc::channel::<Pending>(4096);
        tokio::spawn(async move {
            let permits = Arc::new(Semaphore::new(Self::IN_FLIGHT));
            while let Some(first) = rx.recv().await {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let mut batch = vec![first];
                while batch.len() < Self::MAX_BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                let (store, worker) = (store.clone(), worker.clone());
                tokio::spawn(async move {
                    flush(&store, &worker, batch).await;
                    drop(permit);
                });
            }
        });
        Recorder { tx }
    }

    async fn step(&self, msg: &Arc<RunMessage>, step: Step) -> Result<StepAnswer, StoreError> {
        let label = match step {
            Step::Start(_) => "start",
            Step::Check => "check",
            Step::Complete(_) => "complete",
            Step::Retry(_) => "retry",
        };
        let started = std::time::Instant::now();
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            msg: msg.clone(),
            step,
            reply,
        };
        if self.tx.send(pending).await.is_err() {
            return Err(StoreError::Grouped("the run recorder has stopped".into()));
        }
        let answer = answer.await;
        metrics::histogram!("chime_worker_record_seconds", "step" => label)
            .record(started.elapsed().as_secs_f64());
        match answer {
            Ok(r) => r.map_err(StoreError::Grouped),
            Err(_) => Err(StoreError::Grouped(
                "the run recorder dropped the step".into(),
            )),
        }
    }
}

async fn flush(store: &Store, worker: &str, batch: Vec<Pending>) {
    let steps: Vec<(&RunMessage, RunStep)> = batch
        .iter()
        .map(|p| {
            let step = match &p.step {
                Step::Start(n) => RunStep::Start(*n),
                Step::Check => RunStep::Check,
                Step::Complete(r) => RunStep::Complete(r),
                Step::Retry(r) => RunStep::Retry(r),
            };
            (&*p.msg, step)
        })
        .collect();
    metrics::histogram!("chime_worker_record_batch_size").record(steps.len() as f64);
    let result = store.record_steps(&steps, chrono_now(), worker).await;
    drop(steps);
    match result {
        Ok(codes) => {
            for (p, code) in batch.into_iter().zip(codes) {
                let _ = p.reply.send(Ok(code));
            }
        }
        Err(e) => {
            let e = e.to_string();
            for p in batch {
                let _ = p.reply.send(Err(e.clone()));
            }
        }
    }
}

impl Worker {
    pub async fn build(settings: Settings) -> anyhow::Result<Worker> {
        let retention = Retention {
            ttl_ms: settings.run_retention_days * 86_400_000,
            per_stream: settings.runs_per_schedule_cap,
        };
        let (url, ns) = (&settings.redis_url, &settings.namespace);
        let target = Target::of(url, settings.redis_cluster);
        let store = Store::connect_to(target, ns, retention, settings.due_partitions)
            .await
            .context("connecting to Redis")?
            .with_scheduler_shards(settings.scheduler_shards);
        let policy = TargetPolicy::parse(&settings.allow_targets).context("CHIME_ALLOW_TARGETS")?;
        let executor = Executor::new(ExecutorConfig {
            policy,
            body_cap: settings.response_body_cap,
            connect_timeout: Duration::from_millis(settings.connect_timeout_ms),
            user_agent: format!("chime/{}", env!("CARGO_PKG_VERSION")),
        })
        .context("building the HTTP client")?;
        let secrets = chime_core::secrets::Keyring::parse(&settings.secret_keys)?;
        let signing = SigningKeys::new(
            store.clone(),
            secrets.clone(),
            Duration::from_millis(settings.signing_secret_cache_ms),
        );
        let secret = store
            .cluster_secret(settings.cluster_secret.as_deref())
            .await
            .context("reading the cluster secret")?;
        let topology = Topology::new(&settings.namespace, settings.delivery_limit, &secret);
        let id = format!("worker-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let ops_cancel = CancellationToken::new();
        let ready = {
            let store = store.clone();
            let url = settings.amqp_url.clone();
            Arc::new(move || {
                let store = store.clone();
                let url = url.clone();
                Box::pin(async move {
                    store.ping().await.map_err(|e| format!("redis: {e}"))?;
                    chime_broker::probe(&url)
                        .await
                        .map_err(|e| format!("rabbitmq: {e}"))
                }) as futures::future::BoxFuture<'static, Result<(), String>>
            })
        };
        let ops_addr = chime_runtime::ops::serve(
            &settings.ops_addr,
            chime_runtime::ops::router(ready),
            ops_cancel.clone(),
        )
        .await
        .context("binding the ops address")?;
        let running = Semaphore::new(settings.worker_concurrency);
        let lanes = Lanes::new(
            settings.worker_concurrency,
            settings.tenant_slot_share_percent,
            settings.tenant_call_budget_ms,
            settings.default_timeout_ms,
        );
        let publisher = chime_broker::Publisher::new(&settings.amqp_url, topology.clone());
        let notifier = notify::Notifier::new(settings.notify_concurrency);
        Ok(Worker {
            inner: Arc::new(Inner {
                settings,
                executor,
                publisher,
                topology,
                recorder: Recorder::spawn(store.clone(), id.clone()),
                store,
                running,
                lanes,
                id,
                secrets,
                signing,
                notifier,
            }),
            ops_addr,
            ops_cancel,
        })
    }

    pub fn ops_addr(&self) -> SocketAddr {
        self.ops_addr
    }

    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Consumes until `cancel` fires, reconnecting to RabbitMQ whenever the connection drops.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let me = &self.inner;
        tracing::info!(worker = %me.id, ops = %self.ops_addr, concurrency = me.settings.worker_concurrency, "worker started");
        let tracker = TaskTracker::new();
        let heartbeat = tokio::spawn(self.inner.clone().heartbeat(cancel.clone()));
        let notifier = tokio::spawn(self.inner.clone().notify_loop(cancel.clone()));
        let mut backoff = Duration::from_millis(200);
        while !cancel.is_cancelled() {
            // Room for other tenants' messages while one tenant's runs wait for its lane.
            let prefetch = u16::try_from(me.settings.worker_concurrency * 2).unwrap_or(u16::MAX);
            let url = &me.settings.amqp_url;
            let mut consumer = match RunConsumer::open(url, &me.topology, prefetch, &me.id).await {
                Ok(c) => c,
                Err(e) => {
                    chime_runtime::telemetry::warn_throttled(
                        "consume_failed",
                        &format!("cannot consume from RabbitMQ; retrying: {e}"),
                    );
                    sleep_or_cancel(&cancel, backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            backoff = Duration::from_millis(200);
            tracing::info!(queue = %me.topology.runs_queue(), "consuming");
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    next = consumer.next() => match next {
                        Some(Ok(delivery)) => {
                            let inner = self.inner.clone();
                            tracker.spawn(async move { inner.handle(delivery).await });
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "consumer failed; reconnecting");
                            break;
                        }
                        None => {
                            tracing::warn!("consumer ended; reconnecting");
                            break;
                        }
                    }
                }
            }
            if cancel.is_cancelled() {
                // Quiet: no new deliveries. Then drain in-flight runs under the grace period.
                consumer.quiet().await;
                tracker.close();
                let grace = Duration::from_secs(me.settings.shutdown_grace_secs);
                if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
                    tracing::warn!("grace period over; unfinished runs go back to the queue");
                }
                consumer.close().await;
            }
        }
        let _ = heartbeat.await;
        let _ = notifier.await;
        self.ops_cancel.cancel();
        tracing::info!(worker = %me.id, "worker stopped");
        Ok(())
    }
}

impl Inner {
    /// Registers the worker's slots every [`Inner::HEARTBEAT`] until `cancel` (the leader
    /// caps each tenant's runs in flight at the slots of the workers alive), then forgets them.
    async fn heartbeat(self: Arc<Self>, cancel: CancellationToken) {
        let slots = self.settings.worker_concurrency;
        while !cancel.is_cancelled() {
            let until = chrono_now() + 3 * Self::HEARTBEAT.as_millis() as i64;
            let busy = slots.saturating_sub(self.running.available_permits());
            if let Err(e) = self
                .store
                .worker_heartbeat(&self.id, slots, busy, until)
                .await
            {
                chime_runtime::telemetry::warn_throttled(
                    "worker_heartbeat_failed",
                    &format!("worker heartbeat failed: {e}"),
                );
            }
            sleep_or_cancel(&cancel, Self::HEARTBEAT).await;
        }
        let _ = self.store.worker_gone(&self.id, slots).await;
    }

    const HEARTBEAT: Duration = Duration::from_secs(5);

    /// One delivery: its runs execute side by side (each in its own task, so a panic is
    /// contained, and each under a permit of the worker's concurrency). The message is
    /// acknowledged once every run has its result recorded, and handed back otherwise; its
    /// redelivery skips the runs already recorded.
    async fn handle(self: Arc<Self>, delivery: RunDelivery) {
        let runs = match delivery.runs() {
            Ok(runs) => runs,
            Err(e) => {
                chime_runtime::telemetry::warn_throttled(
                    "run_message_refused",
                    &format!("run message refused; dead-lettering it: {e}"),
                );
                metrics::counter!("chime_runs_poison_total", "reason" => e.reason()).increment(1);
                let _ = delivery.dead_letter().await;
                return;
            }
        };
        let attempt = delivery.attempt();
        let tasks = runs.into_iter().map(|m| {
            let msg = Arc::new(m);
            let span = tracing::info_span!("run", run_id = %msg.run_id, job_id = msg.job_id, schedule_id = %msg.schedule_id, tenant = %msg.tenant);
            let me = self.clone();
            let m = msg.clone();
            let task = tokio::spawn(
                async move {
                    // A retry waits for its own due instant too.
                    not_before(m.retry_at.map_or(m.scheduled_at, |r| r.max(m.scheduled_at))).await;
                    // The tenant's lane first: a run over its tenant's share waits there
                    // without holding one of the worker's permits.
                    let _lane = me.lanes.enter(&m.tenant, me.timeout_ms(&m)).await;
                    let _permit = me.running.acquire().await;
                    me.process(&m, attempt).await
                }
                .instrument(span),
            );
            async move { (msg, task.await) }
        });
        let mut requeue = false;
        for (msg, outcome) in futures::future::join_all(tasks).await {
            match outcome {
                Ok(Ok(reason)) => tracing::debug!(run_id = %msg.run_id, reason, "done"),
                Ok(Err(e)) => {
                    // Redis unreachable for the whole retry window: hand the message back.
                    // Each requeue counts toward the delivery limit, after which the message
                    // is dead-lettered.
                    chime_runtime::telemetry::warn_throttled(
                        "record_failed",
                        &format!("could not record run {}; requeueing it: {e}", msg.run_id),
                    );
                    requeue = true;
                }
                Err(join) => {
                    tracing::error!(run_id = %msg.run_id, error = %join, "run handler panicked; requeueing it");
                    metrics::counter!("chime_worker_panics_total").increment(1);
                    requeue = true;
                }
            }
        }
        if requeue {
            let _ = delivery.requeue().await;
        } else if let Err(e) = delivery.ack().await {
            chime_runtime::telemetry::warn_throttled(
                "ack_failed",
                &format!("ack failed; the runs will be redelivered and recorded once: {e}"),
            );
        }
    }

    /// The run's call timeout (ms): its job's, or the default.
    fn timeout_ms(&self, msg: &RunMessage) -> u64 {
        msg.action.timeout_or(self.settings.default_timeout_ms)
    }

    /// The `check` step before a fresh message's first call: `Some(reason)` when the run is not
    /// to be executed (its job or schedule is gone, or it already has its result).
    async fn check(&self, msg: &Arc<RunMessage>) -> Result<Gate, StoreError> {
        match retry(|| self.recorder.step(msg, Step::Check)).await? {
            StepAnswer::Checked(Checked::Call) => Ok(Gate::Call(1)),
            StepAnswer::Checked(Checked::Gone) => Ok(Gate::Skip(dropped_gone())),
            StepAnswer::Checked(Checked::AlreadyRecorded) => Ok(Gate::Skip(duplicate())),
            other => Err(StoreError::Corrupt(format!(
                "a check step answered {other:?}"
            ))),
        }
    }

    /// The `start` step: marks the run RUNNING/TRIGGERED. [`Gate::Skip`] when the run is not
    /// to be executed (its job is gone, it already has its result, or this is an earlier
    /// attempt's message while a retry waits: the retry is sent again).
    async fn mark_started(&self, msg: &Arc<RunMessage>, at_least: u32) -> anyhow::Result<Gate> {
        let attempt = retry(|| self.recorder.step(msg, Step::Start(at_least))).await?;
        Ok(match attempt {
            StepAnswer::Started(Started::Gone) => Gate::Skip(dropped_gone()),
            StepAnswer::Started(Started::AlreadyRecorded) => Gate::Skip(duplicate()),
            StepAnswer::Started(Started::Waiting { attempt, at }) => {
                self.send_retry(msg, attempt, at).await?;
                Gate::Skip("retry sent again")
            }
            StepAnswer::Started(Started::Attempt(n)) => {
                if n > msg.attempt.max(1) {
                    metrics::counter!("chime_runs_reexecuted_total").increment(1);
                }
                Gate::Call(n)
            }
            other => {
                return Err(StoreError::Corrupt(format!("a start step answered {other:?}")).into())
            }
        })
    }

    /// One delivery: mark, call, record. A redelivery, a message that is not fresh (a
    /// re-publish: its run may have finished meanwhile), or every run with
    /// `mark_running_after_ms = 0`, is marked started before its call, so a run that already
    /// has its result or whose job or schedule is gone is not called again. The first delivery
    /// of a fresh message (its record was created by the publish that sent it) is checked
    /// without a write (job and schedule exist, no result; a duplicate is noted in the run's
    /// log), calls, and is marked only if its
    /// call outlasts
    /// `mark_running_after_ms`; if the mark then finds the run finished elsewhere or its job
    /// gone, the call is abandoned.
    async fn process(&self, msg: &Arc<RunMessage>, at_least: u32) -> anyhow::Result<&'static str> {
        // The worker's own clock: its timestamps describe what it did; "due" is decided by the
        // leader against Redis's clock.
        let now = chrono::Utc::now().timestamp_millis();
        let mark_after = Duration::from_millis(self.settings.mark_running_after_ms);
        let lazy = at_least == 1 && msg.fresh && !mark_after.is_zero();
        // The number of this call: 1 for a fresh message's first delivery, else as counted
        // by the start step.
        let gate = if lazy {
            self.check(msg).await?
        } else {
            self.mark_started(msg, at_least).await?
        };
        let mut attempt = match gate {
            Gate::Call(n) => n,
            Gate::Skip(reason) => return Ok(reason),
        };
        metrics::histogram!("chime_run_start_lag_seconds")
            .record((now - msg.scheduled_at).max(0) as f64 / 1000.0);
        // A secret header or signing secret that cannot be opened fails the run without its
        // call.
        let signer = retry(|| self.signing.of(&msg.tenant)).await?.signer();
        let (secret_headers, signer, refused) = match (self.open_secrets(msg), signer) {
            (Ok(opened), Ok(signer)) => (opened, signer, None),
            (Err(e), _) | (_, Err(e)) => (vec![], None, Some(e)),
        };
        let action = Action {
            url: msg.action.url.clone(),
            method: msg.action.method,
            headers: msg.action.headers.clone(),
            secret_headers,
            body: msg.action.body.clone(),
            timeout: Duration::from_millis(self.timeout_ms(msg)),
        };
        let meta = CallMeta {
            job_id: msg.job_id.to_string(),
            schedule_id: msg.schedule_id.clone(),
            run_id: msg.run_id.clone(),
            scheduler_host: self.settings.public_url.clone(),
            attempt,
            signer,
            message_id: None,
        };
        let call = async {
            match refused {
                None => self.executor.execute(&action, &meta).await,
                Some(e) => Outcome::not_called(e),
            }
        };
        let call = self.unless_cancelled(msg, call);
        let outcome = if lazy {
            let mark = async {
                tokio::time::sleep(mark_after).await;
                self.mark_started(msg, at_least).await
            };
            tokio::pin!(call, mark);
            let mut marked = false;
            loop {
                tokio::select! {
                    outcome = &mut call => break outcome,
                    m = &mut mark, if !marked => {
                        match m? {
                            Gate::Call(n) => attempt = n,
                            Gate::Skip(reason) => return Ok(reason),
                        }
                        marked = true;
                    }
                }
            }
        } else {
            call.await
        };
        metrics::histogram!("chime_action_seconds").record(outcome.duration.as_secs_f64());
        if let Some(plan) = self.retry_plan(msg, attempt, &outcome) {
            return self.retry(msg, attempt, &outcome, plan).await;
        }
        let result = to_result(&outcome);
        metrics::counter!("chime_runs_executed_total", "outcome" => result.outcome_label())
            .increment(1);
        let recorded = retry(|| self.recorder.step(msg, Step::Complete(result.0.clone()))).await?;
        if recorded == StepAnswer::Completed(Completed::Recorded) {
            metrics::counter!("chime_runs_recorded_total").increment(1);
            if msg.notify {
                self.hint_notes(&msg.tenant).await;
            }
        }
        tracing::info!(run_id = %msg.run_id, job_id = msg.job_id, schedule_id = %msg.schedule_id, tenant = %msg.tenant, state = %result.0.state, http = ?result.0.http_status, "run finished");
        Ok("recorded")
    }
}

impl Inner {
    /// How often a replaceable run's worker looks for its cancellation during the call.
    const CANCEL_POLL: Duration = Duration::from_millis(250);

    /// `call`, abandoned (and the request aborted) as soon as its run is cancelled by a newer
    /// fire of its schedule (`concurrencyPolicy: replace`) or finished elsewhere; only runs of
    /// such jobs are watched.
    async fn unless_cancelled(
        &self,
        msg: &RunMessage,
        call: impl std::future::Future<Output = Outcome>,
    ) -> Outcome {
        if !msg.replaceable {
            return call.await;
        }
        let (started_at, t0) = (chrono::Utc::now(), std::time::Instant::now());
        tokio::pin!(call);
        loop {
            tokio::select! {
                outcome = &mut call => return outcome,
                () = tokio::time::sleep(Self::CANCEL_POLL) => {
                    let store = &self.store;
                    if store.run_cancelled(&msg.tenant, &msg.run_id).await.unwrap_or(false) {
                        metrics::counter!("chime_runs_cancelled_total").increment(1);
                        return Outcome {
                            error: Some("cancelled: replaced by a newer run of its schedule (concurrencyPolicy replace); the call was aborted".into()),
                            started_at,
                            duration: t0.elapsed(),
                            failure: Some(chime_core::timing::FailureReason::Cancelled),
                            ..Outcome::not_called(String::new())
                        };
                    }
                }
            }
        }
    }

    /// The run's secret headers, opened with the worker's keyring; an error naming the
    /// header when one cannot be opened (the run fails without a call).
    fn open_secrets(&self, msg: &RunMessage) -> Result<Vec<(String, String)>, String> {
        msg.action
            .secret_headers
            .iter()
            .map(|(name, sealed)| {
                let place = chime_core::secrets::place(&msg.tenant, msg.job_id, name);
                self.secrets
                    .open(&place, sealed)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| format!("secret header '{name}' cannot be opened: {e}"))
            })
            .collect()
    }
}

fn dropped_gone() -> &'static str {
    metrics::counter!("chime_runs_dropped_total", "reason" => "job_gone").increment(1);
    "job or schedule gone"
}

fn duplicate() -> &'static str {
    metrics::counter!("chime_runs_duplicate_deliveries_total").increment(1);
    "already recorded"
}

struct Recorded(RunResult);

impl Recorded {
    fn outcome_label(&self) -> &'static str {
        self.0.outcome.map_or("accepted", |o| o.as_str())
    }
}

/// Waits until `at` (ms) on this machine's clock: no run starts before its nominal instant
/// where its target is called, whatever the leader's estimate of Redis's clock said when it
/// found the run due.
async fn not_before(at: i64) {
    let early = at - chrono_now();
    if early > 0 {
        metrics::counter!("chime_runs_held_until_due_total").increment(1);
        let early = u64::try_from(early).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(early)).await;
        // The timer may wake a little before the wall clock reaches `at`.
        while chrono_now() < at {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

fn chrono_now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// SAP's reading of an HTTP outcome ([`CallKind::lifecycle`]) with the run's texts.
fn to_result(o: &Outcome) -> Recorded {
    let life = o.kind.lifecycle(o.http_status);
    // The endpoint's answer is the run's text (SAP's `runText`), a failure's too; chime's own
    // message stays in the run's error and its text log.
    let answered = o.http_status.is_some();
    let run_text = match (&o.error, &o.body) {
        (_, Some(b)) if answered && !b.trim().is_empty() => b.clone(),
        (Some(e), _) => e.clone(),
        (None, Some(b)) if !b.trim().is_empty() => b.clone(),
        _ => match o.http_status {
            Some(s) => format!("HTTP {s}"),
            None => String::new(),
        },
    };
    Recorded(RunResult {
        status: life.status,
        state: life.state,
        outcome: life.outcome,
        http_status: o.http_status,
        run_text,
        body: o.body.clone(),
        error: o.error.clone(),
        duration_ms: o.duration.as_millis() as u64,
        executed_at: o.started_at.timestamp_millis(),
        timing: o.timing,
        failure_reason: o.failure.filter(|_| life.outcome.is_some()),
        event: o
            .error
            .as_ref()
            .filter(|_| o.kind == CallKind::Blocked)
            .map(|e| format!("Cannot start run: the target is blocked: {e}")),
    })
}

/// Retries a store call for up to about 30 s (Redis restarting), then gives up.
async fn retry<T, F, Fut>(mut f: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut delay = Duration::from_millis(50);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() + delay < deadline => {
                chime_runtime::telemetry::warn_throttled(
                    "store_call_failed",
                    &format!("store call failed; retrying: {e}"),
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

async fn sleep_or_cancel(cancel: &CancellationToken, d: Duration) {
    tokio::select! {
        _ = cancel.cancelled() => {},
        _ = tokio::time::sleep(d) => {},
    }
}
