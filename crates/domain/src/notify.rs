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

impl Side {
    /// `user`'s side of an order with this buyer and seller (none: not about an order).
    pub fn of(user: &str, buyer: Option<&str>, seller: Option<&str>) -> Side {
        if buyer == Some(user) {
            Side::Buyer
        } else if seller == Some(user) {
            Side::Seller
        } else {
            Side::Other
        }
    }
}

/// The notification for an event of type `kind`, or `None` for events that are not worth one
/// (read receipts, typing).
pub fn describe(kind: &str, side: Side, policy: &Policy) -> Option<String> {
    template(kind, side, policy).map(|(t, n)| t.replace("{n}", &n.to_string()))
}

/// The sentence as a fixed template, where `{n}` stands for the number returned with it (hours
/// or days): the pages translate the template, then fill it in.
pub fn template(kind: &str, side: Side, policy: &Policy) -> Option<(&'static str, i64)> {
    let hours = policy.ship_by_ms / 3_600_000;
    let confirm_days = policy.confirm_window_ms / 86_400_000;
    let answer_days = policy.dispute_response_ms / 86_400_000;
    let t = match (kind, side) {
        ("order.created", Side::Buyer) => ("Order placed: pay it to secure the goods", 0),
        ("order.created", _) => ("New order: waiting for the buyer's payment", 0),
        ("order.paid", Side::Seller) => ("Payment secured: ship within {n} hours", hours),
        ("order.paid", _) => ("Payment secured: held in escrow until you confirm receipt", 0),
        ("order.shipped", Side::Buyer) => (
            "Your order has shipped: confirm receipt when it arrives (it confirms itself after {n} days)",
            confirm_days,
        ),
        ("order.shipped", _) => ("Order shipped", 0),
        ("order.delivered", Side::Buyer) => ("Delivered: check it and confirm receipt", 0),
        ("order.delivered", _) => ("Delivered to the buyer", 0),
        ("order.ship_reminder", _) => ("Reminder: ship within 24 hours, or the order is cancelled and refunded", 0),
        ("order.confirm_reminder", _) => {
            ("Reminder: confirm receipt or open a dispute within 24 hours; after that the seller is paid", 0)
        }
        ("order.confirmation_extended", _) => ("The buyer's confirmation window was extended", 0),
        ("order.completed", Side::Seller) => ("Receipt confirmed: the payment is in your wallet", 0),
        ("order.completed", _) => ("Order completed: thank you, you can review it now", 0),
        ("order.cancelled", _) => ("Order cancelled", 0),
        ("order.refunded", _) => ("Order refunded", 0),
        ("order.partially_refunded", _) => ("Order partly refunded", 0),
        ("order.disputed", Side::Seller) | ("dispute.opened", Side::Seller) => {
            ("A dispute was opened: answer within {n} days", answer_days)
        }
        ("order.disputed", _) | ("dispute.opened", _) => ("Dispute opened", 0),
        ("dispute.mediation", _) => ("The dispute went to mediation", 0),
        ("dispute.response_reminder", _) => {
            ("Reminder: answer the dispute within 24 hours, or the buyer is refunded", 0)
        }
        ("dispute.decided", _) | ("dispute.resolved", _) => ("The dispute was settled", 0),
        (k, _) if k.starts_with("dispute.") => ("The dispute moved on", 0),
        ("message.created", _) => ("New message", 0),
        ("offer.created", _) => ("New offer", 0),
        ("offer.accepted", _) => ("Your offer was accepted", 0),
        ("offer.declined", _) => ("Your offer was declined", 0),
        ("offer.countered", _) => ("You received a counter-offer", 0),
        ("rfq.quoted", _) => ("New quote on your request for quotation", 0),
        ("rfq.quote_revised", _) => ("A quote on your request was revised", 0),
        ("rfq.awarded", _) => ("Your quote was accepted", 0),
        ("moderation.taken_down", _) => ("An operator took down one of your listings; you may appeal", 0),
        ("moderation.store_suspended", _) => ("An operator suspended your store; open orders go on", 0),
        ("moderation.reversed", _) => ("An operator reversed an action on your account", 0),
        ("moderation.review_hidden", _) => ("An operator hid one of your reviews; you may appeal", 0),
        ("moderation.held_for_review", _) => ("Your new listing waits for an operator's review before it is public", 0),
        ("moderation.appeal_answered", _) => ("An operator answered your appeal", 0),
        _ => return None,
    };
    Some(t)
}

/// The events also sent by email: what someone must act on or would not want to miss. Chat
/// messages, new orders awaiting payment and read receipts stay in the app. The outbox trigger
/// of migration `0014_email` lists the same types (a store test holds them equal).
pub const EMAILED: [&str; 21] = [
    "order.paid",
    "order.shipped",
    "order.delivered",
    "order.ship_reminder",
    "order.confirm_reminder",
    "order.completed",
    "order.cancelled",
    "order.refunded",
    "order.partially_refunded",
    "dispute.opened",
    "dispute.refund_offered",
    "dispute.return_requested",
    "dispute.rejected",
    "dispute.mediation",
    "dispute.resolved",
    "dispute.response_reminder",
    "offer.created",
    "offer.countered",
    "offer.accepted",
    "rfq.quoted",
    "rfq.awarded",
];

/// Every template `template` answers with, and its Chinese.
pub const TEMPLATES: [(&str, &str); 36] = [
    ("Order placed: pay it to secure the goods", "已下单：付款后即可锁定商品"),
    ("New order: waiting for the buyer's payment", "新订单：等待买家付款"),
    ("Payment secured: ship within {n} hours", "货款已托管：请在 {n} 小时内发货"),
    ("Payment secured: held in escrow until you confirm receipt", "货款已托管：确认收货前由平台保管"),
    (
        "Your order has shipped: confirm receipt when it arrives (it confirms itself after {n} days)",
        "订单已发货：到货后请确认收货（{n} 天后自动确认）",
    ),
    ("Order shipped", "订单已发货"),
    ("Delivered: check it and confirm receipt", "已送达：请验货并确认收货"),
    ("Delivered to the buyer", "已送达买家"),
    (
        "Reminder: ship within 24 hours, or the order is cancelled and refunded",
        "提醒：请在 24 小时内发货，否则订单将取消并退款",
    ),
    (
        "Reminder: confirm receipt or open a dispute within 24 hours; after that the seller is paid",
        "提醒：请在 24 小时内确认收货或发起纠纷，之后货款将付给卖家",
    ),
    ("The buyer's confirmation window was extended", "买家延长了确认收货期限"),
    ("Receipt confirmed: the payment is in your wallet", "买家已确认收货：货款已入账"),
    ("Order completed: thank you, you can review it now", "订单已完成：感谢惠顾，现在可以评价"),
    ("Order cancelled", "订单已取消"),
    ("Order refunded", "订单已退款"),
    ("Order partly refunded", "订单已部分退款"),
    ("A dispute was opened: answer within {n} days", "买家发起了纠纷：请在 {n} 天内回应"),
    ("Dispute opened", "已发起纠纷"),
    ("The dispute went to mediation", "纠纷已进入调解"),
    (
        "Reminder: answer the dispute within 24 hours, or the buyer is refunded",
        "提醒：请在 24 小时内回应纠纷，否则将退款给买家",
    ),
    ("The dispute was settled", "纠纷已解决"),
    ("The dispute moved on", "纠纷有新进展"),
    ("New message", "新消息"),
    ("New offer", "新报价"),
    ("Your offer was accepted", "您的报价已被接受"),
    ("Your offer was declined", "您的报价已被拒绝"),
    ("You received a counter-offer", "您收到了还价"),
    ("New quote on your request for quotation", "您的询价收到新报价"),
    ("A quote on your request was revised", "您询价的一份报价已修改"),
    ("An operator took down one of your listings; you may appeal", "运营人员下架了您的一件商品；您可以申诉"),
    ("An operator suspended your store; open orders go on", "运营人员暂停了您的店铺；进行中的订单照常进行"),
    ("An operator reversed an action on your account", "运营人员撤销了对您账户的一项处理"),
    ("An operator hid one of your reviews; you may appeal", "运营人员隐藏了您的一条评价；您可以申诉"),
    ("Your new listing waits for an operator's review before it is public", "您的新商品需经运营人员审核后才会公开"),
    ("An operator answered your appeal", "运营人员已答复您的申诉"),
    ("Your quote was accepted", "您的报价已被采纳"),
];

/// A template in Chinese when `zh`, else as it is.
pub fn in_language(template: &'static str, zh: bool) -> &'static str {
    match TEMPLATES.iter().find(|(en, _)| *en == template) {
        Some((_, chinese)) if zh => chinese,
        _ => template,
    }
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
        for kind in [
            crate::order::DeadlineKind::ShipBy,
            crate::order::DeadlineKind::ConfirmBy,
            crate::order::DeadlineKind::DisputeResponse,
        ] {
            let reminder = kind.reminder().unwrap();
            assert_eq!(crate::order::DeadlineKind::parse(reminder.as_str()), Some(reminder));
            let (about, event) = reminder.reminds().unwrap();
            assert_eq!(about, kind);
            assert!(describe(event, Side::Other, &p).unwrap().starts_with("Reminder"), "{event}");
        }
        assert_eq!(describe("conversation.read", Side::Other, &p), None);
    }

    #[test]
    fn every_template_is_listed() {
        let p = Policy::default();
        let mut used = std::collections::BTreeSet::new();
        // Every event type there is, but read receipts, which tell nobody anything.
        for kind in crate::webhook::EVENT_TYPES.into_iter().filter(|k| *k != "conversation.read") {
            for side in [Side::Buyer, Side::Seller, Side::Other] {
                let (t, _) = template(kind, side, &p).unwrap_or_else(|| panic!("{kind}"));
                assert!(TEMPLATES.iter().any(|(en, _)| *en == t), "{t}");
                used.insert(t);
            }
        }
        assert_eq!(used.len(), TEMPLATES.len(), "no template is listed but never used");
        assert_eq!(describe("typing", Side::Other, &p), None);
    }
}
