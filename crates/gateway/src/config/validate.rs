//! Checks that go beyond types: the rules a config must keep to start safely.

use std::collections::HashSet;

use super::{Config, ListenerConfig};

/// Connection names the data listener keeps for itself.
const RESERVED_NAMES: &[&str] = &["metadata", "msi", "api", "healthz", "readyz", "metrics"];

impl Config {
    /// Returns every problem as (dotted key, reason); empty means valid.
    pub(crate) fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut bad = |key: String, reason: String| problems.push((key, reason));

        let listeners = [
            ("listeners.data", Some(&self.listeners.data)),
            ("listeners.control", Some(&self.listeners.control)),
            ("listeners.tunnel", self.listeners.tunnel.as_ref()),
        ];
        // The tunnel is always TLS (with a generated certificate when none is configured).
        for (key, listener) in listeners.into_iter().filter(|(k, _)| *k != "listeners.tunnel") {
            if let Some(ListenerConfig { addr, tls: None }) = listener {
                if !addr.ip().is_loopback() {
                    bad(
                        format!("{key}.addr"),
                        format!(
                            "{addr} is not a loopback address and no TLS is configured: agents' tokens would \
                             cross the network in clear text; set {key}.tls or listen on 127.0.0.1"
                        ),
                    );
                }
            }
        }

        if let Err(errors) = portcullis_identity::validate_issuers(&self.identity.issuers, "identity.issuers")
        {
            for e in errors {
                bad(e.key, e.reason);
            }
        }
        let exposed = !self.listeners.data.addr.ip().is_loopback();
        if exposed && self.identity.issuers.is_empty() {
            bad(
                "identity.issuers".into(),
                "the data listener is not on loopback, so agents must authenticate: configure at least one \
                 [[identity.issuers]]"
                    .into(),
            );
        }

        if let Some(access) = &self.access {
            for name in access.connections.keys() {
                if !self.connections.iter().any(|c| &c.name == name) {
                    bad(
                        format!("access.connections.{name}"),
                        format!("there is no connection named `{name}`"),
                    );
                }
            }
        }

        let l = &self.limits;
        if l.max_header_bytes.0 < 8192 {
            bad("limits.max_header_bytes".into(), "must be at least 8KiB".into());
        }
        if l.max_headers == 0 {
            bad("limits.max_headers".into(), "must be at least 1".into());
        }
        if l.max_uri_len < 256 {
            bad("limits.max_uri_len".into(), "must be at least 256".into());
        }
        if l.h2_max_concurrent_streams == 0 {
            bad("limits.h2_max_concurrent_streams".into(), "must be at least 1".into());
        }
        if l.max_connections == 0 {
            bad("limits.max_connections".into(), "must be at least 1".into());
        }

        let mut names = HashSet::new();
        let mut hosts = HashSet::new();
        for (i, c) in self.connections.iter().enumerate() {
            let key = |field: &str| format!("connections[{i}].{field}");
            let valid_name = !c.name.is_empty()
                && c.name.len() <= 63
                && c.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !c.name.starts_with('-');
            if !valid_name {
                bad(key("name"), format!("`{}` must be 1-63 lowercase letters, digits or '-'", c.name));
            } else if RESERVED_NAMES.contains(&c.name.as_str()) {
                bad(key("name"), format!("`{}` is reserved by the gateway; choose another name", c.name));
            } else if !names.insert(c.name.as_str()) {
                bad(key("name"), format!("`{}` is used by an earlier connection", c.name));
            }
            let u = &c.upstream;
            if !matches!(u.scheme(), "http" | "https") {
                bad(
                    key("upstream"),
                    format!("scheme `{}` is not supported; use https:// (or http://)", u.scheme()),
                );
            }
            if u.host_str().is_none() {
                bad(key("upstream"), "must name a host".into());
            }
            if !u.username().is_empty() || u.password().is_some() {
                bad(
                    key("upstream"),
                    "must not carry credentials: the gateway never holds a target's secret (the connector does)"
                        .into(),
                );
            }
            if u.query().is_some() || u.fragment().is_some() {
                bad(key("upstream"), "must not have a query or fragment".into());
            }
            if let Some(name) = c.remote_connector() {
                if !valid_connector_name(name) {
                    bad(
                        key("connector"),
                        format!(
                            "`{name}` is not a connector name (letters, digits, `-`, `_`, `.`; at most 64)"
                        ),
                    );
                }
                if self.listeners.tunnel.is_none() {
                    bad(
                        key("connector"),
                        format!(
                            "remote connector `{name}` needs [listeners.tunnel] for it to attach to \
                             (or use connector = \"embedded\" with a credential)"
                        ),
                    );
                }
                if c.credential.is_some() {
                    bad(
                        key("credential"),
                        format!(
                            "connection served by remote connector `{name}`: its credential belongs in the \
                             connector's own config, never on the gateway"
                        ),
                    );
                }
            }
            if c.connector.as_deref() == Some(super::EMBEDDED_CONNECTOR) && c.credential.is_none() {
                bad(
                    key("credential"),
                    "the embedded connector needs a credential to inject, e.g. credential = { kind = \
                     \"entra-client-secret\", tenant = …, client_id = …, secret_file = …, scope = … }"
                        .into(),
                );
            }
            for (j, h) in c.hosts.iter().enumerate() {
                let valid = !h.is_empty()
                    && h.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':'))
                    && h.to_ascii_lowercase() == *h;
                if !valid {
                    bad(
                        format!("connections[{i}].hosts[{j}]"),
                        format!("`{h}` is not a lowercase host name"),
                    );
                } else if !hosts.insert(h.as_str()) {
                    bad(
                        format!("connections[{i}].hosts[{j}]"),
                        format!("`{h}` is claimed by another connection"),
                    );
                }
            }
        }
        problems
    }
}

/// Connector names as the tunnel pins them.
fn valid_connector_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
