//! Long-running-operation polling URLs are followed only back to the upstream.

use portcullis_policy::{may_follow_polling_url, PolicyErrorCode, Upstream};

#[test]
fn polling_urls_on_the_upstream_host_may_be_followed() {
    let arm = Upstream::parse("https://management.azure.com/").expect("upstream");
    for url in [
        "https://management.azure.com/subscriptions/s/operationresults/eyJ?api-version=2021-04-01",
        "https://MANAGEMENT.azure.com./subscriptions/s/providers/Microsoft.Compute/locations/westeurope/operations/1",
        "https://management.azure.com:443/subscriptions/s/operationresults/x",
    ] {
        assert!(may_follow_polling_url(url, &arm).is_ok(), "{url}");
    }
}

#[test]
fn polling_urls_pointing_elsewhere_are_refused() {
    let arm = Upstream::parse("https://management.azure.com/").expect("upstream");
    for url in [
        "https://evil.example.com/subscriptions/s/operationresults/x",
        "https://management.azure.com.evil.example.com/x",
        "https://management.azure.com@evil.example.com/x",
        "https://user:pw@management.azure.com/x",
        "http://management.azure.com/x",
        "https://management.azure.com:8443/x",
        "https://169.254.169.254/metadata/identity/oauth2/token",
        "https://2852039166/metadata",
        "https://[::1]/x",
        "https://127.0.0.1/x",
        "https://management.azure.com\\@evil.example.com/x",
        "https://management.azure.com/x\r\nHost: evil",
        "/subscriptions/s/operationresults/x",
        "file:///etc/passwd",
    ] {
        let err = may_follow_polling_url(url, &arm).expect_err(url);
        assert_eq!(err.code(), PolicyErrorCode::PollingUrlRefused, "{url}");
    }
}

#[test]
fn an_ip_literal_upstream_must_be_allowed_explicitly_and_matched_exactly() {
    let sandbox = Upstream::parse("http://127.0.0.1:41234/").expect("upstream");
    assert!(may_follow_polling_url("http://127.0.0.1:41234/op/1", &sandbox).is_err());
    let sandbox = sandbox.allowing_ip_literal();
    assert!(may_follow_polling_url("http://127.0.0.1:41234/op/1", &sandbox).is_ok());
    assert!(may_follow_polling_url("http://127.0.0.1:41235/op/1", &sandbox).is_err());
    assert!(may_follow_polling_url("http://169.254.169.254:41234/op/1", &sandbox).is_err());
    assert!(may_follow_polling_url("http://localhost:41234/op/1", &sandbox).is_err());
}
