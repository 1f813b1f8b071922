//! `ecsguard fix --aws` and `ecsguard rollback` against a moto server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;
#[path = "common/moto.rs"]
mod moto;
#[path = "common/proxy.rs"]
mod proxy;

use std::path::Path;

use common::Run;
use moto::{account, register_with_role, Account};

const REGION: &str = "us-east-1";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn fix_in(dir: &Path, acct: &Account, extra_env: &[(&'static str, String)], args: &[&str]) -> Run {
    let mut env = acct.env(REGION);
    env.extend(extra_env.iter().cloned());
    let mut all = vec!["fix", "--aws", "--journal-dir", "journal"];
    all.extend_from_slice(args);
    common::ecsguard_with(dir, &env, true, &all)
}

struct World {
    acct: Account,
    old_arn: String,
    role_arn: String,
}

/// A family `app` with two secrets and a harmless variable, an execution
/// role, and a service running it in cluster `main`.
async fn world(id: &str, with_role: bool) -> World {
    let acct = account(id).await;
    let config = acct.config(REGION).await;
    let iam = aws_sdk_iam::Client::new(&config);
    let role_arn = if with_role {
        iam.create_role()
            .role_name("execution")
            .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
            .send()
            .await
            .expect("role")
            .role()
            .map(|r| r.arn().to_owned())
            .expect("arn")
    } else {
        String::new()
    };
    let ecs = acct.ecs(REGION).await;
    let old_arn = register_with_role(
        &ecs,
        "app",
        &[
            ("DB_PASSWORD", "Orig1nal-db-pw"),
            ("API_TOKEN", "tok-123456789"),
            ("LOG_LEVEL", "info"),
        ],
        with_role.then_some(role_arn.as_str()),
    )
    .await;
    ecs.create_cluster()
        .cluster_name("main")
        .send()
        .await
        .expect("cluster");
    ecs.create_service()
        .cluster("main")
        .service_name("web")
        .task_definition(&old_arn)
        .desired_count(1)
        .send()
        .await
        .expect("service");
    World {
        acct,
        old_arn,
        role_arn,
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

async fn revisions(acct: &Account) -> Vec<String> {
    let ecs = acct.ecs(REGION).await;
    let mut all = Vec::new();
    for status in [
        aws_sdk_ecs::types::TaskDefinitionStatus::Active,
        aws_sdk_ecs::types::TaskDefinitionStatus::Inactive,
    ] {
        let out = ecs
            .list_task_definitions()
            .family_prefix("app")
            .status(status)
            .send()
            .await
            .expect("list");
        all.extend(out.task_definition_arns().iter().cloned());
    }
    all.sort();
    all
}

async fn service_td(acct: &Account) -> String {
    let ecs = acct.ecs(REGION).await;
    let out = ecs
        .describe_services()
        .cluster("main")
        .services("web")
        .send()
        .await
        .expect("describe");
    out.services()[0]
        .task_definition()
        .unwrap_or_default()
        .to_owned()
}

async fn describe(acct: &Account, arn: &str) -> aws_sdk_ecs::types::TaskDefinition {
    let ecs = acct.ecs(REGION).await;
    ecs.describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .expect("describe")
        .task_definition
        .expect("td")
}

/// The state a finished SSM fix must leave.
async fn assert_fixed(w: &World) {
    let acct = &w.acct;
    assert_eq!(
        parameter(acct, "/ecsguard/app/app/DB_PASSWORD")
            .await
            .as_deref(),
        Some("Orig1nal-db-pw")
    );
    assert_eq!(
        parameter(acct, "/ecsguard/app/app/API_TOKEN")
            .await
            .as_deref(),
        Some("tok-123456789")
    );
    let revs = revisions(acct).await;
    assert_eq!(revs.len(), 2, "exactly one new revision: {revs:?}");
    let new_arn = revs.iter().find(|a| **a != w.old_arn).expect("new").clone();
    let new = describe(acct, &new_arn).await;
    let c = &new.container_definitions()[0];
    let env: Vec<&str> = c.environment().iter().filter_map(|e| e.name()).collect();
    assert_eq!(env, ["LOG_LEVEL"]);
    let mut secrets: Vec<(&str, &str)> = c
        .secrets()
        .iter()
        .map(|s| (s.name(), s.value_from()))
        .collect();
    secrets.sort();
    assert_eq!(
        secrets,
        [
            (
                "API_TOKEN",
                format!(
                    "arn:aws:ssm:us-east-1:{}:parameter/ecsguard/app/app/API_TOKEN",
                    acct.id
                )
                .as_str()
            ),
            (
                "DB_PASSWORD",
                format!(
                    "arn:aws:ssm:us-east-1:{}:parameter/ecsguard/app/app/DB_PASSWORD",
                    acct.id
                )
                .as_str()
            ),
        ]
    );
    assert_eq!(new.execution_role_arn(), Some(w.role_arn.as_str()));
    assert_eq!(service_td(acct).await, new_arn);
    let iam = aws_sdk_iam::Client::new(&acct.config(REGION).await);
    let policy = iam
        .get_role_policy()
        .role_name("execution")
        .policy_name(policy_named(acct, "execution", "ecsguard-secrets-app-us-east-1-1-").await)
        .send()
        .await
        .expect("inline policy");
    let doc = urlencoding_decode(policy.policy_document());
    assert!(doc.contains("ssm:GetParameters"), "{doc}");
    assert!(
        doc.contains("parameter/ecsguard/app/app/DB_PASSWORD")
            && doc.contains("parameter/ecsguard/app/app/API_TOKEN"),
        "{doc}"
    );
    assert!(!doc.contains('*'), "no wildcard: {doc}");
}

/// The name of the role's inline policy that starts with `prefix` (the
/// plan id ends it), or "" when there is none.
async fn policy_named(acct: &Account, role: &str, prefix: &str) -> String {
    let iam = aws_sdk_iam::Client::new(&acct.config(REGION).await);
    let out = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .expect("list role policies");
    let found: Vec<&String> = out
        .policy_names()
        .iter()
        .filter(|n| n.starts_with(prefix))
        .collect();
    assert!(found.len() <= 1, "{found:?}");
    found.first().map(|n| (*n).clone()).unwrap_or_default()
}

/// IAM returns policy documents URL-encoded.
fn urlencoding_decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let w = rt().block_on(world("200000000001", true));
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &w.acct, &[], &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for expected in [
        "/ecsguard/app/app/DB_PASSWORD",
        "- environment  DB_PASSWORD",
        "+ secrets      DB_PASSWORD valueFrom arn:aws:ssm:us-east-1:200000000001:parameter/ecsguard/app/app/DB_PASSWORD",
        "execution role execution: inline policy ecsguard-secrets-app",
        "aws ecs update-service --cluster",
        "rotate the exposed values",
        "dry run",
    ] {
        assert!(run.stdout.contains(expected), "missing {expected:?} in:\n{}", run.stdout);
    }
    let json = fix_in(dir.path(), &w.acct, &[], &["--format", "json"]).json();
    assert_eq!(json["plans"][0]["moves"].as_array().map(Vec::len), Some(2));
    assert_eq!(json["plans"][0]["services"][0]["service"], "web");
    rt().block_on(async {
        assert_eq!(
            parameter(&w.acct, "/ecsguard/app/app/DB_PASSWORD").await,
            None
        );
        assert_eq!(revisions(&w.acct).await.len(), 1);
    });
    assert!(
        !dir.path().join("journal").exists(),
        "a dry run writes no journal"
    );
}

#[test]
fn ssm_fix_moves_values_updates_services_and_is_idempotent() {
    let w = rt().block_on(world("200000000002", true));
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    rt().block_on(assert_fixed(&w));
    // A rerun finds nothing left to do and registers nothing.
    let again = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("0 task definitions fixed"),
        "{}",
        again.stdout
    );
    rt().block_on(assert_fixed(&w));
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs the test-hooks feature (./scripts/test turns it on)"
)]
fn interrupted_after_any_step_a_rerun_completes_without_loss_or_duplicates() {
    // Steps: 2 parameters, role, policy, registration, service update.
    for k in 1..=6usize {
        let id = format!("2000000001{k:02}");
        let w = rt().block_on(world(&id, true));
        let dir = common::tempdir();
        let stop = [("ECSGUARD_TEST_STOP_AFTER", k.to_string())];
        let first = fix_in(
            dir.path(),
            &w.acct,
            &stop,
            &["--apply", "--update-services"],
        );
        assert_eq!(
            first.code, 3,
            "step {k}: {}\n{}",
            first.stdout, first.stderr
        );
        let second = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
        assert_eq!(
            second.code, 0,
            "step {k}: {}\n{}",
            second.stdout, second.stderr
        );
        rt().block_on(assert_fixed(&w));
    }
}

#[test]
fn a_different_existing_value_is_never_overwritten_silently() {
    let w = rt().block_on(async {
        let w = world("200000000003", true).await;
        let ssm = aws_sdk_ssm::Client::new(&w.acct.config(REGION).await);
        ssm.put_parameter()
            .name("/ecsguard/app/app/DB_PASSWORD")
            .value("someone-elses-value")
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("put");
        w
    });
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &w.acct, &[], &["--apply"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("--overwrite"), "{}", run.stdout);
    rt().block_on(async {
        assert_eq!(
            parameter(&w.acct, "/ecsguard/app/app/DB_PASSWORD")
                .await
                .as_deref(),
            Some("someone-elses-value")
        );
        assert_eq!(revisions(&w.acct).await.len(), 1, "nothing registered");
    });
    let run = fix_in(
        dir.path(),
        &w.acct,
        &[],
        &["--apply", "--update-services", "--overwrite"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    rt().block_on(assert_fixed(&w));
}

#[test]
fn secrets_manager_store_creates_the_role_it_needs() {
    let w = rt().block_on(world("200000000004", false));
    let dir = common::tempdir();
    let run = fix_in(
        dir.path(),
        &w.acct,
        &[],
        &["--apply", "--store", "secretsmanager", "--format", "json"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    let new_arn = report["plans"][0]["new_arn"]
        .as_str()
        .expect("new arn")
        .to_owned();
    rt().block_on(async {
        let config = w.acct.config(REGION).await;
        let sm = aws_sdk_secretsmanager::Client::new(&config);
        let secret = sm
            .get_secret_value()
            .secret_id("ecsguard/app/app")
            .send()
            .await
            .expect("secret");
        let doc: serde_json::Value =
            serde_json::from_str(secret.secret_string().unwrap_or_default()).expect("json");
        assert_eq!(doc["DB_PASSWORD"], "Orig1nal-db-pw");
        assert_eq!(doc["API_TOKEN"], "tok-123456789");
        let secret_arn = secret.arn().unwrap_or_default().to_owned();
        let new = describe(&w.acct, &new_arn).await;
        let secrets: Vec<(&str, &str)> = new.container_definitions()[0]
            .secrets()
            .iter()
            .map(|s| (s.name(), s.value_from()))
            .collect();
        assert!(
            secrets.contains(&(
                "DB_PASSWORD",
                format!("{secret_arn}:DB_PASSWORD::").as_str()
            )),
            "{secrets:?}"
        );
        let role_arn = new.execution_role_arn().expect("a role was given");
        assert!(
            role_arn.ends_with(":role/ecsguard-execution-app"),
            "{role_arn}"
        );
        let iam = aws_sdk_iam::Client::new(&config);
        let role = iam
            .get_role()
            .role_name("ecsguard-execution-app")
            .send()
            .await
            .expect("role");
        assert!(urlencoding_decode(
            role.role()
                .and_then(|r| r.assume_role_policy_document())
                .unwrap_or_default()
        )
        .contains("ecs-tasks.amazonaws.com"));
        let attached = iam
            .list_attached_role_policies()
            .role_name("ecsguard-execution-app")
            .send()
            .await
            .expect("attached");
        assert!(attached
            .attached_policies()
            .iter()
            .any(|p| p.policy_name() == Some("AmazonECSTaskExecutionRolePolicy")));
        let policy = iam
            .get_role_policy()
            .role_name("ecsguard-execution-app")
            .policy_name(
                policy_named(
                    &w.acct,
                    "ecsguard-execution-app",
                    "ecsguard-secrets-app-us-east-1-1-",
                )
                .await,
            )
            .send()
            .await
            .expect("policy");
        let doc = urlencoding_decode(policy.policy_document());
        assert!(
            doc.contains("secretsmanager:GetSecretValue")
                && doc.contains(&secret_arn)
                && !doc.contains('*'),
            "{doc}"
        );
    });
}

#[test]
fn rollback_points_services_back_and_can_delete_what_was_created() {
    let w = rt().block_on(world("200000000005", true));
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let journal = journal_of(dir.path(), "200000000005-us-east-1-app-");
    let text = std::fs::read_to_string(&journal).expect("journal");
    assert!(
        !text.contains("Orig1nal") && !text.contains("tok-123"),
        "no values in the journal"
    );
    let env = w.acct.env(REGION);
    let back = common::ecsguard_with(
        dir.path(),
        &env,
        true,
        &["rollback", "--journal", journal.to_str().expect("path")],
    );
    assert_eq!(back.code, 0, "{}\n{}", back.stdout, back.stderr);
    rt().block_on(async {
        assert_eq!(service_td(&w.acct).await, w.old_arn);
        assert!(
            parameter(&w.acct, "/ecsguard/app/app/DB_PASSWORD")
                .await
                .is_some(),
            "kept without --delete-secrets"
        );
    });
    let delete = common::ecsguard_with(
        dir.path(),
        &env,
        true,
        &[
            "rollback",
            "--journal",
            journal.to_str().expect("path"),
            "--delete-secrets",
        ],
    );
    assert_eq!(delete.code, 0, "{}\n{}", delete.stdout, delete.stderr);
    rt().block_on(async {
        assert_eq!(
            parameter(&w.acct, "/ecsguard/app/app/DB_PASSWORD").await,
            None
        );
        assert_eq!(
            policy_named(&w.acct, "execution", "ecsguard-secrets-").await,
            "",
            "the fix's policy is gone"
        );
    });
    // A second rollback finds everything already undone: it succeeds, and the
    // journal stays rolled back, so no later fix resumes it.
    let again = common::ecsguard_with(
        dir.path(),
        &env,
        true,
        &[
            "rollback",
            "--journal",
            journal.to_str().expect("path"),
            "--delete-secrets",
        ],
    );
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let text = std::fs::read_to_string(&journal).expect("journal");
    assert!(text.contains("\"rolled_back\": true"), "{text}");
    let rerun = fix_in(dir.path(), &w.acct, &[], &["--apply"]);
    rt().block_on(async {
        assert_eq!(
            service_td(&w.acct).await,
            w.old_arn,
            "the rolled-back journal was not resumed: {}",
            rerun.stdout
        );
    });
}

#[test]
fn an_unreadable_journal_stops_the_fix_before_anything_changes() {
    let w = rt().block_on(world("200000000014", true));
    let dir = common::tempdir();
    let bad = dir
        .path()
        .join("journal/200000000014-us-east-1-app-0123456789abcdef.json");
    std::fs::create_dir_all(bad.parent().expect("dir")).expect("mkdir");
    std::fs::write(&bad, "{\"version\": 1, \"plan_id\": \"0123").expect("write");
    let run = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("0123456789abcdef.json")
            || run.stderr.contains("0123456789abcdef.json"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&bad).expect("read"),
        "{\"version\": 1, \"plan_id\": \"0123",
        "left as it is"
    );
    rt().block_on(async {
        assert_eq!(
            parameter(&w.acct, "/ecsguard/app/app/DB_PASSWORD").await,
            None
        );
        assert_eq!(service_td(&w.acct).await, w.old_arn);
    });
}

#[test]
fn a_second_fix_keeps_the_first_fix_journal_and_grant() {
    let w = rt().block_on(world("200000000015", true));
    let dir = common::tempdir();
    let first = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    // The family gets a new secret in plain environment (a later deploy).
    let second_arn = rt().block_on(async {
        register_with_role(
            &w.acct.ecs(REGION).await,
            "app",
            &[("SMTP_PASSWORD", "smtp-Passw0rd-2"), ("LOG_LEVEL", "info")],
            Some(w.role_arn.as_str()),
        )
        .await
    });
    let second = fix_in(dir.path(), &w.acct, &[], &["--apply"]);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    let journals = std::fs::read_dir(dir.path().join("journal"))
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .count();
    assert_eq!(journals, 2, "one journal per fix");
    let revision = second_arn.rsplit(':').next().expect("revision").to_owned();
    rt().block_on(async {
        for name in [
            "ecsguard-secrets-app-us-east-1-1-".to_owned(),
            format!("ecsguard-secrets-app-us-east-1-{revision}-"),
        ] {
            assert!(
                !policy_named(&w.acct, "execution", &name).await.is_empty(),
                "{name} is kept"
            );
        }
    });
}

#[test]
fn a_variable_listed_twice_with_one_empty_value_is_moved() {
    let acct = rt().block_on(account("200000000016"));
    rt().block_on(async {
        register_with_role(
            &acct.ecs(REGION).await,
            "app",
            &[("DB_PASSWORD", ""), ("DB_PASSWORD", "Tw1ce-listed-pw")],
            None,
        )
        .await
    });
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &acct, &[], &["--apply"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    rt().block_on(async {
        assert_eq!(
            parameter(&acct, "/ecsguard/app/app/DB_PASSWORD")
                .await
                .as_deref(),
            Some("Tw1ce-listed-pw")
        );
    });
}

#[test]
fn deregister_old_waits_for_the_services_and_then_deregisters() {
    let w = rt().block_on(world("200000000006", true));
    let dir = common::tempdir();
    let refused = fix_in(dir.path(), &w.acct, &[], &["--apply", "--deregister-old"]);
    assert_eq!(
        refused.code, 3,
        "a service still runs the old revision: {}",
        refused.stdout
    );
    assert!(
        refused.stdout.contains("still use it"),
        "{}",
        refused.stdout
    );
    let run = fix_in(
        dir.path(),
        &w.acct,
        &[],
        &["--apply", "--update-services", "--deregister-old"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    rt().block_on(async {
        assert_fixed(&w).await;
        let old = describe(&w.acct, &w.old_arn).await;
        assert_eq!(
            old.status(),
            Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Inactive)
        );
    });
}

#[test]
fn the_new_revision_is_a_faithful_copy() {
    use aws_sdk_ecs::types::*;
    let (acct, old_arn) = rt().block_on(async {
        let acct = account("200000000007").await;
        let ecs = acct.ecs(REGION).await;
        let container = ContainerDefinition::builder()
            .name("app")
            .image("app:2")
            .cpu(128)
            .memory(256)
            .essential(true)
            .command("serve")
            .environment(
                KeyValuePair::builder()
                    .name("DB_PASSWORD")
                    .value("faithful-copy-pw")
                    .build(),
            )
            .environment(KeyValuePair::builder().name("MODE").value("prod").build())
            .port_mappings(
                PortMapping::builder()
                    .container_port(8080)
                    .protocol(TransportProtocol::Tcp)
                    .build(),
            )
            .mount_points(
                MountPoint::builder()
                    .source_volume("data")
                    .container_path("/data")
                    .build(),
            )
            .docker_labels("team", "payments")
            .build();
        let arn = ecs
            .register_task_definition()
            .family("app")
            .task_role_arn("arn:aws:iam::200000000007:role/task")
            .execution_role_arn("arn:aws:iam::200000000007:role/execution")
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .pid_mode(PidMode::Task)
            .ipc_mode(IpcMode::None)
            .volumes(Volume::builder().name("data").build())
            .placement_constraints(
                TaskDefinitionPlacementConstraint::builder()
                    .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
                    .expression("attribute:ecs.os-type == linux")
                    .build(),
            )
            .runtime_platform(
                RuntimePlatform::builder()
                    .cpu_architecture(CpuArchitecture::Arm64)
                    .operating_system_family(OsFamily::Linux)
                    .build(),
            )
            .ephemeral_storage(EphemeralStorage::builder().size_in_gib(30).build())
            .tags(Tag::builder().key("owner").value("payments").build())
            .container_definitions(container)
            .send()
            .await
            .expect("register")
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .expect("arn")
            .to_owned();
        let iam = aws_sdk_iam::Client::new(&acct.config(REGION).await);
        iam.create_role()
            .role_name("execution")
            .assume_role_policy_document("{}")
            .send()
            .await
            .expect("role");
        (acct, arn)
    });
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &acct, &[], &["--apply", "--format", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let new_arn = run.json()["plans"][0]["new_arn"]
        .as_str()
        .expect("new")
        .to_owned();
    rt().block_on(async {
        let ecs = acct.ecs(REGION).await;
        let get = |arn: String| {
            let ecs = ecs.clone();
            async move {
                let out = ecs
                    .describe_task_definition()
                    .task_definition(arn)
                    .include(TaskDefinitionField::Tags)
                    .send()
                    .await
                    .expect("describe");
                (
                    out.task_definition.expect("td"),
                    out.tags.unwrap_or_default(),
                )
            }
        };
        let (old, old_tags) = get(old_arn.clone()).await;
        let (new, new_tags) = get(new_arn).await;
        assert_eq!(new.task_role_arn, old.task_role_arn);
        assert_eq!(new.execution_role_arn, old.execution_role_arn);
        assert_eq!(new.network_mode, old.network_mode);
        assert_eq!(new.requires_compatibilities, old.requires_compatibilities);
        assert_eq!(
            (new.cpu.clone(), new.memory.clone()),
            (old.cpu.clone(), old.memory.clone())
        );
        assert_eq!(
            (new.pid_mode.clone(), new.ipc_mode.clone()),
            (old.pid_mode.clone(), old.ipc_mode.clone())
        );
        assert_eq!(new.volumes, old.volumes);
        assert_eq!(new.placement_constraints, old.placement_constraints);
        assert_eq!(new.runtime_platform, old.runtime_platform);
        assert_eq!(new.ephemeral_storage, old.ephemeral_storage);
        assert!(
            new_tags
                .iter()
                .any(|t| t.key() == Some("owner") && t.value() == Some("payments")),
            "{:?}",
            new_tags.len()
        );
        assert!(old_tags.iter().any(|t| t.key() == Some("owner")));
        // The container is the same but for the moved variable.
        let (mut oc, mut nc) = (
            old.container_definitions()[0].clone(),
            new.container_definitions()[0].clone(),
        );
        oc.environment = Some(
            oc.environment()
                .iter()
                .filter(|e| e.name() != Some("DB_PASSWORD"))
                .cloned()
                .collect(),
        );
        assert_eq!(nc.secrets().len(), 1);
        nc.secrets = oc.secrets.clone();
        assert_eq!(nc, oc);
    });
}

#[test]
fn no_planted_value_reaches_output_or_journal() {
    let w = rt().block_on(world("200000000008", true));
    let dir = common::tempdir();
    for args in [
        &["--format", "json"][..],
        &[][..],
        &["--apply", "--update-services", "--format", "json"][..],
    ] {
        let run = fix_in(dir.path(), &w.acct, &[], args);
        for planted in ["Orig1nal-db-pw", "tok-123456789"] {
            assert!(
                !run.stdout.contains(&planted[..8]) && !run.stderr.contains(&planted[..8]),
                "{args:?}: {planted}"
            );
        }
    }
    for entry in std::fs::read_dir(dir.path().join("journal")).expect("journal dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        assert!(
            !text.contains("Orig1nal") && !text.contains("tok-1234"),
            "{text}"
        );
    }
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs the test-hooks feature (./scripts/test turns it on)"
)]
fn a_crash_between_registering_and_journaling_does_not_register_twice() {
    let w = rt().block_on(world("200000000009", true));
    let dir = common::tempdir();
    let crash = [("ECSGUARD_TEST_CRASH_IN_REGISTER", "1".to_owned())];
    let first = fix_in(
        dir.path(),
        &w.acct,
        &crash,
        &["--apply", "--update-services"],
    );
    assert_eq!(first.code, 3, "{}\n{}", first.stdout, first.stderr);
    rt().block_on(async {
        assert_eq!(
            revisions(&w.acct).await.len(),
            2,
            "registered, not journaled"
        )
    });
    let second = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    rt().block_on(assert_fixed(&w));
}

#[test]
fn every_container_of_a_revision_is_fixed() {
    use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair};
    let acct = rt().block_on(async {
        let acct = account("200000000010").await;
        let ecs = acct.ecs(REGION).await;
        let c = |name: &str, env: &[(&str, &str)]| {
            let mut b = ContainerDefinition::builder()
                .name(name)
                .image("x:1")
                .memory(128);
            for (k, v) in env {
                b = b.environment(KeyValuePair::builder().name(*k).value(*v).build());
            }
            b.build()
        };
        ecs.register_task_definition()
            .family("app")
            .container_definitions(c("api", &[("DB_PASSWORD", "api-db-pw-1")]))
            .container_definitions(c(
                "worker",
                &[
                    ("QUEUE_TOKEN", "worker-queue-token"),
                    ("LOG_LEVEL", "debug"),
                ],
            ))
            .send()
            .await
            .expect("register");
        acct
    });
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &acct, &[], &["--apply", "--format", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let new_arn = run.json()["plans"][0]["new_arn"]
        .as_str()
        .expect("new")
        .to_owned();
    rt().block_on(async {
        assert_eq!(
            parameter(&acct, "/ecsguard/app/api/DB_PASSWORD")
                .await
                .as_deref(),
            Some("api-db-pw-1")
        );
        assert_eq!(
            parameter(&acct, "/ecsguard/app/worker/QUEUE_TOKEN")
                .await
                .as_deref(),
            Some("worker-queue-token")
        );
        let new = describe(&acct, &new_arn).await;
        for c in new.container_definitions() {
            let names: Vec<&str> = c.secrets().iter().map(|s| s.name()).collect();
            match c.name() {
                Some("api") => assert_eq!(names, ["DB_PASSWORD"]),
                Some("worker") => {
                    assert_eq!(names, ["QUEUE_TOKEN"]);
                    assert_eq!(c.environment().len(), 1, "LOG_LEVEL stays");
                }
                other => panic!("unexpected container {other:?}"),
            }
        }
        assert!(new
            .execution_role_arn()
            .is_some_and(|r| r.ends_with("role/ecsguard-execution-app")));
    });
}

#[test]
fn large_values_use_the_advanced_tier_or_are_refused_never_truncated() {
    let big = "k".repeat(5000) + "-end";
    let huge = "h9x".repeat(3000);
    let acct = rt().block_on(async {
        let acct = account("200000000011").await;
        let ecs = acct.ecs(REGION).await;
        moto::register(&ecs, "app", &[("PRIVATE_KEY", big.as_str())]).await;
        moto::register(&ecs, "other", &[("PRIVATE_KEY", huge.as_str())]).await;
        acct
    });
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &acct, &[], &["--apply", "--family", "app"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    rt().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&acct.config(REGION).await);
        let p = ssm
            .get_parameter()
            .name("/ecsguard/app/app/PRIVATE_KEY")
            .with_decryption(true)
            .send()
            .await
            .expect("param");
        assert_eq!(
            p.parameter().and_then(|p| p.value()),
            Some(big.as_str()),
            "stored whole"
        );
    });
    let refused = fix_in(dir.path(), &acct, &[], &["--apply", "--family", "other"]);
    assert_eq!(refused.code, 3, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("8 KB") && refused.stdout.contains("--store secretsmanager"),
        "{}",
        refused.stdout
    );
    rt().block_on(async {
        assert_eq!(
            parameter(&acct, "/ecsguard/other/app/PRIVATE_KEY").await,
            None
        )
    });
}

#[test]
fn empty_values_have_nothing_to_move() {
    let acct = rt().block_on(async {
        let acct = account("200000000012").await;
        let ecs = acct.ecs(REGION).await;
        // ECS.8 flags the name even when empty; there is no value to store.
        moto::register(
            &ecs,
            "app",
            &[("AWS_ACCESS_KEY_ID", ""), ("LOG_LEVEL", "info")],
        )
        .await;
        acct
    });
    let dir = common::tempdir();
    let scan = common::ecsguard_with(
        dir.path(),
        &acct.env(REGION),
        true,
        &["scan", "--aws", "--format", "json"],
    );
    assert_eq!(scan.code, 1, "the scan still reports it");
    let run = fix_in(dir.path(), &acct, &[], &["--apply"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("0 task definitions fixed"),
        "{}",
        run.stdout
    );
    rt().block_on(async { assert_eq!(revisions(&acct).await.len(), 1) });
}

#[test]
fn cluster_filter_limits_which_services_move() {
    let w = rt().block_on(async {
        let w = world("200000000013", true).await;
        let ecs = w.acct.ecs(REGION).await;
        ecs.create_cluster()
            .cluster_name("side")
            .send()
            .await
            .expect("cluster");
        ecs.create_service()
            .cluster("side")
            .service_name("batch")
            .task_definition(&w.old_arn)
            .desired_count(1)
            .send()
            .await
            .expect("service");
        w
    });
    let dir = common::tempdir();
    let run = fix_in(
        dir.path(),
        &w.acct,
        &[],
        &["--apply", "--update-services", "--cluster", "main"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    rt().block_on(async {
        assert_fixed(&w).await;
        let ecs = w.acct.ecs(REGION).await;
        let side = ecs
            .describe_services()
            .cluster("side")
            .services("batch")
            .send()
            .await
            .expect("describe");
        assert_eq!(
            side.services()[0].task_definition(),
            Some(w.old_arn.as_str()),
            "outside --cluster: untouched"
        );
    });
}

/// The one journal whose name starts with `prefix` (names end with the plan id).
fn journal_of(dir: &std::path::Path, prefix: &str) -> std::path::PathBuf {
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir(dir.join("journal"))
        .expect("journal dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".json"))
        })
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs the test-hooks feature (./scripts/test turns it on)"
)]
fn a_resume_with_other_store_flags_is_refused() {
    let w = rt().block_on(world("200000000017", true));
    let dir = common::tempdir();
    let stop = [("ECSGUARD_TEST_STOP_AFTER", "1".to_owned())];
    let first = fix_in(dir.path(), &w.acct, &stop, &["--apply"]);
    assert_ne!(first.code, 0, "stopped after one step");
    let other = fix_in(dir.path(), &w.acct, &[], &["--apply", "--prefix", "/other"]);
    assert_eq!(other.code, 2, "{}\n{}", other.stdout, other.stderr);
    let said = format!("{}{}", other.stdout, other.stderr);
    assert!(
        said.contains("was started with --store ssm --prefix /ecsguard"),
        "{said}"
    );
    rt().block_on(async {
        assert_eq!(parameter(&w.acct, "/other/app/app/DB_PASSWORD").await, None);
    });
    let same = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(same.code, 0, "{}\n{}", same.stdout, same.stderr);
    rt().block_on(assert_fixed(&w));
}

#[test]
fn deregister_old_checks_every_cluster_not_only_the_chosen_one() {
    let w = rt().block_on(async {
        let w = world("200000000018", true).await;
        let ecs = w.acct.ecs(REGION).await;
        ecs.create_cluster()
            .cluster_name("other")
            .send()
            .await
            .expect("cluster");
        ecs.create_service()
            .cluster("other")
            .service_name("batch")
            .task_definition(&w.old_arn)
            .desired_count(1)
            .send()
            .await
            .expect("service");
        w
    });
    let dir = common::tempdir();
    let run = fix_in(
        dir.path(),
        &w.acct,
        &[],
        &[
            "--apply",
            "--update-services",
            "--cluster",
            "main",
            "--deregister-old",
        ],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    rt().block_on(async {
        let td = describe(&w.acct, &w.old_arn).await;
        assert_eq!(
            td.status(),
            Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Active),
            "still used in cluster other"
        );
    });
}

#[test]
fn rollback_leaves_a_service_that_moved_on() {
    let w = rt().block_on(world("200000000019", true));
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A later, unrelated deployment.
    let later = rt().block_on(async {
        let ecs = w.acct.ecs(REGION).await;
        let arn = register_with_role(
            &ecs,
            "app",
            &[("LOG_LEVEL", "debug")],
            Some(w.role_arn.as_str()),
        )
        .await;
        ecs.update_service()
            .cluster("main")
            .service("web")
            .task_definition(&arn)
            .send()
            .await
            .expect("update");
        arn
    });
    let journal = journal_of(dir.path(), "200000000019-us-east-1-app-");
    let back = common::ecsguard_with(
        dir.path(),
        &w.acct.env(REGION),
        true,
        &["rollback", "--journal", journal.to_str().expect("path")],
    );
    assert_eq!(back.code, 0, "{}\n{}", back.stdout, back.stderr);
    assert!(back.stdout.contains("left as it is"), "{}", back.stdout);
    rt().block_on(async {
        assert_eq!(service_td(&w.acct).await, later);
    });
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs the test-hooks feature (./scripts/test turns it on)"
)]
fn a_parameter_created_before_a_crash_is_still_known_as_the_fix_own() {
    let w = rt().block_on(world("200000000020", true));
    let dir = common::tempdir();
    let stop = [("ECSGUARD_TEST_STOP_AFTER", "1".to_owned())];
    let first = fix_in(dir.path(), &w.acct, &stop, &["--apply"]);
    assert_ne!(first.code, 0);
    // As if the run had died between PutParameter and the journal write.
    let journal = journal_of(dir.path(), "200000000020-us-east-1-app-");
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).expect("read")).expect("json");
    j["stored"] = serde_json::json!([]);
    std::fs::write(&journal, j.to_string()).expect("write");
    let rerun = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(rerun.code, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    let back = common::ecsguard_with(
        dir.path(),
        &w.acct.env(REGION),
        true,
        &[
            "rollback",
            "--journal",
            journal.to_str().expect("path"),
            "--delete-secrets",
        ],
    );
    assert_eq!(back.code, 0, "{}\n{}", back.stdout, back.stderr);
    rt().block_on(async {
        for name in [
            "/ecsguard/app/app/API_TOKEN",
            "/ecsguard/app/app/DB_PASSWORD",
        ] {
            assert_eq!(parameter(&w.acct, name).await, None, "{name} deleted");
        }
    });
}

#[test]
fn an_unencrypted_parameter_with_the_same_value_is_not_reused() {
    let w = rt().block_on(world("200000000021", true));
    rt().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&w.acct.config(REGION).await);
        ssm.put_parameter()
            .name("/ecsguard/app/app/DB_PASSWORD")
            .value("Orig1nal-db-pw")
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .expect("put");
    });
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains("unencrypted"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("0 task definitions fixed"),
        "{}",
        run.stdout
    );
    rt().block_on(async {
        assert_eq!(
            service_td(&w.acct).await,
            w.old_arn,
            "nothing references it"
        );
    });
}

#[test]
fn overwrite_into_a_secret_keeps_every_other_key_exactly() {
    let w = rt().block_on(world("200000000022", true));
    let config = rt().block_on(w.acct.config(REGION));
    rt().block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(&config);
        sm.create_secret()
            .name("ecsguard/app/app")
            .secret_string(r#"{"DB_PASSWORD": "old", "PORT": 5432, "NESTED": {"a": [1, true]}}"#)
            .send()
            .await
            .expect("secret");
        sm.create_secret()
            .name("ecsguard/other/app")
            .secret_string("not a json object")
            .send()
            .await
            .expect("secret");
    });
    let dir = common::tempdir();
    let run = fix_in(
        dir.path(),
        &w.acct,
        &[],
        &["--apply", "--store", "secretsmanager", "--overwrite"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    rt().block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(&config);
        let text = sm
            .get_secret_value()
            .secret_id("ecsguard/app/app")
            .send()
            .await
            .expect("secret")
            .secret_string()
            .unwrap_or_default()
            .to_owned();
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["DB_PASSWORD"], "Orig1nal-db-pw");
        assert_eq!(v["API_TOKEN"], "tok-123456789");
        assert_eq!(v["PORT"], 5432);
        assert_eq!(v["NESTED"], serde_json::json!({"a": [1, true]}));
    });
    // A secret that is not a JSON object is refused, untouched.
    let other = rt().block_on(async {
        register_with_role(
            &w.acct.ecs(REGION).await,
            "other",
            &[("DB_PASSWORD", "0ther-db-pw")],
            Some(w.role_arn.as_str()),
        )
        .await
    });
    let run = fix_in(
        dir.path(),
        &w.acct,
        &[],
        &[
            "--apply",
            "--store",
            "secretsmanager",
            "--overwrite",
            "--family",
            "other",
        ],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(format!("{}{}", run.stdout, run.stderr).contains("not a JSON object"));
    let _ = other;
}

#[test]
fn the_plan_shows_the_policy_apply_grants_and_an_alias_is_a_usage_error() {
    let w = rt().block_on(world("200000000023", true));
    let dir = common::tempdir();
    let plan = fix_in(
        dir.path(),
        &w.acct,
        &[],
        &["--store", "secretsmanager", "--format", "json"],
    )
    .json();
    let doc = plan["plans"][0]["policy"]["document"].to_string();
    assert!(doc.contains("secret:ecsguard/app/app-??????"), "{doc}");
    assert!(
        !doc.contains("::"),
        "grants secret ARNs, not valueFrom strings: {doc}"
    );
    let alias = fix_in(
        dir.path(),
        &w.acct,
        &[],
        &["--apply", "--kms-key-id", "alias/mine"],
    );
    assert_eq!(alias.code, 2, "{}\n{}", alias.stdout, alias.stderr);
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs the test-hooks feature (./scripts/test turns it on)"
)]
fn rollback_after_a_crash_inside_register_deregisters_that_revision() {
    let w = rt().block_on(world("200000000024", true));
    let dir = common::tempdir();
    let crash = [("ECSGUARD_TEST_CRASH_IN_REGISTER", "1".to_owned())];
    let first = fix_in(
        dir.path(),
        &w.acct,
        &crash,
        &["--apply", "--update-services"],
    );
    assert_eq!(first.code, 3, "{}\n{}", first.stdout, first.stderr);
    let journal = journal_of(dir.path(), "200000000024-us-east-1-app-");
    let back = common::ecsguard_with(
        dir.path(),
        &w.acct.env(REGION),
        true,
        &["rollback", "--journal", journal.to_str().expect("path")],
    );
    assert_eq!(back.code, 0, "{}\n{}", back.stdout, back.stderr);
    rt().block_on(async {
        let ecs = w.acct.ecs(REGION).await;
        let active = ecs
            .list_task_definitions()
            .family_prefix("app")
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .send()
            .await
            .expect("list");
        assert_eq!(
            active.task_definition_arns(),
            std::slice::from_ref(&w.old_arn),
            "only the old revision is active again, so a scan sees its secrets"
        );
    });
    // A scan finds the family's secrets again.
    let scan = common::ecsguard_with(
        dir.path(),
        &w.acct.env(REGION),
        true,
        &["scan", "--aws", "--format", "json"],
    );
    assert_eq!(scan.code, 1, "{}", scan.stdout);
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs the test-hooks feature (./scripts/test turns it on)"
)]
fn a_resume_rechecks_what_the_journal_says_was_stored() {
    let w = rt().block_on(world("200000000025", true));
    let dir = common::tempdir();
    let stop = [("ECSGUARD_TEST_STOP_AFTER", "2".to_owned())];
    let first = fix_in(dir.path(), &w.acct, &stop, &["--apply"]);
    assert_ne!(first.code, 0);
    // Between the crash and the rerun: one parameter changed, one deleted.
    rt().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&w.acct.config(REGION).await);
        ssm.delete_parameter()
            .name("/ecsguard/app/app/API_TOKEN")
            .send()
            .await
            .expect("delete");
    });
    let rerun = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(
        rerun.code, 0,
        "a deleted one is stored again: {}\n{}",
        rerun.stdout, rerun.stderr
    );
    rt().block_on(assert_fixed(&w));

    let w = rt().block_on(world("200000000026", true));
    let dir = common::tempdir();
    let first = fix_in(dir.path(), &w.acct, &stop, &["--apply"]);
    assert_ne!(first.code, 0);
    rt().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&w.acct.config(REGION).await);
        ssm.put_parameter()
            .name("/ecsguard/app/app/DB_PASSWORD")
            .value("changed-meanwhile")
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .expect("put");
    });
    let rerun = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(rerun.code, 3, "{}\n{}", rerun.stdout, rerun.stderr);
    assert!(format!("{}{}", rerun.stdout, rerun.stderr).contains("no longer holds"));
    rt().block_on(async {
        assert_eq!(
            service_td(&w.acct).await,
            w.old_arn,
            "nothing references it"
        );
    });
}

#[test]
fn a_variable_also_in_secrets_needs_overwrite() {
    use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, Secret};
    let acct = rt().block_on(async {
        let acct = account("200000000027").await;
        let ecs = acct.ecs(REGION).await;
        ecs.register_task_definition()
            .family("app")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image("app:1")
                    .memory(128)
                    .environment(
                        KeyValuePair::builder()
                            .name("DB_PASSWORD")
                            .value("B0th-places-pw")
                            .build(),
                    )
                    .secrets(
                        Secret::builder()
                            .name("DB_PASSWORD")
                            .value_from("arn:aws:ssm:us-east-1:200000000027:parameter/existing")
                            .build()
                            .expect("secret"),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("register");
        acct
    });
    let dir = common::tempdir();
    let plan = fix_in(dir.path(), &acct, &[], &[]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(format!("{}{}", plan.stdout, plan.stderr).contains("--overwrite"));
    let forced = fix_in(dir.path(), &acct, &[], &["--apply", "--overwrite"]);
    assert_eq!(forced.code, 0, "{}\n{}", forced.stdout, forced.stderr);
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs the test-hooks feature (./scripts/test turns it on)"
)]
fn after_an_interruption_the_same_family_is_fixed_in_every_region() {
    let w = rt().block_on(world("200000000028", true));
    let west = rt().block_on(async {
        register_with_role(
            &w.acct.ecs("eu-west-1").await,
            "app",
            &[("DB_PASSWORD", "West-db-Passw0rd")],
            Some(w.role_arn.as_str()),
        )
        .await
    });
    let dir = common::tempdir();
    let regions = ["--region", "us-east-1", "--region", "eu-west-1"];
    let stop = [("ECSGUARD_TEST_STOP_AFTER", "1".to_owned())];
    let mut args = vec!["--apply"];
    args.extend_from_slice(&regions);
    let first = fix_in(dir.path(), &w.acct, &stop, &args);
    assert_ne!(first.code, 0);
    let rerun = fix_in(dir.path(), &w.acct, &[], &args);
    assert_eq!(rerun.code, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    rt().block_on(async {
        for region in ["us-east-1", "eu-west-1"] {
            let ssm = aws_sdk_ssm::Client::new(&w.acct.config(region).await);
            let got = ssm
                .get_parameter()
                .name("/ecsguard/app/app/DB_PASSWORD")
                .with_decryption(true)
                .send()
                .await;
            assert!(got.is_ok(), "fixed in {region}");
        }
    });
    let _ = west;
}

#[test]
fn services_on_older_revisions_holding_the_values_are_listed() {
    let w = rt().block_on(world("200000000029", true));
    // A newer revision with the same secrets; the service stays on the old one.
    rt().block_on(async {
        register_with_role(
            &w.acct.ecs(REGION).await,
            "app",
            &[("DB_PASSWORD", "Orig1nal-db-pw"), ("LOG_LEVEL", "info")],
            Some(w.role_arn.as_str()),
        )
        .await
    });
    let dir = common::tempdir();
    let plan = fix_in(dir.path(), &w.acct, &[], &[]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("service web in") && plan.stdout.contains("runs an older revision"),
        "{}",
        plan.stdout
    );
}

/// Every kind of fault, before and after the call takes effect.
const FAULTS: &[&str] = &[
    "--rate",
    "throttle=0.10",
    "--rate",
    "error=0.04",
    "--rate",
    "reset=0.04",
    "--rate",
    "error-after=0.05",
    "--rate",
    "reset-after=0.05",
    "--rate",
    "timeout-after=0.02",
    "--delay",
    "3",
];

/// Runs `args` through `proxy` until it exits 0, allowing only exit 3 (a
/// step failed; the journal says where) or 2 (something could not be read)
/// on the way. Returns how many runs it took.
fn until_done(dir: &Path, proxy: &proxy::Proxy, acct: &Account, args: &[&str]) -> usize {
    let env = proxy.env(acct.env(REGION));
    let mut all = args.to_vec();
    // Few attempts, so that faults do make steps fail, and a short attempt
    // timeout, so that an answer that never comes is retried.
    all.extend_from_slice(&["--max-attempts", "2", "--api-timeout", "1"]);
    let mut last = String::new();
    for run in 1..=15 {
        let r = common::ecsguard_with(dir, &env, true, &all);
        match r.code {
            0 => return run,
            2 | 3 => last = format!("{}\n{}", r.stdout, r.stderr),
            other => panic!("exit {other}: {}\n{}", r.stdout, r.stderr),
        }
    }
    panic!("{args:?} did not finish in 15 runs through the fault proxy; the last said:\n{last}");
}

/// A fix through throttling, 500s, resets and timeouts, some of them after
/// the call took effect, finishes (at once or on a rerun) with exactly the
/// state of a clean fix: every value stored intact, one new revision, the
/// service moved. Two rollbacks through the same faults then undo all of it.
#[test]
fn a_fix_through_api_faults_finishes_on_rerun_and_loses_nothing() {
    let w = rt().block_on(world("200000000040", true));
    let dir = common::tempdir();
    let proxy = proxy::Proxy::start(dir.path(), &[&["--seed", "40"][..], FAULTS].concat());
    let fix = [
        "fix",
        "--aws",
        "--journal-dir",
        "journal",
        "--apply",
        "--update-services",
    ];
    until_done(dir.path(), &proxy, &w.acct, &fix);
    rt().block_on(assert_fixed(&w));
    let faults = proxy.faults();
    assert!(
        faults.values().sum::<usize>() >= 3,
        "the proxy injected faults: {faults:?}"
    );
    // Done is done: a rerun has nothing left to do.
    let again = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    rt().block_on(assert_fixed(&w));

    let journal = journal_of(dir.path(), "200000000040-us-east-1-app-");
    let journal_arg = journal.to_str().expect("path");
    let back = ["rollback", "--journal", journal_arg, "--delete-secrets"];
    until_done(dir.path(), &proxy, &w.acct, &back);
    until_done(dir.path(), &proxy, &w.acct, &back);
    rt().block_on(async {
        assert_eq!(service_td(&w.acct).await, w.old_arn);
        assert_eq!(
            parameter(&w.acct, "/ecsguard/app/app/DB_PASSWORD").await,
            None
        );
        let ecs = w.acct.ecs(REGION).await;
        let active = ecs
            .list_task_definitions()
            .family_prefix("app")
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .send()
            .await
            .expect("list");
        assert_eq!(
            active.task_definition_arns(),
            std::slice::from_ref(&w.old_arn),
            "only the original revision is left ACTIVE"
        );
        // The original still holds its values: nothing was lost.
        let old = describe(&w.acct, &w.old_arn).await;
        let env: Vec<(&str, &str)> = old.container_definitions()[0]
            .environment()
            .iter()
            .map(|e| (e.name().unwrap_or(""), e.value().unwrap_or("")))
            .collect();
        assert!(env.contains(&("DB_PASSWORD", "Orig1nal-db-pw")), "{env:?}");
    });
}

/// The same through Secrets Manager, whose create call carries an
/// idempotency token, and a role the fix has to create.
#[test]
fn a_secrets_manager_fix_through_api_faults_finishes_and_loses_nothing() {
    let w = rt().block_on(world("200000000041", false));
    let dir = common::tempdir();
    let proxy = proxy::Proxy::start(dir.path(), &[&["--seed", "41"][..], FAULTS].concat());
    let fix = [
        "fix",
        "--aws",
        "--journal-dir",
        "journal",
        "--apply",
        "--update-services",
        "--store",
        "secretsmanager",
    ];
    until_done(dir.path(), &proxy, &w.acct, &fix);
    rt().block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(&w.acct.config(REGION).await);
        let value = sm
            .get_secret_value()
            .secret_id("ecsguard/app/app")
            .send()
            .await
            .expect("secret");
        let doc: serde_json::Value =
            serde_json::from_str(value.secret_string().unwrap_or("")).expect("json");
        assert_eq!(doc["DB_PASSWORD"], "Orig1nal-db-pw");
        assert_eq!(doc["API_TOKEN"], "tok-123456789");
        let revs = revisions(&w.acct).await;
        assert_eq!(revs.len(), 2, "exactly one new revision: {revs:?}");
        let new_arn = revs.iter().find(|a| **a != w.old_arn).expect("new").clone();
        assert_eq!(service_td(&w.acct).await, new_arn);
        let new = describe(&w.acct, &new_arn).await;
        let role = new.execution_role_arn().expect("a role was set").to_owned();
        let iam = aws_sdk_iam::Client::new(&w.acct.config(REGION).await);
        let name = role.rsplit('/').next().unwrap_or_default().to_owned();
        let roles = iam.list_roles().send().await.expect("roles");
        let created: Vec<&str> = roles
            .roles()
            .iter()
            .map(|r| r.role_name())
            .filter(|n| n.starts_with("ecsguard-"))
            .collect();
        assert_eq!(created, [name.as_str()], "one role, not one per retry");
    });
}

/// Every call that changes something, answered with a 500 or a reset after it
/// took effect, most of the time: each retry meets its own earlier work. A
/// parameter, role or revision is still made once, and the rerun completes.
#[test]
fn writes_that_took_effect_but_seemed_to_fail_are_not_made_twice() {
    let w = rt().block_on(world("200000000042", false));
    let dir = common::tempdir();
    let mut args = vec![
        "--seed",
        "42",
        "--rate",
        "error-after=0.35",
        "--rate",
        "reset-after=0.35",
    ];
    for action in [
        "PutParameter",
        "CreateRole",
        "AttachRolePolicy",
        "PutRolePolicy",
        "RegisterTaskDefinition",
        "UpdateService",
        "DeregisterTaskDefinition",
        "DeleteParameter",
        "DeleteRolePolicy",
        "DetachRolePolicy",
        "DeleteRole",
    ] {
        args.extend_from_slice(&["--only", action]);
    }
    let proxy = proxy::Proxy::start(dir.path(), &args);
    let fix = [
        "fix",
        "--aws",
        "--journal-dir",
        "journal",
        "--apply",
        "--update-services",
    ];
    until_done(dir.path(), &proxy, &w.acct, &fix);
    let hit: std::collections::BTreeSet<String> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.2.is_some())
        .map(|r| r.0)
        .collect();
    for action in ["PutParameter", "RegisterTaskDefinition", "CreateRole"] {
        assert!(hit.contains(action), "{action} never faulted: {hit:?}");
    }
    rt().block_on(async {
        let revs = revisions(&w.acct).await;
        assert_eq!(revs.len(), 2, "exactly one new revision: {revs:?}");
        let new_arn = revs.iter().find(|a| **a != w.old_arn).expect("new").clone();
        assert_eq!(service_td(&w.acct).await, new_arn);
        assert_eq!(
            parameter(&w.acct, "/ecsguard/app/app/DB_PASSWORD")
                .await
                .as_deref(),
            Some("Orig1nal-db-pw")
        );
        let iam = aws_sdk_iam::Client::new(&w.acct.config(REGION).await);
        let roles = iam.list_roles().send().await.expect("roles");
        let created = roles
            .roles()
            .iter()
            .filter(|r| r.role_name().starts_with("ecsguard-"))
            .count();
        assert_eq!(created, 1, "one role");
    });
    let journal = journal_of(dir.path(), "200000000042-us-east-1-app-");
    let back = [
        "rollback",
        "--journal",
        journal.to_str().expect("path"),
        "--delete-secrets",
    ];
    until_done(dir.path(), &proxy, &w.acct, &back);
    rt().block_on(async {
        assert_eq!(service_td(&w.acct).await, w.old_arn);
        assert_eq!(
            parameter(&w.acct, "/ecsguard/app/app/DB_PASSWORD").await,
            None
        );
        let iam = aws_sdk_iam::Client::new(&w.acct.config(REGION).await);
        let roles = iam.list_roles().send().await.expect("roles");
        assert!(
            roles
                .roles()
                .iter()
                .all(|r| !r.role_name().starts_with("ecsguard-")),
            "the created role is gone"
        );
    });
}

/// A deployment pipeline copies the latest revision (the fix's) with a new
/// image, and the service moves on to it. Rolling the fix back must not
/// delete the values, grant or role that copy still needs: the service would
/// fail at its next task start. Once nothing reads them, a rerun deletes them.
#[test]
fn rollback_never_deletes_what_a_later_deployment_still_reads() {
    let w = rt().block_on(world("200000000043", false));
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let deployed = rt().block_on(async {
        let ecs = w.acct.ecs(REGION).await;
        let fixed = service_td(&w.acct).await;
        let td = describe(&w.acct, &fixed).await;
        let mut containers = td.container_definitions().to_vec();
        containers[0].image = Some("app:2".to_owned());
        let out = ecs
            .register_task_definition()
            .family("app")
            .set_execution_role_arn(td.execution_role_arn().map(str::to_owned))
            .set_container_definitions(Some(containers))
            .send()
            .await
            .expect("deploy");
        let arn = out
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .expect("arn")
            .to_owned();
        ecs.update_service()
            .cluster("main")
            .service("web")
            .task_definition(&arn)
            .send()
            .await
            .expect("service");
        arn
    });
    let journal = journal_of(dir.path(), "200000000043-us-east-1-app-");
    let env = w.acct.env(REGION);
    let back = [
        "rollback",
        "--journal",
        journal.to_str().expect("path"),
        "--delete-secrets",
    ];
    let run = common::ecsguard_with(dir.path(), &env, true, &back);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("not deleting /ecsguard/app/app/DB_PASSWORD")
            && run.stderr.contains(&deployed),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("not deleting role"), "{}", run.stderr);
    rt().block_on(async {
        assert_eq!(
            service_td(&w.acct).await,
            deployed,
            "left on the deployment"
        );
        assert_eq!(
            parameter(&w.acct, "/ecsguard/app/app/DB_PASSWORD")
                .await
                .as_deref(),
            Some("Orig1nal-db-pw"),
            "still read, so kept"
        );
        let iam = aws_sdk_iam::Client::new(&w.acct.config(REGION).await);
        let roles = iam.list_roles().send().await.expect("roles");
        assert!(roles
            .roles()
            .iter()
            .any(|r| r.role_name().starts_with("ecsguard-")));
        // The deployment goes away: nothing reads the values any more.
        let ecs = w.acct.ecs(REGION).await;
        ecs.update_service()
            .cluster("main")
            .service("web")
            .task_definition(&w.old_arn)
            .send()
            .await
            .expect("service");
        moto::deregister(&ecs, &deployed).await;
    });
    let run = common::ecsguard_with(dir.path(), &env, true, &back);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    rt().block_on(async {
        assert_eq!(
            parameter(&w.acct, "/ecsguard/app/app/DB_PASSWORD").await,
            None
        );
        let iam = aws_sdk_iam::Client::new(&w.acct.config(REGION).await);
        let roles = iam.list_roles().send().await.expect("roles");
        assert!(roles
            .roles()
            .iter()
            .all(|r| !r.role_name().starts_with("ecsguard-")));
    });
}

fn rollback_run(dir: &Path, acct: &Account, journal: &Path, delete: bool) -> Run {
    let mut args = vec!["rollback", "--journal", journal.to_str().expect("path")];
    if delete {
        args.push("--delete-secrets");
    }
    common::ecsguard_with(dir, &acct.env(REGION), true, &args)
}

/// Journals of `dir` in the order they were written.
fn journals(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut all: Vec<(std::time::SystemTime, std::path::PathBuf)> =
        std::fs::read_dir(dir.join("journal"))
            .expect("journal dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| {
                let t = std::fs::metadata(&p)
                    .and_then(|m| m.created().or_else(|_| m.modified()))
                    .expect("time");
                (t, p)
            })
            .collect();
    all.sort();
    all.into_iter().map(|(_, p)| p).collect()
}

/// The same revision fixed twice (after a rollback, to another prefix):
/// each fix has its own grant, and rolling back the first never deletes the
/// second's, which the running service reads through.
#[test]
fn a_second_fix_of_the_same_revision_keeps_its_own_grant() {
    let w = rt().block_on(world("200000000050", true));
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let first = journals(dir.path()).remove(0);
    assert_eq!(rollback_run(dir.path(), &w.acct, &first, false).code, 0);
    let run = fix_in(
        dir.path(),
        &w.acct,
        &[],
        &["--apply", "--update-services", "--prefix", "/team"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let back = rollback_run(dir.path(), &w.acct, &first, true);
    assert_eq!(back.code, 0, "{}\n{}", back.stdout, back.stderr);
    rt().block_on(async {
        let name = policy_named(&w.acct, "execution", "ecsguard-secrets-app-us-east-1-1-").await;
        assert!(!name.is_empty(), "the second fix's grant is kept");
        let iam = aws_sdk_iam::Client::new(&w.acct.config(REGION).await);
        let doc = iam
            .get_role_policy()
            .role_name("execution")
            .policy_name(&name)
            .send()
            .await
            .expect("policy");
        assert!(
            urlencoding_decode(doc.policy_document()).contains("parameter/team/app/app/"),
            "it is the second fix's"
        );
        assert_eq!(
            parameter(&w.acct, "/team/app/app/DB_PASSWORD")
                .await
                .as_deref(),
            Some("Orig1nal-db-pw")
        );
    });
}

/// A value the fix reused (it existed with the same value) is not deleted
/// by rollback; its grant is not deleted either while a later deployment, a
/// copy of the fix's revision, still reads it. And the copy, which carries
/// the fix's tags, is not taken for the fix's own revision.
#[test]
fn rollback_keeps_the_grant_of_reused_values_and_never_deregisters_a_copy() {
    let w = rt().block_on(async {
        let w = world("200000000051", true).await;
        let ssm = aws_sdk_ssm::Client::new(&w.acct.config(REGION).await);
        ssm.put_parameter()
            .name("/ecsguard/app/app/DB_PASSWORD")
            .value("Orig1nal-db-pw")
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("put");
        w
    });
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &w.acct, &[], &["--apply", "--update-services"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let copy = rt().block_on(async {
        let ecs = w.acct.ecs(REGION).await;
        let fixed = service_td(&w.acct).await;
        let out = ecs
            .describe_task_definition()
            .task_definition(&fixed)
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .send()
            .await
            .expect("describe");
        let td = out.task_definition().expect("td");
        let arn = ecs
            .register_task_definition()
            .family("app")
            .set_execution_role_arn(td.execution_role_arn().map(str::to_owned))
            .set_container_definitions(Some(td.container_definitions().to_vec()))
            .set_tags(Some(out.tags().to_vec()))
            .send()
            .await
            .expect("copy")
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .expect("arn")
            .to_owned();
        ecs.update_service()
            .cluster("main")
            .service("web")
            .task_definition(&arn)
            .send()
            .await
            .expect("deploy");
        arn
    });
    let journal = journals(dir.path()).remove(0);
    let back = rollback_run(dir.path(), &w.acct, &journal, true);
    assert_eq!(back.code, 3, "{}\n{}", back.stdout, back.stderr);
    assert!(
        back.stderr.contains("not deleting inline policy"),
        "{}",
        back.stderr
    );
    rt().block_on(async {
        assert!(!policy_named(&w.acct, "execution", "ecsguard-secrets-")
            .await
            .is_empty());
        assert_eq!(
            parameter(&w.acct, "/ecsguard/app/app/DB_PASSWORD")
                .await
                .as_deref(),
            Some("Orig1nal-db-pw"),
            "reused, so never deleted"
        );
        let ecs = w.acct.ecs(REGION).await;
        let active = ecs
            .list_task_definitions()
            .family_prefix("app")
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .send()
            .await
            .expect("list");
        assert!(
            active.task_definition_arns().contains(&copy),
            "the copy stays ACTIVE: {:?}",
            active.task_definition_arns()
        );
    });
}

/// A parameter whose PutParameter took effect but whose answer was lost,
/// with no retry left, is not in the journal; rollback still finds it under
/// its planned name, by its plan tag, and deletes it.
#[test]
fn rollback_deletes_a_value_the_journal_never_recorded() {
    let w = rt().block_on(world("200000000052", true));
    let dir = common::tempdir();
    let proxy = proxy::Proxy::start(
        dir.path(),
        &["--only", "PutParameter", "--rate", "error-after=1.0"],
    );
    let run = common::ecsguard_with(
        dir.path(),
        &proxy.env(w.acct.env(REGION)),
        true,
        &[
            "fix",
            "--aws",
            "--journal-dir",
            "journal",
            "--apply",
            "--max-attempts",
            "1",
        ],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    rt().block_on(async {
        assert!(parameter(&w.acct, "/ecsguard/app/app/API_TOKEN")
            .await
            .is_some());
    });
    let journal = journals(dir.path()).remove(0);
    let back = rollback_run(dir.path(), &w.acct, &journal, true);
    assert_eq!(back.code, 0, "{}\n{}", back.stdout, back.stderr);
    rt().block_on(async {
        assert_eq!(
            parameter(&w.acct, "/ecsguard/app/app/API_TOKEN").await,
            None
        );
        assert_eq!(service_td(&w.acct).await, w.old_arn);
    });
}

/// Without --update-services the plan prints the update command; a service
/// moved by hand with it is pointed back by rollback too.
#[test]
fn rollback_points_back_a_service_moved_by_hand() {
    let w = rt().block_on(world("200000000053", true));
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &w.acct, &[], &["--apply", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let new_arn = run.json()["plans"][0]["new_arn"]
        .as_str()
        .expect("new arn")
        .to_owned();
    rt().block_on(async {
        let ecs = w.acct.ecs(REGION).await;
        ecs.update_service()
            .cluster("main")
            .service("web")
            .task_definition(&new_arn)
            .send()
            .await
            .expect("update");
    });
    let journal = journals(dir.path()).remove(0);
    let back = rollback_run(dir.path(), &w.acct, &journal, false);
    assert_eq!(back.code, 0, "{}\n{}", back.stdout, back.stderr);
    rt().block_on(async {
        assert_eq!(service_td(&w.acct).await, w.old_arn);
    });
}

/// Two fixes of one family at once: one does it, the other does not make a
/// second revision.
#[test]
fn two_fixes_of_one_family_at_once_make_one_revision() {
    let w = rt().block_on(world("200000000054", true));
    let dir = common::tempdir();
    let spawn = || {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("ecsguard"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(w.acct.env(REGION))
            .current_dir(dir.path())
            .args([
                "fix",
                "--aws",
                "--journal-dir",
                "journal",
                "--apply",
                "--update-services",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn")
    };
    let (mut a, mut b) = (spawn(), spawn());
    let (ca, cb) = (a.wait().expect("a"), b.wait().expect("b"));
    assert!(ca.success() || cb.success(), "{ca:?} {cb:?}");
    rt().block_on(async {
        assert_eq!(revisions(&w.acct).await.len(), 2, "one new revision");
        assert_eq!(
            parameter(&w.acct, "/ecsguard/app/app/DB_PASSWORD")
                .await
                .as_deref(),
            Some("Orig1nal-db-pw")
        );
    });
}

/// A family name as long as ECS allows: the journal's file name stays short.
#[test]
fn a_long_family_name_still_gets_a_journal() {
    let family = format!("app-{}", "x".repeat(240));
    let acct = rt().block_on(async {
        let acct = account("200000000055").await;
        let ecs = acct.ecs(REGION).await;
        moto::register(&ecs, &family, &[("DB_PASSWORD", "Orig1nal-db-pw")]).await;
        acct
    });
    let dir = common::tempdir();
    let run = fix_in(dir.path(), &acct, &[], &["--apply"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for j in journals(dir.path()) {
        let name = j.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(name.len() < 200, "{name}");
    }
}

/// A truncated journal given to rollback is an input error (2), and nothing
/// changes.
#[test]
fn rollback_of_an_unreadable_journal_exits_two() {
    let acct = rt().block_on(account("200000000056"));
    let dir = common::tempdir();
    std::fs::create_dir_all(dir.path().join("journal")).expect("dir");
    let j = dir.path().join("journal/x.json");
    std::fs::write(&j, "{\"version\": 1, \"plan_id\": \"ab").expect("write");
    let back = rollback_run(dir.path(), &acct, &j, true);
    assert_eq!(back.code, 2, "{}\n{}", back.stdout, back.stderr);
    assert_eq!(
        std::fs::read_to_string(&j).expect("read"),
        "{\"version\": 1, \"plan_id\": \"ab"
    );
}
