//! The binary as an operator uses it: configuration, admin commands, import, seed, and `serve
//! --demo` with a graceful stop.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn souk(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_souk"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("SOUK_DATABASE_URL")
        .env_remove("SOUK_LISTEN")
        .output()
        .expect("run souk")
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    // One JSON document: either all of stdout, or its last line after other output.
    serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(text.lines().last().unwrap_or("")))
        .unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn config_merges_sources_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("souk.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:9999\"\nrequest_timeout_s = 12\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_souk"))
        .args(["--config", file.to_str().unwrap(), "config"])
        .env("SOUK_DATABASE_URL", "postgres://souk:hunter2@db.internal/souk")
        .env("SOUK_REQUEST_TIMEOUT_S", "7")
        .output()
        .unwrap();
    let c = stdout_json(&out);
    assert_eq!(c["listen"], "127.0.0.1:9999", "from the file");
    assert_eq!(c["request_timeout_s"], 7, "the environment wins over the file");
    assert_eq!(c["database_url"], "postgres://souk:***@db.internal/souk");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hunter2"));
    let bad =
        Command::new(env!("CARGO_BIN_EXE_souk")).args(["--database-url", "mysql://x", "config"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn operator_commands_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "a long enough password\n").unwrap();
    assert!(souk(&data, &["migrate"]).status.success());
    let user = stdout_json(&souk(
        &data,
        &["admin", "create-user", "--email", "Op@Example.com", "--password-file", pw.to_str().unwrap()],
    ));
    assert!(user["id"].as_str().unwrap().starts_with("usr_"));
    let dup =
        souk(&data, &["admin", "create-user", "--email", "op@example.com", "--password-file", pw.to_str().unwrap()]);
    assert!(!dup.status.success());
    assert_eq!(stdout_json(&souk(&data, &["admin", "grant", "op@example.com", "admin"]))["granted"], "admin");
    assert!(!souk(&data, &["admin", "grant", "op@example.com", "emperor"]).status.success());
    let create_store = |slug: &str, country: &str| {
        let args = ["admin", "create-store", "--owner", "op@example.com", "--name", "Op Shop", "--slug", slug];
        souk(&data, &[&args[..], &["--country", country, "--currency", "EUR"]].concat())
    };
    let store = stdout_json(&create_store("op-shop", "DE"));
    assert_eq!(store["slug"], "op-shop");
    let bad_store = create_store("x-shop", "ZZ");
    assert!(String::from_utf8_lossy(&bad_store.stderr).contains("country"));

    let csv = dir.path().join("products.csv");
    std::fs::write(&csv, "title,description,category,price,currency,stock,ships_to,sku\nLamp,Warm light,home/decor,24.50,EUR,3,*,L-1\nBad,,,-1,EUR,1,DE,B-1\n").unwrap();
    let out = souk(&data, &["import", "products", "--store", "op-shop", csv.to_str().unwrap()]);
    let report = stdout_json(&out);
    assert_eq!((report["created"].as_u64(), report["failed"].as_u64()), (Some(1), Some(1)));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 3"));
    let rerun = stdout_json(&souk(&data, &["import", "products", "--store", "op-shop", csv.to_str().unwrap()]));
    assert_eq!((rerun["created"].as_u64(), rerun["updated"].as_u64()), (Some(0), Some(1)));
    assert!(!souk(&data, &["import", "products", "--store", "nope", csv.to_str().unwrap()]).status.success());

    let seeded = souk(&data, &["seed", "--products", "1500"]);
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let said = String::from_utf8_lossy(&seeded.stderr);
    assert!(said.contains("seeded 1500 products"), "{said}");
    assert!(said.contains("indexed 1501 active products"), "seeded and imported products are searchable: {said}");
}

#[test]
fn serve_demo_answers_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_souk"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0", "serve", "--demo"])
        .env_remove("SOUK_DATABASE_URL")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let started = Instant::now();
    let mut addr = None;
    let mut printed = String::new();
    while addr.is_none() && started.elapsed() < Duration::from_secs(120) {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        printed.push_str(&line);
        addr = line.split("serving http://").nth(1).and_then(|rest| rest.split_whitespace().next()).map(str::to_string);
    }
    let addr = addr.unwrap_or_else(|| panic!("no address printed: {printed}"));
    assert!(printed.contains("buyer@demo.souk") && printed.contains("admin@demo.souk"), "{printed}");

    let get = |path: &str| -> String {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(get("/healthz").starts_with("HTTP/1.1 200"));
    let stores = get("/api/v1/stores?limit=100");
    assert!(stores.contains("demo-seller") && stores.contains("\"country\":\"JP\""), "{stores}");
    let products = get("/api/v1/stores/demo-seller/products?limit=100");
    assert!(products.contains("\"currency\":\"CNY\""));
    assert!(products.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "some titles are Chinese");

    let found = get("/api/v1/search?q=tea&limit=5");
    assert!(found.contains("\"total\":") && !found.contains("\"total\":0"), "the demo is searchable: {found}");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(code) = child.try_wait().unwrap() {
            break code;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "graceful stop exits 0");
}
