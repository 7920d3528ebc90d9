//! Value generators: how a new secret value is made.
//!
//! Three shapes cover what services consume: a random password, random bytes
//! in base64 or hex, and a JSON document in which one field rotates and every
//! other field is kept. Each generator can also check that a value it did not
//! make in this process (a pending version read back from a store) has the
//! shape it promises, which is what the default rotation test does.

use base64::Engine as _;
use rand::Rng;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};

use crate::SecretValue;

const LOWERCASE: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPERCASE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// The largest value a generator makes, in characters or bytes.
pub const MAX_LENGTH: usize = 4096;

/// How a policy makes new values. Written in the policy file as a table with
/// a `type` key: `password`, `bytes` or `json-field`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Generator {
    /// Random characters from letters, digits and punctuation.
    Password {
        /// Number of characters.
        #[serde(default = "default_password_length")]
        length: usize,
        /// Characters never to use (for example quotes a consumer can't take).
        #[serde(default)]
        exclude_characters: String,
        /// Leave out all punctuation.
        #[serde(default)]
        exclude_punctuation: bool,
        /// Use at least one character of every class still included.
        #[serde(default = "default_true")]
        require_each_included_type: bool,
    },
    /// Random bytes, encoded as text.
    Bytes {
        /// Number of random bytes before encoding.
        #[serde(default = "default_bytes_length")]
        length: usize,
        /// `base64` (standard alphabet, padded) or `hex`.
        #[serde(default)]
        encoding: Encoding,
    },
    /// A JSON object whose `field` gets a new value; other fields are kept.
    JsonField {
        /// The top-level field that rotates.
        field: String,
        /// How that field's value is made.
        value: Box<Generator>,
    },
}

/// Text encodings for [`Generator::Bytes`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Standard base64 with padding.
    #[default]
    Base64,
    /// Lowercase hexadecimal.
    Hex,
}

/// Why a generator could not make or accept a value. Never holds the value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum GeneratorError {
    /// The length is zero or over [`MAX_LENGTH`].
    #[error("length {0} is outside 1..={MAX_LENGTH}")]
    InvalidLength(usize),
    /// Exclusions left no character to draw from.
    #[error("the exclusions leave no character to draw from")]
    EmptyAlphabet,
    /// More character classes are required than the password is long.
    #[error("a password of {length} characters cannot hold one of each of {classes} classes")]
    TooShortForClasses {
        /// The configured length.
        length: usize,
        /// The number of classes still included.
        classes: usize,
    },
    /// A JSON-field generator was given a value that is not a JSON object.
    #[error("the current value is not a JSON object, so field `{0}` cannot rotate in it")]
    NotAJsonObject(String),
    /// A checked value does not have the shape the generator promises.
    #[error("the value does not match the generator: {0}")]
    Mismatch(&'static str),
}

fn default_password_length() -> usize {
    32
}

fn default_bytes_length() -> usize {
    32
}

fn default_true() -> bool {
    true
}

impl Default for Generator {
    fn default() -> Self {
        Self::Password {
            length: default_password_length(),
            exclude_characters: String::new(),
            exclude_punctuation: false,
            require_each_included_type: true,
        }
    }
}

impl Generator {
    /// Checks the settings without making a value, so a bad policy file is
    /// refused when it is loaded rather than at the first rotation.
    pub fn validate(&self) -> Result<(), GeneratorError> {
        match self {
            Self::Password { length, .. } => {
                check_length(*length)?;
                let classes = self.password_classes();
                if classes.iter().all(String::is_empty) {
                    return Err(GeneratorError::EmptyAlphabet);
                }
                self.check_class_count(*length, &classes)
            }
            Self::Bytes { length, .. } => check_length(*length),
            Self::JsonField { value, .. } => value.validate(),
        }
    }

    /// Makes a new value. `current` is the value being replaced; only the
    /// JSON-field generator reads it, to keep the fields that do not rotate.
    pub fn generate(&self, current: Option<&SecretValue>) -> Result<SecretValue, GeneratorError> {
        self.validate()?;
        match self {
            Self::Password {
                length,
                require_each_included_type,
                ..
            } => Ok(SecretValue::new(
                self.password(*length, *require_each_included_type),
            )),
            Self::Bytes { length, encoding } => {
                Ok(SecretValue::new(random_bytes(*length, *encoding)))
            }
            Self::JsonField { field, value } => json_field(field, value, current),
        }
    }

    /// Checks that `value` has the shape this generator makes.
    pub fn check(&self, value: &SecretValue) -> Result<(), GeneratorError> {
        match self {
            Self::Password { length, .. } => {
                let text = value.expose();
                if text.chars().count() != *length {
                    return Err(GeneratorError::Mismatch("wrong number of characters"));
                }
                let alphabet: String = self.password_classes().concat();
                if !text.chars().all(|c| alphabet.contains(c)) {
                    return Err(GeneratorError::Mismatch("a character outside the alphabet"));
                }
                Ok(())
            }
            Self::Bytes { length, encoding } => check_bytes(value.expose(), *length, *encoding),
            Self::JsonField {
                field,
                value: inner,
            } => {
                let object = parse_object(value, field)?;
                match object.get(field) {
                    Some(serde_json::Value::String(text)) => {
                        inner.check(&SecretValue::new(text.clone()))
                    }
                    _ => Err(GeneratorError::Mismatch("the rotating field is missing")),
                }
            }
        }
    }

    fn password_classes(&self) -> Vec<String> {
        let Self::Password {
            exclude_characters,
            exclude_punctuation,
            ..
        } = self
        else {
            return Vec::new();
        };
        let mut classes = vec![LOWERCASE, UPPERCASE, DIGITS];
        if !exclude_punctuation {
            classes.push(PUNCTUATION);
        }
        classes
            .into_iter()
            .map(|class| {
                class
                    .chars()
                    .filter(|c| !exclude_characters.contains(*c))
                    .collect()
            })
            .collect()
    }

    fn check_class_count(&self, length: usize, classes: &[String]) -> Result<(), GeneratorError> {
        let Self::Password {
            require_each_included_type: true,
            ..
        } = self
        else {
            return Ok(());
        };
        let included = classes.iter().filter(|c| !c.is_empty()).count();
        if included > length {
            return Err(GeneratorError::TooShortForClasses {
                length,
                classes: included,
            });
        }
        Ok(())
    }

    fn password(&self, length: usize, require_each: bool) -> String {
        let classes: Vec<Vec<char>> = self
            .password_classes()
            .into_iter()
            .filter(|c| !c.is_empty())
            .map(|c| c.chars().collect())
            .collect();
        let alphabet: Vec<char> = classes.concat();
        let mut rng = rand::rng();

        // Draw until every required class appears. With the default
        // alphabet and length the first draw succeeds almost always.
        loop {
            let password: Vec<char> = (0..length)
                .filter_map(|_| alphabet.choose(&mut rng).copied())
                .collect();
            let complete = !require_each
                || classes
                    .iter()
                    .all(|class| password.iter().any(|c| class.contains(c)));
            if complete {
                return password.into_iter().collect();
            }
        }
    }
}

fn check_length(length: usize) -> Result<(), GeneratorError> {
    if length == 0 || length > MAX_LENGTH {
        return Err(GeneratorError::InvalidLength(length));
    }
    Ok(())
}

fn random_bytes(length: usize, encoding: Encoding) -> String {
    let mut bytes = zeroize::Zeroizing::new(vec![0u8; length]);
    rand::rng().fill(bytes.as_mut_slice());
    match encoding {
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes.as_slice()),
        Encoding::Hex => hex::encode(bytes.as_slice()),
    }
}

fn check_bytes(text: &str, length: usize, encoding: Encoding) -> Result<(), GeneratorError> {
    let decoded = match encoding {
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.decode(text).ok(),
        Encoding::Hex => hex::decode(text).ok(),
    };
    match decoded {
        Some(bytes) if bytes.len() == length => Ok(()),
        Some(_) => Err(GeneratorError::Mismatch("wrong number of bytes")),
        None => Err(GeneratorError::Mismatch(
            "not valid in the configured encoding",
        )),
    }
}

fn parse_object(
    value: &SecretValue,
    field: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, GeneratorError> {
    match serde_json::from_str(value.expose()) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        _ => Err(GeneratorError::NotAJsonObject(field.to_owned())),
    }
}

fn json_field(
    field: &str,
    inner: &Generator,
    current: Option<&SecretValue>,
) -> Result<SecretValue, GeneratorError> {
    let mut object = match current {
        Some(value) => parse_object(value, field)?,
        None => serde_json::Map::new(),
    };
    let fresh = inner.generate(None)?;
    object.insert(
        field.to_owned(),
        serde_json::Value::String(fresh.expose().to_owned()),
    );
    let text = serde_json::Value::Object(object).to_string();
    Ok(SecretValue::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(length: usize, exclude: &str, punctuation: bool) -> Generator {
        Generator::Password {
            length,
            exclude_characters: exclude.into(),
            exclude_punctuation: !punctuation,
            require_each_included_type: true,
        }
    }

    #[test]
    fn password_has_length_and_no_excluded_characters() {
        let generator = password(40, "\"'\\/@aA0", true);

        for _ in 0..50 {
            let value = generator.generate(None).expect("generates");
            assert_eq!(value.expose().chars().count(), 40);
            assert!(!value.expose().chars().any(|c| "\"'\\/@aA0".contains(c)));
            generator
                .check(&value)
                .expect("its own value passes the check");
        }
    }

    #[test]
    fn password_holds_every_included_class() {
        let generator = password(4, "", true);

        for _ in 0..50 {
            let value = generator.generate(None).expect("generates");
            let text = value.expose();
            assert!(text.chars().any(|c| c.is_ascii_lowercase()));
            assert!(text.chars().any(|c| c.is_ascii_uppercase()));
            assert!(text.chars().any(|c| c.is_ascii_digit()));
            assert!(text.chars().any(|c| c.is_ascii_punctuation()));
        }
    }

    #[test]
    fn impossible_passwords_are_refused_up_front() {
        assert_eq!(
            password(0, "", true).validate(),
            Err(GeneratorError::InvalidLength(0))
        );
        assert_eq!(
            password(3, "", true).validate(),
            Err(GeneratorError::TooShortForClasses {
                length: 3,
                classes: 4
            })
        );
        let everything = format!("{LOWERCASE}{UPPERCASE}{DIGITS}");
        assert_eq!(
            password(8, &everything, false).validate(),
            Err(GeneratorError::EmptyAlphabet)
        );
    }

    #[test]
    fn bytes_decode_to_the_configured_length() {
        for encoding in [Encoding::Base64, Encoding::Hex] {
            let generator = Generator::Bytes {
                length: 24,
                encoding,
            };
            let value = generator.generate(None).expect("generates");
            generator.check(&value).expect("decodes to 24 bytes");
        }
        let hex = Generator::Bytes {
            length: 24,
            encoding: Encoding::Hex,
        };
        assert!(hex.check(&SecretValue::new("zz".into())).is_err());
    }

    #[test]
    fn json_field_rotates_one_field_and_keeps_the_rest() {
        let generator = Generator::JsonField {
            field: "password".into(),
            value: Box::new(password(20, "", false)),
        };
        let current = SecretValue::new(r#"{"username":"app","password":"old","port":5432}"#.into());

        let next = generator.generate(Some(&current)).expect("generates");

        let parsed: serde_json::Value = serde_json::from_str(next.expose()).expect("json");
        assert_eq!(parsed["username"], "app");
        assert_eq!(parsed["port"], 5432);
        assert_ne!(parsed["password"], "old");
        generator.check(&next).expect("passes its own check");
    }

    #[test]
    fn json_field_refuses_a_current_value_that_is_not_an_object() {
        let generator = Generator::JsonField {
            field: "password".into(),
            value: Box::new(Generator::default()),
        };
        let current = SecretValue::new("plain-text-secret".into());

        let error = generator.generate(Some(&current)).expect_err("refused");

        assert_eq!(error, GeneratorError::NotAJsonObject("password".into()));
        assert!(!error.to_string().contains("plain-text-secret"));
    }

    #[test]
    fn generator_tables_parse_from_toml() {
        let parsed: Generator =
            toml::from_str("type = \"bytes\"\nlength = 16\nencoding = \"hex\"").expect("parses");
        assert_eq!(
            parsed,
            Generator::Bytes {
                length: 16,
                encoding: Encoding::Hex
            }
        );

        let unknown = toml::from_str::<Generator>("type = \"bytes\"\nlenght = 16");
        assert!(unknown.is_err(), "misspelt keys are refused");
    }
}
