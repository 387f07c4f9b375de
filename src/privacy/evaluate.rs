//! Measures the screen on a labelled corpus: how many identifiable lines it refuses (per
//! kind) and how many ordinary lines it refuses by mistake, for the benchmark and the tests.
//!
//! The corpus is tab-separated, one line of chat per row: `split`, `labels`, `text`. The
//! split is `tune` (lines the screen was developed against) or `held` (lines kept aside and
//! never tuned on); labels are `-` for an ordinary line or the slugs of the kinds of detail
//! it holds, comma-separated (`person_name,address`). `#` starts a comment row.

use std::collections::BTreeMap;
use std::fmt;

use super::{Allow, IdentifiableKind, screen_with};

/// The corpus shipped with the repository.
pub const CORPUS: &str = include_str!("../../tests/screen-corpus.tsv");

/// Every kind, in the order reports list them.
const KINDS: [IdentifiableKind; 9] = [
    IdentifiableKind::PersonName,
    IdentifiableKind::Address,
    IdentifiableKind::Postcode,
    IdentifiableKind::DateOfBirth,
    IdentifiableKind::NhsNumber,
    IdentifiableKind::ChiNumber,
    IdentifiableKind::NationalInsuranceNumber,
    IdentifiableKind::PhoneNumber,
    IdentifiableKind::EmailAddress,
];

/// One labelled line of the corpus.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    /// 1-based row in the corpus file, to find it again.
    pub row: usize,
    pub split: &'a str,
    /// What the line holds; empty for an ordinary line.
    pub expected: Vec<IdentifiableKind>,
    pub text: &'a str,
}

/// Reads the corpus, naming the row of anything malformed.
pub fn parse(corpus: &str) -> Result<Vec<Line<'_>>, String> {
    let mut lines = Vec::new();
    for (index, row) in corpus.lines().enumerate() {
        let row_number = index + 1;
        if row.trim().is_empty() || row.starts_with('#') {
            continue;
        }
        let mut fields = row.splitn(3, '\t');
        let (Some(split), Some(labels), Some(text)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(format!(
                "row {row_number}: expected split, labels and text separated by tabs"
            ));
        };
        if !matches!(split, "tune" | "held") {
            return Err(format!(
                "row {row_number}: split {split:?} is neither tune nor held"
            ));
        }
        let mut expected = Vec::new();
        if labels != "-" {
            for label in labels.split(',') {
                let kind = KINDS
                    .iter()
                    .copied()
                    .find(|k| k.slug() == label.trim())
                    .ok_or_else(|| format!("row {row_number}: unknown label {label:?}"))?;
                expected.push(kind);
            }
        }
        lines.push(Line {
            row: row_number,
            split,
            expected,
            text,
        });
    }
    Ok(lines)
}

/// How the screen did on lines that hold one kind of detail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recall {
    /// Lines holding this kind.
    pub lines: usize,
    /// Of those, lines the screen refused (for any reason).
    pub refused: usize,
    /// Of those, lines where it found this kind itself.
    pub found_as_kind: usize,
}

/// The screen's figures on a set of corpus lines.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub identifiable: usize,
    pub identifiable_refused: usize,
    pub by_kind: BTreeMap<IdentifiableKind, Recall>,
    pub ordinary: usize,
    pub ordinary_refused: usize,
    /// Ordinary lines refused, by the kind the screen thought it saw.
    pub false_by_kind: BTreeMap<IdentifiableKind, usize>,
    /// Rows of identifiable lines that passed.
    pub missed_rows: Vec<usize>,
    /// Rows of ordinary lines that were refused.
    pub false_rows: Vec<usize>,
}

impl Report {
    /// Share of identifiable lines refused, 0 to 1.
    pub fn recall(&self) -> f64 {
        ratio(self.identifiable_refused, self.identifiable)
    }

    /// Share of ordinary lines refused, 0 to 1.
    pub fn false_refusals(&self) -> f64 {
        ratio(self.ordinary_refused, self.ordinary)
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Screens every line of `split` (or all lines, for `None`) and tallies the results.
pub fn evaluate(lines: &[Line<'_>], split: Option<&str>, allow: &Allow) -> Report {
    let mut report = Report::default();
    for line in lines.iter().filter(|l| split.is_none_or(|s| l.split == s)) {
        let findings = screen_with(line.text, allow);
        let refused = !findings.is_empty();
        if line.expected.is_empty() {
            report.ordinary += 1;
            if refused {
                report.ordinary_refused += 1;
                report.false_rows.push(line.row);
                let mut kinds: Vec<IdentifiableKind> = findings.iter().map(|f| f.kind).collect();
                kinds.sort();
                kinds.dedup();
                for kind in kinds {
                    *report.false_by_kind.entry(kind).or_default() += 1;
                }
            }
            continue;
        }
        report.identifiable += 1;
        if refused {
            report.identifiable_refused += 1;
        } else {
            report.missed_rows.push(line.row);
        }
        for &kind in &line.expected {
            let tally = report.by_kind.entry(kind).or_default();
            tally.lines += 1;
            tally.refused += usize::from(refused);
            tally.found_as_kind += usize::from(findings.iter().any(|f| f.kind == kind));
        }
    }
    report
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let percent = |x: f64| x * 100.0;
        writeln!(
            f,
            "identifiable lines refused: {}/{} ({:.1}%)",
            self.identifiable_refused,
            self.identifiable,
            percent(self.recall())
        )?;
        for kind in KINDS {
            if let Some(r) = self.by_kind.get(&kind) {
                writeln!(
                    f,
                    "  {:<26} {:>3}/{:<3} refused ({:>5.1}%), found as this kind {:>3}",
                    kind.slug(),
                    r.refused,
                    r.lines,
                    percent(ratio(r.refused, r.lines)),
                    r.found_as_kind
                )?;
            }
        }
        writeln!(
            f,
            "ordinary lines refused:     {}/{} ({:.1}%)",
            self.ordinary_refused,
            self.ordinary,
            percent(self.false_refusals())
        )?;
        for (kind, count) in &self.false_by_kind {
            writeln!(f, "  as {:<23} {count}", kind.slug())?;
        }
        if !self.missed_rows.is_empty() {
            writeln!(f, "missed rows: {:?}", self.missed_rows)?;
        }
        if !self.false_rows.is_empty() {
            writeln!(f, "falsely refused rows: {:?}", self.false_rows)?;
        }
        Ok(())
    }
}
