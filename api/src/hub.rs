//! The live tails' hub: one reader of the jobs' "done" streams for every live tail an API
//! process serves, fanning each run out to the tails of its job, and the caps on the tails
//! open at once per API key and per tenant.
//!
//! Each watched job (tenant, job) has a `tokio::sync::broadcast` channel, a cursor (the last
//! stream id read) and a count of its listeners. While any job is watched, one reader task
//! runs rounds: it announces each watched job again every few seconds (well within the 30 s
//! its announcement lasts), reads every watched stream after its cursor with blocking
//! `XREAD`s of 500 ms ([`Store::wait_done_many`]: one over every stream on one Redis, one per
//! tenant on a cluster), reads each new run's record once, and sends its detail, serialised
//! once, to the job's channel. The Redis clients of the tails are thus the reader's few
//! pooled connections, whatever the number of tails. The reader stops when the last job is
//! no longer watched; a job stops being watched when its last listener leaves.

use crate::error::ApiError;
use chime_core::model::RunRecord;
use chime_store::{DoneCursor, DoneEntry, Store, StoreError};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// How long each read of the streams blocks (ms): a new tail's job is read from the next
/// round on, so this bounds how late its first read starts.
const BLOCK_MS: usize = 500;

/// How often a watched job is announced again (its announcement lasts 30 s).
const ANNOUNCE_EVERY: Duration = Duration::from_secs(5);

/// Runs a tail may fall behind its job's channel before it is closed (see [`Subscription`]).
pub const BACKLOG: usize = 256;

/// The pause after a failed read, before the next round.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_millis(500);

/// Run records read at once while a round's new runs are sent.
const RECORDS_AT_ONCE: usize = 64;

/// One run of a watched job as its tails send it: its run id and its detail as JSON.
#[derive(Debug)]
pub struct TailEvent {
    pub run_id: String,
    pub data: String,
}

/// How a run record becomes the JSON a tail sends (the API's run detail).
pub type Render = fn(&RunRecord) -> String;

/// A watched job, by tenant and job id.
type JobKey = (String, u64);

struct Watch {
    /// The last stream id read (or the stream's head when the job was first watched).
    cursor: String,
    listeners: usize,
    tx: broadcast::Sender<Arc<TailEvent>>,
    /// Tells this watch from an earlier one of the same job: a round's runs go to the watch
    /// it read them for only.
    generation: u64,
    announced: Instant,
}

#[derive(Default)]
struct Watched {
    jobs: HashMap<JobKey, Watch>,
    /// Whether the reader task runs.
    reading: bool,
    generations: u64,
}

/// Tails open, by API key and by tenant.
#[derive(Default)]
struct Open {
    by_key: HashMap<String, u64>,
    by_tenant: HashMap<String, u64>,
}

struct Inner {
    store: Store,
    render: Render,
    watched: Mutex<Watched>,
    /// Serialises the first watch of jobs: its announcement and head read.
    opening: tokio::sync::Mutex<()>,
    open: Mutex<Open>,
    /// Most tails open at once per API key and per tenant (0: no limit).
    max_per_key: u64,
    max_per_tenant: u64,
}

/// The hub of an API process; cheap to clone.
#[derive(Clone)]
pub struct TailHub(Arc<Inner>);

/// The caps a [`TailHub`] applies (`CHIME_TAIL_MAX_PER_KEY`, `CHIME_TAIL_MAX_PER_TENANT`).
#[derive(Clone, Copy, Debug)]
pub struct TailCaps {
    pub per_key: u64,
    pub per_tenant: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TailHub {
    pub fn new(store: Store, render: Render, caps: TailCaps) -> TailHub {
        TailHub(Arc::new(Inner {
            store,
            render,
            watched: Mutex::default(),
            opening: tokio::sync::Mutex::new(()),
            open: Mutex::default(),
            max_per_key: caps.per_key,
            max_per_tenant: caps.per_tenant,
        }))
    }

    /// A slot for one more tail of API key `key_id` of `tenant`, held until the returned
    /// guard is dropped; 429 when the key or the tenant has as many open as its cap allows.
    pub fn acquire(&self, tenant: &str, key_id: &str) -> Result<TailSlot, ApiError> {
        let mut open = lock(&self.0.open);
        let by_key = open.by_key.get(key_id).copied().unwrap_or(0);
        let by_tenant = open.by_tenant.get(tenant).copied().unwrap_or(0);
        let refuse = |whose: &str, n: u64, setting: &str| {
            ApiError::TooManyRequests(format!(
                "Too many live tails: {whose} has {n} open ('{setting}')"
            ))
        };
        if self.0.max_per_key > 0 && by_key >= self.0.max_per_key {
            return Err(refuse("this API key", by_key, "CHIME_TAIL_MAX_PER_KEY"));
        }
        if self.0.max_per_tenant > 0 && by_tenant >= self.0.max_per_tenant {
            return Err(refuse(
                "this tenant",
                by_tenant,
                "CHIME_TAIL_MAX_PER_TENANT",
            ));
        }
        *open.by_key.entry(key_id.to_string()).or_default() += 1;
        *open.by_tenant.entry(tenant.to_string()).or_default() += 1;
        Ok(TailSlot {
            hub: self.0.clone(),
            tenant: tenant.to_string(),
            key_id: key_id.to_string(),
        })
    }

    /// Listens to the runs of `job` of `tenant` recorded from now on. The first listener of
    /// a job announces it and reads its stream's head, in that order, before it is watched:
    /// every result recorded after the head is then on the stream. A later listener starts
    /// at the job's cursor, and gets every run read after it.
    pub async fn subscribe(&self, tenant: &str, job: u64) -> Result<Subscription, StoreError> {
        if let Some(s) = self.join(tenant, job) {
            return Ok(s);
        }
        let _opening = self.0.opening.lock().await;
        if let Some(s) = self.join(tenant, job) {
            return Ok(s);
        }
        self.0.store.announce_tail(tenant, job).await?;
        let head = self.0.store.done_head(tenant, job).await?;
        let mut watched = lock(&self.0.watched);
        watched.generations += 1;
        let generation = watched.generations;
        let (tx, rx) = broadcast::channel(BACKLOG);
        let key = (tenant.to_string(), job);
        let watch = Watch {
            cursor: head,
            listeners: 1,
            tx,
            generation,
            announced: Instant::now(),
        };
        watched.jobs.insert(key.clone(), watch);
        if !watched.reading {
            watched.reading = true;
            tokio::spawn(read(self.0.clone()));
        }
        Ok(Subscription {
            hub: self.0.clone(),
            key,
            generation,
            rx,
        })
    }

    /// A listener more of a job already watched.
    fn join(&self, tenant: &str, job: u64) -> Option<Subscription> {
        let key = (tenant.to_string(), job);
        let mut watched = lock(&self.0.watched);
        let watch = watched.jobs.get_mut(&key)?;
        watch.listeners += 1;
        Some(Subscription {
            hub: self.0.clone(),
            key,
            generation: watch.generation,
            rx: watch.tx.subscribe(),
        })
    }
}

/// A tail's slot under the caps; dropped with the tail's stream.
pub struct TailSlot {
    hub: Arc<Inner>,
    tenant: String,
    key_id: String,
}

impl Drop for TailSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.hub.open);
        let Open { by_key, by_tenant } = &mut *open;
        for (counts, who) in [(by_key, &self.key_id), (by_tenant, &self.tenant)] {
            if let Some(n) = counts.get_mut(who) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.remove(who);
                }
            }
        }
    }
}

/// A listener of a watched job. A listener that falls more than [`BACKLOG`] runs behind (its
/// client reads too slowly) is told by `Lagged` and closed by its tail, which sends a last
/// `lagged` event first: the runs it missed are in the job's run log.
pub struct Subscription {
    hub: Arc<Inner>,
    key: JobKey,
    generation: u64,
    rx: broadcast::Receiver<Arc<TailEvent>>,
}

impl Subscription {
    /// The job's next run.
    pub async fn recv(&mut self) -> Result<Arc<TailEvent>, broadcast::error::RecvError> {
        self.rx.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut watched = lock(&self.hub.watched);
        if let Some(w) = watched.jobs.get_mut(&self.key) {
            if w.generation == self.generation {
                w.listeners -= 1;
                if w.listeners == 0 {
                    watched.jobs.remove(&self.key);
                }
            }
        }
    }
}

/// A watched job as one round reads it.
struct Reading {
    tenant: String,
    job: u64,
    after: String,
    generation: u64,
}

/// One round of the reader: the watched jobs to read, and the jobs to announce again by
/// tenant.
struct Round {
    jobs: Vec<Reading>,
    due: HashMap<String, Vec<u64>>,
}

/// The reader task: rounds until no job is watched.
async fn read(hub: Arc<Inner>) {
    while let Some(Round { jobs, due }) = hub.round() {
        hub.announce(due).await;
        let cursors: Vec<DoneCursor<'_>> = jobs
            .iter()
            .map(|r| DoneCursor {
                tenant: &r.tenant,
                job: r.job,
                after: &r.after,
            })
            .collect();
        let mut failed = false;
        let mut entries = Vec::new();
        for group in hub.store.wait_done_many(&cursors, BLOCK_MS).await {
            match group {
                Ok(e) => entries.extend(e),
                Err(e) => {
                    failed = true;
                    chime_runtime::telemetry::warn_throttled(
                        "api_live_tail_read",
                        &format!("reading the live tails' streams failed: {e}"),
                    );
                }
            }
        }
        hub.deliver(&jobs, entries).await;
        if failed {
            tokio::time::sleep(PAUSE_AFTER_FAILURE).await; // a pause before retrying
        }
    }
}

impl Inner {
    /// The next round; `None` (the reader stops) when no job is watched.
    fn round(&self) -> Option<Round> {
        let mut watched = lock(&self.watched);
        if watched.jobs.is_empty() {
            watched.reading = false;
            return None;
        }
        let now = Instant::now();
        let mut due: HashMap<String, Vec<u64>> = HashMap::new();
        let mut jobs = Vec::with_capacity(watched.jobs.len());
        for ((tenant, job), w) in &mut watched.jobs {
            if now.duration_since(w.announced) >= ANNOUNCE_EVERY {
                w.announced = now;
                due.entry(tenant.clone()).or_default().push(*job);
            }
            jobs.push(Reading {
                tenant: tenant.clone(),
                job: *job,
                after: w.cursor.clone(),
                generation: w.generation,
            });
        }
        Some(Round { jobs, due })
    }

    /// Announces the jobs `due`, one round trip per tenant.
    async fn announce(&self, due: HashMap<String, Vec<u64>>) {
        let calls = due
            .iter()
            .map(|(tenant, jobs)| self.store.announce_tails(tenant, jobs));
        for r in futures::future::join_all(calls).await {
            if let Err(e) = r {
                chime_runtime::telemetry::warn_throttled(
                    "api_live_tail_announce",
                    &format!("announcing the live tails failed: {e}"),
                );
            }
        }
    }

    /// Reads the record of each new run once and sends its detail to its job's channel, in
    /// the stream's order, moving the job's cursor past it. A record that cannot be read now
    /// stops its job's part of the round: the job is read again from that run next round.
    async fn deliver(&self, jobs: &[Reading], entries: Vec<DoneEntry>) {
        if entries.is_empty() {
            return;
        }
        let reads: Vec<_> = entries
            .iter()
            .map(|e| {
                let (store, render) = (self.store.clone(), self.render);
                let (tenant, run) = (jobs[e.cursor].tenant.clone(), e.run.clone());
                async move {
                    let record = store.run(&tenant, &run).await?;
                    Ok::<_, StoreError>(record.map(|r| {
                        Arc::new(TailEvent {
                            data: render(&r),
                            run_id: r.run_id,
                        })
                    }))
                }
            })
            .collect();
        let events: Vec<_> = futures::stream::iter(reads)
            .buffered(RECORDS_AT_ONCE)
            .collect()
            .await;
        let mut stalled = vec![false; jobs.len()];
        let mut watched = lock(&self.watched);
        for (entry, event) in entries.iter().zip(events) {
            let reading = &jobs[entry.cursor];
            if stalled[entry.cursor] {
                continue;
            }
            let key = (reading.tenant.clone(), reading.job);
            let Some(w) = watched.jobs.get_mut(&key) else {
                continue;
            };
            if w.generation != reading.generation {
                continue;
            }
            match event {
                Ok(event) => {
                    if let Some(event) = event {
                        // No listener left is no error: the watch ends with its last one.
                        let _ = w.tx.send(event);
                    }
                    w.cursor.clone_from(&entry.id);
                }
                Err(e) => {
                    stalled[entry.cursor] = true;
                    chime_runtime::telemetry::warn_throttled(
                        "api_live_tail_record",
                        &format!("reading a run for the live tails failed: {e}"),
                    );
                }
            }
        }
    }
}
