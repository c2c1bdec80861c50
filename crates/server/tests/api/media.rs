//! Image uploads over HTTP: recognised by their bytes, cleaned of metadata, served back under
//! their hash with a thumbnail, usable in listings and disputes; kept in the data directory, or
//! in an S3 bucket (moto's S3 server) that two server processes share.

use crate::{product_body, Srv};
use reqwest::StatusCode;
use serde_json::json;
use souk_store::testing::TestBackend;

/// A JPEG as a phone writes it: an EXIF block (orientation, and a camera's maker) before the
/// pixels.
pub(crate) fn phone_photo(shade: u8) -> Vec<u8> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new(&mut out);
    let mut exif = b"II\x2a\0\x08\0\0\0\x02\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0".to_vec();
    exif.extend_from_slice(b"\x0f\x01\x02\0\x08\0\0\0\x26\0\0\0\0\0\0\0PhoneCo\0");
    encoder.set_exif_metadata(exif).unwrap();
    encoder.write_image(&vec![shade; 40 * 30 * 3], 40, 30, image::ExtendedColorType::Rgb8).unwrap();
    out
}

async fn upload(
    srv: &Srv,
    base: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
    key: &str,
) -> crate::Res {
    let mut req = srv
        .http
        .post(format!("{base}/api/v1/uploads"))
        .header("content-type", content_type)
        .header("idempotency-key", key)
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    Srv::read(req.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_cleaned_served_and_used() {
    let Some(srv) = Srv::start(TestBackend::Sqlite).await else { return };
    let (seller, _) = srv.seller("maker@example.com", "maker").await;
    let photo = phone_photo(120);
    assert!(photo.windows(7).any(|w| w == b"PhoneCo"), "the fixture carries camera data");

    let up = upload(&srv, &srv.base, Some(&seller), "image/jpeg", photo.clone(), "up-1").await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.body);
    let url = up.body["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("/media/") && url.ends_with(".jpg"), "{url}");
    assert_eq!((up.body["width"].as_u64(), up.body["height"].as_u64()), (Some(30), Some(40)), "turned upright");
    let served = srv.http.get(format!("{}{url}", srv.base)).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    assert!(served.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    let bytes = served.bytes().await.unwrap();
    assert!(!bytes.windows(7).any(|w| w == b"PhoneCo") && !bytes.windows(4).any(|w| w == b"Exif"), "no metadata");
    let thumb =
        srv.http.get(format!("{}{}", srv.base, up.body["thumbnail_url"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(thumb.status(), StatusCode::OK);
    // The same picture again is the same link.
    let again = upload(&srv, &srv.base, Some(&seller), "image/jpeg", photo, "up-2").await;
    assert_eq!(again.body["url"], url.as_str());

    // Refusals: not an image, an image type but not an image, too large, nobody signed in.
    let text = upload(&srv, &srv.base, Some(&seller), "text/plain", b"hello".to_vec(), "up-3").await;
    assert_eq!((text.status, text.code()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
    let fake = upload(&srv, &srv.base, Some(&seller), "image/png", b"GIF89a not a png".to_vec(), "up-4").await;
    assert_eq!(
        (fake.status, fake.code(), fake.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unsupported_image", "file")
    );
    let huge = upload(&srv, &srv.base, Some(&seller), "image/jpeg", vec![0xff; 11 * 1024 * 1024], "up-5").await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
    let anonymous = upload(&srv, &srv.base, None, "image/jpeg", phone_photo(1), "up-6").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    for bad in ["/media/nothing.jpg", &format!("{}.gif", url.trim_end_matches(".jpg")), "/media/thumbs/../x.jpg"] {
        let r = srv.http.get(format!("{}{bad}", srv.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
    }

    // The pages upload with the session and the form's CSRF token, and hear refusals in their
    // language.
    let csrf = "media-csrf-token-0123456789abcde";
    let page_upload = |token: &'static str, body: Vec<u8>, lang: &'static str| {
        srv.http
            .post(format!("{}/uploads", srv.base))
            .header("cookie", format!("souk_session={seller}; souk_csrf={csrf}; souk_lang={lang}"))
            .header("x-csrf-token", token)
            .header("content-type", "image/jpeg")
            .body(body)
            .send()
    };
    let from_page = Srv::read(page_upload(csrf, phone_photo(9), "en").await.unwrap()).await;
    assert_eq!(from_page.status, StatusCode::CREATED, "{}", from_page.body);
    let forged = Srv::read(page_upload("another-token-0123456789abcdefgh", phone_photo(9), "en").await.unwrap()).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let refused = Srv::read(page_upload(csrf, b"not a picture".to_vec(), "zh").await.unwrap()).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!refused.body["error"]["message"].as_str().unwrap().is_ascii(), "in Chinese: {}", refused.body);

    // The link goes into a listing, where the product page shows it.
    let mut body = product_body("Glazed bowl");
    body["images"] = json!([url, "https://img.example.com/bowl.jpg"]);
    let p = srv.post("/api/v1/products", Some(&seller), body).await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    assert_eq!(p.body["images"][0], url.as_str());
    let page = srv.http.get(format!("{}/products/{}", srv.base, p.body["id"].as_str().unwrap())).send().await.unwrap();
    assert!(page.text().await.unwrap().contains(&format!("src=\"{url}\"")));
    let mut forged = product_body("Forged link");
    forged["skus"][0]["sku"] = json!("FORGED-1");
    forged["images"] = json!(["/media/../../etc/passwd"]);
    assert_eq!(srv.post("/api/v1/products", Some(&seller), forged).await.field(), "images[0]");
}

/// Starts moto's S3 server on a free port with a bucket, or says the test is skipped.
fn moto() -> Option<(std::process::Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let child = std::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(child) = child else {
        eprintln!("skipped: moto_server not installed (pip install 'moto[server]')");
        return None;
    };
    Some((child, format!("http://127.0.0.1:{port}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_uploads_in_an_s3_bucket() {
    let Some((mut moto, endpoint)) = moto() else { return };
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    // The bucket, made as any S3 client would (moto takes any credentials).
    loop {
        if let Ok(r) = http.put(format!("{endpoint}/souk-media")).send().await {
            assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "moto did not start");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let bucket = souk_app::media::S3Media {
        bucket: "souk-media".into(),
        endpoint: Some(endpoint.clone()),
        region: Some("us-east-1".into()),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
        allow_http: true,
    };
    let shared = bucket.clone();
    let Some(srv) = Srv::start_with(TestBackend::Sqlite, move |c| c.media_s3 = Some(shared)).await else {
        let _ = moto.kill();
        return;
    };
    let peer = srv.peer_with("second", move |c| c.media_s3 = Some(bucket)).await;
    let (token, _) = srv.register("shop@example.com").await;
    let up = upload(&srv, &srv.base, Some(&token), "image/jpeg", phone_photo(200), "s3-1").await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.body);
    let url = up.body["url"].as_str().unwrap();
    let name = url.trim_start_matches("/media/");
    // In the bucket, not on this process's disk; and the other process serves it.
    // moto lists what it holds (objects are private to unsigned requests).
    let held = http.get(format!("{endpoint}/moto-api/data.json")).send().await.unwrap().text().await.unwrap();
    assert!(held.contains(name) && held.contains("souk-media"), "the bucket holds it: {held}");
    assert!(!srv.data_dir.join("media").join(name).exists());
    let from_peer = http.get(format!("{}{url}", peer.srv_base)).send().await.unwrap();
    assert_eq!(
        (from_peer.status(), from_peer.headers()["content-type"].to_str().unwrap()),
        (StatusCode::OK, "image/jpeg")
    );
    let _ = moto.kill();
    let _ = moto.wait();
}
