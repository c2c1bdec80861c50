//! In-app notifications: marking them read (never un-reading).

use crate::error::{Error, Result};
use souk_store::Tx;

/// Marks the user's notifications read up to `up_to` (a feed position; all when `None`) and
/// answers how many are left unread.
pub async fn mark_read(tx: &mut Tx, user_id: &str, up_to: Option<i64>) -> Result<i64> {
    if up_to.is_some_and(|seq| seq < 0) {
        return Err(Error::invalid("out_of_range", "up_to is a sequence number, 0 or more").with_field("up_to"));
    }
    Ok(tx.mark_notifications_read(user_id, up_to).await?)
}
