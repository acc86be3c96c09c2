//! The HTTP client side of the CLI: `hitl healthcheck`, and what `hitl ask` shares.

use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::Value;

use crate::cli::ClientArgs;
use crate::config;
use crate::notify::dns::{self, Dns};
use crate::urls::Urls;

/// An HTTP client that resolves names in pure Rust, never follows redirects, never
/// uses a proxy from the environment, and hands back every status as a response.
pub fn agent(timeout: Duration) -> ureq::Agent {
    static DNS: OnceLock<Option<Arc<Dns>>> = OnceLock::new();
    let dns = DNS.get_or_init(|| match Dns::new() {
        Ok(dns) => Some(Arc::new(dns)),
        Err(e) => {
            eprintln!("warning: {e}");
            None
        }
    });
    match dns {
        Some(dns) => dns::agent(dns, None, timeout),
        // Without our resolver, the system's still works for addresses and most names.
        None => ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .build()
            .into(),
    }
}

/// A response: its status and its body parsed as JSON (`Null` when it is not JSON).
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn read(mut response: ureq::http::Response<ureq::Body>) -> Answer {
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or(Value::Null);
        Answer { status, body }
    }

    /// The server's error message, or a generic line.
    pub fn error_message(&self) -> String {
        match self.body["error"]["message"].as_str() {
            Some(message) => format!("{message} (HTTP {})", self.status),
            None => format!("the server answered HTTP {}", self.status),
        }
    }
}

pub fn base_url(args: &ClientArgs) -> Result<String, String> {
    config::base_url(&args.url, "--url")
}

pub fn healthcheck(args: &ClientArgs) -> ExitCode {
    let base = match base_url(args) {
        Ok(b) => b,
        Err(e) => return super::fail(e),
    };
    let url = Urls::new(&base).healthz();
    match agent(Duration::from_secs(5)).get(&url).call() {
        Ok(response) if response.status().is_success() => {
            say!("ok: {url}");
            ExitCode::SUCCESS
        }
        Ok(response) => super::fail(format!(
            "{url} answered HTTP {}",
            response.status().as_u16()
        )),
        Err(e) => super::fail(format!("{url} did not answer: {e}")),
    }
}
