//! `mlguard import-mlflow`: runs the storage crate's import and shows its report.
//! The summary goes to stdout, the progress bar to stderr.

use std::io::{IsTerminal, Write};

use mlguard_storage::{
    ImportProgress, ImportReport, ImportedKind, IssueOutcome, MlflowImportOptions, Store, Tally,
};

use crate::cli::CliError;

/// Below this many rows an import is quick enough to need no progress bar.
const PROGRESS_FROM_ROWS: u64 = 1_000;
const BAR_WIDTH: u64 = 30;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// MLflow's basic-auth database (`database_uri` in basic_auth.ini):
    /// sqlite://RELATIVE.db, sqlite:///ABSOLUTE/PATH.db or postgresql://USER@HOST/DB.
    /// Prefer PGPASSWORD or ~/.pgpass to a password in the URL.
    #[arg(long = "from", value_name = "DATABASE_URL")]
    from: String,
    /// Show what would be imported, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Where a user or grant already exists in mlguard with different data, replace
    /// it with MLflow's instead of reporting a conflict and keeping mlguard's.
    #[arg(long)]
    overwrite: bool,
}

pub fn run(store: &Store, args: &ImportArgs) -> Result<(), CliError> {
    let options = MlflowImportOptions {
        dry_run: args.dry_run,
        overwrite: args.overwrite,
    };
    let mut bar = ProgressBar::new(std::io::stderr().is_terminal());
    let report = store
        .import_mlflow(&args.from, &options, &mut |p| bar.show(p))
        .map_err(|e| format!("import-mlflow failed, nothing was changed: {e}"))?;
    bar.finish();
    let mut out = std::io::stdout().lock();
    write_report(&mut out, &report)?;
    out.flush()?;
    Ok(())
}

/// A bar redrawn in place on a terminal; elsewhere (a log, CI) a line per tenth.
struct ProgressBar {
    terminal: bool,
    shown_tenths: Option<u64>,
    drawn: bool,
}

impl ProgressBar {
    fn new(terminal: bool) -> Self {
        ProgressBar {
            terminal,
            shown_tenths: None,
            drawn: false,
        }
    }

    fn show(&mut self, progress: ImportProgress) {
        if progress.total < PROGRESS_FROM_ROWS {
            return;
        }
        let mut err = std::io::stderr().lock();
        let percent = progress.done * 100 / progress.total;
        // Failing to draw progress must not fail the import.
        if self.terminal {
            let filled = progress.done * BAR_WIDTH / progress.total;
            let bar: String = (0..BAR_WIDTH)
                .map(|i| if i < filled { '#' } else { '-' })
                .collect();
            let _ = write!(
                err,
                "\rimporting [{bar}] {percent:3}% ({}/{} rows)",
                progress.done, progress.total
            );
            self.drawn = true;
        } else {
            let tenths = percent / 10;
            if self.shown_tenths != Some(tenths) {
                self.shown_tenths = Some(tenths);
                let _ = writeln!(
                    err,
                    "importing: {percent}% ({}/{} rows)",
                    progress.done, progress.total
                );
            }
        }
    }

    fn finish(&self) {
        if self.drawn {
            let _ = writeln!(std::io::stderr());
        }
    }
}

fn write_report(out: &mut impl Write, report: &ImportReport) -> std::io::Result<()> {
    match &report.schema_revision {
        Some(revision) => writeln!(
            out,
            "MLflow basic-auth database {} (schema revision {})",
            printable(&report.source),
            printable(revision)
        )?,
        None => writeln!(
            out,
            "MLflow basic-auth database {} (no schema revision recorded)",
            printable(&report.source)
        )?,
    }
    for note in &report.notes {
        writeln!(out, "note: {}", printable(note))?;
    }
    if !report.issues.is_empty() {
        writeln!(out)?;
        for issue in &report.issues {
            writeln!(
                out,
                "{:<11}  {}: {}",
                issue.outcome,
                printable(&issue.subject),
                printable(&issue.reason)
            )?;
        }
    }

    writeln!(out)?;
    let header = [
        "found",
        "created",
        "updated",
        "unchanged",
        "skipped",
        "conflicts",
    ];
    let label_width = ImportedKind::ALL
        .iter()
        .map(|k| k.label().len())
        .max()
        .unwrap_or(0);
    write!(out, "{:<label_width$}", "")?;
    for column in header {
        write!(out, "  {column:>9}")?;
    }
    writeln!(out)?;
    let mut grants_total = Tally::default();
    for (kind, tally) in &report.tallies {
        write_row(out, kind.label(), label_width, tally)?;
        if kind.is_grant() {
            add(&mut grants_total, tally);
        }
    }
    write_row(out, "all grants", label_width, &grants_total)?;
    writeln!(out)?;

    let users = report.tally(ImportedKind::User);
    let conflicts = users.conflicts + grants_total.conflicts;
    let skipped = users.skipped + grants_total.skipped;
    if report.dry_run {
        writeln!(
            out,
            "Dry run: nothing was written. A real run would create {} user(s) and {} grant(s) \
             and update {} user(s) and {} grant(s).{}",
            users.created,
            grants_total.created,
            users.updated,
            grants_total.updated,
            role_changes(report)
        )?;
    } else if report.changes_anything() {
        writeln!(
            out,
            "Imported: created {} user(s) and {} grant(s), updated {} user(s) and {} grant(s).{}",
            users.created,
            grants_total.created,
            users.updated,
            grants_total.updated,
            role_changes(report)
        )?;
    } else {
        writeln!(
            out,
            "Nothing to do: mlguard already has everything that could be imported."
        )?;
    }
    if skipped > 0 {
        writeln!(
            out,
            "{skipped} row(s) could not be imported; each is listed above with the reason."
        )?;
    }
    if conflicts > 0 {
        writeln!(
            out,
            "{conflicts} conflict(s) kept mlguard's data; run again with --overwrite to take \
             MLflow's instead."
        )?;
    }
    let overwritten = report
        .issues
        .iter()
        .filter(|i| i.outcome == IssueOutcome::Overwritten)
        .count();
    if overwritten > 0 {
        writeln!(
            out,
            "{overwritten} conflict(s) were overwritten with MLflow's data."
        )?;
    }
    Ok(())
}

/// The roles and assignments part of the closing sentence, when there are any.
fn role_changes(report: &ImportReport) -> String {
    let roles = report.tally(ImportedKind::Role);
    let assignments = report.tally(ImportedKind::Assignment);
    if roles.created + roles.updated + assignments.created == 0 {
        return String::new();
    }
    format!(
        " Roles: {} created, {} updated; {} role assignment(s) created.",
        roles.created, roles.updated, assignments.created
    )
}

fn write_row(
    out: &mut impl Write,
    label: &str,
    label_width: usize,
    tally: &Tally,
) -> std::io::Result<()> {
    write!(out, "{label:<label_width$}")?;
    for value in [
        tally.found,
        tally.created,
        tally.updated,
        tally.unchanged,
        tally.skipped,
        tally.conflicts,
    ] {
        write!(out, "  {value:>9}")?;
    }
    writeln!(out)
}

fn add(total: &mut Tally, tally: &Tally) {
    total.found += tally.found;
    total.created += tally.created;
    total.updated += tally.updated;
    total.unchanged += tally.unchanged;
    total.skipped += tally.skipped;
    total.conflicts += tally.conflicts;
}

/// Names and values in the report come from the MLflow database: control characters
/// are shown escaped, so that none can drive the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_from_the_source_are_escaped() {
        assert_eq!(printable("bob\u{1b}[2J\n"), "bob\\u{1b}[2J\\n");
        assert_eq!(printable("plain ünïcode"), "plain ünïcode");
    }
}
