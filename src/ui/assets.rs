//! Static files embedded in the binary: `style/` under `/style`, `assets/` under `/assets`.
//! Each is served under its plain name (revalidated by ETag) and under a fingerprinted name
//! (`app.3f2a9c1e.css`, cached for a year as immutable); pages link the fingerprinted one.

use std::sync::LazyLock;

use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

struct Asset {
    dir: &'static str,
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// First 8 hex digits of the SHA-256 of the body.
    hash: String,
}

impl Asset {
    fn new(dir: &'static str, name: &'static str, ct: &'static str, body: &'static [u8]) -> Self {
        let hash = hex::encode(&Sha256::digest(body)[..4]);
        Self {
            dir,
            name,
            content_type: ct,
            body,
            hash,
        }
    }

    fn fingerprinted(&self) -> String {
        match self.name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}.{}.{ext}", self.hash),
            None => format!("{}.{}", self.name, self.hash),
        }
    }

    fn href(&self) -> String {
        format!("/{}/{}", self.dir, self.fingerprinted())
    }
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    vec![
        Asset::new(
            "style",
            "app.css",
            "text/css; charset=utf-8",
            include_bytes!("../../style/app.css"),
        ),
        Asset::new(
            "assets",
            "favicon.svg",
            "image/svg+xml",
            include_bytes!("../../assets/favicon.svg"),
        ),
    ]
});

pub fn stylesheet_href() -> String {
    ASSETS[0].href()
}

pub fn favicon_href() -> String {
    ASSETS[1].href()
}

/// `GET /style/{file}`
pub async fn style(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve("style", &file, &headers)
}

/// `GET /assets/{file}`
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve("assets", &file, &headers)
}

/// `GET /favicon.ico`: browsers ask for it whatever the page says.
pub async fn favicon(headers: HeaderMap) -> Response {
    serve("assets", "favicon.svg", &headers)
}

fn serve(dir: &str, file: &str, headers: &HeaderMap) -> Response {
    let Some((asset, immutable)) = ASSETS.iter().filter(|a| a.dir == dir).find_map(|a| {
        if a.name == file {
            Some((a, false))
        } else if a.fingerprinted() == file {
            Some((a, true))
        } else {
            None
        }
    }) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", asset.hash);
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, no-cache"
    };
    let mut resp_headers = HeaderMap::new();
    resp_headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex etag"),
    );
    resp_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return (StatusCode::NOT_MODIFIED, resp_headers).into_response();
    }
    resp_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    (resp_headers, asset.body).into_response()
}
