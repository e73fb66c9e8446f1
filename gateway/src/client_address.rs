//! Who the client is: the peer address, unless the peer is one of the configured trusted
//! proxies; then the nearest X-Forwarded-For hop that is not. A client's own X-Forwarded-*
//! headers are never believed, so nobody can choose their rate-limit key or their address in
//! the logs.

use std::net::IpAddr;

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl TrustedProxies {
    /// From `gateway.trusted_proxies` (validated when the settings load).
    pub fn new(entries: &[String]) -> TrustedProxies {
        TrustedProxies(
            entries
                .iter()
                .filter_map(|e| idp_shared::config::parse_network(e))
                .collect(),
        )
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address (see the module comment); None without a peer address.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = canonical(peer?);
        if !self.trusts(peer) {
            return Some(peer);
        }
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok().map(canonical))
            .collect();
        // Right to left: each trusted proxy appended the address it saw.
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        Some(client)
    }

    /// Whether the client reached us over TLS: this connection's scheme, or what a trusted
    /// proxy in front (which terminated TLS) says in X-Forwarded-Proto.
    pub fn client_used_tls(&self, peer: Option<IpAddr>, secure: bool, headers: &HeaderMap) -> bool {
        if secure {
            return true;
        }
        peer.is_some_and(|p| self.trusts(p))
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_str(xff).unwrap(),
        );
        h
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn untrusted_peers_cannot_choose_their_address() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(ip("203.0.113.9"), &headers("1.2.3.4")),
            ip("203.0.113.9")
        );
        let ingress = TrustedProxies::new(&["10.0.0.0/8".into()]);
        assert_eq!(
            ingress.client_ip(ip("203.0.113.9"), &headers("1.2.3.4")),
            ip("203.0.113.9"),
            "a spoofed header from outside is ignored"
        );
    }

    #[test]
    fn trusted_proxies_name_the_nearest_untrusted_hop() {
        let proxies = TrustedProxies::new(&["10.0.0.0/8".into(), "192.168.1.1".into()]);
        // The client wrote "6.6.6.6" itself; the ingress appended the real address.
        assert_eq!(
            proxies.client_ip(
                ip("10.1.2.3"),
                &headers("6.6.6.6, 198.51.100.7, 192.168.1.1")
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            proxies.client_ip(ip("::ffff:10.1.2.3"), &headers("198.51.100.7")),
            ip("198.51.100.7"),
            "IPv4-mapped peers are matched as IPv4"
        );
        // Nothing usable in the header: the proxy itself.
        assert_eq!(
            proxies.client_ip(ip("10.1.2.3"), &headers("junk")),
            ip("10.1.2.3")
        );
        let mut https = headers("198.51.100.7");
        https.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("https"),
        );
        assert!(proxies.client_used_tls(ip("10.1.2.3"), false, &https));
        assert!(!proxies.client_used_tls(ip("203.0.113.9"), false, &https));
    }
}
