//! The store conformance suite: every test runs on SQLite and, when `SOUK_TEST_DATABASE_URL` is
//! set, on PostgreSQL, each in a database of its own.

use souk_domain::account::{Role, StoreDraft, StoreInput, VerificationInput};
use souk_domain::catalog::{ProductDraft, ProductInput, SkuPatch};
use souk_domain::clock::ManualClock;
use souk_domain::time::DAY_MS;
use souk_store::catalog::{ImportOutcome, ProductFilter};
use souk_store::idempotency::Claim;
use souk_store::search::Traffic;
use souk_store::testing::{TestBackend, TestDb};
use souk_store::Conflict;
use souk_store::{Store, StoreError};
use std::sync::Arc;

const T0: i64 = 1_790_000_000_000;

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                if let Some(db) = souk_store::testing::TestDb::new(souk_store::testing::TestBackend::Sqlite).await {
                    super::$name(db).await
                }
            }
            #[tokio::test]
            async fn postgres() {
                if let Some(db) = souk_store::testing::TestDb::new(souk_store::testing::TestBackend::Postgres).await {
                    super::$name(db).await
                }
            }
        }
    )*};
}

conformance!(
    users_and_sessions,
    cached_sessions_follow_changes,
    stores_and_verification,
    products_crud_and_pagination,
    import_upserts,
    idempotency_claims,
    cancelled_transactions_leave_no_trace,
    concurrent_writers_commit_each_or_not_at_all,
    email_tokens_are_single_use,
    concurrent_slug_claims_have_one_winner,
    the_catalog_feed_records_every_change,
    the_audit_log_records_privileged_actions_and_only_grows,
    the_outbox_triggers_owe_exactly_the_listed_emails_and_webhooks,
);

async fn open(db: &TestDb) -> (Store, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    (db.open(clock.clone()).await.expect("open store"), clock)
}

async fn user(store: &Store, email: &str) -> String {
    let mut tx = store.begin().await.unwrap();
    let u = tx.create_user(email, &email.to_lowercase(), "hash", "name").await.unwrap();
    tx.commit().await.unwrap();
    u.id
}

fn store_draft(slug: &str, country: &str, currency: &str) -> StoreDraft {
    StoreInput {
        name: "Shop".into(),
        slug: slug.into(),
        country: country.into(),
        currency: currency.into(),
        description: String::new(),
    }
    .validate()
    .unwrap()
}

async fn shop(store: &Store, owner: &str, slug: &str) -> String {
    let draft = store_draft(slug, "CN", "CNY");
    let mut tx = store.begin().await.unwrap();
    let s = tx.create_store(owner, &draft).await.unwrap();
    tx.commit().await.unwrap();
    s.id
}

fn draft(title: &str, sku: Option<&str>, price: i64, stock: i64) -> ProductDraft {
    let input: ProductInput = serde_json::from_value(serde_json::json!({
        "title": title, "category": "electronics/phones", "ships_to": ["*"],
        "skus": [{"sku": sku, "price": {"amount": price, "currency": "CNY"}, "stock": stock}]
    }))
    .unwrap();
    input.validate().unwrap()
}

async fn users_and_sessions(db: TestDb) {
    let (store, clock) = open(&db).await;
    let id = user(&store, "Ann@Example.com").await;
    let mut tx = store.begin().await.unwrap();
    let dup = tx.create_user("ann@example.com", "ann@example.com", "h", "n").await;
    assert!(matches!(dup, Err(StoreError::Conflict { kind: Conflict::EmailTaken, .. })), "{dup:?}");
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    tx.grant_role(&id, Role::Mediator, "system").await.unwrap();
    tx.grant_role(&id, Role::Mediator, "system").await.unwrap();
    tx.create_session(&id, "tokenhash", DAY_MS, "test").await.unwrap();
    tx.commit().await.unwrap();
    let u = store.user_by_session("tokenhash").await.unwrap();
    assert_eq!(u.id, id);
    assert_eq!(u.roles, vec![Role::Mediator]);
    assert!(u.has(Role::Buyer) && !u.has(Role::Admin));
    clock.advance_ms(DAY_MS + 1);
    assert!(matches!(store.user_by_session("tokenhash").await, Err(StoreError::NotFound)));
}

/// Sessions are served from memory for a while: a change made through this store shows at
/// once, one made by another process within `EPOCH_CHECK_MS` (it moves `auth_epoch`).
async fn cached_sessions_follow_changes(db: TestDb) {
    let (store, clock) = open(&db).await;
    let other = db.open(clock.clone()).await.expect("a second process");
    let id = user(&store, "cache@example.com").await;
    let mut tx = store.begin().await.unwrap();
    tx.create_session(&id, "mine", DAY_MS, "test").await.unwrap();
    tx.create_session(&id, "theirs", DAY_MS, "test").await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.user_by_session("mine").await.unwrap().roles.is_empty());

    let mut tx = store.begin().await.unwrap();
    tx.grant_role(&id, Role::Mediator, "system").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.user_by_session("mine").await.unwrap().roles, vec![Role::Mediator], "a grant here shows at once");
    assert!(store.user_by_session("theirs").await.is_ok());

    let mut tx = other.begin().await.unwrap();
    tx.delete_session("theirs").await.unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(other.user_by_session("theirs").await, Err(StoreError::NotFound)));
    assert!(store.user_by_session("theirs").await.is_ok(), "another process's log-out is not seen yet");
    clock.advance_ms(souk_store::accounts::EPOCH_CHECK_MS);
    assert!(matches!(store.user_by_session("theirs").await, Err(StoreError::NotFound)), "but within the window");

    // Another process's grant: unseen while the epoch is not due, seen once it is.
    assert!(!store.user_by_session("mine").await.unwrap().has(Role::Admin));
    let mut tx = other.begin().await.unwrap();
    tx.grant_role(&id, Role::Admin, "system").await.unwrap();
    tx.commit().await.unwrap();
    assert!(!store.user_by_session("mine").await.unwrap().has(Role::Admin), "served from memory");
    clock.advance_ms(souk_store::accounts::EPOCH_CHECK_MS);
    assert!(store.user_by_session("mine").await.unwrap().has(Role::Admin), "seen within the window");

    let mut tx = store.begin().await.unwrap();
    tx.delete_session("mine").await.unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(store.user_by_session("mine").await, Err(StoreError::NotFound)), "a log-out here is at once");
    other.close().await;
}

async fn stores_and_verification(db: TestDb) {
    let (store, _) = open(&db).await;
    let owner = user(&store, "s@x.com").await;
    let other = user(&store, "o@x.com").await;
    let admin = user(&store, "a@x.com").await;
    let store_id = shop(&store, &owner, "my-shop").await;
    assert!(store.user_by_id(&owner).await.unwrap().has(Role::Seller));
    let draft = store_draft("my-shop", "US", "USD");
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.create_store(&owner, &draft).await,
        Err(StoreError::Conflict { kind: Conflict::StoreExists, .. })
    ));
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.create_store(&other, &draft).await,
        Err(StoreError::Conflict { kind: Conflict::SlugTaken, .. })
    ));
    drop(tx);
    assert!(store.user_by_id(&other).await.unwrap().roles.is_empty(), "a failed store opening grants nothing");

    let kyc: VerificationInput = serde_json::from_value(serde_json::json!({
        "legal_name": "Li Wei", "document_type": "business_license", "document_number": "91440300-X"
    }))
    .unwrap();
    let mut tx = store.begin().await.unwrap();
    let req = tx.submit_verification(&store_id, &kyc).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.submit_verification(&store_id, &kyc).await,
        Err(StoreError::Conflict { kind: Conflict::VerificationPending, .. })
    ));
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(tx.decide_verification(&req.id, false, None, &admin).await, Err(StoreError::Invalid(_))));
    let decided = tx.decide_verification(&req.id, true, None, &admin).await.unwrap();
    assert_eq!(decided.status.as_str(), "approved");
    tx.commit().await.unwrap();
    assert_eq!(store.store_by_id(&store_id).await.unwrap().verification.as_str(), "identity");
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.decide_verification(&req.id, false, Some("late"), &admin).await,
        Err(StoreError::Conflict { kind: Conflict::InvalidState, .. })
    ));
    drop(tx);
    let pending = store
        .list_verifications(Some(souk_domain::account::VerificationStatus::Pending), None, None, 10)
        .await
        .unwrap();
    assert!(pending.items.is_empty());
}

async fn products_crud_and_pagination(db: TestDb) {
    let (store, clock) = open(&db).await;
    let owner = user(&store, "s@x.com").await;
    let store_id = shop(&store, &owner, "gadgets").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        clock.advance_ms(1);
        let mut tx = store.begin().await.unwrap();
        ids.push(
            tx.create_product(&store_id, &draft(&format!("Phone {i}"), Some(&format!("P-{i}")), 1000 + i, 10))
                .await
                .unwrap()
                .id,
        );
        tx.commit().await.unwrap();
    }
    let filter = ProductFilter { store_id: Some(store_id.clone()), ..Default::default() };
    let first = store.list_products(&filter, None, 2).await.unwrap();
    assert_eq!(first.items.iter().map(|p| p.id.clone()).collect::<Vec<_>>(), vec![ids[4].clone(), ids[3].clone()]);
    let second = store.list_products(&filter, first.next_cursor.as_deref(), 2).await.unwrap();
    let third = store.list_products(&filter, second.next_cursor.as_deref(), 2).await.unwrap();
    assert_eq!(third.items.len(), 1);
    assert!(third.next_cursor.is_none());
    let by_root = ProductFilter { category: Some("electronics".into()), ..Default::default() };
    assert_eq!(store.list_products(&by_root, None, 10).await.unwrap().items.len(), 5);
    let other_cat = ProductFilter { category: Some("fashion".into()), ..Default::default() };
    assert!(store.list_products(&other_cat, None, 10).await.unwrap().items.is_empty());

    let p = store.product(&ids[0]).await.unwrap();
    assert_eq!(p.skus[0].stock, 10);
    assert_eq!(p.skus[0].price.amount, 1000);
    // Units reserved by orders bound how low stock may be set.
    let mut tx = store.begin().await.unwrap();
    sqlx::query("UPDATE stock SET reserved = 3 WHERE sku_id = $1")
        .bind(&p.skus[0].id)
        .execute(tx.conn())
        .await
        .unwrap();
    let below = tx.update_sku(&p.id, &p.skus[0].id, &SkuPatch { stock: Some(2), ..Default::default() }).await;
    assert!(matches!(below, Err(StoreError::Invalid(ref e)) if e.code == "below_reserved"), "{below:?}");
    let ok = tx.update_sku(&p.id, &p.skus[0].id, &SkuPatch { stock: Some(5), ..Default::default() }).await.unwrap();
    assert_eq!(ok.skus[0].stock, 2, "available = on hand - reserved");
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    tx.delete_product(&ids[1]).await.unwrap();
    assert!(matches!(tx.delete_product(&ids[1]).await, Err(StoreError::NotFound)));
    tx.commit().await.unwrap();
    assert!(matches!(store.product(&ids[1]).await, Err(StoreError::NotFound)));
    let mut conn = store.reader().await.unwrap();
    let row: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM stock").fetch_one(&mut *conn).await.unwrap();
    assert_eq!(row.0, 4, "stock rows go with their product");
}

async fn import_upserts(db: TestDb) {
    let (store, _) = open(&db).await;
    let owner = user(&store, "s@x.com").await;
    let store_id = shop(&store, &owner, "importer").await;
    let mut tx = store.begin().await.unwrap();
    let (first, id) = tx.import_product(&store_id, &draft("Case", Some("C-1"), 500, 3)).await.unwrap();
    assert_eq!(first, ImportOutcome::Created);
    let (second, same_id) = tx.import_product(&store_id, &draft("Case v2", Some("C-1"), 450, 7)).await.unwrap();
    assert_eq!((second, same_id), (ImportOutcome::Updated, id));
    assert_eq!(tx.import_product(&store_id, &draft("No code", None, 100, 1)).await.unwrap().0, ImportOutcome::Created);
    assert_eq!(tx.import_product(&store_id, &draft("No code", None, 120, 2)).await.unwrap().0, ImportOutcome::Updated);
    tx.commit().await.unwrap();
    let all = store.list_products(&ProductFilter::default(), None, 10).await.unwrap();
    assert_eq!(all.items.len(), 2);
    let case = all.items.iter().find(|p| p.skus[0].sku.as_deref() == Some("C-1")).unwrap();
    assert_eq!((case.title.as_str(), case.skus[0].price.amount, case.skus[0].stock), ("Case v2", 450, 7));
}

async fn idempotency_claims(db: TestDb) {
    let (store, clock) = open(&db).await;
    let Claim::Started(first) = store.claim_idempotency_key("u1", "k", "h1").await.unwrap() else { panic!() };
    let Claim::InFlight(holder) = store.claim_idempotency_key("u1", "k", "h1").await.unwrap() else { panic!() };
    assert!(store.holder_alive(&holder).await.unwrap(), "its request still runs");
    assert!(matches!(store.claim_idempotency_key("u1", "k", "h2").await.unwrap(), Claim::Mismatch));
    let Claim::Started(theirs) = store.claim_idempotency_key("u2", "k", "h2").await.unwrap() else {
        panic!("keys are per scope")
    };
    let mut tx = store.begin().await.unwrap();
    tx.complete_idempotency_key("u1", "k", &first.token, 201, "{\"id\":1}").await.unwrap();
    tx.commit().await.unwrap();
    first.settle();
    assert!(matches!(
        store.claim_idempotency_key("u1", "k", "h1").await.unwrap(),
        Claim::Replay { status: 201, body } if body == "{\"id\":1}"
    ));

    // A claim dropped unfinished (its request was cancelled) is released on its own.
    drop(theirs);
    let started = std::time::Instant::now();
    loop {
        match store.claim_idempotency_key("u2", "k", "h2").await.unwrap() {
            Claim::Started(c) => break c.release().await.unwrap(),
            Claim::InFlight(_) => assert!(started.elapsed() < std::time::Duration::from_secs(10), "never released"),
            other => panic!("{other:?}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    // Another process's claim is waited for while that process lives, and taken over, by one
    // contender only, once it has died without a word (as under kill -9).
    let other = db.open(clock.clone()).await.unwrap();
    let Claim::Started(lost) = other.claim_idempotency_key("u3", "k", "h").await.unwrap() else { panic!() };
    let Claim::InFlight(holder) = store.claim_idempotency_key("u3", "k", "h").await.unwrap() else { panic!() };
    assert_eq!(holder.boot.as_deref(), Some(other.boot_id()));
    assert!(store.holder_alive(&holder).await.unwrap(), "its process lives");
    std::mem::forget(lost);
    other.close().await;
    let started = std::time::Instant::now();
    while store.holder_alive(&holder).await.unwrap() {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "a closed process still counts as alive");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let taken = store.take_over_idempotency_key("u3", "k", &holder).await.unwrap().expect("taken over");
    assert!(store.take_over_idempotency_key("u3", "k", &holder).await.unwrap().is_none(), "by one contender only");
    let Claim::InFlight(now) = store.claim_idempotency_key("u3", "k", "h").await.unwrap() else { panic!() };
    assert!(store.holder_alive(&now).await.unwrap(), "the new holder runs");
    // The request that lost its claim cannot finish it.
    let mut tx = store.begin().await.unwrap();
    let lost_token = holder.token.clone().unwrap();
    let late = tx.complete_idempotency_key("u3", "k", &lost_token, 200, "{}").await;
    assert!(matches!(late, Err(StoreError::Conflict { kind: Conflict::IdempotencyConflict, .. })), "{late:?}");
    drop(tx);
    taken.release().await.unwrap();
    assert!(matches!(store.claim_idempotency_key("u3", "k", "h3").await.unwrap(), Claim::Started(_)));
}

/// Writers cut off at random points (waiting for the writer, inside `BEGIN`, between
/// statements, inside `COMMIT`), as timed-out and abandoned requests are: afterwards no
/// transaction is half-written, and this process, another one and the write probe all write.
async fn cancelled_transactions_leave_no_trace(db: TestDb) {
    use rand::{Rng, SeedableRng};
    let (store, clock) = open(&db).await;
    let seed: u64 = rand::random();
    eprintln!("cancellation seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut cut = 0;
    for round in 0..40 {
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut tx = store.begin().await?;
                    let email = format!("w{round}-{i}@x.test");
                    let user = tx.create_user(&email, &email, "hash", "w").await?;
                    tx.create_session(&user.id, &format!("token-{round}-{i}"), DAY_MS, "test").await?;
                    tx.commit().await
                })
            })
            .collect();
        for _ in 0..rng.gen_range(0..40) {
            tokio::task::yield_now().await;
        }
        if rng.gen_bool(0.3) {
            tokio::time::sleep(std::time::Duration::from_millis(rng.gen_range(0..3))).await;
        }
        for w in writers {
            if rng.gen_bool(0.7) {
                w.abort();
            }
            match w.await {
                Ok(done) => done.unwrap(),
                Err(e) => {
                    assert!(e.is_cancelled(), "{e}");
                    cut += 1;
                }
            }
        }
    }
    assert!(cut > 0, "some writers were cut off (seed {seed})");
    let limit = std::time::Duration::from_secs(10);
    let write = |store: Store, email: &'static str| async move {
        let mut tx = store.begin().await?;
        tx.create_user(email, email, "hash", "after").await?;
        tx.commit().await
    };
    tokio::time::timeout(limit, write(store.clone(), "after@x.test"))
        .await
        .unwrap_or_else(|_| panic!("writes wedged (seed {seed})"))
        .unwrap();
    let other = db.open(clock.clone()).await.unwrap();
    tokio::time::timeout(limit, write(other.clone(), "other@x.test"))
        .await
        .unwrap_or_else(|_| panic!("another process cannot write (seed {seed})"))
        .unwrap();
    other.close().await;
    assert!(store.probe_writes(limit).await, "seed {seed}");
    let mut conn = store.reader().await.unwrap();
    let (half,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM users u WHERE u.email LIKE 'w%' AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id)",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(half, 0, "a user without the session of its own transaction (seed {seed})");
}

/// Many writers at once (on SQLite they share group transactions): each that commits is
/// durable and visible to every connection when its commit returns, each that rolls back
/// leaves nothing, whoever it shared a group with.
async fn concurrent_writers_commit_each_or_not_at_all(db: TestDb) {
    let (store, _) = open(&db).await;
    let writers: Vec<_> = (0..60)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await.unwrap();
                let email = format!("g{i}@x.test");
                let user = tx.create_user(&email, &email, "hash", "g").await.unwrap();
                tx.create_session(&user.id, &format!("gt-{i}"), DAY_MS, "test").await.unwrap();
                let keep = i % 3 != 0;
                if keep {
                    tx.commit().await.unwrap();
                    // Committed means durable: another connection sees it now.
                    let mut reader = store.reader().await.unwrap();
                    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE email = $1")
                        .bind(&email)
                        .fetch_one(&mut *reader)
                        .await
                        .unwrap();
                    assert_eq!(n, 1, "{email} is visible once its commit returned");
                } else if i % 2 == 0 {
                    tx.rollback().await.unwrap();
                } else {
                    drop(tx);
                }
                keep
            })
        })
        .collect();
    let mut kept = 0;
    for w in writers {
        kept += i64::from(w.await.unwrap());
    }
    let limit = std::time::Duration::from_secs(10);
    let settled = async {
        loop {
            let mut reader = store.reader().await.unwrap();
            let (users,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE email LIKE 'g%'")
                .fetch_one(&mut *reader)
                .await
                .unwrap();
            let (sessions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE token_hash LIKE 'gt-%'")
                .fetch_one(&mut *reader)
                .await
                .unwrap();
            if (users, sessions) == (kept, kept) {
                break;
            }
            assert!(
                users <= kept && sessions <= kept,
                "rolled-back writers left rows: {users} users, {sessions} sessions"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(limit, settled).await.expect("every kept writer's rows are there");
    // A write committed soon is seen by the next transaction at once.
    let mut tx = store.begin().await.unwrap();
    tx.create_user("soon@x.test", "soon@x.test", "hash", "soon").await.unwrap();
    tx.commit_soon().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM users WHERE email = 'soon@x.test'").fetch_one(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(n, 1);
}

async fn email_tokens_are_single_use(db: TestDb) {
    let (store, clock) = open(&db).await;
    let owner = user(&store, "s@x.com").await;
    let store_id = shop(&store, &owner, "mailer").await;
    let mut tx = store.begin().await.unwrap();
    tx.create_email_token(&owner, "t1", DAY_MS, souk_store::accounts::TokenPurpose::Verify, None).await.unwrap();
    tx.create_email_token(&owner, "t2", DAY_MS, souk_store::accounts::TokenPurpose::Verify, None).await.unwrap();
    tx.commit().await.unwrap();
    clock.advance_ms(DAY_MS + 1);
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(tx.use_email_token("t1").await, Err(StoreError::NotFound)), "expired");
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    tx.create_email_token(&owner, "t3", DAY_MS, souk_store::accounts::TokenPurpose::Verify, None).await.unwrap();
    assert_eq!(tx.use_email_token("t3").await.unwrap(), owner);
    assert!(matches!(tx.use_email_token("t3").await, Err(StoreError::NotFound)), "used");
    tx.commit().await.unwrap();
    assert!(store.user_by_id(&owner).await.unwrap().email_verified);
    assert_eq!(store.store_by_id(&store_id).await.unwrap().verification.as_str(), "email");
}

async fn concurrent_slug_claims_have_one_winner(db: TestDb) {
    let (store, _) = open(&db).await;
    let mut owners = Vec::new();
    for i in 0..12 {
        owners.push(user(&store, &format!("u{i}@x.com")).await);
    }
    let tasks: Vec<_> = owners
        .into_iter()
        .map(|owner| {
            let store = store.clone();
            tokio::spawn(async move {
                let draft = store_draft("contested", "US", "USD");
                let mut tx = store.begin().await.unwrap();
                let r = tx.create_store(&owner, &draft).await;
                if r.is_ok() {
                    tx.commit().await.unwrap();
                }
                r.is_ok()
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
    assert_eq!(store.list_stores(None, 100).await.unwrap().items.len(), 1);
}

#[allow(dead_code)]
async fn the_catalog_feed_records_every_change(db: TestDb) {
    let (store, _) = open(&db).await;
    let owner = user(&store, "feed@x.com").await;
    let store_id = shop(&store, &owner, "feed").await;
    let changes = |after: i64| {
        let store = store.clone();
        async move { store.catalog_changes(after, 100).await.unwrap() }
    };
    let start = changes(0).await;
    assert_eq!(start.last().and_then(|c| c.store_id.clone()), Some(store_id.clone()), "a new store is a change");
    let mark = store.catalog_head().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let p = tx.create_product(&store_id, &draft("Feed phone", Some("F-1"), 1000, 5)).await.unwrap();
    tx.commit().await.unwrap();
    let after_create = changes(mark).await;
    assert!(after_create.iter().all(|c| c.product_id.as_deref() == Some(p.id.as_str())) && !after_create.is_empty());

    let mark = store.catalog_head().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.update_sku(&p.id, &p.skus[0].id, &SkuPatch { stock: Some(9), ..Default::default() }).await.unwrap();
    tx.commit().await.unwrap();
    assert!(changes(mark).await.iter().any(|c| c.product_id.as_deref() == Some(p.id.as_str())), "stock changes");

    let mark = store.catalog_head().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.create_product(&store_id, &draft("Rolled back", Some("F-2"), 1000, 5)).await.unwrap();
    drop(tx);
    assert_eq!(store.catalog_head().await.unwrap(), mark, "a rolled-back write leaves no change behind");

    let traffic: std::collections::HashMap<String, Traffic> =
        [(p.id.clone(), Traffic { impressions: 3, views: 0 })].into();
    store.record_traffic(&traffic).await.unwrap();
    assert_eq!(store.catalog_head().await.unwrap(), mark, "impressions alone do not re-index");
    let traffic: std::collections::HashMap<String, Traffic> =
        [(p.id.clone(), Traffic { impressions: 1, views: 2 })].into();
    store.record_traffic(&traffic).await.unwrap();
    assert!(store.catalog_head().await.unwrap() > mark, "views feed conversion, so they re-index");
    let stats = store.product_stats(std::slice::from_ref(&p.id)).await.unwrap();
    assert_eq!((stats[&p.id].impressions, stats[&p.id].views, stats[&p.id].purchases), (4, 2, 0));
    assert_eq!(store.traffic_totals().await.unwrap(), (2, 0));

    let mark = store.catalog_head().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.delete_product(&p.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(changes(mark).await[0].product_id.as_deref(), Some(p.id.as_str()), "deletes are changes");

    let head = store.catalog_head().await.unwrap();
    let trimmed = store.trim_catalog_changes(2, 1).await.unwrap();
    assert_eq!(trimmed, 1, "one batch at a time");
    store.trim_catalog_changes(2, 1000).await.unwrap();
    let left = changes(0).await;
    assert_eq!(left.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![head - 1, head], "the newest are kept");
}

fn _backends_are_named() -> [TestBackend; 2] {
    [TestBackend::Sqlite, TestBackend::Postgres]
}

async fn the_audit_log_records_privileged_actions_and_only_grows(db: TestDb) {
    let (store, _) = open(&db).await;
    let admin = user(&store, "admin@example.com").await;
    let seller = user(&store, "seller@example.com").await;
    let store_id = shop(&store, &seller, "audited").await;
    let kyc: VerificationInput = serde_json::from_value(serde_json::json!({
        "legal_name": "Li Wei", "document_type": "business_license", "document_number": "91440300-X"
    }))
    .unwrap();
    let cny = souk_domain::Currency::from_code("CNY").unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.grant_role(&admin, Role::Admin, souk_store::audit::CLI_ACTOR).await.unwrap();
    tx.grant_role(&admin, Role::Admin, souk_store::audit::CLI_ACTOR).await.unwrap();
    let req = tx.submit_verification(&store_id, &kyc).await.unwrap();
    tx.decide_verification(&req.id, true, None, &admin).await.unwrap();
    let top_up = tx.create_top_up(&seller, souk_domain::Money::new(5_000, cny), "sandbox", "4242").await.unwrap();
    tx.settle_top_up(&top_up.id, true, None).await.unwrap();
    let payout = tx.payout(&seller, souk_domain::Money::new(1_200, cny), "sandbox", "IBAN DE00 1234").await.unwrap();
    tx.commit().await.unwrap();
    // An action that rolls back leaves no entry.
    let mut tx = store.begin().await.unwrap();
    tx.grant_role(&seller, Role::Mediator, &admin).await.unwrap();
    drop(tx);

    let log = store.audit_log(None, None, 10).await.unwrap().items;
    let seen: Vec<(&str, &str, &str)> =
        log.iter().map(|e| (e.actor_id.as_str(), e.action.as_str(), e.subject.as_str())).collect();
    assert_eq!(
        seen,
        [
            (seller.as_str(), "payout.made", payout.id.as_str()),
            (admin.as_str(), "verification.approved", req.id.as_str()),
            ("cli", "role.granted", admin.as_str()),
        ],
        "newest first; a role granted twice is one grant"
    );
    assert_eq!(log[0].detail["amount"]["amount"], 1_200);
    assert_eq!(log[1].detail["store_id"], store_id.as_str());
    let grants = store.audit_log(Some("role.granted"), None, 10).await.unwrap();
    assert_eq!(grants.items.len(), 1);
    let first = store.audit_log(None, None, 2).await.unwrap();
    let rest = store.audit_log(None, first.next_cursor.as_deref(), 2).await.unwrap();
    assert_eq!((first.items.len(), rest.items.len(), rest.next_cursor), (2, 1, None));

    for statement in ["UPDATE audit_log SET actor_id = 'nobody'", "DELETE FROM audit_log"] {
        let mut tx = store.begin().await.unwrap();
        let refused = sqlx::query(statement).execute(tx.conn()).await;
        assert!(refused.is_err(), "{statement} must fail");
        drop(tx);
    }
    assert_eq!(store.audit_log(None, None, 10).await.unwrap().items.len(), 3, "nothing changed");
}

/// The triggers on the outbox list event types in SQL; the domain lists them in Rust. Every
/// event type, emitted once: an email is owed exactly for `notify::EMAILED`, and an endpoint
/// gets exactly what its patterns match.
async fn the_outbox_triggers_owe_exactly_the_listed_emails_and_webhooks(db: TestDb) {
    let (store, _) = open(&db).await;
    let owner = user(&store, "hooked@example.com").await;
    let patterns = vec!["dispute.*".to_string(), "order.paid".to_string()];
    let mut tx = store.begin().await.unwrap();
    let hook = tx.create_webhook(&owner, "https://h.example.com/", "", &patterns, false, "whsec_x").await.unwrap();
    for kind in souk_domain::webhook::EVENT_TYPES {
        tx.emit(&[&owner], kind, None, &serde_json::json!({})).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut conn = store.reader().await.unwrap();
    let emailed: Vec<(String,)> =
        sqlx::query_as("SELECT e.type FROM email_outbox m JOIN events e ON e.seq = m.event_seq")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    let mut want: Vec<&str> = souk_domain::notify::EMAILED.to_vec();
    want.sort();
    let mut got: Vec<&str> = emailed.iter().map(|r| r.0.as_str()).collect();
    got.sort();
    assert_eq!(got, want);
    let hooked: Vec<(String,)> = sqlx::query_as("SELECT type FROM webhook_deliveries WHERE endpoint_id = $1")
        .bind(&hook.id)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let mut want: Vec<&str> =
        souk_domain::webhook::EVENT_TYPES.into_iter().filter(|k| souk_domain::webhook::matches(&patterns, k)).collect();
    want.sort();
    let mut got: Vec<&str> = hooked.iter().map(|r| r.0.as_str()).collect();
    got.sort();
    assert_eq!(got, want);
}
