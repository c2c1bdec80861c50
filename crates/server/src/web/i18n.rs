//! The pages' two languages. English is the key; a missing Chinese entry falls back to it, and a
//! unit test makes sure none is missing.

use super::zh::ZH;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The first supported language of an `Accept-Language` header, by its order of preference
    /// (q-values), English when none is.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best = (Lang::En, -1.0f32);
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces.find_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.parse::<f32>().ok())).unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("zh") => Lang::Zh,
                Some("en") => Lang::En,
                _ => continue,
            };
            if q > best.1 {
                best = (lang, q);
            }
        }
        best.0
    }

    /// The sentence a notification about an event of type `kind` shows `side`, in this
    /// language (`None` for events that are not worth one).
    pub fn notification(
        self,
        kind: &str,
        side: souk_domain::notify::Side,
        policy: &souk_domain::order::Policy,
    ) -> Option<String> {
        let zh = self == Lang::Zh;
        souk_domain::notify::template(kind, side, policy)
            .map(|(t, n)| souk_domain::notify::in_language(t, zh).replace("{n}", &n.to_string()))
    }

    /// The text for `key` (the English wording) in this language.
    pub fn t(self, key: &'static str) -> &'static str {
        match self {
            Lang::En => key,
            Lang::Zh => ZH.iter().find(|(en, _)| *en == key).map_or(key, |(_, zh)| zh),
        }
    }
}

/// Codes the API speaks that pages show (a transfer's kind, a tracking event, a dispute's reason,
/// state and evidence, a quote's state, an audit action) → their words, in English.
const CODES: &[(&str, &str)] = &[
    ("top_up", "Top-up"),
    ("payout", "Payout"),
    ("payment", "Payment"),
    ("refund", "Refund"),
    ("release", "Sale proceeds"),
    ("commission", "Commission"),
    ("allocation", "Payment into the order's escrow"),
    ("picked_up", "Picked up"),
    ("in_transit", "In transit"),
    ("out_for_delivery", "Out for delivery"),
    ("delivered", "Delivered"),
    ("exception", "Delivery problem"),
    ("not_received", "Not received"),
    ("not_as_described", "Not as described"),
    ("damaged", "Damaged"),
    ("wrong_item", "Wrong item"),
    ("other", "Other"),
    ("awaiting_seller", "Awaiting the seller"),
    ("refund_offered", "Refund offered"),
    ("return_requested", "Return requested"),
    ("return_shipped", "Return shipped"),
    ("rejected", "Rejected"),
    ("mediation", "In mediation"),
    ("resolved", "Resolved"),
    ("buyer", "Buyer"),
    ("seller", "Seller"),
    ("mediator", "Mediator"),
    ("system", "Automatic rule"),
    ("opened", "Opened the dispute"),
    ("answer", "Answer"),
    ("return", "Return"),
    ("decision", "Decision"),
    ("note", "Note"),
    ("evidence", "Evidence"),
    ("submitted", "Submitted"),
    ("accepted", "Accepted"),
    ("not_selected", "Not selected"),
    ("scheduled", "Scheduled"),
    ("live", "Live now"),
    ("sold_out", "Sold out"),
    ("ended", "Ended"),
    ("volume", "Sales volume"),
    ("rating", "Ratings"),
    ("detailed", "Detailed ratings"),
    ("on_time", "Shipped on time"),
    ("delivery", "Delivery speed"),
    ("disputes", "Few disputes"),
    ("refunds", "Few refunds"),
    ("response", "Chat response"),
    ("verification", "Identity verification"),
    ("tenure", "Time on Souk"),
    ("role.granted", "Role granted"),
    ("role.revoked", "Role revoked"),
    ("admin", "Admin"),
    ("partial_refund", "Partial refund"),
    ("verification.approved", "Verification approved"),
    ("verification.rejected", "Verification rejected"),
    ("dispute.decided", "Dispute decided"),
    ("payout.made", "Payout made"),
    ("fraud", "Fraud or scam"),
    ("counterfeit", "Counterfeit"),
    ("prohibited", "Prohibited item"),
    ("fake_review", "Fake review"),
    ("abuse", "Abuse or harassment"),
    ("spam", "Spam"),
    ("product", "Listing"),
    ("store", "Store"),
    ("review", "Review"),
    ("message", "Message"),
    ("open", "Awaiting action"),
    ("actioned", "Acted on"),
    ("dismissed", "Dismissed"),
    ("take_down", "Take the listing down"),
    ("suspend_store", "Suspend the store"),
    ("ban_user", "Ban the user"),
    ("moderation.take_down", "Listing taken down"),
    ("moderation.suspend_store", "Store suspended"),
    ("moderation.ban_user", "User banned"),
    ("moderation.reverse", "Action reversed"),
    ("moderation.dismiss", "Report dismissed"),
    ("moderation.hide_review", "Review hidden"),
    ("moderation.uphold", "Appeal answered"),
    ("settings.listing_review", "Listing review changed"),
    ("hide_review", "Hide the review"),
    ("hold_for_review", "Held for review"),
];

/// The words for a code the API speaks, in English (to translate with [`Lang::t`]); the code
/// itself when it has none.
pub fn code_label(code: &str) -> Option<&'static str> {
    CODES.iter().find(|(c, _)| *c == code).map(|(_, en)| *en)
}

/// What the rules say is expected of an input (the API's `message`), in Chinese: the fixed
/// sentences, then the ones that carry a number.
pub fn refusal_zh(message: &str) -> Option<String> {
    const FIXED: &[(&str, &str)] = &[
        ("a whole number", "请填写整数"),
        ("a whole number of units", "请填写整数件数"),
        ("must not be empty", "不能为空"),
        ("must not contain control characters", "不能包含控制字符"),
        ("must be an email address like name@example.com", "请填写邮箱地址，例如 name@example.com"),
        ("a positive price", "价格须大于零"),
        ("1 to 5 stars", "1 到 5 星"),
        ("letters and digits only", "只能包含字母和数字"),
        ("SKU codes must be unique", "规格编码不能重复"),
        ("a product needs at least one SKU", "商品至少需要一个规格"),
        ("this product is not for sale", "该商品不在售"),
        ("the product is not on sale", "该商品不在售"),
        ("you cannot buy from your own store", "不能购买自己店铺的商品"),
        ("nothing to check out: the cart is empty", "购物车是空的，无可结算"),
        ("a reply needs some text", "回复需要填写内容"),
        ("a rejection says why, with evidence", "拒绝时请说明理由并附上证据"),
        ("a rejection needs a reason the seller can act on", "拒绝时请写明卖家可据以改正的理由"),
        ("the partial refund", "请填写部分退款金额"),
        ("more than nothing and less than the order's total", "须大于零且小于订单总额"),
        ("more than the order's total", "超过了订单总额"),
        ("the order total is too large", "订单总额过大"),
        ("too large", "数值过大"),
        ("in the future, at most 30 days ahead", "须为将来的时间，最多 30 天后"),
        ("between one hour and 60 days from now", "须在现在起 1 小时到 60 天之间"),
        ("after the start, and at most 7 days later", "须晚于开始时间，且最多晚 7 天"),
        ("a message says something or shows an image", "消息需要文字或图片"),
        ("what kind of thing is needed", "请说明需要什么"),
        ("where the order ships", "请填写收货国家"),
        ("an RFC 3339 time", "请填写有效的时间"),
        ("a tier starts at a whole quantity", "阶梯价须从整数数量开始"),
        ("0 to 365 days", "0 到 365 天"),
        ("at most 5 documents", "最多 5 份证件"),
        ("write decimals with a point, as 12.50", "小数请用小数点，例如 12.50"),
        ("this is not your current password", "这不是您当前的密码"),
        ("this link is used, expired or unknown; ask for a new one", "此链接已使用、已过期或无效，请重新获取"),
        ("this is the address the account has", "这就是账户当前的地址"),
        ("1 to 100 characters, no control characters", "1 到 100 个字符，不能包含控制字符"),
        ("a time zone name such as Asia/Shanghai or Europe/Berlin", "请选择时区，例如 Asia/Shanghai"),
        ("this code is wrong or was used already; try the newest one", "验证码错误或已使用，请输入最新的验证码"),
    ];
    if let Some((_, zh)) = FIXED.iter().find(|(en, _)| *en == message) {
        return Some(zh.to_string());
    }
    // "3 to 40 characters", "at most 2000 characters", "between 1 and 1000000", ...
    let numbers = |rest: &str| -> Option<Vec<String>> {
        let n: Vec<String> =
            rest.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()).map(String::from).collect();
        (!n.is_empty()).then_some(n)
    };
    let n = numbers(message)?;
    let first = n.first()?;
    let last = n.last()?;
    let zh = if message.starts_with("write decimals with a point") {
        "小数请用小数点，例如 12.50".to_string()
    } else if message.ends_with(" characters") && message.contains(" to ") {
        format!("{first} 到 {last} 个字符")
    } else if message.starts_with("must be at least") {
        format!("至少 {first} 个字符")
    } else if message.ends_with(" characters") {
        format!("最多 {last} 个字符")
    } else if message.contains("between ") {
        format!("须在 {first} 到 {last} 之间")
    } else if message.ends_with(" images") {
        format!("最多 {last} 张图片")
    } else if message.ends_with(" units available") {
        format!("1 到现有的 {last} 件")
    } else {
        return None;
    };
    Some(zh)
}

/// The English phrases the pages have in Chinese too: a test that reads Chinese pages looks
/// for any of them left in English.
pub fn translated_phrases() -> impl Iterator<Item = &'static str> {
    ZH.iter().chain(&souk_domain::notify::TEMPLATES).map(|(en, _)| *en)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        assert_eq!(Lang::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9,zh;q=0.8"), Lang::En);
        assert_eq!(Lang::from_accept_language("fr-FR,zh-TW;q=0.7"), Lang::Zh);
        assert_eq!(Lang::from_accept_language("fr, de"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::En);
    }

    /// Every `.t("...")` in the pages' source has its Chinese.
    #[test]
    fn every_text_on_the_pages_is_translated() {
        for source in [
            include_str!("mod.rs"),
            include_str!("account.rs"),
            include_str!("two_factor.rs"),
            include_str!("moderation.rs"),
            include_str!("pages.rs"),
            include_str!("buying.rs"),
            include_str!("work.rs"),
            include_str!("chat.rs"),
            include_str!("selling.rs"),
            include_str!("deals.rs"),
            include_str!("flash.rs"),
            include_str!("forms.rs"),
        ] {
            for piece in source.split(".t(\"").skip(1) {
                let key = piece.split('"').next().unwrap_or("");
                assert!(ZH.iter().any(|(en, _)| *en == key), "no Chinese for {key:?}");
            }
        }
    }

    #[test]
    fn every_carrier_has_a_name_in_both_languages() {
        for code in souk_domain::shipping::CARRIERS {
            let name = crate::web::work::carrier_label(code);
            assert!(ZH.iter().any(|(en, _)| *en == name), "no Chinese for {code}'s name {name:?}");
        }
        assert_eq!(Lang::Zh.t(crate::web::work::carrier_label("sf_express")), "顺丰速运");
    }

    #[test]
    fn every_notification_is_translated() {
        for (t, zh) in souk_domain::notify::TEMPLATES {
            assert!(zh != t && souk_domain::notify::in_language(t, true) == zh, "no Chinese for {t:?}");
            assert_eq!(t.contains("{n}"), zh.contains("{n}"), "{t:?}");
        }
    }

    #[test]
    fn every_code_shown_has_words_in_both_languages() {
        for (code, en) in CODES {
            assert!(ZH.iter().any(|(key, _)| key == en), "no Chinese for {code}'s words {en:?}");
        }
        let kinds = ["top_up", "payout", "payment", "refund", "release", "commission", "allocation"];
        let events = ["picked_up", "in_transit", "out_for_delivery", "delivered", "exception"];
        for code in kinds.into_iter().chain(events) {
            assert!(code_label(code).is_some(), "{code}");
        }
        assert_eq!(Lang::Zh.t(code_label("not_received").unwrap()), "未收到货");
    }

    #[test]
    fn what_the_rules_expect_reads_in_chinese() {
        assert_eq!(refusal_zh("a whole number").as_deref(), Some("请填写整数"));
        assert_eq!(refusal_zh("3 to 40 characters").as_deref(), Some("3 到 40 个字符"));
        assert_eq!(refusal_zh("must be at most 2000 characters").as_deref(), Some("最多 2000 个字符"));
        assert_eq!(refusal_zh("must be between 1 and 1000000").as_deref(), Some("须在 1 到 1000000 之间"));
        assert_eq!(
            refusal_zh("write decimals with a point: '12.5', not '12,5'").as_deref(),
            Some("小数请用小数点，例如 12.50")
        );
        assert_eq!(refusal_zh("something new"), None, "unknown words fall back to the refusal's kind");
    }

    #[test]
    fn every_key_is_translated_once() {
        let mut keys: Vec<&str> = ZH.iter().map(|(en, _)| *en).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "a key is listed twice");
        assert_eq!(Lang::Zh.t("Search"), "搜索");
        assert_eq!(Lang::En.t("Search"), "Search");
    }
}
