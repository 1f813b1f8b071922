//! `ecsguard fix PATH --apply --push` against moto: literal values are
//! stored (verified, journaled) before any file references them, and the
//! rewritten files read them through `secrets`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;
#[path = "common/moto.rs"]
mod moto;

use std::path::{Path, PathBuf};

use moto::{account, Account};

const REGION: &str = "us-east-1";

/// (file, variable, planted value) in the shapes.
const PLANTED: &[(&str, &str, &str)] = &[
    ("describe.json", "DB_PASSWORD", "Pl4nted-db-Pw-7713"),
    (
        "describe.json",
        "STRIPE_SECRET_KEY",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    ),
    ("register.json", "SMTP_PASSWORD", "Pl4nted-smtp-Pw-5521"),
    ("register.json", "API_TOKEN", "Pl4ntedTok3nZq9Xw2Lm8Rv5Ty1"),
    (
        "one-line-containers.json",
        "ADMIN_PASSWORD",
        "Pl4nted-admin-Pw-3390",
    ),
    (
        "array-of-tds.json",
        "REDIS_PASSWORD",
        "Pl4nted-redis-Pw-8842",
    ),
    (
        "lone-container.json",
        "JWT_SECRET",
        "Pl4nted-jwt-Secret-6610",
    ),
    ("cfn-template.json", "DB_PASSWORD", "Pl4nted-cfn-Pw-2277"),
    ("cfn-template.yaml", "DB_PASSWORD", "Pl4nted-yaml-Pw-4461"),
    (
        "cfn-template.yaml",
        "QUEUE_TOKEN",
        "Pl4ntedQueueTok9Vb3Xz7Kq2",
    ),
];

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn shapes() -> tempfile::TempDir {
    common::fix_shapes()
}

fn fix(dir: &Path, acct: &Account, env: &[(&'static str, String)], args: &[&str]) -> common::Run {
    let mut all_env = acct.env(REGION);
    all_env.extend(env.iter().cloned());
    let mut all = vec!["fix", "."];
    all.extend_from_slice(args);
    common::ecsguard_with(dir, &all_env, true, &all)
}

/// Every file under `dir`, journal included, as text.
fn everything(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let t = std::fs::read_to_string(&p).unwrap_or_default();
                out.push((p, t));
            }
        }
    }
    out.sort();
    out
}

fn shape_files(dir: &Path) -> Vec<(PathBuf, String)> {
    everything(dir)
        .into_iter()
        .filter(|(p, _)| p.parent() == Some(dir))
        .collect()
}

fn no_planted_value(what: &str, text: &str) {
    for (_, _, v) in PLANTED {
        assert!(!text.contains(v), "{what} holds a planted value:\n{text}");
    }
}

async fn parameter(acct: &Account, name: &str) -> Option<String> {
    let ssm = aws_sdk_ssm::Client::new(&acct.config(REGION).await);
    ssm.get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .ok()
        .and_then(|o| o.parameter().and_then(|p| p.value()).map(str::to_owned))
}

use common::cfn_lint;

#[test]
fn push_stores_every_literal_and_the_files_then_read_it() {
    let acct = rt().block_on(account("300000000001"));
    let dir = shapes();
    let lint_before = cfn_lint(&dir.path().join("cfn-template.json"));
    let lint_yaml_before = cfn_lint(&dir.path().join("cfn-template.yaml"));
    let run = fix(dir.path(), &acct, &[], &["--apply", "--push"]);
    // Files fixed; the execution roles' grants are left to do (exit 1).
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("execution role grant(s) to make"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("ssm:GetParameters")
            || run.stdout.contains("secretsmanager:GetSecretValue"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("18 fixed"), "{}", run.stdout);
    no_planted_value("stdout", &run.stdout);
    no_planted_value("stderr", &run.stderr);
    for (path, text) in everything(dir.path()) {
        no_planted_value(&path.display().to_string(), &text);
    }
    // The files read the stored values by ARN, and scan clean.
    let rescan = common::ecsguard_in(dir.path(), &["scan", "."]);
    assert_eq!(rescan.code, 0, "{}", rescan.stdout);
    let describe = std::fs::read_to_string(dir.path().join("describe.json")).expect("read");
    assert!(
        describe.contains(
            "\"valueFrom\": \"arn:aws:ssm:us-east-1:300000000001:parameter/ecsguard/shop-api/api/DB_PASSWORD\""
        ),
        "{describe}"
    );
    let parsed: serde_json::Value = serde_json::from_str(&describe).expect("still JSON");
    assert_eq!(
        parsed["taskDefinition"]["containerDefinitions"][0]["secrets"][0]["name"], "SESSION_KEY",
        "what was there stays first"
    );
    // Every value stored intact.
    rt().block_on(async {
        for (name, value) in [
            ("/ecsguard/shop-api/api/DB_PASSWORD", "Pl4nted-db-Pw-7713"),
            (
                "/ecsguard/shop-api/api/STRIPE_SECRET_KEY",
                "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            ),
            (
                "/ecsguard/mailer/sidecar/API_TOKEN",
                "Pl4ntedTok3nZq9Xw2Lm8Rv5Ty1",
            ),
            (
                "/ecsguard/one-line-containers/edge/ADMIN_PASSWORD",
                "Pl4nted-admin-Pw-3390",
            ),
            (
                "/ecsguard/lone-container/solo/JWT_SECRET",
                "Pl4nted-jwt-Secret-6610",
            ),
            ("/ecsguard/cfn-json/web/DB_PASSWORD", "Pl4nted-cfn-Pw-2277"),
            ("/ecsguard/cfn-yaml/api/DB_PASSWORD", "Pl4nted-yaml-Pw-4461"),
            (
                "/ecsguard/cfn-yaml/worker/QUEUE_TOKEN",
                "Pl4ntedQueueTok9Vb3Xz7Kq2",
            ),
        ] {
            assert_eq!(
                parameter(&acct, name).await.as_deref(),
                Some(value),
                "{name}"
            );
        }
    });
    // CRLF stays CRLF; tabs stay tabs.
    let lone = std::fs::read_to_string(dir.path().join("lone-container.json")).expect("read");
    assert!(!lone.replace("\r\n", "").contains('\n'), "{lone:?}");
    let tabs = std::fs::read_to_string(dir.path().join("array-of-tds.json")).expect("read");
    assert!(tabs.contains("\t\t\t\t\"secrets\": ["), "{tabs}");
    // No new cfn-lint error.
    let lint_after = cfn_lint(&dir.path().join("cfn-template.json"));
    let new: Vec<&String> = lint_after
        .iter()
        .filter(|l| !lint_before.contains(l))
        .collect();
    assert!(new.is_empty(), "cfn-lint: {new:?}");
    let lint_yaml_after = cfn_lint(&dir.path().join("cfn-template.yaml"));
    let new: Vec<&String> = lint_yaml_after
        .iter()
        .filter(|l| !lint_yaml_before.contains(l))
        .collect();
    assert!(new.is_empty(), "cfn-lint: {new:?}");
    // Terraform that passed `terraform fmt -check` still does.
    let fmt = std::process::Command::new("terraform")
        .args(["fmt", "-check", "-diff", "main.tf", "refs.tf"])
        .current_dir(dir.path())
        .output()
        .expect("terraform runs (it is on these machines)");
    assert!(
        fmt.status.success(),
        "terraform fmt: {}",
        String::from_utf8_lossy(&fmt.stdout)
    );
    // Comments elsewhere survive; the moved entry keeps its own.
    let yaml = std::fs::read_to_string(dir.path().join("cfn-template.yaml")).expect("read");
    assert!(yaml.contains("  # The API's task definition.\n"), "{yaml}");
    assert!(yaml.contains("- Name: DB_PASSWORD # must move\n"), "{yaml}");
    assert!(yaml.contains("Environment: []"), "{yaml}");
    // No execution role in main.tf: one is declared, set and granted.
    let tf = std::fs::read_to_string(dir.path().join("main.tf")).expect("read");
    assert!(
        tf.contains("execution_role_arn = aws_iam_role.web_execution.arn")
            && tf.contains("resource \"aws_iam_role_policy\" \"web_ecsguard_secrets\"")
            && tf.contains("parameter/ecsguard/tf-web/web/SESSION_SECRET\"")
            && !tf.contains("REGION"),
        "{tf}"
    );
    // A second run has nothing to write; the task definitions that still
    // have no execution role stay work to do (exit 1) until one is set.
    let files = shape_files(dir.path());
    let again = fix(dir.path(), &acct, &[], &["--apply", "--push"]);
    assert_eq!(again.code, 1, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again
            .stdout
            .contains("./describe.json shop-api: it has no execution role"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("0 file(s) written"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("0 fixed, 0 needs-push"),
        "{}",
        again.stdout
    );
    assert_eq!(shape_files(dir.path()), files);
}

#[test]
fn push_to_secrets_manager_keeps_one_secret_per_container_with_a_key_per_variable() {
    let acct = rt().block_on(account("300000000002"));
    let dir = shapes();
    let run = fix(
        dir.path(),
        &acct,
        &[],
        &["--apply", "--push", "--store", "secretsmanager"],
    );
    // Files fixed; the execution roles' grants are left to do (exit 1).
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("execution role grant(s) to make"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("ssm:GetParameters")
            || run.stdout.contains("secretsmanager:GetSecretValue"),
        "{}",
        run.stdout
    );
    no_planted_value("stdout", &run.stdout);
    rt().block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(&acct.config(REGION).await);
        let out = sm
            .get_secret_value()
            .secret_id("ecsguard/shop-api/api")
            .send()
            .await
            .expect("secret");
        let doc: serde_json::Value =
            serde_json::from_str(out.secret_string().unwrap_or("")).expect("json");
        assert_eq!(doc["DB_PASSWORD"], "Pl4nted-db-Pw-7713");
        assert_eq!(doc["STRIPE_SECRET_KEY"], "sk_live_4eC39HqLyjWDarjtT1zdp7dc");
        let arn = out.arn().expect("arn").to_owned();
        let describe = std::fs::read_to_string(dir.path().join("describe.json")).expect("read");
        assert!(
            describe.contains(&format!("\"valueFrom\": \"{arn}:DB_PASSWORD::\"")),
            "{describe}"
        );
    });
    let rescan = common::ecsguard_in(dir.path(), &["scan", "."]);
    assert_eq!(rescan.code, 0, "{}", rescan.stdout);
}

/// A failure after the values were stored and before the files are written
/// leaves every file as it was and the journal in place; the rerun finds the
/// values stored (the same values: reused) and writes the files.
#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs the test-hooks feature (./scripts/test turns it on)"
)]
fn a_failure_between_storing_and_writing_leaves_the_files_untouched() {
    let acct = rt().block_on(account("300000000003"));
    let dir = shapes();
    let files = shape_files(dir.path());
    let run = fix(
        dir.path(),
        &acct,
        &[("ECSGUARD_TEST_CORRUPT_REWRITE", "1".to_owned())],
        &["--apply", "--push"],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("does not parse"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("not written: the run stopped before writing any file"),
        "{}",
        run.stdout
    );
    assert_eq!(shape_files(dir.path()), files, "no file was changed");
    let journals: Vec<PathBuf> = std::fs::read_dir(dir.path().join(".ecsguard/journal"))
        .expect("journal dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(journals.len(), 1, "{journals:?}");
    let journal = std::fs::read_to_string(&journals[0]).expect("journal");
    assert!(journal.contains("\"completed\": true"), "{journal}");
    no_planted_value("journal", &journal);
    rt().block_on(async {
        assert_eq!(
            parameter(&acct, "/ecsguard/shop-api/api/DB_PASSWORD")
                .await
                .as_deref(),
            Some("Pl4nted-db-Pw-7713")
        );
    });
    let rerun = fix(dir.path(), &acct, &[], &["--apply", "--push"]);
    assert_eq!(rerun.code, 1, "{}\n{}", rerun.stdout, rerun.stderr);
    let rescan = common::ecsguard_in(dir.path(), &["scan", "."]);
    assert_eq!(rescan.code, 0, "{}", rescan.stdout);
}

/// A value already stored under the name with a different value is never
/// replaced without --overwrite, and no file is written.
#[test]
fn a_different_stored_value_stops_the_push_before_any_file_changes() {
    let acct = rt().block_on(async {
        let acct = account("300000000004").await;
        let ssm = aws_sdk_ssm::Client::new(&acct.config(REGION).await);
        ssm.put_parameter()
            .name("/ecsguard/shop-api/api/DB_PASSWORD")
            .value("someone-elses-value-1")
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("put");
        acct
    });
    let dir = shapes();
    let files = shape_files(dir.path());
    let run = fix(dir.path(), &acct, &[], &["--apply", "--push"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("--overwrite"), "{}", run.stdout);
    assert_eq!(shape_files(dir.path()), files);
    rt().block_on(async {
        assert_eq!(
            parameter(&acct, "/ecsguard/shop-api/api/DB_PASSWORD")
                .await
                .as_deref(),
            Some("someone-elses-value-1")
        );
    });
}

/// A literal passed to a template by `templatefile()` is stored, the
/// template reads its variable through `secrets`, and the call passes the
/// stored ARN; a `file()` container's grant goes to the task definition
/// that reads it.
#[test]
fn push_moves_template_variables_and_file_containers() {
    let acct = rt().block_on(account("300000000005"));
    let dir = common::copy_tree(&common::fixtures().join("file_fix_inputs"));
    let root = dir.path();
    let mut env = acct.env(REGION);
    env.push(("NO_COLOR", "1".to_owned()));
    let run = common::ecsguard_with(root, &env, true, &["fix", "tf", "--apply", "--push"]);
    assert!(
        run.code == 0 || run.code == 1,
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    for v in ["Pl4ntedSmtpPassw0rd", "Pl4ntedTwili0Tok3nA8c"] {
        assert!(
            !run.stdout.contains(v) && !run.stderr.contains(v),
            "{}",
            run.stdout
        );
    }
    let smtp = rt().block_on(parameter(&acct, "/ecsguard/reports/reports/SMTP_PASSWORD"));
    assert_eq!(
        smtp.as_deref(),
        Some("Pl4ntedSmtpPassw0rd"),
        "stored intact"
    );
    let twilio = rt().block_on(parameter(
        &acct,
        "/ecsguard/notifier/notifier/TWILIO_AUTH_TOKEN",
    ));
    assert_eq!(twilio.as_deref(), Some("Pl4ntedTwili0Tok3nA8c"));
    let tf = std::fs::read_to_string(root.join("tf/main.tf")).expect("read");
    assert!(
        tf.contains(
            "smtp_password = \"arn:aws:ssm:us-east-1:300000000005:parameter/ecsguard/reports/reports/SMTP_PASSWORD\""
        ),
        "{tf}"
    );
    assert!(!tf.contains("Pl4ntedSmtpPassw0rd"), "{tf}");
    assert!(
        tf.contains("resource \"aws_iam_role_policy\" \"notifier_ecsguard_secrets\" {"),
        "{tf}"
    );
    let tpl = std::fs::read_to_string(root.join("tf/templates/reports.json.tpl")).expect("read");
    assert!(
        tpl.contains("{\"name\": \"SMTP_PASSWORD\", \"valueFrom\": \"${smtp_password}\"}"),
        "{tpl}"
    );
    let notifier = std::fs::read_to_string(root.join("tf/containers/notifier.json")).expect("read");
    assert!(!notifier.contains("Pl4ntedTwili0Tok3nA8c"), "{notifier}");
    common::terraform_fmt(&root.join("tf")).expect("still fmt-clean");
    // Scanned again: only what the plan called manual is left in tf/.
    let scan = common::ecsguard_in(root, &["scan", "tf", "--format", "json"]).json();
    let left: Vec<String> = scan["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["variable"].as_str().unwrap_or("").to_owned())
        .collect();
    let mut left = left;
    left.sort();
    assert_eq!(
        left,
        ["PAYMENT_API_KEY", "PAYMENT_API_KEY", "REPORT_TOKEN"],
        "{scan}"
    );
}

/// The bar: `fix examples/ --apply --push` against moto leaves
/// `scan` with no findings but the ones the plan calls `manual` (and
/// explains), and a second run writes nothing.
#[test]
fn the_examples_fixed_with_push_scan_clean_but_for_the_manual_ones() {
    let acct = rt().block_on(account("300000000009"));
    let dir = common::copy_tree(&common::examples());
    let run = fix(
        dir.path(),
        &acct,
        &[],
        &["--apply", "--push", "--format", "json"],
    );
    assert!(
        run.code == 0 || run.code == 1,
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    let plan = run.json();
    let findings = plan["findings"].as_array().expect("findings");
    assert!(findings.iter().any(|f| f["outcome"] == "fixed"), "{plan}");
    let key = |file: &str, container: &serde_json::Value, variable: &serde_json::Value| {
        (
            file.trim_start_matches("./").to_owned(),
            container.as_str().unwrap_or("").to_owned(),
            variable.as_str().unwrap_or("").to_owned(),
        )
    };
    let manual: Vec<_> = findings
        .iter()
        .filter(|f| f["outcome"] == "manual")
        .inspect(|f| assert!(!f["reason"].as_str().unwrap_or("").is_empty(), "{f}"))
        .map(|f| {
            key(
                f["file"].as_str().unwrap_or(""),
                &f["container"],
                &f["variable"],
            )
        })
        .collect();
    assert!(
        findings
            .iter()
            .all(|f| f["outcome"] == "fixed" || f["outcome"] == "manual"),
        "{plan}"
    );
    let scan = common::ecsguard_with(
        dir.path(),
        &acct.env(REGION),
        true,
        &["scan", ".", "--format", "json"],
    );
    let report = scan.json();
    for f in report["findings"].as_array().expect("findings") {
        let k = key(
            f["location"]["file"].as_str().unwrap_or(""),
            &f["container"],
            &f["variable"],
        );
        assert!(manual.contains(&k), "left but not manual: {k:?}\n{plan}");
    }
    let again = fix(dir.path(), &acct, &[], &["--apply", "--push"]);
    assert!(
        again.stdout.contains("0 file(s) written"),
        "{}",
        again.stdout
    );
}
