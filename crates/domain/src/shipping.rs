//! Carriers, tracking numbers and tracking events.

use crate::Invalid;

/// The carriers Souk knows, with the shape of their tracking numbers. Anything else ships as
/// `other`, whose numbers are only checked for sane characters.
pub const CARRIERS: &[&str] = &["ups", "usps", "fedex", "dhl", "sf_express", "china_post", "sandbox", "other"];

fn digits(s: &str, lengths: &[usize]) -> bool {
    lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

fn letters(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_uppercase())
}

/// A Universal Postal Union S10 number: two letters, nine digits, two letters (`RR123456785CN`).
fn upu_s10(s: &str) -> bool {
    s.len() == 13 && letters(&s[..2]) && digits(&s[2..11], &[9]) && letters(&s[11..])
}

/// A carrier's name as Souk writes it: "SF Express" is `sf_express`. Unknown carriers are
/// refused (use `other`).
pub fn normalize_carrier(name: &str) -> Result<String, Invalid> {
    let carrier = name.trim().to_lowercase().replace([' ', '-'], "_");
    if CARRIERS.contains(&carrier.as_str()) {
        Ok(carrier)
    } else {
        Err(Invalid::new("unknown_carrier", "carrier", format!("one of {}", CARRIERS.join(", "))))
    }
}

/// Checks a tracking number against its carrier's format; returns it upper-cased.
pub fn tracking_number(carrier: &str, number: &str) -> Result<String, Invalid> {
    let n = number.trim().to_ascii_uppercase();
    if !n.is_ascii() {
        return Err(Invalid::new("invalid_tracking", "tracking_number", "letters and digits only"));
    }
    let ok = match carrier {
        "ups" => n.len() == 18 && n.starts_with("1Z") && n.bytes().all(|b| b.is_ascii_alphanumeric()),
        "usps" => digits(&n, &[20, 22]) || (upu_s10(&n) && n.ends_with("US")),
        "fedex" => digits(&n, &[12, 15, 20]),
        "dhl" => digits(&n, &[10, 11]),
        "sf_express" => n.len() >= 14 && n.starts_with("SF") && digits(&n[2..], &[12, 13]),
        "china_post" => upu_s10(&n),
        "sandbox" | "other" => (4..=64).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        _ => return Err(Invalid::new("unknown_carrier", "carrier", format!("one of {}", CARRIERS.join(", ")))),
    };
    if ok {
        Ok(n)
    } else {
        Err(Invalid::new(
            "invalid_tracking",
            "tracking_number",
            format!("not a {carrier} tracking number: {}", tracking_format(carrier)),
        ))
    }
}

/// What a carrier's tracking numbers look like, said to the person who typed a wrong one.
pub fn tracking_format(carrier: &str) -> &'static str {
    match carrier {
        "ups" => "18 characters starting with 1Z, such as 1Z999AA10123456784",
        "usps" => "20 or 22 digits, or 2 letters, 9 digits and US, such as RA123456785US",
        "fedex" => "12, 15 or 20 digits",
        "dhl" => "10 or 11 digits",
        "sf_express" => "SF and 12 or 13 digits, such as SF1234567890123",
        "china_post" => "2 letters, 9 digits and 2 letters, such as RA123456785CN",
        _ => "4 to 64 letters, digits and dashes",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    PickedUp,
    InTransit,
    OutForDelivery,
    Delivered,
    Exception,
}

impl EventType {
    pub const ALL: [EventType; 5] =
        [Self::PickedUp, Self::InTransit, Self::OutForDelivery, Self::Delivered, Self::Exception];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PickedUp => "picked_up",
            EventType::InTransit => "in_transit",
            EventType::OutForDelivery => "out_for_delivery",
            EventType::Delivered => "delivered",
            EventType::Exception => "exception",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_carriers_check_their_formats() {
        assert_eq!(tracking_number("ups", " 1z999aa10123456784 ").unwrap(), "1Z999AA10123456784");
        assert!(tracking_number("ups", "1Z999AA1012345678").is_err(), "17 characters");
        assert!(tracking_number("usps", "9400111899223197428490").is_ok());
        assert!(tracking_number("usps", "EA123456789US").is_ok());
        assert!(tracking_number("usps", "EA123456789CN").is_err());
        assert!(tracking_number("fedex", "123456789012").is_ok());
        assert!(tracking_number("fedex", "12345678901").is_err());
        assert!(tracking_number("dhl", "1234567890").is_ok());
        assert!(tracking_number("sf_express", "SF1234567890123").is_ok());
        assert!(tracking_number("sf_express", "SF12").is_err());
        assert!(tracking_number("china_post", "RR123456785CN").is_ok());
        assert!(tracking_number("china_post", "RR12345678CN").is_err());
        assert!(tracking_number("other", "ABC-123").is_ok());
        assert!(tracking_number("other", "no spaces").is_err());
        assert!(tracking_number("other", "ÄBC123").is_err());
        assert_eq!(tracking_number("pigeon", "123456").unwrap_err().code, "unknown_carrier");
    }

    #[test]
    fn event_types_round_trip() {
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Some(e));
        }
        assert_eq!(EventType::parse("lost"), None);
    }
}
