//! svc-users over HTTP on every configured backend.

use idp_shared::ServiceKind;
use idp_shared::testkit::{TestEnv, backends};

#[actix_web::test]
async fn serves_health_metrics_and_migrates_both_ways() {
    idp_shared::testkit::check_service_conformance::<svc_users::State>().await;
}

/// Every migration goes down to nothing and up again to the same tables, on every backend
/// (without starting the service, whose first start needs svc-apps).
#[actix_web::test]
async fn migrations_go_down_and_up() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let ctx = env
            .context(ServiceKind::Users, &svc_users::MIGRATIONS)
            .await;
        let tables = ctx.db.table_names().await.unwrap();
        for table in ["users", "user_groups", "group_attributes", "user_addresses"] {
            assert!(
                tables.iter().any(|t| t == table),
                "{}: {tables:?}",
                backend.name()
            );
        }
        ctx.db.revert_all(&svc_users::MIGRATIONS).await.unwrap();
        assert_eq!(ctx.db.table_names().await.unwrap(), Vec::<String>::new());
        ctx.db.migrate(&svc_users::MIGRATIONS).await.unwrap();
        assert_eq!(
            ctx.db.table_names().await.unwrap(),
            tables,
            "{}",
            backend.name()
        );
    }
}
