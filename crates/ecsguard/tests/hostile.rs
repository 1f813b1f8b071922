//! Hostile input: what an untrusted pull request could commit to make a scan
//! hang, exhaust memory, read outside the tree, hide a task definition, or
//! rewrite the reviewer's terminal. Each test fails without its bound.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use common::{ecsguard_in, tempdir, write};

fn td(family: &str) -> String {
    common::td_json(family)
}

fn families(run: &common::Run) -> Vec<String> {
    common::families(run)
}

#[test]
fn a_fifo_in_the_tree_never_blocks_the_walk() {
    let dir = tempdir();
    write(dir.path(), "a.json", td("a"));
    let fifo = dir.path().join("pipe.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/stdin", dir.path().join("stdin.json")).expect("symlink");
    // If the walk opened the FIFO it would block forever; the harness's own
    // stdin is closed, so /dev/stdin would read as empty rather than block.
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(families(&run), ["a"], "{}", run.stdout);
    assert_eq!(run.code, 1);
}

#[test]
fn a_pipe_named_on_the_command_line_is_read() {
    let dir = tempdir();
    let fifo = dir.path().join("plan-pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || std::fs::write(writer_path, td("piped")));
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "plan-pipe"]);
    writer.join().expect("writer").expect("written");
    assert_eq!(families(&run), ["piped"], "{}", run.stdout);
    assert_eq!(run.json()["summary"]["files"], 1);
}

#[test]
fn symlinks_out_of_the_tree_are_not_followed_and_said() {
    let outside = tempdir();
    write(outside.path(), "secret.json", td("outside"));
    let dir = tempdir();
    write(dir.path(), "in.json", td("inside"));
    std::os::unix::fs::symlink(
        outside.path().join("secret.json"),
        dir.path().join("l.json"),
    )
    .expect("symlink");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("linked-dir")).expect("symlink");
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(families(&run), ["inside"], "{}", run.stdout);
    let notes = run.json()["notes"].to_string();
    assert!(
        notes.contains("l.json") && notes.contains("linked-dir"),
        "{notes}"
    );
    // Named explicitly, the target is read.
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "l.json"]);
    assert_eq!(families(&run), ["outside"]);
}

#[test]
fn a_tracked_file_is_scanned_even_when_gitignore_matches_it() {
    let dir = tempdir();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("git runs")
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    write(dir.path(), "hidden/td.json", td("tracked"));
    write(dir.path(), "untracked-ignored.json", td("untracked"));
    git(&["add", "hidden/td.json"]);
    write(
        dir.path(),
        ".gitignore",
        "hidden/\nuntracked-ignored.json\n",
    );
    // An `.ignore` file is not git's; it hides nothing.
    write(dir.path(), ".ignore", "visible.json\n");
    write(dir.path(), "visible.json", td("visible"));
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(families(&run), ["tracked", "visible"], "{}", run.stdout);
}

#[test]
fn overlapping_roots_report_each_finding_once() {
    let dir = tempdir();
    write(dir.path(), "ex/a.json", td("a"));
    let run = ecsguard_in(
        dir.path(),
        &["scan", "--format", "json", "ex", "./ex", "ex/a.json"],
    );
    assert_eq!(families(&run), ["a"], "{}", run.stdout);
}

#[test]
fn the_largest_max_file_size_does_not_overflow_into_empty_reads() {
    let dir = tempdir();
    write(dir.path(), "a.json", td("a"));
    let run = ecsguard_in(
        dir.path(),
        &[
            "scan",
            "--format",
            "json",
            "--max-file-size",
            "18446744073709551615",
            ".",
        ],
    );
    assert_eq!(families(&run), ["a"], "{}", run.stdout);
}

#[test]
fn billion_laughs_yaml_is_an_error_not_gigabytes() {
    let dir = tempdir();
    let mut doc = String::from("AWSTemplateFormatVersion: '2010-09-09'\nx0: &x0 [AWS::ECS::TaskDefinition, a, a, a, a, a, a, a, a, a]\n");
    for i in 1..14 {
        let p = i - 1;
        let refs = vec![format!("*x{p}"); 10].join(", ");
        doc.push_str(&format!("x{i}: &x{i} [{refs}]\n"));
    }
    write(dir.path(), "lol.yaml", doc);
    write(dir.path(), "a.json", td("a"));
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(run.code, 2);
    assert_eq!(families(&run), ["a"]);
    let errors = run.json()["errors"].to_string();
    assert!(
        errors.contains("lol.yaml") && errors.contains("aliases expand"),
        "{errors}"
    );
}

#[test]
fn deep_nesting_is_an_error_in_every_format() {
    let dir = tempdir();
    let depth = 50_000;
    write(
        dir.path(),
        "deep.json",
        format!(
            "{{\"containerDefinitions\": {}{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        ),
    );
    write(
        dir.path(),
        "deep.yaml",
        format!(
            "Resources: {{T: {{Type: AWS::ECS::TaskDefinition, Properties: {}{}}}}}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        ),
    );
    write(
        dir.path(),
        "tf/main.tf",
        format!(
            "resource \"aws_ecs_task_definition\" \"x\" {{\n  container_definitions = jsonencode({}{})\n}}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        ),
    );
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let errors = run.json()["errors"].as_array().expect("errors").len();
    assert_eq!(errors, 3, "{}", run.stdout);
}

#[test]
fn exponential_locals_finish_with_an_error() {
    let dir = tempdir();
    let mut tf = String::from("locals {\n  l0 = [\"x\", \"x\"]\n");
    for i in 1..40 {
        tf.push_str(&format!(
            "  l{i} = [local.l{p}, local.l{p}, local.l{p}]\n",
            p = i - 1
        ));
    }
    tf.push_str("}\nresource \"aws_ecs_task_definition\" \"x\" {\n  family = \"x\"\n  container_definitions = jsonencode([{ name = \"c\", environment = [{ name = \"DB_PASSWORD\", value = \"pw-x-123\" }], extra = local.l39 }])\n}\n");
    write(dir.path(), "main.tf", tf);
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.contains("evaluation stopped"), "{}", run.stdout);
}

#[test]
fn file_outside_the_tree_or_special_is_refused() {
    let outside = tempdir();
    write(
        outside.path(),
        "defs.json",
        r#"[{"name": "c", "environment": [{"name": "DB_PASSWORD", "value": "pw-out-123"}]}]"#,
    );
    let dir = tempdir();
    let tf = format!(
        "resource \"aws_ecs_task_definition\" \"a\" {{\n  family = \"a\"\n  container_definitions = file(\"{}\")\n}}\nresource \"aws_ecs_task_definition\" \"b\" {{\n  family = \"b\"\n  container_definitions = file(\"/dev/zero\")\n}}\n",
        outside.path().join("defs.json").display()
    );
    write(dir.path(), "main.tf", tf);
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(run.code, 2);
    assert!(families(&run).is_empty());
    let errors = run.json()["errors"].to_string();
    assert!(errors.contains("outside the scanned folder"), "{errors}");
}

#[test]
fn single_line_json_costs_linear_time() {
    // 200,000 variables on one line: quadratic column arithmetic would take
    // minutes; linear takes well under a second. Asserted by count, not time.
    let dir = tempdir();
    let vars: Vec<String> = (0..200_000)
        .map(|i| format!(r#"{{"name": "V{i}", "value": "é{i}"}}"#))
        .collect();
    write(
        dir.path(),
        "one-line.json",
        format!(
            r#"{{"family": "f", "containerDefinitions": [{{"name": "c", "environment": [{}, {{"name": "DB_PASSWORD", "value": "pw-one-line"}}]}}]}}"#,
            vars.join(",")
        ),
    );
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(families(&run), ["f"]);
}

#[test]
fn cr_only_line_endings_give_the_right_line() {
    let dir = tempdir();
    write(
        dir.path(),
        "cr.json",
        "{\r\"family\": \"f\",\r\"containerDefinitions\": [{\"name\": \"c\", \"environment\": [\r{\"name\": \"X\", \"value\": \"1\"},\r{\"name\": \"DB_PASSWORD\", \"value\": \"pw-cr-1234\"}]}]}\r",
    );
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(run.json()["findings"][0]["location"]["line"], 5);
}

#[test]
fn terminal_control_characters_are_escaped_in_text_output() {
    let dir = tempdir();
    write(
        dir.path(),
        "a.json",
        "{\"family\": \"f\\u001b[2J\", \"containerDefinitions\": [{\"name\": \"c\\u202e\", \"environment\": [{\"name\": \"DB_PASSWORD\\r\", \"value\": \"pw-esc-123\"}]}]}",
    );
    let run = ecsguard_in(dir.path(), &["scan", "."]);
    assert_eq!(run.code, 1);
    for bad in ['\u{1b}', '\r', '\u{202e}'] {
        assert!(!run.stdout.contains(bad), "{:?}", run.stdout);
    }
    assert!(run.stdout.contains("\\u{001b}"), "{}", run.stdout);
}

#[test]
fn json_in_yaml_block_scalars_gets_the_right_lines() {
    let dir = tempdir();
    let head = "Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions: ";
    let body = "[{\"name\": \"c\",\n          \"environment\": [\n            {\"name\": \"DB_PASSWORD\", \"value\": \"pw-block-12345\"}]}]\n";
    // `|` led by a blank line, `>` (folded: its lines are joined), and `|`.
    write(
        dir.path(),
        "blank.yaml",
        format!("{head}|\n\n        {body}"),
    );
    write(
        dir.path(),
        "folded.yaml",
        format!("{head}>\n        {body}"),
    );
    write(dir.path(), "folded-flat.yaml", format!("{head}>\n        [{{\"name\": \"c\",\n        \"environment\": [\n        {{\"name\": \"DB_PASSWORD\", \"value\": \"pw-block-12345\"}}]}}]\n"));
    write(
        dir.path(),
        "literal.yaml",
        format!("{head}|\n        {body}"),
    );
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    let mut got: Vec<(String, u64, u64)> = run.json()["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let l = &f["location"];
            (
                l["file"].as_str().unwrap_or_default().to_owned(),
                l["line"].as_u64().unwrap_or(0),
                l["column"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("./blank.yaml".to_owned(), 9, 22),
            ("./folded-flat.yaml".to_owned(), 8, 18),
            ("./folded.yaml".to_owned(), 8, 22),
            ("./literal.yaml".to_owned(), 8, 22),
        ]
    );
}

#[test]
fn unclosed_interpolations_in_templates_cost_linear_time() {
    // 100,000 `${` that never close, in a JSON file read through
    // templatefile(): rescanning the rest of the text for each would take
    // minutes. Asserted by the scan finishing with its error, not by time.
    let dir = tempdir();
    write(
        dir.path(),
        "defs.json.tpl",
        format!(
            "[{{\"name\": \"c\", \"environment\": [], \"x\": {}]",
            "${ ".repeat(100_000)
        ),
    );
    write(
        dir.path(),
        "main.tf",
        "resource \"aws_ecs_task_definition\" \"x\" {\n  family = \"x\"\n  container_definitions = templatefile(\"defs.json.tpl\", {})\n}\n",
    );
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stdout.contains("container definitions"),
        "{}",
        run.stdout
    );
}
