//! Stores declared in the file for secret inputs (DESIGN §5): a value that
//! comes from a `sensitive` variable, a `NoEcho` parameter, a generated
//! password, an access key's secret, or a template built from them, is not
//! a literal to push. It is fed, by the same expression, into a store
//! declared beside the task definition in the file's own language, and the
//! container reads that store through `secrets`:
//! - Terraform: an `aws_ssm_parameter` (`SecureString`), or an
//!   `aws_secretsmanager_secret` and its `aws_secretsmanager_secret_version`
//!   (the version is what the container reads, so that the value is stored
//!   before the task definition refers to it);
//! - CloudFormation: an `AWS::SecretsManager::Secret`, since CloudFormation
//!   cannot declare `SecureString` parameters. It has no `Name`, so a stack
//!   made twice from one template gets two secrets.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ecsguard_core::plan::StoreKind;

use crate::source::FileKind;
use crate::tree::{Kind, Node};

/// The language a declared store is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    Terraform,
    CloudFormation,
}

/// One store to declare, fed by the expression of the entry it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Declared {
    pub lang: Lang,
    /// The resource name (Terraform) or logical id (CloudFormation).
    pub id: String,
    pub kind: StoreKind,
    /// The SSM parameter's name, or the secret's name prefix (Terraform).
    pub name: String,
    /// The name holds a Terraform interpolation (`${var.name}`: the
    /// family of a module's task definition), written as it is.
    pub interpolated: bool,
    pub kms: Option<String>,
    /// What the store holds, for its description: `VARIABLE of FAMILY/CONTAINER`.
    pub about: String,
}

impl Declared {
    /// The Terraform resource type whose `arn` the container reads.
    fn tf_type(&self) -> &'static str {
        match self.kind {
            StoreKind::Ssm => "aws_ssm_parameter",
            StoreKind::SecretsManager => "aws_secretsmanager_secret_version",
        }
    }

    /// How the container refers to it: a Terraform expression, or a
    /// CloudFormation `!Ref` (a secret's `Ref` is its ARN).
    pub fn reference(&self) -> String {
        match self.lang {
            Lang::Terraform => format!("{}.{}.arn", self.tf_type(), self.id),
            Lang::CloudFormation => format!("!Ref {}", self.id),
        }
    }

    /// The IAM resource the execution role is granted.
    pub fn resource(&self) -> String {
        match self.lang {
            Lang::Terraform => format!("${{{}}}", self.reference()),
            Lang::CloudFormation => self.reference(),
        }
    }

    /// What is declared, for the plan.
    pub fn what(&self) -> String {
        match (self.lang, &self.kind) {
            (Lang::Terraform, StoreKind::Ssm) => {
                format!("aws_ssm_parameter.{} (SecureString {})", self.id, self.name)
            }
            (Lang::Terraform, StoreKind::SecretsManager) => format!(
                "aws_secretsmanager_secret.{0} and its version (named {1}…)",
                self.id, self.name
            ),
            (Lang::CloudFormation, _) => format!("{} (AWS::SecretsManager::Secret)", self.id),
        }
    }
}

/// The language a store for a value of `file` would be declared in, if one
/// can be: Terraform files, and CloudFormation templates (a value that is a
/// reference can only be in a template among the JSON and YAML files).
pub(super) fn lang_of(file: &str) -> Option<Lang> {
    match FileKind::of(Path::new(file)) {
        Some(FileKind::Terraform) if file.ends_with(".tf") => Some(Lang::Terraform),
        Some(FileKind::Json | FileKind::Yaml) => Some(Lang::CloudFormation),
        _ => None,
    }
}

/// Names already used, per file (Terraform: per module folder), so that a
/// declared store never takes one.
#[derive(Default)]
pub(super) struct Taken {
    by_file: HashMap<String, HashSet<String>>,
}

impl Taken {
    /// A free name, made from the family and the variable.
    pub fn allocate(&mut self, file: &str, lang: Lang, family: &str, variable: &str) -> String {
        // A Terraform module is its folder.
        let key = match lang {
            Lang::Terraform => module_dir(file).to_string_lossy().into_owned(),
            Lang::CloudFormation => file.to_owned(),
        };
        let used = self
            .by_file
            .entry(key)
            .or_insert_with(|| used_names(file, lang));
        let base = match lang {
            Lang::Terraform => snake(&format!("{family}_{variable}")),
            Lang::CloudFormation => format!("{}{}Secret", camel(family), camel(variable)),
        };
        let mut id = base.clone();
        let mut n = 2;
        while used.contains(&id) {
            id = match lang {
                Lang::Terraform => format!("{base}_{n}"),
                Lang::CloudFormation => format!("{base}{n}"),
            };
            n += 1;
        }
        used.insert(id.clone());
        id
    }
}

/// Terraform: the resource names of the module (every `.tf` file of the
/// folder; a name is taken whatever its type). CloudFormation: the template's
/// logical ids (parameters, resources, conditions, outputs).
fn used_names(file: &str, lang: Lang) -> HashSet<String> {
    let mut used = HashSet::new();
    match lang {
        Lang::Terraform => {
            let texts = std::fs::read_dir(module_dir(file))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "tf"))
                .filter_map(|p| std::fs::read_to_string(p).ok());
            for text in texts {
                for line in text.lines() {
                    let t: Vec<&str> = line.split_whitespace().collect();
                    if t.len() >= 3 && t[0] == "resource" {
                        used.insert(t[2].trim_end_matches('{').trim_matches('"').to_owned());
                    }
                }
            }
        }
        Lang::CloudFormation => {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let roots: Vec<Node> = if FileKind::of(Path::new(file)) == Some(FileKind::Yaml) {
                crate::yaml::parse(&text).unwrap_or_default()
            } else {
                crate::json::parse(&text)
                    .ok()
                    .flatten()
                    .into_iter()
                    .collect()
            };
            for root in &roots {
                for section in [
                    "Parameters",
                    "Resources",
                    "Conditions",
                    "Outputs",
                    "Mappings",
                ] {
                    if let Some((_, v)) = root.get_entry(section) {
                        used.extend(v.entries().iter().map(|(k, _)| k.text.clone()));
                    }
                }
            }
        }
    }
    used
}

fn module_dir(file: &str) -> &Path {
    Path::new(file)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// `payments-api` + `DB_PASSWORD` → `payments_api_db_password`.
fn snake(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '_'
        };
        if !(c == '_' && (out.is_empty() || out.ends_with('_'))) {
            out.push(c);
        }
    }
    let out = out.trim_end_matches('_').to_owned();
    if out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out
    } else {
        format!("ecsguard_{out}")
    }
}

/// `payments-api` → `PaymentsApi`; `DB_PASSWORD` → `DbPassword`.
fn camel(s: &str) -> String {
    let mut out = String::new();
    for word in s.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            // `DB` → `Db`; `TaskDefinition` stays.
            let shouting = !word.chars().any(|c| c.is_ascii_lowercase());
            out.extend(chars.map(|c| if shouting { c.to_ascii_lowercase() } else { c }));
        }
    }
    if out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out
    } else {
        format!("Ecsguard{out}")
    }
}

/// One declaration waiting to be written: the store, the expression that
/// feeds it (as written in the file), and the container it is for.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub declared: Declared,
    pub expr: String,
    pub container: (usize, usize),
    /// A YAML block value (a long-form intrinsic): written under its key.
    pub block: bool,
}

/// A Terraform expression fit to be copied: one line, no heredoc.
pub(super) fn check_hcl(expr: &str) -> Result<(), String> {
    if expr.contains('\n') || expr.contains("<<") {
        return Err(
            "the value's expression spans several lines: declare a store fed by it by hand".into(),
        );
    }
    Ok(())
}

/// The Terraform expression of a JSON string in a heredoc: `"${EXPR}"` is
/// `EXPR`; any other string is a template with the same meaning in HCL,
/// unless it uses escapes HCL lacks.
pub(super) fn hcl_of_json_string(raw: &str) -> Result<String, String> {
    if let Some(inner) = raw.strip_prefix("\"${").and_then(|r| r.strip_suffix("}\"")) {
        if !inner.contains(['$', '{', '}', '"', '\\']) {
            return Ok(inner.trim().to_owned());
        }
    }
    if raw.contains("\\/") || raw.contains("\\b") || raw.contains("\\f") {
        return Err("the value uses a JSON escape Terraform does not read: move it by hand".into());
    }
    Ok(raw.to_owned())
}

/// The HCL that declares the stores.
pub(super) fn hcl(pending: &[&Pending]) -> String {
    let mut out = String::new();
    for p in pending {
        let d = &p.declared;
        let kms = |key: &str| {
            d.kms
                .as_ref()
                .map(|k| format!("{key} = {}\n", quote(k)))
                .unwrap_or_default()
        };
        match d.kind {
            StoreKind::Ssm => out.push_str(&format!(
                "\n\nresource \"aws_ssm_parameter\" \"{id}\" {{\nname = {name}\ndescription = {about}\ntype = \"SecureString\"\n{kms}value = {expr}\n}}",
                id = d.id,
                name = if d.interpolated {
                    serde_json::to_string(&d.name).unwrap_or_default()
                } else {
                    quote(&d.name)
                },
                about = quote(&d.about),
                kms = kms("key_id"),
                expr = p.expr,
            )),
            StoreKind::SecretsManager => out.push_str(&format!(
                "\n\nresource \"aws_secretsmanager_secret\" \"{id}\" {{\nname_prefix = {name}\ndescription = {about}\n{kms}}}\n\nresource \"aws_secretsmanager_secret_version\" \"{id}\" {{\nsecret_id = aws_secretsmanager_secret.{id}.id\nsecret_string = {expr}\n}}",
                id = d.id,
                name = quote(&format!("{}-", d.name)),
                about = quote(&d.about),
                kms = kms("kms_key_id"),
                expr = p.expr,
            )),
        }
    }
    out
}

fn quote(s: &str) -> String {
    serde_json::to_string(&s.replace("${", "$${").replace("%{", "%%{")).unwrap_or_default()
}

/// The YAML that declares the secrets, as entries of `Resources` indented
/// by `indent` with `unit` a level. `expr` is the value as written; one
/// written over several lines (a long-form intrinsic) is moved under
/// `SecretString:` with its lines' indentation kept relative to each other.
pub(super) fn yaml(pending: &[&Pending], indent: &str, unit: &str) -> String {
    let mut out = String::new();
    for p in pending {
        let d = &p.declared;
        let props = format!("{indent}{unit}{unit}");
        let about = serde_json::to_string(&d.about).unwrap_or_default();
        out.push_str(&format!(
            "{indent}{id}:\n{indent}{unit}Type: AWS::SecretsManager::Secret\n{indent}{unit}Properties:\n{props}Description: {about}\n",
            id = d.id
        ));
        if let Some(k) = &d.kms {
            out.push_str(&format!(
                "{props}KmsKeyId: {}\n",
                serde_json::to_string(k).unwrap_or_default()
            ));
        }
        if p.block || p.expr.contains('\n') {
            out.push_str(&format!("{props}SecretString:\n"));
            for line in p.expr.lines() {
                out.push_str(&format!("{props}{unit}{line}\n"));
            }
        } else {
            out.push_str(&format!("{props}SecretString: {}\n", p.expr));
        }
    }
    out
}

/// The YAML text of a value node, its tag included, as lines relative to
/// its first: `None` when it cannot be moved (it starts after other text on
/// its line and goes on over several lines).
pub(super) fn yaml_value_text(text: &str, value: &Node) -> Option<(String, bool)> {
    let block = matches!(value.kind, Kind::Map(_) | Kind::Seq(_))
        && !text[value.span.start as usize..].starts_with(['{', '[']);
    value_lines(text, value).map(|t| (t, block))
}

fn value_lines(text: &str, value: &Node) -> Option<String> {
    let mut start = value.span.start as usize;
    if matches!(value.kind, Kind::Tagged(..)) && !text[start..].starts_with('!') {
        start = text[..start].rfind('!')?;
    }
    let end = value.span.end as usize;
    let raw = text[start..end].trim_end();
    if !raw.contains('\n') {
        return Some(raw.to_owned());
    }
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    if !text[line_start..start].trim().is_empty() {
        return None;
    }
    let column = start - line_start;
    Some(
        raw.lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    return l.to_owned();
                }
                let spaces = l.len() - l.trim_start_matches(' ').len();
                l[spaces.min(column)..].to_owned()
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// The JSON that declares the secrets, as members of `Resources`.
pub(super) fn json(pending: &[&Pending], indent: &str, unit: &str) -> String {
    let mut out = String::new();
    for p in pending {
        let d = &p.declared;
        let i2 = format!("{indent}{unit}");
        let i3 = format!("{i2}{unit}");
        let about = serde_json::to_string(&d.about).unwrap_or_default();
        let kms = d
            .kms
            .as_ref()
            .map(|k| {
                format!(
                    ",\n{i3}\"KmsKeyId\": {}",
                    serde_json::to_string(k).unwrap_or_default()
                )
            })
            .unwrap_or_default();
        out.push_str(&format!(
            ",\n{indent}\"{id}\": {{\n{i2}\"Type\": \"AWS::SecretsManager::Secret\",\n{i2}\"Properties\": {{\n{i3}\"Description\": {about}{kms},\n{i3}\"SecretString\": {expr}\n{i2}}}\n{indent}}}",
            id = d.id,
            expr = reindent_tail(&p.expr, &i3)
        ));
    }
    out
}

/// A value written over several lines, moved: its lines after the first
/// keep their indentation relative to each other, the least indented at
/// `base`.
fn reindent_tail(expr: &str, base: &str) -> String {
    let mut lines = expr.lines();
    let Some(first) = lines.next() else {
        return String::new();
    };
    let rest: Vec<&str> = lines.collect();
    let least = rest
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = first.to_owned();
    for l in rest {
        out.push('\n');
        if !l.trim().is_empty() {
            out.push_str(base);
            out.push_str(&l[least.min(l.len() - l.trim_start().len())..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            snake("payments-api_DB_PASSWORD"),
            "payments_api_db_password"
        );
        assert_eq!(snake("1st__X"), "ecsguard_1st_x");
        assert_eq!(camel("orders"), "Orders");
        assert_eq!(camel("DB_PASSWORD"), "DbPassword");
        assert_eq!(camel("9"), "Ecsguard9");
        assert_eq!(camel("TaskDefinition"), "TaskDefinition");
    }

    #[test]
    fn heredoc_strings() {
        assert_eq!(
            hcl_of_json_string("\"${var.db_password}\"").unwrap(),
            "var.db_password"
        );
        assert_eq!(
            hcl_of_json_string("\"postgres://u:${var.pw}@h/db\"").unwrap(),
            "\"postgres://u:${var.pw}@h/db\""
        );
        assert!(hcl_of_json_string("\"a\\/b${var.x}\"").is_err());
    }
}
