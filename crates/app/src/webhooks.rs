//! Sending webhook deliveries. The store says which are due (`store::webhooks`); each is claimed,
//! POSTed with its signature, and its attempt recorded, so a delivery is sent at least once, its
//! event id the same every time for the receiver to deduplicate by.
//!
//! Each request carries `Souk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`
//! under the endpoint's secret (the scheme the payment callbacks use), `Souk-Event-Id`,
//! `Souk-Event-Type` and `Souk-Delivery`. Any 2xx acknowledges; anything else, a timeout or a
//! refused connection is retried as `domain::webhook::next_attempt` says.

use crate::error::{Error, OrNotFound};
use crate::payments::sign;
use crate::App;
use souk_domain::account::Role;
use souk_domain::id::{self, Kind};
use souk_domain::webhook::parse_patterns;
use souk_domain::Invalid;
use souk_store::accounts::User;
use souk_store::webhooks::{Attempt, DeliveryView, DueDelivery, WebhookView};
use souk_store::StoreError;
use souk_store::Tx;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SIGNATURE_HEADER: &str = "Souk-Signature";
/// Deliveries taken per round.
const BATCH: usize = 64;
/// Rounds per call: each round can release the next event of an order the last one delivered.
const ROUNDS: usize = 20;
/// A receiver that has not answered by then has failed this attempt.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed delivery is left to its sender before another round may try it.
const LEASE_MS: i64 = 60_000;
/// How much of a receiver's answer the log keeps.
const RESPONSE_EXCERPT: usize = 500;

/// The HTTP client deliveries go through: no redirects (a 3xx is a failed attempt, and cannot
/// bounce a delivery elsewhere), bounded time, and unless `allow_private` names resolved to
/// public addresses only ([`PublicOnly`]).
pub fn client(allow_private: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Souk-Webhooks/", env!("CARGO_PKG_VERSION")));
    let builder = if allow_private { builder } else { builder.dns_resolver(Arc::new(PublicOnly)) };
    builder.build().expect("the webhook HTTP client's settings are valid")
}

/// Resolves an endpoint's name with the system's resolver and keeps only public addresses:
/// `check_url` sees the name, not where it points, and what it points to may change after
/// the endpoint was registered.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public = public_only(found);
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn public_only(addrs: impl IntoIterator<Item = SocketAddr>) -> Vec<SocketAddr> {
    addrs.into_iter().filter(|a| !is_private(a.ip())).collect()
}

pub async fn deliver_forever(app: App) {
    app.send_forever("webhook deliveries", |app| async move { app.deliver_webhooks().await }).await
}

impl App {
    /// Sends every webhook delivery that is due; returns how many were acknowledged.
    pub async fn deliver_webhooks(&self) -> Result<usize, StoreError> {
        let mut delivered = 0;
        for _ in 0..ROUNDS {
            let now = self.store.now_ms();
            let due = self.store.due_webhook_deliveries(now, BATCH).await?;
            if due.is_empty() {
                break;
            }
            let mut claimed = Vec::with_capacity(due.len());
            let mut tx = self.store.begin().await?;
            for d in due {
                if tx.claim_webhook_delivery(&d, now + LEASE_MS).await? {
                    claimed.push(d);
                }
            }
            tx.commit().await?;
            if claimed.is_empty() {
                break;
            }
            let mut sending = tokio::task::JoinSet::new();
            for d in claimed {
                let client = self.webhook_client.clone();
                let allow_private = self.config.webhooks_allow_private;
                sending.spawn(async move {
                    let outcome = attempt(&client, &d, now / 1000, allow_private).await;
                    (d, outcome)
                });
            }
            let results = sending.join_all().await;
            let mut tx = self.store.begin().await?;
            for (d, outcome) in &results {
                match tx.record_webhook_attempt(d, outcome).await? {
                    Some("delivered") => delivered += 1,
                    Some(state) => tracing::info!(
                        delivery = d.id, event = %d.event_id, state,
                        error = outcome.error.as_deref().unwrap_or(""), status = outcome.status.unwrap_or(0),
                        "webhook delivery not acknowledged"
                    ),
                    None => {}
                }
            }
            tx.commit().await?;
            if self.flash_busy() {
                break;
            }
        }
        Ok(delivered)
    }
}

/// One POST of a delivery, signed at `now_s`. The URL is checked again: it was registered
/// under the settings of then.
async fn attempt(client: &reqwest::Client, d: &DueDelivery, now_s: i64, allow_private: bool) -> Attempt {
    let mut out = Attempt { status: None, error: None, response: None, duration_ms: 0 };
    if let Err(e) = check_url(&d.url, allow_private) {
        out.error = Some(e.message);
        return out;
    }
    let body = d.body();
    let started = Instant::now();
    let sent = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, sign(d.secret.as_bytes(), now_s, body.as_bytes()))
        .header("Souk-Event-Id", &d.event_id)
        .header("Souk-Event-Type", &d.kind)
        .header("Souk-Delivery", d.id.to_string())
        .body(body)
        .send()
        .await;
    match sent {
        Ok(mut res) => {
            out.status = Some(res.status().as_u16());
            let mut excerpt = Vec::new();
            // Only the start is kept, so a receiver cannot make the sender read without end.
            while excerpt.len() < RESPONSE_EXCERPT {
                match res.chunk().await {
                    Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                    _ => break,
                }
            }
            excerpt.truncate(RESPONSE_EXCERPT);
            let text = String::from_utf8_lossy(&excerpt).into_owned();
            out.response = (!text.is_empty()).then_some(text);
        }
        Err(e) => {
            out.error = Some(if e.is_timeout() {
                format!("no answer within {} s", TIMEOUT.as_secs())
            } else if e.is_connect() {
                // The innermost cause says why: refused, or no public address.
                let mut cause: &dyn std::error::Error = &e;
                while let Some(inner) = cause.source() {
                    cause = inner;
                }
                format!("could not connect: {cause}")
            } else {
                e.without_url().to_string()
            });
        }
    }
    out.duration_ms = started.elapsed().as_millis() as i64;
    out
}

/// Checks an endpoint URL: http or https with a host and no credentials; unless
/// `allow_private`, not a loopback, private or link-local address, so a seller cannot make
/// the server call into its own network. (A name that resolves to such an address is caught
/// when a delivery is sent: see [`PublicOnly`].)
pub fn check_url(raw: &str, allow_private: bool) -> Result<String, Error> {
    let bad = |message: &str| Error::invalid("invalid_url", message).with_field("url");
    if raw.len() > 2_000 {
        return Err(bad("at most 2000 characters"));
    }
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| bad(&format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("use an http or https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials do not belong in the URL; verify the signature instead"));
    }
    let private = match url.host() {
        None => return Err(bad("the URL needs a host")),
        Some(url::Host::Domain(name)) => {
            let name = name.to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
    };
    if private && !allow_private {
        return Err(Error::invalid(
            "private_address",
            "webhooks are not sent to local or private addresses on this server",
        )
        .with_field("url"));
    }
    Ok(url.to_string())
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast()
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback() || v6.is_unspecified() || first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
            }
        },
    }
}

/// Most live endpoints one user may have.
const MAX_ENDPOINTS: usize = 10;

/// An endpoint to register.
pub struct NewEndpoint<'a> {
    pub url: &'a str,
    /// Event types (`order.paid`), families (`order.*`) or `*`.
    pub events: &'a [String],
    pub description: &'a str,
    /// Every event of the marketplace once each (admins only), not just those addressed to the user.
    pub marketplace: bool,
}

/// Registers an endpoint: as stored, and its signing secret (shown once).
pub async fn create(
    app: &App,
    tx: &mut Tx,
    user: &User,
    new: &NewEndpoint<'_>,
) -> Result<(WebhookView, String), Error> {
    let url = check_url(new.url, app.config.webhooks_allow_private)?;
    let events = parse_patterns(new.events)?;
    let description = new.description.trim();
    if description.chars().count() > 200 {
        return Err(Invalid::new("invalid", "description", "at most 200 characters").into());
    }
    if new.marketplace && !user.has(Role::Admin) {
        return Err(Error::forbidden("this needs the admin role"));
    }
    let live = app.store.webhooks(&user.id).await?.iter().filter(|w| w.disabled_at.is_none()).count();
    if live >= MAX_ENDPOINTS {
        let message = format!("at most {MAX_ENDPOINTS} endpoints; delete one first");
        return Err(Error::conflict("too_many_webhooks", message));
    }
    let secret = format!("whsec_{}", crate::accounts::random_token());
    let webhook = tx.create_webhook(&user.id, &url, description, &events, new.marketplace, &secret).await?;
    Ok((webhook, secret))
}

/// The user's endpoint `id`; anyone else's is not found.
pub async fn own(app: &App, user: &User, id: &str) -> Result<WebhookView, Error> {
    if !id::is_valid(Kind::Webhook, id) {
        return Err(Error::not_found("webhook"));
    }
    app.store.webhook(&user.id, id).await?.ok_or_else(|| Error::not_found("webhook"))
}

/// Deletes one of the user's endpoints: nothing more is sent to it; its log stays readable.
pub async fn disable(app: &App, tx: &mut Tx, user: &User, id: &str) -> Result<WebhookView, Error> {
    own(app, user, id).await?;
    tx.disable_webhook(&user.id, id).await.or_not_found("webhook")
}

/// Sends a delivery of one of the user's endpoints again (`delivery` as the path gives it).
pub async fn replay(app: &App, tx: &mut Tx, user: &User, id: &str, delivery: &str) -> Result<DeliveryView, Error> {
    let endpoint = own(app, user, id).await?;
    if endpoint.disabled_at.is_some() {
        return Err(Error::conflict("webhook_deleted", "this endpoint was deleted; nothing is sent to it"));
    }
    let delivery = delivery.parse::<i64>().map_err(|_| Error::not_found("delivery"))?;
    tx.replay_webhook_delivery(id, delivery).await.or_not_found("delivery")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_are_public_http() {
        assert_eq!(check_url("https://hooks.example.com/souk", false).unwrap(), "https://hooks.example.com/souk");
        for (url, code) in [
            ("ftp://example.com/", "invalid_url"),
            ("not a url", "invalid_url"),
            ("https://user:pw@example.com/", "invalid_url"),
            ("http://localhost:9000/", "private_address"),
            ("http://127.0.0.1/", "private_address"),
            ("http://10.1.2.3/", "private_address"),
            ("http://192.168.0.10/", "private_address"),
            ("http://169.254.169.254/latest/meta-data", "private_address"),
            ("http://[::1]/", "private_address"),
            ("http://[fd00::1]/", "private_address"),
            ("http://[::ffff:127.0.0.1]/", "private_address"),
        ] {
            let e = check_url(url, false).unwrap_err();
            assert_eq!(e.code, code, "{url}");
        }
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
    }

    #[test]
    fn only_public_addresses_are_kept() {
        let addrs: Vec<SocketAddr> =
            ["127.0.0.1:0", "93.184.215.14:0", "10.0.0.7:0", "[::1]:0", "[2606:2800:21f::1]:0"]
                .iter()
                .map(|a| a.parse().unwrap())
                .collect();
        let kept: Vec<String> = public_only(addrs).iter().map(|a| a.ip().to_string()).collect();
        assert_eq!(kept, ["93.184.215.14", "2606:2800:21f::1"]);
    }

    /// A name pointing at this machine is never connected to, though a receiver listens there.
    #[tokio::test]
    async fn names_that_resolve_to_private_addresses_are_not_called() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = tokio::spawn(async move { listener.accept().await.is_ok() });
        let url = format!("http://localhost:{port}/hook");
        let sent = client(false).post(&url).body("{}").send().await;
        let e = sent.expect_err("no public address to send to");
        assert!(e.is_connect(), "{e:?}");
        assert!(format!("{e:?}").contains("no public address"), "{e:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!accepted.is_finished(), "nothing connected to the receiver");
        // With private addresses allowed (development), the same name is called.
        let _ = client(true).post(&url).body("{}").timeout(Duration::from_millis(300)).send().await;
        assert!(accepted.await.unwrap(), "the receiver was connected to");
    }
}
