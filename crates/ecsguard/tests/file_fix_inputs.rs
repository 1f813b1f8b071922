//! `ecsguard fix PATH` on values that are not literals (DESIGN §5): secret
//! inputs feed a store declared beside the task definition, template
//! entries read their variable through secrets, and what cannot be moved
//! safely is `manual` with the reason. Fixtures: `fixtures/file_fix_inputs`,
//! written by hand after idioms met in public repositories.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use std::path::Path;

use serde_json::Value;

/// Every literal planted in the fixtures.
const PLANTED: &[&str] = &[
    "Pl4ntedSmtpPassw0rd",
    "Pl4ntedTok3nTwice9x",
    "Pl4ntedBlueK3yQz7",
    "Pl4ntedGreenK3yQz7",
    "Pl4ntedTwili0Tok3nA8c",
    "Pl4ntedRedisPassw0rd",
    "sk_live_Pl4ntedStr1peKeyQ9w8e7r6",
    "sl.Pl4ntedDr0pboxTok3nXq9Lm2",
];

fn inputs() -> tempfile::TempDir {
    common::copy_tree(&common::fixtures().join("file_fix_inputs"))
}

fn no_value_in(what: &str, text: &str) {
    for p in PLANTED {
        assert!(!text.contains(p), "{what} shows a planted value:\n{text}");
    }
}

fn finding<'a>(plan: &'a Value, file_end: &str, family: &str, variable: &str) -> &'a Value {
    plan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| {
            f["variable"] == variable
                && f["family"] == family
                && f["file"].as_str().unwrap_or("").ends_with(file_end)
        })
        .unwrap_or_else(|| panic!("no finding {family}/{variable} in {file_end}: {plan}"))
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).expect("read")
}

fn snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for sub in ["tf", "tf/templates", "tf/containers", "cfn", "tfjson"] {
        for e in std::fs::read_dir(dir.join(sub)).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_file() {
                all.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).expect("read"),
                ));
            }
        }
    }
    all.sort();
    all
}

#[test]
fn every_value_that_is_not_a_literal_gets_the_right_outcome() {
    let dir = inputs();
    let run = common::ecsguard_in(dir.path(), &["fix", ".", "--format", "json"]);
    no_value_in("the JSON plan", &run.stdout);
    no_value_in("stderr", &run.stderr);
    let plan = run.json();
    let text = common::ecsguard_in(dir.path(), &["fix", "."]);
    no_value_in("the plan", &text.stdout);
    // The file() containers' grant goes to the task definition reading them
    // (shown in the plan; written once the literal is pushed).
    assert!(
        text.stdout
            .contains("+resource \"aws_iam_role_policy\" \"notifier_ecsguard_secrets\" {"),
        "{}",
        text.stdout
    );
    let scan = common::ecsguard_in(dir.path(), &["scan", ".", "--format", "json"]).json();
    assert_eq!(
        plan["findings"].as_array().map(Vec::len),
        scan["findings"].as_array().map(Vec::len),
        "every finding has an outcome"
    );
    let expect = |file: &str, family: &str, variable: &str, outcome: &str, says: &str| {
        let f = finding(&plan, file, family, variable);
        assert_eq!(f["outcome"], outcome, "{family}/{variable}: {f}");
        let reason = f["reason"].as_str().unwrap_or("");
        assert!(reason.contains(says), "{family}/{variable}: {reason}");
    };
    // Terraform: a sensitive variable, a generated password, a template
    // built from them, and a reference interpolated in a heredoc.
    expect(
        "tf/main.tf",
        "billing",
        "DB_PASSWORD",
        "fixed",
        "aws_ssm_parameter.billing_db_password",
    );
    expect(
        "tf/main.tf",
        "billing",
        "JWT_SECRET",
        "fixed",
        "random_password.jwt.result",
    );
    expect("tf/main.tf", "billing", "DATABASE_URL", "fixed", "declared");
    expect(
        "tf/main.tf",
        "worker",
        "API_TOKEN",
        "fixed",
        "var.api_token",
    );
    // A template of one task definition: a literal variable is pushed, an
    // expression feeds a declared store; a variable the template uses twice
    // cannot change.
    expect(
        "reports.json.tpl",
        "reports",
        "SMTP_PASSWORD",
        "needs-push",
        "smtp_password",
    );
    expect(
        "reports.json.tpl",
        "reports",
        "DB_PASSWORD",
        "fixed",
        "db_password",
    );
    expect(
        "reports.json.tpl",
        "reports",
        "REPORT_TOKEN",
        "manual",
        "used only here",
    );
    // One template, two task definitions.
    expect(
        "shared.json.tpl",
        "blue",
        "PAYMENT_API_KEY",
        "manual",
        "rendered by 2",
    );
    expect(
        "shared.json.tpl",
        "green",
        "PAYMENT_API_KEY",
        "manual",
        "rendered by 2",
    );
    expect(
        "notifier.json",
        "notifier",
        "TWILIO_AUTH_TOKEN",
        "needs-push",
        "--push",
    );
    // CloudFormation: NoEcho parameter, access key, long-form Fn::Sub; a
    // literal inside an intrinsic stays alone, and the plain literal of the
    // same container still moves.
    expect(
        "stack.yaml",
        "app",
        "DB_PASSWORD",
        "fixed",
        "AppDbPasswordSecret",
    );
    expect(
        "stack.yaml",
        "app",
        "AWS_SECRET_ACCESS_KEY",
        "fixed",
        "give the task a role",
    );
    expect(
        "stack.yaml",
        "app",
        "DATABASE_URL",
        "fixed",
        "AppDatabaseUrlSecret",
    );
    expect("stack.yaml", "app", "REDIS_URL", "manual", "by hand");
    expect("stack.yaml", "app", "STRIPE_KEY", "needs-push", "--push");
    expect(
        "stack.yaml",
        "app",
        "QUEUE_PASSWORD",
        "manual",
        "pinned version",
    );
    expect(
        "stack.json",
        "inventory",
        "DB_PASSWORD",
        "fixed",
        "InventoryDbPasswordSecret",
    );
    // A .tf.json container list written as an expression is read.
    expect(
        "task.tf.json",
        "exporter",
        "DROPBOX_TOKEN",
        "manual",
        "by hand",
    );
    assert_eq!(
        finding(&plan, "stack.yaml", "app", "DB_PASSWORD")["value_from"],
        "!Ref AppDbPasswordSecret"
    );
    assert_eq!(
        finding(&plan, "tf/main.tf", "billing", "DB_PASSWORD")["value_from"],
        "aws_ssm_parameter.billing_db_password.arn"
    );
}

#[test]
fn apply_declares_the_stores_and_the_files_stay_valid() {
    let dir = inputs();
    let root = dir.path();
    let lint_yaml = common::cfn_lint(&root.join("cfn/stack.yaml"));
    let lint_json = common::cfn_lint(&root.join("cfn/stack.json"));
    common::terraform_fmt(&root.join("tf")).expect("the fixture is fmt-clean");
    let run = common::ecsguard_in(root, &["fix", ".", "--apply"]);
    // Literals still need a push: exit 1, and they stay where they are.
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    no_value_in("apply", &run.stdout);
    no_value_in("stderr", &run.stderr);

    let tf = read(root, "tf/main.tf");
    for expected in [
        "resource \"aws_ssm_parameter\" \"billing_db_password\" {",
        "  value       = var.db_password\n",
        "  value       = random_password.jwt.result\n",
        "  value       = \"postgres://billing:${var.db_password}@${var.db_host}/billing\"\n",
        "{ name = \"DB_PASSWORD\", valueFrom = aws_ssm_parameter.billing_db_password.arn },",
        "resource \"aws_ssm_parameter\" \"worker_api_token\" {",
        "\"valueFrom\": \"${aws_ssm_parameter.worker_api_token.arn}\"",
        // The template's variable now carries the store's ARN.
        "db_password   = aws_ssm_parameter.reports_db_password.arn\n",
        "  value       = var.db_password\n",
        // Roles declared and granted, a template's in its task definition.
        "resource \"aws_iam_role_policy\" \"reports_ecsguard_secrets\" {",
    ] {
        assert!(tf.contains(expected), "{expected}\n---\n{tf}");
    }
    // Literals are not written without --push.
    assert!(
        tf.contains("smtp_password = \"Pl4ntedSmtpPassw0rd\""),
        "{tf}"
    );
    let tpl = read(root, "tf/templates/reports.json.tpl");
    assert!(
        tpl.contains("{\"name\": \"DB_PASSWORD\", \"valueFrom\": \"${db_password}\"}"),
        "{tpl}"
    );
    assert!(
        tpl.contains("{\"name\": \"SMTP_PASSWORD\", \"value\": \"${smtp_password}\"}"),
        "{tpl}"
    );
    common::terraform_fmt(&root.join("tf")).expect("still fmt-clean");

    let yaml = read(root, "cfn/stack.yaml");
    for expected in [
        "- Name: DB_PASSWORD # NoEcho, and still plain here\n              ValueFrom: !Ref AppDbPasswordSecret\n",
        "  AppDbPasswordSecret:\n    Type: AWS::SecretsManager::Secret\n",
        "      SecretString: !Ref DbPassword\n",
        "      SecretString: !GetAtt DeployKey.SecretAccessKey\n",
        "      SecretString:\n        Fn::Sub: postgres://app:${DbPassword}@db.internal/app\n",
        "              - !Ref AppDbPasswordSecret\n",
    ] {
        assert!(yaml.contains(expected), "{expected}\n---\n{yaml}");
    }
    let json = read(root, "cfn/stack.json");
    assert!(
        json.contains("\"SecretString\": { \"Ref\": \"DbPassword\" }"),
        "{json}"
    );
    assert!(
        json.contains("\"Roles\": [{\"Ref\": \"InventoryTaskExecutionRole\"}]"),
        "{json}"
    );
    serde_json::from_str::<Value>(&json).expect("still JSON");
    // No new cfn-lint error.
    for (path, before) in [("cfn/stack.yaml", lint_yaml), ("cfn/stack.json", lint_json)] {
        let after = common::cfn_lint(&root.join(path));
        let new: Vec<&String> = after.iter().filter(|l| !before.contains(l)).collect();
        assert!(new.is_empty(), "{path}: cfn-lint: {new:?}");
    }
    // What was fixed is no longer reported; a second run has nothing to do.
    let plan = common::ecsguard_in(root, &["fix", ".", "--format", "json"]).json();
    let fixed: Vec<&Value> = plan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["outcome"] == "fixed")
        .collect();
    assert!(fixed.is_empty(), "{fixed:?}");
    let before = snapshot(root);
    let again = common::ecsguard_in(root, &["fix", ".", "--apply"]);
    assert!(
        again.stdout.contains("0 file(s) written"),
        "{}",
        again.stdout
    );
    assert_eq!(snapshot(root), before, "a second run writes nothing");
}

#[test]
fn with_secrets_manager_terraform_declares_a_secret_and_its_version() {
    let dir = inputs();
    let root = dir.path();
    let run = common::ecsguard_in(root, &["fix", "tf", "--apply", "--store", "secretsmanager"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let tf = read(root, "tf/main.tf");
    for expected in [
        "resource \"aws_secretsmanager_secret\" \"billing_db_password\" {",
        "  name_prefix = \"ecsguard/billing/billing/DB_PASSWORD-\"\n",
        "resource \"aws_secretsmanager_secret_version\" \"billing_db_password\" {",
        "  secret_id     = aws_secretsmanager_secret.billing_db_password.id\n",
        "  secret_string = var.db_password\n",
        "valueFrom = aws_secretsmanager_secret_version.billing_db_password.arn",
        "Action   = [\"secretsmanager:GetSecretValue\"]",
    ] {
        assert!(tf.contains(expected), "{expected}\n---\n{tf}");
    }
    common::terraform_fmt(&root.join("tf")).expect("still fmt-clean");
}
