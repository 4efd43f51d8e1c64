//! `GET /`: the page people use: register, sign in, and see their
//! notifications as toasts (through `GET /notifications`).

use axum::response::Html;

/// The page, one self-contained HTML file.
pub async fn page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}
