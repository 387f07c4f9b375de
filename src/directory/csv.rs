//! The directory's CSV form: what HR and Active Directory exports produce and spreadsheets open.
//!
//! One header, in this order: `name,email,agency,role,manager_email`. RFC 4180 quoting; a
//! leading byte-order mark (as spreadsheets save it) and CRLF or LF line ends are accepted.

use super::{Directory, normal_email};

/// The header every directory CSV starts with, column by column.
pub const HEADER: [&str; 5] = ["name", "email", "agency", "role", "manager_email"];

/// One person's row as written in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The file's line the row starts on (the header is line 1).
    pub line: usize,
    pub name: String,
    pub email: String,
    pub agency: String,
    pub role: String,
    /// Empty for someone who reports to nobody in the directory.
    pub manager_email: String,
}

/// A problem with the file's shape, on a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeProblem {
    pub line: usize,
    pub message: String,
}

/// Reads the rows of a directory CSV; every malformed line is named, nothing is half-read.
pub fn read(text: &str) -> Result<Vec<Row>, Vec<ShapeProblem>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = records(text).map_err(|p| vec![p])?;
    let mut problems = Vec::new();
    let mut iter = records.into_iter();
    let Some((_, header)) = iter.next() else {
        return Err(vec![ShapeProblem {
            line: 1,
            message: format!(
                "the file is empty; start it with the header {}",
                HEADER.join(",")
            ),
        }]);
    };
    let names: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    if names != HEADER {
        return Err(vec![ShapeProblem {
            line: 1,
            message: format!(
                "the header is {:?}; it must be exactly {} (in that order)",
                header.join(","),
                HEADER.join(",")
            ),
        }]);
    }
    let mut rows = Vec::new();
    for (line, fields) in iter {
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if fields.len() != HEADER.len() {
            problems.push(ShapeProblem {
                line,
                message: format!(
                    "has {} fields; each row needs {} ({}); quote a field that contains a comma",
                    fields.len(),
                    HEADER.len(),
                    HEADER.join(",")
                ),
            });
            continue;
        }
        let f: Vec<String> = fields.iter().map(|x| unguard(x.trim())).collect();
        rows.push(Row {
            line,
            name: f[0].clone(),
            email: f[1].clone(),
            agency: f[2].clone(),
            role: f[3].clone(),
            manager_email: f[4].clone(),
        });
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// The records of an RFC 4180 text, each with the line it starts on.
fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, ShapeProblem> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    return Err(ShapeProblem {
                        line: start,
                        message: "a quoted field is never closed; end it with a double quote"
                            .to_string(),
                    });
                }
                fields.push(std::mem::take(&mut field));
                break;
            };
            match c {
                '"' if quoted => {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        quoted = false;
                    }
                }
                '"' if field.trim().is_empty() => {
                    field.clear();
                    quoted = true;
                }
                '\n' if !quoted => {
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                '\r' if !quoted && chars.peek() == Some(&'\n') => {}
                ',' if !quoted => fields.push(std::mem::take(&mut field)),
                c => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                }
            }
        }
        out.push((start, fields));
    }
    Ok(out)
}

/// A field a spreadsheet would run as a formula is written with a leading `'`; reading takes
/// it off again, so an export imports unchanged.
fn unguard(field: &str) -> String {
    match field.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest.to_string(),
        _ => field.to_string(),
    }
}

fn push_field(out: &mut String, field: &str) {
    let guarded;
    let field = if field.starts_with(['=', '+', '-', '@']) {
        guarded = format!("'{field}");
        guarded.as_str()
    } else {
        field
    };
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

fn push_row(out: &mut String, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, f);
    }
    out.push_str("\r\n");
}

/// The directory's people as CSV, by agency then email; people without a work email cannot be
/// written (they are named in the error, to be given one).
pub fn write(dir: &Directory) -> Result<String, String> {
    let mut people: Vec<_> = dir.people().collect();
    let missing: Vec<&str> = people
        .iter()
        .filter(|p| p.email.is_none())
        .map(|p| p.id.0.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} people have no work email, so the CSV cannot name them: {}; add `email = \"…\"` to each in the directory file",
            missing.len(),
            missing.join(", ")
        ));
    }
    people.sort_by_key(|p| {
        (
            p.agency.clone(),
            p.email.as_deref().map(normal_email).unwrap_or_default(),
        )
    });
    let mut out = String::new();
    push_row(&mut out, &HEADER);
    for p in people {
        let manager = p
            .reports_to
            .as_ref()
            .and_then(|m| dir.person(m))
            .and_then(|m| m.email.clone())
            .unwrap_or_default();
        push_row(
            &mut out,
            &[
                &p.name,
                p.email.as_deref().unwrap_or_default(),
                &p.agency.0,
                &p.role,
                &manager,
            ],
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_with_commas_quotes_and_line_breaks_are_read_whole() {
        let text = "\u{feff}name,email,agency,role,manager_email\r\n\"Reid, Jordan\",j@x.org,a,r,\r\n\"Say \"\"hi\"\"\nthere\",k@x.org,a,r,j@x.org\r\nL,l@x.org,a,r,\n";
        let rows = read(text).expect("valid");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].name, "Reid, Jordan");
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].name, "Say \"hi\"\nthere");
        assert_eq!(rows[1].line, 3);
        assert_eq!(rows[2].line, 5);
    }

    #[test]
    fn a_wrong_header_is_named_with_the_one_expected() {
        let err = read("name,mail,agency,role,manager\n").expect_err("bad header");
        assert_eq!(err[0].line, 1);
        assert!(
            err[0]
                .message
                .contains("name,email,agency,role,manager_email")
        );
    }

    #[test]
    fn a_row_with_the_wrong_number_of_fields_is_named_by_line() {
        let err =
            read("name,email,agency,role,manager_email\nA,a@x.org,ag,r\n").expect_err("short");
        assert_eq!(err[0].line, 2);
        assert!(err[0].message.contains("has 4 fields"));
    }

    #[test]
    fn an_unclosed_quote_is_named_by_the_line_it_opens_on() {
        let err =
            read("name,email,agency,role,manager_email\n\"A,a@x.org,ag,r,\n").expect_err("open");
        assert_eq!(err[0].line, 2);
    }

    #[test]
    fn a_formula_guard_comes_off_on_reading() {
        let mut out = String::new();
        push_row(&mut out, &["=cmd", "a@x.org", "ag", "r", ""]);
        let rows = read(&format!("name,email,agency,role,manager_email\r\n{out}")).expect("valid");
        assert_eq!(rows[0].name, "=cmd");
        assert!(out.starts_with("'=cmd"));
    }
}
