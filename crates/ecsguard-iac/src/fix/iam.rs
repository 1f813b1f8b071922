//! What the execution role needs once a task definition reads its values
//! through `secrets`: ECS fetches them with the execution role when a task
//! starts, so without the grant the fixed task definition cannot start.

use std::path::Path;

use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span;

use crate::source::FileKind;
use crate::tree::{Kind, Node};

/// The execution role of the task definition a container belongs to, as
/// the file writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionRole {
    /// Set: the expression or ARN as written.
    Set(String),
    /// The task definition sets none: ECS cannot read secrets without one.
    Missing,
    /// Not visible here (a bare container list, a module input).
    Unknown,
}

/// Finds the execution role for the container at `container` (byte span).
pub fn execution_role(path: &Path, text: &str, container: (u32, u32)) -> ExecutionRole {
    task_definition_of(path, text, container).0
}

/// The execution role, and where the task definition holding the container
/// starts (so that two task definitions of one family stay apart).
pub fn task_definition_of(
    path: &Path,
    text: &str,
    container: (u32, u32),
) -> (ExecutionRole, Option<u32>) {
    Parsed::new(path, text).task_definition_of(text, container)
}

/// A file parsed once, for every container asked about in it.
pub enum Parsed {
    Terraform(Body),
    Tree(Vec<Node>),
    Nothing,
}

impl Parsed {
    pub fn new(path: &Path, text: &str) -> Self {
        match FileKind::of(path) {
            Some(FileKind::Terraform) => hcl_edit::parser::parse_body(text)
                .map(Parsed::Terraform)
                .unwrap_or(Parsed::Nothing),
            Some(FileKind::Yaml) => crate::yaml::parse(text)
                .map(Parsed::Tree)
                .unwrap_or(Parsed::Nothing),
            Some(FileKind::Json) => match crate::json::parse(text) {
                Ok(Some(root)) => Parsed::Tree(vec![root]),
                _ => Parsed::Nothing,
            },
            _ => Parsed::Nothing,
        }
    }

    pub fn task_definition_of(
        &self,
        text: &str,
        container: (u32, u32),
    ) -> (ExecutionRole, Option<u32>) {
        let found = match self {
            Parsed::Terraform(body) => find_block(body, text, container),
            Parsed::Tree(docs) => docs.iter().find_map(|d| in_tree(d, container, text)),
            Parsed::Nothing => None,
        };
        match found {
            Some((role, at)) => (role, Some(at)),
            None => (ExecutionRole::Unknown, None),
        }
    }
}

/// A role that is written but says "none": `null`, `""`, `!Ref AWS::NoValue`.
fn is_none(node: &Node) -> bool {
    match &node.kind {
        Kind::Null => true,
        Kind::Str(s, _) => s.trim().is_empty(),
        Kind::Tagged(tag, inner) => {
            tag.trim_start_matches('!') == "Ref" && inner.as_str() == Some("AWS::NoValue")
        }
        Kind::Map(entries) => {
            entries.len() == 1
                && entries[0].0.text == "Ref"
                && entries[0].1.as_str() == Some("AWS::NoValue")
        }
        _ => false,
    }
}

/// The map that holds the container list holding `container`, and so the
/// task definition's own keys (`executionRoleArn`, or CloudFormation's
/// `ExecutionRoleArn` next to `ContainerDefinitions`).
fn in_tree(node: &Node, container: (u32, u32), text: &str) -> Option<(ExecutionRole, u32)> {
    let inside = |n: &Node| n.span.start <= container.0 && container.1 <= n.span.end;
    if !node.span.is_empty() && !inside(node) {
        return None;
    }
    match &node.kind {
        Kind::Map(entries) => {
            let holds = entries.iter().any(|(k, v)| {
                k.text.eq_ignore_ascii_case("containerDefinitions")
                    && v.as_seq().is_some_and(|items| {
                        items
                            .iter()
                            .any(|c| (c.span.start, c.span.end) == container)
                    })
            });
            if holds {
                let role = match entries
                    .iter()
                    .rev()
                    .find(|(k, _)| k.text.eq_ignore_ascii_case("executionRoleArn"))
                {
                    Some((_, v)) if !is_none(v) => ExecutionRole::Set(shown(v, text)),
                    _ => ExecutionRole::Missing,
                };
                return Some((role, node.span.start));
            }
            entries
                .iter()
                .find_map(|(_, v)| in_tree(v, container, text))
        }
        Kind::Seq(items) => items.iter().find_map(|v| in_tree(v, container, text)),
        Kind::Tagged(_, inner) => in_tree(inner, container, text),
        _ => None,
    }
}

/// A role as written: a literal ARN, or the source text of an expression
/// (`!GetAtt ExecRole.Arn`), on one line.
fn shown(node: &Node, text: &str) -> String {
    match node.as_str() {
        Some(s) => s.to_owned(),
        None => text
            .get(node.span.start as usize..node.span.end as usize)
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
    }
}

fn find_block(body: &Body, text: &str, container: (u32, u32)) -> Option<(ExecutionRole, u32)> {
    for s in body.iter() {
        let Structure::Block(b) = s else { continue };
        let Some(span) = b.span() else { continue };
        if !(span.start <= container.0 as usize && container.1 as usize <= span.end) {
            continue;
        }
        let is_td = b.ident.as_str() == "resource"
            && b.labels
                .first()
                .is_some_and(|l| l.as_str() == "aws_ecs_task_definition");
        if !is_td {
            return find_block(&b.body, text, container);
        }
        let written = b
            .body
            .get_attribute("execution_role_arn")
            .and_then(|a| a.value.span())
            .map(|r| text[r].split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|t| t != "null" && t != "\"\"");
        let role = match written {
            Some(t) => ExecutionRole::Set(t),
            None => ExecutionRole::Missing,
        };
        return Some((role, u32::try_from(span.start).unwrap_or(u32::MAX)));
    }
    None
}

/// A task definition that reads `secrets` and sets no execution role: its
/// tasks cannot start, since ECS reads secrets with that role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roleless {
    /// The family as written (or the resource's address).
    pub family: String,
    /// The `valueFrom`s it reads, as written.
    pub reads: Vec<String>,
}

/// The task definitions of a file that read `secrets` with no execution
/// role. Cheap for a file that never says `secrets`.
pub fn roleless(path: &Path, text: &str) -> Vec<Roleless> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !text.contains("ecrets") {
        return Vec::new();
    }
    let mut out = Vec::new();
    match Parsed::new(path, text) {
        Parsed::Tree(docs) => {
            for d in &docs {
                roleless_in_tree(d, text, &mut out);
            }
        }
        Parsed::Terraform(body) => {
            for s in body.iter() {
                let Structure::Block(b) = s else { continue };
                let is_td = b.ident.as_str() == "resource"
                    && b.labels
                        .first()
                        .is_some_and(|l| l.as_str() == "aws_ecs_task_definition");
                if !is_td {
                    continue;
                }
                let role = b
                    .body
                    .get_attribute("execution_role_arn")
                    .and_then(|a| a.value.span())
                    .map(|r| text[r].trim().to_owned())
                    .filter(|t| t != "null" && t != "\"\"");
                let defs = b
                    .body
                    .get_attribute("container_definitions")
                    .and_then(|a| a.value.span())
                    .map(|r| &text[r]);
                let (None, Some(defs)) = (role, defs) else {
                    continue;
                };
                let reads = value_froms(defs);
                if reads.is_empty() {
                    continue;
                }
                let family = b
                    .body
                    .get_attribute("family")
                    .and_then(|a| a.value.as_str().map(str::to_owned))
                    .unwrap_or_else(|| {
                        format!(
                            "aws_ecs_task_definition.{}",
                            b.labels.get(1).map(|l| l.as_str()).unwrap_or_default()
                        )
                    });
                out.push(Roleless { family, reads });
            }
        }
        Parsed::Nothing => {}
    }
    out
}

/// The values after each `valueFrom` key in container definitions written
/// as HCL or JSON text (`valueFrom = x`, `"valueFrom": "x"`).
fn value_froms(defs: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = defs;
    while let Some(at) = rest.find("valueFrom") {
        rest = &rest[at + "valueFrom".len()..];
        let after = rest.trim_start_matches(['"', ' ', '\t']);
        let Some(after) = after.strip_prefix([':', '=']) else {
            continue;
        };
        let value: String = after
            .trim_start()
            .chars()
            .take_while(|c| !matches!(c, ',' | '}' | '\n' | '\r'))
            .collect();
        let value = value.trim().trim_matches('"').to_owned();
        if !value.is_empty() {
            out.push(value);
        }
    }
    out
}

fn roleless_in_tree(node: &Node, text: &str, out: &mut Vec<Roleless>) {
    match &node.kind {
        Kind::Map(entries) => {
            let get = |key: &str| {
                entries
                    .iter()
                    .rev()
                    .find(|(k, _)| k.text.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            };
            if let Some(containers) = get("containerDefinitions").and_then(Node::as_seq) {
                let role_set = get("executionRoleArn").is_some_and(|v| !is_none(v));
                let reads: Vec<String> = containers
                    .iter()
                    .filter_map(|c| match &c.kind {
                        Kind::Map(e) => e
                            .iter()
                            .find(|(k, _)| k.text.eq_ignore_ascii_case("secrets"))
                            .and_then(|(_, v)| v.as_seq()),
                        _ => None,
                    })
                    .flatten()
                    .filter_map(|s| match &s.kind {
                        Kind::Map(e) => e
                            .iter()
                            .find(|(k, _)| k.text.eq_ignore_ascii_case("valueFrom"))
                            .map(|(_, v)| shown(v, text)),
                        _ => None,
                    })
                    .collect();
                if !role_set && !reads.is_empty() {
                    let family = get("family")
                        .and_then(Node::as_str)
                        .unwrap_or("(no family)")
                        .to_owned();
                    out.push(Roleless { family, reads });
                }
                return;
            }
            for (_, v) in entries {
                roleless_in_tree(v, text, out);
            }
        }
        Kind::Seq(items) => {
            for v in items {
                roleless_in_tree(v, text, out);
            }
        }
        Kind::Tagged(_, inner) => roleless_in_tree(inner, text, out),
        _ => {}
    }
}
