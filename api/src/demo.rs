//! `custodian serve --demo`: sample data in the bootstrapped partner, so the
//! whole runbook can be tried in the first minute. Two companies, one with
//! the backup profile on and one without; desktop and webapp users whose
//! vaults hold personal and company items (some backed up, some not).
//!
//! Vault contents are random bytes: the server never reads them anyway. The
//! users can sign in with the derived key [`USER_KEY`]; a real client
//! derives its key from a master password.

use crate::db::types::Profile;
use chrono::NaiveDateTime;
use rand::{RngCore, rngs::OsRng};

use crate::auth::password::Passwords;
use crate::db::backup_profiles::{self, Settings};
use crate::db::users::{self, NewUser};
use crate::db::vault::{self, BackupCopy};
use crate::db::{Db, DbError, companies};
use crate::ids::{CompanyId, PartnerId, UserId};

/// The authentication key every demo user signs in with.
pub const USER_KEY: &str = "demo-derived-key-0123456789";

/// A sample X25519 public key for the backup profile (base64 of 32 bytes).
const BACKUP_PUBLIC_KEY: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

/// A demo user: email, name, client kind, locale, personal items, company
/// items, of which backed up.
struct Sample {
    email: &'static str,
    name: &'static str,
    client_kind: crate::db::types::ClientKind,
    locale: &'static str,
    personal: usize,
    company: usize,
    backed_up: usize,
}

/// What the demo added, to print.
#[derive(Debug)]
pub struct Seeded {
    pub users: Vec<(String, String)>,
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

fn add_company(
    conn: &mut crate::db::DbConn,
    partner: PartnerId,
    name: &str,
    backup: bool,
    now: NaiveDateTime,
) -> Result<CompanyId, DbError> {
    let id = CompanyId::new();
    companies::insert(
        conn,
        &companies::Company {
            id,
            partner_id: partner,
            name: name.into(),
            created_at: now,
            updated_at: now,
            external_id: None,
            retired_at: None,
        },
    )?;
    if backup {
        backup_profiles::update_if_version(
            conn,
            partner,
            id,
            1,
            &Settings {
                backup_all_company_items: true,
                retention_days: 90,
                backup_public_key: Some(BACKUP_PUBLIC_KEY.into()),
            },
            now,
        )?;
    }
    Ok(id)
}

/// The first partner (the one `serve` bootstrapped).
pub async fn first_partner(db: &Db) -> Result<PartnerId, DbError> {
    use diesel::prelude::*;
    db.run(|conn| {
        Ok::<_, DbError>(
            crate::db::schema::partners::table
                .order(crate::db::schema::partners::id.asc())
                .select(crate::db::schema::partners::id)
                .first(conn)?,
        )
    })
    .await
}

/// Adds the sample companies, users and items to `partner`, unless it has
/// companies already (a second `--demo` start adds nothing).
pub async fn seed(
    db: &Db,
    passwords: &Passwords,
    partner: PartnerId,
) -> Result<Option<Seeded>, DbError> {
    let key_hash = passwords.hash(USER_KEY.to_owned().into()).await;
    db.write(move |conn| {
        use diesel::prelude::*;
        let existing: i64 = crate::db::schema::companies::table
            .filter(crate::db::schema::companies::partner_id.eq(partner.to_string()))
            .count()
            .get_result(conn)?;
        if existing > 0 {
            return Ok(None);
        }
        let now = crate::clock::system_now();
        let dental = add_company(conn, partner, "Acme Dental (backup profile on)", true, now)?;
        let bistro = add_company(conn, partner, "Bistro Nord (no backup profile)", false, now)?;
        let samples = [
            (
                dental,
                Sample {
                    email: "dana.desktop@acme-dental.example",
                    name: "Dana Desktop",
                    client_kind: crate::db::types::ClientKind::Desktop,
                    locale: "en",
                    personal: 3,
                    company: 4,
                    backed_up: 4,
                },
            ),
            (
                dental,
                Sample {
                    email: "wim.webapp@acme-dental.example",
                    name: "Wim Webapp",
                    client_kind: crate::db::types::ClientKind::Webapp,
                    locale: "nl",
                    personal: 2,
                    company: 3,
                    backed_up: 2,
                },
            ),
            (
                bistro,
                Sample {
                    email: "fleur.desktop@bistro-nord.example",
                    name: "Fleur Desktop",
                    client_kind: crate::db::types::ClientKind::Desktop,
                    locale: "fr",
                    personal: 2,
                    company: 2,
                    backed_up: 0,
                },
            ),
        ];
        let mut seeded = Vec::new();
        for (company, sample) in samples {
            let user = UserId::new();
            users::insert(
                conn,
                &NewUser {
                    id: user,
                    partner_id: partner,
                    company_id: company,
                    email: sample.email.into(),
                    name: sample.name.into(),
                    client_kind: sample.client_kind,
                    locale: sample.locale.into(),
                    is_primary: false,
                    status: crate::db::types::UserStatus::Active,
                    created_at: now,
                    updated_at: now,
                    external_id: None,
                },
            )?;
            users::set_auth_key(conn, partner, user, &key_hash, now)?;
            for i in 0..sample.personal + sample.company {
                let profile = if i < sample.personal {
                    Profile::Personal
                } else {
                    Profile::Company
                };
                let item = format!("{profile}-{i}");
                vault::put(conn, user, &item, profile, 0, &random_bytes(96), now)?;
                if i >= sample.personal && i - sample.personal < sample.backed_up {
                    vault::insert_copy(
                        conn,
                        &BackupCopy {
                            id: crate::ids::BackupCopyId::new(),
                            partner_id: partner,
                            company_id: company,
                            user_id: user,
                            item_id: item,
                            revision: 1,
                            ciphertext: random_bytes(128),
                            created_at: now,
                            item_removed_at: None,
                            removal_reason: None,
                            expires_at: None,
                        },
                    )?;
                }
            }
            seeded.push((sample.email.to_owned(), sample.client_kind.to_string()));
        }
        Ok(Some(Seeded { users: seeded }))
    })
    .await
}

/// What `serve --demo` prints once it seeded.
pub fn announcement(seeded: &Seeded) -> String {
    let mut out = String::from(
        "\nDemo data: companies \"Acme Dental\" (backup profile on) and \"Bistro Nord\" (off), and these users\n",
    );
    for (email, kind) in &seeded.users {
        out.push_str(&format!("  {email} ({kind})\n"));
    }
    out.push_str(&format!(
        "Users sign in (POST /v1/account/token) with the derived key {USER_KEY:?}.\n\
         Reset one with `custodianctl reset USER_ID`; its email lands in the data directory's mail/ folder.\n"
    ));
    out
}
