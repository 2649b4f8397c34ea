//! The PostgreSQL backend against the database named by `PORTCULLIS_TEST_DATABASE_URL`
//! (skipped, visibly, when it is unset). Each test works in a schema of its own.

use portcullis_store::{pg_options, Migration, PgStore, Store, StoreHandle, StoreReason, PG_MIGRATIONS};
use sqlx::Executor;

struct Schema {
    url: String,
    name: String,
}

impl Schema {
    async fn create() -> Option<Schema> {
        let Ok(url) = std::env::var("PORTCULLIS_TEST_DATABASE_URL") else {
            println!("SKIPPED: PORTCULLIS_TEST_DATABASE_URL is not set, PostgreSQL test not run");
            return None;
        };
        let name = format!("store_{}", uuid::Uuid::new_v4().simple());
        let pool = portcullis_store::pg_pool(pg_options(&url).unwrap()).await.unwrap();
        pool.execute(format!("CREATE SCHEMA {name}").as_str()).await.unwrap();
        pool.close().await;
        Some(Schema { url, name })
    }

    fn options(&self) -> sqlx::postgres::PgConnectOptions {
        pg_options(&self.url).unwrap().options([("search_path", self.name.as_str())])
    }

    async fn drop_it(self) {
        let pool = portcullis_store::pg_pool(pg_options(&self.url).unwrap()).await.unwrap();
        pool.execute(format!("DROP SCHEMA {} CASCADE", self.name).as_str()).await.unwrap();
    }
}

#[tokio::test]
async fn connects_migrates_and_keeps_its_identity() {
    let Some(schema) = Schema::create().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = PgStore::connect_with(schema.options(), dir.path()).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 1);
    store.health().await.unwrap();
    let id = store.gateway_id().to_owned();
    store.pool().close().await;
    let again = PgStore::connect_with(schema.options(), dir.path()).await.unwrap();
    assert_eq!(again.gateway_id(), id, "the gateway id survives a restart");
    let other_dir = tempfile::tempdir().unwrap();
    let other = PgStore::connect_with(schema.options(), other_dir.path()).await.unwrap();
    assert_ne!(other.gateway_id(), id, "another gateway on the same database is another stream");
    let gateways: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM gateways").fetch_one(other.pool()).await.unwrap();
    assert_eq!(gateways, 2);
    let handle = StoreHandle::from(other);
    assert_eq!(handle.backend(), "postgres");
    handle.close().await;
    assert_eq!(handle.health().await.unwrap_err().reason, StoreReason::Unavailable);
    again.pool().close().await;
    schema.drop_it().await;
}

#[tokio::test]
async fn refuses_newer_and_edited_migrations() {
    let Some(schema) = Schema::create().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = PgStore::connect_with(schema.options(), dir.path()).await.unwrap();
    let v1 = [Migration { version: 1, name: "t", sql: "CREATE TABLE t (x BIGINT);" }];
    assert_eq!(store.migrate("comp", &v1).await.unwrap(), 1);
    assert_eq!(store.migrate("comp", &v1).await.unwrap(), 1, "applying again is a no-op");
    let edited = [Migration { version: 1, name: "t", sql: "CREATE TABLE t (x TEXT);" }];
    let err = store.migrate("comp", &edited).await.unwrap_err();
    assert!(err.detail.contains("differs"), "{}", err.detail);
    let v2 = [v1[0], Migration { version: 2, name: "u", sql: "CREATE TABLE u (x BIGINT);" }];
    assert_eq!(store.migrate("comp", &v2).await.unwrap(), 2);
    let err = store.migrate("comp", &v1).await.unwrap_err();
    assert!(err.detail.contains("newer than this binary"), "{}", err.detail);
    assert_eq!(store.migrate("store", PG_MIGRATIONS).await.unwrap(), 1);
    store.pool().close().await;
    schema.drop_it().await;
}

#[tokio::test]
async fn concurrent_replicas_migrate_once() {
    let Some(schema) = Schema::create().await else { return };
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let opens = dirs.iter().map(|d| PgStore::connect_with(schema.options(), d.path()));
    let stores = futures_util::future::join_all(opens).await;
    for s in &stores {
        assert!(s.is_ok(), "{:?}", s.as_ref().err());
    }
    for s in stores.into_iter().flatten() {
        s.pool().close().await;
    }
    schema.drop_it().await;
}
