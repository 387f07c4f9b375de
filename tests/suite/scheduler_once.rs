//! Exactly once: a restart, a crash between the append and marking the row done, a slow chat
//! API, and people moving a dispute on, never make the scheduler send a reminder twice or skip
//! one, and never post for a stage the dispute has left.

use crate::databases::{Backend, TestDb};
use crate::helpers::{at, cast, escalate, propose};
use crate::scheduler_rig::{Rig, describe, service_on};
use chrono::Duration;
use escalation_bot::chat::{Delivery, Message, Target};
use escalation_bot::delivery::{
    NoObserver, PostError, PostFuture, Posted, Poster, Worker, WorkerConfig,
};
use escalation_bot::directory::Platform;
use escalation_bot::escalation::{Command, EventBody, Reference, SystemCommand};
use escalation_bot::scheduler::Scheduler;
use escalation_bot::service::ServiceError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Sam Patel's Norfolk challenge to Riverside GP, raised Wed 25 March 2026 at 10:00 GMT: stage 1
/// is due Wed 1 April 17:00 BST, reminded Tue 31 March 09:00 BST, first overdue Thu 2 April 09:00.
async fn norfolk(rig: &Rig) -> Reference {
    rig.raise("sam-patel", cast("norfolk").details()).await
}

const NORFOLK_START: &str = "2026-03-25T10:00:00+00:00";
const REMINDER: &str = "2026-03-31T09:00:00+01:00 reminder stage 1, due 2026-04-01T17:00:00+01:00";

fn overdue(day: &str, n: u32) -> String {
    format!("2026-{day}T09:00:00+01:00 overdue #{n} stage 1")
}

#[tokio::test]
async fn a_scheduler_restarted_halfway_through_a_dispute_sends_exactly_what_one_that_never_stopped_sends()
 {
    let steady = Rig::new(NORFOLK_START).await;
    let steady_ref = norfolk(&steady).await;
    steady.run_until("2026-04-10T18:00:00+01:00").await;

    let mut restarted = Rig::new(NORFOLK_START).await;
    let reference = norfolk(&restarted).await;
    restarted.run_until("2026-04-02T08:45:00+01:00").await;
    // The process stops: the scheduler, the service and its connections go; a new process opens
    // the same database with a new lease owner and carries on.
    let clock = restarted.clock.clone();
    let service = service_on(&restarted.db, clock).await;
    restarted.scheduler = Scheduler::new(service.clone(), "scheduler-b".into());
    restarted.service = service;
    restarted.run_until("2026-04-10T18:00:00+01:00").await;

    let expected = vec![
        REMINDER.to_string(),
        overdue("04-02", 1),
        overdue("04-07", 2),
        overdue("04-08", 3),
        overdue("04-09", 4),
        overdue("04-10", 5),
    ];
    assert_eq!(steady.timeline(&steady_ref).await, expected);
    assert_eq!(restarted.timeline(&reference).await, expected);
    assert_eq!(
        restarted.outbox(&reference).await.len(),
        steady.outbox(&steady_ref).await.len(),
        "the same posts, no more"
    );
}

#[tokio::test]
async fn a_row_claimed_by_a_process_that_died_is_picked_up_once_its_lease_runs_out_and_sent_once() {
    let rig = Rig::new(NORFOLK_START).await;
    let reference = norfolk(&rig).await;
    rig.run_until("2026-03-31T08:45:00+01:00").await;
    rig.clock.set(at("2026-03-31T09:00:00+01:00"));
    // Another process claims the reminder and dies before doing anything with it.
    let claimed = rig
        .db
        .open()
        .await
        .claim_schedule("died", rig.now(), std::time::Duration::from_secs(60), 100)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1, "the reminder is due");
    rig.tick().await;
    assert!(
        rig.timeline(&reference).await.is_empty(),
        "the lease keeps it from others for a minute"
    );
    rig.run_until("2026-04-01T12:00:00+01:00").await;
    assert_eq!(
        rig.timeline(&reference).await,
        ["2026-03-31T09:15:00+01:00 reminder stage 1, due 2026-04-01T17:00:00+01:00"],
        "sent at the first tick after the lease ran out, not skipped, not twice"
    );
}

async fn a_crash_between_the_append_and_marking_the_row_done_sends_nothing_twice(backend: Backend) {
    let rig = Rig::on(TestDb::new(backend).await, NORFOLK_START).await;
    let reference = norfolk(&rig).await;
    // The crashing process is another process on the same database: its own store.
    let store = rig.db.open().await;
    let lease = std::time::Duration::from_secs(60);
    rig.run_until("2026-03-31T08:45:00+01:00").await;

    for (when, kind) in [
        ("2026-03-31T09:00:00+01:00", "reminder"),
        ("2026-04-02T09:00:00+01:00", "overdue"),
    ] {
        rig.clock.set(at(when));
        // The crashing process claims the row, records its events, and dies before marking it done.
        let rows = store
            .claim_schedule("crashing", rig.now(), lease, 100)
            .await
            .expect("claim");
        assert_eq!(rows.len(), 1, "one {kind} row is due at {when}");
        let row = &rows[0];
        assert_eq!(row.kind, kind);
        let command: SystemCommand =
            serde_json::from_value(row.payload.clone()).expect("a system command");
        let recorded = rig
            .service
            .system(&reference, &command, Some(row.idempotency_key.clone()))
            .await
            .expect("recorded");
        assert!(
            recorded.is_some(),
            "the {kind} is recorded by the crashing process"
        );
        let rows_before = rig.outbox(&reference).await.len();

        // Its lease runs out; the next tick takes the row again, finds it recorded, marks it done.
        rig.clock.set(at(when) + Duration::seconds(61));
        assert_eq!(rig.tick().await, 1, "the {kind} row is taken again");
        assert_eq!(
            rig.outbox(&reference).await.len(),
            rows_before,
            "no second set of posts"
        );
        // A direct retry of the same key is refused as a duplicate.
        let again = rig
            .service
            .system(&reference, &command, Some(row.idempotency_key.clone()))
            .await;
        assert!(matches!(again, Err(ServiceError::Duplicate)), "{again:?}");
        rig.run_until(&when.replace("09:00", "12:00")).await;
    }
    rig.run_until("2026-04-07T12:00:00+01:00").await;
    assert_eq!(
        rig.timeline(&reference).await,
        [
            "2026-03-31T09:00:00+01:00 reminder stage 1, due 2026-04-01T17:00:00+01:00".to_string(),
            overdue("04-02", 1),
            overdue("04-07", 2),
        ]
    );
    assert_eq!(rig.schedule_count(&reference, "done").await, 3);
    assert_eq!(rig.schedule_count(&reference, "pending").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_append_and_marking_the_row_done_sends_nothing_twice_on_sqlite() {
    a_crash_between_the_append_and_marking_the_row_done_sends_nothing_twice(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_append_and_marking_the_row_done_sends_nothing_twice_on_postgres() {
    a_crash_between_the_append_and_marking_the_row_done_sends_nothing_twice(Backend::Postgres)
        .await;
}

/// A chat API that answers slowly, and while `down` times out every post.
#[derive(Default)]
struct SlowApi {
    down: AtomicBool,
    posted: Mutex<Vec<(String, String)>>,
    attempts: Mutex<usize>,
}

impl Poster for SlowApi {
    fn post<'a>(
        &'a self,
        target: &'a Target,
        message: &'a Message,
        _thread: Option<&'a str>,
        _key: &'a str,
    ) -> PostFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            *self.attempts.lock().expect("the test API's lock") += 1;
            if self.down.load(Ordering::SeqCst) {
                return Err(PostError::Retry("the request timed out".into()));
            }
            let mut posted = self.posted.lock().expect("the test API's lock");
            posted.push((target.key(), message.fallback.clone()));
            let id = format!("p{}", posted.len());
            let thread = matches!(target.delivery, Delivery::Root { .. }).then(|| id.clone());
            Ok(Posted { id, thread })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_chat_api_keeps_the_posts_waiting_in_the_outbox_and_never_causes_a_second_reminder()
{
    let rig = Rig::new(NORFOLK_START).await;
    let api = Arc::new(SlowApi::default());
    let mut posters: HashMap<Platform, Arc<dyn Poster>> = HashMap::new();
    posters.insert(Platform::Slack, api.clone());
    posters.insert(Platform::Teams, api.clone());
    let worker = Arc::new(Worker::new(
        rig.service.clone(),
        posters,
        Arc::new(NoObserver),
        WorkerConfig {
            owner: "worker-a".into(),
            idle: std::time::Duration::from_millis(20),
            channel_spacing: std::time::Duration::ZERO,
            ..WorkerConfig::default()
        },
    ));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let delivering = tokio::spawn(worker.clone().run(stopped));
    let reference = norfolk(&rig).await;
    let drained = async |rig: &Rig| {
        for _ in 0..500 {
            if rig
                .outbox(&reference)
                .await
                .iter()
                .all(|r| r.status != "pending")
            {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        false
    };
    assert!(
        drained(&rig).await,
        "the root posts go out while the API is up"
    );

    // From Monday evening the API times out on every post, slowly, for two and a half days.
    rig.run_until("2026-03-30T18:00:00+01:00").await;
    api.down.store(true, Ordering::SeqCst);
    rig.run_until("2026-04-02T12:00:00+01:00").await;
    assert_eq!(
        rig.timeline(&reference).await,
        [REMINDER.to_string(), overdue("04-02", 1)]
    );
    let waiting: Vec<_> = rig
        .outbox(&reference)
        .await
        .into_iter()
        .filter(|r| r.status == "pending")
        .collect();
    assert_eq!(
        waiting.len(),
        12,
        "the reminder's and the prompt's six posts wait in the outbox"
    );
    // The background worker races the fast-forwarded clock, and a post of it may still be in
    // flight (its rows are then left to it, even by explicit ticks). Each round moves the clock
    // past any backoff and waits until the worker has tried again, ticking it meanwhile.
    let before = *api.attempts.lock().expect("the test API's lock");
    for _ in 0..4 {
        let round = *api.attempts.lock().expect("the test API's lock");
        rig.run_until(&escalation_bot::calendar::format_uk(
            rig.now() + Duration::minutes(10),
        ))
        .await;
        for _ in 0..500 {
            worker.tick().await.expect("the worker claims rows");
            if *api.attempts.lock().expect("the test API's lock") > round {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let attempts = *api.attempts.lock().expect("the test API's lock");
    assert!(
        attempts > before + 3,
        "the worker kept trying ({before} then {attempts} attempts)"
    );

    // The API recovers: every waiting post goes out once, in time.
    api.down.store(false, Ordering::SeqCst);
    rig.run_until("2026-04-02T13:00:00+01:00").await;
    assert!(
        drained(&rig).await,
        "the outbox drains once the API answers"
    );
    let _ = stop.send(true);
    let _ = delivering.await;

    assert_eq!(
        rig.timeline(&reference).await,
        [REMINDER.to_string(), overdue("04-02", 1)]
    );
    // Every row went out exactly once: as many successful posts as rows marked sent.
    let rows = rig.outbox(&reference).await;
    let sent = rows.iter().filter(|r| r.status == "sent").count();
    assert_eq!(sent, rows.len(), "nothing parked, nothing left");
    let posted = api.posted.lock().expect("the test API's lock").clone();
    assert_eq!(posted.len(), sent, "one post per row: {posted:?}");
    let directs = rig
        .outbox(&reference)
        .await
        .iter()
        .filter(|r| matches!(r.target.delivery, Delivery::Direct { .. }) && r.status == "sent")
        .map(|r| describe(&rig.service.directory(), &r.target))
        .collect::<Vec<_>>();
    assert_eq!(
        directs.len(),
        4,
        "the reminder and the prompt each reached both owners: {directs:?}"
    );
}

/// A chat API whose first post hangs until the test lets it answer; later posts answer at once.
#[derive(Default)]
struct HangingApi {
    hung: AtomicBool,
    entered: tokio::sync::Notify,
    answer: tokio::sync::Notify,
    posted: Mutex<Vec<String>>,
}

impl Poster for HangingApi {
    fn post<'a>(
        &'a self,
        target: &'a Target,
        _message: &'a Message,
        _thread: Option<&'a str>,
        key: &'a str,
    ) -> PostFuture<'a> {
        Box::pin(async move {
            if !self.hung.swap(true, Ordering::SeqCst) {
                self.entered.notify_one();
                self.answer.notified().await;
            }
            let mut posted = self.posted.lock().expect("the test API's lock");
            posted.push(key.to_string());
            let id = format!("p{}", posted.len());
            let thread = matches!(target.delivery, Delivery::Root { .. }).then(|| id.clone());
            Ok(Posted { id, thread })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_that_outlasts_its_lease_is_not_posted_again_by_another_tick_of_the_same_worker() {
    let rig = Rig::new(NORFOLK_START).await;
    let api = Arc::new(HangingApi::default());
    let mut posters: HashMap<Platform, Arc<dyn Poster>> = HashMap::new();
    posters.insert(Platform::Slack, api.clone());
    posters.insert(Platform::Teams, api.clone());
    let worker = Arc::new(Worker::new(
        rig.service.clone(),
        posters,
        Arc::new(NoObserver),
        WorkerConfig {
            owner: "worker-a".into(),
            channel_spacing: std::time::Duration::ZERO,
            ..WorkerConfig::default()
        },
    ));
    let reference = norfolk(&rig).await;
    let rows = rig.outbox(&reference).await.len();
    assert!(rows > 1, "the dispute's root posts are queued");

    // One tick posts the first row and hangs there; the clock runs past the row's lease.
    let hanging = tokio::spawn({
        let worker = worker.clone();
        async move { worker.tick().await }
    });
    api.entered.notified().await;
    rig.clock.set(rig.now() + Duration::minutes(2));
    // A second tick of the same worker claims the batch again under the same name: every row of
    // it is still the first tick's.
    assert_eq!(
        worker.tick().await.expect("the worker claims rows"),
        0,
        "rows still in flight are left to their tick"
    );
    assert!(api.posted.lock().expect("the test API's lock").is_empty());

    api.answer.notify_one();
    hanging
        .await
        .expect("the first tick ends")
        .expect("the first tick claims rows");
    for _ in 0..rows {
        rig.clock.set(rig.now() + Duration::minutes(1));
        worker.tick().await.expect("the worker claims rows");
    }
    let outbox = rig.outbox(&reference).await;
    assert!(
        outbox.iter().all(|r| r.status == "sent"),
        "every row went out: {:?}",
        outbox.iter().map(|r| &r.status).collect::<Vec<_>>()
    );
    let mut posted = api.posted.lock().expect("the test API's lock").clone();
    posted.sort();
    let mut keys: Vec<_> = outbox.iter().map(|r| r.key.clone()).collect();
    keys.sort();
    assert_eq!(posted, keys, "each row posted exactly once");
}

#[tokio::test]
async fn escalating_before_the_reminder_cancels_the_old_stages_reminder_and_prompts_and_schedules_the_new_stages()
 {
    // Escalated Mon 30 March 10:00 BST: stage 2 due Tue 31 (1), Wed 1 (2), Thu 2 (3), [Easter]
    // Tue 7 (4), Wed 8 April (5) 17:00; reminder Tue 7 09:00; overdue Thu 9 09:00.
    let rig = Rig::new(NORFOLK_START).await;
    let reference = norfolk(&rig).await;
    rig.run_until("2026-03-30T10:00:00+01:00").await;
    rig.act(
        &rig.mover(&reference).await,
        &reference,
        escalate("The GP will not discuss it further."),
    )
    .await;
    assert_eq!(
        rig.schedule_count(&reference, "cancelled").await,
        2,
        "stage 1's reminder and prompt"
    );
    rig.run_until("2026-04-09T12:00:00+01:00").await;
    assert_eq!(
        rig.timeline(&reference).await,
        [
            "2026-04-07T09:00:00+01:00 reminder stage 2, due 2026-04-08T17:00:00+01:00",
            "2026-04-09T09:00:00+01:00 overdue #1 stage 2",
        ]
    );
}

#[tokio::test]
async fn a_withdrawn_dispute_cancels_everything_it_had_pending_and_is_never_reminded_again() {
    let rig = Rig::new(NORFOLK_START).await;
    let reference = norfolk(&rig).await;
    rig.run_until("2026-03-30T10:00:00+01:00").await;
    rig.act(
        "sam-patel",
        &reference,
        Command::Withdraw {
            reason: "The GP has agreed to refer after all.".into(),
        },
    )
    .await;
    assert_eq!(rig.schedule_count(&reference, "pending").await, 0);
    assert_eq!(rig.schedule_count(&reference, "cancelled").await, 2);
    rig.run_until("2026-04-20T12:00:00+01:00").await;
    assert!(rig.timeline(&reference).await.is_empty());
}

#[tokio::test]
async fn a_resolved_dispute_cancels_its_overdue_prompts_the_day_it_is_confirmed() {
    let rig = Rig::new(NORFOLK_START).await;
    let reference = norfolk(&rig).await;
    rig.run_until("2026-04-02T10:00:00+01:00").await;
    rig.act(
        "sam-patel",
        &reference,
        propose("Joint capacity assessment on Friday."),
    )
    .await;
    rig.run_until("2026-04-07T11:00:00+01:00").await;
    rig.act("dr-okafor", &reference, Command::ConfirmResolution)
        .await;
    rig.run_until("2026-04-20T12:00:00+01:00").await;
    assert_eq!(
        rig.timeline(&reference).await,
        [
            REMINDER.to_string(),
            overdue("04-02", 1),
            overdue("04-07", 2)
        ],
        "prompts go on while the proposal waits, and stop once it is confirmed"
    );
    assert_eq!(rig.schedule_count(&reference, "pending").await, 0);
}

#[tokio::test]
async fn bringing_a_deadline_forward_replaces_the_reminder_and_prompt_for_the_old_deadline() {
    // On Thu 26 March the deadline moves from Wed 1 April 17:00 to Mon 30 March 12:00 BST:
    // reminder Fri 27 09:00 GMT; first prompt at the new deadline itself (a working hour), Mon
    // 30 12:00; then Tue 31 09:00. Nothing for the old deadline.
    let rig = Rig::new(NORFOLK_START).await;
    let reference = norfolk(&rig).await;
    rig.run_until("2026-03-26T10:00:00+00:00").await;
    rig.act(
        "sam-patel",
        &reference,
        Command::BringDeadlineForward {
            due: at("2026-03-30T12:00:00+01:00"),
            reason: "Discharge is planned for Monday afternoon.".into(),
        },
    )
    .await;
    rig.run_until("2026-03-31T12:00:00+01:00").await;
    assert_eq!(
        rig.timeline(&reference).await,
        [
            "2026-03-27T09:00:00+00:00 reminder stage 1, due 2026-03-30T12:00:00+01:00",
            "2026-03-30T12:00:00+01:00 overdue #1 stage 1",
            "2026-03-31T09:00:00+01:00 overdue #2 stage 1",
        ]
    );
}

#[tokio::test]
async fn a_reminder_in_flight_when_the_dispute_moves_on_is_dropped_as_stale() {
    let rig = Rig::new(NORFOLK_START).await;
    let reference = norfolk(&rig).await;
    rig.run_until("2026-03-31T08:45:00+01:00").await;
    rig.clock.set(at("2026-03-31T09:00:00+01:00"));
    let store = rig.db.open().await;
    let rows = store
        .claim_schedule(
            "slow-replica",
            rig.now(),
            std::time::Duration::from_secs(60),
            100,
        )
        .await
        .expect("claim");
    assert_eq!(rows.len(), 1);
    // While the slow replica holds the reminder, sam escalates.
    rig.act(
        &rig.mover(&reference).await,
        &reference,
        escalate("Escalating before the deadline."),
    )
    .await;
    let command: SystemCommand = serde_json::from_value(rows[0].payload.clone()).expect("command");
    let outcome = rig
        .service
        .system(&reference, &command, Some(rows[0].idempotency_key.clone()))
        .await
        .expect("decided");
    assert!(
        outcome.is_none(),
        "a reminder for stage 1 is stale at stage 2"
    );
    assert!(
        !store
            .schedule_done(rows[0].id, "slow-replica", rig.now())
            .await
            .expect("done"),
        "the row was already cancelled by the escalation"
    );
    assert!(rig.timeline(&reference).await.is_empty());
}

#[tokio::test]
async fn an_overdue_prompt_recorded_out_of_hours_after_an_outage_posts_at_the_next_working_hour_and_the_next_prompt_waits_a_working_day()
 {
    // The service is down from Wed 1 April 12:00 to Saturday 4 April 10:00. The first prompt
    // (due Thu 2 09:00) is recorded when it comes back, on the Saturday, and posted at the next
    // working hour, Tue 7 April 09:00 (Good Friday, the weekend, Easter Monday). The second
    // prompt is the next working day, Wed 8, not a second post on Tue 7.
    let rig = Rig::new(NORFOLK_START).await;
    let reference = norfolk(&rig).await;
    rig.run_until("2026-04-01T12:00:00+01:00").await;
    rig.clock.set(at("2026-04-04T10:00:00+01:00"));
    rig.run_until("2026-04-08T12:00:00+01:00").await;
    assert_eq!(
        rig.timeline(&reference).await,
        [
            REMINDER.to_string(),
            "2026-04-04T10:00:00+01:00 overdue #1 stage 1".to_string(),
            overdue("04-08", 2),
        ]
    );
    let posts = rig.posts(&reference).await;
    assert_eq!(posts[1].available, vec![at("2026-04-07T09:00:00+01:00")]);
    assert_eq!(posts[2].available, vec![at("2026-04-08T09:00:00+01:00")]);
    let events = rig.events(&reference).await;
    let prompts = events
        .iter()
        .filter(|e| matches!(e.body, EventBody::OverduePrompted { .. }))
        .count();
    assert_eq!(prompts, 2);
}
