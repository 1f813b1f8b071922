//! Reads container definitions out of a [`Node`] tree, whatever format it came
//! from: keys are matched case-insensitively (`environment` in task-definition
//! JSON, `Environment` in CloudFormation), and each format supplies how a
//! value node becomes an [`EnvValue`].

use ecsguard_core::{
    Container, EntrySpans, EnvValue, EnvVar, Location, Origin, SecretValue, Span, TaskDefinition,
};

use std::sync::Arc;

use crate::tree::{Kind, Node};

/// How a format turns a value node into an environment value.
pub trait Resolve {
    /// `None` when the node is not a value at all (the entry is skipped).
    fn value(&self, node: &Node) -> Option<EnvValue>;

    /// A name: a literal string, or `None` when it is only known at deploy time.
    fn name(&self, node: &Node) -> Option<String> {
        node.scalar_text()
    }

    /// The list entries a node stands for: itself, or for a conditional
    /// (CloudFormation `Fn::If`) each branch, so that no branch goes unread.
    fn entries<'n>(&self, node: &'n Node) -> Vec<&'n Node> {
        vec![node]
    }
}

/// The plain reading, for JSON and evaluated HCL.
pub struct Plain;

impl Resolve for Plain {
    fn value(&self, node: &Node) -> Option<EnvValue> {
        plain_value(node)
    }
}

pub fn plain_value(node: &Node) -> Option<EnvValue> {
    match &node.kind {
        Kind::Str(s, _) => Some(EnvValue::Literal(SecretValue::new(s.as_str()))),
        Kind::Number(n) => Some(EnvValue::Literal(SecretValue::new(n.as_str()))),
        Kind::Bool(b) => Some(EnvValue::Literal(SecretValue::new(b.to_string()))),
        Kind::Null => Some(EnvValue::Literal(SecretValue::new(""))),
        Kind::Ref(r) => Some(EnvValue::Reference(r.clone())),
        Kind::Template(t) => Some(EnvValue::Template(SecretValue::new(t.as_str()))),
        // A structure as a value (`value = jsonencode({ … })`): its JSON text.
        Kind::Seq(_) | Kind::Map(_) => Some(json_text(node)),
        Kind::Tagged(..) => None,
    }
}

/// A structure written out as JSON: a literal when every leaf is, a secret
/// reference when a leaf is one, a template with `${…}` holes otherwise.
fn json_text(node: &Node) -> EnvValue {
    fn write(node: &Node, out: &mut String, literal: &mut bool, secret: &mut Option<EnvValue>) {
        match &node.kind {
            Kind::Str(s, _) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            Kind::Number(n) => out.push_str(n),
            Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Kind::Null => out.push_str("null"),
            Kind::Seq(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out, literal, secret);
                }
                out.push(']');
            }
            Kind::Map(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('"');
                    out.push_str(&k.text);
                    out.push_str("\":");
                    write(v, out, literal, secret);
                }
                out.push('}');
            }
            Kind::Ref(r) => {
                *literal = false;
                if secret.is_none() && matches!(r.target, ecsguard_core::ReferenceTarget::Secret(_))
                {
                    *secret = Some(EnvValue::Reference(r.clone()));
                }
                out.push_str("\"${");
                out.push_str(&r.expression);
                out.push_str("}\"");
            }
            Kind::Template(t) => {
                *literal = false;
                out.push('"');
                out.push_str(t);
                out.push('"');
            }
            Kind::Tagged(_, inner) => write(inner, out, literal, secret),
        }
    }
    let mut out = String::new();
    let mut literal = true;
    let mut secret = None;
    write(node, &mut out, &mut literal, &mut secret);
    if let Some(secret) = secret {
        return secret;
    }
    if literal {
        EnvValue::Literal(SecretValue::new(out))
    } else {
        EnvValue::Template(SecretValue::new(out))
    }
}

/// Whether a node looks like a list of container definitions.
pub fn looks_like_container_list(node: &Node) -> bool {
    node.as_seq().is_some_and(|items| {
        !items.is_empty()
            && items.iter().all(Node::is_map)
            && items.iter().any(|c| {
                c.get_exact("name").is_some()
                    && (c.get_exact("image").is_some() || c.get_exact("environment").is_some())
            })
    })
}

/// Reads a list of container definitions.
pub fn containers(defs: &Node, files: &[String], resolve: &dyn Resolve) -> Vec<Container> {
    let Some(items) = defs.as_seq() else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|c| c.is_map())
        .map(|c| container(c, files, resolve))
        .collect()
}

pub fn container(def: &Node, files: &[String], resolve: &dyn Resolve) -> Container {
    let name = def.get("name").and_then(|n| resolve.name(n));
    let environment = def
        .get("environment")
        .map(|env| environment_in(env, Some(def), files, resolve))
        .unwrap_or_default();
    Container { name, environment }
}

/// Reads an `environment` list of `{name, value}` entries.
pub fn environment(env: &Node, files: &[String], resolve: &dyn Resolve) -> Vec<EnvVar> {
    environment_in(env, None, files, resolve)
}

/// Reads an `environment` list of the container `container`, when there is one.
pub fn environment_in(
    env: &Node,
    container: Option<&Node>,
    files: &[String],
    resolve: &dyn Resolve,
) -> Vec<EnvVar> {
    let Some(entries) = env.as_seq() else {
        return Vec::new();
    };
    // One shared name per file for all the spans of this list.
    let shared: Vec<Arc<str>> = files.iter().map(|f| Arc::from(f.as_str())).collect();
    entries
        .iter()
        .flat_map(|entry| resolve.entries(entry))
        .filter_map(|entry| {
            let name_node = entry.get("name")?;
            // A name known only at deploy time (`"${var.prefix}_DATABASE_URL"`,
            // `!Sub`) is kept as written: the value is still judged.
            let name = resolve
                .name(name_node)
                .or_else(|| match resolve.value(name_node)? {
                    EnvValue::Literal(t) | EnvValue::Template(t) => Some(t.expose().to_owned()),
                    EnvValue::Reference(r) => Some(r.expression),
                })?;
            let value_node = entry.get("value");
            let value = match value_node {
                Some(v) => resolve.value(v)?,
                None => EnvValue::Literal(SecretValue::new("")),
            };
            Some(EnvVar {
                name,
                value,
                location: location(files, name_node),
                value_location: value_node
                    .filter(|v| !written_in(entry, v))
                    .and_then(|v| value_location(files, name_node, v))
                    .map(Box::new),
                spans: entry_spans(&shared, entry, env, container.unwrap_or(env)),
                origin: value_origin(&shared, entry, value_node),
            })
        })
        .collect()
}

/// Where a value is written, when that is not the line of its name (a
/// `.tfvars` file, a variable's default, a template's variable map).
pub fn value_location(files: &[String], name: &Node, value: &Node) -> Option<Location> {
    let elsewhere = value.pos.file != name.pos.file || value.pos.line != name.pos.line;
    (elsewhere && value.pos.line > 0).then(|| location(files, value))
}

fn span_of(files: &[Arc<str>], node: &Node) -> Option<Span> {
    (!node.span.is_empty()).then(|| Span {
        file: files
            .get(node.pos.file as usize)
            .or(files.first())
            .cloned()
            .unwrap_or_else(|| Arc::from("")),
        start: node.span.start,
        end: node.span.end,
    })
}

/// The spans of an entry, its list and its container, when all are known
/// and lie in one document.
fn entry_spans(
    files: &[Arc<str>],
    entry: &Node,
    list: &Node,
    container: &Node,
) -> Option<EntrySpans> {
    let same = entry.pos.file == list.pos.file && list.pos.file == container.pos.file;
    if !same || !list.span.contains(entry.span) {
        return None;
    }
    let range = |n: &Node| (!n.span.is_empty()).then_some((n.span.start, n.span.end));
    Some(EntrySpans {
        file: files
            .get(entry.pos.file as usize)
            .or(files.first())?
            .clone(),
        entry: range(entry)?,
        list: range(list)?,
        container: range(container)?,
    })
}

/// Whether a value is written inside its entry (on whatever line).
fn written_in(entry: &Node, value: &Node) -> bool {
    value.pos.file == entry.pos.file && entry.span.contains(value.span)
}

/// Where a value comes from: written inside its entry, or computed
/// elsewhere (with the span where its literal is written, if it is).
fn value_origin(files: &[Arc<str>], entry: &Node, value: Option<&Node>) -> Origin {
    let Some(value) = value else {
        return Origin::InPlace;
    };
    if written_in(entry, value) {
        return Origin::InPlace;
    }
    Origin::Computed {
        literal: span_of(files, value),
    }
}

/// Marks values read from a JSON string (`host`), or from a generated file,
/// as such; computed ones stay computed.
pub fn set_origin(containers: &mut [Container], origin: &Origin) {
    for var in containers.iter_mut().flat_map(|c| c.environment.iter_mut()) {
        if matches!(origin, Origin::Generated) || var.origin == Origin::InPlace {
            var.origin = origin.clone();
        }
    }
}

/// The span of a node in a file, as the core model names it.
pub fn file_span(files: &[String], node: &Node) -> Option<Span> {
    let name = files.get(node.pos.file as usize).or(files.first())?;
    (!node.span.is_empty()).then(|| Span {
        file: Arc::from(name.as_str()),
        start: node.span.start,
        end: node.span.end,
    })
}

pub fn location(files: &[String], node: &Node) -> Location {
    Location::File {
        file: files
            .get(node.pos.file as usize)
            .or(files.first())
            .cloned()
            .unwrap_or_default(),
        line: node.pos.line,
        column: node.pos.column,
    }
}

/// A task definition from a `family`/`containerDefinitions` object (the
/// register input shape, and the `taskDefinition` of describe output).
pub fn task_definition(
    obj: &Node,
    files: &[String],
    resolve: &dyn Resolve,
) -> Option<TaskDefinition> {
    let defs = obj.get("containerDefinitions")?;
    Some(TaskDefinition {
        file: None,
        family: obj.get("family").and_then(|f| resolve.name(f)),
        revision: obj
            .get("revision")
            .and_then(Node::scalar_text)
            .and_then(|r| r.parse().ok()),
        containers: containers(defs, files, resolve),
    })
}

/// Whether `placeholder` occurs in `text` where a URL or DSN keeps its
/// password: `scheme://user:HERE@host`, or `password=HERE` / `pwd=HERE`.
/// Each occurrence is judged from a bounded look back, so that a text made
/// of thousands of placeholders costs linear time per placeholder.
pub fn in_password_position(text: &str, placeholder: &str) -> bool {
    if placeholder.is_empty() {
        return false;
    }
    text.match_indices(placeholder)
        .any(|(i, _)| password_slot_at(text, i, i + placeholder.len()))
}

/// Whether `text[start..end]` sits where a URL or DSN keeps its password.
pub fn password_slot_at(text: &str, start: usize, end: usize) -> bool {
    const USER_MAX: usize = 256;
    {
        let i = start;
        let before = &text.as_bytes()[..i];
        let after = &text[end..];
        let tail = &before[before.len().saturating_sub(9)..];
        let tail = String::from_utf8_lossy(tail).to_ascii_lowercase();
        if tail.ends_with("password=") || tail.ends_with("pwd=") || tail.ends_with("pass=") {
            return true;
        }
        if !after.starts_with('@') || before.last() != Some(&b':') {
            return false;
        }
        // `scheme://user:` — walk back over the user name to `://`.
        let user_end = before.len() - 1;
        let mut j = user_end;
        while j > 0 && user_end - j < USER_MAX {
            let c = before[j - 1];
            if matches!(c, b'/' | b'@' | b':') || c.is_ascii_whitespace() {
                break;
            }
            j -= 1;
        }
        before[..j].ends_with(b"://")
    }
}

/// Container definitions held in a JSON string (`container_definitions` in
/// plan JSON and `.tf.json`): parsed, every position set to the string's
/// (its lines are not the file's), and marked embedded in it. A parse error
/// names `address` and the string's line. `None` when nothing was read.
pub fn containers_in_string(
    defs: &Node,
    text: &str,
    file: &str,
    address: &str,
    out: &mut crate::source::Outcome,
) -> Option<Vec<Container>> {
    let mut node = match crate::json::parse(text) {
        Ok(Some(node)) => node,
        Ok(None) => return None,
        Err(e) => {
            out.errors.push(ecsguard_core::InputError::file(
                file,
                defs.pos.line,
                Some(defs.pos.column),
                format!("{address}: container_definitions: {}", e.message),
            ));
            return None;
        }
    };
    let at = defs.pos;
    node.relocate(&|_| at);
    let files = [file.to_owned()];
    let mut containers = containers(&node, &files, &Plain);
    if let Some(host) = file_span(&files, defs) {
        set_origin(&mut containers, &Origin::Embedded { host });
    }
    Some(containers)
}

/// Of two values either of which may be deployed (a conditional's
/// branches), the one more likely to be a secret, so that it is judged:
/// a secret reference, then a literal a value detector recognises, then a
/// reference to a sensitive input, then a non-empty literal, then the first.
pub fn more_secret(a: EnvValue, b: EnvValue) -> EnvValue {
    if secret_rank(&b) > secret_rank(&a) {
        b
    } else {
        a
    }
}

/// How likely a value is to be the secret one of two (see [`more_secret`]).
pub fn secret_rank(v: &EnvValue) -> u8 {
    {
        match v {
            EnvValue::Reference(r) => match r.target {
                ecsguard_core::ReferenceTarget::Secret(_) => 5,
                ecsguard_core::ReferenceTarget::Sensitive(_) => 3,
                _ => 0,
            },
            EnvValue::Literal(s) | EnvValue::Template(s) => {
                if !ecsguard_core::detect::values::detect("", s.expose()).is_empty() {
                    4
                } else if !s.is_empty() {
                    2
                } else {
                    1
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::in_password_position;

    #[test]
    fn finds_the_password_slot_of_urls_and_dsns() {
        assert!(in_password_position("postgres://app:${P}@db/x", "${P}"));
        assert!(in_password_position("Server=db;Password=${P};", "${P}"));
        assert!(!in_password_position("postgres://${P}:5432/x", "${P}"));
        assert!(!in_password_position("https://h/${P}@x", "${P}"));
        assert!(!in_password_position("postgres://${U}:${P}@db", "${U}"));
    }
}
