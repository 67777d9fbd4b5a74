//! The asynchronous deadline: the leader's sweep that finishes runs acknowledged with 202
//! (`RUNNING/ACK_RECVD`) whose job has not reported within its tenant's `ASYNC_EXEC_TIMEOUT`.
//! They become `COMPLETED/UNKNOWN` (outcome `timeout`) through the run script's own step,
//! the one a report takes (`Store::expire_async_runs`), so every index, stream, live tail and
//! trim treats them as any finished run.
//!
//! Each tenant's waiting runs are a sorted set scored by their 202 (`<ns>:{t:T}:async`), so a
//! tenant with nothing overdue costs one `ZRANGEBYSCORE`. A round is bounded: at most
//! [`TENANTS_PER_ROUND`] tenants, taken in turn from where the last round stopped, and at most
//! [`RUNS_PER_ROUND`] runs. The sweep needs no fence: its step is a compare-and-set on the
//! run's own record in the tenant's slot (still `ACK_RECVD`, acknowledged before the
//! deadline), so a deposed leader's round finishes nothing a second time.

use chime_runtime::telemetry::warn_throttled;
use chime_store::Store;

/// Tenants one round looks at, at most: one script call each when nothing is overdue.
const TENANTS_PER_ROUND: usize = 1_000;
/// Runs one round finishes, at most; what is left waits for the next round.
const RUNS_PER_ROUND: u32 = 2_000;
/// Runs one script call finishes, at most.
const RUNS_PER_CALL: u32 = 128;

/// The sweep's memory between rounds: the tenant the next round starts from.
#[derive(Debug, Default)]
pub struct Deadlines {
    next_tenant: usize,
}

impl Deadlines {
    /// One round at `now` (ms on Redis's clock). Returns the runs it finished.
    pub async fn sweep(&mut self, store: &Store, now: i64) -> u32 {
        let Some((tenants, order)) =
            tenants_in_turn(store, &mut self.next_tenant, TENANTS_PER_ROUND).await
        else {
            return 0;
        };
        let mut budget = RUNS_PER_ROUND;
        for i in order {
            let t = &tenants[i];
            loop {
                let limit = budget.min(RUNS_PER_CALL);
                match store.expire_async_runs(t, now, limit).await {
                    Ok(n) => {
                        budget -= n;
                        if n < limit || budget == 0 {
                            break;
                        }
                    }
                    Err(e) => {
                        warn_throttled(
                            "async_deadline",
                            &format!("the asynchronous deadline of tenant {t} failed: {e}"),
                        );
                        break;
                    }
                }
            }
            if budget == 0 {
                // The budget ran out: the next round starts with this tenant (it may have
                // more overdue).
                self.next_tenant = i;
                break;
            }
        }
        let done = RUNS_PER_ROUND - budget;
        if done > 0 {
            metrics::counter!("chime_async_deadlines_total").increment(u64::from(done));
            tracing::info!(
                runs = done,
                "asynchronous runs past their deadline completed as UNKNOWN"
            );
        }
        done
    }
}

/// The tenants of a round, sorted, and the indexes of those it looks at, in turn from `*next`
/// (at most `most`); `*next` moves on to where the next round starts. `None` when the tenants
/// cannot be read.
pub(crate) async fn tenants_in_turn(
    store: &Store,
    next: &mut usize,
    most: usize,
) -> Option<(Vec<String>, Vec<usize>)> {
    let mut tenants = store.tenants().await.ok()?;
    tenants.sort_unstable();
    let (order, after) = round(tenants.len(), *next, most);
    *next = after;
    Some((tenants, order))
}

/// The tenants (indexes into `n`, in turn from `from`) a round looks at, at most `most`,
/// and where the next round starts.
fn round(n: usize, from: usize, most: usize) -> (Vec<usize>, usize) {
    if n == 0 {
        return (vec![], 0);
    }
    let from = from % n;
    let take = n.min(most);
    let order = (0..take).map(|k| (from + k) % n).collect();
    (order, (from + take) % n)
}

#[cfg(test)]
mod tests {
    use super::round;

    #[test]
    fn a_round_takes_every_tenant_when_they_fit() {
        assert_eq!(round(3, 0, 10), (vec![0, 1, 2], 0));
        assert_eq!(round(3, 2, 10), (vec![2, 0, 1], 2));
        assert_eq!(round(0, 5, 10), (vec![], 0));
    }

    #[test]
    fn rounds_take_the_tenants_in_turn_when_they_do_not() {
        let (first, next) = round(5, 0, 2);
        assert_eq!((first, next), (vec![0, 1], 2));
        let (second, next) = round(5, next, 2);
        assert_eq!((second, next), (vec![2, 3], 4));
        let (third, next) = round(5, next, 2);
        assert_eq!((third, next), (vec![4, 0], 1));
        // Tenants gone meanwhile: the start wraps.
        assert_eq!(round(2, 7, 2), (vec![1, 0], 1));
    }
}
