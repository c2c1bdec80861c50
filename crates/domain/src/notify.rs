//! What a user is told about an event of the outbox, in a sentence. Each event row has one
//! recipient; `Side` says whether they are the order's buyer or seller (for events about an
//! order), which changes what they need to do.

use crate::order::Policy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buyer,
    Seller,
    /// Not a party to an order (chat, RFQs), or a mediator.
    Other,
}

/// The notification for an event of type `kind`, or `None` for events that are not worth one
/// (read receipts, typing).
pub fn describe(kind: &str, side: Side, policy: &Policy) -> Option<String> {
    let hours = |ms: i64| ms / 3_600_000;
    let days = |ms: i64| ms / 86_400_000;
    let text = match (kind, side) {
        ("order.created", Side::Buyer) => "Order placed: pay it to secure the goods".into(),
        ("order.created", _) => "New order: waiting for the buyer's payment".into(),
        ("order.paid", Side::Seller) => format!("Payment secured: ship within {} hours", hours(policy.ship_by_ms)),
        ("order.paid", _) => "Payment secured: held in escrow until you confirm receipt".into(),
        ("order.shipped", Side::Buyer) => format!(
            "Your order has shipped: confirm receipt when it arrives (it confirms itself after {} days)",
            days(policy.confirm_window_ms)
        ),
        ("order.shipped", _) => "Order shipped".into(),
        ("order.delivered", Side::Buyer) => "Delivered: check it and confirm receipt".into(),
        ("order.delivered", _) => "Delivered to the buyer".into(),
        ("order.ship_reminder", _) => "Reminder: ship within 24 hours, or the order is cancelled and refunded".into(),
        ("order.confirm_reminder", _) => {
            "Reminder: confirm receipt or open a dispute within 24 hours; after that the seller is paid".into()
        }
        ("order.confirmation_extended", _) => "The buyer's confirmation window was extended".into(),
        ("order.completed", Side::Seller) => "Receipt confirmed: the payment is in your wallet".into(),
        ("order.completed", _) => "Order completed: thank you, you can review it now".into(),
        ("order.cancelled", _) => "Order cancelled".into(),
        ("order.refunded", _) => "Order refunded".into(),
        ("order.partially_refunded", _) => "Order partly refunded".into(),
        ("order.disputed", Side::Seller) | ("dispute.opened", Side::Seller) => {
            format!("A dispute was opened: answer within {} days", days(policy.dispute_response_ms))
        }
        ("order.disputed", _) | ("dispute.opened", _) => "Dispute opened".into(),
        ("dispute.mediation", _) => "The dispute went to mediation".into(),
        ("dispute.decided", _) | ("dispute.resolved", _) => "The dispute was settled".into(),
        (k, _) if k.starts_with("dispute.") => "The dispute moved on".into(),
        ("message.created", _) => "New message".into(),
        ("offer.created", _) => "New offer".into(),
        ("offer.accepted", _) => "Your offer was accepted".into(),
        ("offer.declined", _) => "Your offer was declined".into(),
        ("offer.countered", _) => "You received a counter-offer".into(),
        ("rfq.quoted", _) => "New quote on your request for quotation".into(),
        ("rfq.quote_revised", _) => "A quote on your request was revised".into(),
        ("rfq.awarded", _) => "Your quote was accepted".into(),
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seller_is_told_the_ship_by_deadline_and_receipts_are_quiet() {
        let p = Policy::default();
        assert_eq!(describe("order.paid", Side::Seller, &p).unwrap(), "Payment secured: ship within 72 hours");
        assert!(describe("order.paid", Side::Buyer, &p).unwrap().contains("escrow"));
        assert!(describe("order.shipped", Side::Buyer, &p).unwrap().contains("after 10 days"));
        assert!(describe("dispute.opened", Side::Seller, &p).unwrap().contains("within 3 days"));
        assert!(describe("order.ship_reminder", Side::Seller, &p).unwrap().contains("24 hours"));
        for kind in [crate::order::DeadlineKind::ShipBy, crate::order::DeadlineKind::ConfirmBy] {
            let reminder = kind.reminder().unwrap();
            assert_eq!(crate::order::DeadlineKind::parse(reminder.as_str()), Some(reminder));
            let (about, event) = reminder.reminds().unwrap();
            assert_eq!(about, kind);
            assert!(describe(event, Side::Other, &p).unwrap().starts_with("Reminder"), "{event}");
        }
        assert_eq!(describe("conversation.read", Side::Other, &p), None);
        assert_eq!(describe("typing", Side::Other, &p), None);
    }
}
