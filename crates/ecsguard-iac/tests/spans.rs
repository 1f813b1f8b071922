//! Spans and origin (DESIGN §6): every variable knows the byte spans of its
//! entry, list and container, and where its value comes from, so that a
//! file fix edits through spans and never through line arithmetic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ecsguard_core::{EnvVar, Origin, TaskDefinition};
use ecsguard_iac::scan::scan_file;
use ecsguard_iac::source::FileKind;
use ecsguard_iac::{terraform, ScanOptions};

fn vars(tds: &[TaskDefinition]) -> Vec<EnvVar> {
    tds.iter()
        .flat_map(|t| t.containers.iter())
        .flat_map(|c| c.environment.iter().cloned())
        .collect()
}

fn read(dir: &std::path::Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// The text a span covers, read back from its file.
fn text_of(span: &ecsguard_core::Span) -> String {
    let text = std::fs::read_to_string(&*span.file).unwrap();
    text[span.start as usize..span.end as usize].to_owned()
}

fn one_file(name: &str, kind: FileKind, text: &str) -> (tempfile::TempDir, Vec<EnvVar>) {
    let dir = tempfile::tempdir().unwrap();
    read(dir.path(), &[(name, text)]);
    let out = scan_file(&dir.path().join(name), kind, &ScanOptions::default());
    assert!(out.errors.is_empty());
    let v = vars(&out.task_definitions);
    (dir, v)
}

#[test]
fn json_entries_have_exact_spans_and_are_in_place() {
    let text = "{\"family\": \"f\", \"containerDefinitions\": [{\"name\": \"c\", \"environment\": [{\"name\": \"DB_PASSWORD\", \"value\": \"x-1\"}, {\"name\": \"A\", \"value\": \"é\"}]}]}";
    let (_d, v) = one_file("td.json", FileKind::Json, text);
    let s = v[0].spans.clone().unwrap();
    assert_eq!(
        text_of(&s.entry()),
        "{\"name\": \"DB_PASSWORD\", \"value\": \"x-1\"}"
    );
    assert!(text_of(&s.list()).starts_with('[') && text_of(&s.list()).ends_with(']'));
    assert!(text_of(&s.container()).starts_with("{\"name\": \"c\""));
    assert_eq!(v[0].origin, Origin::InPlace);
    assert_eq!(
        text_of(&v[1].spans.clone().unwrap().entry()),
        "{\"name\": \"A\", \"value\": \"é\"}"
    );
}

#[test]
fn yaml_entries_have_exact_spans_even_after_multibyte_text() {
    let text = "# é ü ß\nResources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions:\n        - Name: c\n          Environment:\n            - Name: DB_PASSWORD\n              Value: x-1\n";
    let (_d, v) = one_file("t.yaml", FileKind::Yaml, text);
    let s = v[0].spans.clone().unwrap();
    assert!(
        text_of(&s.entry()).starts_with("Name: DB_PASSWORD"),
        "{:?}",
        text_of(&s.entry())
    );
    assert!(text_of(&s.entry()).trim_end().ends_with("Value: x-1"));
    assert!(text_of(&s.container()).starts_with("Name: c"));
    assert_eq!(v[0].origin, Origin::InPlace);
}

#[test]
fn a_json_string_in_cloudformation_is_embedded_in_its_host() {
    let text = "Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions: '[{\"name\": \"c\", \"environment\": [{\"name\": \"DB_PASSWORD\", \"value\": \"x-1\"}]}]'\n";
    let (_d, v) = one_file("t.yaml", FileKind::Yaml, text);
    let Origin::Embedded { host } = &v[0].origin else {
        panic!("{:?}", v[0].origin)
    };
    assert!(text_of(host).starts_with("'[{"), "{}", text_of(host));
    // Entry spans are offsets in the decoded string.
    let s = v[0].spans.clone().unwrap();
    let inner =
        "[{\"name\": \"c\", \"environment\": [{\"name\": \"DB_PASSWORD\", \"value\": \"x-1\"}]}]";
    assert_eq!(
        &inner[s.entry.0 as usize..s.entry.1 as usize],
        "{\"name\": \"DB_PASSWORD\", \"value\": \"x-1\"}"
    );
}

#[test]
fn terraform_values_in_place_computed_and_embedded() {
    let dir = tempfile::tempdir().unwrap();
    read(
        dir.path(),
        &[
            ("terraform.tfvars", "pw = \"x-from-tfvars\"\n"),
            (
                "main.tf",
                "variable \"pw\" {}\nlocals {\n  token = \"t-local\"\n}\nresource \"aws_ecs_task_definition\" \"a\" {\n  family = \"a\"\n  container_definitions = jsonencode([{ name = \"c\", environment = [\n    { name = \"IN_PLACE\", value = \"lit\" },\n    { name = \"FROM_LOCAL\", value = local.token },\n    { name = \"FROM_TFVARS\", value = var.pw },\n  ] }])\n}\nresource \"aws_ecs_task_definition\" \"b\" {\n  family = \"b\"\n  container_definitions = <<EOF\n[{\"name\": \"c\", \"environment\": [{\"name\": \"HEREDOC\", \"value\": \"h\"}]}]\nEOF\n}\nresource \"aws_ecs_task_definition\" \"e\" {\n  family = \"e\"\n  container_definitions = \"[{\\\"name\\\": \\\"c\\\", \\\"environment\\\": [{\\\"name\\\": \\\"ESCAPED\\\", \\\"value\\\": \\\"e\\\"}]}]\"\n}\n",
            ),
        ],
    );
    let out = terraform::scan_module(dir.path(), &[dir.path().join("main.tf")], 1 << 20, &[]);
    assert!(out.errors.is_empty());
    let v = vars(&out.task_definitions);
    let by = |n: &str| v.iter().find(|e| e.name == n).unwrap().clone();
    let in_place = by("IN_PLACE");
    assert_eq!(in_place.origin, Origin::InPlace);
    assert_eq!(
        text_of(&in_place.spans.unwrap().entry()),
        "{ name = \"IN_PLACE\", value = \"lit\" }"
    );
    let Origin::Computed { literal: Some(l) } = by("FROM_LOCAL").origin else {
        panic!()
    };
    assert_eq!(text_of(&l), "\"t-local\"");
    let Origin::Computed { literal: Some(l) } = by("FROM_TFVARS").origin else {
        panic!()
    };
    assert!(l.file.ends_with("terraform.tfvars"));
    assert_eq!(text_of(&l), "\"x-from-tfvars\"");
    let heredoc = by("HEREDOC");
    assert_eq!(heredoc.origin, Origin::InPlace);
    assert_eq!(
        text_of(&heredoc.spans.unwrap().entry()),
        "{\"name\": \"HEREDOC\", \"value\": \"h\"}"
    );
    let Origin::Embedded { host } = by("ESCAPED").origin else {
        panic!()
    };
    assert!(text_of(&host).starts_with("\"[{\\\"name"));
}

#[test]
fn plans_are_generated() {
    let text = r#"{"format_version": "1.2", "resource_changes": [{"type": "aws_ecs_task_definition", "address": "aws_ecs_task_definition.p", "change": {"after": {"family": "p", "container_definitions": "[{\"name\": \"c\", \"environment\": [{\"name\": \"DB_PASSWORD\", \"value\": \"x-1\"}]}]"}}}]}"#;
    let (_d, v) = one_file("plan.json", FileKind::Json, text);
    assert_eq!(v[0].origin, Origin::Generated);
}
