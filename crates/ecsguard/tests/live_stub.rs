//! Live-scan behaviour moto cannot show: pagination of the list calls, denied
//! regions and describes that keep failing. Served by a local stub endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;
#[path = "common/stub.rs"]
mod stub;

use common::Run;
use stub::{Behaviour, Revision};

fn revision(family: &str, revision: u32, active: bool, pw: &str) -> Revision {
    Revision {
        family: family.into(),
        revision,
        active,
        env: vec![
            ("DB_PASSWORD".into(), pw.into()),
            ("LOG_LEVEL".into(), "info".into()),
        ],
    }
}

fn scan(endpoint: &str, args: &[&str]) -> Run {
    let env: Vec<(&str, String)> = [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    let mut all = vec!["scan", "--aws", "--format", "json"];
    all.extend_from_slice(args);
    common::ecsguard_with(std::path::Path::new("."), &env, true, &all)
}

#[test]
fn pages_through_more_than_a_hundred_families() {
    let revisions: Vec<Revision> = (0..250)
        .map(|i| revision(&format!("fam-{i:03}"), 1, true, "pw-value-123"))
        .collect();
    let stub = stub::start(revisions, Behaviour::default());
    let run = scan(&stub.endpoint, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(250));
    assert_eq!(stub.calls("ListTaskDefinitionFamilies"), 3, "pages of 100");
    assert_eq!(
        stub.calls("DescribeTaskDefinition"),
        250,
        "one describe per family"
    );
    // Older revisions of the 250 affected families are counted from one
    // region-wide listing: 3 pages ACTIVE, 1 (empty) page INACTIVE.
    assert_eq!(stub.calls("ListTaskDefinitions"), 4);
    assert_eq!(report["summary"]["api_calls"], 3 + 250 + 4);
}

#[test]
fn pages_through_more_than_a_hundred_revisions() {
    let mut revisions: Vec<Revision> = (1..=230)
        .map(|r| revision("big", r, true, "pw-value-123"))
        .collect();
    revisions.extend((231..=350).map(|r| revision("big", r, false, "pw-value-456")));
    let stub = stub::start(revisions, Behaviour::default());
    let run = scan(&stub.endpoint, &["--all-revisions", "--concurrency", "32"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(350));
    assert_eq!(
        stub.calls("ListTaskDefinitions"),
        3 + 2,
        "3 pages ACTIVE, 2 pages INACTIVE"
    );
    assert_eq!(stub.calls("DescribeTaskDefinition"), 350);
    assert_eq!(
        stub.calls("ListTaskDefinitionFamilies"),
        0,
        "not needed for --all-revisions"
    );
}

#[test]
fn a_denied_region_is_an_error_and_the_rest_is_still_scanned() {
    let stub = stub::start(
        vec![revision("app", 1, true, "pw-value-123")],
        Behaviour {
            denied_regions: vec!["eu-west-1".into()],
            ..Behaviour::default()
        },
    );
    let run = scan(
        &stub.endpoint,
        &["--region", "us-east-1", "--region", "eu-west-1"],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    let report = run.json();
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(1));
    assert_eq!(report["findings"][0]["location"]["region"], "us-east-1");
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["region"], "eu-west-1");
    assert_eq!(
        errors[0]["account"], "123456789012",
        "the account is looked up for the error"
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("AccessDenied"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_describe_that_keeps_failing_is_an_error_with_its_arn() {
    let bad = revision("bad", 1, true, "pw-value-123");
    let stub = stub::start(
        vec![revision("good", 1, true, "pw-value-123"), bad.clone()],
        Behaviour {
            failing_arns: vec![bad.arn()],
            ..Behaviour::default()
        },
    );
    let run = scan(&stub.endpoint, &["--all-revisions", "--max-attempts", "2"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let report = run.json();
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(1));
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["arn"], bad.arn().as_str());
    assert_eq!(
        stub.calls("DescribeTaskDefinition"),
        1 + 2,
        "retried up to --max-attempts"
    );
    assert_eq!(
        report["summary"]["task_definitions"], 1,
        "what failed is not counted as scanned"
    );
}
