//! Forms and written accounts as templates beside a board's policy: the data every template is
//! given, a sample of it for `policy check`, and the one engine that renders them.
//!
//! A board's form is data, not code: `policies/<board>/forms/<form>.html.j2`, a MiniJinja
//! (Jinja2) template with HTML autoescaping on, so text from the record can never become markup.
//! The fields below are all a template can reach; they hold only what the record holds (free text
//! as the parties wrote it, screened before it was stored) and names from the policy and the
//! directory. A field the record cannot hold is the template's to say so, in the board's words.

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde::Serialize;

/// Everything a form's template is given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FormData {
    pub form: FormInfo,
    pub board: BoardInfo,
    pub reference: String,
    /// When the form was generated, UK time, e.g. `Tue 14 Apr 2026, 10:00`.
    pub generated: String,
    /// The same date only, e.g. `14 Apr 2026`.
    pub generated_date: String,
    /// The latest entry into a stage that requires this form (none while no such stage is reached).
    pub stage: Option<Entry>,
    pub raised: Raised,
    /// Every stage of the procedure, reached or not, in order.
    pub stages: Vec<StageLine>,
    /// Every entry into a stage (a repeating stage's tiers each have one), in order.
    pub entries: Vec<Entry>,
    /// Every attempt to resolve it, in the order recorded: notes, acknowledgements, steps,
    /// escalations, deadlines brought forward, proposals, confirmations, rejections, determination.
    pub attempts: Vec<Attempt>,
    /// Reasons for delay, as recorded.
    pub delays: Vec<Delay>,
    /// Entries that ran past their limit (finished late, or still running late).
    pub late: Vec<Entry>,
    /// Each side's own notes, in order: what each party said of the disagreement.
    pub positions: Positions,
    pub proposals: Vec<Resolution>,
    /// Resolutions confirmed in writing by the other side.
    pub confirmations: Vec<Resolution>,
    pub determination: Option<Determination>,
    /// When the board's business unit or chair was told, and what.
    pub board_notices: Vec<BoardNotice>,
    /// Learning referred to the board.
    pub learning: Vec<Attempt>,
    /// People of the receiving agency who took part (the other professional, the stage owners).
    pub raised_with: Vec<Person>,
    /// People of the raising agency who took part.
    pub raising_people: Vec<Person>,
    /// `open`, `resolved` or `withdrawn`.
    pub state: String,
    /// How it ended, e.g. `resolved at Step 3`, where it has.
    pub outcome: Option<String>,
    pub closed: Option<String>,
    /// Working days from raising to closing (or to now while open).
    pub working_days_open: Option<i64>,
}

/// The form as the policy names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FormInfo {
    pub id: String,
    pub name: String,
    /// The section of the procedure that requires it.
    pub source: String,
}

/// The board and its procedure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BoardInfo {
    pub id: String,
    pub name: String,
    pub document: String,
    /// What the procedure calls a stage ("Stage", "Step").
    pub stage_word: String,
}

/// A person as the directory names them: never a client, always a professional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Person {
    pub name: String,
    /// Their role's title on their agency's ladder (or the board's).
    pub role: String,
    pub agency: String,
    /// `raising`, `receiving`, `board`, or `service` for the service itself.
    pub side: String,
}

/// An agency: its name and kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Agency {
    pub id: String,
    pub name: String,
    pub kind: String,
}

/// What the raising recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Raised {
    pub when: String,
    pub date: String,
    pub by: Person,
    pub raising: Agency,
    pub receiving: Agency,
    pub other_professional: Option<Person>,
    /// `adult`, `child` or `organisation`.
    pub concerns: String,
    /// The organisation it concerns, where it does.
    pub organisation: Option<String>,
    pub category: String,
    pub category_name: String,
    pub summary: String,
    pub possible_cause: Option<String>,
    pub desired_outcome: String,
    pub adults_views: Option<String>,
    /// The raising agency's own case reference.
    pub case_reference: String,
    pub urgent: bool,
    /// When the disagreement arose, where earlier than raising it.
    pub arose: Option<String>,
}

/// One stage of the procedure and how far the dispute got with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StageLine {
    pub number: u32,
    pub name: String,
    /// Who takes part, by the policy's level names (raising side).
    pub level: String,
    /// The limit in words, e.g. `1 working day from when it arose`.
    pub timescale: String,
    pub reached: bool,
    /// When it was first entered, UK time, and its date.
    pub entered: Option<String>,
    pub entered_date: Option<String>,
    /// `on time`, `late`, `running`, `no limit`, or `not reached`.
    pub timeliness: String,
    /// Whether this stage requires this form.
    pub requires_form: bool,
}

/// One entry into a stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub stage: u32,
    /// Tiers up a repeating stage (0 on entry).
    pub tier: u32,
    pub name: String,
    pub entered: String,
    pub entered_date: String,
    pub due: Option<String>,
    pub left: Option<String>,
    /// `on time`, `late`, `running` or `no limit`.
    pub timeliness: String,
    pub working_days: Option<i64>,
    pub owners_raising: Vec<Person>,
    pub owners_receiving: Vec<Person>,
}

/// One thing done to resolve it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub when: String,
    pub date: String,
    pub who: Person,
    /// The stage it was done at.
    pub stage: u32,
    /// `note`, `acknowledged`, `step`, `escalated`, `deadline_brought_forward`, `proposed`,
    /// `confirmed`, `rejected`, `determined`, `learning`, `withdrawn`.
    pub kind: String,
    /// The kind in words, e.g. `Escalated to Step 3`.
    pub words: String,
    /// How a discussion took place (phone, meeting, video call, email, other means).
    pub how: Option<String>,
    /// When it took place, where that was before it was recorded.
    pub held: Option<String>,
    /// What was recorded, as written.
    pub text: String,
}

/// A reason for delay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Delay {
    pub stage: u32,
    pub stage_name: String,
    pub when: String,
    pub who: Person,
    pub reason: String,
}

/// Each side's notes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Positions {
    pub raising: Vec<Attempt>,
    pub receiving: Vec<Attempt>,
}

/// A resolution proposed or confirmed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resolution {
    pub when: String,
    pub who: Person,
    pub rationale: String,
    pub outcome: String,
    pub outstanding: String,
}

/// The board's determination.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Determination {
    pub stage: u32,
    pub body: String,
    pub met: String,
    pub members: Vec<Person>,
    pub outcome: String,
    pub actions: Vec<Action>,
}

/// An action the board determined.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Action {
    pub who: String,
    pub what: String,
    pub by: String,
}

/// A notice to the board.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BoardNotice {
    pub when: String,
    pub date: String,
    /// `business unit` or `chair` (or `other agency`).
    pub to: String,
    pub message: String,
}

/// Renders a form's template with its data; the error names the template's line.
pub fn render(name: &str, source: &str, data: &FormData) -> Result<String, String> {
    let mut env = Environment::new();
    // Every template is HTML: everything from the record is escaped, whatever the file's name.
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    // A misspelt field is an error `policy check` reports, not a blank on a form.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.render_named_str(name, source, Value::from_serialize(data))
        .map_err(|e| match e.line() {
            Some(line) => format!("line {line}: {}", detail(&e)),
            None => detail(&e),
        })
}

fn detail(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(d) => format!("{} ({d})", e.kind()),
        None => e.kind().to_string(),
    }
}

/// A person for the sample.
fn person(name: &str, role: &str, agency: &str, side: &str) -> Person {
    Person {
        name: name.into(),
        role: role.into(),
        agency: agency.into(),
        side: side.into(),
    }
}

/// Data with every field filled, for `policy check` to render a template against: a template
/// that renders with it reaches no field the record does not have.
pub fn sample(policy: &super::Policy, form: &super::Form) -> FormData {
    let word = &policy.stage_word;
    let a = person(
        "A. Practitioner",
        "Practitioner",
        "Raising Agency",
        "raising",
    );
    let b = person(
        "B. Professional",
        "Professional",
        "Receiving Agency",
        "receiving",
    );
    let when = "Thu 2 Apr 2026, 10:00".to_string();
    let date = "2 Apr 2026".to_string();
    let attempt = |kind: &str, words: &str, who: &Person| Attempt {
        when: when.clone(),
        date: date.clone(),
        who: who.clone(),
        stage: 1,
        kind: kind.into(),
        words: words.into(),
        how: Some("meeting".into()),
        held: Some(when.clone()),
        text: "What was recorded.".into(),
    };
    let entry = |s: &super::Stage| Entry {
        stage: s.number,
        tier: 0,
        name: s.name.clone(),
        entered: when.clone(),
        entered_date: date.clone(),
        due: Some(when.clone()),
        left: Some(when.clone()),
        timeliness: "late".into(),
        working_days: Some(2),
        owners_raising: vec![a.clone()],
        owners_receiving: vec![b.clone()],
    };
    let entries: Vec<Entry> = policy.stages.iter().map(entry).collect();
    let stage = policy
        .stages
        .iter()
        .find(|s| s.form.as_ref().is_some_and(|f| f.id == form.id))
        .map(entry);
    let resolution = Resolution {
        when: when.clone(),
        who: b.clone(),
        rationale: "Why.".into(),
        outcome: "What was agreed.".into(),
        outstanding: "What is left, and how it is pursued.".into(),
    };
    let notes = vec![attempt("note", "Note", &a)];
    FormData {
        form: FormInfo {
            id: form.id.clone(),
            name: form.name.clone(),
            source: form.source.clone(),
        },
        board: BoardInfo {
            id: policy.id.clone(),
            name: policy.name.clone(),
            document: policy.document.clone(),
            stage_word: word.clone(),
        },
        reference: format!("{}-2026-0001", policy.reference_prefix),
        generated: when.clone(),
        generated_date: date.clone(),
        stage,
        raised: Raised {
            when: when.clone(),
            date: date.clone(),
            by: a.clone(),
            raising: Agency {
                id: "raising".into(),
                name: "Raising Agency".into(),
                kind: "police".into(),
            },
            receiving: Agency {
                id: "receiving".into(),
                name: "Receiving Agency".into(),
                kind: "adult-social-care".into(),
            },
            other_professional: Some(b.clone()),
            concerns: "organisation".into(),
            organisation: Some("An organisation".into()),
            category: "category".into(),
            category_name: "A category".into(),
            summary: "What the disagreement is.".into(),
            possible_cause: Some("Its possible cause.".into()),
            desired_outcome: "What would resolve it.".into(),
            adults_views: Some("The adult's views.".into()),
            case_reference: "CASE-1".into(),
            urgent: true,
            arose: Some(when.clone()),
        },
        stages: policy
            .stages
            .iter()
            .map(|s| StageLine {
                number: s.number,
                name: s.name.clone(),
                level: policy.level_name(s.raising_level).to_string(),
                timescale: super::describe_timescale(&s.timescale),
                reached: true,
                entered: Some(when.clone()),
                entered_date: Some(date.clone()),
                timeliness: "on time".into(),
                requires_form: s.form.as_ref().is_some_and(|f| f.id == form.id),
            })
            .collect(),
        late: entries.clone(),
        entries,
        attempts: vec![
            attempt("note", "Note", &a),
            attempt("escalated", &format!("Escalated to {word} 2"), &a),
        ],
        delays: vec![Delay {
            stage: 1,
            stage_name: "A stage".into(),
            when: when.clone(),
            who: a.clone(),
            reason: "Why it was late.".into(),
        }],
        positions: Positions {
            raising: notes.clone(),
            receiving: notes,
        },
        proposals: vec![resolution.clone()],
        confirmations: vec![resolution],
        determination: Some(Determination {
            stage: policy.last_stage(),
            body: "The board's panel".into(),
            met: when.clone(),
            members: vec![person("C. Chair", "Chair", "The board", "board")],
            outcome: "What was determined.".into(),
            actions: vec![Action {
                who: "Receiving Agency".into(),
                what: "An action".into(),
                by: date.clone(),
            }],
        }),
        board_notices: vec![BoardNotice {
            when: when.clone(),
            date: date.clone(),
            to: "business unit".into(),
            message: "A notice.".into(),
        }],
        learning: vec![attempt("learning", "Learning referred", &a)],
        raised_with: vec![b],
        raising_people: vec![a],
        state: "resolved".into(),
        outcome: Some(format!("resolved at {word} 3")),
        closed: Some(date),
        working_days_open: Some(12),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_record_is_escaped_and_a_misspelt_field_is_an_error() {
        let data = FormData {
            reference: "<b>DSAP</b>".into(),
            ..FormData::default()
        };
        let html = render("t.html.j2", "<p>{{ reference }}</p>", &data).expect("it renders");
        assert_eq!(html, "<p>&lt;b&gt;DSAP&lt;&#x2f;b&gt;</p>");
        let err = render("t.html.j2", "a\n{{ refrence }}", &data).expect_err("a typo fails");
        assert!(err.starts_with("line 2:"), "{err}");
    }
}
