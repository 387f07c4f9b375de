//! A board's figures for a period, for its annual report: computed from the challenge log's
//! lines, so the log and the statistics can never disagree.

use super::log::{LogRow, Outcome, Timeliness};
use serde::Serialize;
use std::collections::BTreeMap;

/// Working days spent at one stage by the entries that finished it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageTime {
    pub stage: u32,
    pub name: String,
    /// Entries that left the stage in the period's disputes.
    pub finished: u64,
    /// Median working days (the mean of the middle two for an even count).
    pub median: Option<f64>,
    /// 90th percentile working days (nearest rank: the ⌈0.9·n⌉-th smallest).
    pub p90: Option<i64>,
    /// Of the finished entries with a limit, how many finished within it.
    pub with_limit: u64,
    pub within_limit: u64,
}

/// A reason for delay as the statistics list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delay {
    pub reference: String,
    pub stage: u32,
    pub reason: String,
}

/// Every figure of a board's period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub board: String,
    /// Disputes raised in the period.
    pub raised: u64,
    /// By category name, most first.
    pub by_category: Vec<(String, u64)>,
    /// By raising → receiving agency kind, most first.
    pub by_agency_kinds: Vec<(String, u64)>,
    /// By the highest stage reached, lowest stage first.
    pub by_highest_stage: Vec<(u32, u64)>,
    /// Where they ended: `resolved at Stage N`, `withdrawn`, `open`.
    pub outcomes: Vec<(String, u64)>,
    pub stage_times: Vec<StageTime>,
    /// Finished stage entries that had a limit, and how many of those finished within it.
    pub stages_with_limit: u64,
    pub stages_within_limit: u64,
    /// Stage entries that ran past their limit (finished late, or still running late).
    pub late_stages: u64,
    pub delay_reasons: Vec<Delay>,
    pub urgent: u64,
    /// Learning points referred to the board, and by how many disputes.
    pub learning_referrals: u64,
    pub disputes_referring_learning: u64,
    pub withdrawn: u64,
}

fn ranked(map: BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = map.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// The median of sorted values (mean of the middle two for an even count).
pub fn median(sorted: &[i64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2] as f64),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0),
    }
}

/// The nearest-rank percentile of sorted values: the ⌈p·n⌉-th smallest.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Computes every figure from the period's log lines.
pub fn compute(board: &str, stage_word: &str, rows: &[LogRow]) -> Stats {
    let mut by_category = BTreeMap::new();
    let mut by_kinds = BTreeMap::new();
    let mut by_stage = BTreeMap::new();
    let mut outcomes = BTreeMap::new();
    let mut times: BTreeMap<u32, (String, Vec<i64>, u64, u64)> = BTreeMap::new();
    let mut s = Stats {
        board: board.to_string(),
        raised: rows.len() as u64,
        by_category: Vec::new(),
        by_agency_kinds: Vec::new(),
        by_highest_stage: Vec::new(),
        outcomes: Vec::new(),
        stage_times: Vec::new(),
        stages_with_limit: 0,
        stages_within_limit: 0,
        late_stages: 0,
        delay_reasons: Vec::new(),
        urgent: 0,
        learning_referrals: 0,
        disputes_referring_learning: 0,
        withdrawn: 0,
    };
    for r in rows {
        *by_category.entry(r.category_name.clone()).or_default() += 1;
        *by_kinds
            .entry(format!("{} → {}", r.raising.kind, r.receiving.kind))
            .or_default() += 1;
        *by_stage.entry(r.highest_stage).or_default() += 1;
        let outcome = r
            .outcome
            .map_or_else(|| "open".to_string(), |o| o.words(stage_word));
        *outcomes.entry(outcome).or_default() += 1;
        if r.outcome == Some(Outcome::Withdrawn) {
            s.withdrawn += 1;
        }
        s.urgent += u64::from(r.urgent);
        s.learning_referrals += u64::from(r.learning_referred);
        s.disputes_referring_learning += u64::from(r.learning_referred > 0);
        for e in &r.stages {
            if e.timeliness == Timeliness::Late {
                s.late_stages += 1;
            }
            if e.left.is_none() {
                continue;
            }
            let t = times
                .entry(e.stage)
                .or_insert_with(|| (e.name.clone(), Vec::new(), 0, 0));
            if let Some(days) = e.working_days {
                t.1.push(days);
            }
            if e.due.is_some() {
                t.2 += 1;
                s.stages_with_limit += 1;
                if e.timeliness == Timeliness::OnTime {
                    t.3 += 1;
                    s.stages_within_limit += 1;
                }
            }
        }
        for d in &r.delay_reasons {
            s.delay_reasons.push(Delay {
                reference: r.reference.clone(),
                stage: d.stage,
                reason: d.reason.clone(),
            });
        }
    }
    s.by_category = ranked(by_category);
    s.by_agency_kinds = ranked(by_kinds);
    s.by_highest_stage = by_stage.into_iter().collect();
    s.outcomes = ranked(outcomes);
    s.stage_times = times
        .into_iter()
        .map(|(stage, (name, mut days, with_limit, within_limit))| {
            days.sort_unstable();
            StageTime {
                stage,
                name,
                finished: days.len() as u64,
                median: median(&days),
                p90: percentile(&days, 0.9),
                with_limit,
                within_limit,
            }
        })
        .collect();
    s
}

impl Stats {
    /// The share of finished stages that finished within their limit, in percent.
    pub fn within_limit_percent(&self) -> Option<f64> {
        (self.stages_with_limit > 0)
            .then(|| 100.0 * self.stages_within_limit as f64 / self.stages_with_limit as f64)
    }

    /// Every figure as `section,item,value` lines, ready for a spreadsheet.
    pub fn to_csv(&self, stage_word: &str) -> String {
        let mut out = super::table::Csv::new(&["section", "item", "value"]);
        let n = |v: u64| v.to_string();
        out.row(&["disputes", "raised", &n(self.raised)]);
        out.row(&["disputes", "urgent", &n(self.urgent)]);
        out.row(&["disputes", "withdrawn", &n(self.withdrawn)]);
        out.row(&["learning", "referrals", &n(self.learning_referrals)]);
        out.row(&[
            "learning",
            "disputes referring learning",
            &n(self.disputes_referring_learning),
        ]);
        for (k, v) in &self.by_category {
            out.row(&["by category", k, &n(*v)]);
        }
        for (k, v) in &self.by_agency_kinds {
            out.row(&["by agency kinds", k, &n(*v)]);
        }
        for (k, v) in &self.by_highest_stage {
            out.row(&["by highest stage", &format!("{stage_word} {k}"), &n(*v)]);
        }
        for (k, v) in &self.outcomes {
            out.row(&["outcome", k, &n(*v)]);
        }
        for t in &self.stage_times {
            let label = format!("{stage_word} {}", t.stage);
            out.row(&["stage finished", &label, &n(t.finished)]);
            let median = t.median.map(|m| format!("{m:.1}")).unwrap_or_default();
            out.row(&["stage median working days", &label, &median]);
            let p90 = t.p90.map(|p| p.to_string()).unwrap_or_default();
            out.row(&["stage 90th percentile working days", &label, &p90]);
            out.row(&["stage finished with a limit", &label, &n(t.with_limit)]);
            out.row(&["stage finished within limit", &label, &n(t.within_limit)]);
        }
        out.row(&[
            "limits",
            "finished with a limit",
            &n(self.stages_with_limit),
        ]);
        out.row(&[
            "limits",
            "finished within limit",
            &n(self.stages_within_limit),
        ]);
        let share = self
            .within_limit_percent()
            .map(|p| format!("{p:.1}"))
            .unwrap_or_default();
        out.row(&["limits", "percent within limit", &share]);
        out.row(&["delays", "late stages", &n(self.late_stages)]);
        out.row(&[
            "delays",
            "reasons recorded",
            &n(self.delay_reasons.len() as u64),
        ]);
        for d in &self.delay_reasons {
            out.row(&[
                "delay reason",
                &format!("{} {stage_word} {}", d.reference, d.stage),
                &d.reason,
            ]);
        }
        out.finish()
    }
}

impl Stats {
    /// The charts of the figures, each an SVG drawn here.
    pub fn charts(&self, stage_word: &str) -> Vec<String> {
        use super::chart::bars;
        let count = |v: &[(String, u64)]| -> Vec<(String, f64)> {
            v.iter().map(|(k, n)| (k.clone(), *n as f64)).collect()
        };
        let stages: Vec<(String, f64)> = self
            .by_highest_stage
            .iter()
            .map(|(s, n)| (format!("{stage_word} {s}"), *n as f64))
            .collect();
        let median: Vec<(String, f64)> = self
            .stage_times
            .iter()
            .filter_map(|t| Some((format!("{stage_word} {}", t.stage), t.median?)))
            .collect();
        let p90: Vec<(String, f64)> = self
            .stage_times
            .iter()
            .filter_map(|t| Some((format!("{stage_word} {}", t.stage), t.p90? as f64)))
            .collect();
        let within: Vec<(String, f64)> = self
            .stage_times
            .iter()
            .filter(|t| t.with_limit > 0)
            .map(|t| {
                (
                    format!("{stage_word} {}", t.stage),
                    100.0 * t.within_limit as f64 / t.with_limit as f64,
                )
            })
            .collect();
        vec![
            bars("Disputes by category", &count(&self.by_category)),
            bars(
                "Disputes by pair of agency kinds",
                &count(&self.by_agency_kinds),
            ),
            bars(
                &format!("Highest {} reached", stage_word.to_lowercase()),
                &stages,
            ),
            bars("Where disputes ended", &count(&self.outcomes)),
            bars(
                &format!("Median working days at each {}", stage_word.to_lowercase()),
                &median,
            ),
            bars(
                &format!(
                    "90th percentile working days at each {}",
                    stage_word.to_lowercase()
                ),
                &p90,
            ),
            bars(
                &format!(
                    "Percent of each {} finished within its limit",
                    stage_word.to_lowercase()
                ),
                &within,
            ),
        ]
    }

    /// The figures as a printable page: a summary table, the charts, and the reasons for delay.
    pub fn to_html(&self, board_name: &str, stage_word: &str, period: &str, nav: &str) -> String {
        use super::chart::escape;
        let share = self.within_limit_percent().map_or_else(
            || "no finished stage had a limit".to_string(),
            |p| format!("{p:.1}%"),
        );
        let mut body = format!(
            "{nav}<h1>{} — statistics</h1>\n<p>Disputes raised {}.</p>\n<table class=\"summary\"><tbody>\
             <tr><th>Disputes raised</th><td>{}</td></tr>\
             <tr><th>Urgent (adult at immediate risk)</th><td>{}</td></tr>\
             <tr><th>Withdrawn</th><td>{}</td></tr>\
             <tr><th>Learning referrals (disputes)</th><td>{} ({})</td></tr>\
             <tr><th>{stage_word}s finished within their limit</th><td>{share} ({} of {})</td></tr>\
             <tr><th>{stage_word}s that ran late</th><td>{}</td></tr>\
             </tbody></table>\n",
            escape(board_name),
            escape(period),
            self.raised,
            self.urgent,
            self.withdrawn,
            self.learning_referrals,
            self.disputes_referring_learning,
            self.stages_within_limit,
            self.stages_with_limit,
            self.late_stages,
        );
        body.push_str("<section class=\"charts\">\n");
        for c in self.charts(stage_word) {
            body.push_str("<figure>");
            body.push_str(&c);
            body.push_str("</figure>\n");
        }
        body.push_str("</section>\n<h2>Reasons for delay</h2>\n");
        if self.delay_reasons.is_empty() {
            body.push_str("<p>None recorded.</p>\n");
        } else {
            body.push_str("<table><thead><tr><th>Dispute</th><th>Stage</th><th>Reason</th></tr></thead><tbody>\n");
            for d in &self.delay_reasons {
                body.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                    escape(&d.reference),
                    d.stage,
                    escape(&d.reason)
                ));
            }
            body.push_str("</tbody></table>\n");
        }
        super::page::html(&format!("{board_name} statistics"), &body)
    }
}
