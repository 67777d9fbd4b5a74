//! `chime`: the command line of a chime cluster. A client of its API for people (tables) and
//! scripts (`--json`, exit codes that mean something): jobs, schedules, run now, runs, the
//! live tail, exports, tenants and keys; and `chime serve api|scheduler|worker`, each service
//! from this one binary.
//!
//! - [`args`]: the commands and flags.
//! - [`config`]: the URL and token (`chime login`, the config file, `CHIME_URL`/`CHIME_TOKEN`).
//! - [`client`]: requests, and the failures with their exit codes.
//! - [`output`]: tables, colour, JSON.
//! - [`jobs`], [`runs`], [`export`], [`admin`], [`fleet`]: the commands.
//! - [`serve`]: the services.

mod admin;
mod args;
mod client;
mod config;
mod export;
mod fleet;
mod jobs;
mod output;
mod runs;
mod serve;

use args::{Cli, Command};
use clap::{CommandFactory, Parser};
use client::{CliResult, Failure};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Command::Serve { service } = cli.command {
        if let Err(e) = serve::serve(service).await {
            eprintln!("chime: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(f) = dispatch(cli).await {
        eprintln!("chime: {}", f.message);
        std::process::exit(f.code);
    }
}

async fn dispatch(cli: Cli) -> CliResult {
    let (url, token, as_json) = (cli.url.as_deref(), cli.token.as_deref(), cli.json);
    match cli.command {
        Command::Login => config::login(url, token).await,
        Command::Logout => config::logout(),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "chime", &mut std::io::stdout());
            Ok(())
        }
        Command::Serve { .. } => Err(Failure::usage("serve is handled before")),
        command => {
            let client = config::client(url, token)?;
            match command {
                Command::Jobs(c) => jobs::run(&client, as_json, c).await,
                Command::Schedules(c) => jobs::schedules(&client, as_json, c).await,
                Command::Run { job, schedule } => {
                    runs::run_now(&client, as_json, &job, schedule.as_deref()).await
                }
                Command::Runs(c) => runs::run(&client, as_json, c).await,
                Command::Export(a) => export::export(&client, a).await,
                Command::Admin(c) => admin::run(&client, as_json, c).await,
                Command::Tenant => admin::own_tenant(&client, as_json).await,
                Command::Keys(c) => admin::own_keys(&client, as_json, c).await,
                _ => Err(Failure::usage("unknown command")),
            }
        }
    }
}
