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
pub(super) fn secret_item(
    text: &str,
    item: &Node,
    value_from: &super::NewValue,
) -> Result<(String, usize), String> {
    let (start, end, dash) = item_lines(text, item)?;
    let (key, value) = super::value_entry(item)?;
    let (mut vs, ve) = (value.span.start as usize, value.span.end as usize);
    // A block mapping's span runs on to where the next line's text starts.
    let ve = vs.min(ve) + text.get(vs.min(ve)..ve).unwrap_or("").trim_end().len();
    // A tag (`!Ref`) belongs to the value it replaces.
    if let Kind::Tagged(..) = value.kind {
        if !text[vs..].starts_with('!') {
            vs = text[..vs].rfind('!').unwrap_or(vs);
        }
    }
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
    // An anchor (`&name`) or alias (`*name`) ties the value to other places.
    let between = &before[at + key.len()..];
    if between.contains(['&', '*']) || text[vs..ve].starts_with(['&', '*']) {
        return Err(
            "the value is a YAML anchor or alias used elsewhere: move the variable by hand".into(),
        );
    }
    let encoded = value_from.yaml();
    // A value on the lines below its key: the new one goes on the key's line.
    let colon = if between.contains('\n') {
        ": "
    } else {
        between
    };
    let mut out = format!(
        "{}{key}From{colon}{encoded}{}",
        &before[..at],
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

/// A resource ARN as CloudFormation YAML: account and region left open in a
/// preview become pseudo parameters in a `!Sub`.
fn cfn_resource(arn: &str) -> String {
    if arn.starts_with("!Ref ") {
        arn.to_owned()
    } else if arn.contains("REGION") || arn.contains("ACCOUNT") {
        let sub = arn
            .replacen("arn:aws:", "arn:${AWS::Partition}:", 1)
            .replacen(":REGION:", ":${AWS::Region}:", 1)
            .replacen(":ACCOUNT:", ":${AWS::AccountId}:", 1);
        format!("!Sub '{sub}'")
    } else {
        serde_json::to_string(arn).unwrap_or_default()
    }
}

/// The grant, written into a CloudFormation YAML template when the
/// execution role is a role of the same template (`!GetAtt Role.Arn`), or
/// missing (then a role is declared and set). `None` otherwise.
pub(super) fn grant(text: &str, docs: &[Node], need: &super::Need<'_>) -> Option<super::Grant> {
    use super::iam::ExecutionRole;
    let super::Need {
        container,
        role,
        resources,
        kms,
        family,
    } = *need;
    let root = docs.first()?;
    let (_, res) = root.get_entry("Resources")?;
    let Kind::Map(entries) = &res.kind else {
        return None;
    };
    let (td_key, td) = entries.iter().find(|(_, v)| {
        v.span.start <= container.0 && container.1 <= v.span.end && !v.span.is_empty()
    })?;
    let indent = " ".repeat(entries.first()?.0.pos.column.saturating_sub(1) as usize);
    let unit = indent.clone();
    if unit.is_empty() {
        return None;
    }
    let logical = |suffix: &str| format!("{}{suffix}", td_key.text);
    let declared = |id: &str| entries.iter().any(|(k, _)| k.text == id);
    let is_role = |id: &str| {
        entries.iter().any(|(k, v)| {
            k.text == id && v.get("Type").and_then(Node::as_str) == Some("AWS::IAM::Role")
        })
    };
    let mut edits = Vec::new();
    let mut added = String::new();
    let (role_id, what) = match role {
        ExecutionRole::Set(expr) => {
            let id = expr
                .strip_prefix("!GetAtt ")
                .and_then(|r| r.trim().strip_suffix(".Arn"))?;
            if !is_role(id) {
                return None;
            }
            (id.to_owned(), String::new())
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
            let (first_key, _) = props.entries().first()?;
            let prop_indent = " ".repeat(first_key.pos.column.saturating_sub(1) as usize);
            match props.get_entry("ExecutionRoleArn") {
                // Written as none (`''`, `!Ref AWS::NoValue`): its value is replaced.
                Some((_, v)) if !v.span.is_empty() => {
                    let mut start = v.span.start as usize;
                    // A tag belongs to the value: back to the `!`.
                    if let Kind::Tagged(..) = v.kind {
                        if let Some(bang) = text[..start].rfind('!') {
                            start = bang;
                        }
                    }
                    edits.push(Edit {
                        start,
                        end: v.span.end as usize,
                        text: format!("!GetAtt {id}.Arn"),
                    });
                }
                Some(_) => return None,
                None => {
                    // `ExecutionRoleArn` first among the properties.
                    let at = text[..props.span.start as usize]
                        .rfind('\n')
                        .map_or(0, |i| i + 1);
                    edits.push(Edit {
                        start: at,
                        end: at,
                        text: format!("{prop_indent}ExecutionRoleArn: !GetAtt {id}.Arn\n"),
                    });
                }
            }
            added.push_str(&format!(
                "{indent}{id}:\n{indent}{unit}Type: AWS::IAM::Role\n{indent}{unit}Properties:\n{indent}{unit}{unit}AssumeRolePolicyDocument:\n{indent}{unit}{unit}{unit}Version: '2012-10-17'\n{indent}{unit}{unit}{unit}Statement:\n{indent}{unit}{unit}{unit}{unit}- Effect: Allow\n{indent}{unit}{unit}{unit}{unit}  Principal:\n{indent}{unit}{unit}{unit}{unit}    Service: ecs-tasks.amazonaws.com\n{indent}{unit}{unit}{unit}{unit}  Action: sts:AssumeRole\n{indent}{unit}{unit}ManagedPolicyArns:\n{indent}{unit}{unit}{unit}- !Sub 'arn:${{AWS::Partition}}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy'\n"
            ));
            (
                id.clone(),
                format!("declared role {id} (with AmazonECSTaskExecutionRolePolicy), set it as the execution role, and "),
            )
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
    // A new role must also read the secrets the containers had already.
    let mut resources: Vec<String> = resources.to_vec();
    if matches!(role, ExecutionRole::Missing) {
        fn walk(n: &Node, out: &mut Vec<String>) {
            match &n.kind {
                Kind::Map(entries) => {
                    for (k, v) in entries {
                        if k.text == "ValueFrom" {
                            if let Some(s) = v.as_str() {
                                if !s.is_empty() {
                                    out.push(super::resource_of(s));
                                }
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
    let mut statements = String::new();
    let i5 = format!("{indent}{unit}{unit}{unit}{unit}");
    for (action, list) in [
        ("ssm:GetParameters", ssm),
        ("secretsmanager:GetSecretValue", sm),
    ] {
        if list.is_empty() {
            continue;
        }
        statements.push_str(&format!(
            "{i5}- Effect: Allow\n{i5}  Action: {action}\n{i5}  Resource:\n"
        ));
        for r in list {
            statements.push_str(&format!("{i5}    - {}\n", cfn_resource(r)));
        }
    }
    if let Some(key) = kms {
        let (resource, alias) = ecsguard_core::plan::kms_grant(key);
        statements.push_str(&format!(
            "{i5}- Effect: Allow\n{i5}  Action: kms:Decrypt\n{i5}  Resource:\n{i5}    - {}\n",
            cfn_resource(&resource)
        ));
        if let Some(alias) = alias {
            statements.push_str(&format!(
                "{i5}  Condition:\n{i5}    ForAnyValue:StringEquals:\n{i5}      kms:ResourceAliases: {}\n",
                serde_json::to_string(&alias).unwrap_or_default()
            ));
        }
    }
    let suffix = policy_id
        .strip_prefix(&logical("SecretsPolicy"))
        .map(|n| {
            if n.is_empty() {
                String::new()
            } else {
                format!("-{n}")
            }
        })
        .unwrap_or_default();
    let name =
        serde_json::to_string(&format!("ecsguard-secrets-{family}{suffix}")).unwrap_or_default();
    added.push_str(&format!(
        "{indent}{policy_id}:\n{indent}{unit}Type: AWS::IAM::Policy\n{indent}{unit}Properties:\n{indent}{unit}{unit}PolicyName: {name}\n{indent}{unit}{unit}Roles:\n{indent}{unit}{unit}{unit}- !Ref {role_id}\n{indent}{unit}{unit}PolicyDocument:\n{indent}{unit}{unit}{unit}Version: '2012-10-17'\n{indent}{unit}{unit}{unit}Statement:\n{statements}"
    ));
    // After the last resource's last line.
    let (_, last) = entries.last()?;
    let end = last.span.end as usize;
    let content_end = text[..end].trim_end().len();
    let at = text[content_end..]
        .find('\n')
        .map_or(text.len(), |i| content_end + i + 1);
    let lead = if at == text.len() && !text.ends_with('\n') {
        "\n"
    } else {
        ""
    };
    edits.push(Edit {
        start: at,
        end: at,
        text: format!("{lead}{added}"),
    });
    Some(super::Grant {
        edits,
        realign: Vec::new(),
        what: format!("{what}granted {role_id} the values in {policy_id} (AWS::IAM::Policy)"),
    })
}
