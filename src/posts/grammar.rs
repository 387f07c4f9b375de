//! The words people type after `/challenge` (Slack, sandbox) or `@escalation-bot` (Teams), in one
//! table: what each does, how to use it, and what a button for it is called.
//!
//! Parsing is pure and shared by every platform, so `/challenge note NSAB-2026-0007 …` means the
//! same wherever it is typed. What follows the reference is read into the fields of the verb's
//! form, so a typed command and a submitted form are checked by the same rules
//! ([`crate::posts::forms::parse`]).

use super::forms::Values;
use crate::escalation::{Reference, Verb};

/// What a line of typed text asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    /// `help`: how to use the service.
    Help,
    /// `list`: the person's open challenges.
    List,
    /// `status REF`: where a challenge is now.
    Status(Reference),
    /// `board`: a one-time sign-in link to the Board's view, by direct message.
    Board,
    /// `connect`: this channel becomes the asker's agency's challenges channel (agency admins).
    Connect,
    /// A verb, on a challenge (every verb but raise), with what was typed for its form's
    /// fields. Empty values open the form instead.
    Verb {
        verb: Verb,
        reference: Option<Reference>,
        values: Values,
    },
}

/// Why text is not a command; shown with the help text. Never quotes what was typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrammarError(pub String);

/// How the words after a verb's reference are read.
#[derive(Debug, Clone, Copy)]
enum Tail {
    /// Nothing more is read.
    Nothing,
    /// The rest is this field of the form.
    Field(&'static str),
    /// `YYYY-MM-DD [HH:MM] why`: a new deadline and the reason.
    Deadline,
    /// `STEP [YYYY-MM-DD HH:MM] [note]`: a named step, when, and a note.
    Step,
}

/// One entry of the command table.
struct Word {
    words: &'static [&'static str],
    what: What,
    /// The arguments, as the help shows them.
    usage: &'static str,
    /// What it does, as the help says it.
    does: &'static str,
}

#[derive(Clone, Copy)]
enum What {
    Help,
    List,
    Status,
    Board,
    Connect,
    Verb(Verb, Tail),
}

/// The word for the Board's view sign-in link; its button stands for typing it.
pub const BOARD_WORD: &str = "board";

/// Every command people can type, in the order the help lists them. A test checks that every
/// verb of the core is here.
const TABLE: &[Word] = &[
    Word {
        words: &["raise", "new", "challenge"],
        what: What::Verb(Verb::Raise, Tail::Nothing),
        usage: "",
        does: "raise a challenge (opens the form; the command word alone does the same)",
    },
    Word {
        words: &["status"],
        what: What::Status,
        usage: "REF",
        does: "where a challenge is now",
    },
    Word {
        words: &["list", "mine"],
        what: What::List,
        usage: "",
        does: "your open challenges",
    },
    Word {
        words: &["ack", "acknowledge"],
        what: What::Verb(Verb::Acknowledge, Tail::Nothing),
        usage: "REF",
        does: "acknowledge that you have taken over this stage",
    },
    Word {
        words: &["note"],
        what: What::Verb(Verb::AddNote, Tail::Field("note")),
        usage: "REF what was discussed",
        does: "add a note to the record",
    },
    Word {
        words: &["done", "step"],
        what: What::Verb(Verb::CompleteStep, Tail::Step),
        usage: "REF STEP [YYYY-MM-DD HH:MM] [note]",
        does: "record that a named step of the stage happened (when, if not now)",
    },
    Word {
        words: &["delay"],
        what: What::Verb(Verb::RecordDelayReason, Tail::Field("reason")),
        usage: "REF why",
        does: "record the reason for a delay, without escalating",
    },
    Word {
        words: &["escalate"],
        what: What::Verb(Verb::Escalate, Tail::Field("reason")),
        usage: "REF [why]",
        does: "escalate to the next stage",
    },
    Word {
        words: &["forward"],
        what: What::Verb(Verb::BringDeadlineForward, Tail::Deadline),
        usage: "REF YYYY-MM-DD [HH:MM] why",
        does: "bring this stage's deadline forward to protect the adult (never later)",
    },
    Word {
        words: &["resolve", "propose"],
        what: What::Verb(Verb::ProposeResolution, Tail::Nothing),
        usage: "REF",
        does: "propose a resolution (opens the form)",
    },
    Word {
        words: &["confirm"],
        what: What::Verb(Verb::ConfirmResolution, Tail::Nothing),
        usage: "REF",
        does: "confirm the other side's proposed resolution",
    },
    Word {
        words: &["reject"],
        what: What::Verb(Verb::RejectResolution, Tail::Field("reason")),
        usage: "REF [why]",
        does: "reject the other side's proposed resolution",
    },
    Word {
        words: &["determine", "determination"],
        what: What::Verb(Verb::RecordDetermination, Tail::Nothing),
        usage: "REF",
        does: "record the board's determination at a stage the board decides (opens the form)",
    },
    Word {
        words: &["withdraw"],
        what: What::Verb(Verb::Withdraw, Tail::Field("reason")),
        usage: "REF [why]",
        does: "withdraw your challenge",
    },
    Word {
        words: &["learning"],
        what: What::Verb(Verb::ReferLearning, Tail::Field("learning")),
        usage: "REF what the board should learn",
        does: "refer learning to the board",
    },
    Word {
        words: &[BOARD_WORD],
        what: What::Board,
        usage: "",
        does: "a sign-in link to the Board's view (challenge log, statistics, records), by direct message",
    },
    Word {
        words: &["connect"],
        what: What::Connect,
        usage: "",
        does: "make this channel your agency's challenges channel (for your agency's escalation-bot administrators)",
    },
    Word {
        words: &["help", "?"],
        what: What::Help,
        usage: "",
        does: "this help",
    },
];

/// The help text, for `help` and after any mistake; `command` is how the platform starts a
/// command (`/challenge` on Slack and the sandbox, `@escalation-bot` on Teams).
pub fn help(command: &str) -> String {
    let mut out = format!("How to use {command}:");
    for w in TABLE {
        let usage = if w.usage.is_empty() {
            String::new()
        } else {
            format!(" {}", w.usage)
        };
        out.push_str(&format!("\n• {command} {}{usage} — {}", w.words[0], w.does));
    }
    out.push_str(
        "\nREF looks like NSAB-2026-0007. Leave out what follows REF to open the form instead. A complaint about one worker's conduct is not a challenge: use your agency's whistleblowing or PiPoT route.",
    );
    out
}

/// The usage line of a verb, for an error about what was typed after it.
pub fn usage(verb: Verb, command: &str) -> String {
    TABLE
        .iter()
        .find(|w| matches!(w.what, What::Verb(v, _) if v == verb))
        .map(|w| {
            format!("{command} {} {}", w.words[0], w.usage)
                .trim_end()
                .to_string()
        })
        .unwrap_or_default()
}

/// Whether a verb can be typed (a test holds every verb to it).
pub fn typeable(verb: Verb) -> bool {
    TABLE
        .iter()
        .any(|w| matches!(w.what, What::Verb(v, _) if v == verb))
}

/// What a button for a verb says.
pub fn button_label(verb: Verb) -> &'static str {
    match verb {
        Verb::Raise => "Raise a challenge",
        Verb::AddNote => "Add note",
        Verb::Acknowledge => "Acknowledge",
        Verb::Escalate => "Escalate",
        Verb::ProposeResolution => "Propose resolution",
        Verb::ConfirmResolution => "Confirm resolution",
        Verb::RejectResolution => "Reject",
        Verb::RecordDelayReason => "Record reason for delay",
        Verb::CompleteStep => "Record a step",
        Verb::BringDeadlineForward => "Bring deadline forward",
        Verb::Withdraw => "Withdraw",
        Verb::ReferLearning => "Refer learning",
        Verb::RecordDetermination => "Record determination",
    }
}

/// Parses the text after the command word.
pub fn parse(text: &str) -> Result<Typed, GrammarError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Typed::Verb {
            verb: Verb::Raise,
            reference: None,
            values: Values::new(),
        });
    }
    let (word, rest) = split_word(text);
    let word = word.to_ascii_lowercase();
    let Some(entry) = TABLE.iter().find(|w| w.words.contains(&word.as_str())) else {
        return Err(GrammarError(
            "That is not a command escalation-bot knows.".into(),
        ));
    };
    let name = entry.words[0];
    let reference = |rest: &str| -> Result<(Reference, String), GrammarError> {
        let (r, tail) = split_word(rest);
        if r.is_empty() {
            return Err(GrammarError(format!(
                "{name} needs a challenge reference, like NSAB-2026-0007."
            )));
        }
        let reference = Reference::parse(r).map_err(|_| {
            GrammarError(format!(
                "After {name}, give a challenge reference like NSAB-2026-0007 (the board's prefix, the year and the number)."
            ))
        })?;
        Ok((reference, tail.trim().to_string()))
    };
    match entry.what {
        What::Help => Ok(Typed::Help),
        What::List => Ok(Typed::List),
        What::Board => Ok(Typed::Board),
        What::Connect => Ok(Typed::Connect),
        What::Status => reference(rest).map(|(r, _)| Typed::Status(r)),
        What::Verb(Verb::Raise, _) => Ok(Typed::Verb {
            verb: Verb::Raise,
            reference: None,
            values: Values::new(),
        }),
        What::Verb(verb, tail) => {
            let (reference, rest) = reference(rest)?;
            Ok(Typed::Verb {
                verb,
                reference: Some(reference),
                values: read_tail(tail, &rest),
            })
        }
    }
}

/// The form fields a typed command can fill for a verb: a form field outside these (a yes/no
/// question a stage asks, say) can only be answered in the form.
pub fn typed_fields(verb: Verb) -> Vec<&'static str> {
    let tail = TABLE.iter().find_map(|w| match w.what {
        What::Verb(v, tail) if v == verb => Some(tail),
        _ => None,
    });
    match tail {
        Some(Tail::Field(id)) => vec![id],
        Some(Tail::Deadline) => vec!["due", "reason"],
        Some(Tail::Step) => vec!["step", "at", "note"],
        Some(Tail::Nothing) | None => Vec::new(),
    }
}

/// Reads what follows the reference into form fields.
fn read_tail(tail: Tail, rest: &str) -> Values {
    let mut values = Values::new();
    let mut put = |id: &str, v: &str| {
        let v = v.trim();
        if !v.is_empty() {
            values.insert(id.to_string(), v.to_string());
        }
    };
    match tail {
        Tail::Nothing => {}
        Tail::Field(id) => put(id, rest),
        Tail::Deadline => {
            let (date, after) = split_word(rest);
            let (time, after_time) = split_word(after);
            if looks_like_time(time) {
                put("due", &format!("{date} {time}"));
                put("reason", after_time);
            } else {
                put("due", date);
                put("reason", after);
            }
        }
        Tail::Step => {
            let (step, after) = split_word(rest);
            put("step", step);
            let (date, after_date) = split_word(after);
            let (time, after_time) = split_word(after_date);
            if looks_like_date(date) && looks_like_time(time) {
                put("at", &format!("{date} {time}"));
                put("note", after_time);
            } else if looks_like_date(date) {
                // A date without a time cannot say when on that day: leave it for the form's
                // check to ask for the time.
                put("at", date);
                put("note", after_date);
            } else {
                put("note", after);
            }
        }
    }
    values
}

fn looks_like_time(s: &str) -> bool {
    let b = s.as_bytes();
    (b.len() == 5 && b[2] == b':' || b.len() == 4 && b[1] == b':')
        && s.chars().filter(char::is_ascii_digit).count() + 1 == s.len()
}

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10 && b[4] == b'-' && b[7] == b'-'
}

fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Option<Reference> {
        Some(Reference::parse(s).expect("reference"))
    }

    fn verb(verb: Verb, reference: &str, values: &[(&str, &str)]) -> Typed {
        Typed::Verb {
            verb,
            reference: r(reference),
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn no_text_opens_the_raise_form() {
        assert_eq!(
            parse("   "),
            Ok(Typed::Verb {
                verb: Verb::Raise,
                reference: None,
                values: Values::new()
            })
        );
    }

    #[test]
    fn every_verb_can_be_typed() {
        for v in Verb::ALL {
            assert!(typeable(v), "{v:?} has no typed command");
        }
    }

    #[test]
    fn every_documented_command_parses() {
        let rf = "NSAB-2026-0007";
        assert_eq!(parse("help"), Ok(Typed::Help));
        assert_eq!(parse("LIST"), Ok(Typed::List));
        assert_eq!(
            parse("status nsab-2026-0007"),
            Ok(Typed::Status(r(rf).expect("ref")))
        );
        assert_eq!(
            parse("note NSAB-2026-0007  met the GP by phone "),
            Ok(verb(Verb::AddNote, rf, &[("note", "met the GP by phone")]))
        );
        assert_eq!(
            parse("escalate NSAB-2026-0007"),
            Ok(verb(Verb::Escalate, rf, &[]))
        );
        assert_eq!(
            parse("escalate NSAB-2026-0007 no agreement"),
            Ok(verb(Verb::Escalate, rf, &[("reason", "no agreement")]))
        );
        assert_eq!(
            parse("ack NSAB-2026-0007"),
            Ok(verb(Verb::Acknowledge, rf, &[]))
        );
        assert_eq!(
            parse("propose NSAB-2026-0007"),
            Ok(verb(Verb::ProposeResolution, rf, &[]))
        );
        assert_eq!(
            parse("confirm NSAB-2026-0007"),
            Ok(verb(Verb::ConfirmResolution, rf, &[]))
        );
        assert_eq!(
            parse("reject NSAB-2026-0007 not agreed"),
            Ok(verb(
                Verb::RejectResolution,
                rf,
                &[("reason", "not agreed")]
            ))
        );
        assert_eq!(
            parse("delay NSAB-2026-0007 manager on leave"),
            Ok(verb(
                Verb::RecordDelayReason,
                rf,
                &[("reason", "manager on leave")]
            ))
        );
        assert_eq!(
            parse("learning NSAB-2026-0007 share discharge plans earlier"),
            Ok(verb(
                Verb::ReferLearning,
                rf,
                &[("learning", "share discharge plans earlier")]
            ))
        );
        assert_eq!(
            parse("forward NSAB-2026-0007 2026-06-03 12:00 risk of eviction"),
            Ok(verb(
                Verb::BringDeadlineForward,
                rf,
                &[("due", "2026-06-03 12:00"), ("reason", "risk of eviction")]
            ))
        );
        assert_eq!(
            parse("forward NSAB-2026-0007 2026-06-03 risk of eviction"),
            Ok(verb(
                Verb::BringDeadlineForward,
                rf,
                &[("due", "2026-06-03"), ("reason", "risk of eviction")]
            ))
        );
        assert_eq!(
            parse("done NSAB-2026-0007 review 2026-06-03 09:30 case file read"),
            Ok(verb(
                Verb::CompleteStep,
                rf,
                &[
                    ("step", "review"),
                    ("at", "2026-06-03 09:30"),
                    ("note", "case file read")
                ]
            ))
        );
        assert_eq!(
            parse("done NSAB-2026-0007 written-response sent by email"),
            Ok(verb(
                Verb::CompleteStep,
                rf,
                &[("step", "written-response"), ("note", "sent by email")]
            ))
        );
        assert_eq!(
            parse("withdraw NSAB-2026-0007 resolved informally"),
            Ok(verb(
                Verb::Withdraw,
                rf,
                &[("reason", "resolved informally")]
            ))
        );
    }

    #[test]
    fn mistakes_say_what_is_wrong_without_quoting_it() {
        let e = parse("frobnicate 5451956839").expect_err("unknown");
        assert!(!e.0.contains("frobnicate") && !e.0.contains("5451956839"));
        assert!(parse("status").expect_err("no ref").0.contains("reference"));
        let e = parse("status ASC-4471").expect_err("not ours");
        assert!(!e.0.contains("ASC-4471"));
    }

    #[test]
    fn help_lists_every_word_with_the_platforms_prefix() {
        let h = help("@escalation-bot");
        for w in TABLE {
            assert!(
                h.contains(&format!("@escalation-bot {}", w.words[0])),
                "{}",
                w.words[0]
            );
        }
        assert!(!h.contains("/challenge"));
    }
}
