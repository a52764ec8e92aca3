//! Who is calling: the client's address, and the key the rate limits count it under.
//!
//! The address is the TCP peer's, unless the peer is one of the reverse proxies named in
//! `server.trusted_proxies` (addresses or CIDR blocks; none by default). Then `X-Forwarded-For` is
//! read from its right end (the entry the nearest proxy added) leftwards, skipping entries that are
//! themselves trusted proxies, and the first one that is not is the client. Entries further left
//! were written by the client and are never believed, so a client cannot pick its own address by
//! sending the header. A peer that is not a trusted proxy is the client, whatever it sends.
//!
//! Rate limits key IPv4 clients by address and IPv6 clients by their /64 (one subscriber usually
//! holds a whole /64, and changing addresses inside it costs nothing).
//!
//! Failure: an entry that is not an address stops the walk; the last trusted hop before it is
//! taken as the client (a misbehaving proxy then shares one bucket, it never gains one per value).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

/// The header a reverse proxy appends the client's address to.
pub const FORWARDED_FOR: &str = "x-forwarded-for";
/// At most this many `X-Forwarded-For` entries are looked at, from the right.
const MAX_HOPS: usize = 32;
/// IPv6 clients are keyed by this prefix.
const IPV6_KEY_PREFIX: u8 = 64;

/// An address block: an address and a prefix length (`10.0.0.0/8`, `2001:db8::/32`, or a single
/// address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Reads `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `v6/n`. The error says what is wrong.
    pub fn parse(text: &str) -> Result<IpNet, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| {
            format!(
                "{text:?} is not an IP address or CIDR block (like 10.0.0.0/8 or 2001:db8::/32)"
            )
        })?;
        let addr = addr.to_canonical();
        let max = max_prefix(addr);
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => {
                    return Err(format!(
                        "{text:?}: the prefix length must be a number from 0 to {max}"
                    ))
                }
            },
        };
        if mask(addr, prefix) != addr {
            return Err(format!(
                "{text:?} has bits set after its /{prefix} prefix; write {}/{prefix}",
                mask(addr, prefix)
            ));
        }
        Ok(IpNet { addr, prefix })
    }

    /// Whether `ip` is inside this block (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

/// `ip` with every bit after the first `prefix` cleared.
fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

/// The rate limits' key for a client: the address for IPv4, its /64 for IPv6.
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        v4 @ IpAddr::V4(_) => v4,
        v6 => mask(v6, IPV6_KEY_PREFIX),
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed (`server.trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Reads the configured list; the error names the entry that is wrong.
    pub fn parse(list: &[String]) -> Result<TrustedProxies, String> {
        list.iter()
            .map(|s| IpNet::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client behind a request that came from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.is_trusted(client) {
            return client;
        }
        let entries: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for entry in entries.iter().rev().take(MAX_HOPS) {
            let Some(ip) = forwarded_addr(entry) else {
                break;
            };
            client = ip;
            if !self.is_trusted(ip) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry as an address: a bare address, or one with a port (`1.2.3.4:5`,
/// `[2001:db8::1]:5`).
fn forwarded_addr(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    e.parse::<IpAddr>()
        .ok()
        .or_else(|| e.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// The client's address, put in the request's extensions by [`resolve`] (absent when the request
/// did not come over a socket, as in the fuzzer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Middleware (outermost): works out the client's address once for every later layer and handler,
/// believing `X-Forwarded-For` only from `proxies`.
pub async fn resolve(
    State(proxies): State<Arc<TrustedProxies>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        let client = proxies.client(peer, req.headers());
        req.extensions_mut().insert(ClientAddr(client));
    }
    next.run(req).await
}

/// The client address of a request, when known.
pub fn of(req: &Request) -> Option<IpAddr> {
    req.extensions().get::<ClientAddr>().map(|c| c.0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn blocks_parse_and_match() {
        let n = IpNet::parse("10.1.0.0/16").unwrap();
        assert!(n.contains(ip("10.1.200.3")));
        assert!(!n.contains(ip("10.2.0.1")));
        assert!(
            n.contains(ip("::ffff:10.1.0.9")),
            "IPv4-mapped counts as IPv4"
        );
        let one = IpNet::parse("127.0.0.1").unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6 = IpNet::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.1.0.1")));
        assert!(IpNet::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("203.0.113.5")));
        assert!(IpNet::parse("::/0").unwrap().contains(ip("2001:db8::5")));
        for bad in [
            "",
            "localhost",
            "10.0.0.0/33",
            "10.0.0.1/8",
            "::1/129",
            "10.0.0.0/x",
        ] {
            assert!(IpNet::parse(bad).is_err(), "{bad}");
        }
        assert!(IpNet::parse("10.0.0.1/8")
            .unwrap_err()
            .contains("10.0.0.0/8"));
    }

    #[test]
    fn ipv6_is_keyed_by_its_64() {
        let a = rate_key(ip("2001:db8:1:2:aaaa::1"));
        let b = rate_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        let c = rate_key(ip("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, ip("2001:db8:1:2::"));
        assert_eq!(rate_key(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_ne!(rate_key(ip("192.0.2.7")), rate_key(ip("192.0.2.8")));
        assert_eq!(rate_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        let local = TrustedProxies::parse(&["127.0.0.1/32".into()]).unwrap();
        let chain = TrustedProxies::parse(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        let peer = ip("127.0.0.1");
        // Not trusted: the peer, whatever it sends.
        assert_eq!(none.client(peer, &xff(&["203.0.113.5"])), peer);
        // Trusted: the rightmost entry that is not a proxy; what the client wrote is ignored.
        assert_eq!(
            local.client(peer, &xff(&["198.51.100.1, 203.0.113.5"])),
            ip("203.0.113.5")
        );
        assert_eq!(
            chain.client(peer, &xff(&["198.51.100.1", "203.0.113.5, 10.2.3.4"])),
            ip("203.0.113.5")
        );
        // No header, or nothing but proxies: the farthest proxy known.
        assert_eq!(local.client(peer, &HeaderMap::new()), peer);
        assert_eq!(chain.client(peer, &xff(&["10.0.0.7"])), ip("10.0.0.7"));
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(
            chain.client(peer, &xff(&["203.0.113.5, junk, 10.0.0.7"])),
            ip("10.0.0.7")
        );
        // Ports and brackets are read.
        assert_eq!(
            local.client(peer, &xff(&["[2001:db8::5]:443"])),
            ip("2001:db8::5")
        );
        assert_eq!(
            local.client(peer, &xff(&["203.0.113.5:80"])),
            ip("203.0.113.5")
        );
        // A peer outside the list is the client even when others are trusted.
        assert_eq!(
            local.client(ip("192.0.2.1"), &xff(&["203.0.113.5"])),
            ip("192.0.2.1")
        );
    }
}
