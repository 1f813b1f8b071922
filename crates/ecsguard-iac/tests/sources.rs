//! Source-level behaviour: what each format's expressions resolve to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ecsguard_core::{EnvValue, ReferenceTarget, TaskDefinition};
use ecsguard_iac::scan::scan_file;
use ecsguard_iac::source::FileKind;
use ecsguard_iac::{terraform, ScanOptions};

/// What a variable resolved to, as a short string: `lit:<value>`,
/// `tpl:<text>`, `secret:<expression>`, `id:<expression>`, `ref:<expression>`.
fn resolved(tds: &[TaskDefinition]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for td in tds {
        for c in &td.containers {
            for v in &c.environment {
                let what = match &v.value {
                    EnvValue::Literal(s) => format!("lit:{}", s.expose()),
                    EnvValue::Template(s) => format!("tpl:{}", s.expose()),
                    EnvValue::Reference(r) => match &r.target {
                        ReferenceTarget::Secret(_) => format!("secret:{}", r.expression),
                        ReferenceTarget::Identifier => format!("id:{}", r.expression),
                        ReferenceTarget::Unknown => format!("ref:{}", r.expression),
                        ReferenceTarget::Sensitive(_) => format!("marked:{}", r.expression),
                    },
                };
                out.push((c.name.clone().unwrap_or_default(), v.name.clone(), what));
            }
        }
    }
    out
}

fn tf(files: &[(&str, &str)]) -> Vec<TaskDefinition> {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        if name.ends_with(".tf") {
            paths.push(p);
        }
    }
    let out = terraform::scan_module(dir.path(), &paths, 1 << 20, &[]);
    assert!(
        out.errors.is_empty(),
        "{:?}",
        out.errors.iter().map(|e| &e.message).collect::<Vec<_>>()
    );
    out.task_definitions
}

fn cfn(text: &str) -> Vec<TaskDefinition> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.yaml");
    std::fs::write(&p, text).unwrap();
    let out = scan_file(&p, FileKind::Yaml, &ScanOptions::default());
    assert!(
        out.errors.is_empty(),
        "{:?}",
        out.errors.iter().map(|e| &e.message).collect::<Vec<_>>()
    );
    out.task_definitions
}

fn row(c: &str, n: &str, w: &str) -> (String, String, String) {
    (c.into(), n.into(), w.into())
}

#[test]
fn terraform_variables_locals_and_functions() {
    let tds = tf(&[
        (
            "variables.tf",
            "variable \"pw\" {\n  sensitive = true\n}\nvariable \"region\" {}\n",
        ),
        (
            "main.tf",
            r#"
locals {
  base = { LOG_LEVEL = "info" }
  env  = merge(local.base, { API_TOKEN = "abc123abc123" })
  name = "web"
}
data "aws_ssm_parameter" "db" { name = "/db" }
resource "random_password" "p" { length = 32 }
resource "aws_iam_access_key" "k" { user = "u" }
resource "aws_secretsmanager_secret" "s" { name = "s" }
resource "aws_ecs_task_definition" "t" {
  family = "fam"
  container_definitions = jsonencode([{
    name = local.name
    environment = concat(
      [for k, v in local.env : { name = k, value = v }],
      [for k, v in local.env : { name = "DROPPED_${k}", value = v } if false],
      [for k, v in local.env : { name = "KEPT_${k}", value = v } if k == "API_TOKEN"],
      [
        { name = "PW", value = var.pw },
        { name = "REGION", value = var.region },
        { name = "URL", value = "postgres://u:${var.pw}@h/db" },
        { name = "HOST", value = "db-${var.region}.internal" },
        { name = "RANDOM", value = random_password.p.result },
        { name = "KEY", value = aws_iam_access_key.k.secret },
        { name = "KEY_ID", value = aws_iam_access_key.k.id },
        { name = "SECRET_ARN", value = aws_secretsmanager_secret.s.arn },
        { name = "FROM_SSM", value = data.aws_ssm_parameter.db.value },
        { name = "PICK", value = var.region == "x" ? "a" : var.pw },
        { name = "PORT", value = 8080 },
      ]
    )
  }])
}
"#,
        ),
    ]);
    assert_eq!(tds.len(), 1);
    assert_eq!(tds[0].family.as_deref(), Some("fam"));
    assert_eq!(
        resolved(&tds),
        vec![
            row("web", "LOG_LEVEL", "lit:info"),
            row("web", "API_TOKEN", "lit:abc123abc123"),
            row("web", "KEPT_LOG_LEVEL", "lit:info"),
            row("web", "KEPT_API_TOKEN", "lit:abc123abc123"),
            row("web", "PW", "marked:var.pw"),
            row("web", "REGION", "ref:var.region"),
            row("web", "URL", "secret:\"…${var.pw}…\""),
            row("web", "HOST", "tpl:db-${var.region}.internal"),
            row("web", "RANDOM", "secret:random_password.p.result"),
            row("web", "KEY", "secret:aws_iam_access_key.k.secret"),
            row("web", "KEY_ID", "id:aws_iam_access_key.k.id"),
            row("web", "SECRET_ARN", "id:aws_secretsmanager_secret.s.arn"),
            row("web", "FROM_SSM", "marked:data.aws_ssm_parameter.db.value"),
            row("web", "PICK", "marked:var.pw"),
            row("web", "PORT", "lit:8080"),
        ]
    );
}

#[test]
fn terraform_heredoc_and_local_container_definitions() {
    let tds = tf(&[(
        "main.tf",
        "locals {\n  defs = <<-JSON\n    [{\"name\": \"a\", \"environment\": [{\"name\": \"X\", \"value\": \"${var.x}\"}, {\"name\": \"E\", \"value\": \"$${NOT_HCL}\"}]}]\n  JSON\n}\nresource \"aws_ecs_task_definition\" \"t\" {\n  container_definitions = local.defs\n}\n",
    )]);
    assert_eq!(tds[0].family.as_deref(), Some("aws_ecs_task_definition.t"));
    assert_eq!(
        resolved(&tds),
        vec![row("a", "X", "ref:var.x"), row("a", "E", "lit:${NOT_HCL}")]
    );
    let line = match &tds[0].containers[0].environment[0].location {
        ecsguard_core::Location::File { line, .. } => *line,
        other => panic!("{other:?}"),
    };
    assert_eq!(line, 3);
}

#[test]
fn terraform_modules() {
    let tds = tf(&[(
        "main.tf",
        r#"
module "root" {
  source = "terraform-aws-modules/ecs/aws"
  services = {
    api = {
      container_definitions = {
        web = { environment = [{ name = "A_TOKEN", value = "t0k3n-value" }] }
      }
    }
  }
}
module "local_thing" {
  source = "./modules/ecs-container-definition-fork"
  environment = [{ name = "LOCAL_SETTING", value = "x" }]
}
module "not_ecs" {
  source = "./modules/queue"
  environment = [{ name = "IGNORED", value = "x" }]
}
"#,
    )]);
    // An in-house ECS module (by its source) is read through its environment input.
    assert_eq!(tds.len(), 2);
    assert_eq!(tds[0].family.as_deref(), Some("api"));
    assert_eq!(tds[1].family.as_deref(), Some("module.local_thing"));
    assert_eq!(
        resolved(&tds),
        vec![
            row("web", "A_TOKEN", "lit:t0k3n-value"),
            row("local_thing", "LOCAL_SETTING", "lit:x")
        ]
    );
}

#[test]
fn cloudformation_intrinsics() {
    let tds = cfn(r#"
Parameters:
  Pw: {Type: String, NoEcho: "true"}
  Plain: {Type: String}
Mappings:
  Env: {prod: {Key: mapped-literal-value}}
Conditions:
  IsProd: !Equals [!Ref "AWS::AccountId", "1"]
Resources:
  Key: {Type: "AWS::IAM::AccessKey", Properties: {UserName: u}}
  Bucket: {Type: "AWS::S3::Bucket"}
  T:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: !Sub "${AWS::StackName}-app"
      ContainerDefinitions:
        - Name: c
          Environment:
            - {Name: A, Value: !Ref Pw}
            - {Name: B, Value: !Ref Plain}
            - {Name: C, Value: !Ref Bucket}
            - {Name: D, Value: !GetAtt Key.SecretAccessKey}
            - {Name: E, Value: !GetAtt [Bucket, Arn]}
            - {Name: F, Value: !Sub "x-${Plain}-y"}
            - {Name: G, Value: !Sub ["a-${V}", {V: lit}]}
            - {Name: H, Value: !If [IsProd, plain, !Ref Pw]}
            - {Name: I, Value: !FindInMap [Env, prod, Key]}
            - {Name: J, Value: !ImportValue shared-thing}
            - {Name: K, Value: "{{resolve:ssm-secure:/db/pw:1}}"}
            - {Name: L, Value: {"Fn::Join": ["-", ["a", {"Ref": "AWS::Region"}]]}}
            - {Name: M, Value: 42}
            - !If [IsProd, {Name: N, Value: only-in-prod-value}, !Ref "AWS::NoValue"]
            - Fn::If: [IsProd, {Name: O, Value: a}, {Name: P, Value: b}]
"#);
    assert_eq!(tds.len(), 1);
    assert_eq!(
        tds[0].family.as_deref(),
        Some("T"),
        "a family only known at deploy time falls back to the logical id"
    );
    assert_eq!(
        resolved(&tds),
        vec![
            row("c", "A", "marked:!Ref Pw"),
            row("c", "B", "ref:!Ref Plain"),
            row("c", "C", "id:!Ref Bucket"),
            row("c", "D", "secret:!GetAtt Key.SecretAccessKey"),
            row("c", "E", "id:!GetAtt Bucket.Arn"),
            row("c", "F", "tpl:x-${Plain}-y"),
            row("c", "G", "lit:a-lit"),
            row("c", "H", "marked:!Ref Pw"),
            row("c", "I", "lit:mapped-literal-value"),
            row("c", "J", "ref:!ImportValue"),
            row("c", "K", "secret:{{resolve:ssm-secure:/db/pw:1}}"),
            row("c", "L", "tpl:a-${AWS::Region}"),
            row("c", "M", "lit:42"),
            row("c", "N", "lit:only-in-prod-value"),
            row("c", "O", "lit:a"),
            row("c", "P", "lit:b"),
        ]
    );
}

#[test]
fn plan_skips_destroyed_resources_and_falls_back_to_planned_values() {
    let dir = tempfile::tempdir().unwrap();
    let defs = r#"[{\"name\": \"c\", \"environment\": [{\"name\": \"X\", \"value\": \"v\"}]}]"#;
    let state_only = format!(
        r#"{{"format_version": "1.0", "values": {{"root_module": {{"child_modules": [{{"resources": [{{"type": "aws_ecs_task_definition", "address": "module.m.aws_ecs_task_definition.t", "values": {{"family": "from-state", "container_definitions": "{defs}"}}}}]}}]}}}}}}"#
    );
    let p = dir.path().join("state.json");
    std::fs::write(&p, state_only).unwrap();
    let out = scan_file(&p, FileKind::Json, &ScanOptions::default());
    assert_eq!(out.task_definitions.len(), 1);
    assert_eq!(
        out.task_definitions[0].family.as_deref(),
        Some("from-state")
    );

    let destroyed = r#"{"format_version": "1.2", "resource_changes": [{"type": "aws_ecs_task_definition", "address": "a.b", "change": {"actions": ["delete"], "after": null}}]}"#;
    std::fs::write(&p, destroyed).unwrap();
    assert!(scan_file(&p, FileKind::Json, &ScanOptions::default())
        .task_definitions
        .is_empty());
}
