//! The directory walk: .gitignore, skipped folders, cdk.out.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use common::{ecsguard_in, tempdir, write};

fn td(family: &str) -> String {
    common::td_json(family)
}

fn families(dir: &std::path::Path) -> Vec<String> {
    common::families(&ecsguard_in(dir, &["scan", "--format", "json", "."]))
}

#[test]
fn honours_gitignore_and_skips_vendor_folders_but_scans_cdk_out() {
    let dir = tempdir();
    write(
        dir.path(),
        ".gitignore",
        "ignored/\ncdk.out/\n*.generated.json\n",
    );
    write(dir.path(), "kept.json", td("kept"));
    write(dir.path(), "ignored/x.json", td("ignored"));
    write(dir.path(), "y.generated.json", td("generated"));
    write(dir.path(), "node_modules/pkg/td.json", td("node-modules"));
    write(
        dir.path(),
        ".terraform/modules/m/td.json",
        td("dot-terraform"),
    );
    write(dir.path(), ".git/td.json", td("dot-git"));
    write(dir.path(), ".aws/task-definition.json", td("hidden-aws"));
    write(
        dir.path(),
        "infra/cdk.out/Stack.template.json",
        r#"{"Resources": {"T": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"Family": "cdk", "ContainerDefinitions": [{"Name": "c", "Environment": [{"Name": "DB_PASSWORD", "Value": "pw-cdk-123"}]}]}}}}"#,
    );
    assert_eq!(families(dir.path()), ["cdk", "hidden-aws", "kept"]);
}

#[test]
fn a_file_named_explicitly_is_read_whatever_its_name() {
    let dir = tempdir();
    write(dir.path(), "taskdef", td("no-extension"));
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "taskdef"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.json()["findings"][0]["task_definition"]["family"],
        "no-extension"
    );
}

#[test]
fn paths_are_reported_as_given() {
    let dir = tempdir();
    write(dir.path(), "sub/a.json", td("a"));
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "sub"]);
    assert_eq!(run.json()["findings"][0]["location"]["file"], "sub/a.json");
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "./sub/"]);
    assert_eq!(
        run.json()["findings"][0]["location"]["file"],
        "./sub/a.json"
    );
}
