//! The module graph drawn from the code's own `crate::` paths has no cycle: layers point one way
//! (web → chat adapters → chat → service → core → store, with posts and reminders as leaves).
//!
//! A node is a top-level module of `src/`, except that each chat adapter (`chat::slack`,
//! `chat::teams`, `chat::sandbox`) is a node of its own, since adapters sit above `chat`.

use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

const ADAPTERS: [&str; 3] = ["slack", "teams", "sandbox"];

/// The node a source file belongs to, from its path under `src/` (None for the crate roots).
fn node_of(relative: &Path) -> Option<String> {
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let first = parts.first()?;
    if parts.len() == 1 && (first == "lib.rs" || first == "main.rs") {
        return None;
    }
    let top = first.strip_suffix(".rs").unwrap_or(first).to_string();
    match parts.get(1) {
        Some(adapter)
            if top == "chat" && parts.len() > 2 && ADAPTERS.contains(&adapter.as_str()) =>
        {
            Some(format!("chat::{adapter}"))
        }
        _ => Some(top),
    }
}

/// The nodes one file's code names through `crate::` paths (comments left out).
fn targets(text: &str) -> BTreeSet<String> {
    let comment = Regex::new(r"//.*").expect("a valid pattern");
    let path = Regex::new(r"crate::(\{[^}]*\}|\w+)(?:::(\w+))?").expect("a valid pattern");
    let first_names = Regex::new(r"(?:^|[{,])\s*(\w+)").expect("a valid pattern");
    let code = comment.replace_all(text, "");
    let mut found = BTreeSet::new();
    for m in path.captures_iter(&code) {
        let head = &m[1];
        if head.starts_with('{') {
            for name in first_names.captures_iter(head) {
                found.insert(name[1].to_string());
            }
        } else if head == "chat"
            && let Some(sub) = m.get(2).filter(|s| ADAPTERS.contains(&s.as_str()))
        {
            found.insert(format!("chat::{}", sub.as_str()));
        } else {
            found.insert(head.to_string());
        }
    }
    found
}

fn graph_of(src: &Path) -> Graph {
    let mut graph = Graph::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("src/ reads") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src/");
            let Some(node) = node_of(relative) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).expect("a source file reads");
            let edges = graph.entry(node.clone()).or_default();
            edges.extend(targets(&text).into_iter().filter(|t| *t != node));
        }
    }
    graph
}

/// A cycle in the graph as the path around it, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

#[test]
fn the_module_graph_of_src_has_no_cycle() {
    let graph = graph_of(&crate::helpers::crate_root().join("src"));
    for node in [
        "web",
        "chat",
        "chat::slack",
        "service",
        "escalation",
        "store",
    ] {
        assert!(
            graph.contains_key(node),
            "{node} is in the graph: {graph:?}"
        );
    }
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the modules depend on each other in a circle: {}; move what both need into the lower one",
            cycle.join(" → ")
        );
    }
}

#[test]
fn layers_point_down_from_web_to_the_store() {
    let graph = graph_of(&crate::helpers::crate_root().join("src"));
    let reaches = |from: &str, to: &str| graph.get(from).is_some_and(|e| e.contains(to));
    assert!(reaches("web", "service") && reaches("chat", "service") && reaches("service", "store"));
    for (lower, upper) in [
        ("service", "chat"),
        ("service", "scheduler"),
        ("service", "simulate"),
        ("escalation", "service"),
        ("store", "service"),
        ("posts", "service"),
        ("reminders", "service"),
        ("config", "cli"),
        ("config", "chat::teams"),
        ("chat", "web"),
    ] {
        assert!(
            !reaches(lower, upper),
            "{lower} must not depend on {upper}, which sits above it"
        );
    }
}

#[test]
fn a_cycle_is_found_and_named() {
    // The check itself: a graph with a circle through three modules is caught.
    let mut graph = Graph::new();
    for (from, to) in [
        ("web", "chat"),
        ("chat", "service"),
        ("service", "chat"),
        ("service", "store"),
    ] {
        graph.entry(from.into()).or_default().insert(to.into());
    }
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["chat".to_string(), "service".into(), "chat".into()])
    );
    graph.entry("service".into()).or_default().remove("chat");
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn grouped_and_nested_crate_paths_count_as_dependencies_and_comments_do_not() {
    let text = "use crate::{posts::fanout, service::Service};\nlet x = crate::chat::teams::known::KnownAddresses::of(s);\n// crate::web is only mentioned\n";
    let found: Vec<String> = targets(text).into_iter().collect();
    assert_eq!(found, ["chat::teams", "posts", "service"]);
    assert_eq!(
        node_of(Path::new("chat/sandbox/kept.rs")).as_deref(),
        Some("chat::sandbox")
    );
    assert_eq!(
        node_of(Path::new("chat/interact.rs")).as_deref(),
        Some("chat")
    );
    assert_eq!(
        node_of(Path::new("reminders.rs")).as_deref(),
        Some("reminders")
    );
    assert_eq!(node_of(Path::new("lib.rs")), None);
}
