//! Compiles `proto/` with protox (a pure-Rust protobuf compiler), so building
//! statusgate needs no `protoc` on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/statusgate/v1/change_token.proto",
        "proto/statusgate/v1/credential.proto",
        "proto/statusgate/v1/resource_request.proto",
    ];
    let file_descriptors = protox::compile(protos, ["proto"])?;
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    // Kept for tonic-reflection.
    std::fs::write(
        out_dir.join("statusgate_descriptor.bin"),
        prost::Message::encode_to_vec(&file_descriptors),
    )?;
    tonic_prost_build::configure().compile_fds(file_descriptors)?;
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    Ok(())
}
