//! Privacy screen: finds client-identifiable detail in free text, because chat channels are not case records.
//!
//! [`screen_with`] is a pure function: it takes the text someone typed and the professionals
//! and agencies whose names may appear ([`Allow`], built once from the directory), and
//! returns where identifiable detail appears, as char offsets, without copying the matched
//! text anywhere. [`screen`] is the same with no directory. [`refusal_message`] turns the
//! findings into a message that names the kinds of detail found and where (never the detail
//! itself) and says what to write instead.
//!
//! The screen works like a set of recognisers, each with its own context words: numbers
//! with their check digits (and, next to a cue such as `NHS no`, without), dates that the
//! text presents as a birth date, postcodes, phones and emails however they are spaced,
//! people's names (after a title, a relationship or role word, a naming word, or a given
//! name from the shipped list followed by a surname), and where someone lives or is placed.
//! The word lists are in `data/` (sources, licences and the refresh command in its README).
//!
//! Precision matters as much as recall: ordinary safeguarding text (case references
//! like `ASC-4471`, meeting dates, times, counts, professionals' and agencies' names) must
//! pass, so every detector is deliberately narrow and documented on its own function.
//! `tests/screen-corpus.tsv` is the labelled corpus it is measured on
//! (`escalation-bot bench screen`).
//!
//! Judgement calls, in one place:
//! - **Names.** Directory people pass in full or in part ("Dr Okafor", "Ade"); so does any
//!   name after a professional's title or role ("Dr Smith", "the social worker Jo"): the
//!   screen protects clients and their families, not staff. "Mr X" and other single-letter
//!   placeholders pass: that is how notes anonymise.
//! - **Addresses.** A town, a hospital or an agency on its own passes; a house or flat number
//!   with a street, someone's room, or a named home after "lives at" / "placed in" does not.
//! - **Cued numbers.** Ten digits right after `NHS` or `CHI` are refused even with a wrong
//!   check digit (a mistyped number is still nearly someone's); uncued, the check digit decides.
//! - **CHI vs NHS.** Both use the same modulus-11 check digit, so one ten-digit
//!   number can be valid as both. It is reported once: as a CHI number when its
//!   first six digits are a valid `DDMMYY` date, otherwise as an NHS number.
//!   NHS numbers are never issued starting with `0` (that range is Scottish CHI,
//!   whose first digits are a day of the month), so a `0`-led number that is not
//!   a valid CHI is left to the phone detector (`0123456789` is a phone number).
//! - **Public service phone numbers.** Any UK-shaped phone number is flagged,
//!   including published ones such as Social Care Direct's `03000 26 79 79`: the
//!   screen cannot know whose number it is, and a client's own number looks the same.
//! - **Dates of birth.** A date only counts when the text presents it as a birth
//!   date: a birth cue (`DOB`, `D.O.B.`, `date of birth`, `born`, `born on`, `b.`)
//!   ends at most [`DOB_CUE_WINDOW`] chars before it (the cue claims only the first
//!   date after it, and not when the words between name another event, as in
//!   "DOB unknown, met on 12/05/2026"), an age cue (`aged 84`, `84 years old`) is separated from it
//!   only by punctuation, or `DOB`/`date of birth` directly follows it
//!   (`3/4/1941 (DOB)`). Bare dates (meetings, deadlines) pass.
//! - **Postcodes vs ordinals.** A lower-case inward code that reads as an ordinal
//!   (`Y2 3rd week`, `P1 1st term`) is not a postcode; in capitals (`B33 8TH`) it is.
//! - **Overlaps.** Findings never overlap: the earliest, then longest, wins; for
//!   an identical span the kind declared first in [`IdentifiableKind`] wins (so a
//!   valid CHI/NHS number beats a phone reading of the same digits).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::{Captures, Regex};

pub mod evaluate;
mod lexicon;
mod names;
mod places;

pub use names::Allow;

/// How many chars may separate the end of a birth cue from the date it introduces.
const DOB_CUE_WINDOW: usize = 20;

/// A kind of client-identifiable detail, so callers can say what to remove without echoing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentifiableKind {
    /// NHS number (England, Wales, Isle of Man): identifies a patient across health records.
    NhsNumber,
    /// CHI number (Scotland): a date of birth plus digits, identifying a patient.
    ChiNumber,
    /// National Insurance number: identifies a person across benefits and tax.
    NationalInsuranceNumber,
    /// Full UK postcode: narrows a client down to a handful of addresses.
    Postcode,
    /// A date the text presents as someone's date of birth.
    DateOfBirth,
    /// UK phone number: can only be reached by contacting the person directly.
    PhoneNumber,
    /// Email address: names or reaches a specific person.
    EmailAddress,
    /// A client's, relative's or carer's name.
    PersonName,
    /// Where someone lives or is placed: house and street, flat, room, a named home.
    Address,
}

impl IdentifiableKind {
    /// Human-readable name for messages, so people know what to remove.
    pub fn label(self) -> &'static str {
        match self {
            Self::NhsNumber => "NHS number",
            Self::ChiNumber => "CHI number",
            Self::NationalInsuranceNumber => "National Insurance number",
            Self::Postcode => "postcode",
            Self::DateOfBirth => "date of birth",
            Self::PhoneNumber => "phone number",
            Self::EmailAddress => "email address",
            Self::PersonName => "person's name",
            Self::Address => "address",
        }
    }

    /// Stable machine name for logs and metrics, which must never carry the matched text.
    pub fn slug(self) -> &'static str {
        match self {
            Self::NhsNumber => "nhs_number",
            Self::ChiNumber => "chi_number",
            Self::NationalInsuranceNumber => "national_insurance_number",
            Self::Postcode => "postcode",
            Self::DateOfBirth => "date_of_birth",
            Self::PhoneNumber => "phone_number",
            Self::EmailAddress => "email_address",
            Self::PersonName => "person_name",
            Self::Address => "address",
        }
    }

    /// The label with its indefinite article, for reading well in a sentence.
    fn with_article(self) -> &'static str {
        match self {
            Self::NhsNumber => "an NHS number",
            Self::ChiNumber => "a CHI number",
            Self::NationalInsuranceNumber => "a National Insurance number",
            Self::Postcode => "a postcode",
            Self::DateOfBirth => "a date of birth",
            Self::PhoneNumber => "a phone number",
            Self::EmailAddress => "an email address",
            Self::PersonName => "a person's name",
            Self::Address => "an address",
        }
    }
}

/// Where one piece of identifiable detail sits, so it can be highlighted without being repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of detail was found, for the refusal message.
    pub kind: IdentifiableKind,
    /// Char offset (0-based, not bytes) of the first char, so UI code can highlight it.
    pub start: usize,
    /// Char offset one past the last char (exclusive end).
    pub end: usize,
}

/// Finds client-identifiable detail in free text so it can be refused before it reaches chat,
/// knowing no professionals: the same as [`screen_with`] and an empty [`Allow`].
///
/// Returns non-overlapping findings sorted by `start`, with char offsets. Never panics.
pub fn screen(text: &str) -> Vec<Finding> {
    static NOBODY: LazyLock<Allow> = LazyLock::new(Allow::new);
    screen_with(text, &NOBODY)
}

/// Finds client-identifiable detail in free text, letting the names of the professionals and
/// agencies in `allow` pass.
///
/// Returns non-overlapping findings sorted by `start`, with char offsets. Never panics.
pub fn screen_with(text: &str, allow: &Allow) -> Vec<Finding> {
    let mut raw: Vec<RawFinding> = Vec::new();
    find_health_numbers(text, &mut raw);
    find_national_insurance_numbers(text, &mut raw);
    find_postcodes(text, &mut raw);
    find_dates_of_birth(text, &mut raw);
    find_phone_numbers(text, &mut raw);
    find_email_addresses(text, allow, &mut raw);
    names::find_names(text, allow, &mut raw);
    places::find_addresses(text, allow, &mut raw);

    // Earliest first, then longest, then by kind declaration order.
    raw.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then_with(|| b.len().cmp(&a.len()))
            .then_with(|| a.kind.cmp(&b.kind))
    });

    let char_starts: Vec<usize> = text.char_indices().map(|(byte, _)| byte).collect();
    let to_char = |byte: usize| char_starts.partition_point(|&b| b < byte);

    let mut findings = Vec::new();
    let mut covered_to = 0;
    for found in raw {
        if found.start < covered_to || found.end <= found.start {
            continue;
        }
        covered_to = found.end;
        findings.push(Finding {
            kind: found.kind,
            start: to_char(found.start),
            end: to_char(found.end),
        });
    }
    findings
}

/// Explains a refusal by naming the kinds found and where (never the text), and what to
/// write instead. Positions are char offsets from the start of the text, as `screen` prints.
pub fn refusal_message(findings: &[Finding]) -> String {
    let mut kinds: Vec<(IdentifiableKind, Vec<usize>)> = Vec::new();
    for finding in findings {
        match kinds.iter_mut().find(|(kind, _)| *kind == finding.kind) {
            Some((_, starts)) => starts.push(finding.start),
            None => kinds.push((finding.kind, vec![finding.start])),
        }
    }
    let described: Vec<String> = kinds
        .iter()
        .map(|(kind, starts)| {
            let at: Vec<String> = starts.iter().map(ToString::to_string).collect();
            let at = match at.as_slice() {
                [only] => format!("character {only}"),
                [init @ .., last] => format!("characters {} and {last}", init.join(", ")),
                [] => String::new(),
            };
            format!("{} (at {at})", kind.with_article())
        })
        .collect();
    let what = match described.as_slice() {
        [] => "client-identifiable detail".to_string(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    let mut instead =
        String::from("refer to the client by your agency's case reference (for example ASC-4471)");
    if kinds
        .iter()
        .any(|(kind, _)| *kind == IdentifiableKind::PersonName)
    {
        instead.push_str(" and to other people by their role (the adult's daughter, the carer)");
    }
    if kinds
        .iter()
        .any(|(kind, _)| *kind == IdentifiableKind::Address)
    {
        instead.push_str(", and to where they live in general terms (at home, a care home)");
    }
    format!(
        "This text looks like it contains {what}. Chat is not the case record: remove \
         client-identifiable detail and {instead}."
    )
}

/// A finding in byte offsets, before overlap resolution and conversion to chars.
struct RawFinding {
    kind: IdentifiableKind,
    start: usize,
    end: usize,
}

impl RawFinding {
    fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }
}

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("privacy screen regex literals must compile")
}

/// Runs `re` over `text`, retrying one char further on whenever `accept` rejects a
/// match, so a rejected candidate never hides a valid one that starts inside it.
fn scan(re: &Regex, text: &str, mut accept: impl FnMut(&Captures<'_>) -> bool) {
    let mut pos = 0;
    while pos <= text.len() {
        let Some(caps) = re.captures_at(text, pos) else {
            break;
        };
        let Some(whole) = caps.get(0) else {
            break;
        };
        let accepted = accept(&caps);
        pos = if accepted && whole.end() > whole.start() {
            whole.end()
        } else {
            let step = text
                .get(whole.start()..)
                .and_then(|rest| rest.chars().next())
                .map_or(1, char::len_utf8);
            whole.start() + step
        };
    }
}

/// True when a number starting at byte `at` is not glued to a longer token on its
/// left: not after a letter or digit, not after `-`/`/` joined to a word
/// (`ASC-4471`), not after `.`/`:` joined to a digit (decimals, times).
fn number_starts_cleanly(text: &str, at: usize) -> bool {
    let mut before = text.get(..at).unwrap_or("").chars().rev();
    let prev = before.next();
    let prev2 = before.next();
    match prev {
        None => true,
        Some(c) if c.is_alphanumeric() || c == '_' => false,
        Some('-' | '/') => !prev2.is_some_and(char::is_alphanumeric),
        Some('.' | ':') => !prev2.is_some_and(|c| c.is_ascii_digit()),
        Some(_) => true,
    }
}

/// Mirror of [`number_starts_cleanly`] for the right-hand end at byte `at`.
fn number_ends_cleanly(text: &str, at: usize) -> bool {
    let mut after = text.get(at..).unwrap_or("").chars();
    let next = after.next();
    let next2 = after.next();
    match next {
        None => true,
        Some(c) if c.is_alphanumeric() || c == '_' => false,
        Some('-' | '/') => !next2.is_some_and(char::is_alphanumeric),
        Some('.' | ':') => !next2.is_some_and(|c| c.is_ascii_digit()),
        Some(_) => true,
    }
}

// ---------------------------------------------------------------- NHS / CHI

/// Runs of digits joined by spaces, dots, dashes or slashes, however they are grouped:
/// `943 476 5919`, `943.476.5919`, `943 4765 919`, `943  476  5919`, `9434765919`.
static DIGIT_GROUPS: LazyLock<Regex> =
    LazyLock::new(|| compile(r"[0-9]+(?:(?:[ \t]{1,2}|[ \t]?[.\-/][ \t]?)[0-9]+)*"));

/// `NHS`, `NHS no.`, `CHI number:` just before a number: the text says what the number is.
static HEALTH_CUE: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"(?i)\b(nhs|chi)(?:\s*(?:no\b\.?|number|num\b|nbr|#))?\s*(?:is\s+)?[:\-]?\s*$")
});

/// NHS and CHI numbers: ten digits with a valid modulus-11 check digit, not part of a
/// longer run, grouped any way with one kind of separator. CHI when the first six digits
/// are a valid `DDMMYY`; otherwise NHS, unless it starts with `0` (never issued as an NHS
/// number; see module docs). Right after an `NHS`/`CHI` cue the check digit is not needed.
fn find_health_numbers(text: &str, out: &mut Vec<RawFinding>) {
    scan(&DIGIT_GROUPS, text, |caps| {
        let Some(m) = caps.get(0) else {
            return false;
        };
        if !number_starts_cleanly(text, m.start()) {
            return false;
        }
        let Some(end) = ten_digits_end(m.as_str()).map(|len| m.start() + len) else {
            return false;
        };
        if !number_ends_cleanly(text, end) {
            return false;
        }
        let digits: Vec<u32> = text
            .get(m.start()..end)
            .unwrap_or("")
            .chars()
            .filter_map(|c| c.to_digit(10))
            .collect();
        let Ok(digits) = <[u32; 10]>::try_from(digits) else {
            return false;
        };
        let before = text.get(..m.start()).unwrap_or("");
        let cue = before
            .char_indices()
            .rev()
            .nth(24)
            .map_or(before, |(at, _)| before.get(at..).unwrap_or(""));
        let cued = HEALTH_CUE
            .captures(cue)
            .and_then(|c| c.get(1))
            .map(|c| c.as_str().to_ascii_lowercase());
        let kind = if modulus_11_valid(&digits) {
            if starts_with_ddmmyy(&digits) {
                IdentifiableKind::ChiNumber
            } else if digits[0] == 0 && cued.is_none() {
                return false;
            } else {
                IdentifiableKind::NhsNumber
            }
        } else {
            match cued.as_deref() {
                Some("chi") => IdentifiableKind::ChiNumber,
                Some(_) => IdentifiableKind::NhsNumber,
                None => return false,
            }
        };
        out.push(RawFinding {
            kind,
            start: m.start(),
            end,
        });
        true
    });
}

/// The byte length of the first ten digits of a run of digit groups, when they end a group
/// and every separator is of one kind (so `12/05/2026 10` is not read as ten digits).
fn ten_digits_end(run: &str) -> Option<usize> {
    let mut digits = 0;
    // The separator between each pair of groups: its one non-space char, or a space.
    let mut style: Option<char> = None;
    let mut separator: Option<char> = None;
    for (at, c) in run.char_indices() {
        if c.is_ascii_digit() {
            if let Some(sep) = separator.take() {
                if style.is_some_and(|s| s != sep) {
                    return None;
                }
                style = Some(sep);
            }
            digits += 1;
            if digits == 10 {
                let next = run.get(at + 1..).and_then(|r| r.chars().next());
                return (!next.is_some_and(|n| n.is_ascii_digit())).then_some(at + 1);
            }
        } else if !c.is_whitespace() || separator.is_none() {
            separator = Some(if c.is_whitespace() { ' ' } else { c });
        }
    }
    None
}

/// NHS/CHI check digit: weights 10..2 on the first nine digits, check = 11 - (sum mod 11),
/// where 11 means 0 and 10 means the number is invalid.
fn modulus_11_valid(digits: &[u32; 10]) -> bool {
    let sum: u32 = digits[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(digit, weight)| digit * weight)
        .sum();
    match 11 - sum % 11 {
        11 => digits[9] == 0,
        10 => false,
        check => digits[9] == check,
    }
}

/// True when the first six digits are a real calendar date `DDMMYY` (29 Feb only in leap years).
fn starts_with_ddmmyy(digits: &[u32; 10]) -> bool {
    let day = digits[0] * 10 + digits[1];
    let month = digits[2] * 10 + digits[3];
    let year = digits[4] * 10 + digits[5];
    // 2000 + YY is a leap year exactly when YY is divisible by 4, which matches
    // every century a CHI could be issued in except 1900 (too old to matter).
    i32::try_from(year)
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(2000 + year, month, day))
        .is_some()
}

// ---------------------------------------------------------------- NI number

/// Two letters, six digits (in pairs or not, joined by spaces, dashes or dots), and the
/// suffix A-D, which people often leave off.
static NATIONAL_INSURANCE: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?i)\b([a-z])[ .\-]?([a-z])[ .\-]{0,2}[0-9]{2}[ .\-]{0,2}[0-9]{2}[ .\-]{0,2}[0-9]{2}(?:[ .\-]{0,2}([a-d]))?\b",
    )
});

/// `NI`, `NI no`, `NINO`, `national insurance` shortly before a number.
static NI_CUE: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?i)\b(?:n\.?\s?i\.?(?:\s*(?:no\b\.?|number|num\b|#))?|nino|national\s+insurance(?:\s+(?:no\b\.?|number))?)\s*(?:is\s+)?[:\-]?\s*$",
    )
});

/// The 30 chars before byte `at`, where an NI cue would be.
fn ni_cue_window(text: &str, at: usize) -> &str {
    let before = text.get(..at).unwrap_or("");
    before
        .char_indices()
        .rev()
        .nth(30)
        .map_or(before, |(start, _)| before.get(start..).unwrap_or(""))
}

/// National Insurance numbers whose prefix follows the official allocation rules;
/// the standard example `QQ123456C` therefore passes. Without the suffix letter, only
/// right after an NI cue (two letters and six digits are also other references).
fn find_national_insurance_numbers(text: &str, out: &mut Vec<RawFinding>) {
    scan(&NATIONAL_INSURANCE, text, |caps| {
        let (Some(m), Some(first), Some(second)) = (caps.get(0), caps.get(1), caps.get(2)) else {
            return false;
        };
        if !m.as_str().is_ascii() {
            return false;
        }
        if caps.get(3).is_none() && !NI_CUE.is_match(ni_cue_window(text, m.start())) {
            return false;
        }
        let first = first.as_str().to_ascii_uppercase();
        let second = second.as_str().to_ascii_uppercase();
        let prefix = format!("{first}{second}");
        // Next to an NI cue, the text says what it is, whatever the prefix.
        let cued = NI_CUE.is_match(ni_cue_window(text, m.start()));
        let allocated = cued
            || !matches!(first.as_str(), "D" | "F" | "I" | "Q" | "U" | "V")
                && !matches!(second.as_str(), "D" | "F" | "I" | "O" | "Q" | "U" | "V")
                && !matches!(
                    prefix.as_str(),
                    "BG" | "GB" | "KN" | "NK" | "NT" | "TN" | "ZZ"
                );
        if allocated {
            out.push(RawFinding {
                kind: IdentifiableKind::NationalInsuranceNumber,
                start: m.start(),
                end: m.end(),
            });
        }
        allocated
    });
}

// ---------------------------------------------------------------- postcode

/// Full UK postcode (outward + inward), using the letter restrictions of the real
/// format so ordinary words and references cannot match.
static POSTCODE: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?ix)\b(?:
            (?:
                [A-PR-UWYZ][0-9][0-9]?            # A9, A99
              | [A-PR-UWYZ][A-HK-Y][0-9][0-9]?    # AA9, AA99
              | [A-PR-UWYZ][0-9][A-HJKPSTUW]      # A9A
              | [A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY]  # AA9A
            )
            (?:[\x20\t]{0,2}|\x20?[-.]\x20?)      # any spacing, or a dash
            [0-9][ABD-HJLNP-UW-Z]{2}              # inward, always required
          | GIR\x20{0,2}0AA
        )\b",
    )
});

/// Full postcodes only: an outward code on its own (`NR1`) is a district, not an address.
fn find_postcodes(text: &str, out: &mut Vec<RawFinding>) {
    scan(&POSTCODE, text, |caps| {
        let Some(m) = caps.get(0) else {
            return false;
        };
        // Case-insensitive matching also folds a few non-ASCII letters (e.g. the Kelvin sign).
        if !m.as_str().is_ascii() || inward_reads_as_ordinal(m.as_str()) {
            return false;
        }
        out.push(RawFinding {
            kind: IdentifiableKind::Postcode,
            start: m.start(),
            end: m.end(),
        });
        true
    });
}

/// True when the inward code is a lower-case ordinal such as `3rd` or `8th`, as in
/// school years ("Y2 3rd week", "P1 1st term"). Real postcodes with those inward
/// codes are still caught when written in capitals (`B33 8TH`).
fn inward_reads_as_ordinal(postcode: &str) -> bool {
    let Some(inward) = postcode.get(postcode.len().saturating_sub(3)..) else {
        return false;
    };
    let mut chars = inward.chars();
    let (Some(digit), Some(a), Some(b)) = (chars.next(), chars.next(), chars.next()) else {
        return false;
    };
    let suffix = match digit {
        '1' => "st",
        '2' => "nd",
        '3' => "rd",
        _ => "th",
    };
    a.is_ascii_lowercase() && b.is_ascii_lowercase() && format!("{a}{b}") == suffix
}

// ---------------------------------------------------------------- date of birth

const MONTHS: &str = r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";

/// `dd/mm/yyyy`, `dd-mm-yy`, `dd.mm.yyyy`.
static NUMERIC_DMY: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\b([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4}|[0-9]{2})\b"));

/// `yyyy-mm-dd` (also with `/` or `.`).
static NUMERIC_YMD: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\b([0-9]{4})[/.\-]([0-9]{1,2})[/.\-]([0-9]{1,2})\b"));

/// `3 April 1941`, `3rd of Apr. 1941`, `3-Apr-1951`, `3 Apr 51`.
static DAY_MONTH_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        r"(?i)\b([0-9]{{1,2}})(?:st|nd|rd|th)?(?:\s+|\s*[\-/.]\s*)(?:of\s+)?({MONTHS})\.?,?(?:\s+|\s*[\-/.]\s*)'?([0-9]{{4}}|[0-9]{{2}})\b"
    ))
});

/// `April 3 1941`, `Apr 3rd, 1941`, `Apr-3-51`.
static MONTH_DAY_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        r"(?i)\b({MONTHS})\.?(?:\s+|\s*[\-/.]\s*)([0-9]{{1,2}})(?:st|nd|rd|th)?,?(?:\s+|\s*[\-/.]\s*)'?([0-9]{{4}}|[0-9]{{2}})\b"
    ))
});

/// `03041951` or `030451` right after a birth cue: a date written without separators.
static COMPACT_DATE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^[\s:.\-=]*([0-9]{2})([0-9]{2})([0-9]{4}|[0-9]{2})\b"));

/// A month and year right after a birth cue: `DOB 04/1951`, `born April 1951`. A year alone
/// says no more than an age, so it passes.
static MONTH_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    compile(&format!(
        r"(?i)^[\s:.\-=]*(?:on\s+|in\s+)?((?:0?[1-9]|1[0-2])[/.\-](?:19|20)[0-9]{{2}}|(?:{MONTHS})\.?,?\s+(?:19|20)[0-9]{{2}})\b"
    ))
});

/// Words that present the following date as a birth date. `b.` only in lower case,
/// so "Appendix B. 12/05/2026" is not read as a birth date.
static BIRTH_CUE_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?i)\b(?:d\.?\s?o\.?\s?b(?:\b\.?|([0-9]))|date\s+of\s+birth|birth\s*date|birthday|b'?day|b/day|born(?:\s+on)?\b)|(?-i:\bb\.)",
    )
});

/// Words that tie the text between a birth cue and a date to some other event
/// ("DOB unknown, met on 12/05/2026"), so that date is not read as a birth date.
static OTHER_EVENT: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?i)\b(?:met|meet|meeting|seen|saw|visit|visited|discussed|due|review|reviewed|held|admitted|discharged|referred|reported|called|until|since|by|deadline)\b",
    )
});

/// Words that, directly after a date, mark it as a birth date: `3/4/1941 (DOB)`.
static BIRTH_CUE_AFTER: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?i)^[\s(\[,;:\-]*(?:d\.?\s?o\.?\s?b\b|date\s+of\s+birth)"));

/// An age stated next to a date: `aged 84`, `age: 84`, `84 years old`, `84 y/o`.
static AGE_CUE: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"(?i)\b(?:aged?\s*:?\s*[0-9]{1,3}|[0-9]{1,3}\s*(?:years?\s+old|yrs?\s+old|y/?o))\b")
});

/// Only punctuation and spaces, as between an age and a date: `aged 84, 3/4/1941`.
static SEPARATORS_ONLY: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^[\s,;:()\[\]\-\u{2013}\u{2014}]*$"));

/// Dates the text presents as a birth date (see the module docs for the cue rules).
fn find_dates_of_birth(text: &str, out: &mut Vec<RawFinding>) {
    let dates = find_dates(text);
    let mut extra: Vec<(usize, usize)> = Vec::new();
    let mut birth_dates: BTreeSet<usize> = BTreeSet::new();
    // Index of the first date starting at or after byte `at` (dates are sorted).
    let first_date_after = |at: usize| dates.partition_point(|&(start, _)| start < at);
    let gap = |from: usize, to: usize| text.get(from..to).unwrap_or("");

    for caps in BIRTH_CUE_BEFORE.captures_iter(text) {
        // The date may be glued to the cue ("dob3/4/51") or have no separators ("dob
        // 03041951"), so the text after the cue is searched on its own.
        let Some(whole) = caps.get(0) else { continue };
        let cue_end = caps.get(1).map_or(whole.end(), |digit| digit.start());
        let after = text.get(cue_end..).unwrap_or("");
        let after = after
            .char_indices()
            .nth(DOB_CUE_WINDOW + 40)
            .map_or(after, |(at, _)| after.get(..at).unwrap_or(after));
        if let Some((start, end)) = first_date_in(after)
            && within_cue_window(&after[..start])
            && !OTHER_EVENT.is_match(&after[..start])
        {
            extra.push((cue_end + start, cue_end + end));
        }
    }
    for cue in AGE_CUE.find_iter(text) {
        let index = first_date_after(cue.end());
        if let Some(&(start, _)) = dates.get(index) {
            let between = gap(cue.end(), start);
            if within_cue_window(between) && SEPARATORS_ONLY.is_match(between) {
                birth_dates.insert(index);
            }
        }
    }
    for (index, &(_, end)) in dates.iter().enumerate() {
        if BIRTH_CUE_AFTER.is_match(prefix(text.get(end..).unwrap_or(""), 40)) {
            birth_dates.insert(index);
        }
    }

    for (start, end) in extra {
        out.push(RawFinding {
            kind: IdentifiableKind::DateOfBirth,
            start,
            end,
        });
    }
    for index in birth_dates {
        if let Some(&(start, end)) = dates.get(index) {
            out.push(RawFinding {
                kind: IdentifiableKind::DateOfBirth,
                start,
                end,
            });
        }
    }
}

/// The first date in `text` (as after a birth cue): a written date, or digits without
/// separators (`03041951`, `030451`) right at the start.
fn first_date_in(text: &str) -> Option<(usize, usize)> {
    if let Some(caps) = COMPACT_DATE.captures(text)
        && let (Some(day), Some(month), Some(year)) = (caps.get(1), caps.get(2), caps.get(3))
        && let (Ok(d), Ok(m)) = (day.as_str().parse::<u32>(), month.as_str().parse::<u32>())
        && plausible_date(d, m, year.as_str())
    {
        return Some((day.start(), year.end()));
    }
    let full = find_dates(text).first().copied();
    if let Some(caps) = MONTH_YEAR.captures(text)
        && let Some(m) = caps.get(1)
        && full.is_none_or(|(start, _)| m.start() < start)
    {
        return Some((m.start(), m.end()));
    }
    full
}

/// The first `chars` chars of `text`, so a check right after a match never reads on.
pub(crate) fn prefix(text: &str, chars: usize) -> &str {
    text.char_indices()
        .nth(chars)
        .map_or(text, |(at, _)| text.get(..at).unwrap_or(text))
}

/// True when `gap` is at most [`DOB_CUE_WINDOW`] chars, without counting a long gap to its end.
fn within_cue_window(gap: &str) -> bool {
    gap.chars().nth(DOB_CUE_WINDOW).is_none()
}

/// Every plausible calendar date in the text as byte spans, sorted and non-overlapping.
fn find_dates(text: &str) -> Vec<(usize, usize)> {
    let mut dates: Vec<(usize, usize)> = Vec::new();
    let mut keep = |caps: &Captures<'_>, day: usize, month: usize, year: usize, words: bool| {
        let (Some(m), Some(d), Some(mo), Some(y)) =
            (caps.get(0), caps.get(day), caps.get(month), caps.get(year))
        else {
            return false;
        };
        let Ok(day) = d.as_str().parse::<u32>() else {
            return false;
        };
        let month = if words {
            month_from_name(mo.as_str())
        } else {
            mo.as_str().parse::<u32>().ok()
        };
        let Some(month) = month else {
            return false;
        };
        // Numeric dates may be US-style (mm/dd) too; word dates are unambiguous.
        let ok = plausible_date(day, month, y.as_str())
            || (!words && plausible_date(month, day, y.as_str()));
        if ok {
            dates.push((m.start(), m.end()));
        }
        ok
    };
    scan(&NUMERIC_DMY, text, |caps| keep(caps, 1, 2, 3, false));
    scan(&NUMERIC_YMD, text, |caps| keep(caps, 3, 2, 1, false));
    scan(&DAY_MONTH_YEAR, text, |caps| keep(caps, 1, 2, 3, true));
    scan(&MONTH_DAY_YEAR, text, |caps| keep(caps, 2, 1, 3, true));

    dates.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(&a.1)));
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (start, end) in dates {
        if merged.last().is_none_or(|&(_, last_end)| start >= last_end) {
            merged.push((start, end));
        }
    }
    merged
}

fn month_from_name(name: &str) -> Option<u32> {
    let prefix = name.get(..3)?.to_ascii_lowercase();
    let index = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|&m| m == prefix)?;
    u32::try_from(index + 1).ok()
}

/// True for a real calendar date; a two-digit year may be 19YY or 20YY.
fn plausible_date(day: u32, month: u32, year: &str) -> bool {
    let Ok(value) = year.parse::<i32>() else {
        return false;
    };
    let candidates = if year.len() == 2 {
        [1900 + value, 2000 + value]
    } else {
        [value, value]
    };
    candidates
        .iter()
        .any(|&y| NaiveDate::from_ymd_opt(y, month, day).is_some())
}

// ---------------------------------------------------------------- phone

/// UK phone numbers: `0` then 9-10 more digits in common groupings, `(0xxxx) xxxxxx`,
/// and `+44`/`0044` forms. Every UK-shaped number is flagged (see module docs).
fn find_phone_numbers(text: &str, out: &mut Vec<RawFinding>) {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        // Only ASCII bytes are compared, and an ASCII byte is always a char boundary.
        let candidate =
            matches!(bytes.get(at), Some(b'+' | b'(' | b'0')) && number_starts_cleanly(text, at);
        if candidate && let Some(end) = phone_end(text, at) {
            out.push(RawFinding {
                kind: IdentifiableKind::PhoneNumber,
                start: at,
                end,
            });
            at = end;
        } else {
            at += 1;
        }
    }
}

/// Parses a phone number starting at byte `start`, returning its end byte. Groups are
/// runs of at least two digits separated by one space or hyphen; the longest prefix
/// of groups with 10 or 11 digits (counting the trunk `0`) that ends cleanly wins.
fn phone_end(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let byte = |i: usize| bytes.get(i).copied();
    let digit_run = |i: usize| {
        bytes.get(i..).map_or(0, |rest| {
            rest.iter().take_while(|b| b.is_ascii_digit()).count()
        })
    };
    // One space, dash or dot between groups, or two spaces, or a dash or dot with spaces.
    let separator = |i: usize| -> usize {
        match (byte(i), byte(i + 1), byte(i + 2)) {
            (Some(b' '), Some(b'-' | b'.'), Some(b' ')) => 3,
            (Some(b' '), Some(b' '), _) => 2,
            (Some(b' ' | b'-' | b'.'), _, _) => 1,
            _ => 0,
        }
    };
    let is_separator = |i: usize| separator(i) > 0;

    let mut i = start;
    let mut digits;
    let international = if bytes.get(start..start + 3) == Some(b"+44".as_slice()) {
        i += 3;
        true
    } else if bytes.get(start..start + 4) == Some(b"0044".as_slice()) {
        i += 4;
        true
    } else {
        false
    };

    if international {
        digits = 1; // the trunk 0 that replaces +44 when dialled in the UK
        if is_separator(i) {
            i += 1;
        }
        if bytes.get(i..i + 3) == Some(b"(0)".as_slice()) {
            i += 3;
            if is_separator(i) {
                i += 1;
            }
        } else if byte(i) == Some(b'0') {
            i += 1; // "+44 07700 ..." with a redundant trunk 0
        }
        let run = digit_run(i);
        if run < 2 || byte(i) == Some(b'0') {
            return None;
        }
        i += run;
        digits += run;
    } else if byte(i) == Some(b'(') {
        i += 1;
        let run = digit_run(i);
        if byte(i) != Some(b'0') || byte(i + 1) == Some(b'0') || !(3..=6).contains(&run) {
            return None;
        }
        i += run;
        digits = run;
        if byte(i) != Some(b')') {
            return None;
        }
        i += 1;
        if byte(i) == Some(b' ') {
            i += 1;
        }
        let run = digit_run(i);
        if run < 2 {
            return None;
        }
        i += run;
        digits += run;
    } else {
        let run = digit_run(i);
        if byte(i) != Some(b'0') || byte(i + 1) == Some(b'0') || run < 3 {
            return None;
        }
        i += run;
        digits = run;
    }

    let mut ends = vec![(i, digits)];
    while digits < 11 && is_separator(i) {
        let gap = separator(i);
        let run = digit_run(i + gap);
        if run < 2 {
            break;
        }
        i += gap + run;
        digits += run;
        ends.push((i, digits));
    }
    ends.into_iter()
        .rev()
        .find(|&(end, count)| (10..=11).contains(&count) && number_ends_cleanly(text, end))
        .map(|(end, _)| end)
}

// ---------------------------------------------------------------- email

/// `user@domain.tld`: a local part, `@`, dot-separated labels and an alphabetic TLD; also
/// written with spaces round the `@` or a dot, or as `(at)` / `[at]` and `(dot)` / `[dot]`.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?i)\b[a-z0-9][a-z0-9._%+\-]*(?:[ \t]{0,2}@[ \t]{0,2}|[ \t]*[(\[{]\s*at\s*[)\]}][ \t]*)[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:(?:\x20?\.\x20?|[ \t]*[(\[{]\s*dot\s*[)\]}][ \t]*)[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*(?:\x20?\.\x20?|[ \t]*[(\[{]\s*dot\s*[)\]}][ \t]*)[a-z]{2,}\b",
    )
});

/// `jane.doe at example dot org`: an address spelled out in words, which needs the word
/// `dot` (a plain "at" is ordinary English).
static EMAIL_IN_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?i)\b[a-z0-9][a-z0-9._%+\-]*\s+at\s+[a-z0-9][a-z0-9\-]*(?:\s+dot\s+[a-z0-9][a-z0-9\-]*)*\s+dot\s+[a-z]{2,}\b",
    )
});

/// `jane.doe at gmail.com`: an address with " at " for the `@`, whose local part has a dot,
/// underscore or digit and whose domain ends in a common suffix, so "met at home" is not one.
static EMAIL_WITH_AT_WORD: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?i)\b[a-z0-9]*[._0-9][a-z0-9._%+\-]*\s+at\s+[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9][a-z0-9\-]*)*\.(?:com|net|org|co\.uk|org\.uk|gov\.uk|nhs\.uk|ac\.uk|uk|me|io|info)\b",
    )
});

/// Words of a shared mailbox's name: `safeguarding.adults@`, `duty-team@`, `mash@`.
static MAILBOX_WORDS: LazyLock<lexicon::Words> = LazyLock::new(|| {
    lexicon::words(&[
        "safeguarding",
        "adults",
        "adult",
        "children",
        "duty",
        "team",
        "mash",
        "referrals",
        "referral",
        "enquiries",
        "enquiry",
        "admin",
        "info",
        "contact",
        "hub",
        "desk",
        "business",
        "unit",
        "board",
        "sab",
        "nsab",
        "dsab",
        "ssab",
        "rbsab",
        "cpsab",
        "social",
        "care",
        "asc",
        "front",
        "door",
        "access",
        "triage",
        "reception",
        "office",
        "services",
        "service",
        "ops",
        "control",
        "room",
        "incidents",
        "concerns",
        "complaints",
        "quality",
        "clinical",
        "nursing",
        "discharge",
        "hospital",
        "ward",
        "practice",
        "surgery",
        "general",
        "generic",
        "secure",
    ])
});

/// A shared mailbox (`safeguarding.adults@norfolk.gov.uk`, `referrals@…`): it names a team,
/// not a client, so it passes.
fn is_team_mailbox(address: &str) -> bool {
    let lower = address.to_ascii_lowercase();
    let Some((local, domain)) = lower.split_once('@') else {
        return false;
    };
    !domain.trim().is_empty()
        && local
            .trim()
            .split(['.', '_', '-', '+'])
            .all(|part| MAILBOX_WORDS.contains(part))
}

/// Email addresses, which name or reach a specific person; a team's mailbox and a directory
/// professional's own address (`sam.patel@…`, `a.okafor@…`) pass.
fn find_email_addresses(text: &str, allow: &Allow, out: &mut Vec<RawFinding>) {
    for re in [&EMAIL_IN_WORDS, &EMAIL_WITH_AT_WORD] {
        scan(re, text, |caps| {
            let Some(m) = caps.get(0) else {
                return false;
            };
            out.push(RawFinding {
                kind: IdentifiableKind::EmailAddress,
                start: m.start(),
                end: m.end(),
            });
            true
        });
    }
    scan(&EMAIL, text, |caps| {
        let Some(m) = caps.get(0) else {
            return false;
        };
        if !m.as_str().is_ascii() {
            return false;
        }
        if is_team_mailbox(m.as_str()) || allow.is_professionals_email(m.as_str()) {
            return true;
        }
        out.push(RawFinding {
            kind: IdentifiableKind::EmailAddress,
            start: m.start(),
            end: m.end(),
        });
        true
    });
}

#[cfg(test)]
mod tests {
    use super::IdentifiableKind::*;
    use super::*;

    /// (kind, start, end) triples, for compact assertions.
    fn found(text: &str) -> Vec<(IdentifiableKind, usize, usize)> {
        screen(text)
            .into_iter()
            .map(|f| (f.kind, f.start, f.end))
            .collect()
    }

    /// The text covered by a finding, by char offsets.
    fn covered(text: &str, finding: &Finding) -> String {
        text.chars()
            .skip(finding.start)
            .take(finding.end - finding.start)
            .collect()
    }

    /// Asserts `needle` is found exactly once as `kind`, at its char position in `text`.
    fn assert_caught(text: &str, needle: &str, kind: IdentifiableKind) {
        let byte = text.find(needle).expect("test needle must be in the text");
        let start = text[..byte].chars().count();
        let end = start + needle.chars().count();
        assert_eq!(found(text), vec![(kind, start, end)], "in {text:?}");
    }

    fn assert_passes(text: &str) {
        assert_eq!(found(text), vec![], "in {text:?}");
    }

    // ------------------------------------------------------------ NHS

    #[test]
    fn nhs_number_in_three_three_four_groups_is_caught() {
        assert_caught("NHS no 943 476 5919 per GP", "943 476 5919", NhsNumber);
    }

    #[test]
    fn nhs_number_with_hyphens_is_caught() {
        assert_caught("patient 943-476-5919.", "943-476-5919", NhsNumber);
    }

    #[test]
    fn contiguous_nhs_numbers_are_caught() {
        assert_caught("9434765919", "9434765919", NhsNumber);
        assert_caught("nhs: 4010232137, ok", "4010232137", NhsNumber);
        assert_caught("(485 777 3457)", "485 777 3457", NhsNumber);
    }

    #[test]
    fn nhs_shaped_number_with_wrong_check_digit_passes() {
        assert_passes("943 476 5918");
        assert_passes("ref 9434765918 noted");
        assert_passes("4010232138");
    }

    #[test]
    fn nhs_shaped_number_whose_check_digit_would_be_ten_passes() {
        assert_passes("9434765030");
        assert_passes("1234567890");
    }

    #[test]
    fn nhs_number_inside_a_longer_digit_run_passes() {
        assert_passes("94347659190");
        assert_passes("19434765919");
        assert_passes("ASC-9434765919");
        assert_passes("1.9434765919");
    }

    // ------------------------------------------------------------ CHI

    #[test]
    fn chi_numbers_with_a_real_date_and_check_digit_are_caught() {
        assert_caught("CHI 0101801238", "0101801238", ChiNumber);
        assert_caught("CHI 311299 0005 noted", "311299 0005", ChiNumber);
        assert_caught("chi 290200-1231", "290200-1231", ChiNumber);
    }

    #[test]
    fn number_valid_as_both_chi_and_nhs_is_reported_once_as_chi() {
        // 0101801238 passes the modulus-11 check and starts with 01/01/80.
        assert_eq!(found("0101801238"), vec![(ChiNumber, 0, 10)]);
    }

    #[test]
    fn valid_check_digit_without_a_real_date_is_reported_as_nhs() {
        // 29/02/01 is not a date (2001 is not a leap year).
        assert_caught("2902011237", "2902011237", NhsNumber);
    }

    #[test]
    fn chi_shaped_number_with_wrong_check_digit_passes() {
        assert_passes("3112990006");
        assert_passes("ref 150641 0120");
    }

    #[test]
    fn ten_digits_right_after_an_nhs_or_chi_cue_are_caught_whatever_the_check_digit() {
        assert_caught("CHI 150641 0120", "150641 0120", ChiNumber);
        assert_caught("NHS no: 943 476 5918", "943 476 5918", NhsNumber);
        assert_caught("nhs number is 123-456-7890", "123-456-7890", NhsNumber);
    }

    #[test]
    fn nhs_numbers_grouped_or_separated_loosely_are_caught() {
        for written in [
            "943.476.5919",
            "943/476/5919",
            "943  476  5919",
            "943 4765 919",
            "943 - 476 - 5919",
        ] {
            assert_caught(&format!("ref {written} on file"), written, NhsNumber);
        }
    }

    #[test]
    fn ten_digits_across_a_date_and_a_count_are_not_a_health_number() {
        assert_passes("met 12/05/2026 10 people attended");
        assert_passes("escalated 2026-06-08 14 30");
    }

    #[test]
    fn zero_led_number_with_wrong_check_digit_may_still_be_a_phone_number() {
        assert_caught("0101801239", "0101801239", PhoneNumber);
    }

    #[test]
    fn zero_led_number_that_is_not_a_chi_is_a_phone_number_not_nhs() {
        // Passes modulus 11, but NHS numbers never start with 0.
        assert_caught("call 0123456789", "0123456789", PhoneNumber);
    }

    // ------------------------------------------------------------ NI

    #[test]
    fn spaced_national_insurance_number_is_caught() {
        assert_caught(
            "NI AB 12 34 56 C on file",
            "AB 12 34 56 C",
            NationalInsuranceNumber,
        );
    }

    #[test]
    fn contiguous_and_lower_case_national_insurance_numbers_are_caught() {
        assert_caught("AB123456C", "AB123456C", NationalInsuranceNumber);
        assert_caught("ni: jh 123456 d.", "jh 123456 d", NationalInsuranceNumber);
    }

    #[test]
    fn standard_example_qq123456c_passes() {
        assert_passes("QQ123456C");
        assert_passes("QQ 12 34 56 C");
    }

    #[test]
    fn unallocated_national_insurance_prefixes_pass() {
        for prefix in [
            "BG", "GB", "KN", "NK", "NT", "TN", "ZZ", "DA", "AO", "FA", "AV",
        ] {
            assert_passes(&format!("{prefix}123456C"));
        }
    }

    #[test]
    fn national_insurance_number_with_suffix_outside_a_to_d_passes() {
        assert_passes("AB123456E");
        assert_passes("AB12345C");
    }

    // ------------------------------------------------------------ postcode

    #[test]
    fn full_postcodes_in_every_format_are_caught() {
        for postcode in [
            "NR1 2DH", "SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "EC1A 1BB",
            "W1A 0AX",
        ] {
            assert_caught(&format!("lives at {postcode}, alone"), postcode, Postcode);
        }
    }

    #[test]
    fn postcodes_are_caught_in_lower_case_and_without_the_space() {
        assert_caught("moved to nr1 2dh", "nr1 2dh", Postcode);
        assert_caught("NR12DH", "NR12DH", Postcode);
    }

    #[test]
    fn school_years_followed_by_ordinals_are_not_postcodes() {
        assert_passes("in P1 1st term, moving to Y2 3rd week");
        assert_caught("B33 8TH", "B33 8TH", Postcode);
    }

    #[test]
    fn outward_code_alone_passes() {
        assert_passes("lives in NR1");
        assert_passes("the SW1A area");
    }

    #[test]
    fn references_and_ordinary_words_are_not_postcodes() {
        assert_passes("ASC-4471");
        assert_passes("NSAB-2026-0007");
        assert_passes("Stage 2 of 4 under section 42 of the Care Act");
        assert_passes("M1 motorway");
    }

    // ------------------------------------------------------------ date of birth

    #[test]
    fn dates_after_a_birth_cue_are_caught() {
        assert_caught("DOB 03/04/1941", "03/04/1941", DateOfBirth);
        assert_caught("D.O.B. 3-4-41, lives alone", "3-4-41", DateOfBirth);
        assert_caught("date of birth: 3 April 1941", "3 April 1941", DateOfBirth);
        assert_caught("born on April 3, 1941", "April 3, 1941", DateOfBirth);
        assert_caught("Mr X (b. 1941-04-03)", "1941-04-03", DateOfBirth);
        assert_caught("born 3rd of June 1941", "3rd of June 1941", DateOfBirth);
        assert_caught(
            "date of birth is recorded as 3/4/1941",
            "3/4/1941",
            DateOfBirth,
        );
    }

    #[test]
    fn dates_next_to_an_age_are_caught() {
        assert_caught("aged 84, 3/4/1941", "3/4/1941", DateOfBirth);
        assert_caught("84 years old (3 April 1941)", "3 April 1941", DateOfBirth);
    }

    #[test]
    fn date_followed_by_dob_is_caught() {
        assert_caught("Mrs X, 03/04/1941 (DOB)", "03/04/1941", DateOfBirth);
    }

    #[test]
    fn bare_dates_pass() {
        assert_passes("met on 3 June 2026");
        assert_passes("meeting on 12/05/2026");
        assert_passes("discussed on 12/05/2026 with the ward");
        assert_passes("response due 8 June");
        assert_passes("escalate by 2026-06-08");
        assert_passes("a year: 2026");
    }

    #[test]
    fn date_far_from_a_birth_cue_passes() {
        assert_passes("DOB is on the case record; strategy meeting held on 12/05/2026");
    }

    #[test]
    fn date_tied_to_another_event_after_a_birth_cue_passes() {
        assert_passes("DOB unknown, met on 12/05/2026");
        assert_passes("first-born child, meeting 12/05/2026");
    }

    #[test]
    fn age_cue_separated_by_words_passes() {
        assert_passes("adult aged 84, strategy meeting on 12/05/2026");
    }

    #[test]
    fn birth_cue_claims_only_the_next_date() {
        assert_eq!(
            found("born 3/4/1941 and 5/6/1942"),
            vec![(DateOfBirth, 5, 13)]
        );
    }

    #[test]
    fn impossible_dates_after_a_birth_cue_pass() {
        assert_passes("DOB 31/31/1941");
    }

    // ------------------------------------------------------------ phone

    #[test]
    fn uk_phone_numbers_in_common_groupings_are_caught() {
        for number in [
            "01603 223 456",
            "(01603) 223456",
            "07700 900123",
            "07700900123",
            "0300 026 7979",
            "020 7946 0958",
            "0800 123456",
            "0161-496-0000",
        ] {
            assert_caught(&format!("ring {number} today"), number, PhoneNumber);
        }
    }

    #[test]
    fn public_service_numbers_are_still_caught() {
        assert_caught(
            "Social Care Direct on 03000 26 79 79.",
            "03000 26 79 79",
            PhoneNumber,
        );
    }

    #[test]
    fn international_uk_phone_numbers_are_caught() {
        assert_caught("+44 7700 900123", "+44 7700 900123", PhoneNumber);
        assert_caught("tel +44 (0)1603 223456", "+44 (0)1603 223456", PhoneNumber);
        assert_caught("tel:+447700900123", "+447700900123", PhoneNumber);
        assert_caught("0044 20 7946 0958", "0044 20 7946 0958", PhoneNumber);
    }

    #[test]
    fn years_times_references_and_counts_are_not_phone_numbers() {
        assert_passes("2026");
        assert_passes("meeting at 09:40");
        assert_passes("ASC-4471");
        assert_passes("NSAB-2026-0012");
        assert_passes("within 5 working days");
        assert_passes("Stage 2 of 4");
        assert_passes("score 0.5 on 01/05/2026");
        assert_passes("ext 0123");
    }

    #[test]
    fn phone_number_followed_by_another_count_is_still_caught() {
        assert_caught("01603 223456 2 times", "01603 223456", PhoneNumber);
    }

    // ------------------------------------------------------------ email

    #[test]
    fn email_addresses_are_caught() {
        assert_caught(
            "email jane.doe@example.org.",
            "jane.doe@example.org",
            EmailAddress,
        );
        assert_caught(
            "<j_smith+case@council.gov.uk>",
            "j_smith+case@council.gov.uk",
            EmailAddress,
        );
    }

    #[test]
    fn email_containing_digits_is_one_email_finding() {
        assert_caught("9434765919@nhs.net", "9434765919@nhs.net", EmailAddress);
    }

    #[test]
    fn at_mentions_and_bare_hosts_are_not_email_addresses() {
        assert_passes("@channel please review");
        assert_passes("user@localhost");
        assert_passes("email the team @ 10am");
    }

    // ------------------------------------------------------------ whole texts

    #[test]
    fn realistic_safeguarding_paragraph_passes() {
        assert_passes(
            "Decision not to refer for a mental capacity assessment after the hospital \
             discharge; adult lives alone, reference ASC-4471. Escalated to Stage 2 of 4 \
             under NSAB-2026-0012 at 09:40 on 12/05/2026; response due within 5 working \
             days (by 2026-06-08). Met on 3 June 2026 with the GP and the ward manager.",
        );
    }

    #[test]
    fn several_findings_come_back_sorted_by_start() {
        let text = "Client jane@example.org, NR1 2DH, NHS 943 476 5919, DOB 3/4/1941, 07700 900123";
        let kinds: Vec<IdentifiableKind> = screen(text).into_iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            vec![EmailAddress, Postcode, NhsNumber, DateOfBirth, PhoneNumber]
        );
        let findings = screen(text);
        assert!(findings.windows(2).all(|w| w[0].end <= w[1].start));
        assert_eq!(covered(text, &findings[1]), "NR1 2DH");
    }

    #[test]
    fn offsets_are_char_offsets_not_bytes() {
        let text = "🏠 NR1 2DH";
        assert_eq!(found(text), vec![(Postcode, 2, 9)]);
        assert_eq!(covered(text, &screen(text)[0]), "NR1 2DH");
        let text = "Zoë’s number — 07700 900123";
        assert_caught(text, "07700 900123", PhoneNumber);
    }

    #[test]
    fn empty_text_has_no_findings() {
        assert_passes("");
    }

    #[test]
    fn random_unicode_never_panics_and_findings_are_well_formed() {
        const ALPHABET: &[&str] = &[
            "0",
            "1",
            "4",
            "9",
            " ",
            "-",
            "/",
            ".",
            ":",
            "(",
            ")",
            "+44",
            "@",
            "DOB ",
            "born ",
            "aged 84, ",
            "NR1 ",
            "2DH",
            "AB",
            "C",
            "June ",
            "é",
            "🏠",
            "\u{212A}",
            "\u{0301}",
            "\u{FEFF}",
            "٣",
            "\n",
            "b.",
            "ſ",
            "0044",
            "Mrs ",
            "mr ",
            "her son ",
            "Karen ",
            "smith",
            "Road",
            "flat ",
            "lives at ",
            "Care Home",
            "(at)",
            "NHS no ",
            "NI ",
            "'s",
            "’",
            "-",
            "Zoë ",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..(next() % 40) {
                let roll = next();
                if roll % 4 == 0 {
                    let raw = u32::try_from(next() % 0x11_0000).unwrap_or(0);
                    text.push(char::from_u32(raw).unwrap_or('\u{FFFD}'));
                } else {
                    let index = usize::try_from(roll % ALPHABET.len() as u64).unwrap_or(0);
                    text.push_str(ALPHABET[index]);
                }
            }
            let chars = text.chars().count();
            let findings = screen(&text);
            for finding in &findings {
                assert!(
                    finding.start < finding.end && finding.end <= chars,
                    "{text:?}"
                );
            }
            assert!(
                findings.windows(2).all(|w| w[0].end <= w[1].start),
                "{text:?}"
            );
            let message = refusal_message(&findings);
            assert!(message.starts_with("This text looks like it contains"));
        }
    }

    // ------------------------------------------------------------ names

    /// The demo directory's kind of professionals and agencies.
    fn directory() -> Allow {
        let mut allow = Allow::new();
        allow
            .person("Dr Ade Okafor")
            .person("Jordan Reid")
            .person("DS Kate Morgan")
            .agency("Norfolk Constabulary")
            .agency("Riverside GP Practice");
        allow
    }

    #[test]
    fn a_relative_named_by_a_first_name_a_professional_shares_is_still_refused() {
        let mut allow = directory();
        allow.person("Tom Baker");
        assert_eq!(
            found_with("her son Tom visits on Sundays", &allow),
            vec![(IdentifiableKind::PersonName, 8, 11)]
        );
        assert!(found_with("Tom Baker visited with the adult", &allow).is_empty());
        assert!(found_with("the social worker spoke to Jordan Reid", &allow).is_empty());
    }

    fn found_with(text: &str, allow: &Allow) -> Vec<(IdentifiableKind, usize, usize)> {
        screen_with(text, allow)
            .into_iter()
            .map(|f| (f.kind, f.start, f.end))
            .collect()
    }

    #[test]
    fn names_after_a_client_title_are_caught_in_any_case() {
        assert_caught("Mrs Jane Smith has no carers", "Mrs Jane Smith", PersonName);
        assert_caught("seen: mr h dobson, confused", "mr h dobson", PersonName);
        assert_caught("The tenant, Miss Clarke, hoards", "Miss Clarke", PersonName);
        assert_caught("MRS JANE SMITH has no carers", "MRS JANE SMITH", PersonName);
    }

    #[test]
    fn placeholders_and_the_verb_miss_are_not_names() {
        assert_passes("Mr X and Mrs Y were seen together");
        assert_passes("we will miss Friday's meeting");
        assert_passes("diagnosed with MS in 2019");
    }

    #[test]
    fn names_after_a_relationship_or_role_word_are_caught() {
        assert_caught("spoke to her daughter Karen today", "Karen", PersonName);
        assert_caught(
            "the adult, John Williams, was discharged",
            "John Williams",
            PersonName,
        );
        assert_caught("her son jason keeps visiting", "jason", PersonName);
        assert_caught("a man called Kieran comes at night", "Kieran", PersonName);
    }

    #[test]
    fn a_listed_given_name_with_a_surname_or_an_age_is_caught() {
        assert_caught(
            "Brenda Castle was left in wet pads",
            "Brenda Castle",
            PersonName,
        );
        assert_caught("spoke with jean mcdonald", "jean mcdonald", PersonName);
        assert_caught("Rajesh Kumar lives alone", "Rajesh Kumar", PersonName);
        assert_caught("Margaret (88) lives alone", "Margaret", PersonName);
    }

    #[test]
    fn professionals_in_the_directory_pass_in_full_or_in_part() {
        let allow = directory();
        for text in [
            "Dr Okafor disagrees",
            "spoke to Ade and Jordan Reid",
            "DS Kate Morgan will attend",
            "Norfolk Constabulary and Riverside GP Practice agree",
        ] {
            assert_eq!(found_with(text, &allow), vec![], "{text}");
        }
        // A client title with a lone surname is how clients are written about.
        assert_eq!(
            found_with("Ms Reid refused", &allow),
            vec![(PersonName, 0, 7)]
        );
        // Anyone named with a professional's role is a professional.
        assert_passes("Mrs Hughes the practice manager will send it");
        assert_passes("Peter from the housing team called");
    }

    #[test]
    fn days_months_places_and_agencies_are_not_names() {
        assert_passes("Met on 14 May with the ward manager");
        assert_passes("Victoria Ward at the acute trust has no side rooms");
        assert_passes("Will Norfolk Community Health attend on Tuesday?");
        assert_passes("James Paget University Hospital did the discharge");
        assert_passes("the adult is 87 and lives alone");
    }

    // ------------------------------------------------------------ addresses

    #[test]
    fn house_and_flat_numbers_with_a_street_are_addresses() {
        assert_caught(
            "left at 14 Acacia Avenue alone",
            "14 Acacia Avenue",
            Address,
        );
        assert_caught(
            "Flat 3, 41 Victoria Road",
            "Flat 3, 41 Victoria Road",
            Address,
        );
        assert_caught("59 st benedicts st", "59 st benedicts st", Address);
        assert_caught("flat 7b above the shop", "flat 7b", Address);
    }

    #[test]
    fn a_named_home_where_someone_is_placed_is_an_address() {
        assert_caught(
            "moved into Meadowbank Care Home last week",
            "Meadowbank Care Home",
            Address,
        );
        assert_caught("he lives at The Willows now", "Willows", Address);
        assert_caught("her room 6 has no call bell", "her room 6", Address);
    }

    #[test]
    fn counts_courts_meeting_rooms_and_homes_named_alone_are_not_addresses() {
        assert_passes("2 visits a day in a row");
        assert_passes("listed at 2 Crown Court");
        assert_passes("The meeting is in Room 3 at County Hall");
        assert_passes("Meadowbank Care Home has a new manager");
        assert_passes("she lives at home with her husband");
    }

    // ------------------------------------------------------------ loosely written

    #[test]
    fn loosely_written_dates_of_birth_are_caught() {
        assert_caught("DOB 3-Apr-1951", "3-Apr-1951", DateOfBirth);
        assert_caught("dob: 03041951", "03041951", DateOfBirth);
        assert_caught("dob3/4/51", "3/4/51", DateOfBirth);
        assert_caught("birthday 3/4/51", "3/4/51", DateOfBirth);
        assert_caught("he was born on 4th July 1949", "4th July 1949", DateOfBirth);
    }

    #[test]
    fn loosely_written_ni_numbers_postcodes_phones_and_emails_are_caught() {
        assert_caught("NI AB-12-34-56-C", "AB-12-34-56-C", NationalInsuranceNumber);
        assert_caught("NI no JH123456", "JH123456", NationalInsuranceNumber);
        assert_caught("at NR1-2DH", "NR1-2DH", Postcode);
        assert_caught("at nr1  2dh", "nr1  2dh", Postcode);
        assert_caught("ring 07700.900.123", "07700.900.123", PhoneNumber);
        assert_caught(
            "email karen.jones @ gmail.com",
            "karen.jones @ gmail.com",
            EmailAddress,
        );
        assert_caught(
            "sarahb(at)hotmail.co.uk",
            "sarahb(at)hotmail.co.uk",
            EmailAddress,
        );
        assert_passes("safeguarding.adults@norfolk.gov.uk");
    }

    #[test]
    fn a_directory_professionals_own_email_passes_and_anyone_elses_is_caught() {
        let allow = directory();
        assert_eq!(found_with("email a.okafor@nhs.net", &allow), vec![]);
        assert_eq!(
            found_with("email jordan.reid@norfolk.gov.uk", &allow),
            vec![]
        );
        // A lone surname shared with a professional is not their address.
        assert_eq!(
            found_with("email k.reid@gmail.com", &allow),
            vec![(EmailAddress, 6, 22)]
        );
        assert_eq!(
            found_with("email karen.jones@gmail.com", &allow),
            vec![(EmailAddress, 6, 27)]
        );
    }

    #[test]
    fn a_month_and_year_of_birth_is_caught_and_a_year_alone_passes() {
        assert_caught("DOB 04/1951", "04/1951", DateOfBirth);
        assert_caught("born in April 1951", "April 1951", DateOfBirth);
        assert_passes("born in 1951, lives alone");
        assert_passes("DOB is on the record; reviewed in April 2026 and 05/2026");
    }

    #[test]
    fn an_email_with_the_word_at_is_caught_but_meeting_at_a_place_is_not() {
        assert_caught(
            "email jane.doe at gmail.com",
            "jane.doe at gmail.com",
            EmailAddress,
        );
        assert_passes("we met at home.");
        assert_passes("team 2 at Norfolk.");
    }

    #[test]
    fn six_letters_and_digits_without_an_ni_cue_or_suffix_pass() {
        assert_passes("order AB123456 was placed");
    }

    // ------------------------------------------------------------ refusal message

    #[test]
    fn refusal_message_names_a_single_kind() {
        let message = refusal_message(&screen("NHS 943 476 5919"));
        assert_eq!(
            message,
            "This text looks like it contains an NHS number (at character 4). Chat is not the \
             case record: remove client-identifiable detail and refer to the client by your \
             agency's case reference (for example ASC-4471)."
        );
    }

    #[test]
    fn refusal_message_joins_two_kinds_with_and() {
        let message = refusal_message(&screen("943 476 5919 at NR1 2DH"));
        assert!(
            message.contains(
                "contains an NHS number (at character 0) and a postcode (at character 16)."
            )
        );
    }

    #[test]
    fn refusal_message_lists_three_or_more_kinds_once_each() {
        let message = refusal_message(&screen(
            "NR1 2DH, 07700 900123, jane@example.org, 01603 223456, M1 1AE",
        ));
        assert!(message.contains(
            "contains a postcode (at characters 0 and 55), a phone number (at characters 9 and \
             41) and an email address (at character 23)."
        ));
    }

    #[test]
    fn refusal_message_for_no_findings_is_still_sensible() {
        assert!(refusal_message(&[]).contains("contains client-identifiable detail."));
    }

    #[test]
    fn refusal_message_never_contains_the_matched_text() {
        let text = "AB 12 34 56 C, CHI 0101801238, NR1 2DH, DOB 03/04/1941, 07700 900123, \
                    jane.doe@example.org, 943 476 5919";
        let findings = screen(text);
        assert_eq!(findings.len(), 7);
        let message = refusal_message(&findings);
        for finding in &findings {
            let matched = covered(text, finding);
            assert!(
                !message.contains(&matched),
                "{matched:?} leaked into {message:?}"
            );
        }
        for kind in [
            NhsNumber,
            ChiNumber,
            NationalInsuranceNumber,
            Postcode,
            DateOfBirth,
            PhoneNumber,
            EmailAddress,
        ] {
            assert!(message.contains(kind.label()), "{message:?}");
        }
    }

    #[test]
    fn labels_and_slugs_are_stable() {
        assert_eq!(NationalInsuranceNumber.label(), "National Insurance number");
        assert_eq!(NationalInsuranceNumber.slug(), "national_insurance_number");
        assert_eq!(DateOfBirth.slug(), "date_of_birth");
        assert_eq!(EmailAddress.label(), "email address");
    }
}
