//! The command line: outputs, exit statuses, options.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use common::{ecsguard, ecsguard_in, examples, listing, tempdir, write};

#[test]
fn examples_findings_snapshot() {
    let run = ecsguard(&[
        "scan",
        "--format",
        "json",
        examples().to_str().expect("path"),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    insta::assert_snapshot!(listing(&report, &examples()));
    assert_eq!(report["errors"].as_array().map(Vec::len), Some(0));
}

#[test]
fn json_v1_has_the_fixed_shape() {
    let run = ecsguard(&[
        "scan",
        "--format",
        "json",
        examples().join("task-definitions").to_str().expect("path"),
    ]);
    let report = run.json();
    assert_eq!(report["version"], 1);
    assert_eq!(report["tool"]["name"], "ecsguard");
    assert!(report["tool"]["version"].is_string());
    for key in ["files", "task_definitions", "containers", "findings"] {
        assert!(report["summary"][key].is_u64(), "summary.{key}");
    }
    let findings = report["findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    for f in findings {
        for key in ["rule", "severity", "message", "variable", "fingerprint"] {
            assert!(f[key].is_string(), "{key} in {f}");
        }
        assert!(f["controls"].is_array());
        assert!(f["task_definition"].is_object());
        assert!(f["location"]["file"].is_string());
        assert!(f["location"]["line"].as_u64().is_some_and(|l| l >= 1));
        assert!(f["location"]["column"].as_u64().is_some_and(|c| c >= 1));
        assert!(f["evidence"]["detectors"]
            .as_array()
            .is_some_and(|d| !d.is_empty()));
    }
    let ecs8 = findings
        .iter()
        .find(|f| f["variable"] == "AWS_SECRET_ACCESS_KEY")
        .expect("ECS.8 finding");
    assert_eq!(ecs8["rule"], "known-credential-variable");
    assert_eq!(ecs8["controls"][0], "ECS.8");
    assert_eq!(ecs8["task_definition"]["family"], "billing-api");
    assert_eq!(ecs8["task_definition"]["revision"], 14);
    assert_eq!(ecs8["evidence"]["redacted"], "wJal…");
}

#[test]
fn fingerprints_survive_line_moves() {
    let dir = tempdir();
    let body = r#"{"family": "f", "containerDefinitions": [{"name": "c", "environment": [{"name": "DB_PASSWORD", "value": "abc123abc123"}]}]}"#;
    write(dir.path(), "a.json", body);
    let first = ecsguard_in(dir.path(), &["scan", "--format", "json", "a.json"]).json();
    write(dir.path(), "a.json", format!("\n\n\n{body}"));
    let second = ecsguard_in(dir.path(), &["scan", "--format", "json", "a.json"]).json();
    assert_eq!(first["findings"][0]["location"]["line"], 1);
    assert_eq!(second["findings"][0]["location"]["line"], 4);
    assert_eq!(
        first["findings"][0]["fingerprint"],
        second["findings"][0]["fingerprint"]
    );
}

#[test]
fn exit_status_follows_fail_on() {
    let dir = tempdir();
    // A reference to a secret input: a medium finding only.
    write(
        dir.path(),
        "t.yaml",
        "Parameters:\n  Pw:\n    Type: String\n    NoEcho: true\nResources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions:\n        - Name: c\n          Environment:\n            - Name: DB_PASSWORD\n              Value: !Ref Pw\n",
    );
    assert_eq!(ecsguard_in(dir.path(), &["scan", "."]).code, 1);
    assert_eq!(
        ecsguard_in(dir.path(), &["scan", "--fail-on", "medium", "."]).code,
        1
    );
    assert_eq!(
        ecsguard_in(dir.path(), &["scan", "--fail-on", "high", "."]).code,
        0
    );
}

#[test]
fn clean_input_exits_zero() {
    let run = ecsguard(&[
        "scan",
        examples()
            .join("cloudformation/inventory-clean.yaml")
            .to_str()
            .expect("path"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("no findings"), "{}", run.stdout);
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(ecsguard(&["scan", "--format", "yaml"]).code, 2);
    assert_eq!(ecsguard(&["scan", "--fail-on", "urgent"]).code, 2);
    assert_eq!(ecsguard(&["frobnicate"]).code, 2);
}

#[test]
fn securityhub_ruleset_reports_ecs8_names_only() {
    let run = ecsguard(&[
        "scan",
        "--ruleset",
        "securityhub",
        "--format",
        "json",
        examples().to_str().expect("path"),
    ]);
    let report = run.json();
    let findings = report["findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    for f in findings {
        assert_eq!(f["rule"], "known-credential-variable");
        let name = f["variable"].as_str().expect("variable");
        assert!(
            [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "ECS_ENGINE_AUTH_DATA"
            ]
            .contains(&name),
            "{name}"
        );
    }
}

#[test]
fn text_output_is_compiler_style_with_a_summary() {
    let run = ecsguard(&[
        "scan",
        examples()
            .join("task-definitions/worker.register.json")
            .to_str()
            .expect("path"),
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("high[secret-named-variable]: `SMTP_PASSWORD`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("worker.register.json:12:18"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains('\u{1b}'),
        "no colour when not a terminal"
    );
    let last = run.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("3 findings (3 high) in 1 task definitions"),
        "{last}"
    );
}

#[test]
fn output_file_gets_the_result_and_stdout_stays_empty() {
    let dir = tempdir();
    let out = dir.path().join("report.json");
    let run = ecsguard(&[
        "scan",
        "--format",
        "json",
        "--output",
        out.to_str().expect("path"),
        examples().join("task-definitions").to_str().expect("path"),
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).expect("written")).expect("JSON");
    assert_eq!(written["version"], 1);
}
