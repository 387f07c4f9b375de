//! The Board's side of the service: the challenge log, annual statistics with charts, and a
//! dispute's complete record as a document — all read from the record, never typed again.
//!
//! A pure read model: the store hands over a board's events (one query for both databases), and
//! the functions here fold them into lines, figures and documents. Nothing here writes events.

pub mod access;
pub mod chart;
pub mod form;
pub mod log;
pub mod page;
pub mod pdf;
pub mod record;
pub mod stats;
pub mod table;

use crate::calendar::Calendar;
use crate::directory::Directory;
use crate::escalation::Reference;
use crate::policy::{Policy, PolicySet};
use crate::store::{LogScope, Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use log::{Lens, LogRow};

/// Why a report could not be made, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("there is no board {board:?}; the boards are: {known}")]
    UnknownBoard { board: String, known: String },
    #[error("there is no challenge {0}; check the reference in the challenge log")]
    UnknownDispute(String),
    #[error("{0}")]
    Calendar(String),
    #[error("the {board} policy has no form by that name; its forms are: {known}")]
    UnknownForm { board: String, known: String },
    #[error("the form could not be generated: {0}")]
    Template(String),
    #[error("the record could not be read: {0}")]
    Store(#[from] StoreError),
}

/// A period of UK local dates, both ends included; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl Period {
    /// Parses `--from` / `--to` style dates (`2026-04-01`); says what is wrong otherwise.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Period, String> {
        let date = |flag: &str, v: &str| {
            NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                .map_err(|_| format!("{flag} {v:?} is not a date like 2026-04-01"))
        };
        let period = Period {
            from: from
                .filter(|v| !v.trim().is_empty())
                .map(|v| date("from", v))
                .transpose()?,
            to: to
                .filter(|v| !v.trim().is_empty())
                .map(|v| date("to", v))
                .transpose()?,
        };
        if let (Some(f), Some(t)) = (period.from, period.to)
            && t < f
        {
            return Err(format!(
                "the period ends ({t}) before it starts ({f}); swap the dates"
            ));
        }
        Ok(period)
    }

    /// The instants the store compares with: from the start of `from` to the start of the day after `to`.
    pub fn instants(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let start =
            |d: NaiveDate| crate::calendar::london_instant(d.and_time(chrono::NaiveTime::MIN));
        (
            self.from.map(start),
            self.to.and_then(|t| t.succ_opt()).map(start),
        )
    }

    /// The period in words, e.g. `1 Apr 2026 to 31 Mar 2027`.
    pub fn words(&self) -> String {
        let d = |d: NaiveDate| d.format("%-d %b %Y").to_string();
        match (self.from, self.to) {
            (Some(f), Some(t)) => format!("{} to {}", d(f), d(t)),
            (Some(f), None) => format!("from {}", d(f)),
            (None, Some(t)) => format!("up to {}", d(t)),
            (None, None) => "all time".into(),
        }
    }
}

/// The reports of one service: its store, policies and directory.
#[derive(Clone, Copy)]
pub struct Reports<'a> {
    pub store: &'a Store,
    pub policies: &'a PolicySet,
    pub directory: &'a Directory,
}

/// One board's policy and calendar.
pub struct BoardBook<'a> {
    pub policy: &'a Policy,
    pub calendar: Calendar,
}

impl<'a> Reports<'a> {
    /// A board's policy and calendar, or an error naming the boards there are.
    pub fn board(&self, board: &str) -> Result<BoardBook<'a>, ReportError> {
        let policy = self
            .policies
            .get(board)
            .ok_or_else(|| ReportError::UnknownBoard {
                board: board.to_string(),
                known: self.policies.ids().join(", "),
            })?;
        let calendar = policy.calendar().map_err(ReportError::Calendar)?;
        Ok(BoardBook { policy, calendar })
    }

    /// The challenge log of a board's disputes raised in the period, in reference order; only
    /// those `agency` is part of when given.
    pub async fn log(
        &self,
        board: &str,
        period: Period,
        agency: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<LogRow>, ReportError> {
        let book = self.board(board)?;
        let (from, to) = period.instants();
        let lines = self
            .store
            .log_lines(&LogScope {
                board: board.to_string(),
                from,
                to,
                agency: agency.map(str::to_string),
            })
            .await?;
        let lens = Lens {
            policy: book.policy,
            calendar: &book.calendar,
            directory: self.directory,
            now,
        };
        Ok(lines.iter().map(|l| log::row(l, &lens)).collect())
    }

    /// Every figure of a board's period.
    pub async fn stats(
        &self,
        board: &str,
        period: Period,
        now: DateTime<Utc>,
    ) -> Result<stats::Stats, ReportError> {
        let rows = self.log(board, period, None, now).await?;
        let book = self.board(board)?;
        Ok(stats::compute(board, &book.policy.stage_word, &rows))
    }

    /// A form or written account of one dispute, generated from its record as it stands now.
    pub async fn form(
        &self,
        reference: &Reference,
        form_id: &str,
        now: DateTime<Utc>,
    ) -> Result<form::Generated, ReportError> {
        let events = self.store.events(reference).await?;
        let board = events
            .iter()
            .find_map(|e| match &e.body {
                crate::escalation::EventBody::Raised { policy, .. } => Some(policy.clone()),
                _ => None,
            })
            .ok_or_else(|| ReportError::UnknownDispute(reference.to_string()))?;
        let book = self.board(&board)?;
        let forms = form::forms_of(book.policy);
        let Some((spec, _)) = forms.iter().find(|(f, _)| f.id == form_id) else {
            return Err(ReportError::UnknownForm {
                board,
                known: if forms.is_empty() {
                    "none".into()
                } else {
                    forms
                        .iter()
                        .map(|(f, _)| f.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            });
        };
        let lens = Lens {
            policy: book.policy,
            calendar: &book.calendar,
            directory: self.directory,
            now,
        };
        let data = form::data(&reference.to_string(), &events, spec, &lens)
            .ok_or_else(|| ReportError::UnknownDispute(reference.to_string()))?;
        let html = form::render(spec, &data).map_err(ReportError::Template)?;
        Ok(form::Generated { data, html })
    }

    /// A dispute's record as a document, its hash chain checked.
    pub async fn record(&self, reference: &Reference) -> Result<record::Document, ReportError> {
        let stored = self
            .store
            .dispute_record(reference)
            .await?
            .ok_or_else(|| ReportError::UnknownDispute(reference.to_string()))?;
        Ok(record::document(&stored, self.directory))
    }
}
