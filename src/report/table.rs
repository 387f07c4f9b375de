//! CSV as spreadsheets read it (RFC 4180): quoted where needed, CRLF line ends.

/// A CSV document built row by row.
pub struct Csv {
    text: String,
}

impl Csv {
    /// Starts a document with its header row.
    pub fn new(header: &[&str]) -> Csv {
        let mut csv = Csv {
            text: String::new(),
        };
        csv.row(header);
        csv
    }

    /// Adds a row; a field with a comma, quote or line break is quoted, its quotes doubled. A
    /// field a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a leading `'`.
    pub fn row(&mut self, fields: &[&str]) {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            let guarded;
            let f = if f.starts_with(['=', '+', '-', '@']) {
                guarded = format!("'{f}");
                guarded.as_str()
            } else {
                f
            };
            if f.contains([',', '"', '\n', '\r']) {
                self.text.push('"');
                self.text.push_str(&f.replace('"', "\"\""));
                self.text.push('"');
            } else {
                self.text.push_str(f);
            }
        }
        self.text.push_str("\r\n");
    }

    /// The document.
    pub fn finish(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::Csv;

    #[test]
    fn fields_with_commas_quotes_and_formulas_are_made_safe() {
        let mut c = Csv::new(&["a", "b"]);
        c.row(&["x, y", "say \"no\""]);
        c.row(&["=1+1", "plain"]);
        assert_eq!(
            c.finish(),
            "a,b\r\n\"x, y\",\"say \"\"no\"\"\"\r\n'=1+1,plain\r\n"
        );
    }
}
