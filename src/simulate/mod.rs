//! Scripted scenarios: a directory and timestamped commands, run through the core, printed as a timeline.
//!
//! The same scenario gives the same timeline whichever ledger keeps the events (memory, SQLite,
//! PostgreSQL): the runner only decides and appends, the ledger only stores.

mod scenario;
mod timeline;

pub use scenario::{Action, Scenario, ScenarioError, ScenarioStep};
pub use timeline::{Entry, render_json, render_text};

use crate::calendar::{BankHolidays, Calendar};
use crate::directory::Directory;
use crate::escalation::{self, Context, Dispute, Event, Reference};
use crate::policy::{Policy, PolicySet};
use std::collections::BTreeMap;

/// Where a simulation keeps its events: in memory here, in the store for `--db`.
pub trait Ledger {
    /// The error the ledger reports (a database error, say).
    type Error: std::fmt::Display;
    /// The next reference for a board prefix and year.
    fn next_reference(&mut self, prefix: &str, year: i32) -> Result<Reference, Self::Error>;
    /// The dispute's state as the ledger holds it.
    fn load(&mut self, reference: &Reference) -> Result<Dispute, Self::Error>;
    /// Appends events at the expected version.
    fn append(
        &mut self,
        reference: &Reference,
        expected_version: u64,
        events: &[Event],
    ) -> Result<(), Self::Error>;
}

/// A ledger in memory, for simulations and tests.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    disputes: BTreeMap<Reference, Vec<Event>>,
    counters: BTreeMap<(String, i32), u32>,
}

impl Ledger for MemoryLedger {
    type Error = std::convert::Infallible;

    fn next_reference(&mut self, prefix: &str, year: i32) -> Result<Reference, Self::Error> {
        let n = self.counters.entry((prefix.to_string(), year)).or_insert(0);
        *n += 1;
        Ok(Reference::new(prefix, year, *n))
    }

    fn load(&mut self, reference: &Reference) -> Result<Dispute, Self::Error> {
        Ok(Dispute::from_events(
            self.disputes.get(reference).into_iter().flatten(),
        ))
    }

    fn append(
        &mut self,
        reference: &Reference,
        _expected_version: u64,
        events: &[Event],
    ) -> Result<(), Self::Error> {
        self.disputes
            .entry(reference.clone())
            .or_default()
            .extend_from_slice(events);
        Ok(())
    }
}

/// Why a simulation stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimulationError {
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    #[error("step {step} ({at}): {message}")]
    Step {
        step: usize,
        at: String,
        message: String,
    },
    #[error("the ledger failed: {0}")]
    Ledger(String),
}

/// Runs a scenario through the core into a ledger, returning the timeline.
pub fn run<L: Ledger>(
    scenario: &Scenario,
    policies: &PolicySet,
    ledger: &mut L,
) -> Result<Vec<Entry>, SimulationError> {
    let policy = scenario.policy(policies)?;
    let directory = scenario.directory()?;
    let calendar = calendar_for(policy).map_err(SimulationError::Scenario)?;
    let mut entries = Vec::new();
    let mut current: Option<Reference> = None;
    for (i, step) in scenario.steps.iter().enumerate() {
        let n = i + 1;
        let fail = |message: String| SimulationError::Step {
            step: n,
            at: step.at.to_rfc3339(),
            message,
        };
        let ledger_err = |e: L::Error| SimulationError::Ledger(e.to_string());
        let ctx = Context {
            policy,
            calendar: &calendar,
            directory: &directory,
            now: step.at,
        };
        let reference = match (&step.action, &current) {
            (Action::Raise(_), _) => ledger
                .next_reference(&policy.reference_prefix, crate::calendar::local_year(step.at))
                .map_err(ledger_err)?,
            (_, Some(r)) => r.clone(),
            (_, None) => {
                return Err(fail(
                    "the first step of a scenario must raise the challenge".into(),
                ));
            }
        };
        let command = step.action.to_command(|| reference.clone());
        let state = ledger.load(&reference).map_err(ledger_err)?;
        match escalation::handle(&state, &step.by, &command, &ctx) {
            Ok(events) => {
                if step.expect_refusal.is_some() {
                    return Err(fail(format!(
                        "the scenario expects this {} to be refused, but it was accepted",
                        command.name()
                    )));
                }
                ledger
                    .append(&reference, state.version, &events)
                    .map_err(ledger_err)?;
                let mut after = state.clone();
                for e in &events {
                    after.apply(e);
                    entries.push(Entry::from_event(&reference, &after, e, &directory));
                }
                current = Some(reference);
            }
            Err(refusal) => match &step.expect_refusal {
                Some(expected) if refusal.to_string().contains(expected.as_str()) => {
                    entries.push(Entry::refused(&reference, &state, step, &command, &refusal));
                }
                Some(expected) => {
                    return Err(fail(format!(
                        "expected a refusal containing {expected:?}, but the refusal was: {refusal}"
                    )));
                }
                None => return Err(fail(format!("{} was refused: {refusal}", command.name()))),
            },
        }
    }
    Ok(entries)
}

/// The working-day calendar a policy names.
pub fn calendar_for(policy: &Policy) -> Result<Calendar, ScenarioError> {
    BankHolidays::embedded()
        .calendar(&policy.calendar, policy.hours)
        .map_err(|e| ScenarioError::Invalid(e.to_string()))
}

/// Loads a directory for a scenario (shared with other commands that need one).
pub fn load_directory(path: &std::path::Path) -> Result<Directory, ScenarioError> {
    Directory::load(path).map_err(|e| ScenarioError::Invalid(e.to_string()))
}
