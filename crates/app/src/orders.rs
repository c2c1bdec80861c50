//! Carts, checkout and the order lifecycle: pay, ship, confirm, extend, cancel. Each action
//! writes in the caller's transaction (so the API can record its idempotent answer, and a page
//! its form key, with it) and checks the caller's side of the order, found beforehand with
//! [`crate::access::side`]: only the buyer pays, confirms and extends; only the seller ships.

use crate::access::Side;
use crate::error::{Error, Result};
use crate::App;
use serde::Serialize;
use souk_domain::checkout::Item;
use souk_domain::geo::parse_country;
use souk_domain::order::{Action, OrderState, OrderView};
use souk_domain::shipping;
use souk_store::orders::{CartLine, OrderScope};

use souk_store::Tx;

#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckoutResult {
    pub checkout_id: String,
    /// One order per store, each `pending_payment` with its stock reserved.
    pub orders: Vec<OrderView>,
}

/// Sets how many of a SKU the buyer's cart holds (0 removes it); answers the cart.
pub async fn set_cart_item(tx: &mut Tx, user_id: &str, sku_id: &str, quantity: i64) -> Result<Vec<CartLine>> {
    tx.set_cart_item(user_id, sku_id, quantity).await?;
    Ok(tx.cart(user_id).await?)
}

/// Checks out `items` (the cart when `None`) to `ship_to` (a country code, in either case):
/// quantities (MOQ, stock), shipping and prices (tiers) checked, stock reserved, one order per
/// store, all or nothing.
pub async fn checkout(
    app: &App,
    tx: &mut Tx,
    user_id: &str,
    ship_to: &str,
    items: Option<Vec<Item>>,
) -> Result<CheckoutResult> {
    let country = parse_country(&ship_to.trim().to_ascii_uppercase(), "ship_to")?;
    let items = match items {
        Some(items) => items,
        None => tx.cart_items(user_id).await?,
    };
    let (checkout_id, orders) = tx.checkout(user_id, &country, &items, &app.config.policy).await?;
    Ok(CheckoutResult { checkout_id, orders })
}

/// The orders of the buyer's checkout still to pay; read before the paying transaction, so it
/// holds the writer no longer than the payments take.
pub async fn unpaid_in_checkout(app: &App, user_id: &str, checkout_id: &str) -> Result<Vec<String>> {
    let page = app.store.list_orders(OrderScope::Checkout(checkout_id), None, 100).await?;
    if page.items.is_empty() || page.items.iter().any(|o| o.buyer_id != user_id) {
        return Err(Error::not_found("checkout"));
    }
    let unpaid: Vec<String> =
        page.items.into_iter().filter(|o| o.state == OrderState::PendingPayment).map(|o| o.id).collect();
    if unpaid.is_empty() {
        return Err(Error::conflict("invalid_state", "every order of this checkout is already paid or cancelled"));
    }
    Ok(unpaid)
}

/// Pays the checkout's unpaid orders (from [`unpaid_in_checkout`]) from the wallet, all or
/// nothing.
pub async fn pay_checkout(app: &App, tx: &mut Tx, checkout_id: &str, unpaid: &[String]) -> Result<CheckoutResult> {
    let mut orders = Vec::with_capacity(unpaid.len());
    for id in unpaid {
        orders.push(act(app, tx, Side::Buyer, id, Action::Pay).await?);
    }
    Ok(CheckoutResult { checkout_id: checkout_id.to_string(), orders })
}

/// Checks the cart out to `ship_to` and pays, from the wallet, every order it covers, in the
/// caller's transaction; an order it cannot cover stays pending, to pay after a top-up.
/// Answers the orders placed.
pub async fn checkout_and_pay_covered(app: &App, tx: &mut Tx, user_id: &str, ship_to: &str) -> Result<Vec<OrderView>> {
    let placed = checkout(app, tx, user_id, ship_to, None).await?.orders;
    let mut orders = Vec::with_capacity(placed.len());
    for o in placed {
        if tx.wallet_available(user_id, o.total.currency).await? >= o.total.amount {
            orders.push(act(app, tx, Side::Buyer, &o.id, Action::Pay).await?);
        } else {
            orders.push(o);
        }
    }
    Ok(orders)
}

/// Who may take an action on an order: its buyer pays, confirms, extends and cancels; its
/// seller ships and cancels. Staff act through disputes, not these.
fn taken_by(action: Action) -> Option<Side> {
    match action {
        Action::Pay | Action::Confirm | Action::ExtendConfirmation | Action::BuyerCancel => Some(Side::Buyer),
        Action::Ship | Action::SellerCancel => Some(Side::Seller),
        _ => None,
    }
}

/// Takes `action` on the order for a caller on `side` of it.
pub async fn act(app: &App, tx: &mut Tx, side: Side, order_id: &str, action: Action) -> Result<OrderView> {
    match taken_by(action) {
        Some(allowed) if allowed == side => Ok(tx.act(order_id, action, &app.config.policy).await?),
        Some(Side::Buyer) => Err(Error::forbidden("only the order's buyer may do this")),
        Some(_) => Err(Error::forbidden("only the order's seller may do this")),
        None => Err(Error::forbidden("this is not an action a party takes")),
    }
}

/// Cancels before shipping, for whichever party asks; a paid order is refunded in full and
/// its units go back on the shelf.
pub async fn cancel(app: &App, tx: &mut Tx, side: Side, order_id: &str) -> Result<OrderView> {
    let action = match side {
        Side::Buyer => Action::BuyerCancel,
        Side::Seller => Action::SellerCancel,
        Side::Staff => {
            return Err(Error::forbidden("only the buyer or the seller may cancel; disputes go to mediation"))
        }
    };
    act(app, tx, side, order_id, action).await
}

/// A shipment as the seller names it: the carrier's code and a tracking number in its format.
pub struct Shipment {
    carrier: String,
    tracking_number: String,
}

impl Shipment {
    /// Checked before anything about the order, so a malformed one is refused first.
    pub fn check(carrier: &str, tracking_number: &str) -> Result<Shipment> {
        let carrier = shipping::normalize_carrier(carrier)?;
        let tracking_number = shipping::tracking_number(&carrier, tracking_number)?;
        Ok(Shipment { carrier, tracking_number })
    }
}

/// The seller ships; the buyer's confirmation window starts.
pub async fn ship(app: &App, tx: &mut Tx, side: Side, order_id: &str, shipment: &Shipment) -> Result<OrderView> {
    act(app, tx, side, order_id, Action::Ship).await?;
    tx.set_tracking(order_id, &shipment.carrier, &shipment.tracking_number).await?;
    Ok(tx.order(order_id).await?)
}

/// Which of a store's orders a list shows: all, or those in the named state.
pub fn store_scope<'a>(store_id: &'a str, state: Option<&str>) -> Result<OrderScope<'a>> {
    match state.filter(|s| !s.is_empty()) {
        None => Ok(OrderScope::Store(store_id)),
        Some(s) => match OrderState::parse(s) {
            Some(state) => Ok(OrderScope::StoreIn(store_id, state)),
            None => Err(Error::invalid(
                "unknown_state",
                format!("'{}' is not an order state", souk_domain::money::truncate(s, 32)),
            )
            .with_field("state")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buyers_pay_confirm_and_extend_sellers_ship_and_both_cancel_their_own_way() {
        for action in [Action::Pay, Action::Confirm, Action::ExtendConfirmation, Action::BuyerCancel] {
            assert_eq!(taken_by(action), Some(Side::Buyer), "{action:?}");
        }
        for action in [Action::Ship, Action::SellerCancel] {
            assert_eq!(taken_by(action), Some(Side::Seller), "{action:?}");
        }
        assert_eq!(taken_by(Action::Deliver), None, "carriers deliver");
    }

    #[test]
    fn a_shipment_is_checked_before_the_order_is_looked_at() {
        assert_eq!(Shipment::check("UPS", "12345").err().map(|e| e.code), Some("invalid_tracking".to_string()));
        let ok = Shipment::check(" UPS ", "1z999aa10123456784").unwrap();
        assert_eq!((ok.carrier.as_str(), ok.tracking_number.as_str()), ("ups", "1Z999AA10123456784"));
    }
}
