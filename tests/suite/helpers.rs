//! Shared fixtures: the shipped policies, the demo directory, fixed-time contexts, a dispute
//! driver that keeps state live, and a runner for the real binary.

use chrono::{DateTime, Utc};
use escalation_bot::calendar::{BankHolidays, Calendar};
use escalation_bot::directory::{AgencyId, Directory, PersonId};
use escalation_bot::escalation::{
    self, Command, Concerns, Context, Dispute, Event, RaiseDetails, Reference, Refusal,
};
use escalation_bot::policy::{self, Policy, PolicySet};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::LazyLock;

/// The five seed boards: every one must ship a policy file.
pub const SEED_POLICIES: [&str; 5] = [
    "cambridgeshire-peterborough",
    "durham",
    "norfolk",
    "rochdale",
    "sunderland",
];

/// The shipped policies, the demo directory and each policy's calendar, loaded once.
pub struct Fixture {
    pub policies: PolicySet,
    pub directory: Directory,
    calendars: BTreeMap<String, Calendar>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let policies = PolicySet::load_dir(&policy::default_dir())
        .unwrap_or_else(|e| panic!("the shipped policies must load: {e}"));
    let directory = Directory::load(&demo_dir().join("directory.toml"))
        .unwrap_or_else(|e| panic!("the demo directory must load: {e}"));
    let calendars = policies
        .iter()
        .map(|p| {
            let cal = BankHolidays::embedded()
                .calendar(&p.calendar, p.hours)
                .unwrap_or_else(|e| panic!("{} names a calendar that exists: {e}", p.id));
            (p.id.clone(), cal)
        })
        .collect();
    Fixture {
        policies,
        directory,
        calendars,
    }
});

/// The shared fixture.
pub fn fixture() -> &'static Fixture {
    &FIXTURE
}

impl Fixture {
    /// A shipped policy by id.
    pub fn policy(&self, id: &str) -> &Policy {
        self.policies
            .get(id)
            .unwrap_or_else(|| panic!("policy {id:?} should be shipped in policies/"))
    }

    /// The working-day calendar a policy names, with its hours.
    pub fn calendar(&self, id: &str) -> &Calendar {
        self.calendars
            .get(id)
            .unwrap_or_else(|| panic!("no calendar for policy {id:?}"))
    }

    /// A decision context for a policy with the clock fixed at `now`.
    pub fn ctx(&self, policy: &str, now: DateTime<Utc>) -> Context<'_> {
        Context {
            policy: self.policy(policy),
            calendar: self.calendar(policy),
            directory: &self.directory,
            now,
        }
    }
}

/// The repository's `policies/demo/` folder.
pub fn demo_dir() -> PathBuf {
    policy::default_dir().join("demo")
}

/// An instant from RFC 3339 text.
pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("test instant {text:?} is RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// A person id.
pub fn pid(id: &str) -> PersonId {
    PersonId(id.to_string())
}

/// A list of person ids.
pub fn pids(ids: &[&str]) -> Vec<PersonId> {
    ids.iter().copied().map(pid).collect()
}

/// The first reference of 2026 under a policy's prefix.
pub fn reference_for(policy: &str) -> Reference {
    Reference::new(&fixture().policy(policy).reference_prefix, 2026, 1)
}

/// Raise-form details with harmless text: override fields with struct update syntax.
pub fn details(receiving: &str, other: Option<&str>, category: &str) -> RaiseDetails {
    RaiseDetails {
        receiving_agency: AgencyId(receiving.to_string()),
        other_professional: other.map(pid),
        concerns: Concerns::Adult,
        category: category.to_string(),
        summary: "Disagreement about whether the discharge plan meets the adult's care needs."
            .to_string(),
        possible_cause: Some("Different readings of the discharge summary.".to_string()),
        desired_outcome: "A joint review of the discharge plan with both agencies.".to_string(),
        adults_views: Some("Wants to stay at home.".to_string()),
        case_reference: "ASC-4471".to_string(),
        immediate_risk: false,
        arose_at: None,
        delay_reason: None,
        notices: answers(false),
    }
}

/// Who a typical dispute under each seed policy is between: raiser, receiving agency, the other
/// professional, and a category the policy lists.
pub struct Cast {
    pub raiser: &'static str,
    pub receiving: &'static str,
    pub other: &'static str,
    pub category: &'static str,
}

/// The demo directory's parties for a seed policy.
pub fn cast(policy: &str) -> Cast {
    match policy {
        "norfolk" => Cast {
            raiser: "sam-patel",
            receiving: "riverside-gp",
            other: "dr-okafor",
            category: "outcomes-of-assessments",
        },
        "durham" => Cast {
            raiser: "durham-police-practitioner",
            receiving: "durham-asc",
            other: "durham-asc-practitioner",
            category: "decision-making",
        },
        "rochdale" => Cast {
            raiser: "rochdale-asc-practitioner",
            receiving: "rochdale-mh",
            other: "rochdale-mh-practitioner",
            category: "service-provision",
        },
        "sunderland" => Cast {
            raiser: "sunderland-asc-practitioner",
            receiving: "sunderland-community",
            other: "sunderland-community-practitioner",
            category: "decisions-taken",
        },
        "cambridgeshire-peterborough" => Cast {
            raiser: "cambs-asc-practitioner",
            receiving: "peterborough-housing",
            other: "peterborough-housing-practitioner",
            category: "service-provision",
        },
        other => panic!("no demo cast for {other:?}"),
    }
}

impl Cast {
    /// The raise form for this cast.
    pub fn details(&self) -> RaiseDetails {
        details(self.receiving, Some(self.other), self.category)
    }
}

/// One dispute driven through the core, its state kept live by applying events as they come.
pub struct Case {
    pub policy: String,
    pub events: Vec<Event>,
    pub state: Dispute,
}

impl Case {
    /// A dispute not yet raised under a policy.
    pub fn new(policy: &str) -> Case {
        Case {
            policy: policy.to_string(),
            events: Vec::new(),
            state: Dispute::default(),
        }
    }

    /// Raises a dispute; the raise must be accepted.
    pub fn raise(policy: &str, by: &str, details: RaiseDetails, now: &str) -> Case {
        let mut case = Case::new(policy);
        case.act(
            by,
            now,
            Command::Raise {
                reference: reference_for(policy),
                details,
            },
        );
        case
    }

    /// Raises the policy's usual cast's dispute.
    pub fn raise_cast(policy: &str, now: &str) -> Case {
        let c = cast(policy);
        Case::raise(policy, c.raiser, c.details(), now)
    }

    /// Decides a command; on success the events are appended and applied, on refusal nothing changes.
    pub fn try_act(
        &mut self,
        by: &str,
        now: &str,
        command: Command,
    ) -> Result<Vec<Event>, Refusal> {
        let ctx = fixture().ctx(&self.policy, at(now));
        let events = escalation::handle(&self.state, &pid(by), &command, &ctx)?;
        for e in &events {
            self.state.apply(e);
        }
        self.events.extend(events.iter().cloned());
        Ok(events)
    }

    /// Who moves the dispute on the raising side now: the first of the stage's raising owners
    /// (the raiser at stage 1, their manager once managers hold the stage).
    pub fn mover(&self) -> String {
        self.state
            .owners_raising
            .first()
            .or(self.state.raised_by.as_ref())
            .map(|p| p.0.clone())
            .expect("a raised dispute has someone on the raising side")
    }

    /// Who moves the dispute on the receiving side now: the first of the stage's receiving owners.
    pub fn mover_receiving(&self) -> String {
        self.state
            .owners_receiving
            .first()
            .map(|p| p.0.clone())
            .expect("a raised dispute has someone on the receiving side")
    }

    /// Decides a command that must be accepted.
    pub fn act(&mut self, by: &str, now: &str, command: Command) -> Vec<Event> {
        let name = command.name();
        self.try_act(by, now, command).unwrap_or_else(|r| {
            panic!("{by} should be able to {name} at {now}: refused with {r:?}")
        })
    }

    /// Decides a command that must be refused, and checks that the refusal changed nothing.
    pub fn refused(&mut self, by: &str, now: &str, command: Command) -> Refusal {
        let before = (self.events.len(), self.state.clone());
        let name = command.name();
        let refusal = match self.try_act(by, now, command) {
            Ok(events) => panic!(
                "{by} should not be able to {name} at {now}, but it produced {:?}",
                kinds(&events)
            ),
            Err(r) => r,
        };
        assert_eq!(
            (self.events.len(), &self.state),
            (before.0, &before.1),
            "a refused command leaves the dispute as it was"
        );
        refusal
    }
}

/// The same answer to every notice any seed policy offers (the core reads only those it asks):
/// tests that are about a notice answer it themselves.
pub fn answers(answer: bool) -> escalation_bot::escalation::Answers {
    let f = fixture();
    f.policies
        .iter()
        .flat_map(|p| {
            p.stages
                .iter()
                .flat_map(|s| &s.notify)
                .chain(&p.urgent.notify)
        })
        .filter_map(|n| n.offered.as_ref())
        .map(|o| (o.id.clone(), answer))
        .collect()
}

/// The kinds of a list of events, in order.
pub fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.body.kind()).collect()
}

/// `note` with plain text.
pub fn note(text: &str) -> Command {
    Command::AddNote {
        text: text.to_string(),
        how: None,
        held_at: None,
    }
}

/// `escalate` without a reason for delay.
pub fn escalate(reason: &str) -> Command {
    Command::Escalate {
        reason: reason.to_string(),
        delay_reason: None,
        notices: answers(false),
    }
}

/// `escalate` carrying a reason for delay.
pub fn escalate_late(reason: &str, delay: &str) -> Command {
    Command::Escalate {
        reason: reason.to_string(),
        delay_reason: Some(delay.to_string()),
        notices: answers(false),
    }
}

/// `propose resolution` with ordinary text.
pub fn propose(outcome: &str) -> Command {
    Command::ProposeResolution {
        rationale: "Both agencies reviewed the plan together.".to_string(),
        outcome: outcome.to_string(),
        outstanding: "None outstanding; both teams record the outcome.".to_string(),
        delay_reason: None,
    }
}

/// What the binary printed and how it exited.
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The first line of standard output.
    pub fn first_line(&self) -> &str {
        self.stdout.lines().next().unwrap_or("")
    }
}

/// Runs the real `escalation-bot` binary from the crate root, feeding `stdin` if given.
pub fn run_bin(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_escalation-bot"))
        .args(args)
        .current_dir(crate_root())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the escalation-bot binary starts");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(text.as_bytes())
            .expect("the binary reads standard input");
    }
    let out = child.wait_with_output().expect("the binary finishes");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// The crate root, where the binary expects `policies/`.
pub fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
