//! The client's address, for throttling: the socket's peer, or, when the
//! peer is one of the operator's reverse proxies (`CUSTODIAN_TRUSTED_PROXIES`),
//! the address those proxies say they received the request from.
//!
//! Only a trusted peer is believed, and only the header the operator named
//! (`CUSTODIAN_FORWARDED_HEADER`: `X-Forwarded-For` by default, or RFC 7239
//! `Forwarded`): a proxy appends to the one it manages and passes the other
//! through untouched, so reading both would let a client name itself. The
//! list is read from the right, skipping trusted proxies; the first address
//! that is not one is the client. When every entry is a trusted proxy, the
//! leftmost is. An entry that is not an address (`unknown`, an obfuscated
//! RFC 7239 identifier) stops the walk at the proxy that wrote it: the
//! client cannot be told apart from that proxy.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::{HeaderMap, HeaderName};
use ipnet::IpNet;

/// Which header the trusted proxies maintain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl ForwardedHeader {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            other => Err(format!(
                "must be x-forwarded-for or forwarded, not {other:?}"
            )),
        }
    }

    fn name(self) -> HeaderName {
        match self {
            Self::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            Self::Forwarded => HeaderName::from_static("forwarded"),
        }
    }
}

/// The reverse proxies whose forwarding header is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>, header: ForwardedHeader) -> Self {
        Self { nets, header }
    }

    /// A list of CIDRs or addresses, separated by commas or spaces.
    pub fn parse_nets(raw: &str) -> Result<Vec<IpNet>, String> {
        raw.split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{s:?} is not a CIDR (10.0.0.0/8) or an address"))
            })
            .collect()
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = unmapped(address);
        self.nets.iter().any(|net| net.contains(&address))
    }

    /// The client's address, given the socket's peer and the headers.
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = unmapped(peer?);
        if !self.trusts(peer) {
            return Some(peer);
        }
        let entries: Vec<Option<IpAddr>> = headers
            .get_all(self.header.name())
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|entry| match self.header {
                ForwardedHeader::XForwardedFor => address(entry),
                ForwardedHeader::Forwarded => forwarded_for(entry),
            })
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            match entry {
                Some(address) => {
                    client = unmapped(*address);
                    if !self.trusts(client) {
                        break;
                    }
                }
                None => break,
            }
        }
        Some(client)
    }
}

/// An IPv4-mapped IPv6 address is its IPv4 address.
fn unmapped(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn address(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim().trim_matches('"');
    raw.parse::<IpAddr>()
        .ok()
        .or_else(|| raw.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            raw.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.parse().ok())
        })
}

/// The `for=` of one RFC 7239 element (`for=192.0.2.60;proto=http`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| address(value))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn headers(name: &'static str, values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn ip(raw: &str) -> Option<IpAddr> {
        Some(raw.parse().unwrap())
    }

    fn proxies(header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies::new(
            TrustedProxies::parse_nets("10.0.0.0/8, 192.168.1.1").unwrap(),
            header,
        )
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let forged = headers("x-forwarded-for", &["198.51.100.9"]);
        let trusting = proxies(ForwardedHeader::XForwardedFor);
        assert_eq!(
            trusting.client(ip("203.0.113.7"), &forged),
            ip("203.0.113.7")
        );
        let nobody = TrustedProxies::default();
        assert_eq!(nobody.client(ip("10.0.0.1"), &forged), ip("10.0.0.1"));
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        let trusting = proxies(ForwardedHeader::XForwardedFor);
        // The client forged the first entry; the proxies appended the rest.
        let chain = headers(
            "x-forwarded-for",
            &["198.51.100.9, 203.0.113.7", "10.1.1.1"],
        );
        assert_eq!(trusting.client(ip("10.0.0.2"), &chain), ip("203.0.113.7"));
        let only_proxies = headers("x-forwarded-for", &["10.9.9.9, 192.168.1.1"]);
        assert_eq!(
            trusting.client(ip("10.0.0.2"), &only_proxies),
            ip("10.9.9.9")
        );
        let none = HeaderMap::new();
        assert_eq!(trusting.client(ip("10.0.0.2"), &none), ip("10.0.0.2"));
        let garbage = headers("x-forwarded-for", &["203.0.113.7, unknown"]);
        assert_eq!(trusting.client(ip("10.0.0.2"), &garbage), ip("10.0.0.2"));
        let ported = headers("x-forwarded-for", &["[2001:db8::7]:4711"]);
        assert_eq!(trusting.client(ip("10.0.0.2"), &ported), ip("2001:db8::7"));
    }

    #[test]
    fn only_the_named_header_is_read() {
        let xff = proxies(ForwardedHeader::XForwardedFor);
        let rfc = proxies(ForwardedHeader::Forwarded);
        let mut both = headers("x-forwarded-for", &["203.0.113.7"]);
        both.append(
            HeaderName::from_static("forwarded"),
            HeaderValue::from_static(
                "for=198.51.100.9;proto=https, for=\"[2001:db8:cafe::17]:4711\"",
            ),
        );
        assert_eq!(xff.client(ip("10.0.0.2"), &both), ip("203.0.113.7"));
        assert_eq!(rfc.client(ip("10.0.0.2"), &both), ip("2001:db8:cafe::17"));
        let hidden = headers("forwarded", &["for=198.51.100.9, for=_hidden"]);
        assert_eq!(rfc.client(ip("10.0.0.2"), &hidden), ip("10.0.0.2"));
    }

    #[test]
    fn mapped_addresses_are_their_ipv4_address() {
        let trusting = proxies(ForwardedHeader::XForwardedFor);
        let chain = headers("x-forwarded-for", &["::ffff:203.0.113.7"]);
        assert_eq!(
            trusting.client(ip("::ffff:10.0.0.2"), &chain),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn nets_parse_or_say_which_is_wrong() {
        assert_eq!(
            TrustedProxies::parse_nets("10.0.0.0/8 ::1,192.0.2.1")
                .unwrap()
                .len(),
            3
        );
        let error = TrustedProxies::parse_nets("10.0.0.0/8, proxy.local").unwrap_err();
        assert!(error.contains("proxy.local"), "{error}");
        assert!(ForwardedHeader::parse("Forwarded").is_ok());
        assert!(ForwardedHeader::parse("x-real-ip").is_err());
    }
}
