//! A real browser on another origin: headless Chromium, driven through
//! ChromeDriver (WebDriver over HTTP), loads a portal page that reads a
//! backup profile's `ETag` and replaces the profile with `If-Match`. CORS
//! is what lets it, for the configured origin only.
//!
//! Without Chromium and ChromeDriver (`apt-get install chromium
//! chromium-driver`) the test says SKIPPED, as PostgreSQL tests do; in CI
//! (`CI` set, as `.ci/run` sets it, and installs them) it fails instead.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use custodian_api::testing::{Backend, TestServer};
use rstest::rstest;
use serde_json::{Value, json};

use crate::support::{owner_token, seed};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether the browser is here; SKIPPED (or, in CI, a failure) otherwise.
fn browser_available() -> bool {
    let found =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !found {
        assert!(
            !in_ci(),
            "CI must test in a browser: install chromium and chromium-driver"
        );
        eprintln!(
            "SKIPPED: browser test, because {CHROMIUM} or {CHROMEDRIVER} is missing \
             (apt-get install chromium chromium-driver)"
        );
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// ChromeDriver on a port of its own; killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Self {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if reqwest::get(format!("{}/status", driver.url)).await.is_ok() {
                return driver;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer");
    }

    /// Opens `page` in a new headless session and waits until its script
    /// sets the title to something that starts with "done" or "error".
    async fn title_of(&self, page: &str) -> String {
        let http = reqwest::Client::new();
        let profile = tempfile::tempdir().unwrap();
        let session: Value = http
            .post(format!("{}/session", self.url))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run",
                        format!("--user-data-dir={}", profile.path().display()),
                    ],
                },
            }}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}"))
            .to_owned();
        let base = format!("{}/session/{id}", self.url);
        http.post(format!("{base}/url"))
            .json(&json!({"url": page}))
            .send()
            .await
            .unwrap();
        let mut title = String::new();
        for _ in 0..100 {
            let answer: Value = http
                .get(format!("{base}/title"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            title = answer["value"].as_str().unwrap_or_default().to_owned();
            if title.starts_with("done") || title.starts_with("error") {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = http.delete(&base).send().await;
        title
    }
}

/// The portal page: reads the profile and its ETag, then replaces the
/// profile against that version, all from its own origin.
fn portal_page(api: &str, token: &str, company: &str) -> String {
    format!(
        r#"<!doctype html><title>loading</title><script>
const url = "{api}/v1/companies/{company}/backup-profile";
const auth = {{ authorization: "Bearer {token}" }};
(async () => {{
  const read = await fetch(url, {{ headers: auth }});
  const etag = read.headers.get("etag");
  const profile = await read.json();
  const write = await fetch(url, {{
    method: "PUT",
    headers: {{ ...auth, "content-type": "application/json", "if-match": etag }},
    body: JSON.stringify({{ backup_all_company_items: profile.backup_all_company_items, retention_days: 45 }}),
  }});
  const changed = await write.json();
  const stale = await fetch(url, {{
    method: "PUT",
    headers: {{ ...auth, "content-type": "application/json", "if-match": etag }},
    body: JSON.stringify({{ backup_all_company_items: false, retention_days: 46 }}),
  }});
  document.title = ["done", read.status, etag, write.status, changed.retention_days,
    write.headers.get("etag") !== etag, stale.status,
    write.headers.get("x-request-id") ? "request-id" : "no-request-id"].join(" ");
}})().catch(error => {{ document.title = "error " + error; }});
</script>"#
    )
}

/// Serves `page` at `/` on `listener`: another origin than the API's.
fn serve_page(listener: TcpListener, page: String) -> actix_web::dev::ServerHandle {
    let server = HttpServer::new(move || {
        let page = page.clone();
        App::new().route(
            "/",
            web::get().to(move || {
                let page = page.clone();
                async move { HttpResponse::Ok().content_type("text/html").body(page) }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    handle
}

fn origin_of(listener: &TcpListener) -> String {
    format!("http://{}", listener.local_addr().unwrap())
}

#[rstest]
#[actix_web::test]
async fn a_portal_on_another_origin_reads_and_updates_a_profile(
    #[values(Backend::Sqlite)] backend: Backend,
) {
    if !browser_available() {
        return;
    }
    // The portal's origin must be known before the API starts: bind first.
    let portal = TcpListener::bind("127.0.0.1:0").unwrap();
    let portal_origin = origin_of(&portal);
    let allowed = portal_origin.clone();
    let Some(server) = TestServer::spawn_with(backend, move |config| {
        config.cors_origins = vec![allowed];
    })
    .await
    else {
        return;
    };
    let token = owner_token(&server).await;
    let company = seed::company(&server, &server.owner.partner_id, "Acme Dental").await;
    let page = portal_page(&server.base_url, &token, &company);
    let driver = Driver::start().await;

    // The configured origin: the browser lets the page read and write.
    let portal_handle = serve_page(portal, page.clone());
    let title = driver.title_of(&format!("{portal_origin}/")).await;
    let parts: Vec<&str> = title.split(' ').collect();
    assert_eq!(parts.first(), Some(&"done"), "{title}");
    assert_eq!(parts[1], "200", "read: {title}");
    assert!(parts[2].starts_with('"'), "the page read the ETag: {title}");
    assert_eq!(
        (parts[3], parts[4], parts[5]),
        ("200", "45", "true"),
        "{title}"
    );
    assert_eq!(parts[6], "412", "the stale version is refused: {title}");
    assert_eq!(parts[7], "request-id", "{title}");

    // Another origin: the browser keeps the answers from the page.
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let other_origin = origin_of(&other);
    let other_handle = serve_page(other, page);
    let title = driver.title_of(&format!("{other_origin}/")).await;
    assert!(title.starts_with("error"), "{title}");
    portal_handle.stop(false).await;
    other_handle.stop(false).await;
}
