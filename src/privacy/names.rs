//! Finds people named in free text: a client title, a relationship or role word, a naming
//! word ("called"), or a given name from the list, each followed by what reads as a name.
//! Professionals in the directory, agencies and places pass.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use regex::Regex;

use super::lexicon::{
    CLIENT_TITLES, NAMES, NAMING_WORDS, NOT_NAMES, NameWord, PERSON_ROLES, RESIDENCE_WORDS,
    professional_title, street_word,
};
use super::{IdentifiableKind, RawFinding, compile};

/// The people and agencies whose names are not client detail, because they are professionals
/// and the organisations they work for (the directory), built once and kept by the caller.
#[derive(Debug, Clone, Default)]
pub struct Allow {
    /// Each professional's name words, lower case, without titles.
    people: Vec<Vec<String>>,
    /// Which professionals each name word belongs to.
    by_word: HashMap<String, Vec<usize>, super::lexicon::FnvBuild>,
    /// Every word of every agency's name, lower case.
    agency_words: HashSet<String, super::lexicon::FnvBuild>,
}

impl Allow {
    /// No professionals or agencies: only the built-in lists apply.
    pub fn new() -> Allow {
        Allow::default()
    }

    /// Lets a professional's name pass, in full or in part ("Dr Okafor", "Ade").
    pub fn person(&mut self, name: &str) -> &mut Allow {
        let parts: Vec<String> = words(name)
            .into_iter()
            .map(|w| w.lower)
            .filter(|w| !professional_title(w.as_str()) && w.len() > 1)
            .collect();
        if parts.is_empty() {
            return self;
        }
        let index = self.people.len();
        for part in &parts {
            self.by_word.entry(part.clone()).or_default().push(index);
        }
        self.people.push(parts);
        self
    }

    /// Lets an agency's name pass, and every word of it ("Riverside", "Broadland").
    pub fn agency(&mut self, name: &str) -> &mut Allow {
        for word in words(name) {
            self.agency_words.insert(word.lower);
        }
        self
    }

    /// The directory's people and agencies.
    pub fn from_directory(directory: &crate::directory::Directory) -> Allow {
        let mut allow = Allow::new();
        for person in directory.people() {
            allow.person(&person.name);
        }
        for agency in directory.agencies() {
            allow.agency(&agency.name);
        }
        allow
    }

    /// The allow list for a directory, built once for each distinct directory (by the names
    /// in it, [`crate::directory::Directory::names_key`]) and shared, so screening every field
    /// of every command neither rebuilds it nor reads every name again to find it.
    pub fn for_directory(directory: &crate::directory::Directory) -> Arc<Allow> {
        static CACHE: LazyLock<Mutex<Vec<CachedAllow>>> = LazyLock::new(|| Mutex::new(Vec::new()));
        let key = directory.names_key();
        let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, allow)) = cache.iter().find(|(k, _)| *k == key) {
            return Arc::clone(allow);
        }
        let allow = Arc::new(Allow::from_directory(directory));
        if cache.len() >= 8 {
            cache.remove(0);
        }
        cache.push((key, Arc::clone(&allow)));
        allow
    }

    /// True when an email address's local part is a directory professional's name, with
    /// each word or its initial and at least two of them: `sam.patel@`, `a.okafor@`,
    /// `kate_morgan2@`; not `a.green@` when the directory's Green is Gwen.
    pub(super) fn is_professionals_email(&self, address: &str) -> bool {
        let Some((local, _)) = address.split_once('@') else {
            return false;
        };
        let lower = local.trim().to_lowercase();
        let parts: Vec<&str> = lower
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|part| !part.is_empty())
            .collect();
        if parts.len() < 2 {
            return false;
        }
        // A whole word of the address must be one of the person's name words: only the
        // professionals with that word are candidates, however large the directory.
        let Some(candidates) = parts
            .iter()
            .find(|part| part.len() > 1)
            .and_then(|word| self.by_word.get(*word))
        else {
            return false;
        };
        candidates.iter().any(|&index| {
            self.people.get(index).is_some_and(|name| {
                parts.iter().all(|part| {
                    if part.len() == 1 {
                        name.iter().any(|n| n.starts_with(part))
                    } else {
                        name.iter().any(|n| n == part)
                    }
                })
            })
        })
    }

    /// True when every word belongs to the name of one professional.
    fn is_professional(&self, name: &[&str]) -> bool {
        let Some(first) = name.first() else {
            return false;
        };
        let Some(candidates) = self.by_word.get(*first) else {
            return false;
        };
        candidates.iter().any(|&index| {
            self.people
                .get(index)
                .is_some_and(|parts| name.iter().all(|w| parts.iter().any(|p| p == w)))
        })
    }

    pub(super) fn has_agency_word(&self, lower: &str) -> bool {
        self.agency_words.contains(lower)
    }
}

/// An allow list and the fingerprint of the directory it was built from.
type CachedAllow = (u64, Arc<Allow>);

/// A word of the text: letters with inner apostrophes or hyphens, with its byte span.
#[derive(Debug, Clone)]
pub(super) struct Word<'a> {
    pub(super) text: &'a str,
    /// Lower case, without a possessive `'s`.
    pub(super) lower: String,
    pub(super) start: usize,
    pub(super) end: usize,
}

impl Word<'_> {
    fn first_upper(&self) -> bool {
        self.text.chars().next().is_some_and(char::is_uppercase)
    }

    /// `Karen`, `McDonald`, `O'Brien`: a capital then at least one lower-case letter.
    pub(super) fn capitalised(&self) -> bool {
        self.first_upper() && self.text.chars().skip(1).any(char::is_lowercase)
    }

    /// `SMITH`: capitals only, two letters or more.
    fn all_caps(&self) -> bool {
        self.text.chars().count() >= 2 && !self.text.chars().any(char::is_lowercase)
    }

    /// `K` in "Mrs K" or "J. Smith".
    fn initial(&self) -> bool {
        self.text.chars().count() == 1 && self.first_upper()
    }

    pub(super) fn lowercase(&self) -> bool {
        !self.text.chars().any(char::is_uppercase)
    }
}

/// Splits text into words; digits and punctuation separate them.
pub(super) fn words(text: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let next_is_letter = chars.peek().is_some_and(|&(_, n)| n.is_alphabetic());
        let inner = matches!(c, '\'' | '’' | '-') && start.is_some() && next_is_letter;
        if c.is_alphabetic() || inner {
            if start.is_none() {
                start = Some(at);
            }
            continue;
        }
        if let Some(s) = start.take() {
            out.push(word(text, s, at));
        }
    }
    if let Some(s) = start {
        out.push(word(text, s, text.len()));
    }
    out
}

fn word(text: &str, start: usize, end: usize) -> Word<'_> {
    let slice = text.get(start..end).unwrap_or("");
    let mut lower = slice.to_lowercase().replace('’', "'");
    if let Some(stem) = lower.strip_suffix("'s") {
        lower = stem.to_string();
    }
    Word {
        text: slice,
        lower,
        start,
        end,
    }
}

/// What lies between two words, e.g. `, ` or ` (`.
fn gap<'a>(text: &'a str, left: &Word<'_>, right: &Word<'_>) -> &'a str {
    text.get(left.end..right.start).unwrap_or("")
}

/// Only spaces (or a full stop after an initial or title) between two words of one name.
fn joins_a_name(gap: &str) -> bool {
    let trimmed = gap.trim_matches(|c: char| c == ' ' || c == '\t');
    (trimmed.is_empty() || trimmed == ".") && !gap.contains('\n') && gap.len() <= 3
}

/// The separators allowed between a role word and the name it introduces: "the adult, John",
/// "her daughter (Karen)", "client: Mr Smith", "daughter - Karen".
fn introduces(gap: &str) -> bool {
    gap.len() <= 4
        && !gap.contains('\n')
        && gap
            .chars()
            .all(|c| matches!(c, ' ' | '\t' | ',' | '(' | ':' | '-' | '–' | '"' | '\''))
}

/// How strongly the surroundings say the next words are a person's name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cue {
    /// `Mr`, `Mrs`, `Mx`: whatever word follows is a name, in any case ("mr h dobson").
    Title,
    /// A title or role word: a listed name may be written in lower case.
    Strong,
    /// No cue before it: only capitalised words.
    None,
}

impl Allow {
    /// Places, agencies, streets, roles and ordinary capitalised words.
    fn never_a_name(&self, w: &Word<'_>) -> bool {
        let lower = w.lower.as_str();
        NOT_NAMES.contains(lower)
            || self.has_agency_word(lower)
            || street_word(lower).is_some()
            || RESIDENCE_WORDS.contains(lower)
            || PERSON_ROLES.contains(lower)
    }

    /// True when `w` can be part of a person's name here.
    fn name_word(&self, w: &Word<'_>, cue: Cue) -> bool {
        let lower = w.lower.as_str();
        if self.never_a_name(w) {
            return false;
        }
        if w.capitalised() {
            return true;
        }
        if w.all_caps() {
            return NAMES.given(lower).is_some() || NAMES.surname(lower).is_some();
        }
        match cue {
            Cue::Title => w.lowercase() && w.text.chars().count() >= 2,
            Cue::Strong => {
                w.lowercase()
                    && (NAMES.given(lower) == Some(NameWord::Name)
                        || NAMES.surname(lower) == Some(NameWord::Name))
            }
            Cue::None => false,
        }
    }
}

/// `Mr`, `Mrs` and `Mx` are always titles, so whatever follows is a name; `Miss`, `Ms` and
/// `Master` are also words ("miss the deadline"), so a lower-case name must be a listed one.
fn title_cue(title: &Word<'_>) -> Cue {
    if matches!(title.lower.as_str(), "mr" | "mrs" | "mx" | "mister") {
        Cue::Title
    } else {
        Cue::Strong
    }
}

/// The run of name words starting at `from`: up to four, joined only by spaces, allowing
/// initials. Returns the index of the last word, or None when there is no name there.
fn name_run(text: &str, words: &[Word<'_>], from: usize, cue: Cue, allow: &Allow) -> Option<usize> {
    let mut last: Option<usize> = None;
    let mut has_name = false;
    for (index, w) in words.iter().enumerate().skip(from).take(4) {
        if let Some(prev) = last
            && !joins_a_name(gap(text, &words[prev], w))
        {
            break;
        }
        let lower_initial = cue == Cue::Title && w.text.chars().count() == 1 && w.lowercase();
        if w.initial() || lower_initial {
            last = Some(index);
            continue;
        }
        if !allow.name_word(w, cue) {
            break;
        }
        has_name = true;
        last = Some(index);
    }
    // A trailing initial belongs to the next sentence ("Karen. A meeting...").
    while let Some(end) = last {
        if end > from && words[end].text.chars().count() == 1 {
            last = Some(end - 1);
        } else {
            break;
        }
    }
    last.filter(|_| has_name)
}

/// An age written right after a name: "Karen, 87,", "Karen (87)", "John aged 87".
static AGE_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?i)^\s*(?:,\s*|\(\s*)?(?:aged?\s*:?\s*[0-9]{1,3}\b|[0-9]{1,3}\s*(?:\)|,|yrs?\b|years?\b|y/?o\b))",
    )
});

/// People's names, as [`IdentifiableKind::PersonName`] findings.
pub(super) fn find_names(text: &str, allow: &Allow, out: &mut Vec<RawFinding>) {
    let words = words(text);
    let mut covered_to = 0; // word index up to which a name has already been found
    let mut push = |first: usize,
                    name_from: usize,
                    last: usize,
                    even_if_professional: bool,
                    covered_to: &mut usize| {
        let name: Vec<&str> = words[name_from..=last]
            .iter()
            .filter(|w| !w.initial())
            .map(|w| w.lower.as_str())
            .collect();
        if name.is_empty()
            || (!even_if_professional && allow.is_professional(&name))
            || professional_after(text, &words, last, allow)
            || organisation_after(text, &words, last, allow)
        {
            return;
        }
        out.push(RawFinding {
            kind: IdentifiableKind::PersonName,
            start: words[first].start,
            end: words[last].end,
        });
        *covered_to = last + 1;
    };

    for i in 0..words.len() {
        if i < covered_to {
            continue;
        }
        let w = &words[i];
        let next = words.get(i + 1);
        let after_professional = i > 0
            && professional_title(&words[i - 1].lower)
            && joins_a_name(gap(text, &words[i - 1], w));

        // 1. A client title: "Mrs Jane Smith", "mr smith", "Miss K Jones".
        if CLIENT_TITLES.contains(w.lower.as_str())
            && w.text != "MS"
            && let Some(n) = next
            && joins_a_name(gap(text, w, n))
            && (w.first_upper()
                || n.capitalised()
                || matches!(w.lower.as_str(), "mr" | "mrs" | "mx" | "mister")
                || NAMES.given(&n.lower) == Some(NameWord::Name)
                || NAMES.surname(&n.lower) == Some(NameWord::Name))
            && let Some(last) = name_run(text, &words, i + 1, title_cue(w), allow)
        {
            // "Mr X" and "Mrs A" are how notes anonymise people: they pass.
            if words[i + 1..=last]
                .iter()
                .all(|w| w.text.chars().count() == 1)
            {
                continue;
            }
            // A title and a lone surname is how a client is written about, even when a
            // professional shares the surname: "Ms Reid" is refused, "Ms Jordan Reid" passes.
            let lone_surname = words[i + 1..=last]
                .iter()
                .filter(|w| w.text.chars().count() > 1)
                .count()
                == 1;
            push(i, i + 1, last, lone_surname, &mut covered_to);
            continue;
        }

        // 2. A role or relationship word, or a naming word: "the adult, John Williams",
        //    "her daughter Karen", "a man called Tom".
        let role = PERSON_ROLES.contains(w.lower.as_str())
            && !(w.lower == "user" && (i == 0 || words[i - 1].lower != "service"));
        let naming = NAMING_WORDS.contains(w.lower.as_str())
            || (w.lower == "as" && i > 0 && words[i - 1].lower == "known")
            || (w.lower == "is" && i > 0 && words[i - 1].lower == "name");
        if (role || naming)
            && let Some(n) = next
        {
            let mut from = i + 1;
            let mut between = gap(text, w, n);
            // "her daughter is Karen", "the adult, known as John".
            if role
                && matches!(n.lower.as_str(), "is" | "was" | "named" | "called")
                && let Some(after) = words.get(i + 2)
                && introduces(between)
            {
                between = gap(text, n, after);
                from = i + 2;
            }
            // A listed given name may follow in lower case ("her daughter karen").
            let cue = Cue::Strong;
            if (introduces(between) || (naming && joins_a_name(between)))
                && let Some(first) = words.get(from)
                && (first.capitalised()
                    || first.all_caps()
                    || NAMES.given(&first.lower) == Some(NameWord::Name))
                && let Some(last) = name_run(text, &words, from, cue, allow)
            {
                if !words[from..=last].iter().all(Word::initial) {
                    // A relative or client named by one word is refused even when a professional
                    // shares that first name ("her son Tom" while Tom Baker is in the
                    // directory); a whole professional's name still passes.
                    let lone = words[from..=last].iter().filter(|w| !w.initial()).count() == 1;
                    push(from, from, last, lone, &mut covered_to);
                }
                continue;
            }
        }

        if after_professional {
            continue;
        }

        // 3. A listed given name and a surname: "Karen Smith", "john williams".
        let given = NAMES.given(&w.lower);
        if let Some(kind) = given
            && let Some(n) = next
            && joins_a_name(gap(text, w, n))
            && !allow.never_a_name(w)
        {
            let capitals = w.capitalised() && (n.capitalised() || n.all_caps());
            // In lower case ("brenda castle") a surname that is also a word counts after a
            // given name that is not.
            let lower = w.lowercase()
                && n.lowercase()
                && match kind {
                    NameWord::Name => NAMES.surname(&n.lower).is_some(),
                    NameWord::AlsoAWord => NAMES.surname(&n.lower) == Some(NameWord::Name),
                }
                && !allow.never_a_name(n);
            let surname_ok = kind == NameWord::Name || NAMES.surname(&n.lower).is_some();
            if lower {
                push(i, i, i + 1, false, &mut covered_to);
                continue;
            }
            if capitals
                && surname_ok
                && allow.name_word(n, Cue::None)
                && let Some(last) = name_run(text, &words, i + 1, Cue::None, allow)
            {
                push(i, i, last, false, &mut covered_to);
                continue;
            }
        }

        // 3c. Two lower-case words and an age, one of them a listed name: "harold finch, 79",
        //     "rajesh kumar, 82".
        if let Some(n) = next
            && w.lowercase()
            && n.lowercase()
            && joins_a_name(gap(text, w, n))
            && !allow.never_a_name(w)
            && !allow.never_a_name(n)
            && (given.is_some() || NAMES.surname(&n.lower).is_some())
            && AGE_AFTER.is_match(super::prefix(text.get(n.end..).unwrap_or(""), 30))
        {
            push(i, i, i + 1, false, &mut covered_to);
            continue;
        }

        // 3b. An unlisted capitalised word and a listed surname: "Rajesh Kumar".
        if given.is_none()
            && NAMES.surname(&w.lower).is_none()
            && w.capitalised()
            && allow.name_word(w, Cue::None)
            && let Some(n) = next
            && joins_a_name(gap(text, w, n))
            && n.capitalised()
            && (NAMES.surname(&n.lower) == Some(NameWord::Name) || surname_shaped(&n.lower))
            && allow.name_word(n, Cue::None)
            && let Some(last) = name_run(text, &words, i + 1, Cue::None, allow)
        {
            push(i, i, last, false, &mut covered_to);
            continue;
        }

        // 4. A given name with an age or a relationship right after it: "Karen (87)",
        //    "Karen, her daughter".
        if given.is_some() && w.capitalised() && allow.name_word(w, Cue::None) {
            let rest = super::prefix(text.get(w.end..).unwrap_or(""), 30);
            let relation = next.is_some_and(|n| {
                let between = gap(text, w, n);
                let role_word =
                    |x: &Word<'_>| PERSON_ROLES.contains(x.lower.as_str()) && x.lower != "user";
                introduces(between)
                    && between.trim().len() == 1
                    && (role_word(n)
                        || (matches!(n.lower.as_str(), "her" | "his" | "their" | "the")
                            && words.get(i + 2).is_some_and(role_word)))
            });
            if AGE_AFTER.is_match(rest) || relation {
                push(i, i, i, false, &mut covered_to);
                continue;
            }
        }

        // 5. A listed given name on its own: "visited Gladys at home". Not one that is also
        //    a word or a place, nor part of a hospital's, ward's or saint's name.
        if given == Some(NameWord::Name)
            && w.capitalised()
            && !allow.never_a_name(w)
            && !NOT_A_LONE_NAME.contains(w.lower.as_str())
            && !next.is_some_and(|n| {
                joins_a_name(gap(text, w, n)) && n.first_upper() && allow.never_a_name(n)
            })
            && !(i > 0
                && joins_a_name(gap(text, &words[i - 1], w))
                && matches!(
                    words[i - 1].lower.as_str(),
                    "st" | "saint" | "king" | "queen" | "lady" | "lord" | "prince" | "princess"
                ))
        {
            push(i, i, i, false, &mut covered_to);
        }
    }
}

/// Surnames whose ending gives them away even when they are not in the list: Ukrainian,
/// Polish, Czech, Russian, Balkan, Romanian, Armenian, Turkish, Greek and Nordic forms.
fn surname_shaped(lower: &str) -> bool {
    const ENDINGS: &[&str] = &[
        "enko", "ska", "ski", "sky", "wicz", "czyk", "czak", "owa", "ova", "ová", "eva", "ovic",
        "ović", "evic", "ević", "escu", "yan", "oglu", "oğlu", "poulos", "opoulou", "akis", "sson",
        "dottir", "chuk", "shvili", "adze",
    ];
    lower.chars().count() >= 5 && ENDINGS.iter().any(|e| lower.ends_with(e))
}

/// Given names that, alone and capitalised, are more often a place or another word.
static NOT_A_LONE_NAME: LazyLock<super::lexicon::Words> = LazyLock::new(|| {
    super::lexicon::words(&[
        "jordan",
        "georgia",
        "india",
        "florence",
        "chelsea",
        "paris",
        "sydney",
        "victoria",
        "adelaide",
        "austin",
        "dallas",
        "devon",
        "kent",
        "carolina",
        "virginia",
        "christian",
        "israel",
        "kenya",
        "china",
        "asia",
        "africa",
        "america",
        "eden",
        "haven",
        "trinity",
        "lincoln",
        "milton",
        "clinton",
        "preston",
        "chester",
        "bradford",
        "shelby",
        "holland",
        "france",
        "ireland",
        "scotland",
        "wales",
        "london",
        "camden",
        "brighton",
        "kingston",
        "essex",
        "albany",
        "phoenix",
        "denver",
        "orlando",
        "madison",
        "regent",
        "bishop",
        "dean",
        "deacon",
        "pastor",
        "imam",
        "rabbi",
        "father",
        "sister",
        "brother",
        "nurse",
        "cal",
        "ed",
        "al",
        "mo",
        "di",
        "ali",
        "mohammed",
        "muhammad",
        "ahmed",
    ])
});

/// True when a name is followed by a professional's role or agency: "Mrs Hughes, the
/// practice manager", "Peter from the housing team", "Jo (social worker)".
fn professional_after(text: &str, words: &[Word<'_>], last: usize, allow: &Allow) -> bool {
    let Some(name) = words.get(last) else {
        return false;
    };
    if name.text.ends_with("'s") || name.text.ends_with("’s") {
        return false;
    }
    let Some(next) = words.get(last + 1) else {
        return false;
    };
    let between = gap(text, name, next).trim();
    if !matches!(between, "" | "," | "(" | "-" | "–") {
        return false;
    }
    let agency_word = |w: &Word<'_>| {
        allow.has_agency_word(&w.lower)
            || matches!(
                w.lower.as_str(),
                "asc"
                    | "team"
                    | "trust"
                    | "practice"
                    | "surgery"
                    | "council"
                    | "police"
                    | "constabulary"
                    | "probation"
                    | "nhs"
                    | "hospital"
                    | "service"
                    | "services"
                    | "unit"
                    | "hub"
                    | "gp"
                    | "agency"
                    | "cmht"
                    | "ldt"
                    | "housing"
                    | "icb"
            )
    };
    let rest = words.get(last + 1..).unwrap_or(&[]);
    match next.lower.as_str() {
        "from" | "at" | "of" => rest.iter().skip(1).take(4).any(agency_word),
        // Right after a comma or bracket, or "the": "Jo (social worker)", "Mrs Hughes the
        // practice manager"; not "Lucy told the nurse".
        "the" | "a" | "an" | "our" | "their" => role_within(rest.get(1..).unwrap_or(&[])),
        _ if !between.is_empty() => role_within(rest),
        _ => false,
    }
}

/// True when a name is the start of an organisation's or a building's name: "Florence
/// Nightingale Hospice", "called Sunrise Care", "Jenny Lind Children's Hospital".
fn organisation_after(text: &str, words: &[Word<'_>], last: usize, allow: &Allow) -> bool {
    let (Some(name), Some(next)) = (words.get(last), words.get(last + 1)) else {
        return false;
    };
    joins_a_name(gap(text, name, next))
        && next.first_upper()
        && allow.never_a_name(next)
        && !matches!(
            next.lower.as_str(),
            "i" | "he"
                | "she"
                | "they"
                | "we"
                | "you"
                | "it"
                | "the"
                | "a"
                | "an"
                | "his"
                | "her"
                | "and"
                | "but"
                | "or"
                | "so"
                | "is"
                | "was"
                | "has"
                | "had"
                | "who"
                | "at"
                | "on"
                | "in"
                | "to"
                | "of"
                | "for"
                | "from"
                | "by"
                | "with"
                | "mr"
                | "mrs"
                | "ms"
                | "miss"
                | "mx"
                | "dr"
                | "today"
                | "yesterday"
                | "tomorrow"
        )
        && !PERSON_ROLES.contains(next.lower.as_str())
}

/// True when one of the first words (after "the", "a", "our") is a professional's title or role.
fn role_within(words: &[Word<'_>]) -> bool {
    words
        .iter()
        .skip_while(|w| matches!(w.lower.as_str(), "the" | "a" | "an" | "our" | "their"))
        .take(3)
        .any(|w| professional_title(&w.lower) && w.lower != "named")
}
