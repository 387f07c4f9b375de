//! `policy show`: a policy's stages as a table a board manager can check against the procedure.

use super::*;

/// Describes a time limit in words, e.g. "5 working days from the stage start".
pub fn describe_limit(limit: &Limit) -> String {
    let from = match &limit.from {
        Anchor::StageStart => "the stage start".to_string(),
        Anchor::FirstRaised => "first raising".to_string(),
        Anchor::Arose => "when the disagreement arose".to_string(),
        Anchor::PreviousStageEnd => "the end of the previous stage".to_string(),
        Anchor::Step(s) => format!("step {s:?}"),
    };
    format!("{} from {from}", describe_span(limit.span))
}

/// Describes how long a limit runs, e.g. "5 working days", "4 working hours".
pub fn describe_span(span: Span) -> String {
    let plural = |n: u32, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    match span {
        Span::Days {
            n,
            unit: DayUnit::Working,
        } => plural(n, "working day", "working days"),
        Span::Days {
            n,
            unit: DayUnit::Calendar,
        } => plural(n, "day", "days"),
        Span::Hours {
            n,
            unit: DayUnit::Working,
        } => plural(n, "working hour", "working hours"),
        Span::Hours {
            n,
            unit: DayUnit::Calendar,
        } => plural(n, "hour", "hours"),
        Span::SameWorkingDay => "the same working day".to_string(),
    }
}

/// Describes a stage's timescale, quoting the procedure where it sets no number.
pub fn describe_timescale(t: &Timescale) -> String {
    match t {
        Timescale::Limit(l) => describe_limit(l),
        Timescale::NoLimit { words, .. } => format!("no fixed limit (\"{words}\")"),
        Timescale::NotStated { .. } => NOT_STATED.to_string(),
        Timescale::OnSteps => "on its steps".to_string(),
    }
}

/// How a limit the source does not state is shown: never as "no limit".
pub const NOT_STATED: &str = "a time limit not stated in the procedure";

/// Renders the policy's stages as a plain-text table, with steps, notices and ladders below.
pub fn render_table(p: &Policy) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        p.stage_word.clone(),
        "Name".into(),
        "Who (raising / receiving)".into(),
        "Time limit".into(),
        "Also".into(),
        "Source".into(),
    ]];
    for s in &p.stages {
        let who = if s.raising_level == s.receiving_level {
            p.level_name(s.raising_level).to_string()
        } else {
            format!(
                "{} / {}",
                p.level_name(s.raising_level),
                p.level_name(s.receiving_level)
            )
        };
        let mut also = Vec::new();
        if s.acknowledge {
            also.push("acknowledge".to_string());
        }
        if s.repeats.is_some() {
            also.push("repeats up the tiers".to_string());
        }
        if let Some(f) = &s.form {
            also.push(format!("form: {}", f.name));
        }
        for n in &s.notify {
            let when = match n.when {
                NoticeWhen::OnEntry => "on entry",
                NoticeWhen::BeforeEscalating => "before escalating",
                NoticeWhen::OnUrgent => "at once",
            };
            let offered = if n.offered.is_some() {
                " if asked for"
            } else {
                ""
            };
            also.push(format!("notify {} {when}{offered}", target_name(n.who)));
        }
        if let Some(d) = &s.decision {
            also.push(format!("decided by {}", d.name));
        }
        for t in &s.through {
            also.push(format!("{} through {}", t.kind, t.via_kind));
        }
        if !s.exclude.is_empty() {
            also.push("excludes anyone involved in the case".into());
        }
        if s.bring_forward_source.is_some() {
            also.push("may be brought forward".into());
        }
        rows.push([
            s.number.to_string(),
            s.name.clone(),
            who,
            describe_timescale(&s.timescale),
            also.join("; "),
            s.source.clone(),
        ]);
        for st in &s.steps {
            rows.push([
                String::new(),
                format!("  step: {}", st.name),
                String::new(),
                st.limit
                    .as_ref()
                    .map_or_else(|| "within the stage's limit".into(), describe_limit),
                String::new(),
                st.source.clone(),
            ]);
        }
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!("{} ({}) — {}\n\n", p.name, p.id, p.document);
    for (i, r) in rows.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "\nCalendar: {}, working hours {}–{}{}. Urgent route ({}): {}\n",
        p.calendar,
        p.hours.open.format("%H:%M"),
        p.hours.close.format("%H:%M"),
        if p.calendar_days.next_working_day {
            "; a calendar-day limit ending on a non-working day moves to the next working day"
        } else {
            ""
        },
        p.urgent.source,
        first_line(&p.urgent.prompt)
    ));
    if let Some(a) = &p.acknowledgement {
        out.push_str(&format!(
            "Acknowledgement: within {} of being asked, else the next level up is told ({}).\n",
            describe_span(Span::Days {
                n: a.days,
                unit: a.unit
            }),
            a.source
        ));
    }
    if p.delay_reason.required {
        out.push_str(&format!(
            "A late step must give a reason for the delay ({}).\n",
            p.delay_reason.source
        ));
    }
    out.push_str(&format!(
        "Categories: {}\n",
        p.categories
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    ));
    out.push_str("Ladders:\n");
    for l in &p.ladders {
        let rungs: Vec<&str> = l.rungs.iter().map(|r| r.title.as_str()).collect();
        out.push_str(&format!("  {}: {}\n", l.name, rungs.join(" → ")));
    }
    out
}

fn target_name(t: NoticeTarget) -> &'static str {
    match t {
        NoticeTarget::BoardBusinessUnit => "board business unit",
        NoticeTarget::BoardChair => "board chair",
        NoticeTarget::OtherAgency => "the other agency",
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
