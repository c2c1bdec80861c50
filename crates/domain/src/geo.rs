//! ISO-3166-1 alpha-2 country codes, and the `ships_to` rule built on them.

use crate::error::Invalid;
use crate::money::truncate;
use serde::{Deserialize, Serialize};

/// All officially assigned ISO-3166-1 alpha-2 codes, sorted.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ \
BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ \
DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT \
GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY \
KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX \
MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS \
RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN \
TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

pub fn is_country(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) && COUNTRIES.split(' ').any(|c| c == code)
}

pub fn parse_country(code: &str, field: &str) -> Result<String, Invalid> {
    if is_country(code) {
        Ok(code.to_string())
    } else {
        Err(Invalid::new(
            "unknown_country",
            field,
            format!("'{}' is not an ISO-3166-1 alpha-2 country code", truncate(code, 16)),
        ))
    }
}

/// Where a product ships: everywhere (`*`) or a set of countries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShipsTo {
    Everywhere,
    Countries(Vec<String>),
}

impl ShipsTo {
    /// Validates a list as given in the API: `["*"]` or country codes, deduplicated and sorted.
    pub fn from_list(list: &[String], field: &str) -> Result<ShipsTo, Invalid> {
        if list.is_empty() {
            return Err(Invalid::new("required", field, "name at least one country, or \"*\" for everywhere"));
        }
        if list.iter().any(|c| c == "*") {
            if list.len() > 1 {
                return Err(Invalid::new("invalid", field, "\"*\" stands alone: it already means every country"));
            }
            return Ok(ShipsTo::Everywhere);
        }
        let mut codes = list
            .iter()
            .enumerate()
            .map(|(i, c)| parse_country(c, &format!("{field}[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        codes.sort();
        codes.dedup();
        Ok(ShipsTo::Countries(codes))
    }

    /// Parses the import/storage form: `*` or codes separated by `;`.
    pub fn parse(text: &str, field: &str) -> Result<ShipsTo, Invalid> {
        let list: Vec<String> =
            text.split(';').map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty()).collect();
        ShipsTo::from_list(&list, field)
    }

    pub fn ships_to(&self, country: &str) -> bool {
        match self {
            ShipsTo::Everywhere => true,
            ShipsTo::Countries(c) => c.binary_search_by(|x| x.as_str().cmp(country)).is_ok(),
        }
    }

    pub fn to_list(&self) -> Vec<String> {
        match self {
            ShipsTo::Everywhere => vec!["*".to_string()],
            ShipsTo::Countries(c) => c.clone(),
        }
    }

    /// The storage form, inverse of [`ShipsTo::parse`].
    pub fn to_text(&self) -> String {
        self.to_list().join(";")
    }
}

impl Serialize for ShipsTo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_list().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ShipsTo {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<String>::deserialize(d)?;
        ShipsTo::from_list(&list, "ships_to").map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_countries() {
        let all: Vec<&str> = COUNTRIES.split(' ').collect();
        assert_eq!(all.len(), 249);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert!(is_country("CN") && is_country("US") && is_country("DE"));
        assert!(!is_country("XX") && !is_country("us") && !is_country("USA") && !is_country(""));
    }

    #[test]
    fn ships_to_parses_and_matches() {
        let s = ShipsTo::parse("us; de;US", "ships_to").unwrap();
        assert_eq!(s, ShipsTo::Countries(vec!["DE".into(), "US".into()]));
        assert!(s.ships_to("US") && !s.ships_to("CN"));
        assert_eq!(s.to_text(), "DE;US");
        assert!(ShipsTo::parse("*", "f").unwrap().ships_to("CN"));
        assert_eq!(ShipsTo::parse("US;XX", "f").unwrap_err().field.as_deref(), Some("f[1]"));
        assert!(ShipsTo::parse("", "f").is_err());
        assert!(ShipsTo::parse("*;US", "f").is_err());
    }

    proptest::proptest! {
        #[test]
        fn storage_form_round_trips(picks in proptest::collection::vec(0usize..249, 1..12)) {
            let all: Vec<&str> = COUNTRIES.split(' ').collect();
            let list: Vec<String> = picks.iter().map(|&i| all[i].to_string()).collect();
            let s = ShipsTo::from_list(&list, "f").unwrap();
            proptest::prop_assert_eq!(ShipsTo::parse(&s.to_text(), "f").unwrap(), s.clone());
            for c in &list {
                proptest::prop_assert!(s.ships_to(c));
            }
        }
    }
}
