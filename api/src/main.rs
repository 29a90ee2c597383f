//! The `custodian` binary: `serve`, `migrate`, `openapi`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use custodian_api::auth::password::Passwords;
use custodian_api::authz::Authz;
use custodian_api::bootstrap::{self, BootstrapRequest};
use custodian_api::config::Config;
use custodian_api::db::{Db, PoolOptions, migrations};
use custodian_api::server::Server;
use custodian_api::{http, telemetry};

/// Custodian: the admin API of a zero-knowledge password manager.
///
/// Settings come from CUSTODIAN_* environment variables, DATABASE_URL, and
/// the TOML file named by CUSTODIAN_CONFIG; see the README.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations and serve the API.
    Serve {
        /// Also add sample companies, users and vault items to the first
        /// partner (once), to try the runbook at once.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the OpenAPI document (YAML): `custodian openapi > openapi.yaml`.
    Openapi,
    /// Work with Cedar policies.
    Policies {
        #[command(subcommand)]
        command: PoliciesCommand,
    },
    /// Create the first platform operator (who creates partners through
    /// the API), and print its password once. (`serve` does this by itself
    /// when there is none.)
    Bootstrap {
        /// The operator's email: their sign-in name.
        #[arg(long, default_value = "operator@custodian.local")]
        email: String,
        /// The operator's name.
        #[arg(long, default_value = "Operator")]
        name: String,
    },
}

#[derive(Subcommand)]
enum PoliciesCommand {
    /// Validate a policy directory (schema, policies with @id, strict
    /// validation) and run its ALLOW/DENY request fixtures, as the server
    /// would load it with CUSTODIAN_POLICY_DIR.
    Check {
        /// The directory: custodian.cedarschema, *.cedar, entities.json, ALLOW/, DENY/.
        dir: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Policies {
        command: PoliciesCommand::Check { dir },
    } = &cli.command
    {
        return check_policies(dir);
    }
    if let Command::Openapi = cli.command {
        return match http::contract::to_yaml(&http::openapi()) {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(error) => fail(&format!("cannot write the OpenAPI document: {error}")),
        };
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => return fail(&error.to_string()),
    };
    telemetry::init(&config.log, config.log_format);
    for name in &config.unknown_env {
        tracing::warn!(variable = %name, "ignoring an environment variable that is no setting");
    }
    let result = match cli.command {
        Command::Serve { demo } => serve(config, demo),
        Command::Migrate => migrate(&config),
        Command::Bootstrap { email, name } => {
            run_bootstrap(&config, BootstrapRequest { email, name })
        }
        Command::Openapi | Command::Policies { .. } => unreachable!("handled above"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&format!("{error:#}")),
    }
}

fn check_policies(dir: &std::path::Path) -> ExitCode {
    let authz = match Authz::load_dir(dir) {
        Ok(authz) => authz,
        Err(error) => return fail(&format!("invalid policies: {error}")),
    };
    let outcomes = match authz.run_fixtures(dir) {
        Ok(outcomes) => outcomes,
        Err(error) => return fail(&format!("invalid fixture: {error}")),
    };
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    for outcome in &outcomes {
        let verdict = if outcome.passed() { "ok  " } else { "FAIL" };
        let decided = if outcome.decision.allowed {
            "allow"
        } else {
            "deny"
        };
        println!(
            "{verdict} {} -> {decided} by {:?}{}",
            outcome.file,
            outcome.decision.policy_ids,
            if outcome.decision.errors.is_empty() {
                String::new()
            } else {
                format!(" errors {:?}", outcome.decision.errors)
            }
        );
    }
    println!(
        "policies: {} passed, {failed} failed",
        outcomes.len() - failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One line on stderr, exit status 1.
fn fail(message: &str) -> ExitCode {
    eprintln!("custodian: {message}");
    ExitCode::FAILURE
}

fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let mut server = Server::build(&config).await?;
        if let Some(created) = server.take_bootstrapped() {
            // Standard output, once; never the log.
            print!("{}", bootstrap::announcement(&created));
        }
        if demo {
            // A partner and its owner to try the runbook as, made directly:
            // there is no one to email an invitation to yet.
            let request = bootstrap::PartnerRequest {
                partner_name: "Demo MSP".into(),
                ..bootstrap::PartnerRequest::default()
            };
            match bootstrap::first_partner(server.db(), &Passwords::new(1), request).await {
                Ok(created) => print!("{}", bootstrap::partner_announcement(&created)),
                Err(bootstrap::BootstrapError::AlreadyBootstrapped) => {}
                Err(error) => return Err(error.into()),
            }
            let partner = custodian_api::demo::first_partner(server.db()).await?;
            match custodian_api::demo::seed(server.db(), &Passwords::new(1), partner).await? {
                Some(seeded) => print!("{}", custodian_api::demo::announcement(&seeded)),
                None => println!("--demo: the partner has companies already; no demo data added."),
            }
        }
        server.run().await?;
        Ok(())
    })
}

fn run_bootstrap(config: &Config, request: BootstrapRequest) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let options = PoolOptions {
            max_size: 1,
            ..PoolOptions::default()
        };
        let db = Db::connect(&config.database, options)?;
        db.run(migrations::run_pending).await?;
        let created = bootstrap::bootstrap(&db, &Passwords::new(1), request).await?;
        print!("{}", bootstrap::announcement(&created));
        Ok(())
    })
}

fn migrate(config: &Config) -> anyhow::Result<()> {
    let options = PoolOptions {
        max_size: 1,
        ..PoolOptions::default()
    };
    let db = Db::connect(&config.database, options)?;
    let mut conn = db.get_blocking()?;
    let applied = migrations::run_pending(&mut conn)?;
    if applied.is_empty() {
        println!("The database is up to date.");
    }
    for version in applied {
        println!("applied {version}");
    }
    Ok(())
}
