//! Any polling URL: a URL that may be followed really names the upstream's host.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_policy::{may_follow_polling_url, Upstream};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(upstream) = Upstream::parse("https://management.azure.com/") else { return };
    if may_follow_polling_url(text, &upstream).is_ok() {
        let url = url::Url::parse(text).expect("an accepted URL parses");
        assert_eq!(url.scheme(), "https");
        assert_eq!(
            url.host_str().map(|h| h.trim_end_matches('.').to_ascii_lowercase()).as_deref(),
            Some("management.azure.com")
        );
        assert_eq!(url.port_or_known_default(), Some(443));
    }
});
