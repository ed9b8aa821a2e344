//! Where deliveries may go: receiver URLs and the operator's address policy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::MAX_URL_LEN;
use crate::{Error, Result};

/// A receiver's URL: `http` or `https`, a host, an optional port and path; no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: String,
    host: String,
    port: u16,
    https: bool,
}

impl WebhookUrl {
    pub fn parse(value: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid("url", format!("{value:?} is not a receiver URL: {why}"));
        if value.len() > MAX_URL_LEN {
            return Err(bad(&format!("longer than {MAX_URL_LEN} bytes")));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it contains whitespace or control characters"));
        }
        let (https, rest) = if let Some(rest) = value.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = value.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad("use http:// or https://"));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(bad("credentials in the URL are refused; deliveries are signed with the secret"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (ip, after) = v6.split_once(']').ok_or_else(|| bad("unclosed IPv6 bracket"))?;
            (ip, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            None => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad("bad port"))?,
        };
        Ok(Self { url: value.to_owned(), host: host.to_ascii_lowercase(), port, https })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Lowercase, without IPv6 brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

/// Which addresses deliveries may go to. Public unicast addresses are allowed; loopback,
/// private, link-local (cloud metadata lives there), unique-local, shared, multicast and
/// unspecified addresses are refused unless the operator allowed the host by name or the
/// address by network (`--webhook-allowed-hosts`), so a subscription cannot probe the network
/// the registry runs in. The check applies to every address a name resolves to, at delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostPolicy {
    hosts: Vec<String>,
    nets: Vec<(IpAddr, u8)>,
}

impl HostPolicy {
    /// A comma-separated list of host names, addresses and networks (`10.0.0.0/8`).
    pub fn parse(list: &str) -> Result<Self> {
        let mut policy = Self::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || {
                Error::invalid(
                    "webhook-allowed-hosts",
                    format!("{entry:?} is not a host, address or network"),
                )
            };
            if let Some((ip, bits)) = entry.split_once('/') {
                let ip: IpAddr = ip.parse().map_err(|_| bad())?;
                let bits: u8 = bits.parse().map_err(|_| bad())?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                if bits > max {
                    return Err(bad());
                }
                policy.nets.push((ip, bits));
            } else if let Ok(ip) = entry.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                policy.nets.push((ip, if ip.is_ipv4() { 32 } else { 128 }));
            } else if entry.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
                policy.hosts.push(entry.to_ascii_lowercase());
            } else {
                return Err(bad());
            }
        }
        Ok(policy)
    }

    /// Whether a delivery to `host` may connect to `ip` (one of the addresses it resolved to, or
    /// the host itself); the error says why not and how to allow it.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<()> {
        let ip = canonical(ip);
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        if !is_internal(ip) || self.hosts.contains(&host) || self.nets.iter().any(|(n, b)| in_net(ip, *n, *b))
        {
            return Ok(());
        }
        Err(Error::FailedPrecondition(format!(
            "webhook host {host} is {ip}, an internal address (loopback, private, link-local or \
             metadata); deliveries go there only if the operator allows it with --webhook-allowed-hosts"
        )))
    }

    /// The check for a URL whose host is an address or `localhost`, before anything is sent.
    pub fn check_literal(&self, url: &WebhookUrl) -> Result<()> {
        match url.ip() {
            Some(ip) => self.check(url.host(), ip),
            None if url.host() == "localhost" || url.host().ends_with(".localhost") => {
                self.check(url.host(), IpAddr::V4(Ipv4Addr::LOCALHOST))
            }
            None => Ok(()),
        }
    }
}

/// IPv4-mapped IPv6 addresses are checked as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || a >= 240
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254 is AWS metadata)
                || (first & 0xffc0) == 0xfe80 // link local
                || v6 == Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0xa9fe, 0xa9fe) // NAT64 of 169.254.169.254
        }
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, canonical(net)) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> WebhookUrl {
        WebhookUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn urls_are_http_with_a_host_and_no_credentials() {
        let u = url("https://Hooks.Example.com/bindery?x=1");
        assert_eq!((u.host(), u.port(), u.is_https()), ("hooks.example.com", 443, true));
        let u = url("http://[::1]:8080/h");
        assert_eq!((u.host(), u.port(), u.ip()), ("::1", 8080, Some(IpAddr::V6(Ipv6Addr::LOCALHOST))));
        assert_eq!(url("http://10.1.2.3:9/").port(), 9);
        for bad in
            ["ftp://x/", "http://", "http://u:p@x/", "http://x:0/", "http://x:99999/", "http://a b/", "x"]
        {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(WebhookUrl::parse(&format!("https://x/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }

    #[test]
    fn internal_addresses_need_the_operators_allowance() {
        let none = HostPolicy::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or_else(|e| panic!("{s}: {e}"));
        let u = url("https://hooks.example.com/");
        assert!(none.check(u.host(), ip("93.184.216.34")).is_ok());
        assert!(none.check(u.host(), ip("2606:2800:220:1::1")).is_ok());
        for internal in [
            "127.0.0.1",
            "10.0.0.5",
            "172.16.3.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(none.check(u.host(), ip(internal)).is_err(), "{internal}");
        }
        assert!(none.check_literal(&url("http://127.0.0.1:9000/")).is_err());
        assert!(none.check_literal(&url("http://localhost:9000/")).is_err());
        assert!(none.check_literal(&url("https://hooks.example.com/")).is_ok());

        let some =
            HostPolicy::parse("ci.internal, 10.0.0.0/8, ::1, 127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
        assert!(some.check("ci.internal", ip("192.168.9.9")).is_ok());
        assert!(some.check(u.host(), ip("10.200.0.1")).is_ok());
        assert!(some.check(u.host(), ip("11.0.0.1")).is_ok());
        assert!(some.check(u.host(), ip("::1")).is_ok());
        assert!(some.check_literal(&url("http://127.0.0.1:9000/")).is_ok());
        assert!(some.check(u.host(), ip("169.254.169.254")).is_err());
        assert!(HostPolicy::parse("10.0.0.0/33").is_err());
        assert!(HostPolicy::parse("a b").is_err());
    }
}
