//! API clients: a partner's integration credentials (OAuth 2.0 client
//! credentials). The client id is the row's id; the secret is kept only as
//! an HMAC-SHA-256 under a server key (`secret_hash`), never printed. Scopes
//! are stored space-separated, as RFC 6749 writes them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{api_client_companies, api_clients};
use super::{DbConn, DbError};
use crate::ids::{ApiClientId, PartnerId};

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_clients)]
pub struct ApiClient {
    pub id: ApiClientId,
    pub partner_id: PartnerId,
    pub name: String,
    pub secret_hash: Vec<u8>,
    pub scopes: String,
    pub token_generation: i64,
    pub created_by_admin_id: Option<crate::ids::AdminId>,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    /// Limited to the companies listed in `api_client_companies`, even
    /// when none is left there (then it acts on none).
    pub limited: bool,
}

/// Everything but the secret's hash.
impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("id", &self.id)
            .field("partner_id", &self.partner_id)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("token_generation", &self.token_generation)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// The client's scopes, in stored order.
    pub fn scope_list(&self) -> Vec<String> {
        self.scopes.split_whitespace().map(str::to_owned).collect()
    }
}

/// Stores a client and the companies it is limited to (`None`: all; the
/// client's `limited` must say the same).
pub fn insert(
    conn: &mut DbConn,
    client: &ApiClient,
    companies: Option<&[String]>,
) -> Result<(), DbError> {
    debug_assert_eq!(client.limited, companies.is_some());
    diesel::insert_into(api_clients::table)
        .values(client)
        .execute(conn)?;
    for company in companies.unwrap_or_default() {
        diesel::insert_into(api_client_companies::table)
            .values((
                api_client_companies::api_client_id.eq(&client.id),
                api_client_companies::company_id.eq(company),
                api_client_companies::partner_id.eq(&client.partner_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A client by id alone, for the token endpoint (the client id is the
/// sign-in name, unique across partners).
pub fn find_by_id(conn: &mut DbConn, id: ApiClientId) -> Result<Option<ApiClient>, DbError> {
    Ok(api_clients::table
        .filter(api_clients::id.eq(id.to_string()))
        .filter(api_clients::partner_id.eq_any(super::partners::active_ids()))
        .select(ApiClient::as_select())
        .first(conn)
        .optional()?)
}

/// A client of `partner`; another partner's is `None`, as an absent one.
///
/// Every request of a client reads this, so it runs on the concrete
/// connection ([`super::DbConn`] explains why).
pub fn find(
    conn: &mut DbConn,
    partner: PartnerId,
    id: ApiClientId,
) -> Result<Option<ApiClient>, DbError> {
    let query = api_clients::table
        .filter(api_clients::id.eq(id.to_string()))
        .filter(api_clients::partner_id.eq(partner.to_string()));
    Ok(match conn {
        DbConn::Sqlite(c) => query.select(ApiClient::as_select()).first(c).optional()?,
        DbConn::Postgres(c) => query.select(ApiClient::as_select()).first(c).optional()?,
    })
}

/// The companies a client is limited to; `None` when it is not limited.
/// A limited client whose companies are all gone is limited to none: the
/// limit fails closed.
pub fn companies(
    conn: &mut DbConn,
    client: &ApiClient,
) -> Result<Option<Vec<crate::ids::CompanyId>>, DbError> {
    if !client.limited {
        return Ok(None);
    }
    let companies = api_client_companies::table
        .filter(api_client_companies::api_client_id.eq(&client.id))
        .select(api_client_companies::company_id)
        .order(api_client_companies::company_id)
        .load(conn)?;
    Ok(Some(companies))
}

/// A page of a partner's clients, by id (ids are time-ordered).
pub fn list(
    conn: &mut DbConn,
    partner: PartnerId,
    after: Option<ApiClientId>,
    limit: i64,
) -> Result<Vec<ApiClient>, DbError> {
    let mut query = api_clients::table
        .filter(api_clients::partner_id.eq(partner.to_string()))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(api_clients::id.gt(after.to_string()));
    }
    Ok(query
        .order(api_clients::id.asc())
        .limit(limit)
        .select(ApiClient::as_select())
        .load(conn)?)
}

/// Records a successful sign-in.
pub fn touch(conn: &mut DbConn, id: ApiClientId, at: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(api_clients::table.filter(api_clients::id.eq(id.to_string())))
        .set(api_clients::last_used_at.eq(at))
        .execute(conn)?;
    Ok(())
}

/// Removes a client (and its company limits); its tokens fail at once,
/// since every request loads the client.
pub fn delete(conn: &mut DbConn, partner: PartnerId, id: ApiClientId) -> Result<bool, DbError> {
    let deleted = diesel::delete(
        api_clients::table
            .filter(api_clients::id.eq(id.to_string()))
            .filter(api_clients::partner_id.eq(partner.to_string())),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}
