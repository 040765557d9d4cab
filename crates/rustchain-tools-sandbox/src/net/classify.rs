//! What kind of address an IP address is, for the SSRF checks.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// The kind of an IP address, as far as reaching it from a tool matters.
///
/// IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are
/// classified by the IPv4 address they carry, since that is where a
/// connection to them ends up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressClass {
    /// Globally routable unicast.
    Public,
    /// This machine: `127.0.0.0/8`, `::1`.
    Loopback,
    /// Private networks: RFC 1918 (`10/8`, `172.16/12`, `192.168/16`) and unique local `fc00::/7`.
    Private,
    /// Link-local: `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// Multicast: `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// The unspecified address `0.0.0.0` or `::` (a connection to it reaches this machine).
    Unspecified,
    /// The limited broadcast address `255.255.255.255`.
    Broadcast,
    /// A cloud instance metadata service (`169.254.169.254`, `169.254.170.2`, `100.100.100.200`, `fd00:ec2::254`).
    CloudMetadata,
    /// Carrier-grade NAT shared address space `100.64.0.0/10`.
    SharedAddressSpace,
    /// Documentation ranges: TEST-NET-1/2/3, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// Other special-purpose or unallocated ranges: `0.0.0.0/8`, `192.0.0.0/24`,
    /// benchmarking, `240.0.0.0/4`, IPv6 outside `2000::/3`, Teredo and the other
    /// IETF protocol assignments in `2001::/23`, and the like.
    Reserved,
}

impl AddressClass {
    /// A short name for messages, such as `link-local`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::Multicast => "multicast",
            Self::Unspecified => "unspecified",
            Self::Broadcast => "broadcast",
            Self::CloudMetadata => "cloud-metadata",
            Self::SharedAddressSpace => "shared-address-space (CGNAT)",
            Self::Documentation => "documentation",
            Self::Reserved => "reserved",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies an address; see [`AddressClass`] for the ranges.
///
/// ```
/// use rustchain_tools_sandbox::net::{classify, AddressClass};
///
/// assert_eq!(classify("169.254.169.254".parse().unwrap()), AddressClass::CloudMetadata);
/// assert_eq!(classify("::ffff:10.0.0.1".parse().unwrap()), AddressClass::Private);
/// assert_eq!(classify("93.184.216.34".parse().unwrap()), AddressClass::Public);
/// ```
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Instance metadata services reachable from cloud guests: AWS/GCP/Azure/OCI,
/// AWS ECS task metadata, Alibaba Cloud.
const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(100, 100, 100, 200),
];

/// AWS's IPv6 instance metadata service.
const METADATA_V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)];

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from_be_bytes(net) & mask
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    let [a, b, c, d, e, f, g, h] = net;
    u128::from(ip) & mask == u128::from(Ipv6Addr::new(a, b, c, d, e, f, g, h)) & mask
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_broadcast() {
        AddressClass::Broadcast
    } else if METADATA_V4.contains(&ip) {
        AddressClass::CloudMetadata
    } else if in_v4(ip, [127, 0, 0, 0], 8) {
        AddressClass::Loopback
    } else if in_v4(ip, [10, 0, 0, 0], 8)
        || in_v4(ip, [172, 16, 0, 0], 12)
        || in_v4(ip, [192, 168, 0, 0], 16)
    {
        AddressClass::Private
    } else if in_v4(ip, [100, 64, 0, 0], 10) {
        AddressClass::SharedAddressSpace
    } else if in_v4(ip, [169, 254, 0, 0], 16) {
        AddressClass::LinkLocal
    } else if in_v4(ip, [224, 0, 0, 0], 4) {
        AddressClass::Multicast
    } else if in_v4(ip, [192, 0, 2, 0], 24)
        || in_v4(ip, [198, 51, 100, 0], 24)
        || in_v4(ip, [203, 0, 113, 0], 24)
    {
        AddressClass::Documentation
    } else if in_v4(ip, [0, 0, 0, 0], 8)
        || in_v4(ip, [192, 0, 0, 0], 24)
        || in_v4(ip, [192, 88, 99, 0], 24)
        || in_v4(ip, [198, 18, 0, 0], 15)
        || in_v4(ip, [240, 0, 0, 0], 4)
    {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if METADATA_V6.contains(&ip) {
        AddressClass::CloudMetadata
    } else if let Some(v4) = embedded_ipv4(ip) {
        classify_v4(v4)
    } else if in_v6(ip, [0xff00, 0, 0, 0, 0, 0, 0, 0], 8) {
        AddressClass::Multicast
    } else if in_v6(ip, [0xfe80, 0, 0, 0, 0, 0, 0, 0], 10) {
        AddressClass::LinkLocal
    } else if in_v6(ip, [0xfc00, 0, 0, 0, 0, 0, 0, 0], 7) {
        AddressClass::Private
    } else if in_v6(ip, [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32)
        || in_v6(ip, [0x3fff, 0, 0, 0, 0, 0, 0, 0], 20)
    {
        AddressClass::Documentation
    } else if in_v6(ip, [0x2001, 0, 0, 0, 0, 0, 0, 0], 23)
        || !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3)
    {
        // 2001::/23 holds Teredo (an IPv4 tunnel), benchmarking and ORCHID;
        // outside 2000::/3 nothing is global unicast (site-local fec0::/10,
        // discard-only 100::/64, local-use NAT64 64:ff9b:1::/48, ...).
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

/// The IPv4 address an IPv6 address carries, where a connection to the IPv6
/// address reaches that IPv4 host: IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d` (not `::` or `::1`), NAT64 `64:ff9b::a.b.c.d`
/// and 6to4 `2002:aabb:ccdd::/48`.
///
/// ```
/// use rustchain_tools_sandbox::net::embedded_ipv4;
///
/// assert_eq!(embedded_ipv4("64:ff9b::10.0.0.1".parse().unwrap()), Some("10.0.0.1".parse().unwrap()));
/// assert_eq!(embedded_ipv4("2001:db8::1".parse().unwrap()), None);
/// ```
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    let mapped = in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96);
    let nat64 = in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
    let compatible = in_v6(ip, [0, 0, 0, 0, 0, 0, 0, 0], 96) && bits > 1;
    if mapped || nat64 || compatible {
        Some(low32)
    } else if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressClass::*;
    use proptest::prelude::*;

    const TABLE: &[(&str, AddressClass)] = &[
        // IPv4
        ("8.8.8.8", Public),
        ("93.184.216.34", Public),
        ("1.1.1.1", Public),
        ("172.32.0.1", Public),
        ("100.128.0.1", Public),
        ("192.0.1.1", Public),
        ("127.0.0.1", Loopback),
        ("127.255.255.254", Loopback),
        ("10.0.0.1", Private),
        ("10.255.255.255", Private),
        ("172.16.0.1", Private),
        ("172.31.255.255", Private),
        ("192.168.1.1", Private),
        ("169.254.0.1", LinkLocal),
        ("169.254.255.255", LinkLocal),
        ("224.0.0.1", Multicast),
        ("239.255.255.250", Multicast),
        ("0.0.0.0", Unspecified),
        ("255.255.255.255", Broadcast),
        ("169.254.169.254", CloudMetadata),
        ("169.254.170.2", CloudMetadata),
        ("100.100.100.200", CloudMetadata),
        ("100.64.0.1", SharedAddressSpace),
        ("100.127.255.255", SharedAddressSpace),
        ("192.0.2.1", Documentation),
        ("198.51.100.7", Documentation),
        ("203.0.113.200", Documentation),
        ("0.1.2.3", Reserved),
        ("192.0.0.8", Reserved),
        ("192.88.99.1", Reserved),
        ("198.18.0.1", Reserved),
        ("198.19.255.255", Reserved),
        ("240.0.0.1", Reserved),
        ("254.1.1.1", Reserved),
        // IPv6
        ("2606:4700:4700::1111", Public),
        ("2a00:1450:4001:80b::200e", Public),
        ("::1", Loopback),
        ("fc00::1", Private),
        ("fd12:3456::1", Private),
        ("fe80::1", LinkLocal),
        ("febf::1", LinkLocal),
        ("ff02::1", Multicast),
        ("ff0e::1", Multicast),
        ("::", Unspecified),
        ("fd00:ec2::254", CloudMetadata),
        ("2001:db8::1", Documentation),
        ("3fff::1", Documentation),
        ("2001::1", Reserved),
        ("2001:2::1", Reserved),
        ("fec0::1", Reserved),
        ("100::1", Reserved),
        ("64:ff9b:1::1", Reserved),
        ("4000::1", Reserved),
        ("::ffff:0:1.2.3.4", Reserved),
        // IPv6 that carries IPv4
        ("::ffff:127.0.0.1", Loopback),
        ("::ffff:10.0.0.1", Private),
        ("::ffff:169.254.169.254", CloudMetadata),
        ("::ffff:8.8.8.8", Public),
        ("::ffff:0.0.0.0", Unspecified),
        ("::ffff:255.255.255.255", Broadcast),
        ("::127.0.0.1", Loopback),
        ("::10.0.0.1", Private),
        ("::169.254.169.254", CloudMetadata),
        ("64:ff9b::127.0.0.1", Loopback),
        ("64:ff9b::a9fe:a9fe", CloudMetadata),
        ("64:ff9b::100.64.0.1", SharedAddressSpace),
        ("64:ff9b::8.8.8.8", Public),
        ("2002:7f00:1::", Loopback),
        ("2002:a00:1::1", Private),
        ("2002:a9fe:a9fe::", CloudMetadata),
        ("2002:c000:0201::", Documentation),
        ("2002:808:808::1", Public),
    ];

    #[test]
    fn every_class_in_both_families() {
        for (text, want) in TABLE {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(classify(ip), *want, "{text}");
        }
    }

    #[test]
    fn the_table_covers_every_class() {
        for class in [
            Public,
            Loopback,
            Private,
            LinkLocal,
            Multicast,
            Unspecified,
            Broadcast,
            CloudMetadata,
            SharedAddressSpace,
            Documentation,
            Reserved,
        ] {
            assert!(TABLE.iter().any(|(_, c)| *c == class), "{class} missing");
        }
    }

    #[test]
    fn plain_ipv6_carries_no_ipv4() {
        for text in ["2001:db8::1", "fe80::1", "::1", "::", "2606:4700::1"] {
            assert_eq!(embedded_ipv4(text.parse().unwrap()), None, "{text}");
        }
    }

    proptest! {
        #[test]
        fn mapped_ipv4_classifies_as_the_ipv4(bits in any::<u32>()) {
            let v4 = Ipv4Addr::from(bits);
            prop_assert_eq!(classify(IpAddr::V6(v4.to_ipv6_mapped())), classify(IpAddr::V4(v4)));
        }

        #[test]
        fn nat64_and_6to4_classify_as_the_ipv4(bits in any::<u32>(), tail in any::<u64>()) {
            let v4 = Ipv4Addr::from(bits);
            let nat64 = Ipv6Addr::from((0x0064_ff9b_u128 << 96) | u128::from(bits));
            prop_assert_eq!(classify(IpAddr::V6(nat64)), classify(IpAddr::V4(v4)));
            let six_to_four = Ipv6Addr::from((0x2002_u128 << 112) | (u128::from(bits) << 80) | u128::from(tail));
            prop_assert_eq!(classify(IpAddr::V6(six_to_four)), classify(IpAddr::V4(v4)));
        }
    }
}
