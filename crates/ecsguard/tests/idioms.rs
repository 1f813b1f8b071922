//! Real-world idioms: one folder per way public repositories pass
//! environment variables to ECS, each written by hand (never copied), under
//! `tests/fixtures/idioms/`. Each folder's `EXPECT` file lists, one per line:
//!
//! - `VARIABLE rule severity [@file:line] [family=NAME]`: a finding that must
//!   be reported, with where its value is written when that is elsewhere;
//! - `!VARIABLE`: a harmless variable that must not be reported;
//! - `note TEXT`: a note whose message contains TEXT;
//! - `# …`: the idiom, in words.
//!
//! The findings must be exactly those listed: a new false alarm fails too.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{ecsguard_in, fixtures};

struct Expected {
    findings: BTreeMap<String, (String, String, Option<String>, Option<String>)>,
    harmless: Vec<String>,
    notes: Vec<String>,
}

fn parse_expect(text: &str) -> Expected {
    let mut e = Expected {
        findings: BTreeMap::new(),
        harmless: Vec::new(),
        notes: Vec::new(),
    };
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(var) = line.strip_prefix('!') {
            e.harmless.push(var.to_owned());
        } else if let Some(note) = line.strip_prefix("note ") {
            e.notes.push(note.to_owned());
        } else {
            let mut words = line.split_whitespace();
            let var = words.next().expect("variable").to_owned();
            let rule = words.next().expect("rule").to_owned();
            let severity = words.next().expect("severity").to_owned();
            let mut at = None;
            let mut family = None;
            for w in words {
                if let Some(a) = w.strip_prefix('@') {
                    at = Some(a.to_owned());
                } else if let Some(f) = w.strip_prefix("family=") {
                    family = Some(f.to_owned());
                }
            }
            e.findings.insert(var, (rule, severity, at, family));
        }
    }
    e
}

fn check_idiom(dir: &Path) -> Vec<String> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let expected = parse_expect(&std::fs::read_to_string(dir.join("EXPECT")).expect("EXPECT"));
    let run = ecsguard_in(dir, &["scan", "--format", "json", "."]);
    let report = run.json();
    let mut problems = Vec::new();
    let errors = report["errors"].as_array().expect("errors");
    if !errors.is_empty() {
        problems.push(format!("{name}: input errors: {errors:?}"));
    }
    let mut found = BTreeMap::new();
    for f in report["findings"].as_array().expect("findings") {
        let var = f["variable"].as_str().unwrap_or_default().to_owned();
        if found.insert(var.clone(), f.clone()).is_some() {
            problems.push(format!("{name}: {var} reported twice"));
        }
    }
    for (var, (rule, severity, at, family)) in &expected.findings {
        let Some(f) = found.get(var) else {
            problems.push(format!("{name}: missed {var}"));
            continue;
        };
        if f["rule"] != rule.as_str() || f["severity"] != severity.as_str() {
            problems.push(format!(
                "{name}: {var} is {} {}, expected {rule} {severity}",
                f["rule"], f["severity"]
            ));
        }
        if let Some(at) = at {
            let (file, line) = at.split_once(':').expect("@file:line");
            // Where the value is written: its own location, or the name's
            // when both are written there (a map in a `.tfvars` file).
            let v = if f["value_location"].is_null() {
                &f["location"]
            } else {
                &f["value_location"]
            };
            let ok = v["file"].as_str().is_some_and(|p| p.ends_with(file))
                && v["line"].as_u64() == line.parse().ok();
            if !ok {
                problems.push(format!(
                    "{name}: {var} value location is {v}, expected {at}"
                ));
            }
        }
        if let Some(family) = family {
            if f["task_definition"]["family"] != family.as_str() {
                problems.push(format!(
                    "{name}: {var} has family {}, expected {family}",
                    f["task_definition"]["family"]
                ));
            }
        }
    }
    for var in found.keys() {
        if !expected.findings.contains_key(var) {
            let what = if expected.harmless.contains(var) {
                "false alarm on harmless"
            } else {
                "unexpected finding"
            };
            problems.push(format!("{name}: {what} {var}"));
        }
    }
    let notes = report["notes"].to_string();
    for note in &expected.notes {
        if !notes.contains(note.as_str()) {
            problems.push(format!("{name}: no note saying `{note}` in {notes}"));
        }
    }
    problems
}

#[test]
fn every_idiom_gives_exactly_its_findings() {
    let root = fixtures().join("idioms");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("idioms")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 30, "at least 30 idioms, found {}", dirs.len());
    let problems: Vec<String> = dirs.iter().flat_map(|d| check_idiom(d)).collect();
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_idiom_names_its_harmless_variables() {
    let root = fixtures().join("idioms");
    for entry in std::fs::read_dir(&root).expect("idioms") {
        let dir = entry.expect("entry").path();
        let text = std::fs::read_to_string(dir.join("EXPECT")).expect("EXPECT");
        let e = parse_expect(&text);
        assert!(
            !e.harmless.is_empty() || !e.notes.is_empty(),
            "{}: list the harmless variables the idiom must not report",
            dir.display()
        );
        assert!(
            text.lines().any(|l| l.starts_with('#')),
            "{}: name the idiom",
            dir.display()
        );
    }
}
