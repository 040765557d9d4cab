//! Every spelling of an internal address in a URL is normalized by the URL
//! parser and refused before anything is sent.

use std::net::IpAddr;

use rustchain_tools_sandbox::SandboxError;
use rustchain_tools_sandbox::net::{
    AddressClass, FetchLimits, FetchRequest, HttpFetcher, NetPolicy,
};

async fn refusal(url: &str) -> (IpAddr, AddressClass, String) {
    let fetcher = HttpFetcher::new(NetPolicy::default(), FetchLimits::default()).unwrap();
    match fetcher.fetch(FetchRequest::get(url)).await {
        Err(err @ SandboxError::AddressRefused { address, class, .. }) => {
            (address, class, err.to_string())
        }
        other => panic!("{url} was not refused for its address: {other:?}"),
    }
}

#[tokio::test]
async fn alternate_spellings_of_loopback_are_refused() {
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    for url in [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f.1/",
        "http://0x7f000001/",
        "http://017700000001/",
        "http://127.1/",
        "http://127.0.1/",
        "http://127.000.000.001/",
        "http://127.0.0.1./",
        "http://%31%32%37.0.0.1/",
        "http://\u{ff11}\u{ff12}\u{ff17}.0.0.1/",
        "http://user:pw@127.0.0.1:80/",
        "HTTP://127.0.0.1/",
    ] {
        let (address, class, message) = refusal(url).await;
        assert_eq!(
            (address, class),
            (loopback, AddressClass::Loopback),
            "{url}"
        );
        assert!(message.contains("allow_loopback"), "{url}: {message}");
    }
}

#[tokio::test]
async fn bracketed_ipv6_and_embedded_ipv4_are_refused() {
    for (url, class) in [
        ("http://[::1]/", AddressClass::Loopback),
        ("http://[0:0:0:0:0:0:0:1]/", AddressClass::Loopback),
        ("http://[::ffff:127.0.0.1]/", AddressClass::Loopback),
        ("http://[::ffff:7f00:1]/", AddressClass::Loopback),
        ("http://[::127.0.0.1]/", AddressClass::Loopback),
        ("http://[64:ff9b::127.0.0.1]/", AddressClass::Loopback),
        ("http://[2002:7f00:1::]/", AddressClass::Loopback),
        ("http://[::ffff:10.0.0.1]/", AddressClass::Private),
        ("http://[fd00::1]/", AddressClass::Private),
        ("http://[fe80::1]/", AddressClass::LinkLocal),
        ("http://[fd00:ec2::254]/", AddressClass::CloudMetadata),
        ("http://[::ffff:a9fe:a9fe]/", AddressClass::CloudMetadata),
        ("http://[::]/", AddressClass::Unspecified),
    ] {
        assert_eq!(refusal(url).await.1, class, "{url}");
    }
}

#[tokio::test]
async fn other_internal_ipv4_spellings_are_refused() {
    for (url, class) in [
        (
            "http://169.254.169.254/latest/meta-data/",
            AddressClass::CloudMetadata,
        ),
        ("http://0xa9fea9fe/", AddressClass::CloudMetadata),
        ("http://2852039166/", AddressClass::CloudMetadata),
        ("http://100.100.100.200/", AddressClass::CloudMetadata),
        ("http://0/", AddressClass::Unspecified),
        ("http://0.0.0.0/", AddressClass::Unspecified),
        ("http://10.1/", AddressClass::Private),
        ("http://012.0.0.1/", AddressClass::Private),
        ("http://192.168.0x1.1/", AddressClass::Private),
        ("http://100.64.0.1/", AddressClass::SharedAddressSpace),
        ("http://224.0.0.1/", AddressClass::Multicast),
        ("http://255.255.255.255/", AddressClass::Broadcast),
        ("http://192.0.2.1/", AddressClass::Documentation),
        ("http://240.0.0.1/", AddressClass::Reserved),
    ] {
        assert_eq!(refusal(url).await.1, class, "{url}");
    }
}

#[tokio::test]
async fn localhost_by_name_is_refused_after_resolution() {
    let (address, class, message) = refusal("http://localhost/").await;
    assert!(address.is_loopback(), "{address}");
    assert_eq!(class, AddressClass::Loopback);
    assert!(message.contains("`localhost`"), "{message}");
}

#[tokio::test]
async fn unsupported_or_malformed_urls_are_refused() {
    let fetcher = HttpFetcher::new(NetPolicy::default(), FetchLimits::default()).unwrap();
    for url in [
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "ftp://example.com/",
        "not a url",
        "/relative/path",
        "http://example.com:22/",
        "http://[::1/",
        "http://0x100000000/",
    ] {
        let err = fetcher.fetch(FetchRequest::get(url)).await.unwrap_err();
        assert!(
            matches!(err, SandboxError::UrlRefused { .. }),
            "{url}: {err}"
        );
    }
}
