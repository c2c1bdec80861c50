//! A newcomer in the browser: signs up, confirms the address from the mail folder, chooses a
//! language and time zone, signs in again, forgets the password and sets a new one.

use crate::account_care::{link_token, mails_to};
use crate::cdp::{chromium, Browser};
use crate::Srv;
use serde_json::json;
use souk_store::testing::TestBackend;

const PHONE: &str = r#"{"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_signs_up_confirms_and_comes_back() {
    let Some(binary) = chromium() else {
        eprintln!("skipped: no Chromium (set CHROMIUM or install chromium)");
        return;
    };
    let srv = Srv::start(TestBackend::Sqlite).await.unwrap();
    let mut b = Browser::launch(&binary).await;

    // From the log-in page to the sign-up form; a short password is refused beside its input.
    b.goto(&format!("{}/login", srv.base)).await;
    b.navigate_by("[...document.querySelectorAll('main a')].find(a => a.getAttribute('href') === '/register').click()")
        .await;
    b.screenshot("account-register-en").await;
    b.eval(
        "{ const f = document.querySelector('form.register'); f.display_name.value = 'Lin Mei';
           f.email.value = 'lin@example.com'; f.password.removeAttribute('minlength'); f.password.value = 'short';
           f.querySelector('button').click(); true }",
    )
    .await;
    b.wait_for("!!document.querySelector('form.register .field-error')").await;
    let refused = b
        .eval(
            "[document.querySelector('form.register').email.value, document.querySelector('.field-error').textContent]",
        )
        .await;
    assert_eq!(refused[0], "lin@example.com", "what was typed stays");
    assert!(refused[1].as_str().unwrap().contains("at least 10"), "{refused}");
    b.navigate_by(
        "{ const f = document.querySelector('form.register'); f.password.value = 'a long enough secret';
           f.querySelector('button').click() }",
    )
    .await;
    let text = b.text().await;
    assert!(text.contains("Welcome to Souk") && text.contains("not confirmed yet"), "{text}");
    assert!(text.contains("Signed in as Lin Mei"), "{text}");

    // The link in the mail confirms the address.
    let mail = &mails_to(&srv, "lin@example.com", 1).await[0];
    let token = link_token(mail, "/verify-email");
    b.goto(&format!("{}/verify-email?token={token}", srv.base)).await;
    b.navigate_by("document.querySelector('form.verify button').click()").await;
    let text = b.text().await;
    assert!(text.contains("Your email address is confirmed.") && text.contains("confirmed"), "{text}");
    assert!(!text.contains("not confirmed yet"), "{text}");

    // Chinese and Shanghai time: the page speaks Chinese at once, and times are read in that zone.
    b.navigate_by(
        "{ const f = document.querySelector('form.profile'); f.locale.value = 'zh'; f.time_zone.value = 'Asia/Shanghai'; f.currency.value = 'usd';
           f.querySelector('button').click() }",
    )
    .await;
    assert_eq!(
        b.eval("[document.documentElement.lang, document.documentElement.dataset.tz]").await,
        json!(["zh", "Asia/Shanghai"])
    );
    assert!(b.text().await.contains("已保存"), "{}", b.text().await);
    let shown = b.eval("document.querySelector('ul.sessions time').textContent").await;
    let utc = b.eval("document.querySelector('ul.sessions time').title").await;
    assert_ne!(shown, utc, "times are converted from UTC");
    b.screenshot("account-page-zh").await;
    b.goto(&format!("{}/wallet", srv.base)).await;
    assert_eq!(
        b.eval("document.querySelector('form.topup [name=currency]').value").await,
        "USD",
        "amounts are typed in the chosen currency"
    );
    b.call("Emulation.setDeviceMetricsOverride", serde_json::from_str(PHONE).unwrap()).await;
    b.goto(&format!("{}/account", srv.base)).await;
    b.screenshot("account-page-zh-phone").await;
    let wide = b
        .eval("[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391).length")
        .await;
    assert_eq!(wide, 0, "nothing reaches past a phone's width");
    b.call("Emulation.clearDeviceMetricsOverride", json!({})).await;

    // Logged out and back in: the account's language comes back with it, and this browser is
    // named among the devices.
    b.navigate_by("document.querySelector('form[action=\"/logout\"] button').click()").await;
    b.eval("document.cookie = 'souk_lang=en; path=/'; true").await;
    b.goto(&format!("{}/login", srv.base)).await;
    b.navigate_by(
        "document.querySelector('input[name=email]').value = 'lin@example.com';
         document.querySelector('input[name=password]').value = 'a long enough secret';
         document.querySelector('main form').submit()",
    )
    .await;
    b.goto(&format!("{}/account", srv.base)).await;
    assert_eq!(b.eval("document.documentElement.lang").await, "zh");
    let devices = b.eval("document.querySelector('ul.sessions').innerText").await;
    assert!(
        devices.as_str().unwrap().contains("Chrome on Linux") && devices.as_str().unwrap().contains("本设备"),
        "{devices}"
    );

    // A forgotten password: asked for from the log-in page, set from the emailed link.
    b.navigate_by("document.querySelector('form[action=\"/logout\"] button').click()").await;
    b.goto(&format!("{}/login", srv.base)).await;
    b.navigate_by("document.querySelector('a[href=\"/reset-password\"]').click()").await;
    b.navigate_by(
        "document.querySelector('form.reset input[name=email]').value = 'lin@example.com';
         document.querySelector('form.reset button').click()",
    )
    .await;
    assert!(b.text().await.contains("lin@example.com"), "{}", b.text().await);
    b.screenshot("account-reset-sent-zh").await;
    let mails = mails_to(&srv, "lin@example.com", 2).await;
    assert!(mails[1].contains("重置您的 Souk 密码"), "the email speaks the account's language: {}", mails[1]);
    let token = link_token(&mails[1], "/reset-password");
    b.goto(&format!("{}/reset-password?token={token}", srv.base)).await;
    b.screenshot("account-reset-new-zh").await;
    b.navigate_by(
        "{ const f = document.querySelector('form.reset'); f.password.value = 'a brand new secret';
           f.querySelector('button').click() }",
    )
    .await;
    assert!(b.text().await.contains("密码已修改"), "{}", b.text().await);
    b.navigate_by(
        "document.querySelector('input[name=email]').value = 'lin@example.com';
         document.querySelector('input[name=password]').value = 'a brand new secret';
         document.querySelector('main form').submit()",
    )
    .await;
    assert!(b.text().await.contains("Lin Mei"), "signed in with the new password");
    // The link worked once.
    b.goto(&format!("{}/reset-password?token={token}", srv.base)).await;
    assert!(b.text().await.contains("此链接已使用或已过期"), "{}", b.text().await);

    // Two-step sign-in: the QR code drawn by the server, a wrong first code said beside its
    // input, the recovery codes shown once.
    b.goto(&format!("{}/account", srv.base)).await;
    b.navigate_by("document.querySelector('form[action=\"/account/two-factor/start\"] button').click()").await;
    assert_eq!(b.eval("location.pathname").await, "/account/two-factor");
    assert_eq!(b.eval("!!document.querySelector('figure.qr svg')").await, true, "the QR code is drawn");
    b.screenshot("account-two-factor-zh").await;
    let secret = b.eval("document.querySelector('code.secret').textContent.replaceAll(' ', '')").await;
    let secret = secret.as_str().unwrap().to_string();
    b.navigate_by("{ const f = document.querySelector('form.enrol'); f.code.value = '000000'; f.querySelector('button').click() }").await;
    assert!(b.text().await.contains("验证码错误"), "{}", b.text().await);
    let code = souk_app::two_factor::code_at(&secret, srv.store.now_ms()).unwrap();
    b.navigate_by(&format!(
        "{{ const f = document.querySelector('form.enrol'); f.code.value = '{code}'; f.querySelector('button').click() }}"
    ))
    .await;
    let recovery = b.eval("[...document.querySelectorAll('ul.recovery-codes code')].map(c => c.textContent)").await;
    assert_eq!(recovery.as_array().unwrap().len(), 10, "{recovery}");
    b.screenshot("account-recovery-codes-zh").await;
    b.call("Emulation.setDeviceMetricsOverride", serde_json::from_str(PHONE).unwrap()).await;
    b.screenshot("account-recovery-codes-zh-phone").await;
    b.call("Emulation.clearDeviceMetricsOverride", json!({})).await;
    // Sent again, the form does not show the codes a second time.
    b.navigate_by("history.back()").await;
    b.goto(&format!("{}/account", srv.base)).await;
    assert!(b.text().await.contains("10 个恢复码可用"), "{}", b.text().await);

    // Signing in again asks for the code; a used code is refused, the next one lets in.
    b.navigate_by("document.querySelector('form[action=\"/logout\"] button').click()").await;
    b.goto(&format!("{}/login", srv.base)).await;
    b.navigate_by(
        "document.querySelector('input[name=email]').value = 'lin@example.com';
         document.querySelector('input[name=password]').value = 'a brand new secret';
         document.querySelector('main form').submit()",
    )
    .await;
    assert!(b.eval("!!document.querySelector('form.second-step')").await.as_bool().unwrap(), "{}", b.text().await);
    b.screenshot("account-second-step-zh").await;
    b.navigate_by(&format!(
        "{{ const f = document.querySelector('form.second-step'); f.code.value = '{code}'; f.querySelector('button').click() }}"
    ))
    .await;
    assert!(b.text().await.contains("验证码错误"), "a code signs in once: {}", b.text().await);
    srv.clock.advance_ms(30_000);
    let next = souk_app::two_factor::code_at(&secret, srv.store.now_ms()).unwrap();
    b.navigate_by(&format!(
        "{{ const f = document.querySelector('form.second-step'); f.code.value = '{next}'; f.querySelector('button').click() }}"
    ))
    .await;
    assert!(b.text().await.contains("Lin Mei"), "signed in with the second step: {}", b.text().await);
    assert!(b.errors.is_empty(), "browser console errors: {:?}", b.errors);
}
