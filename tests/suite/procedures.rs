//! Procedures as they are written: the board's determination closes a dispute, clocks time the
//! action they name, conditional notices are asked and only a yes sends them, and every rule kind
//! of the policy format holds through the core and through `simulate` (with the test policy
//! `policies/test/testshire.toml`).

use crate::helpers::{Case, at, crate_root, escalate, fixture, kinds, note, pids, run_bin};
use chrono::{DateTime, NaiveDate, Utc};
use escalation_bot::calendar::{BankHolidays, Calendar};
use escalation_bot::directory::{Directory, PersonId};
use escalation_bot::escalation::{
    self, Command, Concerns, Context, DeterminedAction, Dispute, Event, EventBody, Refusal, Status,
    SystemCommand, Verb, decide_system, lateness, offers,
};
use escalation_bot::policy::{Policy, PolicySet};
use serde_json::Value;
use std::sync::LazyLock;

/// A determination by `members`, met at `met_at`.
fn determination(members: &[&str], met_at: &str) -> Command {
    Command::RecordDetermination {
        members: members.iter().map(ToString::to_string).collect(),
        met_at: at(met_at),
        outcome: "The threshold for an enquiry is met; adult social care opens one.".into(),
        actions: vec![DeterminedAction {
            who: "Adult social care head of service".into(),
            what: "Open the enquiry".into(),
            by: NaiveDate::from_ymd_opt(2027, 6, 30).expect("a date"),
        }],
    }
}

/// A Durham dispute taken to step 4 (the Independent Chair) the morning it was raised.
fn durham_at_step_four() -> Case {
    let mut case = Case::raise_cast("durham", "2026-06-01T09:00:00+01:00");
    for (n, now) in ["09:30", "10:00", "10:30"].iter().enumerate() {
        case.act(
            &case.mover(),
            &format!("2026-06-01T{now}:00+01:00"),
            escalate(&format!("Unresolved at step {}.", n + 1)),
        );
    }
    assert_eq!(case.state.stage, 4);
    case
}

#[test]
fn durham_step_four_is_decided_by_the_independent_chair_and_a_partys_rejection_is_refused() {
    let mut case = durham_at_step_four();
    assert_eq!(
        case.state.decided_by.as_deref(),
        Some("DSAP Independent Chair")
    );
    assert_eq!(case.state.deciders, pids(&["durham-chair"]));
    let party = "durham-asc-head-of-service";
    // A party cannot record the chair's determination.
    let r = case.refused(
        party,
        "2026-06-02T10:00:00+01:00",
        determination(&["durham-chair"], "2026-06-02T09:00:00+01:00"),
    );
    assert!(matches!(r, Refusal::BoardRecords { .. }), "{r:?}");
    // Nor can the chair record a meeting that has not happened.
    let r = case.refused(
        "durham-chair",
        "2026-06-02T10:00:00+01:00",
        determination(&["durham-chair"], "2026-06-03T09:00:00+01:00"),
    );
    assert_eq!(r.field(), Some("met_at"), "{r}");
    let events = case.act(
        "durham-chair",
        "2026-06-02T10:00:00+01:00",
        determination(
            &["durham-chair", "DSAP business unit"],
            "2026-06-02T09:00:00+01:00",
        ),
    );
    assert_eq!(kinds(&events), ["determination_recorded"]);
    assert_eq!(case.state.status, Status::Resolved);
    let det = case.state.determination.clone().expect("a determination");
    assert_eq!(det.members, pids(&["durham-chair", "durham-unit"]));
    assert_eq!(det.actions.len(), 1);
    // The determination is final: a party cannot reject, confirm or escalate it...
    for command in [
        Command::RejectResolution {
            reason: "We still disagree.".into(),
        },
        Command::ConfirmResolution,
    ] {
        let r = case.refused(party, "2026-06-02T11:00:00+01:00", command);
        assert!(matches!(r, Refusal::Determined { .. }), "{r:?}");
        assert!(r.to_string().contains("add your view as a note"), "{r}");
    }
    let r = case.refused(party, "2026-06-02T11:00:00+01:00", escalate("Again."));
    assert!(matches!(r, Refusal::Closed { .. }), "{r:?}");
    // ...but may add their view as a note, which the posts offer.
    let ctx = fixture().ctx("durham", at("2026-06-02T11:00:00+01:00"));
    assert_eq!(
        offers(ctx.policy, &fixture().directory, &case.state, ctx.now),
        [Verb::AddNote, Verb::ReferLearning]
    );
    case.act(
        party,
        "2026-06-02T11:05:00+01:00",
        note("Adult social care records that it read the referral as below the threshold."),
    );
    assert_eq!(case.state.status, Status::Resolved);
}

#[test]
fn a_stage_the_parties_settle_takes_no_determination() {
    let mut case = Case::raise_cast("durham", "2026-06-01T09:00:00+01:00");
    let r = case.refused(
        "durham-chair",
        "2026-06-01T09:30:00+01:00",
        determination(&["durham-chair"], "2026-06-01T09:10:00+01:00"),
    );
    assert!(matches!(r, Refusal::NotDecidedByBoard { .. }), "{r:?}");
    let ctx = fixture().ctx("durham", at("2026-06-01T09:30:00+01:00"));
    assert!(
        !offers(ctx.policy, &fixture().directory, &case.state, ctx.now)
            .contains(&Verb::RecordDetermination)
    );
}

/// A Sunderland dispute raised Monday 19 October 2026 and taken to stage 3 the same morning.
fn sunderland_at_stage_three() -> Case {
    let mut case = Case::raise_cast("sunderland", "2026-10-19T09:00:00+01:00");
    case.act(
        &case.mover(),
        "2026-10-19T10:00:00+01:00",
        escalate("Stage one."),
    );
    case.act(
        &case.mover(),
        "2026-10-19T11:00:00+01:00",
        escalate("Stage two."),
    );
    assert_eq!(case.state.stage, 3);
    case
}

#[test]
fn sunderland_stage_four_keeps_an_involved_head_of_service_off_the_quality_assurance_sub_committee()
{
    let mut case = sunderland_at_stage_three();
    case.act(
        "sunderland-asc-head-of-service",
        "2026-10-20T10:00:00+01:00",
        escalate("The review did not resolve it."),
    );
    assert_eq!(case.state.stage, 4);
    assert_eq!(case.state.deciders, pids(&["sunderland-chair"]));
    // The community Head of Service held stage 3: involved in the case.
    let r = case.refused(
        "sunderland-chair",
        "2026-11-10T10:00:00+00:00",
        determination(
            &["sunderland-chair", "sunderland-community-head-of-service"],
            "2026-11-09T14:00:00+00:00",
        ),
    );
    match &r {
        Refusal::Excluded { name, section, .. } => {
            assert_eq!(name, "Pete Pryce");
            assert!(section.contains("must not be present"), "{section}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.field(), Some("members"));
    case.act(
        "sunderland-chair",
        "2026-11-10T10:05:00+00:00",
        determination(
            &["sunderland-chair", "sunderland-unit"],
            "2026-11-09T14:00:00+00:00",
        ),
    );
    assert_eq!(case.state.status, Status::Resolved);
}

#[test]
fn sunderland_stage_three_prompts_the_late_review_by_name_and_never_a_false_escalate_now() {
    let mut case = sunderland_at_stage_three();
    let policy = fixture().policy("sunderland");
    let cal = fixture().calendar("sunderland");
    // Nothing times the stage as a whole: no stage deadline, no overdue prompt planned for it.
    let plan = escalation_bot::reminders::plan(
        policy,
        cal,
        &case.state,
        &case.events,
        at("2026-10-19T11:00:00+01:00"),
    );
    assert!(
        plan.add
            .iter()
            .all(|row| row.kind != escalation_bot::reminders::OVERDUE),
        "{:?}",
        plan.add
    );
    assert!(plan.add.iter().any(|row| row.kind == "step"));
    // Past the review's 10 working days (Mon 2 November), the prompt names the review.
    let now = at("2026-11-03T09:00:00+00:00");
    let ctx = fixture().ctx("sunderland", now);
    let prompt = decide_system(
        &case.state,
        &SystemCommand::StepDue {
            stage: 3,
            tier: 0,
            step: "review".into(),
            due: at("2026-11-02T17:00:00+00:00"),
            overdue: true,
        },
        &ctx,
    );
    match &prompt[..] {
        [EventBody::StepPrompted { prompt, .. }] => {
            assert!(prompt.contains("Senior Manager's review"), "{prompt}");
            assert!(!prompt.to_lowercase().contains("escalate"), "{prompt}");
        }
        other => panic!("{other:?}"),
    }
    // An overdue prompt for the stage as a whole produces nothing: the stage has no deadline.
    assert!(
        decide_system(
            &case.state,
            &SystemCommand::Overdue {
                stage: 3,
                tier: 0,
                due: at("2026-11-02T17:00:00+00:00"),
                count: 1
            },
            &ctx
        )
        .is_empty()
    );
    // The review done on time, the written response not yet due: nothing is late.
    case.act(
        "sunderland-community-head-of-service",
        "2026-10-30T10:00:00+00:00",
        Command::CompleteStep {
            step: "review".into(),
            at: None,
            note: None,
        },
    );
    let later = at("2026-11-03T09:00:00+00:00");
    assert!(!lateness(policy, &case.state, later).any());
    assert!(
        !offers(policy, &fixture().directory, &case.state, later)
            .contains(&Verb::RecordDelayReason)
    );
}

/// A Norfolk dispute taken to stage 2, with the escalation into stage 3 still to come.
fn norfolk_at_stage_two() -> Case {
    let mut case = Case::raise_cast("norfolk", "2026-06-01T09:00:00+01:00");
    case.act(
        &case.mover(),
        "2026-06-01T10:00:00+01:00",
        escalate("Stage one."),
    );
    case
}

fn escalate_answering(answer: bool) -> Command {
    Command::Escalate {
        reason: "First line managers could not agree.".into(),
        delay_reason: None,
        notices: [("advance-notice".to_string(), answer)].into(),
    }
}

#[test]
fn norfolk_advance_notice_is_sent_only_when_the_escalation_answers_yes_and_recorded_either_way() {
    let mut no = norfolk_at_stage_two();
    let events = no.act(
        &no.mover(),
        "2026-06-02T10:00:00+01:00",
        escalate_answering(false),
    );
    assert!(
        !kinds(&events).contains(&"board_notified"),
        "{:?}",
        kinds(&events)
    );
    assert!(events.iter().any(|e| matches!(
        &e.body,
        EventBody::NoticeAnswered { id, answer: false, .. } if id == "advance-notice"
    )));
    let mut yes = norfolk_at_stage_two();
    let events = yes.act(
        &yes.mover(),
        "2026-06-02T10:00:00+01:00",
        escalate_answering(true),
    );
    let k = kinds(&events);
    let asked = k
        .iter()
        .position(|x| *x == "notice_answered")
        .expect("asked");
    assert_eq!(k[asked + 1], "board_notified", "{k:?}");
    // Not answered at all: refused at the question, in the procedure's words.
    let mut unanswered = norfolk_at_stage_two();
    let r = unanswered.refused(
        &unanswered.mover(),
        "2026-06-02T10:00:00+01:00",
        Command::Escalate {
            reason: "First line managers could not agree.".into(),
            delay_reason: None,
            notices: Default::default(),
        },
    );
    assert_eq!(r.field(), Some("notice_advance-notice"));
    assert!(r.to_string().contains("escalate to stage four"), "{r}");
}

#[test]
fn norfolk_posts_never_say_a_formal_challenge_has_been_lodged() {
    let policy = fixture().policy("norfolk");
    assert!(policy.stages.iter().all(|s| !s.formal_challenge));
    assert!(fixture().policy("rochdale").stages[1].formal_challenge);
}

#[test]
fn rochdale_stage_four_is_taken_by_the_challenging_agencys_line_manager() {
    let mut case = Case::raise_cast("rochdale", "2026-06-01T09:00:00+01:00");
    for now in ["10", "11", "12"] {
        case.act(
            &case.mover(),
            &format!("2026-06-01T{now}:00:00+01:00"),
            escalate("Unresolved."),
        );
    }
    assert_eq!(case.state.stage, 4);
    assert_eq!(
        case.state.owners_raising,
        pids(&["rochdale-asc-line-manager"])
    );
}

#[test]
fn durham_a_late_raise_asks_for_the_reason_for_the_delay_in_raising_it() {
    // Arose Monday 1 June 09:00; step 1's 1 working day ended Tuesday 17:00; raised Wednesday.
    let c = crate::helpers::cast("durham");
    let mut details = c.details();
    details.arose_at = Some(at("2026-06-01T09:00:00+01:00"));
    let mut case = Case::new("durham");
    let raise = |details| Command::Raise {
        reference: crate::helpers::reference_for("durham"),
        details,
    };
    let r = case.refused(
        c.raiser,
        "2026-06-03T10:00:00+01:00",
        raise(details.clone()),
    );
    assert!(matches!(r, Refusal::DelayReasonRequired { .. }), "{r:?}");
    assert_eq!(r.field(), Some("delay_reason"));
    // Never in the future.
    let mut future = details.clone();
    future.arose_at = Some(at("2026-06-04T09:00:00+01:00"));
    let r = case.refused(c.raiser, "2026-06-03T10:00:00+01:00", raise(future));
    assert_eq!(r.field(), Some("arose_at"));
    details.delay_reason = Some("The practitioner was on leave until Wednesday.".into());
    let events = case.act(c.raiser, "2026-06-03T10:00:00+01:00", raise(details));
    assert_eq!(
        kinds(&events),
        ["raised", "stage_started", "delay_reason_recorded"]
    );
    assert_eq!(case.state.arose_at, Some(at("2026-06-01T09:00:00+01:00")));
    assert_eq!(case.state.due, Some(at("2026-06-02T17:00:00+01:00")));
}

/// The test policy and its directory, loaded once.
struct Testshire {
    policies: PolicySet,
    directory: Directory,
    calendar: Calendar,
}

static TESTSHIRE: LazyLock<Testshire> = LazyLock::new(|| {
    let policies = PolicySet::load_dir(&crate_root().join("policies/test"))
        .unwrap_or_else(|e| panic!("the test policy loads: {e}"));
    let directory = Directory::load(&crate_root().join("policies/test/demo/directory.toml"))
        .unwrap_or_else(|e| panic!("the test directory loads: {e}"));
    let policy = policies.get("testshire").expect("testshire");
    let calendar = BankHolidays::embedded()
        .calendar(&policy.calendar, policy.hours)
        .expect("calendar");
    Testshire {
        policies,
        directory,
        calendar,
    }
});

/// One Testshire dispute driven through the core.
struct TsCase {
    events: Vec<Event>,
    state: Dispute,
}

impl TsCase {
    fn policy() -> &'static Policy {
        TESTSHIRE.policies.get("testshire").expect("testshire")
    }

    fn ctx(now: DateTime<Utc>) -> Context<'static> {
        Context {
            policy: Self::policy(),
            calendar: &TESTSHIRE.calendar,
            directory: &TESTSHIRE.directory,
            now,
        }
    }

    fn try_act(&mut self, by: &str, now: &str, c: Command) -> Result<Vec<Event>, Refusal> {
        let events = escalation::handle(
            &self.state,
            &PersonId(by.to_string()),
            &c,
            &Self::ctx(at(now)),
        )?;
        for e in &events {
            self.state.apply(e);
        }
        self.events.extend(events.iter().cloned());
        Ok(events)
    }

    fn act(&mut self, by: &str, now: &str, c: Command) -> Vec<Event> {
        self.try_act(by, now, c)
            .unwrap_or_else(|r| panic!("{by} at {now}: {r:?}"))
    }

    fn raise(concerns: Concerns, receiving: &str, now: &str, arose: Option<&str>) -> TsCase {
        let mut details = crate::helpers::details(receiving, None, "threshold");
        details.concerns = concerns;
        details.arose_at = arose.map(at);
        let mut case = TsCase {
            events: Vec::new(),
            state: Dispute::default(),
        };
        case.act(
            "ts-sw",
            now,
            Command::Raise {
                reference: escalation::Reference::new("TSP", 2026, 1),
                details,
            },
        );
        case
    }
}

#[test]
fn every_rule_kind_of_the_test_policy_holds_through_the_core() {
    // Arose Monday 1 June 09:00, raised 10:00: 4 working hours from arising is 13:00.
    let mut case = TsCase::raise(
        Concerns::Adult,
        "ts-gp",
        "2026-06-01T10:00:00+01:00",
        Some("2026-06-01T09:00:00+01:00"),
    );
    assert_eq!(case.state.due, Some(at("2026-06-01T13:00:00+01:00")));
    // The same working day; each side owes the chair a notice within 1 working day.
    case.act(
        "ts-sw",
        "2026-06-01T12:00:00+01:00",
        escalate("No agreement."),
    );
    assert_eq!(case.state.due, Some(at("2026-06-01T17:00:00+01:00")));
    let tuesday = at("2026-06-02T17:00:00+01:00");
    assert_eq!(
        case.state.steps_due.get("tell-chair@raising"),
        Some(&tuesday)
    );
    assert_eq!(
        case.state.steps_due.get("tell-chair@receiving"),
        Some(&tuesday)
    );
    let done = |case: &mut TsCase, by: &str| {
        case.try_act(
            by,
            "2026-06-01T13:00:00+01:00",
            Command::CompleteStep {
                step: "tell-chair".into(),
                at: None,
                note: None,
            },
        )
    };
    // The board cannot do a side's duty; each side records its own, once.
    assert!(matches!(
        done(&mut case, "ts-unit"),
        Err(Refusal::Invalid { .. })
    ));
    done(&mut case, "ts-asc-manager").expect("the raising side's duty");
    assert!(done(&mut case, "ts-asc-manager").is_err(), "recorded once");
    // One duty still owed, by the other side: late on Wednesday, named with its side.
    let wednesday = at("2026-06-03T09:00:00+01:00");
    let late = lateness(TsCase::policy(), &case.state, wednesday);
    assert_eq!(late.late_steps.len(), 1);
    assert_eq!(late.late_steps[0].side, Some(escalation::Side::Receiving));
    done(&mut case, "ts-gp-lead").expect("the receiving side's duty");
    // 48 clock hours from the end of stage 2; the GP practice goes through its ICB.
    case.act(
        "ts-asc-manager",
        "2026-06-01T16:00:00+01:00",
        Command::Escalate {
            reason: "Managers could not agree.".into(),
            delay_reason: None,
            notices: [("early-warning".to_string(), false)].into(),
        },
    );
    assert_eq!(case.state.due, Some(at("2026-06-03T16:00:00+01:00")));
    assert_eq!(case.state.owners_receiving, pids(&["ts-icb-nurse"]));
    // A limit the procedure does not state: none shown, and said so.
    case.act(
        "ts-asc-senior",
        "2026-06-02T10:00:00+01:00",
        escalate("No."),
    );
    assert_eq!(case.state.due, None);
    assert_eq!(
        case.state.timescale,
        "a time limit not stated in the procedure"
    );
    // 6 days from Monday 1 June is Sunday 7 June: moved to Monday 8 June, 17:00.
    case.act(
        "ts-asc-executive",
        "2026-06-02T15:00:00+01:00",
        escalate("No."),
    );
    assert_eq!(case.state.due, Some(at("2026-06-08T17:00:00+01:00")));
    assert_eq!(case.state.deciders, pids(&["ts-chair"]));
    let r = case
        .try_act(
            "ts-chair",
            "2026-06-05T10:00:00+01:00",
            determination(&["ts-chair", "ts-icb-nurse"], "2026-06-04T14:00:00+01:00"),
        )
        .expect_err("an involved designated nurse cannot sit");
    assert!(matches!(r, Refusal::Excluded { .. }), "{r:?}");
    case.act(
        "ts-chair",
        "2026-06-05T10:00:00+01:00",
        determination(
            &["ts-chair", "ts-police-executive"],
            "2026-06-04T14:00:00+01:00",
        ),
    );
    assert_eq!(case.state.status, Status::Resolved);
}

#[test]
fn the_test_policy_sends_a_dispute_about_a_child_to_its_childrens_unit_and_chair() {
    let mut case = TsCase::raise(
        Concerns::Child,
        "ts-police",
        "2026-06-01T10:00:00+01:00",
        None,
    );
    case.act(
        "ts-sw",
        "2026-06-01T11:00:00+01:00",
        escalate("No agreement."),
    );
    let events = case.act(
        "ts-asc-manager",
        "2026-06-01T15:00:00+01:00",
        Command::Escalate {
            reason: "Managers could not agree.".into(),
            delay_reason: None,
            notices: [("early-warning".to_string(), true)].into(),
        },
    );
    let told: Vec<&Vec<PersonId>> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::BoardNotified { recipients, .. } => Some(recipients),
            _ => None,
        })
        .collect();
    assert_eq!(told, [&pids(&["ts-children-unit"])]);
    // A policy covering adults only refuses a dispute about a child, saying where it goes.
    let mut adults_only = Case::new("norfolk");
    let mut details = crate::helpers::cast("norfolk").details();
    details.concerns = Concerns::Child;
    let r = adults_only.refused(
        "sam-patel",
        "2026-06-01T10:00:00+01:00",
        Command::Raise {
            reference: crate::helpers::reference_for("norfolk"),
            details,
        },
    );
    assert_eq!(r.field(), Some("concerns"));
    assert!(r.to_string().contains("children"), "{r}");
}

/// Runs a test scenario through the binary and returns its JSON lines.
fn simulate(scenario: &str) -> Vec<Value> {
    let path = format!("policies/test/demo/{scenario}");
    let out = run_bin(
        &["simulate", &path, "--policies", "policies/test", "--json"],
        None,
    );
    assert_eq!(out.code, Some(0), "{path}: {}", out.stderr);
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn every_rule_kind_of_the_test_policy_holds_through_simulate() {
    let lines = simulate("testshire-scenario.toml");
    let started = |stage: u64| {
        lines
            .iter()
            .find(|l| l["kind"] == "stage_started" && l["stage"] == stage)
            .unwrap_or_else(|| panic!("stage {stage} starts"))
            .clone()
    };
    assert_eq!(started(1)["due"], "2026-06-01T13:00:00+01:00");
    assert_eq!(started(2)["due"], "2026-06-01T17:00:00+01:00");
    assert_eq!(started(3)["due"], "2026-06-03T16:00:00+01:00");
    assert!(started(4)["due"].is_null());
    assert_eq!(started(5)["due"], "2026-06-08T17:00:00+01:00");
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "step_completed").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "refused").count(), 3);
    assert!(kinds.contains(&"notice_answered"));
    assert!(kinds.contains(&"determination_recorded"));
    // The early warning was answered no: the only board notice is the chair's at stage 5.
    assert_eq!(kinds.iter().filter(|k| **k == "board_notified").count(), 1);
    assert_eq!(kinds.last(), Some(&"note_added"));

    let child = simulate("testshire-child-scenario.toml");
    let notice = child
        .iter()
        .find(|l| l["kind"] == "board_notified")
        .expect("the early warning is sent");
    assert_eq!(
        notice["recipients"],
        serde_json::json!(["ts-children-unit"])
    );
}
