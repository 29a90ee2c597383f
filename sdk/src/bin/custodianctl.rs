//! `custodianctl`: the Custodian API from a shell or a script. Every command
//! prints JSON on success and one line on stderr on failure (exit status 1),
//! so scripts can pipe it into `jq` and test `$?`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use custodian_sdk::{ClientBuilder, describe};

#[derive(Parser)]
#[command(version, about = "Drive the Custodian admin API from scripts")]
struct Cli {
    /// The server's base URL.
    #[arg(
        long,
        env = "CUSTODIAN_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// A bearer token (admin or API client).
    #[arg(long, env = "CUSTODIAN_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Is the server up? (GET /healthz)
    Health,
    /// Is the server ready to serve: database reachable, schema current? (GET /readyz)
    Ready,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("custodianctl: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<String, String> {
    let mut builder = ClientBuilder::new(&cli.url);
    if let Some(token) = cli.token {
        builder = builder.bearer_token(token);
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    match cli.command {
        Command::Health => {
            let health = client.health_get().send().await.map_err(|e| describe(&e))?;
            Ok(pretty(&health.into_inner()))
        }
        Command::Ready => {
            let ready = client
                .readiness_get()
                .send()
                .await
                .map_err(|e| describe(&e))?;
            Ok(pretty(&ready.into_inner()))
        }
    }
}

/// Pretty JSON of an answer.
fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("a decoded answer serializes")
}
