//! Suppressions and baselines: an accepted finding is counted and shown on
//! request, never silently dropped; a baseline lets CI fail on new
//! findings only; nothing of a value reaches any of it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::path::Path;

use serde_json::Value;

const PLANTED: &[&str] = &[
    "Pl4ntedInlineYaml77",
    "Pl4ntedInlineHcl77",
    "Pl4ntedNotSuppressed77",
];

fn tree(dir: &Path) {
    common::write(
        dir,
        "stack.yaml",
        "Resources:
  T:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: y
      ContainerDefinitions:
        - Name: app
          Environment:
            # ecsguard: ignore[secret-named-variable] test fixture, not deployed
            - Name: DB_PASSWORD
              Value: Pl4ntedInlineYaml77
            - Name: API_TOKEN # ecsguard: ignore[secret-valued-variable]
              Value: Pl4ntedNotSuppressed77
",
    );
    common::write(
        dir,
        "main.tf",
        "resource \"aws_ecs_task_definition\" \"t\" {
  family = \"h\"
  container_definitions = jsonencode([{
    name = \"app\"
    environment = [
      { name = \"SMTP_PASSWORD\", value = \"Pl4ntedInlineHcl77\" }, # ecsguard: ignore[secret-named-variable] rotated weekly
      // ecsguard: ignore[no-such-rule]
      { name = \"LOG_LEVEL\", value = \"info\" },
    ]
  }])
}
",
    );
}

fn scan(dir: &Path, args: &[&str]) -> common::Run {
    let mut all = vec!["scan", "."];
    all.extend_from_slice(args);
    common::ecsguard_in(dir, &all)
}

fn no_value(what: &str, text: &str) {
    for p in PLANTED {
        assert!(!text.contains(p), "{what} shows {p}:\n{text}");
    }
}

fn variables(findings: &Value) -> Vec<String> {
    let mut v: Vec<String> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["variable"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn inline_comments_suppress_in_yaml_and_hcl_and_say_so() {
    let dir = common::tempdir();
    tree(dir.path());
    let run = scan(dir.path(), &["--format", "json"]);
    no_value("json", &run.stdout);
    let report = run.json();
    // API_TOKEN's marker names the wrong rule for it: still reported.
    assert_eq!(variables(&report["findings"]), ["API_TOKEN"], "{report}");
    assert_eq!(
        variables(&report["suppressed"]),
        ["DB_PASSWORD", "SMTP_PASSWORD"],
        "{report}"
    );
    assert_eq!(report["summary"]["suppressed"], 2);
    let reasons: Vec<&str> = report["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["suppression"]["kind"], "inline");
            s["suppression"]["reason"].as_str().unwrap()
        })
        .collect();
    assert!(
        reasons.contains(&"test fixture, not deployed"),
        "{reasons:?}"
    );
    assert!(reasons.contains(&"rotated weekly"), "{reasons:?}");
    // The marker that covers nothing, and the one naming no rule, are notes.
    let notes = report["notes"].to_string();
    assert!(notes.contains("unused suppression"), "{notes}");
    assert!(notes.contains("no-such-rule"), "{notes}");
    assert!(
        notes.contains("stack.yaml") && notes.contains("main.tf"),
        "{notes}"
    );

    // Text: counted; -v lists them (never a value).
    let run = scan(dir.path(), &["-v"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("2 suppressed"), "{}", run.stdout);
    assert!(
        run.stderr.contains("suppressed (inline)") && run.stderr.contains("DB_PASSWORD"),
        "{}",
        run.stderr
    );
    no_value("text", &run.stdout);
    no_value("stderr", &run.stderr);

    // SARIF: suppressed results, with the justification.
    let run = scan(dir.path(), &["--format", "sarif"]);
    no_value("sarif", &run.stdout);
    let sarif = run.json();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let suppressed: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 2, "{sarif}");
    assert_eq!(suppressed[0]["suppressions"][0]["kind"], "inSource");
}

#[test]
fn everything_suppressed_passes() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "td.json",
        "{\"family\": \"x\", \"containerDefinitions\": [{\"name\": \"c\", \"environment\": [\n  // ecsguard: ignore[secret-named-variable] local test stack\n  {\"name\": \"DB_PASSWORD\", \"value\": \"Pl4ntedInlineYaml77\"}\n]}]}\n",
    );
    let run = scan(dir.path(), &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("1 suppressed"), "{}", run.stdout);
}

#[test]
fn a_baseline_accepts_what_is_known_and_fails_on_what_is_new() {
    let dir = common::tempdir();
    tree(dir.path());
    let base = dir.path().join("baseline.json");
    let run = scan(dir.path(), &["--write-baseline", base.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    let written = std::fs::read_to_string(&base).unwrap();
    no_value("baseline", &written);
    assert_eq!(
        serde_json::from_str::<Value>(&written).unwrap()["findings"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let run = scan(
        dir.path(),
        &["--baseline", base.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(report["summary"]["suppressed"], 3);

    // A new secret is reported; the baseline's are still accepted. The
    // value is not in the fingerprint (no private key): changing it keeps
    // the finding accepted.
    common::write(
        dir.path(),
        "new.json",
        "{\"family\": \"n\", \"containerDefinitions\": [{\"name\": \"c\", \"environment\": [{\"name\": \"REDIS_PASSWORD\", \"value\": \"Pl4ntedNotSuppressed77\"}]}]}",
    );
    let yaml = std::fs::read_to_string(dir.path().join("stack.yaml")).unwrap();
    std::fs::write(
        dir.path().join("stack.yaml"),
        yaml.replace("Pl4ntedNotSuppressed77", "Pl4ntedRotatedValue88"),
    )
    .unwrap();
    let run = scan(
        dir.path(),
        &["--baseline", base.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(run.code, 1);
    assert_eq!(variables(&run.json()["findings"]), ["REDIS_PASSWORD"]);

    // Stale entries are said; a broken baseline is a usage error naming
    // its line.
    std::fs::remove_file(dir.path().join("main.tf")).unwrap();
    let run = scan(dir.path(), &["--baseline", base.to_str().unwrap()]);
    assert!(run.stdout.contains("matched no finding"), "{}", run.stdout);
    std::fs::write(&base, "{\n  \"version\": 1,\n  \"findings\": [ nope ]\n}\n").unwrap();
    let run = scan(dir.path(), &["--baseline", base.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("baseline.json:3:"), "{}", run.stderr);
}

#[test]
fn a_private_key_puts_the_value_in_the_fingerprint() {
    let dir = common::tempdir();
    let td = |v: &str| {
        format!("{{\"family\": \"x\", \"containerDefinitions\": [{{\"name\": \"c\", \"environment\": [{{\"name\": \"DB_PASSWORD\", \"value\": \"{v}\"}}]}}]}}")
    };
    let fingerprint = |value: &str, key: Option<&str>| {
        common::write(dir.path(), "td.json", td(value));
        let env: Vec<(&str, String)> = key
            .map(|k| vec![("ECSGUARD_FINGERPRINT_KEY", k.to_owned())])
            .unwrap_or_default();
        let run =
            common::ecsguard_with(dir.path(), &env, false, &["scan", ".", "--format", "json"]);
        run.json()["findings"][0]["fingerprint"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Public: the value is left out, so a report gives nothing to guess at.
    assert_eq!(
        fingerprint("hunter2aa", None),
        fingerprint("hunter2bb", None)
    );
    // Keyed: a rotated value makes a new finding.
    assert_ne!(
        fingerprint("hunter2aa", Some("k3y")),
        fingerprint("hunter2bb", Some("k3y"))
    );
    assert_ne!(
        fingerprint("hunter2aa", Some("k3y")),
        fingerprint("hunter2aa", None)
    );
}
