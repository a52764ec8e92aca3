//! Which IP addresses are on the public internet, for the media egress policy: the private,
//! loopback, link-local, reserved and special-purpose ranges of IPv4 and IPv6, and the IPv6 forms
//! that carry an IPv4 address (judged by the address they carry).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether an address is on the public internet: not private, loopback, link-local, unspecified,
/// multicast, documentation, benchmarking (`198.18.0.0/15`), reserved (`240.0.0.0/4`, broadcast
/// included), carrier-grade NAT, unique-local, site-local (`fec0::/10`), Teredo (`2001::/32`),
/// IPv6 documentation (`2001:db8::/32`), discard (`100::/64`) or the rest of IANA's reserved
/// `::/8`.
/// An IPv6 address that carries an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is as public as the IPv4 it carries;
/// local-use NAT64 (`64:ff9b:1::/48`) is not.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] & 0xffc0) == 0xfec0
                || (seg[0] == 0x2001 && seg[1] == 0)
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)
                || (seg[0] == 0x0064 && seg[1] == 0xff9b && seg[2] == 0x0001)
                || (seg[0] == 0x0100 && seg[1..4] == [0; 3])
                || (seg[0] & 0xff00) == 0)
        }
    }
}

/// The IPv4 address an IPv6 one carries: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`, not `::` or `::1`), NAT64 (`64:ff9b::a.b.c.d`) or 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let seg = v6.segments();
    let o = v6.octets();
    let tail = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if seg[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
        return Some(tail);
    }
    if seg[..6] == [0x0064, 0xff9b, 0, 0, 0, 0] {
        return Some(tail);
    }
    if seg[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every private, reserved or special-purpose range, in each form it can be written; and the
    /// IPv6 forms that carry an IPv4 address are as public as that address.
    #[test]
    fn private_and_special_ranges() {
        let private = [
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "198.18.0.1",
            "198.19.255.254",
            "240.0.0.1",
            "250.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            // IPv4-compatible.
            "::127.0.0.1",
            "::10.1.2.3",
            "::169.254.169.254",
            // NAT64, well-known and local-use prefixes.
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::93.184.216.34",
            // 6to4 around private IPv4.
            "2002:7f00:1::1",
            "2002:a00:1::",
            "2002:c0a8:101::1",
            // Teredo, site-local, documentation, discard, the rest of ::/8.
            "2001::1",
            "2001:0:4136:e378::1",
            "fec0::1",
            "feff::1",
            "2001:db8::1",
            "2001:db8:ffff::1",
            "100::1",
            "::ffff:0:7f00:1",
            "0:0:0:0:1::1",
        ];
        for ip in private {
            let parsed: IpAddr = ip.parse().unwrap();
            assert!(!is_public(parsed), "{ip} is not public");
        }
        let public = [
            "93.184.216.34",
            "8.8.8.8",
            "198.17.255.255",
            "198.20.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:93.184.216.34",
            "::93.184.216.34",
            "64:ff9b::93.184.216.34",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
            "2001:4860:4860::8888",
        ];
        for ip in public {
            let parsed: IpAddr = ip.parse().unwrap();
            assert!(is_public(parsed), "{ip} is public");
        }
    }
}
