//! The outbox's claims on every backend: one claimant wins a mail, a claim of a sender that
//! died goes stale and is taken over, and the old holder can no longer record an outcome.

use idp_shared::ServiceKind;
use idp_shared::testkit::{TestEnv, backends};
use serde_json::Map;
use svc_tenants::store::mail::{self, FAILED, OutboxRow, PENDING, SENT};

fn row(id: &str, tenant_id: &str, now: i64) -> OutboxRow {
    OutboxRow {
        id: id.into(),
        tenant_id: tenant_id.into(),
        template: "TEST".into(),
        recipient: "a@b.example".into(),
        params_sealed: Some("v1:sealed".into()),
        status: PENDING.into(),
        attempts: 0,
        next_attempt_at: now,
        claimed_at: None,
        claim_token: None,
        last_error: None,
        created_at: now,
        sent_at: None,
    }
}

#[actix_web::test]
async fn one_claimant_wins_and_stale_claims_are_taken_over() {
    for backend in backends() {
        let env = TestEnv::new(&backend).await;
        let ctx = env
            .context(ServiceKind::Tenants, &svc_tenants::MIGRATIONS)
            .await;
        let db = ctx.db.clone();
        let name = backend.name();
        let tenant = svc_tenants::new_tenant("acme", true, Map::new(), 1);
        let tenant_id = tenant.row.id.clone();
        db.run(move |conn| svc_tenants::store::insert(conn, &tenant))
            .await
            .unwrap();
        let now = 1_000_000;
        let (a, b) = (row("m1", &tenant_id, now), row("m2", &tenant_id, now + 500));
        db.run(move |conn| {
            mail::enqueue(conn, &a)?;
            mail::enqueue(conn, &b)
        })
        .await
        .unwrap();

        // Only what is due, oldest first; eight claimants at once, one winner.
        let due = db
            .run(move |conn| mail::due(conn, now, now - 100, 10))
            .await
            .unwrap();
        assert_eq!(due, vec!["m1".to_owned()], "{name}");
        let claims = futures_util::future::join_all((0..8).map(|i| {
            let db = db.clone();
            async move {
                db.run(move |conn| mail::claim(conn, "m1", &format!("t{i}"), now, now - 100))
                    .await
                    .unwrap()
            }
        }))
        .await;
        let winners: Vec<&OutboxRow> = claims.iter().flatten().collect();
        assert_eq!(winners.len(), 1, "{name}: {claims:?}");
        let holder = winners[0].claim_token.clone().unwrap();
        assert_eq!(winners[0].attempts, 1, "{name}");
        assert_eq!(
            db.run(move |conn| mail::due(conn, now, now - 100, 10))
                .await
                .unwrap(),
            Vec::<String>::new(),
            "{name}: a claimed mail is not due"
        );
        assert_eq!(
            db.run(mail::next_due).await.unwrap(),
            Some(now + 500),
            "{name}"
        );

        // The holder died: once its claim is stale another sender takes the mail over, and
        // the old holder's late outcome changes nothing.
        let later = now + 10_000;
        let taken = db
            .run(move |conn| mail::claim(conn, "m1", "new", later, later - 100))
            .await
            .unwrap()
            .expect("a stale claim is taken over");
        assert_eq!(taken.attempts, 2, "{name}");
        let old = holder.clone();
        db.run(move |conn| mail::mark_sent(conn, "m1", &old, later))
            .await
            .unwrap();
        let m1 = db
            .run(|conn| mail::find_mail(conn, "m1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            m1.status, PENDING,
            "{name}: the old holder recorded an outcome"
        );
        assert_eq!(m1.claim_token.as_deref(), Some("new"), "{name}");

        // Retry releases the mail until its time; sent drops the parameters.
        db.run(move |conn| mail::mark_retry(conn, "m1", "new", later + 1000, "refused"))
            .await
            .unwrap();
        let m1 = db
            .run(|conn| mail::find_mail(conn, "m1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (m1.claimed_at, m1.next_attempt_at),
            (None, later + 1000),
            "{name}"
        );
        assert_eq!(m1.last_error.as_deref(), Some("refused"), "{name}");
        let at = later + 1000;
        let again = db
            .run(move |conn| mail::claim(conn, "m1", "third", at, at - 100))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.attempts, 3, "{name}");
        db.run(move |conn| mail::mark_sent(conn, "m1", "third", at))
            .await
            .unwrap();
        let m1 = db
            .run(|conn| mail::find_mail(conn, "m1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m1.status, SENT, "{name}");
        assert_eq!(m1.params_sealed, None, "{name}");
        assert_eq!(m1.sent_at, Some(at), "{name}");

        // Given up: FAILED and kept; sent mail is purged after its retention.
        let m2 = db
            .run(move |conn| mail::claim(conn, "m2", "x", at, at - 100))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m2.attempts, 1, "{name}");
        db.run(|conn| mail::mark_failed(conn, "m2", "x", "554 rejected"))
            .await
            .unwrap();
        let purged = db
            .run(move |conn| mail::purge_sent(conn, at + 1))
            .await
            .unwrap();
        assert_eq!(purged, 1, "{name}");
        let left = db
            .run(move |conn| mail::tenant_mails(conn, &tenant_id))
            .await
            .unwrap();
        assert_eq!(left.len(), 1, "{name}: {left:?}");
        assert_eq!(left[0].status, FAILED, "{name}");
        assert_eq!(
            left[0].last_error.as_deref(),
            Some("554 rejected"),
            "{name}"
        );
    }
}
