//! Static files built into the binary: the stylesheet and the default logo.
//!
//! Each URL carries a hash of the file's content, so browsers keep a file for a
//! year and still fetch a new build's at once.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::problem::ApiError;
use crate::state::AppState;

const STYLESHEET: &[u8] = include_bytes!("../../assets/portal.css");
const LOGO: &[u8] = include_bytes!("../../assets/logo.svg");

/// A file under `/assets/`.
struct Asset {
    /// The versioned file name, e.g. `portal.0123456789ab.css`.
    file: String,
    content_type: &'static str,
    body: &'static [u8],
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, body: &'static [u8]) -> Asset {
        // 48 bits of FNV-1a: cache busting needs a change detector, not a cryptographic hash.
        let hash = fnv1a(body) & 0xffff_ffff_ffff;
        Asset {
            file: format!("{stem}.{hash:012x}.{extension}"),
            content_type,
            body,
        }
    }

    fn url(&self) -> String {
        format!("/assets/{}", self.file)
    }
}

static ASSETS: LazyLock<[Asset; 2]> = LazyLock::new(|| {
    [
        Asset::new("portal", "css", "text/css; charset=utf-8", STYLESHEET),
        Asset::new("logo", "svg", "image/svg+xml", LOGO),
    ]
});

static STYLESHEET_URL: LazyLock<String> = LazyLock::new(|| ASSETS[0].url());
static LOGO_URL: LazyLock<String> = LazyLock::new(|| ASSETS[1].url());

/// The stylesheet's versioned URL.
pub(super) fn stylesheet_url() -> &'static str {
    &STYLESHEET_URL
}

/// The default logo's versioned URL (used only without white-label branding).
pub(super) fn logo_url() -> &'static str {
    &LOGO_URL
}

/// Routes serving the assets.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/assets/{file}", get(asset))
}

async fn asset(Path(file): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.file == file) else {
        return ApiError::NotFound(format!("no asset named `{file}`")).into_response();
    };
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.body,
    )
        .into_response()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
