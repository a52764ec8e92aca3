//! Where zfsync may fetch media from. Attachment URLs come from webhooks, so a forged one must not
//! make zfsync reach the internal network or an arbitrary host: downloads go only to the platforms'
//! media hosts (built-in Zalo and Freshchat domains, the configured API hosts, `[media] allow_hosts`),
//! never to private, loopback or link-local addresses (unless `[media] allow_private_addresses`,
//! for tests and the sandbox), and every redirect is checked again. The check runs on the URL before
//! the request, in the HTTP client's resolver (so a public name resolving to a private address is
//! refused too), and on each redirect.
//!
//! The built-in hosts cover every Freshchat data centre: the API hosts (`api.freshchat.com`,
//! `api.eu.`/`api.in.`/`api.au.freshchat.com`, `<account>.freshchat.com`,
//! `<alias>.myfreshworks.com`) and the `fc-*` storage buckets on S3 in any region, in the three
//! forms S3 names them (`fc-….s3.amazonaws.com`, `fc-….s3.<region>.amazonaws.com`,
//! `fc-….s3-<region>.amazonaws.com`); and Zalo's file and CDN hosts seen in the platform's own
//! payloads (`*.zdn.vn`, `*.zadn.vn`, `*.zalo.me`, `*.zaloapp.com`).
//!
//! Tests and the sandbox serve the simulators' media under such real names: they pin each name to
//! a loopback address ([`EgressPolicy::pinned`], an in-process setting no configuration file
//! reaches), so the allowlist runs on the real name and the private address is taken only for a
//! name pinned to it explicitly.
//!
//! An address written in the URL itself (`http://203.0.113.7/x.png`) has no name to match and no
//! DNS answer to check, so it is fetched only when listed itself (`[media] allow_hosts`) and
//! public. The media client ignores proxies from the environment (`HTTP_PROXY`, `HTTPS_PROXY`,
//! `ALL_PROXY`): a proxy would resolve and connect in zfsync's place, past the resolver's check.
//!
//! Failure: a refused URL is an [`EgressRefused`] naming the host (and, for a host outside the
//! list, that zfsync's operator can allow it); the caller treats it as a permanent failure of that
//! attachment (the agent or customer is told). The policy is also the Freshchat client's
//! [`zfsync_freshchat::DownloadGuard`]: it checks the hop after a keyed download is redirected, and
//! names its own refusal inside a failed download, so that failure is permanent too instead of
//! "cannot reach Freshchat" retried.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use url::Url;

mod addresses;
pub use addresses::is_public;

/// Media domains of the platforms (see [`matches`] for the pattern forms). `*.freshchat.com` holds
/// every data centre's API host (`api.eu.freshchat.com`, `api.in.…`, `api.au.…`) and the account
/// hosts; Freshchat's own buckets on S3 are named `fc-*` (`fc-euc1-00-pics-bkt-00` in Frankfurt,
/// `fc-aps1-…` in Mumbai), reached in any region, virtual-hosted or in S3's older dash form.
const BUILT_IN: &[&str] = &[
    "*.zdn.vn",
    "*.zadn.vn",
    "*.zalo.me",
    "*.zaloapp.com",
    "*.freshchat.com",
    "*.freshworks.com",
    "*.myfreshworks.com",
    "fc-*.s3.amazonaws.com",
    "fc-*.s3.<region>.amazonaws.com",
    "fc-*.s3-<region>.amazonaws.com",
];

/// In a pattern, stands for one AWS region name (`eu-central-1`, `ap-southeast-2`).
const REGION: &str = "<region>";

/// Why a download was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EgressRefused {
    /// The URL is not http(s) or has no host.
    #[error("the attachment URL is not an http(s) URL with a host")]
    BadUrl,
    /// The host is not one of the platforms' media hosts. Agents read this in a private note: the
    /// remedy is the operator's setting, so it says to ask them.
    #[error("{host} is not a Zalo or Freshchat media host, so zfsync did not fetch it; if the host is trusted, ask whoever runs zfsync to allow it (the operator's setting [media] allow_hosts)")]
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
#[derive(Debug, Clone, PartialEq)]
pub struct EgressPolicy {
    patterns: Arc<Vec<String>>,
    allow_private: bool,
    /// Names resolved to a fixed address without asking DNS (tests and the sandbox only).
    pinned: Arc<HashMap<String, IpAddr>>,
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
            pinned: Arc::default(),
        }
    }

    /// The same policy, resolving each of `names` to its address instead of asking DNS: tests and
    /// the sandbox serve the simulators' media under real host names on loopback. The allowlist
    /// still runs on the name; the address is taken, private or not, only for a name pinned here
    /// (any other name that resolves to a private address stays refused). Set in-process only:
    /// no configuration key reaches it.
    #[cfg(any(test, feature = "sim"))]
    pub fn pinned(mut self, names: &HashMap<String, IpAddr>) -> EgressPolicy {
        let names = names
            .iter()
            .map(|(n, ip)| (n.trim_end_matches('.').to_ascii_lowercase(), *ip))
            .collect();
        self.pinned = Arc::new(names);
        self
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
            url::Host::Ipv4(ip) => return self.check_literal(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => return self.check_literal(IpAddr::V6(ip)),
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

    /// An address in the URL itself: no name to match against the platforms' hosts and no DNS
    /// answer for the resolver to check, so a public one must be listed itself (`[media]
    /// allow_hosts = ["203.0.113.7"]`, or an API base at that address); a private one is refused
    /// as any private address is.
    fn check_literal(&self, ip: IpAddr) -> Result<(), EgressRefused> {
        let shown = ip.to_string();
        if !is_public(ip) {
            return self.check_ip(ip, &shown);
        }
        let listed = self.patterns.iter().any(|p| {
            p.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|listed| listed == ip)
        });
        if listed {
            Ok(())
        } else {
            Err(EgressRefused::Host { host: shown })
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
            // A proxy from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY) would resolve
            // and connect in zfsync's place, past the resolver's check: media go direct.
            .no_proxy()
            .dns_resolver(Arc::new(Resolver {
                allow_private: self.allow_private,
                pinned: self.pinned.clone(),
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

/// `*.example.com` matches its subdomains. Otherwise the host has the pattern's labels, each equal
/// but for two forms: a first label `fc-*` matches a label starting `fc-`, and a label holding
/// `<region>` matches with an AWS region name in its place (`s3-<region>` matches
/// `s3-ap-southeast-2`, not `s3-attacker`).
fn matches(pattern: &str, host: &str) -> bool {
    if let Some(suffix) = pattern.strip_prefix("*.") {
        return host.ends_with(&format!(".{suffix}"));
    }
    let (p, h): (Vec<&str>, Vec<&str>) = (pattern.split('.').collect(), host.split('.').collect());
    p.len() == h.len()
        && p.iter()
            .zip(&h)
            .enumerate()
            .all(|(i, (p, h))| label_matches(p, h, i == 0))
}

fn label_matches(pattern: &str, label: &str, first: bool) -> bool {
    if let Some(prefix) = pattern.strip_suffix('*').filter(|_| first) {
        return label.len() > prefix.len() && label.starts_with(prefix);
    }
    if let Some((before, after)) = pattern.split_once(REGION) {
        return label
            .strip_prefix(before)
            .and_then(|l| l.strip_suffix(after))
            .is_some_and(is_aws_region);
    }
    pattern == label
}

/// An AWS region name: two letters, one or more words, a number (`us-east-1`, `eu-central-1`,
/// `ap-southeast-2`, `us-gov-west-1`).
fn is_aws_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    let letters = |w: &&str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase());
    parts.len() >= 3
        && words[0].len() == 2
        && words.iter().all(letters)
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Resolves names and refuses those that lead to non-public addresses; a pinned name goes to its
/// address (see [`EgressPolicy::pinned`]).
#[derive(Debug)]
struct Resolver {
    allow_private: bool,
    pinned: Arc<HashMap<String, IpAddr>>,
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let pinned = self.pinned.get(&host).copied();
        Box::pin(async move {
            if let Some(ip) = pinned {
                let addrs = vec![SocketAddr::new(ip, 0)];
                return Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs);
            }
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

/// The policy as the Freshchat client's download guard: the hop after a keyed download is
/// redirected is checked like any attachment URL, and a refusal of the media client (its resolver,
/// its redirect policy) is recognised inside a failed download.
impl zfsync_freshchat::DownloadGuard for EgressPolicy {
    fn check(&self, url: &Url) -> Result<(), String> {
        EgressPolicy::check(self, url).map_err(|e| e.to_string())
    }

    fn refusal(&self, error: &(dyn std::error::Error + 'static)) -> Option<String> {
        error
            .downcast_ref::<EgressRefused>()
            .map(ToString::to_string)
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

    /// Every Freshchat data centre: its API hosts and its `fc-*` buckets, in each form S3 names
    /// them; a region must look like one, and a bucket must be Freshchat's.
    #[test]
    fn every_freshchat_region_and_nothing_dressed_up_as_one() {
        let p = EgressPolicy::new(&[], &[], false);
        for ok in [
            "https://api.freshchat.com/v2/files/1",
            "https://api.eu.freshchat.com/v2/files/1",
            "https://api.in.freshchat.com/v2/files/1",
            "https://api.au.freshchat.com/v2/files/1",
            "https://yourcompany-5b321a95b1dfee217185497.freshchat.com/v2/files/1",
            "https://acme.myfreshworks.com/v2/files/1",
            "https://fc-use1-00-pics-bkt-00.s3.amazonaws.com/a/img.png",
            "https://fc-euc1-00-pics-bkt-00.s3.eu-central-1.amazonaws.com/a/img.png",
            "https://fc-aps1-00-pics-bkt-00.s3.ap-south-1.amazonaws.com/a/img.png",
            "https://fc-apse2-00-pics-bkt-00.s3.ap-southeast-2.amazonaws.com/a/img.png",
            "https://fc-use1-00-pics-bkt-00.s3.us-east-1.amazonaws.com/a/img.png",
            "https://fc-euc1-00-pics-bkt-00.s3-eu-central-1.amazonaws.com/a/img.png",
            "https://fc-apse2-00-pics-bkt-00.s3-ap-southeast-2.amazonaws.com/a/img.png",
            "https://FC-EUC1-00-PICS-BKT-00.S3.EU-CENTRAL-1.AMAZONAWS.COM./a.png",
        ] {
            assert!(check(&p, ok).is_ok(), "{ok}");
        }
        for refused in [
            "https://evil.s3.eu-central-1.amazonaws.com/x",
            "https://evil.s3-ap-south-1.amazonaws.com/x",
            "https://fc-.s3.amazonaws.com/x",
            "https://fc-x.s3.eu-central-1.amazonaws.com.attacker.net/x",
            "https://fc-x.s3.attacker.amazonaws.com/x",
            "https://fc-x.s3-attacker.amazonaws.com/x",
            "https://fc-x.s3.eu-central.amazonaws.com/x",
            "https://fc-x.s3.eu-central-123.amazonaws.com/x",
            "https://fc-x.s3.e-central-1.amazonaws.com/x",
            "https://fc-x.s3.eu--1.amazonaws.com/x",
            "https://fc-x.s3.eu-central-1.evil.amazonaws.com/x",
            "https://x.fc-x.s3.eu-central-1.amazonaws.com/x",
            "https://fc-x.s3.eu-central-1.amazonaws.net/x",
            "https://s3.eu-central-1.amazonaws.com/fc-x/img.png",
            "https://freshchat.com.attacker.net/x",
        ] {
            assert!(
                matches!(check(&p, refused), Err(EgressRefused::Host { .. })),
                "{refused}"
            );
        }
        // The placeholder stands for a region, never for itself.
        assert!(!matches(
            "fc-*.s3.<region>.amazonaws.com",
            "fc-x.s3.<region>.amazonaws.com"
        ));
    }

    /// Zalo's file hosts as they appear in Zalo's own payloads (photos, voice, video, files,
    /// stickers, GIFs, avatars, list covers, Zinstant templates).
    #[test]
    fn zalo_file_hosts_from_its_payloads() {
        let p = EgressPolicy::new(&[], &[], false);
        for ok in [
            "http://f6.photo.talk.zdn.vn/9c2db3ccc0a223fc7ab3.jpg",
            "http://t.f6.photo.talk.zdn.vn/9c2db3ccc0a223fc7ab3.jpg",
            "https://photo-stal-29.zdn.vn/no/jpg/bccf2cc441c88096d9d9/1.jpg",
            "http://f1.voice.talk.zdn.vn/x.amr",
            "https://f4-zvc.zdn.vn/9ae8cac9eead07f35ebc/494930035692638423",
            "https://f7-group-zf.zdn.vn/xxx484bd4258d6a/xxx52598708747",
            "http://cgif.zp.zdn.vn/634e81577d6a07b_n.gif",
            "https://zalo-api.zadn.vn/api/emoticon/sticker/webpc?eid=892&size=130",
            "https://s240-ava-talk.zadn.vn/a.jpg",
            "https://cover-talk.zadn.vn/a.jpg",
            "https://media.zalo.me/detail/57974586350352884",
            "https://stc-zinstant.api.zaloapp.com/static/3m/12056/x",
        ] {
            assert!(check(&p, ok).is_ok(), "{ok}");
        }
        for refused in ["https://zdn.vn.attacker.net/x", "https://notzalo.me/x"] {
            assert!(check(&p, refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn aws_region_names() {
        for ok in [
            "us-east-1",
            "eu-central-1",
            "ap-south-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "me-central-1",
        ] {
            assert!(is_aws_region(ok), "{ok}");
        }
        for no in [
            "",
            "attacker",
            "eu-central",
            "eu-1",
            "europe-central-1",
            "eu-central-100",
            "EU-central-1",
            "eu-cent.ral-1",
            "eu-central-1x",
        ] {
            assert!(!is_aws_region(no), "{no}");
        }
    }

    /// An address written in the URL has no host name to match: a public one is fetched only when
    /// listed itself, a private one never (unless private addresses are allowed).
    #[test]
    fn an_ip_literal_needs_to_be_listed() {
        let p = policy(false);
        for url in [
            "http://93.184.216.34/x.png",
            "https://8.8.8.8/x",
            "http://[2606:4700::1111]/x",
            "http://[64:ff9b::93.184.216.34]/x",
        ] {
            assert!(
                matches!(check(&p, url), Err(EgressRefused::Host { .. })),
                "{url}"
            );
        }
        for url in [
            "http://[::127.0.0.1]/x",
            "http://[64:ff9b::7f00:1]/x",
            "http://[2002:a9fe:a9fe::]/latest",
            "http://[2001::1]/x",
            "http://[fec0::1]/x",
            "http://198.18.0.1/x",
            "http://240.0.0.1/x",
            "http://0x7f000001/x",
        ] {
            assert!(
                matches!(check(&p, url), Err(EgressRefused::Private { .. })),
                "{url}"
            );
        }
        let listed = EgressPolicy::new(
            &["93.184.216.34".into(), "[2606:4700:0::1111]".into()],
            &[&Url::parse("https://203.0.113.9:8443").unwrap()],
            false,
        );
        assert!(check(&listed, "http://93.184.216.34/x.png").is_ok());
        assert!(check(&listed, "http://[2606:4700::1111]/x.png").is_ok());
        assert!(check(&listed, "http://93.184.216.35/x.png").is_err());
        // Listed or not, a private address stays refused.
        assert!(check(&listed, "https://203.0.113.9:8443/v2/files/x").is_err());
        let text = check(&p, "http://93.184.216.34/x.png")
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with("93.184.216.34 is not a Zalo or Freshchat media host"),
            "{text}"
        );
    }

    /// The media client's own refusals (its resolver, its redirect policy) are recognised inside a
    /// failed request, so the Freshchat client reports them as refusals, not as "cannot reach".
    #[test]
    fn the_guard_recognises_the_media_clients_refusals() {
        use zfsync_freshchat::DownloadGuard as _;
        let p = policy(false);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let refusal_in = |e: &reqwest::Error| {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
            while let Some(c) = cause {
                if let Some(r) = p.refusal(c) {
                    return Some(r);
                }
                cause = c.source();
            }
            None
        };
        let _runtime = rt.enter();
        let client = p.client(std::time::Duration::from_secs(5)).unwrap();
        // A name resolving to loopback.
        let e = rt
            .block_on(client.get(format!("http://localhost:{port}/x")).send())
            .unwrap_err();
        let reason = refusal_in(&e).unwrap_or_else(|| panic!("not recognised: {e:?}"));
        assert!(reason.contains("localhost is a private"), "{reason}");
        // Any other failure is not a refusal.
        drop(listener);
        let other = rt
            .block_on(
                reqwest::Client::new()
                    .get(format!("http://127.0.0.1:{port}/x"))
                    .send(),
            )
            .unwrap_err();
        assert_eq!(refusal_in(&other), None);
        // The hop after a keyed redirect is checked like any attachment URL.
        let hop = |u: &str| zfsync_freshchat::DownloadGuard::check(&p, &Url::parse(u).unwrap());
        assert!(hop("https://fc-x.s3.amazonaws.com/a.png").is_ok());
        let reason = hop("http://127.0.0.1:9/inside.png").unwrap_err();
        assert!(reason.starts_with("127.0.0.1 is a private"), "{reason}");
    }

    /// A proxy in the environment would resolve and connect in zfsync's place, past the resolver:
    /// the media client goes direct. The proxy here is a loopback listener (a private address);
    /// it must see nothing. Environment variables are process-wide and read when a client is
    /// built, so the check runs in a child process of this test binary.
    #[test]
    fn a_proxy_in_the_environment_is_not_used() {
        const CHILD: &str = "ZFSYNC_EGRESS_PROXY_CHILD";
        if std::env::var_os(CHILD).is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "egress::tests::a_proxy_in_the_environment_is_not_used",
                    "--exact",
                    "--test-threads=1",
                    "--nocapture",
                ])
                .env(CHILD, "1")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("1 passed"),
                "the check ran"
            );
            return;
        }
        let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        proxy.set_nonblocking(true).unwrap();
        let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
        ] {
            std::env::set_var(var, &proxy_url);
        }
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _runtime = rt.enter();
        let client = policy(false)
            .client(std::time::Duration::from_secs(5))
            .unwrap();
        // A name that resolves nowhere: only a proxy could have taken the request.
        let result = rt.block_on(client.get("http://media.invalid/x.png").send());
        assert!(result.is_err(), "{result:?}");
        assert!(
            matches!(proxy.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "the proxy in the environment was used"
        );
    }

    /// The refusal an agent reads names the host and says the remedy is the operator's.
    #[test]
    fn a_refused_host_tells_the_agent_to_ask_the_operator() {
        let p = EgressPolicy::new(&[], &[], false);
        let text = check(&p, "https://evil.example/x").unwrap_err().to_string();
        assert!(text.starts_with("evil.example is not"), "{text}");
        assert!(text.contains("ask whoever runs zfsync"), "{text}");
        assert!(
            text.contains("operator's setting [media] allow_hosts"),
            "{text}"
        );
    }

    fn resolve(p: &EgressPolicy, name: &str) -> Result<Vec<SocketAddr>, String> {
        use reqwest::dns::Resolve as _;
        let r = Resolver {
            allow_private: p.allow_private,
            pinned: p.pinned.clone(),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            r.resolve(name.parse().unwrap())
                .await
                .map(|a| a.collect())
                .map_err(|e| e.to_string())
        })
    }

    /// A pinned name resolves to its (loopback) address without DNS; a name that is not pinned
    /// and resolves to loopback is still refused, and pinning does not widen the allowlist.
    #[test]
    fn only_a_pinned_name_may_resolve_to_loopback() {
        let bucket = "fc-euc1-00-pics-bkt-00.s3.eu-central-1.amazonaws.com";
        let attacker = "attacker.example";
        let loopback = IpAddr::from([127, 0, 0, 1]);
        let names = HashMap::from([
            (bucket.to_ascii_uppercase() + ".", loopback),
            (attacker.to_string(), loopback),
        ]);
        let p = EgressPolicy::new(&[], &[], false).pinned(&names);
        assert_eq!(
            resolve(&p, bucket).unwrap(),
            vec![SocketAddr::new(loopback, 0)]
        );
        let err = resolve(&p, "localhost").unwrap_err();
        assert!(err.contains("private"), "{err}");
        assert!(matches!(
            check(&p, &format!("http://{attacker}:8080/x")),
            Err(EgressRefused::Host { .. })
        ));
        assert!(check(&p, &format!("http://{bucket}:8080/x")).is_ok());
        // Without the pin, the same policy refuses loopback.
        let err = resolve(&EgressPolicy::new(&[], &[], false), "localhost").unwrap_err();
        assert!(err.contains("private"), "{err}");
    }

    /// Every media link the platforms sent in the real-world samples (Zalo attachments, Freshchat
    /// image/file/video parts) is on an allowed host. Needs `../shared/realworld`
    /// (`ZFSYNC_TEST_SKIP=realworld` skips it).
    #[test]
    fn every_media_link_of_the_real_world_samples_is_allowed() {
        let Some(dir) = crate::prerequisites::realworld(env!("CARGO_MANIFEST_DIR")) else {
            return;
        };
        let entries = std::fs::read_dir(&dir).unwrap();
        let p = EgressPolicy::new(&[], &[], false);
        let mut seen = 0;
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Other products' payloads and integrators' requests are not the platforms' links.
            if !name.ends_with(".json") || name.contains("NOT-OA") || name.contains("-request") {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            // What the platform sent (not what an integrator asked of it).
            let mut urls = Vec::new();
            if let Some(body) = doc.get("body") {
                media_links(body, &mut urls);
            }
            for url in urls {
                if !url.starts_with("http") || url.contains('<') || url.contains('…') {
                    continue;
                }
                seen += 1;
                assert!(check(&p, &url).is_ok(), "{name}: {url}");
            }
        }
        assert!(
            seen >= 10,
            "only {seen} media links found in {}",
            dir.display()
        );
    }

    /// Media links in a sample: a Zalo attachment's `payload.url`/`thumbnail` (media types only;
    /// a shared link is the customer's, not media), a Freshchat part's `image`/`file`/`video` url.
    fn media_links(v: &serde_json::Value, out: &mut Vec<String>) {
        const ZALO_MEDIA: &[&str] = &["image", "gif", "sticker", "file", "audio", "video"];
        match v {
            serde_json::Value::Object(m) => {
                let zalo = m
                    .get("type")
                    .and_then(|t| t.as_str())
                    .is_some_and(|t| ZALO_MEDIA.contains(&t));
                if let (true, Some(payload)) = (zalo, m.get("payload")) {
                    for k in ["url", "thumbnail"] {
                        if let Some(u) = payload.get(k).and_then(|u| u.as_str()) {
                            out.push(u.to_string());
                        }
                    }
                }
                for k in ["image", "file", "video"] {
                    if let Some(u) = m.get(k).and_then(|p| p.get("url")).and_then(|u| u.as_str()) {
                        out.push(u.to_string());
                    }
                }
                m.values().for_each(|v| media_links(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| media_links(v, out)),
            _ => {}
        }
    }
}
