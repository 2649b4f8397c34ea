//! Long-running operations: ARM answers `202` with `Location` / `Azure-AsyncOperation`
//! URLs that SDKs follow exactly as given. The gateway may follow (or rewrite) such a URL
//! only when it points back at the connection's own upstream; anything else would let an
//! upstream (or whoever forged its answer) steer the gateway, with credentials, elsewhere.

use url::{Host, Url};

use crate::error::PolicyError;

/// The connection's upstream, as polling URLs are compared to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    scheme: String,
    host: String,
    port: Option<u16>,
    allow_ip_literal: bool,
}

impl Upstream {
    /// The upstream's base URL, e.g. `https://management.azure.com/`.
    pub fn parse(base: &str) -> Result<Self, PolicyError> {
        let url = Url::parse(base)
            .map_err(|_| PolicyError::PollingUrlRefused("upstream base URL does not parse"))?;
        let host = url.host_str().ok_or(PolicyError::PollingUrlRefused("upstream base URL has no host"))?;
        Ok(Upstream {
            scheme: url.scheme().to_owned(),
            host: normalise_host(host),
            port: url.port_or_known_default(),
            allow_ip_literal: false,
        })
    }

    /// Permit an IP-literal upstream (only for sandboxes on loopback, where the fake ARM
    /// has no name). Polling URLs must still name exactly that address and port.
    pub fn allowing_ip_literal(mut self) -> Self {
        self.allow_ip_literal = true;
        self
    }
}

fn normalise_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// `Ok` when the polling URL may be followed: same scheme, host and port as the upstream,
/// no user info, and not an IP-literal address (unless the upstream itself is that IP
/// literal and was explicitly allowed). Relative URLs are not accepted: ARM sends absolute.
pub fn may_follow_polling_url(polling_url: &str, upstream: &Upstream) -> Result<(), PolicyError> {
    if polling_url.chars().any(|c| c.is_control() || c == '\\' || c.is_whitespace()) {
        return Err(PolicyError::PollingUrlRefused(
            "polling URL contains control characters, spaces or backslashes",
        ));
    }
    let url = Url::parse(polling_url)
        .map_err(|_| PolicyError::PollingUrlRefused("polling URL is not an absolute URL"))?;
    if url.scheme() != upstream.scheme {
        return Err(PolicyError::PollingUrlRefused("polling URL uses another scheme than the upstream"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(PolicyError::PollingUrlRefused("polling URL carries user info"));
    }
    let host = url.host().ok_or(PolicyError::PollingUrlRefused("polling URL has no host"))?;
    let name = match &host {
        Host::Domain(d) => normalise_host(d),
        Host::Ipv4(_) | Host::Ipv6(_) => {
            if !upstream.allow_ip_literal {
                return Err(PolicyError::PollingUrlRefused(
                    "polling URL names an IP address, not the upstream's host",
                ));
            }
            normalise_host(&host.to_string())
        }
    };
    if name != upstream.host {
        return Err(PolicyError::PollingUrlRefused("polling URL points at another host than the upstream"));
    }
    if url.port_or_known_default() != upstream.port {
        return Err(PolicyError::PollingUrlRefused("polling URL points at another port than the upstream"));
    }
    Ok(())
}
