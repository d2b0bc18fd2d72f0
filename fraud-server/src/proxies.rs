//! Who the client is behind a reverse proxy: `--trusted-proxies` and
//! `X-Forwarded-For`.
//!
//! A proxy appends the address it received the request from to
//! `X-Forwarded-For`, so the list reads left to right from the client to the
//! last proxy, and everything left of the first proxy we trust may have been
//! written by the client. The client is therefore the rightmost address that
//! is not a trusted proxy, and only when the connection itself comes from a
//! trusted proxy; otherwise the header is ignored, so nobody can choose their
//! own rate-limit bucket by sending it.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// A `--trusted-proxies` entry that is neither an address nor a CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IP address or a CIDR range (such as 10.0.0.0/8 or ::1)")]
pub struct BadProxy(String);

impl FromStr for TrustedProxies {
    type Err = BadProxy;

    /// Comma- or space-separated addresses (`127.0.0.1`, `::1`) and CIDR
    /// ranges (`10.0.0.0/8`); empty means none.
    fn from_str(list: &str) -> Result<Self, BadProxy> {
        list.split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| BadProxy(entry.chars().take(64).collect()))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl TrustedProxies {
    /// No proxy is trusted (the default).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `addr` is one of the trusted proxies.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client of a request that arrived from `peer` with these
    /// `X-Forwarded-For` values (every header line, in order). See the
    /// module documentation; a hop that is not an address stops the walk,
    /// and the client is then the last trusted hop.
    pub fn client<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let lines: Vec<&str> = forwarded_for.into_iter().collect();
        let mut client = peer;
        for hop in lines.iter().rev().flat_map(|line| line.rsplit(',')) {
            match parse_hop(hop) {
                Some(addr) => {
                    client = addr;
                    if !self.contains(addr) {
                        return addr;
                    }
                }
                None => return client,
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port
/// (`1.2.3.4:5678`, `[::1]:5678`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(addr) = hop.parse::<IpAddr>() {
        return Some(addr.to_canonical());
    }
    if let Ok(socket) = hop.parse::<std::net::SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
        .map(|a| a.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn lists_parse_and_bad_entries_are_named() {
        let t: TrustedProxies = "127.0.0.1, 10.0.0.0/8 ::1".parse().expect("valid");
        assert!(t.contains(ip("127.0.0.1")));
        assert!(t.contains(ip("10.200.1.1")));
        assert!(t.contains(ip("::1")));
        assert!(t.contains(ip("::ffff:10.0.0.9")), "v4-mapped peers count");
        assert!(!t.contains(ip("192.168.0.1")));
        assert!("".parse::<TrustedProxies>().expect("empty").is_empty());
        let e = "10.0.0.0/8,localhost"
            .parse::<TrustedProxies>()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "`localhost` is not an IP address or a CIDR range (such as 10.0.0.0/8 or ::1)"
        );
        // Host bits are dropped, as the range means the network.
        let t: TrustedProxies = "10.1.2.3/8".parse().expect("valid");
        assert!(t.contains(ip("10.9.9.9")));
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("127.0.0.1"), ["6.6.6.6"]), ip("127.0.0.1"));
        let t: TrustedProxies = "127.0.0.1".parse().expect("valid");
        assert_eq!(t.client(ip("192.0.2.7"), ["6.6.6.6"]), ip("192.0.2.7"));
        assert_eq!(
            t.client(ip("127.0.0.1"), ["203.0.113.9"]),
            ip("203.0.113.9")
        );
        assert_eq!(t.client(ip("127.0.0.1"), []), ip("127.0.0.1"));
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let t: TrustedProxies = "127.0.0.1,10.0.0.0/8".parse().expect("valid");
        // The client wrote 6.6.6.6 itself; nginx appended its real address.
        assert_eq!(
            t.client(ip("127.0.0.1"), ["6.6.6.6, 203.0.113.9"]),
            ip("203.0.113.9")
        );
        // Two trusted proxies in a row are skipped.
        assert_eq!(
            t.client(ip("127.0.0.1"), ["198.51.100.1, 203.0.113.9, 10.1.1.1"]),
            ip("203.0.113.9")
        );
        // Several header lines read as one list, in order.
        assert_eq!(
            t.client(ip("127.0.0.1"), ["6.6.6.6", "203.0.113.9"]),
            ip("203.0.113.9")
        );
        // Ports and brackets are allowed.
        assert_eq!(
            t.client(ip("127.0.0.1"), ["[2001:db8::1]:443"]),
            ip("2001:db8::1")
        );
        assert_eq!(
            t.client(ip("127.0.0.1"), ["203.0.113.9:5555"]),
            ip("203.0.113.9")
        );
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(
            t.client(ip("127.0.0.1"), ["203.0.113.9, unknown, 10.0.0.2"]),
            ip("10.0.0.2")
        );
        // All trusted: the leftmost.
        assert_eq!(
            t.client(ip("127.0.0.1"), ["10.0.0.3, 10.0.0.2"]),
            ip("10.0.0.3")
        );
    }
}
