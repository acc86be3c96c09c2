//! Where webhooks may go. Link-local and cloud metadata addresses, unspecified,
//! broadcast and multicast are always refused; loopback, private and the other
//! special-purpose ranges (CGNAT, documentation, benchmarking, reserved, unique local,
//! …) are allowed unless `--webhook-deny-private`; `--webhook-allow CIDR|HOST` adds exceptions. The resolver
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
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4, deny_private),
        // An IPv4 address inside IPv6 (mapped ::ffff:a.b.c.d, the old compatible
        // ::a.b.c.d, NAT64, 6to4, Teredo) is judged as that IPv4 address too.
        // The hardest refusal wins: one that no exception lifts.
        IpAddr::V6(v6) => std::iter::once(refusal_v6(v6, deny_private))
            .chain(
                embedded_v4(v6)
                    .into_iter()
                    .map(|v4| refusal_v4(v4, deny_private)),
            )
            .flatten()
            .min_by_key(|(_, liftable)| *liftable),
    }
}

fn embedded_v4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    let last = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return vec![v4];
    }
    // IPv4-compatible (::a.b.c.d) and NAT64 carry it last.
    let compatible = s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified();
    // NAT64, well-known (64:ff9b::/96) and local-use (64:ff9b:1::/48 used as a /96;
    // other layouts are refused, see `nat64_layout_unknown`).
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..6] == [0x64, 0xff9b, 1, 0, 0, 0];
    if compatible || nat64 {
        vec![last]
    } else if s[0] == 0x2002 {
        vec![Ipv4Addr::new(o[2], o[3], o[4], o[5])]
    } else if s[..2] == [0x2001, 0] {
        // Teredo: the server, and the client with its bits inverted.
        vec![
            Ipv4Addr::new(o[4], o[5], o[6], o[7]),
            Ipv4Addr::new(!o[12], !o[13], !o[14], !o[15]),
        ]
    } else {
        Vec::new()
    }
}

const ALWAYS: bool = false;
const UNLESS_ALLOWED: bool = true;

/// Cloud metadata and platform services outside the link-local range: Alibaba
/// Cloud, Oracle Cloud (legacy), Azure's WireServer.
const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(192, 0, 0, 192),
    Ipv4Addr::new(168, 63, 129, 16),
];

/// A local-use NAT64 address (64:ff9b:1::/48) not laid out as a /96: RFC 6052 puts
/// the IPv4 address elsewhere for shorter prefixes, so which one it reaches cannot be
/// told (it could be a metadata address).
fn nat64_layout_unknown(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    s[..3] == [0x64, 0xff9b, 1] && s[3..6] != [0, 0, 0]
}

/// Cloud metadata over IPv6: AWS (and its DNS and time services), Google Cloud,
/// Oracle Cloud.
const METADATA_V6: [Ipv6Addr; 5] = [
    Ipv6Addr::new(0xfd00, 0x00c1, 0, 0, 0, 0, 0xa9fe, 0xa9fe),
    Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254),
    Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0253),
    Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0123),
    Ipv6Addr::new(0xfd20, 0x00ce, 0, 0, 0, 0, 0, 0x0254),
];

/// `a.b.c.d/len` contains `ip`.
fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

/// The IANA special-purpose IPv4 ranges that are not ordinary unicast, other than
/// loopback, link-local and RFC 1918.
fn special_v4(ip: Ipv4Addr) -> bool {
    [
        ([100, 64, 0, 0], 10),   // shared address space (carrier-grade NAT)
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
        ([192, 88, 99, 0], 24),  // 6to4 relay anycast (deprecated)
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
        ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
        ([240, 0, 0, 0], 4),     // reserved
    ]
    .iter()
    .any(|(net, len)| in_v4(ip, *net, *len))
}

fn refusal_v4(ip: Ipv4Addr, deny_private: bool) -> Option<(&'static str, bool)> {
    let o = ip.octets();
    if ip.is_unspecified() || o[0] == 0 {
        Some(("unspecified", ALWAYS))
    } else if ip.is_link_local() {
        Some(("link-local (cloud metadata lives here)", ALWAYS))
    } else if METADATA_V4.contains(&ip) {
        Some(("a cloud metadata address", ALWAYS))
    } else if ip.is_broadcast() {
        Some(("broadcast", ALWAYS))
    } else if ip.is_multicast() {
        Some(("multicast", ALWAYS))
    } else if deny_private && ip.is_loopback() {
        Some(("loopback (--webhook-deny-private)", UNLESS_ALLOWED))
    } else if deny_private && ip.is_private() {
        Some(("private (--webhook-deny-private)", UNLESS_ALLOWED))
    } else if deny_private && special_v4(ip) {
        Some((
            "special-purpose, not public (--webhook-deny-private)",
            UNLESS_ALLOWED,
        ))
    } else {
        None
    }
}

/// `prefix/len` contains `ip`.
fn in_v6(ip: Ipv6Addr, prefix: [u16; 3], len: u32) -> bool {
    let net = Ipv6Addr::new(prefix[0], prefix[1], prefix[2], 0, 0, 0, 0, 0);
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// The IANA special-purpose IPv6 ranges that are not ordinary unicast, other than
/// loopback, link-local and unique local.
fn special_v6(ip: Ipv6Addr) -> bool {
    if in_v6(ip, [0x2001, 0, 0], 23) {
        // IETF protocol assignments (Teredo, benchmarking, …), except the parts
        // that are globally reachable: the PCP, TURN and DNS-SD anycast addresses,
        // AMT, AS112-v6, ORCHIDv2 and Drone Remote ID.
        let anycast = (1..=3).any(|n| ip == Ipv6Addr::new(0x2001, 1, 0, 0, 0, 0, 0, n));
        let reachable = [
            ([0x2001, 0x0003, 0], 32),
            ([0x2001, 0x0004, 0x0112], 48),
            ([0x2001, 0x0020, 0], 28),
            ([0x2001, 0x0030, 0], 28),
        ]
        .iter()
        .any(|(p, l)| in_v6(ip, *p, *l));
        return !(anycast || reachable);
    }
    [
        ([0xfec0, 0, 0], 10),      // site-local (deprecated)
        ([0x0064, 0xff9b, 1], 48), // local-use NAT64
        ([0x0100, 0, 0], 64),      // discard-only
        ([0x2001, 0x0db8, 0], 32), // documentation
        ([0x3fff, 0, 0], 20),      // documentation
        ([0x5f00, 0, 0], 16),      // SRv6 SIDs
    ]
    .iter()
    .any(|(p, l)| in_v6(ip, *p, *l))
}

fn refusal_v6(ip: Ipv6Addr, deny_private: bool) -> Option<(&'static str, bool)> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some(("unspecified", ALWAYS))
    } else if (first & 0xffc0) == 0xfe80 {
        Some(("link-local", ALWAYS))
    } else if ip.is_multicast() {
        Some(("multicast", ALWAYS))
    } else if METADATA_V6.contains(&ip) {
        Some(("a cloud metadata address", ALWAYS))
    } else if nat64_layout_unknown(ip) {
        Some(("a NAT64 address whose IPv4 address cannot be told", ALWAYS))
    } else if deny_private && ip.is_loopback() {
        Some(("loopback (--webhook-deny-private)", UNLESS_ALLOWED))
    } else if deny_private && (first & 0xfe00) == 0xfc00 {
        Some(("private (--webhook-deny-private)", UNLESS_ALLOWED))
    } else if deny_private && special_v6(ip) {
        Some((
            "special-purpose, not public (--webhook-deny-private)",
            UNLESS_ALLOWED,
        ))
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
            "100.64.0.1",
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

    /// Each address: refused by default, refused with `--webhook-deny-private`.
    #[test]
    fn the_address_table() {
        const ALL: (bool, bool) = (true, true);
        const PRIVATE: (bool, bool) = (false, true);
        const PUBLIC: (bool, bool) = (false, false);
        let table: &[(&str, (bool, bool))] = &[
            // Cloud metadata, always.
            ("169.254.169.254", ALL),
            ("169.254.170.2", ALL),
            ("169.254.0.23", ALL),
            ("100.100.100.200", ALL),
            ("192.0.0.192", ALL),
            ("168.63.129.16", ALL),
            ("fd00:ec2::254", ALL),
            ("fd00:ec2::253", ALL),
            ("fd20:ce::254", ALL),
            ("fd00:c1::a9fe:a9fe", ALL),
            // NAT64 local-use laid out as a /48 (169.254.169.254 inside): unknowable.
            ("64:ff9b:1:a9fe:a9:fe00::", ALL),
            ("64:ff9b:1:808:8:800::", ALL),
            ("::ffff:100.100.100.200", ALL),
            ("::ffff:192.0.0.192", ALL),
            ("::100.100.100.200", ALL),
            ("::192.0.0.192", ALL),
            ("64:ff9b::6464:64c8", ALL),
            ("64:ff9b:1::c000:c0", ALL),
            ("2002:6464:64c8::1", ALL),
            ("2001:0:a9fe:a9fe::1", ALL),
            ("240.0.0.0", PRIVATE),
            ("255.255.255.255", ALL),
            // Special-purpose ranges: private.
            ("100.64.0.1", PRIVATE),
            ("100.127.255.254", PRIVATE),
            ("192.0.0.8", PRIVATE),
            ("192.0.2.10", PRIVATE),
            ("192.88.99.1", PRIVATE),
            ("198.18.0.1", PRIVATE),
            ("198.19.255.1", PRIVATE),
            ("198.51.100.7", PRIVATE),
            ("203.0.113.9", PRIVATE),
            ("250.1.2.3", PRIVATE),
            ("::ffff:198.51.100.7", PRIVATE),
            ("fc00::1", PRIVATE),
            ("fd12:3456::1", PRIVATE),
            ("fec0::1", PRIVATE),
            ("64:ff9b:1::a00:1", PRIVATE),
            ("100::1", PRIVATE),
            ("2001:db8::1", PRIVATE),
            ("3fff::1", PRIVATE),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", PRIVATE), // Teredo
            ("2001::1", ALL),                                  // Teredo through server 0.0.0.0
            ("2001:2::1", PRIVATE),
            ("5f00::1", PRIVATE),
            // Ordinary and globally reachable.
            ("93.184.216.34", PUBLIC),
            ("100.128.0.1", PUBLIC),
            ("100.63.255.255", PUBLIC),
            ("192.0.1.1", PUBLIC),
            ("198.20.0.1", PUBLIC),
            ("203.0.114.1", PUBLIC),
            ("239.255.255.255", ALL),
            ("2606:4700::1111", PUBLIC),
            ("2001:1::1", PUBLIC),
            ("2001:4:112::1", PUBLIC),
            ("2001:20::1", PUBLIC),
            ("64:ff9b::808:808", PUBLIC),
            ("::ffff:8.8.8.8", PUBLIC),
        ];
        let open = Policy::new(false, &[]).unwrap_or_default();
        let strict = Policy::new(true, &[]).unwrap_or_default();
        for (addr, (by_default, when_strict)) in table {
            let a = ip(addr);
            assert_eq!(
                open.check("h", a).is_err(),
                *by_default,
                "{addr} by default"
            );
            assert_eq!(
                strict.check("h", a).is_err(),
                *when_strict,
                "{addr} with deny-private"
            );
        }
        // Metadata addresses cannot be allowed by exception.
        let lenient = Policy::new(
            true,
            &[
                "100.64.0.0/10".into(),
                "192.0.0.0/24".into(),
                "fd00::/8".into(),
                "64:ff9b:1::/48".into(),
            ],
        )
        .unwrap_or_default();
        for addr in [
            "100.100.100.200",
            "192.0.0.192",
            "fd00:ec2::254",
            "64:ff9b:1::c000:c0",
        ] {
            assert!(lenient.check("h", ip(addr)).is_err(), "{addr} allowed");
        }
        assert!(lenient.check("h", ip("100.64.0.1")).is_ok());
        assert!(open
            .check("h", ip("100.100.100.200"))
            .is_err_and(|e| e.contains("cloud metadata")),);
    }
}
