//! The REST mapping, read from the `google.api.http` options in the same
//! descriptors that gRPC reflection serves: the paths below cannot drift
//! from the annotations in `proto/`, and Envoy's gRPC-JSON transcoder or
//! grpc-gateway given those descriptors serves the same mapping.

use http::Method;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, ReflectMessage, Value};

/// One HTTP binding of one RPC.
#[derive(Clone, Debug)]
pub struct Route {
    pub verb: Method,
    pub template: PathTemplate,
    /// The HTTP body fills every request field the path does not bind
    /// (`body: "*"`); otherwise the fields come from the query string.
    pub body_is_request: bool,
    pub method: MethodDescriptor,
    /// 0 for the rule itself, 1.. for its `additional_bindings`.
    pub binding: usize,
    /// `/statusgate.v1.ResourceRequestService/GetResourceRequestStatus`.
    pub grpc_path: String,
}

impl Route {
    pub fn is_streaming(&self) -> bool {
        self.method.is_server_streaming()
    }
}

/// The fields a matched path binds, as (field path, decoded value).
pub type BoundFields = Vec<(String, String)>;

/// `/v1/resource-requests/{request_token}:cancel`: literal segments,
/// single-segment field variables, and an optional custom verb.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathTemplate {
    pub text: String,
    segments: Vec<Segment>,
    verb: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// A field path such as `scope.account_id`.
    Field(String),
}

#[derive(Debug, thiserror::Error)]
#[error("path template {template:?}: {reason}")]
pub struct TemplateError {
    template: String,
    reason: &'static str,
}

impl PathTemplate {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let error = |reason| TemplateError {
            template: text.to_owned(),
            reason,
        };
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| error("must start with /"))?;
        // A verb follows the last ':' that is outside a variable.
        let (path, verb) = match rest.rfind(':') {
            Some(colon) if !rest[colon..].contains('}') => {
                (&rest[..colon], Some(rest[colon + 1..].to_owned()))
            }
            _ => (rest, None),
        };
        let segments = path
            .split('/')
            .map(|segment| {
                if let Some(inner) = segment.strip_prefix('{') {
                    let field = inner.strip_suffix('}').ok_or_else(|| error("unclosed {"))?;
                    if field.is_empty() || field.contains(['=', '*', '{']) {
                        return Err(error("only {field.path} variables are supported"));
                    }
                    Ok(Segment::Field(field.to_owned()))
                } else if segment.is_empty() || segment.contains(['{', '}', '*']) {
                    Err(error("empty or wildcard segment"))
                } else {
                    Ok(Segment::Literal(segment.to_owned()))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            text: text.to_owned(),
            segments,
            verb,
        })
    }

    /// The field paths the template binds, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Field(field) => Some(field.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// Matches a request path (still percent-encoded) and returns each bound
    /// field with its decoded value; `None` when it does not match.
    pub fn matches(&self, path: &str) -> Option<BoundFields> {
        let mut rest = path.strip_prefix('/')?;
        if let Some(verb) = &self.verb {
            rest = rest.strip_suffix(verb.as_str())?.strip_suffix(':')?;
        }
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut bound = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Literal(_) => return None,
                Segment::Field(field) => {
                    if part.is_empty() {
                        return None;
                    }
                    let value = percent_decode(part)?;
                    bound.push((field.clone(), value));
                }
            }
        }
        Some(bound)
    }

    /// Templates with a verb are tried first: `{request_token}` alone would
    /// also take `abc:cancel` as a token.
    pub fn has_verb(&self) -> bool {
        self.verb.is_some()
    }
}

/// `%2F` and the like in one path segment (a `+` stays a `+`: that is
/// the query's convention, not the path's); `None` if not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("the descriptors do not decode: {0}")]
    Descriptors(#[from] prost_reflect::DescriptorError),
    #[error("the descriptors lack the google.api.http extension")]
    NoHttpExtension,
    #[error("{method}: {reason}")]
    Rule { method: String, reason: String },
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// Every annotated method of the `statusgate.*` services, with verb routes
/// first (see [`PathTemplate::has_verb`]).
pub fn routes(pool: &DescriptorPool) -> Result<Vec<Route>, RulesError> {
    let extension = pool
        .get_extension_by_name("google.api.http")
        .ok_or(RulesError::NoHttpExtension)?;
    let mut routes = Vec::new();
    for service in pool
        .services()
        .filter(|service| service.package_name().starts_with("statusgate."))
    {
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&extension) {
                continue;
            }
            let rule_error = |reason: String| RulesError::Rule {
                method: method.full_name().to_owned(),
                reason,
            };
            let Value::Message(rule) = options.get_extension(&extension).into_owned() else {
                return Err(rule_error("google.api.http is not a message".into()));
            };
            let mut bindings = vec![rule.clone()];
            if let Some(Value::List(additional)) = rule
                .get_field_by_name("additional_bindings")
                .map(|value| value.into_owned())
            {
                bindings.extend(additional.into_iter().filter_map(|value| match value {
                    Value::Message(binding) => Some(binding),
                    _ => None,
                }));
            }
            for (index, binding) in bindings.into_iter().enumerate() {
                let (verb, path) = pattern_of(&binding).ok_or_else(|| {
                    rule_error("a binding has no get/put/post/delete/patch path".into())
                })?;
                let body = string_field(&binding, "body");
                if !body.is_empty() && body != "*" {
                    return Err(rule_error(format!(
                        "body {body:?}: only \"*\" or none is supported"
                    )));
                }
                let template = PathTemplate::parse(&path)?;
                for field in template.fields() {
                    check_field_path(&method, field).map_err(rule_error)?;
                }
                routes.push(Route {
                    verb,
                    template,
                    body_is_request: body == "*",
                    grpc_path: format!("/{}/{}", service.full_name(), method.name()),
                    method: method.clone(),
                    binding: index,
                });
            }
        }
    }
    routes.sort_by_key(|route| !route.template.has_verb());
    Ok(routes)
}

fn string_field(message: &DynamicMessage, name: &str) -> String {
    message
        .get_field_by_name(name)
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn pattern_of(rule: &DynamicMessage) -> Option<(Method, String)> {
    [
        ("get", Method::GET),
        ("put", Method::PUT),
        ("post", Method::POST),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ]
    .into_iter()
    .find_map(|(name, verb)| {
        let field = rule.descriptor().get_field_by_name(name)?;
        rule.has_field(&field)
            .then(|| (verb, string_field(rule, name)))
    })
}

/// A path variable must name a singular string field, through singular
/// message fields.
fn check_field_path(method: &MethodDescriptor, path: &str) -> Result<(), String> {
    let mut message = method.input();
    let parts: Vec<&str> = path.split('.').collect();
    for (index, part) in parts.iter().enumerate() {
        let field = message
            .get_field_by_name(part)
            .ok_or_else(|| format!("{path}: no field {part} in {}", message.full_name()))?;
        if field.is_list() || field.is_map() {
            return Err(format!("{path}: {part} is repeated"));
        }
        if index + 1 == parts.len() {
            if field.kind() != prost_reflect::Kind::String {
                return Err(format!("{path}: path variables must be strings"));
            }
        } else {
            message = field
                .kind()
                .as_message()
                .cloned()
                .ok_or_else(|| format!("{path}: {part} is not a message"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_bind_fields_and_verbs() {
        let cancel = PathTemplate::parse("/v1/resource-requests/{request_token}:cancel").unwrap();
        assert_eq!(
            cancel.matches("/v1/resource-requests/abc%2Fdef:cancel"),
            Some(vec![("request_token".into(), "abc/def".into())])
        );
        assert_eq!(cancel.matches("/v1/resource-requests/abc"), None);
        assert_eq!(cancel.matches("/v1/resource-requests/:cancel"), None);

        let get = PathTemplate::parse("/v1/resource-requests/{request_token}").unwrap();
        assert_eq!(
            get.matches("/v1/resource-requests/a:b+c"),
            Some(vec![("request_token".into(), "a:b+c".into())])
        );
        assert_eq!(get.matches("/v1/resource-requests"), None);
        assert_eq!(get.matches("/v1/resource-requests/a/b"), None);

        let nested = PathTemplate::parse("/v1/accounts/{scope.account_id}/change-tokens").unwrap();
        assert_eq!(nested.fields().collect::<Vec<_>>(), ["scope.account_id"]);

        let claim = PathTemplate::parse("/v1/resource-requests:claim").unwrap();
        assert!(claim.matches("/v1/resource-requests:claim").is_some());
        assert!(claim.matches("/v1/resource-requests").is_none());
    }

    #[test]
    fn unsupported_templates_are_refused() {
        for template in ["v1/x", "/v1/{name=*}", "/v1//x", "/v1/{x", "/v1/**"] {
            assert!(PathTemplate::parse(template).is_err(), "{template}");
        }
    }

    #[test]
    fn every_statusgate_rpc_has_a_route() {
        let pool = DescriptorPool::decode(crate::grpc::proto::FILE_DESCRIPTOR_SET).unwrap();
        let routes = routes(&pool).unwrap();
        for service in pool
            .services()
            .filter(|service| service.package_name() == "statusgate.v1")
        {
            for method in service.methods() {
                assert!(
                    routes.iter().any(|route| route.method == method),
                    "{} has no google.api.http rule",
                    method.full_name()
                );
            }
        }
        let mut seen = std::collections::HashSet::new();
        for route in &routes {
            assert!(
                seen.insert((route.verb.clone(), route.template.text.clone())),
                "{} {} is bound twice",
                route.verb,
                route.template.text
            );
        }
    }
}
