//! The frame of every page: the head, the navigation with who is logged
//! in, the flash of what an action did, and the page for a problem.

use maud::{DOCTYPE, Markup, html};

use super::Viewer;

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `/`.
    Overview,
    /// `/dead-letters`.
    DeadLetters,
    /// `/tail`.
    Tail,
    /// `/streams`.
    Streams,
    /// `/catalog`.
    Catalog,
    /// None of them (the login page, a problem).
    None,
}

const NAVIGATION: [(Section, &str, &str); 5] = [
    (Section::Overview, "/", "Overview"),
    (Section::DeadLetters, "/dead-letters", "Dead letters"),
    (Section::Tail, "/tail", "Live tail"),
    (Section::Streams, "/streams", "Streams"),
    (Section::Catalog, "/catalog", "Catalog"),
];

/// A whole page: `title`, the navigation with `active` marked, who is
/// logged in, `flash` (what the last action did) and `body`.
pub fn page(title: &str, active: Section, viewer: &Viewer, flash: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · XERPIUM messaging" }
                link rel="stylesheet" href="/assets/style.css";
                script src="/assets/app.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "XERPIUM messaging" }
                    span.namespace { "namespace " code { (viewer.namespace) } }
                    nav {
                        @for (section, href, label) in NAVIGATION {
                            a href=(href) class=[(section == active).then_some("active")] { (label) }
                        }
                    }
                    div.who { (who(viewer)) }
                }
                main {
                    @if let Some(flash) = flash {
                        p.flash role="status" { (flash) }
                    }
                    (body)
                }
            }
        }
    }
}

/// Who is logged in, with the log-out button; or the log-in link; or that
/// the dashboard is read-only.
fn who(viewer: &Viewer) -> Markup {
    html! {
        @if let Some(operator) = &viewer.operator {
            form method="post" action="/logout" {
                "operator " strong { (operator.name) } " "
                input type="hidden" name="form_key" value=(operator.form_key);
                button.link type="submit" { "log out" }
            }
        } @else if viewer.read_only {
            span.read-only title="start the dashboard with XERPIUM_DASHBOARD_TOKEN set to replay and purge" { "read-only" }
        } @else {
            a href="/login" { "log in" }
        }
    }
}

/// The hidden field every mutating form carries.
pub fn form_key(viewer: &Viewer) -> Markup {
    html! {
        @if let Some(operator) = &viewer.operator {
            input type="hidden" name="form_key" value=(operator.form_key);
        }
    }
}

/// The page for a request that cannot be answered.
pub fn problem(title: &str, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · XERPIUM messaging" }
                link rel="stylesheet" href="/assets/style.css";
            }
            body {
                header.top { a.brand href="/" { "XERPIUM messaging" } }
                main {
                    h1 { (title) }
                    p.problem { (message) }
                    p { a href="/" { "Back to the overview" } }
                }
            }
        }
    }
}

/// A badge for a state: `kind` is its class (`healthy`, `stalled`, …).
pub fn badge(kind: &str, text: &str) -> Markup {
    html! { span class={ "badge " (kind) } { (text) } }
}

/// A chart the script draws from `/api/history`: `series` names the data
/// (`lag`, `pending`, `published`, `handled`).
pub fn chart(series: &str, title: &str, unit: &str) -> Markup {
    html! {
        figure.chart data-series=(series) data-unit=(unit) {
            figcaption { (title) }
            div.plot { p.muted { "collecting…" } }
        }
    }
}
