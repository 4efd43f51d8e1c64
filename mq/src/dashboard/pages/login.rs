//! `/login` and `/logout`: an operator names themself and gives the
//! operator token, and gets a session cookie.

use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::layout::{self, Section};
use super::{App, Viewer};
use crate::dashboard::operator::{Refusal, WRONG_TOKEN_DELAY, expired_cookie, session_cookie};
use crate::dashboard::problem::Problem;

/// `GET /login`.
pub async fn form(State(app): State<App>, headers: HeaderMap) -> Result<Html<String>, Problem> {
    let viewer = Viewer::of(&app, &headers);
    if viewer.read_only {
        return Err(Problem::refused(&Refusal::ReadOnly));
    }
    Ok(Html(login_page(&viewer, None)))
}

fn login_page(viewer: &Viewer, problem: Option<&str>) -> String {
    let body = html! {
        h1 { "Log in" }
        @if let Some(problem) = problem { p.problem { (problem) } }
        form.login method="post" action="/login" {
            label { "Your name (for the action log) " input type="text" name="name" required autocomplete="username"; }
            label { "Operator token " input type="password" name="token" required autocomplete="current-password"; }
            button type="submit" { "Log in" }
        }
    };
    layout::page("Log in", Section::None, viewer, None, body).into_string()
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct Login {
    name: String,
    token: String,
}

/// `POST /login`.
pub async fn log_in(State(app): State<App>, headers: HeaderMap, Form(login): Form<Login>) -> Result<Response, Problem> {
    match app.operators.log_in(&login.name, &login.token) {
        Ok(id) => Ok(([(SET_COOKIE, session_cookie(&id))], Redirect::to("/")).into_response()),
        Err(Refusal::ReadOnly) => Err(Problem::refused(&Refusal::ReadOnly)),
        Err(_) => {
            tokio::time::sleep(WRONG_TOKEN_DELAY).await;
            eprintln!(
                "xerpium-mq dashboard: a login as {:?} failed: wrong token or no name",
                login.name
            );
            let viewer = Viewer::of(&app, &headers);
            let page = login_page(&viewer, Some("Wrong token, or no name given."));
            Ok((axum::http::StatusCode::UNAUTHORIZED, Html(page)).into_response())
        }
    }
}

/// The logout form's field.
#[derive(Debug, Deserialize)]
pub struct Logout {
    form_key: Option<String>,
}

/// `POST /logout`.
pub async fn log_out(
    State(app): State<App>,
    headers: HeaderMap,
    Form(logout): Form<Logout>,
) -> Result<Response, Problem> {
    app.operators.authorize(&headers, logout.form_key.as_deref())?;
    app.operators.log_out(&headers);
    Ok(([(SET_COOKIE, expired_cookie())], Redirect::to("/")).into_response())
}
