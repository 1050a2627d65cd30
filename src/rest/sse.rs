//! Server-streaming RPCs as Server-Sent Events: one `data:` event per
//! message (its proto3 JSON), an `id:` a reconnecting client sends back as
//! `Last-Event-ID`, and the end of the stream when the RPC ends. An error
//! after the first message is one last event named `error` carrying the
//! `google.rpc.Status` JSON.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use http_body_util::BodyExt;
use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage, Value};

use super::call::{FrameReader, SharedCodec};

/// How a watch resumes: the response field that numbers its events, and the
/// request field that asks for the events after a number (without one, the
/// events up to the number are skipped here).
pub struct Resume {
    pub method: &'static str,
    pub id_field: &'static str,
    pub resume_field: Option<&'static str>,
}

/// The watches statusgate serves. `WatchChangeToken`'s statuses only move
/// forward (PROVISIONED < PENDING < INSYNC), so the status number is the id.
pub const RESUMABLE: [Resume; 2] = [
    Resume {
        method: "statusgate.v1.ResourceRequestService.WatchResourceRequest",
        id_field: "event_number",
        resume_field: Some("start_after_event_number"),
    },
    Resume {
        method: "statusgate.v1.ChangeTokenService.WatchChangeToken",
        id_field: "change_token_status",
        resume_field: None,
    },
];

pub fn resume_of(method: &str) -> Option<&'static Resume> {
    RESUMABLE.iter().find(|resume| resume.method == method)
}

/// Applies `Last-Event-ID` to the request: sets the resume field, or
/// returns the number to skip through.
pub fn apply_last_event_id(
    resume: Option<&Resume>,
    request: &mut DynamicMessage,
    last_event_id: Option<i64>,
) -> Option<i64> {
    let (resume, last) = (resume?, last_event_id?);
    match resume.resume_field {
        Some(field) => {
            let descriptor = request.descriptor();
            let already_set = descriptor
                .get_field_by_name(field)
                .is_some_and(|field| request.has_field(&field));
            if !already_set {
                request.set_field_by_name(field, Value::I64(last));
            }
            None
        }
        None => Some(last),
    }
}

fn event_id(resume: Option<&Resume>, message: &DynamicMessage) -> Option<i64> {
    let value = message.get_field_by_name(resume?.id_field)?;
    match value.as_ref() {
        Value::I64(number) => Some(*number),
        Value::I32(number) | Value::EnumNumber(number) => Some(i64::from(*number)),
        _ => None,
    }
}

/// The SSE answer of a stream whose head said it will send messages.
pub fn events(
    codec: SharedCodec,
    output: MessageDescriptor,
    resume: Option<&'static Resume>,
    skip_through: Option<i64>,
    body: tonic::body::Body,
) -> Response {
    let stream = event_stream(codec, output, resume, skip_through, body);
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

struct State {
    codec: SharedCodec,
    output: MessageDescriptor,
    resume: Option<&'static Resume>,
    skip_through: Option<i64>,
    body: tonic::body::Body,
    frames: FrameReader,
    done: bool,
}

fn event_stream(
    codec: SharedCodec,
    output: MessageDescriptor,
    resume: Option<&'static Resume>,
    skip_through: Option<i64>,
    body: tonic::body::Body,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let state = State {
        codec,
        output,
        resume,
        skip_through,
        body,
        frames: FrameReader::default(),
        done: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        loop {
            if state.done {
                return None;
            }
            if let Some(bytes) = state.frames.next_message() {
                let Ok(message) = DynamicMessage::decode(state.output.clone(), bytes) else {
                    state.done = true;
                    let status = tonic::Status::internal("undecodable stream message");
                    return Some((Ok(error_event(&state.codec, &status)), state));
                };
                let id = event_id(state.resume, &message);
                if id
                    .zip(state.skip_through)
                    .is_some_and(|(id, through)| id <= through)
                {
                    continue;
                }
                let event = match state.codec.message_json(&message) {
                    Ok(json) => {
                        let data = String::from_utf8(json).unwrap_or_default();
                        let event = Event::default().data(data);
                        match id {
                            Some(id) => event.id(id.to_string()),
                            None => event,
                        }
                    }
                    Err(status) => {
                        state.done = true;
                        error_event(&state.codec, &status)
                    }
                };
                return Some((Ok(event), state));
            }
            match state.body.frame().await {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => state.frames.push(data),
                    Err(frame) => {
                        state.done = true;
                        let status = frame
                            .trailers_ref()
                            .and_then(tonic::Status::from_header_map)
                            .filter(|status| status.code() != tonic::Code::Ok);
                        if let Some(status) = status {
                            return Some((Ok(error_event(&state.codec, &status)), state));
                        }
                    }
                },
                Some(Err(status)) => {
                    state.done = true;
                    return Some((Ok(error_event(&state.codec, &status)), state));
                }
                None => return None,
            }
        }
    })
}

fn error_event(codec: &SharedCodec, status: &tonic::Status) -> Event {
    Event::default()
        .event("error")
        .data(String::from_utf8(codec.status_json(status)).unwrap_or_default())
}
