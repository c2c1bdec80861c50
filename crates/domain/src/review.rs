//! Reviews: what a buyer's review and a store's reply must be, and when an order may be
//! reviewed. The API and the pages both check here, so they cannot disagree.

use crate::order::OrderState;
use crate::time::DAY_MS;
use crate::Invalid;

/// How long after completion the buyer may review.
pub const REVIEW_WINDOW_MS: i64 = 30 * DAY_MS;
pub const MAX_REVIEW_CHARS: usize = 2000;
pub const MAX_REPLY_CHARS: usize = 1000;

/// A review as the buyer gave it: scores from 1 to 5 and an optional text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewInput {
    pub stars: i64,
    pub item_as_described: i64,
    pub communication: i64,
    pub shipping_speed: i64,
    pub text: Option<String>,
    /// Photos of what arrived: links of uploaded images, or images elsewhere.
    pub images: Vec<String>,
}

/// The most photos one review carries.
pub const MAX_REVIEW_IMAGES: usize = 6;

/// A review that keeps the rules; its text trimmed (empty when none was given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub stars: i64,
    pub described: i64,
    pub communication: i64,
    pub shipping: i64,
    pub text: String,
    pub images: Vec<String>,
}

fn photos(images: Vec<String>) -> Result<Vec<String>, Invalid> {
    if images.len() > MAX_REVIEW_IMAGES {
        return Err(Invalid::new("too_many", "images", format!("at most {MAX_REVIEW_IMAGES} photos")));
    }
    for (i, link) in images.iter().enumerate() {
        if !crate::media::is_image_link(link, 500) {
            return Err(Invalid::new(
                "invalid_url",
                format!("images[{i}]"),
                "an uploaded image's link or an http(s) URL of at most 500 characters",
            ));
        }
    }
    Ok(images)
}

impl ReviewInput {
    pub fn check(self) -> Result<Review, Invalid> {
        Ok(Review {
            stars: score(self.stars, "stars")?,
            described: score(self.item_as_described, "item_as_described")?,
            communication: score(self.communication, "communication")?,
            shipping: score(self.shipping_speed, "shipping_speed")?,
            text: bounded_text(self.text.as_deref().unwrap_or(""), "text", MAX_REVIEW_CHARS)?,
            images: photos(self.images)?,
        })
    }
}

/// A store owner's reply to a review: some text, not too long.
pub fn reply_text(text: &str) -> Result<String, Invalid> {
    let text = bounded_text(text, "text", MAX_REPLY_CHARS)?;
    if text.is_empty() {
        return Err(Invalid::new("required", "text", "a reply needs some text"));
    }
    Ok(text)
}

fn score(value: i64, field: &str) -> Result<i64, Invalid> {
    match (1..=5).contains(&value) {
        true => Ok(value),
        false => Err(Invalid::new("out_of_range", field, "1 to 5 stars")),
    }
}

fn bounded_text(text: &str, field: &str, max: usize) -> Result<String, Invalid> {
    let text = text.trim();
    match text.chars().count() > max {
        true => Err(Invalid::new("too_long", field, format!("at most {max} characters"))),
        false => Ok(text.to_string()),
    }
}

/// Why an order cannot be reviewed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReviewable {
    NotCompleted,
    WindowClosed,
}

impl NotReviewable {
    pub fn code(self) -> &'static str {
        match self {
            NotReviewable::NotCompleted => "order_not_completed",
            NotReviewable::WindowClosed => "review_window_closed",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            NotReviewable::NotCompleted => "an order can be reviewed once it is completed",
            NotReviewable::WindowClosed => "reviews are possible for 30 days after completion",
        }
    }
}

/// Whether an order in `state`, completed at `completed_at_ms`, may be reviewed at `now_ms`.
pub fn reviewable(state: OrderState, completed_at_ms: Option<i64>, now_ms: i64) -> Result<(), NotReviewable> {
    match (state, completed_at_ms) {
        (OrderState::Completed, Some(done)) if now_ms <= done + REVIEW_WINDOW_MS => Ok(()),
        (OrderState::Completed, _) => Err(NotReviewable::WindowClosed),
        _ => Err(NotReviewable::NotCompleted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(stars: i64, text: Option<&str>) -> ReviewInput {
        ReviewInput {
            stars,
            item_as_described: 4,
            communication: 5,
            shipping_speed: 3,
            text: text.map(str::to_string),
            images: Vec::new(),
        }
    }

    #[test]
    fn a_review_keeps_scores_in_range_and_text_short() {
        let r = input(5, Some("  Great lid  ")).check().unwrap();
        assert_eq!((r.stars, r.described, r.communication, r.shipping, r.text.as_str()), (5, 4, 5, 3, "Great lid"));
        assert_eq!(input(4, None).check().unwrap().text, "");
        for stars in [0, 6, -1] {
            assert_eq!(input(stars, None).check().unwrap_err().field.as_deref(), Some("stars"));
        }
        let long = "字".repeat(MAX_REVIEW_CHARS + 1);
        assert_eq!(input(5, Some(&long)).check().unwrap_err().code, "too_long");
        assert!(input(5, Some(&"字".repeat(MAX_REVIEW_CHARS))).check().is_ok(), "characters, not bytes");
        let photo = format!("/media/{}.jpg", "ab".repeat(32));
        let with = |images: Vec<String>| ReviewInput { images, ..input(5, None) }.check();
        assert_eq!(with(vec![photo.clone()]).unwrap().images, vec![photo.clone()]);
        assert_eq!(with(vec!["javascript:x".into()]).unwrap_err().field.as_deref(), Some("images[0]"));
        assert_eq!(with(vec![photo; MAX_REVIEW_IMAGES + 1]).unwrap_err().code, "too_many");
    }

    #[test]
    fn a_reply_needs_text() {
        assert_eq!(reply_text("  ").unwrap_err().code, "required");
        assert_eq!(reply_text(&"a".repeat(MAX_REPLY_CHARS + 1)).unwrap_err().code, "too_long");
        assert_eq!(reply_text(" Thank you ").unwrap(), "Thank you");
    }

    #[test]
    fn only_a_completed_order_within_the_window_is_reviewable() {
        let done = 1_000_000;
        assert_eq!(reviewable(OrderState::Shipped, None, done), Err(NotReviewable::NotCompleted));
        assert_eq!(reviewable(OrderState::Completed, Some(done), done + REVIEW_WINDOW_MS), Ok(()));
        assert_eq!(
            reviewable(OrderState::Completed, Some(done), done + REVIEW_WINDOW_MS + 1),
            Err(NotReviewable::WindowClosed)
        );
        assert_eq!(reviewable(OrderState::Completed, None, done), Err(NotReviewable::WindowClosed));
    }
}
