//! The Board view's HTML: plain pages with forms and links, no scripts, printable.

use super::LogQuery;
use crate::directory::PersonId;
use crate::policy::Policy;
use crate::report::access::Access;
use crate::report::chart::escape;
use crate::report::log::{LogRow, stages_cell, uk_date};
use crate::report::page::html;
use crate::report::record::Document;
use crate::service::Service;
use axum::response::Html;

/// A page with a heading and one paragraph.
pub(super) fn message(title: &str, text: &str) -> Html<String> {
    Html(html(
        title,
        &format!("<h1>{}</h1>\n<p>{}</p>\n", escape(title), escape(text)),
    ))
}

/// The page a sign-in link opens: one button, so previews of the link sign nobody in.
pub(super) fn sign_in(token: &str) -> Html<String> {
    Html(html(
        "Sign in to the Board's view",
        &format!(
            "<h1>Sign in to the Board's view</h1>\n<p>This link works once. Press the button to sign in.</p>\n\
             <form method=\"post\" action=\"/board/sign-in\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
             <button type=\"submit\" id=\"sign-in\">Sign in</button></form>\n",
            escape(token)
        ),
    ))
}

/// The links along the top of every page, keeping the period chosen.
pub(super) fn nav(q: &LogQuery, active: &str) -> String {
    let period =
        serde_urlencoded::to_string([("from", q.from.as_str()), ("to", &q.to)]).unwrap_or_default();
    let link = |href: &str, label: &str, name: &str| {
        if name == active {
            format!("<strong>{label}</strong>")
        } else {
            format!("<a href=\"{href}\">{label}</a>")
        }
    };
    format!(
        "<nav>{} {} <a href=\"/board/stats.csv?{period}\">Statistics CSV</a> \
         <form method=\"post\" action=\"/board/sign-out\" style=\"display:inline\"><button type=\"submit\" id=\"sign-out\">Sign out</button></form></nav>\n",
        link(&format!("/board/log?{period}"), "Challenge log", "log"),
        link(&format!("/board/stats?{period}"), "Statistics", "stats"),
    )
}

fn select(name: &str, label: &str, chosen: &str, options: &[(String, String)]) -> String {
    let mut s = format!(
        "<label>{label} <select name=\"{name}\" id=\"filter-{name}\"><option value=\"\">any</option>"
    );
    for (value, text) in options {
        let selected = if value == chosen { " selected" } else { "" };
        s.push_str(&format!(
            "<option value=\"{}\"{selected}>{}</option>",
            escape(value),
            escape(text)
        ));
    }
    s.push_str("</select></label>");
    s
}

/// The challenge log page: who is signed in, the filters, export links, and the table.
pub(super) fn log(
    service: &Service,
    policy: &Policy,
    person: &PersonId,
    access: &Access,
    q: &LogQuery,
    rows: &[LogRow],
) -> Html<String> {
    let dir = service.directory();
    let who = dir
        .person(person)
        .map_or(person.0.as_str(), |p| p.name.as_str());
    let scope = match access.agency() {
        None => format!("every dispute of {}", policy.name),
        Some(a) => format!(
            "the disputes {} is part of",
            dir.agency(&crate::directory::AgencyId(a.to_string()))
                .map_or(a, |x| x.name.as_str())
        ),
    };
    let states: Vec<(String, String)> = ["open", "resolved", "withdrawn"]
        .iter()
        .map(|s| (s.to_string(), s.to_string()))
        .collect();
    let mut agencies: Vec<(String, String)> = dir
        .agencies()
        .filter(|a| a.board == policy.id && a.kind != "board")
        .filter(|a| access.agency().is_none_or(|only| only == a.id.0))
        .map(|a| (a.id.0.clone(), a.name.clone()))
        .collect();
    agencies.sort_by(|a, b| a.1.cmp(&b.1));
    let categories: Vec<(String, String)> = policy
        .categories
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    let mut body = nav(q, "log");
    body.push_str(&format!(
        "<h1>{} — challenge log</h1>\n<p>Signed in as {}; showing {}.</p>\n",
        escape(&policy.name),
        escape(who),
        escape(&scope)
    ));
    body.push_str(&format!(
        "<form class=\"filters\" method=\"get\" action=\"/board/log\">{}{}{}\
         <label>Raised from <input type=\"date\" name=\"from\" id=\"filter-from\" value=\"{}\"></label>\
         <label>to <input type=\"date\" name=\"to\" id=\"filter-to\" value=\"{}\"></label>\
         <input type=\"hidden\" name=\"sort\" value=\"{}\"><input type=\"hidden\" name=\"order\" value=\"{}\">\
         <button type=\"submit\" id=\"apply\">Show</button></form>\n",
        select("state", "State", &q.state, &states),
        select("agency", "Agency", &q.agency, &agencies),
        select("category", "Category", &q.category, &categories),
        escape(&q.from),
        escape(&q.to),
        escape(&q.sort),
        escape(&q.order),
    ));
    let query = q.encoded(None);
    body.push_str(&format!(
        "<p class=\"noprint\"><span id=\"count\">{}</span> disputes. Export: <a href=\"/board/log.csv?{query}\" id=\"export-csv\">CSV</a> · <a href=\"/board/log.json?{query}\" id=\"export-json\">JSON</a></p>\n",
        rows.len()
    ));
    let head = |key: &str, label: &str| {
        let order = if q.sort == key && q.order != "asc" {
            "asc"
        } else {
            "desc"
        };
        format!(
            "<th><a href=\"/board/log?{}\">{label}</a></th>",
            q.encoded(Some((key, order)))
        )
    };
    body.push_str("<table id=\"log\"><thead><tr>");
    body.push_str(&head("reference", "Reference"));
    body.push_str(&head("raised", "Raised"));
    body.push_str("<th>Agencies</th>");
    body.push_str(&head("category", "Category"));
    body.push_str("<th>Concerns</th><th>Urgent</th>");
    body.push_str(&head("stage", &format!("{}s reached", policy.stage_word)));
    body.push_str("<th>Reasons for delay</th>");
    body.push_str(&head("state", "State / outcome"));
    body.push_str("<th>Closed</th>");
    body.push_str(&head("days", "Working days open"));
    body.push_str("<th>Learning referred</th></tr></thead>\n<tbody>\n");
    for r in rows {
        let delays: Vec<String> = r
            .delay_reasons
            .iter()
            .map(|d| format!("{} {}: {}", policy.stage_word, d.stage, d.reason))
            .collect();
        let outcome = r
            .outcome
            .map_or_else(|| r.state.clone(), |o| o.words(&policy.stage_word));
        body.push_str(&format!(
            "<tr><td><a href=\"/board/record/{reference}\">{reference}</a></td><td>{}</td><td>{} ({}) → {} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            uk_date(r.raised),
            escape(&r.raising.name),
            escape(&r.raising.kind),
            escape(&r.receiving.name),
            escape(&r.receiving.kind),
            escape(&r.category_name),
            escape(&r.concerns),
            if r.urgent { "yes" } else { "no" },
            escape(&stages_cell(r)),
            escape(&delays.join("; ")),
            escape(&outcome),
            r.closed.map(uk_date).unwrap_or_default(),
            r.working_days_open.map(|d| d.to_string()).unwrap_or_default(),
            r.learning_referred,
            reference = escape(&r.reference),
        ));
    }
    body.push_str("</tbody></table>\n");
    Html(html(&format!("{} challenge log", policy.name), &body))
}

/// A dispute's record page, with the way back, its other formats, and the forms its board's
/// procedure requires (each generated from this record).
pub(super) fn record(doc: &Document, policy: Option<&Policy>) -> String {
    let page = doc.to_html();
    let r = escape(&doc.reference);
    let mut forms = String::new();
    for (form, stages) in policy
        .map(crate::report::form::forms_of)
        .unwrap_or_default()
    {
        let at: Vec<String> = stages.iter().map(ToString::to_string).collect();
        let word = policy.map_or("Stage", |p| p.stage_word.as_str());
        forms.push_str(&format!(
            "<li><a href=\"/board/form/{r}/{id}\" class=\"form-link\">{name}</a> ({word} {at}) · <a href=\"/board/form/{r}/{id}.pdf\">PDF</a></li>",
            id = escape(&form.id),
            name = escape(&form.name),
            at = at.join(", "),
        ));
    }
    if !forms.is_empty() {
        forms = format!("<p>Forms generated from this record:</p><ul id=\"forms\">{forms}</ul>\n");
    }
    let links = format!(
        "<nav><a href=\"/board/log\">Challenge log</a> <a href=\"/board/record/{r}.pdf\" id=\"record-pdf\">PDF</a> <a href=\"/board/record/{r}.json\">JSON</a></nav>\n{forms}"
    );
    page.replacen("<body>\n", &format!("<body>\n{links}"), 1)
}

/// A form's printable page, with the way back and its PDF.
pub(super) fn form(html_page: &str, reference: &str, form: &str) -> String {
    let r = escape(reference);
    let links = format!(
        "<nav><a href=\"/board/log\">Challenge log</a> <a href=\"/board/record/{r}\">Record</a> <a href=\"/board/form/{r}/{f}.pdf\" id=\"form-pdf\">PDF</a></nav>\n",
        f = escape(form)
    );
    html_page.replacen("<body>\n", &format!("<body>\n{links}"), 1)
}
