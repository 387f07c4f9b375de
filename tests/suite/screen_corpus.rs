//! The screen on the labelled corpus (`tests/screen-corpus.tsv`), with the demo directory's
//! professionals and agencies allowed as in the service: at least 97% of identifiable lines
//! refused and at most 2% of ordinary lines, on the whole corpus and on its tuned split.

use escalation_bot::directory::Directory;
use escalation_bot::privacy::Allow;
use escalation_bot::privacy::evaluate::{CORPUS, evaluate, parse};

fn allow() -> Allow {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let directory = Directory::load(&root.join("policies/demo/directory.toml"))
        .expect("the demo directory loads");
    Allow::from_directory(&directory)
}

#[test]
fn the_corpus_has_at_least_200_lines_about_half_of_them_identifiable() {
    let lines = parse(CORPUS).expect("the corpus parses");
    let identifiable = lines.iter().filter(|l| !l.expected.is_empty()).count();
    assert!(lines.len() >= 200, "{} lines", lines.len());
    assert!(
        (0.4..=0.6).contains(&(identifiable as f64 / lines.len() as f64)),
        "{identifiable} of {} identifiable",
        lines.len()
    );
    assert!(lines.iter().any(|l| l.split == "held"));
}

#[test]
fn the_screen_refuses_97_percent_of_identifiable_lines_and_2_percent_of_ordinary_ones_at_most() {
    let lines = parse(CORPUS).expect("the corpus parses");
    let allow = allow();
    // The whole corpus and the tuned split are held to the thresholds; the held-out split is
    // reported by `escalation-bot bench screen`, not asserted, so that nobody tunes on it.
    for split in [None, Some("tune")] {
        let report = evaluate(&lines, split, &allow);
        assert!(
            report.recall() >= 0.97,
            "{split:?}: recall {:.3}\n{report}",
            report.recall()
        );
        assert!(
            report.false_refusals() <= 0.02,
            "{split:?}: false refusals {:.3}\n{report}",
            report.false_refusals()
        );
    }
}
