//! Which transport a function binary serves: the Lambda runtime API when
//! Lambda runs it, else HTTP on the port Cloud Run or Azure Functions
//! gives it.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::{Function, router};

/// Set by Lambda in every function's environment.
pub const LAMBDA_RUNTIME_API_ENV: &str = "AWS_LAMBDA_RUNTIME_API";
/// The port an Azure Functions custom handler listens on.
pub const AZURE_PORT_ENV: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";
/// The port a Cloud Run container listens on.
pub const CLOUD_RUN_PORT_ENV: &str = "PORT";

/// Where a function takes its invocations from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// The Lambda runtime API.
    Lambda,
    /// An HTTP listener.
    Http(SocketAddr),
}

impl Transport {
    /// Lambda when [`LAMBDA_RUNTIME_API_ENV`] is set; else HTTP on
    /// `0.0.0.0` and [`AZURE_PORT_ENV`] or [`CLOUD_RUN_PORT_ENV`].
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`Transport::from_env`], reading variables through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        if set(LAMBDA_RUNTIME_API_ENV).is_some() {
            return Ok(Self::Lambda);
        }
        let (name, port) = match (set(AZURE_PORT_ENV), set(CLOUD_RUN_PORT_ENV)) {
            (Some(port), _) => (AZURE_PORT_ENV, port),
            (None, Some(port)) => (CLOUD_RUN_PORT_ENV, port),
            (None, None) => anyhow::bail!(
                "set {LAMBDA_RUNTIME_API_ENV} (Lambda), {AZURE_PORT_ENV} (Azure Functions) \
                 or {CLOUD_RUN_PORT_ENV} (Cloud Run)"
            ),
        };
        let port: u16 = port
            .trim()
            .parse()
            .with_context(|| format!("{name} must be a port number"))?;
        Ok(Self::Http(SocketAddr::from(([0, 0, 0, 0], port))))
    }
}

/// Runs `function` on the transport [`Transport::from_env`] chooses, until
/// the runtime or the listener stops.
pub async fn run(function: Arc<dyn Function>) -> Result<(), lambda_runtime::Error> {
    match Transport::from_env()? {
        Transport::Lambda => {
            let handler = service_fn(|event: LambdaEvent<Value>| {
                let function = function.clone();
                async move { function.invoke(event.payload).await }
            });
            lambda_runtime::run(handler).await
        }
        Transport::Http(address) => Ok(serve(function, address).await?),
    }
}

/// Serves `function`'s [`router`] on `address`.
pub async fn serve(function: Arc<dyn Function>, address: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("failed to listen on {address}"))?;
    tracing::info!(%address, "serving HTTP");
    axum::serve(listener, router(&function))
        .await
        .context("the HTTP listener failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn lambda_wins_then_azure_then_cloud_run() {
        let all = vars(&[
            (LAMBDA_RUNTIME_API_ENV, "127.0.0.1:9001"),
            (AZURE_PORT_ENV, "7071"),
            (CLOUD_RUN_PORT_ENV, "8080"),
        ]);
        assert_eq!(Transport::from_vars(all).ok(), Some(Transport::Lambda));

        let azure = vars(&[(AZURE_PORT_ENV, "7071"), (CLOUD_RUN_PORT_ENV, "8080")]);
        let expected = Transport::Http(SocketAddr::from(([0, 0, 0, 0], 7071)));
        assert_eq!(Transport::from_vars(azure).ok(), Some(expected));

        let cloud_run = vars(&[(CLOUD_RUN_PORT_ENV, "8080")]);
        let expected = Transport::Http(SocketAddr::from(([0, 0, 0, 0], 8080)));
        assert_eq!(Transport::from_vars(cloud_run).ok(), Some(expected));
    }

    #[test]
    fn no_transport_or_a_bad_port_is_an_error() {
        assert!(Transport::from_vars(vars(&[])).is_err());
        let bad = Transport::from_vars(vars(&[(CLOUD_RUN_PORT_ENV, "http")]));
        assert!(bad.is_err_and(|e| e.to_string().contains("PORT")));
    }
}
