//! The Board's view on the web: sign-in by a one-time link sent in chat, the challenge log with
//! filters and sorting, the statistics with their charts, exports, and each dispute's record.
//!
//! Every page is behind a session cookie (Secure, HttpOnly, SameSite=Lax, path `/board`); what a
//! person sees is decided by [`crate::report::access`] on every request, so a change to the
//! directory takes effect at once. Pages carry no scripts.

mod pages;

use super::AppState;
use crate::directory::PersonId;
use crate::escalation::Reference;
use crate::report::access::Access;
use crate::report::log::{self, LogFilter, SortKey};
use crate::report::{Period, ReportError, pdf};
use crate::service::SESSION_HOURS;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

/// The page to send instead of what was asked for (boxed: a response is large).
type Refusal = Box<Response>;

/// The session cookie's name.
const COOKIE: &str = "board_session";

/// The Board view's routes; the sandbox adds a way in for its acting person.
pub fn routes(sandbox: bool) -> Router<AppState> {
    let router = Router::new()
        .route("/board", get(home))
        .route("/board/", get(home))
        .route("/board/sign-in", get(sign_in_page).post(sign_in))
        .route("/board/sign-out", post(sign_out))
        .route("/board/log", get(log_page))
        .route("/board/log.csv", get(log_csv))
        .route("/board/log.json", get(log_json))
        .route("/board/stats", get(stats_page))
        .route("/board/stats.csv", get(stats_csv))
        .route("/board/stats.json", get(stats_json))
        .route("/board/record/{reference}", get(record_page))
        .route("/board/form/{reference}/{form}", get(form_page));
    if sandbox {
        router.route("/board/sandbox", get(sandbox_sign_in))
    } else {
        router
    }
}

/// A page that says what went wrong and what to do, with its status.
fn problem(status: StatusCode, title: &str, text: &str) -> Response {
    (status, pages::message(title, text)).into_response()
}

fn not_signed_in() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "Sign in to the Board's view",
        "Type /challenge board in Slack or Teams (or @escalation-bot board) and open the link sent to you by direct message.",
    )
}

fn ours(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "the Board view could not read the record");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Not available just now",
        "The record could not be read just now. Please try again in a moment.",
    )
}

fn report_error(e: ReportError) -> Response {
    match e {
        ReportError::UnknownDispute(_) => {
            problem(StatusCode::NOT_FOUND, "No such challenge", &e.to_string())
        }
        other => ours(other),
    }
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The signed-in person and what they may see, or the response to send instead.
async fn viewer(state: &AppState, headers: &HeaderMap) -> Result<(PersonId, Access), Refusal> {
    let Some(token) = cookie_value(headers) else {
        return Err(Box::new(not_signed_in()));
    };
    match state.service.session(&token).await {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(Box::new(not_signed_in())),
        Err(e) => Err(Box::new(ours(e))),
    }
}

fn session_cookie(token: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/board; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("board_session=; Path=/board; Max-Age=0"))
}

fn signed_in(session: crate::service::Session) -> Response {
    let mut r = Redirect::to("/board/log").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&session.token, SESSION_HOURS * 3600),
    );
    r
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    token: String,
}

/// The link from chat opens a page with a button, so a link preview fetching it signs nobody in.
async fn sign_in_page(Query(q): Query<TokenForm>) -> Response {
    if q.token.is_empty() {
        return not_signed_in();
    }
    pages::sign_in(&q.token).into_response()
}

async fn sign_in(State(state): State<AppState>, Form(f): Form<TokenForm>) -> Response {
    match state.service.sign_in(f.token.trim()).await {
        Ok(Some(session)) => signed_in(session),
        Ok(None) => problem(
            StatusCode::FORBIDDEN,
            "This sign-in link does not work",
            "It has been used already, has expired, or is not for someone who may see the Board's view. Type /challenge board in Slack or Teams for a new link.",
        ),
        Err(e) => ours(e),
    }
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie_value(&headers)
        && let Err(e) = state.service.sign_out(&token).await
    {
        return ours(e);
    }
    let mut r = problem(
        StatusCode::OK,
        "Signed out",
        "You have signed out of the Board's view. Type /challenge board in Slack or Teams to sign in again.",
    );
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", 0));
    r
}

#[derive(Deserialize)]
struct PersonQuery {
    #[serde(default)]
    person: String,
}

/// The sandbox's acting person opens the Board view directly, without a link.
async fn sandbox_sign_in(State(state): State<AppState>, Query(q): Query<PersonQuery>) -> Response {
    match state
        .service
        .start_session(&PersonId(q.person.clone()))
        .await
    {
        Ok(Some(session)) => signed_in(session),
        Ok(None) => problem(
            StatusCode::FORBIDDEN,
            "Not for this person",
            "The Board's view is for a board's business unit and chair, and for an agency's safeguarding lead. Act as one of them in the sandbox to open it.",
        ),
        Err(e) => ours(e),
    }
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match viewer(&state, &headers).await {
        Ok(_) => Redirect::to("/board/log").into_response(),
        Err(r) => *r,
    }
}

/// The log's filters and sorting, as the page's form and links send them.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct LogQuery {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub agency: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub order: String,
}

impl LogQuery {
    fn period(&self) -> Result<Period, Refusal> {
        Period::parse(Some(&self.from), Some(&self.to)).map_err(|e| {
            Box::new(problem(
                StatusCode::BAD_REQUEST,
                "Check the dates",
                &format!("The {e}."),
            ))
        })
    }

    fn filter(&self) -> LogFilter {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        LogFilter {
            state: some(&self.state),
            agency: some(&self.agency),
            category: some(&self.category),
        }
    }

    /// The query string again, for export links and sorting links.
    pub(crate) fn encoded(&self, sort: Option<(&str, &str)>) -> String {
        let (s, o) = sort.unwrap_or((&self.sort, &self.order));
        serde_urlencoded::to_string([
            ("state", self.state.as_str()),
            ("agency", &self.agency),
            ("category", &self.category),
            ("from", &self.from),
            ("to", &self.to),
            ("sort", s),
            ("order", o),
        ])
        .unwrap_or_default()
    }
}

/// The rows a viewer may see, filtered and sorted as asked.
async fn rows(
    state: &AppState,
    access: &Access,
    q: &LogQuery,
) -> Result<Vec<log::LogRow>, Refusal> {
    let period = q.period()?;
    let service = &state.service;
    let dir = service.directory();
    let mut rows = service
        .reports(&dir)
        .log(access.board(), period, access.agency(), service.now())
        .await
        .map_err(|e| Box::new(report_error(e)))?;
    let filter = q.filter();
    rows.retain(|r| filter.keep(r));
    let key = SortKey::parse(&q.sort).unwrap_or_default();
    log::sort(&mut rows, key, q.order != "asc");
    Ok(rows)
}

async fn log_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LogQuery>,
) -> Response {
    let (person, access) = match viewer(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let rows = match rows(&state, &access, &q).await {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let Ok((policy, _)) = state.service.policy(access.board()) else {
        return ours("the signed-in person's board has no policy loaded");
    };
    pages::log(&state.service, policy, &person, &access, &q, &rows).into_response()
}

fn download(content_type: &'static str, name: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
                    .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
            ),
        ],
        body,
    )
        .into_response()
}

async fn log_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LogQuery>,
) -> Response {
    let (_, access) = match viewer(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match rows(&state, &access, &q).await {
        Ok(rows) => {
            let word = state
                .service
                .policy(access.board())
                .map_or("Stage".to_string(), |(p, _)| p.stage_word.clone());
            let name = format!("{}-challenge-log.csv", access.board());
            download("text/csv; charset=utf-8", &name, log::to_csv(&rows, &word))
        }
        Err(r) => *r,
    }
}

async fn log_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LogQuery>,
) -> Response {
    let (_, access) = match viewer(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    match rows(&state, &access, &q).await {
        Ok(rows) => {
            let name = format!("{}-challenge-log.json", access.board());
            download(
                "application/json",
                &name,
                serde_json::to_string_pretty(&rows).unwrap_or_default(),
            )
        }
        Err(r) => *r,
    }
}

async fn stats_for(
    state: &AppState,
    headers: &HeaderMap,
    q: &LogQuery,
) -> Result<(Access, crate::report::stats::Stats, Period), Refusal> {
    let (_, access) = viewer(state, headers).await?;
    let period = q.period()?;
    let service = &state.service;
    let dir = service.directory();
    let rows = service
        .reports(&dir)
        .log(access.board(), period, access.agency(), service.now())
        .await
        .map_err(|e| Box::new(report_error(e)))?;
    let word = service
        .policy(access.board())
        .map_or("Stage".to_string(), |(p, _)| p.stage_word.clone());
    let stats = crate::report::stats::compute(access.board(), &word, &rows);
    Ok((access, stats, period))
}

async fn stats_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LogQuery>,
) -> Response {
    match stats_for(&state, &headers, &q).await {
        Ok((access, stats, period)) => {
            let Ok((policy, _)) = state.service.policy(access.board()) else {
                return ours("the signed-in person's board has no policy loaded");
            };
            let nav = pages::nav(&q, "stats");
            axum::response::Html(stats.to_html(
                &policy.name,
                &policy.stage_word,
                &period.words(),
                &nav,
            ))
            .into_response()
        }
        Err(r) => *r,
    }
}

async fn stats_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LogQuery>,
) -> Response {
    match stats_for(&state, &headers, &q).await {
        Ok((access, stats, _)) => {
            let word = state
                .service
                .policy(access.board())
                .map_or("Stage".to_string(), |(p, _)| p.stage_word.clone());
            let name = format!("{}-statistics.csv", access.board());
            download("text/csv; charset=utf-8", &name, stats.to_csv(&word))
        }
        Err(r) => *r,
    }
}

async fn stats_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LogQuery>,
) -> Response {
    match stats_for(&state, &headers, &q).await {
        Ok((access, stats, _)) => download(
            "application/json",
            &format!("{}-statistics.json", access.board()),
            serde_json::to_string_pretty(&stats).unwrap_or_default(),
        ),
        Err(r) => *r,
    }
}

/// `/board/record/REF`, `REF.json` or `REF.pdf`: the record, if the viewer may see the dispute;
/// the view is recorded either way it is shown.
async fn record_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let (person, access) = match viewer(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let (text, format) = match name.rsplit_once('.') {
        Some((r, f @ ("json" | "pdf" | "html"))) => (r.to_string(), f),
        _ => (name.clone(), "html"),
    };
    let Ok(reference) = Reference::parse(&text) else {
        return problem(
            StatusCode::NOT_FOUND,
            "No such challenge",
            "That is not a challenge reference; open records from the challenge log.",
        );
    };
    let refused = || {
        problem(
            StatusCode::NOT_FOUND,
            "No such challenge",
            "There is no challenge with that reference that you may see; open records from the challenge log.",
        )
    };
    let board = match state.service.dispute_summary(&reference).await {
        Ok(Some(d)) if access.sees(&d.policy, &d.raising_agency, &d.receiving_agency) => d.policy,
        Ok(_) => return refused(),
        Err(e) => return ours(e),
    };
    let doc = match state
        .service
        .reports(&state.service.directory())
        .record(&reference)
        .await
    {
        Ok(doc) => doc,
        Err(e) => return report_error(e),
    };
    if let Err(e) = state
        .service
        .record_viewed(&reference.to_string(), &person, &format!("record {format}"))
        .await
    {
        return ours(e);
    }
    match format {
        "json" => download(
            "application/json",
            &format!("{reference}.json"),
            doc.to_json(),
        ),
        "pdf" => pdf_response(&doc.to_html(), &reference.to_string(), "record").await,
        _ => {
            let policy = state.service.policy(&board).ok().map(|(p, _)| p);
            axum::response::Html(pages::record(&doc, policy)).into_response()
        }
    }
}

/// A PDF printed from a page, or a page saying to print from the browser instead.
async fn pdf_response(page: &str, name: &str, what: &str) -> Response {
    match pdf::print(page).await {
        Ok(bytes) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/pdf"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_str(&format!("inline; filename=\"{name}.pdf\""))
                        .unwrap_or_else(|_| HeaderValue::from_static("inline")),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not print a {what} to PDF");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "PDF not available",
                &format!(
                    "The PDF could not be made just now; print the {what} page from the browser instead."
                ),
            )
        }
    }
}

/// `/board/form/REF/FORM` or `FORM.pdf`: a form or written account generated from the record
/// now, if the viewer may see the dispute; the view is recorded.
async fn form_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((reference, name)): Path<(String, String)>,
) -> Response {
    let (person, access) = match viewer(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let (form, format) = match name.strip_suffix(".pdf") {
        Some(f) => (f.to_string(), "pdf"),
        None => (name.trim_end_matches(".html").to_string(), "html"),
    };
    let refused = || {
        problem(
            StatusCode::NOT_FOUND,
            "No such challenge",
            "There is no challenge with that reference that you may see; open forms from a challenge's record in the challenge log.",
        )
    };
    let Ok(reference) = Reference::parse(&reference) else {
        return refused();
    };
    match state.service.dispute_summary(&reference).await {
        Ok(Some(d)) if access.sees(&d.policy, &d.raising_agency, &d.receiving_agency) => {}
        Ok(_) => return refused(),
        Err(e) => return ours(e),
    }
    let generated = match state
        .service
        .reports(&state.service.directory())
        .form(&reference, &form, state.service.now())
        .await
    {
        Ok(g) => g,
        Err(e @ ReportError::UnknownForm { .. }) => {
            return problem(StatusCode::NOT_FOUND, "No such form", &e.to_string());
        }
        Err(e) => return report_error(e),
    };
    if let Err(e) = state
        .service
        .record_viewed(
            &reference.to_string(),
            &person,
            &format!("form {form} {format}"),
        )
        .await
    {
        return ours(e);
    }
    match format {
        "pdf" => pdf_response(&generated.html, &format!("{reference}-{form}"), "form").await,
        _ => axum::response::Html(pages::form(&generated.html, &reference.to_string(), &form))
            .into_response(),
    }
}
