//! `.ecsguard.toml`: rule selection, severity overrides, ignored paths, and
//! ignores with a reason and an expiry date; errors at the config's line.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::path::Path;

use serde_json::Value;

fn tree(dir: &Path) {
    let td = |family: &str, var: &str, value: &str| {
        format!(
            "{{\"family\": \"{family}\", \"containerDefinitions\": [{{\"name\": \"api\", \"environment\": [{{\"name\": \"{var}\", \"value\": \"{value}\"}}]}}]}}"
        )
    };
    common::write(
        dir,
        "infra/billing.json",
        td("billing", "LEGACY_TOKEN", "Pl4ntedLegacyTok3n77"),
    );
    common::write(
        dir,
        "infra/shop.json",
        td("shop", "DB_PASSWORD", "Pl4ntedShopPw77"),
    );
    common::write(
        dir,
        "infra/test/fixtures/td.json",
        td("fixture", "API_KEY", "Pl4ntedFixtureKey77"),
    );
    common::write(
        dir,
        "infra/url.json",
        td(
            "url",
            "DATABASE_URL",
            "postgres://app:Pl4ntedUrlPw77@db/app",
        ),
    );
}

fn scan(dir: &Path, env: &[(&str, String)], args: &[&str]) -> common::Run {
    let mut all = vec!["scan"];
    all.extend_from_slice(args);
    common::ecsguard_with(dir, env, false, &all)
}

fn families(v: &Value) -> Vec<String> {
    let mut f: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["task_definition"]["family"].as_str().unwrap().to_owned())
        .collect();
    f.sort();
    f
}

const CONFIG: &str = r#"# accepted risks, reviewed each quarter
ignore_paths = ["infra/test/**"]

[severity]
secret-named-variable = "medium"

[[ignore]]
family = "billing"
container = "api"
variable = "LEGACY_TOKEN"
reason = "sandbox token, JIRA-123"
expires = "2027-03-31"

[[ignore]]
variable = "NOT_THERE"
reason = "left over"
"#;

#[test]
fn a_config_found_upward_accepts_and_overrides() {
    let dir = common::tempdir();
    tree(dir.path());
    common::write(dir.path(), ".ecsguard.toml", CONFIG);
    let today = ("ECSGUARD_TODAY", "2026-12-06".to_owned());
    // Scanning a folder below the config: it is found.
    let run = scan(
        &dir.path().join("infra"),
        std::slice::from_ref(&today),
        &[".", "--format", "json"],
    );
    let report = run.json();
    assert_eq!(families(&report["findings"]), ["shop", "url"], "{report}");
    assert_eq!(
        families(&report["suppressed"]),
        ["billing", "fixture"],
        "{report}"
    );
    let shop = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["task_definition"]["family"] == "shop")
        .unwrap();
    assert_eq!(shop["severity"], "medium");
    let reasons = report["suppressed"].to_string();
    assert!(reasons.contains("sandbox token, JIRA-123"), "{reasons}");
    assert!(reasons.contains("\"kind\":\"config\""), "{reasons}");
    // The unused ignore is said, at its line.
    let notes = report["notes"].to_string();
    assert!(notes.contains("ignore #2 matched no finding"), "{notes}");
    assert!(notes.contains("\"line\":14"), "{notes}");
    assert!(!run.stdout.contains("Pl4nted"), "{}", run.stdout);
    // --fail-on high: the overridden severity passes.
    let run = scan(
        &dir.path().join("infra"),
        &[today],
        &[".", "--fail-on", "high", "--format", "json"],
    );
    // url.json's DATABASE_URL is still high.
    assert_eq!(run.code, 1);

    // Expired: reported again, and said.
    let run = scan(
        dir.path(),
        &[("ECSGUARD_TODAY", "2027-04-01".to_owned())],
        &[".", "--format", "json"],
    );
    let report = run.json();
    assert!(
        families(&report["findings"]).contains(&"billing".to_owned()),
        "{report}"
    );
    assert!(
        report["notes"]
            .to_string()
            .contains("expired on 2027-03-31"),
        "{report}"
    );
}

#[test]
fn rules_can_be_selected_and_a_named_config_wins() {
    let dir = common::tempdir();
    tree(dir.path());
    common::write(
        dir.path(),
        "strict.toml",
        "[rules]\nignore = [\"secret-named-variable\"]\n",
    );
    let run = scan(
        dir.path(),
        &[],
        &[".", "--config", "strict.toml", "--format", "json"],
    );
    let report = run.json();
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(!rules.is_empty());
    assert!(
        rules.iter().all(|r| *r != "secret-named-variable"),
        "{rules:?}"
    );
}

#[test]
fn config_errors_name_the_file_and_line() {
    for (text, line, words) in [
        (
            "[rules]\nselect = [\"secret-named-varible\"]\n",
            2,
            "is no rule id",
        ),
        ("ignore_paths = [\"a\"]\nbogus = 1\n", 2, "unknown field"),
        (
            "[[ignore]]\nvariable = \"X\"\nreason = \"r\"\nexpires = \"soon\"\n",
            1,
            "not a date",
        ),
        (
            "\n\n[[ignore]]\nvariable = \"X\"\nreason = \"\"\n",
            3,
            "give a `reason`",
        ),
        (
            "[severity]\nsecret-named-variable = \"severe\"\n",
            2,
            "must be low, medium, high or critical",
        ),
    ] {
        let dir = common::tempdir();
        tree(dir.path());
        common::write(dir.path(), ".ecsguard.toml", text);
        let run = scan(dir.path(), &[], &["."]);
        assert_eq!(run.code, 2, "{text}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains(&format!(".ecsguard.toml:{line}:")) && run.stderr.contains(words),
            "{text}: {}",
            run.stderr
        );
    }
}
