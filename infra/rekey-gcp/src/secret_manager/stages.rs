//! Which version carries which stage: the aliases, adoption of a
//! never-rotated secret, and the aliases a promotion leaves.

use std::collections::HashMap;

use google_cloud_secretmanager_v1::model::Secret;
use google_cloud_secretmanager_v1::model::SecretVersion;
use google_cloud_secretmanager_v1::model::secret_version::State;
use rekey_core::{CredentialId, Stage, StoreError, VersionId};

use super::number_in;
use crate::metadata::{self, STAGES, alias_of};

/// New aliases and annotations for a secret, or `None` when nothing changes.
pub(super) type Change = Option<(HashMap<String, i64>, HashMap<String, String>)>;

/// The aliases and annotations after staging version `number` as
/// `version`: `pending` on it, its mapping added, stale mappings pruned.
/// `VersionExists` when another writer mapped `version` first.
pub(super) fn staging(
    id: &CredentialId,
    secret: &Secret,
    number: i64,
    version: &VersionId,
) -> Result<Change, StoreError> {
    if metadata::is_mapped(&secret.annotations, version) {
        return Err(StoreError::VersionExists {
            id: id.clone(),
            version: version.clone(),
        });
    }
    let mut aliases = secret.version_aliases.clone();
    aliases.insert(alias_of(Stage::Pending).to_owned(), number);
    let annotations = metadata::with_mapping(secret.annotations.clone(), number, version);
    let annotations = metadata::pruned(annotations, &aliases);
    Ok(Some((aliases, annotations)))
}

/// The aliases and annotations after promoting `version` over `replacing`.
pub(super) fn promotion(
    id: &CredentialId,
    secret: &Secret,
    version: &VersionId,
    replacing: Option<&VersionId>,
) -> Result<Change, StoreError> {
    let resolve = |v: &VersionId| {
        metadata::number_of(&secret.annotations, v).ok_or_else(|| StoreError::VersionNotFound {
            id: id.clone(),
            version: v.clone(),
        })
    };
    let new = resolve(version)?;
    let aliases = &secret.version_aliases;
    let (current, pending) = (alias_of(Stage::Current), alias_of(Stage::Pending));
    if aliases.get(current) == Some(&new) && aliases.get(pending) != Some(&new) {
        return Ok(None);
    }

    let old = replacing.map(resolve).transpose()?;
    if let (Some(holder), Some(old)) = (aliases.get(current), old)
        && *holder != old
    {
        return Err(StoreError::Backend(format!(
            "{id}: version {} is not current, so it cannot be replaced",
            replacing.map_or("(none)", VersionId::as_str)
        )));
    }
    let mut aliases = aliases.clone();
    aliases.insert(current.to_owned(), new);
    match old {
        Some(old) => aliases.insert(alias_of(Stage::Previous).to_owned(), old),
        None => aliases.remove(alias_of(Stage::Previous)),
    };
    if aliases.get(pending) == Some(&new) {
        aliases.remove(pending);
    }
    let annotations = metadata::pruned(secret.annotations.clone(), &aliases);
    Ok(Some((aliases, annotations)))
}

/// The newest enabled version no alias names: current by adoption.
pub(super) fn adopted(aliases: &HashMap<String, i64>, versions: &[SecretVersion]) -> Option<i64> {
    let aliased: Vec<i64> = aliases.values().copied().collect();
    versions
        .iter()
        .filter(|v| v.state == State::Enabled)
        .filter_map(|v| number_in(&v.name))
        .filter(|n| !aliased.contains(n))
        .max()
}

/// The stages of each version number: the aliases, and adoption when
/// there is no `current` alias.
pub(super) fn stages_of(
    aliases: &HashMap<String, i64>,
    versions: &[SecretVersion],
) -> HashMap<i64, Vec<Stage>> {
    let mut stages: HashMap<i64, Vec<Stage>> = HashMap::new();
    for stage in STAGES {
        if let Some(number) = aliases.get(alias_of(stage)) {
            stages.entry(*number).or_default().push(stage);
        }
    }
    if !aliases.contains_key(alias_of(Stage::Current))
        && let Some(number) = adopted(aliases, versions)
    {
        stages.entry(number).or_default().push(Stage::Current);
    }
    stages
}
#[cfg(test)]
mod tests {
    use rekey_core::Provider;

    use super::*;

    fn version(number: i64, state: State) -> SecretVersion {
        SecretVersion::new()
            .set_name(format!("projects/1/secrets/s/versions/{number}"))
            .set_state(state)
    }

    fn id() -> CredentialId {
        CredentialId::new(Provider::GcpSecretManager, "projects/p/secrets/s")
    }

    #[test]
    fn without_a_current_alias_the_newest_enabled_unaliased_version_is_current() {
        let versions = [
            version(1, State::Enabled),
            version(2, State::Enabled),
            version(3, State::Disabled),
            version(4, State::Enabled),
        ];
        let aliases = HashMap::from([("pending".to_owned(), 4)]);

        let stages = stages_of(&aliases, &versions);

        assert_eq!(stages.get(&2), Some(&vec![Stage::Current]));
        assert_eq!(stages.get(&4), Some(&vec![Stage::Pending]));
        assert_eq!(stages.get(&1), None);
    }

    #[test]
    fn a_current_alias_turns_adoption_off() {
        let versions = [version(1, State::Enabled), version(2, State::Enabled)];
        let aliases = HashMap::from([("current".to_owned(), 1)]);

        let stages = stages_of(&aliases, &versions);

        assert_eq!(stages.get(&1), Some(&vec![Stage::Current]));
        assert_eq!(stages.get(&2), None);
    }

    #[test]
    fn promotion_moves_current_to_previous_and_drops_pending_once() {
        let new = VersionId("b".into());
        let old = VersionId("a".into());
        let secret = Secret::new()
            .set_version_aliases([("current", 1), ("pending", 2)])
            .set_annotations([("rekey-version-1", "a"), ("rekey-version-2", "b")]);

        let (aliases, annotations) = promotion(&id(), &secret, &new, Some(&old))
            .expect("promotes")
            .expect("a change");

        assert_eq!(
            aliases,
            HashMap::from([("current".into(), 2), ("previous".into(), 1)])
        );
        assert_eq!(annotations.len(), 2);
        let promoted = secret
            .set_version_aliases(aliases)
            .set_annotations(annotations);
        assert_eq!(
            promotion(&id(), &promoted, &new, Some(&old)),
            Ok(None),
            "a no-op repeat"
        );
    }

    #[test]
    fn staging_moves_pending_and_prunes_the_old_pending_mapping() {
        let secret = Secret::new()
            .set_version_aliases([("current", 1), ("pending", 2)])
            .set_annotations([("rekey-version-2", "old"), ("owner", "ops")]);

        let (aliases, annotations) = staging(&id(), &secret, 3, &VersionId("new".into()))
            .expect("stages")
            .expect("a change");

        assert_eq!(
            aliases,
            HashMap::from([("current".into(), 1), ("pending".into(), 3)])
        );
        let expected = [("owner", "ops"), ("rekey-version-3", "new")];
        let expected = expected.map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(annotations, HashMap::from(expected));
        let taken = staging(&id(), &secret, 3, &VersionId("old".into()));
        assert!(matches!(taken, Err(StoreError::VersionExists { .. })));
    }

    #[test]
    fn promotion_refuses_to_replace_a_version_that_is_not_current() {
        let secret = Secret::new()
            .set_version_aliases([("current", 3), ("pending", 2)])
            .set_annotations([("rekey-version-2", "b")]);

        let refused = promotion(
            &id(),
            &secret,
            &VersionId("b".into()),
            Some(&VersionId("1".into())),
        );

        assert!(
            matches!(refused, Err(StoreError::Backend(_))),
            "{refused:?}"
        );
    }
}
