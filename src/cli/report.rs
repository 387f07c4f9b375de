//! `report log`, `report stats` and `report dispute`: the Board's view on the command line.

use super::{load_policies, runtime};
use crate::directory::Directory;
use crate::escalation::Reference;
use crate::report::{Period, Reports, log, pdf, record};
use crate::store::{RecordView, Store};
use anyhow::{Context, anyhow};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What every report command reads.
pub struct Sources<'a> {
    pub db: &'a str,
    pub policies: &'a Path,
    pub directory: &'a Path,
}

/// The directory file; the reports name people from the directory in use in the database,
/// which starts from it.
fn directory(path: &Path) -> anyhow::Result<Directory> {
    Directory::load(path).with_context(|| {
        format!(
            "the directory {} names the agencies and people in the reports; give the one the service runs with (--directory or DIRECTORY)",
            path.display()
        )
    })
}

fn write_out(out: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    match out {
        Some(path) => std::fs::write(path, bytes).with_context(|| {
            format!(
                "cannot write {}; check the folder exists and is writable",
                path.display()
            )
        }),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(bytes)?;
            stdout.flush()?;
            Ok(())
        }
    }
}

/// `report log --board ID [--from DATE] [--to DATE] [--format csv|json]`.
pub fn log(
    src: &Sources<'_>,
    board: &str,
    from: Option<&str>,
    to: Option<&str>,
    format: &str,
) -> anyhow::Result<ExitCode> {
    if !matches!(format, "csv" | "json") {
        return Err(anyhow!("--format {format:?} is not one of csv, json"));
    }
    let period = Period::parse(from, to).map_err(|e| anyhow!("--{e}"))?;
    let policies = load_policies(src.policies)?;
    let dir = directory(src.directory)?;
    runtime()?.block_on(async {
        let (store, dir) = open(src, &dir).await?;
        let reports = Reports {
            store: &store,
            policies: &policies,
            directory: &dir,
        };
        let rows = reports.log(board, period, None, chrono::Utc::now()).await?;
        let stage_word = &reports.board(board)?.policy.stage_word;
        let text = match format {
            "csv" => log::to_csv(&rows, stage_word),
            _ => serde_json::to_string_pretty(&rows)? + "\n",
        };
        write_out(None, text.as_bytes())?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The record, and the directory in use in it: reports name the people the Board applied since
/// the directory file, and those who left, as the service names them.
async fn open(src: &Sources<'_>, file: &Directory) -> anyhow::Result<(Store, Directory)> {
    let store = Store::open(src.db).await?;
    let (_, dir) = super::directory_in_use(&store, file).await?;
    Ok((store, dir))
}

/// `report stats --board ID [--from DATE] [--to DATE] [--format csv|json|html] [--out FILE]`.
pub fn stats(
    src: &Sources<'_>,
    board: &str,
    from: Option<&str>,
    to: Option<&str>,
    format: &str,
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    if !matches!(format, "csv" | "json" | "html") {
        return Err(anyhow!("--format {format:?} is not one of csv, json, html"));
    }
    let period = Period::parse(from, to).map_err(|e| anyhow!("--{e}"))?;
    let policies = load_policies(src.policies)?;
    let dir = directory(src.directory)?;
    runtime()?.block_on(async {
        let (store, dir) = open(src, &dir).await?;
        let reports = Reports {
            store: &store,
            policies: &policies,
            directory: &dir,
        };
        let stats = reports.stats(board, period, chrono::Utc::now()).await?;
        let policy = reports.board(board)?.policy;
        let text = match format {
            "csv" => stats.to_csv(&policy.stage_word),
            "html" => stats.to_html(&policy.name, &policy.stage_word, &period.words(), ""),
            _ => serde_json::to_string_pretty(&stats)? + "\n",
        };
        write_out(out, text.as_bytes())?;
        Ok(ExitCode::SUCCESS)
    })
}

/// `report form REF FORM --format html|pdf [--out FILE]`: generated from the record now; the
/// export is recorded as a view of the dispute.
pub fn form(
    src: &Sources<'_>,
    reference: &str,
    form: &str,
    format: &str,
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    if !matches!(format, "html" | "pdf") {
        return Err(anyhow!("--format {format:?} is not one of html, pdf"));
    }
    let reference = Reference::parse(reference).map_err(|e| {
        anyhow!("{reference:?} is not a dispute reference like DSAP-2026-0001 ({e})")
    })?;
    if format == "pdf" && out.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Err(anyhow!(
            "a PDF is not readable in a terminal; give --out FILE.pdf or redirect the output"
        ));
    }
    let policies = load_policies(src.policies)?;
    let dir = directory(src.directory)?;
    runtime()?.block_on(async {
        let (store, dir) = open(src, &dir).await?;
        let reports = Reports {
            store: &store,
            policies: &policies,
            directory: &dir,
        };
        let generated = reports.form(&reference, form, chrono::Utc::now()).await?;
        let bytes = match format {
            "pdf" => pdf::print(&generated.html).await?,
            _ => generated.html.into_bytes(),
        };
        let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        store
            .record_view(&RecordView {
                reference: reference.to_string(),
                person: format!("command line ({who})"),
                what: format!("form {form} {format}"),
                at: chrono::Utc::now(),
            })
            .await?;
        write_out(out, &bytes)?;
        Ok(ExitCode::SUCCESS)
    })
}

/// `report dispute REF --format html|json|pdf [--out FILE]`; the export is recorded as a view.
pub fn dispute(
    src: &Sources<'_>,
    reference: &str,
    format: &str,
    out: Option<&PathBuf>,
) -> anyhow::Result<ExitCode> {
    if !matches!(format, "html" | "json" | "pdf") {
        return Err(anyhow!("--format {format:?} is not one of html, json, pdf"));
    }
    let reference = Reference::parse(reference).map_err(|e| {
        anyhow!("{reference:?} is not a dispute reference like DSAP-2026-0001 ({e})")
    })?;
    let policies = load_policies(src.policies)?;
    let dir = directory(src.directory)?;
    runtime()?.block_on(async {
        let (store, dir) = open(src, &dir).await?;
        let reports = Reports {
            store: &store,
            policies: &policies,
            directory: &dir,
        };
        let doc: record::Document = reports.record(&reference).await?;
        let bytes = match format {
            "json" => (doc.to_json() + "\n").into_bytes(),
            "html" => doc.to_html().into_bytes(),
            _ => pdf::print(&doc.to_html()).await?,
        };
        if format == "pdf" && out.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout())
        {
            return Err(anyhow!(
                "a PDF is not readable in a terminal; give --out FILE.pdf or redirect the output"
            ));
        }
        let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        store
            .record_view(&RecordView {
                reference: reference.to_string(),
                person: format!("command line ({who})"),
                what: format!("export {format}"),
                at: chrono::Utc::now(),
            })
            .await?;
        write_out(out.map(PathBuf::as_path), &bytes)?;
        Ok(ExitCode::SUCCESS)
    })
}
