//! The `ecsguard` command: arguments, settings, rendering and exit status.
//! The work lives in `ecsguard-core` and `ecsguard-iac`.

mod baseline;
mod cli;
mod config;
mod output;
mod rules_doc;
mod securityhub;

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use ecsguard_core::{fingerprint, Report, RuleConfig, Ruleset, Severity};
use ecsguard_iac::ScanOptions;

use cli::{
    Cli, Command, CommonArgs, FixArgs, Format, LiveArgs, RollbackArgs, RulesetArg, StoreArg,
};

/// Exit statuses, DESIGN §3.
mod exit {
    pub const FINDINGS: u8 = 1;
    pub const INPUT_ERROR: u8 = 2;
    pub const FIX_FAILED: u8 = 3;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan(args) => {
            // The config: named, or found upward from the first path.
            let found = args.config.clone().or_else(|| {
                let start = args
                    .paths
                    .first()
                    .cloned()
                    .unwrap_or_else(|| std::path::PathBuf::from("."));
                config::find(&start)
            });
            let config = match found.as_deref().map(config::load).transpose() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(exit::INPUT_ERROR);
                }
            };
            let baselines = baseline::Files {
                read: args.baseline.clone(),
                write: args.write_baseline.clone(),
                config,
            };
            let asff_wanted = args.common.format == Format::Asff || args.to_securityhub;
            if let Err(e) = check_scan_flags(&args, asff_wanted) {
                eprintln!("error: {e}");
                return ExitCode::from(exit::INPUT_ERROR);
            }
            if args.to_securityhub && args.live.org {
                eprintln!("error: --to-securityhub with --org: Security Hub takes a finding only from the account it is about; scan each account with --role-arn instead");
                return ExitCode::from(exit::INPUT_ERROR);
            }
            let paths = if args.paths.is_empty() {
                vec![std::path::PathBuf::from(".")]
            } else {
                args.paths.clone()
            };
            // The rules this scan runs: only their findings can be found
            // gone (and archived in Security Hub).
            let rules = baselines
                .config
                .as_ref()
                .map_or_else(
                    || ecsguard_core::RuleId::ALL.to_vec(),
                    config::Config::selected,
                )
                .into_iter()
                .filter(|r| {
                    args.common.ruleset == RulesetArg::Default
                        || *r == ecsguard_core::RuleId::KnownCredentialVariable
                })
                .map(|r| r.as_str().to_owned())
                .collect();
            let project = if !args.live.aws && asff_wanted {
                match securityhub::Project::find(
                    &paths,
                    args.project.clone(),
                    args.common.max_file_size,
                ) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(exit::INPUT_ERROR);
                    }
                }
            } else {
                None
            };
            let hub = securityhub::Settings {
                rules,
                to_securityhub: args.to_securityhub,
                account: args.account.clone(),
                live: live_options(&args.live),
                project,
            };
            if args.live.aws {
                scan_live(&args.live, &args.common, &baselines, &hub)
            } else {
                scan(&paths, &args.common, &baselines, &hub)
            }
        }
        Command::Fix(args) => fix(&args),
        Command::Rollback(args) => rollback(&args),
        Command::Rules(args) => rules_doc::run(&args),
    }
}

/// What clap cannot say of `scan`'s flags: the live ones need `--aws`, but
/// for the few a scan of files uses to file its findings in Security Hub.
fn check_scan_flags(args: &cli::ScanArgs, asff_wanted: bool) -> Result<(), String> {
    let live = &args.live;
    if live.aws {
        if args.account.is_some() || args.project.is_some() {
            return Err("--account and --project are for IaC findings; live findings carry their own account".into());
        }
        return Ok(());
    }
    for (given, flag) in [
        (live.all_regions, "--all-regions"),
        (live.all_revisions, "--all-revisions"),
        (live.org, "--org"),
        (live.role_name.is_some(), "--role-name"),
    ] {
        if given {
            return Err(format!("{flag} needs --aws"));
        }
    }
    let for_hub = [
        (!live.regions.is_empty(), "--region"),
        (live.profile.is_some(), "--profile"),
        (live.role_arn.is_some(), "--role-arn"),
    ];
    for (given, flag) in for_hub {
        if given && !asff_wanted {
            return Err(format!(
                "{flag} needs --aws, or (to file IaC findings in Security Hub) --format asff or --to-securityhub"
            ));
        }
    }
    if live.regions.len() > 1 {
        return Err("IaC findings are filed in one region: give --region once".into());
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(exit::INPUT_ERROR)
        })
}

/// A `--prefix` SSM and Secrets Manager both accept: letters, digits and
/// `_.-/`, not starting with `aws` or `ssm` (reserved by SSM).
fn check_prefix(prefix: &str) -> Result<(), String> {
    let bare = prefix.trim_start_matches('/').to_ascii_lowercase();
    if prefix.is_empty()
        || !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
    {
        return Err(format!(
            "--prefix {prefix:?}: use letters, digits and _ . - / only"
        ));
    }
    if bare.starts_with("aws") || bare.starts_with("ssm") {
        return Err(format!(
            "--prefix {prefix:?}: names starting with aws or ssm are reserved by SSM"
        ));
    }
    Ok(())
}

fn fix(args: &FixArgs) -> ExitCode {
    if let Err(e) = check_prefix(&args.prefix) {
        eprintln!("error: {e}");
        return ExitCode::from(exit::INPUT_ERROR);
    }
    if !args.aws {
        if args.from_securityhub {
            eprintln!("error: --from-securityhub fixes live task definitions: it needs --aws (and no paths)");
            return ExitCode::from(exit::INPUT_ERROR);
        }
        return fix_files(args);
    }
    if !matches!(args.common.format, Format::Text | Format::Json) {
        eprintln!("error: a fix plan is printed as text or json");
        return ExitCode::from(exit::INPUT_ERROR);
    }
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let options = ecsguard_aws::FixOptions {
        live: fix_live_options(args),
        families: args.families.clone(),
        store: store_settings(args),
        update_services: args.update_services,
        clusters: args.clusters.clone(),
        overwrite: args.overwrite,
        deregister_old: args.deregister_old,
        apply: args.apply,
        journal_dir: args.journal_dir.clone(),
        // Test hook: stop as a crash would after N steps, to prove resumption.
        stop_after: test_hook("ECSGUARD_TEST_STOP_AFTER").and_then(|n| n.parse().ok()),
        crash_in_register: test_hook("ECSGUARD_TEST_CRASH_IN_REGISTER").is_some(),
    };
    let (report, hub) = if args.from_securityhub {
        match securityhub::block_on(securityhub::fix_from_securityhub(
            &options,
            &rule_config(&args.common),
        )) {
            Ok(done) => done,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::INPUT_ERROR);
            }
        }
    } else {
        let report = runtime.block_on(ecsguard_aws::fix(&options, &rule_config(&args.common)));
        (report, securityhub::Resolved::default())
    };
    let rendered = match args.common.format {
        Format::Json => {
            let mut s =
                serde_json::to_string_pretty(&output::fix::json(&report)).unwrap_or_default();
            s.push('\n');
            s
        }
        _ => output::fix::text(&report, args.apply, args.update_services),
    };
    if let Err(message) = write_result(&args.common, |sink| sink.write_all(rendered.as_bytes())) {
        eprintln!("error: {message}");
        return ExitCode::from(exit::INPUT_ERROR);
    }
    for n in &hub.notes {
        eprintln!("note: {n}");
    }
    for e in hub.input_errors.iter().chain(&hub.errors) {
        eprintln!("error: {e}");
    }
    if report.stopped {
        eprintln!(
            "ecsguard: stopped by ECSGUARD_TEST_STOP_AFTER; rerun to resume from the journal"
        );
        return ExitCode::from(exit::FIX_FAILED);
    }
    if report.failed || !hub.errors.is_empty() {
        return ExitCode::from(exit::FIX_FAILED);
    }
    if !report.errors.is_empty() || !hub.input_errors.is_empty() {
        return ExitCode::from(exit::INPUT_ERROR);
    }
    ExitCode::SUCCESS
}

/// `fix PATH`: plan file rewrites; with `--apply`, write them (after
/// `--push` stored the literal values).
fn fix_files(args: &FixArgs) -> ExitCode {
    if !matches!(args.common.format, Format::Text | Format::Json) {
        eprintln!("error: a fix plan is printed as text or json");
        return ExitCode::from(exit::INPUT_ERROR);
    }
    let paths = if args.paths.is_empty() {
        vec![std::path::PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    // A run cut off while it renamed its files is completed first (or, cut
    // off before, undone): the files are never left half old, half new.
    if args.apply {
        match ecsguard_iac::fix::recover(&args.journal_dir.join("pending-files"), &paths) {
            Ok(done) => {
                for d in done {
                    eprintln!("note: {d}");
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::FIX_FAILED);
            }
        }
    } else {
        for record in ecsguard_iac::fix::pending(&args.journal_dir.join("pending-files")) {
            eprintln!(
                "warning: {} records a write that was cut off: `fix --apply` completes it before anything else",
                record.display()
            );
        }
    }
    let settings = ecsguard_iac::fix::FixSettings {
        scan: scan_options(&args.common),
        store: store_settings(args),
        preview: !args.apply,
        journal_dir: Some(args.journal_dir.clone()),
    };
    let mut plan = ecsguard_iac::fix::plan(&paths, &settings, &Default::default());
    // The plan as it will be once the literals are stored: what it refuses
    // is manual before anything is stored, and what it would write must
    // verify first.
    let preview = args.apply.then(|| {
        let preview = ecsguard_iac::fix::FixSettings {
            preview: true,
            ..settings.clone()
        };
        ecsguard_iac::fix::plan(&paths, &preview, &Default::default())
    });
    if let Some(preview) = &preview {
        ecsguard_iac::fix::carry_refusals(&mut plan, preview);
    }
    let mut push_errors = Vec::new();
    let mut journal = None;
    let checked = match (&preview, args.push && !plan.pushes.is_empty()) {
        (Some(preview), true) => ecsguard_iac::fix::verify_all(preview, &settings).map_err(|e| {
            if e.contains("nothing was stored") {
                e
            } else {
                format!("{e}; nothing was stored and nothing was written")
            }
        }),
        _ => Ok(()),
    };
    if let Err(e) = checked {
        push_errors.push(e);
    } else if args.push && !plan.pushes.is_empty() {
        let runtime = match runtime() {
            Ok(r) => r,
            Err(code) => return code,
        };
        let items: Vec<ecsguard_aws::PushItem> = plan
            .pushes
            .iter()
            .map(|p| ecsguard_aws::PushItem {
                store_name: p.store_name.clone(),
                entries: p.entries.clone(),
                source: p.source.clone(),
            })
            .collect();
        let live = fix_live_options(args);
        let pushed = runtime.block_on(ecsguard_aws::push(
            &live,
            &settings.store,
            &items,
            args.overwrite,
            &args.journal_dir,
        ));
        journal = pushed.journal.clone();
        push_errors = pushed.errors;
        // Only what was stored and verified is referenced, and only while the
        // files still hold the values that were stored.
        let before = std::mem::take(&mut plan.pushes);
        plan = ecsguard_iac::fix::plan(&paths, &settings, &pushed.stored);
        if let Some(preview) = &preview {
            ecsguard_iac::fix::carry_refusals(&mut plan, preview);
        }
        if push_errors.is_empty() {
            for p in &plan.pushes {
                let same = before
                    .iter()
                    .any(|b| b.store_name == p.store_name && b.entries == p.entries);
                if !same {
                    push_errors.push(format!(
                        "the value for {} changed in the files while it was being stored; nothing was written: run again",
                        p.store_name
                    ));
                }
            }
        }
    }
    let mut write_error = None;
    let mut written = Vec::new();
    if args.apply && push_errors.is_empty() {
        let options = ecsguard_iac::fix::WriteOptions {
            pending_dir: args.journal_dir.join("pending-files"),
            corrupt_for_test: test_hook("ECSGUARD_TEST_CORRUPT_REWRITE").is_some(),
            stop_after_renames: test_hook("ECSGUARD_TEST_STOP_AFTER_RENAMES")
                .and_then(|n| n.parse().ok()),
        };
        match ecsguard_iac::fix::write_all(&plan, &paths, &settings, &options) {
            Ok(w) => written = w,
            Err(e) => write_error = Some(e),
        }
    }
    let outcome = output::file_fix::Outcome {
        apply: args.apply,
        written: &written,
        push_errors: &push_errors,
        write_error: write_error.as_deref(),
        journal: journal.as_deref(),
    };
    let rendered = match args.common.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&output::file_fix::json(&plan, &outcome))
                .unwrap_or_default();
            s.push('\n');
            s
        }
        _ => output::file_fix::text(&plan, &outcome),
    };
    if let Err(message) = write_result(&args.common, |sink| sink.write_all(rendered.as_bytes())) {
        eprintln!("error: {message}");
        return ExitCode::from(exit::INPUT_ERROR);
    }
    if !push_errors.is_empty() || write_error.is_some() {
        return ExitCode::from(exit::FIX_FAILED);
    }
    if !plan.errors.is_empty() {
        return ExitCode::from(exit::INPUT_ERROR);
    }
    let open = plan.planned.iter().any(|p| {
        p.outcome != ecsguard_iac::fix::OutcomeKind::Unchanged
            && !(args.apply && p.outcome == ecsguard_iac::fix::OutcomeKind::Fixed)
    });
    // Grants the execution roles still need are work left to do by hand.
    if args.apply && (open || plan.iam.iter().any(|n| n.written.is_none())) {
        return ExitCode::from(exit::FINDINGS);
    }
    ExitCode::SUCCESS
}

/// The AWS settings of `fix` (live, or `--push`).
fn fix_live_options(args: &FixArgs) -> ecsguard_aws::LiveOptions {
    ecsguard_aws::LiveOptions {
        regions: args.regions.clone(),
        profile: args.profile.clone(),
        role_arn: args.role_arn.clone(),
        max_attempts: args.max_attempts,
        api_timeout: std::time::Duration::from_secs(args.api_timeout),
        progress: false,
        ..ecsguard_aws::LiveOptions::default()
    }
}

fn store_settings(args: &FixArgs) -> ecsguard_core::plan::StoreSettings {
    ecsguard_core::plan::StoreSettings {
        kind: match args.store {
            StoreArg::Ssm => ecsguard_core::plan::StoreKind::Ssm,
            StoreArg::Secretsmanager => ecsguard_core::plan::StoreKind::SecretsManager,
        },
        prefix: args.prefix.clone(),
        kms_key_id: args.kms_key_id.clone(),
    }
}

fn rollback(args: &RollbackArgs) -> ExitCode {
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let options = ecsguard_aws::LiveOptions {
        profile: args.profile.clone(),
        role_arn: args.role_arn.clone(),
        max_attempts: args.max_attempts,
        api_timeout: std::time::Duration::from_secs(args.api_timeout),
        progress: false,
        ..ecsguard_aws::LiveOptions::default()
    };
    let report = runtime.block_on(ecsguard_aws::rollback(
        &options,
        &args.journal,
        args.delete_secrets,
    ));
    for a in &report.actions {
        println!("{a}");
    }
    for e in &report.errors {
        eprintln!("error: {e}");
    }
    if report.unreadable {
        ExitCode::from(exit::INPUT_ERROR)
    } else if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::FIX_FAILED)
    }
}

fn live_options(live: &LiveArgs) -> ecsguard_aws::LiveOptions {
    ecsguard_aws::LiveOptions {
        regions: live.regions.clone(),
        all_regions: live.all_regions,
        all_revisions: live.all_revisions,
        profile: live.profile.clone(),
        role_arn: live.role_arn.clone(),
        org_role_name: live.role_name.clone().filter(|_| live.org),
        concurrency: usize::from(live.concurrency),
        max_attempts: live.max_attempts,
        api_timeout: std::time::Duration::from_secs(live.api_timeout),
        ..ecsguard_aws::LiveOptions::default()
    }
}

fn scan_live(
    live: &LiveArgs,
    common: &CommonArgs,
    baselines: &baseline::Files,
    hub: &securityhub::Settings,
) -> ExitCode {
    let started = Instant::now();
    let options = live_options(live);
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let mut report = runtime.block_on(ecsguard_aws::scan(&options, &rule_config(common)));
    if let Err(code) = baselines.apply(&mut report) {
        return code;
    }
    finish(&report, common, started, hub, &Default::default())
}

fn rule_config(common: &CommonArgs) -> RuleConfig {
    // A project's own key (kept out of the repository, like any secret)
    // lets the fingerprint change when the value does; without one the
    // value is left out, so a published report gives nothing to guess at.
    let key = std::env::var("ECSGUARD_FINGERPRINT_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    RuleConfig {
        ruleset: match common.ruleset {
            RulesetArg::Default => Ruleset::Default,
            RulesetArg::Securityhub => Ruleset::SecurityHub,
        },
        fingerprint_value: key.is_some(),
        fingerprint_key: key.map_or_else(|| fingerprint::DEFAULT_KEY.to_vec(), String::into_bytes),
    }
}

fn scan_options(common: &CommonArgs) -> ScanOptions {
    ScanOptions {
        rules: rule_config(common),
        max_file_size: common.max_file_size,
    }
}

fn scan(
    paths: &[std::path::PathBuf],
    common: &CommonArgs,
    baselines: &baseline::Files,
    hub: &securityhub::Settings,
) -> ExitCode {
    let started = Instant::now();
    let options = scan_options(common);
    let mut report = ecsguard_iac::scan_paths(paths, &options);
    if let Err(code) = baselines.apply(&mut report) {
        return code;
    }
    // SARIF results carry the file fix, where one settles them on its own
    // (`fix PATH`'s plan with its default settings: SSM under /ecsguard).
    let fixes = if common.format == Format::Sarif {
        let settings = ecsguard_iac::fix::FixSettings {
            scan: options,
            store: ecsguard_core::plan::StoreSettings {
                kind: ecsguard_core::plan::StoreKind::Ssm,
                prefix: "/ecsguard".to_owned(),
                kms_key_id: None,
            },
            preview: false,
            journal_dir: None,
        };
        output::sarif::file_fixes(&ecsguard_iac::fix::plan(
            paths,
            &settings,
            &Default::default(),
        ))
    } else {
        Default::default()
    };
    finish(&report, common, started, hub, &fixes)
}

/// Logs (with `-v`), renders, sends to Security Hub (with
/// `--to-securityhub`), and turns the report into the exit status.
fn finish(
    report: &Report,
    common: &CommonArgs,
    started: Instant,
    hub: &securityhub::Settings,
    fixes: &std::collections::HashMap<output::sarif::FixKey, serde_sarif::sarif::Fix>,
) -> ExitCode {
    if common.verbose {
        let s = &report.summary;
        let scope = match &s.live {
            Some(live) => format!(
                "{} accounts and {} regions with {} API calls",
                live.accounts, live.regions, live.api_calls
            ),
            None => format!("{} files", s.files),
        };
        eprintln!(
            "ecsguard: scanned {} task definitions, {} containers in {scope} in {:.0?}: {} findings, {} errors",
            s.task_definitions,
            s.containers,
            started.elapsed(),
            report.findings.len(),
            report.errors.len()
        );
        for (file, count) in &report.recognised {
            eprintln!(
                "ecsguard: {}: {count} task definition{}",
                output::text::clean(file),
                if *count == 1 { "" } else { "s" }
            );
        }
        if s.live.is_none() && s.task_definitions == 0 {
            eprintln!("ecsguard: no task definition was recognised in any file read");
        }
        eprint!("{}", output::text::suppressed(report));
    }
    // ASFF (to print or to send) is made once, with its account and region.
    let asff = if common.format == Format::Asff || hub.to_securityhub {
        match securityhub::prepare(report, hub) {
            Ok(a) => Some(a),
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(exit::INPUT_ERROR);
            }
        }
    } else {
        None
    };
    if let Err(message) = emit(report, common, asff.as_ref(), fixes) {
        eprintln!("error: {message}");
        return ExitCode::from(exit::INPUT_ERROR);
    }
    let code = exit_code(report, common.fail_on.into());
    if let (true, Some(asff)) = (hub.to_securityhub, &asff) {
        if !securityhub::send(report, hub, asff) {
            return ExitCode::from(exit::INPUT_ERROR);
        }
    }
    ExitCode::from(code)
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

/// Writes the result to `--output` or stdout, buffered; a closed pipe is not an error.
fn write_result(
    common: &CommonArgs,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    let mut sink: Box<dyn Write> = match &common.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = std::io::BufWriter::with_capacity(1 << 16, &mut sink);
    write(&mut sink)
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

fn emit(
    report: &Report,
    common: &CommonArgs,
    asff: Option<&securityhub::Prepared>,
    fixes: &std::collections::HashMap<output::sarif::FixKey, serde_sarif::sarif::Fix>,
) -> Result<(), String> {
    write_result(common, |mut sink| match common.format {
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
            fixes,
            &mut sink,
        )
        .map_err(std::io::Error::from),
        Format::Html => sink.write_all(output::html::render(report).as_bytes()),
        Format::Asff => {
            let findings = asff.map(|a| a.findings.as_slice()).unwrap_or_default();
            serde_json::to_writer_pretty(&mut *sink, &serde_json::json!({ "Findings": findings }))
                .map_err(std::io::Error::from)?;
            sink.write_all(b"\n")
        }
    })
}

/// A crash-injection hook for the test suite, compiled in only with the
/// `test-hooks` feature that `./scripts/test` turns on: a binary built
/// otherwise never takes its behaviour from these variables.
#[cfg(feature = "test-hooks")]
fn test_hook(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(not(feature = "test-hooks"))]
fn test_hook(_name: &str) -> Option<String> {
    None
}
