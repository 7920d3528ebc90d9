//! The sample events in `events/`, read as the functions receive them.

use anyhow::Context as _;
use serde_json::Value;

use crate::moto::repo_root;

/// The sample event `name` from `events/`, parsed.
pub fn sample(name: &str) -> anyhow::Result<Value> {
    let path = repo_root().join("events").join(name);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("failed to read the sample {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("the sample {name} is not JSON"))
}
