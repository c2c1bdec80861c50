//! HTTP handlers, one module per resource. Handlers check who may act on which object; the
//! domain validates input; the store writes.

pub mod accounts;
pub mod admin;
pub mod analytics;
pub mod api_keys;
pub mod chat;
pub mod disputes;
pub mod flash;
pub mod media;
pub mod meta;
pub mod moderation;
pub mod notifications;
pub mod orders;
pub mod products;
pub mod rfq;
pub mod search;
pub mod stores;
pub mod trust;
pub mod wallet;
pub mod webhooks;
