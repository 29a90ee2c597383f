//! A partner's integration credentials (RMM/PSA, scripts). The secret is
//! drawn from the CSPRNG, given back once by [`create`], and kept only as an
//! HMAC-SHA-256 under a server key. Only people create and remove clients
//! (the Cedar policies say so); removing one refuses its tokens at once.

use secrecy::{ExposeSecret, SecretString};

use super::idempotent::{self, Made};
use super::resets::Idempotency;
use super::{Actor, App, Error, OpContext};
use crate::audit;
use crate::auth::{API_CLIENT_SECRET, new_api_client_secret};
use crate::authz::{Action, Resource, SCOPES};
use crate::db::DbError;
use crate::db::api_clients::{self, ApiClient};
use crate::db::companies;
use crate::ids::{ApiClientId, CompanyId};

/// A client with the companies it is limited to (`None`: all of them).
pub type Limited = (ApiClient, Option<Vec<CompanyId>>);

/// The scopes asked for: at least one, each known; duplicates dropped.
pub fn check_scopes(scopes: &[String]) -> Result<Vec<String>, Error> {
    if scopes.is_empty() {
        return Err(Error::invalid("scopes", "must name at least one scope"));
    }
    let mut checked: Vec<String> = Vec::with_capacity(scopes.len());
    for (index, scope) in scopes.iter().enumerate() {
        if !SCOPES.contains(&scope.as_str()) {
            return Err(Error::invalid(
                format!("scopes[{index}]"),
                format!("is not a scope; one of {}", SCOPES.join(", ")),
            ));
        }
        if !checked.contains(scope) {
            checked.push(scope.clone());
        }
    }
    Ok(checked)
}

/// A page of the partner's clients, oldest first, after the client `after`;
/// and the cursor of the next page.
pub async fn list(
    app: &App,
    ctx: &OpContext,
    after: Option<ApiClientId>,
    limit: Option<u32>,
) -> Result<(Vec<Limited>, Option<String>), Error> {
    ctx.authorize(app, Action::ListApiClients, &Resource::Partner(ctx.partner))
        .await?;
    let limit = super::paging::limit(limit)?;
    let partner = ctx.partner;
    let (mut clients, mut limits) = app
        .db
        .run(move |conn| {
            let clients = api_clients::list(conn, partner, after, limit + 1)?;
            let mut limits = Vec::with_capacity(clients.len());
            for client in &clients {
                limits.push(api_clients::companies(conn, client)?);
            }
            Ok::<_, DbError>((clients, limits))
        })
        .await?;
    let next_cursor = super::paging::finish(&mut clients, limit, |c| c.id.to_string());
    limits.truncate(clients.len());
    Ok((clients.into_iter().zip(limits).collect(), next_cursor))
}

/// A new client, as asked (the name already checked).
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub scopes: Vec<String>,
    /// The companies it is limited to: 1 to 1,000 of the partner's.
    pub companies: Option<Vec<uuid::Uuid>>,
}

/// Creates a client: the stored client, its limit, and its secret, which
/// exists nowhere else and is never given again.
pub async fn create(
    app: &App,
    ctx: &OpContext,
    new: NewClient,
    key: Option<Idempotency>,
    render: impl FnOnce(&Created) -> Vec<u8> + Send + 'static,
) -> Result<Made<Created>, Error> {
    let id = ApiClientId::new();
    ctx.authorize(
        app,
        Action::CreateApiClient,
        &Resource::ApiClient {
            id,
            partner: ctx.partner,
        },
    )
    .await?;
    let scopes = check_scopes(&new.scopes)?;
    let companies = match new.companies {
        None => None,
        Some(list) if !(1..=1000).contains(&list.len()) => {
            return Err(Error::invalid(
                "companies",
                "must name 1 to 1,000 companies; leave it out for all of them",
            ));
        }
        Some(list) => {
            let mut wanted: Vec<String> = list.iter().map(ToString::to_string).collect();
            wanted.sort();
            wanted.dedup();
            let partner = ctx.partner;
            let asked = wanted.clone();
            let found = app
                .db
                .run(move |conn| companies::existing(conn, partner, &asked))
                .await?;
            if found.len() != wanted.len() {
                return Err(Error::ReferenceNotFound {
                    field: "companies".into(),
                });
            }
            Some(wanted)
        }
    };
    let secret = new_api_client_secret();
    let client = ApiClient {
        id,
        partner_id: ctx.partner,
        name: new.name,
        secret_hash: app
            .keys
            .keyed_hash(API_CLIENT_SECRET, secret.expose_secret().as_bytes()),
        scopes: scopes.join(" "),
        token_generation: 0,
        created_by_admin_id: match &ctx.actor {
            Actor::Admin(admin) => Some(admin.id),
            Actor::ApiClient(_) | Actor::ScimToken(_) => None,
        },
        created_at: ctx.now,
        last_used_at: None,
        limited: companies.is_some(),
    };
    let mut event = ctx.event(
        "createApiClient",
        "api_client",
        id.to_string(),
        true,
        Vec::new(),
    );
    event.details = serde_json::json!({
        "name": client.name,
        "scopes": scopes,
        "companies": companies,
    });
    let limits = companies
        .as_ref()
        .map(|list| {
            list.iter()
                .map(|c| super::stored(c, CompanyId::parse, "company id"))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let keys = app.keys.clone();
    let insert = move |conn: &mut crate::db::DbConn| {
        api_clients::insert(conn, &client, companies.as_deref())?;
        audit::append(conn, &keys, event)?;
        Ok(((client, limits), secret))
    };
    idempotent::create(app, ctx, key, insert, render).await
}

/// A new API client, its company limit and its secret.
pub type Created = (Limited, SecretString);

/// Removes the client `raw_id` names; its tokens are refused at once.
pub async fn delete(app: &App, ctx: &OpContext, raw_id: &str) -> Result<(), Error> {
    let id = ApiClientId::parse(raw_id).ok_or(Error::NotFound)?;
    let partner = ctx.partner;
    let client = app
        .db
        .run(move |conn| api_clients::find(conn, partner, id))
        .await?
        .ok_or(Error::NotFound)?;
    ctx.authorize(
        app,
        Action::DeleteApiClient,
        &Resource::ApiClient { id, partner },
    )
    .await?;
    let mut event = ctx.event(
        "deleteApiClient",
        "api_client",
        id.to_string(),
        true,
        Vec::new(),
    );
    event.details = serde_json::json!({ "name": client.name, "scopes": client.scope_list() });
    let keys = app.keys.clone();
    app.db
        .write(move |conn| {
            if !api_clients::delete(conn, partner, id)? {
                return Err(Error::NotFound);
            }
            audit::append(conn, &keys, event)?;
            Ok(())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_known_named_once_and_at_least_one() {
        let asked = |s: &[&str]| check_scopes(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            asked(&["users:read", "users:read", "resets:write"]).unwrap(),
            ["users:read", "resets:write"]
        );
        assert!(matches!(asked(&[]), Err(Error::Invalid { field, .. }) if field == "scopes"));
        assert!(
            matches!(asked(&["users:read", "root"]), Err(Error::Invalid { field, .. }) if field == "scopes[1]")
        );
    }
}
