//! API keys' scopes: what an integration may do with a key. A scope is an area and an access,
//! `catalog:read`, `orders:write`, ...; `write` includes `read`. Each API path belongs to at
//! most one area; paths in none (accounts, keys, administration, mediation) refuse every key,
//! so a leaked key can never grant roles or mint more keys.

use crate::Invalid;

pub const AREAS: [&str; 4] = ["catalog", "orders", "chat", "wallet"];

/// Checks and normalises requested scopes: known ones, no repeats, sorted.
pub fn parse_scopes(requested: &[String]) -> Result<Vec<String>, Invalid> {
    let mut out: Vec<String> = Vec::new();
    for s in requested {
        let s = s.trim().to_ascii_lowercase();
        let known = s.split_once(':').is_some_and(|(a, x)| AREAS.contains(&a) && (x == "read" || x == "write"));
        if !known {
            return Err(Invalid::new(
                "invalid",
                "scopes",
                format!("'{s}' is not a scope: use area:read or area:write, areas {}", AREAS.join(", ")),
            ));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if out.is_empty() {
        return Err(Invalid::new("required", "scopes", "at least one scope"));
    }
    out.sort();
    Ok(out)
}

/// The area of an API path (`/api/v1/...`), if keys may use it at all.
pub fn area_of(path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix("/api/v1/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        ["disputes", _, "decide"] | ["stores", _, "verification"] => None,
        ["promotions", _, "buy"] | ["stores", _, "orders"] => Some("orders"),
        ["orders" | "checkout" | "checkouts" | "cart" | "disputes", ..] => Some("orders"),
        ["products" | "stores" | "promotions" | "search" | "categories" | "reviews", ..] => Some("catalog"),
        ["conversations" | "offers" | "rfqs" | "quotes" | "events" | "ws" | "users", ..] => Some("chat"),
        ["wallet", ..] => Some("wallet"),
        _ => None,
    }
}

/// Whether a key with `scopes` may send a request with this method (`read`: GET or HEAD) to
/// `path`.
pub fn allows(scopes: &[String], read: bool, path: &str) -> bool {
    let Some(area) = area_of(path) else { return false };
    scopes.iter().any(|s| match s.split_once(':') {
        Some((a, "write")) => a == area,
        Some((a, "read")) => a == area && read,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(s: &[&str]) -> Vec<String> {
        parse_scopes(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn scopes_are_known_areas_and_accesses() {
        assert_eq!(scopes(&["Orders:read", "catalog:write", "orders:read"]), ["catalog:write", "orders:read"]);
        for bad in [vec![], vec!["orders"], vec!["orders:delete"], vec!["admin:write"]] {
            let bad: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
            assert_eq!(parse_scopes(&bad).unwrap_err().field.as_deref(), Some("scopes"), "{bad:?}");
        }
    }

    #[test]
    fn each_path_belongs_to_one_area_or_none() {
        for (path, area) in [
            ("/api/v1/orders/ord_1/ship", Some("orders")),
            ("/api/v1/checkout", Some("orders")),
            ("/api/v1/promotions/prm_1/buy", Some("orders")),
            ("/api/v1/stores/shop/orders", Some("orders")),
            ("/api/v1/promotions/prm_1", Some("catalog")),
            ("/api/v1/stores/shop/imports", Some("catalog")),
            ("/api/v1/products", Some("catalog")),
            ("/api/v1/conversations/cnv_1/messages", Some("chat")),
            ("/api/v1/wallet/payouts", Some("wallet")),
            ("/api/v1/disputes/dsp_1/decide", None),
            ("/api/v1/stores/shop/verification", None),
            ("/api/v1/admin/users/usr_1/roles", None),
            ("/api/v1/api-keys", None),
            ("/api/v1/me", None),
            ("/api/v1/auth/logout", None),
            ("/healthz", None),
        ] {
            assert_eq!(area_of(path), area, "{path}");
        }
    }

    #[test]
    fn write_includes_read_and_nothing_else() {
        let s = scopes(&["orders:read", "catalog:write"]);
        assert!(allows(&s, true, "/api/v1/orders"));
        assert!(!allows(&s, false, "/api/v1/orders/ord_1/ship"), "read is not write");
        assert!(allows(&s, false, "/api/v1/products") && allows(&s, true, "/api/v1/products"));
        assert!(!allows(&s, true, "/api/v1/wallet"), "another area");
        assert!(!allows(&scopes(&["orders:write"]), false, "/api/v1/admin/users/usr_1/roles"));
    }
}
