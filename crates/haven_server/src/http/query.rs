//! A query-string extractor whose rejections are API errors, as [`crate::http::json`]
//! is for bodies: `?due_days=lots` gets a `bad_request` saying which parameter
//! is wrong, in the same `{code, message}` JSON as every other error.

use crate::error::AppError;
use axum::extract::{FromRequestParts, Query as AxumQuery};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A deserialized query string.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        AxumQuery::<T>::from_request_parts(parts, state)
            .await
            .map(|AxumQuery(value)| Query(value))
            .map_err(|rejection| AppError::BadRequest(rejection.body_text()))
    }
}
