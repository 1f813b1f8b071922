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
        Location::File { file, line, column } => format!("{}:{line}:{column}", clean(file)),
        Location::Live { arn, region, .. } => format!("{} ({})", clean(arn), clean(region)),
    }
}

/// Whether a character could move the cursor, recolour or reorder what a
/// terminal shows: C0/C1 controls (ESC, CR, BS …) and the Unicode bidi and
/// zero-width format characters (U+202E and friends).
fn is_unsafe_for_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Soft hyphen, Arabic letter mark, Hangul fillers, Mongolian and
            // Khmer format marks, zero-width and bidi marks, line and
            // paragraph separators, invisible operators, variation
            // selectors, BOM, interlinear annotations, tag characters.
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
                | '\u{E0100}'..='\u{E01EF}'
        )
}

/// Text from the input (names, paths, messages that quote them) with every
/// character a terminal would act on written as a visible `\u{…}` escape, so
/// a committed file cannot rewrite the reviewer's screen.
pub fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(is_unsafe_for_terminal) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe_for_terminal(c) {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn finding(out: &mut String, f: &Finding, styles: Styles) {
    let sev = styles.severity(f.severity);
    let (bold, dim) = (styles.bold(), styles.dim());
    let _ = writeln!(
        out,
        "{sev}{}{sev:#}{bold}[{}]: {}{bold:#}",
        f.severity,
        f.rule,
        clean(&f.message)
    );
    let _ = writeln!(out, "  {dim}-->{dim:#} {}", location(&f.location));
    if let Some(v) = f.value_location.as_deref() {
        let _ = writeln!(out, "   {dim}={dim:#} value written at {}", location(v));
    }
    let family = f.family.as_deref().unwrap_or("(unnamed)");
    let revision = f.revision.map(|r| format!(":{r}")).unwrap_or_default();
    let container = f.container.as_deref().unwrap_or("(unnamed)");
    let _ = writeln!(
        out,
        "   {dim}={dim:#} task definition {}{revision}, container {}",
        clean(family),
        clean(container)
    );
    let shown = match (&f.reference, &f.redacted) {
        (Some(r), _) => r.clone(),
        (None, Some(r)) => format!("\"{r}\""),
        (None, None) => String::new(),
    };
    let _ = writeln!(
        out,
        "   {dim}={dim:#} {} = {}",
        clean(&f.variable),
        clean(&shown)
    );
    let _ = writeln!(
        out,
        "   {dim}={dim:#} detectors: {}",
        f.detectors.join(", ")
    );
    let _ = writeln!(out, "   {dim}={dim:#} fingerprint: {}", f.fingerprint);
    out.push('\n');
}

/// Where an error or note was met, as `file:line:column` or the live resource.
fn place(source: &ErrorSource) -> String {
    match source {
        ErrorSource::File { file, line, column } => match (line, column) {
            (line, Some(c)) => format!("{}:{line}:{c}", clean(file)),
            (1, None) => clean(file).into_owned(),
            (line, None) => format!("{}:{line}", clean(file)),
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
            clean(&parts.join(", ")).into_owned()
        }
    }
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
        let at = place(&e.source);
        let _ = writeln!(
            out,
            "{err}error{err:#}{bold}: {at}: {}{bold:#}",
            clean(&e.message)
        );
    }
    let note = styles.pick(AnsiColor::Cyan.on_default().bold());
    for n in &report.notes {
        let _ = writeln!(
            out,
            "{note}note{note:#}: {}: {}",
            place(&n.source),
            clean(&n.message)
        );
    }
    if !report.errors.is_empty() || !report.notes.is_empty() {
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
    let errors = match report.suppressed.len() {
        0 => errors,
        n => format!("{errors}; {n} suppressed (-v lists them)"),
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

/// The suppressed findings, one line each, for `-v`.
pub fn suppressed(report: &Report) -> String {
    let mut out = String::new();
    for s in &report.suppressed {
        let f = &s.finding;
        let at = match &f.location {
            ecsguard_core::Location::File { file, line, .. } => format!("{file}:{line}"),
            ecsguard_core::Location::Live { arn, .. } => arn.clone(),
        };
        let _ = writeln!(
            out,
            "suppressed ({}): {}[{}] {} in {}: {}",
            s.kind.as_str(),
            f.severity,
            f.rule,
            clean(&f.variable),
            clean(&at),
            clean(s.reason.as_deref().unwrap_or("no reason given"))
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_control_and_bidi_characters_are_escaped() {
        assert_eq!(clean("DB_PASSWORD"), "DB_PASSWORD");
        let shown = clean("A\u{1b}[2J\rB\u{202e}C\u{2066}");
        assert_eq!(shown, "A\\u{001b}[2J\\u{000d}B\\u{202e}C\\u{2066}");
        for c in [
            '\u{2028}',
            '\u{2029}',
            '\u{2060}',
            '\u{00AD}',
            '\u{180E}',
            '\u{E0041}',
        ] {
            assert!(!clean(&format!("x{c}y")).contains(c), "{c:?}");
        }
        assert!(!shown.chars().any(is_unsafe_for_terminal));
    }
}
