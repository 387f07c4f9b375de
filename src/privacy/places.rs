//! Finds where a person lives or is placed: a house or flat number with a street, a flat or
//! their room, and a named home or street after words such as "lives at" or "placed in".
//! A town, an agency or a hospital on its own passes.

use std::sync::LazyLock;

use regex::Regex;

use super::lexicon::{NOT_NAMES, RESIDENCE_WORDS, STREET_WORDS, street_word};
use super::names::{Allow, Word, words};
use super::{IdentifiableKind, RawFinding, compile, scan};

/// A house number (with an optional flat before it), one to three words, and a street word.
static NUMBERED_STREET: LazyLock<Regex> = LazyLock::new(|| {
    let streets: Vec<&str> = STREET_WORDS.iter().map(|&(word, _)| word).collect();
    compile(&format!(
        r"(?i)\b(?:(?:flat|apartment|apt|unit|room|house)\s*[0-9]{{1,4}}[a-z]?\s*[,/]?\s*)?(?:no\.?\s*)?[0-9]{{1,4}}[a-z]?\s*,?\s+((?:[a-z][a-z'’\-]*\s+){{1,3}})({})\b\.?",
        streets.join("|")
    ))
});

/// A flat, bedsit or apartment number: "Flat 3", "flat 12b".
static FLAT: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"(?i)\b(?:flat|apartment|apt|bedsit)\s*(?:no\.?\s*)?[0-9]{1,4}[a-z]?\b")
});

/// A person's own room: "her room 12", "room 4 at Acacia Lodge".
static ROOM: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"(?i)\b(?:(her|his|their|own)\s+)?room\s*(?:no\.?\s*)?[0-9]{1,4}[a-z]?\b")
});

/// Words that say the next place is where someone lives or is placed. The first group
/// ("lives at") makes any capitalised place an address; the rest need a residence word.
static RESIDENCE_CUE: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?i)\b(?:(lives|living|resides|residing|resident|placed|staying|stays|address(?:\s+is)?|lodging)\s+(?:at|on|of)|(?:is|s|are|was|were|now|currently|still)\s+(?:at|in)|(?:lives|living|resides|residing|resident|placed|placement|staying|moved|moving|moves|move|going|goes|went|gone|admitted|discharged|transferred|returned|returning|accommodated|housed|lodging|respite)\s+(?:in|into|to|at|back\s+to)|(?:at|from)\s+(?:her|his|their)\s+(?:home|house|flat|address)\s+(?:at|in|on))\s+(?:the\s+)?",
    )
});

/// Words that make "2 visits a day" or "5 working days" ordinary text, not a street.
static ORDINARY: LazyLock<super::lexicon::Words> = LazyLock::new(|| {
    super::lexicon::words(&[
        "minute",
        "minutes",
        "min",
        "mins",
        "mile",
        "miles",
        "hour",
        "year",
        "years",
        "month",
        "bed",
        "bedroom",
        "storey",
        "way",
        "mph",
        "metre",
        "metres",
        "yards",
        "sided",
        "bedded",
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "and",
        "or",
        "with",
        "by",
        "from",
        "per",
        "is",
        "was",
        "are",
        "were",
        "has",
        "have",
        "had",
        "be",
        "days",
        "day",
        "weeks",
        "week",
        "working",
        "times",
        "visits",
        "calls",
        "hours",
        "minutes",
        "years",
        "months",
        "people",
        "staff",
        "beds",
        "more",
        "other",
        "different",
        "separate",
        "new",
        "main",
        "busy",
    ])
});

/// Words before "Court" that make it a court of law.
static COURTS_OF_LAW: LazyLock<super::lexicon::Words> = LazyLock::new(|| {
    super::lexicon::words(&[
        "crown",
        "magistrates",
        "county",
        "family",
        "high",
        "supreme",
        "appeal",
        "coroner",
        "coroners",
        "protection",
        "youth",
        "civil",
        "combined",
        "justice",
    ])
});

/// Places where a numbered room is someone's own (not a meeting room in an office).
static CARE_PLACES: LazyLock<super::lexicon::Words> = LazyLock::new(|| {
    super::lexicon::words(&[
        "home",
        "lodge",
        "manor",
        "grange",
        "nursing",
        "care",
        "residential",
        "gardens",
        "view",
        "cottage",
        "hostel",
        "hospice",
        "ward",
    ])
});

fn is_residence_word(lower: &str) -> bool {
    RESIDENCE_WORDS.contains(lower) || street_word(lower).is_some()
}

/// Lower-case words before "care home" or "drive" that describe it instead of naming it.
static NOT_A_PLACE_NAME: LazyLock<super::lexicon::Words> = LazyLock::new(|| {
    super::lexicon::words(&[
        "another",
        "different",
        "local",
        "nearby",
        "private",
        "same",
        "current",
        "previous",
        "former",
        "better",
        "suitable",
        "appropriate",
        "specialist",
        "temporary",
        "permanent",
        "respite",
        "council",
        "big",
        "small",
        "large",
        "good",
        "bad",
        "nice",
        "own",
        "closer",
        "elderly",
        "older",
        "interim",
        "short",
        "long",
        "term",
        "emergency",
        "placement",
        "bed",
        "residential",
        "nursing",
        "dementia",
        "secure",
        "step-down",
        "intermediate",
        "usual",
        "family",
        "parents",
        "mum's",
        "dad's",
        "friend's",
        "daughter's",
        "son's",
        "sister's",
        "brother's",
        "partner's",
        "hospital",
        "ward",
        "unit",
        "hostel",
        "shared",
        "supported",
        "sheltered",
        "extra",
        "assisted",
        "independent",
        "rented",
        "social",
        "housing",
        "funded",
        "self-funded",
        "out-of-area",
        "registered",
        "unregistered",
        "main",
        "first",
        "second",
    ])
});

/// Where people live or are placed, as [`IdentifiableKind::Address`] findings.
pub(super) fn find_addresses(text: &str, allow: &Allow, out: &mut Vec<RawFinding>) {
    let mut push = |start: usize, end: usize| {
        out.push(RawFinding {
            kind: IdentifiableKind::Address,
            start,
            end,
        });
    };

    scan(&NUMBERED_STREET, text, |caps| {
        let (Some(m), Some(between), Some(street)) = (caps.get(0), caps.get(1), caps.get(2)) else {
            return false;
        };
        let names = words(between.as_str());
        let ambiguous = street_word(&street.as_str().to_lowercase()).unwrap_or(true);
        let capitals = names.iter().all(Word::capitalised);
        let ordinary = names
            .iter()
            .any(|w| ORDINARY.contains(w.lower.as_str()) && !w.capitalised());
        let street_capital = street
            .as_str()
            .chars()
            .next()
            .is_some_and(char::is_uppercase);
        // "2 Crown Court", "the High Court": courts of law, not streets.
        let law_court = street.as_str().eq_ignore_ascii_case("court")
            && names
                .iter()
                .any(|w| COURTS_OF_LAW.contains(w.lower.as_str()));
        // "22 oakfield drive": in lower case, one or two words that are neither ordinary
        // nor units ("5 minute walk").
        let hurried = names.len() <= 2
            && names.iter().all(|w| {
                w.lowercase()
                    && w.lower.chars().count() >= 3
                    && !ORDINARY.contains(w.lower.as_str())
                    && !NOT_NAMES.contains(w.lower.as_str())
                    && !NOT_A_PLACE_NAME.contains(w.lower.as_str())
            });
        let ok = if law_court {
            false
        } else if ambiguous {
            (capitals && street_capital) || hurried
        } else {
            capitals || !ordinary
        };
        if ok {
            push(m.start(), m.end());
        }
        ok
    });

    scan(&FLAT, text, |caps| {
        let Some(m) = caps.get(0) else {
            return false;
        };
        push(m.start(), m.end());
        true
    });

    scan(&ROOM, text, |caps| {
        let Some(m) = caps.get(0) else {
            return false;
        };
        // "her room 12", or a room in a named home soon after: "room 4 at Acacia Lodge".
        let own = caps.get(1).is_some();
        let rest = text.get(m.end()..).unwrap_or("");
        let lead = rest.trim_start_matches([' ', ',']);
        let place = ["at ", "in ", "of ", "At ", "In ", "Of "]
            .iter()
            .find_map(|p| lead.strip_prefix(p))
            .or_else(|| rest.strip_prefix(", "));
        let placed = place.is_some_and(|p| {
            residence_after(p, allow, false).is_some()
                && words(super::prefix(p, 80))
                    .iter()
                    .take(6)
                    .any(|w| CARE_PLACES.contains(w.lower.as_str()))
        });
        if own || placed {
            push(m.start(), m.end());
        }
        own || placed
    });

    for cue in RESIDENCE_CUE.captures_iter(text) {
        let Some(m) = cue.get(0) else { continue };
        let any_place = cue.get(1).is_some();
        let rest = text.get(m.end()..).unwrap_or("");
        if let Some(len) = residence_after(rest, allow, any_place) {
            push(m.end(), m.end() + len);
        }
    }
}

/// The byte length of a named place at the start of `rest`: up to five capitalised words
/// (with "of", "the", "on" or "&" inside). It counts when it has a residence or street word,
/// or, with `any_place`, when it is not only agencies, towns and ordinary words.
fn residence_after(rest: &str, allow: &Allow, any_place: bool) -> Option<usize> {
    // Five words fit well inside 120 bytes; the rest of the text is not read.
    let rest = rest
        .char_indices()
        .nth(120)
        .map_or(rest, |(at, _)| rest.get(..at).unwrap_or(rest));
    let lead = rest.len() - rest.trim_start_matches([' ', ',', ':']).len();
    let rest_words = words(rest);
    let mut last: Option<&Word<'_>> = None;
    let mut residence = false;
    let mut distinctive = false;
    let mut named_to: Option<usize> = None;
    let mut lowercase_name = false;
    for w in rest_words.iter().take(5) {
        let between = match last {
            Some(prev) => rest.get(prev.end..w.start).unwrap_or(""),
            None => rest.get(..w.start).unwrap_or(""),
        };
        let joined = match last {
            Some(_) => between.trim().is_empty() || between.trim() == "&",
            None => between.len() == lead,
        };
        let lower = w.lower.as_str();
        let inner = last.is_some() && matches!(lower, "of" | "the" | "on" | "upon");
        let is_residence = RESIDENCE_WORDS.contains(lower) || street_word(lower).is_some();
        // "Acacia Lodge care home": a lower-case residence word may close the name.
        let trailing = last.is_some() && is_residence;
        // Written in a hurry: "meadowbank care home", "wensum drive".
        let hurried = w.lowercase()
            && !is_residence
            && w.lower.chars().count() >= 3
            && !NOT_NAMES.contains(lower)
            && !ORDINARY.contains(lower)
            && !NOT_A_PLACE_NAME.contains(lower);
        if !joined || !(w.capitalised() || inner || trailing || hurried) {
            break;
        }
        lowercase_name |= hurried;
        if is_residence {
            residence = true;
        } else if !inner && !NOT_NAMES.contains(lower) && !allow.has_agency_word(lower) {
            distinctive = true;
        }
        last = Some(w);
        if !inner {
            named_to = Some(w.end);
        }
    }
    let end = named_to?;
    let ok = if lowercase_name {
        // Without capitals only a name ending in a residence or street word is a place.
        residence && distinctive && last.is_some_and(|w| is_residence_word(&w.lower))
    } else {
        (residence && (distinctive || any_place)) || (any_place && distinctive)
    };
    ok.then_some(end)
}
