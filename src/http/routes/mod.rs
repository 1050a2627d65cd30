//! The facade's routes on `/`: which protocol a request speaks, and the
//! endpoint that serves it.
//!
//! - [`serve_root`]: `POST /` is awsJson (`aws_json::handle`), or the query
//!   form when it is form-encoded and names no target; `GET /` is the query
//!   form (`query::handle_get`, `query::handle_form`).
//! - [`no_route`]: any other method or path.
//! - `answer`: how every route ends: one log line, the response in the
//!   route's error form, the operation marked for the metrics layer.
//! - `authenticate`: the [`Authenticator`], which every routed request
//!   passes before its handler is called.

mod answer;
mod authenticate;
mod aws_json;
mod query;

pub use authenticate::Authenticator;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::Response;

use crate::http::protocol::{Rejection, has_target, is_form};
use crate::http::request_id::RequestId;
use crate::service::Services;
use answer::{ErrorForm, answer_rejection};

/// What the facade's routes serve from, shared behind an `Arc`: axum clones
/// a route's state for every request, and a deep clone of the services cost
/// more than a fifth of a status read's instructions.
pub struct Facade {
    pub services: Services,
    pub authenticator: Authenticator,
}

/// `POST /` is awsJson, or the query form when it is form-encoded and names
/// no target; `GET /` is the query form.
pub async fn serve_root(State(facade): State<Arc<Facade>>, request: Request) -> Response {
    let request_id = RequestId::of(&request);
    let method = request.method().clone();
    if method == Method::POST {
        let headers = request.headers();
        if !has_target(headers) && is_form(headers) {
            return query::handle_form(&facade, &request_id, request).await;
        }
        return aws_json::handle(&facade, &request_id, request).await;
    }
    if method == Method::GET {
        return query::handle_get(&facade, &request_id, request).await;
    }
    no_route(request).await
}

pub async fn no_route(request: Request) -> Response {
    let request_id = RequestId::of(&request);
    answer_rejection(&request_id, Rejection::NoRoute, ErrorForm::AwsJson(None))
}
