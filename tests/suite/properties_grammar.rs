//! Properties of the typed-command grammar over any text people could type: it never panics, it
//! ignores surrounding whitespace, and its complaints never repeat what was typed.

use escalation_bot::chat::grammar::parse;
use proptest::prelude::*;

/// Words the grammar knows, and shapes that look like its references, dates and times.
const WORDS: &[&str] = &[
    "raise",
    "new",
    "challenge",
    "status",
    "list",
    "mine",
    "ack",
    "acknowledge",
    "note",
    "done",
    "step",
    "delay",
    "escalate",
    "forward",
    "resolve",
    "propose",
    "confirm",
    "reject",
    "withdraw",
    "learning",
    "help",
    "?",
    "RAISE",
    "Note",
    "NSAB-2026-0007",
    "nsab-2026-7",
    "SSAB-2026-0001",
    "NSAB-2026-",
    "-2026-0007",
    "NSAB--0007",
    "NSAB-99999-0001",
    "NSAB-2026-99999999999",
    "2026-05-21",
    "2026-13-45",
    "2026-05-2",
    "9999-99-99",
    "09:30",
    "9:30",
    "24:61",
    "0930",
    ":",
    "::",
    "review",
    "written-response",
    "qa-meeting",
];

/// Lines made of grammar words, lookalikes and arbitrary fragments, separated by any whitespace.
fn typed_line() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        4 => prop::sample::select(WORDS).prop_map(str::to_string),
        1 => any::<String>(),
        1 => "[0-9:\\-]{0,12}",
    ];
    let gap = prop::sample::select(&[" ", "  ", "\t", "\n", "\u{a0}", "\u{3000}", ""][..]);
    prop::collection::vec((word, gap), 0..8).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(w, g)| format!("{w}{g}"))
            .collect::<String>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn no_text_makes_the_grammar_panic(text in any::<String>()) {
        let _ = parse(&text);
    }

    #[test]
    fn no_line_of_grammar_words_and_lookalikes_makes_it_panic(text in typed_line()) {
        let _ = parse(&text);
    }

    #[test]
    fn whitespace_around_a_line_does_not_change_what_it_means(
        text in typed_line(),
        before in "[ \t\n]{0,3}",
        after in "[ \t\n]{0,3}",
    ) {
        prop_assert_eq!(parse(&format!("{before}{text}{after}")), parse(&text));
    }

    #[test]
    fn a_refusal_never_repeats_what_was_typed(
        line in typed_line(),
        marker in "zq[a-z]{8}",
        at_start in any::<bool>(),
    ) {
        // The marker stands for anything a person typed (a name, a case detail): it must not come
        // back in the message shown with the help text.
        let text = if at_start { format!("{marker} {line}") } else { format!("{line} {marker}") };
        if let Err(e) = parse(&text) {
            prop_assert!(!e.0.contains(&marker), "{:?} repeats {marker:?} typed in {text:?}", e.0);
        }
    }
}
