//! The command grammar people type after `/challenge` (Slack, sandbox) or `@escalation-bot` (Teams).
//!
//! Parsing is pure and shared by every platform, so `/challenge note NSAB-2026-0007 …` means the
//! same wherever it is typed.

use crate::escalation::Reference;

/// A parsed chat command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatCommand {
    /// No arguments: open the raise form.
    Raise,
    Help,
    Status(Reference),
    List,
    Note {
        reference: Reference,
        text: String,
    },
    /// Escalate; without a reason the escalate form opens to ask why.
    Escalate {
        reference: Reference,
        reason: Option<String>,
    },
    Acknowledge(Reference),
    /// Propose a resolution: opens the resolution form.
    Resolve(Reference),
    Confirm(Reference),
    Withdraw {
        reference: Reference,
        reason: Option<String>,
    },
}

/// Why text is not a command; the message is shown with the help text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrammarError(pub String);

/// The help text, for `help` and after any mistake.
pub const HELP: &str = "How to use /challenge:
• /challenge — raise a challenge (opens the form)
• /challenge status REF — where a challenge is now
• /challenge list — your open challenges
• /challenge note REF what was discussed — add a note to the record
• /challenge escalate REF [why] — escalate to the next stage
• /challenge ack REF — acknowledge that you have taken over this stage
• /challenge resolve REF — propose a resolution
• /challenge confirm REF — confirm the other side's proposed resolution
• /challenge withdraw REF why — withdraw your challenge
REF looks like NSAB-2026-0007. A complaint about one worker's conduct is not a challenge: use your agency's whistleblowing or PiPoT route.";

/// Parses the text after the command word.
pub fn parse(text: &str) -> Result<ChatCommand, GrammarError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(ChatCommand::Raise);
    }
    let (word, rest) = split_word(text);
    let word = word.to_ascii_lowercase();
    let reference = |rest: &str| -> Result<(Reference, String), GrammarError> {
        let (r, tail) = split_word(rest);
        if r.is_empty() {
            return Err(GrammarError(format!(
                "`{word}` needs a challenge reference, like NSAB-2026-0007"
            )));
        }
        let reference = Reference::parse(r).map_err(|e| GrammarError(e.to_string()))?;
        Ok((reference, tail.trim().to_string()))
    };
    let optional = |s: String| if s.is_empty() { None } else { Some(s) };
    match word.as_str() {
        "help" | "?" => Ok(ChatCommand::Help),
        "raise" | "new" | "challenge" if rest.trim().is_empty() => Ok(ChatCommand::Raise),
        "list" | "mine" => Ok(ChatCommand::List),
        "status" => reference(rest).map(|(r, _)| ChatCommand::Status(r)),
        "note" => {
            let (reference, text) = reference(rest)?;
            if text.is_empty() {
                return Err(GrammarError("write the note after the reference: `/challenge note NSAB-2026-0007 what was discussed`".into()));
            }
            Ok(ChatCommand::Note { reference, text })
        }
        "escalate" => reference(rest).map(|(reference, reason)| ChatCommand::Escalate {
            reference,
            reason: optional(reason),
        }),
        "ack" | "acknowledge" => reference(rest).map(|(r, _)| ChatCommand::Acknowledge(r)),
        "resolve" | "propose" => reference(rest).map(|(r, _)| ChatCommand::Resolve(r)),
        "confirm" => reference(rest).map(|(r, _)| ChatCommand::Confirm(r)),
        "withdraw" => reference(rest).map(|(reference, reason)| ChatCommand::Withdraw {
            reference,
            reason: optional(reason),
        }),
        other => Err(GrammarError(format!(
            "`{other}` is not something /challenge knows"
        ))),
    }
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

    fn r(s: &str) -> Reference {
        Reference::parse(s).expect("reference")
    }

    #[test]
    fn no_text_opens_the_raise_form() {
        assert_eq!(parse("   "), Ok(ChatCommand::Raise));
    }

    #[test]
    fn every_documented_command_parses() {
        assert_eq!(parse("help"), Ok(ChatCommand::Help));
        assert_eq!(parse("LIST"), Ok(ChatCommand::List));
        assert_eq!(
            parse("status nsab-2026-0007"),
            Ok(ChatCommand::Status(r("NSAB-2026-0007")))
        );
        assert_eq!(
            parse("note NSAB-2026-0007  met the GP by phone "),
            Ok(ChatCommand::Note {
                reference: r("NSAB-2026-0007"),
                text: "met the GP by phone".into()
            })
        );
        assert_eq!(
            parse("escalate NSAB-2026-0007"),
            Ok(ChatCommand::Escalate {
                reference: r("NSAB-2026-0007"),
                reason: None
            })
        );
        assert_eq!(
            parse("escalate NSAB-2026-0007 no agreement"),
            Ok(ChatCommand::Escalate {
                reference: r("NSAB-2026-0007"),
                reason: Some("no agreement".into())
            })
        );
        assert_eq!(
            parse("ack NSAB-2026-0007"),
            Ok(ChatCommand::Acknowledge(r("NSAB-2026-0007")))
        );
        assert_eq!(
            parse("resolve NSAB-2026-0007"),
            Ok(ChatCommand::Resolve(r("NSAB-2026-0007")))
        );
        assert_eq!(
            parse("confirm NSAB-2026-0007"),
            Ok(ChatCommand::Confirm(r("NSAB-2026-0007")))
        );
        assert_eq!(
            parse("withdraw NSAB-2026-0007 resolved informally"),
            Ok(ChatCommand::Withdraw {
                reference: r("NSAB-2026-0007"),
                reason: Some("resolved informally".into())
            })
        );
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        assert!(parse("frobnicate").is_err());
        assert!(parse("status").expect_err("no ref").0.contains("reference"));
        assert!(parse("status ASC-4471").is_err());
        assert!(
            parse("note NSAB-2026-0007")
                .expect_err("no text")
                .0
                .contains("write the note")
        );
    }
}
