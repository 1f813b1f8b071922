//! CloudFormation templates (YAML or JSON, hand-written or CDK output).
//!
//! Intrinsic functions are read symbolically, never guessed: `!Ref` to a
//! `NoEcho` parameter, `!GetAtt` of an `AWS::IAM::AccessKey`'s
//! `SecretAccessKey` and `{{resolve:secretsmanager:…}}` dynamic references are
//! references to secrets; ARNs, names and ids are identifiers.

use ecsguard_core::{
    EnvValue, InputError, Reference, ReferenceTarget, SecretValue, TaskDefinition,
};

use ecsguard_core::detect::names::{classify, NameClass};

use crate::extract::{self, Resolve};
use crate::json;
use crate::source::Outcome;
use crate::tree::{Kind, Node, Pos, StrStyle};

const TASK_DEFINITION_TYPE: &str = "AWS::ECS::TaskDefinition";

/// Whether a document is a CloudFormation template.
pub fn is_template(root: &Node) -> bool {
    root.get_exact("AWSTemplateFormatVersion").is_some()
        || root.get_exact("Resources").is_some_and(|r| {
            r.entries()
                .iter()
                .any(|(_, res)| res.get_exact("Type").is_some())
        })
}

/// `source` is the text the template was parsed from, used to place
/// positions inside folded block scalars.
pub fn scan(root: &Node, file: &str, source: &str, out: &mut Outcome) {
    let cfn = Cfn {
        source,
        parameters: root.get_exact("Parameters"),
        resources: root.get_exact("Resources"),
        mappings: root.get_exact("Mappings"),
    };
    let Some(resources) = cfn.resources else {
        return;
    };
    for (logical_id, resource) in resources.entries() {
        if resource.get_exact("Type").and_then(Node::as_str) != Some(TASK_DEFINITION_TYPE) {
            continue;
        }
        let Some(props) = resource.get_exact("Properties") else {
            continue;
        };
        let family = props
            .get_exact("Family")
            .and_then(Node::as_str)
            .map_or_else(|| logical_id.text.clone(), str::to_owned);
        let containers = match props.get_exact("ContainerDefinitions") {
            Some(defs) => match container_definitions(&cfn, defs, file, out) {
                Some(c) => c,
                None => continue,
            },
            None => Vec::new(),
        };
        let mut containers = containers;
        // CDK output is generated: the fix belongs in the CDK app.
        if file.replace('\\', "/").contains("cdk.out/") {
            extract::set_origin(&mut containers, &ecsguard_core::Origin::Generated);
        }
        out.task_definitions.push(TaskDefinition {
            file: None,
            family: Some(family),
            revision: None,
            containers,
        });
    }
}

fn container_definitions(
    cfn: &Cfn<'_>,
    defs: &Node,
    file: &str,
    out: &mut Outcome,
) -> Option<Vec<ecsguard_core::Container>> {
    let files = [file.to_owned()];
    if let Kind::Seq(_) = &defs.kind {
        return Some(extract::containers(defs, &files, cfn));
    }
    if let Kind::Str(..) = &defs.kind {
        let node = embedded_json(defs, file, cfn.source, out)?;
        let mut containers = extract::containers(&node, &files, cfn);
        embedded_in(&mut containers, defs, file);
        return Some(containers);
    }
    match intrinsic(defs) {
        // A JSON string inside `!Sub`, in its string or its list form.
        Some(("Sub", arg)) => {
            let (text_node, vars) = match &arg.kind {
                Kind::Seq(items) => (items.first()?, items.get(1)),
                _ => (arg, None),
            };
            let node = embedded_json(text_node, file, cfn.source, out)?;
            let mut containers = extract::containers(&node, &files, &SubStrings(cfn, vars));
            embedded_in(&mut containers, text_node, file);
            Some(containers)
        }
        // `!If [cond, defs, defs]`: either may be deployed, so both are read.
        Some(("If", arg)) => {
            let branches = arg.as_seq().unwrap_or_default();
            let mut all = Vec::new();
            for branch in branches.iter().skip(1) {
                if matches!(intrinsic(branch), Some(("Ref", r)) if r.as_str() == Some("AWS::NoValue"))
                {
                    continue;
                }
                all.extend(container_definitions(cfn, branch, file, out).unwrap_or_default());
            }
            Some(all)
        }
        _ => {
            // Only a known intrinsic is named: an unknown tag is the author's text.
            let what = match intrinsic(defs) {
                Some((name, _)) if INTRINSICS.contains(&name) => format!("`{name}`"),
                Some(_) => "an unknown tag".to_owned(),
                None => "a value that is not a list".to_owned(),
            };
            out.errors.push(InputError::file(
                file,
                defs.pos.line,
                Some(defs.pos.column),
                format!("ContainerDefinitions is given as {what}, which ecsguard cannot read; its containers were not scanned"),
            ));
            None
        }
    }
}

fn folded_map(text_node: &Node, source: &str) -> Option<FoldedMap> {
    match &text_node.kind {
        Kind::Str(text, StrStyle::Folded) => Some(FoldedMap::new(source, text_node.pos, text)),
        _ => None,
    }
}

/// Marks values read from inside the JSON string `host` as embedded in it.
fn embedded_in(containers: &mut [ecsguard_core::Container], host: &Node, file: &str) {
    if let Some(host) = extract::file_span(&[file.to_owned()], host) {
        extract::set_origin(containers, &ecsguard_core::Origin::Embedded { host });
    }
}

/// Parses a JSON string holding container definitions, with positions moved into the file.
fn embedded_json(text_node: &Node, file: &str, source: &str, out: &mut Outcome) -> Option<Node> {
    let Some(text) = text_node.as_str() else {
        out.errors.push(InputError::file(
            file,
            text_node.pos.line,
            Some(text_node.pos.column),
            "ContainerDefinitions template is not a string; its containers were not scanned",
        ));
        return None;
    };
    let mut node = match json::parse(text) {
        Ok(Some(node)) => node,
        Ok(None) => return None,
        Err(e) => {
            let folded = folded_map(text_node, source);
            let at = embedded_pos(text_node, folded.as_ref(), e.pos);
            out.errors.push(InputError::file(
                file,
                at.line,
                Some(at.column),
                format!("ContainerDefinitions string: {}", e.message),
            ));
            return None;
        }
    };
    let folded = folded_map(text_node, source);
    node.relocate(&|p| embedded_pos(text_node, folded.as_ref(), p));
    Some(node)
}

/// Where a position inside an embedded JSON string lies in the file: exact for
/// a literal block, the string's own position otherwise.
fn embedded_pos(string: &Node, folded: Option<&FoldedMap>, inner: Pos) -> Pos {
    match &string.kind {
        Kind::Str(_, StrStyle::Folded) => folded.and_then(|f| f.pos(inner)).unwrap_or(string.pos),
        // saphyr places a block scalar at its first content line.
        Kind::Str(text, StrStyle::Block) => {
            // Leading blank lines are in the value but before that first line.
            let blank = text.bytes().take_while(|b| *b == b'\n').count();
            let blank = u32::try_from(blank).unwrap_or(0);
            Pos {
                line: (string.pos.line + inner.line)
                    .saturating_sub(1 + blank)
                    .max(string.pos.line),
                // The block's indentation is not part of the value.
                column: inner.column + string.pos.column.saturating_sub(1),
                file: string.pos.file,
            }
        }
        _ => string.pos,
    }
}

/// Positions inside a folded (`>`) block scalar, in the file. Folding only
/// changes whitespace (line breaks and indentation become spaces), so the
/// n-th non-blank character of the value is the n-th of the block's source.
/// Built once per scalar, so each lookup costs constant time.
struct FoldedMap {
    /// For each line of the value, the index of its first character.
    line_starts: Vec<usize>,
    /// For each character of the value, how many non-blank ones precede it.
    non_blank_before: Vec<u32>,
    /// The file position of each non-blank character of the block.
    positions: Vec<(u32, u32)>,
    file: u32,
}

impl FoldedMap {
    fn new(source: &str, start: Pos, value: &str) -> Self {
        let mut line_starts = vec![0];
        let mut non_blank_before = Vec::with_capacity(value.len());
        let mut count = 0u32;
        for (i, c) in value.chars().enumerate() {
            non_blank_before.push(count);
            if !c.is_whitespace() {
                count += 1;
            }
            if c == '\n' {
                line_starts.push(i + 1);
            }
        }
        non_blank_before.push(count);
        let mut positions = Vec::with_capacity(count as usize);
        let (mut line, mut column) = (1u32, 1u32);
        let mut started = false;
        for c in source.chars() {
            if positions.len() >= count as usize {
                break;
            }
            if !started && line == start.line && column == start.column {
                started = true;
            }
            if started && !c.is_whitespace() {
                positions.push((line, column));
            }
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        Self {
            line_starts,
            non_blank_before,
            positions,
            file: start.file,
        }
    }

    fn pos(&self, inner: Pos) -> Option<Pos> {
        let line_start = *self.line_starts.get(inner.line.checked_sub(1)? as usize)?;
        let at = line_start + inner.column.checked_sub(1)? as usize;
        let wanted = *self.non_blank_before.get(at)? as usize;
        let (line, column) = *self.positions.get(wanted)?;
        Some(Pos {
            line,
            column,
            file: self.file,
        })
    }
}

struct Cfn<'a> {
    source: &'a str,
    parameters: Option<&'a Node>,
    resources: Option<&'a Node>,
    mappings: Option<&'a Node>,
}

fn reference(expression: String, target: ReferenceTarget) -> EnvValue {
    EnvValue::Reference(Reference::new(expression, target))
}

/// A string built around an input marked secret (a `NoEcho` parameter) that
/// sits where a URL or DSN keeps its password: the whole string carries it.
fn password_from_input<'p>(
    text: &str,
    parts: impl Iterator<Item = (&'p EnvValue, &'p (usize, usize))>,
    function: &str,
) -> Option<EnvValue> {
    for (part, &(start, end)) in parts {
        if let EnvValue::Reference(Reference {
            expression,
            target: ReferenceTarget::Sensitive(why),
        }) = part
        {
            // Judged where the placeholder was put, not searched for: linear.
            if end > start && extract::password_slot_at(text, start, end) {
                let name = expression
                    .trim_start_matches("!Ref ")
                    .trim_start_matches("!GetAtt ");
                return Some(reference(
                    format!("{function} …${{{name}}}…"),
                    ReferenceTarget::Secret(format!("password in a URL or DSN, from a {why}")),
                ));
            }
        }
    }
    None
}

fn is_secret(v: &EnvValue) -> bool {
    matches!(
        v,
        EnvValue::Reference(Reference {
            target: ReferenceTarget::Secret(_),
            ..
        })
    )
}

/// CloudFormation's intrinsic functions and condition functions.
const INTRINSICS: &[&str] = &[
    "Ref",
    "Condition",
    "GetAtt",
    "Sub",
    "Join",
    "If",
    "FindInMap",
    "Base64",
    "ImportValue",
    "Select",
    "Split",
    "GetAZs",
    "Cidr",
    "Equals",
    "And",
    "Or",
    "Not",
    "Transform",
    "Length",
    "ToJsonString",
    "ForEach",
];

/// An intrinsic function call: `!Ref X`, `{"Ref": "X"}`, `!Sub …`, `{"Fn::Sub": …}`.
fn intrinsic(node: &Node) -> Option<(&str, &Node)> {
    match &node.kind {
        Kind::Tagged(tag, inner) => Some((tag.trim_start_matches('!'), inner.as_ref())),
        Kind::Map(entries) if entries.len() == 1 => {
            let (k, v) = &entries[0];
            if k.text == "Ref" || k.text == "Condition" {
                Some((k.text.as_str(), v))
            } else {
                k.text.strip_prefix("Fn::").map(|name| (name, v))
            }
        }
        _ => None,
    }
}

impl Cfn<'_> {
    fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.resources?
            .get_exact(logical_id)?
            .get_exact("Type")?
            .as_str()
    }

    fn reference_to(&self, name: &str) -> EnvValue {
        let expression = format!("!Ref {name}");
        if name.starts_with("AWS::") {
            return reference(expression, ReferenceTarget::Identifier);
        }
        if let Some(param) = self.parameters.and_then(|p| p.get_exact(name)) {
            // `AWS::SSM::Parameter::Value<…>`: the default names a parameter
            // whose value is read at deploy time.
            if param
                .get_exact("Type")
                .and_then(Node::as_str)
                .is_some_and(|t| t.starts_with("AWS::SSM::Parameter::Value"))
            {
                return reference(
                    expression,
                    ReferenceTarget::Sensitive("value of an SSM parameter".into()),
                );
            }
            // A default is a literal committed to the template.
            if let Some(default) = param.get_exact("Default").and_then(Node::scalar_text) {
                if !default.trim().is_empty() {
                    return EnvValue::Literal(SecretValue::new(default));
                }
            }
            let no_echo = param
                .get_exact("NoEcho")
                .and_then(Node::scalar_text)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            if no_echo {
                return reference(
                    expression,
                    ReferenceTarget::Sensitive("NoEcho parameter".into()),
                );
            }
            return reference(expression, ReferenceTarget::Unknown);
        }
        if self.resource_type(name).is_some() {
            // `Ref` of a resource gives its id, name or ARN.
            return reference(expression, ReferenceTarget::Identifier);
        }
        // Not declared: the template is invalid, and the text may be anything.
        reference("!Ref (undeclared)".into(), ReferenceTarget::Unknown)
    }

    fn get_att(&self, resource: &str, attribute: &str) -> EnvValue {
        let Some(ty) = self.resource_type(resource) else {
            // Not declared: the template is invalid, and the text may be anything.
            return reference("!GetAtt (undeclared)".into(), ReferenceTarget::Unknown);
        };
        let expression = format!("!GetAtt {resource}.{attribute}");
        if ty == "AWS::IAM::AccessKey" && attribute == "SecretAccessKey" {
            return reference(
                expression,
                ReferenceTarget::Secret("secret of an AWS::IAM::AccessKey".into()),
            );
        }
        let last = attribute.rsplit('.').next().unwrap_or(attribute);
        // Generated secrets: custom resources that return a random string or
        // password, and secret-valued attributes of any resource.
        let generated = [
            "RandomString",
            "Password",
            "SecretString",
            "SecretAccessKey",
            "SecretKey",
            "PrivateKey",
            "Token",
        ]
        .iter()
        .any(|s| last.ends_with(s))
            && !last.ends_with("Arn");
        if generated {
            return reference(
                expression,
                ReferenceTarget::Secret(format!("generated secret ({last})")),
            );
        }
        let identifier = [
            "Arn",
            "Name",
            "Id",
            "Address",
            "Port",
            "Url",
            "Endpoint",
            "DomainName",
        ]
        .iter()
        .any(|s| last.ends_with(s));
        let target =
            if identifier || (ty == "AWS::IAM::AccessKey" && attribute != "SecretAccessKey") {
                ReferenceTarget::Identifier
            } else {
                ReferenceTarget::Unknown
            };
        reference(expression, target)
    }

    fn get_att_node(&self, arg: &Node) -> EnvValue {
        let (resource, attribute) = match &arg.kind {
            Kind::Str(s, _) => match s.split_once('.') {
                Some((r, a)) => (r.to_owned(), a.to_owned()),
                None => (s.clone(), String::new()),
            },
            Kind::Seq(items) => (
                items
                    .first()
                    .and_then(Node::scalar_text)
                    .unwrap_or_default(),
                items.get(1).and_then(Node::scalar_text).unwrap_or_default(),
            ),
            _ => (String::new(), String::new()),
        };
        self.get_att(&resource, &attribute)
    }

    /// `Fn::Sub`: literal parts are kept, unknown parts stay `${…}` placeholders.
    fn sub(&self, template: &str, vars: Option<&Node>) -> EnvValue {
        let mut text = String::new();
        let mut rest = template;
        let mut parts: Vec<EnvValue> = Vec::new();
        // Where each part's text sits in `text` (empty for a literal).
        let mut placeholders: Vec<(usize, usize)> = Vec::new();
        let mut only_one_var = false;
        while let Some(start) = rest.find("${") {
            text.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                text.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let var = &after[..end];
            rest = &after[end + 1..];
            if let Some(literal) = var.strip_prefix('!') {
                text.push_str("${");
                text.push_str(literal);
                text.push('}');
                continue;
            }
            only_one_var = text.is_empty() && rest.is_empty() && parts.is_empty();
            let value = match vars.and_then(|m| m.get_exact(var)) {
                Some(node) => self
                    .value(node)
                    .unwrap_or_else(|| reference(format!("${{{var}}}"), ReferenceTarget::Unknown)),
                None => match var.split_once('.') {
                    Some((r, a)) => self.get_att(r, a),
                    None => self.reference_to(var),
                },
            };
            let start = text.len();
            match &value {
                EnvValue::Literal(v) => {
                    text.push_str(v.expose());
                    placeholders.push((start, start));
                }
                _ => {
                    text.push_str("${");
                    text.push_str(var);
                    text.push('}');
                    placeholders.push((start, text.len()));
                }
            }
            parts.push(value);
        }
        text.push_str(rest);
        if only_one_var && parts.len() == 1 {
            return parts.remove(0);
        }
        if let Some(EnvValue::Reference(secret)) = parts.iter().find(|p| is_secret(p)) {
            let expression = format!(
                "!Sub …${{{}}}…",
                secret
                    .expression
                    .trim_start_matches("!Ref ")
                    .trim_start_matches("!GetAtt ")
            );
            return reference(expression, secret.target.clone());
        }
        if let Some(v) = password_from_input(&text, parts.iter().zip(&placeholders), "!Sub") {
            return v;
        }
        // Built from an input marked secret: as marked as the input.
        if let Some(EnvValue::Reference(marked)) = parts.iter().find(|p| {
            matches!(p, EnvValue::Reference(r) if matches!(r.target, ReferenceTarget::Sensitive(_)))
        }) {
            let name = marked.expression.trim_start_matches("!Ref ");
            return reference(format!("!Sub …${{{name}}}…"), marked.target.clone());
        }
        if text.contains("{{resolve:") {
            return dynamic_reference(&text);
        }
        if parts.iter().all(|p| matches!(p, EnvValue::Literal(_))) {
            EnvValue::Literal(SecretValue::new(text))
        } else {
            EnvValue::Template(SecretValue::new(text))
        }
    }

    /// `Fn::Select [index, list]`: the item picked from a written list (any
    /// item when the index is known only at deploy time, the most secret
    /// one judged); a piece of a split input is as secret as the input.
    fn select(&self, arg: &Node) -> Option<EnvValue> {
        let [index, list] = arg.as_seq()? else {
            return None;
        };
        if let Some(items) = list.as_seq() {
            let picked = index
                .scalar_text()
                .and_then(|i| i.trim().parse::<usize>().ok())
                .and_then(|i| items.get(i));
            return match picked {
                Some(item) => self.value(item),
                None => items
                    .iter()
                    .filter_map(|n| self.value(n))
                    .reduce(extract::more_secret),
            };
        }
        // `!Split [sep, X]` (or anything else yielding a list): judged by
        // what it is made from.
        let source = match intrinsic(list) {
            Some(("Split", split)) => split.as_seq()?.get(1)?,
            _ => list,
        };
        match self.value(source)? {
            EnvValue::Reference(r)
                if matches!(
                    r.target,
                    ReferenceTarget::Sensitive(_) | ReferenceTarget::Secret(_)
                ) =>
            {
                let name = r
                    .expression
                    .trim_start_matches("!Ref ")
                    .trim_start_matches("!GetAtt ")
                    .to_owned();
                Some(reference(format!("!Select …${{{name}}}…"), r.target))
            }
            _ => Some(reference("!Select".into(), ReferenceTarget::Unknown)),
        }
    }

    fn join(&self, arg: &Node) -> Option<EnvValue> {
        let items = arg.as_seq()?;
        let sep = items.first()?.scalar_text().unwrap_or_default();
        // Plain strings are joined as they are, so a `{{resolve:…}}` built from parts is seen whole.
        let parts: Vec<EnvValue> = items
            .get(1)?
            .as_seq()?
            .iter()
            .filter_map(|p| match &p.kind {
                Kind::Str(s, _) => Some(EnvValue::Literal(SecretValue::new(s.as_str()))),
                _ => self.value(p),
            })
            .collect();
        if let Some(secret) = parts.iter().find(|p| is_secret(p)) {
            return Some(secret.clone());
        }
        let mut literal = true;
        let mut text = String::new();
        let mut placeholders: Vec<(usize, usize)> = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                text.push_str(&sep);
            }
            let start = text.len();
            match p {
                EnvValue::Literal(v) => text.push_str(v.expose()),
                EnvValue::Template(v) => {
                    literal = false;
                    text.push_str(v.expose());
                }
                EnvValue::Reference(r) => {
                    literal = false;
                    // Written as `!Sub` would write it (`${DbUser}`), so that
                    // a URL built from parts reads as one.
                    text.push_str("${");
                    text.push_str(
                        r.expression
                            .trim_start_matches("!Ref ")
                            .trim_start_matches("!GetAtt "),
                    );
                    text.push('}');
                }
            }
            placeholders.push((start, text.len()));
        }
        if let Some(v) = password_from_input(&text, parts.iter().zip(&placeholders), "!Join") {
            return Some(v);
        }
        // Built from an input marked secret: as marked as the input.
        if let Some(EnvValue::Reference(marked)) = parts.iter().find(|p| {
            matches!(p, EnvValue::Reference(r) if matches!(r.target, ReferenceTarget::Sensitive(_)))
        }) {
            let name = marked.expression.trim_start_matches("!Ref ");
            return Some(reference(
                format!("!Join …${{{name}}}…"),
                marked.target.clone(),
            ));
        }
        if text.contains("{{resolve:") {
            return Some(dynamic_reference(&text));
        }
        let text = SecretValue::new(text);
        Some(if literal {
            EnvValue::Literal(text)
        } else {
            EnvValue::Template(text)
        })
    }

    /// `Fn::FindInMap` over literal `Mappings`. A key that is only known at
    /// deploy time (`!Ref Stage`) may pick any entry: a secret one wins, then
    /// the first literal, since every value there is committed to the template.
    fn find_in_map(&self, arg: &Node) -> Option<EnvValue> {
        let keys = arg.as_seq()?;
        let [map, top, second] = keys else {
            return None;
        };
        // By reference: a mapping is never copied, however often it is used.
        fn pick<'m>(node: &'m Node, key: &Node) -> Vec<&'m Node> {
            match key.as_str() {
                Some(k) => node.get_exact(k).into_iter().collect(),
                None => node.entries().iter().map(|(_, v)| v).collect(),
            }
        }
        let maps = pick(self.mappings?, map);
        let tops: Vec<&Node> = maps.iter().flat_map(|m| pick(m, top)).collect();
        let candidates: Vec<EnvValue> = tops
            .iter()
            .flat_map(|t| pick(t, second))
            .filter_map(|n| self.value(n))
            .collect();
        if let Some(secret) = candidates.iter().find(|v| is_secret(v)) {
            return Some(secret.clone());
        }
        candidates
            .iter()
            .find(|v| matches!(v, EnvValue::Literal(l) if !l.is_empty()))
            .or(candidates.first())
            .cloned()
    }

    fn call(&self, name: &str, arg: &Node) -> Option<EnvValue> {
        Some(match name {
            "Ref" => self.reference_to(arg.as_str()?),
            "GetAtt" => self.get_att_node(arg),
            "Sub" => match &arg.kind {
                Kind::Str(s, _) => self.sub(s, None),
                Kind::Seq(items) => self.sub(items.first()?.as_str()?, items.get(1)),
                _ => return None,
            },
            "Join" => self.join(arg)?,
            "If" => {
                let items = arg.as_seq()?;
                let a = items.get(1).and_then(|n| self.value(n));
                let b = items.get(2).and_then(|n| self.value(n));
                // Either branch may be deployed: the one more likely secret is judged.
                match (a, b) {
                    (Some(a), Some(b)) => extract::more_secret(a, b),
                    (a, b) => a.or(b)?,
                }
            }
            "FindInMap" => self
                .find_in_map(arg)
                .unwrap_or_else(|| reference("!FindInMap".into(), ReferenceTarget::Unknown)),
            "Base64" => self.value(arg)?,
            "Select" => self.select(arg)?,
            known if INTRINSICS.contains(&known) => {
                reference(format!("!{known}"), ReferenceTarget::Unknown)
            }
            // Not an intrinsic: a YAML tag CloudFormation does not know. An
            // unquoted value that starts with `!` is read as a tag, so the
            // author most likely meant the text: it is judged as a literal,
            // and never shown.
            other => {
                let inner = arg.scalar_text().unwrap_or_default();
                let sep = if inner.is_empty() { "" } else { " " };
                EnvValue::Literal(SecretValue::new(format!("!{other}{sep}{inner}")))
            }
        })
    }
}

impl Resolve for Cfn<'_> {
    /// A name under a tag CloudFormation does not know is its text alone,
    /// never the tag (which may be anything the author typed).
    fn name(&self, node: &Node) -> Option<String> {
        match &node.kind {
            Kind::Tagged(tag, inner) if !INTRINSICS.contains(&tag.trim_start_matches('!')) => {
                inner.scalar_text()
            }
            _ => node.scalar_text(),
        }
    }

    fn entries<'n>(&self, node: &'n Node) -> Vec<&'n Node> {
        match intrinsic(node) {
            // `!If [cond, entry, entry-or-!Ref AWS::NoValue]`: both branches are possible.
            Some(("If", arg)) => arg
                .as_seq()
                .map(|items| {
                    items
                        .iter()
                        .skip(1)
                        .flat_map(|b| self.entries(b))
                        .filter(|b| b.is_map() && intrinsic(b).is_none())
                        .collect()
                })
                .unwrap_or_default(),
            _ => vec![node],
        }
    }

    fn value(&self, node: &Node) -> Option<EnvValue> {
        if let Some((name, arg)) = intrinsic(node) {
            return self.call(name, arg);
        }
        match &node.kind {
            Kind::Str(s, _) if s.contains("{{resolve:") => Some(dynamic_reference(s)),
            _ => extract::plain_value(node),
        }
    }
}

/// The JSON key a Secrets Manager dynamic reference takes, if any:
/// `NAME-or-ARN:SecretString:KEY[:stage:version]`.
fn secretsmanager_key(reference: &str) -> Option<&str> {
    let at = reference.find(":SecretString:")?;
    let key = reference[at + ":SecretString:".len()..].split(':').next()?;
    (!key.is_empty()).then_some(key)
}

/// A string that holds `{{resolve:…}}` dynamic references.
///
/// `{{resolve:secretsmanager:…}}` and `{{resolve:ssm-secure:…}}` put the
/// secret's plaintext into the task definition; `{{resolve:ssm:…}}` a plain
/// parameter. A reference's expression is built from names only: the service
/// and the parameter or secret it names, with any text around it shown as `…`
/// (that text is a literal, and may be a secret itself).
fn dynamic_reference(s: &str) -> EnvValue {
    let mut secret: Option<(String, &'static str, bool)> = None;
    let mut names = Vec::new();
    let mut template = String::new();
    let mut rest = s;
    let mut surrounded = false;
    while let Some(start) = rest.find("{{resolve:") {
        surrounded |= start > 0;
        template.push_str(&rest[..start]);
        let inner = &rest[start + "{{resolve:".len()..];
        let Some(end) = inner.find("}}") else {
            template.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let body = &inner[..end];
        rest = &inner[end + 2..];
        let service = body.split(':').next().unwrap_or_default();
        if !matches!(service, "ssm" | "ssm-secure" | "secretsmanager") {
            // Not a dynamic reference CloudFormation knows: shown as such, never quoted.
            template.push_str("${{{resolve:…}}}");
            names.push("{{resolve:…}}".to_owned());
            continue;
        }
        let name = body.get(service.len() + 1..).unwrap_or_default();
        // Names, keys, versions and stages only: shown whole, since a fix
        // must read the same version.
        let shown = format!("{{{{resolve:{service}:{name}}}}}");
        let why = match service {
            "secretsmanager" => Some("Secrets Manager dynamic reference, resolved into plaintext"),
            "ssm-secure" => Some("SecureString dynamic reference, resolved into plaintext"),
            _ => None,
        };
        // `secretsmanager:NAME:SecretString:KEY:…` takes one key of the
        // secret: it is judged by that key (and the variable's name).
        let key = (service == "secretsmanager")
            .then(|| secretsmanager_key(name))
            .flatten();
        let whole = key.is_none_or(|k| matches!(classify(k), NameClass::Secret(_)));
        if let (Some(why), None) = (why, &secret) {
            secret = Some((shown.clone(), why, whole));
        }
        template.push_str("${");
        template.push_str(&shown);
        template.push('}');
        names.push(shown);
    }
    surrounded |= !rest.is_empty();
    template.push_str(rest);
    if let Some((shown, why, whole)) = secret {
        let expression = if surrounded || names.len() > 1 {
            format!("…{shown}…")
        } else {
            shown
        };
        let target = if whole {
            ReferenceTarget::Secret(why.into())
        } else {
            ReferenceTarget::Sensitive(why.into())
        };
        return reference(expression, target);
    }
    if !surrounded && names.len() == 1 {
        return reference(names.remove(0), ReferenceTarget::Unknown);
    }
    // A plain parameter with literal text around it: the text is judged as a template.
    EnvValue::Template(SecretValue::new(template))
}

/// Values of a JSON string given to `Fn::Sub`: each string is itself a `Sub`
/// template, with the variable map of the list form when there is one.
struct SubStrings<'a>(&'a Cfn<'a>, Option<&'a Node>);

impl Resolve for SubStrings<'_> {
    fn entries<'n>(&self, node: &'n Node) -> Vec<&'n Node> {
        self.0.entries(node)
    }

    fn value(&self, node: &Node) -> Option<EnvValue> {
        match &node.kind {
            Kind::Str(s, _) if s.contains("${") => Some(self.0.sub(s, self.1)),
            _ => self.0.value(node),
        }
    }
}
