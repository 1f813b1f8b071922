//! The `ecsguard` command: arguments, settings, rendering and exit status.
//! The work lives in `ecsguard-core` and `ecsguard-iac`.

mod cli;
mod output;

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use ecsguard_core::{fingerprint, Report, RuleConfig, Ruleset, Severity};
use ecsguard_iac::ScanOptions;

use cli::{Cli, Command, CommonArgs, Format, RulesetArg};

/// Exit statuses, DESIGN §3.
mod exit {
    pub const FINDINGS: u8 = 1;
    pub const INPUT_ERROR: u8 = 2;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan(args) => scan(&args.paths, &args.common),
    }
}

fn rule_config(common: &CommonArgs) -> RuleConfig {
    let fingerprint_key = std::env::var("ECSGUARD_FINGERPRINT_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .map_or_else(|| fingerprint::DEFAULT_KEY.to_vec(), String::into_bytes);
    RuleConfig {
        ruleset: match common.ruleset {
            RulesetArg::Default => Ruleset::Default,
            RulesetArg::Securityhub => Ruleset::SecurityHub,
        },
        fingerprint_key,
    }
}

fn scan(paths: &[std::path::PathBuf], common: &CommonArgs) -> ExitCode {
    let started = Instant::now();
    let options = ScanOptions {
        rules: rule_config(common),
        max_file_size: common.max_file_size,
    };
    let report = ecsguard_iac::scan_paths(paths, &options);
    if common.verbose {
        eprintln!(
            "ecsguard: scanned {} files, {} task definitions, {} containers in {:.0?}: {} findings, {} errors",
            report.summary.files,
            report.summary.task_definitions,
            report.summary.containers,
            started.elapsed(),
            report.findings.len(),
            report.errors.len()
        );
    }
    if let Err(message) = emit(&report, common) {
        eprintln!("error: {message}");
        return ExitCode::from(exit::INPUT_ERROR);
    }
    exit_status(&report, common.fail_on.into())
}

fn exit_code(report: &Report, fail_on: Severity) -> u8 {
    if !report.errors.is_empty() {
        exit::INPUT_ERROR
    } else if report.findings.iter().any(|f| f.severity >= fail_on) {
        exit::FINDINGS
    } else {
        0
    }
}

fn exit_status(report: &Report, fail_on: Severity) -> ExitCode {
    ExitCode::from(exit_code(report, fail_on))
}

fn emit(report: &Report, common: &CommonArgs) -> Result<(), String> {
    let mut sink: Box<dyn Write> = match &common.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = std::io::BufWriter::with_capacity(1 << 16, &mut sink);
    let written = match common.format {
        Format::Text => {
            // Colour only when the result goes to a terminal (NO_COLOR and CLICOLOR_FORCE are honoured).
            let color = common.output.is_none()
                && anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never;
            sink.write_all(output::text::render(report, color).as_bytes())
        }
        Format::Json => output::json::write(report, &mut sink).map_err(std::io::Error::from),
        Format::Sarif => output::sarif::write(
            report,
            exit_code(report, common.fail_on.into()).into(),
            &mut sink,
        )
        .map_err(std::io::Error::from),
    };
    written
        .and_then(|()| sink.flush())
        .or_else(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                Ok(())
            } else {
                Err(e)
            }
        })
        .map_err(|e| format!("cannot write the result: {e}"))
}
