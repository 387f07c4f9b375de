//! `directory import`: a CSV of people checked as a whole against the directory in use and the
//! boards' policies, then turned into the next directory and what changes.
//!
//! The file speaks for the agencies it names: their people are replaced by its rows; people of
//! agencies it does not name stay. So a Board rolls the directory out one agency at a time, and
//! an export imports again unchanged.

use super::csv::{self, Row};
use super::{AgencyId, BOARD_KIND, Directory, Person, PersonId, check_directory, normal_email};
use crate::policy::PolicySet;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

/// One thing wrong with an import, on the file's line where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    /// The line in the file, or `None` for the directory as a whole after the import.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => write!(f, "after the import: {}", self.message),
        }
    }
}

/// The directory an import would make, and what it changes.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    pub directory: Directory,
    /// Work emails of people new to the directory.
    pub added: Vec<String>,
    /// Work emails of people whose name, agency, role or manager changes.
    pub changed: Vec<String>,
    /// People of the file's agencies who are not in it (they leave; their names stay in records).
    pub left: Vec<String>,
    pub unchanged: usize,
}

impl ImportPlan {
    /// Whether applying it changes anything.
    pub fn changes_anything(&self) -> bool {
        !(self.added.is_empty() && self.changed.is_empty() && self.left.is_empty())
    }
}

/// Checks a directory CSV against the directory in use and the policies; the next directory
/// and its changes, or every problem found (nothing is to be applied then).
pub fn plan_import(
    current: &Directory,
    policies: &PolicySet,
    text: &str,
) -> Result<ImportPlan, Vec<ImportProblem>> {
    let rows = csv::read(text).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| ImportProblem {
                line: Some(p.line),
                message: p.message,
            })
            .collect::<Vec<_>>()
    })?;
    let mut problems = Vec::new();
    let mut problem = |line: usize, message: String| {
        problems.push(ImportProblem {
            line: Some(line),
            message,
        })
    };

    // Each row on its own, and emails across rows.
    let mut by_email: HashMap<String, &Row> = HashMap::with_capacity(rows.len());
    for row in &rows {
        check_row(current, policies, row, &mut problem);
        let email = normal_email(&row.email);
        if email.is_empty() {
            continue;
        }
        if let Some(first) = by_email.get(&email) {
            problem(
                row.line,
                format!(
                    "the email {} is already on line {}; each person appears once",
                    row.email, first.line
                ),
            );
        } else {
            by_email.insert(email, row);
        }
    }
    let named: HashSet<&str> = rows.iter().map(|r| r.agency.as_str()).collect();

    // Who stays: people of agencies the file does not name, unless the file moves them.
    let kept: Vec<&Person> = current
        .people()
        .filter(|p| !named.contains(p.agency.0.as_str()))
        .filter(|p| {
            p.email
                .as_deref()
                .is_none_or(|e| !by_email.contains_key(&normal_email(e)))
        })
        .collect();

    // Ids: an existing person keeps theirs, someone returning gets theirs back, others get
    // their email.
    let mut taken: HashSet<PersonId> = kept.iter().map(|p| p.id.clone()).collect();
    let former_by_email: HashMap<String, &PersonId> = current
        .former_people()
        .filter_map(|f| f.email.as_deref().map(|e| (normal_email(e), &f.id)))
        .collect();
    let mut ids: HashMap<String, PersonId> = HashMap::with_capacity(rows.len());
    for (email, _) in by_email.iter() {
        if let Some(p) = current.by_email(email) {
            taken.insert(p.id.clone());
            ids.insert(email.clone(), p.id.clone());
        }
    }
    let mut fresh: Vec<&String> = by_email.keys().filter(|e| !ids.contains_key(*e)).collect();
    fresh.sort();
    for email in fresh {
        let mut id = former_by_email
            .get(email)
            .map_or_else(|| PersonId(email.clone()), |id| (*id).clone());
        let mut n = 2;
        let returning = |id: &PersonId| {
            current
                .former(id)
                .and_then(|f| f.email.as_deref())
                .is_some_and(|e| normal_email(e) == *email)
        };
        while taken.contains(&id)
            || current.person(&id).is_some()
            || (current.former(&id).is_some() && !returning(&id))
        {
            id = PersonId(format!("{email}-{n}"));
            n += 1;
        }
        taken.insert(id.clone());
        ids.insert(email.clone(), id);
    }

    // Managers: in the file, or someone who stays.
    let kept_by_email: HashMap<String, &Person> = kept
        .iter()
        .filter_map(|p| p.email.as_deref().map(|e| (normal_email(e), *p)))
        .collect();
    let mut manager_of: HashMap<String, String> = HashMap::new();
    for row in &rows {
        let manager = normal_email(&row.manager_email);
        if manager.is_empty() {
            continue;
        }
        if manager == normal_email(&row.email) {
            problem(
                row.line,
                format!(
                    "{} is given as their own manager; leave manager_email empty for someone who reports to nobody",
                    row.email
                ),
            );
        } else if let Some(m) = by_email.get(&manager) {
            if m.agency != row.agency {
                problem(
                    row.line,
                    format!(
                        "the manager {} is in another agency ({}, line {}); reporting lines stay inside an agency",
                        row.manager_email, m.agency, m.line
                    ),
                );
            }
            manager_of.insert(normal_email(&row.email), manager);
        } else if let Some(m) = kept_by_email.get(&manager) {
            if m.agency.0 != row.agency {
                problem(
                    row.line,
                    format!(
                        "the manager {} is in another agency ({}); reporting lines stay inside an agency",
                        row.manager_email, m.agency
                    ),
                );
            }
            manager_of.insert(normal_email(&row.email), manager);
        } else {
            problem(
                row.line,
                format!(
                    "the manager {} is not in the file or the directory; add them, correct the email, or leave it empty",
                    row.manager_email
                ),
            );
        }
    }

    // Cycles: walk up from each row; meeting someone twice is a loop, reported once.
    let mut reported: BTreeSet<Vec<usize>> = BTreeSet::new();
    for row in &rows {
        let mut seen = vec![normal_email(&row.email)];
        let mut next = manager_of.get(&seen[0]).cloned();
        while let Some(m) = next {
            if let Some(pos) = seen.iter().position(|s| *s == m) {
                let lines: Vec<usize> = {
                    let mut l: Vec<usize> = seen[pos..]
                        .iter()
                        .filter_map(|e| by_email.get(e).map(|r| r.line))
                        .collect();
                    l.sort_unstable();
                    l
                };
                if lines.len() > 1 && reported.insert(lines.clone()) {
                    let chain: Vec<&str> = seen[pos..].iter().map(String::as_str).collect();
                    problem(
                        lines[0],
                        format!(
                            "reporting lines form a cycle ({} → {}) on lines {}; someone in it must report to nobody or to someone outside it",
                            chain.join(" → "),
                            chain[0],
                            lines
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
                break;
            }
            seen.push(m.clone());
            next = manager_of.get(&m).cloned();
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.line);
        return Err(problems);
    }

    // The next directory.
    let mut people: Vec<Person> = kept.into_iter().cloned().collect();
    let (mut added, mut changed, mut unchanged) = (Vec::new(), Vec::new(), 0);
    for row in &rows {
        let email = normal_email(&row.email);
        let id = ids
            .get(&email)
            .cloned()
            .unwrap_or_else(|| PersonId(email.clone()));
        let reports_to = manager_of.get(&email).and_then(|m| {
            ids.get(m)
                .cloned()
                .or_else(|| kept_by_email.get(m).map(|p| p.id.clone()))
        });
        let before = current.person(&id);
        let person = Person {
            id: id.clone(),
            name: row.name.clone(),
            agency: AgencyId(row.agency.clone()),
            role: row.role.clone(),
            email: Some(row.email.clone()),
            reports_to,
            slack: before.and_then(|p| p.slack.clone()),
            teams: before.and_then(|p| p.teams.clone()),
        };
        match before {
            None => added.push(row.email.clone()),
            Some(b)
                if b.name != person.name
                    || b.agency != person.agency
                    || b.role != person.role
                    || b.reports_to != person.reports_to
                    || b.email != person.email =>
            {
                changed.push(row.email.clone())
            }
            Some(_) => unchanged += 1,
        }
        people.push(person);
    }
    let next = current.with_people(people).map_err(|e| {
        vec![ImportProblem {
            line: None,
            message: e.to_string(),
        }]
    })?;
    let mut left: Vec<String> = current
        .people()
        .filter(|p| next.person(&p.id).is_none())
        .map(|p| p.email.clone().unwrap_or_else(|| p.id.0.clone()))
        .collect();
    left.sort();

    // The directory as a whole: only what this import newly breaks stops it.
    let after = check_directory(&next, policies);
    let before: HashSet<String> = if after.is_empty() {
        HashSet::new()
    } else {
        check_directory(current, policies)
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    let whole: Vec<ImportProblem> = after
        .into_iter()
        .filter(|p| !before.contains(&p.to_string()))
        .map(|p| ImportProblem {
            line: None,
            message: p.to_string(),
        })
        .collect();
    if !whole.is_empty() {
        return Err(whole);
    }
    Ok(ImportPlan {
        directory: next,
        added,
        changed,
        left,
        unchanged,
    })
}

/// One row against the directory's agencies and the policies' ladders.
fn check_row(
    current: &Directory,
    policies: &PolicySet,
    row: &Row,
    problem: &mut impl FnMut(usize, String),
) {
    if row.name.is_empty() {
        problem(
            row.line,
            "the name is empty; give the person's full name".to_string(),
        );
    }
    let email = row.email.trim();
    let well_formed = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.contains('@')
            && !email.contains(char::is_whitespace)
    });
    if !well_formed {
        problem(
            row.line,
            format!(
                "{:?} is not a work email; give one like name@agency.example",
                row.email
            ),
        );
    }
    let Some(agency) = current.agency(&AgencyId(row.agency.clone())) else {
        let mut known: Vec<&str> = current.agencies().map(|a| a.id.0.as_str()).collect();
        known.truncate(12);
        problem(
            row.line,
            format!(
                "unknown agency {:?}; use an agency id from the directory file ({}{})",
                row.agency,
                known.join(", "),
                if current.agencies().count() > known.len() {
                    ", …"
                } else {
                    ""
                }
            ),
        );
        return;
    };
    if agency.domains.is_empty() {
        problem(
            row.line,
            format!(
                "the agency {} has no email domains in the directory file; add `domains = [\"…\"]` to its entry",
                agency.id
            ),
        );
    } else if well_formed && !agency.owns_email(email) {
        problem(
            row.line,
            format!(
                "{} is outside the email domains of {} ({}); check the agency or the email",
                row.email,
                agency.id,
                agency.domains.join(", ")
            ),
        );
    }
    let Some(policy) = policies.get(&agency.board) else {
        problem(
            row.line,
            format!(
                "the agency {} belongs to the board {:?}, whose policy is not loaded",
                agency.id, agency.board
            ),
        );
        return;
    };
    let rungs: Vec<&str> = if agency.kind == BOARD_KIND {
        policy.board.rungs.iter().map(|r| r.id.as_str()).collect()
    } else {
        policy
            .ladder(&agency.kind)
            .map(|l| l.rungs.iter().map(|r| r.id.as_str()).collect())
            .unwrap_or_default()
    };
    if !rungs.contains(&row.role.as_str()) {
        problem(
            row.line,
            format!(
                "unknown role {:?} for {}; use one of {}",
                row.role,
                agency.id,
                rungs.join(", ")
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::csv;

    fn shipped() -> (Directory, PolicySet) {
        let policies =
            PolicySet::load_dir(&crate::policy::default_dir()).expect("the shipped policies");
        let dir = Directory::load(std::path::Path::new("policies/demo/directory.toml"))
            .expect("the demo directory");
        (dir, policies)
    }

    /// The demo directory's CSV with each line passed through `edit` (header untouched).
    fn demo_csv(edit: impl Fn(&str) -> Option<String>) -> String {
        let (dir, _) = shipped();
        let text = csv::write(&dir).expect("every demo person has an email");
        let mut lines = text.lines();
        let mut out = format!("{}\r\n", lines.next().unwrap_or_default());
        for l in lines {
            if let Some(l) = edit(l) {
                out.push_str(&l);
                out.push_str("\r\n");
            }
        }
        out
    }

    fn problems(text: &str) -> Vec<ImportProblem> {
        let (dir, policies) = shipped();
        plan_import(&dir, &policies, text).expect_err("the file has problems")
    }

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).expect("line") + 1
    }

    #[test]
    fn an_export_imports_again_changing_nothing() {
        let (dir, policies) = shipped();
        let text = csv::write(&dir).expect("export");
        let plan = plan_import(&dir, &policies, &text).expect("valid");
        assert!(!plan.changes_anything(), "{plan:?}");
        assert_eq!(plan.unchanged, dir.people().count());
        assert_eq!(csv::write(&plan.directory).expect("again"), text);
    }

    #[test]
    fn added_changed_and_left_are_counted_and_ids_kept() {
        let (dir, policies) = shipped();
        let text = demo_csv(|l| {
            if l.starts_with("Sam Patel,") {
                None
            } else if l.starts_with("Jordan Reid,") {
                Some(l.replace("Jordan Reid", "Jordan Reid-Okoro"))
            } else {
                Some(l.to_string())
            }
        }) + "Ali Khan,ali.khan@norfolk-asc.example.org,norfolk-asc,social-worker,jordan.reid@norfolk-asc.example.org\r\n";
        let plan = plan_import(&dir, &policies, &text).expect("valid");
        assert_eq!(plan.added, vec!["ali.khan@norfolk-asc.example.org"]);
        assert_eq!(plan.changed, vec!["jordan.reid@norfolk-asc.example.org"]);
        assert_eq!(plan.left, vec!["sam.patel@norfolk-asc.example.org"]);
        let next = &plan.directory;
        let jordan = next
            .by_email("Jordan.Reid@norfolk-asc.example.org")
            .expect("by email, any case");
        assert_eq!(
            jordan.id.0, "jordan-reid",
            "an existing person keeps their id"
        );
        assert!(jordan.slack.is_some(), "and their chat identity");
        let ali = next
            .by_email("ali.khan@norfolk-asc.example.org")
            .expect("added");
        assert_eq!(
            ali.reports_to.as_ref().map(|p| p.0.as_str()),
            Some("jordan-reid")
        );
    }

    #[test]
    fn someone_who_leaves_keeps_their_name_and_gets_their_id_back_on_return() {
        let (dir, policies) = shipped();
        let without = demo_csv(|l| (!l.starts_with("Sam Patel,")).then(|| l.to_string()));
        let left = plan_import(&dir, &policies, &without)
            .expect("valid")
            .directory;
        let sam = PersonId("sam-patel".into());
        assert!(left.person(&sam).is_none());
        assert_eq!(left.name_of(&sam), "Sam Patel");
        let stored = Directory::from_stored("stored", &left.to_stored()).expect("round trip");
        assert_eq!(
            stored.name_of(&sam),
            "Sam Patel",
            "kept in the stored version"
        );
        let back = demo_csv(|l| Some(l.to_string()));
        let plan = plan_import(&stored, &policies, &back).expect("valid");
        assert_eq!(plan.added, vec!["sam.patel@norfolk-asc.example.org"]);
        assert!(plan.directory.person(&sam).is_some(), "the same id again");
        assert!(plan.directory.former(&sam).is_none());
    }

    #[test]
    fn an_unknown_agency_is_named_on_its_line() {
        let text = demo_csv(|l| Some(l.replace(",norfolk-police,", ",norfolk-polise,")));
        let p = problems(&text);
        assert!(
            p.iter()
                .all(|p| p.message.contains("unknown agency \"norfolk-polise\"")
                    || p.message.contains("manager")),
            "{p:?}"
        );
        assert!(p.iter().all(|p| p.line.is_some()));
    }

    #[test]
    fn an_unknown_role_is_named_with_the_rungs_to_use() {
        let text = demo_csv(|l| {
            Some(l.replace(",norfolk-asc,social-worker,", ",norfolk-asc,socail-worker,"))
        });
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].line, Some(line_of(&text, "socail-worker")));
        assert!(p[0].message.contains("unknown role \"socail-worker\""));
        assert!(
            p[0].message.contains("social-worker"),
            "names the rungs: {}",
            p[0].message
        );
    }

    #[test]
    fn a_manager_not_found_is_named_on_the_line_that_gives_them() {
        let text = demo_csv(|l| {
            Some(if l.starts_with("Sam Patel,") {
                l.replace("jordan.reid@", "jordan.reed@")
            } else {
                l.to_string()
            })
        });
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].line, Some(line_of(&text, "Sam Patel,")));
        assert!(
            p[0].message
                .contains("jordan.reed@norfolk-asc.example.org is not in the file")
        );
    }

    #[test]
    fn a_reporting_cycle_names_every_line_in_it() {
        // Helen Ward (the top) is made to report to Sam Patel, who reports up to her.
        let text = demo_csv(|l| {
            Some(if l.starts_with("Helen Ward,") {
                format!("{l}sam.patel@norfolk-asc.example.org")
            } else {
                l.to_string()
            })
        });
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.contains("form a cycle"), "{}", p[0].message);
        for who in ["Sam Patel,", "Jordan Reid,", "Helen Ward,"] {
            assert!(
                p[0].message.contains(&line_of(&text, who).to_string()),
                "{who} in {}",
                p[0].message
            );
        }
    }

    #[test]
    fn a_duplicate_email_names_the_line_it_first_appeared_on() {
        let text = demo_csv(|l| Some(l.to_string()))
            + "Sam Patel Again,SAM.PATEL@norfolk-asc.example.org,norfolk-asc,social-worker,\r\n";
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].line, Some(text.lines().count()));
        assert!(
            p[0].message
                .contains(&format!("already on line {}", line_of(&text, "Sam Patel,")))
        );
    }

    #[test]
    fn an_email_outside_the_agencys_domains_is_refused() {
        let text = demo_csv(|l| Some(l.to_string()))
            + "Pat Lee,pat.lee@gmail.com,norfolk-asc,social-worker,\r\n";
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].message
                .contains("outside the email domains of norfolk-asc")
        );
    }

    #[test]
    fn a_file_that_breaks_a_stage_is_refused_as_a_whole() {
        // Without its top two rungs Norfolk Adult Social Care cannot staff its later stages.
        let text = demo_csv(|l| {
            if l.starts_with("Helen Ward,") || l.starts_with("Martin Cole,") {
                None
            } else if l.starts_with("Priya Shah,") {
                Some(format!("{},", l.rsplit_once(',').map_or(l, |(a, _)| a)))
            } else {
                Some(l.to_string())
            }
        });
        let p = problems(&text);
        assert!(!p.is_empty());
        assert!(p.iter().all(|p| p.line.is_none()), "{p:?}");
        assert!(
            p[0].to_string()
                .starts_with("after the import: agency norfolk-asc")
        );
    }
}
