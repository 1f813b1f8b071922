//! Security Hub both ways, against moto: `scan --to-securityhub` (import in
//! batches, stable ids, archive what is gone) and `fix --aws
//! --from-securityhub` (ECS.8 findings in, fixed, marked RESOLVED).
//! moto's `GetFindings` ignores filters, so every test also leaves findings
//! the filters must exclude; moto lacks `BatchUpdateFindings`, which the test
//! server adds (`tests/support/moto_server.py`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;
#[path = "common/moto.rs"]
mod moto;

use std::path::Path;

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, ComplianceStatus, RecordState, Resource, Severity,
    SeverityLabel, Workflow, WorkflowStatus,
};
use common::Run;
use moto::{account, register, Account};

const REGION: &str = "us-east-1";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn run(dir: &Path, acct: &Account, args: &[&str]) -> Run {
    let mut env = acct.env(REGION);
    env.push(("SOURCE_DATE_EPOCH", "1700000000".to_owned()));
    common::ecsguard_with(dir, &env, true, args)
}

async fn hub(acct: &Account) -> aws_sdk_securityhub::Client {
    aws_sdk_securityhub::Client::new(&acct.config(REGION).await)
}

/// Every finding in the account's Security Hub. On a thread with a large
/// stack: decoding the SDK's findings is too deep for a test thread's.
fn all_findings(acct: &Account) -> Vec<AwsSecurityFinding> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(s, || {
                rt().block_on(async {
                    let client = hub(acct).await;
                    let mut pages = client.get_findings().into_paginator().send();
                    let mut all = Vec::new();
                    while let Some(page) = pages.next().await {
                        all.extend(page.expect("get").findings().iter().cloned());
                    }
                    all
                })
            })
            .expect("thread")
            .join()
            .expect("findings read")
    })
}

fn ecsguard_ones(all: &[AwsSecurityFinding], state: RecordState) -> Vec<AwsSecurityFinding> {
    all.iter()
        .filter(|f| {
            f.generator_id
                .as_deref()
                .is_some_and(|g| g.starts_with("ecsguard/"))
                && f.record_state.as_ref() == Some(&state)
        })
        .cloned()
        .collect()
}

fn td_file(dir: &Path, name: &str, family: &str, vars: &[(&str, &str)]) {
    let env: Vec<String> = vars
        .iter()
        .map(|(k, v)| format!(r#"{{"name": "{k}", "value": "{v}"}}"#))
        .collect();
    common::write(
        dir,
        name,
        format!(
            r#"{{"family": "{family}", "containerDefinitions": [{{"name": "app", "image": "app:1", "environment": [{}]}}]}}"#,
            env.join(", ")
        ),
    );
}

/// A task definition file holding one planted `DB_PASSWORD`.
fn secret(dir: &Path, name: &str, family: &str, n: u32) {
    td_file(
        dir,
        name,
        family,
        &[("DB_PASSWORD", &format!("Pl4nted-db-password-{n}"))],
    );
}

/// The run said `what` on stderr.
fn says(run: &Run, what: &str) {
    assert!(
        run.stderr.contains(what),
        "wanted {what:?}:\n{}",
        run.stderr
    );
}

#[test]
fn iac_findings_are_imported_updated_in_place_and_archived_when_gone() {
    let rt = rt();
    let acct = rt.block_on(account("410000000001"));
    let dir = common::tempdir();
    td_file(
        dir.path(),
        "infra/a.json",
        "billing",
        &[
            ("DB_PASSWORD", "Pl4nted-db-password-1"),
            ("API_TOKEN", "Pl4nted-api-token-22"),
            ("LOG_LEVEL", "info"),
        ],
    );
    secret(dir.path(), "other/b.json", "search", 3);
    // The caller's account and region are found from the credentials.
    let first = run(dir.path(), &acct, &["scan", "infra", "--to-securityhub"]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    says(&first, "2 findings imported, 0 archived");
    let other = run(dir.path(), &acct, &["scan", "other", "--to-securityhub"]);
    assert_eq!(other.code, 1, "{}", other.stderr);
    let all = all_findings(&acct);
    let active = ecsguard_ones(&all, RecordState::Active);
    assert_eq!(active.len(), 3, "{active:#?}");
    for f in &active {
        assert_eq!(f.aws_account_id.as_deref(), Some("410000000001"));
        assert_eq!(
            f.product_arn.as_deref(),
            Some("arn:aws:securityhub:us-east-1:410000000001:product/410000000001/default")
        );
        assert_eq!(f.resources()[0].r#type.as_deref(), Some("Other"));
    }

    // A rescan updates the same findings: no duplicates.
    let again = run(dir.path(), &acct, &["scan", "./infra/", "--to-securityhub"]);
    says(&again, "2 findings imported, 0 archived");
    let all = all_findings(&acct);
    assert_eq!(ecsguard_ones(&all, RecordState::Active).len(), 3);

    // A secret moved away: its finding is archived, in this scope only.
    td_file(
        dir.path(),
        "infra/a.json",
        "billing",
        &[
            ("DB_PASSWORD", "Pl4nted-db-password-1"),
            ("LOG_LEVEL", "info"),
        ],
    );
    let fixed = run(dir.path(), &acct, &["scan", "infra", "--to-securityhub"]);
    says(&fixed, "1 finding imported, 1 archived");
    let all = all_findings(&acct);
    let active = ecsguard_ones(&all, RecordState::Active);
    let archived = ecsguard_ones(&all, RecordState::Archived);
    assert_eq!(active.len(), 2, "{active:#?}");
    assert_eq!(archived.len(), 1);
    let fields = archived[0].product_fields.as_ref().unwrap();
    assert_eq!(fields["ecsguard/Variable"], "API_TOKEN");
    // The search finding (another scope) is untouched.
    assert!(active
        .iter()
        .any(|f| f.product_fields.as_ref().unwrap()["ecsguard/Family"] == "search"));

    // No planted value reached Security Hub.
    let dump = format!("{all:?}");
    assert!(!dump.contains("Pl4nted"), "a value reached Security Hub");
}

#[test]
fn a_scan_with_errors_archives_nothing() {
    let rt = rt();
    let acct = rt.block_on(account("410000000002"));
    let dir = common::tempdir();
    secret(dir.path(), "a.json", "one", 1);
    secret(dir.path(), "b.json", "two", 2);
    let first = run(dir.path(), &acct, &["scan", ".", "--to-securityhub"]);
    says(&first, "2 findings imported");
    // b.json no longer parses: its finding may only be unread.
    common::write(
        dir.path(),
        "b.json",
        r#"{"family": "two", "containerDefinitions": [{"name": "app", "#,
    );
    let broken = run(dir.path(), &acct, &["scan", ".", "--to-securityhub"]);
    assert_eq!(broken.code, 2, "{}", broken.stderr);
    says(&broken, "nothing was archived");
    says(&broken, "1 finding imported, 0 archived");
    let all = all_findings(&acct);
    assert_eq!(ecsguard_ones(&all, RecordState::Active).len(), 2);
}

#[test]
fn more_than_one_batch_is_imported() {
    let rt = rt();
    let acct = rt.block_on(account("410000000003"));
    let dir = common::tempdir();
    for i in 0..130 {
        td_file(
            dir.path(),
            &format!("td/{i:03}.json"),
            &format!("svc-{i:03}"),
            &[("DB_PASSWORD", &format!("Pl4nted-db-password-{i:03}"))],
        );
    }
    let out = run(dir.path(), &acct, &["scan", "td", "--to-securityhub"]);
    says(&out, "130 findings imported, 0 archived");
    let all = all_findings(&acct);
    assert_eq!(ecsguard_ones(&all, RecordState::Active).len(), 130);
}

#[test]
fn live_findings_name_their_task_definition_and_control() {
    let rt = rt();
    let acct = rt.block_on(account("410000000004"));
    let dir = common::tempdir();
    let arn = rt.block_on(async {
        let ecs = acct.ecs(REGION).await;
        register(
            &ecs,
            "keys",
            &[
                (
                    "AWS_SECRET_ACCESS_KEY",
                    "Pl4ntedSecretAccessKeyValue0000000000000",
                ),
                ("LOG_LEVEL", "info"),
            ],
        )
        .await
    });
    let out = run(
        dir.path(),
        &acct,
        &["scan", "--aws", "--to-securityhub", "--format", "asff"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let printed = out.json();
    let f = &printed["Findings"][0];
    assert_eq!(f["Resources"][0]["Type"], "AwsEcsTaskDefinition");
    assert_eq!(f["Resources"][0]["Id"], arn.as_str());
    assert_eq!(f["Compliance"]["SecurityControlId"], "ECS.8");
    assert_eq!(f["AwsAccountId"], "410000000004");
    let all = all_findings(&acct);
    let active = ecsguard_ones(&all, RecordState::Active);
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].id.as_deref(), f["Id"].as_str());
    assert!(!out.stdout.contains("Pl4nted") && !format!("{all:?}").contains("Pl4nted"));
}

#[test]
fn iac_asff_needs_an_account_it_can_name() {
    let dir = common::tempdir();
    secret(dir.path(), "a.json", "one", 1);
    // No credentials, no region, no --account.
    let env = [
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
    ];
    let out = common::ecsguard_with(dir.path(), &env, true, &["scan", ".", "--format", "asff"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    says(&out, "--account");
    assert!(out.stdout.is_empty());
    // With --account and --region nothing is asked of AWS.
    let out = common::ecsguard_with(
        dir.path(),
        &env,
        true,
        &[
            "scan",
            ".",
            "--format",
            "asff",
            "--account",
            "123456789012",
            "--region",
            "eu-west-1",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let f = &out.json()["Findings"][0];
    assert_eq!(f["AwsAccountId"], "123456789012");
    assert_eq!(f["Region"], "eu-west-1");
    assert!(!out.stdout.contains("Pl4nted"));
    // A malformed account is a usage error.
    let bad = common::ecsguard_with(
        dir.path(),
        &env,
        true,
        &["scan", ".", "--format", "asff", "--account", "12345"],
    );
    assert_eq!(bad.code, 2);
    says(&bad, "12 digits");
}

/// The shapes Security Hub has filed control findings in.
#[derive(Clone, Copy)]
enum Shape {
    /// Consolidated control findings: `Compliance.SecurityControlId`.
    Consolidated,
    /// Per standard: the generator names the standard, `ProductFields`
    /// the control; no `SecurityControlId`.
    PerStandard,
}

/// A Security Hub control finding for `control`, as Security Hub files it.
fn control_finding(
    shape: Shape,
    control: &str,
    account: &str,
    arn: &str,
    workflow: WorkflowStatus,
    status: ComplianceStatus,
) -> AwsSecurityFinding {
    let id = format!(
        "arn:aws:securityhub:{REGION}:{account}:security-control/{control}/finding/{}",
        arn.rsplit('/').next().unwrap_or_default().replace(':', "-")
    );
    let mut compliance = Compliance::builder().status(status);
    let mut f = AwsSecurityFinding::builder();
    match shape {
        Shape::Consolidated => {
            compliance = compliance.security_control_id(control);
            f = f.generator_id(format!("security-control/{control}"));
        }
        Shape::PerStandard => {
            f = f
                .generator_id(format!(
                    "aws-foundational-security-best-practices/v/1.0.0/{control}"
                ))
                .product_fields("ControlId", control)
                .product_fields("StandardsArn", "arn:aws:securityhub:::standards/aws-foundational-security-best-practices/v/1.0.0");
        }
    }
    f.schema_version("2018-10-08")
        .id(id)
        .product_arn(format!(
            "arn:aws:securityhub:{REGION}::product/aws/securityhub"
        ))
        .aws_account_id(account)
        .types("Software and Configuration Checks/Industry and Regulatory Standards")
        .created_at("2024-01-01T00:00:00Z")
        .updated_at("2024-01-01T00:00:00Z")
        .severity(Severity::builder().label(SeverityLabel::High).build())
        .title("Secrets should not be passed as container environment variables")
        .description("d")
        .resources(
            Resource::builder()
                .r#type("AwsEcsTaskDefinition")
                .id(arn)
                .partition(aws_sdk_securityhub::types::Partition::Aws)
                .region(REGION)
                .build(),
        )
        .compliance(compliance.build())
        .workflow(Workflow::builder().status(workflow).build())
        .record_state(RecordState::Active)
        .build()
}

#[test]
fn from_securityhub_fixes_exactly_the_named_task_definitions_and_resolves_them() {
    let rt = rt();
    let acct = rt.block_on(account("410000000005"));
    let dir = common::tempdir();
    let (named, older, passed, suppressed, ecs5, _not_in_hub) = rt.block_on(async {
        let ecs = acct.ecs(REGION).await;
        let env = [(
            "AWS_SECRET_ACCESS_KEY",
            "Pl4ntedSecretAccessKeyValue0000000000000",
        )];
        (
            register(&ecs, "named", &env).await,
            register(&ecs, "older-shape", &env).await,
            register(&ecs, "passed", &env).await,
            register(&ecs, "suppressed", &env).await,
            register(&ecs, "other-control", &env).await,
            register(&ecs, "not-in-hub", &env).await,
        )
    });
    let id = "410000000005";
    rt.block_on(async {
        use ComplianceStatus::{Failed, Passed};
        use Shape::{Consolidated, PerStandard};
        use WorkflowStatus::{New, Notified, Suppressed};
        let client = hub(&acct).await;
        client
            .batch_import_findings()
            .findings(control_finding(
                Consolidated,
                "ECS.8",
                id,
                &named,
                New,
                Failed,
            ))
            .findings(control_finding(
                PerStandard,
                "ECS.8",
                id,
                &older,
                Notified,
                Failed,
            ))
            .findings(control_finding(
                Consolidated,
                "ECS.8",
                id,
                &passed,
                New,
                Passed,
            ))
            .findings(control_finding(
                Consolidated,
                "ECS.8",
                id,
                &suppressed,
                Suppressed,
                Failed,
            ))
            .findings(control_finding(
                Consolidated,
                "ECS.5",
                id,
                &ecs5,
                New,
                Failed,
            ))
            .findings(control_finding(
                Consolidated,
                "ECS.8",
                "999999999999",
                "arn:aws:ecs:us-east-1:999999999999:task-definition/x:1",
                New,
                Failed,
            ))
            .send()
            .await
            .expect("import");
    });
    // The plan names only the task definition of the open, failed finding.
    let plan = run(
        dir.path(),
        &acct,
        &["fix", "--aws", "--from-securityhub", "--journal-dir", "j"],
    );
    assert!(
        plan.stdout.contains("named"),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    for left in ["passed", "suppressed", "not-in-hub"] {
        assert!(!plan.stdout.contains(left), "{left}:\n{}", plan.stdout);
    }
    // The finding about another account is an error that names it.
    says(&plan, "999999999999");

    let applied = run(
        dir.path(),
        &acct,
        &[
            "fix",
            "--aws",
            "--from-securityhub",
            "--apply",
            "--journal-dir",
            "j",
        ],
    );
    assert!(
        applied.stderr.contains("2 findings marked RESOLVED"),
        "{}\n{}",
        applied.stdout,
        applied.stderr
    );
    let all = all_findings(&acct);
    let workflow = |f: &AwsSecurityFinding| f.workflow.as_ref().and_then(|w| w.status.clone());
    for (arn, want) in [
        (&named, WorkflowStatus::Resolved),
        (&older, WorkflowStatus::Resolved),
        (&passed, WorkflowStatus::New),
        (&ecs5, WorkflowStatus::New),
    ] {
        let f = all
            .iter()
            .find(|f| {
                f.resources()
                    .iter()
                    .any(|r| r.id.as_deref() == Some(arn.as_str()))
            })
            .unwrap();
        assert_eq!(workflow(f), Some(want), "{arn}");
        if workflow(f) == Some(WorkflowStatus::Resolved) {
            let note = f
                .note
                .as_ref()
                .and_then(|n| n.text.clone())
                .unwrap_or_default();
            assert!(note.contains("Rotate"), "{note}");
        }
    }
    // Only the named family got a new revision.
    rt.block_on(async {
        let ecs = acct.ecs(REGION).await;
        for (family, revisions) in [
            ("named", 2),
            ("passed", 1),
            ("suppressed", 1),
            ("not-in-hub", 1),
        ] {
            let list = ecs
                .list_task_definitions()
                .family_prefix(family)
                .send()
                .await
                .expect("list");
            let n = list
                .task_definition_arns()
                .iter()
                .filter(|a| a.contains(&format!("/{family}:")))
                .count();
            assert_eq!(n, revisions, "{family}");
        }
    });
    // A second run finds nothing open.
    let again = run(
        dir.path(),
        &acct,
        &[
            "fix",
            "--aws",
            "--from-securityhub",
            "--apply",
            "--journal-dir",
            "j",
        ],
    );
    says(&again, "0 active, failed ECS.8 findings");
    assert!(!format!(
        "{}{}{}{}",
        plan.stdout, plan.stderr, applied.stdout, applied.stderr
    )
    .contains("Pl4nted"));
}

#[test]
fn a_narrower_ruleset_archives_only_what_it_looked_for() {
    let rt = rt();
    let acct = rt.block_on(account("410000000006"));
    let dir = common::tempdir();
    td_file(
        dir.path(),
        "a.json",
        "one",
        &[
            ("DB_PASSWORD", "Pl4nted-db-password-1"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "Pl4ntedSecretAccessKeyValue0000000000000",
            ),
        ],
    );
    let all_rules = run(dir.path(), &acct, &["scan", ".", "--to-securityhub"]);
    says(&all_rules, "2 findings imported");
    // ECS.8 parity only: the other rules' findings are not looked for, so
    // they are not gone.
    let narrow = run(
        dir.path(),
        &acct,
        &["scan", ".", "--ruleset", "securityhub", "--to-securityhub"],
    );
    says(&narrow, "1 finding imported, 0 archived");
    // The same with a config that selects one rule.
    common::write(
        dir.path(),
        ".ecsguard.toml",
        "[rules]\nselect = [\"secret-named-variable\"]\n",
    );
    let selected = run(dir.path(), &acct, &["scan", ".", "--to-securityhub"]);
    says(&selected, "0 archived");
    assert_eq!(
        ecsguard_ones(&all_findings(&acct), RecordState::Active).len(),
        2
    );
}

// ---- breaks found by the adversarial pass -----------------------------------

/// A repository: a folder with `.git/config` naming its origin.
fn repo(dir: &Path, origin: &str) {
    common::write(
        dir,
        ".git/config",
        format!("[core]\n\tbare = false\n[remote \"origin\"]\n\turl = {origin}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n"),
    );
}

#[test]
fn ids_do_not_depend_on_the_folder_a_scan_runs_from_and_repositories_stay_apart() {
    let rt = rt();
    let acct = rt.block_on(account("410000000010"));
    let top = common::tempdir();
    let a = top.path().join("repo-a");
    let b = top.path().join("repo-b");
    repo(&a, "https://user:Pl4ntedGitToken77@github.com/acme/a.git");
    repo(&b, "git@github.com:acme/b.git");
    for dir in [&a, &b] {
        secret(dir, "infra/td.json", "svc", 1);
    }
    // The same files, named three ways, from three folders.
    let abs = a.join("infra");
    for (cwd, path) in [
        (a.as_path(), "infra"),
        (abs.as_path(), "."),
        (top.path(), abs.to_str().unwrap()),
    ] {
        let out = run(cwd, &acct, &["scan", path, "--to-securityhub"]);
        says(&out, "1 finding imported, 0 archived");
    }
    // Another repository, with the same layout, archives nothing of the first.
    let out = run(&b, &acct, &["scan", ".", "--to-securityhub"]);
    says(&out, "1 finding imported, 0 archived");
    let all = all_findings(&acct);
    let active = ecsguard_ones(&all, RecordState::Active);
    assert_eq!(active.len(), 2, "{active:#?}");
    let projects: Vec<&str> = active
        .iter()
        .map(|f| f.product_fields.as_ref().unwrap()["ecsguard/Project"].as_str())
        .collect();
    assert!(
        projects.contains(&"https://github.com/acme/a.git"),
        "{projects:?}"
    );
    assert!(projects.contains(&"github.com:acme/b.git"), "{projects:?}");
    assert!(
        !format!("{all:?}").contains("Pl4nted"),
        "a token or value reached Security Hub"
    );
}

#[test]
fn a_scan_of_a_parent_folder_archives_what_a_subfolder_scan_sent() {
    let rt = rt();
    let acct = rt.block_on(account("410000000011"));
    let dir = common::tempdir();
    repo(dir.path(), "https://example.com/t2.git");
    secret(dir.path(), "t2/sub/td.json", "svc", 1);
    secret(dir.path(), "t2/other.json", "oth", 2);
    let sub = run(dir.path(), &acct, &["scan", "t2/sub", "--to-securityhub"]);
    says(&sub, "1 finding imported");
    // The subfolder's scan does not archive the rest of t2.
    let parent = run(dir.path(), &acct, &["scan", "t2", "--to-securityhub"]);
    says(&parent, "2 findings imported, 0 archived");
    let narrow = run(dir.path(), &acct, &["scan", "t2/sub", "--to-securityhub"]);
    says(&narrow, "1 finding imported, 0 archived");
    // The secret leaves t2/sub: a scan of t2 archives it.
    td_file(
        dir.path(),
        "t2/sub/td.json",
        "svc",
        &[("LOG_LEVEL", "info")],
    );
    let fixed = run(dir.path(), &acct, &["scan", "t2", "--to-securityhub"]);
    says(&fixed, "1 finding imported, 1 archived");
}

#[test]
fn refused_findings_archive_nothing() {
    let rt = rt();
    let acct = rt.block_on(account("410000000012"));
    let dir = common::tempdir();
    secret(dir.path(), "td.json", "svc", 1);
    let first = run(dir.path(), &acct, &["scan", ".", "--to-securityhub"]);
    says(&first, "1 finding imported");
    // Filed under another account: refused, so nothing is known to be gone.
    let wrong = run(
        dir.path(),
        &acct,
        &["scan", ".", "--to-securityhub", "--account", "999999999999"],
    );
    assert_eq!(wrong.code, 2, "{}", wrong.stderr);
    says(&wrong, "nothing was archived");
    says(&wrong, "0 findings imported, 0 archived");
    assert_eq!(
        ecsguard_ones(&all_findings(&acct), RecordState::Active).len(),
        1
    );
}

#[test]
fn twin_task_definitions_in_one_file_are_two_findings() {
    let rt = rt();
    let acct = rt.block_on(account("410000000013"));
    let dir = common::tempdir();
    let td = |id: &str| {
        format!("  {id}:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      Family: shop\n      ContainerDefinitions:\n        - Name: web\n          Environment:\n            - Name: DB_PASSWORD\n              Value: Pl4nted-db-password-1\n")
    };
    common::write(
        dir.path(),
        "stack.yaml",
        format!("Resources:\n{}{}", td("Blue"), td("Green")),
    );
    let out = run(dir.path(), &acct, &["scan", ".", "--to-securityhub"]);
    says(&out, "2 findings imported");
    assert_eq!(
        ecsguard_ones(&all_findings(&acct), RecordState::Active).len(),
        2
    );
}

#[test]
fn a_live_scan_of_latest_revisions_keeps_older_revisions_findings() {
    let rt = rt();
    let acct = rt.block_on(account("410000000014"));
    let dir = common::tempdir();
    rt.block_on(async {
        let ecs = acct.ecs(REGION).await;
        let env = [(
            "AWS_SECRET_ACCESS_KEY",
            "Pl4ntedSecretAccessKeyValue0000000000000",
        )];
        register(&ecs, "web", &env).await;
        register(&ecs, "web", &env).await;
    });
    let all = run(
        dir.path(),
        &acct,
        &["scan", "--aws", "--all-revisions", "--to-securityhub"],
    );
    says(&all, "2 findings imported");
    // web:1 was not read this time: its finding is not gone.
    let latest = run(dir.path(), &acct, &["scan", "--aws", "--to-securityhub"]);
    says(&latest, "1 finding imported, 0 archived");
    assert_eq!(
        ecsguard_ones(&all_findings(&acct), RecordState::Active).len(),
        2
    );
}

#[test]
fn usage_errors_before_anything_is_asked_of_aws() {
    let dir = common::tempdir();
    secret(dir.path(), "td.json", "svc", 1);
    let none: [(&str, String); 2] = [
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
    ];
    for args in [
        &["fix", ".", "--from-securityhub"][..],
        &["fix", ".", "--from-securityhub", "--apply", "--push"][..],
        &["scan", ".", "--all-regions"][..],
        &["scan", ".", "--all-revisions"][..],
        &["scan", ".", "--region", "eu-west-1"][..],
        &[
            "scan",
            ".",
            "--format",
            "asff",
            "--account",
            "123456789012",
            "--region",
            "",
        ][..],
        &[
            "scan",
            ".",
            "--format",
            "asff",
            "--account",
            "123456789012",
            "--region",
            "us-east-1:evil",
        ][..],
        &[
            "scan",
            ".",
            "--format",
            "asff",
            "--account",
            "123456789012",
            "--region",
            "eu-west-1",
            "--region",
            "eu-west-2",
        ][..],
        &["scan", "--aws", "--account", "123456789012"][..],
    ] {
        let out = common::ecsguard_with(dir.path(), &none, true, args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
    // Nothing was rewritten.
    let text = std::fs::read_to_string(dir.path().join("td.json")).unwrap();
    assert!(text.contains("Pl4nted-db-password-1"));
    // No region and no credentials: a setup error (2), not a failed fix (3).
    let out = common::ecsguard_with(
        dir.path(),
        &none,
        true,
        &["fix", "--aws", "--from-securityhub", "--journal-dir", "j"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    // A negative SOURCE_DATE_EPOCH is not a date.
    let env = [("SOURCE_DATE_EPOCH", "-1".to_owned())];
    let out = common::ecsguard_with(
        dir.path(),
        &env,
        false,
        &[
            "scan",
            ".",
            "--format",
            "asff",
            "--account",
            "123456789012",
            "--region",
            "eu-west-1",
        ],
    );
    assert!(!out.stdout.contains("1969-"), "{}", out.stdout);
}

#[test]
fn from_securityhub_resolves_only_what_was_fixed_whole() {
    let rt = rt();
    let acct = rt.block_on(account("410000000015"));
    let id = "410000000015";
    let dir = common::tempdir();
    let env = [(
        "AWS_SECRET_ACCESS_KEY",
        "Pl4ntedSecretAccessKeyValue0000000000000",
    )];
    let (api1, web1, empty1, earlier1) = rt.block_on(async {
        let ecs = acct.ecs(REGION).await;
        let api1 = register(&ecs, "api", &env).await;
        let web1 = register(&ecs, "web", &env).await;
        // web:2 is the latest: a fix replaces it, not web:1.
        register(&ecs, "web", &env).await;
        // An empty ECS.8 variable: the fix cannot store it, so it stays.
        let empty1 = register(
            &ecs,
            "empty",
            &[
                ("AWS_ACCESS_KEY_ID", ""),
                ("DB_PASSWORD", "Pl4nted-db-password-1"),
            ],
        )
        .await;
        let earlier1 = register(&ecs, "earlier", &env).await;
        (api1, web1, empty1, earlier1)
    });
    // `earlier` is fixed before Security Hub's findings are read.
    let before = run(
        dir.path(),
        &acct,
        &[
            "fix",
            "--aws",
            "--family",
            "earlier",
            "--apply",
            "--journal-dir",
            "j",
        ],
    );
    assert_eq!(before.code, 0, "{}", before.stderr);
    rt.block_on(async {
        use ComplianceStatus::Failed;
        use Shape::Consolidated;
        use WorkflowStatus::New;
        let client = hub(&acct).await;
        // One finding naming two task definitions, one of which the fix
        // will not replace.
        let mut both = control_finding(Consolidated, "ECS.8", id, &api1, New, Failed);
        both.id = Some("f-both".into());
        both.resources.get_or_insert_with(Vec::new).push(
            Resource::builder()
                .r#type("AwsEcsTaskDefinition")
                .id(&web1)
                .region(REGION)
                .build(),
        );
        let mut fake = control_finding(Consolidated, "ECS.8", id, &api1, New, Failed);
        fake.id = Some("f-other-product".into());
        fake.product_arn = Some(format!(
            "arn:aws:securityhub:{REGION}:{id}:product/{id}/default"
        ));
        client
            .batch_import_findings()
            .findings(both)
            .findings(control_finding(
                Consolidated,
                "ECS.8",
                id,
                &empty1,
                New,
                Failed,
            ))
            .findings(control_finding(
                Consolidated,
                "ECS.8",
                id,
                &earlier1,
                New,
                Failed,
            ))
            .findings(fake)
            .send()
            .await
            .expect("import");
    });
    let out = run(
        dir.path(),
        &acct,
        &[
            "fix",
            "--aws",
            "--from-securityhub",
            "--apply",
            "--journal-dir",
            "j",
        ],
    );
    // The other product's finding is not taken.
    says(&out, "3 active, failed ECS.8 findings");
    assert!(
        out.stderr.contains("1 finding marked RESOLVED"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    let all = all_findings(&acct);
    let status = |arn: &str, id_prefix: &str| {
        all.iter()
            .find(|f| {
                f.id.as_deref().is_some_and(|i| i.starts_with(id_prefix))
                    && f.resources().iter().any(|r| r.id.as_deref() == Some(arn))
            })
            .and_then(|f| f.workflow.as_ref().and_then(|w| w.status.clone()))
    };
    // Fixed earlier, from the journal: resolved.
    assert_eq!(status(&earlier1, "arn:"), Some(WorkflowStatus::Resolved));
    // api was fixed, web:1 was not: the finding naming both stays open.
    assert_eq!(status(&api1, "f-both"), Some(WorkflowStatus::New));
    assert!(out.stderr.contains(&web1), "{}", out.stderr);
    // The new revision of `empty` still fails ECS.8: open, and said so.
    assert_eq!(status(&empty1, "arn:"), Some(WorkflowStatus::New));
    says(&out, "AWS_ACCESS_KEY_ID");
}

#[test]
fn a_worktree_files_what_its_repository_files_and_two_repositories_are_refused() {
    let top = common::tempdir();
    let main = top.path().join("main");
    repo(&main, "https://example.com/acme/main.git");
    // A worktree: `.git` is a file naming the repository's worktree folder.
    common::write(&main, ".git/worktrees/wt/commondir", "../..\n");
    let wt = top.path().join("wt");
    common::write(
        &wt,
        ".git",
        format!("gitdir: {}\n", main.join(".git/worktrees/wt").display()),
    );
    for dir in [&main, &wt] {
        secret(dir, "infra/td.json", "svc", 1);
    }
    let asff = |cwd: &Path, args: &[&str]| {
        let mut all = vec![
            "scan",
            "--format",
            "asff",
            "--account",
            "123456789012",
            "--region",
            "eu-west-1",
        ];
        all.extend_from_slice(args);
        common::ecsguard_in(cwd, &all)
    };
    let a = asff(&main, &["."]).json();
    let b = asff(&wt, &["."]).json();
    assert_eq!(a["Findings"][0]["Id"], b["Findings"][0]["Id"]);
    assert_eq!(
        a["Findings"][0]["ProductFields"]["ecsguard/Project"],
        "https://example.com/acme/main.git"
    );
    // Two repositories in one run: refused, nothing printed.
    let other = top.path().join("other");
    repo(&other, "https://example.com/acme/other.git");
    secret(&other, "td.json", "o", 2);
    let both = asff(top.path(), &["main", "other"]);
    assert_eq!(both.code, 2, "{}", both.stderr);
    says(&both, "not in the same repository");
    assert!(both.stdout.is_empty());
}

#[test]
fn a_file_the_walk_leaves_out_keeps_its_findings() {
    let rt = rt();
    let acct = rt.block_on(account("410000000016"));
    let dir = common::tempdir();
    repo(dir.path(), "https://example.com/acme/ignored.git");
    secret(dir.path(), "td/local.json", "local", 1);
    secret(dir.path(), "td/kept.json", "kept", 2);
    let first = run(dir.path(), &acct, &["scan", "td", "--to-securityhub"]);
    says(&first, "2 findings imported, 0 archived");
    // Ignored from now on: not read, so not known to be clean.
    common::write(dir.path(), ".gitignore", "td/local.json\n");
    let again = run(dir.path(), &acct, &["scan", ".", "--to-securityhub"]);
    says(&again, "1 finding imported, 0 archived");
    // Deleted: gone for good.
    std::fs::remove_file(dir.path().join("td/local.json")).unwrap();
    let gone = run(dir.path(), &acct, &["scan", ".", "--to-securityhub"]);
    says(&gone, "1 finding imported, 1 archived");
}

#[test]
fn a_nested_repository_files_its_files_as_a_scan_of_it_does() {
    let top = common::tempdir();
    let outer = top.path().join("outer");
    let inner = outer.join("vendor/inner");
    repo(&outer, "https://example.com/acme/outer.git");
    repo(&inner, "https://example.com/acme/inner.git");
    secret(&inner, "td.json", "svc", 1);
    secret(&outer, "td.json", "top", 2);
    let asff = |cwd: &Path, path: &str| {
        common::ecsguard_in(
            cwd,
            &[
                "scan",
                path,
                "--format",
                "asff",
                "--account",
                "123456789012",
                "--region",
                "eu-west-1",
            ],
        )
        .json()
    };
    let from_outer = asff(&outer, ".");
    let from_inner = asff(&inner, ".");
    let find = |report: &serde_json::Value, family: &str| {
        report["Findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["ProductFields"]["ecsguard/Family"] == family)
            .cloned()
            .unwrap()
    };
    let a = find(&from_outer, "svc");
    let b = find(&from_inner, "svc");
    assert_eq!(a["Id"], b["Id"]);
    assert_eq!(
        a["ProductFields"]["ecsguard/Project"],
        "https://example.com/acme/inner.git"
    );
    assert_eq!(a["ProductFields"]["ecsguard/Path"], "td.json");
    assert_eq!(
        find(&from_outer, "top")["ProductFields"]["ecsguard/Project"],
        "https://example.com/acme/outer.git"
    );
}
