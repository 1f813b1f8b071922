//! The grant, written into a CloudFormation JSON template: when the
//! execution role is a role of the same template (`Fn::GetAtt`), an
//! `AWS::IAM::Policy` for it; when the task definition has none, a role is
//! declared and set too. Written in the template's own indentation.

use super::iam::ExecutionRole;
use super::{Edit, Grant, Need};
use crate::tree::{Kind, Node};

/// A resource of the policy as JSON: an ARN still holding `REGION` and
/// `ACCOUNT` becomes an `Fn::Sub`; a declared secret (`!Ref X`) a `Ref`.
fn resource_json(r: &str) -> String {
    if let Some(id) = r.strip_prefix("!Ref ") {
        return format!("{{\"Ref\": {}}}", quote(id));
    }
    if r.contains("REGION") || r.contains("ACCOUNT") {
        let sub = r
            .replacen("arn:aws:", "arn:${AWS::Partition}:", 1)
            .replacen(":REGION:", ":${AWS::Region}:", 1)
            .replacen(":ACCOUNT:", ":${AWS::AccountId}:", 1);
        return format!("{{\"Fn::Sub\": {}}}", quote(&sub));
    }
    quote(r)
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The logical id of `{"Fn::GetAtt": ["Id", "Arn"]}` (or `"Id.Arn"`).
fn role_of(expr: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(expr).ok()?;
    let att = v.get("Fn::GetAtt")?;
    match att {
        serde_json::Value::Array(a) if a.len() == 2 && a[1] == "Arn" => {
            a[0].as_str().map(str::to_owned)
        }
        serde_json::Value::String(s) => s.strip_suffix(".Arn").map(str::to_owned),
        _ => None,
    }
}

/// The leading whitespace of a (1-based) line.
fn lead(text: &str, line: u32) -> String {
    let l = text
        .lines()
        .nth(line.saturating_sub(1) as usize)
        .unwrap_or("");
    l[..l.len() - l.trim_start().len()].to_owned()
}

pub(super) fn grant(text: &str, root: &Node, need: &Need<'_>) -> Option<Grant> {
    let Need {
        container,
        role,
        resources,
        kms,
        family,
    } = *need;
    let (_, res) = root.get_entry("Resources")?;
    let entries = res.entries();
    let (td_key, td) = entries.iter().find(|(_, v)| {
        !v.span.is_empty() && v.span.start <= container.0 && container.1 <= v.span.end
    })?;
    let (first_key, _) = entries.first()?;
    let (_, last) = entries.last()?;
    let indent = lead(text, first_key.pos.line);
    let outer = lead(
        text,
        text[..res.span.start as usize].matches('\n').count() as u32 + 1,
    );
    let unit = indent
        .strip_prefix(outer.as_str())
        .filter(|u| !u.is_empty())
        .unwrap_or("  ")
        .to_owned();
    let i = |n: usize| format!("{indent}{}", unit.repeat(n));
    let declared = |id: &str| entries.iter().any(|(k, _)| k.text == id);
    let logical = |suffix: &str| format!("{}{suffix}", td_key.text);
    let mut edits = Vec::new();
    let mut added = String::new();
    let mut what = String::new();
    let role_id = match role {
        ExecutionRole::Set(expr) => {
            let id = role_of(expr)?;
            let is_role = entries.iter().any(|(k, v)| {
                k.text == id && v.get("Type").and_then(Node::as_str) == Some("AWS::IAM::Role")
            });
            if !is_role {
                return None;
            }
            id
        }
        ExecutionRole::Missing => {
            // An id taken by another resource gets a number, as the
            // policy's does.
            let mut id = logical("ExecutionRole");
            let mut n = 2;
            while declared(&id) {
                id = logical(&format!("ExecutionRole{n}"));
                n += 1;
            }
            let props = td.get("Properties")?;
            let (first_prop, _) = props.entries().first()?;
            let set = format!("{{\"Fn::GetAtt\": [{}, \"Arn\"]}}", quote(&id));
            match props.get_entry("ExecutionRoleArn") {
                // Written as none (`""`, `{"Ref": "AWS::NoValue"}`): replaced.
                Some((_, v)) if !v.span.is_empty() => edits.push(Edit {
                    start: v.span.start as usize,
                    end: v.span.end as usize,
                    text: set,
                }),
                Some(_) => return None,
                None => {
                    // First among the properties, on a line of its own.
                    let open = props.span.start as usize;
                    if !text[open..].starts_with('{') {
                        return None;
                    }
                    let pi = lead(text, first_prop.pos.line);
                    edits.push(Edit {
                        start: open + 1,
                        end: open + 1,
                        text: format!("\n{pi}\"ExecutionRoleArn\": {set},"),
                    });
                }
            }
            added.push_str(&format!(
                ",\n{i0}{id}: {{\n{i1}\"Type\": \"AWS::IAM::Role\",\n{i1}\"Properties\": {{\n{i2}\"AssumeRolePolicyDocument\": {{\n{i3}\"Version\": \"2012-10-17\",\n{i3}\"Statement\": [\n{i4}{{\"Effect\": \"Allow\", \"Principal\": {{\"Service\": \"ecs-tasks.amazonaws.com\"}}, \"Action\": \"sts:AssumeRole\"}}\n{i3}]\n{i2}}},\n{i2}\"ManagedPolicyArns\": [\n{i3}{{\"Fn::Sub\": \"arn:${{AWS::Partition}}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy\"}}\n{i2}]\n{i1}}}\n{i0}}}",
                i0 = i(0),
                i1 = i(1),
                i2 = i(2),
                i3 = i(3),
                i4 = i(4),
                id = quote(&id),
            ));
            what = format!(
                "declared role {id} (with AmazonECSTaskExecutionRolePolicy), set it as the execution role, and "
            );
            id
        }
        ExecutionRole::Unknown => return None,
    };
    // A later fix of the same task definition adds a policy of its own.
    let mut policy_id = logical("SecretsPolicy");
    let mut n = 2;
    while declared(&policy_id) {
        policy_id = logical(&format!("SecretsPolicy{n}"));
        n += 1;
    }
    let suffix = policy_id
        .strip_prefix(&logical("SecretsPolicy"))
        .filter(|n| !n.is_empty())
        .map(|n| format!("-{n}"))
        .unwrap_or_default();
    // A new role must also read the secrets the containers had already.
    let mut resources: Vec<String> = resources.to_vec();
    if matches!(role, ExecutionRole::Missing) {
        fn walk(n: &Node, out: &mut Vec<String>) {
            match &n.kind {
                Kind::Map(entries) => {
                    for (k, v) in entries {
                        if k.text == "ValueFrom" {
                            if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
                                out.push(super::resource_of(s));
                            }
                        }
                        walk(v, out);
                    }
                }
                Kind::Seq(items) => items.iter().for_each(|i| walk(i, out)),
                Kind::Tagged(_, inner) => walk(inner, out),
                _ => {}
            }
        }
        walk(td, &mut resources);
        resources.sort();
        resources.dedup();
    }
    let is_ssm =
        |r: &&String| ecsguard_core::plan::store_of(r) == ecsguard_core::plan::StoreKind::Ssm;
    let ssm: Vec<&String> = resources.iter().filter(is_ssm).collect();
    let sm: Vec<&String> = resources.iter().filter(|r| !is_ssm(r)).collect();
    let mut statements: Vec<String> = Vec::new();
    for (action, list) in [
        ("ssm:GetParameters", ssm),
        ("secretsmanager:GetSecretValue", sm),
    ] {
        if list.is_empty() {
            continue;
        }
        let items: Vec<String> = list.iter().map(|r| resource_json(r)).collect();
        statements.push(format!(
            "{{\"Effect\": \"Allow\", \"Action\": \"{action}\", \"Resource\": [{}]}}",
            items.join(", ")
        ));
    }
    if let Some(key) = kms {
        let (resource, alias) = ecsguard_core::plan::kms_grant(key);
        let condition = alias
            .map(|a| {
                format!(
                    ", \"Condition\": {{\"ForAnyValue:StringEquals\": {{\"kms:ResourceAliases\": {}}}}}",
                    quote(&a)
                )
            })
            .unwrap_or_default();
        statements.push(format!(
            "{{\"Effect\": \"Allow\", \"Action\": \"kms:Decrypt\", \"Resource\": [{}]{condition}}}",
            resource_json(&resource)
        ));
    }
    let statements = statements
        .iter()
        .map(|s| format!("{}{s}", i(4)))
        .collect::<Vec<_>>()
        .join(",\n");
    added.push_str(&format!(
        ",\n{i0}{pid}: {{\n{i1}\"Type\": \"AWS::IAM::Policy\",\n{i1}\"Properties\": {{\n{i2}\"PolicyName\": {name},\n{i2}\"Roles\": [{{\"Ref\": {role}}}],\n{i2}\"PolicyDocument\": {{\n{i3}\"Version\": \"2012-10-17\",\n{i3}\"Statement\": [\n{statements}\n{i3}]\n{i2}}}\n{i1}}}\n{i0}}}",
        i0 = i(0),
        i1 = i(1),
        i2 = i(2),
        i3 = i(3),
        pid = quote(&policy_id),
        name = quote(&format!("ecsguard-secrets-{family}{suffix}")),
        role = quote(&role_id),
    ));
    let at = last.span.end as usize;
    edits.push(Edit {
        start: at,
        end: at,
        text: added,
    });
    Some(Grant {
        edits,
        realign: Vec::new(),
        what: format!("{what}granted {role_id} the values in {policy_id} (AWS::IAM::Policy)"),
    })
}
