//! `custodianctl`: the Custodian API from a shell or a script. Every command
//! prints JSON on success and one line on stderr on failure (exit status 1),
//! so scripts can pipe it into `jq` and test `$?`.
//!
//! Signing in: a command that needs a token uses `CUSTODIAN_TOKEN` when it
//! is set; otherwise it signs in with `CUSTODIAN_CLIENT_ID` and
//! `CUSTODIAN_CLIENT_SECRET` (an API client) or `CUSTODIAN_EMAIL` and
//! `CUSTODIAN_PASSWORD` (an admin). Secrets are read from the environment
//! only, never from arguments, which other users of the machine can see.
//! `custodianctl login` prints a token to reuse as `CUSTODIAN_TOKEN`.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use custodian_sdk::{Client, ClientBuilder, Credentials, Session, describe, types};

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
    /// A bearer token (admin or API client), e.g. from `custodianctl login`.
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
    /// Sign in and print the token answer (`access_token`, `expires_in`, `scope`).
    Login,
    /// The partner's admins.
    #[command(subcommand)]
    Admins(AdminsCommand),
    /// The partner's API clients.
    #[command(subcommand, name = "api-clients")]
    ApiClients(ApiClientsCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand)]
enum AdminsCommand {
    /// List admins (one page).
    List(Page),
    /// Show one admin.
    Get { admin_id: uuid::Uuid },
    /// Create an admin; prints the admin and their one-time password.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// owner, admin or technician.
        #[arg(long)]
        role: String,
        /// A technician's company (repeat for several).
        #[arg(long = "company")]
        companies: Vec<uuid::Uuid>,
        /// en, fr, de, es, it, nl or ja.
        #[arg(long)]
        locale: Option<String>,
    },
    /// Remove an admin.
    Delete { admin_id: uuid::Uuid },
}

#[derive(Subcommand)]
enum ApiClientsCommand {
    /// List API clients (one page).
    List(Page),
    /// Create an API client; prints it and its secret, shown only this once.
    Create {
        #[arg(long)]
        name: String,
        /// A scope, e.g. users:read (repeat for several).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Limit the client to a company (repeat for several; none: all).
        #[arg(long = "company")]
        companies: Vec<uuid::Uuid>,
    },
    /// Remove an API client; its tokens stop working at once.
    Delete { client_id: uuid::Uuid },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// List events (one page), oldest first.
    List {
        /// Events of this actor.
        #[arg(long)]
        actor: Option<String>,
        /// Events of this action, e.g. auth.sign_in.
        #[arg(long)]
        action: Option<String>,
        /// Events about this object.
        #[arg(long)]
        target: Option<String>,
        /// At or after this time (RFC 3339).
        #[arg(long)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Before this time (RFC 3339).
        #[arg(long)]
        to: Option<chrono::DateTime<chrono::Utc>>,
        #[command(flatten)]
        page: Page,
    },
    /// Check that no event was altered or removed.
    Verify,
}

/// One page of a list.
#[derive(Args)]
struct Page {
    /// `next_cursor` of the page before.
    #[arg(long)]
    cursor: Option<String>,
    /// 1 to 200 (default 50).
    #[arg(long)]
    limit: Option<u32>,
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

/// The credentials the environment names, if any.
fn credentials() -> Result<Option<Credentials>, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("CUSTODIAN_CLIENT_ID"),
        var("CUSTODIAN_CLIENT_SECRET"),
        var("CUSTODIAN_EMAIL"),
        var("CUSTODIAN_PASSWORD"),
    ) {
        (Some(id), Some(secret), _, _) => Ok(Some(Credentials::client_credentials(id, secret))),
        (Some(_), None, _, _) => {
            Err("CUSTODIAN_CLIENT_ID is set without CUSTODIAN_CLIENT_SECRET".into())
        }
        (None, _, Some(email), Some(password)) => Ok(Some(Credentials::password(email, password))),
        (None, _, Some(_), None) => Err("CUSTODIAN_EMAIL is set without CUSTODIAN_PASSWORD".into()),
        _ => Ok(None),
    }
}

const NO_CREDENTIALS: &str = "not signed in: set CUSTODIAN_TOKEN, or CUSTODIAN_CLIENT_ID and \
    CUSTODIAN_CLIENT_SECRET, or CUSTODIAN_EMAIL and CUSTODIAN_PASSWORD";

/// A client that sends a token: the one given, or one signed in for.
async fn signed_in(cli: &Cli) -> Result<Client, String> {
    let builder = ClientBuilder::new(&cli.url);
    if let Some(token) = &cli.token {
        return builder
            .bearer_token(token)
            .build()
            .map_err(|e| e.to_string());
    }
    let credentials = credentials()?.ok_or(NO_CREDENTIALS)?;
    Session::new(builder, credentials)
        .client()
        .await
        .map_err(|e| e.to_string())
}

async fn run(cli: Cli) -> Result<String, String> {
    let anonymous = || {
        ClientBuilder::new(&cli.url)
            .build()
            .map_err(|e| e.to_string())
    };
    match &cli.command {
        Command::Health => {
            let health = anonymous()?
                .health_get()
                .send()
                .await
                .map_err(|e| describe(&e))?;
            Ok(pretty(&health.into_inner()))
        }
        Command::Ready => {
            let ready = anonymous()?
                .readiness_get()
                .send()
                .await
                .map_err(|e| describe(&e))?;
            Ok(pretty(&ready.into_inner()))
        }
        Command::Login => {
            let credentials = credentials()?.ok_or(NO_CREDENTIALS)?;
            let session = Session::new(ClientBuilder::new(&cli.url), credentials);
            let token = session.token().await.map_err(|e| e.to_string())?;
            Ok(pretty(&token))
        }
        Command::Admins(command) => admins(&signed_in(&cli).await?, command).await,
        Command::ApiClients(command) => api_clients(&signed_in(&cli).await?, command).await,
        Command::Audit(command) => audit(&signed_in(&cli).await?, command).await,
    }
}

async fn admins(client: &Client, command: &AdminsCommand) -> Result<String, String> {
    match command {
        AdminsCommand::List(page) => {
            let mut request = client.admins_list();
            if let Some(cursor) = &page.cursor {
                request = request.cursor(cursor);
            }
            if let Some(limit) = page.limit {
                request = request.limit(limit);
            }
            let page = request.send().await.map_err(|e| describe(&e))?;
            Ok(pretty(&page.into_inner()))
        }
        AdminsCommand::Get { admin_id } => {
            let admin = client
                .admin_get()
                .admin_id(*admin_id)
                .send()
                .await
                .map_err(|e| describe(&e))?;
            Ok(pretty(&admin.into_inner()))
        }
        AdminsCommand::Create {
            email,
            name,
            role,
            companies,
            locale,
        } => {
            let role: types::AdminRole = role
                .parse()
                .map_err(|_| format!("--role {role:?}: one of owner, admin, technician"))?;
            let created = client
                .admins_create()
                .body(types::NewAdmin {
                    email: email.clone(),
                    name: name.clone(),
                    role,
                    companies: (!companies.is_empty()).then(|| companies.clone()),
                    locale: locale.clone(),
                })
                .send()
                .await
                .map_err(|e| describe(&e))?;
            Ok(pretty(&created.into_inner()))
        }
        AdminsCommand::Delete { admin_id } => {
            client
                .admin_delete()
                .admin_id(*admin_id)
                .send()
                .await
                .map_err(|e| describe(&e))?;
            Ok(pretty(&serde_json::json!({ "deleted": admin_id })))
        }
    }
}

async fn api_clients(client: &Client, command: &ApiClientsCommand) -> Result<String, String> {
    match command {
        ApiClientsCommand::List(page) => {
            let mut request = client.api_clients_list();
            if let Some(cursor) = &page.cursor {
                request = request.cursor(cursor);
            }
            if let Some(limit) = page.limit {
                request = request.limit(limit);
            }
            let page = request.send().await.map_err(|e| describe(&e))?;
            Ok(pretty(&page.into_inner()))
        }
        ApiClientsCommand::Create {
            name,
            scopes,
            companies,
        } => {
            let created = client
                .api_clients_create()
                .body(types::NewApiClient {
                    name: name.clone(),
                    scopes: scopes.clone(),
                    companies: (!companies.is_empty()).then(|| companies.clone()),
                })
                .send()
                .await
                .map_err(|e| describe(&e))?;
            Ok(pretty(&created.into_inner()))
        }
        ApiClientsCommand::Delete { client_id } => {
            client
                .api_client_delete()
                .client_id(*client_id)
                .send()
                .await
                .map_err(|e| describe(&e))?;
            Ok(pretty(&serde_json::json!({ "deleted": client_id })))
        }
    }
}

async fn audit(client: &Client, command: &AuditCommand) -> Result<String, String> {
    match command {
        AuditCommand::List {
            actor,
            action,
            target,
            from,
            to,
            page,
        } => {
            let mut request = client.audit_events_list();
            if let Some(actor) = actor {
                request = request.actor_id(actor);
            }
            if let Some(action) = action {
                request = request.action(action);
            }
            if let Some(target) = target {
                request = request.target_id(target);
            }
            if let Some(from) = from {
                request = request.from(*from);
            }
            if let Some(to) = to {
                request = request.to(*to);
            }
            if let Some(cursor) = &page.cursor {
                request = request.cursor(cursor);
            }
            if let Some(limit) = page.limit {
                request = request.limit(limit);
            }
            let events = request.send().await.map_err(|e| describe(&e))?;
            Ok(pretty(&events.into_inner()))
        }
        AuditCommand::Verify => {
            let verification = client
                .audit_events_verify()
                .send()
                .await
                .map_err(|e| describe(&e))?;
            Ok(pretty(&verification.into_inner()))
        }
    }
}

/// Pretty JSON of an answer.
fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("a decoded answer serializes")
}
