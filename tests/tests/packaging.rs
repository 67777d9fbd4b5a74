//! The container image builds the whole workspace: every member must be in its build context.

use std::path::Path;

#[test]
fn the_image_copies_every_workspace_member() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let copied: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.trim().strip_prefix("COPY "))
        .collect();
    assert!(!members.is_empty());
    for m in members {
        let m = m.as_str().unwrap();
        assert!(
            copied.contains(&format!("{m} {m}").as_str()),
            "the Dockerfile does not copy workspace member `{m}`: `cargo build` in the image fails"
        );
    }
}
