//! The workspace's shape, checked: the dependency rule between crates (from `cargo metadata`),
//! the size of source files, and the container image's build context.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Each workspace member's normal (non-dev, non-build) dependencies, by crate name.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut deps = BTreeMap::new();
    for p in meta["packages"].as_array().unwrap() {
        let normal = p["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect();
        deps.insert(p["name"].as_str().unwrap().to_string(), normal);
    }
    deps
}

const SERVICES: [&str; 3] = ["chime-scheduler", "chime-worker", "chime-api"];
const COMMON: [&str; 4] = ["chime-core", "chime-store", "chime-broker", "chime-runtime"];

#[test]
fn crates_depend_on_each_other_by_the_rule() {
    let deps = dependencies();
    let of = |c: &str| {
        deps.get(c)
            .unwrap_or_else(|| panic!("{c} is a workspace member"))
    };
    for c in SERVICES.iter().chain(&COMMON) {
        assert!(deps.contains_key(*c), "{c} is a workspace member");
    }
    let io = [
        "tokio",
        "redis",
        "deadpool-redis",
        "lapin",
        "reqwest",
        "axum",
        "hyper",
        "futures",
    ];
    for dep in of("chime-core") {
        assert!(
            !io.contains(&dep.as_str()),
            "chime-core depends on {dep}: the core has no I/O"
        );
        assert!(!dep.starts_with("chime-"), "chime-core depends on {dep}");
    }
    // Only the store names Redis and only the broker names RabbitMQ, among the crates that
    // ship. (The test kit and chime-bench drive both by hand: raw baselines and inspection.)
    for c in SERVICES.iter().chain(&COMMON) {
        let d = of(c);
        if *c != "chime-store" {
            assert!(
                !d.contains("redis") && !d.contains("deadpool-redis"),
                "{c} depends on redis"
            );
        }
        if *c != "chime-broker" {
            assert!(!d.contains("lapin"), "{c} depends on lapin");
        }
    }
    assert!(
        !of("chime-api").contains("reqwest"),
        "the API calls no targets"
    );
    // Services never depend on each other; the common crates never on a service.
    for c in SERVICES.iter().chain(&COMMON) {
        for s in SERVICES {
            assert!(
                c == &s || !of(c).contains(s),
                "{c} depends on the service {s}"
            );
        }
    }
}

#[test]
fn no_workspace_crate_imports_another_in_a_circle() {
    let deps = dependencies();
    fn reaches(
        deps: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
        to: &str,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        deps.get(from)
            .into_iter()
            .flatten()
            .any(|d| d == to || (seen.insert(d.clone()) && reaches(deps, d, to, seen)))
    }
    for c in deps.keys() {
        assert!(
            !reaches(&deps, c, c, &mut BTreeSet::new()),
            "{c} depends on itself through others"
        );
    }
}

/// Source files of the crates, less test code (`tests/` folders and `tests.rs` modules).
fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if !["target", "tests", ".git", "node_modules"].contains(&name.as_str()) {
                source_files(&path, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" {
            out.push(path);
        }
    }
}

#[test]
fn no_source_file_is_over_800_lines() {
    let mut files = Vec::new();
    for member in ["shared", "scheduler", "worker", "api", "bench"] {
        source_files(&root().join(member), &mut files);
    }
    assert!(files.len() > 20, "found the sources: {files:?}");
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 800).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these files: {long:?}");
}

#[test]
fn the_image_copies_every_workspace_member() {
    let manifest: toml::Table = std::fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let copied: Vec<(&str, &str)> = dockerfile
        .lines()
        .filter_map(|l| l.trim().strip_prefix("COPY "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    assert!(!members.is_empty());
    for m in members {
        let m = m.as_str().unwrap();
        let inside = |dir: &str| m == dir || m.starts_with(&format!("{dir}/"));
        assert!(
            copied.iter().any(|(from, to)| from == to && inside(from)),
            "the Dockerfile does not copy workspace member `{m}`: `cargo build` in the image fails"
        );
    }
}
