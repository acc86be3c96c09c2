//! A webhook address: `webhookUrl`'s check, then the address policy (`notify::policy`)
//! for an IP literal in the URL, or for fixed addresses a name could resolve to (no DNS
//! lookups), under a few policies. The text is also tried as a `--webhook-allow` entry.
//! Must never panic.
#![no_main]

use std::net::IpAddr;

use hitl::domain::pauses::validate_webhook_url;
use hitl::notify::policy::Policy;
use libfuzzer_sys::fuzz_target;

const RESOLVED: [&str; 7] = [
    "127.0.0.1",
    "10.1.2.3",
    "169.254.169.254",
    "93.184.216.34",
    "::1",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        // Raw bytes as an address: 4 or 16 of them.
        if let Ok(v4) = <[u8; 4]>::try_from(data) {
            let _ = Policy::default().check("x", IpAddr::from(v4));
        } else if let Ok(v6) = <[u8; 16]>::try_from(data) {
            let _ = Policy::default().check("x", IpAddr::from(v6));
        }
        return;
    };
    let mut policies = vec![Policy::default()];
    if let Ok(p) = Policy::new(true, &["10.0.0.0/8".into(), "hooks.internal".into()]) {
        policies.push(p);
    }
    // The text as an operator's `--webhook-allow` entry.
    if let Ok(p) = Policy::new(true, &[text.to_string()]) {
        let _ = p.describe();
        policies.push(p);
    }
    let Ok(normalised) = validate_webhook_url(text) else {
        return;
    };
    let Ok(url) = url::Url::parse(&normalised) else {
        return;
    };
    let Some(host) = url.host() else {
        return;
    };
    let name = host.to_string();
    let addresses: Vec<IpAddr> = match host {
        url::Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
        url::Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
        url::Host::Domain(_) => RESOLVED.iter().filter_map(|a| a.parse().ok()).collect(),
    };
    for policy in &policies {
        let _ = policy.host_allowed(&name);
        for ip in &addresses {
            let _ = policy.check(&name, *ip);
        }
    }
});
