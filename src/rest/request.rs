//! An HTTP request to the RPC's request message: the body's JSON (for
//! `body: "*"` rules), then the query string (for the others), then the
//! path's variables, which win. The proto3 JSON mapping itself is
//! prost-reflect's; this file only places strings from the URL at the right
//! field paths, typed as the mapping wants them.

use prost_reflect::{DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value};

use super::rules::Route;

/// Why a request does not make a message: the field path (as the caller
/// wrote it) and what is wrong with it.
#[derive(Debug)]
pub struct InputError {
    pub field: String,
    pub description: String,
}

impl InputError {
    fn new(field: &str, description: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            description: description.into(),
        }
    }
}

/// Builds the request message of `route` from the path's bound fields, the
/// raw query string and the body.
pub fn request_message(
    route: &Route,
    bound: &[(String, String)],
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, InputError> {
    let input = route.method.input();
    let mut root = if route.body_is_request && !body.iter().all(u8::is_ascii_whitespace) {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => object,
            Ok(_) => return Err(InputError::new("", "the body must be a JSON object")),
            Err(error) => {
                return Err(InputError::new(
                    "",
                    format!("the body is not JSON: {error}"),
                ));
            }
        }
    } else {
        Map::new()
    };
    if !route.body_is_request {
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            set_field(&mut root, &input, &key, &value, Placement::Query)?;
        }
    }
    for (field, value) in bound {
        set_field(&mut root, &input, field, value, Placement::Path)?;
    }
    DynamicMessage::deserialize_with_options(
        input,
        Value::Object(root),
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .map_err(|error| InputError::new("", error.to_string()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Repeated fields collect every occurrence.
    Query,
    /// Replaces whatever the body said.
    Path,
}

/// Finds a field by its proto name (`account_id`) or its JSON name
/// (`accountId`), as grpc-gateway does.
fn field_named(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message
        .get_field_by_name(name)
        .or_else(|| message.get_field_by_json_name(name))
}

fn set_field(
    root: &mut Map<String, Value>,
    message: &MessageDescriptor,
    path: &str,
    raw: &str,
    placement: Placement,
) -> Result<(), InputError> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut object = root;
    let mut message = message.clone();
    for (index, part) in parts.iter().enumerate() {
        let field = field_named(&message, part).ok_or_else(|| {
            InputError::new(
                path,
                format!("{} has no field {part:?}", message.full_name()),
            )
        })?;
        let key = field.json_name().to_owned();
        if index + 1 < parts.len() {
            let Some(inner) = field
                .kind()
                .as_message()
                .cloned()
                .filter(|_| !field.is_list())
            else {
                return Err(InputError::new(path, format!("{part:?} has no fields")));
            };
            let slot = object
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            object = slot.as_object_mut().expect("made an object just above");
            message = inner;
            continue;
        }
        if field.is_map() {
            return Err(InputError::new(path, "a map cannot be set from the URL"));
        }
        let value = scalar(&field.kind(), raw).map_err(|reason| InputError::new(path, reason))?;
        if field.is_list() && placement == Placement::Query {
            match object
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(items) => items.push(value),
                other => *other = Value::Array(vec![value]),
            }
        } else {
            object.insert(key, value);
        }
    }
    Ok(())
}

/// A URL string as the proto3 JSON value of a field of `kind`.
fn scalar(kind: &Kind, raw: &str) -> Result<Value, String> {
    let integer = || {
        raw.parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("{raw:?} is not an integer"))
    };
    match kind {
        Kind::String | Kind::Bytes => Ok(Value::String(raw.to_owned())),
        Kind::Bool => match raw {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("{raw:?} is not true or false")),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => integer(),
        // The mapping writes 64-bit integers as strings and reads both.
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
            Ok(Value::String(raw.to_owned()))
        }
        Kind::Float | Kind::Double => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("{raw:?} is not a number")),
        Kind::Enum(_) => Ok(raw
            .parse::<i32>()
            .map_or_else(|_| Value::String(raw.to_owned()), Value::from)),
        Kind::Message(message) => match message.full_name() {
            // Their JSON form is a string: "2026-12-02T10:00:00Z", "30s".
            "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.FieldMask" => Ok(Value::String(raw.to_owned())),
            name => Err(format!("a {name} cannot be set from the URL")),
        },
    }
}
