//! `rekey inventory`: the managed credentials as a table or as JSON.

use rekey_app::App;
use rekey_core::InventoryEntry;
use rekey_core::decision::rfc3339;

/// Prints the inventory of `app`'s stores.
#[allow(clippy::print_stdout, reason = "the inventory is the command's answer")]
pub async fn print(app: &App, json: bool) -> anyhow::Result<()> {
    let entries = app.engine().inventory().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    if entries.is_empty() {
        println!(
            "no managed credentials (tag a credential with rekey:policy, or add [[seed]] entries and run `rekey serve`)"
        );
        return Ok(());
    }
    let rows: Vec<[String; 7]> = entries.iter().map(row).collect();
    let header = [
        "PROVIDER",
        "CREDENTIAL",
        "POLICY",
        "CURRENT",
        "AGE",
        "NEXT ROTATION",
        "STATE",
    ];
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    println!("{}", line(&header.map(String::from)));
    for row in &rows {
        println!("{}", line(row));
    }
    Ok(())
}

fn row(entry: &InventoryEntry) -> [String; 7] {
    let short = |v: &Option<rekey_core::VersionId>| {
        v.as_ref()
            .map_or("-".into(), |v| v.as_str().chars().take(8).collect())
    };
    let mut state = Vec::new();
    if let Some(problem) = &entry.problem {
        state.push(format!("problem: {problem}"));
    }
    if entry.pending_version.is_some() {
        state.push(format!("pending {}", short(&entry.pending_version)));
    }
    if entry.previous_version.is_some() {
        state.push(format!(
            "previous {} in grace",
            short(&entry.previous_version)
        ));
    }
    [
        entry.credential.provider.to_string(),
        entry.name.clone(),
        entry.policy.clone().unwrap_or_else(|| "-".into()),
        short(&entry.current_version),
        entry.age_seconds.map_or("-".into(), |s| {
            humantime::format_duration(std::time::Duration::from_secs(s)).to_string()
        }),
        entry.next_rotation.map_or("-".into(), |at| {
            rfc3339(at.replace_nanosecond(0).unwrap_or(at))
        }),
        if state.is_empty() {
            "ok".into()
        } else {
            state.join(", ")
        },
    ]
}
