//! `chime admin operations` and `chime admin dead-letters …`: the fleet and the dead-letter
//! queue, for the operator.

use crate::args::DeadLettersCmd;
use crate::client::{enc, CliResult, Client};
use crate::output::{self, text};
use comfy_table::Cell;
use reqwest::Method;
use serde_json::Value;

/// Prints the rows of `list` as a table of `columns` (header, field).
fn rows(list: &Value, columns: &[(&str, &str)]) {
    let headers: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    let mut t = output::table(&headers);
    for x in list.as_array().map(Vec::as_slice).unwrap_or_default() {
        t.add_row(columns.iter().map(|(_, f)| Cell::new(text(&x[*f]))));
    }
    output::print_table(&t);
}

/// `chime admin operations`: a table per part of the view.
pub async fn operations(client: &Client, as_json: bool) -> CliResult {
    let v = client.get("/admin/operations").await?;
    if as_json {
        output::json(&v);
        return Ok(());
    }
    println!("Shards (at {})", text(&v["now"]));
    rows(
        &v["shards"],
        &[
            ("SHARD", "shard"),
            ("LEADER", "leader"),
            ("EPOCH", "epoch"),
            ("LEASE TTL MS", "leaseTtlMs"),
        ],
    );
    println!("\nSchedulers");
    rows(
        &v["schedulers"],
        &[
            ("NAME", "name"),
            ("SHARDS LED", "shardsLed"),
            ("LAST SEEN", "lastSeen"),
        ],
    );
    println!("\nWorkers");
    rows(
        &v["workers"],
        &[
            ("WORKER", "id"),
            ("CONCURRENCY", "concurrency"),
            ("IN FLIGHT", "inFlight"),
            ("ALIVE UNTIL", "aliveUntil"),
        ],
    );
    println!("\nQueues");
    let q = &v["queues"];
    if q.is_null() {
        println!("the broker cannot be reached");
    } else {
        output::fields(q, &["runs", "deadLetter", "deadLetterKept"]);
    }
    println!("\nTenants");
    rows(
        &v["tenants"],
        &[
            ("TENANT", "tenantId"),
            ("NAME", "name"),
            ("RUNS/MIN", "runsPerMinute"),
            ("IN FLIGHT", "runsInFlight"),
        ],
    );
    Ok(())
}

/// `chime admin dead-letters …`.
pub async fn dead_letters(client: &Client, as_json: bool, cmd: DeadLettersCmd) -> CliResult {
    match cmd {
        DeadLettersCmd::List { offset, limit } => {
            let path = format!("/admin/deadLetters?offset={offset}&limit={limit}");
            let v = client.get(&path).await?;
            if as_json {
                output::json(&v);
                return Ok(());
            }
            let mut t = output::table(&["LETTER", "KEPT", "RUNS", "REFUSED"]);
            for l in v["deadLetters"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let runs: Vec<String> = l["runs"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|r| format!("{}/{}", text(&r["jobId"]), text(&r["runId"])))
                    .collect();
                t.add_row(vec![
                    Cell::new(text(&l["id"])),
                    Cell::new(text(&l["keptAt"])),
                    Cell::new(runs.join(" ")),
                    Cell::new(text(&l["refused"])),
                ]);
            }
            output::print_table(&t);
            println!("{} in all", text(&v["total"]));
        }
        DeadLettersCmd::Replay { id } => {
            let path = format!("/admin/deadLetters/{}/replay", enc(&id));
            let v = client.json(Method::POST, &path, None).await?;
            output::show(as_json, &v, |v| {
                println!("replayed {}: {} runs published again", id, text(&v["runs"]));
            });
        }
        DeadLettersCmd::Discard { id } => {
            let path = format!("/admin/deadLetters/{}", enc(&id));
            let v = client.json(Method::DELETE, &path, None).await?;
            output::show(as_json, &v, |v| {
                println!(
                    "discarded {}: {} runs finished as errors",
                    id,
                    text(&v["runs"])
                );
            });
        }
    }
    Ok(())
}
