//! Where zfsync may fetch media from. Attachment URLs come from webhooks, so a forged one must not
//! make zfsync reach the internal network or an arbitrary host: downloads go only to the platforms'
//! media hosts (built-in Zalo and Freshchat domains, the configured API hosts, `[media] allow_hosts`),
//! never to private, loopback or link-local addresses (unless `[media] allow_private_addresses`,
//! for tests and the sandbox), and every redirect is checked again. The check runs on the URL before
//! the request, in the HTTP client's resolver (so a public name resolving to a private address is
//! refused too), and on each redirect.
//!
//! Failure: a refused URL is an [`EgressRefused`] naming the host and the key to change; the caller
//! treats it as a permanent failure of that attachment (the agent or customer is told).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use url::Url;

/// Media domains of the platforms: a host matches a pattern exactly, or as a subdomain of a
/// `*.`-pattern. Freshchat's own buckets on S3 are named `fc-*`.
const BUILT_IN: &[&str] = &[
    "*.zdn.vn",
    "*.zadn.vn",
    "*.zalo.me",
    "*.zaloapp.com",
    "*.freshchat.com",
    "*.freshworks.com",
    "*.myfreshworks.com",
    "fc-*.s3.amazonaws.com",
];

/// Why a download was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EgressRefused {
    /// The URL is not http(s) or has no host.
    #[error("the attachment URL is not an http(s) URL with a host")]
    BadUrl,
    /// The host is not one of the platforms' media hosts.
    #[error("{host} is not a Zalo or Freshchat media host; add it to [media] allow_hosts if it is yours")]
    Host {
        /// The host.
        host: String,
    },
    /// The host is, or resolves to, a private, loopback or link-local address.
    #[error("{host} is a private, loopback or link-local address; media are fetched only from public hosts")]
    Private {
        /// The host (or address).
        host: String,
    },
}

/// The download policy.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    patterns: Arc<Vec<String>>,
    allow_private: bool,
}

impl EgressPolicy {
    /// The built-in media hosts, plus `extra` patterns and the given API hosts.
    pub fn new(extra: &[String], api_hosts: &[&Url], allow_private: bool) -> EgressPolicy {
        let mut patterns: Vec<String> = BUILT_IN.iter().map(|p| p.to_string()).collect();
        patterns.extend(extra.iter().map(|p| p.trim().to_ascii_lowercase()));
        patterns.extend(
            api_hosts
                .iter()
                .filter_map(|u| u.host_str())
                .map(|h| h.to_ascii_lowercase()),
        );
        EgressPolicy {
            patterns: Arc::new(patterns),
            allow_private,
        }
    }

    /// Checks a URL before fetching it (and each redirect).
    pub fn check(&self, url: &Url) -> Result<(), EgressRefused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(EgressRefused::BadUrl);
        }
        let Some(host) = url.host() else {
            return Err(EgressRefused::BadUrl);
        };
        let name = match host {
            url::Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
            url::Host::Ipv4(ip) => return self.check_ip(IpAddr::V4(ip), &ip.to_string()),
            url::Host::Ipv6(ip) => return self.check_ip(IpAddr::V6(ip), &ip.to_string()),
        };
        if name == "localhost" || name.ends_with(".localhost") {
            return self.check_ip(IpAddr::from([127, 0, 0, 1]), &name);
        }
        if self.patterns.iter().any(|p| matches(p, &name)) {
            Ok(())
        } else {
            Err(EgressRefused::Host { host: name })
        }
    }

    fn check_ip(&self, ip: IpAddr, shown: &str) -> Result<(), EgressRefused> {
        if self.allow_private || is_public(ip) {
            Ok(())
        } else {
            Err(EgressRefused::Private { host: shown.into() })
        }
    }

    /// An HTTP client for media that applies this policy to the addresses names resolve to and to
    /// every redirect (at most 5).
    pub fn client(&self, timeout: std::time::Duration) -> reqwest::Result<reqwest::Client> {
        let redirects = self.clone();
        reqwest::Client::builder()
            .timeout(timeout)
            .dns_resolver(Arc::new(Resolver {
                allow_private: self.allow_private,
            }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 {
                    return attempt.error("too many redirects");
                }
                match redirects.check(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(e),
                }
            }))
            .build()
    }
}

/// `*.example.com` matches its subdomains; `fc-*.s3.amazonaws.com` a first label starting `fc-`;
/// anything else matches exactly.
fn matches(pattern: &str, host: &str) -> bool {
    if let Some(suffix) = pattern.strip_prefix("*.") {
        return host.ends_with(&format!(".{suffix}"));
    }
    if let Some((first, rest)) = pattern.split_once('.') {
        if let Some(prefix) = first.strip_suffix('*') {
            return host
                .split_once('.')
                .is_some_and(|(h_first, h_rest)| h_first.starts_with(prefix) && h_rest == rest);
        }
    }
    pattern == host
}

/// Whether an address is on the public internet (not private, loopback, link-local, unspecified,
/// multicast, documentation, carrier-grade NAT or unique-local).
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
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// Resolves names and refuses those that lead to non-public addresses.
#[derive(Debug)]
struct Resolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(EgressRefused::Private { host }) as _);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn policy(allow_private: bool) -> EgressPolicy {
        let api = Url::parse("https://acme.freshchat.com").unwrap();
        EgressPolicy::new(&["*.cdn.example".into()], &[&api], allow_private)
    }

    fn check(p: &EgressPolicy, url: &str) -> Result<(), EgressRefused> {
        p.check(&Url::parse(url).unwrap())
    }

    #[test]
    fn only_media_hosts_and_never_private_addresses() {
        let p = policy(false);
        for ok in [
            "https://s240-ava-talk.zadn.vn/a.jpg",
            "http://f7.photo.talk.zdn.vn/x",
            "https://fc-use1-00-pics-bkt-00.s3.amazonaws.com/i.png",
            "https://acme.freshchat.com/v2/files/1",
            "https://img.cdn.example/p.png",
        ] {
            assert!(check(&p, ok).is_ok(), "{ok}");
        }
        for host in [
            "https://evil.example/x",
            "https://zdn.vn.evil.example/x",
            "https://attacker-bucket.s3.amazonaws.com/x",
        ] {
            assert!(
                matches!(check(&p, host), Err(EgressRefused::Host { .. })),
                "{host}"
            );
        }
        for private in [
            "http://127.0.0.1:8080/files/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.1.2.3/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:192.168.1.1]/",
            "http://localhost/",
            "http://100.64.0.1/",
        ] {
            assert!(
                matches!(check(&p, private), Err(EgressRefused::Private { .. })),
                "{private}"
            );
        }
        assert!(matches!(
            check(&p, "file:///etc/passwd"),
            Err(EgressRefused::BadUrl)
        ));
        // Tests and the sandbox (simulators on loopback).
        assert!(check(&policy(true), "http://127.0.0.1:9/x").is_ok());
    }
}
