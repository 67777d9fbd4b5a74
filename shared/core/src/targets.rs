//! The SSRF guard's policy: which IP addresses chime may call, and the check of a URL
//! (including every IP-literal encoding) before any connection is made. The worker's resolver
//! (`chime_worker::ssrf`) applies it to every name it resolves; the API applies it to a job's
//! URL when the job is written, so a literal address the guard blocks is refused at once.
//!
//! An address may be dialed when it lies inside an explicit allow-list entry, or when it is
//! not in any blocked class (loopback, private, link-local, cloud metadata, ...). IPv6 forms
//! that embed an IPv4 address (mapped, compatible, SIIT, NAT64, 6to4) are judged by the
//! embedded IPv4 address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use url::{Host, Url};

/// Parses an allow-list of target addresses (`allow_targets`): CIDRs or single addresses,
/// comma-separated, each truncated to its network. The entry that is neither is the error.
pub fn parse_allow_list(list: &str) -> Result<Vec<ipnet::IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let net = entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| entry.to_string())?;
            Ok(net.trunc())
        })
        .collect()
}

/// Why an address is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressClass {
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 ranges and IPv6 unique-local `fc00::/7`.
    Private,
    /// Carrier-grade NAT shared space `100.64.0.0/10`.
    SharedNat,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// Deprecated IPv6 site-local `fec0::/10`.
    SiteLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `240.0.0.0/4` and other reserved or special-purpose ranges.
    Reserved,
    /// Documentation ranges (`192.0.2.0/24`, `2001:db8::/32`, ...).
    Documentation,
    /// Benchmarking ranges (`198.18.0.0/15`, `2001:2::/48`).
    Benchmarking,
    /// IETF protocol assignments `192.0.0.0/24`.
    ProtocolAssignment,
    /// Cloud instance metadata endpoints.
    CloudMetadata,
    /// Teredo tunnels `2001::/32`.
    Teredo,
    /// Discard-only prefix `100::/64`.
    Discard,
}

impl AddressClass {
    fn describe(self) -> &'static str {
        match self {
            AddressClass::Unspecified => "an unspecified (this-network) address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private address",
            AddressClass::SharedNat => "a carrier-grade NAT (shared) address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::SiteLocal => "a site-local address",
            AddressClass::Multicast => "a multicast address",
            AddressClass::Broadcast => "the broadcast address",
            AddressClass::Reserved => "a reserved address",
            AddressClass::Documentation => "a documentation address",
            AddressClass::Benchmarking => "a benchmarking address",
            AddressClass::ProtocolAssignment => "an IETF protocol-assignment address",
            AddressClass::CloudMetadata => "a cloud metadata address",
            AddressClass::Teredo => "a Teredo tunnel address",
            AddressClass::Discard => "a discard-only address",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Errors raised by the guard; the message says why a target was refused.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// An allow-list entry is neither an IP address nor a CIDR.
    #[error("invalid allow-list entry {entry:?}: expected an IP address or CIDR")]
    InvalidAllowEntry { entry: String },
    /// The URL scheme is not http or https.
    #[error("scheme {0:?} is not allowed; only http and https targets are permitted")]
    Scheme(String),
    /// The URL has no host.
    #[error("target URL has no host")]
    MissingHost,
    /// The target address is in a blocked class and not allow-listed.
    #[error("{}", blocked_message(.host.as_deref(), *.ip, *.class, *.embedded))]
    Blocked {
        /// Host name the address was resolved from, if any.
        host: Option<String>,
        ip: IpAddr,
        class: AddressClass,
        /// IPv4 address embedded in an IPv6 target, when that is what was judged.
        embedded: Option<Ipv4Addr>,
    },
    /// DNS resolution failed.
    #[error("could not resolve host {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
    /// DNS resolution returned no address.
    #[error("host {0} resolved to no addresses")]
    NoAddresses(String),
}

fn blocked_message(
    host: Option<&str>,
    ip: IpAddr,
    class: AddressClass,
    embedded: Option<Ipv4Addr>,
) -> String {
    let target = match host {
        Some(h) => format!("target {h} ({ip})"),
        None => format!("target {ip}"),
    };
    match embedded {
        Some(v4) => format!("{target} embeds {v4}, {class}; blocked by the SSRF guard"),
        None => format!("{target} is {class}; blocked by the SSRF guard"),
    }
}

/// Which targets outbound calls may reach.
#[derive(Clone, Debug, Default)]
pub struct TargetPolicy {
    allow: Vec<IpNet>,
}

impl TargetPolicy {
    /// A policy whose allow-list entries override the blocked classes.
    pub fn new(allow: Vec<IpNet>) -> Self {
        Self { allow }
    }

    /// Parses "127.0.0.0/8, ::1/128" (comma-separated CIDRs, bare IPs allowed, empty string =
    /// none); the error names the bad entry.
    pub fn parse(list: &str) -> Result<Self, GuardError> {
        let allow =
            parse_allow_list(list).map_err(|entry| GuardError::InvalidAllowEntry { entry })?;
        Ok(Self { allow })
    }

    /// The allow-list entries.
    pub fn allowed(&self) -> &[IpNet] {
        &self.allow
    }

    fn is_allowed(&self, ip: IpAddr) -> bool {
        let embedded = match ip {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.allow
            .iter()
            .any(|net| net.contains(&ip) || embedded.is_some_and(|e| net.contains(&e)))
    }

    /// Ok if the address may be dialed: allowed explicitly, or not in any blocked class.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), GuardError> {
        self.check_ip_for(None, ip)
    }

    fn check_ip_for(&self, host: Option<&str>, ip: IpAddr) -> Result<(), GuardError> {
        if self.is_allowed(ip) {
            return Ok(());
        }
        match blocked_class(ip) {
            None => Ok(()),
            Some((class, embedded)) => Err(GuardError::Blocked {
                host: host.map(str::to_string),
                ip,
                class,
                embedded,
            }),
        }
    }

    /// Checks a URL before any connection: scheme http/https only, host present; IP-literal
    /// hosts (all encodings the `url` crate normalises: decimal `http://2130706433/`, hex,
    /// octal, IPv6 `[::ffff:10.0.0.1]`, etc.) are checked here directly. Domain names are
    /// left to [`GuardedResolver`].
    pub fn check_url(&self, url: &Url) -> Result<(), GuardError> {
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(GuardError::Scheme(other.to_string())),
        }
        match url.host() {
            None => Err(GuardError::MissingHost),
            Some(Host::Ipv4(v4)) => self.check_ip(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => self.check_ip(IpAddr::V6(v6)),
            Some(Host::Domain(domain)) => {
                // Defence in depth: a domain string that still reads as an IP literal is
                // checked as one, since the HTTP connector would dial it without resolving.
                let bare = domain
                    .trim_end_matches('.')
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                if bare.is_empty() {
                    return Err(GuardError::MissingHost);
                }
                match bare.parse::<IpAddr>() {
                    Ok(ip) => self.check_ip(ip),
                    Err(_) => Ok(()),
                }
            }
        }
    }

    /// Checks every address a host name resolved to; any blocked address fails the whole
    /// resolution, so a mixed (rebinding) answer cannot slip a blocked address through.
    pub fn check_resolved(
        &self,
        host: &str,
        addrs: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, GuardError> {
        if addrs.is_empty() {
            return Err(GuardError::NoAddresses(host.to_string()));
        }
        for addr in &addrs {
            self.check_ip_for(Some(host), addr.ip())?;
        }
        Ok(addrs)
    }
}

/// The IPv4 address embedded in an IPv6 address of a form that carries one: IPv4-mapped
/// `::ffff:a.b.c.d`, SIIT `::ffff:0:a.b.c.d`, IPv4-compatible `::a.b.c.d` (except `::` and
/// `::1`), NAT64 `64:ff9b::/96` and 6to4 `2002::/16`.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(low(hi, lo)),
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => Some(low(hi, lo)),
        [0, 0, 0, 0, 0, 0, 0, 0] | [0, 0, 0, 0, 0, 0, 0, 1] => None,
        [0, 0, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

fn v4_in(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn v6_in(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (u128::from(ip) & mask) == (u128::from(Ipv6Addr::from(net)) & mask)
}

fn blocked_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    use AddressClass::*;
    let table: &[([u8; 4], u32, AddressClass)] = &[
        ([169, 254, 169, 254], 32, CloudMetadata),
        ([100, 100, 100, 200], 32, CloudMetadata),
        ([0, 0, 0, 0], 8, Unspecified),
        ([127, 0, 0, 0], 8, Loopback),
        ([10, 0, 0, 0], 8, Private),
        ([172, 16, 0, 0], 12, Private),
        ([192, 168, 0, 0], 16, Private),
        ([100, 64, 0, 0], 10, SharedNat),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([192, 0, 0, 0], 24, ProtocolAssignment),
        ([192, 0, 2, 0], 24, Documentation),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([198, 18, 0, 0], 15, Benchmarking),
        ([192, 88, 99, 0], 24, Reserved),
        ([224, 0, 0, 0], 4, Multicast),
        ([255, 255, 255, 255], 32, Broadcast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    table
        .iter()
        .find(|(net, prefix, _)| v4_in(ip, *net, *prefix))
        .map(|(_, _, class)| *class)
}

fn blocked_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    use AddressClass::*;
    let table: &[([u16; 8], u32, AddressClass)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 128, Unspecified),
        ([0, 0, 0, 0, 0, 0, 0, 1], 128, Loopback),
        ([0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254], 128, CloudMetadata),
        ([0x0100, 0, 0, 0, 0, 0, 0, 0], 64, Discard),
        ([0x0064, 0xff9b, 0x0001, 0, 0, 0, 0, 0], 48, Reserved),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, Teredo),
        ([0x2001, 0x0002, 0, 0, 0, 0, 0, 0], 48, Benchmarking),
        ([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32, Documentation),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Documentation),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Private),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, LinkLocal),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, SiteLocal),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Multicast),
    ];
    table
        .iter()
        .find(|(net, prefix, _)| v6_in(ip, *net, *prefix))
        .map(|(_, _, class)| *class)
}

/// The blocked class of an address, ignoring any allow-list, and the embedded IPv4 address
/// that decided it (for IPv6 forms embedding IPv4). `None` means the address is public.
pub fn blocked_class(ip: IpAddr) -> Option<(AddressClass, Option<Ipv4Addr>)> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4).map(|c| (c, None)),
        IpAddr::V6(v6) => {
            if let Some(class) = blocked_v6(v6) {
                return Some((class, None));
            }
            let v4 = embedded_ipv4(v6)?;
            blocked_v4(v4).map(|c| (c, Some(v4)))
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
    fn parse_allow_list() {
        let p = TargetPolicy::parse(" 127.0.0.0/8, ::1/128 ,10.1.2.3").unwrap();
        assert_eq!(p.allowed().len(), 3);
        assert!(p.check_ip(ip("127.0.0.1")).is_ok());
        assert!(p.check_ip(ip("::1")).is_ok());
        assert!(p.check_ip(ip("10.1.2.3")).is_ok());
        assert!(p.check_ip(ip("10.1.2.4")).is_err());
        assert!(TargetPolicy::parse("").unwrap().allowed().is_empty());
        assert!(TargetPolicy::parse(" , ").unwrap().allowed().is_empty());
        let err = TargetPolicy::parse("127.0.0.0/8, 10.0.0.0/33").unwrap_err();
        assert!(err.to_string().contains("10.0.0.0/33"), "{err}");
        let err = TargetPolicy::parse("localhost").unwrap_err();
        assert!(err.to_string().contains("localhost"), "{err}");
    }

    #[test]
    fn check_ip_table() {
        use AddressClass::*;
        let cases: &[(&str, Option<AddressClass>)] = &[
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("::", Some(Unspecified)),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("::1", Some(Loopback)),
            ("10.0.0.1", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("192.168.1.1", Some(Private)),
            ("fc00::1", Some(Private)),
            ("fd12:3456::1", Some(Private)),
            ("100.64.0.1", Some(SharedNat)),
            ("100.127.255.255", Some(SharedNat)),
            ("169.254.1.1", Some(LinkLocal)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("fec0::1", Some(SiteLocal)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("ff02::1", Some(Multicast)),
            ("255.255.255.255", Some(Broadcast)),
            ("240.0.0.1", Some(Reserved)),
            ("192.0.2.10", Some(Documentation)),
            ("198.51.100.1", Some(Documentation)),
            ("203.0.113.5", Some(Documentation)),
            ("2001:db8::1", Some(Documentation)),
            ("198.18.0.1", Some(Benchmarking)),
            ("192.0.0.8", Some(ProtocolAssignment)),
            ("169.254.169.254", Some(CloudMetadata)),
            ("100.100.100.200", Some(CloudMetadata)),
            ("fd00:ec2::254", Some(CloudMetadata)),
            ("2001::1", Some(Teredo)),
            ("100::1", Some(Discard)),
            // Public addresses.
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("169.255.0.1", None),
            ("11.0.0.1", None),
            ("2606:4700::1111", None),
            ("2a00:1450::1", None),
        ];
        let policy = TargetPolicy::default();
        for (addr, expected) in cases {
            let got = blocked_class(ip(addr)).map(|(c, _)| c);
            assert_eq!(got, *expected, "{addr}");
            assert_eq!(
                policy.check_ip(ip(addr)).is_ok(),
                expected.is_none(),
                "{addr}"
            );
        }
    }

    #[test]
    fn embedded_ipv4_forms_are_judged_by_the_ipv4_address() {
        use AddressClass::*;
        let cases: &[(&str, Option<(AddressClass, &str)>)] = &[
            ("::ffff:10.0.0.1", Some((Private, "10.0.0.1"))),
            ("::ffff:127.0.0.1", Some((Loopback, "127.0.0.1"))),
            (
                "::ffff:169.254.169.254",
                Some((CloudMetadata, "169.254.169.254")),
            ),
            ("::ffff:0.0.0.0", Some((Unspecified, "0.0.0.0"))),
            ("::ffff:0:10.0.0.1", Some((Private, "10.0.0.1"))),
            ("::10.0.0.1", Some((Private, "10.0.0.1"))),
            ("::127.0.0.1", Some((Loopback, "127.0.0.1"))),
            ("::0.0.0.2", Some((Unspecified, "0.0.0.2"))),
            ("64:ff9b::10.0.0.1", Some((Private, "10.0.0.1"))),
            (
                "64:ff9b::a9fe:a9fe",
                Some((CloudMetadata, "169.254.169.254")),
            ),
            ("2002:a9fe:a9fe::", Some((CloudMetadata, "169.254.169.254"))),
            ("2002:7f00:1::1", Some((Loopback, "127.0.0.1"))),
            ("2002:c0a8:0101:1::1", Some((Private, "192.168.1.1"))),
            (
                "::ffff:100.100.100.200",
                Some((CloudMetadata, "100.100.100.200")),
            ),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::8.8.8.8", None),
            ("2002:0808:0808::1", None),
        ];
        for (addr, expected) in cases {
            let got = blocked_class(ip(addr));
            let expected = expected.map(|(c, v4)| (c, Some(v4.parse::<Ipv4Addr>().unwrap())));
            assert_eq!(got, expected, "{addr}");
        }
        assert_eq!(embedded_ipv4("::".parse().unwrap()), None);
        assert_eq!(embedded_ipv4("::1".parse().unwrap()), None);
        assert_eq!(embedded_ipv4("2606:4700::1111".parse().unwrap()), None);
    }

    #[test]
    fn allow_list_overrides_blocked_classes() {
        let p = TargetPolicy::parse("127.0.0.0/8, 10.0.0.0/8").unwrap();
        assert!(p.check_ip(ip("127.0.0.1")).is_ok());
        assert!(p.check_ip(ip("::ffff:127.0.0.1")).is_ok());
        assert!(p.check_ip(ip("10.9.9.9")).is_ok());
        assert!(p.check_ip(ip("::1")).is_err());
        assert!(p.check_ip(ip("192.168.0.1")).is_err());
        assert!(p.check_ip(ip("169.254.169.254")).is_err());
    }

    #[test]
    fn error_messages_say_why() {
        let p = TargetPolicy::default();
        let e = p.check_ip(ip("10.0.0.1")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "target 10.0.0.1 is a private address; blocked by the SSRF guard"
        );
        let e = p.check_ip(ip("::ffff:10.0.0.1")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "target ::ffff:10.0.0.1 embeds 10.0.0.1, a private address; blocked by the SSRF guard"
        );
        let e = p.check_ip(ip("169.254.169.254")).unwrap_err();
        assert!(e.to_string().contains("cloud metadata"), "{e}");
    }

    #[test]
    fn check_url_blocks_ip_literals_in_every_encoding() {
        let p = TargetPolicy::default();
        let blocked = [
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.0x0.0x0.0x1/",
            "http://0177.0.0.1/",
            "http://017700000001/",
            "http://127.1/",
            "http://127.0.1/",
            "http://0x7f.1/",
            "http://10.1/",
            "http://167772161/",
            "http://0xa9fea9fe/",
            "http://2852039166/",
            "http://0251.0376.0251.0376/",
            "http://0/",
            "http://0.0.0.0/",
            "http://127.0.0.1./",
            "https://100.100.100.200/",
            "http://[::]/",
            "http://[::1]/",
            "http://[0:0:0:0:0:0:0:1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[::ffff:127.0.0.1]:8080/",
            "http://[::127.0.0.1]/",
            "http://[::ffff:0:10.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::]/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "http://user:pass@10.0.0.1:80/",
        ];
        for raw in blocked {
            let url = Url::parse(raw).unwrap();
            let err = p.check_url(&url).unwrap_err();
            assert!(
                err.to_string().contains("blocked by the SSRF guard"),
                "{raw}: {err}"
            );
        }
    }

    #[test]
    fn check_url_scheme_and_host_rules() {
        let p = TargetPolicy::default();
        let check = |s: &str| p.check_url(&Url::parse(s).unwrap());
        assert!(matches!(
            check("ftp://example.com/"),
            Err(GuardError::Scheme(_))
        ));
        assert!(matches!(
            check("file:///etc/passwd"),
            Err(GuardError::Scheme(_))
        ));
        assert!(matches!(
            check("gopher://10.0.0.1/"),
            Err(GuardError::Scheme(_))
        ));
        // Public literals and domain names pass the URL check (no connection is made here);
        // domain names are checked by the resolver.
        assert!(check("http://8.8.8.8/").is_ok());
        assert!(check("https://[2606:4700::1111]/").is_ok());
        assert!(check("http://localhost:8080/").is_ok());
        // Allow-list applies to literals too.
        let allow = TargetPolicy::parse("127.0.0.0/8").unwrap();
        assert!(allow
            .check_url(&Url::parse("http://2130706433/").unwrap())
            .is_ok());
    }

    #[test]
    fn resolved_answers_fail_if_any_address_is_blocked() {
        let p = TargetPolicy::default();
        let sa = |s: &str| SocketAddr::new(ip(s), 0);
        assert!(p
            .check_resolved("a.test", vec![sa("8.8.8.8"), sa("2606:4700::1111")])
            .is_ok());
        let err = p
            .check_resolved("a.test", vec![sa("8.8.8.8"), sa("10.0.0.1")])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "target a.test (10.0.0.1) is a private address; blocked by the SSRF guard"
        );
        assert!(matches!(
            p.check_resolved("a.test", vec![]),
            Err(GuardError::NoAddresses(_))
        ));
    }
}
