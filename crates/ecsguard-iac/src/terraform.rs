//! Terraform HCL modules: `aws_ecs_task_definition` resources and the popular
//! container-definition modules, read from a folder's `.tf` files together so
//! that variables and locals resolve across files.
//!
//! Expressions are evaluated only as far as the code itself tells: literals,
//! `jsonencode`, heredocs, `file()`, `templatefile()`, locals, `merge`,
//! `concat` and `for` expressions. Everything else (`var.x`, resource
//! attributes, unknown functions) stays a symbolic reference, marked secret
//! when what it names is (`sensitive = true` variables, `random_password`
//! results, IAM access key secrets, secret data sources).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ecsguard_core::{Container, InputError, Reference, ReferenceTarget, TaskDefinition};
use hcl_edit::expr::{Expression, FuncCall, ObjectKey, Traversal, TraversalOperator};
use hcl_edit::structure::{Block, Body};
use hcl_edit::template::Element;
use hcl_edit::Span;

use crate::extract::{self, Plain};
use crate::input;
use crate::json;
use crate::scan::{canonical_name, without_curdir};
use crate::source::Outcome;
use crate::tree::{ByteSpan, Key, Kind, LineIndex, Node, Pos, StrStyle};

/// Deepest evaluation allowed (locals referring to locals …).
const MAX_DEPTH: u32 = 64;

/// Work allowed for evaluating one module: one unit per expression
/// evaluated, plus the size of every value copied out of a local. Real
/// modules use a few thousand; locals that double at every step reach it
/// quickly and end with an error instead of exhausting memory.
const EVAL_BUDGET: usize = 2_000_000;

/// A local's evaluation: in progress (a reference back to it is a cycle), or
/// done, with its value and that value's size in nodes.
enum LocalState {
    InProgress,
    Done(Node, usize),
}

/// A value's size in budget units: one per node, plus one per 16 bytes of
/// text, so that copying a large string costs what it weighs.
fn node_size(node: &Node) -> usize {
    1 + match &node.kind {
        Kind::Seq(items) => items.iter().map(node_size).sum(),
        Kind::Map(entries) => entries
            .iter()
            .map(|(k, v)| k.text.len() / 16 + node_size(v))
            .sum(),
        Kind::Tagged(_, inner) => node_size(inner),
        Kind::Str(text, _) | Kind::Number(text) | Kind::Template(text) => text.len() / 16,
        Kind::Ref(r) => r.expression.len() / 16,
        Kind::Null | Kind::Bool(_) => 0,
    }
}

const MODULE_MARKERS: &[&[u8]] = &[
    b"aws_ecs_task_definition",
    b"ecs-container-definition",
    b"terraform-aws-modules/ecs",
    // In-house ECS modules and Terragrunt inputs.
    b"container_image",
    b"container_definitions",
    b"task_cpu",
    b"task_memory",
    b"execution_role_arn",
    b"fargate",
    b"ecs_",
    b"-ecs",
    b"ecs-",
    b"/ecs",
];

struct SourceFile {
    display: String,
    text: String,
    index: LineIndex,
    body: Body,
    /// Redefined object keys, renamed so the file parses (see `parse_tolerant`).
    renamed: Renamed,
}

/// Where the positions of an expression's nodes come from.
#[derive(Clone, Copy)]
enum Loc {
    /// Spans in module file `n`.
    File(u32),
    /// Every node at one position (code parsed from inside a string).
    Fixed(Pos),
}

type Scope = HashMap<String, Node>;

/// A `variable` block: whether it is `sensitive`, and its default.
struct Variable<'a> {
    sensitive: bool,
    default: Option<(u32, &'a Expression)>,
}

/// A variable's value from a `.tfvars` file: HCL to evaluate, or JSON read.
enum VarValue<'a> {
    Expr(u32, &'a Expression),
    Node(Node),
}

struct Module<'a> {
    dir: &'a Path,
    sources: &'a [SourceFile],
    variables: HashMap<String, Variable<'a>>,
    /// Values from `.tfvars` files, the highest precedence last written.
    /// Values from `.tfvars` files, in increasing precedence, each marked
    /// whether Terraform loads its file by itself.
    var_values: RefCell<HashMap<String, Vec<(Precedence, VarValue<'a>)>>>,
    /// `data "template_file"` blocks by name.
    template_files: HashMap<String, (u32, &'a Block)>,
    /// Things read only in part (see `Report::notes`).
    notes: RefCell<Vec<InputError>>,
    /// The string the container definitions being read were parsed out of,
    /// if they were (their values are then `Origin::Embedded` in it).
    embedded_host: RefCell<Option<ecsguard_core::Span>>,
    /// Whether the depth limit was met (said once, as a note).
    too_deep: std::cell::Cell<bool>,
    locals: HashMap<String, (u32, &'a Expression)>,
    /// Display names of every file positions may point into: the `.tf` files,
    /// then files read through `file()` and `templatefile()`.
    files: RefCell<Vec<String>>,
    consumed: RefCell<Vec<String>>,
    errors: RefCell<Vec<InputError>>,
    max_file_size: u64,
    allowed: &'a [PathBuf],
    local_values: RefCell<HashMap<String, LocalState>>,
    budget: std::cell::Cell<usize>,
}

fn unknown(expression: impl Into<String>, pos: Pos) -> Node {
    Node::new(
        Kind::Ref(Reference::new(expression, ReferenceTarget::Unknown)),
        pos,
    )
}

fn reference(expression: impl Into<String>, target: ReferenceTarget, pos: Pos) -> Node {
    Node::new(Kind::Ref(Reference::new(expression, target)), pos)
}

fn is_secret_ref(node: &Node) -> bool {
    matches!(&node.kind, Kind::Ref(r) if matches!(r.target, ReferenceTarget::Secret(_)))
}

/// Reads one folder's `.tf` files.
///
/// `allowed` lists the folders `file()` and `templatefile()` may read from
/// (the scanned trees); a path outside them is refused.
pub fn scan_module(
    dir: &Path,
    paths: &[PathBuf],
    max_file_size: u64,
    allowed: &[PathBuf],
) -> Outcome {
    let mut out = Outcome::default();
    let mut texts = Vec::new();
    for path in paths {
        match input::read_text(path, max_file_size) {
            Ok(text) => texts.push((path, text)),
            Err(e) => out.errors.push(InputError::file(
                path.display().to_string(),
                e.line,
                None,
                e.message,
            )),
        }
    }
    out.files = texts.len();
    let texts: Vec<(PathBuf, String)> = texts.into_iter().map(|(p, t)| (p.clone(), t)).collect();
    scan_texts(dir, texts, max_file_size, allowed, &mut out);
    out
}

/// Scans a module given its files' texts (see [`scan_module`]).
fn scan_texts(
    dir: &Path,
    texts: Vec<(PathBuf, String)>,
    max_file_size: u64,
    allowed: &[PathBuf],
    out: &mut Outcome,
) {
    let relevant = texts.iter().any(|(_, t)| {
        MODULE_MARKERS
            .iter()
            .any(|m| memchr::memmem::find(t.as_bytes(), m).is_some())
            // `//ECS-Service`: sources are not case-sensitive to a reader.
            || (t.contains("module") && {
                let lower = t.to_ascii_lowercase();
                MODULE_MARKERS
                    .iter()
                    .any(|m| memchr::memmem::find(lower.as_bytes(), m).is_some())
            })
    });
    if !relevant {
        return;
    }
    let mut sources = Vec::new();
    let tfvars = tfvars_files(dir, allowed);
    let mut json_tfvars = Vec::new();
    let mut texts = texts;
    for path in tfvars {
        match input::read_text(&path, max_file_size) {
            Ok(text) if is_json_tfvars(&path) => json_tfvars.push((path, text)),
            Ok(text) => texts.push((path, text)),
            Err(e) => out.errors.push(InputError::file(
                path.display().to_string(),
                e.line,
                None,
                e.message,
            )),
        }
    }
    for (path, text) in texts {
        let display = path.display().to_string();
        let (parsed, text, renamed) = parse_tolerant(text);
        match parsed {
            Ok(body) => sources.push(SourceFile {
                index: LineIndex::new(&text),
                display,
                text,
                body,
                renamed,
            }),
            Err(e) => out.errors.push(InputError::file(
                display,
                u32::try_from(e.location().line()).unwrap_or(u32::MAX),
                Some(u32::try_from(e.location().column()).unwrap_or(u32::MAX)),
                // `e.to_string()` would quote the offending line, which may hold a secret.
                format!("invalid HCL: {}", e.message()),
            )),
        }
    }
    let module = Module::new(dir, &sources, max_file_size, allowed);
    module.load_json_tfvars(json_tfvars);
    let modules = module.container_modules();
    // Resources first, so that they claim the container modules they use;
    // the modules no resource here uses then stand for themselves.
    let blocks = sources.iter().enumerate().flat_map(|(fi, source)| {
        let fi = u32::try_from(fi).unwrap_or(u32::MAX);
        source.body.blocks().map(move |b| (fi, source, b))
    });
    let (resources, others): (Vec<_>, Vec<_>) =
        blocks.partition(|(_, _, b)| b.ident.as_str() == "resource");
    for (fi, source, block) in resources.into_iter().chain(others) {
        {
            let found: Vec<TaskDefinition> = match block.ident.as_str() {
                "resource" if label(block, 0) == Some("aws_ecs_task_definition") => module
                    .task_definition(block, fi, &modules)
                    .into_iter()
                    .collect(),
                "module" => match label(block, 0) {
                    Some(name) if !modules.used.borrow().contains(name) => {
                        modules.built.get(name).cloned().unwrap_or_default()
                    }
                    _ => continue,
                },
                _ => continue,
            };
            out.task_definitions.extend(found.into_iter().map(|mut td| {
                td.file = Some(source.display.clone());
                td
            }));
        }
    }
    for (fi, source) in sources.iter().enumerate() {
        if source.display.ends_with("terragrunt.hcl") {
            let fi = u32::try_from(fi).unwrap_or(u32::MAX);
            out.task_definitions
                .extend(module.terragrunt_inputs(fi).map(|mut td| {
                    td.file = Some(source.display.clone());
                    td
                }));
        }
    }
    out.errors.extend(module.errors.into_inner());
    out.notes.extend(module.notes.into_inner());
    out.consumed.extend(module.consumed.into_inner());
}

/// The containers of `container_definitions = EXPR`, for an expression
/// written in a `.tf.json` string (`"${jsonencode([…])}"`), read as a
/// module of its own in the file's folder (its `.tfvars` apply). Positions
/// are the synthetic text's: the caller moves them to the string's.
pub(crate) fn containers_of_expression(
    file: &str,
    expr: &str,
    max_file_size: u64,
) -> Option<(Vec<ecsguard_core::Container>, usize)> {
    let path = PathBuf::from(file);
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let text = format!(
        "resource \"aws_ecs_task_definition\" \"json\" {{\n  container_definitions = {expr}\n}}\n"
    );
    let mut out = Outcome::default();
    scan_texts(&dir, vec![(path, text)], max_file_size, &[], &mut out);
    let problems = out.errors.len();
    let containers = out
        .task_definitions
        .into_iter()
        .flat_map(|td| td.containers)
        .collect();
    Some((containers, problems))
}

/// The variable files Terraform would load for this folder, in increasing
/// precedence: any other `*.tfvars` (given with `-var-file`), then
/// `terraform.tfvars(.json)`, then `*.auto.tfvars(.json)`.
fn tfvars_files(dir: &Path, allowed: &[PathBuf]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }) else {
        return Vec::new();
    };
    let mut found: Vec<(u8, String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            let rank = if name.ends_with(".auto.tfvars") || name.ends_with(".auto.tfvars.json") {
                2
            } else if name == "terraform.tfvars" || name == "terraform.tfvars.json" {
                1
            } else if name.ends_with(".tfvars") || name.ends_with(".tfvars.json") {
                0
            } else {
                return None;
            };
            Some((rank, name.clone(), dir.join(name)))
        })
        .filter(|(_, _, p)| {
            allowed.is_empty()
                || std::fs::canonicalize(p).is_ok_and(|r| allowed.iter().any(|a| r.starts_with(a)))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, _, p)| p).collect()
}

/// Where a variable file stands in Terraform's order (later wins):
/// `terraform.tfvars`, `terraform.tfvars.json`, `*.auto.tfvars(.json)` by
/// name, then the `-var-file`s.
type Precedence = (u8, String);

fn precedence(display: &str) -> Precedence {
    let name = display.rsplit(['/', '\\']).next().unwrap_or(display);
    let rank = match name {
        "terraform.tfvars" => 0,
        "terraform.tfvars.json" => 1,
        _ if name.ends_with(".auto.tfvars") || name.ends_with(".auto.tfvars.json") => 2,
        _ => 3,
    };
    (rank, name.to_owned())
}

fn is_json_tfvars(path: &Path) -> bool {
    path.to_str().is_some_and(|p| p.ends_with(".json"))
}

/// Most redefined object keys one file may hold before it is given up on.
const MAX_REDEFINED_KEYS: usize = 64;
/// Bytes of re-parsing allowed for redefined keys (each one re-parses the
/// file): a large file with many of them is refused instead of taking minutes.
const MAX_REPARSE_BYTES: usize = 32 << 20;

/// Object keys renamed so the parser accepts them: by byte offset, the
/// original key.
type Renamed = HashMap<usize, String>;

/// Parses HCL, accepting what Terraform accepts and hcl-edit does not:
/// duplicate keys in an object constructor, where the last one wins. Each
/// redefined key is overwritten in place by a unique name of the same length
/// (so every position stays exact), and remembered by its offset.
fn parse_tolerant(mut text: String) -> (Result<Body, hcl_edit::parser::Error>, String, Renamed) {
    let mut renamed = Renamed::new();
    let mut attempt = 0usize;
    loop {
        let err = match hcl_edit::parser::parse_body(&text) {
            Ok(body) => return (Ok(body), text, renamed),
            Err(e) => e,
        };
        attempt += 1;
        let over =
            attempt > MAX_REDEFINED_KEYS || attempt.saturating_mul(text.len()) > MAX_REPARSE_BYTES;
        if over || !err.message().contains("redefined object key") {
            return (Err(err), text, renamed);
        }
        let Some(at) = offset_of(&text, err.location().line(), err.location().column()) else {
            return (Err(err), text, renamed);
        };
        let rest = &text[at..];
        let (start, end) = if let Some(quoted) = rest.strip_prefix('"') {
            let mut escaped = false;
            let close = quoted.char_indices().find(|(_, c)| {
                let close = *c == '"' && !escaped;
                escaped = *c == '\\' && !escaped;
                close
            });
            match close {
                Some((i, _)) => (at + 1, at + 1 + i),
                None => return (Err(err), text, renamed),
            }
        } else {
            let len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            (at, at + len)
        };
        let Some(original) = text.get(start..end).map(str::to_owned) else {
            return (Err(err), text, renamed);
        };
        let width = original.len();
        if width == 0 {
            return (Err(err), text, renamed);
        }
        // `_`, then the attempt in base 36, padded with `-`: a valid
        // identifier, and no name anyone writes.
        let mut stand_in = format!("_{}", to_base36(attempt));
        if width == 1 {
            // One character: each attempt takes another, so repeats stay apart.
            let pool = b"_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
            stand_in = char::from(pool[attempt % pool.len()]).to_string();
        } else if stand_in.len() > width {
            stand_in.truncate(width);
        }
        while stand_in.len() < width {
            stand_in.push('-');
        }
        text.replace_range(start..end, &stand_in);
        renamed.insert(start, unescape_key(&original));
    }
}

fn to_base36(mut n: usize) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[n % 36]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A quoted key's text as the evaluator sees it (common escapes only).
fn unescape_key(raw: &str) -> String {
    raw.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// The byte offset of a 1-based line and column (in characters).
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += text[start..].find('\n')? + 1;
    }
    let line_text = &text[start..];
    let within = line_text
        .char_indices()
        .nth(column.checked_sub(1)?)
        .map_or(line_text.len(), |(i, _)| i);
    Some(start + within)
}

/// Container modules of this folder, built once, and which of them a
/// resource's `container_definitions` uses (those are reported under the
/// resource's family, once, and not again on their own).
struct ContainerModules {
    built: HashMap<String, Vec<TaskDefinition>>,
    used: RefCell<std::collections::HashSet<String>>,
}

fn label(block: &Block, i: usize) -> Option<&str> {
    block.labels.get(i).map(|l| l.as_str())
}

impl<'a> Module<'a> {
    fn new(
        dir: &'a Path,
        sources: &'a [SourceFile],
        max_file_size: u64,
        allowed: &'a [PathBuf],
    ) -> Self {
        let mut variables = HashMap::new();
        let mut var_values = HashMap::new();
        let mut template_files = HashMap::new();
        let mut locals = HashMap::new();
        for (fi, source) in sources.iter().enumerate() {
            let fi = u32::try_from(fi).unwrap_or(u32::MAX);
            if source.display.ends_with(".tfvars") {
                let precedence = precedence(&source.display);
                for attr in source.body.attributes() {
                    var_values
                        .entry(attr.key.as_str().to_owned())
                        .or_insert_with(Vec::new)
                        .push((precedence.clone(), VarValue::Expr(fi, &attr.value)));
                }
                continue;
            }
            for block in source.body.blocks() {
                match block.ident.as_str() {
                    "variable" => {
                        if let Some(name) = label(block, 0) {
                            let sensitive = block.body.get_attribute("sensitive").is_some_and(
                                |a| matches!(&a.value, Expression::Bool(b) if *b.value()),
                            );
                            let default =
                                block.body.get_attribute("default").map(|a| (fi, &a.value));
                            variables.insert(name.to_owned(), Variable { sensitive, default });
                        }
                    }
                    "data" if label(block, 0) == Some("template_file") => {
                        if let Some(name) = label(block, 1) {
                            template_files.insert(name.to_owned(), (fi, block));
                        }
                    }
                    "locals" => {
                        for attr in block.body.attributes() {
                            locals.insert(attr.key.as_str().to_owned(), (fi, &attr.value));
                        }
                    }
                    _ => {}
                }
            }
        }
        Self {
            dir,
            sources,
            variables,
            var_values: RefCell::new(var_values),
            template_files,
            notes: RefCell::new(Vec::new()),
            embedded_host: RefCell::new(None),
            too_deep: std::cell::Cell::new(false),
            locals,
            files: RefCell::new(sources.iter().map(|s| s.display.clone()).collect()),
            consumed: RefCell::new(Vec::new()),
            errors: RefCell::new(Vec::new()),
            max_file_size,
            allowed,
            local_values: RefCell::new(HashMap::new()),
            budget: std::cell::Cell::new(EVAL_BUDGET),
        }
    }

    fn pos(&self, span: Option<std::ops::Range<usize>>, loc: Loc) -> Pos {
        match loc {
            Loc::Fixed(p) => p,
            Loc::File(fi) => {
                let Some(source) = self.sources.get(fi as usize) else {
                    return Pos::default();
                };
                let mut p = source.index.pos(&source.text, span.map_or(0, |s| s.start));
                p.file = fi;
                p
            }
        }
    }

    /// Whether `file()` may read `path`: it must lie inside a scanned tree,
    /// so a hostile module cannot pull `/etc/…` or `~/.aws/credentials` into
    /// a scan.
    fn may_read(&self, path: &Path) -> Result<(), String> {
        if self.allowed.is_empty() {
            return Ok(());
        }
        let Ok(real) = std::fs::canonicalize(path) else {
            // Missing files are reported by the read itself.
            return Ok(());
        };
        if self.allowed.iter().any(|root| real.starts_with(root)) {
            Ok(())
        } else {
            Err("the path leads outside the scanned folder".into())
        }
    }

    /// Spends `units` of the evaluation budget; false once it is spent (the
    /// first time, with an error naming where).
    fn spend(&self, units: usize, pos: Pos) -> bool {
        let left = self.budget.get();
        if left == 0 {
            return false;
        }
        if units > left {
            self.budget.set(0);
            self.error(
                pos,
                format!("evaluation stopped: this module's expressions expand beyond {EVAL_BUDGET} values (locals that multiply?); the rest of the module was not evaluated"),
            );
            return false;
        }
        self.budget.set(left - units);
        true
    }

    /// A local's value, evaluated once (Terraform locals take no outside scope).
    fn local(&self, name: &str, depth: u32, pos: Pos) -> Option<Node> {
        if let Some(state) = self.local_values.borrow().get(name) {
            return match state {
                LocalState::InProgress => Some(unknown(format!("local.{name}"), pos)),
                LocalState::Done(node, size) => {
                    if !self.spend(*size, pos) {
                        return Some(unknown(format!("local.{name}"), pos));
                    }
                    Some(node.clone())
                }
            };
        }
        let (fi, expr) = self.locals.get(name)?;
        self.local_values
            .borrow_mut()
            .insert(name.to_owned(), LocalState::InProgress);
        let node = self.eval(expr, Loc::File(*fi), &Scope::new(), depth);
        let size = node_size(&node);
        self.local_values
            .borrow_mut()
            .insert(name.to_owned(), LocalState::Done(node.clone(), size));
        Some(node)
    }

    /// An input error at `pos`.
    fn error(&self, pos: Pos, message: String) {
        let e = self.at(pos, message);
        self.errors.borrow_mut().push(e);
    }

    fn at(&self, pos: Pos, message: String) -> InputError {
        let file = self
            .files
            .borrow()
            .get(pos.file as usize)
            .cloned()
            .unwrap_or_default();
        InputError::file(file, pos.line, Some(pos.column), message)
    }

    fn file_names(&self) -> Vec<String> {
        self.files.borrow().clone()
    }

    // ---- resources and modules -------------------------------------------------

    fn task_definition(
        &self,
        block: &Block,
        fi: u32,
        modules: &ContainerModules,
    ) -> Option<TaskDefinition> {
        let name = label(block, 1).unwrap_or("this");
        let address = format!("aws_ecs_task_definition.{name}");
        let family = block
            .body
            .get_attribute("family")
            .map(|a| self.eval(&a.value, Loc::File(fi), &Scope::new(), 0))
            .and_then(|n| n.as_str().map(str::to_owned))
            .unwrap_or(address.clone());
        let defs = block.body.get_attribute("container_definitions")?;
        let td = |containers| TaskDefinition {
            file: None,
            family: Some(family.clone()),
            revision: None,
            containers,
        };
        // Built by container modules of this folder: their containers, once,
        // under this resource's family.
        let used: Vec<&String> = self
            .source_text(&defs.value, fi)
            .map(|code| {
                modules
                    .built
                    .keys()
                    .filter(|m| mentions_module(code, m))
                    .collect()
            })
            .unwrap_or_default();
        if !used.is_empty() {
            let mut containers = Vec::new();
            for m in used {
                modules.used.borrow_mut().insert(m.clone());
                containers.extend(
                    modules.built[m]
                        .iter()
                        .flat_map(|t| t.containers.iter().cloned()),
                );
            }
            // Containers written beside the modules' in the same list.
            if let Some(node) =
                self.container_definitions(&defs.value, Loc::File(fi), &Scope::new(), 0)
            {
                containers.extend(
                    extract::containers(&node, &self.file_names(), &Plain)
                        .into_iter()
                        .filter(|c| c.name.is_some() || !c.environment.is_empty()),
                );
            }
            return Some(td(containers));
        }
        let errors_before = self.errors.borrow().len();
        self.embedded_host.borrow_mut().take();
        let at = self.pos(defs.value.span(), Loc::File(fi));
        let Some(node) = self.container_definitions(&defs.value, Loc::File(fi), &Scope::new(), 0)
        else {
            if self.errors.borrow().len() == errors_before {
                self.note(
                    at,
                    format!("{address}: container_definitions could not be resolved from this folder (it depends on a value given elsewhere, such as a variable without a default); its containers were not scanned"),
                );
            }
            return None;
        };
        let node = self.container_list(node, &address)?;
        let mut containers = extract::containers(&node, &self.file_names(), &Plain);
        if let Some(host) = self.embedded_host.borrow_mut().take() {
            extract::set_origin(&mut containers, &ecsguard_core::Origin::Embedded { host });
        }
        Some(td(containers))
    }

    /// The container list a `container_definitions` value stands for. The
    /// provider wants an array; a whole task definition or a lone container
    /// is read all the same, with a note saying what the provider will do.
    fn container_list(&self, node: Node, address: &str) -> Option<Node> {
        match &node.kind {
            Kind::Seq(_) => Some(node),
            Kind::Map(_) => {
                if let Some(defs) = node
                    .get("containerDefinitions")
                    .filter(|d| d.as_seq().is_some())
                {
                    self.note(
                        node.pos,
                        format!("{address}: container_definitions holds a whole task definition, but the provider expects an array of container definitions; its containers were read"),
                    );
                    return Some(defs.clone());
                }
                if node.get_exact("name").is_some() {
                    self.note(
                        node.pos,
                        format!("{address}: container_definitions holds a single container, but the provider expects an array; it was read as one"),
                    );
                    let pos = node.pos;
                    return Some(Node::new(Kind::Seq(vec![node]), pos));
                }
                None
            }
            _ => None,
        }
    }

    /// The key a redefined object key stood for, if the one at `span` is one.
    fn renamed_key(&self, loc: Loc, span: Option<std::ops::Range<usize>>) -> Option<String> {
        let Loc::File(fi) = loc else {
            return None;
        };
        let source = self.sources.get(fi as usize)?;
        source.renamed.get(&span?.start).cloned()
    }

    /// Records that container definitions come from inside this string.
    fn mark_embedded(&self, host: &Node) {
        let file = self.files.borrow().get(host.pos.file as usize).cloned();
        if let (Some(file), false) = (file, host.span.is_empty()) {
            *self.embedded_host.borrow_mut() = Some(ecsguard_core::Span {
                file: file.into(),
                start: host.span.start,
                end: host.span.end,
            });
        }
    }

    /// A note at `pos`: something read only in part.
    fn note(&self, pos: Pos, message: String) {
        let n = self.at(pos, message);
        self.notes.borrow_mut().push(n);
    }

    /// The source text of an expression in module file `fi`.
    fn source_text(&self, expr: &Expression, fi: u32) -> Option<&'a str> {
        let source = self.sources.get(fi as usize)?;
        source.text.get(expr.span()?)
    }

    /// Every container module of the folder, read once.
    fn container_modules(&self) -> ContainerModules {
        let mut built = HashMap::new();
        for (fi, source) in self.sources.iter().enumerate() {
            let fi = u32::try_from(fi).unwrap_or(u32::MAX);
            for block in source.body.blocks() {
                if block.ident.as_str() != "module" {
                    continue;
                }
                let Some(name) = label(block, 0) else {
                    continue;
                };
                let tds = self.container_module(block, fi);
                if !tds.is_empty() {
                    built.insert(name.to_owned(), tds);
                }
            }
        }
        ContainerModules {
            built,
            used: RefCell::default(),
        }
    }

    /// Values from `*.tfvars.json` files (HCL ones are read with the sources).
    fn load_json_tfvars(&self, files: Vec<(PathBuf, String)>) {
        for (path, text) in files {
            let display = path.display().to_string();
            let fi = {
                let mut names = self.files.borrow_mut();
                names.push(display.clone());
                u32::try_from(names.len() - 1).unwrap_or(u32::MAX)
            };
            match json::parse(&text) {
                Ok(Some(mut root)) => {
                    root.relocate(&|p| Pos { file: fi, ..p });
                    if let Kind::Map(entries) = root.kind {
                        let precedence = precedence(&display);
                        let mut values = self.var_values.borrow_mut();
                        for (k, v) in entries {
                            values
                                .entry(k.text)
                                .or_default()
                                .push((precedence.clone(), VarValue::Node(v)));
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => self.error(Pos { file: fi, ..e.pos }, e.message),
            }
        }
    }

    /// A variable's value written in this folder: from a `.tfvars` file, or
    /// its default. `None` when it has none (or an empty one): it is given
    /// from outside, and stays a reference.
    fn var_value(&self, name: &str, depth: u32, pos: Pos) -> Option<Node> {
        let key = format!("var.{name}");
        if let Some(state) = self.local_values.borrow().get(&key) {
            return match state {
                LocalState::InProgress => None,
                LocalState::Done(node, size) => {
                    (self.spend(*size, pos) && usable(node)).then(|| node.clone())
                }
            };
        }
        self.local_values
            .borrow_mut()
            .insert(key.clone(), LocalState::InProgress);
        let candidates: Vec<(Precedence, Node)> = self
            .var_values
            .borrow()
            .get(name)
            .map(|values| {
                values
                    .iter()
                    .map(|(precedence, v)| {
                        let node = match v {
                            VarValue::Expr(fi, expr) => {
                                self.eval(expr, Loc::File(*fi), &Scope::new(), depth)
                            }
                            VarValue::Node(node) => node.clone(),
                        };
                        (precedence.clone(), node)
                    })
                    .filter(|(_, n)| usable(n))
                    .collect()
            })
            .unwrap_or_default();
        // Any of these files may be the one in use (`-var-file` overrides the
        // files Terraform loads itself, which override each other): the value
        // more likely secret is judged, and of equals the one that wins.
        let rank = |n: &Node| extract::plain_value(n).map_or(0, |v| extract::secret_rank(&v));
        let from_tfvars = candidates
            .into_iter()
            .max_by(|(pa, a), (pb, b)| rank(a).cmp(&rank(b)).then(pa.cmp(pb)))
            .map(|(_, n)| n);
        let node = from_tfvars.or_else(|| {
            let (fi, expr) = self.variables.get(name)?.default?;
            Some(self.eval(expr, Loc::File(fi), &Scope::new(), depth))
        });
        let node = node.unwrap_or_else(|| Node::new(Kind::Null, pos));
        let size = node_size(&node);
        self.local_values
            .borrow_mut()
            .insert(key, LocalState::Done(node.clone(), size));
        usable(&node).then_some(node)
    }

    /// `data.template_file.NAME.rendered` as container definitions: the
    /// template (a `file()` or an inline string) with its `vars`.
    fn render_template_file(&self, name: &str, depth: u32) -> Option<Node> {
        let (fi, block) = self.template_files.get(name)?;
        let loc = Loc::File(*fi);
        let mut scope = Scope::new();
        // `vars = { … }`, or the 0.11 block form `vars { … }`.
        if let Some(vars) = block.body.get_attribute("vars") {
            let node = self.eval(&vars.value, loc, &Scope::new(), depth + 1);
            for (k, v) in node.entries() {
                scope.insert(k.text.clone(), v.clone());
            }
        }
        for vars in block.body.get_blocks("vars") {
            for attr in vars.body.attributes() {
                let v = self.eval(&attr.value, loc, &Scope::new(), depth + 1);
                scope.insert(attr.key.as_str().to_owned(), v);
            }
        }
        let template = &block.body.get_attribute("template")?.value;
        let template = single_interpolation(template).unwrap_or(template);
        let pos = self.pos(template.span(), loc);
        if let Expression::FuncCall(call) = template {
            if call.name.name.as_str() == "file" {
                let path = self.path_arg(call, loc, &Scope::new(), depth)?;
                return self.json_file(&path, pos, &scope, true);
            }
        }
        let text = self.eval(template, loc, &Scope::new(), depth + 1);
        let at = text.pos;
        self.mark_embedded(&text);
        let text = text.as_str()?.to_owned();
        self.embedded_json(&text, &|_| at, &scope, 0)
    }

    /// terraform-aws-modules/ecs (root, `service` and `container-definition`
    /// modules) and cloudposse/ecs-container-definition.
    fn container_module(&self, block: &Block, fi: u32) -> Vec<TaskDefinition> {
        let Some(source) = block
            .body
            .get_attribute("source")
            .and_then(|a| match &a.value {
                Expression::String(s) => Some(s.value().as_str()),
                _ => None,
            })
        else {
            return Vec::new();
        };
        let name = label(block, 0).unwrap_or("this");
        let scope = Scope::new();
        let loc = Loc::File(fi);
        let attr = |key: &str| {
            block
                .body
                .get_attribute(key)
                .map(|a| self.eval(&a.value, loc, &scope, 0))
        };
        let files = self.file_names();
        let family = attr("family")
            .and_then(|n| n.as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("module.{name}"));
        let td = |containers: Vec<Container>, family: String| TaskDefinition {
            file: None,
            family: Some(family),
            revision: None,
            containers,
        };
        if source.contains("cloudposse/ecs-container-definition")
            || source.contains("terraform-aws-ecs-container-definition")
        {
            let mut environment = attr("environment")
                .map(|env| extract::environment(&env, &files, &Plain))
                .unwrap_or_default();
            if let Some(map) = attr("map_environment") {
                environment.extend(map_environment(&map, &files));
            }
            let container = Container {
                name: attr("container_name").and_then(|n| n.as_str().map(str::to_owned)),
                environment,
            };
            return vec![td(vec![container], family)];
        }
        if !source.contains("terraform-aws-modules/ecs") {
            let inputs = block
                .body
                .attributes()
                .map(|a| (a.key.as_str().to_owned(), a))
                .filter(|(k, _)| is_environment_input(k))
                .map(|(k, a)| (k, self.eval(&a.value, loc, &scope, 0)))
                .collect();
            let keys: Vec<&str> = block.body.attributes().map(|a| a.key.as_str()).collect();
            if !looks_like_ecs_module(source, &keys) {
                return Vec::new();
            }
            let container = attr("container_name")
                .or_else(|| attr("name"))
                .and_then(|n| n.as_str().map(str::to_owned))
                .unwrap_or_else(|| name.to_owned());
            return self
                .environment_inputs(inputs, &files, container)
                .map(|c| vec![td(vec![c], family)])
                .unwrap_or_default();
        }
        if source.contains("modules/container-definition") {
            let container = Container {
                name: attr("name").and_then(|n| n.as_str().map(str::to_owned)),
                environment: attr("environment")
                    .map(|env| extract::environment(&env, &files, &Plain))
                    .unwrap_or_default(),
            };
            return vec![td(vec![container], family)];
        }
        if source.contains("modules/service") {
            // The module's own default: `coalesce(var.family, var.name)`.
            let family = attr("family")
                .or_else(|| attr("name"))
                .and_then(|n| n.as_str().map(str::to_owned))
                .unwrap_or(family);
            return attr("container_definitions")
                .map(|defs| vec![td(keyed_containers(&defs, &files), family)])
                .unwrap_or_default();
        }
        // The root module: `services = { name = { container_definitions = {…} } }`.
        let Some(services) = attr("services") else {
            return Vec::new();
        };
        services
            .entries()
            .iter()
            .filter_map(|(key, service)| {
                let defs = service.get_exact("container_definitions")?;
                let family = service
                    .get_exact("family")
                    .and_then(Node::as_str)
                    .map_or_else(|| key.text.clone(), str::to_owned);
                Some(td(keyed_containers(defs, &files), family))
            })
            .collect()
    }

    /// A container from a module's environment inputs, whatever the module
    /// calls them (`container_environment`, `env_vars`, `environment_variables`
    /// …): a list of `{name, value}` or a map of names to values.
    fn environment_inputs(
        &self,
        inputs: Vec<(String, Node)>,
        files: &[String],
        container: String,
    ) -> Option<Container> {
        let mut environment = Vec::new();
        for (_, value) in inputs {
            match &value.kind {
                Kind::Seq(items) if items.iter().any(|i| i.get_exact("name").is_some()) => {
                    environment.extend(extract::environment(&value, files, &Plain));
                }
                Kind::Map(entries)
                    if !entries.is_empty() && entries.iter().all(|(_, v)| !v.is_map()) =>
                {
                    environment.extend(map_environment(&value, files));
                }
                _ => {}
            }
        }
        if environment.is_empty() {
            return None;
        }
        Some(Container {
            name: Some(container),
            environment,
        })
    }

    /// Terragrunt's `inputs = { … }` for an ECS module.
    fn terragrunt_inputs(&self, fi: u32) -> Option<TaskDefinition> {
        let source = self.sources.get(fi as usize)?;
        let inputs = source.body.get_attribute("inputs")?;
        let node = self.eval(&inputs.value, Loc::File(fi), &Scope::new(), 0);
        let module_source = source
            .body
            .get_blocks("terraform")
            .find_map(|b| b.body.get_attribute("source"))
            .map(|a| self.eval(&a.value, Loc::File(fi), &Scope::new(), 0))
            .and_then(|n| n.as_str().map(str::to_owned))
            .unwrap_or_default();
        let keys: Vec<&str> = node
            .entries()
            .iter()
            .map(|(k, _)| k.text.as_str())
            .collect();
        if !looks_like_ecs_module(&module_source, &keys) {
            return None;
        }
        let text = |k: &str| node.get_exact(k).and_then(Node::as_str).map(str::to_owned);
        let container = text("container_name")
            .or_else(|| text("name"))
            .unwrap_or_else(|| "terragrunt".to_owned());
        let family = text("family")
            .or_else(|| text("service_name"))
            .unwrap_or_else(|| source.display.clone());
        let inputs = node
            .entries()
            .iter()
            .filter(|(k, _)| is_environment_input(&k.text))
            .map(|(k, v)| (k.text.clone(), v.clone()))
            .collect();
        let container = self.environment_inputs(inputs, &self.file_names(), container)?;
        Some(TaskDefinition {
            file: None,
            family: Some(family),
            revision: None,
            containers: vec![container],
        })
    }

    // ---- container_definitions ------------------------------------------------

    /// Evaluates a `container_definitions` value to a list of container definitions.
    fn container_definitions(
        &self,
        expr: &Expression,
        loc: Loc,
        scope: &Scope,
        depth: u32,
    ) -> Option<Node> {
        if depth > MAX_DEPTH {
            return None;
        }
        let pos = self.pos(expr.span(), loc);
        if let Some(inner) = single_interpolation(expr) {
            return self.container_definitions(inner, loc, scope, depth + 1);
        }
        if let Expression::Traversal(t) = expr {
            if let Some(name) = template_file_name(t) {
                return self.render_template_file(name, depth + 1);
            }
        }
        match expr {
            Expression::Parenthesis(p) => {
                self.container_definitions(p.inner(), loc, scope, depth + 1)
            }
            Expression::FuncCall(call) => match call.name.name.as_str() {
                "jsonencode" => call
                    .args
                    .iter()
                    .next()
                    .map(|a| self.eval(a, loc, scope, depth + 1)),
                "file" => {
                    let path = self.path_arg(call, loc, scope, depth)?;
                    self.json_file(&path, pos, &Scope::new(), false)
                }
                "templatefile" => {
                    let path = self.path_arg(call, loc, scope, depth)?;
                    let vars = call
                        .args
                        .iter()
                        .nth(1)
                        .map(|v| self.eval(v, loc, scope, depth + 1));
                    let scope: Scope = vars
                        .map(|v| {
                            v.entries()
                                .iter()
                                .map(|(k, n)| (k.text.clone(), n.clone()))
                                .collect()
                        })
                        .unwrap_or_default();
                    self.json_file(&path, pos, &scope, true)
                }
                _ => self.json_value(self.eval(expr, loc, scope, depth + 1), scope),
            },
            Expression::HeredocTemplate(heredoc) => {
                let Loc::File(fi) = loc else {
                    return None;
                };
                let source = self.sources.get(fi as usize)?;
                let span = heredoc.span()?;
                let raw = source.text.get(span.clone())?;
                // The body starts after the `<<EOF` line and ends before the closing delimiter line.
                let body_start = raw.find('\n')? + 1;
                let body_end = raw
                    .trim_end()
                    .rfind('\n')
                    .map_or(body_start, |i| i + 1)
                    .max(body_start);
                let body = &raw[body_start..body_end];
                let start = self.pos(Some(span.start + body_start..span.start + body_start), loc);
                self.embedded_json(
                    body,
                    &|p| Pos {
                        line: start.line + p.line - 1,
                        column: p.column,
                        file: fi,
                    },
                    scope,
                    u32::try_from(span.start + body_start).unwrap_or(0),
                )
            }
            Expression::Traversal(t) => {
                // `local.container_definitions` may itself be a heredoc or `file()`.
                if let (Expression::Variable(root), Some(TraversalOperator::GetAttr(name))) =
                    (&t.expr, t.operators.first().map(|o| o.value()))
                {
                    if root.as_str() == "local" && t.operators.len() == 1 {
                        if let Some((lfi, local)) = self.locals.get(name.as_str()) {
                            return self.container_definitions(
                                local,
                                Loc::File(*lfi),
                                scope,
                                depth + 1,
                            );
                        }
                    }
                }
                self.json_value(self.eval(expr, loc, scope, depth + 1), scope)
            }
            _ => self.json_value(self.eval(expr, loc, scope, depth + 1), scope),
        }
    }

    /// A value that should be container definitions: a list as is, a JSON string parsed.
    fn json_value(&self, node: Node, scope: &Scope) -> Option<Node> {
        match &node.kind {
            Kind::Seq(_) => Some(node),
            Kind::Str(text, _) => {
                // Already evaluated: any `${` left in it is literal text.
                let at = node.pos;
                self.mark_embedded(&node);
                self.read_json(text, &|_| at, scope, 0, false)
            }
            _ => None,
        }
    }

    fn path_arg(&self, call: &FuncCall, loc: Loc, scope: &Scope, depth: u32) -> Option<PathBuf> {
        let arg = call.args.iter().next()?;
        let node = self.eval(arg, loc, scope, depth + 1);
        let Some(rel) = node.as_str() else {
            self.error(
                node.pos,
                format!("cannot resolve the path given to {}(); its container definitions were not scanned", call.name.name.as_str()),
            );
            return None;
        };
        Some(self.resolve_path(Path::new(rel)))
    }

    /// Where Terraform would find a relative path. `path.module` is this
    /// folder; `path.root`, `path.cwd` and bare relative paths are the folder
    /// Terraform runs in, which for a root module is this one and for a
    /// child module is one of its parents: the nearest that has the file.
    fn resolve_path(&self, rel: &Path) -> PathBuf {
        if rel.is_absolute() {
            return rel.to_path_buf();
        }
        let here = join_lexically(self.dir, rel);
        if here.exists() {
            return here;
        }
        let canonical = std::fs::canonicalize(if self.dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            self.dir
        });
        let Ok(canonical) = canonical else {
            return here;
        };
        let mut up = self.dir.to_path_buf();
        for ancestor in canonical.ancestors().skip(1) {
            if !self.allowed.iter().any(|a| ancestor.starts_with(a)) {
                break;
            }
            up.push("..");
            if ancestor.join(rel).exists() {
                return join_lexically(&up, rel);
            }
        }
        here
    }

    /// Reads a JSON file (or JSON template) named by `file()` / `templatefile()`.
    fn json_file(
        &self,
        path: &Path,
        call_pos: Pos,
        scope: &Scope,
        interpolate: bool,
    ) -> Option<Node> {
        let display = without_curdir(path).display().to_string();
        if let Err(why) = self.may_read(path) {
            self.error(call_pos, format!("{display}: {why}; not read"));
            return None;
        }
        let text = match input::read_text(path, self.max_file_size) {
            Ok(t) => t,
            Err(e) => {
                self.error(call_pos, format!("cannot read {display}: {}", e.message));
                return None;
            }
        };
        let fi = {
            let mut files = self.files.borrow_mut();
            files.push(display.clone());
            u32::try_from(files.len() - 1).unwrap_or(u32::MAX)
        };

        let node = self.read_json(&text, &|p| Pos { file: fi, ..p }, scope, 0, interpolate)?;
        // Read here as container definitions, with its variables: its own
        // reading is dropped. A file read here as something else (a whole
        // template) keeps its own reading.
        if extract::looks_like_container_list(&node) || node.get("containerDefinitions").is_some() {
            self.consumed.borrow_mut().push(canonical_name(path));
        }
        Some(node)
    }

    /// Parses JSON that may hold `${…}` interpolations and `%{…}` directives:
    /// those outside strings are evaluated in place, those inside strings when
    /// the string is read.
    fn embedded_json(
        &self,
        text: &str,
        relocate: &dyn Fn(Pos) -> Pos,
        scope: &Scope,
        shift: u32,
    ) -> Option<Node> {
        self.read_json(text, relocate, scope, shift, true)
    }

    /// Parses JSON text. With `interpolate`, it is a template: `${…}` and
    /// `%{…}` are evaluated. Without, it is raw text (what `file()` returns,
    /// or a string already evaluated), and `${…}` is literal text.
    fn read_json(
        &self,
        text: &str,
        relocate: &dyn Fn(Pos) -> Pos,
        scope: &Scope,
        shift: u32,
        interpolate: bool,
    ) -> Option<Node> {
        // A template's holes are masked for the parser, then evaluated.
        let (masked, holes) = if interpolate {
            mask_interpolations(text)
        } else {
            (text.to_owned(), HashMap::new())
        };
        match json::parse(&masked) {
            Ok(Some(mut node)) => {
                node.shift_spans(shift);
                if interpolate {
                    self.fill(&mut node, &holes, relocate, scope);
                } else {
                    node.relocate(&|p| relocate(p));
                }
                Some(node)
            }
            Ok(None) => None,
            Err(e) => {
                let at = relocate(e.pos);
                self.error(at, format!("container definitions: {}", e.message));
                None
            }
        }
    }

    /// Replaces masked holes with their evaluated expressions, interpolates
    /// strings, and moves every position into the file.
    fn fill(
        &self,
        node: &mut Node,
        holes: &HashMap<(u32, u32), String>,
        relocate: &dyn Fn(Pos) -> Pos,
        scope: &Scope,
    ) {
        let inner = node.pos;
        node.pos = relocate(inner);
        match &mut node.kind {
            Kind::Null => {
                if let Some(code) = holes.get(&(inner.line, inner.column)) {
                    *node = self.eval_code(code, node.pos, scope);
                }
            }
            Kind::Str(s, _) if s.contains("${") => {
                let s = std::mem::take(s);
                *node = self.interpolate(&s, node.pos, scope);
            }
            Kind::Seq(items) => items
                .iter_mut()
                .for_each(|n| self.fill(n, holes, relocate, scope)),
            Kind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.pos = relocate(k.pos);
                self.fill(v, holes, relocate, scope);
            }),
            _ => {}
        }
    }

    /// Evaluates HCL code found inside a string or template.
    fn eval_code(&self, code: &str, pos: Pos, scope: &Scope) -> Node {
        match hcl_edit::parser::parse_expr(code.trim()) {
            Ok(expr) => self.eval(&expr, Loc::Fixed(pos), scope, 1),
            Err(_) => unknown("${…}", pos),
        }
    }

    /// A string with `${…}` interpolations (`$${` is a literal `${`).
    fn interpolate(&self, s: &str, pos: Pos, scope: &Scope) -> Node {
        let mut parts: Vec<Part> = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            if rest[..i].ends_with('$') {
                // `$${` is a literal `${`.
                lit.push_str(&rest[..i - 1]);
                lit.push_str("${");
                rest = &rest[i + 2..];
                continue;
            }
            lit.push_str(&rest[..i]);
            let Some(end) = closing_brace(&rest[i + 2..]) else {
                lit.push_str(&rest[i..]);
                rest = "";
                break;
            };
            let code = &rest[i + 2..i + 2 + end];
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(Part::Expr(
                self.eval_code(code, pos, scope),
                code.trim().to_owned(),
            ));
            rest = &rest[i + 3 + end..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        combine(parts, pos)
    }

    // ---- expressions --------------------------------------------------------------

    /// Evaluates an expression; a value written by the expression itself
    /// (not taken from a local, a variable or a scope) keeps its byte span.
    fn eval(&self, expr: &Expression, loc: Loc, scope: &Scope, depth: u32) -> Node {
        let mut node = self.eval_expr(expr, loc, scope, depth);
        if let (Loc::File(fi), Some(span), true) = (loc, expr.span(), node.span.is_empty()) {
            if node.pos.file == fi {
                node.span = ByteSpan::new(span.start, span.end);
            }
        }
        node
    }

    fn eval_expr(&self, expr: &Expression, loc: Loc, scope: &Scope, depth: u32) -> Node {
        let pos = self.pos(expr.span(), loc);
        if depth > MAX_DEPTH {
            if !self.too_deep.replace(true) {
                self.note(
                    pos,
                    format!("expressions here nest deeper than {MAX_DEPTH} levels (locals referring to locals …); deeper values were not evaluated"),
                );
            }
            return unknown("(too deep)", pos);
        }
        if !self.spend(1, pos) {
            return unknown("(too deep)", pos);
        }
        let depth = depth + 1;
        match expr {
            Expression::Null(_) => Node::new(Kind::Null, pos),
            Expression::Bool(b) => Node::new(Kind::Bool(*b.value()), pos),
            Expression::Number(n) => Node::new(Kind::Number(n.value().to_string()), pos),
            Expression::String(s) => Node::new(Kind::Str(s.value().clone(), StrStyle::Inline), pos),
            Expression::Array(a) => Node::new(
                Kind::Seq(a.iter().map(|e| self.eval(e, loc, scope, depth)).collect()),
                pos,
            ),
            Expression::Object(o) => {
                let mut entries: Vec<(Key, Node)> = Vec::new();
                for (k, v) in o.iter() {
                    let key = match k {
                        ObjectKey::Ident(id) => Key {
                            text: self
                                .renamed_key(loc, id.span())
                                .unwrap_or_else(|| id.as_str().to_owned()),
                            pos: self.pos(id.span(), loc),
                        },
                        ObjectKey::Expression(e) => {
                            let n = self.eval(e, loc, scope, depth);
                            // A quoted key's text starts one byte into its span.
                            let renamed = e
                                .span()
                                .and_then(|sp| self.renamed_key(loc, Some(sp.start + 1..sp.end)));
                            Key {
                                text: renamed
                                    .unwrap_or_else(|| n.scalar_text().unwrap_or_default()),
                                pos: n.pos,
                            }
                        }
                    };
                    // Terraform keeps the last of duplicate keys.
                    entries.retain(|(o, _)| o.text != key.text);
                    entries.push((key, self.eval(v.expr(), loc, scope, depth)));
                }
                Node::new(Kind::Map(entries), pos)
            }
            Expression::StringTemplate(t) => self.template(t.iter(), loc, scope, depth, pos),
            Expression::HeredocTemplate(h) => {
                self.template(h.template.iter(), loc, scope, depth, pos)
            }
            Expression::Parenthesis(p) => self.eval(p.inner(), loc, scope, depth),
            Expression::Variable(v) => match scope.get(v.as_str()) {
                Some(n) => n.clone(),
                None => unknown(v.as_str(), pos),
            },
            Expression::Traversal(t) => self.traversal(t, loc, scope, depth, pos),
            Expression::FuncCall(call) => self.call(call, loc, scope, depth, pos),
            Expression::Conditional(c) => {
                let a = self.eval(&c.true_expr, loc, scope, depth);
                let b = self.eval(&c.false_expr, loc, scope, depth);
                // Either branch may be deployed: the one more likely secret is judged.
                let rank =
                    |n: &Node| extract::plain_value(n).map_or(0, |v| extract::secret_rank(&v));
                if rank(&b) > rank(&a) {
                    b
                } else {
                    a
                }
            }
            Expression::ForExpr(f) => {
                let collection = self.eval(&f.intro.collection_expr, loc, scope, depth);
                let items: Vec<(Node, Node)> = match &collection.kind {
                    Kind::Map(entries) => entries
                        .iter()
                        .map(|(k, v)| {
                            (
                                Node::new(Kind::Str(k.text.clone(), StrStyle::Inline), k.pos),
                                v.clone(),
                            )
                        })
                        .collect(),
                    Kind::Seq(items) => items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (Node::new(Kind::Number(i.to_string()), v.pos), v.clone()))
                        .collect(),
                    _ => return unknown("[for …]", pos),
                };
                let mut results_seq = Vec::new();
                let mut results_map = Vec::new();
                for (k, v) in items {
                    let mut inner = scope.clone();
                    match &f.intro.key_var {
                        Some(key_var) => {
                            inner.insert(key_var.as_str().to_owned(), k);
                            inner.insert(f.intro.value_var.as_str().to_owned(), v);
                        }
                        None => {
                            inner.insert(f.intro.value_var.as_str().to_owned(), v);
                        }
                    }
                    // An `if` that is known to be false drops the item; one that is unknown keeps it.
                    if let Some(cond) = &f.cond {
                        if matches!(
                            self.eval(&cond.expr, loc, &inner, depth).kind,
                            Kind::Bool(false)
                        ) {
                            continue;
                        }
                    }
                    let value = self.eval(&f.value_expr, loc, &inner, depth);
                    match &f.key_expr {
                        Some(key_expr) => {
                            let key = self.eval(key_expr, loc, &inner, depth);
                            results_map.push((
                                Key {
                                    text: key.scalar_text().unwrap_or_default(),
                                    pos: key.pos,
                                },
                                value,
                            ));
                        }
                        None => results_seq.push(value),
                    }
                }
                if f.key_expr.is_some() {
                    Node::new(Kind::Map(results_map), pos)
                } else {
                    Node::new(Kind::Seq(results_seq), pos)
                }
            }
            Expression::UnaryOp(_) | Expression::BinaryOp(_) => unknown("(expression)", pos),
        }
    }

    fn template<'e>(
        &self,
        elements: impl Iterator<Item = &'e Element>,
        loc: Loc,
        scope: &Scope,
        depth: u32,
        pos: Pos,
    ) -> Node {
        let mut parts = Vec::new();
        for element in elements {
            match element {
                Element::Literal(l) => parts.push(Part::Lit(l.value().clone())),
                Element::Interpolation(i) => {
                    let text = match (loc, i.expr.span()) {
                        (Loc::File(fi), Some(span)) => self
                            .sources
                            .get(fi as usize)
                            .and_then(|s| s.text.get(span))
                            .unwrap_or("…")
                            .to_owned(),
                        _ => "…".to_owned(),
                    };
                    parts.push(Part::Expr(self.eval(&i.expr, loc, scope, depth), text));
                }
                Element::Directive(_) => {
                    parts.push(Part::Expr(unknown("%{…}", pos), "%{…}".into()))
                }
            }
        }
        combine(parts, pos)
    }

    fn traversal(&self, t: &Traversal, loc: Loc, scope: &Scope, depth: u32, pos: Pos) -> Node {
        let attrs: Vec<Option<&str>> = t
            .operators
            .iter()
            .map(|o| match o.value() {
                TraversalOperator::GetAttr(id) => Some(id.as_str()),
                _ => None,
            })
            .collect();
        let path: String = std::iter::once(match &t.expr {
            Expression::Variable(v) => v.as_str().to_owned(),
            _ => "(…)".to_owned(),
        })
        .chain(
            attrs
                .iter()
                .map(|a| a.map_or_else(|| "[…]".to_owned(), str::to_owned)),
        )
        .collect::<Vec<_>>()
        .join(".")
        .replace(".[…]", "[…]");
        let Expression::Variable(root) = &t.expr else {
            let base = self.eval(&t.expr, loc, scope, depth);
            return self.apply(base, &t.operators, loc, scope, depth, &path, pos);
        };
        let root = root.as_str();
        if let Some(bound) = scope.get(root) {
            return self.apply(bound.clone(), &t.operators, loc, scope, depth, &path, pos);
        }
        let first = attrs.first().copied().flatten();
        match (root, first) {
            ("var", Some(name)) => {
                // A value written in this folder (`.tfvars`, default) is a literal in the repository.
                if let Some(value) = self.var_value(name, depth, pos) {
                    return self.apply(value, &t.operators[1..], loc, scope, depth, &path, pos);
                }
                let target = if self.variables.get(name).is_some_and(|v| v.sensitive) {
                    ReferenceTarget::Sensitive("sensitive variable".into())
                } else {
                    ReferenceTarget::Unknown
                };
                let node = reference(format!("var.{name}"), target, pos);
                self.apply(node, &t.operators[1..], loc, scope, depth, &path, pos)
            }
            ("local", Some(name)) => match self.local(name, depth, pos) {
                Some(base) => self.apply(base, &t.operators[1..], loc, scope, depth, &path, pos),
                None => unknown(path, pos),
            },
            // Paths are joined to the module folder when files are read.
            ("path", Some(_)) => Node::new(Kind::Str(".".into(), StrStyle::Inline), pos),
            // `data.TYPE.NAME[0].ATTR`, `TYPE.NAME[*].ATTR`: indexes and
            // splats do not change what the attribute is.
            ("data", _) => {
                let names: Vec<&str> = attrs.iter().copied().flatten().collect();
                let ty = names.first().copied().unwrap_or_default();
                let attr = names.get(2).copied().unwrap_or_default();
                reference(path.clone(), data_target(ty, attr), pos)
            }
            ("module" | "each" | "count" | "self" | "terraform", _) => unknown(path, pos),
            (ty, _) => {
                let names: Vec<&str> = attrs.iter().copied().flatten().collect();
                let attr = names.get(1).copied().unwrap_or_default();
                reference(path.clone(), resource_target(ty, attr), pos)
            }
        }
    }

    /// Applies `.attr` and `[index]` to an evaluated value.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        mut node: Node,
        ops: &[hcl_edit::Decorated<TraversalOperator>],
        loc: Loc,
        scope: &Scope,
        depth: u32,
        path: &str,
        pos: Pos,
    ) -> Node {
        for op in ops {
            let next = match op.value() {
                TraversalOperator::GetAttr(id) => node.get_exact(id.as_str()).cloned(),
                TraversalOperator::Index(e) => {
                    let idx = self.eval(e, loc, scope, depth);
                    match (&node.kind, &idx.kind) {
                        (Kind::Seq(items), Kind::Number(n)) => {
                            n.parse::<usize>().ok().and_then(|i| items.get(i).cloned())
                        }
                        (Kind::Map(_), Kind::Str(k, _)) => node.get_exact(k).cloned(),
                        _ => None,
                    }
                }
                TraversalOperator::LegacyIndex(i) => match &node.kind {
                    Kind::Seq(items) => usize::try_from(*i.value())
                        .ok()
                        .and_then(|i| items.get(i).cloned()),
                    _ => None,
                },
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => {
                    if let Kind::Ref(r) = &node.kind {
                        if let Some(key) = self.literal_key(op) {
                            node = Node::new(Kind::Ref(key_of(r, &key)), pos);
                            continue;
                        }
                        if matches!(r.target, ReferenceTarget::Secret(_)) {
                            return node;
                        }
                    }
                    return unknown(path, pos);
                }
            }
        }
        node
    }

    /// The key an attribute access or a literal index names, if any.
    fn literal_key(&self, op: &hcl_edit::Decorated<TraversalOperator>) -> Option<String> {
        // Only a key written in the code: one computed from a value (a local,
        // a variable) could be any text, and a reference is shown.
        match op.value() {
            TraversalOperator::GetAttr(id) => Some(id.as_str().to_owned()),
            TraversalOperator::Index(Expression::String(s)) => Some(s.value().to_string()),
            _ => None,
        }
    }

    fn call(&self, call: &FuncCall, loc: Loc, scope: &Scope, depth: u32, pos: Pos) -> Node {
        let name = call.name.name.as_str();
        let args: Vec<Node> = call
            .args
            .iter()
            .map(|a| self.eval(a, loc, scope, depth))
            .collect();
        match name {
            "jsonencode" | "tolist" | "toset" | "tomap" | "sensitive" | "nonsensitive"
            | "tostring" | "tonumber" | "tobool" => args
                .into_iter()
                .next()
                .unwrap_or_else(|| unknown(format!("{name}()"), pos)),
            // The first argument that evaluates; ours are never errors, so the
            // first one known here.
            "try" | "can" => {
                let known = args.iter().position(|a| !is_unknown_ref(a)).unwrap_or(0);
                args.into_iter()
                    .nth(known)
                    .unwrap_or_else(|| unknown(format!("{name}()"), pos))
            }
            // Maps known here are merged even when others are not: their
            // entries reach the container whatever the unknown ones add.
            "merge" if args.iter().any(Node::is_map) => {
                let mut entries: Vec<(Key, Node)> = Vec::new();
                for a in args {
                    if let Kind::Map(e) = a.kind {
                        for (k, v) in e {
                            entries.retain(|(o, _)| o.text != k.text);
                            entries.push((k, v));
                        }
                    }
                }
                Node::new(Kind::Map(entries), pos)
            }
            "concat" if args.iter().any(|a| a.as_seq().is_some()) => {
                let items = args.into_iter().flat_map(|a| match a.kind {
                    Kind::Seq(items) => items,
                    _ => Vec::new(),
                });
                Node::new(Kind::Seq(items.collect()), pos)
            }
            "format" => match args.split_first() {
                Some((f, rest)) if f.as_str().is_some() => {
                    format_parts(f.as_str().unwrap_or_default(), rest, pos)
                }
                _ => unknown("format(…)", pos),
            },
            "join" => match (args.first().and_then(Node::as_str), args.get(1)) {
                (Some(sep), Some(list)) if list.as_seq().is_some() => {
                    let mut parts = Vec::new();
                    for (i, item) in list.as_seq().unwrap_or_default().iter().enumerate() {
                        if i > 0 {
                            parts.push(Part::Lit(sep.to_owned()));
                        }
                        parts.push(Part::Expr(item.clone(), "…".into()));
                    }
                    combine(parts, pos)
                }
                _ => unknown("join(…)", pos),
            },
            "jsondecode" => match args.into_iter().next() {
                Some(n) if n.as_str().is_some() => {
                    let at = n.pos;
                    match json::parse(n.as_str().unwrap_or_default()) {
                        Ok(Some(mut node)) => {
                            node.relocate(&|_| at);
                            node
                        }
                        _ => unknown("jsondecode(…)", pos),
                    }
                }
                // Decoding a secret gives the secret's fields; its keys are judged when taken.
                Some(Node {
                    kind: Kind::Ref(r), ..
                }) if !matches!(
                    r.target,
                    ReferenceTarget::Unknown | ReferenceTarget::Identifier
                ) =>
                {
                    reference(format!("jsondecode({})", r.expression), r.target, pos)
                }
                _ => unknown("jsondecode(…)", pos),
            },
            "element" | "one" if args.first().is_some_and(is_secret_ref) => args
                .into_iter()
                .next()
                .unwrap_or_else(|| unknown("element(…)", pos)),
            "element" => match (args.first().and_then(Node::as_seq), args.get(1)) {
                (Some(items), Some(i)) => i
                    .scalar_text()
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| items.get(i % items.len().max(1)).cloned())
                    .unwrap_or_else(|| unknown("element(…)", pos)),
                _ => unknown("element(…)", pos),
            },
            "replace" | "trimprefix" | "trimsuffix" | "trim" => {
                let text = |i: usize| args.get(i).and_then(Node::as_str);
                match (args.first(), text(0), text(1)) {
                    (Some(first), Some(t), Some(a)) => {
                        // The result's size is paid for before it is built.
                        let grows = text(2).map_or(0, str::len);
                        let size = t
                            .len()
                            .saturating_add(t.matches(a).count().saturating_mul(grows));
                        if !a.is_empty() && !self.spend(size / 16, pos) {
                            return unknown("replace(…)", pos);
                        }
                        let out = match name {
                            // A `/regex/` pattern is not evaluated: the text is kept.
                            "replace" if a.starts_with('/') && a.ends_with('/') => t.to_owned(),
                            "replace" => t.replace(a, text(2).unwrap_or_default()),
                            "trimprefix" => t.strip_prefix(a).unwrap_or(t).to_owned(),
                            "trimsuffix" => t.strip_suffix(a).unwrap_or(t).to_owned(),
                            _ => t.trim_matches(|c| a.contains(c)).to_owned(),
                        };
                        Node::new(Kind::Str(out, StrStyle::Inline), first.pos)
                    }
                    (
                        Some(
                            n @ Node {
                                kind: Kind::Ref(_), ..
                            },
                        ),
                        _,
                        _,
                    ) => n.clone(),
                    _ => unknown(format!("{name}(…)"), pos),
                }
            }
            "lower" | "upper" | "trimspace" | "chomp" => match args.first() {
                Some(Node {
                    kind: Kind::Str(text, style),
                    pos: at,
                    ..
                }) => {
                    let text = match name {
                        "lower" => text.to_lowercase(),
                        "upper" => text.to_uppercase(),
                        "trimspace" => text.trim().to_owned(),
                        _ => text.trim_end_matches(['\r', '\n']).to_owned(),
                    };
                    Node::new(Kind::Str(text, *style), *at)
                }
                Some(
                    n @ Node {
                        kind: Kind::Ref(_), ..
                    },
                ) => n.clone(),
                _ => unknown(format!("{name}(…)"), pos),
            },
            "flatten" => match args.into_iter().next() {
                Some(n) if n.as_seq().is_some() => Node::new(Kind::Seq(flatten(n)), pos),
                _ => unknown("flatten(…)", pos),
            },
            "lookup" => {
                let found = match (args.first(), args.get(1).and_then(Node::as_str)) {
                    (Some(map), Some(key)) => map.get_exact(key).cloned(),
                    _ => None,
                };
                found
                    .or_else(|| args.get(2).cloned())
                    .unwrap_or_else(|| unknown("lookup(…)", pos))
            }
            // Any argument may be the one used: a secret one is judged.
            "coalesce" if args.iter().any(is_secret_ref) => args
                .into_iter()
                .find(is_secret_ref)
                .unwrap_or_else(|| unknown("coalesce(…)", pos)),
            "coalesce" => args
                .into_iter()
                .find(|a| !matches!(a.kind, Kind::Null) && a.as_str() != Some(""))
                .unwrap_or_else(|| unknown("coalesce(…)", pos)),
            "file" => match args.first().and_then(Node::as_str) {
                // A file's content used as a value (a key file, say): read it.
                Some(rel) => {
                    let path = self.resolve_path(Path::new(rel));
                    if let Err(why) = self.may_read(&path) {
                        self.error(pos, format!("{}: {why}; not read", path.display()));
                        return unknown("file(…)", pos);
                    }
                    match input::read_text(&path, self.max_file_size) {
                        Ok(text) if !self.spend(text.len() / 16, pos) => unknown("file(…)", pos),
                        Ok(text) => Node::new(Kind::Str(text, StrStyle::Inline), pos),
                        Err(_) => unknown("file(…)", pos),
                    }
                }
                None => unknown("file(…)", pos),
            },
            _ => {
                if let Some(secret) = args.into_iter().find(is_secret_ref) {
                    return secret;
                }
                unknown(format!("{name}(…)"), pos)
            }
        }
    }
}

/// Whether a module input carries container environment, by its name:
/// `environment`, `env_vars`, `container_environment`, `environment_variables`,
/// `task_container_environment` …
fn is_environment_input(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    let words: Vec<&str> = lower.split(['_', '-']).collect();
    let env = |w: &&str| {
        matches!(
            *w,
            "env" | "envs" | "environment" | "environments" | "envvars" | "envvar"
        )
    };
    // `secret_environment`, `env_from_secrets_manager`: references to secrets, not values.
    let secret_refs = |w: &&str| {
        matches!(
            *w,
            "secret" | "secrets" | "ssm" | "arn" | "arns" | "from" | "files" | "file"
        )
    };
    words.iter().any(env) && !words.iter().any(secret_refs)
}

/// Whether a module (by its source, or its inputs) deploys ECS containers,
/// so that its environment inputs are container environment.
fn looks_like_ecs_module(source: &str, inputs: &[&str]) -> bool {
    let source = source.to_ascii_lowercase();
    // Containers elsewhere (Kubernetes, Lambda, Batch …) are not ECS tasks.
    let elsewhere = [
        "k8s",
        "kubernetes",
        "helm",
        "lambda",
        "batch",
        "eks",
        "cloud-run",
        "app-runner",
    ];
    if elsewhere.iter().any(|w| source.contains(w)) {
        return false;
    }
    ["ecs", "fargate", "task-definition", "task_definition"]
        .iter()
        .any(|w| source.contains(w))
        || inputs.iter().any(|k| {
            matches!(
                *k,
                "task_cpu"
                    | "task_memory"
                    | "container_definitions"
                    | "ecs_cluster_id"
                    | "ecs_cluster_arn"
                    | "ecs_cluster_name"
                    | "execution_role_arn"
                    | "task_role_arn"
                    | "task_execution_role_arn"
            )
        })
}

/// `NAME` of `data.template_file.NAME.rendered` (also `[0]` or `.*` forms).
fn template_file_name(t: &Traversal) -> Option<&str> {
    let Expression::Variable(root) = &t.expr else {
        return None;
    };
    if root.as_str() != "data" {
        return None;
    }
    let names: Vec<&str> = t
        .operators
        .iter()
        .filter_map(|o| match o.value() {
            TraversalOperator::GetAttr(id) => Some(id.as_str()),
            _ => None,
        })
        .collect();
    match names.as_slice() {
        ["template_file", name, "rendered"] => Some(name),
        _ => None,
    }
}

fn is_unknown_ref(node: &Node) -> bool {
    matches!(&node.kind, Kind::Ref(r) if r.target == ReferenceTarget::Unknown)
}

/// A key taken out of a referenced value (`jsondecode(secret)["host"]`): a
/// secret's key is still a secret when the key says so; otherwise it is
/// judged by the variable's name, as a value only marked secret.
fn key_of(r: &Reference, key: &str) -> Reference {
    use ecsguard_core::detect::names::{classify, NameClass};
    let expression = format!("{}[\"{key}\"]", r.expression);
    let secret_key = matches!(classify(key), NameClass::Secret(_));
    let target = match &r.target {
        ReferenceTarget::Secret(why) if secret_key => {
            ReferenceTarget::Secret(format!("key `{key}` of a {why}"))
        }
        ReferenceTarget::Secret(why) | ReferenceTarget::Sensitive(why) => {
            ReferenceTarget::Sensitive(format!("key `{key}` of a {why}"))
        }
        ReferenceTarget::Identifier => ReferenceTarget::Identifier,
        ReferenceTarget::Unknown => ReferenceTarget::Unknown,
    };
    Reference::new(expression, target)
}

/// `format("%s://%s:%s@%s", …)`: verbs take the arguments in turn.
fn format_parts(spec: &str, args: &[Node], pos: Pos) -> Node {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut next = args.iter();
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            lit.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('%') => {
                chars.next();
                lit.push('%');
            }
            Some(_) => {
                // Flags and widths (`%05d`, `%-8s`) come before the verb letter.
                while chars.peek().is_some_and(|c| !c.is_ascii_alphabetic()) {
                    chars.next();
                }
                chars.next();
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                let arg = next.next().cloned().unwrap_or_else(|| unknown("…", pos));
                parts.push(Part::Expr(arg, "…".into()));
            }
            None => lit.push('%'),
        }
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    combine(parts, pos)
}

/// `dir` joined with `rel`, where `rel`'s `..` steps back over `dir`'s own
/// folders (`tf` + `../shared/x.json` is `shared/x.json`), while `dir` keeps
/// the form the user gave it.
fn join_lexically(dir: &Path, rel: &Path) -> PathBuf {
    use std::path::Component;
    let mut parts: Vec<Component<'_>> = dir.components().collect();
    for c in rel.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(parts.last(), Some(Component::Normal(_))) => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}

/// Whether a variable's value says anything: not null, not empty.
fn usable(node: &Node) -> bool {
    !matches!(&node.kind, Kind::Null) && node.as_str() != Some("")
}

/// Whether code refers to `module.NAME.` (or `module.NAME[…]`).
fn mentions_module(code: &str, name: &str) -> bool {
    let needle = format!("module.{name}");
    code.match_indices(&needle).any(|(i, _)| {
        let after = code[i + needle.len()..].chars().next();
        let before = code[..i].chars().next_back();
        !matches!(after, Some(c) if c.is_alphanumeric() || c == '_' || c == '-')
            && !matches!(before, Some(c) if c.is_alphanumeric() || c == '_' || c == '.')
    })
}

/// `"${expr}"`, the 0.11 way of writing an expression: the expression.
fn single_interpolation(expr: &Expression) -> Option<&Expression> {
    let Expression::StringTemplate(t) = expr else {
        return None;
    };
    let mut elements = t.iter();
    match (elements.next(), elements.next()) {
        (Some(Element::Interpolation(i)), None) => Some(&i.expr),
        _ => None,
    }
}

fn flatten(node: Node) -> Vec<Node> {
    match node.kind {
        Kind::Seq(items) => items.into_iter().flat_map(flatten).collect(),
        _ => vec![node],
    }
}

/// `container_definitions = { app = { … } }` as the ECS modules take it; the
/// map key is the container name unless the object sets one.
fn keyed_containers(defs: &Node, files: &[String]) -> Vec<Container> {
    defs.entries()
        .iter()
        .map(|(key, def)| {
            let mut c = extract::container(def, files, &Plain);
            if c.name.is_none() {
                c.name = Some(key.text.clone());
            }
            c
        })
        .collect()
}

/// cloudposse's `map_environment = { NAME = "value" }`.
fn map_environment(map: &Node, files: &[String]) -> Vec<ecsguard_core::EnvVar> {
    map.entries()
        .iter()
        .filter_map(|(key, value)| {
            let name = Node::new(Kind::Null, key.pos);
            Some(ecsguard_core::EnvVar {
                name: key.text.clone(),
                value: extract::plain_value(value)?,
                location: extract::location(files, &name),
                value_location: extract::value_location(files, &name, value).map(Box::new),
                spans: None,
                origin: ecsguard_core::Origin::Computed {
                    literal: extract::file_span(files, value),
                },
            })
        })
        .collect()
}

const IDENTIFIER_ATTRIBUTES: &[&str] = &[
    "arn",
    "id",
    "name",
    "name_prefix",
    "key_id",
    "version_id",
    "secret_id",
    "endpoint",
    "address",
    "port",
    "url",
    "dns_name",
    "repository_url",
    "family",
    "revision",
];

fn resource_target(ty: &str, attr: &str) -> ReferenceTarget {
    let secret = match (ty, attr) {
        ("random_password", "result" | "bcrypt_hash") => Some("random_password result"),
        ("aws_iam_access_key", "secret" | "ses_smtp_password_v4" | "encrypted_secret") => {
            Some("IAM access key secret")
        }
        ("aws_db_instance" | "aws_rds_cluster", "password" | "master_password") => {
            Some("database master password")
        }
        (
            "tls_private_key",
            "private_key_pem" | "private_key_openssh" | "private_key_pem_pkcs8",
        ) => Some("TLS private key"),
        ("aws_secretsmanager_secret_version", "secret_string" | "secret_binary") => {
            Some("Secrets Manager secret value")
        }
        _ => None,
    };
    if ty == "aws_ssm_parameter" && matches!(attr, "value" | "insecure_value") {
        return ReferenceTarget::Sensitive("SSM parameter value".into());
    }
    match secret {
        Some(why) => ReferenceTarget::Secret(why.into()),
        None if IDENTIFIER_ATTRIBUTES.contains(&attr) => ReferenceTarget::Identifier,
        None => ReferenceTarget::Unknown,
    }
}

fn data_target(ty: &str, attr: &str) -> ReferenceTarget {
    match (ty, attr) {
        ("aws_ssm_parameter", "value" | "insecure_value") => {
            ReferenceTarget::Sensitive("value of an aws_ssm_parameter data source".into())
        }
        ("aws_secretsmanager_secret_version", "secret_string" | "secret_binary") => {
            ReferenceTarget::Secret(
                "value of an aws_secretsmanager_secret_version data source".into(),
            )
        }
        ("aws_kms_secrets", "plaintext") => {
            ReferenceTarget::Secret("aws_kms_secrets plaintext".into())
        }
        _ if IDENTIFIER_ATTRIBUTES.contains(&attr) => ReferenceTarget::Identifier,
        _ => ReferenceTarget::Unknown,
    }
}

enum Part {
    Lit(String),
    /// An evaluated expression and its source text.
    Expr(Node, String),
}

/// Joins template parts: a lone expression is itself; a secret reference
/// anywhere makes the whole a reference to it; all-literal parts make a
/// literal; anything else is a template with `${…}` placeholders.
fn combine(mut parts: Vec<Part>, pos: Pos) -> Node {
    if parts.len() == 1 {
        if let Some(Part::Expr(..)) = parts.first() {
            if let Some(Part::Expr(node, _)) = parts.pop() {
                return node;
            }
        }
    }
    let mut text = String::new();
    let mut literal = true;
    // Inputs marked secret, with where their placeholder sits in `text`.
    let mut marked: Vec<(usize, usize, String, String)> = Vec::new();
    for part in &parts {
        match part {
            Part::Lit(s) => text.push_str(s),
            Part::Expr(node, code) => {
                if let Kind::Ref(r) = &node.kind {
                    if matches!(r.target, ReferenceTarget::Secret(_)) {
                        return reference(
                            format!("\"…${{{}}}…\"", r.expression),
                            r.target.clone(),
                            pos,
                        );
                    }
                }
                match node.scalar_text() {
                    Some(s) if !matches!(node.kind, Kind::Null) => text.push_str(&s),
                    _ => {
                        literal = false;
                        let placeholder = match &node.kind {
                            Kind::Ref(r) => format!("${{{}}}", r.expression),
                            _ => format!("${{{code}}}"),
                        };
                        if let Kind::Ref(Reference {
                            expression,
                            target: ReferenceTarget::Sensitive(why),
                        }) = &node.kind
                        {
                            let start = text.len();
                            marked.push((
                                start,
                                start + placeholder.len(),
                                expression.clone(),
                                why.clone(),
                            ));
                        }
                        text.push_str(&placeholder);
                    }
                }
            }
        }
    }
    // An input marked secret where a URL or DSN keeps its password.
    for (start, end, expression, why) in &marked {
        if extract::password_slot_at(&text, *start, *end) {
            return reference(
                format!("\"…${{{expression}}}…\""),
                ReferenceTarget::Secret(format!("password in a URL or DSN, from a {why}")),
                pos,
            );
        }
    }
    // Built from an input marked secret: as marked as the input.
    if let Some((_, _, expression, why)) = marked.into_iter().next() {
        return reference(
            format!("\"…${{{expression}}}…\""),
            ReferenceTarget::Sensitive(why),
            pos,
        );
    }
    if literal {
        Node::new(Kind::Str(text, StrStyle::Inline), pos)
    } else {
        Node::new(Kind::Template(text), pos)
    }
}

/// Index of the `}` closing an interpolation whose `${` was just passed.
fn closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut prev = '\0';
    for (i, c) in s.char_indices() {
        match c {
            '"' if prev != '\\' => in_string = !in_string,
            '{' if !in_string => depth += 1,
            '}' if !in_string => {
                if depth == 0 {
                    return Some(i);
                }
                depth -= 1;
            }
            _ => {}
        }
        prev = c;
    }
    None
}

/// Replaces `${…}` outside JSON strings with `null` (padded so columns stay)
/// and `%{…}` directives with spaces; returns the code of each hole by the
/// position of its `null`.
pub(crate) fn mask_interpolations(text: &str) -> (String, HashMap<(u32, u32), String>) {
    let mut holes = HashMap::new();
    if !text.contains("${") && !text.contains("%{") {
        return (text.to_owned(), holes);
    }
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut line = 1u32;
    let mut column = 1u32;
    let mut rest = text;
    // Once one `${` is never closed, no later one is searched for: each
    // search runs to the end of the text, which would make this quadratic.
    let mut unclosed = false;
    while let Some(c) = rest.chars().next() {
        if !in_string && !unclosed && (rest.starts_with("${") || rest.starts_with("%{")) {
            let end = closing_brace(&rest[2..]);
            unclosed = end.is_none();
            if let Some(end) = end {
                let whole = &rest[..end + 3];
                if rest.starts_with("${") {
                    holes.insert((line, column), rest[2..end + 2].to_owned());
                    out.push_str("null");
                }
                // Pad to the same width, keeping newlines so lines stay put.
                let written = if rest.starts_with("${") { 4 } else { 0 };
                for (i, wc) in whole.chars().enumerate() {
                    if wc == '\n' {
                        out.push('\n');
                        line += 1;
                        column = 1;
                    } else if i >= written {
                        out.push(' ');
                        column += 1;
                    } else {
                        column += 1;
                    }
                }
                rest = &rest[whole.len()..];
                continue;
            }
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
        rest = &rest[c.len_utf8()..];
    }
    (out, holes)
}
