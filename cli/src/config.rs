//! Where the CLI finds its API and token: the flags, `CHIME_URL`/`CHIME_TOKEN`, and the config
//! file `chime login` writes (`$XDG_CONFIG_HOME/chime/config.toml`, user-only permissions;
//! `CHIME_CLI_CONFIG` names another).

use crate::client::{CliResult, Client, Failure, EXIT_AUTH};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// The config file's contents.
#[derive(Serialize, Deserialize, Default, Debug)]
pub struct Config {
    pub url: Option<String>,
    pub token: Option<String>,
}

/// The config file's path.
pub fn path() -> CliResult<PathBuf> {
    if let Some(p) = std::env::var_os("CHIME_CLI_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let dir = match std::env::var_os("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .ok_or_else(|| Failure::other("HOME is not set: set CHIME_CLI_CONFIG"))?;
            PathBuf::from(home).join(".config")
        }
    };
    Ok(dir.join("chime").join("config.toml"))
}

/// The saved config; empty when there is no file.
pub fn load() -> CliResult<Config> {
    let p = path()?;
    match std::fs::read_to_string(&p) {
        Ok(text) => {
            toml::from_str(&text).map_err(|e| Failure::other(format!("{}: {e}", p.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(Failure::other(format!("{}: {e}", p.display()))),
    }
}

/// Writes the config file, readable and writable by its user only (its directory too, when
/// created here).
pub fn save(config: &Config) -> CliResult<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let p = path()?;
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let text = toml::to_string(config).map_err(Failure::other)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&p)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())?;
    Ok(p)
}

/// The client of the flags (which clap fills from `CHIME_URL`/`CHIME_TOKEN` too) over the
/// config file.
pub fn client(url: Option<&str>, token: Option<&str>) -> CliResult<Client> {
    let saved = if url.is_some() && token.is_some() {
        Config::default()
    } else {
        load()?
    };
    let not_logged_in = || {
        Failure::new(
            EXIT_AUTH,
            "not logged in: run `chime login`, or set CHIME_URL and CHIME_TOKEN",
        )
    };
    let url = url
        .map(str::to_string)
        .or(saved.url)
        .ok_or_else(not_logged_in)?;
    let token = token
        .map(str::to_string)
        .or(saved.token)
        .ok_or_else(not_logged_in)?;
    Client::new(&url, &token)
}

/// `chime login`: the URL and token given, asked for, or read from stdin; checked by one
/// authenticated call; saved.
pub async fn login(url: Option<&str>, token: Option<&str>) -> CliResult {
    let url = match url {
        Some(u) => u.to_string(),
        None => ask("chime API URL: ")?,
    };
    let token = match token {
        Some(t) => t.to_string(),
        None if std::io::stdin().is_terminal() => {
            rpassword::prompt_password("token: ").map_err(Failure::other)?
        }
        None => read_line()?,
    };
    let (url, token) = (url.trim().to_string(), token.trim().to_string());
    if url.is_empty() || token.is_empty() {
        return Err(Failure::usage("login needs a URL and a token"));
    }
    let client = Client::new(&url, &token)?;
    let who = check(&client).await?;
    let p = save(&Config {
        url: Some(url.clone()),
        token: Some(token),
    })?;
    eprintln!("logged in to {url} {who}; saved in {}", shown(&p));
    Ok(())
}

/// `chime logout`: deletes the config file.
pub fn logout() -> CliResult {
    let p = path()?;
    match std::fs::remove_file(&p) {
        Ok(()) => eprintln!("removed {}", shown(&p)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("not logged in ({} does not exist)", shown(&p));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// A path as people write it: `~/…` inside the home directory.
fn shown(p: &std::path::Path) -> String {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match home.as_deref().and_then(|h| p.strip_prefix(h).ok()) {
        Some(rest) if !rest.as_os_str().is_empty() => format!("~/{}", rest.display()),
        _ => p.display().to_string(),
    }
}

/// Whose token it is: a tenant key's (a tenant call answers) or the operator's (an admin
/// call is authenticated: it answers 404 for a tenant that does not exist).
async fn check(client: &Client) -> CliResult<&'static str> {
    match client.get("/scheduler/jobCount").await {
        Ok(_) => return Ok("with a tenant API key"),
        Err(f) if f.code != EXIT_AUTH => return Err(f),
        Err(_) => {}
    }
    match client
        .get("/admin/tenants/000000000000000000000000/keys")
        .await
    {
        Ok(_) => Ok("with the admin token"),
        Err(f) if f.code == crate::client::EXIT_NOT_FOUND => Ok("with the admin token"),
        Err(f) if f.code == EXIT_AUTH => Err(Failure::new(
            EXIT_AUTH,
            format!(
                "{} refused the token: it is neither an API key nor the admin token",
                client.base()
            ),
        )),
        Err(f) => Err(f),
    }
}

/// A prompt on stderr, answered on stdin.
fn ask(prompt: &str) -> CliResult<String> {
    if std::io::stdin().is_terminal() {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
    }
    read_line()
}

fn read_line() -> CliResult<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}
