//! The gRPC methods this server serves, read once from the descriptors of
//! every service it registers (`statusgate.v1`, health, reflection), so a
//! new RPC is known as soon as its proto is compiled in. Two callers ask:
//! the observing layer labels metrics with a method's name only when it is
//! one of these (a made-up path is counted as `unknown`, so callers cannot
//! grow the registry), and the first-message layer asks whether a method may
//! legitimately send no message at all (client streaming).

use std::collections::HashMap;
use std::sync::LazyLock;

use prost::Message;

/// One method of a served service.
#[derive(Debug)]
pub struct Method {
    /// The method's name (`GetChangeToken`), a metrics label value.
    pub name: &'static str,
    /// The client sends a stream of messages (possibly none).
    pub client_streaming: bool,
}

/// Every served method by its request path (`/statusgate.v1.ChangeTokenService/GetChangeToken`).
static METHODS: LazyLock<HashMap<String, Method>> = LazyLock::new(|| {
    let sets = [
        super::proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    let mut methods = HashMap::new();
    for encoded in sets {
        let set = prost_types::FileDescriptorSet::decode(encoded)
            .expect("the compiled-in descriptor sets decode");
        for file in set.file {
            let package = file.package();
            for service in &file.service {
                for method in &service.method {
                    let path = format!("/{package}.{}/{}", service.name(), method.name());
                    // Leaked once per process: a fixed, small set of names,
                    // which metric labels need as `&'static str`.
                    let name: &'static str = Box::leak(method.name().to_owned().into_boxed_str());
                    let client_streaming = method.client_streaming();
                    methods.insert(
                        path,
                        Method {
                            name,
                            client_streaming,
                        },
                    );
                }
            }
        }
    }
    // google.longrunning's messages come from a crate that ships no
    // descriptor set (see `longrunning.rs`), so its five methods are named here.
    for name in [
        "GetOperation",
        "ListOperations",
        "CancelOperation",
        "WaitOperation",
        "DeleteOperation",
    ] {
        methods.insert(
            format!("/google.longrunning.Operations/{name}"),
            Method {
                name,
                client_streaming: false,
            },
        );
    }
    methods
});

/// The served method at `path`, if any.
pub fn lookup(path: &str) -> Option<&'static Method> {
    METHODS.get(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_service_is_known_and_nothing_else() {
        let get = lookup("/statusgate.v1.ChangeTokenService/GetChangeToken").unwrap();
        assert_eq!(get.name, "GetChangeToken");
        assert!(!get.client_streaming);
        assert!(lookup("/statusgate.v1.ResourceRequestService/RecordProgressEvent").is_some());
        assert!(lookup("/grpc.health.v1.Health/Check").is_some());
        let reflection =
            lookup("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo").unwrap();
        assert!(reflection.client_streaming);
        assert!(lookup("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo").is_some());
        assert!(lookup("/statusgate.v1.ResourceRequestService/ClaimResourceRequests").is_some());
        assert!(lookup("/statusgate.v1.CredentialService/CreateCredential").is_some());
        assert!(lookup("/google.longrunning.Operations/WaitOperation").is_some());
        for path in [
            "/statusgate.v1.ResourceService/GetResource",
            "/statusgate.v1.ResourceService/ListResources",
            "/statusgate.v1.ResourceRequestService/RecordHookProgressEvent",
            "/statusgate.v1.SimulationService/SetSimulationRules",
            "/statusgate.v1.SimulationService/GetSimulationRules",
        ] {
            let method = lookup(path).unwrap_or_else(|| panic!("{path} is served"));
            assert!(path.ends_with(method.name), "{path}");
        }
        for unknown in [
            "/statusgate.v1.ChangeTokenService/Nope",
            "/made.up/GetChangeToken",
            "GetChangeToken",
            "",
        ] {
            assert!(lookup(unknown).is_none(), "{unknown}");
        }
    }
}
