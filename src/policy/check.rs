//! Turns a policy file into a `Policy`, or into every problem found, each with its file and line.

use super::file::{self, LimitFile, NoticeFile, PolicyFile, RuleFile, S};
use super::*;
use crate::calendar::BankHolidays;
use chrono::NaiveTime;
use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// One thing wrong with a policy file, and what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Checks one policy file on disk; an unreadable file is itself a problem.
pub fn check_file(path: &Path) -> Result<Policy, Vec<Problem>> {
    match std::fs::read_to_string(path) {
        Ok(text) => check_text(&path.display().to_string(), &text),
        Err(e) => Err(vec![Problem {
            file: path.display().to_string(),
            line: 0,
            message: format!("cannot read the file: {e}"),
        }]),
    }
}

/// Checks policy text, naming `file` in problems.
pub fn check_text(file: &str, text: &str) -> Result<Policy, Vec<Problem>> {
    parse(file, text)
}

pub(super) fn parse(file_name: &str, text: &str) -> Result<Policy, Vec<Problem>> {
    let raw: PolicyFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            let message = e.message().trim().to_string();
            return Err(vec![Problem {
                file: file_name.to_string(),
                line,
                message: format!("{message} (see policies/README.md for the format)"),
            }]);
        }
    };
    let mut c = Checker {
        file: file_name,
        text,
        problems: Vec::new(),
    };
    let policy = c.policy(raw);
    if c.problems.is_empty() {
        Ok(policy)
    } else {
        c.problems.sort_by_key(|p| p.line);
        Err(c.problems)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |t| t.bytes().filter(|b| *b == b'\n').count() + 1)
}

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    problems: Vec<Problem>,
}

const ANCHORS: &str = "\"stage_start\", \"first_raised\" or the id of a step";

impl Checker<'_> {
    fn problem<T>(&mut self, at: &S<T>, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            line: line_of(self.text, at.span().start),
            message: message.into(),
        });
    }

    fn text(&mut self, value: &S<String>, what: &str) -> String {
        let v = value.get_ref().trim();
        if v.is_empty() {
            self.problem(
                value,
                format!("{what} is empty: write it out in plain words"),
            );
        }
        v.to_string()
    }

    fn source(&mut self, value: &S<String>) -> String {
        self.text(
            value,
            "source is empty: cite the section of the procedure this rule comes from",
        )
    }

    fn rule(&mut self, rule: S<RuleFile>, what: &str) -> Rule {
        let r = rule.into_inner();
        Rule {
            prompt: self.text(&r.prompt, &format!("the {what} prompt")),
            source: self.source(&r.source),
        }
    }

    fn policy(&mut self, raw: PolicyFile) -> Policy {
        let id = self.text(&raw.id, "id");
        if !id.is_empty() && !is_slug(&id) {
            self.problem(
                &raw.id,
                format!(
                    "id {id:?} must be lowercase letters, digits and hyphens, like \"norfolk\""
                ),
            );
        }
        let prefix = self.text(&raw.reference_prefix, "reference_prefix");
        if !prefix.is_empty()
            && (!(2..=8).contains(&prefix.len()) || !prefix.chars().all(|c| c.is_ascii_uppercase()))
        {
            self.problem(
                &raw.reference_prefix,
                format!(
                    "reference_prefix {prefix:?} must be 2 to 8 capital letters, like \"NSAB\""
                ),
            );
        }
        let calendar = self.text(&raw.calendar, "calendar");
        let known: Vec<&str> = BankHolidays::embedded().divisions().collect();
        if !calendar.is_empty() && !known.contains(&calendar.as_str()) {
            self.problem(
                &raw.calendar,
                format!(
                    "unknown calendar {calendar:?}: use one of {}",
                    known.join(", ")
                ),
            );
        }
        let hours = match raw.working_hours {
            None => WorkingHours::default(),
            Some(h) => self.hours(h),
        };
        let levels = self.levels(&raw.levels);
        let level_ids: HashMap<String, usize> = levels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id.clone(), i))
            .collect();
        let categories = self.categories(raw.categories);
        let board = self.board(raw.board);
        let has_chair = board.rungs.iter().any(|r| r.role == BoardRole::Chair);
        let ladders = self.ladders(raw.ladders, &level_ids);

        let urgent_raw = raw.urgent.into_inner();
        let urgent = Urgent {
            prompt: self.text(&urgent_raw.prompt, "the urgent prompt"),
            source: self.source(&urgent_raw.source),
            notify: urgent_raw
                .notify
                .into_iter()
                .filter_map(|n| self.notice(n, true, has_chair))
                .collect(),
        };

        let acknowledgement = raw.acknowledgement.map(|a| {
            let a = a.into_inner();
            let window_span = S::new(a.window.span(), ());
            let window = a.window.into_inner();
            let unit = self.unit(&window.unit);
            if window.from.get_ref() != "stage_start" {
                self.problem(&window.from, "an acknowledgement window is measured from when people are asked: write from = \"stage_start\"");
            }
            if *window.days.get_ref() == 0 {
                self.problem(&window_span, "an acknowledgement window of 0 days leaves nobody time to answer: use 1 or more");
            }
            let nudge_levels = a
                .nudge_levels
                .iter()
                .filter_map(|l| self.level_ref(l, &level_ids))
                .collect();
            Acknowledgement {
                days: *window.days.get_ref(),
                unit,
                window_source: self.source(&window.source),
                nudge_levels,
                prompt: self.text(&a.prompt, "the acknowledgement nudge prompt"),
                source: self.source(&a.source),
            }
        });
        let delay_reason = raw.delay_reason.map_or_else(DelayReason::default, |d| {
            let d = d.into_inner();
            DelayReason {
                required: d.required,
                prompt: self.text(&d.prompt, "the delay reason prompt"),
                source: self.source(&d.source),
            }
        });
        let reminders = raw.reminders.map_or_else(Reminders::default, |r| {
            let r = r.into_inner();
            let mut days: Vec<u32> = r.working_days_before.iter().map(|d| *d.get_ref()).collect();
            if let Some(d) = r.working_days_before.iter().find(|d| *d.get_ref() > 20) {
                self.problem(d, "a reminder more than 20 working days before a deadline is not a reminder: use 0 (on the day) to a few days");
            }
            days.sort_unstable();
            days.dedup();
            days.reverse();
            Reminders {
                working_days_before: days,
                source: self.source(&r.source),
            }
        });
        let record_keeping = self.rule(raw.record_keeping, "record keeping");
        let resolution = self.rule(raw.resolution, "resolution");
        let learning = self.rule(raw.learning, "learning");

        let stages = self.stages(raw.stages, &level_ids, has_chair);

        Policy {
            id,
            name: self.text(&raw.name, "name"),
            reference_prefix: prefix,
            document: self.text(&raw.document, "document"),
            stage_word: raw.stage_word.unwrap_or_else(|| "Stage".to_string()),
            calendar,
            hours,
            levels,
            categories,
            urgent,
            acknowledgement,
            delay_reason,
            reminders,
            record_keeping,
            resolution,
            learning,
            board,
            ladders,
            stages,
        }
    }

    fn hours(&mut self, h: file::HoursFile) -> WorkingHours {
        let mut time =
            |v: &S<String>, what: &str| match NaiveTime::parse_from_str(v.get_ref(), "%H:%M") {
                Ok(t) => Some(t),
                Err(_) => {
                    self.problem(
                        v,
                        format!(
                            "{what} {:?} is not a time: write it as HH:MM, like \"17:00\"",
                            v.get_ref()
                        ),
                    );
                    None
                }
            };
        let open = time(&h.open, "working_hours.open");
        let close = time(&h.close, "working_hours.close");
        self.source(&h.source);
        match (open, close) {
            (Some(open), Some(close)) if open < close => WorkingHours { open, close },
            (Some(_), Some(_)) => {
                self.problem(
                    &h.open,
                    "working_hours.open must be before working_hours.close",
                );
                WorkingHours::default()
            }
            _ => WorkingHours::default(),
        }
    }

    fn levels(&mut self, raw: &[file::LevelFile]) -> Vec<Level> {
        let mut seen = BTreeSet::new();
        let mut levels = Vec::new();
        for l in raw {
            let id = self.text(&l.id, "a level id");
            if !seen.insert(id.clone()) {
                self.problem(
                    &l.id,
                    format!("level {id:?} is listed twice: each level appears once, lowest first"),
                );
            }
            levels.push(Level {
                id,
                name: self.text(&l.name, "a level name"),
            });
        }
        if levels.is_empty() {
            self.problems.push(Problem {
                file: self.file.to_string(),
                line: 1,
                message: "no levels: list the role levels, lowest first, e.g. levels = [{ id = \"practitioner\", name = \"Practitioner\" }]".into(),
            });
        }
        levels
    }

    fn level_ref(&mut self, v: &S<String>, levels: &HashMap<String, usize>) -> Option<usize> {
        match levels.get(v.get_ref()) {
            Some(rank) => Some(*rank),
            None => {
                let mut known: Vec<&String> = levels.keys().collect();
                known.sort();
                self.problem(
                    v,
                    format!(
                        "unknown role level {:?}: use one of the policy's levels ({})",
                        v.get_ref(),
                        known
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                None
            }
        }
    }

    fn categories(&mut self, raw: Vec<file::CategoryFile>) -> Vec<Category> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for c in raw {
            let id = self.text(&c.id, "a category id");
            if !is_slug(&id) {
                self.problem(
                    &c.id,
                    format!("category id {id:?} must be lowercase letters, digits and hyphens"),
                );
            }
            if !seen.insert(id.clone()) {
                self.problem(&c.id, format!("category {id:?} is listed twice"));
            }
            let guidance = c
                .guidance
                .as_ref()
                .map(|g| self.text(g, "category guidance"));
            out.push(Category {
                id,
                name: self.text(&c.name, "a category name"),
                source: self.source(&c.source),
                guidance,
            });
        }
        if out.is_empty() {
            self.problems.push(Problem {
                file: self.file.to_string(),
                line: 1,
                message: "no categories: list the categories of disagreement the procedure names"
                    .into(),
            });
        }
        out
    }

    fn board(&mut self, raw: file::BoardFile) -> Board {
        let name = self.text(&raw.name, "board.name");
        let mut rungs = Vec::new();
        for r in raw.rungs {
            let r = r.into_inner();
            let role = match r.role.get_ref().as_str() {
                "business_unit" => Some(BoardRole::BusinessUnit),
                "chair" => Some(BoardRole::Chair),
                other => {
                    self.problem(
                        &r.role,
                        format!("unknown board role {other:?}: use \"business_unit\" or \"chair\""),
                    );
                    None
                }
            };
            let id = self.text(&r.id, "a board rung id");
            let title = self.text(&r.title, "a board rung title");
            if let Some(role) = role {
                rungs.push(BoardRung { id, title, role });
            }
        }
        if !rungs.iter().any(|r| r.role == BoardRole::BusinessUnit) {
            self.problem(&raw.name, "the board has no rung with role = \"business_unit\": notices need someone to go to");
        }
        Board { name, rungs }
    }

    fn ladders(
        &mut self,
        raw: Vec<S<file::LadderFile>>,
        levels: &HashMap<String, usize>,
    ) -> Vec<Ladder> {
        let mut kinds = BTreeSet::new();
        let mut out = Vec::new();
        for l in raw {
            let l_span = S::new(l.span(), ());
            let l = l.into_inner();
            let kind = self.text(&l.kind, "a ladder kind");
            if !kinds.insert(kind.clone()) {
                self.problem(
                    &l.kind,
                    format!("two ladders for the agency kind {kind:?}: merge them"),
                );
            }
            if kind == "board" {
                self.problem(
                    &l.kind,
                    "the kind \"board\" is the board's own; describe it under [board]",
                );
            }
            let mut rung_ids = BTreeSet::new();
            let mut rungs = Vec::new();
            let mut last_level = 0;
            for r in l.rungs {
                let r = r.into_inner();
                let id = self.text(&r.id, "a rung id");
                if !rung_ids.insert(id.clone()) {
                    self.problem(
                        &r.id,
                        format!("rung {id:?} appears twice in the {kind:?} ladder"),
                    );
                }
                let level = self.level_ref(&r.level, levels).unwrap_or(last_level);
                if level < last_level {
                    self.problem(&r.level, format!("rung {id:?} sits at a lower level than the rung below it: list rungs from the lowest up"));
                }
                last_level = level;
                rungs.push(Rung {
                    id,
                    title: self.text(&r.title, "a rung title"),
                    level,
                });
            }
            if rungs.is_empty() {
                self.problem(&l_span, format!("the {kind:?} ladder has no rungs"));
            }
            out.push(Ladder {
                kind,
                name: self.text(&l.name, "a ladder name"),
                source: self.source(&l.source),
                rungs,
            });
        }
        out
    }

    fn unit(&mut self, v: &S<String>) -> DayUnit {
        match v.get_ref().as_str() {
            "working" => DayUnit::Working,
            "calendar" => DayUnit::Calendar,
            other => {
                self.problem(v, format!("unknown unit {other:?}: use \"working\" (working days) or \"calendar\" (plain days)"));
                DayUnit::Working
            }
        }
    }

    fn limit(&mut self, l: S<LimitFile>) -> (Limit, S<()>) {
        let l = l.into_inner();
        let unit = self.unit(&l.unit);
        let from_span = S::new(l.from.span(), ());
        let from = match l.from.get_ref().as_str() {
            "stage_start" => Anchor::StageStart,
            "first_raised" => Anchor::FirstRaised,
            "" => {
                self.problem(&l.from, format!("`from` is empty: use {ANCHORS}"));
                Anchor::StageStart
            }
            step => Anchor::Step(step.to_string()),
        };
        if *l.days.get_ref() == 0 {
            self.problem(&l.days, "a limit of 0 days cannot be met: use 1 or more, or no_limit with the procedure's words");
        }
        let limit = Limit {
            days: *l.days.get_ref(),
            unit,
            from,
            source: self.source(&l.source),
        };
        (limit, from_span)
    }

    fn notice(&mut self, n: S<NoticeFile>, urgent: bool, has_chair: bool) -> Option<Notice> {
        let n = n.into_inner();
        let who = match n.who.get_ref().as_str() {
            "board_business_unit" => Some(NoticeTarget::BoardBusinessUnit),
            "board_chair" => {
                if !has_chair {
                    self.problem(
                        &n.who,
                        "notice to board_chair, but [board] has no rung with role = \"chair\"",
                    );
                }
                Some(NoticeTarget::BoardChair)
            }
            "other_agency" => Some(NoticeTarget::OtherAgency),
            other => {
                self.problem(&n.who, format!("unknown notice target {other:?}: use \"board_business_unit\", \"board_chair\" or \"other_agency\""));
                None
            }
        };
        let when = match (n.when.get_ref().as_str(), urgent) {
            ("at_once", true) => Some(NoticeWhen::OnUrgent),
            ("on_entry", false) => Some(NoticeWhen::OnEntry),
            ("before_escalating", false) => Some(NoticeWhen::BeforeEscalating),
            (other, true) => {
                self.problem(&n.when, format!("urgent notices go out when the dispute is raised: write when = \"at_once\", not {other:?}"));
                None
            }
            (other, false) => {
                self.problem(&n.when, format!("unknown `when` {other:?}: use \"on_entry\" (when the stage is reached) or \"before_escalating\" (before the escalation into it)"));
                None
            }
        };
        let message = self.text(&n.message, "the notice message");
        let source = self.source(&n.source);
        Some(Notice {
            who: who?,
            when: when?,
            message,
            source,
        })
    }

    fn stages(
        &mut self,
        raw: Vec<S<file::StageFile>>,
        levels: &HashMap<String, usize>,
        has_chair: bool,
    ) -> Vec<Stage> {
        if raw.is_empty() {
            self.problems.push(Problem {
                file: self.file.to_string(),
                line: 1,
                message: "no stages: add [[stage]] tables, stage 1 first".into(),
            });
            return Vec::new();
        }
        // Step ids are global so that a limit may be measured from a step of an earlier stage.
        let mut step_stage: HashMap<String, u32> = HashMap::new();
        for (i, s) in raw.iter().enumerate() {
            for st in &s.get_ref().steps {
                let id = st.get_ref().id.get_ref().clone();
                if step_stage.insert(id.clone(), i as u32 + 1).is_some() {
                    self.problem(
                        &st.get_ref().id,
                        format!(
                            "step id {id:?} is used twice: step ids are unique across the policy"
                        ),
                    );
                }
            }
        }
        let mut out = Vec::new();
        let mut pending_anchors: Vec<(u32, String, S<()>, Option<String>)> = Vec::new();
        for (i, s) in raw.into_iter().enumerate() {
            let s_span = S::new(s.span(), ());
            let s = s.into_inner();
            let expected = i as u32 + 1;
            if *s.number.get_ref() != expected {
                self.problem(&s.number, format!("stage number {} is out of order: stages are numbered 1, 2, 3, ... in the order they appear (expected {expected})", s.number.get_ref()));
            }
            let (raising_level, receiving_level) = match (
                &s.level,
                &s.raising_level,
                &s.receiving_level,
            ) {
                (Some(l), None, None) => {
                    let r = self.level_ref(l, levels).unwrap_or(0);
                    (r, r)
                }
                (None, Some(a), Some(b)) => (
                    self.level_ref(a, levels).unwrap_or(0),
                    self.level_ref(b, levels).unwrap_or(0),
                ),
                _ => {
                    self.problem(&s.number, "say who takes part: either `level` for both sides, or both `raising_level` and `receiving_level`");
                    (0, 0)
                }
            };
            let timescale = match (s.limit, s.no_limit) {
                (Some(l), None) => {
                    let (limit, from_span) = self.limit(l);
                    if let Anchor::Step(step) = &limit.from {
                        pending_anchors.push((expected, step.clone(), from_span, None));
                    }
                    Timescale::Limit(limit)
                }
                (None, Some(n)) => {
                    let n = n.into_inner();
                    Timescale::NoLimit {
                        words: self.text(&n.words, "no_limit.words (the procedure's own words, e.g. \"as soon as possible\")"),
                        source: self.source(&n.source),
                    }
                }
                (Some(l), Some(_)) => {
                    self.problem(&l, "a stage has either `limit` or `no_limit`, not both");
                    Timescale::NoLimit {
                        words: String::new(),
                        source: String::new(),
                    }
                }
                (None, None) => {
                    self.problem(&s_span, format!("stage {expected} has no time limit: add `limit = {{ days = .., unit = .., from = .., source = .. }}`, or `no_limit = {{ words = \"as soon as possible\", source = .. }}` where the procedure sets no number (never invent one)"));
                    Timescale::NoLimit {
                        words: String::new(),
                        source: String::new(),
                    }
                }
            };
            let mut steps = Vec::new();
            for st in s.steps {
                let st = st.into_inner();
                let limit = st.limit.map(|l| {
                    let (limit, from_span) = self.limit(l);
                    if let Anchor::Step(step) = &limit.from {
                        pending_anchors.push((
                            expected,
                            step.clone(),
                            from_span,
                            Some(st.id.get_ref().clone()),
                        ));
                    }
                    limit
                });
                steps.push(Step {
                    id: self.text(&st.id, "a step id"),
                    name: self.text(&st.name, "a step name"),
                    source: self.source(&st.source),
                    limit,
                    prompt: self.text(&st.prompt, "a step prompt"),
                });
            }
            let notify = s
                .notify
                .into_iter()
                .filter_map(|n| self.notice(n, false, has_chair))
                .collect();
            let exclude = s
                .exclude
                .into_iter()
                .filter_map(|e| {
                    let e = e.into_inner();
                    let source = self.source(&e.source);
                    match e.who.get_ref().as_str() {
                        "involved_in_case" => Some(Exclusion {
                            who: ExclusionRule::InvolvedInCase,
                            source,
                        }),
                        other => {
                            self.problem(
                                &e.who,
                                format!("unknown exclusion {other:?}: use \"involved_in_case\""),
                            );
                            None
                        }
                    }
                })
                .collect();
            let form = s.form.map(|f| {
                let f = f.into_inner();
                Form {
                    id: self.text(&f.id, "form.id"),
                    name: self.text(&f.name, "form.name"),
                    source: self.source(&f.source),
                }
            });
            let repeats = s.repeats.map(|r| self.rule(r, "repeat"));
            let bring_forward_source = s.bring_forward.map(|b| self.source(&b.get_ref().source));
            let owners_move_source = s.owners_move.map(|b| self.source(&b.get_ref().source));
            out.push(Stage {
                number: expected,
                name: self.text(&s.name, "the stage name"),
                source: self.source(&s.source),
                raising_level,
                receiving_level,
                acknowledge: s.acknowledge,
                formal_challenge: s.formal_challenge,
                timescale,
                bring_forward_source,
                owners_move_source,
                repeats,
                form,
                notify,
                exclude,
                steps,
                prompt: self.text(&s.prompt, "the stage prompt"),
            });
        }
        for (stage, anchor, span, from_step) in pending_anchors {
            match step_stage.get(&anchor) {
                None => {
                    let mut known: Vec<&String> = step_stage.keys().collect();
                    known.sort();
                    let known = if known.is_empty() {
                        "this policy has no steps".to_string()
                    } else {
                        format!(
                            "its steps are {}",
                            known
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    self.problem(&span, format!("the limit is measured from {anchor:?}, a step that does not exist: use {ANCHORS} ({known})"));
                }
                Some(at) if *at > stage => {
                    self.problem(&span, format!("the limit is measured from step {anchor:?} of stage {at}, which comes after stage {stage}: measure from an earlier step"));
                }
                Some(_) if from_step.as_deref() == Some(anchor.as_str()) => {
                    self.problem(&span, format!("step {anchor:?} is measured from itself: measure it from the stage start or an earlier step"));
                }
                Some(_) => {}
            }
        }
        out
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
}
