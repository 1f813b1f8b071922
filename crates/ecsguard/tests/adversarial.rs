//! Regressions from the adversarial pass on the IaC scanner: each test is one
//! break a hostile pull request or a hurried user found, and fails without
//! its fix.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use common::{ecsguard_in, tempdir, write};
use serde_json::Value;

/// Planted value; no 6-character window of it may appear in any output.
const CANARY: &str = "Zx9Qw8Er7Ty6Ui5O";

fn scan_dir(dir: &std::path::Path, args: &[&str]) -> (Value, common::Run) {
    let mut all = vec!["scan", "--format", "json"];
    all.extend_from_slice(args);
    if !args.iter().any(|a| !a.starts_with('-')) {
        all.push(".");
    }
    let run = ecsguard_in(dir, &all);
    (run.json(), run)
}

fn scan(files: &[(&str, &str)]) -> Value {
    let dir = tempdir();
    for (name, text) in files {
        write(dir.path(), name, text);
    }
    scan_dir(dir.path(), &[]).0
}

/// `(variable, rule)` of every finding, sorted.
fn found(report: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["variable"].as_str().unwrap_or_default().to_owned(),
                f["rule"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn vars(report: &Value) -> Vec<String> {
    found(report).into_iter().map(|(v, _)| v).collect()
}

fn td_json(env: &str) -> String {
    format!(
        r#"{{"family": "f", "containerDefinitions": [{{"name": "c", "environment": [{env}]}}]}}"#
    )
}

fn tf_env(env: &str) -> String {
    format!("resource \"aws_ecs_task_definition\" \"t\" {{\n  family = \"t\"\n  container_definitions = jsonencode([{{ name = \"c\", environment = [\n{env}\n  ] }}])\n}}\n")
}

fn cfn_env(env: &str) -> String {
    format!("Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions:\n        - Name: c\n          Environment:\n{env}")
}

#[test]
fn an_unknown_yaml_tag_is_judged_as_a_literal_and_never_shown() {
    let dir = tempdir();
    write(
        dir.path(),
        "t.yaml",
        cfn_env(&format!(
            "            - Name: DB_PASSWORD\n              Value: !{CANARY}\n"
        )),
    );
    for format in ["text", "json", "sarif"] {
        let run = ecsguard_in(dir.path(), &["scan", "-v", "--format", format, "."]);
        assert_eq!(run.code, 1, "{}", run.stdout);
        for w in 0..=CANARY.len() - 6 {
            let part = &CANARY[w..w + 6];
            assert!(
                !run.stdout.contains(part) && !run.stderr.contains(part),
                "{format}: {}",
                run.stdout
            );
        }
    }
}

#[test]
fn a_tf_reading_a_template_as_a_file_does_not_hide_the_template() {
    let cfn = r#"{"Resources": {"T": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"ContainerDefinitions": [{"Name": "c", "Environment": [{"Name": "DB_PASSWORD", "Value": "cfn-Passw0rd-1"}]}]}}}}"#;
    let report = scan(&[
        ("cfn/template.json", cfn),
        (
            "tf/main.tf",
            "resource \"aws_ecs_task_definition\" \"x\" {\n  family = \"x\"\n  container_definitions = file(\"../cfn/template.json\")\n}\n",
        ),
    ]);
    assert_eq!(vars(&report), ["DB_PASSWORD"]);
}

#[test]
fn a_file_committed_under_node_modules_is_scanned() {
    let dir = tempdir();
    write(
        dir.path(),
        "deploy/node_modules/td.json",
        td_json(r#"{"name": "DB_PASSWORD", "value": "nm-Passw0rd-1"}"#),
    );
    write(
        dir.path(),
        "node_modules/untracked/td.json",
        td_json(r#"{"name": "OTHER_PASSWORD", "value": "nm-Passw0rd-2"}"#),
    );
    let git = |args: &[&str]| {
        assert!(std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("git")
            .status
            .success());
    };
    git(&["init", "-q"]);
    git(&["add", "deploy/node_modules/td.json"]);
    let (report, _) = scan_dir(dir.path(), &[]);
    assert_eq!(vars(&report), ["DB_PASSWORD"]);
}

#[test]
fn duplicate_json_keys_keep_the_last_as_aws_does() {
    let report = scan(&[(
        "td.json",
        r#"{"containerDefinitions": [{"name": "app", "environment": [], "environment": [{"name": "DB_PASSWORD", "value": "", "value": "dup-Passw0rd-1"}]}]}"#,
    )]);
    assert_eq!(vars(&report), ["DB_PASSWORD"]);
}

#[test]
fn yaml_task_definitions_and_escaped_markers_are_read() {
    let report = scan(&[
        (
            "register.yaml",
            "family: f\ncontainerDefinitions:\n  - name: c\n    environment:\n      - name: DB_PASSWORD\n        value: yaml-Passw0rd-1\n",
        ),
        (
            "escaped.yaml",
            "Resources:\n  T:\n    Type: \"AWS::ECS::TaskDefinitio\\x6E\"\n    Properties:\n      ContainerDefinitions:\n        - Name: c\n          Environment:\n            - Name: API_TOKEN\n              Value: esc-T0ken-value-1\n",
        ),
        (
            "escaped.json",
            r#"{"Resources": {"T": {"Type": "AWS::ECS::TaskDefinitio\u006e", "Properties": {"ContainerDefinitions": [{"Name": "c", "Environment": [{"Name": "SMTP_PASSWORD", "Value": "esc-Passw0rd-2"}]}]}}}}"#,
        ),
    ]);
    assert_eq!(vars(&report), ["API_TOKEN", "DB_PASSWORD", "SMTP_PASSWORD"]);
}

#[test]
fn thousands_of_sensitive_interpolations_cost_linear_time() {
    let many = "${var.pw}".repeat(3000);
    let report = scan(&[(
        "main.tf",
        &format!(
            "variable \"pw\" {{\n  sensitive = true\n}}\n{}",
            tf_env(&format!(
                "    {{ name = \"DB_PASSWORD\", value = \"{many}\" }},"
            ))
        ),
    )]);
    assert_eq!(vars(&report), ["DB_PASSWORD"]);
}

#[test]
fn json_in_a_large_folded_scalar_costs_linear_time() {
    let entries: Vec<String> = (0..4000)
        .map(|i| format!("          {{\"name\": \"V{i}\", \"value\": \"{i}\"}},"))
        .collect();
    let text = format!(
        "Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions: >-\n        [{{\"name\": \"c\", \"environment\": [\n{}\n          {{\"name\": \"DB_PASSWORD\", \"value\": \"fold-Passw0rd-1\"}}]}}]\n",
        entries.join("\n")
    );
    let report = scan(&[("t.yaml", &text)]);
    assert_eq!(vars(&report), ["DB_PASSWORD"]);
    assert_eq!(report["findings"][0]["location"]["line"], 4007);
}

#[test]
fn copies_of_large_strings_spend_the_evaluation_budget() {
    let big = "x".repeat(3000);
    let mut locals = format!("locals {{\n  l0 = \"{big}\"\n");
    for i in 1..6 {
        let refs = vec![format!("local.l{}", i - 1); 100].join(", ");
        locals.push_str(&format!("  l{i} = [{refs}]\n"));
    }
    locals.push_str("}\n");
    let report = scan(&[(
        "main.tf",
        &format!(
            "{locals}{}",
            tf_env("    { name = \"DB_PASSWORD\", value = \"bud-Passw0rd-1\" },\n    { name = \"X\", value = jsonencode(local.l5) },")
        ),
    )]);
    assert!(
        report["errors"].to_string().contains("evaluation stopped"),
        "{}",
        report["errors"]
    );
}

#[test]
fn many_redefined_keys_in_a_large_file_are_refused_quickly() {
    let filler = "# padding line to make the file large\n".repeat(60_000);
    let dups: String = (0..40)
        .map(|i| format!("locals {{\n  m{i} = {{ a = 1, a = 2 }}\n}}\n"))
        .collect();
    let report = scan(&[("main.tf", &format!("{filler}{}{dups}", tf_env("")))]);
    assert!(
        report["errors"].to_string().contains("redefined"),
        "{}",
        report["errors"]
    );
}

#[test]
fn a_literal_password_beside_a_placeholder_is_reported() {
    let report = scan(&[
        (
            "main.tf",
            &format!("variable \"env\" {{}}\n{}", tf_env("    { name = \"DB_PASSWORD\", value = \"Zx9Qw8Er7Ty6Ui5O-${var.env}\" },\n    { name = \"DB_NAME\", value = \"app-${var.env}\" },")),
        ),
        (
            "t.yaml",
            &cfn_env("            - Name: API_SECRET\n              Value: !Sub \"Kk9Pp8Oo7Ii6Uu5Y-${AWS::Region}\"\n"),
        ),
    ]);
    assert_eq!(vars(&report), ["API_SECRET", "DB_PASSWORD"]);
}

#[test]
fn entries_with_computed_names_are_still_judged() {
    let report = scan(&[(
        "main.tf",
        &format!(
            "variable \"prefix\" {{}}\n{}",
            tf_env("    { name = \"${var.prefix}_DATABASE_URL\", value = \"postgres://admin:cmp-Passw0rd@db/app\" },")
        ),
    )]);
    assert_eq!(vars(&report), ["${var.prefix}_DATABASE_URL"]);
}

#[test]
fn either_branch_of_a_conditional_may_be_the_secret() {
    let report = scan(&[
        (
            "main.tf",
            &format!(
                "variable \"dev\" {{\n  default = false\n}}\n{}",
                tf_env("    { name = \"DATABASE_URL\", value = var.dev ? \"postgres://localhost/app\" : \"postgres://admin:br-Passw0rd@db/app\" },")
            ),
        ),
        (
            "t.yaml",
            &format!(
                "Conditions:\n  C: !Equals [a, b]\n{}",
                cfn_env("            - Name: API_KEY\n              Value: !If [C, !Ref AWS::NoValue, \"Kk9Pp8Oo7Ii6Uu5Y\"]\n")
            ),
        ),
    ]);
    assert_eq!(vars(&report), ["API_KEY", "DATABASE_URL"]);
}

#[test]
fn indexed_and_splatted_secret_resources_are_secrets() {
    let report = scan(&[(
        "main.tf",
        &tf_env("    { name = \"A\", value = random_password.db[0].result },\n    { name = \"B\", value = aws_iam_access_key.k[0].secret },\n    { name = \"C\", value = one(random_password.db[*].result) },\n    { name = \"D\", value = aws_db_instance.db[0].address },"),
    )]);
    assert_eq!(vars(&report), ["A", "B", "C"]);
}

#[test]
fn a_long_chain_of_locals_is_followed() {
    let mut locals = String::from("locals {\n  u0 = \"postgres://admin:ch-Passw0rd@db/app\"\n");
    for i in 1..=20 {
        locals.push_str(&format!("  u{i} = local.u{}\n", i - 1));
    }
    locals.push_str("}\n");
    let report = scan(&[(
        "main.tf",
        &format!(
            "{locals}{}",
            tf_env("    { name = \"DATABASE_URL\", value = local.u20 },")
        ),
    )]);
    assert_eq!(vars(&report), ["DATABASE_URL"]);
}

#[test]
fn every_var_file_may_be_the_one_used() {
    let report = scan(&[
        ("main.tf", &format!("variable \"db_password\" {{}}\nvariable \"api_url\" {{}}\n{}", tf_env("    { name = \"DB_PASSWORD\", value = var.db_password },\n    { name = \"API_URL\", value = var.api_url },"))),
        ("prod.tfvars", "db_password = \"Pr0d-Passw0rd-9x\"\napi_url = \"https://api.example.com\"\n"),
        ("staging.tfvars", "db_password = \"\"\napi_url = \"https://staging.example.com\"\n"),
    ]);
    assert_eq!(vars(&report), ["DB_PASSWORD"]);
    let at = &report["findings"][0]["value_location"]["file"];
    assert!(
        at.as_str().is_some_and(|f| f.ends_with("prod.tfvars")),
        "{at}"
    );
}

#[test]
fn a_parameter_default_is_a_committed_literal() {
    let report = scan(&[(
        "t.yaml",
        &format!(
            "Parameters:\n  DbUrl:\n    Type: String\n    Default: \"postgres://admin:def-Passw0rd@db/app\"\n  Stage:\n    Type: String\n    Default: prod\n{}",
            cfn_env("            - Name: DB_URL\n              Value: !Ref DbUrl\n            - Name: STAGE\n              Value: !Ref Stage\n")
        ),
    )]);
    assert_eq!(vars(&report), ["DB_URL"]);
}

#[test]
fn names_with_digits_or_run_together_are_secret_names() {
    let env = ["DB_PASSWORD2", "API_KEY1", "SECRET1", "DBPASSWORD"]
        .iter()
        .map(|n| format!(r#"{{"name": "{n}", "value": "plain-pw-value"}}"#))
        .collect::<Vec<_>>()
        .join(", ");
    let report = scan(&[("td.json", &td_json(&env))]);
    assert_eq!(
        vars(&report),
        ["API_KEY1", "DBPASSWORD", "DB_PASSWORD2", "SECRET1"]
    );
}

#[test]
fn a_plan_resource_known_only_after_apply_is_noted() {
    let report = scan(&[(
        "plan.json",
        r#"{"format_version": "1.2", "resource_changes": [{"type": "aws_ecs_task_definition", "address": "aws_ecs_task_definition.a", "change": {"after": {"family": "a"}, "after_unknown": {"container_definitions": true}}}]}"#,
    )]);
    assert!(
        report["notes"]
            .to_string()
            .contains("known only after apply"),
        "{}",
        report["notes"]
    );
}

#[test]
fn replace_is_evaluated() {
    let report = scan(&[(
        "main.tf",
        &tf_env("    { name = \"DATABASE_URL\", value = replace(\"postgres://admin:rp-Passw0rd@db/app\", \"db\", \"db2\") },"),
    )]);
    assert_eq!(vars(&report), ["DATABASE_URL"]);
}

#[test]
fn file_returns_raw_text_not_a_template() {
    let report = scan(&[
        ("defs.json", r#"[{"name": "c", "environment": [{"name": "DB_PASSWORD", "value": "${DB_PASSWORD}"}, {"name": "X", "value": "${aws_secretsmanager_secret_version.x.secret_string}"}]}]"#),
        ("main.tf", "resource \"aws_ecs_task_definition\" \"x\" {\n  family = \"x\"\n  container_definitions = file(\"defs.json\")\n}\n"),
    ]);
    assert!(vars(&report).is_empty(), "{}", report["findings"]);
}

#[test]
fn harmless_values_under_secret_looking_names_are_not_reported() {
    let env = [
        (
            "SMTP_URL",
            "smtp://mail.example.com:587?from=noreply@example.com",
        ),
        (
            "RECAPTCHA_SITE_KEY",
            "6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI",
        ),
        (
            "STRIPE_PUBLISHABLE_KEY",
            "pk_live_51HqLyjWDarjtT1zdp7dcAbCdEfGhIjKl",
        ),
        (
            "GREETING_B64",
            "SGVsbG8gV29ybGQhIFRoaXMgaXMgcGxhaW4gdGV4dC4=",
        ),
        ("SIGNING_KEY_ALG", "HS256"),
        ("PASSWORD_HASHER", "argon2"),
        ("BASIC_AUTH", "0"),
        ("SMTP_AUTH", "login"),
        ("AUTH", "oidc"),
        ("AWS_CREDENTIALS_PROFILE", "production"),
        ("CSRF_TOKEN_COOKIE", "csrftoken"),
        ("SALT_MASTER", "salt.example.com"),
    ]
    .iter()
    .map(|(n, v)| format!(r#"{{"name": "{n}", "value": "{v}"}}"#))
    .collect::<Vec<_>>()
    .join(", ");
    let report = scan(&[("td.json", &td_json(&env))]);
    assert!(vars(&report).is_empty(), "{:?}", found(&report));
}

#[test]
fn redefined_keys_keep_exact_columns() {
    let report = scan(&[(
        "main.tf",
        "resource \"aws_ecs_task_definition\" \"t\" {\n  family = \"t\"\n  container_definitions = jsonencode([{ name = \"app\", name = \"app\", environment = [{ name = \"SECRET\", value = \"dup-Passw0rd-1\" }] }])\n}\n",
    )]);
    assert_eq!(report["findings"][0]["location"]["line"], 3);
    assert_eq!(report["findings"][0]["location"]["column"], 93);
}

#[test]
fn paths_through_parent_folders_are_normalised() {
    let report = scan(&[
        ("shared/td.json", r#"[{"name": "c", "environment": [{"name": "DB_PASSWORD", "value": "sh-Passw0rd-1"}]}]"#),
        ("tf/main.tf", "resource \"aws_ecs_task_definition\" \"x\" {\n  family = \"x\"\n  container_definitions = file(\"../shared/td.json\")\n}\n"),
    ]);
    let file = report["findings"][0]["location"]["file"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!file.contains(".."), "{file}");
    assert_eq!(vars(&report), ["DB_PASSWORD"]);
}

#[test]
fn absolute_and_relative_roots_report_once() {
    let dir = tempdir();
    write(
        dir.path(),
        "shared/td.json",
        r#"[{"name": "c", "environment": [{"name": "DB_PASSWORD", "value": "sh-Passw0rd-1"}]}]"#,
    );
    write(dir.path(), "tf/main.tf", "resource \"aws_ecs_task_definition\" \"x\" {\n  family = \"x\"\n  container_definitions = file(\"../shared/td.json\")\n}\n");
    let abs = dir.path().join("tf").display().to_string();
    let (report, _) = scan_dir(dir.path(), &[&abs, "shared"]);
    assert_eq!(vars(&report), ["DB_PASSWORD"], "{}", report["findings"]);
}

#[test]
fn two_resources_rendering_one_template_under_one_family_report_once() {
    let report = scan(&[
        ("t.json.tpl", r#"[{"name": "c", "environment": [{"name": "DB_PASSWORD", "value": "${pw}"}]}]"#),
        (
            "main.tf",
            "data \"template_file\" \"t\" {\n  template = file(\"t.json.tpl\")\n  vars = { pw = \"tpl-Passw0rd-1\" }\n}\nresource \"aws_ecs_task_definition\" \"a\" {\n  family = \"same\"\n  container_definitions = data.template_file.t.rendered\n}\nresource \"aws_ecs_task_definition\" \"b\" {\n  family = \"same\"\n  container_definitions = data.template_file.t.rendered\n}\n",
        ),
    ]);
    assert_eq!(vars(&report), ["DB_PASSWORD"]);
}

#[test]
fn a_value_on_the_next_line_of_its_entry_has_no_value_location() {
    let report = scan(&[(
        "td.json",
        &td_json("{\"name\": \"DB_PASSWORD\",\n \"value\": \"nl-Passw0rd-1\"}"),
    )]);
    let f = &report["findings"][0];
    assert_eq!(f["origin"], "in-place");
    assert!(f.get("value_location").is_none(), "{f}");
}

// ---- second adversarial pass ------------------------------------------------

fn assert_no_canary(dir: &std::path::Path, canaries: &[&str]) {
    for format in ["text", "json", "sarif"] {
        let run = ecsguard_in(dir, &["scan", "-v", "--format", format, "."]);
        for canary in canaries {
            for w in 0..=canary.len() - 6 {
                let part = &canary[w..w + 6];
                assert!(
                    !run.stdout.contains(part) && !run.stderr.contains(part),
                    "{format} shows {part}: {}{}",
                    run.stdout,
                    run.stderr
                );
            }
        }
    }
}

#[test]
fn unknown_tags_services_and_computed_keys_are_never_shown() {
    let dir = tempdir();
    write(
        dir.path(),
        "defs.yaml",
        "Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions: !Zx9Qw8Er7Ty6Ui5O\n",
    );
    write(
        dir.path(),
        "name.yaml",
        cfn_env("            - Name: !Kk9Ll8Mm7Nn6Bb5V DB_PASSWORD\n              Value: \"{{resolve:Pp4Kd8Sx2Lw6Qe9R}}\"\n"),
    );
    write(
        dir.path(),
        "tf/main.tf",
        format!(
            "variable \"creds\" {{}}\nlocals {{\n  k = \"Ua5Gh1Ko7Mn3Bv8C\"\n}}\n{}",
            tf_env("    { name = \"DB_PASSWORD\", value = var.creds[local.k] },\n    { name = \"API_TOKEN\", value = file(\"Wr6Ez2Yt9Ii4Oo1P\") },")
        ),
    );
    assert_no_canary(
        dir.path(),
        &[
            "Zx9Qw8Er7Ty6Ui5O",
            "Kk9Ll8Mm7Nn6Bb5V",
            "Pp4Kd8Sx2Lw6Qe9R",
            "Ua5Gh1Ko7Mn3Bv8C",
            "Wr6Ez2Yt9Ii4Oo1P",
        ],
    );
}

#[test]
fn format_keeps_the_text_after_each_verb() {
    let report = scan(&[(
        "main.tf",
        &tf_env("    { name = \"DATABASE_URL\", value = format(\"postgres://admin:%s@db/app\", \"Qq1Ww2Ee3Rr4Tt5Y\") },"),
    )]);
    assert_eq!(vars(&report), ["DATABASE_URL"]);
}

#[test]
fn a_structure_as_a_value_is_judged_as_its_json() {
    let report = scan(&[(
        "main.tf",
        &tf_env("    { name = \"APP_CONFIG\", value = jsonencode({ database_url = \"postgres://admin:js-Passw0rd@db/app\" }) },\n    { name = \"FLAGS\", value = jsonencode({ a = true }) },"),
    )]);
    assert_eq!(vars(&report), ["APP_CONFIG"]);
}

#[test]
fn a_var_file_overrides_terraform_tfvars_and_json_does_not_always_win() {
    let report = scan(&[
        ("main.tf", &format!("variable \"database_url\" {{}}\nvariable \"api_url\" {{}}\n{}", tf_env("    { name = \"DATABASE_URL\", value = var.database_url },\n    { name = \"API_URL\", value = var.api_url },"))),
        ("terraform.tfvars", "database_url = \"postgres://localhost/app\"\n"),
        ("prod.tfvars", "database_url = \"postgres://admin:vf-Passw0rd@prod-db/app\"\n"),
        ("terraform.tfvars.json", r#"{"api_url": "https://api.example.com"}"#),
        ("prod.auto.tfvars", "api_url = \"https://admin:au-Passw0rd@api.example.com\"\n"),
    ]);
    assert_eq!(vars(&report), ["API_URL", "DATABASE_URL"]);
}

#[test]
fn an_ssm_typed_parameter_default_is_a_parameter_name() {
    let report = scan(&[(
        "t.yaml",
        &format!(
            "Parameters:\n  DbPassword:\n    Type: AWS::SSM::Parameter::Value<String>\n    Default: /app/prod/db_password\n{}",
            cfn_env("            - Name: DB_PASSWORD\n              Value: !Ref DbPassword\n")
        ),
    )]);
    assert_eq!(
        found(&report),
        [("DB_PASSWORD".to_owned(), "secret-named-variable".to_owned())]
    );
    assert_eq!(report["findings"][0]["severity"], "high");
}

#[test]
fn containers_beside_a_module_container_are_read() {
    let report = scan(&[(
        "main.tf",
        "module \"app\" {\n  source = \"cloudposse/ecs-container-definition/aws\"\n  container_name = \"app\"\n  environment = [{ name = \"GITHUB_TOKEN\", value = \"ghp_1A2b3C4d5E6f7G8h9I0jK1lM2nO3pQ4rS5tU\" }]\n}\nresource \"aws_ecs_task_definition\" \"t\" {\n  family = \"t\"\n  container_definitions = jsonencode([module.app.json_map_object, { name = \"sidecar\", environment = [{ name = \"DD_API_KEY\", value = \"dd-Api-K3y-0123456789abcdef\" }] }])\n}\n",
    )]);
    assert_eq!(vars(&report), ["DD_API_KEY", "GITHUB_TOKEN"]);
}

#[test]
fn templates_of_task_definition_arrays_keep_their_own_findings() {
    let report = scan(&[
        ("tds.json", r#"[{"family": "a", "containerDefinitions": [{"name": "c", "environment": [{"name": "DB_PASSWORD", "value": "arr-Passw0rd-1"}]}]}, {"serviceName": "web"}]"#),
        ("main.tf", "resource \"aws_ecs_task_definition\" \"x\" {\n  family = \"x\"\n  container_definitions = templatefile(\"tds.json\", {})\n}\n"),
    ]);
    assert_eq!(vars(&report), ["DB_PASSWORD"]);
}

#[test]
fn three_one_character_duplicate_keys_parse() {
    let report = scan(&[(
        "main.tf",
        &format!(
            "locals {{\n  m = {{ a = 1, a = 2, a = 3 }}\n}}\n{}",
            tf_env("    { name = \"DB_PASSWORD\", value = \"dup3-Passw0rd\" },")
        ),
    )]);
    assert!(
        report["errors"].as_array().expect("errors").is_empty(),
        "{}",
        report["errors"]
    );
    assert_eq!(vars(&report), ["DB_PASSWORD"]);
}

#[test]
fn string_growth_and_file_reads_are_paid_from_the_budget() {
    let a = "a".repeat(1000);
    let report = scan(&[(
        "main.tf",
        &format!(
            "locals {{\n  a = \"{a}\"\n  r1 = replace(local.a, \"a\", local.a)\n  r2 = replace(local.r1, \"a\", local.a)\n  r3 = replace(local.r2, \"a\", local.a)\n}}\n{}",
            tf_env("    { name = \"X\", value = local.r3 },")
        ),
    )]);
    assert!(
        report["errors"].to_string().contains("evaluation stopped"),
        "{}",
        report["errors"]
    );
    let dir = tempdir();
    write(dir.path(), "big.txt", "x".repeat(5 << 20));
    let refs = vec!["file(\"big.txt\")"; 800].join(", ");
    write(
        dir.path(),
        "main.tf",
        format!(
            "locals {{\n  x = [{refs}]\n}}\n{}",
            tf_env("    { name = \"X\", value = jsonencode(local.x) },")
        ),
    );
    let (report, _) = scan_dir(dir.path(), &[]);
    assert!(
        report["errors"].to_string().contains("evaluation stopped"),
        "{}",
        report["errors"]
    );
}

#[test]
fn many_distinct_sensitive_inputs_in_one_string_cost_linear_time() {
    let n = 20_000;
    let vars_tf: String = (0..n)
        .map(|i| format!("variable \"v{i}\" {{\n  sensitive = true\n}}\n"))
        .collect();
    let value: String = (0..n).map(|i| format!("${{var.v{i}}}")).collect();
    let report = scan(&[(
        "main.tf",
        &format!(
            "{vars_tf}{}",
            tf_env(&format!(
                "    {{ name = \"DB_PASSWORD\", value = \"{value}\" }},"
            ))
        ),
    )]);
    assert_eq!(vars(&report), ["DB_PASSWORD"]);
}

#[test]
fn non_ecs_modules_and_secret_reference_inputs_are_not_container_environment() {
    let report = scan(&[(
        "main.tf",
        "module \"k8s\" {\n  source = \"./modules/k8s-deployment\"\n  container_image = \"x\"\n  env = { API_TOKEN = \"k8s-T0ken-value-123\" }\n}\nmodule \"svc\" {\n  source = \"./modules/ecs-service\"\n  secret_environment = { DB_PASSWORD = \"prod/api/DbPassword\" }\n  env_from_secrets_manager = { API_KEY = \"arn:aws:secretsmanager:eu-west-1:1:secret:x\" }\n  environment = { LOG_LEVEL = \"info\" }\n}\n",
    )]);
    assert!(vars(&report).is_empty(), "{:?}", found(&report));
}

#[test]
fn settings_under_names_about_secrets_are_not_passwords() {
    let env = [
        ("DB_SECRET_NAME", "MyApp/Prod/DbCredentials2"),
        ("PASSWORD_POLICY", "minLength=12,requireUpper"),
        ("API_KEY_HEADER", "X-Api-Key-v2"),
        ("SECRET_KEY_VERSION", "v2024.1-Rc1"),
    ]
    .iter()
    .map(|(n, v)| format!(r#"{{"name": "{n}", "value": "{v}"}}"#))
    .collect::<Vec<_>>()
    .join(", ");
    let report = scan(&[("td.json", &td_json(&env))]);
    assert!(vars(&report).is_empty(), "{:?}", found(&report));
}

#[test]
fn short_run_together_password_names_are_secret_names() {
    let env = [
        "DBPASS",
        "PGPASS",
        "DBPWD",
        "ROOTPW",
        "LDAP_BINDPW",
        "DB_PASS_PROD",
        "SSH_KEY",
        "COMPASS_URL",
    ]
    .iter()
    .map(|n| format!(r#"{{"name": "{n}", "value": "plain-pw-value"}}"#))
    .collect::<Vec<_>>()
    .join(", ");
    let report = scan(&[("td.json", &td_json(&env))]);
    assert_eq!(
        vars(&report),
        [
            "DBPASS",
            "DBPWD",
            "DB_PASS_PROD",
            "LDAP_BINDPW",
            "PGPASS",
            "ROOTPW",
            "SSH_KEY"
        ]
    );
}

#[test]
fn secrets_among_coalesce_and_element_arguments_are_judged() {
    let report = scan(&[(
        "main.tf",
        &format!("variable \"x\" {{}}\n{}", tf_env("    { name = \"A\", value = element(random_password.p[*].result, 0) },\n    { name = \"B\", value = coalesce(var.x, random_password.p.result) },")),
    )]);
    assert_eq!(vars(&report), ["A", "B"]);
}

#[test]
fn an_ecs_module_is_read_whatever_the_case_of_its_source() {
    let report = scan(&[(
        "main.tf",
        "module \"svc\" {\n  source = \"git::https://example.com/mods.git//ECS-Service\"\n  environment = { DB_PASSWORD = \"case-Passw0rd-1\" }\n}\nmodule \"api\" {\n  source = \"./modules/svc\"\n  container_name = \"api\"\n  task_cpu = 256\n  environment = { API_TOKEN = \"cpu-T0ken-value-1\" }\n}\n",
    )]);
    assert_eq!(vars(&report), ["API_TOKEN", "DB_PASSWORD"]);
}

#[test]
fn verbose_lists_recognised_files_and_says_when_there_are_none() {
    let dir = tempdir();
    write(
        dir.path(),
        "td.json",
        td_json(r#"{"name": "DB_PASSWORD", "value": "v-Passw0rd-1"}"#),
    );
    let run = ecsguard_in(dir.path(), &["scan", "-v", "."]);
    assert!(
        run.stderr.contains("td.json: 1 task definition"),
        "{}",
        run.stderr
    );
    let empty = tempdir();
    write(empty.path(), "other.json", r#"{"a": 1}"#);
    let run = ecsguard_in(empty.path(), &["scan", "-v", "."]);
    assert!(
        run.stderr.contains("no task definition was recognised"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_value_location_reaches_text_and_sarif() {
    let dir = tempdir();
    write(
        dir.path(),
        "main.tf",
        format!(
            "variable \"db_password\" {{}}\n{}",
            tf_env("    { name = \"DB_PASSWORD\", value = var.db_password },")
        ),
    );
    write(
        dir.path(),
        "terraform.tfvars",
        "db_password = \"tv-Passw0rd-1\"\n",
    );
    let text = ecsguard_in(dir.path(), &["scan", "."]);
    assert!(
        text.stdout
            .contains("value written at ./terraform.tfvars:1"),
        "{}",
        text.stdout
    );
    let sarif: Value = ecsguard_in(dir.path(), &["scan", "--format", "sarif", "."]).json();
    let run = &sarif["runs"][0];
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    let related = &run["results"][0]["relatedLocations"][0];
    assert_eq!(
        related["physicalLocation"]["artifactLocation"]["uri"],
        "terraform.tfvars"
    );
    assert_eq!(related["physicalLocation"]["region"]["startLine"], 1);
}
