//! Compiles `proto/` with protox (a pure-Rust protobuf compiler), so building
//! statusgate needs no `protoc` on the machine, and generates the server side
//! of `google.longrunning.Operations`. Every service, longrunning included,
//! is generated with statusgate's codec (`src/grpc/codec.rs`).
//!
//! The longrunning messages and client come from the
//! `googleapis-tonic-google-longrunning` crate, which ships no server code;
//! rather than vendoring `google/longrunning/operations.proto` (and the
//! `google/api` and `google/rpc` protos it imports), the five methods are
//! described here with tonic-build's `manual` builder against that crate's
//! message types, and tonic generates the `Operations` server trait from them.

use tonic_build::manual::{Builder, Method, Service};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/statusgate/v1/change_token.proto",
        "proto/statusgate/v1/credential.proto",
        "proto/statusgate/v1/resource_request.proto",
        "proto/statusgate/v1/resource.proto",
        "proto/statusgate/v1/simulation.proto",
    ];
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(protos)?;
    let file_descriptors = compiler.file_descriptor_set();
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    // For tonic-reflection and the REST gateway, encoded by protox itself:
    // prost's own types would drop the `google.api.http` method options.
    std::fs::write(
        out_dir.join("statusgate_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    // Every service decodes with statusgate's codec: malformed protobuf is
    // INVALID_ARGUMENT with the decoder's message, not INTERNAL.
    tonic_prost_build::configure()
        .codec_path("crate::grpc::codec::StatusgateCodec")
        .compile_fds(file_descriptors)?;
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    println!("cargo:rerun-if-changed=proto/google/api");
    Builder::new()
        .build_client(false)
        .compile(&[longrunning_operations()]);
    Ok(())
}

/// `google.longrunning.Operations`, method for method as in googleapis'
/// `google/longrunning/operations.proto`. `google.protobuf.Empty` is `()` in
/// prost; `crate::grpc::Empty` names it, since the builder wants a path.
fn longrunning_operations() -> Service {
    const MESSAGES: &str = "::googleapis_tonic_google_longrunning::google::longrunning";
    let method = |name: &str, route: &str, input: &str, output: &str| {
        Method::builder()
            .name(name)
            .route_name(route)
            .input_type(format!("{MESSAGES}::{input}"))
            .output_type(output.replace("{MESSAGES}", MESSAGES))
            .codec_path("crate::grpc::codec::StatusgateCodec")
            .build()
    };
    Service::builder()
        .name("Operations")
        .package("google.longrunning")
        .method(method(
            "list_operations",
            "ListOperations",
            "ListOperationsRequest",
            "{MESSAGES}::ListOperationsResponse",
        ))
        .method(method(
            "get_operation",
            "GetOperation",
            "GetOperationRequest",
            "{MESSAGES}::Operation",
        ))
        .method(method(
            "delete_operation",
            "DeleteOperation",
            "DeleteOperationRequest",
            "crate::grpc::Empty",
        ))
        .method(method(
            "cancel_operation",
            "CancelOperation",
            "CancelOperationRequest",
            "crate::grpc::Empty",
        ))
        .method(method(
            "wait_operation",
            "WaitOperation",
            "WaitOperationRequest",
            "{MESSAGES}::Operation",
        ))
        .build()
}
