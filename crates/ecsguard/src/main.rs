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

use cli::{Cli, Command, CommonArgs, Format, LiveArgs, RulesetArg};

/// Exit statuses, DESIGN §3.
mod exit {
    pub const FINDINGS: u8 = 1;
    pub const INPUT_ERROR: u8 = 2;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan(args) if args.live.aws => scan_live(&args.live, &args.common),
        Command::Scan(args) => {
            let paths = if args.paths.is_empty() {
                vec![std::path::PathBuf::from(".")]
            } else {
                args.paths
            };
            scan(&paths, &args.common)
        }
    }
}

fn scan_live(live: &LiveArgs, common: &CommonArgs) -> ExitCode {
    let started = Instant::now();
    let options = ecsguard_aws::LiveOptions {
        regions: live.regions.clone(),
        all_regions: live.all_regions,
        all_revisions: live.all_revisions,
        profile: live.profile.clone(),
        role_arn: live.role_arn.clone(),
        org_role_name: live.role_name.clone().filter(|_| live.org),
        concurrency: usize::from(live.concurrency),
        max_attempts: live.max_attempts,
        ..ecsguard_aws::LiveOptions::default()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::INPUT_ERROR);
        }
    };
    let report = runtime.block_on(ecsguard_aws::scan(&options, &rule_config(common)));
    if common.verbose {
        let live = report.summary.live.clone().unwrap_or_default();
        eprintln!(
            "ecsguard: scanned {} task definitions in {} accounts and {} regions with {} API calls in {:.0?}: {} findings, {} errors",
            report.summary.task_definitions,
            live.accounts,
            live.regions,
            live.api_calls,
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
