//! Who the client is: the trusted-proxy rule for `X-Forwarded-For` and the bucket an IP is
//! counted in (IPv6 clients per network prefix, since one host holds a whole /64).

use crate::error::{Error, Result};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// One trusted network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask(u128::from(u32::from(net)), self.prefix, 32)
                    == mask(u128::from(u32::from(ip)), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask(u128::from(net), self.prefix, 128) == mask(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// The top `prefix` bits of a `width`-bit address.
fn mask(bits: u128, prefix: u8, width: u8) -> u128 {
    match prefix {
        0 => 0,
        p if p >= width => bits,
        p => bits & (u128::MAX << (width - p)) & (u128::MAX >> (128 - width)),
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The proxies whose `X-Forwarded-For` is believed: IPs and CIDR networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

impl TrustedProxies {
    /// Parses a comma-separated list of IPs and CIDRs (`10.0.0.0/8, 2001:db8::/32, 127.0.0.1`).
    /// An empty list trusts nobody.
    pub fn parse(list: &str) -> Result<Self> {
        let mut networks = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || {
                Error::invalid(
                    "config",
                    format!("trusted proxy `{entry}` is not an IP address or CIDR network"),
                )
            };
            let (addr, prefix) = match entry.split_once('/') {
                Some((addr, prefix)) => (addr, Some(prefix)),
                None => (entry, None),
            };
            let addr = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
            let width = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= width)
                    .ok_or_else(bad)?,
                None => width,
            };
            networks.push(Network { addr, prefix });
        }
        Ok(Self(networks))
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client behind `peer`: the peer itself unless it is a trusted proxy; then the
    /// right-most `X-Forwarded-For` address (over all `forwarded` header values, in order)
    /// that is not a trusted proxy. Entries may carry ports (`1.2.3.4:5678`,
    /// `[2001:db8::1]:443`); an entry that does not parse ends the walk at the peer, since
    /// nothing left of it can be believed.
    pub fn client<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let entries: Vec<&str> = forwarded.flat_map(|v| v.split(',')).collect();
        let mut leftmost = peer;
        for entry in entries.iter().rev() {
            let Some(ip) = parse_forwarded(entry) else {
                return peer;
            };
            if !self.contains(ip) {
                return ip;
            }
            leftmost = ip;
        }
        leftmost
    }
}

/// One `X-Forwarded-For` entry: an IP, optionally quoted, bracketed or with a port.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim().trim_matches('"');
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(canonical(addr.ip()));
    }
    let inner = entry.strip_prefix('[')?.split(']').next()?;
    inner
        .parse::<Ipv6Addr>()
        .ok()
        .map(|ip| canonical(IpAddr::V6(ip)))
}

/// The rate-limit bucket of `ip`: the IPv4 address, or the IPv6 network of `v6_prefix` bits
/// around it (`2001:db8:1:2::/64`).
pub fn ip_bucket(ip: IpAddr, v6_prefix: u8) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = v6_prefix.min(128);
            let network = Ipv6Addr::from(mask(u128::from(v6), prefix, 128));
            format!("{network}/{prefix}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn trusted_proxies_take_ips_and_cidrs_and_refuse_garbage() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1 ,2001:db8::/32").unwrap();
        assert!(trusted.contains(ip("10.200.3.4")));
        assert!(trusted.contains(ip("127.0.0.1")));
        assert!(trusted.contains(ip("::ffff:10.1.1.1")));
        assert!(trusted.contains(ip("2001:db8:ffff::1")));
        assert!(!trusted.contains(ip("11.0.0.1")));
        assert!(!trusted.contains(ip("127.0.0.2")));
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
        for bad in ["10.0.0.0/33", "nope", "1.2.3.4/x", "::/129"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_forwarded_address() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let peer = ip("10.0.0.1");
        let xff = |v: &'static str| std::iter::once(v);
        assert_eq!(
            trusted.client(peer, xff("1.1.1.1, 2.2.2.2, 10.0.0.7")),
            ip("2.2.2.2")
        );
        assert_eq!(trusted.client(peer, xff("1.1.1.1:5678")), ip("1.1.1.1"));
        assert_eq!(
            trusted.client(peer, xff("[2001:db8::9]:443")),
            ip("2001:db8::9")
        );
        assert_eq!(trusted.client(peer, xff("\"3.3.3.3\"")), ip("3.3.3.3"));
        assert_eq!(trusted.client(peer, xff("1.1.1.1, garbage")), peer);
        assert_eq!(trusted.client(peer, xff("10.0.0.9")), ip("10.0.0.9"));
        assert_eq!(trusted.client(peer, std::iter::empty()), peer);
        // Several header lines read as one list, in order.
        let lines = ["1.1.1.1", "4.4.4.4, 10.0.0.3"];
        assert_eq!(trusted.client(peer, lines.into_iter()), ip("4.4.4.4"));
        // An untrusted peer is the client whatever it forwards.
        assert_eq!(trusted.client(ip("8.8.8.8"), xff("1.1.1.1")), ip("8.8.8.8"));
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_prefix() {
        assert_eq!(ip_bucket(ip("192.0.2.1"), 64), "192.0.2.1");
        assert_eq!(ip_bucket(ip("::ffff:192.0.2.1"), 64), "192.0.2.1");
        let a = ip_bucket(ip("2001:db8:1:2:aaaa::1"), 64);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, ip_bucket(ip("2001:db8:1:2:ffff::9"), 64));
        assert_ne!(a, ip_bucket(ip("2001:db8:1:3::1"), 64));
        assert_eq!(ip_bucket(ip("2001:db8::1"), 128), "2001:db8::1/128");
    }
}
