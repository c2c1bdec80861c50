//! Payment providers. Money enters through a provider: it accepts a card for a top-up, then
//! confirms asynchronously with a signed callback, as real gateways do. The `sandbox` provider
//! (the default, for development and tests) never touches real money.
//!
//! Sandbox test cards: `4242 4242 4242 4242` succeeds; `4000 0000 0000 0002` is declined. The
//! confirmation of an accepted card arrives as a callback signed with HMAC-SHA256, header
//! `Souk-Signature: t=<unix seconds>,v1=<hex of HMAC(secret, "<t>.<body>")>`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SANDBOX: &str = "sandbox";
pub const SIGNATURE_HEADER: &str = "souk-signature";
/// Callbacks older than this are refused, so a captured one cannot be replayed later.
pub const MAX_CALLBACK_AGE_S: i64 = 300;

/// What a provider says when asked to charge a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardOutcome {
    /// Accepted; confirmation will follow by callback.
    Accepted {
        last4: String,
    },
    Declined {
        last4: String,
        reason: String,
    },
    /// Not a card number at all.
    Invalid(String),
}

/// A payment gateway, as the wallet sees it. A real gateway's adapter implements this beside the
/// sandbox; the rest of Souk only talks to the trait.
pub trait PaymentProvider: Send + Sync {
    /// The name recorded on top-ups and used in the provider's ledger account.
    fn name(&self) -> &str;
    /// Asks the gateway to charge a card; acceptance is confirmed later by a signed callback.
    fn charge(&self, card_number: &str) -> CardOutcome;
    /// Checks a callback's signature header against its body.
    fn verify_callback(&self, signature: &str, body: &[u8], now_s: i64) -> bool;
}

/// The development gateway: test cards only, callbacks signed with a shared secret.
pub struct Sandbox {
    pub secret: Vec<u8>,
}

impl PaymentProvider for Sandbox {
    fn name(&self) -> &str {
        SANDBOX
    }

    fn charge(&self, card_number: &str) -> CardOutcome {
        sandbox_charge(card_number)
    }

    fn verify_callback(&self, signature: &str, body: &[u8], now_s: i64) -> bool {
        verify(&self.secret, signature, body, now_s)
    }
}

/// The sandbox's card rules.
pub fn sandbox_charge(card_number: &str) -> CardOutcome {
    let digits: String = card_number.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    if digits.len() < 12 || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) || !luhn(&digits) {
        return CardOutcome::Invalid("not a valid card number".into());
    }
    let last4 = digits[digits.len() - 4..].to_string();
    match digits.as_str() {
        "4242424242424242" => CardOutcome::Accepted { last4 },
        "4000000000000002" => CardOutcome::Declined { last4, reason: "card declined (sandbox test card)".into() },
        _ => CardOutcome::Invalid(
            "the sandbox accepts only its test cards: 4242424242424242 succeeds, 4000000000000002 declines".into(),
        ),
    }
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn mac(secret: &[u8], timestamp_s: i64, body: &[u8]) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(timestamp_s.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    crate::accounts::hex(&m.finalize().into_bytes())
}

/// The signature header value for `body` at `timestamp_s`.
pub fn sign(secret: &[u8], timestamp_s: i64, body: &[u8]) -> String {
    format!("t={timestamp_s},v1={}", mac(secret, timestamp_s, body))
}

/// Checks a signature header against `body`, in constant time, and that it is fresh.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now_s: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Some(v),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    if (now_s - t).abs() > MAX_CALLBACK_AGE_S {
        return false;
    }
    let expected = mac(secret, t, body);
    expected.len() == v1.len() && expected.bytes().zip(v1.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_behave_as_documented() {
        assert_eq!(sandbox_charge("4242 4242 4242 4242"), CardOutcome::Accepted { last4: "4242".into() });
        assert!(matches!(sandbox_charge("4000-0000-0000-0002"), CardOutcome::Declined { .. }));
        assert!(matches!(sandbox_charge("4242424242424241"), CardOutcome::Invalid(_)), "fails Luhn");
        assert!(
            matches!(sandbox_charge("5555555555554444"), CardOutcome::Invalid(_)),
            "a real-looking card is refused"
        );
        assert!(matches!(sandbox_charge("abc"), CardOutcome::Invalid(_)));
    }

    #[test]
    fn signatures_verify_only_unchanged_and_fresh() {
        let h = sign(b"secret", 1000, b"{\"a\":1}");
        assert!(verify(b"secret", &h, b"{\"a\":1}", 1000));
        assert!(verify(b"secret", &h, b"{\"a\":1}", 1000 + MAX_CALLBACK_AGE_S));
        assert!(!verify(b"secret", &h, b"{\"a\":2}", 1000), "body changed");
        assert!(!verify(b"other", &h, b"{\"a\":1}", 1000), "wrong secret");
        assert!(!verify(b"secret", &h, b"{\"a\":1}", 1001 + MAX_CALLBACK_AGE_S), "too old");
        assert!(!verify(b"secret", "t=1000", b"{\"a\":1}", 1000));
        assert!(!verify(b"secret", "garbage", b"", 0));
    }
}
