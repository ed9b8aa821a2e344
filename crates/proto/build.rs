//! Compiles `proto/bindery/v1/*.proto` with protox (pure Rust, no protoc needed) into a descriptor
//! set in OUT_DIR, then generates prost messages and tonic services from it.

use std::path::PathBuf;

use anyhow::Context;
use prost::Message;

const FILES: &[&str] = &[
    "bindery/v1/types.proto",
    "bindery/v1/access.proto",
    "bindery/v1/annotations.proto",
    "bindery/v1/rollout.proto",
    "bindery/v1/webhook.proto",
    "bindery/v1/promotion.proto",
    "bindery/v1/lineage.proto",
    "bindery/v1/registry.proto",
    "bindery/v1/resolver.proto",
    "bindery/v1/replication.proto",
];

fn main() -> anyhow::Result<()> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest.join("../../proto").canonicalize().context("locating proto/")?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    for file in FILES {
        println!("cargo:rerun-if-changed={}", proto_root.join(file).display());
    }
    let fds = protox::compile(FILES, [&proto_root]).context("compiling bindery.v1 protos")?;
    std::fs::write(out_dir.join("bindery_descriptor.bin"), fds.encode_to_vec())
        .context("writing descriptor set")?;

    // `prost::Name` on every message: the CLI renders answers as proto JSON by their full name.
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .btree_map(".")
        .compile_fds_with_config(fds, config)
        .context("generating Rust code")?;
    Ok(())
}
