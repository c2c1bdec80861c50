//! A small Chrome DevTools Protocol client for browser tests: headless Chromium (Debian's
//! `chromium`) driven over its debugging WebSocket. It navigates, runs JavaScript, takes
//! screenshots, and collects every console error and uncaught exception the page produces.

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Browser {
    child: Child,
    socket: Socket,
    next_id: u64,
    /// Console errors, uncaught exceptions and failed loads seen so far.
    pub errors: Vec<String>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Chromium binary, if this machine has one (`SOUK_CHROMIUM` overrides the path).
pub fn chromium() -> Option<String> {
    let path = std::env::var("SOUK_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    std::path::Path::new(&path).exists().then_some(path)
}

impl Browser {
    pub async fn launch(binary: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1280,900",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let browser_ws = loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "chromium exited before listening");
            if let Some(url) = line.trim().strip_prefix("DevTools listening on ") {
                break url.to_string();
            }
        };
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        let port = browser_ws.split(':').nth(2).and_then(|p| p.split('/').next()).unwrap().to_string();
        let targets: Value =
            reqwest::get(format!("http://127.0.0.1:{port}/json/list")).await.unwrap().json().await.unwrap();
        let page = targets.as_array().unwrap().iter().find(|t| t["type"] == "page").expect("a page target");
        let (socket, _) =
            tokio_tungstenite::connect_async(page["webSocketDebuggerUrl"].as_str().unwrap()).await.unwrap();
        let mut b = Browser { child, socket, next_id: 0, errors: Vec::new(), _profile: profile };
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            b.call(domain, json!({})).await;
        }
        b
    }

    fn note(&mut self, event: &Value) {
        let p = &event["params"];
        match event["method"].as_str() {
            Some("Runtime.consoleAPICalled") if p["type"] == "error" => {
                self.errors.push(format!("console.error: {}", p["args"]));
            }
            Some("Runtime.exceptionThrown") => self.errors.push(format!("exception: {}", p["exceptionDetails"])),
            Some("Log.entryAdded") if p["entry"]["level"] == "error" => {
                self.errors.push(format!("{}: {}", p["entry"]["source"], p["entry"]["text"]));
            }
            _ => {}
        }
    }

    /// Reads messages until one satisfies `done`, noting events on the way; 20 s at most.
    async fn until(&mut self, mut done: impl FnMut(&Value) -> bool) -> Value {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
                .await
                .expect("chromium answered in time")
                .expect("the socket is open")
                .expect("a message");
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(&text).unwrap();
            self.note(&v);
            if done(&v) {
                return v;
            }
        }
    }

    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket.send(Message::Text(msg.into())).await.unwrap();
        let reply = self.until(|v| v["id"] == id).await;
        assert!(reply["error"].is_null(), "{method}: {}", reply["error"]);
        reply["result"].clone()
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        self.until(|v| v["method"] == "Page.loadEventFired").await;
    }

    /// Runs `js` in the page and returns its value.
    pub async fn eval(&mut self, js: &str) -> Value {
        let r =
            self.call("Runtime.evaluate", json!({"expression": js, "returnByValue": true, "awaitPromise": true})).await;
        assert!(r["exceptionDetails"].is_null(), "{js}: {}", r["exceptionDetails"]);
        r["result"]["value"].clone()
    }

    /// Runs `js` that makes the page navigate (a click, a submit) and waits for the new page.
    pub async fn navigate_by(&mut self, js: &str) {
        self.eval(js).await;
        self.until(|v| v["method"] == "Page.loadEventFired").await;
    }

    /// Waits (10 s at most) until `js` is true in the page, without reloading it.
    pub async fn wait_for(&mut self, js: &str) {
        let started = std::time::Instant::now();
        while self.eval(js).await != Value::Bool(true) {
            assert!(started.elapsed() < Duration::from_secs(10), "never true: {js}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn text(&mut self) -> String {
        self.eval("document.body.innerText").await.as_str().unwrap_or("").to_string()
    }

    /// Saves a PNG of the viewport under `target/browser-artifacts/`.
    pub async fn screenshot(&mut self, name: &str) -> std::path::PathBuf {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"})).await;
        let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}
