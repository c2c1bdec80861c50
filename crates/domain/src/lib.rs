//! Souk's pure rules. This crate does no I/O: no database, no network, no clock reads, no
//! randomness of its own. Everything it decides is a function of its inputs, which is what makes
//! the rules cheap to test exhaustively.

pub mod account;
pub mod analytics;
pub mod apikey;
pub mod catalog;
pub mod category;
pub mod chat;
pub mod checkout;
pub mod clock;
pub mod dispute;
pub mod error;
pub mod flash;
pub mod geo;
pub mod id;
pub mod import;
pub mod ledger;
pub mod media;
pub mod moderation;
pub mod money;
pub mod notify;
pub mod order;
pub mod ranking;
pub mod review;
pub mod rfq;
pub mod shipping;
pub mod text;
pub mod time;
pub mod trust;
pub mod webhook;

pub use error::Invalid;
pub use money::{Currency, Money, MAX_TOP_UP_MINOR};
