//! The OpenAPI 3.1 document of the REST mapping, generated from the same
//! routes and descriptors that serve it: paths and verbs from the
//! `google.api.http` rules, parameters and schemas from the messages as the
//! proto3 JSON mapping writes them (enums as names, 64-bit integers and
//! timestamps as strings, fields at their default omitted, so none is
//! required).

use std::collections::BTreeMap;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use super::rules::Route;

/// The error statuses any route may answer, with what they mean; each is a
/// `google.rpc.Status`.
const ERROR_STATUSES: [(&str, &str); 9] = [
    (
        "400",
        "Invalid input (INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE)",
    ),
    ("401", "Missing or unknown credentials (UNAUTHENTICATED)"),
    (
        "403",
        "The credential's role or account may not do this (PERMISSION_DENIED)",
    ),
    ("404", "No such resource, or no such route (NOT_FOUND)"),
    ("405", "The path exists with another HTTP method"),
    (
        "409",
        "Conflicts with an earlier request (ALREADY_EXISTS, ABORTED)",
    ),
    ("429", "Throttled (RESOURCE_EXHAUSTED)"),
    ("503", "Overloaded or shutting down (UNAVAILABLE)"),
    (
        "504",
        "Took longer than the request timeout (DEADLINE_EXCEEDED)",
    ),
];

pub fn document(routes: &[Route]) -> Value {
    let mut schemas = Schemas::default();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for route in routes {
        let operation = operation(route, &mut schemas);
        paths
            .entry(openapi_path(&route.template))
            .or_default()
            .insert(route.verb.as_str().to_ascii_lowercase(), operation);
    }
    let mut components = schemas.finish();
    components.insert("Status".into(), status_schema());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "statusgate REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The gRPC API of statusgate over HTTP/JSON, mapped by the google.api.http annotations of proto/statusgate/v1. Messages use the proto3 JSON mapping. With --auth sigv4 every call needs `Authorization: Bearer <AccessKeyId>:<SecretAccessKey>`.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "accessKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "<AccessKeyId>:<SecretAccessKey> of a statusgate credential (only with --auth sigv4)",
                },
            },
        },
        "security": [{ "accessKey": [] }, {}],
    })
}

fn operation(route: &Route, schemas: &mut Schemas) -> Value {
    let method = &route.method;
    let bound: Vec<&str> = route.template.fields().collect();
    let mut parameters: Vec<Value> = bound
        .iter()
        .map(|field| {
            json!({
                "name": openapi_parameter(field),
                "in": "path",
                "required": true,
                "description": format!("The request field {field}"),
                "schema": { "type": "string", "minLength": 1 },
            })
        })
        .collect();
    if !route.body_is_request {
        query_parameters(&method.input(), "", &bound, &mut parameters);
    }
    if route.is_streaming() {
        parameters.push(json!({
            "name": "Last-Event-ID",
            "in": "header",
            "required": false,
            "description": "Resume after the event with this id",
            "schema": { "type": "string", "pattern": "^[0-9]{1,18}$" },
        }));
    }
    let success = if route.is_streaming() {
        json!({
            "description": format!(
                "Server-Sent Events: one `data:` event per {} (its JSON), ending when the stream ends; an `error` event carries a google.rpc.Status",
                method.output().name()
            ),
            "content": { "text/event-stream": { "schema": sse_event_schema(schemas.reference(&method.output())) } },
        })
    } else {
        json!({
            "description": "OK",
            "content": { "application/json": { "schema": schemas.reference(&method.output()) } },
        })
    };
    let mut responses = Map::new();
    responses.insert("200".into(), success);
    for (status, description) in ERROR_STATUSES {
        responses.insert(
            status.into(),
            json!({
                "description": description,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Status" } } },
            }),
        );
    }
    let mut operation = json!({
        // Unique, as OpenAPI wants: an additional binding is numbered.
        "operationId": match route.binding {
            0 => method.name().to_owned(),
            index => format!("{}{index}", method.name()),
        },
        "tags": [method.parent_service().name()],
        "summary": format!("{} ({})", method.name(), method.full_name()),
        "parameters": parameters,
        "responses": responses,
    });
    if route.body_is_request {
        operation["requestBody"] = json!({
            "required": false,
            "content": { "application/json": { "schema": schemas.reference(&method.input()) } },
        });
    }
    operation
}

/// A path variable's name in the document: OpenAPI tools take a name with
/// dots for a pattern, so `scope.account_id` is `scope_account_id` there
/// (the annotation, and so the route, keep the field path).
fn openapi_parameter(field: &str) -> String {
    field.replace('.', "_")
}

pub fn openapi_path(template: &super::rules::PathTemplate) -> String {
    template
        .fields()
        .fold(template.text.clone(), |path, field| {
            path.replace(
                &format!("{{{field}}}"),
                &format!("{{{}}}", openapi_parameter(field)),
            )
        })
}

/// One Server-Sent Event as OpenAPI tools read a stream: its `data` is the
/// JSON of one message (or, for the `error` event, a google.rpc.Status).
fn sse_event_schema(message: Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "event": { "type": "string", "enum": ["message", "error"] },
            "id": { "type": "string", "pattern": "^[0-9]+$" },
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": message,
            },
            "retry": { "type": "integer" },
        },
        "required": ["data"],
    })
}

/// Every singular field not bound by the path, by its dotted proto path;
/// repeated scalars as repeated parameters.
fn query_parameters(
    message: &MessageDescriptor,
    prefix: &str,
    bound: &[&str],
    parameters: &mut Vec<Value>,
) {
    for field in message.fields() {
        let path = format!("{prefix}{}", field.name());
        if bound.contains(&path.as_str()) || field.is_map() {
            continue;
        }
        match field.kind() {
            Kind::Message(inner) if !is_string_form(&inner) => {
                if !field.is_list() {
                    query_parameters(&inner, &format!("{path}."), bound, parameters);
                }
            }
            kind => {
                let item = scalar_schema(&kind);
                let schema = if field.is_list() {
                    json!({ "type": "array", "items": item })
                } else {
                    item
                };
                parameters.push(json!({
                    "name": path,
                    "in": "query",
                    "required": false,
                    "schema": schema,
                    "style": "form",
                    "explode": true,
                }));
            }
        }
    }
}

/// Well-known types whose JSON form is a string.
fn is_string_form(message: &MessageDescriptor) -> bool {
    matches!(
        message.full_name(),
        "google.protobuf.Timestamp" | "google.protobuf.Duration" | "google.protobuf.FieldMask"
    )
}

fn scalar_schema(kind: &Kind) -> Value {
    match kind {
        Kind::String => json!({ "type": "string" }),
        Kind::Bytes => json!({ "type": "string", "contentEncoding": "base64" }),
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({ "type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX })
        }
        Kind::Uint32 | Kind::Fixed32 => {
            json!({ "type": "integer", "format": "int32", "minimum": 0, "maximum": u32::MAX })
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            json!({ "type": "string", "format": "int64", "pattern": "^-?[0-9]{1,18}$" })
        }
        Kind::Uint64 | Kind::Fixed64 => {
            json!({ "type": "string", "format": "uint64", "pattern": "^[0-9]{1,19}$" })
        }
        Kind::Float | Kind::Double => json!({ "type": "number" }),
        Kind::Enum(enumeration) => json!({
            "type": "string",
            "enum": enumeration.values().map(|value| value.name().to_owned()).collect::<Vec<_>>(),
        }),
        Kind::Message(message) => match message.full_name() {
            "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
            "google.protobuf.Duration" => {
                json!({ "type": "string", "pattern": "^-?[0-9]{1,12}(\\.[0-9]{1,9})?s$" })
            }
            _ => json!({ "type": "string" }),
        },
    }
}

/// The message schemas referred to so far, by full name.
#[derive(Default)]
struct Schemas {
    done: BTreeMap<String, Value>,
}

impl Schemas {
    fn reference(&mut self, message: &MessageDescriptor) -> Value {
        if is_string_form(message) {
            return scalar_schema(&Kind::Message(message.clone()));
        }
        let name = message.full_name().to_owned();
        if !self.done.contains_key(&name) {
            // Placed first, so that a message that contains itself ends.
            self.done.insert(name.clone(), Value::Null);
            let schema = self.object(message);
            self.done.insert(name.clone(), schema);
        }
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    fn object(&mut self, message: &MessageDescriptor) -> Value {
        let properties: Map<String, Value> = message
            .fields()
            .map(|field| (field.json_name().to_owned(), self.field(&field)))
            .collect();
        json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        })
    }

    fn field(&mut self, field: &FieldDescriptor) -> Value {
        let single = match field.kind() {
            Kind::Message(message) => self.reference(&message),
            kind => scalar_schema(&kind),
        };
        if field.is_list() {
            json!({ "type": "array", "items": single })
        } else {
            single
        }
    }

    fn finish(self) -> Map<String, Value> {
        self.done.into_iter().collect()
    }
}

fn status_schema() -> Value {
    json!({
        "type": "object",
        "description": "google.rpc.Status: the gRPC code, its message, and the same details a gRPC caller gets (ErrorInfo with the AWS error name as reason, BadRequest naming the field)",
        "properties": {
            "code": { "type": "integer", "format": "int32" },
            "message": { "type": "string" },
            "details": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": { "@type": { "type": "string" } },
                    "required": ["@type"],
                },
            },
        },
        "required": ["code", "message"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_with_its_errors() {
        let pool =
            prost_reflect::DescriptorPool::decode(crate::grpc::proto::FILE_DESCRIPTOR_SET).unwrap();
        let routes = super::super::rules::routes(&pool).unwrap();
        let document = document(&routes);
        for route in &routes {
            let operation = &document["paths"][openapi_path(&route.template)]
                [route.verb.as_str().to_ascii_lowercase()];
            assert_eq!(operation["operationId"], route.method.name());
            for (status, _) in ERROR_STATUSES {
                assert!(operation["responses"][status].is_object(), "{status}");
            }
        }
        let progress = &document["components"]["schemas"]["statusgate.v1.ProgressEvent"];
        assert_eq!(progress["properties"]["eventTime"]["format"], "date-time");
        assert_eq!(
            progress["properties"]["operationStatus"]["enum"][3],
            "OPERATION_STATUS_SUCCESS"
        );
        let watch =
            &document["components"]["schemas"]["statusgate.v1.WatchResourceRequestResponse"];
        assert_eq!(watch["properties"]["eventNumber"]["type"], "string");
        assert!(
            document["paths"]["/v1/accounts/{scope_account_id}/change-tokens"]["post"].is_object(),
            "dotted path variables are renamed"
        );
        let list = &document["paths"]["/v1/resource-requests"]["get"]["parameters"];
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .any(|parameter| parameter["name"]
                    == "resource_request_status_filter.operation_statuses"),
            "{list}"
        );
    }
}
