//! What the OpenID sign-in tests start: the test provider (`tests/oidc/provider.js`, npm's
//! oidc-provider under Node, on a free loopback port, killed when dropped), the web
//! interface on a real port configured for it, and a small client that acts as a browser
//! does: it follows redirects and keeps cookies (by name, for both loopback servers).
//!
//! The provider's packages are installed once per `package-lock.json` with `npm ci
//! --ignore-scripts` into `${XDG_CACHE_HOME:-~/.cache}/docflow/oidc-node_modules/<hash of
//! the lock>`, outside the repository; a new lock installs into a new folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::AsyncBufReadExt;

use crate::evaluator::EvaluatorState;
use crate::evaluator::tests::{Target, settings};
use crate::storage::Store;
use crate::web::{WebState, routes};

/// The client the provider script registers.
pub const CLIENT_ID: &str = "docflow";
pub const CLIENT_SECRET: &str = "docflow-test-secret";
pub const PROVIDER_NAME: &str = "the test provider";

fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/oidc")
}

/// The provider's `node_modules`, installed when its lock is new.
fn node_modules() -> PathBuf {
    static INSTALLED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(install).clone()
}

fn install() -> PathBuf {
    let source = provider_dir();
    let lock = std::fs::read(source.join("package-lock.json")).expect("tests/oidc/package-lock.json");
    let hash = hex::encode(&Sha256::digest(&lock)[..8]);
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME")
        .join("docflow/oidc-node_modules");
    let dir = cache.join(&hash);
    if dir.join("node_modules/oidc-provider/package.json").exists() {
        return dir.join("node_modules");
    }
    // Installed beside, then renamed: another test process installing at once loses the
    // rename and uses the winner's folder.
    let staging = cache.join(format!("{hash}.{}.{}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&staging).unwrap();
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), staging.join(file)).unwrap();
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&staging)
        .status()
        .expect("npm (Node.js and npm are needed: apt-get install -y nodejs npm)");
    assert!(status.success(), "npm ci in {}", staging.display());
    if std::fs::rename(&staging, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    dir.join("node_modules")
}

/// The running provider; killed when dropped.
pub struct Op {
    pub issuer: String,
    child: tokio::process::Child,
    /// Kept open: the provider may write more.
    _stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

/// Starts the provider for a docflow at `base`; `tamper` spoils its ID tokens
/// (`aud`, `exp`, `nonce`, `sig`: see the script).
pub async fn provider(base: &str, tamper: Option<&str>) -> Op {
    match tamper {
        Some(tamper) => provider_with(base, &["--tamper", tamper]).await,
        None => provider_with(base, &[]).await,
    }
}

impl Op {
    /// Stops the provider and starts it again on the same port: the same issuer, with
    /// new signing keys and no session.
    pub async fn restart(&mut self, base: &str) {
        self.child.kill().await.unwrap();
        let port = self.issuer.rsplit(':').next().unwrap().to_owned();
        *self = provider_with(base, &["--port", &port]).await;
        assert!(self.issuer.ends_with(&format!(":{port}")));
    }
}

/// The provider for a docflow at `base`, with the script's options `args`.
async fn provider_with(base: &str, args: &[&str]) -> Op {
    let mut command = tokio::process::Command::new("node");
    command
        .arg(provider_dir().join("provider.js"))
        .args(["--redirect", &format!("{base}/ui/oidc/callback"), "--post-logout", &format!("{base}/ui/sign-in")])
        .env("DOCFLOW_OIDC_MODULES", node_modules())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .args(args);
    let mut child = command.spawn().expect("node (Node.js 20 or later)");
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the provider starts within 30 s")
        .unwrap()
        .expect("the provider prints its issuer");
    let issuer = serde_json::from_str::<serde_json::Value>(&line).unwrap()["issuer"].as_str().unwrap().to_owned();
    Op { issuer, child, _stdout: lines }
}

/// The web interface on a port of its own, over `t`'s database, with `[oidc]` set for
/// the test provider (started here: `tamper` as in [`provider`]).
pub struct Docflow {
    pub base: String,
    pub op: Op,
    pub web: WebState,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Docflow {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub async fn docflow(t: &Target, tamper: Option<&str>) -> Docflow {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let op = provider(&base, tamper).await;
    let settings = Arc::new(settings(&[
        ("DOCFLOW__GATEWAY__PUBLIC_URL", &base),
        ("DOCFLOW__OIDC__ISSUER", &op.issuer),
        ("DOCFLOW__OIDC__CLIENT_ID", CLIENT_ID),
        ("DOCFLOW__OIDC__CLIENT_SECRET", CLIENT_SECRET),
        ("DOCFLOW__OIDC__SCOPES", "openid,profile,email,groups"),
        ("DOCFLOW__OIDC__EVALUATOR_VALUES", "docflow-evaluators"),
        ("DOCFLOW__OIDC__UPLOADER_VALUES", "docflow-teachers"),
        ("DOCFLOW__OIDC__PROVIDER_NAME", PROVIDER_NAME),
    ]));
    let store = Store::new(&settings.s3).unwrap();
    let mut web = WebState::new(EvaluatorState::new(settings.clone(), t.db.clone(), store));
    // A key rotation is seen at the next sign-in, not a minute later.
    let provider = crate::web::oidc_client::Provider::new(&settings.oidc, &base).unwrap();
    web.oidc = Some(Arc::new(provider.with_rediscover_after(Duration::ZERO)));
    let app = routes(web.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    Docflow { base, op, web, server }
}

/// An answer, with where it came from.
#[derive(Debug)]
pub struct Answer {
    pub url: String,
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

/// Cookies by name (both servers are 127.0.0.1, and a browser keeps a host's cookies
/// whatever the port); redirects followed by hand, so a test can stop at one.
#[derive(Default)]
pub struct Browser {
    http: reqwest::Client,
    pub jar: Mutex<BTreeMap<String, String>>,
}

impl Browser {
    pub fn new() -> Browser {
        Browser::speaking("en")
    }

    /// A browser that asks for pages in `language` (its `Accept-Language`).
    pub fn speaking(language: &str) -> Browser {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::ACCEPT_LANGUAGE, language.parse().unwrap());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap();
        Browser { http, jar: Mutex::default() }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let cookies = self.jar.lock().unwrap().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let request = if cookies.is_empty() { request } else { request.header(reqwest::header::COOKIE, cookies) };
        let response = request.send().await.expect("an answer");
        let url = response.url().to_string();
        for set in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let gone = attributes.to_ascii_lowercase().contains("max-age=0") || attributes.contains("1970");
            let mut jar = self.jar.lock().unwrap();
            if gone || value.is_empty() {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        let status = response.status();
        let location = response.headers().get(reqwest::header::LOCATION).map(|l| l.to_str().unwrap().to_owned());
        let location = location.map(|l| reqwest::Url::parse(&url).unwrap().join(&l).unwrap().to_string());
        Answer { url, status, location, body: response.text().await.unwrap() }
    }

    pub async fn get(&self, url: &str) -> Answer {
        self.send(self.http.get(url)).await
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Answer {
        let encode = |v: &str| percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string();
        let body = form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&");
        let request =
            self.http.post(url).header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body);
        self.send(request).await
    }

    /// Follows redirects from `answer` until one does not redirect, or until `stop`
    /// says of a redirect's target that the test takes it from there.
    pub async fn follow(&self, mut answer: Answer, stop: impl Fn(&str) -> bool) -> Answer {
        for _ in 0..20 {
            match &answer.location {
                Some(next) if answer.status.is_redirection() && !stop(next) => answer = self.get(&next.clone()).await,
                _ => return answer,
            }
        }
        panic!("more than 20 redirects: {answer:?}")
    }
}

/// The value of the first `name="value"` attribute after `marker` in `body`.
pub fn attribute(body: &str, marker: &str, name: &str) -> String {
    let at = body.find(marker).unwrap_or_else(|| panic!("{marker} in {body}"));
    let rest = &body[at..];
    let start = rest.find(&format!("{name}=\"")).unwrap_or_else(|| panic!("{name} after {marker}")) + name.len() + 2;
    rest[start..].split('"').next().unwrap().replace("&amp;", "&")
}

/// The target of a page's `<meta http-equiv="refresh">`.
pub fn refresh(body: &str) -> String {
    let content = attribute(body, "http-equiv=\"refresh\"", "content");
    content.split_once("url=").map(|(_, url)| url.to_owned()).expect("a refresh with a url")
}

impl Docflow {
    /// From the sign-in page's button to the provider's login page, signed in there as
    /// `login`, back to docflow's callback: its answer (the redirects followed).
    pub async fn through_provider(&self, browser: &Browser, login: &str) -> Answer {
        let page = browser.get(&format!("{}/ui/sign-in", self.base)).await;
        assert!(page.body.contains(PROVIDER_NAME) && page.body.contains("id=\"oidc-sign-in\""), "{}", page.body);
        let href = attribute(&page.body, "id=\"oidc-sign-in\"", "href");
        let login_page = browser.follow(browser.get(&format!("{}{href}", self.base)).await, |_| false).await;
        assert!(login_page.url.starts_with(&self.op.issuer), "at the provider: {login_page:?}");
        let action = attribute(&login_page.body, "<form", "action");
        let form = [("prompt", "login"), ("login", login), ("password", "any")];
        let action = if action.starts_with("http") { action } else { format!("{}{action}", self.op.issuer) };
        let signed = browser.post(&action, &form).await;
        browser.follow(signed, |_| false).await
    }

    /// [`Docflow::through_provider`], then on through the callback's page to the list.
    pub async fn sign_in(&self, browser: &Browser, login: &str) -> Answer {
        let callback = self.through_provider(browser, login).await;
        assert_eq!(callback.status, StatusCode::OK, "{callback:?}");
        assert!(callback.url.starts_with(&format!("{}/ui/oidc/callback", self.base)), "{callback:?}");
        let finish = browser.get(&format!("{}{}", self.base, refresh(&callback.body))).await;
        assert_eq!(finish.status, StatusCode::SEE_OTHER, "{finish:?}");
        browser.follow(finish, |_| false).await
    }
}
