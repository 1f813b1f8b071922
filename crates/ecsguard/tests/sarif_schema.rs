//! SARIF output validated against the official SARIF 2.1.0 JSON schema
//! (vendored in `tests/schemas`), with findings, suppressed findings, input
//! errors and notes in it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::path::Path;

fn validate(sarif: &str) {
    let dir = common::tempdir();
    let doc = common::write(dir.path(), "out.sarif", sarif);
    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/sarif-schema-2.1.0.json");
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             doc = json.load(open(sys.argv[2]))\n\
             v = jsonschema.Draft7Validator(schema)\n\
             errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))\n\
             [print('/'.join(map(str, e.path)), e.message) for e in errors]\n\
             sys.exit(1 if errors else 0)",
        ])
        .arg(&schema)
        .arg(&doc)
        .output()
        .expect("python3 with jsonschema (.ci/run installs it)");
    assert!(
        out.status.success(),
        "SARIF does not validate:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_examples_sarif_validates() {
    let run = common::ecsguard_in(&common::examples(), &["scan", ".", "--format", "sarif"]);
    assert!(run.code == 1 || run.code == 2, "{}", run.stderr);
    assert!(run.stdout.contains("\"results\""));
    validate(&run.stdout);
}

#[test]
fn sarif_with_suppressions_errors_and_notes_validates() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "stack.yaml",
        "Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      Family: y\n      ContainerDefinitions:\n        - Name: app\n          Environment:\n            # ecsguard: ignore[secret-named-variable] test stack\n            - Name: DB_PASSWORD\n              Value: Pl4ntedSarifSuppressed\n            # ecsguard: ignore[known-credential-variable]\n            - Name: LOG_LEVEL\n              Value: info\n",
    );
    common::write(
        dir.path(),
        "broken.json",
        "{\"family\": \"x\", \"containerDefinitions\": [ }",
    );
    let base = dir.path().join("base.json");
    common::write(
        dir.path(),
        "td.json",
        r#"{"family": "b", "containerDefinitions": [{"name": "c", "environment": [{"name": "API_TOKEN", "value": "ghp_Pl4ntedBaseline0000000000000000000000"}]}]}"#,
    );
    let run = common::ecsguard_in(
        dir.path(),
        &["scan", ".", "--write-baseline", base.to_str().unwrap()],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = common::ecsguard_in(
        dir.path(),
        &[
            "scan",
            ".",
            "--baseline",
            base.to_str().unwrap(),
            "--format",
            "sarif",
        ],
    );
    assert!(!run.stdout.contains("Pl4nted"), "{}", run.stdout);
    let sarif: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let kinds: Vec<String> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["suppressions"][0]["kind"].as_str().map(str::to_owned))
        .collect();
    assert!(kinds.contains(&"inSource".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"external".to_owned()), "{kinds:?}");
    validate(&run.stdout);
}
