//! What the CLI prints: tables for people (colour only on a terminal, never with `NO_COLOR`),
//! the API's JSON for scripts.

use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table};
use serde_json::Value;
use std::io::IsTerminal;

/// Whether stdout gets colour: a terminal, and `NO_COLOR` unset or empty.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A table of `header`; rows are added by the caller.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(comfy_table::presets::NOTHING);
    if std::io::stdout().is_terminal() {
        t.set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        t.set_content_arrangement(ContentArrangement::Disabled);
    }
    let on = colour();
    t.set_header(header.iter().map(|h| {
        let c = Cell::new(h);
        if on {
            c.add_attribute(Attribute::Bold)
        } else {
            c
        }
    }));
    t
}

/// Prints a table, its lines without the padding at either end.
pub fn print_table(t: &Table) {
    for line in t.to_string().lines() {
        let line = line.strip_prefix(' ').unwrap_or(line);
        println!("{}", line.trim_end());
    }
}

/// The text of a JSON value in a cell: strings bare, null empty.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            items.iter().map(text).collect::<Vec<_>>().join(",")
        }
        other => other.to_string(),
    }
}

/// A cell of a state or an outcome, coloured by what it says when colour is on.
pub fn state_cell(v: &Value) -> Cell {
    let s = text(v);
    let colour_of = match s.to_ascii_uppercase().as_str() {
        "SUCCESS" | "COMPLETED" | "TRUE" | "ACTIVE" => Some(Color::Green),
        "ERROR" | "REQUEST_ERROR" | "FAILURE" | "TIMEOUT" | "UNKNOWN" => Some(Color::Red),
        "SCHEDULED" | "TRIGGERED" | "ACK_RECVD" | "RUNNING" | "FALSE" | "PAUSED" => {
            Some(Color::Yellow)
        }
        _ => None,
    };
    let c = Cell::new(&s);
    match colour_of {
        Some(col) if colour() => c.fg(col),
        _ => c,
    }
}

/// Prints `v` as pretty JSON.
pub fn json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

/// Prints the fields of an object as two columns: each of `fields` present, by name.
pub fn fields(v: &Value, fields: &[&str]) {
    let mut t = table(&["FIELD", "VALUE"]);
    for f in fields {
        if let Some(x) = v.get(*f) {
            t.add_row(vec![Cell::new(f), state_cell_if(f, x)]);
        }
    }
    print_table(&t);
}

fn state_cell_if(field: &str, v: &Value) -> Cell {
    if matches!(field, "runState" | "runStatus" | "outcome" | "active") {
        state_cell(v)
    } else {
        Cell::new(text(v))
    }
}

/// Prints `v` as JSON with `--json`, else by `human`.
pub fn show(as_json: bool, v: &Value, human: impl FnOnce(&Value)) {
    if as_json {
        json(v);
    } else {
        human(v);
    }
}
