//! YAML block sequences (CloudFormation's usual layout): items are whole
//! lines, moved with their indentation.

use super::{Edit, Kind, Node};

/// The lines holding a block sequence item: from the start of its `- `
/// line to the end of its last line (newline included), and the column
/// of its dash.
fn item_lines(text: &str, item: &Node) -> Result<(usize, usize, usize), String> {
    let start = item.span.start as usize;
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let lead = &text[line_start..start];
    let after_indent = lead.trim_start_matches(' ');
    let is_item = after_indent
        .strip_prefix('-')
        .is_some_and(|rest| rest.chars().all(|c| c == ' '));
    if !is_item {
        return Err(
            "the environment list is not a block list (`- Name: …` lines): move the variable by hand".into(),
        );
    }
    let dash = lead.len() - after_indent.len();
    let content_end = start + text[start..item.span.end as usize].trim_end().len();
    let end = text[content_end..]
        .find('\n')
        .map_or(text.len(), |i| content_end + i + 1);
    Ok((line_start, end, dash))
}

/// Moves lines from one dash column to another.
fn reindent(lines: &str, from: usize, to: usize) -> String {
    lines
        .split_inclusive('\n')
        .map(|line| {
            if to >= from {
                format!("{}{line}", " ".repeat(to - from))
            } else {
                let spaces = line.len() - line.trim_start_matches(' ').len();
                line[spaces.min(from - to)..].to_owned()
            }
        })
        .collect()
}

/// The line before `at` that is neither blank nor a comment: the key of
/// the list that starts at `at`.
fn key_line(text: &str, at: usize) -> Option<(usize, &str)> {
    let mut end = at;
    while end > 0 {
        let start = text[..end - 1].rfind('\n').map_or(0, |i| i + 1);
        let line = &text[start..end];
        let t = line.trim();
        if !t.is_empty() && !t.starts_with('#') {
            return Some((start, line));
        }
        end = start;
    }
    None
}

/// A `Secrets` item made from the `Environment` item it replaces: its
/// lines, with the `Value` key renamed `ValueFrom` and the value replaced.
fn secret_item(
    text: &str,
    item: &Node,
    value_from: &super::NewValue,
) -> Result<(String, usize), String> {
    let (start, end, dash) = item_lines(text, item)?;
    let (key, value) = super::value_entry(item)?;
    let (vs, ve) = (value.span.start as usize, value.span.end as usize);
    if value.span.is_empty() || vs < start || ve > end {
        return Err("the value's position is unknown: move the variable by hand".into());
    }
    if let Kind::Str(_, style) = &value.kind {
        if *style != crate::tree::StrStyle::Inline {
            return Err("the value is a block scalar: move the variable by hand".into());
        }
    }
    let before = &text[start..vs];
    let at = before
        .rfind(key.as_str())
        .ok_or_else(|| "cannot find the value's key".to_owned())?;
    let encoded = value_from.json();
    let mut out = format!(
        "{}{key}From{}{encoded}{}",
        &before[..at],
        &before[at + key.len()..],
        &text[ve..end]
    );
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok((out, dash))
}

pub(super) fn patch(
    text: &str,
    container: &Node,
    list: &Node,
    items: &[Node],
    removed: &[usize],
    value_from_of: &dyn Fn(&Node) -> Result<super::NewValue, String>,
) -> Result<Vec<Edit>, String> {
    let mut edits = Vec::new();
    let mut moved = Vec::new();
    for &i in removed {
        let (start, end, _) = item_lines(text, &items[i])?;
        edits.push(Edit {
            start,
            end,
            text: String::new(),
        });
        moved.push(secret_item(text, &items[i], &value_from_of(&items[i])?)?);
    }
    let first = item_lines(text, items.first().ok_or("empty list")?)?;
    let last = item_lines(text, items.last().ok_or("empty list")?)?;
    let (key_start, key_line) = key_line(text, first.0).ok_or("cannot find the environment key")?;
    let env_key = container
        .entries()
        .iter()
        .rev()
        .find(|(_, v)| v.span == list.span)
        .map(|(k, _)| k.text.clone())
        .unwrap_or_else(|| "Environment".to_owned());
    let key_col = key_line
        .find(env_key.as_str())
        .ok_or("cannot find the environment key")?;
    if removed.len() == items.len() {
        // `Environment:` with nothing under it would be null.
        let colon = key_start
            + key_col
            + env_key.len()
            + key_line[key_col + env_key.len()..]
                .find(':')
                .ok_or("cannot find the environment key")?
            + 1;
        edits.push(Edit {
            start: colon,
            end: colon,
            text: " []".into(),
        });
    }
    let secrets = container
        .entries()
        .iter()
        .rev()
        .find(|(k, _)| k.text.eq_ignore_ascii_case("secrets"))
        .map(|(_, v)| v);
    let lead = |at: usize| {
        if at == 0 || text[..at].ends_with('\n') {
            ""
        } else {
            "\n"
        }
    };
    match secrets {
        Some(list) => {
            let items = list.as_seq().unwrap_or_default();
            let last = items
                .last()
                .ok_or("`Secrets` is an empty or flow list: add the entries by hand")?;
            let (_, end, dash) = item_lines(text, last)?;
            let body: String = moved
                .iter()
                .map(|(lines, from)| reindent(lines, *from, dash))
                .collect();
            edits.push(Edit {
                start: end,
                end,
                text: format!("{}{body}", lead(end)),
            });
        }
        None => {
            let key = if env_key.starts_with('e') {
                "secrets"
            } else {
                "Secrets"
            };
            let body: String = moved
                .iter()
                .map(|(lines, from)| reindent(lines, *from, first.2))
                .collect();
            edits.push(Edit {
                start: last.1,
                end: last.1,
                text: format!("{}{}{key}:\n{body}", lead(last.1), " ".repeat(key_col)),
            });
        }
    }
    Ok(edits)
}
