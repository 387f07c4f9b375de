//! The one page frame every Board view document shares: printable, no scripts.

use super::chart::escape;

/// The stylesheet: readable on screen, tidy on paper.
const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#111}table{border-collapse:collapse;width:100%}\
th,td{border:1px solid #bbb;padding:4px 6px;text-align:left;vertical-align:top;font-size:13px}\
th{background:#eef}.chain.ok{color:#185c18}.chain.broken{color:#a00;font-weight:bold}\
nav a{margin-right:1em}table.form>tbody>tr>th{width:35%;background:#f4f4fa}.small{font-size:11px}\
.generated{font-size:11px;color:#444;margin-top:2em}form.filters label{margin-right:1em}.missing{color:#8a4b00;font-style:italic}\
@media print{nav,form.filters,.noprint{display:none}}";

/// A whole HTML page with a title and a body.
pub fn html(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head>\n<body>\n{body}</body></html>\n",
        escape(title)
    )
}
