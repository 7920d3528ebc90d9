//! `rekey`: run the rekey pipeline on this machine.
//!
//! - `rekey serve` runs local mode: a scheduler that wakes the sweep, an
//!   HTTP listener on loopback for events, audit lines on stdout;
//! - `rekey invoke <function> --event <file>` runs one function once;
//! - `rekey inventory` lists the managed credentials;
//! - `rekey rotate <credential>` rotates one credential now.
//!
//! With no cloud configured, everything runs on the embedded SQLite store.

mod functions;
mod inventory;
mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use rekey_app::{App, Config};
use rekey_core::{AuditSink, CredentialId, Provider, Trigger};

use crate::functions::{Function, Functions};

/// The largest event file `rekey invoke` reads (Lambda's own payload limit).
const MAX_EVENT_BYTES: u64 = 6 * 1024 * 1024;

/// The stores `rekey rotate --provider` names a credential's home by.
const STORE_PROVIDERS: [&str; 4] = [
    "local",
    "aws-secrets-manager",
    "gcp-secret-manager",
    "azure-key-vault",
];

#[derive(Parser)]
#[command(
    name = "rekey",
    version,
    about = "Keep machine credentials short-lived."
)]
struct Cli {
    /// The configuration file (policies, stores, ledger).
    #[arg(long, short, global = true, env = rekey_app::CONFIG_ENV)]
    config: Option<PathBuf>,

    /// Where the embedded store keeps its SQLite file.
    #[arg(long, global = true, env = rekey_app::DATA_DIR_ENV, default_value = rekey_app::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run local mode: sweep on a schedule and accept events over HTTP.
    Serve(serve::ServeArgs),
    /// Run one function once on one event and print its JSON answer.
    Invoke {
        /// The function, by crate name: rekey-rotate, rekey-sweep,
        /// rekey-anomaly or rekey-usage.
        function: String,
        /// The event file (JSON); `-` reads standard input.
        #[arg(long, short)]
        event: PathBuf,
        /// Replace a top-level string field of the event, as FIELD=VALUE
        /// (for example SecretId=my-secret). May be repeated.
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
    /// List the managed credentials: age, versions, policy, next rotation.
    Inventory {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Rotate one credential now, whatever its age.
    Rotate {
        /// The credential: a local name, or a Secrets Manager ARN or name.
        credential: String,
        /// Its provider.
        #[arg(long, default_value = "local", value_parser = STORE_PROVIDERS)]
        provider: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logs();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    match cli.command {
        Command::Serve(args) => {
            let app = build(
                config,
                &cli.data_dir,
                Arc::new(rekey_core::audit::JsonLines::stdout()),
            )
            .await?;
            serve::run(Functions::new(app).await?, args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Invoke {
            function,
            event,
            set,
        } => {
            let app = build(config, &cli.data_dir, stderr_audit()).await?;
            invoke(&Functions::new(app).await?, &function, &event, &set).await
        }
        Command::Inventory { json } => {
            let app = build(config, &cli.data_dir, stderr_audit()).await?;
            inventory::print(&app, json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rotate {
            credential,
            provider,
        } => {
            let app = build(config, &cli.data_dir, stderr_audit()).await?;
            rotate(&app, &credential, &provider).await
        }
    }
}

async fn build(config: Config, data_dir: &Path, audit: Arc<dyn AuditSink>) -> anyhow::Result<App> {
    App::build(config, data_dir, audit)
        .await
        .context("failed to start rekey")
}

/// Audit lines on stderr, so stdout carries only the command's answer.
fn stderr_audit() -> Arc<dyn AuditSink> {
    Arc::new(rekey_core::audit::JsonLines::new(std::io::stderr()))
}

async fn invoke(
    functions: &Functions,
    name: &str,
    path: &Path,
    set: &[String],
) -> anyhow::Result<ExitCode> {
    let function = Function::from_name(name).with_context(|| {
        format!(
            "unknown function `{name}`; the functions are {}",
            functions::NAMES.join(", ")
        )
    })?;
    let mut event = read_event(path)?;
    for assignment in set {
        apply_override(&mut event, assignment)?;
    }

    let (answer, code) = match functions.invoke(function, event).await {
        Ok(answer) => (answer, ExitCode::SUCCESS),
        Err(error) => (serde_json::to_value(error)?, ExitCode::FAILURE),
    };
    write_json(&answer)?;
    Ok(code)
}

fn read_event(path: &Path) -> anyhow::Result<serde_json::Value> {
    use std::io::Read as _;

    let shown = path.display();
    let mut bytes = Vec::new();
    let reader: Box<dyn std::io::Read> = match path.to_str() {
        Some("-") => Box::new(std::io::stdin()),
        _ => Box::new(
            std::fs::File::open(path)
                .with_context(|| format!("failed to open event file {shown}"))?,
        ),
    };
    reader
        .take(MAX_EVENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("failed to read event file {shown}"))?;
    anyhow::ensure!(
        bytes.len() as u64 <= MAX_EVENT_BYTES,
        "event file {shown} is larger than {MAX_EVENT_BYTES} bytes"
    );
    serde_json::from_slice(&bytes).with_context(|| format!("event file {shown} is not valid JSON"))
}

fn apply_override(event: &mut serde_json::Value, assignment: &str) -> anyhow::Result<()> {
    let (field, value) = assignment.split_once('=').with_context(|| {
        format!(
            "--set takes FIELD=VALUE, got `{field}`",
            field = assignment.split('=').next().unwrap_or("")
        )
    })?;
    let object = event
        .as_object_mut()
        .context("--set needs an event that is a JSON object")?;
    // Only a field the event has: a misspelt one would otherwise leave the
    // sample's own value in place and act on the sample's credential.
    let Some(slot) = object.get_mut(field) else {
        let mut fields: Vec<&str> = object.keys().map(String::as_str).collect();
        fields.sort_unstable();
        anyhow::bail!(
            "--set {field}: the event has no top-level field `{field}`; it has {}",
            fields.join(", ")
        );
    };
    *slot = serde_json::Value::String(value.to_owned());
    Ok(())
}

async fn rotate(app: &App, credential: &str, provider: &str) -> anyhow::Result<ExitCode> {
    let provider =
        Provider::from_name(provider).with_context(|| format!("unknown provider `{provider}`"))?;
    let id = CredentialId::new(provider, credential);
    let rotated = app
        .engine()
        .rotate(&id, &Trigger::Manual)
        .await
        .with_context(|| format!("failed to rotate {id}"))?;
    write_json(&serde_json::json!({
        "credential": id,
        "version": rotated.version,
        "replaced": rotated.replaced,
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// Prints a command's answer on stdout: the one place `rekey` writes there
/// besides audit lines in `serve`.
#[allow(clippy::print_stdout, reason = "the command's answer goes to stdout")]
fn write_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
