//! How a secret's labels, annotations and version aliases carry rekey's
//! tags, stages and version ids.
//!
//! - Label and annotation keys `rekey-KEY` are rekey's tag `rekey:KEY` (GCP
//!   keys cannot hold `:`); other keys pass through as they are.
//! - The aliases `current`, `pending` and `previous` are the stages.
//! - Annotation `rekey-version-N` holds the engine's id of version `N`;
//!   `rekey-key-in-flight` the id of a service-account key being rotated
//!   in. These two are rekey's bookkeeping, not tags.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rekey_core::{Stage, TAG_PREFIX, VersionId};

/// The prefix of rekey's label and annotation keys.
pub const KEY_PREFIX: &str = "rekey-";
/// The prefix of the annotations mapping version numbers to engine ids.
pub const VERSION_ANNOTATION_PREFIX: &str = "rekey-version-";
/// The annotation recording the service-account key a rotation created.
pub const KEY_IN_FLIGHT_ANNOTATION: &str = "rekey-key-in-flight";

/// The alias of each stage, as consumers read it (`versions/current`).
pub fn alias_of(stage: Stage) -> &'static str {
    match stage {
        Stage::Current => "current",
        Stage::Pending => "pending",
        Stage::Previous => "previous",
    }
}

/// The stages, in the order [`alias_of`] names them.
pub const STAGES: [Stage; 3] = [Stage::Current, Stage::Pending, Stage::Previous];

fn is_bookkeeping(key: &str) -> bool {
    key.starts_with(VERSION_ANNOTATION_PREFIX) || key == KEY_IN_FLIGHT_ANNOTATION
}

fn tag_key(key: &str) -> String {
    match key.strip_prefix(KEY_PREFIX) {
        Some(rest) => format!("{TAG_PREFIX}{rest}"),
        None => key.to_owned(),
    }
}

/// rekey's tags of a secret: its labels, then its annotations (which win
/// on a clash: they can hold what labels cannot), bookkeeping left out.
pub fn tags(
    labels: &HashMap<String, String>,
    annotations: &HashMap<String, String>,
) -> BTreeMap<String, String> {
    let annotations = annotations.iter().filter(|(k, _)| !is_bookkeeping(k));
    labels
        .iter()
        .chain(annotations)
        .map(|(k, v)| (tag_key(k), v.clone()))
        .collect()
}

/// The engine's id of version `number`: the mapped id, else the number.
pub fn id_of(annotations: &HashMap<String, String>, number: i64) -> VersionId {
    let key = format!("{VERSION_ANNOTATION_PREFIX}{number}");
    match annotations.get(&key) {
        Some(id) => VersionId(id.clone()),
        None => VersionId(number.to_string()),
    }
}

/// The version number `version` names: the one mapped to it, else the
/// number it spells.
pub fn number_of(annotations: &HashMap<String, String>, version: &VersionId) -> Option<i64> {
    let mapped = annotations.iter().find_map(|(key, id)| {
        let number = key.strip_prefix(VERSION_ANNOTATION_PREFIX)?;
        (id == version.as_str()).then(|| number.parse().ok())?
    });
    mapped.or_else(|| version.as_str().parse().ok().filter(|n: &i64| *n > 0))
}

/// Whether some version is already mapped to `version`.
pub fn is_mapped(annotations: &HashMap<String, String>, version: &VersionId) -> bool {
    annotations
        .iter()
        .any(|(key, id)| key.starts_with(VERSION_ANNOTATION_PREFIX) && id == version.as_str())
}

/// `annotations` with version `number` mapped to `version`.
pub fn with_mapping(
    mut annotations: HashMap<String, String>,
    number: i64,
    version: &VersionId,
) -> HashMap<String, String> {
    let key = format!("{VERSION_ANNOTATION_PREFIX}{number}");
    annotations.insert(key, version.as_str().to_owned());
    annotations
}

/// `annotations` without the mappings of versions no alias names.
pub fn pruned(
    mut annotations: HashMap<String, String>,
    aliases: &HashMap<String, i64>,
) -> HashMap<String, String> {
    let kept: BTreeSet<String> = aliases.values().map(|n| n.to_string()).collect();
    annotations.retain(|key, _| match key.strip_prefix(VERSION_ANNOTATION_PREFIX) {
        Some(number) => kept.contains(number),
        None => true,
    });
    annotations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rekey_keys_become_rekey_tags_and_bookkeeping_stays_out() {
        let labels = map(&[
            ("rekey-policy", "db"),
            ("rekey-max-age", "30d"),
            ("team", "pay"),
        ]);
        let annotations = map(&[
            ("rekey-service-account", "app@p.iam.gserviceaccount.com"),
            ("rekey-version-3", "uuid"),
            ("rekey-key-in-flight", "abc"),
        ]);

        let tags = tags(&labels, &annotations);

        assert_eq!(tags.get("rekey:policy").map(String::as_str), Some("db"));
        assert_eq!(tags.get("rekey:max-age").map(String::as_str), Some("30d"));
        assert_eq!(tags.get("team").map(String::as_str), Some("pay"));
        assert!(tags.contains_key("rekey:service-account"));
        assert_eq!(tags.len(), 4, "{tags:?}");
    }

    #[test]
    fn versions_are_named_by_their_mapped_id_or_their_number() {
        let annotations = map(&[("rekey-version-2", "b1e0")]);

        assert_eq!(id_of(&annotations, 2), VersionId("b1e0".into()));
        assert_eq!(id_of(&annotations, 1), VersionId("1".into()));
        assert_eq!(number_of(&annotations, &VersionId("b1e0".into())), Some(2));
        assert_eq!(number_of(&annotations, &VersionId("1".into())), Some(1));
        assert_eq!(number_of(&annotations, &VersionId("ffff".into())), None);
        assert_eq!(number_of(&annotations, &VersionId("0".into())), None);
    }

    #[test]
    fn pruning_keeps_only_mappings_an_alias_names() {
        let annotations = map(&[
            ("rekey-version-1", "a"),
            ("rekey-version-2", "b"),
            ("x", "y"),
        ]);
        let aliases = HashMap::from([("current".to_owned(), 2)]);

        let kept = pruned(annotations, &aliases);

        assert_eq!(kept, map(&[("rekey-version-2", "b"), ("x", "y")]));
    }
}
