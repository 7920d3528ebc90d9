//! Row-level SQL for the store's tables: `credentials`, `versions`, `stages`.
//!
//! Each function is one or two statements on a connection or a transaction
//! that the caller opened; none commits. Values pass through as bound
//! parameters and never appear in an error.

use std::collections::BTreeMap;

use rekey_core::{CredentialId, SecretValue, Stage, StoreError, Version, VersionId};
use rusqlite::{Connection, OptionalExtension, params};

use crate::LocalError;
use crate::db::from_nanos;
use crate::error::During;

/// How many versions without a stage each credential keeps; older ones and
/// their values are deleted.
pub(crate) const KEEP_DEPRECATED: i64 = 10;

pub(crate) type Op = &'static str;

/// A credential's tags or labels.
pub(crate) type Tags = BTreeMap<String, String>;

/// A credential's own row: its tags and whether rotation is on.
pub(crate) struct CredentialRow {
    pub(crate) tags: Tags,
    pub(crate) rotation_enabled: bool,
}

/// `CredentialNotFound` unless the credential named by `id.locator` exists.
pub(crate) fn require_credential(
    conn: &Connection,
    id: &CredentialId,
    op: Op,
) -> Result<(), StoreError> {
    if credential_exists(conn, &id.locator, op)? {
        Ok(())
    } else {
        Err(StoreError::CredentialNotFound(id.clone()))
    }
}

/// `VersionNotFound` unless `version` of `id` exists.
pub(crate) fn require_version(
    conn: &Connection,
    id: &CredentialId,
    version: &VersionId,
    op: Op,
) -> Result<(), StoreError> {
    if version_exists(conn, &id.locator, version, op)? {
        Ok(())
    } else {
        Err(StoreError::VersionNotFound {
            id: id.clone(),
            version: version.clone(),
        })
    }
}

pub(crate) fn credential_exists(conn: &Connection, name: &str, op: Op) -> Result<bool, LocalError> {
    let sql = "SELECT 1 FROM credentials WHERE name = ?1";
    let found = conn.query_row(sql, [name], |_| Ok(())).optional();
    Ok(found.during(op)?.is_some())
}

pub(crate) fn version_exists(
    conn: &Connection,
    name: &str,
    version: &VersionId,
    op: Op,
) -> Result<bool, LocalError> {
    let sql = "SELECT 1 FROM versions WHERE credential = ?1 AND version_id = ?2";
    let found = conn
        .query_row(sql, params![name, version.as_str()], |_| Ok(()))
        .optional();
    Ok(found.during(op)?.is_some())
}

/// The credential's own row, if it exists.
pub(crate) fn credential_row(
    conn: &Connection,
    name: &str,
    op: Op,
) -> Result<Option<CredentialRow>, LocalError> {
    let sql = "SELECT tags, rotation_enabled FROM credentials WHERE name = ?1";
    let row = conn
        .query_row(sql, [name], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, bool>(1)?))
        })
        .optional()
        .during(op)?;

    let parse = |(tags, rotation_enabled): (String, bool)| {
        let tags = parse_tags(&tags, op)?;
        Ok(CredentialRow {
            tags,
            rotation_enabled,
        })
    };
    row.map(parse).transpose()
}

/// Creates the credential, or replaces the tags of an existing one.
pub(crate) fn upsert_credential(
    conn: &Connection,
    name: &str,
    tags: &str,
    op: Op,
) -> Result<(), LocalError> {
    let sql = "INSERT INTO credentials (name, tags) VALUES (?1, ?2)
               ON CONFLICT (name) DO UPDATE SET tags = excluded.tags";
    conn.execute(sql, params![name, tags]).during(op)?;
    Ok(())
}

/// Every credential's name and tags, by name.
pub(crate) fn all_tags(conn: &Connection, op: Op) -> Result<Vec<(String, Tags)>, LocalError> {
    let mut stmt = conn
        .prepare("SELECT name, tags FROM credentials ORDER BY name")
        .during(op)?;
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .during(op)?;

    rows.map(|row| {
        let (name, tags) = row.during(op)?;
        Ok((name, parse_tags(&tags, op)?))
    })
    .collect()
}

/// The credential's versions in the order they were written, with stages.
pub(crate) fn versions(conn: &Connection, name: &str, op: Op) -> Result<Vec<Version>, LocalError> {
    let mut stmt = conn
        .prepare(
            "SELECT v.version_id, v.created_at, s.stage FROM versions v
             LEFT JOIN stages s ON s.credential = v.credential AND s.version_id = v.version_id
             WHERE v.credential = ?1 ORDER BY v.rowid",
        )
        .during(op)?;
    let mut rows = stmt.query([name]).during(op)?;

    let mut versions: Vec<Version> = Vec::new();
    while let Some(row) = rows.next().during(op)? {
        let id = VersionId(row.get(0).during(op)?);
        if versions.last().is_none_or(|last| last.id != id) {
            let created_at = from_nanos(row.get(1).during(op)?, op)?;
            versions.push(Version {
                id,
                stages: Vec::new(),
                created_at,
                native_id: None,
            });
        }
        let stage: Option<String> = row.get(2).during(op)?;
        if let (Some(stage), Some(last)) = (stage, versions.last_mut()) {
            last.stages.push(parse_stage(&stage, op)?);
        }
    }

    versions.iter_mut().for_each(|v| v.stages.sort());
    Ok(versions)
}

/// The value of a version: `None` if the credential is missing,
/// `Some(None)` if only the version is.
pub(crate) fn value(
    conn: &Connection,
    name: &str,
    version: &VersionId,
    op: Op,
) -> Result<Option<Option<SecretValue>>, LocalError> {
    let sql = "SELECT v.value FROM credentials c
               LEFT JOIN versions v ON v.credential = c.name AND v.version_id = ?2
               WHERE c.name = ?1";
    let row = conn
        .query_row(sql, params![name, version.as_str()], |row| {
            row.get::<_, Option<String>>(0)
        })
        .optional()
        .during(op)?;
    Ok(row.map(|value| value.map(SecretValue::new)))
}

pub(crate) fn insert_version(
    conn: &Connection,
    name: &str,
    version: &VersionId,
    value: &SecretValue,
    created_at: i64,
    op: Op,
) -> Result<(), LocalError> {
    let sql = "INSERT INTO versions (credential, version_id, value, created_at)
               VALUES (?1, ?2, ?3, ?4)";
    conn.execute(
        sql,
        params![name, version.as_str(), value.expose(), created_at],
    )
    .during(op)?;
    Ok(())
}

/// The version carrying `stage`, if any.
pub(crate) fn stage_holder(
    conn: &Connection,
    name: &str,
    stage: Stage,
    op: Op,
) -> Result<Option<VersionId>, LocalError> {
    let sql = "SELECT version_id FROM stages WHERE credential = ?1 AND stage = ?2";
    let holder = conn
        .query_row(sql, params![name, stage_name(stage)], |row| row.get(0))
        .optional()
        .during(op)?;
    Ok(holder.map(VersionId))
}

/// Puts `stage` on `version`, taking it from whichever version had it.
pub(crate) fn set_stage(
    conn: &Connection,
    name: &str,
    stage: Stage,
    version: &VersionId,
    op: Op,
) -> Result<(), LocalError> {
    let sql = "INSERT OR REPLACE INTO stages (credential, stage, version_id) VALUES (?1, ?2, ?3)";
    conn.execute(sql, params![name, stage_name(stage), version.as_str()])
        .during(op)?;
    Ok(())
}

/// Takes `stage` off `version`, or off any version when `version` is `None`.
pub(crate) fn clear_stage(
    conn: &Connection,
    name: &str,
    stage: Stage,
    version: Option<&VersionId>,
    op: Op,
) -> Result<(), LocalError> {
    let sql = "DELETE FROM stages WHERE credential = ?1 AND stage = ?2
               AND (?3 IS NULL OR version_id = ?3)";
    let version = version.map(VersionId::as_str);
    conn.execute(sql, params![name, stage_name(stage), version])
        .during(op)?;
    Ok(())
}

/// Deletes the versions without a stage beyond the newest [`KEEP_DEPRECATED`].
pub(crate) fn prune(conn: &Connection, name: &str, op: Op) -> Result<usize, LocalError> {
    let sql = "DELETE FROM versions WHERE rowid IN (
                   SELECT v.rowid FROM versions v
                   WHERE v.credential = ?1 AND NOT EXISTS (
                       SELECT 1 FROM stages s
                       WHERE s.credential = v.credential AND s.version_id = v.version_id)
                   ORDER BY v.rowid DESC LIMIT -1 OFFSET ?2)";
    conn.execute(sql, params![name, KEEP_DEPRECATED]).during(op)
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Current => "current",
        Stage::Pending => "pending",
        Stage::Previous => "previous",
    }
}

fn parse_stage(name: &str, op: Op) -> Result<Stage, LocalError> {
    match name {
        "current" => Ok(Stage::Current),
        "pending" => Ok(Stage::Pending),
        "previous" => Ok(Stage::Previous),
        other => Err(LocalError::InvalidData {
            op,
            detail: format!("unknown stage {other:?}"),
        }),
    }
}

fn parse_tags(json: &str, op: Op) -> Result<Tags, LocalError> {
    serde_json::from_str(json).map_err(|e| LocalError::InvalidData {
        op,
        detail: format!("tags are not a JSON object of strings: {e}"),
    })
}

/// Tags as stored: a JSON object.
pub(crate) fn tags_json(tags: &Tags, op: Op) -> Result<String, LocalError> {
    serde_json::to_string(tags).map_err(|e| LocalError::InvalidData {
        op,
        detail: format!("tags do not serialise: {e}"),
    })
}
