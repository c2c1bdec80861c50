//! Two-step sign-in: a time-based code from an authenticator app (RFC 6238: HMAC-SHA-1, six
//! digits, 30-second steps), or one of ten recovery codes, each good once. Optional for buyers
//! and sellers; an operator's mediator and admin roles are held back until it is on (see
//! [`in_force`]).

use crate::accounts::{password_matches, token_hash};
use crate::error::{Error, ErrorKind, Result};
use crate::App;
use data_encoding::BASE32_NOPAD;
use souk_domain::account::Role;
use souk_domain::Invalid;
use souk_store::accounts::User;
use souk_store::Tx;

const STEP_S: u64 = 30;
const DIGITS: u32 = 6;
/// Codes one step early or late are accepted too: clocks and typing drift.
const SKEW_STEPS: i64 = 1;
const RECOVERY_CODES: usize = 10;

/// The code an authenticator with `secret` (base32) shows at `ms`.
pub fn code_at(secret: &str, ms: i64) -> Option<String> {
    let key = BASE32_NOPAD.decode(secret.as_bytes()).ok()?;
    Some(totp_lite::totp_custom::<totp_lite::Sha1>(STEP_S, DIGITS, &key, (ms / 1000).max(0) as u64))
}

/// The time step `code` belongs to near `ms`, if it is right.
fn step_of(secret: &str, code: &str, ms: i64) -> Option<i64> {
    let now = ms / 1000 / STEP_S as i64;
    (now - SKEW_STEPS..=now + SKEW_STEPS)
        .find(|step| code_at(secret, step * STEP_S as i64 * 1000).as_deref() == Some(code))
}

/// The roles the user may use now: an operator's mediator and admin roles wait, when the
/// marketplace requires it, until two-step sign-in is on (kept in `held_back` to say why).
pub fn in_force(app: &App, mut user: User) -> User {
    if app.config.staff_two_factor && !user.two_factor {
        let (staff, rest): (Vec<Role>, Vec<Role>) =
            user.roles.iter().partition(|r| matches!(r, Role::Mediator | Role::Admin));
        user.roles = rest;
        user.held_back = staff;
    }
    user
}

/// What an authenticator app needs to be set up: the secret, as a link and as a QR code.
pub struct Enrolment {
    /// Base32, for typing in by hand.
    pub secret: String,
    /// `otpauth://totp/...`, what the QR code holds.
    pub uri: String,
    /// The QR code as an SVG drawing.
    pub qr_svg: String,
}

/// The enrolment of `secret` for `email`.
pub fn enrolment(secret: &str, email: &str) -> Enrolment {
    let label: String = url::form_urlencoded::byte_serialize(format!("Souk:{email}").as_bytes()).collect();
    let uri =
        format!("otpauth://totp/{label}?secret={secret}&issuer=Souk&algorithm=SHA1&digits={DIGITS}&period={STEP_S}");
    let qr_svg = qrcode::QrCode::new(uri.as_bytes())
        .map(|qr| {
            qr.render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .dark_color(qrcode::render::svg::Color("#000000"))
                .light_color(qrcode::render::svg::Color("#ffffff"))
                .build()
        })
        .unwrap_or_default();
    Enrolment { secret: secret.to_string(), uri, qr_svg }
}

/// Starts enrolling an authenticator: a new secret, not in force until a code from it is
/// confirmed. Refused while two-step sign-in is on (turn it off first).
pub async fn start(tx: &mut Tx, user: &User) -> Result<Enrolment> {
    if user.two_factor {
        return Err(Error::conflict("two_factor_on", "two-step sign-in is on already"));
    }
    let secret = BASE32_NOPAD.encode(&rand::random::<[u8; 20]>());
    tx.start_totp(&user.id, &secret).await?;
    Ok(enrolment(&secret, &user.email))
}

/// The enrolment started and not yet confirmed, to show again.
pub async fn pending(app: &App, user: &User) -> Result<Option<Enrolment>> {
    let (secret, on, _) = app.store.totp_of(&user.id).await?;
    Ok(secret.filter(|_| !on).map(|s| enrolment(&s, &user.email)))
}

fn wrong_code(field: &str) -> Error {
    Invalid::new("invalid_code", field, "this code is wrong or was used already; try the newest one").into()
}

/// Puts two-step sign-in in force with a code from the enrolled authenticator. Returns the
/// recovery codes, shown this once.
pub async fn confirm(app: &App, tx: &mut Tx, user: &User, code: &str) -> Result<Vec<String>> {
    let (secret, on, _) = app.store.totp_of(&user.id).await?;
    if on {
        return Err(Error::conflict("two_factor_on", "two-step sign-in is on already"));
    }
    let secret = secret.ok_or_else(|| Error::conflict("no_enrolment", "start enrolling an authenticator first"))?;
    let step = step_of(&secret, code.trim(), app.store.now_ms()).ok_or_else(|| wrong_code("code"))?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    let hashes: Vec<String> = codes.iter().map(|c| token_hash(&normalize(c))).collect();
    tx.enable_totp(&user.id, step, &hashes).await?;
    Ok(codes)
}

/// A recovery code: ten letters and digits in two groups, easy to copy by hand.
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let picks: Vec<char> =
        rand::random::<[u8; 10]>().iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    format!("{}-{}", picks[..5].iter().collect::<String>(), picks[5..].iter().collect::<String>())
}

/// A code as typed, compared without spaces, dashes or case.
fn normalize(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

/// Checks a sign-in's second step: a code from the authenticator (each accepted once) or an
/// unused recovery code (then used up). `field` names the input in a refusal.
pub async fn check(app: &App, tx: &mut Tx, user: &User, code: &str, field: &str) -> Result<()> {
    let (secret, on, _) = app.store.totp_of(&user.id).await?;
    let (Some(secret), true) = (secret, on) else { return Ok(()) };
    let code = code.trim();
    if code.len() == DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(step) = step_of(&secret, code, app.store.now_ms()) {
            if tx.use_totp_step(&user.id, step).await? {
                return Ok(());
            }
        }
        return Err(wrong_code(field));
    }
    if tx.use_recovery_code(&user.id, &token_hash(&normalize(code))).await? {
        return Ok(());
    }
    Err(wrong_code(field))
}

/// Turns two-step sign-in off, the password required. An operator whose roles need it may not.
pub async fn disable(app: &App, tx: &mut Tx, user: &User, password: String) -> Result<()> {
    let staff = user.roles.iter().chain(&user.held_back).any(|r| matches!(r, Role::Mediator | Role::Admin));
    if staff && app.config.staff_two_factor {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "two_factor_required",
            "mediators and administrators keep two-step sign-in on",
        ));
    }
    if !password_matches(password, Some(user.password_hash.clone())).await {
        return Err(Invalid::new("wrong_password", "password", "this is not your current password").into());
    }
    tx.disable_totp(&user.id).await?;
    Ok(())
}

/// How many recovery codes the user has left.
pub async fn recovery_codes_left(app: &App, user: &User) -> Result<i64> {
    Ok(app.store.recovery_codes_left(&user.id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 test key at 59 s and 1111111109 s (last six digits).
    #[test]
    fn codes_match_the_rfc_test_vectors() {
        let secret = BASE32_NOPAD.encode(b"12345678901234567890");
        assert_eq!(code_at(&secret, 59_000).unwrap(), "287082");
        assert_eq!(code_at(&secret, 1_111_111_109_000).unwrap(), "081804");
        assert_eq!(step_of(&secret, "287082", 59_000), Some(1));
        assert_eq!(step_of(&secret, "287082", 89_000), Some(1), "a step late is accepted");
        assert_eq!(step_of(&secret, "287082", 119_000), None, "two steps late is not");
        assert_eq!(code_at("not base32!", 0), None);
    }

    #[test]
    fn recovery_codes_read_easily_and_compare_loosely() {
        let code = recovery_code();
        assert_eq!(code.len(), 11);
        assert!(!code.contains(['0', 'o', '1', 'l', 'i']), "{code}");
        assert_eq!(normalize(&code.to_uppercase().replace('-', " ")), normalize(&code));
    }

    #[test]
    fn the_qr_code_carries_the_secret() {
        let e = enrolment("JBSWY3DPEHPK3PXP", "ann@example.com");
        assert_eq!(
            e.uri,
            "otpauth://totp/Souk%3Aann%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Souk&algorithm=SHA1&digits=6&period=30"
        );
        assert!(e.qr_svg.starts_with("<?xml") && e.qr_svg.contains("<svg"), "{}", &e.qr_svg[..60]);
    }
}
