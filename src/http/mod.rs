//! The HTTP listener: the AWS-compatible facade.

use axum::Router;

use crate::service::Services;

/// Every HTTP route statusgate serves.
pub fn router(_services: Services) -> Router {
    Router::new()
}
