//! The checked-in generated code matches `proto/`.

#[test]
fn checked_in_code_is_current() {
    let stale =
        mosaic_agent_proto::codegen::stale_files().unwrap_or_else(|e| panic!("codegen: {e}"));
    assert!(
        stale.is_empty(),
        "src/gen is stale ({}): run `cargo xtask codegen`",
        stale.join(", ")
    );
}
