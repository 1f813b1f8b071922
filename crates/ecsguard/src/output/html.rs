//! The HTML report: one self-contained file a reviewer can open from disk.
//!
//! - No request leaves the page: the styles and the script are inline, and a
//!   Content-Security-Policy (`default-src 'none'`) forbids anything else.
//! - Findings are grouped by account, region, task definition and container
//!   (files: by file, task definition and container), with a summary by rule
//!   and severity.
//! - Filtering by severity and rule is a small inline script; the state is
//!   kept in the address's `#fragment`, so a filtered view can be linked to.
//!   Without JavaScript every finding is shown.
//! - Every text is escaped by `maud`, control and bidirectional characters
//!   are shown as `\u{…}` (as in text output), and findings hold no value:
//!   the evidence is the redacted prefix the other formats show.

use std::collections::BTreeMap;

use ecsguard_core::{ErrorSource, Finding, InputError, Location, Report, RuleId, Severity};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::text::clean;

const SEVERITIES: [Severity; 4] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
];

const STYLE: &str = r#"
:root { --fg:#1d2430; --muted:#5b6575; --line:#d9dee7; --bg:#f6f7f9; --card:#fff;
  --critical:#7a0019; --high:#b42318; --medium:#b54708; --low:#175cd3; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif; color:var(--fg); background:var(--bg); }
header { padding:20px 28px 8px; }
h1 { font-size:22px; margin:0 0 4px; }
h2 { font-size:17px; margin:24px 0 8px; }
main { padding:0 28px 40px; max-width:1200px; }
.muted { color:var(--muted); }
.totals { display:flex; gap:12px; flex-wrap:wrap; margin:12px 0; }
.total { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:8px 14px; }
.total b { display:block; font-size:20px; }
table { margin-bottom:16px; border-collapse:collapse; background:var(--card); border:1px solid var(--line); }
th, td { padding:6px 12px; border-bottom:1px solid var(--line); text-align:left; }
th { background:#eef1f5; font-weight:600; }
td.n { text-align:right; font-variant-numeric:tabular-nums; }
fieldset { border:1px solid var(--line); border-radius:8px; background:var(--card); margin:0 0 12px; padding:8px 14px; }
legend { font-weight:600; padding:0 4px; }
label { margin-right:14px; white-space:nowrap; cursor:pointer; }
details.group { background:var(--card); border:1px solid var(--line); border-radius:8px; margin:10px 0; padding:6px 12px; }
details.group > summary { cursor:pointer; font-weight:600; padding:4px 0; }
details.group details.group { background:#fbfbfc; }
.finding { border-left:4px solid var(--line); margin:8px 0; padding:6px 12px; background:var(--card); }
.finding[data-severity=critical] { border-color:var(--critical); }
.finding[data-severity=high] { border-color:var(--high); }
.finding[data-severity=medium] { border-color:var(--medium); }
.finding[data-severity=low] { border-color:var(--low); }
.badge { display:inline-block; border-radius:4px; padding:0 6px; color:#fff; font-size:12px; font-weight:600; text-transform:uppercase; }
.badge.critical { background:var(--critical); } .badge.high { background:var(--high); }
.badge.medium { background:var(--medium); } .badge.low { background:var(--low); }
code { font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; background:#eef1f5; border-radius:4px; padding:1px 4px; overflow-wrap:anywhere; }
dl { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; margin:6px 0; }
dt { color:var(--muted); } dd { margin:0; overflow-wrap:anywhere; }
.advice { margin:6px 0 2px; }
.problems li { margin:4px 0; }
[hidden] { display:none !important; }
#shown { font-weight:600; }
"#;

/// The filter: shows the findings whose severity and rule are both ticked,
/// hides the groups left empty, counts what is shown, and keeps the state in
/// the `#fragment` (`#severity=high,medium&rule=secret-named-variable`).
const SCRIPT: &str = r#"
(function () {
  var form = document.getElementById('filters');
  if (!form) return;
  form.hidden = false;
  function ticked(name) {
    return Array.prototype.filter.call(form.querySelectorAll('input[name=' + name + ']'),
      function (i) { return i.checked; }).map(function (i) { return i.value; });
  }
  function apply() {
    var sev = ticked('severity'), rule = ticked('rule'), shown = 0;
    document.querySelectorAll('.finding').forEach(function (f) {
      var on = sev.indexOf(f.dataset.severity) >= 0 && rule.indexOf(f.dataset.rule) >= 0;
      f.hidden = !on;
      if (on) shown++;
    });
    var groups = document.querySelectorAll('details.group');
    for (var i = groups.length - 1; i >= 0; i--) {
      groups[i].hidden = !groups[i].querySelector('.finding:not([hidden])');
    }
    document.getElementById('shown').textContent = String(shown);
  }
  function save() {
    var all = form.querySelectorAll('input').length === ticked('severity').length + ticked('rule').length;
    var hash = all ? '' : '#severity=' + ticked('severity').join(',') + '&rule=' + ticked('rule').join(',');
    if (history.replaceState) history.replaceState(null, '', hash || location.pathname + location.search);
  }
  function load() {
    var state = {};
    location.hash.replace(/^#/, '').split('&').forEach(function (part) {
      var kv = part.split('=');
      if (kv.length !== 2) return;
      try { state[decodeURIComponent(kv[0])] = decodeURIComponent(kv[1]).split(','); } catch (e) { /* a malformed fragment filters nothing */ }
    });
    form.querySelectorAll('input').forEach(function (i) {
      if (state[i.name]) i.checked = state[i.name].indexOf(i.value) >= 0;
    });
  }
  form.addEventListener('change', function () { apply(); save(); });
  window.addEventListener('hashchange', function () { load(); apply(); });
  load();
  apply();
})();
"#;

/// The page: a Content-Security-Policy that allows only the inline style and
/// script, so the file makes no request of any kind.
pub fn render(report: &Report) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { "ecsguard report" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "ecsguard report" }
                    div.muted { "ecsguard " (env!("CARGO_PKG_VERSION")) " · " (scope(report)) }
                }
                main {
                    (totals(report))
                    (summary(report))
                    (filters(report))
                    h2 { "Findings " span.muted { "(" span #shown { (report.findings.len()) } " shown)" } }
                    @if report.findings.is_empty() {
                        p #no-findings { "No finding." }
                    }
                    (groups(report))
                    (problems("Errors", "errors", &report.errors,
                        "These inputs were not read, or not read in full: they are not known to be clean."))
                    (problems("Notes", "notes", &report.notes,
                        "Read in part, or left out on purpose."))
                    (suppressed(report))
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

fn scope(report: &Report) -> String {
    let s = &report.summary;
    match &s.live {
        Some(live) => format!(
            "{} account{} and {} region{} ({})",
            live.accounts,
            plural(live.accounts),
            live.regions,
            plural(live.regions),
            live.region_names.join(", ")
        ),
        None => format!("{} file{}", s.files, plural(s.files)),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn totals(report: &Report) -> Markup {
    let s = &report.summary;
    let items = [
        ("findings", report.findings.len()),
        ("task definitions", s.task_definitions),
        ("containers", s.containers),
        ("errors", report.errors.len()),
        ("suppressed", report.suppressed.len()),
    ];
    html! {
        div.totals {
            @for (name, n) in items {
                div.total data-total=(name) { b { (n) } span.muted { (name) } }
            }
        }
    }
}

/// Findings per rule and severity.
fn summary(report: &Report) -> Markup {
    let mut counts: BTreeMap<(RuleId, Severity), usize> = BTreeMap::new();
    for f in &report.findings {
        *counts.entry((f.rule, f.severity)).or_default() += 1;
    }
    html! {
        h2 { "Summary" }
        table #summary {
            thead { tr {
                th { "Rule" }
                @for s in SEVERITIES { th { (s.as_str()) } }
                th { "Total" }
            } }
            tbody {
                @for rule in RuleId::ALL {
                    tr data-rule=(rule.as_str()) {
                        td { a href=(rule.help_uri()) { code { (rule.as_str()) } } br; span.muted { (rule.title()) } }
                        @for s in SEVERITIES {
                            td.n { (counts.get(&(rule, s)).copied().unwrap_or(0)) }
                        }
                        td.n { b { (SEVERITIES.iter().map(|s| counts.get(&(rule, *s)).copied().unwrap_or(0)).sum::<usize>()) } }
                    }
                }
            }
        }
    }
}

/// The filter form; hidden until the script shows it (without JavaScript
/// everything is shown, and a filter that does nothing would mislead).
fn filters(report: &Report) -> Markup {
    html! {
        form #filters hidden {
            fieldset {
                legend { "Severity" }
                @for s in SEVERITIES {
                    label { input type="checkbox" name="severity" value=(s.as_str()) checked; " " (s.as_str())
                        " (" (report.findings.iter().filter(|f| f.severity == s).count()) ")" }
                }
            }
            fieldset {
                legend { "Rule" }
                @for r in RuleId::ALL {
                    label { input type="checkbox" name="rule" value=(r.as_str()) checked; " " (r.as_str())
                        " (" (report.findings.iter().filter(|f| f.rule == r).count()) ")" }
                }
            }
        }
    }
}

/// The nesting keys of a finding: (account, region) for live ones, then the
/// task definition and the container; files are grouped by file first.
fn keys(f: &Finding) -> Vec<(&'static str, String)> {
    let td = match (&f.family, f.revision) {
        (Some(family), Some(rev)) => format!("{}:{rev}", clean(family)),
        (Some(family), None) => clean(family).into_owned(),
        (None, _) => "(task definition without a family)".to_owned(),
    };
    let container = f.container.as_deref().map_or_else(
        || "(container without a name)".to_owned(),
        |c| clean(c).into_owned(),
    );
    match &f.location {
        Location::Live {
            account, region, ..
        } => vec![
            ("account", clean(account).into_owned()),
            ("region", clean(region).into_owned()),
            ("task definition", td),
            ("container", container),
        ],
        Location::File { file, .. } => vec![
            ("file", clean(file).into_owned()),
            ("task definition", td),
            ("container", container),
        ],
    }
}

/// A tree of groups, in report order.
#[derive(Default)]
struct Group<'a> {
    children: Vec<(String, &'static str, Group<'a>)>,
    findings: Vec<&'a Finding>,
}

impl<'a> Group<'a> {
    fn insert(&mut self, keys: &[(&'static str, String)], f: &'a Finding) {
        match keys.split_first() {
            None => self.findings.push(f),
            Some(((kind, name), rest)) => {
                let at = match self
                    .children
                    .iter()
                    .position(|(n, k, _)| n == name && k == kind)
                {
                    Some(i) => i,
                    None => {
                        self.children.push((name.clone(), kind, Group::default()));
                        self.children.len() - 1
                    }
                };
                self.children[at].2.insert(rest, f);
            }
        }
    }

    fn count(&self) -> usize {
        self.findings.len() + self.children.iter().map(|c| c.2.count()).sum::<usize>()
    }
}

fn groups(report: &Report) -> Markup {
    let mut root = Group::default();
    for f in &report.findings {
        root.insert(&keys(f), f);
    }
    render_group(&root)
}

fn render_group(group: &Group<'_>) -> Markup {
    html! {
        @for f in &group.findings { (finding(f)) }
        @for (name, kind, child) in &group.children {
            details.group open data-kind=(kind) {
                summary { span.muted { (kind) " " } code { (name) } " " span.muted { "(" (child.count()) ")" } }
                (render_group(child))
            }
        }
    }
}

fn place(location: &Location) -> String {
    match location {
        Location::File { file, line, column } => format!("{}:{line}:{column}", clean(file)),
        Location::Live { arn, .. } => clean(arn).into_owned(),
    }
}

fn finding(f: &Finding) -> Markup {
    let severity = f.severity.as_str();
    html! {
        article.finding data-severity=(severity) data-rule=(f.rule.as_str()) data-fingerprint=(f.fingerprint) {
            div {
                span class=(format!("badge {severity}")) { (severity) } " "
                a href=(f.rule.help_uri()) { code { (f.rule.as_str()) } } " "
                span.message { (prose(&clean(&f.message))) }
            }
            dl {
                dt { "Where" } dd { code.location { (place(&f.location)) } }
                @if let Some(Location::File { file, line, column }) = f.value_location.as_deref() {
                    dt { "Value written at" } dd { code { (clean(file)) ":" (line) ":" (column) } }
                }
                dt { "Evidence" } dd.evidence {
                    code {
                        (clean(&f.variable)) " = "
                        @if let Some(r) = &f.reference { (clean(r)) }
                        @else if let Some(r) = &f.redacted { "\"" (r) "\"" }
                        @else { "(redacted)" }
                    }
                }
                dt { "Detectors" } dd { (f.detectors.join(", ")) }
                @if !f.rule.controls().is_empty() {
                    dt { "Controls" } dd { (f.rule.controls().join(", ")) }
                }
                dt { "Fingerprint" } dd { code { (f.fingerprint) } }
            }
            p.advice { b { "Fix: " } (prose(f.rule.how_to_fix())) }
        }
    }
}

/// Text with `backticked` parts set as code (each part escaped).
fn prose(text: &str) -> Markup {
    html! {
        @for (i, part) in text.split('`').enumerate() {
            @if i % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

fn problem_place(e: &InputError) -> String {
    match &e.source {
        ErrorSource::File { file, line, column } => match column {
            Some(c) => format!("{file}:{line}:{c}"),
            None => format!("{file}:{line}"),
        },
        ErrorSource::Live {
            account,
            region,
            arn,
        } => [account.as_deref(), region.as_deref(), arn.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · "),
    }
}

fn problems(title: &str, id: &str, list: &[InputError], about: &str) -> Markup {
    html! {
        @if !list.is_empty() {
            section id=(id) {
                h2 { (title) " (" (list.len()) ")" }
                p.muted { (about) }
                ul.problems {
                    @for e in list {
                        li { code { (clean(&problem_place(e))) } " " (clean(&e.message)) }
                    }
                }
            }
        }
    }
}

fn suppressed(report: &Report) -> Markup {
    use ecsguard_core::suppress::SuppressionKind;
    html! {
        @if !report.suppressed.is_empty() {
            section #suppressed {
                h2 { "Suppressed (" (report.suppressed.len()) ")" }
                p.muted { "Accepted by an inline comment, the config or a baseline: not counted for the exit status." }
                ul.problems {
                    @for s in &report.suppressed {
                        li data-fingerprint=(s.finding.fingerprint) {
                            code { (place(&s.finding.location)) } " "
                            code { (s.finding.rule.as_str()) } " "
                            (clean(&s.finding.variable)) " — "
                            (match s.kind {
                                SuppressionKind::Inline => "inline",
                                SuppressionKind::Baseline => "baseline",
                                SuppressionKind::Config => "config",
                            })
                            @if let Some(reason) = &s.reason { ": " (clean(reason)) }
                        }
                    }
                }
            }
        }
    }
}
