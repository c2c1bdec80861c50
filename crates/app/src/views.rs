//! What the entry points read: the views the API and the pages show, and the queries that
//! fetch them. The queries do no authorization of their own; the caller has checked access
//! (see [`crate::access`]) before it asks, and each query answers in the application's errors.

use crate::error::Result;
use crate::App;
use souk_domain::account::{StoreProfile, VerificationRequest, VerificationStatus};
use souk_domain::catalog::Product;
use souk_domain::ledger::{LedgerReport, WalletBalance, WalletTransaction};
use souk_domain::order::OrderView;

pub use souk_store::accounts::User;
pub use souk_store::api_keys::ApiKeyView;
pub use souk_store::audit::AuditEntry;
pub use souk_store::catalog::ProductFilter;
pub use souk_store::chat::{Conversation, ConversationView, MessageView, Offer, OfferView};
pub use souk_store::disputes::{Actor, DisputeRow, DisputeView, Evidence, EvidenceView};
pub use souk_store::flash::{PromotionFilter, PromotionView};
pub use souk_store::notifications::NotificationRow;
pub use souk_store::orders::{CartLine, EventView, OrderScope};
pub use souk_store::payments::{Payout, TopUp};
pub use souk_store::rfq::{QuoteView, RfqView};
pub use souk_store::trust::{RatingSummary, ReviewScope, ReviewView, TrackingEventView};
pub use souk_store::webhooks::{DeliveryView, WebhookView};
pub use souk_store::Page;

/// Declares reads that are the store's query as it is, answering in the application's errors.
macro_rules! reads {
    ($( $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $out:ty; )*) => {
        impl App {
            $(
                $(#[$doc])*
                pub async fn $name(&self, $($arg: $ty),*) -> Result<$out> {
                    Ok(self.store.$name($($arg),*).await?)
                }
            )*
        }
    };
}

reads! {
    // Accounts and stores.
    fn user_by_id(id: &str) -> User;
    fn list_users(cursor: Option<&str>, limit: usize) -> Page<User>;
    fn store_by_id(id: &str) -> StoreProfile;
    fn store_by_slug(slug: &str) -> StoreProfile;
    /// The store `owner_id` opened (not found when they have none).
    fn store_by_owner(owner_id: &str) -> StoreProfile;
    fn list_stores(cursor: Option<&str>, limit: usize) -> Page<StoreProfile>;
    fn list_verifications(
        status: Option<VerificationStatus>,
        store_id: Option<&str>,
        cursor: Option<&str>,
        limit: usize
    ) -> Page<VerificationRequest>;
    fn audit_log(action: Option<&str>, cursor: Option<&str>, limit: usize) -> Page<AuditEntry>;
    fn api_keys(user_id: &str) -> Vec<ApiKeyView>;

    // The catalog.
    fn product(id: &str) -> Product;
    fn list_products(filter: &ProductFilter, cursor: Option<&str>, limit: usize) -> Page<Product>;
    fn promotion(id: &str) -> PromotionView;
    fn promotions(f: &PromotionFilter<'_>, cursor: Option<&str>, limit: usize) -> Page<PromotionView>;
    /// The marketplace's flash sales running now, ending soonest first.
    fn live_promotions(limit: usize) -> Vec<PromotionView>;

    // Orders.
    fn cart(user_id: &str) -> Vec<CartLine>;
    fn order(id: &str) -> OrderView;
    fn list_orders(scope: OrderScope<'_>, cursor: Option<&str>, limit: usize) -> Page<OrderView>;
    fn tracking(order_id: &str) -> Vec<TrackingEventView>;
    /// The user's events after `cursor`, oldest first.
    fn events(user_id: &str, cursor: Option<i64>, limit: usize) -> Page<EventView>;
    /// The sequence number of the user's newest event.
    fn latest_event(user_id: &str) -> i64;

    // Money.
    fn wallet(user_id: &str) -> Vec<WalletBalance>;
    fn wallet_transactions(user_id: &str, cursor: Option<&str>, limit: usize) -> Page<WalletTransaction>;
    fn top_up(id: &str) -> TopUp;
    /// The user's top-ups the provider has not confirmed or declined yet.
    fn pending_top_ups_of(user_id: &str) -> Vec<TopUp>;
    /// Whether the books balance: every transfer sums to zero, every balance is its postings.
    fn ledger_check() -> LedgerReport;

    // Trust.
    fn reviews(scope: ReviewScope<'_>, cursor: Option<&str>, limit: usize) -> Page<ReviewView>;
    fn rating_summary(scope: ReviewScope<'_>) -> RatingSummary;

    // Disputes.
    fn dispute(id: &str) -> DisputeRow;
    /// The dispute about an order, if it has one (not found otherwise).
    fn dispute_of_order(order_id: &str) -> DisputeRow;
    /// Disputes in `state` (any when `None`) that `party` is in (anyone's when `None`).
    fn disputes(state: Option<&str>, party: Option<&str>, cursor: Option<&str>, limit: usize) -> Page<DisputeView>;
    fn evidence(dispute_id: &str) -> Vec<EvidenceView>;

    // Chat, offers and quotes.
    fn conversation(id: &str) -> Conversation;
    fn conversation_view(id: &str, viewer: &str) -> ConversationView;
    fn conversations(user_id: &str, cursor: Option<&str>, limit: usize) -> Page<ConversationView>;
    /// The conversations between a buyer and a store.
    fn conversations_between(buyer_id: &str, store_id: &str) -> Vec<String>;
    fn messages(conversation_id: &str, before_seq: Option<i64>, limit: usize) -> Page<MessageView>;
    fn unread_total(user_id: &str) -> i64;
    fn offer(id: &str) -> Offer;
    fn offers(conversation_id: &str, cursor: Option<&str>, limit: usize) -> Page<OfferView>;
    fn store_offers(store_id: &str, cursor: Option<&str>, limit: usize) -> Page<OfferView>;
    fn rfqs_of(buyer_id: &str, cursor: Option<&str>, limit: usize) -> Page<RfqView>;
    fn rfqs_for_store(store_id: &str, owner_id: &str, cursor: Option<&str>, limit: usize) -> Page<RfqView>;
    /// An RFQ's quotes; only `store_id`'s when given.
    fn quotes(rfq_id: &str, store_id: Option<&str>) -> Vec<QuoteView>;

    // Notifications and webhooks.
    fn notifications(user_id: &str, before: Option<i64>, limit: usize) -> Vec<NotificationRow>;
    fn unread_notifications(user_id: &str) -> i64;
    fn webhooks(owner_id: &str) -> Vec<WebhookView>;
    fn webhook(owner_id: &str, id: &str) -> Option<WebhookView>;
    fn webhook_deliveries(endpoint_id: &str, state: Option<&str>, cursor: Option<i64>, limit: usize) -> Page<DeliveryView>;
    fn webhook_delivery(endpoint_id: &str, delivery_id: i64) -> Option<DeliveryView>;
}
