//! Storage: migrations, the schema on both backends, the pool and its
//! failures. Every test runs on SQLite and on PostgreSQL, each on a database
//! of its own.

use std::collections::BTreeSet;

use custodian_api::db::{Backend, DbConn, DbError, migrations, schema};
use custodian_api::error::ApiError;
use custodian_api::testing::{TestDatabase, unreachable_database};
use diesel::prelude::*;
use diesel::query_builder::QueryFragment;
use diesel::sql_types::Text;
use rstest::rstest;

/// One column as the database describes it, normalized across backends.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, QueryableByName)]
struct ColumnInfo {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    not_null: String,
}

#[derive(Debug, QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

const SQLITE_COLUMNS: &str = "\
    SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
           CASE WHEN p.\"notnull\" = 1 THEN 'yes' ELSE 'no' END AS not_null \
    FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p \
    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND p.hidden IN (0, 2, 3) \
      AND m.name <> '__diesel_schema_migrations' \
    ORDER BY m.name, p.cid";

const POSTGRES_COLUMNS: &str = "\
    SELECT table_name::text AS table_name, column_name::text AS column_name, \
           data_type::text AS data_type, \
           CASE WHEN is_nullable = 'NO' THEN 'yes' ELSE 'no' END AS not_null \
    FROM information_schema.columns \
    WHERE table_schema = current_schema() AND table_name <> '__diesel_schema_migrations' \
    ORDER BY table_name, ordinal_position";

const SQLITE_INDEXES: &str = "\
    SELECT name FROM sqlite_master \
    WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name";

const POSTGRES_INDEXES: &str = "\
    SELECT indexname::text AS name FROM pg_indexes \
    WHERE schemaname = current_schema() \
      AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key' ORDER BY indexname";

/// The same type family, whatever the backend calls it.
fn family(data_type: &str) -> &'static str {
    match data_type.to_ascii_lowercase().as_str() {
        "text" => "text",
        "bigint" => "bigint",
        "integer" => "integer",
        "boolean" => "boolean",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "blob" | "bytea" => "binary",
        other => panic!("a column type outside the shared set: {other}"),
    }
}

/// Tables, columns (type family, nullability) and named indexes.
#[derive(Debug, PartialEq, Eq)]
struct SchemaShape {
    columns: Vec<(String, String, &'static str, String)>,
    indexes: BTreeSet<String>,
}

fn shape(conn: &mut DbConn) -> SchemaShape {
    let (columns_sql, indexes_sql) = match conn.backend() {
        Backend::Sqlite => (SQLITE_COLUMNS, SQLITE_INDEXES),
        Backend::Postgres => (POSTGRES_COLUMNS, POSTGRES_INDEXES),
    };
    let columns = diesel::sql_query(columns_sql)
        .load::<ColumnInfo>(conn)
        .expect("list columns")
        .into_iter()
        .map(|c| {
            (
                c.table_name,
                c.column_name,
                family(&c.data_type),
                c.not_null,
            )
        })
        .collect();
    let indexes = diesel::sql_query(indexes_sql)
        .load::<Name>(conn)
        .expect("list indexes")
        .into_iter()
        .map(|n| n.name)
        .collect();
    SchemaShape { columns, indexes }
}

fn migrated(db: &TestDatabase) -> DbConn {
    let mut conn = db.connect();
    migrations::run_pending(&mut conn).expect("migrations apply");
    conn
}

#[rstest]
fn migrations_go_up_down_and_up_again(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(db) = TestDatabase::create(backend) else {
        return;
    };
    let mut conn = db.connect();
    assert!(!migrations::pending(&mut conn).unwrap().is_empty());
    let applied = migrations::run_pending(&mut conn).unwrap();
    assert_eq!(applied, migrations::known_versions(backend));
    assert!(migrations::pending(&mut conn).unwrap().is_empty());
    let first = shape(&mut conn);
    assert_eq!(
        first
            .columns
            .iter()
            .map(|c| c.0.as_str())
            .collect::<BTreeSet<_>>()
            .len(),
        22,
        "the whole domain schema, the platform's operators and clients, companies' SCIM \
         tokens, and the sign-in throttle's counts"
    );

    let reverted = migrations::revert_all(&mut conn).unwrap();
    assert_eq!(reverted.len(), applied.len());
    let empty = shape(&mut conn);
    assert!(
        empty.columns.is_empty(),
        "down left tables behind: {:?}",
        empty.columns
    );
    assert!(
        empty.indexes.is_empty(),
        "down left indexes behind: {:?}",
        empty.indexes
    );
    assert_eq!(migrations::current_version(&mut conn).unwrap(), None);

    migrations::run_pending(&mut conn).unwrap();
    assert_eq!(shape(&mut conn), first);
    assert_eq!(
        migrations::current_version(&mut conn).unwrap(),
        applied.last().cloned()
    );
}

#[test]
fn both_trees_create_the_same_tables_and_columns() {
    let sqlite = TestDatabase::create(Backend::Sqlite).expect("SQLite is always there");
    let Some(postgres) = TestDatabase::create(Backend::Postgres) else {
        return;
    };
    assert_eq!(
        migrations::known_versions(Backend::Sqlite),
        migrations::known_versions(Backend::Postgres)
    );
    let sqlite = shape(&mut migrated(&sqlite));
    let postgres = shape(&mut migrated(&postgres));
    for (s, p) in sqlite.columns.iter().zip(&postgres.columns) {
        assert_eq!(s, p, "migrations/sqlite and migrations/postgres differ");
    }
    assert_eq!(sqlite.columns.len(), postgres.columns.len());
    let mut postgres_indexes = postgres.indexes.clone();
    for only in POSTGRES_ONLY_INDEXES {
        assert!(
            postgres_indexes.remove(*only),
            "{only} is gone from PostgreSQL"
        );
    }
    assert_eq!(sqlite.indexes, postgres_indexes);
}

/// Indexes SQLite has no counterpart for: the trigram index that locates
/// users by any part of their email or name (migration 000005), and the
/// byte-order one for email prefixes (SQLite's own unique index on
/// `(partner_id, email)` is in byte order already).
const POSTGRES_ONLY_INDEXES: &[&str] = &["users_email_prefix", "users_search_trgm"];

/// The column names diesel's `table!` declares for a table, in order.
fn declared_columns<T>(table: T) -> Vec<String>
where
    T: Table,
    T::AllColumns: QueryFragment<diesel::sqlite::Sqlite>,
{
    let _ = table;
    let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&T::all_columns()).to_string();
    let sql = sql.split(" -- binds").next().unwrap_or_default();
    sql.split(", ")
        .map(|qualified| {
            let column = qualified.rsplit('.').next().unwrap_or(qualified);
            column.trim_matches('`').trim_matches('"').to_owned()
        })
        .collect()
}

#[rstest]
fn the_diesel_schema_matches_the_migrations(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(db) = TestDatabase::create(backend) else {
        return;
    };
    let mut conn = migrated(&db);
    let actual = shape(&mut conn);
    let declared: Vec<(&str, Vec<String>)> = vec![
        ("partners", declared_columns(schema::partners::table)),
        ("companies", declared_columns(schema::companies::table)),
        ("admins", declared_columns(schema::admins::table)),
        (
            "admin_companies",
            declared_columns(schema::admin_companies::table),
        ),
        ("api_clients", declared_columns(schema::api_clients::table)),
        (
            "api_client_companies",
            declared_columns(schema::api_client_companies::table),
        ),
        (
            "backup_profiles",
            declared_columns(schema::backup_profiles::table),
        ),
        ("users", declared_columns(schema::users::table)),
        ("vault_items", declared_columns(schema::vault_items::table)),
        (
            "backup_copies",
            declared_columns(schema::backup_copies::table),
        ),
        (
            "reset_batches",
            declared_columns(schema::reset_batches::table),
        ),
        (
            "master_password_resets",
            declared_columns(schema::master_password_resets::table),
        ),
        (
            "reset_batch_items",
            declared_columns(schema::reset_batch_items::table),
        ),
        (
            "outbox_messages",
            declared_columns(schema::outbox_messages::table),
        ),
        (
            "audit_events",
            declared_columns(schema::audit_events::table),
        ),
        ("audit_heads", declared_columns(schema::audit_heads::table)),
        (
            "idempotency_keys",
            declared_columns(schema::idempotency_keys::table),
        ),
        (
            "signing_keys",
            declared_columns(schema::signing_keys::table),
        ),
        (
            "sign_in_throttle",
            declared_columns(schema::sign_in_throttle::table),
        ),
        ("operators", declared_columns(schema::operators::table)),
        (
            "operator_clients",
            declared_columns(schema::operator_clients::table),
        ),
        ("scim_tokens", declared_columns(schema::scim_tokens::table)),
    ];
    let tables: BTreeSet<&str> = actual.columns.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        tables,
        declared.iter().map(|d| d.0).collect::<BTreeSet<_>>()
    );
    for (table, columns) in declared {
        let in_database: Vec<&str> = actual
            .columns
            .iter()
            .filter(|c| c.0 == table)
            .map(|c| c.1.as_str())
            .collect();
        assert_eq!(
            in_database, columns,
            "schema.rs and the migrations differ for {table}"
        );
    }
    // And diesel's typed selects run against the real tables.
    schema::users::table
        .select(schema::users::all_columns)
        .limit(0)
        .execute(&mut conn)
        .unwrap();
    schema::master_password_resets::table
        .select(schema::master_password_resets::all_columns)
        .limit(0)
        .execute(&mut conn)
        .unwrap();
}

fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

fn insert_partner_and_company(conn: &mut DbConn, partner: &str, company: &str) {
    use schema::{companies, partners};
    diesel::insert_into(partners::table)
        .values((
            partners::id.eq(partner),
            partners::name.eq(partner),
            partners::created_at.eq(now()),
            partners::updated_at.eq(now()),
        ))
        .execute(conn)
        .unwrap();
    diesel::insert_into(companies::table)
        .values((
            companies::id.eq(company),
            companies::partner_id.eq(partner),
            companies::name.eq(company),
            companies::created_at.eq(now()),
            companies::updated_at.eq(now()),
        ))
        .execute(conn)
        .unwrap();
}

fn insert_user(conn: &mut DbConn, id: &str, partner: &str, company: &str) -> QueryResult<usize> {
    use schema::users;
    diesel::insert_into(users::table)
        .values((
            users::id.eq(id),
            users::partner_id.eq(partner),
            users::company_id.eq(company),
            users::email.eq(format!("{id}@example.com")),
            users::name.eq(id),
            users::client_kind.eq("desktop"),
            users::created_at.eq(now()),
            users::updated_at.eq(now()),
        ))
        .execute(conn)
}

#[rstest]
fn a_row_cannot_point_into_another_partner(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(db) = TestDatabase::create(backend) else {
        return;
    };
    let mut conn = migrated(&db);
    insert_partner_and_company(&mut conn, "p1", "c1");
    insert_partner_and_company(&mut conn, "p2", "c2");
    insert_user(&mut conn, "u1", "p1", "c1").expect("a user of its own partner's company");
    let crossing = insert_user(&mut conn, "u2", "p1", "c2").unwrap_err();
    assert!(
        matches!(
            crossing,
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _
            )
        ),
        "{crossing:?}"
    );
}

/// An email is unique within a company, not across the partner; going back
/// refuses while an email has accounts at two companies and leaves every
/// row where it was (on SQLite the table is rebuilt, and what points at it
/// must survive both ways).
#[rstest]
fn user_emails_are_unique_per_company_and_the_way_back_loses_nothing(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use schema::{users, vault_items};
    let Some(db) = TestDatabase::create(backend) else {
        return;
    };
    let mut conn = migrated(&db);
    // Back to the migration that made emails unique per company: the way
    // back tried below is its own.
    while migrations::current_version(&mut conn).unwrap().as_deref() != Some("20261202000009") {
        migrations::revert_last(&mut conn).unwrap();
    }
    insert_partner_and_company(&mut conn, "p1", "c1");
    diesel::insert_into(schema::companies::table)
        .values((
            schema::companies::id.eq("c2"),
            schema::companies::partner_id.eq("p1"),
            schema::companies::name.eq("c2"),
            schema::companies::created_at.eq(now()),
            schema::companies::updated_at.eq(now()),
        ))
        .execute(&mut conn)
        .unwrap();
    insert_user(&mut conn, "u1", "p1", "c1").unwrap();
    diesel::insert_into(vault_items::table)
        .values((
            vault_items::user_id.eq("u1"),
            vault_items::item_id.eq("i1"),
            vault_items::profile.eq("personal"),
            vault_items::revision.eq(1_i64),
            vault_items::ciphertext.eq(vec![1_u8, 2, 3]),
            vault_items::created_at.eq(now()),
            vault_items::updated_at.eq(now()),
        ))
        .execute(&mut conn)
        .unwrap();
    let same_email = |conn: &mut DbConn, id: &str, company: &str| {
        diesel::insert_into(users::table)
            .values((
                users::id.eq(id),
                users::partner_id.eq("p1"),
                users::company_id.eq(company),
                users::email.eq("u1@example.com"),
                users::name.eq(id),
                users::client_kind.eq("desktop"),
                users::created_at.eq(now()),
                users::updated_at.eq(now()),
            ))
            .execute(conn)
    };
    let twice = same_email(&mut conn, "u1-again", "c1").unwrap_err();
    assert!(
        matches!(
            twice,
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            )
        ),
        "{twice:?}"
    );
    same_email(&mut conn, "u2", "c2").expect("the same email at another company");

    let counts = |conn: &mut DbConn| -> (i64, i64) {
        (
            users::table.count().get_result(conn).unwrap(),
            vault_items::table.count().get_result(conn).unwrap(),
        )
    };
    let newest = migrations::current_version(&mut conn).unwrap();
    migrations::revert_last(&mut conn).expect_err("two accounts share an email");
    assert_eq!(migrations::current_version(&mut conn).unwrap(), newest);
    assert_eq!(
        counts(&mut conn),
        (2, 1),
        "a refused way back loses nothing"
    );

    diesel::delete(users::table.filter(users::id.eq("u2")))
        .execute(&mut conn)
        .unwrap();
    migrations::revert_last(&mut conn).unwrap();
    assert_eq!(
        counts(&mut conn),
        (1, 1),
        "the vault item survives the way back"
    );
    migrations::run_pending(&mut conn).unwrap();
    assert_eq!(counts(&mut conn), (1, 1), "and the way forward");
    // Foreign keys hold again afterwards: a vault item of nobody is refused.
    let orphan = diesel::insert_into(vault_items::table)
        .values((
            vault_items::user_id.eq("nobody"),
            vault_items::item_id.eq("i2"),
            vault_items::profile.eq("personal"),
            vault_items::revision.eq(1_i64),
            vault_items::ciphertext.eq(vec![1_u8]),
            vault_items::created_at.eq(now()),
            vault_items::updated_at.eq(now()),
        ))
        .execute(&mut conn);
    assert!(orphan.is_err(), "foreign keys are on again");
}

#[rstest]
fn a_user_has_at_most_one_pending_reset(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use schema::master_password_resets as r;
    let Some(db) = TestDatabase::create(backend) else {
        return;
    };
    let mut conn = migrated(&db);
    insert_partner_and_company(&mut conn, "p1", "c1");
    insert_user(&mut conn, "u1", "p1", "c1").unwrap();
    let reset = |id: &str, status: &str| {
        (
            r::id.eq(id.to_owned()),
            r::partner_id.eq("p1"),
            r::company_id.eq("c1"),
            r::user_id.eq("u1"),
            r::status.eq(status.to_owned()),
            r::delivery_kind.eq("temporary_password"),
            r::secret_expires_at.eq(now()),
            r::personal_items_purged.eq(0i64),
            r::company_items_purged.eq(0i64),
            r::company_items_preserved.eq(0i64),
            r::acknowledged_company_data_loss.eq(false),
            r::requested_by_kind.eq("admin"),
            r::requested_by_id.eq("a1"),
            r::created_at.eq(now()),
            r::updated_at.eq(now()),
        )
    };
    diesel::insert_into(r::table)
        .values(reset("r1", "pending_user_action"))
        .execute(&mut conn)
        .unwrap();
    diesel::insert_into(r::table)
        .values(reset("r0", "superseded"))
        .execute(&mut conn)
        .unwrap();
    let second = diesel::insert_into(r::table)
        .values(reset("r2", "pending_user_action"))
        .execute(&mut conn)
        .unwrap_err();
    assert!(
        matches!(
            second,
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            )
        ),
        "{second:?}"
    );
    let bad_status = diesel::insert_into(r::table)
        .values(reset("r3", "purged"))
        .execute(&mut conn);
    assert!(bad_status.is_err(), "the CHECK on status holds");
}

#[test]
fn sqlite_connections_get_wal_busy_timeout_and_foreign_keys() {
    #[derive(QueryableByName)]
    struct Pragma {
        #[diesel(sql_type = Text)]
        value: String,
    }
    #[derive(QueryableByName)]
    struct MmapSize {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        mmap_size: i64,
    }
    let db = TestDatabase::create(Backend::Sqlite).unwrap();
    let mut conn = db.pool().get_blocking().unwrap();
    let mut pragma = |name: &str, column: &str| {
        diesel::sql_query(format!(
            "SELECT CAST({column} AS TEXT) AS value FROM pragma_{name}"
        ))
        .get_result::<Pragma>(&mut **conn)
        .unwrap()
        .value
    };
    assert_eq!(pragma("journal_mode", "journal_mode"), "wal");
    assert_eq!(pragma("foreign_keys", "foreign_keys"), "1");
    assert_eq!(pragma("busy_timeout", "timeout"), "5000");
    assert_eq!(pragma("synchronous", "synchronous"), "2", "FULL");
    // `PRAGMA mmap_size` has no table-valued form; it answers as a query.
    let mmap = diesel::sql_query("PRAGMA mmap_size")
        .load::<MmapSize>(&mut **conn)
        .unwrap();
    assert_eq!(mmap[0].mmap_size, 256 << 20, "reads through a memory map");
    // Built with the query planner stability guarantee (.cargo/config.toml):
    // without it every statement with a bound LIMIT is compiled anew at
    // each use.
    let qpsg =
        diesel::sql_query("SELECT CAST(sqlite_compileoption_used('ENABLE_QPSG') AS TEXT) AS value")
            .get_result::<Pragma>(&mut **conn)
            .unwrap()
            .value;
    assert_eq!(qpsg, "1", "SQLite is built with SQLITE_ENABLE_QPSG");
}

#[rstest]
#[actix_web::test]
async fn an_unreachable_database_is_unavailable_never_absent(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let db = unreachable_database(backend);
    let error = db.run(migrations::pending).await.unwrap_err();
    assert!(matches!(error, DbError::Unavailable(_)), "{error:?}");
    assert_eq!(ApiError::from(error).code(), "database_unavailable");
}

#[rstest]
#[actix_web::test]
async fn the_pool_runs_work_off_the_executor(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(db) = TestDatabase::create(backend) else {
        return;
    };
    let pool = db.pool();
    let executor = std::thread::current().id();
    let (worker, pending) = pool
        .run(move |conn| {
            Ok::<_, DbError>((std::thread::current().id(), migrations::pending(conn)?))
        })
        .await
        .unwrap();
    assert_ne!(worker, executor, "database work ran on the executor thread");
    assert_eq!(pending, migrations::known_versions(backend));
    assert_eq!(pool.backend(), backend);
    let usage = pool.usage();
    assert_eq!((usage.max, usage.connections >= 1), (4, true));
}

/// Requests that find every connection taken get one in the order they
/// came, and one that waits past the checkout timeout is an outage (503),
/// not a hang; the connections held meanwhile are not disturbed.
#[rstest]
#[actix_web::test]
async fn requests_get_connections_in_arrival_order(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use custodian_api::db::{Db, PoolOptions};
    use std::sync::{Arc, Mutex, mpsc};

    let Some(db) = TestDatabase::create(backend) else {
        return;
    };
    let pool = Db::connect(
        &db.url,
        PoolOptions {
            max_size: 1,
            checkout_timeout: std::time::Duration::from_millis(500),
            check_now: true,
        },
    )
    .unwrap();
    // Take the one connection and keep it until told.
    let (holding, held) = tokio::sync::oneshot::channel();
    let (release, wait) = mpsc::channel::<()>();
    let holder = actix_web::rt::spawn({
        let pool = pool.clone();
        async move {
            pool.run(move |conn| {
                let one = diesel::select(1.into_sql::<diesel::sql_types::Integer>())
                    .get_result::<i32>(conn)?;
                holding.send(()).unwrap();
                wait.recv().unwrap();
                Ok::<_, DbError>(one)
            })
            .await
        }
    });
    held.await.unwrap();

    // Nothing comes free within the timeout: 503.
    let error = pool.run(|_| Ok(())).await.unwrap_err();
    assert!(matches!(error, DbError::Unavailable(_)), "{error:?}");
    assert_eq!(ApiError::from(error).code(), "database_unavailable");

    // Eight loops of requests, each taking a ticket as it comes: the
    // connection serves them in ticket order, none overtaking another that
    // came first (r2d2 alone would let a newcomer's thread take a
    // connection given back before the woken waiter does).
    let tickets = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let served = Arc::new(Mutex::new(Vec::new()));
    let mut loops = Vec::new();
    for _ in 0..8 {
        let (pool, tickets, served) = (pool.clone(), tickets.clone(), served.clone());
        loops.push(actix_web::rt::spawn(async move {
            for _ in 0..25 {
                let ticket = tickets.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let served = served.clone();
                pool.run(move |_| {
                    served.lock().unwrap().push(ticket);
                    Ok::<_, DbError>(())
                })
                .await
                .unwrap();
            }
        }));
    }
    // All eight are waiting behind the held connection.
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    release.send(()).unwrap();
    assert_eq!(holder.await.unwrap().unwrap(), 1);
    for done in loops {
        done.await.unwrap();
    }
    let served = served.lock().unwrap().clone();
    assert_eq!(served, (0..200).collect::<Vec<_>>());
}
