//! Secrets a function needs for itself (webhook keys, API tokens), taken
//! from its environment.
//!
//! `NAME` holds the value itself: local mode and tests. `NAME_ARN` names a
//! Secrets Manager secret holding it, read once at cold start: Lambda cannot
//! put a secret's value into a function's environment, and a value there is
//! readable by anyone allowed `lambda:GetFunctionConfiguration`, so a
//! deployment passes the ARN (the Terraform module does) and grants the read.

use anyhow::Context as _;
use rekey_core::SecretValue;

/// The suffix of the variable naming a secret's ARN instead of its value.
pub const ARN_SUFFIX: &str = "_ARN";

/// Where a secret named by the environment comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// Neither variable is set (or both are blank): the feature is off.
    Unset,
    /// `NAME` holds the value.
    Value(String),
    /// `NAME_ARN` names the secret holding it.
    Arn(String),
}

/// Reads `name` and `name_ARN` with `lookup`; a value wins over an ARN.
pub(crate) fn source(name: &str, lookup: impl Fn(&str) -> Option<String>) -> Source {
    let read = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
    if let Some(value) = read(name) {
        return Source::Value(value);
    }
    match read(&format!("{name}{ARN_SUFFIX}")) {
        Some(arn) => Source::Arn(arn.trim().to_owned()),
        None => Source::Unset,
    }
}

/// The secret `name` names, if any: its value, or the current value of the
/// Secrets Manager secret `name_ARN` names, read with `aws`.
pub(crate) async fn resolve(
    name: &str,
    aws: Option<&aws_config::SdkConfig>,
) -> anyhow::Result<Option<SecretValue>> {
    let arn = match source(name, |key| std::env::var(key).ok()) {
        Source::Unset => return Ok(None),
        Source::Value(value) => return Ok(Some(SecretValue::new(value))),
        Source::Arn(arn) => arn,
    };
    let loaded;
    let aws = match aws {
        Some(aws) => aws,
        None => {
            loaded = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            &loaded
        }
    };
    let value = rekey_aws::SecretsManagerStore::new(aws)
        .read_current(&arn)
        .await
        .with_context(|| {
            format!("failed to read {name} from the secret {name}{ARN_SUFFIX} names")
        })?;
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |key| map.get(key).cloned()
    }

    #[test]
    fn a_value_wins_over_an_arn_and_blanks_count_as_unset() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hook-AbCdEf";
        assert_eq!(
            source("HOOK", env(&[("HOOK", "v"), ("HOOK_ARN", arn)])),
            Source::Value("v".into())
        );
        assert_eq!(
            source("HOOK", env(&[("HOOK", "  "), ("HOOK_ARN", arn)])),
            Source::Arn(arn.into())
        );
        assert_eq!(source("HOOK", env(&[("HOOK_ARN", " ")])), Source::Unset);
        assert_eq!(source("HOOK", env(&[])), Source::Unset);
    }
}
