//! The sample events in `events/` and what the GCP and Azure samples are
//! signed or addressed with, shared by the tests that replay them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The Event Grid delivery secret the Azure samples carry.
pub const GRID_SECRET: &str = "rekey-test-event-grid-secret";

/// The path of sample `name`.
pub fn sample_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name)
}

/// Sample `name` as JSON.
pub fn sample(name: &str) -> Value {
    let text = std::fs::read_to_string(sample_path(name)).expect("sample");
    serde_json::from_str(&text).expect("JSON")
}
