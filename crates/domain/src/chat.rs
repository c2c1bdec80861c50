//! Conversations between a buyer and a store: what a message may hold, how the seller's response
//! time is measured, and the negotiation of offers (who may answer an offer, and how).

use crate::error::Invalid;

pub const MAX_MESSAGE_CHARS: usize = 2000;
pub const MAX_IMAGES: usize = 4;
pub const MAX_IMAGE_URL_CHARS: usize = 500;
/// Messages one user may send per minute: beyond this, 429.
pub const MESSAGES_PER_MINUTE: u32 = 30;
/// Most response-time samples kept per store: the median is of the newest.
pub const RESPONSE_SAMPLES: usize = 100;
/// Longest an offer may stay open.
pub const MAX_OFFER_VALIDITY_MS: i64 = 30 * crate::time::DAY_MS;

/// The two parties of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buyer,
    Seller,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buyer => "buyer",
            Side::Seller => "seller",
        }
    }

    pub fn parse(s: &str) -> Option<Side> {
        match s {
            "buyer" => Some(Side::Buyer),
            "seller" => Some(Side::Seller),
            _ => None,
        }
    }

    pub fn other(self) -> Side {
        match self {
            Side::Buyer => Side::Seller,
            Side::Seller => Side::Buyer,
        }
    }
}

/// A message as written: trimmed text and checked image URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDraft {
    pub text: String,
    pub images: Vec<String>,
}

/// Checks a message: text of at most `MAX_MESSAGE_CHARS` (it may be empty only when images are
/// sent) and up to `MAX_IMAGES` http(s) image URLs.
pub fn message(text: &str, images: &[String]) -> Result<MessageDraft, Invalid> {
    let text = text.trim();
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Invalid::new("too_long", "text", format!("at most {MAX_MESSAGE_CHARS} characters")));
    }
    if images.len() > MAX_IMAGES {
        return Err(Invalid::new("too_many", "images", format!("at most {MAX_IMAGES} images")));
    }
    for (i, url) in images.iter().enumerate() {
        if !crate::media::is_image_link(url, MAX_IMAGE_URL_CHARS) {
            return Err(Invalid::new(
                "invalid_url",
                format!("images[{i}]"),
                "an http(s) URL of at most 500 characters",
            ));
        }
    }
    if text.is_empty() && images.is_empty() {
        return Err(Invalid::new("required", "text", "a message says something or shows an image"));
    }
    Ok(MessageDraft { text: text.to_string(), images: images.to_vec() })
}

/// When the seller starts owing an answer, and how long an answer took.
///
/// The clock starts at the buyer's first message the seller has not answered yet (later buyer
/// messages do not restart it) and stops at the seller's next message, which yields one sample.
/// Returns the new "awaiting since" and the sample, if any.
pub fn response_clock(awaiting_since_ms: Option<i64>, sender: Side, now_ms: i64) -> (Option<i64>, Option<i64>) {
    match (sender, awaiting_since_ms) {
        (Side::Buyer, None) => (Some(now_ms), None),
        (Side::Buyer, Some(since)) => (Some(since), None),
        (Side::Seller, Some(since)) => (None, Some((now_ms - since).max(0))),
        (Side::Seller, None) => (None, None),
    }
}

/// The median of response-time samples (the lower middle for an even count), if any.
pub fn median_ms(samples: &mut [i64]) -> Option<u64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    Some(samples[(samples.len() - 1) / 2].max(0) as u64)
}

/// Where an offer stands. `Expired` is not stored: an open offer past its `valid_until` is
/// expired when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferState {
    Open,
    Accepted,
    Declined,
    Countered,
    /// Replaced by a newer offer from the same party.
    Superseded,
    Expired,
}

impl OfferState {
    pub fn as_str(self) -> &'static str {
        match self {
            OfferState::Open => "open",
            OfferState::Accepted => "accepted",
            OfferState::Declined => "declined",
            OfferState::Countered => "countered",
            OfferState::Superseded => "superseded",
            OfferState::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<OfferState> {
        [Self::Open, Self::Accepted, Self::Declined, Self::Countered, Self::Superseded, Self::Expired]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    /// The state as seen at `now_ms`: an open offer past its validity has expired.
    pub fn at(self, valid_until_ms: i64, now_ms: i64) -> OfferState {
        if self == OfferState::Open && now_ms >= valid_until_ms {
            OfferState::Expired
        } else {
            self
        }
    }
}

/// What a party does with an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferAnswer {
    Accept,
    Decline,
    Counter,
}

/// Why an answer is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferRefusal {
    /// The offer is not open (accepted, declined, countered, superseded or expired).
    NotOpen(OfferState),
    /// The party that made the offer cannot answer it: offers alternate.
    OwnOffer,
}

/// Decides whether `by` may give `answer` to an offer made by `made_by`, in `state` (as seen
/// now), and returns the offer's next state.
pub fn answer(state: OfferState, made_by: Side, by: Side, answer: OfferAnswer) -> Result<OfferState, OfferRefusal> {
    if state != OfferState::Open {
        return Err(OfferRefusal::NotOpen(state));
    }
    if made_by == by {
        return Err(OfferRefusal::OwnOffer);
    }
    Ok(match answer {
        OfferAnswer::Accept => OfferState::Accepted,
        OfferAnswer::Decline => OfferState::Declined,
        OfferAnswer::Counter => OfferState::Countered,
    })
}

/// Checks an offer's terms: a positive quantity, a positive unit price, and a validity in the
/// future of at most `MAX_OFFER_VALIDITY_MS`.
pub fn offer_terms(quantity: i64, unit_price_minor: i64, valid_until_ms: i64, now_ms: i64) -> Result<(), Invalid> {
    if !(1..=crate::checkout::MAX_LINE_QUANTITY).contains(&quantity) {
        return Err(Invalid::new("out_of_range", "quantity", "between 1 and 1000000"));
    }
    if !(1..=crate::money::MAX_PRICE_MINOR).contains(&unit_price_minor) {
        return Err(Invalid::new("out_of_range", "unit_price.amount", "a positive price"));
    }
    if valid_until_ms <= now_ms || valid_until_ms > now_ms + MAX_OFFER_VALIDITY_MS {
        return Err(Invalid::new("out_of_range", "valid_until", "in the future, at most 30 days ahead"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn messages_are_checked() {
        assert_eq!(message("  hi  ", &[]).unwrap().text, "hi");
        assert_eq!(message("", &[]).unwrap_err().field.as_deref(), Some("text"));
        assert!(message("", &["https://img.example/a.jpg".into()]).is_ok(), "an image alone is a message");
        assert_eq!(message(&"x".repeat(2001), &[]).unwrap_err().code, "too_long");
        assert_eq!(message("中".repeat(2000).as_str(), &[]).map(|m| m.text.chars().count()), Ok(2000));
        assert_eq!(message("hi", &["javascript:alert(1)".into()]).unwrap_err().field.as_deref(), Some("images[0]"));
        assert_eq!(message("hi", &["https://a b".into()]).unwrap_err().field.as_deref(), Some("images[0]"));
        let five: Vec<String> = (0..5).map(|i| format!("https://img.example/{i}.jpg")).collect();
        assert_eq!(message("hi", &five).unwrap_err().field.as_deref(), Some("images"));
    }

    #[test]
    fn the_response_clock_starts_at_the_first_unanswered_message() {
        let (since, sample) = response_clock(None, Side::Buyer, 100);
        assert_eq!((since, sample), (Some(100), None));
        let (since, sample) = response_clock(since, Side::Buyer, 500);
        assert_eq!((since, sample), (Some(100), None), "a second question does not restart it");
        assert_eq!(response_clock(since, Side::Seller, 1_100), (None, Some(1_000)));
        assert_eq!(response_clock(None, Side::Seller, 2_000), (None, None), "nothing was owed");
    }

    #[test]
    fn medians() {
        assert_eq!(median_ms(&mut []), None);
        assert_eq!(median_ms(&mut [5]), Some(5));
        assert_eq!(median_ms(&mut [9, 1, 5]), Some(5));
        assert_eq!(median_ms(&mut [4, 1, 3, 2]), Some(2));
    }

    #[test]
    fn offers_alternate_and_close_once() {
        use OfferAnswer::*;
        assert_eq!(answer(OfferState::Open, Side::Seller, Side::Buyer, Accept), Ok(OfferState::Accepted));
        assert_eq!(answer(OfferState::Open, Side::Seller, Side::Buyer, Counter), Ok(OfferState::Countered));
        assert_eq!(answer(OfferState::Open, Side::Buyer, Side::Seller, Decline), Ok(OfferState::Declined));
        assert_eq!(answer(OfferState::Open, Side::Seller, Side::Seller, Accept), Err(OfferRefusal::OwnOffer));
        for closed in [OfferState::Accepted, OfferState::Expired, OfferState::Superseded, OfferState::Countered] {
            assert_eq!(answer(closed, Side::Seller, Side::Buyer, Accept), Err(OfferRefusal::NotOpen(closed)));
        }
        assert_eq!(OfferState::Open.at(1_000, 999), OfferState::Open);
        assert_eq!(OfferState::Open.at(1_000, 1_000), OfferState::Expired);
        assert_eq!(OfferState::Accepted.at(1_000, 5_000), OfferState::Accepted, "only open offers expire");
    }

    #[test]
    fn offer_terms_are_bounded() {
        assert!(offer_terms(10, 500, 2_000, 1_000).is_ok());
        assert_eq!(offer_terms(0, 500, 2_000, 1_000).unwrap_err().field.as_deref(), Some("quantity"));
        assert_eq!(offer_terms(1, 0, 2_000, 1_000).unwrap_err().field.as_deref(), Some("unit_price.amount"));
        assert_eq!(offer_terms(1, 5, 1_000, 1_000).unwrap_err().field.as_deref(), Some("valid_until"));
        assert_eq!(
            offer_terms(1, 5, 1_000 + MAX_OFFER_VALIDITY_MS + 1, 1_000).unwrap_err().field.as_deref(),
            Some("valid_until")
        );
    }

    proptest! {
        /// Whatever the order of questions and answers, each sample is the time from the first
        /// unanswered buyer message to the seller's reply, and samples never overlap.
        #[test]
        fn response_samples_cover_disjoint_waits(steps in proptest::collection::vec((any::<bool>(), 1i64..1000), 0..50)) {
            let (mut since, mut now, mut total_waiting, mut sampled) = (None, 0i64, 0i64, 0i64);
            for (buyer, dt) in steps {
                now += dt;
                if since.is_some() { total_waiting += dt; }
                let side = if buyer { Side::Buyer } else { Side::Seller };
                let (next, sample) = response_clock(since, side, now);
                if let Some(s) = sample { prop_assert!(s >= 0); sampled += s; }
                since = next;
            }
            let open = since.map_or(0, |s| now - s);
            prop_assert_eq!(sampled + open, total_waiting);
        }
    }
}
