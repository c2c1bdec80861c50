//! Identifiers: a kind prefix and a time-ordered body (`prd_01J9...`), so that sorting by id is
//! sorting by creation, which cursor pagination relies on.

/// Crockford base32, as ULID uses: no I, L, O, U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Store,
    Product,
    Sku,
    Verification,
    Session,
    Transfer,
    Order,
    Checkout,
    TopUp,
    Payout,
    Job,
    Event,
    Review,
    Conversation,
    Message,
    Offer,
    Rfq,
    Quote,
    Dispute,
    Evidence,
    Promotion,
    Audit,
    ApiKey,
    Webhook,
    Report,
    Moderation,
}

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::User => "usr",
            Kind::Store => "sto",
            Kind::Product => "prd",
            Kind::Sku => "sku",
            Kind::Verification => "kyc",
            Kind::Session => "ses",
            Kind::Transfer => "trf",
            Kind::Order => "ord",
            Kind::Checkout => "chk",
            Kind::TopUp => "top",
            Kind::Payout => "pay",
            Kind::Job => "job",
            Kind::Event => "evt",
            Kind::Review => "rev",
            Kind::Conversation => "cnv",
            Kind::Message => "msg",
            Kind::Offer => "ofr",
            Kind::Rfq => "rfq",
            Kind::Quote => "quo",
            Kind::Dispute => "dsp",
            Kind::Evidence => "evd",
            Kind::Promotion => "prm",
            Kind::Audit => "aud",
            Kind::ApiKey => "key",
            Kind::Webhook => "whk",
            Kind::Report => "rpt",
            Kind::Moderation => "mod",
        }
    }
}

/// Builds an id from a millisecond timestamp and 80 random bits (the caller supplies both, so
/// this stays pure): 10 characters of time then 16 of randomness.
pub fn make(kind: Kind, now_ms: i64, random: u128) -> String {
    let mut out = String::with_capacity(4 + 26);
    out.push_str(kind.prefix());
    out.push('_');
    let ts = now_ms.max(0) as u128 & ((1u128 << 48) - 1);
    let value = (ts << 80) | (random & ((1u128 << 80) - 1));
    for i in (0..26).rev() {
        out.push(ALPHABET[((value >> (i * 5)) & 31) as usize] as char);
    }
    out
}

/// True when `id` has the kind's prefix and a well-formed body; lets handlers answer a
/// malformed id with 404 without a query.
pub fn is_valid(kind: Kind, id: &str) -> bool {
    id.strip_prefix(kind.prefix())
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|body| body.len() == 26 && body.bytes().all(|b| ALPHABET.contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_validate() {
        let a = make(Kind::Product, 1_700_000_000_000, u128::MAX);
        let b = make(Kind::Product, 1_700_000_000_001, 0);
        assert!(a < b);
        assert!(a.starts_with("prd_") && a.len() == 30);
        assert!(is_valid(Kind::Product, &a));
        assert!(!is_valid(Kind::Store, &a));
        assert!(!is_valid(Kind::Product, "prd_1' OR 1=1"));
    }

    proptest::proptest! {
        /// Cursor pagination relies on this: a later millisecond always sorts after, whatever
        /// the random part.
        #[test]
        fn later_ids_sort_after(t in 0i64..(1 << 47), dt in 1i64..1_000_000, r1: u128, r2: u128) {
            let a = make(Kind::Sku, t, r1);
            let b = make(Kind::Sku, t + dt, r2);
            proptest::prop_assert!(a < b);
            proptest::prop_assert!(is_valid(Kind::Sku, &a) && is_valid(Kind::Sku, &b));
        }
    }
}
