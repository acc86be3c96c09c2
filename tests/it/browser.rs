//! A real headless Chromium driven over WebDriver (Debian's chromium and
//! chromium-driver). Missing browser = a loud failure, never a skip.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tempfile::TempDir;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    _profile: TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// A fresh browser (own profile, so own cookies) with a desktop-sized window.
    pub fn new() -> Browser {
        Self::with_size(1280, 900)
    }

    /// A browser with JavaScript turned off.
    pub fn without_javascript() -> Browser {
        Self::launch(1280, 900, &["--blink-settings=scriptEnabled=false"])
    }

    pub fn with_size(width: u32, height: u32) -> Browser {
        Self::launch(width, height, &[])
    }

    fn launch(width: u32, height: u32, extra: &[&str]) -> Browser {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: the browser tests need Debian's chromium and chromium-driver \
                 (apt-get install -y chromium chromium-driver)"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--disable-extensions",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(format!("--window-size={width},{height}"));
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let caps = json!({ "goog:chromeOptions": { "binary": CHROMIUM, "args": args } });
        let caps = match caps {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        let client = loop {
            let attempt = rt.block_on(
                ClientBuilder::new(connector.clone())
                    .capabilities(caps.clone())
                    .connect(&url),
            );
            match attempt {
                Ok(c) => break c,
                Err(e) if start.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("could not start a Chromium session: {e}"),
            }
        };
        let browser = Browser {
            rt,
            client: Some(client),
            driver,
            _profile: profile,
        };
        // The viewport, not the window, is what a phone has.
        browser.set_viewport(width, height);
        browser
    }

    fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    /// Resizes so that the page's viewport is exactly `width` × `height`.
    pub fn set_viewport(&self, width: u32, height: u32) {
        self.rt
            .block_on(self.c().set_window_size(width, height))
            .unwrap();
        let inner = self.js("return [window.innerWidth, window.innerHeight]", vec![]);
        let iw = inner[0].as_u64().unwrap_or(width as u64) as u32;
        let ih = inner[1].as_u64().unwrap_or(height as u64) as u32;
        let (dw, dh) = (width.saturating_sub(iw), height.saturating_sub(ih));
        if dw > 0 || dh > 0 {
            self.rt
                .block_on(self.c().set_window_size(width + dw, height + dh))
                .unwrap();
        }
    }

    pub fn goto(&self, url: &str) {
        self.rt
            .block_on(self.c().goto(url))
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    pub fn url(&self) -> String {
        self.rt
            .block_on(self.c().current_url())
            .unwrap()
            .to_string()
    }

    pub fn find(&self, css: &str) -> Element {
        let start = Instant::now();
        loop {
            match self.rt.block_on(self.c().find(Locator::Css(css))) {
                Ok(e) => return e,
                Err(_) if start.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("no element {css} on {}: {e}", self.url()),
            }
        }
    }

    pub fn find_all(&self, css: &str) -> Vec<Element> {
        self.rt
            .block_on(self.c().find_all(Locator::Css(css)))
            .unwrap()
    }

    pub fn exists(&self, css: &str) -> bool {
        !self.find_all(css).is_empty()
    }

    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.rt
            .block_on(e.click())
            .unwrap_or_else(|err| panic!("click {css}: {err}"));
    }

    pub fn fill(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.rt.block_on(e.clear()).unwrap();
        self.rt.block_on(e.send_keys(text)).unwrap();
    }

    /// Sends keys (WebDriver key codes allowed, e.g. "\u{E004}" for Tab) to an element.
    pub fn send_keys(&self, element: &Element, keys: &str) {
        self.rt.block_on(element.send_keys(keys)).unwrap();
    }

    pub fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.rt.block_on(e.text()).unwrap()
    }

    pub fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.rt
            .block_on(self.c().execute(script, args))
            .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    pub fn screenshot(&self, path: &Path) {
        let png = self.rt.block_on(self.c().screenshot()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// Waits until `script` (a JS expression) is truthy.
    pub fn wait_until(&self, what: &str, script: &str, timeout: Duration) {
        let start = Instant::now();
        loop {
            if self.js(&format!("return !!({script})"), vec![]).as_bool() == Some(true) {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what} on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Signs in through the sign-in form.
    pub fn sign_in(&self, base: &str, email: &str, password: &str) {
        self.goto(&format!("{base}/signin"));
        self.fill("input[name=email]", email);
        self.fill("input[name=password]", password);
        self.click("form button[type=submit]");
        self.wait_until(
            "the signed-in page",
            "!location.pathname.startsWith('/signin')",
            Duration::from_secs(10),
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.rt.block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
