//! Compiler-style text diagnostics, coloured only when the stream is a terminal.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use ecsguard_core::{ErrorSource, Finding, Location, Report, Severity};

/// The styles in use: real ones on a terminal, empty ones elsewhere.
#[derive(Clone, Copy)]
struct Styles {
    color: bool,
}

impl Styles {
    fn pick(self, style: Style) -> Style {
        if self.color {
            style
        } else {
            Style::new()
        }
    }
    fn bold(self) -> Style {
        self.pick(Style::new().bold())
    }
    fn dim(self) -> Style {
        self.pick(Style::new().dimmed())
    }
    fn severity(self, s: Severity) -> Style {
        self.pick(severity_style(s))
    }
    fn error(self) -> Style {
        self.pick(AnsiColor::Red.on_default().bold())
    }
}

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Critical | Severity::High => AnsiColor::Red.on_default().bold(),
        Severity::Medium => AnsiColor::Yellow.on_default().bold(),
        Severity::Low => AnsiColor::Cyan.on_default().bold(),
    }
}

fn location(l: &Location) -> String {
    match l {
        Location::File { file, line, column } => format!("{file}:{line}:{column}"),
        Location::Live { arn, region, .. } => format!("{arn} ({region})"),
    }
}

fn finding(out: &mut String, f: &Finding, styles: Styles) {
    let sev = styles.severity(f.severity);
    let (bold, dim) = (styles.bold(), styles.dim());
    let _ = writeln!(
        out,
        "{sev}{}{sev:#}{bold}[{}]: {}{bold:#}",
        f.severity, f.rule, f.message
    );
    let _ = writeln!(out, "  {dim}-->{dim:#} {}", location(&f.location));
    let family = f.family.as_deref().unwrap_or("(unnamed)");
    let revision = f.revision.map(|r| format!(":{r}")).unwrap_or_default();
    let container = f.container.as_deref().unwrap_or("(unnamed)");
    let _ = writeln!(
        out,
        "   {dim}={dim:#} task definition {family}{revision}, container {container}"
    );
    let shown = match (&f.reference, &f.redacted) {
        (Some(r), _) => r.clone(),
        (None, Some(r)) => format!("\"{r}\""),
        (None, None) => String::new(),
    };
    let _ = writeln!(out, "   {dim}={dim:#} {} = {shown}", f.variable);
    let _ = writeln!(
        out,
        "   {dim}={dim:#} detectors: {}",
        f.detectors.join(", ")
    );
    let _ = writeln!(out, "   {dim}={dim:#} fingerprint: {}", f.fingerprint);
    out.push('\n');
}

/// Renders the report; `color` adds ANSI styles.
pub fn render(report: &Report, color: bool) -> String {
    let styles = Styles { color };
    let bold = styles.bold();
    let mut out = String::new();
    for f in &report.findings {
        finding(&mut out, f, styles);
    }
    let err = styles.error();
    for e in &report.errors {
        let at = match &e.source {
            ErrorSource::File { file, line, column } => match (line, column) {
                (line, Some(c)) => format!("{file}:{line}:{c}"),
                (1, None) => file.clone(),
                (line, None) => format!("{file}:{line}"),
            },
            ErrorSource::Live {
                account,
                region,
                arn,
            } => {
                let parts: Vec<String> = [
                    account.as_ref().map(|a| format!("account {a}")),
                    region.as_ref().map(|r| format!("region {r}")),
                    arn.clone(),
                ]
                .into_iter()
                .flatten()
                .collect();
                parts.join(", ")
            }
        };
        let _ = writeln!(out, "{err}error{err:#}{bold}: {at}: {}{bold:#}", e.message);
    }
    if !report.errors.is_empty() {
        out.push('\n');
    }
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let by_severity: Vec<String> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ]
    .into_iter()
    .filter(|s| count(*s) > 0)
    .map(|s| format!("{} {s}", count(s)))
    .collect();
    let findings = match report.findings.len() {
        0 => "no findings".to_owned(),
        1 => format!("1 finding ({})", by_severity.join(", ")),
        n => format!("{n} findings ({})", by_severity.join(", ")),
    };
    let errors = match report.errors.len() {
        0 => String::new(),
        1 => "; 1 input error".to_owned(),
        n => format!("; {n} input errors"),
    };
    let s = &report.summary;
    match &s.live {
        None => {
            let _ = writeln!(
                out,
                "{bold}{findings}{bold:#} in {} task definitions, {} containers, {} files{errors}",
                s.task_definitions, s.containers, s.files
            );
        }
        Some(live) => {
            let _ = writeln!(
                out,
                "{bold}{findings}{bold:#} in {} task definitions, {} containers; {} accounts, {} regions, {} API calls{errors}",
                s.task_definitions, s.containers, live.accounts, live.regions, live.api_calls
            );
            if live.older_revisions_not_scanned > 0 {
                let _ = writeln!(
                    out,
                    "note: {} older revisions of the affected families were not scanned; they can still be read with ecs:DescribeTaskDefinition and likely hold the same secrets: rerun with --all-revisions",
                    live.older_revisions_not_scanned
                );
            }
        }
    }
    out
}
