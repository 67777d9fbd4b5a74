//! `chime export <job>`: the job's runs as NDJSON or CSV, streamed to stdout or a file, with a
//! progress line on stderr when stderr is a terminal.

use crate::args::{ExportArgs, Format};
use crate::client::{enc, CliResult, Client, Failure};
use crate::jobs::resolve;
use crate::runs::instant;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use std::io::{IsTerminal, Write};

pub async fn export(client: &Client, args: ExportArgs) -> CliResult {
    let id = resolve(client, &args.job).await?;
    let mut path = format!("/scheduler/jobs/{id}/runs/export");
    let mut sep = '?';
    for (name, value) in [("from", &args.from), ("to", &args.to)] {
        if let Some(v) = value {
            path.push_str(&format!("{sep}{name}={}", enc(&instant(v))));
            sep = '&';
        }
    }
    let accept = match args.format {
        Format::Ndjson => "application/x-ndjson",
        Format::Csv => "text/csv",
    };
    let mut resp = client.send(Method::GET, &path, None, Some(accept)).await?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => {
            let f = std::fs::File::create(p)
                .map_err(|e| Failure::other(format!("{}: {e}", p.display())))?;
            Box::new(std::io::BufWriter::new(f))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let bar = progress();
    let mut lines: u64 = 0;
    while let Some(chunk) = resp.chunk().await.map_err(|e| client.unreachable(&e))? {
        out.write_all(&chunk)?;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        bar.set_position(lines);
    }
    out.flush()?;
    bar.finish_and_clear();
    let runs = match args.format {
        Format::Csv => lines.saturating_sub(1),
        Format::Ndjson => lines,
    };
    if let Some(p) = &args.output {
        eprintln!("exported {runs} runs of job {id} to {}", p.display());
    }
    Ok(())
}

/// A spinner counting the runs received, drawn on stderr only when it is a terminal.
fn progress() -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    let style = ProgressStyle::with_template("{spinner} exporting: {pos} lines, {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
