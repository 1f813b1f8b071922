//! What a fix plan's diff may show of a file: its structure, never its
//! values.
//!
//! Default deny. A value is shown when the fix invented it (it is nowhere in
//! the file: a store name, a new logical id, the grant), when it is syntax
//! (a tag, a reference with a known root, a small number, a type), or when
//! it is the name right after a key that holds names (`Name: DB_PASSWORD`).
//! Everything else, context lines included, is `…`: a diff's lines hold
//! whatever the file has besides the values moved (a neighbour's password,
//! a comment, a command). Lines inside a YAML block scalar, a string or a
//! flow collection that runs on over lines are masked whole.

use std::collections::HashSet;
use std::sync::OnceLock;

use regex::Regex;

/// Keys whose value (the token right after them) is a name or a setting.
const NAME_KEYS: &[&str] = &[
    "name",
    "family",
    "type",
    "cpu",
    "memory",
    "essential",
    "networkmode",
    "network_mode",
    "containername",
    "container_name",
    "containerport",
    "container_port",
    "protocol",
    "valuefrom",
    "executionrolearn",
    "execution_role_arn",
    "taskrolearn",
    "task_role_arn",
    "launchtype",
    "launch_type",
    "effect",
    "ref",
    "condition",
];

/// Syntax words, shown unquoted.
const KEYWORDS: &[&str] = &[
    "true",
    "false",
    "null",
    "resource",
    "data",
    "variable",
    "locals",
    "module",
    "output",
    "provider",
    "terraform",
    "dynamic",
    "content",
    "for",
    "in",
    "if",
];

/// CloudFormation's short-form tags.
const TAGS: &[&str] = &[
    "!Ref",
    "!GetAtt",
    "!Sub",
    "!Join",
    "!If",
    "!Select",
    "!Split",
    "!FindInMap",
    "!Base64",
    "!Cidr",
    "!GetAZs",
    "!ImportValue",
    "!Equals",
    "!And",
    "!Or",
    "!Not",
    "!Condition",
    "!Transform",
];

/// Constants of the grant the fix writes, which a file may also hold.
const CONSTANTS: &[&str] = &[
    "2012-10-17",
    "Allow",
    "Deny",
    "sts:AssumeRole",
    "ssm:GetParameters",
    "secretsmanager:GetSecretValue",
    "kms:Decrypt",
    "ecs-tasks.amazonaws.com",
    "SecureString",
    "Arn",
];

fn re(cell: &'static OnceLock<Option<Regex>>, pattern: &str) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(pattern).ok()).as_ref()
}

fn tokenizer() -> Option<&'static Regex> {
    static T: OnceLock<Option<Regex>> = OnceLock::new();
    re(
        &T,
        concat!(
            r#"<redacted(?: #[0-9]+)?>"#,
            r#"|"(?:[^"\\]|\\.)*"?|'(?:[^']|'')*'?"#,
            r#"|(?:#|//).*"#,
            r#"|<<-?[A-Za-z_]+|[^\s"',\[\]{}()=:#][^\s"',\[\]{}()=]*"#,
            r#"|[\s\S]"#,
        ),
    )
}

fn is_match(cell: &'static OnceLock<Option<Regex>>, pattern: &str, v: &str) -> bool {
    re(cell, pattern).is_some_and(|r| r.is_match(v))
}

/// An identifier: what a key, a logical id or a name looks like.
fn ident(v: &str) -> bool {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    is_match(&R, r"^[A-Za-z_][A-Za-z0-9_.:-]*$", v)
}

/// A reference with a known root: `var.x`, `local.x`, `data.t.n.a`,
/// `module.m.o`, `aws_ssm_parameter.x.arn`.
fn reference(v: &str) -> bool {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    is_match(
        &R,
        r"^(?:var|local|data|module|aws_[a-z0-9_]+)(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[[0-9]+\])+$",
        v,
    )
}

/// The values a file holds: a value of the diff found in it is the file's,
/// and masked. Its tokens, read line by line (so that no stray quote runs
/// over lines), and its words (split at spaces, quotes and punctuation), so
/// that a value read another way is found too: a token of the diff holding
/// one of them (six characters or more) is the file's.
pub struct FileValues {
    tokens: HashSet<String>,
}

impl FileValues {
    /// Whether the fix invented `v`: it is nowhere in the file.
    fn invented(&self, v: &str) -> bool {
        !v.is_empty()
            && !self.tokens.contains(v)
            && v.split(is_break)
                .filter(|w| w.chars().count() >= 6)
                .all(|w| !self.tokens.contains(w))
    }
}

/// Where a file's words break.
fn is_break(c: char) -> bool {
    c.is_whitespace() || "\"'`,;(){}[]=:<>|#".contains(c)
}

/// Reads a file's values (see [`FileValues`]).
pub fn file_tokens(text: &str) -> FileValues {
    let mut tokens = HashSet::new();
    if let Some(t) = tokenizer() {
        for line in text.lines() {
            for m in t.find_iter(line) {
                let v = m.as_str().trim_matches(|c| c == '"' || c == '\'');
                if !v.trim().is_empty() {
                    tokens.insert(v.to_owned());
                }
            }
            tokens.extend(
                line.split(is_break)
                    .filter(|w| w.len() >= 2)
                    .map(str::to_owned),
            );
        }
    }
    FileValues { tokens }
}

/// A text's lines, masked. `file` holds the values of the file the text
/// comes from ([`file_tokens`]); `yaml` says the text is YAML, where block
/// scalars, strings and flow collections run on over lines (in JSON and
/// Terraform, braces and brackets span lines as structure).
pub fn mask_text(text: &str, file: &FileValues, yaml: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut block: Option<usize> = None;
    let mut open: Option<char> = None;
    let mut depth: i32 = 0;
    let mut heredoc: Option<(String, Option<bool>)> = None;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let indent = body.len() - body.trim_start().len();
        let whole = |out: &mut String| {
            out.push_str(&body[..indent]);
            if !body.trim().is_empty() {
                out.push('…');
            }
            out.push_str(&line[body.len()..]);
        };
        if let Some(at) = block {
            if body.trim().is_empty() || indent > at {
                whole(&mut out);
                continue;
            }
            block = None;
        }
        if !yaml {
            // A heredoc's body: JSON keeps its keys; any other text (a
            // script, a policy in another syntax) is masked whole.
            if let Some((word, json)) = &mut heredoc {
                if body.trim() == word.as_str() {
                    heredoc = None;
                    out.push_str(&mask_line(line, file));
                } else {
                    if json.is_none() && !body.trim().is_empty() {
                        static R: OnceLock<Option<Regex>> = OnceLock::new();
                        *json = Some(is_match(
                            &R,
                            r#"^\s*(?:\{\s*(?:"|\}|$)|\[\s*(?:\{|"|\[|\]|$))"#,
                            body,
                        ));
                    }
                    if *json == Some(true) {
                        out.push_str(&mask_line(line, file));
                    } else {
                        whole(&mut out);
                    }
                }
                continue;
            }
            out.push_str(&mask_line(line, file));
            heredoc = opens_heredoc(body).map(|w| (w, None));
            continue;
        }
        let continued = open.is_some() || depth > 0;
        let (still_open, change) = scan(body, open);
        open = still_open;
        depth = (depth + change).max(0);
        if continued {
            whole(&mut out);
            continue;
        }
        out.push_str(&mask_line(line, file));
        if opens_block(body) {
            block = Some(indent);
        }
    }
    out
}

/// Reads a line's quotes and brackets from `open`: the quote left open at
/// its end, and how many brackets it opens (closes, negative).
fn scan(line: &str, mut open: Option<char>) -> (Option<char>, i32) {
    let mut depth = 0;
    let mut chars = line.chars().peekable();
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        match open {
            Some('"') if c == '\\' => {
                chars.next();
            }
            Some('\'') if c == '\'' && chars.peek() == Some(&'\'') => {
                chars.next();
            }
            Some(q) if c == q => open = None,
            Some(_) => {}
            None => match c {
                '"' => open = Some('"'),
                '\'' if !prev.is_alphanumeric() => open = Some('\''),
                '#' if prev.is_whitespace() => break,
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                _ => {}
            },
        }
        prev = c;
    }
    (open, depth)
}

/// The closing word of a heredoc a line opens (`<<EOT`, `<<-EOF`).
fn opens_heredoc(line: &str) -> Option<String> {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    re(&R, r"<<-?([A-Za-z_][A-Za-z0-9_]*)\s*$")
        .and_then(|r| r.captures(line.trim_end()))
        .map(|c| c[1].to_owned())
}

/// Whether a line opens a YAML block scalar (`key: |`, `- >-`, `key: |2 #`).
fn opens_block(line: &str) -> bool {
    static R: OnceLock<Option<Regex>> = OnceLock::new();
    let code = match line.find(" #") {
        Some(at) => &line[..at],
        None => line,
    };
    is_match(
        &R,
        r"(?:^\s*-|:)\s+(?:&\S+\s+)?(?:!\S*\s+)?[|>][0-9+-]{0,2}\s*$",
        code.trim_end(),
    )
}

/// One line, masked (see the module's rules).
pub fn mask_line(line: &str, file: &FileValues) -> String {
    let Some(t) = tokenizer() else {
        return "…\n".to_owned();
    };
    let (body, end) = match line.strip_suffix('\n') {
        Some(b) => (b, "\n"),
        None => (line, ""),
    };
    let tokens: Vec<&str> = t.find_iter(body).map(|m| m.as_str()).collect();
    let blank = |i: usize| tokens.get(i).is_none_or(|t| t.trim().is_empty());
    let sig: Vec<usize> = (0..tokens.len()).filter(|&i| !blank(i)).collect();
    let sig_at = |k: usize| sig.get(k).map_or("", |&j| tokens[j]);
    let prev_sig = |i: usize| {
        sig.iter()
            .rev()
            .find(|&&j| j < i)
            .map_or("", |&j| tokens[j])
    };
    let next_sig = |i: usize| sig.iter().find(|&&j| j > i).map_or("", |&j| tokens[j]);
    let label = |t: &str| t.len() >= 2 && t.starts_with('"') && t.ends_with('"');
    // `resource "aws_ecs_task_definition" "api" {`: labels before the brace.
    let mut labels = Vec::new();
    if [
        "resource", "data", "variable", "module", "output", "provider",
    ]
    .contains(&sig_at(0))
    {
        if label(sig_at(1)) && sig_at(2) == "{" {
            labels.push(sig[1]);
        } else if label(sig_at(1)) && label(sig_at(2)) && sig_at(3) == "{" {
            labels.extend([sig[1], sig[2]]);
        }
    }
    let terminator = sig.len() == 1
        && [
            "EOF",
            "EOT",
            "EOH",
            "END",
            "JSON",
            "YAML",
            "POLICY",
            "TEMPLATE",
            "DEFINITION",
        ]
        .contains(&sig_at(0));
    let mut out = String::with_capacity(body.len());
    // The token right after a name key's separator is a name (an image's,
    // when the key is `image`: a repository and a tag, no credentials).
    let mut name_next = false;
    let mut image_next = false;
    let mut tag_next = false;
    for (i, tok) in tokens.iter().enumerate() {
        let tok = *tok;
        if blank(i) {
            out.push_str(tok);
            continue;
        }
        if tok.len() == 1 && "[]{}(),=:-|>".contains(tok) {
            out.push_str(tok);
            if tok != ":" && tok != "=" {
                name_next = false;
                image_next = false;
            }
            tag_next = false;
            continue;
        }
        if tok.starts_with('#') || tok.starts_with("//") {
            out.push_str(if tok.starts_with('#') {
                "# …"
            } else {
                "// …"
            });
            continue;
        }
        let quoted = tok.starts_with('"') || tok.starts_with('\'');
        let inner = tok.trim_matches(|c| c == '"' || c == '\'');
        // A key: at a key's place, a name's shape, then `: ` (YAML, JSON)
        // or ` = ` (HCL).
        let at_key_place = matches!(prev_sig(i), "" | "{" | "[" | "," | "-");
        let bare = tok.trim_end_matches(':');
        let yaml = !quoted && tok.ends_with(':') && tok.len() > 1 && blank(i + 1);
        let json = quoted && label(tok) && next_sig(i) == ":" && tokens.get(i + 1) == Some(&":");
        let hcl = !quoted && {
            let eq = sig.iter().find(|&&j| j > i).copied();
            eq.is_some_and(|j| {
                tokens[j] == "=" && j > i + 1 && blank(j + 1) && tokens.get(j + 1).is_some()
            })
        };
        let key_name = if quoted { inner } else { bare };
        if at_key_place && ident(key_name) && (yaml || json || hcl) {
            out.push_str(tok);
            name_next = NAME_KEYS.contains(&key_name.to_ascii_lowercase().as_str());
            image_next = key_name.eq_ignore_ascii_case("image");
            tag_next = false;
            continue;
        }
        let invented = file.invented(inner);
        let mark = tok == "<redacted>"
            || tok
                .strip_prefix("<redacted #")
                .and_then(|r| r.strip_suffix('>'))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let safe = mark
            || inner.is_empty()
            || invented
            || (inner.len() <= 5 && inner.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
            || (!quoted && KEYWORDS.contains(&inner))
            || (!quoted && TAGS.contains(&inner))
            || (!quoted && tag_next && ident(inner))
            || (!quoted && reference(inner))
            || (quoted
                && inner.starts_with("${")
                && inner.ends_with('}')
                && reference(&inner[2..inner.len() - 1]))
            || (!quoted && {
                static R: OnceLock<Option<Regex>> = OnceLock::new();
                is_match(
                    &R,
                    r"^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+(?:::[A-Za-z0-9]+)?$",
                    inner,
                )
            })
            || {
                static R: OnceLock<Option<Regex>> = OnceLock::new();
                is_match(&R, r"^Fn::[A-Za-z]+$", inner)
            }
            || (!quoted
                && tokens.get(i + 1) == Some(&"(")
                && inner.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            || labels.contains(&i)
            || (!quoted && {
                static R: OnceLock<Option<Regex>> = OnceLock::new();
                is_match(&R, r"^<<-?[A-Za-z_]+$", inner)
            })
            || terminator
            || CONSTANTS.contains(&inner)
            || {
                // The description the fix gives what it declares.
                static R: OnceLock<Option<Regex>> = OnceLock::new();
                is_match(
                    &R,
                    r"^[A-Za-z_][A-Za-z0-9_]* of [A-Za-z0-9_./-]+ \(ecsguard\)$",
                    inner,
                )
            }
            || (name_next && ident(inner))
            || (image_next && {
                static R: OnceLock<Option<Regex>> = OnceLock::new();
                is_match(&R, r"^[a-z0-9][a-z0-9./_-]*(?::[A-Za-z0-9._-]+)?$", inner)
            })
            || ({
                static R: OnceLock<Option<Regex>> = OnceLock::new();
                is_match(
                    &R,
                    r"^arn:aws[a-z-]*:(?:ssm|secretsmanager|iam):[a-z0-9-]*:[0-9]{12}:(?:parameter/[A-Za-z0-9/_.-]+|secret:[A-Za-z0-9/_+=.@-]+|role/[A-Za-z0-9/_+=,.@-]+)$",
                    inner,
                )
            });
        tag_next = !quoted && (inner == "!Ref" || inner == "!GetAtt");
        name_next = false;
        image_next = false;
        if safe {
            out.push_str(tok);
        } else if quoted {
            let q = &tok[..1];
            out.push_str(q);
            out.push('…');
            if tok.len() > 1 && tok.ends_with(q) {
                out.push_str(q);
            }
        } else {
            out.push('…');
        }
    }
    out.push_str(end);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(file: &str, line: &str) -> String {
        mask_text(line, &file_tokens(file), true)
    }

    #[test]
    fn values_of_the_file_are_masked_and_names_stay() {
        let file = "Resources:\n  Db:\n    Properties:\n      MasterUserPassword: hunter2x\n      Name: app\n";
        assert_eq!(
            masked(file, "      MasterUserPassword: hunter2x\n"),
            "      MasterUserPassword: …\n"
        );
        assert_eq!(masked(file, "      Name: app\n"), "      Name: app\n");
        // Invented by the fix: shown.
        assert_eq!(
            masked(file, "      ValueFrom: !Ref AppDbSecret\n"),
            "      ValueFrom: !Ref AppDbSecret\n"
        );
        assert_eq!(
            masked(file, "  value = \"/ecsguard/a/b/DB\"\n"),
            "  value = \"/ecsguard/a/b/DB\"\n"
        );
    }

    #[test]
    fn nothing_is_taken_for_a_key_or_a_name_that_is_not_one() {
        for (file, line) in [
            ("- --name=s3cr3tA\n", "- --name=s3cr3tA\n"),
            ("- czNjcjN0=\n", "- czNjcjN0=\n"),
            ("- s3cr3tB:\"x\"\n", "- s3cr3tB:\"x\"\n"),
            (
                "x: {Name: web, \"my key\": s3cr3tC}\n",
                "x: {Name: web, \"my key\": s3cr3tC}\n",
            ),
            ("- <redacteds3cr3tD\n", "- <redacteds3cr3tD\n"),
            ("output \"x\" s3cr3tE\n", "output \"x\" s3cr3tE\n"),
        ] {
            let m = masked(file, line);
            assert!(
                !m.contains("s3cr3t") && !m.contains("czNjcjN0"),
                "{line:?} -> {m:?}"
            );
        }
    }

    #[test]
    fn a_stray_quote_earlier_in_the_file_changes_nothing() {
        for file in [
            "Description: it's the app\nX:\n  Hostname: s3cr3tM\n",
            "# don't\nhostname = \"s3cr3tN\"\n",
            "a = \"unclosed\nhostname = \"s3cr3tO\"\n",
        ] {
            let last = file.lines().last().unwrap_or_default();
            let m = mask_text(&format!("{last}\n"), &file_tokens(file), false);
            assert!(!m.contains("s3cr3t"), "{file:?} -> {m:?}");
        }
    }

    #[test]
    fn a_script_heredoc_is_no_json() {
        let script =
            "  command = <<-EOT\n    [ -f /etc/app ] || exit 1\n    name = s3cr3tP\n  EOT\n";
        let m = mask_text(script, &file_tokens(script), false);
        assert!(!m.contains("s3cr3t"), "{m}");
    }

    #[test]
    fn heredoc_bodies_are_masked_whole_unless_json() {
        let script = "  user_data = <<-EOT\n    name = s3cr3tK\n    Ref s3cr3tL\n  EOT\n";
        let m = mask_text(script, &file_tokens(script), false);
        assert!(!m.contains("s3cr3t"), "{m}");
        let json =
            "  container_definitions = <<EOF\n[{\"name\": \"web\", \"image\": \"web:1\"}]\nEOF\n";
        let m = mask_text(json, &file_tokens(json), false);
        assert!(m.contains("\"name\": \"web\""), "{m}");
    }

    #[test]
    fn runs_over_lines_are_masked_whole() {
        for text in [
            "Command: |2 # keep\n  name=s3cr3tF\n  Ref s3cr3tG\n",
            "Command: [sh, -c,\n  s3cr3tH=x]\n",
            "Hostname: \"one two\n  s3cr3tI: three\"\n",
            "Cmd: ['it''s\n  s3cr3tJ: x']\n",
        ] {
            let m = masked(text, text);
            assert!(!m.contains("s3cr3t"), "{text:?} -> {m:?}");
        }
    }
}
