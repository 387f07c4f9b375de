//! The one writer: every change to a dispute goes through it, and it group-commits.
//!
//! Requests queue their work on a channel. The writer takes whatever is waiting, decides each
//! piece in arrival order on the current state (the state the group's earlier pieces on the
//! same dispute leave, else the writer's cache, else the stored snapshot), and appends all the
//! decisions in one transaction, so many requests share one sync to disk. Nobody is answered
//! before the group is committed. A refusal or a conflict touches only its own request (and the
//! later ones on the same dispute, which are decided again on the fresh state); the rest of the
//! group commits. Raises allocate a reference inside their own transaction and are written one
//! at a time, in turn with the groups. While one group is being written, the next is decided on
//! the states the written one leaves, so deciding and writing overlap.

use super::{Outcome, ServiceError};
use crate::calendar::{Calendar, local_year};
use crate::directory::{Directory, PersonId};
use crate::escalation::{
    self, Command, Context, Dispute, Event, EventBody, RaiseDetails, Reference, Refusal,
    SystemCommand,
};
use crate::policy::{Policy, PolicySet};
use crate::posts::{Origin, fanout};
use crate::store::{Batch, SentRow, Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

use super::clock::Clock;

/// How many times a request is decided again after other replicas changed its dispute first.
const CONFLICT_RETRIES: u32 = 8;
/// Most requests in one group (one transaction).
const MAX_GROUP: usize = 512;
/// Most dispute states the writer keeps between groups.
const MAX_CACHED: usize = 4096;

/// A change someone asked for, as data the writer decides on the state it finds.
#[derive(Debug, Clone)]
pub(super) enum Work {
    /// A person's command on an existing dispute.
    Act {
        actor: PersonId,
        reference: Reference,
        command: Command,
        origin: Option<Origin>,
        inbound_key: Option<String>,
    },
    /// Scheduled work (a reminder, an overdue prompt, a nudge).
    System {
        reference: Reference,
        command: SystemCommand,
        inbound_key: Option<String>,
    },
    /// A fact the service observed (a thread opened), with the post it came from to mark
    /// sent in the same transaction.
    Record {
        reference: Reference,
        body: EventBody,
        sent: Option<SentRow>,
    },
    /// A new challenge.
    Raise {
        actor: PersonId,
        details: RaiseDetails,
        origin: Option<Origin>,
        inbound_key: Option<String>,
    },
}

impl Work {
    fn reference(&self) -> Option<&Reference> {
        match self {
            Work::Act { reference, .. }
            | Work::System { reference, .. }
            | Work::Record { reference, .. } => Some(reference),
            Work::Raise { .. } => None,
        }
    }
}

type Answer = Result<Option<Outcome>, ServiceError>;

struct Job {
    work: Work,
    retries: u32,
    /// Decide on the stored state, not a remembered one.
    fresh: bool,
    reply: oneshot::Sender<Answer>,
}

/// What decisions need: the policies and their calendars, the directory, the clock, the store.
pub(super) struct Decider {
    pub(super) store: Store,
    pub(super) policies: Arc<PolicySet>,
    /// The directory in use, shared with the service, which swaps it when a Board applies a change.
    pub(super) directory: Arc<std::sync::RwLock<Arc<Directory>>>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) calendars: BTreeMap<String, Calendar>,
    /// The address links in chat point at, set once at start-up.
    pub(super) public_url: std::sync::OnceLock<String>,
    /// The content of the directory version in use while the store does not keep it yet (the
    /// directory file's, at start-up): recorded before the first events that name it.
    pub(super) unrecorded: std::sync::Mutex<Option<String>>,
    /// Disputes as this writer last committed them: what the next request on one is decided
    /// on, and what readers are shown without going to the store.
    pub(super) committed: Committed,
}

/// Dispute states as committed by this process's writer, shared with readers.
#[derive(Default)]
pub(super) struct Committed(std::sync::Mutex<HashMap<Reference, Dispute>>);

impl Committed {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Reference, Dispute>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A dispute as this writer last committed it, if it remembers it.
    pub(super) fn get(&self, reference: &Reference) -> Option<Dispute> {
        self.map().get(reference).cloned()
    }

    fn forget(&self, reference: &Reference) {
        self.map().remove(reference);
    }
}

impl Decider {
    /// The directory in use now: one decision holds it from start to end.
    fn directory(&self) -> Arc<Directory> {
        self.directory
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Keeps the directory version in use in the store if it is not kept yet, so that every
    /// event naming it can be followed to who was who. A failure is retried on the next group.
    async fn record_directory_in_use(&self) {
        let pending = self
            .unrecorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(content) = pending else { return };
        if let Err(e) = self
            .store
            .record_directory(&content, self.clock.now())
            .await
        {
            tracing::warn!(error = %e, "the directory in use could not be kept yet; trying again");
            *self.unrecorded.lock().unwrap_or_else(|p| p.into_inner()) = Some(content);
        }
    }

    /// The address links in chat point at (the Board view's forms), without a trailing slash.
    pub(super) fn public_url(&self) -> String {
        self.public_url
            .get()
            .map_or(super::board::DEFAULT_PUBLIC_URL, String::as_str)
            .trim_end_matches('/')
            .to_string()
    }

    /// The policy and calendar of a board.
    pub(super) fn policy(&self, id: &str) -> Result<(&Policy, &Calendar), ServiceError> {
        match (self.policies.get(id), self.calendars.get(id)) {
            (Some(p), Some(c)) => Ok((p, c)),
            _ => Err(ServiceError::Setup(format!(
                "the board policy {id:?} is not loaded"
            ))),
        }
    }

    fn context<'a>(
        &'a self,
        before: &Dispute,
        directory: &'a Directory,
    ) -> Result<Context<'a>, ServiceError> {
        let (policy, calendar) = self.policy(&before.policy)?;
        Ok(Context {
            policy,
            calendar,
            directory,
            now: self.clock.now(),
        })
    }

    /// Everything a decision writes: its events, the posts they cause, and the schedule changes.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn batch(
        &self,
        policy: &Policy,
        calendar: &Calendar,
        before: &Dispute,
        events: Vec<Event>,
        origin: Option<&Origin>,
        inbound_key: Option<String>,
        now: DateTime<Utc>,
        dir: &Directory,
    ) -> Batch {
        let mut events = events;
        for e in &mut events {
            e.directory = dir.version().cloned();
        }
        let mut after = before.clone();
        for e in &events {
            after.apply(e);
        }
        let schedule = crate::reminders::plan(policy, calendar, &after, &events, now);
        let mut outbox = fanout::plan(policy, calendar, dir, before, &events, origin);
        let scene = crate::posts::compose::Scene {
            policy,
            calendar,
            dir,
            now,
        };
        outbox.extend(fanout::form_links(
            &scene,
            before,
            &events,
            &self.public_url(),
        ));
        Batch {
            outbox,
            events,
            schedule: schedule.add,
            cancel_schedule_kinds: schedule.cancel,
            inbound_key,
            after: Some(after),
            before: Some(before.clone()),
            sent: None,
        }
    }

    /// Decides work on an existing dispute: what to append (`None`: nothing, it is stale).
    fn decide(&self, work: &Work, before: &Dispute) -> Result<Option<Batch>, ServiceError> {
        let Some(reference) = work.reference() else {
            return Ok(None);
        };
        if before.reference.is_none() {
            return Err(ServiceError::UnknownDispute(reference.to_string()));
        }
        let dir = self.directory();
        match work {
            Work::Act {
                actor,
                command,
                origin,
                inbound_key,
                ..
            } => {
                let ctx = self.context(before, &dir)?;
                let events = escalation::handle(before, actor, command, &ctx)?;
                Ok(Some(self.batch(
                    ctx.policy,
                    ctx.calendar,
                    before,
                    events,
                    origin.as_ref(),
                    inbound_key.clone(),
                    ctx.now,
                    &dir,
                )))
            }
            Work::System {
                command,
                inbound_key,
                ..
            } => {
                let ctx = self.context(before, &dir)?;
                let bodies = escalation::decide_system(before, command, &ctx);
                if bodies.is_empty() {
                    return Ok(None);
                }
                let now = ctx.now;
                let events: Vec<Event> = bodies
                    .into_iter()
                    .map(|body| Event {
                        at: now,
                        actor: None,
                        directory: None,
                        body,
                    })
                    .collect();
                let mut batch = self.batch(
                    ctx.policy,
                    ctx.calendar,
                    before,
                    events,
                    None,
                    inbound_key.clone(),
                    now,
                    &dir,
                );
                // Its posts wait for working hours unless the dispute is urgent.
                if let Some(at) = crate::reminders::working_time(ctx.calendar, now, before.urgent) {
                    for row in &mut batch.outbox {
                        row.available_at = at;
                    }
                }
                Ok(Some(batch))
            }
            Work::Record { body, sent, .. } => {
                let events = vec![Event {
                    at: self.clock.now(),
                    actor: None,
                    directory: dir.version().cloned(),
                    body: body.clone(),
                }];
                let mut after = before.clone();
                for e in &events {
                    after.apply(e);
                }
                Ok(Some(Batch {
                    events,
                    after: Some(after),
                    sent: sent.clone(),
                    ..Batch::default()
                }))
            }
            Work::Raise { .. } => Ok(None),
        }
    }

    /// Raises a new challenge in its own transaction: allocates its reference and records it,
    /// or records nothing.
    async fn raise(
        &self,
        actor: &PersonId,
        details: RaiseDetails,
        origin: Option<&Origin>,
        inbound_key: Option<String>,
    ) -> Answer {
        let dir = self.directory();
        let agency = dir.agency_of(actor).ok_or_else(|| {
            ServiceError::Refused(Refusal::UnknownPerson {
                name: actor.0.clone(),
            })
        })?;
        let (policy, calendar) = self.policy(&agency.board)?;
        let now = self.clock.now();
        let ctx = Context {
            policy,
            calendar,
            directory: &dir,
            now,
        };
        let (reference, batch) = self
            .store
            .create(&policy.reference_prefix, local_year(now), |reference| {
                let command = Command::Raise {
                    reference: reference.clone(),
                    details,
                };
                let before = Dispute::default();
                let events = escalation::handle(&before, actor, &command, &ctx)?;
                Ok::<Batch, Refusal>(self.batch(
                    policy,
                    calendar,
                    &before,
                    events,
                    origin,
                    inbound_key,
                    now,
                    &dir,
                ))
            })
            .await??;
        let dispute = Dispute::from_events(&batch.events);
        self.committed
            .map()
            .insert(reference.clone(), dispute.clone());
        Ok(Some(Outcome {
            reference,
            dispute,
            events: batch.events,
        }))
    }
}

/// The writer of one service: a queue and the task that empties it, started on first use.
pub(super) struct Writer {
    decider: Arc<Decider>,
    queue: OnceLock<mpsc::UnboundedSender<Job>>,
}

impl Writer {
    pub(super) fn new(decider: Arc<Decider>) -> Writer {
        Writer {
            decider,
            queue: OnceLock::new(),
        }
    }

    /// Queues work and waits until it is committed (or refused, or failed).
    pub(super) async fn submit(&self, work: Work) -> Answer {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(run(self.decider.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        let job = Job {
            work,
            retries: 0,
            fresh: false,
            reply,
        };
        if queue.send(job).is_err() {
            return Err(ServiceError::Setup(
                "the service is shutting down; try again in a moment".into(),
            ));
        }
        answer.await.unwrap_or_else(|_| {
            Err(ServiceError::Setup(
                "the service stopped while recording this; check the record before trying again"
                    .into(),
            ))
        })
    }
}

/// The writer's loop, until the service is dropped. A group's write (its round trips and its
/// sync to disk) runs on its own task; requests arriving meanwhile are decided as they arrive,
/// on the states the written group leaves, into the next group, which is written as soon as the
/// first is done. So a request waits for at most the write under way and its own. Should the
/// written group not commit some of its disputes (another replica moved one on, a request
/// already recorded, the store failing), the next group's decisions are dropped and it is
/// decided again after it.
async fn run(decider: Arc<Decider>, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut again: Vec<Job> = Vec::new();
    let mut writing: Option<Writing> = None;
    let mut next = Group::default();
    let mut open = true;
    loop {
        // Work to decide again goes first, in its order; then whatever is waiting.
        if !again.is_empty() {
            let tentative = writing.as_ref().map(|w| &w.group.overlay);
            for job in std::mem::take(&mut again) {
                decide_into(&decider, &mut next, job, tentative).await;
            }
        }
        let Some(mut w) = writing.take() else {
            if next.jobs.is_empty() {
                if !open {
                    return;
                }
                match queue.recv().await {
                    Some(job) => decide_into(&decider, &mut next, job, None).await,
                    None => return,
                }
            }
            while next.jobs.len() < MAX_GROUP {
                match queue.try_recv() {
                    Ok(job) => decide_into(&decider, &mut next, job, None).await,
                    Err(_) => break,
                }
            }
            writing = Some(start_write(&decider, std::mem::take(&mut next)));
            continue;
        };
        tokio::select! {
            job = queue.recv(), if open && next.jobs.len() < MAX_GROUP => {
                match job {
                    Some(job) => {
                        decide_into(&decider, &mut next, job, Some(&w.group.overlay)).await;
                    }
                    None => open = false,
                }
                writing = Some(w);
            }
            done = &mut w.handle => {
                let mut group = w.group;
                let written = match done {
                    Ok((batches, written)) => {
                        group.items = batches;
                        written
                    }
                    // The batches went with the task: nothing is known to be written, so every
                    // appending job is told and decided on stored state next time.
                    Err(_) => Err(StoreError::Database(
                        "the write of a group stopped before it finished; check the record before trying again".into(),
                    )),
                };
                let (redo, undone) = finish_group(&decider, group, written).await;
                again = redo;
                if undone {
                    // Decided on states that were not all committed: decide again, after.
                    again.extend(std::mem::take(&mut next).jobs);
                } else if !next.jobs.is_empty() {
                    writing = Some(start_write(&decider, std::mem::take(&mut next)));
                }
                let mut committed = decider.committed.map();
                if committed.len() > MAX_CACHED {
                    committed.clear();
                }
            }
        }
    }
}

/// A group whose write is under way, and the task writing it.
struct Writing {
    group: Group,
    handle: tokio::task::JoinHandle<(Vec<Item>, Written)>,
}

type Written = Result<Vec<Result<(), StoreError>>, StoreError>;

/// A batch to append to a dispute at the version it was decided on.
type Item = (Reference, u64, Batch);

/// Starts writing a decided group on its own task, which hands the batches back with the result.
fn start_write(decider: &Decider, mut group: Group) -> Writing {
    let store = decider.store.clone();
    let batches = std::mem::take(&mut group.items);
    let handle = tokio::spawn(async move {
        if batches.is_empty() {
            return (batches, Ok(Vec::new()));
        }
        let refs: Vec<(Reference, u64, &Batch)> =
            batches.iter().map(|(r, v, b)| (r.clone(), *v, b)).collect();
        let written = store.append_group(&refs).await;
        drop(refs);
        (batches, written)
    });
    Writing { group, handle }
}

/// What deciding one job came to, before the group is written.
enum Decided {
    /// Append the group's batch at this index.
    Append(usize),
    /// Answer this once the group is committed (a refusal, nothing to do).
    Answer(Box<Answer>),
    /// A raise, written on its own after the group.
    Raise,
    /// Refused or nothing to do on a remembered state: decide again on the stored one.
    Verify,
}

/// A decided group: its jobs, what each came to, the batches to append and the states they
/// leave.
#[derive(Default)]
struct Group {
    jobs: Vec<Job>,
    decided: Vec<Decided>,
    items: Vec<Item>,
    overlay: HashMap<Reference, Dispute>,
}

/// Decides a job into a group, after the group's earlier jobs: on the state they leave, else
/// the state the group being written leaves (`tentative`), else a remembered state, else the
/// stored one. Before a group's first decision, the directory in use is kept in the store.
async fn decide_into(
    decider: &Decider,
    group: &mut Group,
    job: Job,
    tentative: Option<&HashMap<Reference, Dispute>>,
) {
    if group.jobs.is_empty() {
        decider.record_directory_in_use().await;
    }
    let decided = decide_one(decider, group, &job, tentative).await;
    group.decided.push(decided);
    group.jobs.push(job);
}

async fn decide_one(
    decider: &Decider,
    group: &mut Group,
    job: &Job,
    tentative: Option<&HashMap<Reference, Dispute>>,
) -> Decided {
    let Some(reference) = job.work.reference() else {
        return Decided::Raise;
    };
    let pending = group
        .overlay
        .get(reference)
        .or_else(|| tentative.and_then(|t| t.get(reference)));
    let remembered = match pending {
        Some(_) => None,
        None if job.fresh => None,
        None => decider.committed.get(reference),
    };
    let (before, from_cache) = match (pending, remembered) {
        (Some(d), _) => (d.clone(), false),
        (None, Some(d)) => (d, true),
        (None, None) => match decider.store.load(reference).await {
            Ok(d) => (d, false),
            Err(e) => return Decided::Answer(Box::new(Err(e.into()))),
        },
    };
    // A fault in deciding one request must not stop the writer for everyone.
    let decision = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decider.decide(&job.work, &before)
    }))
    .unwrap_or_else(|_| {
        Err(ServiceError::Setup(
            "this request could not be decided (an internal fault; see the service log); nothing was recorded"
                .into(),
        ))
    });
    match decision {
        Ok(Some(batch)) => {
            let mut after = batch.after.clone().unwrap_or_else(|| before.clone());
            if batch.after.is_none() {
                for e in &batch.events {
                    after.apply(e);
                }
            }
            group.overlay.insert(reference.clone(), after);
            let index = group.items.len();
            group.items.push((reference.clone(), before.version, batch));
            Decided::Append(index)
        }
        Ok(None) | Err(_) if from_cache => Decided::Verify,
        Ok(None) => Decided::Answer(Box::new(Ok(None))),
        Err(e) => Decided::Answer(Box::new(Err(e))),
    }
}

/// Answers a written group's jobs; returns the jobs to decide again (conflicts, in order) and
/// whether any state the group decided on was not committed.
async fn finish_group(decider: &Decider, group: Group, written: Written) -> (Vec<Job>, bool) {
    let cache = &decider.committed;
    let Group {
        jobs,
        decided,
        items,
        overlay,
    } = group;
    let mut results = match written {
        Ok(results) => results.into_iter().map(Some).collect::<Vec<_>>(),
        Err(e) => {
            // Nothing of the group was written: every appending job gets the store's answer.
            for r in overlay.keys() {
                cache.forget(r);
            }
            items.iter().map(|_| Some(Err(e.clone()))).collect()
        }
    };

    let mut items: Vec<Option<(Reference, u64, Batch)>> = items.into_iter().map(Some).collect();
    let mut redo: HashSet<Reference> = HashSet::new();
    let mut again = Vec::new();
    for (job, decided) in jobs.into_iter().zip(decided) {
        let reference = job.work.reference().cloned();
        if let Some(r) = &reference
            && redo.contains(r)
        {
            // An earlier request on this dispute was undone: decide this one again after it.
            again.push(job);
            continue;
        }
        match decided {
            Decided::Answer(answer) => {
                let _ = job.reply.send(*answer);
            }
            Decided::Verify => {
                // Refused or stale on a remembered state: another writer may have moved the
                // dispute on, so decide it again on the stored state before answering.
                if let Some(r) = reference {
                    cache.forget(&r);
                    redo.insert(r);
                }
                again.push(Job { fresh: true, ..job });
            }
            Decided::Raise => {
                let Work::Raise {
                    actor,
                    details,
                    origin,
                    inbound_key,
                } = job.work
                else {
                    continue;
                };
                let answer = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(
                    decider.raise(&actor, details, origin.as_ref(), inbound_key),
                ))
                .await
                .unwrap_or_else(|_| {
                    Err(ServiceError::Setup(
                        "this challenge could not be raised (an internal fault; see the service log); nothing was recorded"
                            .into(),
                    ))
                });
                let _ = job.reply.send(answer);
            }
            Decided::Append(i) => {
                let result = results.get_mut(i).and_then(Option::take);
                let item = items.get_mut(i).and_then(Option::take);
                let (Some(result), Some((reference, _, batch))) = (result, item) else {
                    continue;
                };
                match result {
                    Ok(()) => {
                        // The dispute right after this request's own events.
                        let dispute = batch.after.unwrap_or_default();
                        let _ = job.reply.send(Ok(Some(Outcome {
                            reference,
                            dispute,
                            events: batch.events,
                        })));
                    }
                    Err(StoreError::Conflict { .. }) if job.retries < CONFLICT_RETRIES => {
                        cache.forget(&reference);
                        redo.insert(reference);
                        again.push(Job {
                            retries: job.retries + 1,
                            ..job
                        });
                    }
                    Err(StoreError::Conflict { .. }) => {
                        cache.forget(&reference);
                        redo.insert(reference.clone());
                        let _ = job
                            .reply
                            .send(Err(ServiceError::Busy(reference.to_string())));
                    }
                    Err(e) => {
                        cache.forget(&reference);
                        redo.insert(reference);
                        let _ = job.reply.send(Err(e.into()));
                    }
                }
            }
        }
    }
    let undone = !redo.is_empty();
    let mut committed = cache.map();
    for (reference, state) in overlay {
        if !redo.contains(&reference) {
            committed.insert(reference, state);
        }
    }
    drop(committed);
    (again, undone)
}
