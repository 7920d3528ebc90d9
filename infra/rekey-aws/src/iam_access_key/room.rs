//! Room for a new key within IAM's limit of two access keys per user:
//! which keys must go first, and which of rekey's marks with them. Pure,
//! so every case is tested without IAM.

use std::collections::BTreeSet;

use rekey_core::KindError;

/// IAM's limit of access keys per user.
const KEYS_PER_USER: usize = 2;

/// The keys the secret's versions hold.
#[derive(Clone, Copy, Debug)]
pub(super) struct Held<'a> {
    pub(super) current: Option<&'a str>,
    pub(super) previous: Option<&'a str>,
}

impl Held<'_> {
    fn holds(&self, id: &str) -> bool {
        self.current == Some(id) || self.previous == Some(id)
    }
}

/// What must go before a new key fits.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Room {
    /// Keys to delete: rekey's keys no version holds, then the previous key
    /// if the user still has no free slot.
    pub(super) delete: Vec<String>,
    /// Marks to remove: those of the deleted keys and of keys already gone.
    pub(super) unmark: Vec<String>,
}

/// Plans room for one new key among `keys`, the user's keys, of which
/// `marked` are rekey's. Never deletes the current key nor a key rekey does
/// not manage; `LimitReached` names the keys in the way.
pub(super) fn make_room(
    user: &str,
    keys: &[String],
    marked: &BTreeSet<String>,
    held: Held<'_>,
) -> Result<Room, KindError> {
    // rekey made these, and no version holds them: a run died before
    // storing its new key, or its new key failed its test.
    let mut delete: Vec<String> = keys
        .iter()
        .filter(|id| marked.contains(*id) && !held.holds(id))
        .cloned()
        .collect();

    let kept: Vec<&String> = keys.iter().filter(|id| !delete.contains(id)).collect();
    if kept.len() >= KEYS_PER_USER {
        let previous = kept
            .iter()
            .find(|id| held.previous == Some(id.as_str()) && held.current != Some(id.as_str()));
        match previous {
            Some(id) if kept.len() == KEYS_PER_USER => delete.push((*id).clone()),
            _ => {
                let unmanaged: Vec<&str> = kept
                    .iter()
                    .filter(|id| !held.holds(id))
                    .map(|id| id.as_str())
                    .collect();
                return Err(KindError::LimitReached(format!(
                    "IAM user {user} has {} access keys, the most IAM allows, and rekey does \
                     not manage {}: delete it or store it in the secret",
                    kept.len(),
                    unmanaged.join(", ")
                )));
            }
        }
    }

    let gone = marked.iter().filter(|id| !keys.contains(id));
    let unmark = delete.iter().chain(gone).cloned().collect();
    Ok(Room { delete, unmark })
}

/// Whether a user tag's key looks like a long-term access key id.
pub(super) fn is_access_key_id(key: &str) -> bool {
    key.len() >= 16
        && key.starts_with("AKIA")
        && key
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const OLD: &str = "AKIAOLD0000000000000";
    const CUR: &str = "AKIACUR0000000000000";
    const ORPHAN: &str = "AKIAORPHAN0000000000";
    const OTHER: &str = "AKIAOTHER00000000000";

    #[test]
    fn a_free_slot_needs_no_room() {
        let held = Held {
            current: Some(CUR),
            previous: None,
        };

        let room = make_room("app", &ids(&[CUR]), &BTreeSet::new(), held).expect("room");

        assert_eq!(room, Room::default());
    }

    #[test]
    fn the_previous_key_makes_room_but_never_the_current_one() {
        let held = Held {
            current: Some(CUR),
            previous: Some(OLD),
        };

        let room = make_room("app", &ids(&[OLD, CUR]), &BTreeSet::new(), held).expect("room");

        assert_eq!(room.delete, ids(&[OLD]));
        assert_eq!(room.unmark, ids(&[OLD]));
    }

    #[test]
    fn a_marked_key_no_version_holds_is_deleted_first() {
        let held = Held {
            current: Some(CUR),
            previous: None,
        };
        let marked = BTreeSet::from([CUR.to_owned(), ORPHAN.to_owned()]);

        let room = make_room("app", &ids(&[CUR, ORPHAN]), &marked, held).expect("room");

        assert_eq!(room.delete, ids(&[ORPHAN]));
        assert_eq!(room.unmark, ids(&[ORPHAN]));
    }

    #[test]
    fn an_unmanaged_key_in_the_way_is_named_and_kept() {
        let held = Held {
            current: Some(CUR),
            previous: None,
        };

        let error =
            make_room("app", &ids(&[CUR, OTHER]), &BTreeSet::new(), held).expect_err("no room");

        let KindError::LimitReached(message) = error else {
            panic!("expected LimitReached, got {error:?}");
        };
        assert!(message.contains(OTHER), "{message}");
        assert!(!message.contains(CUR), "{message}");
    }

    #[test]
    fn marks_of_keys_already_gone_are_removed() {
        let held = Held {
            current: Some(CUR),
            previous: None,
        };
        let marked = BTreeSet::from([CUR.to_owned(), OLD.to_owned()]);

        let room = make_room("app", &ids(&[CUR]), &marked, held).expect("room");

        assert!(room.delete.is_empty());
        assert_eq!(room.unmark, ids(&[OLD]));
    }

    #[test]
    fn only_tags_shaped_like_key_ids_are_marks() {
        assert!(is_access_key_id("AKIAIOSFODNN7EXAMPLE"));
        assert!(!is_access_key_id("owner"));
        assert!(!is_access_key_id("AKIA"));
        assert!(!is_access_key_id("akiaiosfodnn7example"));
        assert!(!is_access_key_id("ASIAIOSFODNN7EXAMPLE"));
    }
}
