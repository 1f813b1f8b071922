//! The redaction canary: known values are planted in every source shape (and in
//! broken files, where they sit on the very line an error points at); no output
//! format, log or error message may show any of them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use common::{ecsguard_in, tempdir, write};

/// Planted values. Random-looking so that no part of them occurs by chance.
const CANARIES: &[&str] = &[
    "Zq8XkP2mLw9vRt4N",
    "Hj3Ty7Vb1Nc5Xm0Q",
    "Pp4Kd8Sx2Lw6Qe9R",
    "Ua5Gh1Ko7Mn3Bv8C",
    "Wr6Ez2Yt9Ii4Oo1P",
    "Ll0Kk9Jj8Hh7Gg6F",
    "Dd5Ss4Aa3Qq2Ww1E",
    "Nn2Mm3Bb4Vv5Cc6X",
    "Tt7Rr8Ee9Ww0Qq1A",
    "Yy3Uu4Ii5Oo6Pp7L",
    "Gg8Ff9Dd0Ss1Aa2Z",
    "Cc4Xx5Zz6Ll7Kk8J",
    "Bq7Wn2Rx5Tz8Yk3M",
    "Fv6Hs1Jd9Ka4Lg2P",
    "Ex3Nb8Mc5Vz1Qa7W",
    "D83Dab12ef34cd56",
];

fn plant(dir: &std::path::Path) {
    let [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15] = CANARIES else {
        panic!("sixteen canaries")
    };
    // Dynamic references with literal text around them: the reference is
    // shown by its names only, never with the text.
    write(dir, "cfn-resolve.yaml", format!(
        "Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions:\n        - Name: c\n          Environment:\n            - Name: DB_PASSWORD\n              Value: '{{{{resolve:secretsmanager:db}}}}:{c12}'\n            - Name: API_TOKEN\n              Value: !Join ['', ['{{{{resolve:ssm-secure:/t}}}}', '{c13}']]\n            - Name: SESSION_KEY\n              Value: '{{{{resolve:ssm:/u}}}}:{c14}'\n"
    ));
    // A broken `\\u` escape whose hex digits are planted.
    write(dir, "broken-escape.json", format!("{{\"containerDefinitions\": [{{\"name\": \"c\", \"environment\": [{{\"name\": \"K\", \"value\": \"\\u{}\\u{}\"}}]}}]}}\n", &c15[..4], &c15[4..]));
    write(
        dir,
        "describe.json",
        format!(
            r#"{{"taskDefinition": {{"family": "f", "containerDefinitions": [{{"name": "c", "environment": [
            {{"name": "DB_PASSWORD", "value": "{c0}"}},
            {{"name": "DATABASE_URL", "value": "postgres://u:{c1}@db/x"}}]}}]}}}}"#
        ),
    );
    write(dir, "cfn.yaml", format!(
        "Parameters:\n  Host: {{Type: String}}\nResources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions:\n        - Name: c\n          Environment:\n            - Name: API_TOKEN\n              Value: {c2}\n            - Name: CONN\n              Value: !Sub 'mysql://u:{c3}@${{Host}}/db'\n"
    ));
    write(dir, "cfn-string.yaml", format!(
        "Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      ContainerDefinitions: '[{{\"name\": \"c\", \"environment\": [{{\"name\": \"SECRET_KEY\", \"value\": \"{c4}\"}}]}}]'\n"
    ));
    write(
        dir,
        "tf/variables.tf",
        format!("variable \"pw\" {{\n  default = \"{c5}\"\n}}\n"),
    );
    write(dir, "tf/main.tf", format!(
        "locals {{\n  token = \"{c6}\"\n}}\nresource \"aws_ecs_task_definition\" \"a\" {{\n  family = \"a\"\n  container_definitions = jsonencode([{{ name = \"c\", environment = [\n    {{ name = \"GH_TOKEN\", value = local.token }},\n    {{ name = \"DB_PASSWORD\", value = var.pw }},\n  ] }}])\n}}\nresource \"aws_ecs_task_definition\" \"b\" {{\n  family = \"b\"\n  container_definitions = templatefile(\"t.json.tpl\", {{ pw = \"{c7}\" }})\n}}\n"
    ));
    write(dir, "tf/t.json.tpl", "[{\"name\": \"c\", \"environment\": [{\"name\": \"SMTP_PASSWORD\", \"value\": \"${pw}\"}]}]\n");
    write(
        dir,
        "plan.json",
        format!(
            r#"{{"format_version": "1.2", "resource_changes": [{{"type": "aws_ecs_task_definition", "address": "aws_ecs_task_definition.p", "change": {{"after": {{"family": "p", "container_definitions": "[{{\"name\": \"c\", \"environment\": [{{\"name\": \"ADMIN_PASSWORD\", \"value\": \"{c8}\"}}]}}]"}}}}}}]}}"#
        ),
    );
    // Broken files: the canary is on the line the error points at.
    write(dir, "broken.json", format!("{{\"containerDefinitions\": [\n{{\"name\": \"DB_PASSWORD\", \"value\": \"{c9}\",, }}\n]}}\n"));
    write(dir, "broken-tf/main.tf", format!(
        "resource \"aws_ecs_task_definition\" \"x\" {{\n  container_definitions = jsonencode([{{ name = \"c\", environment = [{{ name = \"PW\", value = \"{c10}\" ]] }}\n}}\n"
    ));
    write(dir, "broken.yaml", format!("Resources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties: {{ Pw: \"{c11}\" ]\n"));
    write(
        dir,
        "latin1.json",
        [
            b"{\"containerDefinitions\": \"".as_slice(),
            c11.as_bytes(),
            b"\xe9\"}",
        ]
        .concat(),
    );
}

fn assert_clean(what: &str, output: &str) {
    for canary in CANARIES {
        for window in 0..=canary.len() - 6 {
            let part = &canary[window..window + 6];
            assert!(
                !output.contains(part),
                "{what} shows part of a planted value ({part}):\n{output}"
            );
        }
    }
}

#[test]
fn no_planted_value_reaches_any_output() {
    let dir = tempdir();
    plant(dir.path());
    let out_file = dir.path().join("report.out");
    let out_arg = out_file.to_str().expect("path").to_owned();
    let mut runs = 0;
    for format in ["text", "json", "sarif", "asff", "html"] {
        for extra in [
            &[][..],
            &["-v"][..],
            &["--ruleset", "securityhub"][..],
            &["--output", out_arg.as_str()][..],
        ] {
            let mut args = vec!["scan", "--format", format];
            if format == "asff" {
                args.extend(["--account", "123456789012", "--region", "eu-west-1"]);
            }
            args.extend_from_slice(extra);
            args.push(".");
            let run = ecsguard_in(dir.path(), &args);
            assert_eq!(run.code, 2, "broken files make it exit 2: {}", run.stdout);
            let what = format!("{args:?}");
            assert_clean(&format!("stdout of {what}"), &run.stdout);
            assert_clean(&format!("stderr of {what}"), &run.stderr);
            if extra.first() == Some(&"--output") {
                let written = std::fs::read_to_string(&out_file).expect("report written");
                assert_clean(&format!("{what} output file"), &written);
                std::fs::remove_file(&out_file).expect("rm");
            }
            runs += 1;
        }
    }
    assert_eq!(runs, 20);
    // The canaries were found, not just missed.
    let run = ecsguard_in(dir.path(), &["scan", "--format", "json", "."]);
    let report = run.json();
    let findings = report["findings"].as_array().expect("findings").len();
    let errors = report["errors"].as_array().expect("errors").len();
    assert_eq!(findings, 12, "{}", run.stdout);
    assert_eq!(errors, 5, "{}", run.stdout);
}

/// The file fix plan (text and JSON, diffs included) and what `--apply`
/// writes without `--push` never show a planted value.
#[test]
fn no_planted_value_reaches_a_fix_plan_or_a_rewritten_file() {
    let dir = tempdir();
    plant(dir.path());
    for format in ["text", "json"] {
        let run = ecsguard_in(dir.path(), &["fix", "--format", format, "."]);
        assert!(run.code == 0 || run.code == 2, "{}", run.stderr);
        assert_clean(&format!("fix --format {format}"), &run.stdout);
        assert_clean(&format!("fix --format {format} stderr"), &run.stderr);
    }
    let run = ecsguard_in(dir.path(), &["fix", "--apply", "."]);
    assert_clean("fix --apply", &run.stdout);
    assert_clean("fix --apply stderr", &run.stderr);
}

/// A baseline written from the planted tree, and the errors a config with a
/// planted value on its broken line gives, show none of them.
#[test]
fn no_planted_value_reaches_a_baseline_or_a_config_error() {
    let dir = tempdir();
    plant(dir.path());
    let run = ecsguard_in(dir.path(), &["scan", "--write-baseline", "base.json", "."]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let baseline = std::fs::read_to_string(dir.path().join("base.json")).expect("baseline");
    assert!(baseline.contains("fingerprint"), "{baseline}");
    assert_clean("the baseline", &baseline);
    assert_clean("the baseline run", &format!("{}{}", run.stdout, run.stderr));

    let c = CANARIES[0];
    for config in [
        format!("[[ignore]]\nfamily = \"f\"\nreason = \"{c}\n"),
        format!("[rules]\nselect = [\"{c}\"]\n"),
        format!("[[ignore]]\nfingerprint = \"{c}\"\n"),
        format!("{c} = 1\n"),
    ] {
        write(dir.path(), ".ecsguard.toml", &config);
        let run = ecsguard_in(dir.path(), &["scan", "."]);
        assert_eq!(run.code, 2, "{config}: {}", run.stderr);
        assert!(run.stderr.contains(".ecsguard.toml"), "{}", run.stderr);
        assert_clean(&format!("config error for {config:?}"), &run.stderr);
        assert_clean(&format!("config error for {config:?}"), &run.stdout);
    }
}

/// Templates that mix a secret input with literal text: `fix PATH` moves the
/// expression into a declared secret, and its diff shows the reference but
/// never the literal text (the scan shows `!Sub …${DbPassword}…` too).
#[test]
fn no_literal_text_of_a_moved_template_reaches_the_fix_plan() {
    let dir = tempdir();
    let [c0, c1, c2, c3, c4, ..] = CANARIES else {
        panic!("canaries")
    };
    write(dir.path(), "cfn.yaml", format!(
        "Parameters:\n  DbPassword:\n    Type: String\n    NoEcho: true\nResources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      Family: sub\n      ContainerDefinitions:\n        - Name: app\n          Environment:\n            - Name: DB_PASSWORD\n              Value: !Sub '${{DbPassword}}{c0}'\n            - Name: API_KEY\n              Value: !Sub 'sk_live_{c1}${{DbPassword}}'\n            - Name: CONN\n              Value: !Sub 'postgres://{c2}:${{DbPassword}}@db/x'\n"
    ));
    write(dir.path(), "cfn.json", format!(
        "{{\"Parameters\": {{\"Pw\": {{\"Type\": \"String\", \"NoEcho\": true}}}}, \"Resources\": {{\"T\": {{\"Type\": \"AWS::ECS::TaskDefinition\", \"Properties\": {{\"Family\": \"j\", \"ContainerDefinitions\": [{{\"Name\": \"c\", \"Environment\": [{{\"Name\": \"DB_PASSWORD\", \"Value\": {{\"Fn::Sub\": \"${{Pw}}{c3}\"}}}}]}}]}}}}}}}}\n"
    ));
    write(dir.path(), "tf/main.tf", format!(
        "variable \"db_password\" {{\n  type      = string\n  sensitive = true\n}}\nresource \"aws_ecs_task_definition\" \"a\" {{\n  family = \"a\"\n  container_definitions = jsonencode([{{ name = \"c\", environment = [\n    {{ name = \"DB_PASSWORD\", value = \"${{var.db_password}}{c4}\" }},\n    {{ name = \"DSN\", value = \"postgres://{c4}:${{var.db_password}}@h/db\" }},\n  ] }}])\n}}\n"
    ));
    for format in ["text", "json"] {
        let run = ecsguard_in(dir.path(), &["fix", "--format", format, "."]);
        assert!(
            run.stdout.contains("${DbPassword}")
                || run.stdout.contains("${{DbPassword}}")
                || run.stdout.contains("DbPassword"),
            "{}",
            run.stdout
        );
        assert_clean(&format!("fix --format {format}"), &run.stdout);
        assert_clean(&format!("fix --format {format} stderr"), &run.stderr);
    }
    let run = ecsguard_in(dir.path(), &["scan", "--format", "sarif", "."]);
    assert_clean("sarif", &run.stdout);
}

/// More template shapes (the third adversarial pass), and secrets elsewhere
/// in the file that the diff's context lines would show: none reaches the
/// fix plan or a SARIF fix.
#[test]
fn no_template_literal_or_neighbouring_secret_reaches_the_fix_plan() {
    let dir = tempdir();
    let [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, ..] = CANARIES else {
        panic!("canaries")
    };
    write(dir.path(), "cfn.yaml", format!(
        "Parameters:\n  Pw:\n    Type: String\n    NoEcho: true\nConditions:\n  Prod: !Equals [a, b]\nResources:\n  Db:\n    Type: AWS::RDS::DBInstance\n    Properties:\n      MasterUsername: admin\n      MasterUserPassword: {c0}\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      Family: shapes\n      ContainerDefinitions:\n        - Name: app\n          Environment:\n            - Name: DB_PASSWORD\n              Value: !If [Prod, !Ref Pw, {c1}]\n            - Name: API_TOKEN\n              Value: !Join ['', [!Ref Pw, {c2}]]\n            - Name: PIN_SECRET\n              Value: !Sub '${{Pw}}Qx7${{Pw}}Zp9${{Pw}}Wv8'\nOutputs:\n  Dsn:\n    Value: !Sub 'postgres://app:{c3}@db/x'\n"
    ));
    write(dir.path(), "cfn.json", format!(
        "{{\"Parameters\": {{\"Pw\": {{\"Type\": \"String\", \"NoEcho\": true}}}},\n \"Resources\": {{\"T\": {{\"Type\": \"AWS::ECS::TaskDefinition\", \"Properties\": {{\"Family\": \"j\", \"ContainerDefinitions\": [{{\"Name\": \"c\", \"Environment\": [\n  {{\"Name\": \"DB_PASSWORD\", \"Value\": {{\"Fn::Join\": [\"\", [{{\"Ref\": \"Pw\"}}, \"{c4}\"]]}}}},\n  {{\"Name\": \"API_TOKEN\", \"Value\": {{\"Fn::Sub\": [\"${{Pw}}{c5}\", {{}}]}}}}\n]}}]}}}}}}}}\n"
    ));
    write(dir.path(), "tf/main.tf", format!(
        "variable \"pw\" {{\n  type      = string\n  sensitive = true\n}}\nresource \"aws_db_instance\" \"db\" {{\n  password = \"{c6}\"\n}}\nresource \"aws_ecs_task_definition\" \"a\" {{\n  family = \"a\"\n  container_definitions = jsonencode([{{ name = \"c\", environment = [\n    {{ name = \"DB_PASSWORD\", value = var.pw != \"\" ? var.pw : \"{c7}\" }},\n    {{ name = \"API_TOKEN\", value = \"${{upper(\"{c8}\")}}${{var.pw}}\" }},\n    {{ name = \"SMTP_PASSWORD\", value = \"${{\"{c9}\"}}${{var.pw}}\" }},\n  ] }}])\n}}\n"
    ));
    let outputs: Vec<(String, String)> = ["text", "json"]
        .iter()
        .map(|f| {
            let run = ecsguard_in(dir.path(), &["fix", "--format", f, "."]);
            (
                format!("fix --format {f}"),
                format!("{}{}", run.stdout, run.stderr),
            )
        })
        .chain(std::iter::once({
            let run = ecsguard_in(dir.path(), &["scan", "--format", "sarif", "."]);
            ("sarif".to_owned(), run.stdout)
        }))
        .collect();
    // The plan was made (something moved), and showed nothing planted.
    assert!(outputs[0].1.contains("SecretString"), "{}", outputs[0].1);
    for (what, text) in &outputs {
        assert_clean(what, text);
        for piece in ["Qx7", "Zp9", "Wv8"] {
            assert!(!text.contains(piece), "{what} shows {piece}:\n{text}");
        }
    }
}

/// The fourth adversarial pass: whatever else the file holds near a fix (a
/// database password on one line or in a block scalar, a parameter's
/// default, an output, a comment, a command, JSON escapes) never shows in
/// the plan's diff or in a SARIF fix, since the file's own lines are shown
/// with their values masked.
#[test]
fn nothing_the_file_holds_near_a_fix_reaches_the_plan() {
    let dir = tempdir();
    let [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, ..] = CANARIES else {
        panic!("canaries")
    };
    write(dir.path(), "cfn.yaml", format!(
        "Parameters:\n  Pw:\n    Type: String\n    NoEcho: true\n    Default: {c3}\nResources:\n  Db: {{Type: AWS::RDS::DBInstance, Properties: {{MasterUserPassword: {c0}}}}}\n  Db2:\n    Type: AWS::RDS::DBInstance\n    Properties:\n      MasterUserPassword: |\n        {c1}\n      \"MasterUsername\": {c2}\n  Param:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Value: {c6}\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      Family: near\n      ContainerDefinitions:\n        - Name: app\n          Command: [\"--token\", \"{c11}\"]\n          Environment:\n            - Name: DB_PASSWORD   # deploy token {c5}\n              Value: !Ref Pw\nOutputs:\n  Conn:\n    Value: {c4}\n"
    ));
    write(dir.path(), "tf/main.tf", format!(
        "variable \"db_password\" {{\n  type      = string\n  sensitive = true\n  default   = \"{c7}\"\n}}\nlocals {{\n  fallback = coalesce(var.db_password, \"{c8}\")\n}}\nresource \"aws_ecs_task_definition\" \"a\" {{\n  family = \"a\"\n  container_definitions = jsonencode([{{\n    name    = \"c\"\n    command = [\"--db-password={c9}\"]\n    environment = [\n      {{ name = \"DB_PASSWORD\", value = var.db_password }},\n    ]\n  }}])\n}}\n"
    ));
    write(dir.path(), "cfn.json", format!(
        "{{\"Parameters\": {{\"Pw\": {{\"Type\": \"String\", \"NoEcho\": true}}}},\n \"Resources\": {{\n  \"Db\": {{\"Type\": \"AWS::RDS::DBInstance\", \"Properties\": {{\"pass\\u0077ord\": \"{c10}\"}}}},\n  \"T\": {{\"Type\": \"AWS::ECS::TaskDefinition\", \"Properties\": {{\"Family\": \"j\", \"ContainerDefinitions\": [{{\"Name\": \"c\", \"Environment\": [\n  {{\"Name\": \"DB_PASSWORD\", \"Value\": {{\"Ref\": \"Pw\"}}}}\n]}}]}}}}}}}}\n"
    ));
    assert_plans_clean(dir.path());
}

/// The fifth adversarial pass: lines the fix edits in part or that carry a
/// redaction mark, unformatted Terraform, one-line blocks and JSON, dotted
/// words, base64, descriptions and images with credentials: masked.
#[test]
fn lines_the_fix_touches_in_part_show_no_value() {
    let dir = tempdir();
    let [c0, c1, c2, c3, c4, c5, c6, c7, c8, ..] = CANARIES else {
        panic!("canaries")
    };
    write(dir.path(), "cfn.yaml", format!(
        "Parameters:\n  Pw:\n    Type: String\n    NoEcho: true\nResources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      Family: partly\n      ContainerDefinitions:\n        - Name: app\n          Image: me:{c6}@registry.example.com/app:1\n          Command: [app, --key, {c7}==]\n          Environment:\n            - Name: MODE\n              Value: info # admin pw {c0}\n            - Name: DB_PASSWORD # token {c1}\n              Value: !Ref Pw\n"
    ));
    write(dir.path(), "one.json", format!(
        "{{\"Parameters\": {{\"Pw\": {{\"Type\": \"String\", \"NoEcho\": true}}}}, \"Resources\": {{\"P\": {{\"Type\": \"AWS::SSM::Parameter\", \"Properties\": {{\"Value\": \"{c2}\", \"Description\": \"admin password is {c8}\"}}}}, \"T\": {{\"Type\": \"AWS::ECS::TaskDefinition\", \"Properties\": {{\"Family\": \"one\", \"ContainerDefinitions\": [{{\"Name\": \"c\", \"Environment\": [{{\"Name\": \"DB_PASSWORD\", \"Value\": {{\"Ref\": \"Pw\"}}}}]}}]}}}}}}}}\n"
    ));
    write(dir.path(), "tf/main.tf", format!(
        "variable \"pw\" {{\n  type      = string\n  sensitive = true\n}}\nvariable \"seed\" {{ default = \"{c3}\" }}\nresource \"aws_ecs_task_definition\" \"a\" {{\n  family = \"a\"\n  tags = {{ seed = \"correct.horse.{c4}\" }}\n  container_definitions = jsonencode([{{\n    name = \"c\"\n    command=\"--x={c5}\"\n    environment = [\n      {{ name = \"DB_PASSWORD\", value = var.pw }},\n    ]\n  }}])\n}}\n"
    ));
    assert_plans_clean(dir.path());
}

/// The sixth adversarial pass: words taken for keys (`--name=…`, padded
/// base64, crafted keys), block scalars, lines that only look like block
/// headers, prefixes of allowed shapes, strings that run on over lines.
#[test]
fn masking_takes_nothing_for_a_key_or_a_name_that_is_not_one() {
    let dir = tempdir();
    let [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15] = CANARIES else {
        panic!("canaries")
    };
    write(dir.path(), "cfn.yaml", format!(
        "Parameters:\n  Pw:\n    Type: String\n    NoEcho: true\nResources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      Family: keys\n      ContainerDefinitions:\n        - Name: c1\n          EntryPoint:\n            - --name={c0}\n            - {c1}=\n            - {c2}==\n          DockerLabels: {{N-a-m-e: {c3}, __TYPE__: {c4}}}\n          Command: [app, {c5}==, Ref, {c6}]\n          HealthCheck:\n            Command:\n              - |\n                output {c7}\n                data=$(mysql -u admin -p{c8})\n          Links: [\"AWS::{c12} more\", \"<<{c13} words\", /services/T0/B0/{c14}]\n          Hostname: \"one two\n            {c15}: three\"\n          Environment:\n            - Name: DB_PASSWORD\n              Value: !Ref Pw\n"
    ));
    write(dir.path(), "tf/main.tf", format!(
        "variable \"pw\" {{ type = string }}\nresource \"aws_ecs_task_definition\" \"t\" {{\n  family = \"f\"\n  container_definitions = jsonencode([\n    {{\n      name = \"c\"\n      image = \"/{c10}\"\n      data = \"{c9}\"\n      hostname = \"${{{c11}.x}}\"\n      environment = [\n        {{ name = \"DB_PASSWORD\", value = var.pw }},\n      ]\n    }}\n  ])\n}}\n"
    ));
    assert_plans_clean(dir.path());
}

/// The seventh adversarial pass: block scalars with indentation digits or
/// comments, strings and flow lists that run on, heredoc scripts, crafted
/// keys, words that start like a mark, paths and ARNs of the file.
#[test]
fn a_value_of_the_file_shows_only_when_the_fix_invented_it() {
    let dir = tempdir();
    let [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, ..] = CANARIES else {
        panic!("canaries")
    };
    write(dir.path(), "cfn.yaml", format!(
        "Parameters:\n  Pw:\n    Type: String\n    NoEcho: true\nResources:\n  T:\n    Type: AWS::ECS::TaskDefinition\n    Properties:\n      Family: runs\n      ContainerDefinitions:\n        - Name: c1\n          Command: |2 # keep\n            name=x{c0}\n            Ref {c1}\n          EntryPoint: [sh, -c,\n            {c2}=x]\n          Hostname: \"it\\\"s\n            {c3}: x\"\n          DockerLabels: {{Name: web, \"my key\": {c4}, 1x: {c5}}}\n          Links: [<redacted{c6}, /{c7}/A, arn:aws:kms:{c8}::key/x]\n          Environment:\n            - Name: DB_PASSWORD\n              Value: !Ref Pw\n"
    ));
    write(dir.path(), "tf/main.tf", format!(
        "variable \"pw\" {{\n  type      = string\n  sensitive = true\n}}\nresource \"aws_ecs_task_definition\" \"t\" {{\n  family = \"f\"\n  container_definitions = jsonencode([{{\n    name       = \"c\"\n    entryPoint = [\"sh\", \"-c\", <<-EOT\n      name = {c9}\n      {c10} = x\n    EOT\n    ]\n    hostname = \"arn:aws:ssm:{c11}::parameter/x\"\n    environment = [\n      {{ name = \"DB_PASSWORD\", value = var.pw }},\n    ]\n  }}])\n}}\n"
    ));
    assert_plans_clean(dir.path());
}

/// The fix plan (text and JSON) moved something, and neither it nor SARIF
/// (with its fixes) shows any planted value.
fn assert_plans_clean(dir: &std::path::Path) {
    let mut outputs = Vec::new();
    for format in ["text", "json"] {
        let run = ecsguard_in(dir, &["fix", "--format", format, "."]);
        outputs.push((
            format!("fix --format {format}"),
            format!("{}{}", run.stdout, run.stderr),
        ));
    }
    let sarif = ecsguard_in(dir, &["scan", "--format", "sarif", "."]);
    outputs.push(("sarif".to_owned(), sarif.stdout));
    assert!(
        outputs[0].1.contains("ValueFrom"),
        "something moved: {}",
        outputs[0].1
    );
    for (what, text) in &outputs {
        assert_clean(what, text);
    }
}
