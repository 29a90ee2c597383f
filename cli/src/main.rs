//! `custodianctl`: the Custodian API from a shell or a script. Every command
//! prints JSON on success and one line on stderr on failure (exit status 1),
//! so scripts can pipe it into `jq` and test `$?`.
//!
//! Signing in: a command that needs a token uses `CUSTODIAN_TOKEN` when it
//! is set; otherwise it signs in with `CUSTODIAN_CLIENT_ID` and
//! `CUSTODIAN_CLIENT_SECRET` (an API client) or `CUSTODIAN_PARTNER`,
//! `CUSTODIAN_EMAIL` and `CUSTODIAN_PASSWORD` (an admin of that partner). Secrets are read from the environment
//! only, never from arguments, which other users of the machine can see.
//! `custodianctl login` prints a token to reuse as `CUSTODIAN_TOKEN`.
//!
//! The platform operator's `partners` commands sign in with
//! `CUSTODIAN_TOKEN` (an operator's), or at the operator's own token
//! endpoint with `CUSTODIAN_OPERATOR_CLIENT_ID` and
//! `CUSTODIAN_OPERATOR_CLIENT_SECRET` (one of its API clients) or
//! `CUSTODIAN_EMAIL` and `CUSTODIAN_PASSWORD`.
//!
//! Commands: `health`, `ready`, `login`, `partners`, `admins`, `api-clients`, `audit`,
//! `companies`, `scim-tokens`, `users find|get|add`, `backup-profile get|set`, `reset`,
//! `resets list|show`.
//!
//! Exit status: 0 when the command did what it asked; 1 when it failed (the
//! line on stderr says why). `reset` of several users adds 2 when some of
//! them were reset and some not, and 3 when none was.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use custodian_sdk::{
    Client, ClientBuilder, Credentials, Error, ProblemLike, ResponseValue, Session, describe, types,
};

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
    Login {
        /// Sign in as the platform operator (an API client's id and secret,
        /// or `CUSTODIAN_EMAIL` and `CUSTODIAN_PASSWORD`, no partner).
        #[arg(long)]
        operator: bool,
    },
    /// Partners, for the platform operator: signs in with `CUSTODIAN_TOKEN`
    /// (an operator's), `CUSTODIAN_OPERATOR_CLIENT_ID` and
    /// `CUSTODIAN_OPERATOR_CLIENT_SECRET` (one of its API clients), or
    /// `CUSTODIAN_EMAIL` and `CUSTODIAN_PASSWORD`.
    #[command(subcommand)]
    Partners(PartnersCommand),
    /// The partner's admins.
    #[command(subcommand)]
    Admins(AdminsCommand),
    /// The partner's API clients.
    #[command(subcommand, name = "api-clients")]
    ApiClients(ApiClientsCommand),
    /// A company's SCIM tokens, for its directory's provisioning.
    #[command(subcommand, name = "scim-tokens")]
    ScimTokens(ScimTokensCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The partner's companies.
    #[command(subcommand)]
    Companies(CompaniesCommand),
    /// Users: locate, show, add (which invites them), invite again, change,
    /// disable, enable, offboard.
    #[command(subcommand)]
    Users(UsersCommand),
    /// A company's backup profile.
    #[command(subcommand, name = "backup-profile")]
    BackupProfile(BackupProfileCommand),
    /// Reset master passwords: prints the preview (on stderr), then asks
    /// for the confirmation phrase when run in a terminal; `--yes` confirms
    /// without asking (scripts). Each user's vault is purged and the user
    /// gets an email; the secret is never shown. Several users (or
    /// `--from`) make a batch: its progress is shown until it ends, then a
    /// summary per outcome is printed, and the exit status is 0 when every
    /// user was reset, 2 when some were, 3 when none was, 4 when every user
    /// not reset awaits a second admin's approval.
    Reset(ResetArgs),
    /// Master-password resets.
    #[command(subcommand)]
    Resets(ResetsCommand),
}

#[derive(Args)]
struct ResetArgs {
    /// The users, by id or email.
    users: Vec<String>,
    /// A file of users, one id or email per line (`-`: standard input);
    /// blank lines and lines starting with `#` are skipped.
    #[arg(long, value_name = "FILE")]
    from: Option<String>,
    /// Confirm without asking.
    #[arg(long)]
    yes: bool,
    /// Go on although company items that are not backed up will be lost.
    #[arg(long)]
    ack_company_data_loss: bool,
    /// Replace the user's pending reset (the one the preview names); one
    /// user only: a batch leaves users with a pending reset alone.
    #[arg(long)]
    supersede: bool,
    /// Why, kept with the reset and in the audit log.
    #[arg(long)]
    reason: Option<String>,
    /// The ticket in your PSA.
    #[arg(long)]
    ticket: Option<String>,
    /// Makes a retried command answer the first result instead of resetting
    /// again (e.g. the ticket number).
    #[arg(long)]
    idempotency_key: Option<String>,
}

#[derive(Subcommand)]
enum ResetsCommand {
    /// List resets (one page), oldest first.
    List {
        /// Resets of this user only.
        #[arg(long)]
        user: Option<uuid::Uuid>,
        /// Resets of this company's users only.
        #[arg(long)]
        company: Option<uuid::Uuid>,
        /// awaiting_approval, pending_user_action, completed, superseded,
        /// expired or rejected.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        page: Page,
    },
    /// Show one reset, with its email's status.
    Show { reset_id: uuid::Uuid },
    /// Send a pending reset's user a fresh secret: the old one dies at once,
    /// nothing is purged again.
    Reissue { reset_id: uuid::Uuid },
    /// Resets waiting for a second admin's approval (one page), oldest
    /// first: each with the policies that asked for approval and when it
    /// expires.
    Pending {
        /// Resets of this company's users only.
        #[arg(long)]
        company: Option<uuid::Uuid>,
        #[command(flatten)]
        page: Page,
    },
    /// Approve a reset another admin asked for: it runs now, on the vault as
    /// it is (purge, email). Never your own request.
    Approve {
        reset_id: uuid::Uuid,
        /// Go on although company items that are not backed up will be lost.
        #[arg(long)]
        ack_company_data_loss: bool,
        /// Why, kept with the decision and in the audit log.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject a reset another admin asked for: nothing of the user changes.
    Reject {
        reset_id: uuid::Uuid,
        /// Why, kept with the decision and in the audit log.
        #[arg(long)]
        comment: Option<String>,
    },
}

#[derive(Subcommand)]
enum CompaniesCommand {
    /// List the companies the caller may see (one page).
    List {
        #[command(flatten)]
        page: Page,
        /// The retired companies instead of the others.
        #[arg(long)]
        retired: bool,
    },
    /// Show one company.
    Get { company_id: uuid::Uuid },
    /// Create a company (its backup profile starts off).
    Create {
        #[arg(long)]
        name: String,
        /// The PSA's own id for it, unique among the partner's active companies.
        #[arg(long)]
        external_id: Option<String>,
    },
    /// Rename a company, or give it the PSA's id.
    Update {
        company_id: uuid::Uuid,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        external_id: Option<String>,
    },
    /// Retire a company: refused while it has users unless --offboard-users
    /// offboards them all (every one or none). Its backup copies are kept
    /// for their retention; the company goes with the last.
    Retire {
        company_id: uuid::Uuid,
        /// Offboard the company's users with it.
        #[arg(long)]
        offboard_users: bool,
        /// Accept losing company items that have no backup copy.
        #[arg(long)]
        ack_company_data_loss: bool,
        /// Retire (without it, nothing is done).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Locate users: QUERY with an @ after its first character is the start
    /// of an email; other text is found anywhere in the email or the name.
    Find {
        query: String,
        /// Only users of this company.
        #[arg(long)]
        company: Option<uuid::Uuid>,
        #[command(flatten)]
        page: Page,
    },
    /// Show one user.
    Get { user_id: uuid::Uuid },
    /// Add a user to a company: they are emailed an invitation to choose
    /// their master password.
    Add {
        #[arg(long)]
        company: uuid::Uuid,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// desktop or webapp.
        #[arg(long)]
        client_kind: String,
        /// en, fr, de, es, it, nl or ja.
        #[arg(long)]
        locale: Option<String>,
        /// The company's primary user.
        #[arg(long)]
        primary: bool,
        /// The PSA's or the directory's own id for the user, unique in the
        /// company.
        #[arg(long)]
        external_id: Option<String>,
    },
    /// Email an invited user a new invitation; the earlier link stops
    /// working.
    Invite { user_id: uuid::Uuid },
    /// Change a user. Without --if-match, the ETag is read just before;
    /// with it, the change fails (412) if the user changed since.
    Update {
        user_id: uuid::Uuid,
        #[arg(long)]
        name: Option<String>,
        /// en, fr, de, es, it, nl or ja.
        #[arg(long)]
        locale: Option<String>,
        /// desktop or webapp.
        #[arg(long)]
        client_kind: Option<String>,
        /// Make the user their company's primary user (true) or not (false).
        #[arg(long)]
        primary: Option<bool>,
        #[arg(long)]
        external_id: Option<String>,
        /// The ETag of the version this change is made against.
        #[arg(long)]
        if_match: Option<String>,
    },
    /// Disable a user: their tokens, secrets and sign-ins are refused.
    Disable { user_id: uuid::Uuid },
    /// Enable a disabled user.
    Enable { user_id: uuid::Uuid },
    /// Offboard a user: purge their vault under the reset's rules and remove
    /// them. Prints what would go on stderr; --yes goes on.
    Offboard {
        user_id: uuid::Uuid,
        /// Accept losing company items that have no backup copy.
        #[arg(long)]
        ack_company_data_loss: bool,
        /// Offboard (without it, only the preview is shown).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum BackupProfileCommand {
    /// Show a company's backup profile, with its `etag`.
    Get { company_id: uuid::Uuid },
    /// Replace a company's backup profile. Without --if-match, the ETag is
    /// read just before; with it, the change fails (412) if the profile
    /// changed since that version.
    Set {
        company_id: uuid::Uuid,
        /// Back up all company-profile items (needs --public-key).
        #[arg(long, conflicts_with = "off")]
        on: bool,
        /// Stop backing up; existing copies age out by retention.
        #[arg(long)]
        off: bool,
        /// Days copies of removed items are kept (1 to 3650).
        #[arg(long)]
        retention_days: i32,
        /// The company's X25519 public key, base64.
        #[arg(long)]
        public_key: Option<String>,
        /// The ETag of the version this change is made against.
        #[arg(long)]
        if_match: Option<String>,
    },
}

#[derive(Subcommand)]
enum PartnersCommand {
    /// List partners (one page).
    List {
        #[command(flatten)]
        page: Page,
        /// Only the suspended ones.
        #[arg(long, conflicts_with = "active")]
        suspended: bool,
        /// Only the active ones.
        #[arg(long)]
        active: bool,
    },
    /// Show one partner.
    Get { partner_id: uuid::Uuid },
    /// Create a partner and its first owner, who is emailed an invitation.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
        #[arg(long)]
        owner_name: String,
        /// The invitation's language: en, fr, de, es, it, nl or ja.
        #[arg(long)]
        owner_locale: Option<String>,
        /// Makes a retried command answer the first result instead of
        /// creating a second partner.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Rename a partner.
    Rename {
        partner_id: uuid::Uuid,
        #[arg(long)]
        name: String,
    },
    /// Suspend a partner: every token of it is refused at once, its unsent
    /// emails are withdrawn and its running batches cancelled.
    Suspend {
        partner_id: uuid::Uuid,
        /// Suspend (without it, nothing is done).
        #[arg(long)]
        yes: bool,
    },
    /// Reactivate a suspended partner.
    Reactivate { partner_id: uuid::Uuid },
    /// Email the partner's owners who have not joined a new invitation.
    InviteOwners { partner_id: uuid::Uuid },
}

#[derive(Subcommand)]
enum AdminsCommand {
    /// List admins (one page).
    List(Page),
    /// Show one admin.
    Get { admin_id: uuid::Uuid },
    /// Create an admin, who is emailed an invitation to choose their
    /// password; prints the admin.
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
    /// Email an admin who has not joined a new invitation (the earlier
    /// link dies).
    Invite { admin_id: uuid::Uuid },
    /// Remove an admin (for one who has not joined: revoke the invitation).
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
enum ScimTokensCommand {
    /// List a company's SCIM tokens (one page).
    List {
        company_id: uuid::Uuid,
        #[command(flatten)]
        page: Page,
    },
    /// Make a SCIM token for a company's directory; prints it and its
    /// token, shown only this once.
    Create {
        company_id: uuid::Uuid,
        #[arg(long)]
        name: String,
        /// The client the directory's users run: desktop or webapp.
        #[arg(long, default_value = "desktop")]
        client_kind: String,
    },
    /// Remove a SCIM token; the directory's requests are refused at once.
    Delete {
        company_id: uuid::Uuid,
        token_id: uuid::Uuid,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// List events (one page), oldest first.
    List {
        /// Events of this actor.
        #[arg(long)]
        actor: Option<String>,
        /// Events of this action, e.g. signIn.
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

/// What a command printed, and the exit status it ends with.
struct Done {
    json: String,
    status: u8,
}

impl From<String> for Done {
    fn from(json: String) -> Self {
        Self { json, status: 0 }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(done) => {
            println!("{}", done.json);
            ExitCode::from(done.status)
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
        (None, _, Some(email), Some(password)) => {
            let partner = var("CUSTODIAN_PARTNER")
                .ok_or("CUSTODIAN_EMAIL is set without CUSTODIAN_PARTNER (the partner's id)")?;
            let partner = partner
                .trim()
                .parse()
                .map_err(|_| format!("CUSTODIAN_PARTNER {partner:?} is not a partner's id"))?;
            Ok(Some(Credentials::password(partner, email, password)))
        }
        (None, _, Some(_), None) => Err("CUSTODIAN_EMAIL is set without CUSTODIAN_PASSWORD".into()),
        _ => Ok(None),
    }
}

const NO_CREDENTIALS: &str = "not signed in: set CUSTODIAN_TOKEN, or CUSTODIAN_CLIENT_ID and \
    CUSTODIAN_CLIENT_SECRET, or CUSTODIAN_PARTNER, CUSTODIAN_EMAIL and CUSTODIAN_PASSWORD";

/// The platform operator's credentials the environment names: one of its
/// API clients', or a staff member's.
fn operator_credentials() -> Result<Credentials, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("CUSTODIAN_OPERATOR_CLIENT_ID"),
        var("CUSTODIAN_OPERATOR_CLIENT_SECRET"),
        var("CUSTODIAN_EMAIL"),
        var("CUSTODIAN_PASSWORD"),
    ) {
        (Some(id), Some(secret), _, _) => Ok(Credentials::operator_client(id, secret)),
        (Some(_), None, _, _) => Err(
            "CUSTODIAN_OPERATOR_CLIENT_ID is set without CUSTODIAN_OPERATOR_CLIENT_SECRET".into(),
        ),
        (None, _, Some(email), Some(password)) => Ok(Credentials::operator(email, password)),
        (None, _, Some(_), None) => Err("CUSTODIAN_EMAIL is set without CUSTODIAN_PASSWORD".into()),
        _ => Err(
            "not signed in as the operator: set CUSTODIAN_TOKEN (an operator's), or \
                  CUSTODIAN_OPERATOR_CLIENT_ID and CUSTODIAN_OPERATOR_CLIENT_SECRET (an \
                  operator's API client), or CUSTODIAN_EMAIL and CUSTODIAN_PASSWORD"
                .into(),
        ),
    }
}

/// A client that sends the platform operator's token: the one given, or
/// one signed in for.
async fn signed_in_as_operator(cli: &Cli) -> Result<Client, String> {
    let builder = ClientBuilder::new(&cli.url);
    if let Some(token) = &cli.token {
        return builder
            .bearer_token(token)
            .build()
            .map_err(|e| e.to_string());
    }
    Session::new(builder, operator_credentials()?)
        .client()
        .await
        .map_err(|e| e.to_string())
}

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

async fn run(cli: Cli) -> Result<Done, String> {
    if let Command::Reset(args) = &cli.command {
        return reset(&signed_in(&cli).await?, args).await;
    }
    run_command(&cli).await.map(Done::from)
}

async fn run_command(cli: &Cli) -> Result<String, String> {
    let anonymous = || {
        ClientBuilder::new(&cli.url)
            .build()
            .map_err(|e| e.to_string())
    };
    match &cli.command {
        Command::Health => answer(anonymous()?.health_get().send()).await,
        Command::Ready => answer(anonymous()?.readiness_get().send()).await,
        Command::Login { operator } => {
            let credentials = if *operator {
                operator_credentials()?
            } else {
                credentials()?.ok_or(NO_CREDENTIALS)?
            };
            let session = Session::new(ClientBuilder::new(&cli.url), credentials);
            let token = session.token().await.map_err(|e| e.to_string())?;
            Ok(pretty(&token))
        }
        Command::Partners(command) => partners(&signed_in_as_operator(cli).await?, command).await,
        Command::Admins(command) => admins(&signed_in(cli).await?, command).await,
        Command::ApiClients(command) => api_clients(&signed_in(cli).await?, command).await,
        Command::ScimTokens(command) => scim_tokens(&signed_in(cli).await?, command).await,
        Command::Audit(command) => audit(&signed_in(cli).await?, command).await,
        Command::Companies(command) => companies(&signed_in(cli).await?, command).await,
        Command::Users(command) => users(&signed_in(cli).await?, command).await,
        Command::BackupProfile(command) => backup_profile(&signed_in(cli).await?, command).await,
        Command::Reset(_) => unreachable!("answered by `run`"),
        Command::Resets(command) => resets(&signed_in(cli).await?, command).await,
    }
}

/// The phrase, from `--yes` or typed at the terminal after the preview.
fn confirmation(
    phrase: &types::ConfirmationPhrase,
    yes: bool,
    what: &str,
) -> Result<String, String> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes {
        return Ok(phrase.phrase.clone());
    }
    if !std::io::stdin().is_terminal() {
        return Err("not in a terminal: pass --yes to confirm the reset".into());
    }
    let localized = phrase
        .localized
        .as_deref()
        .map(|word| format!(" (or {word})"))
        .unwrap_or_default();
    eprint!("Type {}{localized} to reset {what}: ", phrase.phrase);
    std::io::stderr().flush().map_err(|e| e.to_string())?;
    let mut typed = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut typed)
        .map_err(|e| e.to_string())?;
    Ok(typed.trim().to_owned())
}

/// Resets one user (`reset_one`) or, for several or `--from`, makes a batch
/// (`reset_many`).
async fn reset(client: &Client, args: &ResetArgs) -> Result<Done, String> {
    let mut named = args.users.clone();
    if let Some(from) = &args.from {
        named.extend(read_users(from)?);
    }
    let mut ids = Vec::with_capacity(named.len());
    for user in &named {
        ids.push(user_id(client, user).await?);
    }
    match (ids.as_slice(), &args.from) {
        ([], _) => Err("name the users to reset, or --from a file of them".into()),
        ([one], None) => reset_one(client, args, *one).await.map(Done::from),
        _ if args.supersede => Err("--supersede resets one user at a time".into()),
        _ => reset_many(client, args, ids).await,
    }
}

/// The users a file names, one per line (`-`: standard input).
fn read_users(from: &str) -> Result<Vec<String>, String> {
    let text = if from == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("standard input: {e}"))?
    } else {
        std::fs::read_to_string(from).map_err(|e| format!("{from}: {e}"))?
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// A user's id: as given, or the one user the email names among those the
/// caller sees.
async fn user_id(client: &Client, user: &str) -> Result<uuid::Uuid, String> {
    if let Ok(id) = user.parse() {
        return Ok(id);
    }
    if !user.contains('@') {
        return Err(format!("{user:?} is neither a user's id nor an email"));
    }
    let found = client
        .users_search()
        .q(user)
        .send()
        .await
        .map_err(|e| describe(&e))?
        .into_inner();
    let mut matching = found
        .items
        .iter()
        .filter(|u| u.email.eq_ignore_ascii_case(user));
    match (matching.next(), matching.next()) {
        (Some(one), None) => Ok(one.id),
        (None, _) => Err(format!("no user has the email {user}")),
        (Some(_), Some(_)) => Err(format!(
            "{user} has accounts at several companies: name the user by id"
        )),
    }
}

async fn reset_one(client: &Client, args: &ResetArgs, user: uuid::Uuid) -> Result<String, String> {
    let preview = client
        .reset_preview_get()
        .user_id(user)
        .send()
        .await
        .map_err(|e| describe(&e))?
        .into_inner();
    eprintln!("{}", pretty(&preview));
    let what = format!("{}'s master password", preview.email);
    let body = types::ResetRequest {
        confirmation: confirmation(&preview.confirmation, args.yes, &what)?,
        acknowledge_company_data_loss: args.ack_company_data_loss.then_some(true),
        reason: args.reason.clone(),
        ticket: args.ticket.clone(),
        supersedes: if args.supersede {
            preview.supersedes
        } else {
            None
        },
    };
    let mut request = client.reset_create().user_id(user).body(body);
    if let Some(key) = &args.idempotency_key {
        request = request.idempotency_key(key.clone());
    }
    answer(request.send()).await
}

/// Resets several users as a batch: the preview's sums (on stderr), the
/// phrase, the batch, its progress until it ends (a bar on a terminal,
/// a line per change otherwise, on stderr), and a summary per outcome.
async fn reset_many(
    client: &Client,
    args: &ResetArgs,
    users: Vec<uuid::Uuid>,
) -> Result<Done, String> {
    let preview = client
        .reset_batch_preview()
        .body(types::BatchPreviewRequest {
            user_ids: users.clone(),
        })
        .send()
        .await
        .map_err(|e| describe(&e))?
        .into_inner();
    let t = &preview.totals;
    eprintln!(
        "{} of {} users may be reset: {} personal and {} company items deleted, {} of these kept \
         as backup copies and {} lost; {} users need --ack-company-data-loss; {} have a pending \
         reset and are left alone; {} denied; {} not found",
        t.users,
        users.len(),
        t.personal_items,
        t.company_items,
        t.company_items_backed_up,
        t.company_items_not_backed_up,
        t.users_needing_acknowledgement,
        t.pending_resets,
        preview.denied.len(),
        preview.not_found.len()
    );
    let what = format!("{} users' master passwords", users.len());
    let body = types::BatchRequest {
        user_ids: users,
        confirmation: confirmation(&preview.confirmation, args.yes, &what)?,
        acknowledge_company_data_loss: args.ack_company_data_loss.then_some(true),
        reason: args.reason.clone(),
        ticket: args.ticket.clone(),
    };
    let mut request = client.reset_batch_create().body(body);
    if let Some(key) = &args.idempotency_key {
        request = request.idempotency_key(key.clone());
    }
    let batch = request.send().await.map_err(|e| describe(&e))?.into_inner();
    eprintln!("batch {} accepted", batch.id);
    let view = follow(client, batch.id, batch.total).await?;
    let mut results: Vec<types::BatchUser> = Vec::with_capacity(batch.total as usize);
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client.reset_batch_get().batch_id(batch.id).limit(200u32);
        if let Some(cursor) = cursor.take() {
            request = request.cursor(cursor);
        }
        let page = request.send().await.map_err(|e| describe(&e))?.into_inner();
        results.extend(page.users);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut by_status = serde_json::Map::new();
    for user in &results {
        let entry = by_status
            .entry(user.status.to_string())
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(list) = entry {
            list.push(serde_json::json!({
                "user_id": user.user_id,
                "reset_id": user.reset_id,
                "problem": user.problem,
            }));
        }
    }
    let (completed, awaiting) = (view.counts.completed, view.counts.awaiting_approval);
    let status = if completed == view.total {
        0
    } else if awaiting > 0 && completed + awaiting == view.total {
        // Nobody refused: the rest wait for a second admin.
        4
    } else if completed > 0 {
        2
    } else {
        3
    };
    let summary = serde_json::json!({
        "batch_id": view.id,
        "status": view.status,
        "total": view.total,
        "counts": view.counts,
        "users": by_status,
    });
    Ok(Done {
        json: pretty(&summary),
        status,
    })
}

/// Reads the batch until it is finished (a cancelled batch's users being
/// reset finish too), showing its progress on stderr:
/// a bar on a terminal, otherwise a line each time more users are done.
async fn follow(
    client: &Client,
    batch: uuid::Uuid,
    total: i64,
) -> Result<types::BatchView, String> {
    use std::io::IsTerminal;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(u64::try_from(total).unwrap_or(0));
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} users {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut shown = -1;
    loop {
        let view = client
            .reset_batch_get()
            .batch_id(batch)
            .limit(1u32)
            .send()
            .await
            .map_err(|e| describe(&e))?
            .into_inner();
        let running = view.finished_at.is_none();
        if view.done != shown {
            shown = view.done;
            let counts = &view.counts;
            let message = if counts.awaiting_approval > 0 {
                format!(
                    "({} reset, {} awaiting approval, {} not)",
                    counts.completed,
                    counts.awaiting_approval,
                    view.done - counts.completed - counts.awaiting_approval
                )
            } else {
                format!(
                    "({} reset, {} not)",
                    counts.completed,
                    view.done - counts.completed
                )
            };
            match &bar {
                Some(bar) => {
                    bar.set_position(u64::try_from(view.done).unwrap_or(0));
                    bar.set_message(message);
                }
                None => eprintln!("{}/{} users done {message}", view.done, view.total),
            }
        }
        if !running {
            if let Some(bar) = &bar {
                bar.finish();
            }
            return Ok(view);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

async fn resets(client: &Client, command: &ResetsCommand) -> Result<String, String> {
    match command {
        ResetsCommand::List {
            user,
            company,
            status,
            page,
        } => {
            let mut request = client.resets_list();
            if let Some(user) = user {
                request = request.user_id(*user);
            }
            if let Some(company) = company {
                request = request.company_id(*company);
            }
            if let Some(status) = status {
                let status: types::ResetStatus = status.parse().map_err(|_| {
                    format!(
                        "--status {status:?}: one of awaiting_approval, pending_user_action, \
                         completed, superseded, expired, rejected"
                    )
                })?;
                request = request.status(status);
            }
            if let Some(cursor) = &page.cursor {
                request = request.cursor(parse_cursor::<uuid::Uuid>(cursor)?);
            }
            if let Some(limit) = page.limit {
                request = request.limit(limit);
            }
            answer(request.send()).await
        }
        ResetsCommand::Show { reset_id } => {
            answer(client.reset_get().reset_id(*reset_id).send()).await
        }
        ResetsCommand::Reissue { reset_id } => {
            answer(client.reset_reissue().reset_id(*reset_id).send()).await
        }
        ResetsCommand::Pending { company, page } => {
            let mut request = client
                .resets_list()
                .status(types::ResetStatus::AwaitingApproval);
            if let Some(company) = company {
                request = request.company_id(*company);
            }
            if let Some(cursor) = &page.cursor {
                request = request.cursor(parse_cursor::<uuid::Uuid>(cursor)?);
            }
            if let Some(limit) = page.limit {
                request = request.limit(limit);
            }
            answer(request.send()).await
        }
        ResetsCommand::Approve {
            reset_id,
            ack_company_data_loss,
            comment,
        } => {
            let body = types::ApproveRequest {
                acknowledge_company_data_loss: ack_company_data_loss.then_some(true),
                comment: comment.clone(),
            };
            answer(client.reset_approve().reset_id(*reset_id).body(body).send()).await
        }
        ResetsCommand::Reject { reset_id, comment } => {
            let body = types::RejectRequest {
                comment: comment.clone(),
            };
            answer(client.reset_reject().reset_id(*reset_id).body(body).send()).await
        }
    }
}

async fn partners(client: &Client, command: &PartnersCommand) -> Result<String, String> {
    match command {
        PartnersCommand::List {
            page,
            suspended,
            active,
        } => {
            let mut request = client.partners_list();
            if *suspended {
                request = request.status(types::PartnerStatus::Suspended);
            }
            if *active {
                request = request.status(types::PartnerStatus::Active);
            }
            if let Some(cursor) = &page.cursor {
                request = request.cursor(parse_cursor::<uuid::Uuid>(cursor)?);
            }
            if let Some(limit) = page.limit {
                request = request.limit(limit);
            }
            answer(request.send()).await
        }
        PartnersCommand::Get { partner_id } => {
            answer(client.partner_account_get().partner_id(*partner_id).send()).await
        }
        PartnersCommand::Create {
            name,
            owner_email,
            owner_name,
            owner_locale,
            idempotency_key,
        } => {
            let mut request = client.partners_create().body(types::NewPartner {
                name: name.clone(),
                owner: types::NewPartnerOwner {
                    email: owner_email.clone(),
                    name: owner_name.clone(),
                    locale: owner_locale.as_deref().map(parse_locale).transpose()?,
                },
            });
            if let Some(key) = idempotency_key {
                request = request.idempotency_key(key.clone());
            }
            answer(request.send()).await
        }
        PartnersCommand::Rename { partner_id, name } => {
            answer(
                client
                    .partner_account_update()
                    .partner_id(*partner_id)
                    .body(types::PartnerAccountUpdate { name: name.clone() })
                    .send(),
            )
            .await
        }
        PartnersCommand::Suspend { partner_id, yes } => {
            if !yes {
                return Err("pass --yes to suspend the partner".into());
            }
            answer(client.partner_suspend().partner_id(*partner_id).send()).await
        }
        PartnersCommand::Reactivate { partner_id } => {
            answer(client.partner_reactivate().partner_id(*partner_id).send()).await
        }
        PartnersCommand::InviteOwners { partner_id } => {
            answer(
                client
                    .partner_owners_invite()
                    .partner_id(*partner_id)
                    .send(),
            )
            .await
        }
    }
}

async fn admins(client: &Client, command: &AdminsCommand) -> Result<String, String> {
    match command {
        AdminsCommand::List(page) => {
            let mut request = client.admins_list();
            if let Some(cursor) = &page.cursor {
                request = request.cursor(parse_cursor::<uuid::Uuid>(cursor)?);
            }
            if let Some(limit) = page.limit {
                request = request.limit(limit);
            }
            answer(request.send()).await
        }
        AdminsCommand::Get { admin_id } => {
            answer(client.admin_get().admin_id(*admin_id).send()).await
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
            answer(
                client
                    .admins_create()
                    .body(types::NewAdmin {
                        email: email.clone(),
                        name: name.clone(),
                        role,
                        companies: (!companies.is_empty()).then(|| companies.clone()),
                        locale: locale.as_deref().map(parse_locale).transpose()?,
                    })
                    .send(),
            )
            .await
        }
        AdminsCommand::Invite { admin_id } => {
            answer(client.admin_invitation_send().admin_id(*admin_id).send()).await
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
                request = request.cursor(parse_cursor::<uuid::Uuid>(cursor)?);
            }
            if let Some(limit) = page.limit {
                request = request.limit(limit);
            }
            answer(request.send()).await
        }
        ApiClientsCommand::Create {
            name,
            scopes,
            companies,
        } => {
            answer(
                client
                    .api_clients_create()
                    .body(types::NewApiClient {
                        name: name.clone(),
                        scopes: scopes
                            .iter()
                            .map(|scope| {
                                scope
                                    .parse()
                                    .map_err(|_| format!("--scope {scope:?}: not a scope"))
                            })
                            .collect::<Result<_, _>>()?,
                        companies: (!companies.is_empty()).then(|| companies.clone()),
                    })
                    .send(),
            )
            .await
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

async fn scim_tokens(client: &Client, command: &ScimTokensCommand) -> Result<String, String> {
    match command {
        ScimTokensCommand::List { company_id, page } => {
            let mut request = client.scim_tokens_list().company_id(*company_id);
            if let Some(cursor) = &page.cursor {
                request = request.cursor(parse_cursor::<uuid::Uuid>(cursor)?);
            }
            if let Some(limit) = page.limit {
                request = request.limit(limit);
            }
            answer(request.send()).await
        }
        ScimTokensCommand::Create {
            company_id,
            name,
            client_kind,
        } => {
            let client_kind: types::ClientKind = client_kind
                .parse()
                .map_err(|_| format!("--client-kind {client_kind:?}: desktop or webapp"))?;
            answer(
                client
                    .scim_tokens_create()
                    .company_id(*company_id)
                    .body(types::NewScimToken {
                        name: name.clone(),
                        client_kind,
                    })
                    .send(),
            )
            .await
        }
        ScimTokensCommand::Delete {
            company_id,
            token_id,
        } => {
            client
                .scim_token_delete()
                .company_id(*company_id)
                .token_id(*token_id)
                .send()
                .await
                .map_err(|e| describe(&e))?;
            Ok(pretty(&serde_json::json!({ "deleted": token_id })))
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
                request = request.cursor(parse_cursor::<i64>(cursor)?);
            }
            if let Some(limit) = page.limit {
                request = request.limit(limit);
            }
            answer(request.send()).await
        }
        AuditCommand::Verify => answer(client.audit_events_verify().send()).await,
    }
}

async fn companies(client: &Client, command: &CompaniesCommand) -> Result<String, String> {
    match command {
        CompaniesCommand::List { page, retired } => {
            let mut request = client.companies_list();
            if *retired {
                request = request.status(types::CompanyStatus::Retired);
            }
            if let Some(cursor) = &page.cursor {
                request = request.cursor(parse_cursor::<uuid::Uuid>(cursor)?);
            }
            if let Some(limit) = page.limit {
                request = request.limit(limit);
            }
            answer(request.send()).await
        }
        CompaniesCommand::Get { company_id } => {
            answer(client.company_get().company_id(*company_id).send()).await
        }
        CompaniesCommand::Create { name, external_id } => {
            answer(
                client
                    .companies_create()
                    .body(types::NewCompany {
                        external_id: external_id.clone(),
                        name: name.clone(),
                    })
                    .send(),
            )
            .await
        }
        CompaniesCommand::Update {
            company_id,
            name,
            external_id,
        } => {
            answer(
                client
                    .company_update()
                    .company_id(*company_id)
                    .body(types::CompanyUpdate {
                        name: name.clone(),
                        external_id: external_id.clone(),
                    })
                    .send(),
            )
            .await
        }
        CompaniesCommand::Retire {
            company_id,
            offboard_users,
            ack_company_data_loss,
            yes,
        } => {
            if !yes {
                return Err("pass --yes to retire the company".into());
            }
            let mut request = client.company_retire().company_id(*company_id);
            if *offboard_users {
                request = request.offboard_users(true);
            }
            if *ack_company_data_loss {
                request = request.acknowledge_company_data_loss(true);
            }
            answer(request.send()).await
        }
    }
}

async fn users(client: &Client, command: &UsersCommand) -> Result<String, String> {
    match command {
        UsersCommand::Find {
            query,
            company,
            page,
        } => {
            let mut request = client.users_search().q(query);
            if let Some(company) = company {
                request = request.company_id(*company);
            }
            if let Some(cursor) = &page.cursor {
                request = request.cursor(parse_cursor::<uuid::Uuid>(cursor)?);
            }
            if let Some(limit) = page.limit {
                request = request.limit(limit);
            }
            answer(request.send()).await
        }
        UsersCommand::Get { user_id } => with_etag(
            client
                .user_get()
                .user_id(*user_id)
                .send()
                .await
                .map_err(|e| describe(&e))?,
        ),
        UsersCommand::Update {
            user_id,
            name,
            locale,
            client_kind,
            primary,
            external_id,
            if_match,
        } => {
            let client_kind = client_kind
                .as_deref()
                .map(|kind| {
                    kind.parse::<types::ClientKind>()
                        .map_err(|_| format!("--client-kind {kind:?}: desktop or webapp"))
                })
                .transpose()?;
            let etag = match if_match {
                Some(etag) => etag.clone(),
                None => etag_of(client.user_get().user_id(*user_id).send()).await?,
            };
            with_etag(
                client
                    .user_update()
                    .user_id(*user_id)
                    .if_match(etag)
                    .body(types::UserUpdateRequest {
                        name: name.clone(),
                        locale: locale.as_deref().map(parse_locale).transpose()?,
                        client_kind,
                        is_primary: *primary,
                        external_id: external_id.clone(),
                    })
                    .send()
                    .await
                    .map_err(|e| describe(&e))?,
            )
        }
        UsersCommand::Offboard {
            user_id,
            ack_company_data_loss,
            yes,
        } => {
            let preview = client
                .user_offboarding_preview()
                .user_id(*user_id)
                .send()
                .await
                .map_err(|e| describe(&e))?
                .into_inner();
            eprintln!(
                "{}: {} personal and {} company items go; {} company items survive as backup \
                 copies, {} have none and would be lost",
                preview.email,
                preview.personal_items,
                preview.company_items,
                preview.company_items_backed_up,
                preview.company_items_not_backed_up
            );
            if !yes {
                return Err("pass --yes to offboard the user".into());
            }
            let mut request = client.user_offboard().user_id(*user_id);
            if *ack_company_data_loss {
                request = request.acknowledge_company_data_loss(true);
            }
            answer(request.send()).await
        }
        UsersCommand::Disable { user_id } => with_etag(
            client
                .user_disable()
                .user_id(*user_id)
                .send()
                .await
                .map_err(|e| describe(&e))?,
        ),
        UsersCommand::Enable { user_id } => with_etag(
            client
                .user_enable()
                .user_id(*user_id)
                .send()
                .await
                .map_err(|e| describe(&e))?,
        ),
        UsersCommand::Invite { user_id } => {
            answer(client.user_invitation_send().user_id(*user_id).send()).await
        }
        UsersCommand::Add {
            company,
            email,
            name,
            client_kind,
            locale,
            primary,
            external_id,
        } => {
            let client_kind: types::ClientKind = client_kind
                .parse()
                .map_err(|_| format!("--client-kind {client_kind:?}: desktop or webapp"))?;
            answer(
                client
                    .company_users_create()
                    .company_id(*company)
                    .body(types::NewUserRequest {
                        external_id: external_id.clone(),
                        email: email.clone(),
                        name: name.clone(),
                        client_kind,
                        locale: locale.as_deref().map(parse_locale).transpose()?,
                        is_primary: primary.then_some(true),
                    })
                    .send(),
            )
            .await
        }
    }
}

/// A profile answer and its ETag, as one JSON object.
/// The `ETag` of what a read answers, to change it against (`If-Match`).
async fn etag_of<T, E>(
    read: impl std::future::Future<Output = Result<ResponseValue<T>, Error<E>>>,
) -> Result<String, String>
where
    E: std::fmt::Debug + ProblemLike,
{
    read.await
        .map_err(|e| describe(&e))?
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| "the server sent no ETag".to_owned())
}

fn with_etag<T: serde::Serialize>(
    answer: custodian_sdk::ResponseValue<T>,
) -> Result<String, String> {
    let etag = answer
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut value = serde_json::to_value(answer.into_inner()).map_err(|e| e.to_string())?;
    value["etag"] = serde_json::json!(etag);
    Ok(pretty(&value))
}

async fn backup_profile(client: &Client, command: &BackupProfileCommand) -> Result<String, String> {
    match command {
        BackupProfileCommand::Get { company_id } => {
            let profile = client
                .backup_profile_get()
                .company_id(*company_id)
                .send()
                .await
                .map_err(|e| describe(&e))?;
            with_etag(profile)
        }
        BackupProfileCommand::Set {
            company_id,
            on,
            off,
            retention_days,
            public_key,
            if_match,
        } => {
            if !on && !off {
                return Err("say --on or --off".into());
            }
            let etag = match if_match {
                Some(etag) => etag.clone(),
                None => etag_of(client.backup_profile_get().company_id(*company_id).send()).await?,
            };
            let profile = client
                .backup_profile_update()
                .company_id(*company_id)
                .if_match(etag)
                .body(types::BackupProfileUpdate {
                    backup_all_company_items: *on,
                    retention_days: *retention_days,
                    backup_public_key: public_key.clone(),
                })
                .send()
                .await
                .map_err(|e| describe(&e))?;
            with_etag(profile)
        }
    }
}

/// Sends a request: its answer as pretty JSON, or one line that says what
/// went wrong.
async fn answer<T, E>(
    sent: impl std::future::Future<Output = Result<ResponseValue<T>, Error<E>>>,
) -> Result<String, String>
where
    T: serde::Serialize,
    E: std::fmt::Debug + ProblemLike,
{
    let answer = sent.await.map_err(|e| describe(&e))?;
    Ok(pretty(&answer.into_inner()))
}

/// Pretty JSON of an answer.
fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("a decoded answer serializes")
}

/// A `--locale` of the product's.
fn parse_locale(locale: &str) -> Result<types::Locale, String> {
    locale
        .parse()
        .map_err(|_| format!("--locale {locale:?}: one of en, fr, de, es, it, nl, ja"))
}

/// A `--cursor`: the `next_cursor` a page gave (an id, or an audit event's
/// `seq`).
fn parse_cursor<T: std::str::FromStr>(cursor: &str) -> Result<T, String> {
    cursor
        .parse()
        .map_err(|_| format!("--cursor {cursor:?}: not a next_cursor this list gave"))
}
