//! Where webhooks may go. Link-local and metadata addresses, unspecified, broadcast and
//! multicast are always refused; loopback and private ranges are allowed unless
//! `--webhook-deny-private`; `--webhook-allow CIDR|HOST` adds exceptions. The resolver
//! applies this to every address it returns, so the address checked is the address
//! connected to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub deny_private: bool,
    allow_nets: Vec<IpNet>,
    allow_hosts: Vec<String>,
}

/// Why an address is refused, worded for an operator, and whether `--webhook-allow`
/// may lift the refusal (only the `--webhook-deny-private` ones).
fn refusal(ip: IpAddr, deny_private: bool) -> Option<(&'static str, bool)> {
    // An IPv4 address inside IPv6 (mapped ::ffff:a.b.c.d, the old compatible ::a.b.c.d,
    // NAT64 64:ff9b::/96, 6to4 2002::/16) is judged as that IPv4 address too.
    let ip = match ip {
        IpAddr::V6(v6) => {
            if let Some(reason) = refusal_v6(v6, deny_private) {
                return Some(reason);
            }
            match embedded_v4(v6) {
                Some(v4) => IpAddr::V4(v4),
                None => return None,
            }
        }
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4, deny_private),
        IpAddr::V6(_) => None,
    }
}

fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) carry it last.
    let compatible = s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified();
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if compatible || nat64 {
        Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]))
    } else {
        None
    }
}

const ALWAYS: bool = false;
const UNLESS_ALLOWED: bool = true;

fn refusal_v4(ip: Ipv4Addr, deny_private: bool) -> Option<(&'static str, bool)> {
    let o = ip.octets();
    if ip.is_unspecified() || o[0] == 0 {
        Some(("unspecified", ALWAYS))
    } else if ip.is_link_local() {
        Some(("link-local (cloud metadata lives here)", ALWAYS))
    } else if ip.is_broadcast() {
        Some(("broadcast", ALWAYS))
    } else if ip.is_multicast() {
        Some(("multicast", ALWAYS))
    } else if deny_private && ip.is_loopback() {
        Some(("loopback (--webhook-deny-private)", UNLESS_ALLOWED))
    } else if deny_private && (ip.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64)) {
        Some(("private (--webhook-deny-private)", UNLESS_ALLOWED))
    } else if deny_private && (o[0] >= 240 || (o[0] == 198 && (o[1] & 0xfe) == 18)) {
        Some(("reserved (--webhook-deny-private)", UNLESS_ALLOWED))
    } else {
        None
    }
}

fn refusal_v6(ip: Ipv6Addr, deny_private: bool) -> Option<(&'static str, bool)> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some(("unspecified", ALWAYS))
    } else if (first & 0xffc0) == 0xfe80 {
        Some(("link-local", ALWAYS))
    } else if ip.is_multicast() {
        Some(("multicast", ALWAYS))
    } else if ip.segments() == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] {
        Some(("a cloud metadata address", ALWAYS))
    } else if deny_private && ip.is_loopback() {
        Some(("loopback (--webhook-deny-private)", UNLESS_ALLOWED))
    } else if deny_private && ((first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfec0) {
        Some(("private (--webhook-deny-private)", UNLESS_ALLOWED))
    } else {
        None
    }
}

impl Policy {
    /// `allow` entries are CIDR ranges (`10.1.0.0/16`), addresses, or host names.
    pub fn new(deny_private: bool, allow: &[String]) -> Result<Policy, String> {
        let mut policy = Policy {
            deny_private,
            ..Policy::default()
        };
        for entry in allow.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            if let Ok(net) = entry.parse::<IpNet>() {
                policy.allow_nets.push(net);
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                policy.allow_nets.push(IpNet::from(ip));
            } else if entry.contains('/') {
                return Err(format!(
                    "--webhook-allow {entry:?} is neither a CIDR range nor a host name"
                ));
            } else {
                policy
                    .allow_hosts
                    .push(entry.trim_end_matches('.').to_ascii_lowercase());
            }
        }
        Ok(policy)
    }

    /// Whether `host` (as written in the URL) is allowed whatever it resolves to.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allow_hosts.contains(&host)
    }

    /// `Err(reason)` when a webhook may not be sent to `ip` for `host`.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), String> {
        let Some((reason, liftable)) = refusal(ip, self.deny_private) else {
            return Ok(());
        };
        if liftable && (self.host_allowed(host) || self.allow_nets.iter().any(|n| n.contains(&ip)))
        {
            return Ok(());
        }
        Err(format!("{ip} is {reason}; webhooks may not go there"))
    }

    /// Shown in the start-up log and on the About page.
    pub fn describe(&self) -> String {
        let mut text = if self.deny_private {
            "public addresses only".to_string()
        } else {
            "public, private and loopback addresses".to_string()
        };
        text.push_str("; never link-local, metadata, broadcast or multicast");
        let allowed: Vec<String> = self
            .allow_nets
            .iter()
            .map(ToString::to_string)
            .chain(self.allow_hosts.iter().cloned())
            .collect();
        if !allowed.is_empty() {
            text.push_str(&format!("; also allowed: {}", allowed.join(", ")));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn always_refused_ranges() {
        let p = Policy::new(false, &[]).unwrap_or_default();
        for bad in [
            "169.254.169.254",
            "169.254.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "fe80::1",
            "::",
            "ff02::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
        ] {
            assert!(p.check("h", ip(bad)).is_err(), "{bad} allowed");
        }
        for good in [
            "127.0.0.1",
            "10.0.0.5",
            "192.168.1.2",
            "172.16.0.1",
            "8.8.8.8",
            "::1",
            "2001:db8::1",
            "fd12::1",
        ] {
            assert!(p.check("h", ip(good)).is_ok(), "{good} refused");
        }
    }

    #[test]
    fn deny_private_and_exceptions() {
        let p = Policy::new(
            true,
            &[
                "10.1.0.0/16".into(),
                "hooks.internal".into(),
                "127.0.0.2".into(),
            ],
        )
        .unwrap_or_default();
        for bad in [
            "127.0.0.1",
            "10.2.0.1",
            "192.168.0.1",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(p.check("h", ip(bad)).is_err(), "{bad} allowed");
        }
        assert!(p.check("h", ip("10.1.2.3")).is_ok());
        assert!(p.check("h", ip("127.0.0.2")).is_ok());
        assert!(
            p.check("HOOKS.internal.", ip("192.168.0.1")).is_ok(),
            "an allowed host name"
        );
        assert!(
            p.check("hooks.internal", ip("224.0.0.1")).is_err(),
            "multicast is never allowed"
        );
        assert!(p.check("h", ip("93.184.216.34")).is_ok());
        assert!(Policy::new(false, &["10.0.0.0/99".into()]).is_err());
    }
}
