//! The API's one error shape (DESIGN §4.2): `{"error": {"code", "message", "fields"}}` with the
//! HTTP status that fits; `code` is stable snake_case for scripts to match on.

use std::collections::BTreeMap;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::{error::AppError, ui::form::FormErrors};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: BTreeMap<String, String>,
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: BTreeMap::new(),
            retry_after: None,
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("No such {what}."),
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }
}

/// The error body, as the OpenAPI document describes it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorDoc {
    error: ErrorDetail,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ErrorDetail {
    /// Stable snake_case: unauthorized, token_expired, missing_scope, forbidden, not_found,
    /// invalid, invalid_body, malformed_json, unsupported_media_type, conflict, in_progress,
    /// idempotency_key_reused, rate_limited, too_large, unavailable, internal.
    code: String,
    message: String,
    /// Field name → what is wrong with it.
    fields: Option<BTreeMap<String, String>>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    fields: &'a BTreeMap<String, String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                fields: &self.fields,
            },
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// A form's field errors as a 422 `invalid` with `fields`.
impl From<FormErrors> for ApiError {
    fn from(e: FormErrors) -> Self {
        let message = e
            .general
            .clone()
            .unwrap_or_else(|| "Some fields are not valid.".into());
        let mut err = ApiError::invalid(message);
        err.fields = e
            .fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        err
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", "Not found."),
            AppError::Forbidden(why) => ApiError::forbidden(why),
            AppError::BadRequest(why) => ApiError::invalid(why),
            AppError::Conflict(why) => ApiError::new(StatusCode::CONFLICT, "conflict", why),
            AppError::Unavailable { why, retry_after } => {
                let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", why);
                err.retry_after = Some(retry_after);
                err
            }
            AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "flowdeck could not finish this request; nothing was written. Try again.",
                )
            }
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        AppError::from(e).into()
    }
}
