//! Scripted scenarios: a directory and timestamped commands, run through the core, printed as a timeline.
//!
//! The same scenario gives the same timeline whichever ledger keeps the events (memory, SQLite,
//! PostgreSQL): the runner only decides and appends, the ledger only stores.

mod scenario;
mod timeline;

pub use scenario::{Action, Scenario, ScenarioError, ScenarioStep};
pub use timeline::{Entry, render_json, render_text};

use crate::calendar::Calendar;
use crate::directory::Directory;
use crate::escalation::{
    self, Command, Context, Dispute, Event, Reference, Refusal, SystemCommand,
};
use crate::policy::{Policy, PolicySet};
use crate::store::{Batch, NewSchedule, Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Where a simulation keeps its events: in memory, or in the store for `--db`.
#[allow(async_fn_in_trait)]
pub trait Ledger {
    /// The error the ledger reports (a database error, say).
    type Error: std::fmt::Display;
    /// Allocates the next reference for a board and year and records the events `build` makes
    /// with it, or records nothing (and allocates nothing) when `build` refuses.
    async fn raise(
        &mut self,
        prefix: &str,
        year: i32,
        build: impl FnOnce(&Reference) -> Result<Vec<Event>, Refusal>,
    ) -> Result<Result<(Reference, Vec<Event>), Refusal>, Self::Error>;
    /// The dispute's state as the ledger holds it.
    async fn load(&mut self, reference: &Reference) -> Result<Dispute, Self::Error>;
    /// Appends events at the expected version.
    async fn append(
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

    async fn raise(
        &mut self,
        prefix: &str,
        year: i32,
        build: impl FnOnce(&Reference) -> Result<Vec<Event>, Refusal>,
    ) -> Result<Result<(Reference, Vec<Event>), Refusal>, Self::Error> {
        let next = self
            .counters
            .get(&(prefix.to_string(), year))
            .copied()
            .unwrap_or(0)
            + 1;
        let reference = Reference::new(prefix, year, next);
        match build(&reference) {
            Ok(events) => {
                self.counters.insert((prefix.to_string(), year), next);
                self.disputes.insert(reference.clone(), events.clone());
                Ok(Ok((reference, events)))
            }
            Err(refusal) => Ok(Err(refusal)),
        }
    }

    async fn load(&mut self, reference: &Reference) -> Result<Dispute, Self::Error> {
        Ok(Dispute::from_events(
            self.disputes.get(reference).into_iter().flatten(),
        ))
    }

    async fn append(
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

/// A ledger on the real store, so a scenario runs exactly as the service would record it.
#[derive(Debug)]
pub struct StoreLedger<'a>(pub &'a Store);

impl Ledger for StoreLedger<'_> {
    type Error = StoreError;

    async fn raise(
        &mut self,
        prefix: &str,
        year: i32,
        build: impl FnOnce(&Reference) -> Result<Vec<Event>, Refusal>,
    ) -> Result<Result<(Reference, Vec<Event>), Refusal>, Self::Error> {
        let made = self
            .0
            .create(prefix, year, |r| {
                build(r).map(|events| Batch {
                    events,
                    ..Batch::default()
                })
            })
            .await?;
        Ok(made.map(|(r, batch)| (r, batch.events)))
    }

    async fn load(&mut self, reference: &Reference) -> Result<Dispute, Self::Error> {
        self.0.load(reference).await
    }

    async fn append(
        &mut self,
        reference: &Reference,
        expected_version: u64,
        events: &[Event],
    ) -> Result<(), Self::Error> {
        let batch = Batch {
            events: events.to_vec(),
            ..Batch::default()
        };
        self.0.append(reference, expected_version, &batch).await
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
pub async fn run<L: Ledger>(
    scenario: &Scenario,
    policies: &PolicySet,
    ledger: &mut L,
) -> Result<Vec<Entry>, SimulationError> {
    let mut entries = Vec::new();
    run_each(scenario, policies, ledger, |e| entries.push(e)).await?;
    Ok(entries)
}

/// Scheduled work waiting in a simulation, in time order.
#[derive(Default)]
struct Queue {
    rows: BTreeMap<(DateTime<Utc>, String), (Reference, NewSchedule)>,
}

impl Queue {
    fn apply(&mut self, reference: &Reference, plan: crate::reminders::Plan) {
        self.rows
            .retain(|_, (r, row)| !(r == reference && plan.cancel.contains(&row.kind)));
        for row in plan.add {
            self.rows.insert(
                (row.due_at, row.idempotency_key.clone()),
                (reference.clone(), row),
            );
        }
    }

    fn pop_until(&mut self, until: DateTime<Utc>) -> Option<(Reference, NewSchedule)> {
        let first = self.rows.keys().next().cloned()?;
        if first.0 > until {
            return None;
        }
        self.rows.remove(&first)
    }
}

/// Runs a scenario like `run`, handing each timeline entry to `on_entry` as soon as the ledger
/// has recorded its events, so a caller can print what is already on record. The scheduler's
/// work (reminders, overdue prompts, nudges) runs as the scenario's time passes.
pub async fn run_each<L: Ledger>(
    scenario: &Scenario,
    policies: &PolicySet,
    ledger: &mut L,
    mut on_entry: impl FnMut(Entry),
) -> Result<(), SimulationError> {
    let policy = scenario.policy(policies)?;
    let directory = scenario.directory()?;
    let calendar = calendar_for(policy).map_err(SimulationError::Scenario)?;
    let mut current: Option<Reference> = None;
    let mut queue = Queue::default();
    let ledger_err = |e: L::Error| SimulationError::Ledger(e.to_string());
    let last = scenario.steps.last().map(|s| s.at);
    let until = scenario.until.or(last);
    let mut times: Vec<Option<&ScenarioStep>> = scenario.steps.iter().map(Some).collect();
    times.push(None);
    for (i, step) in times.into_iter().enumerate() {
        let horizon = match step {
            Some(s) => s.at,
            None => match until {
                Some(u) => u,
                None => break,
            },
        };
        // First, everything the scheduler would have done before this step.
        while let Some((reference, row)) = queue.pop_until(horizon) {
            let Ok(command) = serde_json::from_value::<SystemCommand>(row.payload.clone()) else {
                continue;
            };
            let state = ledger.load(&reference).await.map_err(ledger_err)?;
            let ctx = Context {
                policy,
                calendar: &calendar,
                directory: &directory,
                now: row.due_at,
            };
            let events: Vec<Event> = escalation::decide_system(&state, &command, &ctx)
                .into_iter()
                .map(|body| Event {
                    at: row.due_at,
                    actor: None,
                    body,
                })
                .collect();
            if events.is_empty() {
                continue;
            }
            ledger
                .append(&reference, state.version, &events)
                .await
                .map_err(ledger_err)?;
            let mut after = state;
            for e in &events {
                after.apply(e);
                on_entry(Entry::from_event(
                    &reference,
                    &after,
                    e,
                    &directory,
                    &policy.stage_word,
                ));
            }
            queue.apply(
                &reference,
                crate::reminders::plan(policy, &calendar, &after, &events, row.due_at),
            );
        }
        let Some(step) = step else { break };
        let fail = |message: String| SimulationError::Step {
            step: i + 1,
            at: crate::calendar::format_uk(step.at),
            message,
        };
        let ctx = Context {
            policy,
            calendar: &calendar,
            directory: &directory,
            now: step.at,
        };
        let outcome = if let Action::Raise(details) = &step.action {
            let year = crate::calendar::local_year(step.at);
            let raised = ledger
                .raise(&policy.reference_prefix, year, |reference| {
                    let command = Command::Raise {
                        reference: reference.clone(),
                        details: details.clone(),
                    };
                    escalation::handle(&Dispute::default(), &step.by, &command, &ctx)
                })
                .await
                .map_err(ledger_err)?;
            match raised {
                Ok((reference, events)) => Ok((reference, Dispute::default(), events)),
                Err(refusal) => Err((None, Dispute::default(), refusal)),
            }
        } else {
            let reference = current.clone().ok_or_else(|| {
                fail("the first step of a scenario must raise the challenge".into())
            })?;
            let state = ledger.load(&reference).await.map_err(ledger_err)?;
            let command = step.action.to_command(|| reference.clone());
            match escalation::handle(&state, &step.by, &command, &ctx) {
                Ok(events) => {
                    ledger
                        .append(&reference, state.version, &events)
                        .await
                        .map_err(ledger_err)?;
                    Ok((reference, state, events))
                }
                Err(refusal) => Err((Some(reference), state, refusal)),
            }
        };
        match (outcome, &step.expect_refusal) {
            (Ok(_), Some(_)) => {
                return Err(fail(format!(
                    "the scenario expects this step to be refused, but it was accepted ({})",
                    step.action.name()
                )));
            }
            (Ok((reference, mut state, events)), None) => {
                for e in &events {
                    state.apply(e);
                    on_entry(Entry::from_event(
                        &reference,
                        &state,
                        e,
                        &directory,
                        &policy.stage_word,
                    ));
                }
                queue.apply(
                    &reference,
                    crate::reminders::plan(policy, &calendar, &state, &events, step.at),
                );
                current = Some(reference);
            }
            (Err((reference, state, refusal)), Some(expected))
                if refusal.to_string().contains(expected.as_str()) =>
            {
                let label = reference.map(|r| r.to_string()).unwrap_or_default();
                on_entry(Entry::refused(
                    &label,
                    &state,
                    step,
                    &refusal,
                    &directory,
                    &policy.stage_word,
                ));
            }
            (Err((_, _, refusal)), Some(expected)) => {
                return Err(fail(format!(
                    "expected a refusal containing {expected:?}, but the refusal was: {refusal}"
                )));
            }
            (Err((_, _, refusal)), None) => {
                return Err(fail(format!(
                    "{} was refused: {refusal}",
                    step.action.name()
                )));
            }
        }
    }
    Ok(())
}

/// The working-day calendar a policy names.
pub fn calendar_for(policy: &Policy) -> Result<Calendar, ScenarioError> {
    policy.calendar().map_err(ScenarioError::Invalid)
}

/// Loads a directory for a scenario (shared with other commands that need one).
pub fn load_directory(path: &std::path::Path) -> Result<Directory, ScenarioError> {
    Directory::load(path).map_err(|e| ScenarioError::Invalid(e.to_string()))
}
