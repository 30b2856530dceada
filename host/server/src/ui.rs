//! Server-rendered pages (placeholder until the UI lands).

use axum::Router;

use crate::state::AppState;

/// Routes of the web UI.
pub fn router() -> Router<AppState> {
    Router::new()
}
