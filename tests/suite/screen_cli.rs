//! `escalation-bot screen`: refuses each kind of identifiable detail, naming its kind and
//! position and never the text; passes ordinary safeguarding text and near-misses.

use crate::helpers::run_bin;

/// The modulus-11 check digit NHS and CHI numbers share, or None where no valid one exists.
fn mod11_check_digit(first_nine: &str) -> Option<u32> {
    let sum: u32 = first_nine
        .chars()
        .zip((2..=10).rev())
        .map(|(c, w)| c.to_digit(10).expect("a digit") * w)
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        d => Some(d),
    }
}

/// Screens `text`: must exit 1 with exactly one finding line for `slug`, never echoing `secret`.
/// Returns the finding line.
fn refused(text: &str, slug: &str, secret: &str) -> String {
    let out = run_bin(&["screen"], Some(text));
    assert_eq!(
        out.code,
        Some(1),
        "{text:?} is refused; stdout: {}; stderr: {}",
        out.stdout,
        out.stderr
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line per kind found: {lines:?}");
    assert!(
        lines[0].starts_with(&format!("{slug} at character ")),
        "names the kind {slug}: {}",
        lines[0]
    );
    let compact: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
    for shown in [&out.stdout, &out.stderr] {
        assert!(!shown.contains(secret), "never echoes {secret:?}: {shown}");
        assert!(
            !shown.contains(&compact),
            "never echoes {compact:?}: {shown}"
        );
    }
    lines[0].to_string()
}

/// Screens `text`: must exit 0 printing exactly `ok`.
fn passes(text: &str) {
    let out = run_bin(&["screen"], Some(text));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), "ok\n"),
        "{text:?} passes; stderr: {}",
        out.stderr
    );
}

#[test]
fn the_nhs_number_used_in_the_examples_has_a_valid_check_digit() {
    assert_eq!(mod11_check_digit("943476591"), Some(9));
    assert_eq!(mod11_check_digit("030441124"), Some(8));
}

#[test]
fn an_nhs_number_is_refused_with_its_position() {
    let line = refused(
        "NHS number 943 476 5919 was on the letter.",
        "nhs_number",
        "943 476 5919",
    );
    assert_eq!(line, "nhs_number at character 11");
}

#[test]
fn an_unspaced_nhs_number_is_refused() {
    refused("Ref 9434765919 on file.", "nhs_number", "9434765919");
}

#[test]
fn a_chi_number_is_refused() {
    // 03/04/41, serial 124, check digit 8 (computed above).
    let chi = "0304411248";
    let line = refused(
        &format!("Scottish record {chi} transferred."),
        "chi_number",
        chi,
    );
    assert_eq!(line, "chi_number at character 16");
}

#[test]
fn a_national_insurance_number_is_refused() {
    let line = refused(
        "NI AB 12 34 56 C on the form.",
        "national_insurance_number",
        "AB 12 34 56 C",
    );
    assert_eq!(line, "national_insurance_number at character 3");
}

#[test]
fn a_postcode_is_refused() {
    let line = refused("Lives near NR1 2DH with her son.", "postcode", "NR1 2DH");
    assert_eq!(line, "postcode at character 11");
}

#[test]
fn a_date_of_birth_is_refused() {
    refused(
        "DOB 03/04/1941, lives alone.",
        "date_of_birth",
        "03/04/1941",
    );
}

#[test]
fn a_phone_number_is_refused() {
    let line = refused(
        "Call the daughter on 01603 223456 after six.",
        "phone_number",
        "01603 223456",
    );
    assert_eq!(line, "phone_number at character 21");
}

#[test]
fn an_email_address_is_refused() {
    let line = refused(
        "Her son is jane.doe@example.org on the file.",
        "email_address",
        "jane.doe@example.org",
    );
    assert_eq!(line, "email_address at character 11");
}

#[test]
fn positions_count_characters_not_bytes() {
    // "Café – " is 7 characters but 10 bytes in UTF-8.
    let line = refused("Café – 01603 223456", "phone_number", "01603 223456");
    assert_eq!(line, "phone_number at character 7");
}

#[test]
fn several_kinds_give_one_line_each_and_echo_none_of_them() {
    let text = "Seen at NR1 2DH; NHS 943 476 5919; call 01603 223456.";
    let out = run_bin(&["screen"], Some(text));
    assert_eq!(out.code, Some(1));
    let kinds: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["nhs_number", "postcode", "phone_number"]);
    for secret in ["NR1 2DH", "943 476 5919", "01603 223456"] {
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    }
    assert!(
        out.stderr.contains("case reference"),
        "says what to write instead: {}",
        out.stderr
    );
}

#[test]
fn ordinary_safeguarding_text_passes() {
    passes(
        "Met on 3 June 2026 with the GP and the ward manager. The adult wants to return home; \
         the practice does not think a capacity assessment is needed. Our case reference is \
         ASC-4471 and the challenge is NSAB-2026-0012. Next review at 14:30 on Friday, 2 visits a day.",
    );
}

#[test]
fn a_ten_digit_number_with_a_wrong_check_digit_passes() {
    passes("Reference 943 476 5918 from the old system.");
    passes("Reference 9434765918 from the old system.");
}

#[test]
fn a_meeting_date_passes() {
    passes("We met on 3 June 2026 and again on 10/06/2026.");
}

#[test]
fn case_and_challenge_references_pass() {
    passes("ASC-4471");
    passes("NSAB-2026-0012");
}

#[test]
fn empty_input_passes() {
    passes("");
}

/// A deterministic stream of pseudo-random digits (no external crate needed).
struct Digits(u64);

impl Digits {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % 10) as u32
    }
}

#[test]
fn every_valid_nhs_number_is_caught_spaced_or_not_and_every_invalid_one_passes() {
    use escalation_bot::privacy::{IdentifiableKind, screen};
    let mut rng = Digits(2026);
    let (mut valid, mut invalid) = (0, 0);
    while valid < 500 || invalid < 500 {
        // NHS numbers never start with 0 (that range is Scotland's CHI).
        let first = 1 + rng.next() % 9;
        let nine: String = std::iter::once(first)
            .chain((0..8).map(|_| rng.next()))
            .map(|d| char::from_digit(d, 10).expect("a digit"))
            .collect();
        let Some(check) = mod11_check_digit(&nine) else {
            continue;
        };
        let wrong = (check + 1 + rng.next() % 9) % 10;
        for (digit, is_valid) in [(check, true), (wrong, false)] {
            if (is_valid && valid >= 500) || (!is_valid && invalid >= 500) {
                continue;
            }
            if !is_valid && mod11_check_digit(&nine) == Some(digit) {
                continue;
            }
            let number = format!("{nine}{digit}");
            let spaced = format!("{} {} {}", &number[..3], &number[3..6], &number[6..]);
            for written in [number.clone(), spaced] {
                let text = format!("Seen by the GP, ref {written} on the letter.");
                let kinds: Vec<IdentifiableKind> = screen(&text).iter().map(|f| f.kind).collect();
                if is_valid {
                    assert!(
                        kinds == [IdentifiableKind::NhsNumber]
                            || kinds == [IdentifiableKind::ChiNumber],
                        "{written} has a valid check digit and is caught: {kinds:?}"
                    );
                } else {
                    assert!(
                        kinds.is_empty(),
                        "{written} has a wrong check digit and passes: {kinds:?}"
                    );
                }
            }
            if is_valid {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
    }
}

/// Screens `text`: must exit 1 listing exactly `lines` (kind and positions), echoing no `secrets`.
fn refused_as(text: &str, lines: &[&str], secrets: &[&str]) {
    let out = run_bin(&["screen"], Some(text));
    assert_eq!(out.code, Some(1), "{text:?} is refused: {}", out.stdout);
    let got: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(got, lines, "{text:?}");
    for secret in secrets {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "never echoes {secret:?}: {} {}",
            out.stdout,
            out.stderr
        );
    }
    assert!(out.stderr.contains("case reference"), "{}", out.stderr);
}

#[test]
fn a_named_client_and_their_address_are_refused_with_both_positions() {
    refused_as(
        "Mrs Jane Smith of 14 Acacia Avenue has been left without carers",
        &["person_name at character 0", "address at character 18"],
        &["Jane", "Smith", "Acacia"],
    );
}

#[test]
fn relatives_named_after_a_relationship_word_are_refused() {
    refused_as(
        "spoke to her daughter Karen",
        &["person_name at character 22"],
        &["Karen"],
    );
    refused_as(
        "the adult, John Williams, was discharged",
        &["person_name at character 11"],
        &["John", "Williams"],
    );
}

#[test]
fn a_flat_and_a_numbered_street_are_one_address() {
    refused_as(
        "Flat 3, 41 Victoria Road",
        &["address at character 0"],
        &["Victoria"],
    );
}

#[test]
fn loosely_written_identifiers_are_refused() {
    for (text, line) in [
        (
            "he was born on 4th July 1949",
            "date_of_birth at character 15",
        ),
        ("DOB 3-Apr-1951", "date_of_birth at character 4"),
        ("dob: 03041951", "date_of_birth at character 5"),
        ("dob3/4/51", "date_of_birth at character 3"),
        ("birthday 3/4/51", "date_of_birth at character 9"),
        ("NHS 943.476.5919", "nhs_number at character 4"),
        ("nhs 943 4765 919", "nhs_number at character 4"),
        (
            "NI AB-12-34-56-C",
            "national_insurance_number at character 3",
        ),
        ("NI no AB123456", "national_insurance_number at character 6"),
        ("postcode NR1-2DH", "postcode at character 9"),
        ("postcode nr1  2dh", "postcode at character 9"),
        ("ring 07700.900.123", "phone_number at character 5"),
        (
            "email karen.jones @gmail.com",
            "email_address at character 6",
        ),
        (
            "email karen.jones(at)gmail.com",
            "email_address at character 6",
        ),
    ] {
        refused_as(text, &[line], &[]);
    }
}

#[test]
fn professionals_in_the_directory_agencies_meeting_dates_and_ages_pass_as_in_the_service() {
    passes("Dr Okafor and Jordan Reid met on 14 May; Norfolk Constabulary agree.");
    passes("DS Kate Morgan will attend. The adult is 87 and lives alone, ref ASC-4471.");
    passes("Spoke to the social worker on Tuesday 2 June about Stage 2.");
}

#[test]
fn a_professional_passes_only_with_the_directory_that_names_them() {
    let text = "Spoke to Sarah Hughes about the referral.";
    passes(text);
    let out = run_bin(&["screen", "--directory", "/dev/null"], Some(text));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert_eq!(out.stdout, "person_name at character 9\n");
}
