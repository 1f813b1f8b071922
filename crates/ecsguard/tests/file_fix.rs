//! `ecsguard fix PATH`: the plan (redacted diffs and outcomes), and what
//! `--apply` without `--push` may and may not write. The `--push` tests,
//! which need moto, are in `live_file_fix.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::path::{Path, PathBuf};

fn shapes() -> tempfile::TempDir {
    common::fix_shapes()
}

/// Every planted value in the shapes.
const PLANTED: &[&str] = &[
    "Pl4nted",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "Pl4ntedTok3nZq9Xw2Lm8Rv5Ty1",
];

fn no_value_in(what: &str, text: &str) {
    for p in PLANTED {
        assert!(!text.contains(p), "{what} shows a planted value:\n{text}");
    }
}

fn contents(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut all: Vec<(PathBuf, String)> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let t = std::fs::read_to_string(&p).unwrap_or_default();
            (p, t)
        })
        .collect();
    all.sort();
    all
}

#[test]
fn the_plan_shows_redacted_diffs_and_an_outcome_for_every_finding() {
    let dir = shapes();
    let before = contents(dir.path());
    let run = common::ecsguard_in(dir.path(), &["fix", "."]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    no_value_in("the plan", &run.stdout);
    no_value_in("stderr", &run.stderr);
    insta::assert_snapshot!("file_fix_plan", run.stdout);
    assert_eq!(contents(dir.path()), before, "a plan writes nothing");
    // Every finding the scan reports has exactly one outcome.
    let scan = common::ecsguard_in(dir.path(), &["scan", ".", "--format", "json"]).json();
    let json = common::ecsguard_in(dir.path(), &["fix", ".", "--format", "json"]).json();
    let plan_findings = json["findings"].as_array().expect("findings");
    assert_eq!(
        plan_findings.len(),
        scan["findings"].as_array().expect("findings").len()
    );
    // Literals need a push; values already read from a store are rewritten
    // to read that store.
    for f in plan_findings {
        let file = f["file"].as_str().unwrap_or("");
        let expected = if file.ends_with("refs.tf") || file.ends_with("resolve.yaml") {
            "fixed"
        } else {
            "needs-push"
        };
        assert_eq!(f["outcome"], expected, "{f}");
    }
    no_value_in("the JSON plan", &json.to_string());
    // A role declared for a task definition that had none also reads the
    // secrets its containers had already.
    let main_diff = json["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"].as_str().unwrap_or("").ends_with("main.tf"))
        .and_then(|f| f["diff"].as_str())
        .unwrap_or("");
    assert!(
        main_diff.lines().any(|l| l.starts_with('+')
            && l.contains("Resource =")
            && l.contains("parameter/existing")),
        "{main_diff}"
    );
    insta::assert_json_snapshot!("file_fix_plan_json", json);
}

#[test]
fn apply_without_push_writes_nothing_for_literals_and_says_so() {
    let dir = shapes();
    let before = contents(dir.path());
    let run = common::ecsguard_in(dir.path(), &["fix", ".", "--apply"]);
    assert_eq!(
        run.code, 1,
        "findings remain: {}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stdout.contains("4 fixed, 14 needs-push"),
        "{}",
        run.stdout
    );
    // Only the files whose values were already in a store changed.
    let after = contents(dir.path());
    for ((path, old), (_, new)) in before.iter().zip(&after) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "refs.tf" || name == "resolve.yaml" {
            assert_ne!(old, new, "{name} was rewritten");
            no_value_in(name, new);
        } else {
            assert_eq!(old, new, "{name} needs a push first");
        }
    }
    // Those now scan clean, and cfn-lint finds no new error (it flagged the
    // original: ssm-secure cannot be resolved into a container's environment).
    let rescan = common::ecsguard_in(dir.path(), &["scan", "refs.tf", "resolve.yaml"]);
    assert_eq!(rescan.code, 0, "{}", rescan.stdout);
    let lint = std::process::Command::new("cfn-lint")
        .arg(dir.path().join("resolve.yaml"))
        .output()
        .expect("cfn-lint runs (.ci/run installs it)");
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );
    let fmt = std::process::Command::new("terraform")
        .args(["fmt", "-check", "refs.tf"])
        .current_dir(dir.path())
        .output()
        .expect("terraform runs");
    assert!(fmt.status.success());
    // The role is declared in the module: the grant is written next to the
    // task definition, naming exactly the stores it reads.
    let refs = std::fs::read_to_string(dir.path().join("refs.tf")).expect("read");
    assert!(
        refs.contains("resource \"aws_iam_role_policy\" \"refs_ecsguard_secrets\" {")
            && refs.contains("role = aws_iam_role.exec.id")
            && refs.contains("Resource = [data.aws_ssm_parameter.db.arn]")
            && refs.contains("Resource = [data.aws_secretsmanager_secret_version.api.arn]"),
        "{refs}"
    );
}

#[test]
fn push_needs_apply() {
    let dir = shapes();
    let run = common::ecsguard_in(dir.path(), &["fix", ".", "--push"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn generated_and_not_yet_rewritable_shapes_are_manual_with_a_reason() {
    let run = common::ecsguard_in(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .and_then(Path::parent)
            .expect("root"),
        &["fix", "examples", "--format", "json"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    let findings = json["findings"].as_array().expect("findings");
    let outcome_of = |file_part: &str| -> Vec<&str> {
        findings
            .iter()
            .filter(|f| f["file"].as_str().unwrap_or("").contains(file_part))
            .map(|f| f["outcome"].as_str().unwrap_or(""))
            .collect()
    };
    assert!(outcome_of("cdk.out").iter().all(|o| *o == "manual"));
    assert!(outcome_of("plan.json").iter().all(|o| *o == "manual"));
    for f in findings {
        assert!(
            ["fixed", "needs-push", "manual", "unchanged"]
                .contains(&f["outcome"].as_str().unwrap_or("")),
            "{f}"
        );
        assert!(!f["reason"].as_str().unwrap_or("").is_empty(), "{f}");
    }
    let cdk = findings
        .iter()
        .find(|f| f["file"].as_str().unwrap_or("").contains("cdk.out"))
        .expect("a CDK finding");
    assert!(cdk["reason"].as_str().unwrap_or("").contains("CDK app"));
}

/// Every idiom fixture: each finding the scan reports gets one outcome.
#[test]
fn every_idiom_fixture_gets_an_outcome_for_every_finding() {
    let root = common::fixtures().join("idioms");
    for entry in std::fs::read_dir(&root).expect("idioms") {
        let dir = entry.expect("entry").path();
        if !dir.is_dir() {
            continue;
        }
        let scan = common::ecsguard_in(&dir, &["scan", ".", "--format", "json"]);
        let plan = common::ecsguard_in(&dir, &["fix", ".", "--format", "json"]);
        assert!(
            plan.code == 0 || plan.code == 2,
            "{}: {}\n{}",
            dir.display(),
            plan.stdout,
            plan.stderr
        );
        let scanned = scan.json()["findings"].as_array().map_or(0, Vec::len);
        let planned = plan.json()["findings"].as_array().map_or(0, Vec::len);
        assert_eq!(scanned, planned, "{}", dir.display());
    }
}

/// Container modules (cloudposse's ecs-container-definition,
/// terraform-aws-modules' container-definition and service): the entries
/// move to the module's own `secrets` input.
#[test]
fn container_modules_get_their_own_secrets_input() {
    let dir = common::tempdir();
    std::fs::copy(
        common::examples().join("terraform/modules.tf"),
        dir.path().join("modules.tf"),
    )
    .expect("copy");
    let run = common::ecsguard_in(dir.path(), &["fix", ".", "--format", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    let outcome = |variable: &str| {
        json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["variable"] == variable)
            .map(|f| f["outcome"].as_str().unwrap_or("").to_owned())
            .unwrap_or_default()
    };
    for v in ["GITHUB_TOKEN", "DD_API_KEY", "ELASTIC_PASSWORD"] {
        assert_eq!(outcome(v), "needs-push", "{v}");
    }
    // A map input (cloudposse's map_environment) is not rewritten yet.
    assert_eq!(outcome("MAILGUN_API_KEY"), "manual");
    let diff = json["files"][0]["diff"].as_str().unwrap_or("");
    assert_eq!(diff.matches("+  secrets = [").count(), 2, "{diff}");
    assert!(diff.contains("+  environment     = []"), "aligned: {diff}");
    assert!(diff.contains("+      secrets = ["), "{diff}");
}

fn plan_json(dir: &Path) -> serde_json::Value {
    let run = common::ecsguard_in(dir, &["fix", ".", "--format", "json"]);
    assert!(
        run.code == 0 || run.code == 2,
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    run.json()
}

fn outcome_of(json: &serde_json::Value, file_end: &str, variable: &str) -> String {
    json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["variable"] == variable && f["file"].as_str().unwrap_or("").ends_with(file_end))
        .map(|f| f["outcome"].as_str().unwrap_or("").to_owned())
        .unwrap_or_else(|| panic!("no finding {variable} in {file_end}: {json}"))
}

/// From the adversarial pass: values shown in a diff's context lines (a
/// local, a container that is not rewritten) are hidden too.
#[test]
fn a_finding_value_is_hidden_wherever_the_diff_shows_it() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "main.tf",
        r#"locals {
  db_password = "Pl4ntedLocalPw-55aa"
}

resource "aws_ecs_task_definition" "t" {
  family = "ctx"
  container_definitions = jsonencode([
    {
      name  = "a"
      image = "a:1"
      environment = [
        { name = "DB_PASSWORD", value = local.db_password },
        { name = "API_TOKEN", value = "Pl4ntedTokenAbc123Xyz789" },
      ]
    }
  ])
}
"#,
    );
    for format in ["text", "json"] {
        let run = common::ecsguard_in(dir.path(), &["fix", ".", "--format", format]);
        assert!(
            run.stdout.contains("secrets"),
            "a diff is shown: {}",
            run.stdout
        );
        for v in ["Pl4ntedLocalPw-55aa", "Pl4ntedTokenAbc123Xyz789"] {
            assert!(!run.stdout.contains(v), "{v} shown:\n{}", run.stdout);
        }
    }
}

/// Two files that would store different values under one name are both
/// manual, and nothing would be pushed for them.
#[test]
fn two_findings_that_would_share_a_store_name_are_manual() {
    let dir = common::tempdir();
    for env in ["staging", "prod"] {
        common::write(
            dir.path(),
            &format!("{env}/td.json"),
            format!(
                r#"{{"family": "api", "containerDefinitions": [{{"name": "api", "environment": [{{"name": "DB_PASSWORD", "value": "Pl4nted-{env}-Pw-7781"}}]}}]}}"#
            ),
        );
    }
    let json = plan_json(dir.path());
    assert_eq!(
        outcome_of(&json, "staging/td.json", "DB_PASSWORD"),
        "manual"
    );
    assert_eq!(outcome_of(&json, "prod/td.json", "DB_PASSWORD"), "manual");
    assert_eq!(json["pushes"].as_array().map(Vec::len), Some(0), "{json}");
    assert_eq!(json["files"].as_array().map(Vec::len), Some(0), "{json}");
}

/// A value that is not a plain string written here (a list, a Terraform
/// interpolation) is manual: stored, it would be its JSON text, or frozen.
#[test]
fn values_that_are_not_plain_strings_are_manual() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "list.json",
        r#"{"family": "l", "containerDefinitions": [{"name": "c", "environment": [{"name": "DB_PASSWORD", "value": ["Pl4nted-list-Pw-1"]}]}]}"#,
    );
    common::write(
        dir.path(),
        "tpl.tf",
        r#"locals {
  part = "Pl4ntedPart"
}

resource "aws_ecs_task_definition" "t" {
  family = "tpl"
  container_definitions = jsonencode([
    {
      name        = "c"
      environment = [{ name = "DB_PASSWORD", value = "Pl4ntedTpl${local.part}Tail99" }]
    }
  ])
}
"#,
    );
    let json = plan_json(dir.path());
    assert_eq!(outcome_of(&json, "tpl.tf", "DB_PASSWORD"), "manual");
    if let Some(f) = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["file"].as_str().unwrap_or("").ends_with("list.json"))
    {
        assert_eq!(f["outcome"], "manual", "{f}");
    }
    assert_eq!(json["pushes"].as_array().map(Vec::len), Some(0), "{json}");
}

/// A symlink or a read-only file is not replaced by the rename: manual.
#[test]
fn symlinks_and_read_only_files_are_not_rewritten() {
    let dir = common::tempdir();
    let td = r#"{"family": "s", "containerDefinitions": [{"name": "c", "environment": [{"name": "DB_PASSWORD", "value": "Pl4nted-sym-Pw-4410"}]}]}"#;
    common::write(dir.path(), "real/td.json", td);
    std::os::unix::fs::symlink(
        dir.path().join("real/td.json"),
        dir.path().join("link.json"),
    )
    .expect("symlink");
    let ro = common::write(dir.path(), "ro/td.json", td.replace("\"s\"", "\"r\""));
    let mut perms = std::fs::metadata(&ro).expect("meta").permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&ro, perms).expect("chmod");
    let run = common::ecsguard_in(
        dir.path(),
        &["fix", "link.json", "ro/td.json", "--format", "json"],
    );
    let json = run.json();
    assert_eq!(
        outcome_of(&json, "link.json", "DB_PASSWORD"),
        "manual",
        "{json}"
    );
    assert_eq!(
        outcome_of(&json, "ro/td.json", "DB_PASSWORD"),
        "manual",
        "{json}"
    );
}

/// Two task definitions of one family, one with a declared role and one
/// with its role written as `null`: each gets its own grant, the second a
/// declared role put in place of the `null`; the file still formats clean.
#[test]
fn each_task_definition_gets_its_own_grant_and_a_null_role_is_replaced() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "main.tf",
        r#"data "aws_ssm_parameter" "a" {
  name = "/svc/a"
}

data "aws_ssm_parameter" "b" {
  name = "/svc/b"
}

resource "aws_iam_role" "ra" {
  name               = "ra"
  assume_role_policy = "{}"
}

resource "aws_ecs_task_definition" "a" {
  family             = "svc"
  execution_role_arn = aws_iam_role.ra.arn
  container_definitions = jsonencode([
    {
      name        = "a"
      environment = [{ name = "DB_PASSWORD", value = data.aws_ssm_parameter.a.value }]
    }
  ])
}

resource "aws_ecs_task_definition" "b" {
  family             = "svc"
  execution_role_arn = null
  container_definitions = jsonencode([
    {
      name        = "b"
      environment = [{ name = "API_SECRET", value = data.aws_ssm_parameter.b.value }]
    }
  ])
}
"#,
    );
    let run = common::ecsguard_in(dir.path(), &["fix", ".", "--apply"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let tf = std::fs::read_to_string(dir.path().join("main.tf")).expect("read");
    assert!(
        tf.contains("execution_role_arn = aws_iam_role.b_execution.arn"),
        "{tf}"
    );
    assert_eq!(tf.matches("execution_role_arn").count(), 2, "{tf}");
    assert!(tf.contains("name_prefix = \"ecsguard-exec-\""), "{tf}");
    let a_policy = &tf[tf.find("\"a_ecsguard_secrets\"").expect("a's grant")..];
    let a_policy = &a_policy[..a_policy.find("\n}\n").expect("end")];
    assert!(
        a_policy.contains("data.aws_ssm_parameter.a.arn") && !a_policy.contains("parameter.b"),
        "{a_policy}"
    );
    assert!(tf.contains("\"b_ecsguard_secrets\""), "{tf}");
    let fmt = std::process::Command::new("terraform")
        .args(["fmt", "-check", "-diff", "main.tf"])
        .current_dir(dir.path())
        .output()
        .expect("terraform runs");
    assert!(
        fmt.status.success(),
        "{}",
        String::from_utf8_lossy(&fmt.stdout)
    );
}

/// `ExecutionRoleArn: !Ref AWS::NoValue` is no role: one is declared and
/// put in its place, not added beside it.
#[test]
fn a_cloudformation_role_written_as_no_value_is_replaced() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "t.yaml",
        r#"AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: novalue
      ExecutionRoleArn: !Ref AWS::NoValue
      ContainerDefinitions:
        - Name: app
          Image: app:1
          Memory: 256
          Environment:
            - Name: DB_PASSWORD
              Value: '{{resolve:ssm-secure:/novalue/db}}'
"#,
    );
    let run = common::ecsguard_in(dir.path(), &["fix", ".", "--apply"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let yaml = std::fs::read_to_string(dir.path().join("t.yaml")).expect("read");
    assert!(
        yaml.contains("ExecutionRoleArn: !GetAtt TaskExecutionRole.Arn"),
        "{yaml}"
    );
    assert_eq!(yaml.matches("ExecutionRoleArn").count(), 1, "{yaml}");
    let lint = std::process::Command::new("cfn-lint")
        .arg(dir.path().join("t.yaml"))
        .output()
        .expect("cfn-lint runs");
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );
}

/// Files written with CRLF keep CRLF on every line, added ones included.
#[test]
fn crlf_files_stay_crlf() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "main.tf",
        "data \"aws_ssm_parameter\" \"a\" {\r\n  name = \"/x/a\"\r\n}\r\n\r\nresource \"aws_ecs_task_definition\" \"t\" {\r\n  family = \"crlf\"\r\n  container_definitions = jsonencode([\r\n    {\r\n      name  = \"c\"\r\n      image = \"c:1\"\r\n      environment = [\r\n        { name = \"DB_PASSWORD\", value = data.aws_ssm_parameter.a.value },\r\n      ]\r\n    }\r\n  ])\r\n}\r\n",
    );
    common::write(
        dir.path(),
        "t.yaml",
        "Resources:\r\n  T:\r\n    Type: AWS::ECS::TaskDefinition\r\n    Properties:\r\n      ContainerDefinitions:\r\n        - Name: c\r\n          Image: c\r\n          Memory: 256\r\n          Environment:\r\n            - Name: DB_PASSWORD\r\n              Value: '{{resolve:ssm-secure:/x/b}}'\r\n",
    );
    let run = common::ecsguard_in(dir.path(), &["fix", ".", "--apply"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for name in ["main.tf", "t.yaml"] {
        let text = std::fs::read_to_string(dir.path().join(name)).expect("read");
        assert!(
            text.contains("secrets") || text.contains("Secrets"),
            "{text}"
        );
        assert!(
            !text.replace("\r\n", "").contains(['\n', '\r']),
            "{name} mixes line endings: {text:?}"
        );
    }
}

/// A file that starts with a byte-order mark is rewritten like any other,
/// and keeps its mark.
#[test]
fn a_byte_order_mark_is_kept_and_does_not_stop_the_fix() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "bom.yaml",
        "\u{feff}Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions:\n        - Name: c\n          Image: c\n          Memory: 256\n          Environment:\n            - Name: DB_PASSWORD\n              Value: \"{{resolve:ssm-secure:/b/x}}\"\n",
    );
    common::write(
        dir.path(),
        "bom.json",
        "\u{feff}{\"family\": \"b\", \"containerDefinitions\": [{\"name\": \"c\", \"environment\": [{\"name\": \"DB_PASSWORD\", \"value\": \"Pl4nted-bom-Pw-1\"}]}]}\n",
    );
    let json = plan_json(dir.path());
    assert_eq!(outcome_of(&json, "bom.json", "DB_PASSWORD"), "needs-push");
    assert_eq!(outcome_of(&json, "bom.yaml", "DB_PASSWORD"), "fixed");
    let run = common::ecsguard_in(dir.path(), &["fix", ".", "--apply"]);
    assert_eq!(run.code, 1, "bom.json still needs a push: {}", run.stdout);
    let yaml = std::fs::read_to_string(dir.path().join("bom.yaml")).expect("read");
    assert!(
        yaml.starts_with('\u{feff}')
            && yaml.contains("ExecutionRoleArn: !GetAtt TExecutionRole.Arn"),
        "{yaml}"
    );
}

/// A variable already in `secrets` is not added a second time, and an
/// unreadable file is named with its line in the plan.
#[test]
fn a_name_already_in_secrets_is_manual_and_errors_name_their_place() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "both.json",
        r#"{"family": "both", "containerDefinitions": [{"name": "c", "environment": [{"name": "DB_PASSWORD", "value": "Pl4nted-both-Pw-1"}], "secrets": [{"name": "DB_PASSWORD", "valueFrom": "/x/db"}]}]}"#,
    );
    common::write(
        dir.path(),
        "bad.json",
        "{\"family\": \"bad\",\n \"containerDefinitions\": [{\"name\": \"c\", \"environment\": [\n",
    );
    let run = common::ecsguard_in(dir.path(), &["fix", "."]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.contains("error: ./bad.json:"), "{}", run.stdout);
    let json = plan_json(dir.path());
    assert_eq!(outcome_of(&json, "both.json", "DB_PASSWORD"), "manual");
}

/// A YAML value with an anchor that an alias reuses is manual, and nothing
/// is pushed for it (the rewrite would break the alias after the push).
#[test]
fn a_yaml_anchor_on_a_value_is_manual_before_anything_is_pushed() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "t.yaml",
        "Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions:\n        - Name: c\n          Image: c\n          Environment:\n            - Name: DB_PASSWORD\n              Value: &pw Pl4nted-anchor-Pw-1\n            - Name: OTHER_PASSWORD\n              Value: *pw\n",
    );
    let json = plan_json(dir.path());
    assert_eq!(outcome_of(&json, "t.yaml", "DB_PASSWORD"), "manual");
    assert_eq!(json["pushes"].as_array().map(Vec::len), Some(0), "{json}");
}

/// A container that also joins in a list from a local: the local's entry is
/// manual (with where to move it), and the container's own entry still gets
/// its grant.
#[test]
fn a_joined_local_list_does_not_lose_the_grant() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "main.tf",
        r#"locals {
  common_env = [{ name = "SHARED_PASSWORD", value = "Pl4nted-shared-Pw-1" }]
}

resource "aws_ecs_task_definition" "t" {
  family = "hcl4"
  container_definitions = jsonencode([
    {
      name        = "c"
      environment = concat(local.common_env, [{ name = "OWN_PASSWORD", value = "Pl4nted-own-Pw-2" }])
    }
  ])
}
"#,
    );
    let json = plan_json(dir.path());
    assert_eq!(outcome_of(&json, "main.tf", "OWN_PASSWORD"), "needs-push");
    assert_eq!(outcome_of(&json, "main.tf", "SHARED_PASSWORD"), "manual");
    let iam = json["iam"].as_array().expect("iam");
    assert_eq!(iam.len(), 1, "{json}");
    assert!(iam[0]["written"].as_str().is_some(), "{json}");
}

/// Comment lines between environment entries stay when an entry moves.
#[test]
fn comment_lines_between_entries_stay() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "main.tf",
        r#"data "aws_ssm_parameter" "a" {
  name = "/x/a"
}

resource "aws_ecs_task_definition" "t" {
  family             = "cmt"
  execution_role_arn = "arn:aws:iam::1:role/x"
  container_definitions = jsonencode([
    {
      name  = "c"
      image = "c:1"
      environment = [
        # the log level
        { name = "LOG_LEVEL", value = "info" },
        { name = "DB_PASSWORD", value = data.aws_ssm_parameter.a.value },
        /* the region */
        { name = "REGION", value = "eu-west-1" },
        { name = "API_PASSWORD", value = data.aws_ssm_parameter.a.value },
      ]
    }
  ])
}
"#,
    );
    let run = common::ecsguard_in(dir.path(), &["fix", ".", "--apply"]);
    assert_eq!(run.code, 1, "a grant to attach by hand: {}", run.stdout);
    let tf = std::fs::read_to_string(dir.path().join("main.tf")).expect("read");
    assert!(
        tf.contains("        # the log level\n") && tf.contains("        /* the region */\n"),
        "{tf}"
    );
    assert!(!tf.contains("value = data.aws_ssm_parameter"), "{tf}");
    let fmt = std::process::Command::new("terraform")
        .args(["fmt", "-check", "main.tf"])
        .current_dir(dir.path())
        .output()
        .expect("terraform runs");
    assert!(fmt.status.success());
}

/// A value under an `Environment` key written twice (readers keep the last
/// one) is hidden from the diff too.
#[test]
fn a_shadowed_environment_value_is_hidden_from_the_diff() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "t.yaml",
        "Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions:\n        - Name: c\n          Image: c\n          Environment:\n            - Name: OLD_PASSWORD\n              Value: Pl4nted-shadow-Pw-91\n          Environment:\n            - Name: DB_PASSWORD\n              Value: '{{resolve:ssm-secure:/s/db}}'\n",
    );
    for format in ["text", "json"] {
        let run = common::ecsguard_in(dir.path(), &["fix", ".", "--format", format]);
        assert!(run.stdout.contains("ValueFrom"), "{}", run.stdout);
        assert!(!run.stdout.contains("Pl4nted-shadow"), "{}", run.stdout);
    }
}
