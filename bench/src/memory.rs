//! Where a stored run's bytes go: the keys of the tenants that hold the runs, by family (the
//! job's stream of records, the schedule's and the job's positions, the job's run numbers, the tenant's stream, the run ids, unfinished runs, and the rest), with each family's
//! key count, encoding, Redis memory (`MEMORY USAGE` of a sample of its keys, scaled to the
//! count) and bytes per stored run.

use std::collections::BTreeMap;

/// Keys of one family sampled for `MEMORY USAGE`.
const SAMPLE: usize = 1000;

/// One family of keys.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Family {
    pub name: &'static str,
    pub keys: u64,
    /// `OBJECT ENCODING` of a sampled key.
    pub encoding: String,
    /// Redis memory of the whole family (bytes), from the sample's mean.
    pub bytes: f64,
    pub bytes_per_run: f64,
}

/// The family of a key of namespace `ns` (`ns:{t:<tenant>}:<rest>` for a tenant's keys).
fn family(ns: &str, key: &str) -> &'static str {
    let rest = key.strip_prefix(ns).unwrap_or(key);
    let rest = match rest.find("}:") {
        Some(i) if rest.starts_with(":{t:") => &rest[i + 2..],
        _ => return "shared (keys, sequence, due index, lease)",
    };
    let parts: Vec<&str> = rest.split(':').collect();
    match parts.as_slice() {
        ["run", _] => "unfinished run's record (hash)",
        ["run", _, "log"] => "run's extra log lines (list)",
        ["sched", _, "pos"] => "schedule's positions (stream)",
        ["sched", _, "events"] => "schedule's event stream",
        ["job", _, "runs"] => "job's records (stream)",
        ["job", _, "builds", _] => "job's run numbers (hashes of 128)",
        ["job", _, "pos"] => "job's positions (stream)",
        ["job", _, "pos", _] => "job's positions by outcome (streams)",
        ["job", _, "done"] => "job's live-tail stream",
        ["runs"] => "tenant's run stream",
        ["runs", _] => "tenant's runs by outcome (streams)",
        ["runids", _] => "run ids (hashes by their first 4 characters)",
        ["live"] => "unfinished runs (zset)",
        _ => "definitions (tenants, jobs, schedules, audit)",
    }
}

/// Every key of `tenants` (in namespace `ns`) by family, with its memory; `runs` stored runs
/// share them.
pub async fn breakdown(
    redis_url: &str,
    ns: &str,
    tenants: &[String],
    runs: u64,
) -> anyhow::Result<Vec<Family>> {
    let mut c = redis::Client::open(redis_url)?
        .get_multiplexed_async_connection()
        .await?;
    let mut seen: BTreeMap<&'static str, (u64, Vec<String>)> = BTreeMap::new();
    for tenant in tenants {
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{ns}:{{t:{tenant}}}:*"))
                .arg("COUNT")
                .arg(10_000)
                .query_async(&mut c)
                .await?;
            for k in keys {
                let entry = seen.entry(family(ns, &k)).or_default();
                entry.0 += 1;
                if entry.1.len() < SAMPLE {
                    entry.1.push(k);
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    let mut out = Vec::new();
    for (name, (keys, sample)) in seen {
        let mut p = redis::pipe();
        for k in &sample {
            p.cmd("MEMORY").arg("USAGE").arg(k).arg("SAMPLES").arg(0);
        }
        let sizes: Vec<Option<u64>> = p.query_async(&mut c).await?;
        let measured: Vec<u64> = sizes.into_iter().flatten().collect();
        let mean = measured.iter().sum::<u64>() as f64 / measured.len().max(1) as f64;
        let encoding: String = redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(&sample[0])
            .query_async(&mut c)
            .await
            .unwrap_or_default();
        let bytes = mean * keys as f64;
        out.push(Family {
            name,
            keys,
            encoding,
            bytes,
            bytes_per_run: bytes / runs.max(1) as f64,
        });
    }
    out.sort_by(|a, b| b.bytes.total_cmp(&a.bytes));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::family;

    #[test]
    fn keys_fall_in_their_family() {
        let ns = "chime";
        for (key, want) in [
            (
                "chime:{t:a1}:run:0123ABCD",
                "unfinished run's record (hash)",
            ),
            (
                "chime:{t:a1}:run:0123ABCD:log",
                "run's extra log lines (list)",
            ),
            (
                "chime:{t:a1}:sched:s-1:pos",
                "schedule's positions (stream)",
            ),
            ("chime:{t:a1}:job:7:runs", "job's records (stream)"),
            (
                "chime:{t:a1}:job:7:pos:success",
                "job's positions by outcome (streams)",
            ),
            ("chime:{t:a1}:job:7:pos", "job's positions (stream)"),
            (
                "chime:{t:a1}:runids:A0F3",
                "run ids (hashes by their first 4 characters)",
            ),
            ("chime:{t:a1}:live", "unfinished runs (zset)"),
            (
                "chime:{t:a1}:job:7:builds:0",
                "job's run numbers (hashes of 128)",
            ),
            ("chime:{t:a1}:runs", "tenant's run stream"),
            (
                "chime:{t:a1}:job:7",
                "definitions (tenants, jobs, schedules, audit)",
            ),
            (
                "chime:{sched}:due:3",
                "shared (keys, sequence, due index, lease)",
            ),
            (
                "chime:apikey:k1",
                "shared (keys, sequence, due index, lease)",
            ),
        ] {
            assert_eq!(family(ns, key), want, "{key}");
        }
    }
}
