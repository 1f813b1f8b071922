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

/// The new formats, from the same fixture (the bundled examples, read from
/// the repository root so that paths are stable).
#[test]
fn examples_asff_and_html_snapshots() {
    let root = examples().join("..");
    let env = [("SOURCE_DATE_EPOCH", "1700000000".to_owned())];
    let asff = common::ecsguard_with(
        &root,
        &env,
        false,
        &[
            "scan",
            "examples",
            "--format",
            "asff",
            "--account",
            "123456789012",
            "--region",
            "eu-west-1",
            "--project",
            "ecsguard-examples",
        ],
    );
    assert_eq!(asff.code, 1, "{}", asff.stderr);
    insta::assert_snapshot!("examples_asff", asff.stdout);
    let html = ecsguard_in(&root, &["scan", "examples", "--format", "html"]);
    assert_eq!(html.code, 1, "{}", html.stderr);
    insta::assert_snapshot!("examples_html", html.stdout);
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
    // A reference to an input of unknown sensitivity under a secret name: a medium finding only.
    write(
        dir.path(),
        "t.yaml",
        "Parameters:\n  Pw:\n    Type: String\nResources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions:\n        - Name: c\n          Environment:\n            - Name: DB_PASSWORD\n              Value: !Ref Pw\n",
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
    assert_eq!(
        ecsguard(&["scan", "--all-regions"]).code,
        2,
        "live options need --aws"
    );
    assert_eq!(
        ecsguard(&["scan", "--aws", "some/path"]).code,
        2,
        "--aws takes no paths"
    );
    assert_eq!(
        ecsguard(&["scan", "--aws", "--org"]).code,
        2,
        "--org needs --role-name"
    );
    assert_eq!(
        ecsguard(&["fix", "examples", "--format", "sarif"]).code,
        2,
        "a file fix plan is text or json"
    );
    assert_eq!(
        ecsguard(&["fix", "examples", "--push"]).code,
        2,
        "--push needs --apply"
    );
    assert_eq!(
        ecsguard(&["fix", "--aws", "examples"]).code,
        2,
        "--aws takes no paths"
    );
    for prefix in ["/aws/x", "/ssm", "/a b", ""] {
        let run = ecsguard(&["fix", "examples", "--prefix", prefix]);
        assert_eq!(run.code, 2, "--prefix {prefix:?}: {}", run.stderr);
        assert!(run.stderr.contains("--prefix"), "{}", run.stderr);
    }
    assert_eq!(ecsguard(&["fix", "--aws", "--format", "sarif"]).code, 2);
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

#[test]
fn sarif_matches_the_json_findings() {
    let path = examples().to_str().expect("path").to_owned();
    let json = ecsguard(&["scan", "--format", "json", &path]).json();
    let run = ecsguard(&["scan", "--format", "sarif", &path]);
    assert_eq!(run.code, 1);
    let sarif = run.json();
    assert_eq!(sarif["version"], "2.1.0");
    let sarif_run = &sarif["runs"][0];
    assert_eq!(sarif_run["tool"]["driver"]["name"], "ecsguard");
    let rules: Vec<&str> = sarif_run["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(
        rules,
        [
            "known-credential-variable",
            "secret-named-variable",
            "secret-valued-variable"
        ]
    );
    let results = sarif_run["results"].as_array().expect("results");
    let findings = json["findings"].as_array().expect("findings");
    assert_eq!(results.len(), findings.len());
    for (r, f) in results.iter().zip(findings) {
        assert_eq!(r["ruleId"], f["rule"]);
        assert_eq!(
            rules[r["ruleIndex"].as_u64().expect("index") as usize],
            f["rule"]
        );
        assert_eq!(r["partialFingerprints"]["ecsguard/v1"], f["fingerprint"]);
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["startLine"], f["location"]["line"]);
        let level = r["level"].as_str().expect("level");
        assert_eq!(
            level,
            if f["severity"] == "medium" {
                "warning"
            } else {
                "error"
            }
        );
    }
}

#[test]
fn sarif_lists_input_errors_as_notifications() {
    let dir = tempdir();
    write(dir.path(), "bad.json", "{\"containerDefinitions\": [,]}");
    let run = ecsguard_in(dir.path(), &["scan", "--format", "sarif", "."]);
    assert_eq!(run.code, 2);
    let sarif = run.json();
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    assert_eq!(invocation["exitCode"], 2);
    let note = &invocation["toolExecutionNotifications"][0];
    assert_eq!(note["level"], "error");
    assert_eq!(
        note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "bad.json"
    );
    assert_eq!(
        note["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
}

/// SARIF `fixes`: a result that a file fix settles on its own carries the
/// change, and applying its replacements to the file gives exactly what
/// `fix --apply` writes. A fix never carries a value the other formats hide:
/// a file whose change would move a literal, or an expression they elide
/// (`!Sub …${DbPassword}…`), gets none.
#[test]
fn sarif_fixes_turn_the_file_into_what_fix_writes() {
    let tree = |dir: &std::path::Path| {
        write(
            dir,
            "cfn/shop.yaml",
            "Parameters:\n  DbPassword:\n    Type: String\n    NoEcho: true\nResources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      Family: shop\n      ContainerDefinitions:\n        - Name: web\n          Image: web:1\n          Environment:\n            - Name: LOG_LEVEL\n              Value: info\n            - Name: DB_PASSWORD\n              Value: !Ref DbPassword\n",
        );
        write(
            dir,
            "tf/main.tf",
            "variable \"db_password\" {\n  type      = string\n  sensitive = true\n}\n\nresource \"aws_ecs_task_definition\" \"api\" {\n  family = \"api\"\n  container_definitions = jsonencode([\n    {\n      name  = \"api\"\n      image = \"api:1\"\n      environment = [\n        { name = \"LOG_LEVEL\", value = \"info\" },\n        { name = \"DB_PASSWORD\", value = var.db_password },\n      ]\n    }\n  ])\n}\n",
        );
        // CloudFormation JSON: `{"Ref": …}` is shown as `!Ref …`.
        write(
            dir,
            "cfn/json.json",
            r#"{"Parameters": {"Pw": {"Type": "String", "NoEcho": true}}, "Resources": {"T": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"Family": "json", "ContainerDefinitions": [{"Name": "c", "Environment": [{"Name": "DB_PASSWORD", "Value": {"Ref": "Pw"}}]}]}}}}
"#,
        );
        // Two task definitions in one file: one fix, on one result.
        write(
            dir,
            "tf2/main.tf",
            "variable \"pw\" {\n  type      = string\n  sensitive = true\n}\n\nresource \"aws_ecs_task_definition\" \"a\" {\n  family = \"a\"\n  container_definitions = jsonencode([{ name = \"c\", environment = [{ name = \"DB_PASSWORD\", value = var.pw }] }])\n}\n\nresource \"aws_ecs_task_definition\" \"b\" {\n  family = \"b\"\n  container_definitions = jsonencode([{ name = \"c\", environment = [{ name = \"DB_PASSWORD\", value = var.pw }] }])\n}\n",
        );
        let orders =
            std::fs::read_to_string(examples().join("cloudformation/orders-service.yaml")).unwrap();
        write(dir, "orders/orders-service.yaml", orders);
    };
    let scanned = tempdir();
    let fixed = tempdir();
    tree(scanned.path());
    tree(fixed.path());
    let run = ecsguard_in(scanned.path(), &["scan", "--format", "sarif", "."]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let sarif = run.json();
    let apply = ecsguard_in(fixed.path(), &["fix", "--apply", "."]);
    assert!(apply.code <= 1, "{}", apply.stderr);
    let mut checked = Vec::new();
    for result in sarif["runs"][0]["results"].as_array().unwrap() {
        let Some(fixes) = result["fixes"].as_array() else {
            continue;
        };
        assert_eq!(fixes.len(), 1);
        for change in fixes[0]["artifactChanges"].as_array().unwrap() {
            let uri = change["artifactLocation"]["uri"].as_str().unwrap();
            let original = std::fs::read_to_string(scanned.path().join(uri)).unwrap();
            let mut chars: Vec<char> = original.chars().collect();
            let mut replacements: Vec<&serde_json::Value> =
                change["replacements"].as_array().unwrap().iter().collect();
            // Back to front, so earlier offsets hold.
            replacements
                .sort_by_key(|r| std::cmp::Reverse(r["deletedRegion"]["charOffset"].as_u64()));
            for r in replacements {
                let at = r["deletedRegion"]["charOffset"].as_u64().unwrap() as usize;
                let len = r["deletedRegion"]["charLength"].as_u64().unwrap() as usize;
                let text = r["insertedContent"]["text"].as_str().unwrap_or("");
                chars.splice(at..at + len, text.chars());
            }
            let patched: String = chars.into_iter().collect();
            let written = std::fs::read_to_string(fixed.path().join(uri)).unwrap();
            assert_eq!(
                patched, written,
                "{uri}: the SARIF fix is not what fix writes"
            );
            checked.push(uri.to_owned());
        }
    }
    // CloudFormation (edits as made) and Terraform (aligned again: hunks);
    // the orders example moves a `!Sub` whose literal text is elided.
    // Each file's change once (on one result), never twice.
    checked.sort();
    assert_eq!(
        checked,
        [
            "cfn/json.json",
            "cfn/shop.yaml",
            "tf/main.tf",
            "tf2/main.tf"
        ],
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("db.internal"),
        "an elided text is in a fix"
    );
}

/// A file name with a colon is no URI scheme in SARIF.
#[test]
fn sarif_uris_never_read_as_a_scheme() {
    let dir = tempdir();
    write(
        dir.path(),
        "https:evil.com.json",
        r#"{"family": "x", "containerDefinitions": [{"name": "c", "environment": [{"name": "DB_PASSWORD", "value": "hunter2hunter2"}]}]}"#,
    );
    let run = ecsguard_in(dir.path(), &["scan", "--format", "sarif", "."]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let uri = run.json()["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
        ["artifactLocation"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(uri, "https%3Aevil.com.json");
}
