//! One input file (or Terraform module) in, task definitions and errors out.

use ecsguard_core::{InputError, TaskDefinition};

use crate::extract::{self, Plain};
use crate::json::SyntaxError;
use crate::tree::Node;
use crate::{cfn, json, plan, yaml};

/// What reading one unit of input produced.
#[derive(Default)]
pub struct Outcome {
    pub task_definitions: Vec<TaskDefinition>,
    pub errors: Vec<InputError>,
    /// What was read only in part, or left out on purpose (see `Report::notes`).
    pub notes: Vec<InputError>,
    /// Files read on behalf of another (Terraform `file()` targets): their
    /// own stand-alone results are dropped so nothing is reported twice.
    pub consumed: Vec<String>,
    /// Files this unit read.
    pub files: usize,
}

impl Outcome {
    pub fn syntax_error(&mut self, file: &str, e: SyntaxError) {
        self.errors.push(InputError::file(
            file.to_owned(),
            e.pos.line,
            Some(e.pos.column),
            e.message,
        ));
    }
}

/// The kinds of file the walk picks up, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    Json,
    Yaml,
    Terraform,
    /// A template a `.tf` may render: `.tpl`, `.tftpl`, `.tmpl`, `.j2`.
    Template,
}

impl FileKind {
    pub fn of(path: &std::path::Path) -> Option<FileKind> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".tf") || name == "terragrunt.hcl" {
            Some(FileKind::Terraform)
        } else if name.ends_with(".json") {
            Some(FileKind::Json)
        } else if name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".template") {
            Some(FileKind::Yaml)
        } else if [".tpl", ".tftpl", ".tmpl", ".j2"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            Some(FileKind::Template)
        } else {
            None
        }
    }
}

/// Markers without which a file cannot hold a task definition: files lacking
/// all of them are skipped without parsing. This is what keeps a scan of a
/// large repository fast, and keeps unrelated broken files out of the report.
const JSON_MARKERS: &[&[u8]] = &[
    b"\"containerDefinitions\"",
    b"\"environment\"",
    b"AWS::ECS::TaskDefinition",
    b"aws_ecs_task_definition",
];
const YAML_MARKERS: &[&[u8]] = &[b"AWS::ECS::TaskDefinition", b"containerDefinitions"];

pub fn might_hold_task_definitions(kind: FileKind, text: &str) -> bool {
    let markers = match kind {
        FileKind::Json | FileKind::Template => JSON_MARKERS,
        FileKind::Yaml => YAML_MARKERS,
        FileKind::Terraform => return true,
    };
    markers
        .iter()
        .any(|m| memchr::memmem::find(text.as_bytes(), m).is_some())
        // Escapes (`\u006e`, `\x6E`) can spell a marker without showing it.
        || memchr::memmem::find(text.as_bytes(), b"\\u").is_some()
        || (kind == FileKind::Yaml && memchr::memmem::find(text.as_bytes(), b"\\x").is_some())
}

/// Reads a JSON file: any of the task-definition shapes, a CloudFormation
/// template, or a Terraform plan. Other JSON is ignored.
pub fn scan_json(file: &str, text: &str, out: &mut Outcome) {
    let root = match json::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => return,
        Err(e) => return out.syntax_error(file, e),
    };
    scan_json_root(&root, file, out);
}

pub fn scan_json_root(root: &Node, file: &str, out: &mut Outcome) {
    let files = [file.to_owned()];
    if let Some(td) = root.get_exact("taskDefinition").filter(|t| t.is_map()) {
        // `aws ecs describe-task-definition` output.
        out.task_definitions
            .extend(extract::task_definition(td, &files, &Plain));
    } else if root.get_exact("containerDefinitions").is_some() {
        // `register-task-definition --cli-input-json` input, CodeDeploy `taskdef.json`.
        out.task_definitions
            .extend(extract::task_definition(root, &files, &Plain));
    } else if let Some(resources) = root
        .get_exact("resource")
        .and_then(|r| r.get_exact("aws_ecs_task_definition"))
    {
        // Terraform's JSON syntax (`*.tf.json`, often generated).
        tf_json(resources, file, out);
    } else if plan::is_plan(root) {
        plan::scan(root, file, out);
    } else if cfn::is_template(root) {
        cfn::scan(root, file, "", out);
    } else if extract::looks_like_container_list(root) {
        // A bare array of container definitions, as given to Terraform's `file()`.
        out.task_definitions.push(TaskDefinition {
            file: None,
            family: None,
            revision: None,
            containers: extract::containers(root, &files, &Plain),
        });
    } else if let Some(items) = root.as_seq().filter(|items| {
        items.iter().any(|t| {
            t.get_exact("containerDefinitions").is_some() || t.get_exact("taskDefinition").is_some()
        })
    }) {
        // An array of task definitions (a dump of several, or a deploy tool's
        // list, which may hold other items too: those are not read).
        for item in items {
            let td = item.get_exact("taskDefinition").unwrap_or(item);
            if td.get_exact("containerDefinitions").is_some() {
                out.task_definitions
                    .extend(extract::task_definition(td, &files, &Plain));
            }
        }
    } else if root.get_exact("name").is_some()
        && (root.get_exact("image").is_some() || root.get_exact("environment").is_some())
    {
        // A lone container definition.
        out.task_definitions.push(TaskDefinition {
            file: None,
            family: None,
            revision: None,
            containers: vec![extract::container(root, &files, &Plain)],
        });
    }
}

/// `aws_ecs_task_definition` resources in Terraform's JSON syntax. Their
/// `container_definitions` is a JSON string (its `${…}` holes unknown) or,
/// from a generator, the list itself.
fn tf_json(resources: &Node, file: &str, out: &mut Outcome) {
    let files = [file.to_owned()];
    // `{"name": {…}}`, or a list of such maps.
    let blocks: Vec<(&str, &Node)> = match &resources.kind {
        crate::tree::Kind::Seq(items) => items
            .iter()
            .flat_map(|m| m.entries().iter().map(|(k, v)| (k.text.as_str(), v)))
            .collect(),
        _ => resources
            .entries()
            .iter()
            .map(|(k, v)| (k.text.as_str(), v))
            .collect(),
    };
    for (name, resource) in blocks {
        let family = resource
            .get_exact("family")
            .and_then(Node::as_str)
            .filter(|f| !f.contains("${"))
            .map_or_else(|| format!("aws_ecs_task_definition.{name}"), str::to_owned);
        let Some(defs) = resource.get_exact("container_definitions") else {
            continue;
        };
        let address = format!("aws_ecs_task_definition.{name}");
        let whole_expression = defs.as_str().and_then(|t| {
            let inner = t.trim().strip_prefix("${")?.strip_suffix('}')?;
            // One interpolation spanning the string: an HCL expression.
            (!inner.contains("${")).then_some(inner)
        });
        let mut containers = match defs.as_str() {
            Some(_) if whole_expression.is_some() => {
                let expr = whole_expression.unwrap_or_default();
                let Some((mut found, problems)) =
                    crate::terraform::containers_of_expression(file, expr, u64::MAX)
                else {
                    continue;
                };
                if found.is_empty() || problems > 0 {
                    out.errors.push(InputError::file(
                        file.to_owned(),
                        defs.pos.line,
                        Some(defs.pos.column),
                        format!("{address}: container_definitions: the expression could not be read as container definitions; not scanned"),
                    ));
                    continue;
                }
                // Its positions are the expression's own: the string's here.
                let host = extract::file_span(&files, defs);
                for var in found.iter_mut().flat_map(|c| c.environment.iter_mut()) {
                    var.location = ecsguard_core::Location::File {
                        file: file.to_owned(),
                        line: defs.pos.line,
                        column: defs.pos.column,
                    };
                    var.value_location = None;
                    var.spans = None;
                    if let Some(host) = &host {
                        var.origin = ecsguard_core::Origin::Embedded { host: host.clone() };
                    }
                }
                found
            }
            // `${…}` holes are not evaluated here: masked, they read as unknown.
            Some(text) => {
                let (masked, _) = crate::terraform::mask_interpolations(text);
                match extract::containers_in_string(defs, &masked, file, &address, out) {
                    Some(c) => c,
                    None => continue,
                }
            }
            None => extract::containers(defs, &files, &Plain),
        };
        containers.retain(|c| !c.environment.is_empty() || c.name.is_some());
        out.task_definitions.push(TaskDefinition {
            file: None,
            family: Some(family),
            revision: None,
            containers,
        });
    }
}

/// Reads a template file (`.tpl`, `.tftpl`, `.tmpl`, `.j2`) that holds
/// container definitions with `${…}` and `%{…}` holes. When a `.tf` renders
/// it, it is read there with its variables and this reading is dropped; on
/// its own, each hole is an unknown value.
pub fn scan_template(file: &str, text: &str, out: &mut Outcome) {
    let (masked, _) = crate::terraform::mask_interpolations(text);
    match json::parse(&masked) {
        Ok(Some(root)) => scan_json_root(&root, file, out),
        Ok(None) => {}
        Err(e) => out.notes.push(InputError::file(
            file.to_owned(),
            e.pos.line,
            Some(e.pos.column),
            format!("looks like a container-definition template, but is not JSON once its holes are masked ({}); not scanned", e.message),
        )),
    }
}

/// Reads a YAML file; only CloudFormation templates are of interest.
pub fn scan_yaml(file: &str, text: &str, out: &mut Outcome) {
    let docs = match yaml::parse(text) {
        Ok(docs) => docs,
        Err(e) => return out.syntax_error(file, e),
    };
    for doc in &docs {
        if cfn::is_template(doc) {
            cfn::scan(doc, file, text, out);
        } else {
            // A task definition written in YAML (`--cli-input-yaml`, ecspresso).
            scan_json_root(doc, file, out);
        }
    }
}
