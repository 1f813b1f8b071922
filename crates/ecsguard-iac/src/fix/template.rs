//! Containers read from another file: `file("….json")` and
//! `templatefile("….tpl", { … })` in a Terraform task definition. The JSON
//! file is edited where its entries are written, and the call's module
//! holds what the task definition needs: the grant, and for a template, the
//! variable that now carries the store's ARN instead of the value.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hcl_edit::expr::Expression;
use hcl_edit::structure::Structure;

use super::hcl::{key_name, range};

/// One `file()` or `templatefile()` call that reads a given file.
#[derive(Debug, Clone)]
pub(super) struct Use {
    /// The `.tf` file holding the call.
    pub tf_file: String,
    /// The call's span: inside the task definition block that makes it.
    pub call: (usize, usize),
    /// Whether it is `templatefile` (its `${…}` are the variables below).
    pub templated: bool,
    /// The template's variables: name, the span of the value given, and
    /// whether that value is a plain string (a literal).
    pub vars: Vec<(String, (usize, usize), bool)>,
}

/// The users of each file read through `file()`/`templatefile()`, looked
/// for in the `.tf` files of the file's folder and of its parents (a module
/// reads `${path.module}/…`, a root module may read `templates/…`).
#[derive(Default)]
pub(super) struct Users {
    by_file: HashMap<PathBuf, Vec<Use>>,
}

impl Users {
    pub fn of(&mut self, file: &Path) -> &[Use] {
        let key = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        self.by_file
            .entry(key.clone())
            .or_insert_with(|| find_users(file, &key))
    }
}

fn find_users(file: &Path, canonical: &Path) -> Vec<Use> {
    let mut out = Vec::new();
    let mut dir = file.parent().map(Path::to_path_buf);
    // The file's folder and up to three above it.
    for _ in 0..4 {
        let Some(d) = dir else { break };
        let listing = if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d.as_path()
        };
        let mut tfs: Vec<PathBuf> = std::fs::read_dir(listing)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "tf"))
            .filter(|p| {
                !p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(super::write::TEMP_PREFIX))
            })
            .collect();
        tfs.sort();
        for tf in tfs {
            let Ok(text) = std::fs::read_to_string(&tf) else {
                continue;
            };
            let tf_dir = tf.parent().unwrap_or(Path::new("."));
            out.extend(calls_in(&text, tf_dir, canonical).into_iter().map(|mut u| {
                u.tf_file = display(&tf);
                u
            }));
        }
        dir = d.parent().map(Path::to_path_buf);
        if d.as_os_str().is_empty() || d == Path::new(".") {
            break;
        }
    }
    out
}

/// A path as the scanner shows it (joined from the path it was given).
fn display(p: &Path) -> String {
    p.display().to_string()
}

/// The calls in one `.tf` text that read `canonical`.
fn calls_in(text: &str, tf_dir: &Path, canonical: &Path) -> Vec<Use> {
    let Ok(body) = hcl_edit::parser::parse_body(text) else {
        return Vec::new();
    };
    let mut calls = Vec::new();
    for s in body.iter() {
        let Structure::Block(b) = s else { continue };
        super::hcl::visit_body(&b.body, &mut |e| {
            if let Expression::FuncCall(c) = e {
                let name = c.name.name.as_str();
                if name == "file" || name == "templatefile" {
                    calls.push((e, c));
                }
            }
        });
    }
    let mut out = Vec::new();
    for (e, c) in calls {
        let Some(arg) = c.args.iter().next() else {
            continue;
        };
        let Some((s, end)) = range(arg) else { continue };
        let raw = text[s..end].trim();
        let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
            continue;
        };
        let dir = tf_dir.display().to_string();
        let dir = if dir.is_empty() { ".".to_owned() } else { dir };
        let resolved = inner
            .replace("${path.module}", &dir)
            .replace("${path.root}", &dir)
            .replace("${path.cwd}", &dir);
        if resolved.contains("${") {
            continue;
        }
        // `${path.module}/x` is already the folder's; a bare path is the
        // folder Terraform runs in, the root module's.
        let path = if inner.contains("${path.") || Path::new(&resolved).is_absolute() {
            PathBuf::from(&resolved)
        } else {
            tf_dir.join(&resolved)
        };
        let Ok(found) = std::fs::canonicalize(&path) else {
            continue;
        };
        if found != canonical {
            continue;
        }
        let mut vars = Vec::new();
        if let Some(Expression::Object(o)) = c.args.iter().nth(1) {
            for (k, v) in o.iter() {
                if let (Some(name), Some(span)) = (key_name(k), range(v.expr())) {
                    let literal = matches!(v.expr(), Expression::String(_));
                    vars.push((name.to_owned(), span, literal));
                }
            }
        }
        let Some(call) = range(e) else { continue };
        out.push(Use {
            tf_file: String::new(),
            call,
            templated: c.name.name.as_str() == "templatefile",
            vars,
        });
    }
    out
}

/// The template variable an entry's value is, when it is exactly one
/// (`"value": "${NAME}"`), and used nowhere else in the template.
pub(super) fn sole_variable(template: &str, entry: &str) -> Option<String> {
    let start = entry.find("\"${")? + 3;
    let len = entry[start..].find("}\"")?;
    let name = &entry[start..start + len];
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !plain || entry.matches("${").count() != 1 {
        return None;
    }
    let uses = template.matches(&format!("${{{name}}}")).count()
        + template.matches(&format!("${{ {name} }}")).count();
    (uses == 1).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sole_variables() {
        let t = r#"[{"environment": [{"name": "A", "value": "${a}"}, {"name": "B", "value": "x${b}"}, {"name": "C", "value": "${c}"}], "command": ["${c}"]}]"#;
        assert_eq!(
            sole_variable(t, r#"{"name": "A", "value": "${a}"}"#),
            Some("a".into())
        );
        assert_eq!(sole_variable(t, r#"{"name": "B", "value": "x${b}"}"#), None);
        assert_eq!(sole_variable(t, r#"{"name": "C", "value": "${c}"}"#), None);
    }
}
