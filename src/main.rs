//! The `escalation-bot` command line: parse, load what is needed, call into the library.

#[cfg(feature = "bench")]
mod bench;

use clap::{Parser, Subcommand};
use escalation_bot::cli;
use std::path::PathBuf;
use std::process::ExitCode;

/// Requests allocate and free many small strings and JSON values across worker threads; the
/// system allocator spent a quarter of the write path's CPU on that (`bench write` under
/// `perf`), mimalloc a small part of it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "escalation-bot",
    version,
    about = "Runs Safeguarding Adults Boards' professional-disagreement procedures in Slack and Teams"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: Slack endpoints, health, metrics, and the delivery worker.
    Serve(Box<escalation_bot::config::ServeConfig>),
    /// Check and show board policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Print when a stage (or one of its named steps) is due: RFC 3339 with the UK offset, `none`
    /// where the procedure sets no limit, `not stated` where its text does not state one.
    Deadline {
        /// Policy id, e.g. `norfolk`.
        #[arg(long)]
        policy: String,
        /// Stage number.
        #[arg(long)]
        stage: u32,
        /// When the stage started (RFC 3339).
        #[arg(long)]
        started: String,
        /// When the disagreement was first raised (RFC 3339); needed for limits measured from it
        /// beyond stage 1.
        #[arg(long)]
        first_raised: Option<String>,
        /// When the disagreement arose (RFC 3339), for limits measured from arising; defaults to
        /// --first-raised.
        #[arg(long)]
        arose: Option<String>,
        /// Print this named step's deadline instead of the stage's: `--step written-response`.
        #[arg(long, value_name = "ID")]
        step: Option<String>,
        /// When a named step happened, for limits measured from it: `--done review=2026-06-10T10:00:00+01:00`.
        #[arg(long = "done", value_name = "ID=RFC3339")]
        done: Vec<String>,
        /// Folder of policy files.
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
    },
    /// Check text for client-identifiable detail before posting it (reads standard input).
    Screen {
        /// The directory whose professionals' and agencies' names pass, as in `serve`
        /// (default `policies/demo/directory.toml` when it exists).
        #[arg(long, env = "DIRECTORY")]
        directory: Option<PathBuf>,
    },
    /// Run a scripted scenario through the service and scheduler and print its timeline.
    Simulate {
        /// The scenario file, e.g. `policies/demo/norfolk-scenario.toml`.
        scenario: PathBuf,
        /// One JSON object per line instead of the readable timeline.
        #[arg(long)]
        json: bool,
        /// Folder of policy files.
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
        /// Record it in this database (a SQLite file or `postgres://` URL of its own) instead of a
        /// temporary SQLite file.
        #[arg(long)]
        db: Option<String>,
    },
    /// Check that the record has not been altered.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// The directory of agencies and people: check a file, import or export people as CSV.
    Directory {
        #[command(subcommand)]
        command: DirectoryCommand,
    },
    /// Microsoft Teams: build the app package for the Teams admin centre.
    Teams {
        #[command(subcommand)]
        command: TeamsCommand,
    },
    /// The Board's view: the challenge log, annual statistics, a dispute's record as a document.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Load-test a running `serve`: signed requests at a steady rate, latency and throughput out.
    #[cfg(feature = "bench")]
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

/// Where the report commands read from.
#[derive(clap::Args)]
struct ReportSources {
    /// The database: a SQLite file path or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = cli::DEFAULT_DATABASE)]
    db: String,
    /// The folder of board policies.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
    /// The directory of agencies and people the service runs with (names in the reports).
    #[arg(
        long,
        env = "DIRECTORY",
        default_value = "policies/demo/directory.toml"
    )]
    directory: PathBuf,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// A board's challenge log: one line per dispute raised in the period, to standard output.
    Log {
        /// The board's policy id, e.g. `durham`.
        #[arg(long)]
        board: String,
        /// First day of the period (raised on or after), e.g. 2026-04-01.
        #[arg(long)]
        from: Option<String>,
        /// Last day of the period (raised on or before), e.g. 2027-03-31.
        #[arg(long)]
        to: Option<String>,
        /// `csv` or `json`.
        #[arg(long, default_value = "csv")]
        format: String,
        #[command(flatten)]
        sources: ReportSources,
    },
    /// A board's statistics for a period: every figure as CSV or JSON, or a page with charts.
    Stats {
        #[arg(long)]
        board: String,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        /// `csv`, `json` or `html` (the page with its SVG charts).
        #[arg(long, default_value = "csv")]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        sources: ReportSources,
    },
    /// A dispute's complete record: every event with who, when and what, and the hash-chain check.
    Dispute {
        /// The dispute's reference, e.g. DSAP-2026-0001.
        reference: String,
        /// `html`, `json` or `pdf`.
        #[arg(long, default_value = "html")]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        sources: ReportSources,
    },
    /// A form or written account of one dispute, generated from its record (e.g. Durham's
    /// `managing-professional-differences`), as a printable page or a PDF.
    Form {
        /// The dispute's reference, e.g. DSAP-2026-0001.
        reference: String,
        /// The form's id, as the board's policy names it.
        form: String,
        /// `html` or `pdf`.
        #[arg(long, default_value = "html")]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        sources: ReportSources,
    },
}

#[derive(Subcommand)]
enum TeamsCommand {
    /// Write the upload-ready Teams app package (manifest with your app id and domain, icons).
    Package {
        /// The Azure Bot's Microsoft App ID (a GUID).
        #[arg(long = "app-id")]
        app_id: String,
        /// The public host name of this service, e.g. `escalation-bot.example.org`.
        #[arg(long)]
        domain: String,
        /// Where to write the zip.
        #[arg(long, default_value = "app.zip")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the whole log and check every hash link, the reference counters, the summaries and
    /// the request keys against it, and any signed checkpoints given; exit 1 naming each problem.
    Verify {
        /// Database URL (`postgres://…` or a SQLite file).
        #[arg(long, env = "DATABASE_URL", default_value = cli::DEFAULT_DATABASE)]
        db: String,
        /// A file of checkpoints (one per line, as `audit checkpoint` prints them or the board's
        /// channel shows them): the log must still hold each one.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// The public key that signed the checkpoints (hex, as `audit new-key` printed it);
        /// taken from AUDIT_SIGNING_KEY when that is set instead.
        #[arg(long = "public-key")]
        public_key: Option<String>,
        #[arg(
            long = "signing-key",
            env = "AUDIT_SIGNING_KEY",
            hide = true,
            hide_env_values = true
        )]
        signing_key: Option<String>,
    },
    /// Sign the record's head now and print it as one line: keep these lines outside the database
    /// (append them to a file) to prove later that nothing up to them was rewritten.
    Checkpoint {
        /// Database URL (`postgres://…` or a SQLite file).
        #[arg(long, env = "DATABASE_URL", default_value = cli::DEFAULT_DATABASE)]
        db: String,
        /// The checkpoint signing key (64 hex characters), as `audit new-key` made it.
        #[arg(
            long = "signing-key",
            env = "AUDIT_SIGNING_KEY",
            hide_env_values = true
        )]
        signing_key: String,
    },
    /// Make a new checkpoint signing key: set it as AUDIT_SIGNING_KEY and keep its public half
    /// with the board, away from the database.
    NewKey,
}

#[derive(Subcommand)]
enum DbCommand {
    /// Recompute every projection (open disputes, owners, deadlines, threads) from the events.
    RebuildProjections {
        /// Database URL (`postgres://…` or a SQLite file).
        #[arg(long, env = "DATABASE_URL", default_value = cli::DEFAULT_DATABASE)]
        db: String,
    },
}

#[derive(Subcommand)]
enum DirectoryCommand {
    /// Validate a directory file; every problem is printed. Exit 1 on any problem.
    Check {
        /// The directory file, e.g. `policies/demo/directory.toml`.
        file: PathBuf,
        /// Folder of policy files.
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
    },
    /// Check a CSV of people (header `name,email,agency,role,manager_email`) against the
    /// directory in use and apply it as one recorded change; every problem is printed with its
    /// line and nothing is applied then (exit 1). The file replaces the people of the agencies it
    /// names; others stay.
    Import {
        /// The CSV file, e.g. an HR or Active Directory export.
        file: PathBuf,
        /// Check and show what would change; apply nothing (exit 0 when the file is valid).
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        sources: DirectorySourceArgs,
    },
    /// Write the directory in use as the CSV `import` reads, to standard output.
    Export {
        #[command(flatten)]
        sources: DirectorySourceArgs,
    },
    /// List the chat identities linked to people by their work email.
    Links {
        /// Only this person's links.
        #[arg(long)]
        email: Option<String>,
        /// The database the service runs with: a SQLite file path or a postgres:// URL.
        #[arg(long, env = "DATABASE_URL", default_value = cli::DEFAULT_DATABASE)]
        db: String,
    },
    /// Undo a link between a chat identity and a person (recorded, with who undid it).
    Unlink {
        /// `slack` or `teams`.
        platform: String,
        /// The Slack team id or Teams tenant id.
        workspace: String,
        /// The Slack user id or Entra object id.
        user: String,
        /// Who is undoing it, for the record.
        #[arg(long)]
        by: String,
        /// The database the service runs with: a SQLite file path or a postgres:// URL.
        #[arg(long, env = "DATABASE_URL", default_value = cli::DEFAULT_DATABASE)]
        db: String,
    },
}

/// Where the directory in use is: the applied changes in the database, the agencies in the file.
#[derive(clap::Args)]
struct DirectorySourceArgs {
    /// The database the service runs with: a SQLite file path or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = cli::DEFAULT_DATABASE)]
    db: String,
    /// Folder of policy files.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
    /// The directory file the service runs with (its agencies, their email domains and channels).
    #[arg(
        long,
        env = "DIRECTORY",
        default_value = "policies/demo/directory.toml"
    )]
    directory: PathBuf,
}

impl DirectorySourceArgs {
    fn sources(&self) -> cli::DirectorySources<'_> {
        cli::DirectorySources {
            db: &self.db,
            policies: &self.policies,
            directory: &self.directory,
        }
    }
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate policy files; every problem is printed with its file and line. Exit 1 on any problem.
    Check {
        /// Files to check (default: every policies/*.toml).
        files: Vec<PathBuf>,
    },
    /// Print a policy's stages as a table.
    Show {
        /// Policy id, e.g. `durham`.
        id: String,
        /// Folder of policy files.
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(config) => cli::serve(*config),
        Command::Policy { command } => match command {
            PolicyCommand::Check { files } => cli::policy_check(&files),
            PolicyCommand::Show { id, policies } => cli::policy_show(&policies, &id),
        },
        Command::Deadline {
            policy,
            stage,
            started,
            first_raised,
            arose,
            step,
            done,
            policies,
        } => cli::deadline(&cli::DeadlineArgs {
            policies: &policies,
            policy: &policy,
            stage,
            started: &started,
            first_raised: first_raised.as_deref(),
            arose: arose.as_deref(),
            step: step.as_deref(),
            done: &done,
        }),
        Command::Screen { directory } => cli::screen(directory.as_deref()),
        Command::Simulate {
            scenario,
            json,
            policies,
            db,
        } => cli::simulate(&policies, &scenario, json, db.as_deref()),
        Command::Audit { command } => match command {
            AuditCommand::Verify {
                db,
                checkpoints,
                public_key,
                signing_key,
            } => cli::audit_verify(
                &db,
                checkpoints.as_deref(),
                public_key.as_deref(),
                signing_key.as_deref(),
            ),
            AuditCommand::Checkpoint { db, signing_key } => {
                cli::audit_checkpoint(&db, &signing_key)
            }
            AuditCommand::NewKey => cli::audit_new_key(),
        },
        Command::Db {
            command: DbCommand::RebuildProjections { db },
        } => cli::rebuild_projections(&db),
        Command::Directory { command } => match command {
            DirectoryCommand::Check { file, policies } => cli::directory_check(&policies, &file),
            DirectoryCommand::Import {
                file,
                dry_run,
                sources,
            } => cli::directory_import(&sources.sources(), &file, dry_run),
            DirectoryCommand::Export { sources } => cli::directory_export(&sources.sources()),
            DirectoryCommand::Links { email, db } => cli::directory_links(&db, email.as_deref()),
            DirectoryCommand::Unlink {
                platform,
                workspace,
                user,
                by,
                db,
            } => cli::directory_unlink(&db, &platform, &workspace, &user, &by),
        },
        Command::Teams {
            command:
                TeamsCommand::Package {
                    app_id,
                    domain,
                    out,
                },
        } => escalation_bot::chat::teams::package::run(&app_id, &domain, &out)
            .map_err(anyhow::Error::msg),
        Command::Report { command } => report(command),
        #[cfg(feature = "bench")]
        Command::Bench { command } => bench::run(command).map_err(anyhow::Error::msg),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("escalation-bot: {}", cli::report(&error));
            ExitCode::from(2)
        }
    }
}

fn report(command: ReportCommand) -> anyhow::Result<ExitCode> {
    use cli::report::{self, Sources};
    let sources = |s: &ReportSources| -> (String, PathBuf, PathBuf) {
        (s.db.clone(), s.policies.clone(), s.directory.clone())
    };
    match command {
        ReportCommand::Log {
            board,
            from,
            to,
            format,
            sources: s,
        } => {
            let (db, policies, directory) = sources(&s);
            report::log(
                &Sources {
                    db: &db,
                    policies: &policies,
                    directory: &directory,
                },
                &board,
                from.as_deref(),
                to.as_deref(),
                &format,
            )
        }
        ReportCommand::Stats {
            board,
            from,
            to,
            format,
            out,
            sources: s,
        } => {
            let (db, policies, directory) = sources(&s);
            report::stats(
                &Sources {
                    db: &db,
                    policies: &policies,
                    directory: &directory,
                },
                &board,
                from.as_deref(),
                to.as_deref(),
                &format,
                out.as_deref(),
            )
        }
        ReportCommand::Dispute {
            reference,
            format,
            out,
            sources: s,
        } => {
            let (db, policies, directory) = sources(&s);
            report::dispute(
                &Sources {
                    db: &db,
                    policies: &policies,
                    directory: &directory,
                },
                &reference,
                &format,
                out.as_ref(),
            )
        }
        ReportCommand::Form {
            reference,
            form,
            format,
            out,
            sources: s,
        } => {
            let (db, policies, directory) = sources(&s);
            report::form(
                &Sources {
                    db: &db,
                    policies: &policies,
                    directory: &directory,
                },
                &reference,
                &form,
                &format,
                out.as_deref(),
            )
        }
    }
}
