//! `ecsguard rules` and `docs/rules.md`: generated from the same metadata,
//! kept in step, and the examples they give behave as they say.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::path::Path;

fn docs() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules.md")
}

fn rule_ids() -> Vec<String> {
    let run = common::ecsguard(&["rules"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

/// `docs/rules.md` is what `ecsguard rules --markdown` prints. Run with
/// `ECSGUARD_UPDATE_DOCS=1` to write it again.
#[test]
fn docs_rules_md_is_up_to_date() {
    let run = common::ecsguard(&["rules", "--markdown"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    if std::env::var_os("ECSGUARD_UPDATE_DOCS").is_some() {
        std::fs::write(docs(), &run.stdout).unwrap();
    }
    let written = std::fs::read_to_string(docs()).expect("docs/rules.md exists");
    assert!(
        written == run.stdout,
        "docs/rules.md is stale: run `ECSGUARD_UPDATE_DOCS=1 cargo test -p ecsguard --test rules`"
    );
    // Every help_uri anchor is a heading of the file.
    for id in rule_ids() {
        assert!(written.contains(&format!("\n## {id}\n")), "{id}");
    }
}

#[test]
fn each_rule_is_explained_and_an_unknown_one_is_a_usage_error() {
    let ids = rule_ids();
    assert_eq!(
        ids,
        [
            "known-credential-variable",
            "secret-named-variable",
            "secret-valued-variable"
        ]
    );
    for id in &ids {
        let run = common::ecsguard(&["rules", id]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        for part in ["What", "Why", "How to fix", "Flagged", "Not flagged"] {
            assert!(run.stdout.contains(part), "{id}: {part}\n{}", run.stdout);
        }
        assert!(
            run.stdout.contains(&format!("docs/rules.md#{id}")),
            "{}",
            run.stdout
        );
    }
    let run = common::ecsguard(&["rules", "no-such-rule"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("secret-named-variable"),
        "{}",
        run.stderr
    );
}

/// The examples in the docs do what they say: the flagged one is reported
/// by its rule, the other by none.
#[test]
fn the_documented_examples_behave_as_documented() {
    let doc = std::fs::read_to_string(docs()).unwrap();
    for id in rule_ids() {
        let section = doc
            .split(&format!("\n## {id}\n"))
            .nth(1)
            .unwrap()
            .split("\n## ")
            .next()
            .unwrap();
        let blocks: Vec<&str> = section
            .split("```json\n")
            .skip(1)
            .map(|b| b.split("\n```").next().unwrap())
            .collect();
        let [bad, good] = blocks[..] else {
            panic!("{id}: two examples expected")
        };
        for (entry, flagged) in [(bad, true), (good, false)] {
            let dir = common::tempdir();
            common::write(
                dir.path(),
                "td.json",
                format!(
                    "{{\"family\": \"doc\", \"containerDefinitions\": [{{\"name\": \"c\", \"environment\": [{entry}]}}]}}"
                ),
            );
            let run = common::ecsguard_in(dir.path(), &["scan", ".", "--format", "json"]);
            let rules: Vec<String> = run.json()["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["rule"].as_str().unwrap().to_owned())
                .collect();
            if flagged {
                assert_eq!(rules, std::slice::from_ref(&id), "{id}: {entry}");
            } else {
                assert!(rules.is_empty(), "{id}: {entry} flagged as {rules:?}");
            }
        }
    }
}
