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
        Ok(text) => parse(&path.display().to_string(), &text, path.parent()),
        Err(e) => Err(vec![Problem {
            file: path.display().to_string(),
            line: 0,
            message: format!("cannot read the file: {e}"),
        }]),
    }
}

/// Checks policy text, naming `file` in problems. Without a folder, form templates are not read.
pub fn check_text(file: &str, text: &str) -> Result<Policy, Vec<Problem>> {
    parse(file, text, None)
}

/// Parses and checks a policy; with the folder it sits in, every form's template is read and
/// rendered against a sample, so a missing template or a misspelt field is found here.
pub(super) fn parse(
    file_name: &str,
    text: &str,
    folder: Option<&Path>,
) -> Result<Policy, Vec<Problem>> {
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
        calendar_day_limit: None,
        notice_ids: BTreeSet::new(),
        forms: Vec::new(),
    };
    let mut policy = c.policy(raw);
    c.templates(&mut policy, folder);
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
    /// Where the first calendar-day limit is, so a policy that has one must say what happens
    /// when it ends on a day nobody works.
    calendar_day_limit: Option<S<()>>,
    notice_ids: BTreeSet<String>,
    /// Where each stage's form is written, with the template it names, in stage order.
    forms: Vec<(u32, S<()>, Option<String>)>,
}

const ANCHORS: &str =
    "\"stage_start\", \"first_raised\", \"arising\", \"previous_stage_end\" or the id of a step";

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
        let calendar_days = raw.calendar_days.map_or_else(CalendarDays::default, |c| {
            let c = c.into_inner();
            let next_working_day = match c.on_non_working_day.get_ref().as_str() {
                "next_working_day" => true,
                "stays" => false,
                other => {
                    self.problem(&c.on_non_working_day, format!("unknown calendar_days.on_non_working_day {other:?}: use \"next_working_day\" (the deadline moves to the close of the next working day) or \"stays\" (it ends on that day as counted)"));
                    false
                }
            };
            CalendarDays {
                next_working_day,
                source: self.source(&c.source),
            }
        });
        let calendar_days_said = !calendar_days.source.is_empty();
        let covers = raw.covers.map_or_else(Covers::default, |c| {
            let c = c.into_inner();
            let mut covers = Covers {
                adults: false,
                children: false,
                source: self.source(&c.source),
            };
            for w in &c.who {
                match w.get_ref().as_str() {
                    "adults" => covers.adults = true,
                    "children" => covers.children = true,
                    other => self.problem(
                        w,
                        format!(
                            "unknown covers.who {other:?}: use \"adults\", \"children\" or both"
                        ),
                    ),
                }
            }
            if c.who.is_empty() {
                self.problem(
                    &c.source,
                    "covers.who is empty: list \"adults\", \"children\" or both",
                );
                covers.adults = true;
            }
            covers
        });
        let levels = self.levels(&raw.levels);
        let level_ids: HashMap<String, usize> = levels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id.clone(), i))
            .collect();
        let categories = self.categories(raw.categories);
        let category_ids: BTreeSet<String> = categories.iter().map(|c| c.id.clone()).collect();
        let board = self.board(raw.board, &category_ids, covers.children);
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
            let unit = match &window.unit {
                Some(u) => self.unit(u),
                None => {
                    self.problem(&window_span, "an acknowledgement window needs unit = \"working\" or \"calendar\"");
                    DayUnit::Working
                }
            };
            if window.from.get_ref() != "stage_start" {
                self.problem(&window.from, "an acknowledgement window is measured from when people are asked: write from = \"stage_start\"");
            }
            let days = window.days.as_ref().map_or(0, |d| *d.get_ref());
            if window.hours.is_some() || window.same_working_day.is_some() {
                self.problem(&window_span, "an acknowledgement window is counted in days: write days = N");
            }
            if days == 0 {
                self.problem(&window_span, "an acknowledgement window of 0 days leaves nobody time to answer: use days = 1 or more");
            }
            let nudge_levels = a
                .nudge_levels
                .iter()
                .filter_map(|l| self.level_ref(l, &level_ids))
                .collect();
            Acknowledgement {
                days,
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

        let ladder_kinds: BTreeSet<String> = ladders.iter().map(|l| l.kind.clone()).collect();
        let stages = self.stages(raw.stages, &level_ids, &board, &ladder_kinds);
        if !calendar_days_said && let Some(span) = self.calendar_day_limit.take() {
            self.problem(&span, "this policy has a calendar-day limit: say whether one that ends on a weekend or bank holiday moves to the next working day, with [calendar_days] on_non_working_day = \"next_working_day\" or \"stays\" and the source (see policies/README.md)");
        }

        Policy {
            id,
            name: self.text(&raw.name, "name"),
            reference_prefix: prefix,
            document: self.text(&raw.document, "document"),
            stage_word: raw.stage_word.unwrap_or_else(|| "Stage".to_string()),
            calendar,
            hours,
            calendar_days,
            covers,
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

    fn board(
        &mut self,
        raw: file::BoardFile,
        categories: &BTreeSet<String>,
        children: bool,
    ) -> Board {
        let name = self.text(&raw.name, "board.name");
        let mut rungs = Vec::new();
        for r in raw.rungs {
            let r = r.into_inner();
            let serves = r.serves.map(|sv| {
                let sv_span = S::new(sv.span(), ());
                let sv = sv.into_inner();
                let mut concerns = Vec::new();
                for c in &sv.concerns {
                    match c.get_ref().as_str() {
                        "adult" | "organisation" => concerns.push(c.get_ref().clone()),
                        "child" if children => concerns.push(c.get_ref().clone()),
                        "child" => self.problem(c, "serves.concerns names \"child\", but the policy does not cover children: add covers = { who = [\"adults\", \"children\"], source = .. }"),
                        other => self.problem(c, format!("unknown serves.concerns {other:?}: use \"adult\", \"child\" or \"organisation\"")),
                    }
                }
                let mut cats = Vec::new();
                for c in &sv.categories {
                    if categories.contains(c.get_ref()) {
                        cats.push(c.get_ref().clone());
                    } else {
                        self.problem(c, format!("serves.categories names {:?}, which is not one of the policy's categories", c.get_ref()));
                    }
                }
                if sv.concerns.is_empty() && sv.categories.is_empty() {
                    self.problem(&sv_span, "serves says nothing: give concerns = [..] and/or categories = [..] for the disputes this rung takes");
                }
                Serves {
                    concerns,
                    categories: cats,
                    source: self.source(&sv.source),
                }
            });
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
                rungs.push(BoardRung {
                    id,
                    title,
                    role,
                    serves,
                });
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

    fn limit(&mut self, l: S<LimitFile>, stage: u32) -> (Limit, S<()>) {
        let l_span = S::new(l.span(), ());
        let l = l.into_inner();
        let from_span = S::new(l.from.span(), ());
        let from = match l.from.get_ref().as_str() {
            "stage_start" => Anchor::StageStart,
            "first_raised" => Anchor::FirstRaised,
            "arising" => Anchor::Arose,
            "previous_stage_end" => {
                if stage == 1 {
                    self.problem(&l.from, "stage 1 has no previous stage: measure it from \"stage_start\", \"first_raised\" or \"arising\"");
                }
                Anchor::PreviousStageEnd
            }
            "" => {
                self.problem(&l.from, format!("`from` is empty: use {ANCHORS}"));
                Anchor::StageStart
            }
            step => Anchor::Step(step.to_string()),
        };
        let same_day = l.same_working_day.as_ref().is_some_and(|b| *b.get_ref());
        let span = match (&l.days, &l.hours, same_day) {
            (Some(d), None, false) => {
                if *d.get_ref() == 0 {
                    self.problem(d, "a limit of 0 days cannot be met: use 1 or more, same_working_day = true for \"the same working day\", or no_limit with the procedure's words");
                }
                let unit = self.limit_unit(&l.unit, &l_span, "days");
                if unit == DayUnit::Calendar && self.calendar_day_limit.is_none() {
                    self.calendar_day_limit = Some(S::new(d.span(), ()));
                }
                Span::Days {
                    n: *d.get_ref(),
                    unit,
                }
            }
            (None, Some(h), false) => {
                if *h.get_ref() == 0 {
                    self.problem(h, "a limit of 0 hours cannot be met: use 1 or more (\"immediately\" is a few working hours), or same_working_day = true");
                }
                let unit = self.limit_unit(&l.unit, &l_span, "hours");
                Span::Hours {
                    n: *h.get_ref(),
                    unit,
                }
            }
            (None, None, true) => {
                if let Some(u) = &l.unit {
                    self.problem(
                        u,
                        "same_working_day ends at the close of working hours: leave out unit",
                    );
                }
                Span::SameWorkingDay
            }
            (None, None, false) => {
                if let Some(b) = &l.same_working_day {
                    self.problem(
                        b,
                        "same_working_day = false says nothing: give days = N or hours = N instead",
                    );
                } else {
                    self.problem(
                        &l_span,
                        "a limit needs its length: days = N, hours = N, or same_working_day = true",
                    );
                }
                Span::SameWorkingDay
            }
            _ => {
                self.problem(&l_span, "a limit has one length: days = N, hours = N or same_working_day = true, not more than one");
                Span::SameWorkingDay
            }
        };
        let limit = Limit {
            span,
            from,
            source: self.source(&l.source),
        };
        (limit, from_span)
    }

    fn limit_unit(&mut self, unit: &Option<S<String>>, at: &S<()>, what: &str) -> DayUnit {
        match unit {
            Some(u) => self.unit(u),
            None => {
                self.problem(at, format!("a limit in {what} needs unit = \"working\" (only working time counts) or \"calendar\" (every {} counts)", if what == "days" { "day" } else { "hour" }));
                DayUnit::Working
            }
        }
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
        let offered = match (&n.id, &n.ask) {
            (Some(id), Some(ask)) => {
                let id_text = id.get_ref().trim().to_string();
                if !is_slug(&id_text) {
                    self.problem(id, format!("notice id {id_text:?} must be lowercase letters, digits and hyphens, like \"advance-notice\""));
                } else if !self.notice_ids.insert(id_text.clone()) {
                    self.problem(id, format!("notice id {id_text:?} is used twice: each offered notice has its own id"));
                }
                let question = self.text(ask, "the notice's question (ask)");
                if !question.ends_with('?') {
                    self.problem(ask, "ask is the yes/no question people answer, in the procedure's words: end it with a question mark");
                }
                Some(Offer {
                    id: id_text,
                    question,
                })
            }
            (Some(id), None) => {
                self.problem(id, "a notice with an id is offered, not automatic: add ask = \"...?\", the yes/no question in the procedure's words (or remove id)");
                None
            }
            (None, Some(ask)) => {
                self.problem(ask, "an offered notice needs an id too (lowercase, hyphens), so the answer can be recorded against it");
                None
            }
            (None, None) => None,
        };
        Some(Notice {
            who: who?,
            when: when?,
            message,
            source,
            offered,
        })
    }

    fn stages(
        &mut self,
        raw: Vec<S<file::StageFile>>,
        levels: &HashMap<String, usize>,
        board: &Board,
        ladder_kinds: &BTreeSet<String>,
    ) -> Vec<Stage> {
        let has_chair = board.rungs.iter().any(|r| r.role == BoardRole::Chair);
        let stage_count = raw.len() as u32;
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
            let steps_timed = s.steps.iter().any(|st| st.get_ref().limit.is_some());
            let timescale = match (s.limit, s.no_limit, s.limit_not_stated) {
                (Some(l), None, None) => {
                    let (limit, from_span) = self.limit(l, expected);
                    if let Anchor::Step(step) = &limit.from {
                        pending_anchors.push((expected, step.clone(), from_span, None));
                    }
                    Timescale::Limit(limit)
                }
                (None, Some(n), None) => {
                    let n = n.into_inner();
                    Timescale::NoLimit {
                        words: self.text(&n.words, "no_limit.words (the procedure's own words, e.g. \"as soon as possible\")"),
                        source: self.source(&n.source),
                    }
                }
                (None, None, Some(n)) => Timescale::NotStated {
                    source: self.source(&n.get_ref().source),
                },
                (None, None, None) if steps_timed => Timescale::OnSteps,
                (None, None, None) => {
                    self.problem(&s_span, format!("stage {expected} has no time limit: add `limit = {{ days = .., unit = .., from = .., source = .. }}`, put the limit on the step it times (`[[stage.step]] limit = ..`), write `no_limit = {{ words = \"as soon as possible\", source = .. }}` where the procedure sets no number, or `limit_not_stated = {{ source = .. }}` where it has one the source does not state (never invent one)"));
                    Timescale::NoLimit {
                        words: String::new(),
                        source: String::new(),
                    }
                }
                (_, n, ns) => {
                    let at = ns
                        .map(|x| S::new(x.span(), ()))
                        .or(n.map(|x| S::new(x.span(), ())))
                        .unwrap_or(s_span);
                    self.problem(&at, format!("stage {expected} has more than one of `limit`, `no_limit` and `limit_not_stated`: keep one"));
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
                    let (limit, from_span) = self.limit(l, expected);
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
                let by = st.by.as_ref().and_then(|b| match b.get_ref().as_str() {
                    "each_side" => Some(StepBy::EachSide),
                    "raising" => Some(StepBy::Raising),
                    "receiving" => Some(StepBy::Receiving),
                    "board" => Some(StepBy::Board),
                    other => {
                        self.problem(b, format!("unknown step `by` {other:?}: use \"each_side\" (one duty per side, each done by that side's people), \"raising\", \"receiving\" or \"board\""));
                        None
                    }
                });
                let id = self.text(&st.id, "a step id");
                if id.contains('@') {
                    self.problem(
                        &st.id,
                        format!(
                            "step id {id:?} must not contain @: use letters, digits and hyphens"
                        ),
                    );
                }
                steps.push(Step {
                    id,
                    name: self.text(&st.name, "a step name"),
                    source: self.source(&st.source),
                    limit,
                    by,
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
                let span = S::new(f.span(), ());
                let f = f.into_inner();
                let template = f.template.as_ref().map(|t| self.text(t, "form.template"));
                self.forms.push((expected, span, template.clone()));
                Form {
                    id: self.text(&f.id, "form.id"),
                    name: self.text(&f.name, "form.name"),
                    source: self.source(&f.source),
                    template: template.unwrap_or_default(),
                    template_text: None,
                }
            });
            let decision = s.decided_by.map(|d| {
                let d_span = S::new(d.span(), ());
                let d = d.into_inner();
                let body = match d.body.get_ref().as_str() {
                    "chair" => DecisionBody::Chair,
                    "panel" => DecisionBody::Panel,
                    "sub_committee" => DecisionBody::SubCommittee,
                    other => {
                        self.problem(&d.body, format!("unknown decided_by.body {other:?}: use \"chair\", \"panel\" or \"sub_committee\""));
                        DecisionBody::Panel
                    }
                };
                let owner = match d.owner.get_ref().as_str() {
                    "chair" => BoardRole::Chair,
                    "business_unit" => BoardRole::BusinessUnit,
                    other => {
                        self.problem(&d.owner, format!("unknown decided_by.owner {other:?}: use \"chair\" or \"business_unit\", the board role whose people own the stage and record the determination"));
                        BoardRole::Chair
                    }
                };
                if !board.rungs.iter().any(|r| r.role == owner) {
                    self.problem(&d.owner, "decided_by.owner names a board role no rung of [board] holds: add the rung");
                }
                if expected != stage_count {
                    self.problem(&d_span, format!("stage {expected} is decided by the board, and a determination closes the dispute: it must be the last stage (this policy has {stage_count})"));
                }
                Decision {
                    body,
                    name: self.text(&d.name, "decided_by.name (the body as the procedure names it)"),
                    owner,
                    source: self.source(&d.source),
                }
            });
            if let (Some(_), Some(r)) = (&decision, &s.repeats) {
                self.problem(r, "a stage the board decides does not repeat up the management tiers: remove repeats or decided_by");
            }
            let mut through = Vec::new();
            for t in s.through {
                let t = t.into_inner();
                let kind = self.text(&t.kind, "through.kind");
                let via_kind = self.text(&t.via_kind, "through.via_kind");
                if kind == via_kind {
                    self.problem(&t.via_kind, "through.via_kind is the agency kind the stage goes through: it must differ from through.kind");
                }
                if !ladder_kinds.contains(&via_kind) {
                    self.problem(&t.via_kind, format!("no [[ladder]] for the agency kind {via_kind:?}: the agency a stage goes through needs its own ladder, so the stage can find its people"));
                }
                through.push(Through {
                    kind,
                    via_kind,
                    source: self.source(&t.source),
                });
            }
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
                decision,
                through,
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

impl Checker<'_> {
    /// Fills in each form's template path, and with the policy's folder reads the template and
    /// renders it against a sample: a missing template, or one that names a field the record
    /// does not have, is a problem at the stage's `form` line.
    fn templates(&mut self, policy: &mut Policy, folder: Option<&Path>) {
        let forms = std::mem::take(&mut self.forms);
        for (number, span, named) in forms {
            let Some(stage) = policy.stages.iter().position(|s| s.number == number) else {
                continue;
            };
            let Some(form) = policy.stages[stage].form.clone() else {
                continue;
            };
            let path = named.unwrap_or_else(|| format!("{}/forms/{}.html.j2", policy.id, form.id));
            let relative = Path::new(&path);
            if relative.is_absolute()
                || relative
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                self.problem(&span, format!("form.template {path:?} must be a path inside the policies folder, like \"{}/forms/{}.html.j2\"", policy.id, form.id));
                continue;
            }
            let mut form = form;
            form.template = path.clone();
            if let Some(folder) = folder {
                match std::fs::read_to_string(folder.join(relative)) {
                    Ok(text) => {
                        let sample = template::sample(policy, &form);
                        if let Err(e) = template::render(&path, &text, &sample) {
                            self.problem(&span, format!("the template {path} of the {:?} form does not render: {e}; it may use only the fields listed in policies/README.md (Forms)", form.id));
                        }
                        form.template_text = Some(text);
                    }
                    Err(e) => self.problem(&span, format!("the {:?} form needs its template {path} beside the policy ({e}): write it, or name another with form.template (see policies/README.md, Forms)", form.id)),
                }
            }
            policy.stages[stage].form = Some(form);
        }
    }
}
