//! Scripted scenarios run on the real service and scheduler, printed as a timeline.
//!
//! A simulation is the production path with a hand-moved clock: it opens a `Service` on a
//! temporary SQLite file (or the database it is given), and for each step moves the clock on,
//! lets the real scheduler record everything that falls due before the step (reminders, overdue
//! prompts, nudges, at their due times), and then submits the step's command through the
//! service as an adapter would. The timeline is read back from the record, so a scenario that
//! passes here passes in production.

mod scenario;
mod timeline;

pub use scenario::{Action, Scenario, ScenarioError, ScenarioStep};
pub use timeline::{Entry, render_json, render_text};

use crate::directory::Directory;
use crate::escalation::{Dispute, Reference, Refusal};
use crate::policy::{Policy, PolicySet};
use crate::scheduler::Scheduler;
use crate::service::{ManualClock, Service, ServiceError};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::sync::Arc;

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
    #[error("cannot make a temporary database for the simulation")]
    TemporaryDatabase(#[source] std::io::Error),
    #[error("the simulation's database failed")]
    Database(#[from] StoreError),
    #[error("the service could not record the scenario")]
    Service(#[from] ServiceError),
    #[error("the scheduler could not record {key} due at {at}")]
    Scheduled {
        key: String,
        at: String,
        #[source]
        source: ServiceError,
    },
}

/// Runs a scenario and returns its whole timeline. `db` is the database to record it in (a
/// `Store::open` URL); without one, a temporary SQLite file that is deleted afterwards.
pub async fn run(
    scenario: &Scenario,
    policies: &PolicySet,
    db: Option<&str>,
) -> Result<Vec<Entry>, SimulationError> {
    let mut entries = Vec::new();
    run_each(scenario, policies, db, |e| entries.push(e)).await?;
    Ok(entries)
}

/// Runs a scenario like `run`, handing each timeline entry to `on_entry` as soon as its event is
/// on record, so a caller can print what is already stored even if it is stopped half-way.
pub async fn run_each(
    scenario: &Scenario,
    policies: &PolicySet,
    db: Option<&str>,
    on_entry: impl FnMut(Entry),
) -> Result<(), SimulationError> {
    let policy = scenario.policy(policies)?;
    let directory = scenario.directory()?;
    let Some(first) = scenario.steps.first() else {
        return Ok(());
    };
    let (store, _temporary) = match db {
        Some(url) => (Store::open(url).await?, None),
        None => {
            let folder = tempfile::tempdir().map_err(SimulationError::TemporaryDatabase)?;
            let file = folder.path().join("simulation.db");
            let store = Store::open(&file.to_string_lossy()).await?;
            (store, Some(folder))
        }
    };
    let clock = Arc::new(ManualClock::frozen_at(first.at));
    let service = Arc::new(Service::new(
        store,
        Arc::new(policies.clone()),
        Arc::new(directory),
        clock.clone(),
    )?);
    let mut run = Run {
        scheduler: Scheduler::new(service.clone(), "simulate".into()),
        service,
        clock,
        policy,
        disputes: Vec::new(),
        on_entry,
    };
    run.scenario(scenario).await
}

/// One simulation in progress: the service, its clock, and what has been reported so far.
struct Run<'a, F> {
    service: Arc<Service>,
    clock: Arc<ManualClock>,
    scheduler: Scheduler,
    policy: &'a Policy,
    /// The disputes this scenario raised, with their state as far as it has been reported.
    disputes: Vec<(Reference, Dispute)>,
    on_entry: F,
}

impl<F: FnMut(Entry)> Run<'_, F> {
    async fn scenario(&mut self, scenario: &Scenario) -> Result<(), SimulationError> {
        let mut previous: Option<DateTime<Utc>> = None;
        for (i, step) in scenario.steps.iter().enumerate() {
            let fail = |message: String| SimulationError::Step {
                step: i + 1,
                at: crate::calendar::format_uk(step.at),
                message,
            };
            if let Some(previous) = previous.filter(|p| step.at < *p) {
                return Err(fail(format!(
                    "the steps must be in the order they happen, but this one comes before the step above it ({}); move it up or correct its time",
                    crate::calendar::format_uk(previous)
                )));
            }
            previous = Some(step.at);
            self.scheduled_until(step.at).await?;
            self.clock.set(step.at);
            self.step(step, fail).await?;
        }
        if let Some(until) = scenario.until {
            self.scheduled_until(until).await?;
        }
        Ok(())
    }

    /// Lets the scheduler record everything due up to `horizon`, moving the clock from one due
    /// row to the next so each is recorded at its own time.
    async fn scheduled_until(&mut self, horizon: DateTime<Utc>) -> Result<(), SimulationError> {
        while let Some(due) = self.service.next_scheduled().await?
            && due <= horizon
        {
            self.clock.set(due);
            let tick = self.scheduler.work_due().await?;
            if let Some(failed) = tick.failed.into_iter().next() {
                return Err(SimulationError::Scheduled {
                    key: failed.key,
                    at: crate::calendar::format_uk(due),
                    source: failed.error,
                });
            }
            if tick.handled == 0 {
                // Due work this scheduler cannot claim: another process holds it.
                return Err(SimulationError::Step {
                    step: 0,
                    at: crate::calendar::format_uk(due),
                    message: "scheduled work is held by another process using this database; run the simulation on a database of its own".into(),
                });
            }
            self.report().await?;
        }
        Ok(())
    }

    /// Submits one step through the service and reports what it recorded or why it was refused.
    async fn step(
        &mut self,
        step: &ScenarioStep,
        fail: impl Fn(String) -> SimulationError,
    ) -> Result<(), SimulationError> {
        let outcome = match &step.action {
            Action::Raise(details) => {
                if let Ok((board, _)) = self.service.policy_of(&step.by)
                    && board.id != self.policy.id
                {
                    return Err(fail(format!(
                        "{} works under the {} procedure, but the scenario names {}; raise as someone from one of {}'s agencies or change the scenario's policy",
                        step.by.0, board.id, self.policy.id, self.policy.id
                    )));
                }
                let raised = self
                    .service
                    .raise(&step.by, details.clone(), None, None)
                    .await;
                if let Ok(outcome) = &raised {
                    self.disputes
                        .push((outcome.reference.clone(), Dispute::default()));
                }
                raised.map(|_| ()).map_err(|e| (None, e))
            }
            _ => {
                let Some(reference) = self.disputes.last().map(|(r, _)| r.clone()) else {
                    return Err(fail(
                        "the first step of a scenario must raise the challenge".into(),
                    ));
                };
                let command = step.action.to_command(|| reference.clone());
                self.service
                    .act(&step.by, &reference, &command, None, None)
                    .await
                    .map(|_| ())
                    .map_err(|e| (Some(reference), e))
            }
        };
        match (outcome, &step.expect_refusal) {
            (Ok(()), Some(_)) => Err(fail(format!(
                "the scenario expects this step to be refused, but it was accepted ({})",
                step.action.name()
            ))),
            (Ok(()), None) => self.report().await,
            (Err((reference, ServiceError::Refused(refusal))), Some(expected))
                if refusal.to_string().contains(expected.as_str()) =>
            {
                self.refused(reference, step, &refusal);
                Ok(())
            }
            (Err((_, ServiceError::Refused(refusal))), Some(expected)) => Err(fail(format!(
                "expected a refusal containing {expected:?}, but the refusal was: {refusal}"
            ))),
            (Err((_, ServiceError::Refused(refusal))), None) => Err(fail(format!(
                "{} was refused: {refusal}",
                step.action.name()
            ))),
            (Err((_, e)), _) => Err(e.into()),
        }
    }

    /// Reports every event recorded on this scenario's disputes since the last report, in the
    /// order the record holds them.
    async fn report(&mut self) -> Result<(), SimulationError> {
        for (reference, state) in &mut self.disputes {
            let events = self.service.events(reference).await?;
            let reported = usize::try_from(state.version).unwrap_or(usize::MAX);
            for event in events.iter().skip(reported) {
                state.apply(event);
                (self.on_entry)(Entry::from_event(
                    reference,
                    state,
                    event,
                    &self.service.directory(),
                    &self.policy.stage_word,
                ));
            }
        }
        Ok(())
    }

    fn refused(&mut self, reference: Option<Reference>, step: &ScenarioStep, refusal: &Refusal) {
        let state = reference
            .as_ref()
            .and_then(|r| self.disputes.iter().find(|(d, _)| d == r))
            .map(|(_, state)| state.clone())
            .unwrap_or_default();
        let label = reference.map(|r| r.to_string()).unwrap_or_default();
        (self.on_entry)(Entry::refused(
            &label,
            &state,
            step,
            refusal,
            &self.service.directory(),
            &self.policy.stage_word,
        ));
    }
}

/// Loads a directory for a scenario (shared with other commands that need one).
pub fn load_directory(path: &std::path::Path) -> Result<Directory, ScenarioError> {
    Directory::load(path).map_err(|e| ScenarioError::Invalid(e.to_string()))
}
