//! Someone to sign in as on a fresh install. [`bootstrap`] makes the first
//! platform operator (`custodian bootstrap` on demand, `custodian serve` by
//! itself when there is none), who creates partners through the API.
//! [`first_partner`] makes a partner and its owner admin directly, for
//! `serve --demo` and the tests: there is no one to email an invitation to
//! yet. Passwords are drawn from the CSPRNG, stored only as argon2id
//! hashes, and shown once on standard output (never logged); the owner's
//! is one-time and must be replaced at first sign-in.

use diesel::Connection;
use secrecy::SecretString;

use crate::auth::draw_secret;
use crate::auth::password::Passwords;
use crate::db::admins::{self, Admin, Role};
use crate::db::operators::{self, Operator};
use crate::db::partners::{self, Partner};
use crate::db::{Db, DbConn, DbError};

/// The PostgreSQL advisory lock bootstraps take ("bootstra" in ASCII).
const BOOTSTRAP_LOCK: i64 = 0x626f6f7473747261;

/// The first partner and its owner, to create.
#[derive(Debug, Clone)]
pub struct PartnerRequest {
    pub partner_name: String,
    pub owner_email: String,
    pub owner_name: String,
}

impl Default for PartnerRequest {
    fn default() -> Self {
        Self {
            partner_name: "My MSP".into(),
            owner_email: "owner@custodian.local".into(),
            owner_name: "Owner".into(),
        }
    }
}

/// The partner and owner created; the password exists nowhere else.
#[derive(Debug)]
pub struct FirstPartner {
    pub partner_id: String,
    pub partner_name: String,
    pub owner_id: String,
    pub owner_email: String,
    pub one_time_password: SecretString,
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("the database already has a partner; only the first is made this way")]
    AlreadyBootstrapped,
    #[error("the database already has an operator; bootstrap creates only the first")]
    OperatorExists,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Creates the first partner and its owner, in one transaction; refuses when
/// any partner exists (also when two starts race: one creates, one refuses).
pub async fn first_partner(
    db: &Db,
    passwords: &Passwords,
    request: PartnerRequest,
) -> Result<FirstPartner, BootstrapError> {
    let email = crate::domain::Email::parse(&request.owner_email)
        .map_err(|error| BootstrapError::Invalid(format!("the owner's email {error}")))?
        .into_string();
    let partner_name = crate::domain::text::name(&request.partner_name)
        .map_err(|error| BootstrapError::Invalid(format!("the partner's name {error}")))?;
    let owner_name = crate::domain::text::name(&request.owner_name)
        .map_err(|error| BootstrapError::Invalid(format!("the owner's name {error}")))?;
    // 15 random bytes: 20 characters, 120 bits.
    let password = draw_secret(15);
    let hash = passwords.hash(password.clone()).await;
    let now = crate::clock::system_now();
    let partner = Partner::new(&partner_name, now);
    let admin = Admin {
        id: crate::ids::AdminId::new(),
        partner_id: partner.id,
        email: email.clone(),
        name: owner_name,
        role: Role::Owner,
        password_hash: hash,
        must_change_password: true,
        token_generation: 0,
        locale: "en".into(),
        created_at: now,
        updated_at: now,
        invitation_expires_at: None,
    };
    let created = partner.clone();
    let owner_id = admin.id.to_string();
    let inserted = first_only(db, partners::count, move |conn| {
        partners::insert(conn, &partner)?;
        admins::insert(conn, &admin)
    })
    .await?;
    if !inserted {
        return Err(BootstrapError::AlreadyBootstrapped);
    }
    Ok(FirstPartner {
        partner_id: created.id.to_string(),
        partner_name: created.name,
        owner_id,
        owner_email: email,
        one_time_password: password,
    })
}

/// What `serve --demo` prints of the partner it made, once, on standard
/// output.
pub fn partner_announcement(created: &FirstPartner) -> String {
    use secrecy::ExposeSecret;
    format!(
        "Created a first partner, {name:?}, and its owner admin.\n\
         \x20 partner:    {partner}\n\
         \x20 sign in as: {email}\n\
         \x20 password:   {password}\n\
         This password is shown only now and works once: the first sign-in must set a new one.\n",
        name = created.partner_name,
        partner = created.partner_id,
        email = created.owner_email,
        password = created.one_time_password.expose_secret(),
    )
}

/// Runs `insert` in one transaction unless `count` finds rows already;
/// whether it ran. Two first starts at once on PostgreSQL serialize on an
/// advisory lock: one inserts, the other waits and then finds the rows
/// (SQLite serializes writers by itself).
async fn first_only(
    db: &Db,
    count: fn(&mut DbConn) -> Result<i64, DbError>,
    insert: impl FnOnce(&mut DbConn) -> Result<(), DbError> + Send + 'static,
) -> Result<bool, DbError> {
    db.run(move |conn| {
        conn.transaction(|conn| {
            if let DbConn::Postgres(pg) = conn {
                use diesel::RunQueryDsl;
                diesel::sql_query(format!("SELECT pg_advisory_xact_lock({BOOTSTRAP_LOCK})"))
                    .execute(pg)?;
            }
            if count(conn)? > 0 {
                return Ok(false);
            }
            insert(conn)?;
            Ok(true)
        })
    })
    .await
}

/// The first platform operator, to create.
#[derive(Debug, Clone)]
pub struct BootstrapRequest {
    pub email: String,
    pub name: String,
}

impl Default for BootstrapRequest {
    fn default() -> Self {
        Self {
            email: "operator@custodian.local".into(),
            name: "Operator".into(),
        }
    }
}

/// The operator created; the password exists nowhere else.
#[derive(Debug)]
pub struct Bootstrapped {
    pub operator_id: String,
    pub email: String,
    pub password: SecretString,
}

/// Creates the first platform operator; refuses when any operator exists
/// (also when two starts race on PostgreSQL: one creates, one refuses).
/// Its password is not one-time: it is 120 random bits shown only to
/// whoever started the server.
pub async fn bootstrap(
    db: &Db,
    passwords: &Passwords,
    request: BootstrapRequest,
) -> Result<Bootstrapped, BootstrapError> {
    let email = crate::domain::Email::parse(&request.email)
        .map_err(|error| BootstrapError::Invalid(format!("the operator's email {error}")))?
        .into_string();
    let name = crate::domain::text::name(&request.name)
        .map_err(|error| BootstrapError::Invalid(format!("the operator's name {error}")))?;
    let password = draw_secret(15);
    let hash = passwords.hash(password.clone()).await;
    let now = crate::clock::system_now();
    let operator = Operator {
        id: crate::ids::OperatorId::new(),
        email: email.clone(),
        name,
        password_hash: hash,
        token_generation: 0,
        created_at: now,
        updated_at: now,
    };
    let operator_id = operator.id.to_string();
    let inserted = first_only(db, operators::count, move |conn| {
        operators::insert(conn, &operator)
    })
    .await?;
    if !inserted {
        return Err(BootstrapError::OperatorExists);
    }
    Ok(Bootstrapped {
        operator_id,
        email,
        password,
    })
}

/// What `serve` and `bootstrap` print of the first operator, once, on
/// standard output.
pub fn announcement(created: &Bootstrapped) -> String {
    use secrecy::ExposeSecret;
    format!(
        "Created the first platform operator: it creates, suspends and lists partners \
         (POST /v1/operator/token, then /v1/partners).\n\
         \x20 operator sign-in: {email}\n\
         \x20 operator password: {password}\n\
         This password is shown only now.\n",
        email = created.email,
        password = created.password.expose_secret(),
    )
}
