//! Terraform: containers written as HCL objects (`jsonencode([{ … }])`) are
//! edited through hcl-edit's spans; JSON in a heredoc is edited as JSON.
//! The new `secrets` entries are one-line objects, one per line, and the
//! container's attributes are aligned again as `terraform fmt` aligns them.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use hcl_edit::expr::{Expression, Object, ObjectKey};
use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span;

use super::{remove_items, tree_edits, ContainerMove, Edit, FilePatch, Grant, Syntax};

fn visit<'a>(e: &'a Expression, f: &mut dyn FnMut(&'a Expression)) {
    f(e);
    match e {
        Expression::Array(a) => a.iter().for_each(|x| visit(x, f)),
        Expression::Object(o) => o.iter().for_each(|(_, v)| visit(v.expr(), f)),
        Expression::Parenthesis(p) => visit(p.inner(), f),
        Expression::Conditional(c) => {
            visit(&c.cond_expr, f);
            visit(&c.true_expr, f);
            visit(&c.false_expr, f);
        }
        Expression::FuncCall(c) => c.args.iter().for_each(|x| visit(x, f)),
        Expression::BinaryOp(op) => {
            visit(&op.lhs_expr, f);
            visit(&op.rhs_expr, f);
        }
        Expression::UnaryOp(op) => visit(&op.expr, f),
        Expression::Traversal(t) => visit(&t.expr, f),
        _ => {}
    }
}

pub(super) fn visit_body<'a>(body: &'a Body, f: &mut dyn FnMut(&'a Expression)) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => visit(&a.value, f),
            Structure::Block(b) => visit_body(&b.body, f),
        }
    }
}

pub(super) fn key_name(key: &ObjectKey) -> Option<&str> {
    match key {
        ObjectKey::Ident(id) => Some(id.as_str()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

pub(super) fn range(e: &impl Span) -> Option<(usize, usize)> {
    e.span().map(|r| (r.start, r.end))
}

pub(super) fn patch(
    path: &Path,
    text: &str,
    moves: &[ContainerMove],
    patch: &mut FilePatch,
) -> Result<(), String> {
    let body = hcl_edit::parser::parse_body(text).map_err(|_| {
        format!(
            "{} cannot be rewritten: it does not parse as plain HCL (duplicate keys?); move the variables by hand",
            path.display()
        )
    })?;
    let mut exprs: Vec<&Expression> = Vec::new();
    visit_body(&body, &mut |e| exprs.push(e));
    let changed = || format!("{} changed since it was scanned", path.display());
    for m in moves {
        let Some((first, _)) = m.entries.first() else {
            continue;
        };
        let spans = first
            .spans
            .as_ref()
            .ok_or_else(|| "the finding has no position to rewrite".to_owned())?;
        let container = (spans.container.0 as usize, spans.container.1 as usize);
        // JSON in a heredoc: parsed on its own, its spans moved to the file's.
        let heredoc = exprs.iter().find_map(|e| match e {
            Expression::HeredocTemplate(h) => {
                range(h.as_ref()).filter(|&(s, e)| s <= container.0 && container.1 <= e)
            }
            _ => None,
        });
        if let Some((hs, he)) = heredoc {
            let raw = &text[hs..he];
            let body_start = hs + raw.find('\n').ok_or_else(changed)? + 1;
            let body_end = hs + raw.trim_end().rfind('\n').map_or(0, |i| i + 1);
            if body_end <= body_start {
                return Err(changed());
            }
            let mut root = crate::json::parse(&text[body_start..body_end])
                .map_err(|_| changed())?
                .ok_or_else(changed)?;
            root.shift_spans(body_start as u32);
            tree_edits(path, text, &[root], &[], m, Syntax::Json, patch)?;
            continue;
        }
        // An HCL object, or a module block whose inputs are the container's
        // (terraform-aws-modules' container-definition, cloudposse's): its
        // own `secrets` input takes the entries.
        let (attrs, aligned) = match exprs.iter().find_map(|e| match e {
            Expression::Object(o) if range(*e) == Some(container) => Some(o),
            _ => None,
        }) {
            Some(o) => (object_attrs(o), container),
            None => module_block(&body, container)
                .and_then(|b| Some((block_attrs(&b.body), range(b)?)))
                .ok_or_else(|| {
                    "the container is not written as an HCL object or module block here: move the variables by hand"
                        .to_owned()
                })?,
        };
        object_edits(
            text,
            &attrs,
            m,
            (spans.list.0 as usize, spans.list.1 as usize),
            patch,
        )?;
        patch.realign.push(aligned);
    }
    declare_edits(&body, patch)
}

/// The declarations of `pending` stores in a `.tf` text.
pub(super) fn declarations(
    text: &str,
    pending: &[super::declare::Pending],
) -> Result<Vec<Edit>, String> {
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let body = hcl_edit::parser::parse_body(text).map_err(|_| {
        "the Terraform file does not parse as plain HCL: move the variable by hand".to_owned()
    })?;
    declaration_edits(&body, pending)
}

fn declare_edits(body: &Body, patch: &mut FilePatch) -> Result<(), String> {
    let edits = declaration_edits(body, &patch.pending)?;
    patch.edits.extend(edits);
    Ok(())
}

/// The stores declared for secret inputs, after the top-level block each
/// container is written in (its task definition, module or locals block).
fn declaration_edits(
    body: &Body,
    pending: &[super::declare::Pending],
) -> Result<Vec<Edit>, String> {
    let mut by_block: std::collections::BTreeMap<usize, Vec<&super::declare::Pending>> =
        Default::default();
    for p in pending {
        let end = body
            .iter()
            .filter_map(|s| match s {
                Structure::Block(b) => range(b),
                Structure::Attribute(_) => None,
            })
            .find(|&(s, e)| s <= p.container.0 && p.container.1 <= e)
            .map(|(_, e)| e)
            .ok_or_else(|| "the container is not inside a block".to_owned())?;
        by_block.entry(end).or_default().push(p);
    }
    let mut edits = Vec::new();
    for (end, pending) in by_block {
        edits.push(Edit {
            start: end,
            end,
            text: align_depths(&indent_hcl(&super::declare::hcl(&pending)), None),
        });
    }
    Ok(edits)
}

/// For a container written as a `module` block (cloudposse's
/// container-definition), the one task definition of the file that reads
/// that module's output: where its grant goes.
pub(super) fn module_user(text: &str, body: &Body, container: (u32, u32)) -> Option<(u32, u32)> {
    let span = (container.0 as usize, container.1 as usize);
    let module = module_block(body, span)?;
    let name = module.labels.first()?.as_str();
    let needle = format!("module.{name}.");
    let users: Vec<(usize, usize)> = body
        .iter()
        .filter_map(|s| match s {
            Structure::Block(b)
                if b.ident.as_str() == "resource"
                    && b.labels
                        .first()
                        .is_some_and(|l| l.as_str() == "aws_ecs_task_definition") =>
            {
                range(b)
            }
            _ => None,
        })
        .filter(|&(s, e)| text[s..e].contains(&needle))
        .collect();
    match users.as_slice() {
        [(s, e)] => Some((*s as u32, *e as u32)),
        _ => None,
    }
}

/// The `module` block whose span is `container`, or that holds it.
fn module_block(body: &Body, container: (usize, usize)) -> Option<&hcl_edit::structure::Block> {
    body.iter().find_map(|s| match s {
        Structure::Block(b)
            if b.ident.as_str() == "module"
                && range(b).is_some_and(|(s, e)| s <= container.0 && container.1 <= e) =>
        {
            Some(b)
        }
        _ => None,
    })
}

/// Where the line holding `at` ends: before its `\n`, or its `\r\n`.
fn line_end(text: &str, at: usize) -> usize {
    let nl = text[at..].find('\n').map_or(text.len(), |i| at + i);
    if nl > at && text.as_bytes()[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    }
}

/// The lines' indentation at `at`.
fn indent_at(text: &str, at: usize) -> &str {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// An attribute of an object or of a block body: its name, where its key
/// starts, and its value.
struct Attr<'a> {
    name: Option<&'a str>,
    key_start: Option<usize>,
    value: &'a Expression,
}

fn object_attrs(object: &Object) -> Vec<Attr<'_>> {
    object
        .iter()
        .map(|(k, v)| Attr {
            name: key_name(k),
            key_start: range(k).map(|r| r.0),
            value: v.expr(),
        })
        .collect()
}

fn block_attrs(body: &Body) -> Vec<Attr<'_>> {
    body.iter()
        .filter_map(|s| match s {
            Structure::Attribute(a) => Some(Attr {
                name: Some(a.key.as_str()),
                key_start: range(&a.key).map(|r| r.0),
                value: &a.value,
            }),
            Structure::Block(_) => None,
        })
        .collect()
}

/// The `secrets` entry made from one environment entry (and the store to
/// declare for it), or why it cannot move.
fn new_entry(
    text: &str,
    o: &Object,
    value_from: &super::NewValue,
    item: (usize, usize),
) -> Result<(String, Option<super::declare::Pending>), String> {
    let name = o
        .iter()
        .find(|(k, _)| key_name(k).is_some_and(|n| n.eq_ignore_ascii_case("name")))
        .and_then(|(_, v)| range(v.expr()))
        .map(|(s, e)| &text[s..e])
        .ok_or("an environment entry has no name")?;
    let value = o
        .iter()
        .find(|(k, _)| key_name(k).is_some_and(|n| n.eq_ignore_ascii_case("value")))
        .map(|(_, v)| v.expr());
    let mut pending = None;
    match value_from {
        // A literal that moves must be written whole here, as a plain string.
        super::NewValue::Text(_) if !matches!(value, Some(Expression::String(_))) => {
            return Err(
                "the value is not a plain string here (built from other expressions, or not a string): move it by hand".into(),
            );
        }
        // A declared store is fed by the value as written.
        super::NewValue::Declared(d) => {
            let (s, e) = value
                .and_then(range)
                .ok_or("an environment entry has no value")?;
            let expr = text[s..e].trim().to_owned();
            super::declare::check_hcl(&expr)?;
            pending = Some(super::declare::Pending {
                declared: d.clone(),
                expr,
                container: item,
                block: false,
            });
        }
        _ => {}
    }
    Ok((
        format!("{{ name = {name}, valueFrom = {} }}", value_from.hcl()),
        pending,
    ))
}

fn object_edits(
    text: &str,
    attrs: &[Attr<'_>],
    m: &ContainerMove,
    list: (usize, usize),
    patch: &mut FilePatch,
) -> Result<(), String> {
    let changed = || "the file changed since it was scanned".to_owned();
    // The environment attribute: the one whose value holds the list.
    let env = attrs
        .iter()
        .find(|a| range(a.value).is_some_and(|(s, e)| s <= list.0 && list.1 <= e))
        .ok_or_else(changed)?;
    let env_value = env.value;
    // The tuple holding the entries: the list itself, or one inside it
    // (`concat([…], …)`).
    let mut array = None;
    visit(env_value, &mut |e| {
        if let Expression::Array(a) = e {
            let spans: Vec<(usize, usize)> = a.iter().filter_map(range).collect();
            if array.is_none() && spans.len() == a.len() && !m.removed(&spans).is_empty() {
                array = Some((a, range(e)));
            }
        }
    });
    let (array, list) = array.ok_or_else(changed)?;
    let list = list.ok_or_else(changed)?;
    let items: Vec<(usize, usize)> = array.iter().filter_map(range).collect();
    // Every value in the list is redacted in the diff.
    for item in array.iter() {
        if let Expression::Object(o) = item {
            for (k, v) in o.iter() {
                if key_name(k).is_some_and(|n| n.eq_ignore_ascii_case("value")) {
                    patch.secret_ranges.extend(range(v.expr()));
                }
            }
        }
    }
    let removed = m.removed(&items);
    if removed.is_empty() {
        return Err(changed());
    }
    // The new entries: `{ name = <as written>, valueFrom = "<ARN>" }`; an
    // entry that cannot move stays, with its reason.
    let mut entries = Vec::new();
    let mut fit = Vec::new();
    for &i in &removed {
        let Expression::Object(o) = &array.iter().nth(i).ok_or_else(changed)? else {
            return Err("an environment entry is not an object".into());
        };
        let value_from = m.value_from((items[i].0 as u32, items[i].1 as u32))?;
        match new_entry(text, o, &value_from, items[i]) {
            Ok((entry, pending)) => {
                entries.push(entry);
                patch.pending.extend(pending);
                fit.push(i);
            }
            Err(why) => patch
                .refused
                .push((items[i].0 as u32, items[i].1 as u32, why)),
        }
    }
    let removed = fit;
    if removed.is_empty() {
        return Ok(());
    }
    // HCL allows a trailing comma, so every removed item can go with its line.
    patch
        .edits
        .extend(remove_items(text, list, &items, &removed, true));
    let env_key_start = env.key_start.ok_or_else(changed)?;
    let indent = indent_at(text, env_key_start).to_owned();
    let inner = format!("{indent}  ");
    let existing = attrs
        .iter()
        .find(|a| a.name.is_some_and(|n| n.eq_ignore_ascii_case("secrets")));
    // A name already in `secrets` would be there twice.
    if let Some(Expression::Array(a)) = existing.map(|e| e.value) {
        for item in a.iter() {
            let Expression::Object(o) = item else {
                continue;
            };
            let name = o
                .iter()
                .find(|(k, _)| key_name(k).is_some_and(|n| n.eq_ignore_ascii_case("name")))
                .and_then(|(_, v)| range(v.expr()))
                .map(|(s, e)| &text[s..e]);
            if let Some(name) = name {
                if entries
                    .iter()
                    .any(|e| e.contains(&format!("name = {name},")))
                {
                    return Err(format!(
                        "{name} is also in secrets: remove the environment entry by hand, keeping the reference that is right"
                    ));
                }
            }
        }
    }
    if let Some(secrets) = existing {
        let Expression::Array(a) = secrets.value else {
            return Err("`secrets` is not a list written here: add the entries by hand".into());
        };
        let (ss, se) = range(secrets.value).ok_or_else(changed)?;
        let multi_line = text[ss..se].contains('\n');
        match a.iter().last().and_then(range) {
            Some((_, last_end)) => {
                let item_indent = indent_at(text, last_end).to_owned();
                let after = &text[last_end..se];
                // After a trailing comma, or adding one.
                let (at, lead) = match after.trim_start().starts_with(',') {
                    true => (last_end + after.find(',').unwrap_or(0) + 1, ""),
                    false => (last_end, ","),
                };
                let body: String = if multi_line {
                    entries
                        .iter()
                        .enumerate()
                        .map(|(n, e)| {
                            let sep = if n == 0 { lead } else { "," };
                            format!("{sep}\n{item_indent}{e}")
                        })
                        .collect::<String>()
                        + if lead.is_empty() { "," } else { "" }
                } else {
                    entries.iter().map(|e| format!("{lead} {e}")).collect()
                };
                patch.edits.push(Edit {
                    start: at,
                    end: at,
                    text: body,
                });
            }
            None => patch.edits.push(Edit {
                start: ss,
                end: se,
                text: multi_line_list(&entries, &indent, &inner),
            }),
        }
        return Ok(());
    }
    // A new attribute after the environment one.
    let (_, env_end) = range(env_value).ok_or_else(changed)?;
    let line_end = line_end(text, env_end);
    let rest = text[env_end..line_end].trim();
    let own_line = rest.is_empty()
        || rest == ","
        || rest.starts_with('#')
        || rest.starts_with("//")
        || rest.trim_start_matches(',').trim_start().starts_with('#');
    if own_line
        && text[..env_key_start]
            .rfind('\n')
            .is_some_and(|nl| text[nl + 1..env_key_start].trim().is_empty())
    {
        patch.edits.push(Edit {
            start: line_end,
            end: line_end,
            text: format!(
                "\n{indent}secrets = {}",
                multi_line_list(&entries, &indent, &inner)
            ),
        });
    } else {
        // A one-line object: `…, secrets = [ … ]` after the environment value.
        let after = &text[env_end..];
        let comma = after.trim_start().starts_with(',');
        let at = if comma {
            env_end + after.find(',').unwrap_or(0) + 1
        } else {
            env_end
        };
        patch.edits.push(Edit {
            start: at,
            end: at,
            text: format!(
                "{} secrets = [{}]{}",
                if comma { "" } else { "," },
                entries.join(", "),
                if comma { "," } else { "" }
            ),
        });
    }
    Ok(())
}

fn multi_line_list(entries: &[String], indent: &str, inner: &str) -> String {
    let mut s = String::from("[\n");
    for e in entries {
        s.push_str(&format!("{inner}{e},\n"));
    }
    s.push_str(indent);
    s.push(']');
    s
}

/// Aligns the `=` of runs of one-line attributes directly inside an HCL
/// object, as `terraform fmt` does: a run is a block of consecutive lines
/// that each hold a whole `key = value`; a blank line, a comment line or a
/// value spanning lines ends it. Nested objects are left as they are.
pub(super) fn align(object: &str) -> String {
    align_depths(object, Some(1))
}

/// Aligns runs at one depth, or (`None`) at every depth: for text written
/// here, which has no alignment of its own yet.
fn align_depths(object: &str, only: Option<i32>) -> String {
    // Each line: whether it is a one-line attribute (then: the key's end and
    // where the value starts), and its depth; a run is consecutive such
    // lines at one depth.
    let lines: Vec<&str> = object.split_inclusive('\n').collect();
    let mut depth: i32 = 0;
    let mut info: Vec<Option<(usize, usize)>> = Vec::with_capacity(lines.len());
    let mut depths: Vec<i32> = Vec::with_capacity(lines.len());
    for line in &lines {
        let start_depth = depth;
        let (end_depth, eq) = scan_line(line, depth);
        depth = end_depth;
        depths.push(start_depth);
        let attr = (start_depth == end_depth && only.is_none_or(|d| d == start_depth))
            .then_some(eq)
            .flatten()
            .and_then(|eq| {
                let key = line[..eq].trim_end();
                let key_text = key.trim_start();
                let is_key = !key_text.is_empty()
                    && (key_text.starts_with('"')
                        || key_text
                            .chars()
                            .all(|c| c.is_alphanumeric() || c == '_' || c == '-'));
                is_key.then_some((key.len(), eq))
            });
        info.push(attr);
    }
    let mut out = String::with_capacity(object.len() + 16);
    let mut i = 0;
    while i < lines.len() {
        if info[i].is_none() {
            out.push_str(lines[i]);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < lines.len() && info[j].is_some() && depths[j] == depths[i] {
            j += 1;
        }
        let width = (i..j)
            .filter_map(|k| info[k].map(|(ke, _)| ke))
            .max()
            .unwrap_or(0);
        for k in i..j {
            let (key_end, eq) = info[k].unwrap_or((0, 0));
            let line = lines[k];
            out.push_str(&line[..key_end]);
            out.push_str(&" ".repeat(width - key_end + 1));
            out.push_str(&line[eq..]);
        }
        i = j;
    }
    out
}

/// Brackets opened minus closed along one line (strings and comments
/// skipped), starting at `depth`; and the offset of the first `=` at the
/// line's starting depth that is an assignment (not `==`, `=>`, `>=` …).
fn scan_line(line: &str, mut depth: i32) -> (i32, Option<usize>) {
    let start = depth;
    let bytes = line.as_bytes();
    let mut eq = None;
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'#' => break,
                b'/' if bytes.get(i + 1) == Some(&b'/') => break,
                b'{' | b'[' | b'(' => depth += 1,
                b'}' | b']' | b')' => depth -= 1,
                b'=' if depth == start
                    && eq.is_none()
                    && bytes.get(i + 1) != Some(&b'=')
                    && bytes.get(i + 1) != Some(&b'>')
                    && !matches!(
                        i.checked_sub(1).map(|p| bytes[p]),
                        Some(b'=' | b'!' | b'<' | b'>')
                    ) =>
                {
                    eq = Some(i);
                }
                _ => {}
            }
        }
        i += 1;
    }
    (depth, eq)
}

/// A one-line HCL list of IAM resources: Terraform expressions as they are,
/// ARNs as strings.
fn resource_list(resources: &[String]) -> String {
    let items: Vec<String> = resources
        .iter()
        .map(
            |r| match r.strip_prefix("${").and_then(|e| e.strip_suffix('}')) {
                Some(expr) if !expr.contains("${") => expr.to_owned(),
                _ => serde_json::to_string(r).unwrap_or_default(),
            },
        )
        .collect();
    format!("[{}]", items.join(", "))
}

/// A Terraform identifier made from a name.
fn ident(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        s.insert(0, '_');
    }
    s
}

/// The grant, written in Terraform next to the task definition, when the
/// The resources declared in a Terraform module (the `.tf` files of a
/// folder), by type: read once for every grant made in it.
pub(super) type ModuleResources = HashMap<String, HashSet<String>>;

pub(super) fn module_resources(path: &Path) -> ModuleResources {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut out = ModuleResources::new();
    let files = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf"));
    for text in files.filter_map(|p| std::fs::read_to_string(p).ok()) {
        for l in text.lines() {
            let t: Vec<&str> = l.split_whitespace().collect();
            if t.len() >= 3 && t[0] == "resource" {
                let kind = t[1].trim_matches('"');
                let name = t[2].trim_end_matches('{').trim_matches('"');
                out.entry(kind.to_owned())
                    .or_default()
                    .insert(name.to_owned());
            }
        }
    }
    out
}

/// execution role is declared in the same module (or missing: then a role
/// is declared too and set on the task definition). `None` when the role
/// lives elsewhere.
pub(super) fn grant(
    text: &str,
    body: &Body,
    module: &ModuleResources,
    need: &super::Need<'_>,
) -> Option<Grant> {
    use super::iam::ExecutionRole;
    let super::Need {
        container,
        role,
        resources,
        kms,
        family,
    } = *need;
    let block = body.iter().find_map(|s| match s {
        Structure::Block(b)
            if b.ident.as_str() == "resource"
                && b.labels
                    .first()
                    .is_some_and(|l| l.as_str() == "aws_ecs_task_definition")
                && b.span().is_some_and(|r| {
                    r.start <= container.0 as usize && container.1 as usize <= r.end
                }) =>
        {
            Some(b)
        }
        _ => None,
    })?;
    let td_name = block.labels.get(1)?.as_str().to_owned();
    let (block_start, block_end) = range(block)?;
    let declared = |kind: &str, name: &str| {
        module
            .get(kind)
            .is_some_and(|names: &HashSet<String>| names.contains(name))
    };
    let mut edits = Vec::new();
    let mut realign = Vec::new();
    let mut added = String::new();
    let mut new_role = None;
    let role_ref = match role {
        ExecutionRole::Set(expr) => {
            let name = expr.strip_prefix("aws_iam_role.")?.strip_suffix(".arn")?;
            if !declared("aws_iam_role", name) {
                return None;
            }
            format!("aws_iam_role.{name}.id")
        }
        ExecutionRole::Missing => {
            // A name taken elsewhere in the module gets a number, as the
            // stores do.
            let base = format!("{}_execution", ident(&td_name));
            let mut role = base.clone();
            let mut n = 2;
            while declared("aws_iam_role", &role)
                || declared("aws_iam_role_policy_attachment", &role)
            {
                role = format!("{base}_{n}");
                n += 1;
            }
            new_role = Some(role.clone());
            // A prefix: IAM role names are account-wide, and every instance
            // of a module (staging, prod) declares this role again.
            let role_name: String = "ecsguard-exec-".to_owned();
            added.push_str(&format!(
                "\n\nresource \"aws_iam_role\" \"{role}\" {{\nname_prefix = {}\nassume_role_policy = jsonencode({{\nVersion = \"2012-10-17\"\nStatement = [\n{{\nEffect = \"Allow\"\nPrincipal = {{ Service = \"ecs-tasks.amazonaws.com\" }}\nAction = \"sts:AssumeRole\"\n}},\n]\n}})\n}}\n\nresource \"aws_iam_role_policy_attachment\" \"{role}\" {{\nrole = aws_iam_role.{role}.name\npolicy_arn = \"arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy\"\n}}",
                serde_json::to_string(&role_name).unwrap_or_default()
            ));
            match block
                .body
                .get_attribute("execution_role_arn")
                .and_then(|a| range(&a.value))
            {
                // Written as none (`null`, `""`): its value is replaced.
                Some((vs, ve)) => edits.push(Edit {
                    start: vs,
                    end: ve,
                    text: format!("aws_iam_role.{role}.arn"),
                }),
                None => {
                    // Set after the block's first line.
                    let open = text[block_start..block_end].find('{')? + block_start;
                    let line_end = line_end(text, open);
                    let indent = {
                        let next = text[line_end..block_end].trim_start_matches(['\r', '\n']);
                        let first = next.lines().next().unwrap_or("");
                        first[..first.len() - first.trim_start().len()].to_owned()
                    };
                    edits.push(Edit {
                        start: line_end,
                        end: line_end,
                        text: format!("\n{indent}execution_role_arn = aws_iam_role.{role}.arn"),
                    });
                }
            }
            realign.push((block_start, block_end));
            format!("aws_iam_role.{role}.id")
        }
        ExecutionRole::Unknown => return None,
    };
    // A later fix of the same task definition adds a policy of its own.
    let base = format!("{}_ecsguard_secrets", ident(&td_name));
    let mut policy_name = base.clone();
    let mut n = 2;
    while declared("aws_iam_role_policy", &policy_name) {
        policy_name = format!("{base}_{n}");
        n += 1;
    }
    // A new role must also read the secrets the containers had already.
    let mut resources: Vec<String> = resources.to_vec();
    if matches!(role, ExecutionRole::Missing) {
        let mut exprs: Vec<&Expression> = Vec::new();
        visit_body(&block.body, &mut |e| exprs.push(e));
        for e in exprs {
            let Expression::Object(o) = e else { continue };
            for (k, v) in o.iter() {
                if key_name(k) != Some("valueFrom") {
                    continue;
                }
                let existing = match v.expr() {
                    Expression::String(s) if !s.is_empty() => Some(super::resource_of(s.as_str())),
                    Expression::String(_) => None,
                    other => range(other).map(|(a, b)| format!("${{{}}}", &text[a..b])),
                };
                resources.extend(existing);
            }
        }
        resources.sort();
        resources.dedup();
    }
    let resources = &resources;
    let mut statements = String::new();
    let ssm: Vec<String> = resources
        .iter()
        .filter(|r| ecsguard_core::plan::store_of(r) == ecsguard_core::plan::StoreKind::Ssm)
        .cloned()
        .collect();
    let sm: Vec<String> = resources
        .iter()
        .filter(|r| !ssm.contains(r))
        .cloned()
        .collect();
    for (action, list) in [
        ("ssm:GetParameters", &ssm),
        ("secretsmanager:GetSecretValue", &sm),
    ] {
        if !list.is_empty() {
            statements.push_str(&format!(
                "{{\nEffect = \"Allow\"\nAction = [\"{action}\"]\nResource = {}\n}},\n",
                resource_list(list)
            ));
        }
    }
    if let Some(key) = kms {
        // A key whose ARN is not all known here (its region and account, or
        // an alias, which IAM does not take as a key's resource): Terraform
        // looks the key up, and the grant names its ARN.
        let resource =
            if key.contains(":alias/") || key.contains(":REGION:") || key.contains(":ACCOUNT:") {
                let key_id = key
                    .split_once(":key/")
                    .map(|(_, id)| id.to_owned())
                    .or_else(|| key.split_once(":alias/").map(|(_, a)| format!("alias/{a}")))
                    .filter(|_| key.contains(":REGION:") || key.contains(":ACCOUNT:"))
                    .unwrap_or_else(|| key.to_owned());
                added.push_str(&format!(
                    "\n\ndata \"aws_kms_key\" \"{policy_name}\" {{\nkey_id = {}\n}}",
                    serde_json::to_string(&key_id).unwrap_or_default()
                ));
                format!("${{data.aws_kms_key.{policy_name}.arn}}")
            } else {
                key.to_owned()
            };
        statements.push_str(&format!(
            "{{\nEffect = \"Allow\"\nAction = [\"kms:Decrypt\"]\nResource = {}\n}},\n",
            resource_list(&[resource])
        ));
    }
    added.push_str(&format!(
        "\n\nresource \"aws_iam_role_policy\" \"{policy_name}\" {{\nname = {}\nrole = {role_ref}\npolicy = jsonencode({{\nVersion = \"2012-10-17\"\nStatement = [\n{statements}]\n}})\n}}",
        serde_json::to_string(&format!(
            "ecsguard-secrets-{family}{}",
            policy_name.strip_prefix(&base).unwrap_or_default().replace('_', "-")
        ))
        .unwrap_or_default()
    ));
    let generated = align_depths(&indent_hcl(&added), None);
    edits.push(Edit {
        start: block_end,
        end: block_end,
        text: generated,
    });
    let what = match role {
        ExecutionRole::Missing => format!(
            "declared role aws_iam_role.{} (with AmazonECSTaskExecutionRolePolicy), set it on the task definition, and granted it the values in aws_iam_role_policy.{policy_name}",
            new_role.unwrap_or_default()
        ),
        _ => format!("granted the execution role the values in aws_iam_role_policy.{policy_name}"),
    };
    Some(Grant {
        edits,
        realign,
        what,
    })
}

/// Indents generated HCL as `terraform fmt` does: two spaces a level, one
/// level for each line that leaves brackets open (`jsonencode({` is one).
fn indent_hcl(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut level: usize = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        let closes_first = t.starts_with(['}', ']', ')']);
        if closes_first {
            level = level.saturating_sub(1);
        }
        if !t.is_empty() {
            out.push_str(&"  ".repeat(level));
        }
        out.push_str(t);
        if line.ends_with('\n') {
            out.push('\n');
        }
        let net = scan_line(t, 0).0;
        if net > 0 {
            level += 1;
        } else if net < 0 && !closes_first {
            level = level.saturating_sub(1);
        }
    }
    out
}

/// Why a store cannot be declared for a task definition made more than
/// once: the store would need the same `count` or `for_each`.
pub(super) const REPEATED: &str = "the task definition is made more than once (count or for_each)";

/// How the `family` of the task definition around byte `at` names a
/// parameter: `Ok(None)` when written as a plain string (the name as
/// planned), `Ok(Some(x))` when built from inputs (`var.name` becomes
/// `${var.name}`, `"${var.env}-api"` stays `${var.env}-api`), and `Err`
/// when the task definition is made more than once or its family is
/// computed otherwise. `None` when there is no such task definition.
pub(super) fn family_name(
    text: &str,
    at: (usize, usize),
) -> Option<Result<Option<String>, String>> {
    // One parse per file, not per task definition: a file of a thousand
    // task definitions is asked a thousand times.
    thread_local! {
        static PARSED: std::cell::RefCell<Option<(String, std::rc::Rc<hcl_edit::structure::Body>)>> =
            const { std::cell::RefCell::new(None) };
    }
    let body = PARSED.with(|p| {
        let mut p = p.borrow_mut();
        match &*p {
            Some((t, b)) if t == text => Some(b.clone()),
            _ => {
                let b = std::rc::Rc::new(hcl_edit::parser::parse_body(text).ok()?);
                *p = Some((text.to_owned(), b.clone()));
                Some(b)
            }
        }
    })?;
    let block = body.iter().find_map(|s| match s {
        Structure::Block(b)
            if b.ident.as_str() == "resource"
                && b.labels
                    .first()
                    .is_some_and(|l| l.as_str() == "aws_ecs_task_definition")
                && b.span().is_some_and(|r| r.start <= at.0 && at.1 <= r.end) =>
        {
            Some(b)
        }
        _ => None,
    })?;
    if ["count", "for_each"]
        .iter()
        .any(|a| block.body.get_attribute(a).is_some())
    {
        return Some(Err(REPEATED.into()));
    }
    let computed = || Err("the task definition's family is computed by an expression".to_owned());
    let Some(attr) = block.body.get_attribute("family") else {
        return Some(Ok(None));
    };
    let Some(raw) = range(&attr.value).and_then(|(s, e)| text.get(s..e)) else {
        return Some(computed());
    };
    let raw = raw.trim();
    let traversal = |s: &str| {
        ["var.", "local."].iter().any(|p| s.starts_with(p))
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.".contains(c))
    };
    let plain = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    };
    if traversal(raw) {
        return Some(Ok(Some(format!("${{{raw}}}"))));
    }
    let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return Some(computed());
    };
    if !inner.contains("${") && !inner.contains("%{") {
        return Some(Ok(None));
    }
    // A string of plain text and `${traversal}` parts.
    let mut rest = inner;
    while let Some(start) = rest.find("${") {
        let Some(close) = rest[start..].find('}').map(|c| c + start) else {
            return Some(computed());
        };
        if !plain(&rest[..start]) || !traversal(&rest[start + 2..close]) {
            return Some(computed());
        }
        rest = &rest[close + 1..];
    }
    Some(if plain(rest) {
        Ok(Some(inner.to_owned()))
    } else {
        computed()
    })
}
