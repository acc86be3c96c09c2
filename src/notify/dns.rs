//! Name resolution in pure Rust (hickory-resolver, reading /etc/resolv.conf and
//! /etc/hosts), so the static binary never loads glibc's NSS plugins. Every outgoing
//! HTTP request of hitl resolves through here; webhook requests also pass each
//! address through the address policy, and connect only to addresses that passed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::ResolverConfig;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use super::policy::Policy;

const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// A resolver with its own small runtime, usable from any thread.
pub struct Dns {
    /// Always `Some` until dropped.
    rt: Option<tokio::runtime::Runtime>,
    resolver: TokioResolver,
}

impl Drop for Dns {
    /// The last holder may be an async worker of the web server, where waiting for
    /// the runtime's threads is not allowed: let them end on their own.
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dns")
    }
}

impl Dns {
    pub fn new() -> Result<Dns, String> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("hitl-dns")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the DNS resolver: {e}"))?;
        let resolver = {
            let _guard = rt.enter();
            let builder = TokioResolver::builder_tokio().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read /etc/resolv.conf; only /etc/hosts and addresses will resolve");
                TokioResolver::builder_with_config(ResolverConfig::default(), TokioRuntimeProvider::default())
            });
            builder
                .build()
                .map_err(|e| format!("cannot start the DNS resolver: {e}"))?
        };
        Ok(Dns {
            rt: Some(rt),
            resolver,
        })
    }

    /// The addresses of `host` (an address literal is returned as is).
    pub fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let Some(rt) = &self.rt else {
            return Err("the resolver has stopped".into());
        };
        let lookup = rt.block_on(async {
            tokio::time::timeout(LOOKUP_TIMEOUT, self.resolver.lookup_ip(bare)).await
        });
        match lookup {
            Ok(Ok(found)) => {
                let ips: Vec<IpAddr> = found.iter().collect();
                if ips.is_empty() {
                    Err(format!("{bare} has no address"))
                } else {
                    Ok(ips)
                }
            }
            Ok(Err(e)) => Err(format!("cannot resolve {bare}: {e}")),
            Err(_) => Err(format!(
                "resolving {bare} took longer than {}s",
                LOOKUP_TIMEOUT.as_secs()
            )),
        }
    }

    /// Checks a webhook URL against `policy` now (as it is set): an address that the
    /// policy refuses is an error; a name that does not resolve yet is not.
    pub fn check_url(&self, url: &str, policy: &Policy) -> Result<(), String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("not a valid URL: {e}"))?;
        let host = parsed.host_str().unwrap_or("");
        match self.lookup(host) {
            Ok(ips) => permitted(host, ips, policy).map(|_| ()),
            Err(_) => Ok(()),
        }
    }
}

/// The addresses among `ips` of `host` that `policy` allows; an error names what was
/// refused.
fn permitted(host: &str, ips: Vec<IpAddr>, policy: &Policy) -> Result<Vec<IpAddr>, String> {
    let mut refused = Vec::new();
    let allowed: Vec<IpAddr> = ips
        .into_iter()
        .filter(|ip| match policy.check(host, *ip) {
            Ok(()) => true,
            Err(reason) => {
                refused.push(reason);
                false
            }
        })
        .collect();
    if allowed.is_empty() {
        return Err(format!("address refused: {}", refused.join("; ")));
    }
    Ok(allowed)
}

/// The ureq resolver: hickory, then the policy (when there is one).
#[derive(Debug)]
struct CheckedResolver {
    dns: Arc<Dns>,
    policy: Option<Arc<Policy>>,
}

/// Why the resolver gave no address: `by_policy` when the name resolved but every
/// address is refused by the webhook address policy (no retry can change that),
/// else a lookup failure (which may pass).
#[derive(Debug)]
struct Refused {
    message: String,
    by_policy: bool,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Whether a request failed because the webhook address policy refused every address
/// of its host.
pub fn refused_by_policy(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Other(inner) => inner.downcast_ref::<Refused>().is_some_and(|r| r.by_policy),
        _ => false,
    }
}

impl std::error::Error for Refused {}

impl Resolver for CheckedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().ok_or(ureq::Error::HostNotFound)?;
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let looked_up = |message| {
            ureq::Error::Other(Box::new(Refused {
                message,
                by_policy: false,
            }))
        };
        let ips = self.dns.lookup(host).map_err(looked_up)?;
        let ips = match &self.policy {
            Some(policy) => permitted(host, ips, policy).map_err(|message| {
                ureq::Error::Other(Box::new(Refused {
                    message,
                    by_policy: true,
                }))
            })?,
            None => ips,
        };
        let mut out = self.empty();
        for ip in ips.into_iter().take(16) {
            out.push(SocketAddr::new(ip, port));
        }
        Ok(out)
    }
}

/// An HTTP client that resolves through `dns` (and `policy`, if given), never follows
/// redirects, never uses a proxy from the environment, and returns every status.
pub fn agent(dns: &Arc<Dns>, policy: Option<&Arc<Policy>>, timeout: Duration) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .user_agent(concat!("hitl/", env!("CARGO_PKG_VERSION")))
        .build();
    ureq::Agent::with_parts(
        config,
        DefaultConnector::default(),
        CheckedResolver {
            dns: Arc::clone(dns),
            policy: policy.cloned(),
        },
    )
}
