//! Every workspace crate's `rust-version` is at least the highest
//! `rust-version` declared in what it builds: its normal and build
//! dependencies, transitively, with the optional ones its features turn on.
//!
//! The dependency graph comes from `cargo metadata --all-features`, whose
//! feature resolution is the whole workspace's with every feature on: a
//! superset of what any one crate builds with any features, so a pass holds
//! for every feature combination.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// A Rust version: major, minor, patch.
type Version = (u64, u64, u64);

/// `"1.94.0"` or `"1.85"` as `(1, 94, 0)`.
fn version(text: &str) -> Version {
    let mut parts = text.split('.').map(|p| {
        p.parse::<u64>()
            .unwrap_or_else(|_| panic!("`{text}` is not a Rust version"))
    });
    let major = parts.next().unwrap_or(0);
    (major, parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

fn metadata() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--all-features"])
        .current_dir(&root)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_default()
}

/// The package graph: for each package id, the packages it builds with.
struct Graph<'a> {
    packages: HashMap<&'a str, &'a Value>,
    edges: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> Graph<'a> {
    fn new(meta: &'a Value) -> Self {
        let packages: HashMap<&str, &Value> = meta["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|p| (str_of(p, "id"), p))
            .collect();
        let mut edges = HashMap::new();
        for node in meta["resolve"]["nodes"].as_array().expect("resolve nodes") {
            let package = packages[str_of(node, "id")];
            let enabled = enabled_optional_deps(package, node);
            let deps = node["deps"]
                .as_array()
                .expect("deps")
                .iter()
                .filter(|dep| {
                    let built = dep["dep_kinds"]
                        .as_array()
                        .expect("dep_kinds")
                        .iter()
                        .any(|k| k["kind"].is_null() || k["kind"] == "build");
                    built && is_active(package, packages[str_of(dep, "pkg")], &enabled)
                })
                .map(|dep| str_of(dep, "pkg"))
                .collect();
            edges.insert(str_of(node, "id"), deps);
        }
        Self { packages, edges }
    }

    fn name(&self, id: &str) -> String {
        let p = self.packages[id];
        format!("{} {}", str_of(p, "name"), str_of(p, "version"))
    }

    /// The package in `root`'s build with the highest `rust-version`, with
    /// the chain of packages leading to it.
    fn highest_requirement(&self, root: &'a str) -> Option<(Version, Vec<&'a str>)> {
        let mut parent: HashMap<&str, &str> = HashMap::new();
        let mut seen = HashSet::from([root]);
        let mut queue = VecDeque::from([root]);
        let mut best: Option<(Version, &str)> = None;
        while let Some(id) = queue.pop_front() {
            if id != root {
                if let Some(required) = self.packages[id]["rust_version"].as_str() {
                    let required = version(required);
                    if best.is_none_or(|(b, _)| required > b) {
                        best = Some((required, id));
                    }
                }
            }
            for &dep in &self.edges[id] {
                if seen.insert(dep) {
                    parent.insert(dep, id);
                    queue.push_back(dep);
                }
            }
        }
        let (required, mut id) = best?;
        let mut chain = vec![id];
        while let Some(&up) = parent.get(id) {
            chain.push(up);
            id = up;
        }
        chain.reverse();
        Some((required, chain))
    }
}

/// The dependency names (as features know them) of the optional
/// dependencies that `node`'s enabled features turn on.
fn enabled_optional_deps<'a>(package: &'a Value, node: &'a Value) -> HashSet<&'a str> {
    let mut enabled = HashSet::new();
    for feature in node["features"].as_array().expect("features") {
        let feature = feature.as_str().unwrap_or_default();
        // An optional dependency is also a feature of its own name.
        enabled.insert(feature);
        for value in package["features"][feature]
            .as_array()
            .into_iter()
            .flatten()
        {
            let value = value.as_str().unwrap_or_default();
            if let Some(dep) = value.strip_prefix("dep:") {
                enabled.insert(dep);
            } else if let Some((dep, _)) = value.split_once('/') {
                // `dep?/feature` only adds a feature to a dependency that is on anyway.
                if !dep.ends_with('?') {
                    enabled.insert(dep);
                }
            }
        }
    }
    enabled
}

/// Whether `package` builds with `dep`: the resolve lists optional
/// dependencies whether or not a feature turned them on.
fn is_active(package: &Value, dep: &Value, enabled: &HashSet<&str>) -> bool {
    package["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter(|d| str_of(d, "name") == str_of(dep, "name"))
        .filter(|d| d["kind"].is_null() || d["kind"] == "build")
        .any(|d| {
            let key = d["rename"].as_str().unwrap_or_else(|| str_of(d, "name"));
            d["optional"] != true || enabled.contains(key)
        })
}

#[test]
fn every_crate_declares_a_rust_version_its_dependencies_allow() {
    let meta = metadata();
    let graph = Graph::new(&meta);
    let mut problems = BTreeMap::new();
    let members = meta["workspace_members"].as_array().expect("members");
    assert!(!members.is_empty());
    for member in members {
        let id = member.as_str().expect("member id");
        let name = graph.name(id);
        let Some(declared) = graph.packages[id]["rust_version"].as_str() else {
            problems.insert(name, "declares no rust-version".to_owned());
            continue;
        };
        if let Some((required, chain)) = graph.highest_requirement(id) {
            if version(declared) < required {
                let path: Vec<String> = chain.iter().map(|id| graph.name(id)).collect();
                problems.insert(
                    name,
                    format!(
                        "declares rust-version {declared}, but {} requires {}.{}.{} (through {})",
                        graph.name(chain[chain.len() - 1]),
                        required.0,
                        required.1,
                        required.2,
                        path.join(" -> ")
                    ),
                );
            }
        }
    }
    assert!(
        problems.is_empty(),
        "rust-version too low:\n{}",
        problems
            .iter()
            .map(|(name, problem)| format!("  {name} {problem}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The check itself: sqlx, which declares a rust-version, is found in the
/// PostgreSQL crate's build and not in the runtime's, and optional
/// dependencies that no feature turns on are left out.
#[test]
fn the_dependency_walk_follows_features() {
    let meta = metadata();
    let graph = Graph::new(&meta);
    let id_of = |name: &str| {
        graph
            .packages
            .iter()
            .find(|(_, p)| str_of(p, "name") == name && p["source"].is_null())
            .map(|(id, _)| *id)
            .unwrap_or_else(|| panic!("no workspace package {name}"))
    };
    let reach = |root: &str| {
        let mut seen = HashSet::from([root.to_owned()]);
        let mut queue = VecDeque::from([root.to_owned()]);
        while let Some(id) = queue.pop_front() {
            for dep in &graph.edges[id.as_str()] {
                if seen.insert((*dep).to_owned()) {
                    queue.push_back((*dep).to_owned());
                }
            }
        }
        seen.iter()
            .map(|id| str_of(graph.packages[id.as_str()], "name").to_owned())
            .collect::<HashSet<_>>()
    };
    let postgres = reach(id_of("eventsource-cqrs-postgres"));
    assert!(postgres.contains("sqlx") && postgres.contains("sqlx-postgres"));
    // With every feature on, both TLS backends are in.
    assert!(postgres.contains("rustls") && postgres.contains("native-tls"));
    // sqlx is built for PostgreSQL only: its other drivers are optional.
    assert!(!postgres.contains("sqlx-mysql") && !postgres.contains("sqlx-sqlite"));
    let runtime = reach(id_of("eventsource-cqrs"));
    assert!(runtime.contains("tokio") && !runtime.contains("sqlx"));
    let (required, _) = graph
        .highest_requirement(id_of("eventsource-cqrs-postgres"))
        .expect("a requirement");
    assert!(required >= (1, 94, 0), "{required:?}");
}
