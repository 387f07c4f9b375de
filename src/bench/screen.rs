//! `escalation-bot bench screen`: the privacy screen's speed (microseconds per kilobyte of
//! text) and its figures on the labelled corpus, per kind and per split.
//!
//! The corpus (`tests/screen-corpus.tsv`) is screened with the directory's professionals
//! and agencies allowed, exactly as the service screens. `tune` rows are the ones the screen
//! was developed against, `held` rows were kept aside; both are reported, and all together.

use clap::Args;
use escalation_bot::directory::Directory;
use escalation_bot::privacy::evaluate::{self, CORPUS};
use escalation_bot::privacy::{Allow, screen_with};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct ScreenArgs {
    /// A corpus file in the same format instead of the shipped one.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// The directory whose professionals and agencies pass.
    #[arg(long, default_value = "policies/demo/directory.toml")]
    directory: PathBuf,
    /// How many times to screen the whole corpus for the timing.
    #[arg(long, default_value_t = 200)]
    rounds: u32,
}

pub fn run(args: ScreenArgs) -> Result<ExitCode, String> {
    let directory = Directory::load(&args.directory).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let allow = Allow::from_directory(&directory);
    let allow_us = started.elapsed().as_secs_f64() * 1e6;

    let text = match &args.corpus {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => CORPUS.to_string(),
    };
    let lines = evaluate::parse(&text)?;
    for (title, split) in [
        ("tune split", Some("tune")),
        ("held-out split", Some("held")),
        ("all lines", None),
    ] {
        println!("== {title}");
        print!("{}", evaluate::evaluate(&lines, split, &allow));
    }

    // Speed: every line screened `rounds` times, as one message each.
    let bytes: usize = lines.iter().map(|l| l.text.len()).sum();
    let rounds = args.rounds.max(1);
    let mut findings = 0usize;
    let started = Instant::now();
    for _ in 0..rounds {
        for line in &lines {
            findings += screen_with(line.text, &allow).len();
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let kilobytes = bytes as f64 * f64::from(rounds) / 1024.0;
    // One long message: the corpus joined into a single text.
    let long: String = lines.iter().map(|l| l.text).collect::<Vec<_>>().join(". ");
    let started = Instant::now();
    for _ in 0..rounds {
        findings += screen_with(&long, &allow).len();
    }
    let long_elapsed = started.elapsed().as_secs_f64();
    println!("== speed");
    println!(
        "{} lines ({} bytes), {rounds} rounds: {:.1} µs per KB as short messages, {:.1} µs per KB as one {} byte text, {:.1} µs per line",
        lines.len(),
        bytes,
        elapsed * 1e6 / kilobytes,
        long_elapsed * 1e6 / (long.len() as f64 * f64::from(rounds) / 1024.0),
        long.len(),
        elapsed * 1e6 / (lines.len() as f64 * f64::from(rounds)),
    );
    // The first call builds the list and keeps it; the ones timed find it kept.
    std::hint::black_box(Allow::for_directory(&directory));
    let started = Instant::now();
    for _ in 0..100 {
        std::hint::black_box(Allow::for_directory(&directory));
    }
    let cached_us = started.elapsed().as_secs_f64() * 1e6 / 100.0;
    println!(
        "the directory's allow list ({} people): built in {allow_us:.0} µs, then {cached_us:.1} µs from the cache per command field ({findings} findings counted)",
        directory.people().count()
    );
    Ok(ExitCode::SUCCESS)
}
