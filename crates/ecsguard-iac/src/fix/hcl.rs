//! Terraform: containers written as HCL objects (`jsonencode([{ … }])`) are
//! edited through hcl-edit's spans; JSON in a heredoc is edited as JSON.
//! The new `secrets` entries are one-line objects, one per line, and the
//! container's attributes are aligned again as `terraform fmt` aligns them.

use std::path::Path;

use hcl_edit::expr::{Expression, Object, ObjectKey};
use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span;

use super::{remove_items, tree_edits, ContainerMove, Edit, FilePatch, Syntax};

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

fn visit_body<'a>(body: &'a Body, f: &mut dyn FnMut(&'a Expression)) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => visit(&a.value, f),
            Structure::Block(b) => visit_body(&b.body, f),
        }
    }
}

fn key_name(key: &ObjectKey) -> Option<&str> {
    match key {
        ObjectKey::Ident(id) => Some(id.as_str()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn range(e: &impl Span) -> Option<(usize, usize)> {
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
            tree_edits(path, text, &[root], m, Syntax::Json, patch)?;
            continue;
        }
        let object = exprs
            .iter()
            .find_map(|e| match e {
                Expression::Object(o) if range(*e) == Some(container) => Some(o),
                _ => None,
            })
            .ok_or_else(|| {
                "the container is not written as an HCL object here: move the variables by hand"
                    .to_owned()
            })?;
        object_edits(
            text,
            object,
            m,
            (spans.list.0 as usize, spans.list.1 as usize),
            patch,
        )?;
        patch.realign.push(container);
    }
    Ok(())
}

/// The lines' indentation at `at`.
fn indent_at(text: &str, at: usize) -> &str {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

fn object_edits(
    text: &str,
    object: &Object,
    m: &ContainerMove,
    list: (usize, usize),
    patch: &mut FilePatch,
) -> Result<(), String> {
    let changed = || "the file changed since it was scanned".to_owned();
    // The environment attribute: the one whose value holds the list.
    let (env_key, env_value) = object
        .iter()
        .find(|(_, v)| range(v.expr()).is_some_and(|(s, e)| s <= list.0 && list.1 <= e))
        .ok_or_else(changed)?;
    // The tuple holding the entries: the list itself, or one inside it
    // (`concat([…], …)`).
    let mut array = None;
    visit(env_value.expr(), &mut |e| {
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
    patch.edits.extend(remove_items(list, &items, &removed));
    // The new entries: `{ name = <as written>, valueFrom = "<ARN>" }`.
    let mut entries = Vec::new();
    for &i in &removed {
        let Expression::Object(o) = &array.iter().nth(i).ok_or_else(changed)? else {
            return Err("an environment entry is not an object".into());
        };
        let name = o
            .iter()
            .find(|(k, _)| key_name(k).is_some_and(|n| n.eq_ignore_ascii_case("name")))
            .and_then(|(_, v)| range(v.expr()))
            .map(|(s, e)| &text[s..e])
            .ok_or("an environment entry has no name")?;
        let value_from = m.value_from((items[i].0 as u32, items[i].1 as u32))?;
        let encoded = value_from.hcl();
        entries.push(format!("{{ name = {name}, valueFrom = {encoded} }}"));
    }
    let env_key_start = range(env_key).ok_or_else(changed)?.0;
    let indent = indent_at(text, env_key_start).to_owned();
    let inner = format!("{indent}  ");
    let existing = object
        .iter()
        .find(|(k, _)| key_name(k).is_some_and(|n| n.eq_ignore_ascii_case("secrets")));
    if let Some((_, v)) = existing {
        let Expression::Array(a) = v.expr() else {
            return Err("`secrets` is not a list written here: add the entries by hand".into());
        };
        let (ss, se) = range(v.expr()).ok_or_else(changed)?;
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
    let (_, env_end) = range(env_value.expr()).ok_or_else(changed)?;
    let line_end = text[env_end..]
        .find('\n')
        .map_or(text.len(), |i| env_end + i);
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
    // Each line: its text, and whether it is a one-line attribute at depth 1
    // (then: the key's end and where the value starts).
    let lines: Vec<&str> = object.split_inclusive('\n').collect();
    let mut depth: i32 = 0;
    let mut info: Vec<Option<(usize, usize)>> = Vec::with_capacity(lines.len());
    for line in &lines {
        let start_depth = depth;
        let (end_depth, eq) = scan_line(line, depth);
        depth = end_depth;
        let attr = (start_depth == 1 && end_depth == 1)
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
        while j < lines.len() && info[j].is_some() {
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
