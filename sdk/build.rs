//! Generates the client from the committed contract, `../openapi.yaml`, so a
//! contract change is a compile error here rather than a surprise for users.
//! The document is OpenAPI 3.1; progenitor reads 3.0, so `src/spec30.rs`
//! converts a copy first.

use std::path::PathBuf;

#[path = "src/spec30.rs"]
#[allow(dead_code)]
mod spec30;

fn main() {
    let spec_path = "../openapi.yaml";
    println!("cargo:rerun-if-changed={spec_path}");
    println!("cargo:rerun-if-changed=src/spec30.rs");

    let text = std::fs::read_to_string(spec_path)
        .unwrap_or_else(|e| panic!("cannot read {spec_path}: {e}"));
    let yaml: yaml_serde::Value =
        yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{spec_path} is not YAML: {e}"));
    let mut document = serde_json::to_value(yaml).expect("YAML maps to JSON");
    spec30::downgrade(&mut document).unwrap_or_else(|e| panic!("{spec_path}: {e}"));
    let spec: openapiv3::OpenAPI = serde_json::from_value(document)
        .unwrap_or_else(|e| panic!("{spec_path} converted to 3.0 is not valid OpenAPI 3.0: {e}"));

    let mut settings = progenitor::GenerationSettings::default();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged);
    let mut generator = progenitor::Generator::new(&settings);
    let tokens = generator
        .generate_tokens(&spec)
        .unwrap_or_else(|e| panic!("progenitor cannot generate a client from {spec_path}: {e}"));
    let file: syn::File = syn::parse2(tokens).expect("progenitor emits valid Rust");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("client.rs");
    std::fs::write(&out, prettyplease::unparse(&file)).expect("write the generated client");
}
