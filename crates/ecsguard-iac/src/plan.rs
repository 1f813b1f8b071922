//! Terraform plan JSON (`terraform show -json plan.out`).
//!
//! Each `aws_ecs_task_definition` is read once: from `resource_changes` when
//! the plan has them, from `planned_values` otherwise (a state file shown as JSON).

use ecsguard_core::{InputError, TaskDefinition};

use crate::extract;
use crate::source::Outcome;
use crate::tree::{Kind, Node};

const RESOURCE_TYPE: &str = "aws_ecs_task_definition";

pub fn is_plan(root: &Node) -> bool {
    root.get_exact("format_version").is_some()
        && (root.get_exact("resource_changes").is_some()
            || root.get_exact("planned_values").is_some()
            || root.get_exact("values").is_some())
}

pub fn scan(root: &Node, file: &str, out: &mut Outcome) {
    if let Some(changes) = root.get_exact("resource_changes").and_then(Node::as_seq) {
        for rc in changes {
            if rc.get_exact("type").and_then(Node::as_str) != Some(RESOURCE_TYPE) {
                continue;
            }
            let address = rc
                .get_exact("address")
                .and_then(Node::as_str)
                .unwrap_or(RESOURCE_TYPE);
            // `after` is null for a resource being destroyed: nothing will hold the values.
            if let Some(after) = rc
                .get_exact("change")
                .and_then(|c| c.get_exact("after"))
                .filter(|a| a.is_map())
            {
                resource(after, address, file, out);
            }
        }
        return;
    }
    let values = root
        .get_exact("planned_values")
        .or_else(|| root.get_exact("values"));
    if let Some(module) = values.and_then(|v| v.get_exact("root_module")) {
        walk_module(module, file, out);
    }
}

fn walk_module(module: &Node, file: &str, out: &mut Outcome) {
    for r in module
        .get_exact("resources")
        .and_then(Node::as_seq)
        .unwrap_or_default()
    {
        if r.get_exact("type").and_then(Node::as_str) == Some(RESOURCE_TYPE) {
            let address = r
                .get_exact("address")
                .and_then(Node::as_str)
                .unwrap_or(RESOURCE_TYPE);
            if let Some(values) = r.get_exact("values").filter(|v| v.is_map()) {
                resource(values, address, file, out);
            }
        }
    }
    for child in module
        .get_exact("child_modules")
        .and_then(Node::as_seq)
        .unwrap_or_default()
    {
        walk_module(child, file, out);
    }
}

fn resource(values: &Node, address: &str, file: &str, out: &mut Outcome) {
    let Some(defs) = values.get_exact("container_definitions") else {
        // Known only after apply (`after_unknown`): nothing to read yet.
        out.notes.push(InputError::file(
            file,
            values.pos.line,
            Some(values.pos.column),
            format!("{address}: container_definitions is known only after apply; it was not scanned (scan the .tf that sets it)"),
        ));
        return;
    };
    // A JSON string; its lines are not the file's, so every variable points at it.
    let Kind::Str(text, _) = &defs.kind else {
        return;
    };
    let Some(mut containers) = extract::containers_in_string(defs, text, file, address, out) else {
        return;
    };
    // A plan is generated: the fix belongs in the `.tf` that produced it.
    extract::set_origin(&mut containers, &ecsguard_core::Origin::Generated);
    let family = values
        .get_exact("family")
        .and_then(Node::as_str)
        .map_or_else(|| address.to_owned(), str::to_owned);
    out.task_definitions.push(TaskDefinition {
        file: None,
        family: Some(family),
        revision: values
            .get_exact("revision")
            .and_then(Node::scalar_text)
            .and_then(|r| r.parse().ok()),
        containers,
    });
}
