//! `ecsguard fix PATH` against what an adversarial pass broke: each test
//! is one break, written as the smallest input that showed it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::path::Path;

use serde_json::Value;

/// AWS settings that reach nothing: a push that is attempted fails, so a
/// run that must not store anything shows it by succeeding.
fn no_aws() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_MAX_ATTEMPTS", "1".into()),
    ]
}

fn fix(dir: &Path, args: &[&str]) -> common::Run {
    let mut all = vec!["fix"];
    all.extend_from_slice(args);
    common::ecsguard_with(dir, &no_aws(), true, &all)
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).expect("read")
}

/// `scan` finds nothing left in `dir`.
fn scans_clean(dir: &Path) {
    let scan = common::ecsguard_with(dir, &no_aws(), true, &["scan", "."]);
    assert_eq!(scan.code, 0, "{}{}", scan.stdout, scan.stderr);
}

/// Every finding of the plan (`count` of them) is manual.
fn all_manual(plan: &Value, count: usize) {
    let all = outcomes(plan);
    assert_eq!(all.len(), count, "{plan}");
    for (_, _, outcome) in &all {
        assert_eq!(outcome, "manual", "{plan}");
    }
}

fn outcomes(plan: &Value) -> Vec<(String, String, String)> {
    let mut all: Vec<_> = plan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["container"].as_str().unwrap_or("").to_owned(),
                f["variable"].as_str().unwrap_or("").to_owned(),
                f["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    all.sort();
    all
}

fn reason<'a>(plan: &'a Value, container: &str) -> &'a str {
    plan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["container"] == container)
        .and_then(|f| f["reason"].as_str())
        .unwrap_or_else(|| panic!("no finding for {container}: {plan}"))
}

/// Two folders render their own template with a literal, under one
/// family: both would be stored under one name, and with `--overwrite`
/// one service would read the other's secret.
#[test]
fn template_literals_that_would_share_a_store_name_are_manual() {
    let dir = common::tempdir();
    for (folder, value) in [
        ("one", "Pl4ntedCollideOne77"),
        ("two", "Pl4ntedCollideTwo77"),
    ] {
        common::write(
            dir.path(),
            &format!("{folder}/main.tf"),
            format!(
                "resource \"aws_ecs_task_definition\" \"reports\" {{\n  family = \"reports\"\n  container_definitions = templatefile(\"${{path.module}}/r.json.tpl\", {{\n    smtp_password = \"{value}\"\n  }})\n}}\n"
            ),
        );
        common::write(
            dir.path(),
            &format!("{folder}/r.json.tpl"),
            "[{\"name\": \"reports\", \"image\": \"r:1\", \"environment\": [\n  {\"name\": \"SMTP_PASSWORD\", \"value\": \"${smtp_password}\"}\n]}]\n",
        );
    }
    let plan = fix(dir.path(), &[".", "--format", "json"]).json();
    all_manual(&plan, 2);
    assert!(reason(&plan, "reports").contains("same name"), "{plan}");
    assert_eq!(plan["pushes"], serde_json::json!([]), "{plan}");

    // With --apply --push --overwrite nothing is stored (no AWS is
    // reachable: a push would fail) and nothing is written.
    let before = read(dir.path(), "one/main.tf");
    let run = fix(dir.path(), &[".", "--apply", "--push", "--overwrite"]);
    assert_ne!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("0 file(s) written"), "{}", run.stdout);
    let after = read(dir.path(), "one/main.tf");
    assert_eq!(before, after);
    assert!(!dir.path().join(".ecsguard").exists(), "a journal was made");
}

/// An anchored `Environment` list read by another container through an
/// alias: editing it would strip the variable from the other container too.
#[test]
fn a_yaml_anchored_environment_list_is_left_alone() {
    let dir = common::tempdir();
    let stack = "Parameters:
  DbPassword:
    Type: String
    NoEcho: true
Resources:
  AppTask:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: app
      ContainerDefinitions:
        - Name: app
          Image: app:1
          Environment: &sharedenv
            - Name: DB_PASSWORD
              Value: !Ref DbPassword
            - Name: LOG_LEVEL
              Value: info
        - Name: sidecar
          Image: side:1
          Environment: *sharedenv
  OtherTask:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: other
      ContainerDefinitions:
        - &base
          Name: worker
          Image: w:1
          Environment:
            - Name: API_TOKEN
              Value: Pl4ntedAnchoredTok3n88
        - <<: *base
          Name: worker2
";
    common::write(dir.path(), "stack.yaml", stack);
    let plan = fix(dir.path(), &["stack.yaml", "--format", "json"]).json();
    let all = outcomes(&plan);
    assert!(all.len() >= 3, "{plan}");
    for (container, _, outcome) in &all {
        assert_eq!(outcome, "manual", "{container}: {plan}");
    }
    assert!(reason(&plan, "app").contains("anchor"), "{plan}");
    assert!(reason(&plan, "worker").contains("anchor"), "{plan}");
    for f in plan["findings"].as_array().unwrap() {
        assert!(
            f["value_from"].is_null(),
            "a manual finding names a valueFrom: {f}"
        );
    }
    let run = fix(dir.path(), &["stack.yaml", "--apply"]);
    assert_ne!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let after = read(dir.path(), "stack.yaml");
    assert_eq!(after, stack, "the file changed");
    assert!(!run.stdout.contains("Pl4nted"), "{}", run.stdout);
}

/// A reference interpolated in a heredoc's JSON: the container reads it
/// through secrets, so the task definition needs an execution role and a
/// grant, as a `jsonencode` one gets.
#[test]
fn a_heredoc_reference_gets_an_execution_role_and_its_grant() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "main.tf",
        r#"variable "api_token" {
  type      = string
  sensitive = true
}

variable "exec_role_arn" {
  type = string
}

resource "aws_ecs_task_definition" "worker" {
  family                = "worker"
  container_definitions = <<-EOT
    [
      {
        "name": "worker",
        "image": "worker:2",
        "environment": [
          {"name": "API_TOKEN", "value": "${var.api_token}"}
        ]
      }
    ]
  EOT
}

resource "aws_ecs_task_definition" "external" {
  family                = "external"
  execution_role_arn    = var.exec_role_arn
  container_definitions = <<EOT
[{"name": "ext", "image": "e:1", "environment": [{"name": "API_TOKEN", "value": "${var.api_token}"}]}]
EOT
}
"#,
    );
    let plan = fix(dir.path(), &[".", "--format", "json"]).json();
    let iam = plan["iam"].as_array().expect("iam");
    let of = |family: &str| {
        iam.iter()
            .find(|n| n["family"] == family)
            .unwrap_or_else(|| panic!("no iam note for {family}: {plan}"))
    };
    assert!(of("worker")["written"].is_string(), "{plan}");
    assert!(of("external")["written"].is_null(), "{plan}");
    assert!(
        of("external")["policy"]
            .to_string()
            .contains("ssm:GetParameters"),
        "{plan}"
    );
    let run = fix(dir.path(), &[".", "--apply"]);
    assert_ne!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let tf = read(dir.path(), "main.tf");
    assert!(
        tf.contains("execution_role_arn    = aws_iam_role.worker_execution.arn"),
        "{tf}"
    );
    assert!(tf.contains("resource \"aws_iam_role_policy\""), "{tf}");
    common::terraform_fmt(dir.path()).expect("terraform fmt -check");
}

/// Files that will not take the rewrite: a read-only file, a symlink, a
/// YAML block scalar. `--apply --push` must judge them before it stores
/// anything, as the plan does, and must not count them as written.
#[test]
fn push_stores_nothing_for_a_file_it_will_not_rewrite() {
    let dir = common::tempdir();
    let td = |family: &str, value: &str| {
        format!(
            "{{\"family\": \"{family}\", \"containerDefinitions\": [{{\"name\": \"c\", \"environment\": [\n  {{\"name\": \"DB_PASSWORD\", \"value\": \"{value}\"}}\n]}}]}}\n"
        )
    };
    let ro = common::write(dir.path(), "ro.json", td("ro", "Pl4ntedReadOnly55"));
    let mut perms = std::fs::metadata(&ro).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&ro, perms).unwrap();
    common::write(dir.path(), "target/t.json", td("linked", "Pl4ntedLinked55"));
    std::os::unix::fs::symlink("target/t.json", dir.path().join("link.json")).unwrap();
    let yaml = "Resources:
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: y
      ContainerDefinitions:
        - Name: a
          Image: x
          Environment:
            - Name: DB_PASSWORD
              Value: >-
                Pl4ntedFolded88xQ
";
    common::write(dir.path(), "b.yaml", yaml);
    let files = ["ro.json", "link.json", "b.yaml"];

    let mut args = files.to_vec();
    args.extend(["--format", "json"]);
    let plan = fix(dir.path(), &args).json();
    let planned = outcomes(&plan);
    args.push("--apply");
    let applied = fix(dir.path(), &args).json();
    assert_eq!(planned, outcomes(&applied), "plan and apply disagree");
    assert_eq!(planned.len(), 3, "{plan}");
    for (_, _, outcome) in &planned {
        assert_eq!(outcome, "manual", "{plan}");
    }

    let mut args = files.to_vec();
    args.extend(["--apply", "--push"]);
    let run = fix(dir.path(), &args);
    assert_ne!(
        run.code, 3,
        "a push was tried: {}{}",
        run.stdout, run.stderr
    );
    assert!(run.stdout.contains("0 file(s) written"), "{}", run.stdout);
    assert!(!dir.path().join(".ecsguard").exists(), "a journal was made");
    assert_eq!(read(dir.path(), "b.yaml"), yaml);
}

/// A name that is in `environment` and in `secrets`: manual, so its value
/// is not stored (not even with `--overwrite`, which would replace what
/// the deployed `secrets` entry reads), and a rerun writes nothing.
#[test]
fn a_name_in_environment_and_secrets_is_not_stored() {
    let dir = common::tempdir();
    let td = r#"{
  "family": "mailer",
  "executionRoleArn": "arn:aws:iam::111122223333:role/mailer-exec",
  "containerDefinitions": [
    {
      "name": "mailer",
      "environment": [
        { "name": "SMTP_PASSWORD", "value": "Pl4ntedRotated-NEW-77" },
        { "name": "SMTP_HOST", "value": "smtp.example.com" }
      ],
      "secrets": [
        { "name": "SMTP_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:111122223333:parameter/mailer/SMTP_PASSWORD" }
      ]
    }
  ]
}
"#;
    common::write(dir.path(), "register.json", td);
    for _ in 0..2 {
        let run = fix(
            dir.path(),
            &["register.json", "--apply", "--push", "--overwrite"],
        );
        assert_ne!(
            run.code, 3,
            "a push was tried: {}{}",
            run.stdout, run.stderr
        );
        assert!(run.stdout.contains("manual"), "{}", run.stdout);
        assert!(run.stdout.contains("0 file(s) written"), "{}", run.stdout);
        assert!(!dir.path().join(".ecsguard").exists(), "a journal was made");
    }
    assert_eq!(read(dir.path(), "register.json"), td);
}

/// `--kms-key-id` as a key id or an alias: a Terraform grant must name the
/// key's real ARN (looked up by Terraform), never a `REGION`/`ACCOUNT`
/// placeholder or an alias ARN, which IAM does not take for `kms:Decrypt`;
/// CloudFormation grants an alias through `kms:ResourceAliases`.
#[test]
fn a_customer_key_is_granted_by_its_real_arn() {
    let tf = r#"variable "db_password" {
  type      = string
  sensitive = true
}

resource "aws_ecs_task_definition" "billing" {
  family = "billing"
  container_definitions = jsonencode([{
    name        = "billing"
    image       = "billing:1"
    environment = [{ name = "DB_PASSWORD", value = var.db_password }]
  }])
}
"#;
    let yaml = "Parameters:
  DbPassword:
    Type: String
    NoEcho: true
Resources:
  AppTask:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: app
      ContainerDefinitions:
        - Name: app
          Image: app:1
          Environment:
            - Name: DB_PASSWORD
              Value: !Ref DbPassword
";
    for key in ["1234abcd-12ab-34cd-56ef-1234567890ab", "alias/mykey"] {
        let dir = common::tempdir();
        common::write(dir.path(), "tf/main.tf", tf);
        common::write(dir.path(), "cfn/stack.yaml", yaml);
        let run = fix(dir.path(), &[".", "--apply", "--kms-key-id", key]);
        assert_ne!(run.code, 3, "{}{}", run.stdout, run.stderr);
        let written = read(dir.path(), "tf/main.tf");
        assert!(
            written.contains(&format!(
                "data \"aws_kms_key\" \"billing_ecsguard_secrets\" {{\n  key_id = \"{key}\"\n}}"
            )),
            "{written}"
        );
        assert!(
            written.contains("Resource = [data.aws_kms_key.billing_ecsguard_secrets.arn]"),
            "{written}"
        );
        assert!(!written.contains("REGION"), "{written}");
        common::terraform_fmt(&dir.path().join("tf")).expect("terraform fmt -check");
        let stack = read(dir.path(), "cfn/stack.yaml");
        if key.starts_with("alias/") {
            assert!(stack.contains(":key/*'"), "{stack}");
            assert!(
                stack.contains("kms:ResourceAliases: \"alias/mykey\""),
                "{stack}"
            );
        } else {
            assert!(stack.contains(&format!(":key/{key}'")), "{stack}");
        }
        assert!(
            common::cfn_lint(&dir.path().join("cfn/stack.yaml")).is_empty(),
            "cfn-lint"
        );
    }
}

/// A byte-order mark (Terraform and CloudFormation read past it): the
/// rewrite is checked as they read it, so one such file does not stop the
/// whole apply, and the mark stays.
#[test]
fn a_byte_order_mark_does_not_stop_the_apply() {
    let dir = common::tempdir();
    let tf = "\u{feff}variable \"api_token\" {\n  type      = string\n  sensitive = true\n}\n\nresource \"aws_ecs_task_definition\" \"worker\" {\n  family = \"worker\"\n  container_definitions = jsonencode([{\n    name        = \"worker\"\n    image       = \"w:1\"\n    environment = [{ name = \"API_TOKEN\", value = var.api_token }]\n  }])\n}\n";
    common::write(dir.path(), "tf/main.tf", tf);
    let cfn = "\u{feff}{\r\n  \"Parameters\": {\"Pw\": {\"Type\": \"String\", \"NoEcho\": true}},\r\n  \"Resources\": {\r\n    \"T\": {\r\n      \"Type\": \"AWS::ECS::TaskDefinition\",\r\n      \"Properties\": {\r\n        \"Family\": \"j\",\r\n        \"ContainerDefinitions\": [{\"Name\": \"c\", \"Image\": \"i\", \"Environment\": [{\"Name\": \"DB_PASSWORD\", \"Value\": {\"Ref\": \"Pw\"}}]}]\r\n      }\r\n    }\r\n  }\r\n}\r\n";
    common::write(dir.path(), "cfn/stack.json", cfn);
    let run = fix(dir.path(), &[".", "--apply"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("2 file(s) written"), "{}", run.stdout);
    for file in ["tf/main.tf", "cfn/stack.json"] {
        let text = read(dir.path(), file);
        assert!(text.starts_with('\u{feff}'), "{file} lost its mark");
        assert!(
            text.contains("secrets") || text.contains("Secrets"),
            "{text}"
        );
    }
    scans_clean(dir.path());
}

/// A `.tf` file and the template it renders, fixed together.
fn tf_and_template(dir: &Path) {
    common::write(
        dir,
        "tf/main.tf",
        r#"variable "db_password" {
  type      = string
  sensitive = true
}

resource "aws_ecs_task_definition" "reports" {
  family = "reports"
  container_definitions = templatefile("${path.module}/templates/reports.json.tpl", {
    db_password = var.db_password
  })
}
"#,
    );
    common::write(
        dir,
        "tf/templates/reports.json.tpl",
        "[{\"name\": \"reports\", \"image\": \"r:1\", \"environment\": [\n  {\"name\": \"DB_PASSWORD\", \"value\": \"${db_password}\"}\n]}]\n",
    );
}

fn leftovers(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                stack.push(p);
            } else if name.starts_with(".ecsguard-fix-") || name.starts_with("write-") {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// Killed between the renames of two files that go together (a `.tf` and
/// its template): the next `fix --apply` completes the write, so the
/// template never reads a variable the `.tf` does not pass, or the other
/// way round; and no temporary file stays behind.
#[test]
fn a_write_cut_off_between_renames_is_completed_by_the_next_apply() {
    for stop in ["0", "1"] {
        let dir = common::tempdir();
        tf_and_template(dir.path());
        let mut env = no_aws();
        env.push(("ECSGUARD_TEST_STOP_AFTER_RENAMES", stop.to_owned()));
        let cut = common::ecsguard_with(dir.path(), &env, true, &["fix", ".", "--apply"]);
        assert_eq!(cut.code, 3, "{}{}", cut.stdout, cut.stderr);
        assert!(!leftovers(dir.path()).is_empty(), "nothing pending");
        // A plan meanwhile warns, and names the temporary files it does not
        // read as errors; so does a scan (from anywhere: exit 2).
        let scan = fix(dir.path(), &[".", "--format", "json"]);
        assert!(scan.stderr.contains("cut off"), "{}", scan.stderr);
        let errors = scan.json()["errors"].to_string();
        assert!(errors.contains(".ecsguard-fix-"), "{errors}");
        let plain = common::ecsguard_with(dir.path(), &no_aws(), true, &["scan", "."]);
        assert_eq!(plain.code, 2, "{}{}", plain.stdout, plain.stderr);

        let run = fix(dir.path(), &[".", "--apply"]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("interrupted write was completed"),
            "{}",
            run.stderr
        );
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
        let tf = read(dir.path(), "tf/main.tf");
        let tpl = read(dir.path(), "tf/templates/reports.json.tpl");
        assert!(
            tf.contains("aws_ssm_parameter.reports_db_password.arn"),
            "{tf}"
        );
        assert!(tpl.contains("\"secrets\""), "{tpl}");
        let again = fix(dir.path(), &[".", "--apply"]);
        assert!(
            again.stdout.contains("0 file(s) written"),
            "{}",
            again.stdout
        );
        scans_clean(dir.path());
    }
}

/// Cut off before any rename: the record says so, and the next run removes
/// the temporary files and leaves the files as they were.
#[test]
fn a_write_cut_off_before_any_rename_is_undone() {
    let dir = common::tempdir();
    tf_and_template(dir.path());
    let target = std::path::absolute(dir.path().join("tf/main.tf")).unwrap();
    let temp = target.with_file_name(".ecsguard-fix-1-0-main.tf");
    std::fs::write(&temp, "half").unwrap();
    common::write(
        dir.path(),
        ".ecsguard/journal/pending-files/write-1.json",
        serde_json::json!({"version": 1, "state": "preparing", "files": [
            {"target": target, "temp": temp, "before": null, "written": null}
        ]})
        .to_string(),
    );
    let before = std::fs::read_to_string(&target).unwrap();
    let run = fix(dir.path(), &[".", "--apply"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("was undone"), "{}", run.stderr);
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    let after = std::fs::read_to_string(&target).unwrap();
    assert_ne!(after, "half");
    assert_ne!(after, before, "the fix itself still ran");

    // A record that is not one is an error naming it, and nothing is written.
    common::write(
        dir.path(),
        ".ecsguard/journal/pending-files/write-2.json",
        "{ nope",
    );
    let run = fix(dir.path(), &[".", "--apply"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("write-2.json:1"), "{}", run.stderr);
}

/// One template rendered by task definitions in two folders (one reads it
/// through `../prod/…`): an edit would change both, but only the calls
/// beside the template would be rewritten. Manual for both, nothing written.
#[test]
fn a_template_shared_across_folders_is_manual() {
    let dir = common::tempdir();
    let tf = |family: &str, path: &str| {
        format!(
            "variable \"api_key\" {{\n  type      = string\n  sensitive = true\n}}\n\nresource \"aws_ecs_task_definition\" \"app\" {{\n  family = \"{family}\"\n  container_definitions = templatefile(\"${{path.module}}/{path}\", {{\n    api_key = var.api_key\n  }})\n}}\n"
        )
    };
    common::write(dir.path(), "prod/main.tf", tf("app-prod", "app.json.tpl"));
    common::write(
        dir.path(),
        "stage/main.tf",
        tf("app-stage", "../prod/app.json.tpl"),
    );
    common::write(
        dir.path(),
        "prod/app.json.tpl",
        "[{\"name\": \"app\", \"image\": \"app:1\", \"environment\": [\n  {\"name\": \"API_KEY\", \"value\": \"${api_key}\"}\n]}]\n",
    );
    let plan = fix(dir.path(), &[".", "--format", "json"]).json();
    all_manual(&plan, 2);
    assert!(
        reason(&plan, "app").contains("read by 2 task definitions"),
        "{plan}"
    );
    let run = fix(dir.path(), &[".", "--apply"]);
    assert_ne!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("0 file(s) written"), "{}", run.stdout);
}

/// A store name that a file already reads (a task definition fixed in an
/// earlier run, a `secrets` entry of another variable, a parameter declared
/// in Terraform in the same run): a value pushed there would replace what
/// the other task definition reads, even with `--overwrite`.
#[test]
fn a_store_name_already_read_is_not_pushed_to() {
    let dir = common::tempdir();
    // `one` was fixed in an earlier run: it passes the parameter's ARN.
    common::write(
        dir.path(),
        "one/main.tf",
        "resource \"aws_ecs_task_definition\" \"reports\" {\n  family = \"reports\"\n  container_definitions = templatefile(\"${path.module}/r.json.tpl\", {\n    smtp_password = \"arn:aws:ssm:us-east-1:123456789012:parameter/ecsguard/reports/reports/SMTP_PASSWORD\"\n  })\n}\n",
    );
    common::write(
        dir.path(),
        "one/r.json.tpl",
        "[{\"name\": \"reports\", \"image\": \"r:1\", \"environment\": [], \"secrets\": [\n  {\"name\": \"SMTP_PASSWORD\", \"valueFrom\": \"${smtp_password}\"}\n]}]\n",
    );
    // `two`, same family, still has its literal.
    common::write(
        dir.path(),
        "two/td.json",
        "{\"family\": \"reports\", \"containerDefinitions\": [{\"name\": \"reports\", \"environment\": [\n  {\"name\": \"SMTP_PASSWORD\", \"value\": \"Pl4ntedCollideTwo77\"}\n]}]}\n",
    );
    // A container whose other variable reads the name its literal would get.
    common::write(
        dir.path(),
        "three/td.json",
        "{\"family\": \"refd\", \"containerDefinitions\": [{\"name\": \"c\", \"secrets\": [{\"name\": \"DB_PASSWORD\", \"valueFrom\": \"/ecsguard/refd/c/SMTP_PASSWORD\"}], \"environment\": [\n  {\"name\": \"SMTP_PASSWORD\", \"value\": \"Pl4ntedNewSmtp77\"}\n]}]}\n",
    );
    // Declared in Terraform and pushed from JSON in one run: one name.
    common::write(
        dir.path(),
        "four/tf/main.tf",
        "variable \"smtp_password\" {\n  type      = string\n  sensitive = true\n}\n\nresource \"aws_ecs_task_definition\" \"mail\" {\n  family = \"mail\"\n  container_definitions = jsonencode([{\n    name        = \"mail\"\n    image       = \"m:1\"\n    environment = [{ name = \"SMTP_PASSWORD\", value = var.smtp_password }]\n  }])\n}\n",
    );
    common::write(
        dir.path(),
        "four/json/td.json",
        "{\"family\": \"mail\", \"containerDefinitions\": [{\"name\": \"mail\", \"environment\": [\n  {\"name\": \"SMTP_PASSWORD\", \"value\": \"Pl4ntedMailPw77\"}\n]}]}\n",
    );
    let plan = fix(dir.path(), &[".", "--format", "json"]).json();
    let all = outcomes(&plan);
    assert_eq!(all.len(), 4, "{plan}");
    for (container, _, outcome) in &all {
        assert_eq!(outcome, "manual", "{container}: {plan}");
    }
    assert!(reason(&plan, "reports").contains("already read"), "{plan}");
    assert!(reason(&plan, "c").contains("already read"), "{plan}");
    assert!(reason(&plan, "mail").contains("same name"), "{plan}");
    let run = fix(dir.path(), &[".", "--apply", "--push", "--overwrite"]);
    assert_ne!(
        run.code, 3,
        "a push was tried: {}{}",
        run.stdout, run.stderr
    );
    assert!(run.stdout.contains("0 file(s) written"), "{}", run.stdout);
    assert!(!dir.path().join(".ecsguard").exists(), "a journal was made");
}

/// An immutable file (`chattr +i`: root can write a read-only file, not
/// this one): `--push` must find out before it stores anything.
#[test]
fn push_stores_nothing_when_a_file_cannot_be_replaced() {
    let dir = common::tempdir();
    let td = common::write(
        dir.path(),
        "td.json",
        "{\"family\": \"imm\", \"containerDefinitions\": [{\"name\": \"c\", \"environment\": [\n  {\"name\": \"DB_PASSWORD\", \"value\": \"Pl4ntedImmutable77\"}\n]}]}\n",
    );
    let chattr = |flag: &str| {
        std::process::Command::new("chattr")
            .arg(flag)
            .arg(&td)
            .status()
            .is_ok_and(|s| s.success())
    };
    let locked = chattr("+i");
    let cannot_write = std::fs::OpenOptions::new().append(true).open(&td).is_err();
    if !locked || !cannot_write {
        // Without CAP_LINUX_IMMUTABLE: a folder that takes no new file
        // (a user other than root cannot write to it).
        chattr("-i");
        let mut p = std::fs::metadata(dir.path()).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o555);
        std::fs::set_permissions(dir.path(), p).unwrap();
        let probe = dir.path().join("probe");
        if std::fs::write(&probe, "x").is_ok() {
            let _ = std::fs::remove_file(&probe);
            panic!("neither chattr +i nor a 0555 folder stops this user writing: cannot test");
        }
    }
    let journal = common::tempdir();
    let run = fix(
        dir.path(),
        &[
            "td.json",
            "--apply",
            "--push",
            "--journal-dir",
            &journal.path().display().to_string(),
        ],
    );
    chattr("-i");
    let mut p = std::fs::metadata(dir.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o755);
    std::fs::set_permissions(dir.path(), p).unwrap();
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("cannot be rewritten"), "{said}");
    assert!(said.contains("nothing was stored"), "{said}");
    assert_eq!(
        std::fs::read_dir(journal.path()).unwrap().count(),
        0,
        "a journal was made"
    );
}

/// The name of the role a fix would declare is taken (by a resource of
/// another kind, or an unrelated role): a numbered one is declared, so the
/// task definition is never left with `secrets` and no execution role.
#[test]
fn a_taken_role_name_gets_a_number() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "tf/main.tf",
        "variable \"api_token\" {\n  type      = string\n  sensitive = true\n}\n\nresource \"aws_ecs_task_definition\" \"worker\" {\n  family                = \"worker\"\n  container_definitions = <<EOT\n[{\"name\": \"worker\", \"image\": \"w:2\", \"environment\": [{\"name\": \"API_TOKEN\", \"value\": \"${var.api_token}\"}]}]\nEOT\n}\n",
    );
    common::write(
        dir.path(),
        "tf/other.tf",
        "resource \"aws_iam_role\" \"worker_execution\" {\n  name               = \"something-else\"\n  assume_role_policy = \"{}\"\n}\n",
    );
    common::write(
        dir.path(),
        "cfn/stack.yaml",
        "Parameters:\n  DbPassword:\n    Type: String\n    NoEcho: true\nResources:\n  AppTaskExecutionRole:\n    Type: AWS::SNS::Topic\n  AppTask:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      Family: app\n      ContainerDefinitions:\n        - Name: app\n          Image: app:1\n          Environment:\n            - Name: DB_PASSWORD\n              Value: !Ref DbPassword\n",
    );
    let run = fix(dir.path(), &[".", "--apply"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let tf = read(dir.path(), "tf/main.tf");
    assert!(
        tf.contains("execution_role_arn    = aws_iam_role.worker_execution_2.arn"),
        "{tf}"
    );
    assert!(
        tf.contains("resource \"aws_iam_role\" \"worker_execution_2\""),
        "{tf}"
    );
    common::terraform_fmt(&dir.path().join("tf")).expect("terraform fmt -check");
    let stack = read(dir.path(), "cfn/stack.yaml");
    assert!(stack.contains("AppTaskExecutionRole2:"), "{stack}");
    assert!(
        stack.contains("ExecutionRoleArn: !GetAtt AppTaskExecutionRole2.Arn"),
        "{stack}"
    );
    assert!(common::cfn_lint(&dir.path().join("cfn/stack.yaml")).is_empty());
}

/// `Fn::Join` built from a `NoEcho` parameter, in the shapes `!Sub` was
/// already read in: a URL whose user part is a `Ref`, and a join of the
/// parameter alone. Found, fixed with a declared secret fed by the same
/// join, and the template rescans clean.
#[test]
fn a_join_of_a_noecho_parameter_is_found_and_fixed() {
    let dir = common::tempdir();
    let yaml = "AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  DbPassword:
    Type: String
    NoEcho: true
  DbUser:
    Type: String
Resources:
  AppTask:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: app
      ContainerDefinitions:
        - Name: app
          Image: app:1
          Environment:
            - Name: DATABASE_URL
              Value: !Join ['', ['mysql://', !Ref DbUser, ':', !Ref DbPassword, '@db/x']]
            - Name: DB_PASSWORD
              Value: !Join ['', [!Ref DbPassword]]
            - Name: DB_HOST
              Value: !Join ['.', [!Ref DbUser, 'db.internal']]
";
    common::write(dir.path(), "stack.yaml", yaml);
    let json = r#"{
  "Parameters": {"Pw": {"Type": "String", "NoEcho": true}, "User": {"Type": "String"}},
  "Resources": {
    "T": {
      "Type": "AWS::ECS::TaskDefinition",
      "Properties": {
        "Family": "j",
        "ContainerDefinitions": [{"Name": "c", "Image": "i", "Environment": [
          {"Name": "DATABASE_URL", "Value": {"Fn::Join": ["", ["postgres://", {"Ref": "User"}, ":", {"Ref": "Pw"}, "@db:5432/app"]]}}
        ]}]
      }
    }
  }
}
"#;
    common::write(dir.path(), "stack.json", json);
    let plan = fix(dir.path(), &[".", "--format", "json"]).json();
    let mut found: Vec<(String, String, String)> = outcomes(&plan);
    found.sort();
    assert_eq!(
        found,
        vec![
            ("app".into(), "DATABASE_URL".into(), "fixed".into()),
            ("app".into(), "DB_PASSWORD".into(), "fixed".into()),
            ("c".into(), "DATABASE_URL".into(), "fixed".into()),
        ],
        "{plan}"
    );
    let run = fix(dir.path(), &[".", "--apply"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let stack = read(dir.path(), "stack.yaml");
    assert!(
        stack.contains(
            "SecretString: !Join ['', ['mysql://', !Ref DbUser, ':', !Ref DbPassword, '@db/x']]"
        ),
        "{stack}"
    );
    for file in ["stack.yaml", "stack.json"] {
        assert!(
            common::cfn_lint(&dir.path().join(file)).is_empty(),
            "{file}"
        );
    }
    scans_clean(dir.path());
}

/// A module whose task definition's family is an input, used twice: the
/// declared parameter's name follows the family, so the two instances do
/// not declare one name twice (ParameterAlreadyExists, or one value read
/// by both).
#[test]
fn a_module_family_from_an_input_names_the_parameter() {
    for (family, expected) in [
        ("var.name", "/ecsguard/${var.name}/app/DB_PASSWORD"),
        (
            "\"${var.env}-${var.name}\"",
            "/ecsguard/${var.env}-${var.name}/app/DB_PASSWORD",
        ),
        // As written in a public project: prefix, environment, suffix.
        (
            "\"${var.name}-${var.env}-app\"",
            "/ecsguard/${var.name}-${var.env}-app/app/DB_PASSWORD",
        ),
    ] {
        let dir = common::tempdir();
        common::write(
            dir.path(),
            "modules/svc/main.tf",
            format!(
                "variable \"name\" {{\n  type = string\n}}\n\nvariable \"env\" {{\n  type = string\n}}\n\nvariable \"db_password\" {{\n  type      = string\n  sensitive = true\n}}\n\nresource \"aws_ecs_task_definition\" \"this\" {{\n  family = {family}\n  container_definitions = jsonencode([{{\n    name        = \"app\"\n    image       = \"app:1\"\n    environment = [{{ name = \"DB_PASSWORD\", value = var.db_password }}]\n  }}])\n}}\n"
            ),
        );
        let run = fix(dir.path(), &[".", "--apply"]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let tf = read(dir.path(), "modules/svc/main.tf");
        assert!(
            tf.contains(&format!("name        = \"{expected}\"")),
            "{tf}"
        );
        common::terraform_fmt(&dir.path().join("modules/svc")).expect("terraform fmt");
        scans_clean(dir.path());
    }
}

/// A family computed otherwise (a function, a conditional), or a task
/// definition made more than once (`count`, `for_each`): no parameter name
/// could follow each instance, so the finding is manual (with the advice to
/// use Secrets Manager's `name_prefix`), never one fixed name for all.
#[test]
fn a_computed_family_or_a_repeated_task_definition_is_manual() {
    // (family, extra lines, outcome with Secrets Manager): a repeated task
    // definition is manual with either store, since a store declared beside
    // it would need the same count or for_each.
    for (family, extra, with_sm) in [
        ("lower(var.name)", "", "fixed"),
        ("var.prod ? \"p\" : var.name", "", "fixed"),
        ("\"app\"", "  count = 2\n", "manual"),
        ("each.key", "  for_each = toset([\"a\", \"b\"])\n", "manual"),
    ] {
        let dir = common::tempdir();
        common::write(
            dir.path(),
            "main.tf",
            format!(
                "variable \"name\" {{\n  type = string\n}}\n\nvariable \"prod\" {{\n  type = bool\n}}\n\nvariable \"db_password\" {{\n  type      = string\n  sensitive = true\n}}\n\nresource \"aws_ecs_task_definition\" \"t\" {{\n{extra}  family = {family}\n  container_definitions = jsonencode([{{\n    name        = \"app\"\n    image       = \"app:1\"\n    environment = [{{ name = \"DB_PASSWORD\", value = var.db_password }}]\n  }}])\n}}\n"
            ),
        );
        let plan = fix(dir.path(), &[".", "--format", "json"]).json();
        assert_eq!(
            outcomes(&plan),
            vec![("app".into(), "DB_PASSWORD".into(), "manual".into())],
            "{family}: {plan}"
        );
        if with_sm == "fixed" {
            assert!(
                reason(&plan, "app").contains("--store secretsmanager"),
                "{plan}"
            );
        } else {
            assert!(reason(&plan, "app").contains("count or for_each"), "{plan}");
        }
        let sm = fix(
            dir.path(),
            &[".", "--store", "secretsmanager", "--format", "json"],
        )
        .json();
        assert_eq!(
            outcomes(&sm),
            vec![("app".into(), "DB_PASSWORD".into(), with_sm.into())],
            "{family}: {sm}"
        );
    }
}

/// A task definition that reads `secrets` with no execution role (fixed in
/// an earlier run, whose reminder scrolled by): every run says so, and
/// `--apply` exits 1, so a CI retry does not pass while its tasks cannot
/// start.
#[test]
fn a_task_definition_reading_secrets_without_a_role_stays_to_do() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "td.json",
        r#"{"family": "reports", "containerDefinitions": [{"name": "reports", "environment": [], "secrets": [{"name": "SMTP_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/ecsguard/reports/reports/SMTP_PASSWORD"}]}]}"#,
    );
    common::write(
        dir.path(),
        "with-role.json",
        r#"{"family": "ok", "executionRoleArn": "arn:aws:iam::123456789012:role/exec", "containerDefinitions": [{"name": "c", "secrets": [{"name": "A", "valueFrom": "/a"}]}]}"#,
    );
    common::write(
        dir.path(),
        "main.tf",
        "resource \"aws_ecs_task_definition\" \"w\" {\n  family                = \"w\"\n  container_definitions = jsonencode([{ name = \"w\", secrets = [{ name = \"A\", valueFrom = aws_ssm_parameter.a.arn }] }])\n}\n",
    );
    for _ in 0..2 {
        let run = fix(dir.path(), &[".", "--apply", "--format", "json"]);
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        let plan = run.json();
        let mut families: Vec<&str> = plan["iam"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["written"].is_null())
            .map(|n| n["family"].as_str().unwrap())
            .collect();
        families.sort_unstable();
        assert_eq!(families, ["reports", "w"], "{plan}");
    }
}

/// A write cut off between renames, then: the target edited by hand, the
/// remaining temporary file removed, the record copied to another tree
/// (naming files outside the paths given), or of a later version. Nothing
/// of such a record is carried out: the error says why, and the files stay.
#[test]
fn a_pending_write_that_no_longer_matches_is_left_alone() {
    let cut = |dir: &Path| {
        tf_and_template(dir);
        let mut env = no_aws();
        env.push(("ECSGUARD_TEST_STOP_AFTER_RENAMES", "1".to_owned()));
        let run = common::ecsguard_with(dir, &env, true, &["fix", ".", "--apply"]);
        assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
        let records: Vec<_> = std::fs::read_dir(dir.join(".ecsguard/journal/pending-files"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(records.len(), 1);
        records[0].clone()
    };
    let main = "tf/main.tf";

    // Edited by hand after the cut: the edit is kept.
    let dir = common::tempdir();
    cut(dir.path());
    let edited = format!("# edited\n{}", read(dir.path(), main));
    std::fs::write(dir.path().join(main), &edited).unwrap();
    let run = fix(dir.path(), &[".", "--apply"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("changed after the write was cut off"),
        "{}",
        run.stderr
    );
    assert_eq!(read(dir.path(), main), edited);

    // The remaining temporary file removed: the set cannot be completed.
    let dir = common::tempdir();
    let record = cut(dir.path());
    for temp in leftovers(dir.path()) {
        if temp.contains(".ecsguard-fix-") {
            std::fs::remove_file(temp).unwrap();
        }
    }
    let run = fix(dir.path(), &[".", "--apply"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("half old, half new"), "{}", run.stderr);
    assert!(record.exists(), "the record was removed");
    // The advice gets out of it: once the files are right, remove the record.
    assert!(
        run.stderr.contains(&format!(
            "remove {}",
            record.strip_prefix(dir.path()).unwrap_or(&record).display()
        )) || run.stderr.contains("remove ./.ecsguard")
            || run.stderr.contains("remove .ecsguard"),
        "{}",
        run.stderr
    );
    std::fs::remove_file(&record).unwrap();
    let run = fix(dir.path(), &[".", "--apply"]);
    assert_ne!(run.code, 3, "{}{}", run.stdout, run.stderr);

    // A record naming files outside the paths given (copied from another
    // checkout, or planted): nothing outside is touched.
    let victim = common::tempdir();
    let outside = common::write(victim.path(), "important.conf", "keep me\n");
    let dir = common::tempdir();
    let record = cut(dir.path());
    let text = std::fs::read_to_string(&record).unwrap();
    let tf_abs = std::path::absolute(dir.path().join(main)).unwrap();
    let planted = text.replace(
        &format!("\"{}\"", tf_abs.display()),
        &format!("\"{}\"", outside.display()),
    );
    assert_ne!(planted, text);
    std::fs::write(&record, planted).unwrap();
    let run = fix(dir.path(), &[".", "--apply"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("not under the paths given"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep me\n");

    // A later version's record.
    let dir = common::tempdir();
    let record = cut(dir.path());
    let text = std::fs::read_to_string(&record).unwrap();
    std::fs::write(
        &record,
        text.replacen("\"version\": 1", "\"version\": 99", 1),
    )
    .unwrap();
    let run = fix(dir.path(), &[".", "--apply"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("version 99"), "{}", run.stderr);
    assert!(record.exists());
}

/// A file named like ecsguard's temporary files is not read as a source,
/// and not skipped silently: a scan names it and exits 2.
#[test]
fn a_file_named_like_a_temporary_file_is_not_skipped_silently() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        ".ecsguard-fix-td.json",
        "{\"family\": \"x\", \"containerDefinitions\": [{\"name\": \"c\", \"environment\": [{\"name\": \"DB_PASSWORD\", \"value\": \"Pl4ntedHidden77\"}]}]}",
    );
    let run = common::ecsguard_with(dir.path(), &no_aws(), true, &["scan", "."]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains(".ecsguard-fix-td.json"), "{said}");
    assert!(!said.contains("Pl4ntedHidden77"), "{said}");
}

/// Readers the store-name check must see, and must not: another task
/// definition JSON file reading the name is in the way; with Secrets
/// Manager, a container reading another key of its own secret is not (a
/// push keeps the other keys), but one reading the same key is.
#[test]
fn the_store_name_check_sees_other_files_and_keys() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "reader.json",
        r#"{"family": "other", "executionRoleArn": "arn:aws:iam::1:role/e", "containerDefinitions": [{"name": "x", "secrets": [{"name": "P", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/ecsguard/reports/reports/SMTP_PASSWORD"}]}]}"#,
    );
    common::write(
        dir.path(),
        "td.json",
        "{\"family\": \"reports\", \"containerDefinitions\": [{\"name\": \"reports\", \"environment\": [\n  {\"name\": \"SMTP_PASSWORD\", \"value\": \"Pl4ntedOtherReader77\"}\n]}]}\n",
    );
    let plan = fix(dir.path(), &[".", "--format", "json"]).json();
    assert_eq!(
        outcomes(&plan),
        vec![("reports".into(), "SMTP_PASSWORD".into(), "manual".into())],
        "{plan}"
    );

    let dir = common::tempdir();
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecsguard/sm/c-AbCdEf";
    common::write(
        dir.path(),
        "td.json",
        format!(
            "{{\"family\": \"sm\", \"containerDefinitions\": [{{\"name\": \"c\", \"secrets\": [{{\"name\": \"DB_PASSWORD\", \"valueFrom\": \"{arn}:DB_PASSWORD::\"}}], \"environment\": [\n  {{\"name\": \"API_KEY\", \"value\": \"Pl4ntedNewKey77\"}}\n]}}]}}\n"
        ),
    );
    common::write(
        dir.path(),
        "same-key.json",
        "{\"family\": \"sm2\", \"containerDefinitions\": [{\"name\": \"c\", \"secrets\": [{\"name\": \"X\", \"valueFrom\": \"arn:aws:secretsmanager:us-east-1:123456789012:secret:ecsguard/sm2/c-AbCdEf:API_KEY::\"}], \"environment\": [\n  {\"name\": \"API_KEY\", \"value\": \"Pl4ntedSameKey77\"}\n]}]}\n",
    );
    let plan = fix(
        dir.path(),
        &[".", "--store", "secretsmanager", "--format", "json"],
    )
    .json();
    let by_family = |family: &str| {
        plan["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["family"] == family)
            .map(|f| f["outcome"].as_str().unwrap().to_owned())
    };
    assert_eq!(by_family("sm").as_deref(), Some("needs-push"), "{plan}");
    assert_eq!(by_family("sm2").as_deref(), Some("manual"), "{plan}");
}

/// Containers read through `file()`, with the role declared in the module:
/// the grant goes into the `.tf` even when nothing else in it changes (the
/// JSON file is what is rewritten).
#[test]
fn a_grant_is_written_where_file_reads_the_containers() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "main.tf",
        "variable \"smtp_password\" {\n  type      = string\n  sensitive = true\n}\n\nresource \"aws_ecs_task_definition\" \"notifier\" {\n  family                = \"notifier\"\n  execution_role_arn    = aws_iam_role.exec.arn\n  container_definitions = file(\"${path.module}/containers/notifier.json\")\n}\n",
    );
    common::write(
        dir.path(),
        "iam.tf",
        "resource \"aws_iam_role\" \"exec\" {\n  name               = \"exec\"\n  assume_role_policy = \"{}\"\n}\n",
    );
    common::write(
        dir.path(),
        "containers/notifier.json",
        "[{\"name\": \"notifier\", \"image\": \"n:1\", \"environment\": [\n  {\"name\": \"SMTP_PASSWORD\", \"value\": \"Pl4ntedSmtpValue77zz\"}\n]}]\n",
    );
    // The plan previews the rewrite as it will be once stored.
    let plan = fix(dir.path(), &[".", "--format", "json"]).json();
    let diff = plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "./main.tf")
        .unwrap_or_else(|| panic!("main.tf is not rewritten: {plan}"))["diff"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        diff.contains("resource \"aws_iam_role_policy\" \"notifier_ecsguard_secrets\""),
        "{diff}"
    );
    assert!(diff.contains("role = aws_iam_role.exec.id"), "{diff}");
    assert!(!diff.contains("Pl4nted"), "{diff}");
}

/// `Fn::Select` over a list holding a join of a `NoEcho` parameter, or over
/// a split of one, inside a URL: found, as `!Sub` and `!Join` are. A
/// select of plain items is not.
#[test]
fn a_select_of_a_noecho_parameter_is_found() {
    let dir = common::tempdir();
    let stack = |value: &str| {
        format!(
            "Parameters:\n  Pw:\n    Type: String\n    NoEcho: true\nResources:\n  TD:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      Family: j\n      ContainerDefinitions:\n        - Name: app\n          Image: x\n          Environment:\n            - Name: DATABASE_URL\n              Value: {value}\n"
        )
    };
    let shapes = [
        r#"!Select [0, [!Join ["", ["postgres://u:", !Ref Pw, "@db"]]]]"#,
        r#"!Join ["", ["https://u:", !Select [0, !Split [",", !Ref Pw]], "@h"]]"#,
        r#"!Join ["", ["postgres://u:", !Join ["", [!Ref Pw, ""]], "@db/app"]]"#,
    ];
    for (i, value) in shapes.iter().enumerate() {
        common::write(dir.path(), &format!("s{i}.yaml"), stack(value));
    }
    common::write(
        dir.path(),
        "plain.yaml",
        stack(r#"!Select [1, ["postgres://db/a", "postgres://db/b"]]"#),
    );
    let run = common::ecsguard_with(
        dir.path(),
        &no_aws(),
        true,
        &["scan", ".", "--format", "json"],
    );
    let report = run.json();
    let mut files: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["location"]["file"].as_str().unwrap_or("").to_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["./s0.yaml", "./s1.yaml", "./s2.yaml"], "{report}");
}

/// One JSON file read through `file()` by two task definitions of one
/// folder: an edit would give the container two `secrets` keys (one
/// service reading the other's store). Manual for both, nothing written.
#[test]
fn a_file_read_by_two_task_definitions_is_manual() {
    let dir = common::tempdir();
    common::write(
        dir.path(),
        "main.tf",
        "resource \"aws_ecs_task_definition\" \"a\" {\n  family                = \"worker\"\n  container_definitions = file(\"${path.module}/worker.json\")\n}\n\nresource \"aws_ecs_task_definition\" \"b\" {\n  family                = \"worker2\"\n  container_definitions = file(\"${path.module}/worker.json\")\n}\n",
    );
    let json = "[{\"name\": \"worker\", \"image\": \"b\", \"environment\": [\n  {\"name\": \"API_TOKEN\", \"value\": \"Pl4ntedApiTokB7c3Kq\"}\n]}]\n";
    common::write(dir.path(), "worker.json", json);
    let plan = fix(dir.path(), &[".", "--format", "json"]).json();
    all_manual(&plan, 2);
    let run = fix(dir.path(), &[".", "--apply"]);
    assert_ne!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert_eq!(read(dir.path(), "worker.json"), json);
}

/// The `.tf` that would only get a grant is read-only, or a symlink: it is
/// not replaced; the grant is printed to make by hand instead.
#[test]
fn a_grant_only_tf_that_cannot_be_rewritten_is_left_alone() {
    for protect in ["read-only", "symlink"] {
        let dir = common::tempdir();
        let tf = "resource \"aws_ecs_task_definition\" \"w\" {\n  family                = \"worker\"\n  execution_role_arn    = aws_iam_role.exec.arn\n  container_definitions = file(\"${path.module}/worker.json\")\n}\n\nresource \"aws_iam_role\" \"exec\" {\n  name               = \"exec\"\n  assume_role_policy = \"{}\"\n}\n";
        let main = if protect == "symlink" {
            common::write(dir.path(), "real/main.tf.txt", tf);
            std::os::unix::fs::symlink("real/main.tf.txt", dir.path().join("main.tf")).unwrap();
            dir.path().join("main.tf")
        } else {
            let p = common::write(dir.path(), "main.tf", tf);
            let mut perms = std::fs::metadata(&p).unwrap().permissions();
            perms.set_readonly(true);
            std::fs::set_permissions(&p, perms).unwrap();
            p
        };
        common::write(
            dir.path(),
            "worker.json",
            "[{\"name\": \"worker\", \"image\": \"b\", \"environment\": [\n  {\"name\": \"API_TOKEN\", \"value\": \"${var.x}\"}\n]}]\n",
        );
        let run = fix(dir.path(), &[".", "--apply", "--format", "json"]);
        assert_ne!(run.code, 3, "{}{}", run.stdout, run.stderr);
        let plan = run.json();
        assert!(plan["iam"][0]["written"].is_null(), "{protect}: {plan}");
        assert_eq!(std::fs::read_to_string(&main).unwrap(), tf, "{protect}");
        assert_eq!(
            std::fs::symlink_metadata(&main)
                .unwrap()
                .file_type()
                .is_symlink(),
            protect == "symlink"
        );
    }
}

/// Killed while the pending-write record itself was being written: the
/// half-written record is ecsguard's own state, not a source; scans do not
/// trip on it, and the next apply clears it.
#[test]
fn a_record_cut_off_while_written_blocks_nothing() {
    let dir = common::tempdir();
    tf_and_template(dir.path());
    common::write(
        dir.path(),
        ".ecsguard/journal/pending-files/.record-Xy12ab",
        "",
    );
    let scan = common::ecsguard_with(dir.path(), &no_aws(), true, &["scan", "."]);
    assert_eq!(scan.code, 1, "{}{}", scan.stdout, scan.stderr);
    let run = fix(dir.path(), &[".", "--apply"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!dir.path().join(".ecsguard/journal/pending-files").exists());
    scans_clean(dir.path());
}
