//! `hitl receipt verify`: checks a decision receipt before acting on it. One line on
//! failure, and an exit code per reason (see [`Failure::code`]).

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use crate::cli::VerifyArgs;
use crate::receipt::{self, Claims, Invalid};

/// Why a receipt is refused.
#[derive(Debug)]
enum Failure {
    Signature(Invalid),
    /// The receipt, the JWKS or the context could not be read.
    Unchecked(String),
    UnknownKey(Invalid),
    Action,
    Context(String),
    NotApproved(Box<Claims>),
}

impl Failure {
    /// The exit code: distinct per reason, and 2 for what clap refuses too.
    fn code(&self) -> u8 {
        match self {
            Failure::Signature(_) => 1,
            Failure::Unchecked(_) => 2,
            Failure::UnknownKey(_) => 3,
            Failure::Action => 4,
            Failure::Context(_) => 5,
            Failure::NotApproved(_) => 6,
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Signature(e) | Failure::UnknownKey(e) => e.to_string(),
            Failure::Unchecked(why) => format!("cannot check the receipt: {why}"),
            Failure::Action => {
                "the action does not match: the receipt approved another action".into()
            }
            Failure::Context(file) => format!(
                "the context does not match: the receipt approved another context than {file}"
            ),
            Failure::NotApproved(c) => format!(
                "the receipt records {} of {} by {}, not an approval (--any-status accepts it)",
                c.status,
                c.watch_id,
                c.resolved_by.as_deref().unwrap_or("nobody")
            ),
        }
    }
}

pub fn verify(args: &VerifyArgs) -> ExitCode {
    match check(args) {
        Ok(claims) => {
            if args.action.is_none() && args.context.is_none() {
                // A valid receipt of some other approval would pass too.
                eprintln!(
                    "warning: only the signature and the status were checked; pass --action and --context to check that this receipt approved what you are about to do"
                );
            }
            if args.json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&claims).unwrap_or_default()
                );
            } else {
                let mut checked = vec!["signature"];
                if args.action.is_some() {
                    checked.push("action");
                }
                if args.context.is_some() {
                    checked.push("context");
                }
                say!(
                    "valid: {} {} by {} at {}, signed by {} ({} match)",
                    claims.watch_id,
                    claims.status,
                    claims.resolved_by.as_deref().unwrap_or("nobody"),
                    claims.resolved_at,
                    claims.iss,
                    checked.join(", ")
                );
            }
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("error: {}", failure.message());
            ExitCode::from(failure.code())
        }
    }
}

fn check(args: &VerifyArgs) -> Result<Claims, Failure> {
    if args.receipt == "-" && args.context.as_deref() == Some(Path::new("-")) {
        return Err(Failure::Unchecked(
            "the receipt and --context cannot both come from standard input".into(),
        ));
    }
    let token = if args.receipt == "-" {
        read_stdin().map_err(Failure::Unchecked)?
    } else {
        args.receipt.clone()
    };
    let jwks = load_jwks(&args.jwks).map_err(Failure::Unchecked)?;
    let claims = receipt::verify(&token, &jwks).map_err(|e| match e {
        Invalid::Malformed(_) => Failure::Unchecked(e.to_string()),
        Invalid::UnknownKey(_) => Failure::UnknownKey(e),
        Invalid::Signature => Failure::Signature(e),
    })?;
    if let Some(action) = &args.action {
        if receipt::sha256_hex(action) != claims.action_sha256 {
            return Err(Failure::Action);
        }
    }
    if let Some(file) = &args.context {
        let text = if file == Path::new("-") {
            read_stdin().map_err(Failure::Unchecked)?
        } else {
            std::fs::read_to_string(file)
                .map_err(|e| Failure::Unchecked(format!("cannot read {}: {e}", file.display())))?
        };
        let digest = receipt::context_sha256(Some(&text))
            .map_err(|e| Failure::Unchecked(format!("--context {}: {e}", file.display())))?;
        if digest != claims.context_sha256 {
            return Err(Failure::Context(file.display().to_string()));
        }
    }
    if !args.any_status && claims.status != "approved" {
        return Err(Failure::NotApproved(Box::new(claims)));
    }
    Ok(claims)
}

fn read_stdin() -> Result<String, String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    Ok(text.trim().to_string())
}

/// The JWK Set from a URL (a server's base URL means its well-known JWKS) or a file.
fn load_jwks(source: &str) -> Result<Value, String> {
    let text = if source.starts_with("http://") || source.starts_with("https://") {
        fetch(&jwks_url(source)?)?
    } else {
        std::fs::read_to_string(source).map_err(|e| format!("cannot read --jwks {source}: {e}"))?
    };
    let jwks: Value =
        serde_json::from_str(&text).map_err(|e| format!("--jwks {source} is not JSON: {e}"))?;
    if !jwks["keys"].is_array() {
        return Err(format!(
            "--jwks {source} is not a JWK Set (no \"keys\" array)"
        ));
    }
    Ok(jwks)
}

fn jwks_url(source: &str) -> Result<String, String> {
    let mut url =
        url::Url::parse(source).map_err(|e| format!("--jwks {source} is not a URL: {e}"))?;
    if url.path() == "/" && url.query().is_none() {
        url.set_path(crate::urls::JWKS);
    }
    Ok(url.to_string())
}

fn fetch(url: &str) -> Result<String, String> {
    let mut response = super::client::agent(Duration::from_secs(15))
        .get(url)
        .call()
        .map_err(|e| format!("{url} did not answer: {e}"))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(format!("{url} answered HTTP {status}"));
    }
    response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("cannot read the JWKS from {url}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_means_its_well_known_jwks() {
        assert_eq!(
            jwks_url("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080/.well-known/jwks.json"
        );
        assert_eq!(
            jwks_url("https://hitl.example.com/").unwrap(),
            "https://hitl.example.com/.well-known/jwks.json"
        );
        assert_eq!(
            jwks_url("https://example.com/keys.json").unwrap(),
            "https://example.com/keys.json"
        );
    }
}
