//! Steps 5–6 of the pipeline: classify the canonical request and decide it by the
//! guardrail rules (`portcullis-policy`). `portcullis policy check` calls the same
//! function, so an operator's offline check and the gateway can never disagree.

use std::sync::{Arc, RwLock};

use portcullis_audit::Outcome;
use portcullis_canonical::CanonicalTarget;
use portcullis_policy::{
    parse_file, AzureContext, Decision, RequestFacts, RuleSet, Subject, AZURE_DEFAULT_RULES,
};

use serde::Serialize;

use crate::config::{ConnectionConfig, ConnectionKind};

/// The name of the shipped Azure rule pack in a connection's `rules`.
pub const AZURE_DEFAULT: &str = "azure-default";

/// The rule sources a connection names: `rules` as configured, or the Azure pack for an
/// `azure-arm` connection that says nothing. Empty: guardrails off.
pub(crate) fn rule_sources(c: &ConnectionConfig) -> Vec<String> {
    match &c.rules {
        Some(r) => r.clone(),
        None if c.kind == ConnectionKind::AzureArm => vec![AZURE_DEFAULT.to_owned()],
        None => Vec::new(),
    }
}

/// A compiled rule set and what it was compiled from.
#[derive(Debug)]
pub(crate) struct LoadedRules {
    pub(crate) set: RuleSet,
    /// SHA-256 (hex) over every source's name and text, in order: what an auditor
    /// compares to know which rules decided.
    pub(crate) digest: String,
}

/// Reads and compiles `sources` (the shipped pack by name, files by path). `None` when
/// there are none (guardrails off).
pub(crate) fn load(sources: &[String]) -> Result<Option<LoadedRules>, String> {
    if sources.is_empty() {
        return Ok(None);
    }
    let mut files = Vec::new();
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for name in sources {
        let text = if name == AZURE_DEFAULT {
            AZURE_DEFAULT_RULES.to_owned()
        } else {
            std::fs::read_to_string(name).map_err(|e| format!("{name}: {e}"))?
        };
        for part in [name.as_bytes(), text.as_bytes()] {
            digest.update(&(part.len() as u64).to_be_bytes());
            digest.update(part);
        }
        files.push(parse_file(name, &text).map_err(|e| e.to_string())?);
    }
    let set = RuleSet::compile(files).map_err(|e| e.to_string())?;
    Ok(Some(LoadedRules { set, digest: hex::encode(digest.finish()) }))
}

/// A connection's rules in force. Reading is a lock and an `Arc` clone; a reload swaps
/// the whole set at once, so a request is decided by one version, never a mix.
#[derive(Debug, Default)]
pub(crate) struct RulesSlot(RwLock<Option<Arc<LoadedRules>>>);

impl RulesSlot {
    pub(crate) fn new(rules: Option<LoadedRules>) -> Self {
        RulesSlot(RwLock::new(rules.map(Arc::new)))
    }

    /// The rules in force, `None` when guardrails are off for the connection.
    pub(crate) fn current(&self) -> Option<Arc<LoadedRules>> {
        match self.0.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, rules: Option<LoadedRules>) {
        let new = rules.map(Arc::new);
        match self.0.write() {
            Ok(mut w) => *w = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }
}

/// One connection's rules as `GET /api/v1/rules` and a reload report them.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionRules {
    /// The connection.
    pub connection: String,
    /// The rule sources, in order (`azure-default` or file paths).
    pub sources: Vec<String>,
    /// How many rules are in force (0 with guardrails off).
    pub rules: usize,
    /// SHA-256 of the sources, `None` with guardrails off.
    pub digest: Option<String>,
}

impl ConnectionRules {
    fn of(connection: &str, sources: &[String], rules: Option<&LoadedRules>) -> Self {
        ConnectionRules {
            connection: connection.to_owned(),
            sources: sources.to_vec(),
            rules: rules.map_or(0, |r| r.set.len()),
            digest: rules.map(|r| r.digest.clone()),
        }
    }
}

/// Every connection's guardrail rules, and their reload: each connection's rule sources
/// are read and compiled again, and only if *every* one compiles are they all swapped in
/// at once. Either way the attempt is an audited `config_reload` event (`what = "rules"`),
/// so the log says which rules decided each request after it. Which sources a connection
/// names is fixed at start (changing `rules = [...]` needs a restart).
pub(crate) struct GuardrailRules {
    connections: Vec<(Arc<crate::route::Connection>, Vec<String>)>,
    audit: Arc<portcullis_audit::AuditLog>,
    reloading: tokio::sync::Mutex<()>,
}

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum RulesReloadError {
    /// A source could not be read or compiled; the rules in force stay.
    #[error("the rules were not reloaded: {0}")]
    Invalid(String),
    /// The reload could not be recorded, so it was not applied.
    #[error("the rules were not reloaded: the audit log refused the event: {0}")]
    Audit(portcullis_audit::AuditError),
}

impl GuardrailRules {
    pub(crate) fn new(
        connections: Vec<(Arc<crate::route::Connection>, Vec<String>)>,
        audit: Arc<portcullis_audit::AuditLog>,
    ) -> Self {
        GuardrailRules { connections, audit, reloading: tokio::sync::Mutex::new(()) }
    }

    /// The rules in force, per connection, in configuration order.
    pub(crate) fn status(&self) -> Vec<ConnectionRules> {
        self.connections
            .iter()
            .map(|(c, sources)| ConnectionRules::of(&c.name, sources, c.rules.current().as_deref()))
            .collect()
    }

    /// Records the rules loaded at start (one `config_reload` event).
    pub(crate) async fn record_start(&self) -> Result<(), portcullis_audit::AuditError> {
        let status = self.status();
        self.audit.append(reload_event("start", Outcome::Success, Some(&status), None)).await.map(|_| ())
    }

    /// Reads and compiles every connection's sources again and swaps them in, all or
    /// none. The event, naming `by` (who asked: `signal`, or the caller of the API), is
    /// durable before the new rules decide anything.
    pub(crate) async fn reload(&self, by: &str) -> Result<Vec<ConnectionRules>, RulesReloadError> {
        let _one_at_a_time = self.reloading.lock().await;
        let mut loaded = Vec::with_capacity(self.connections.len());
        let mut problems = Vec::new();
        for (c, sources) in &self.connections {
            match load(sources) {
                Ok(rules) => loaded.push(rules),
                Err(e) => problems.push(format!("connection {}: {e}", c.name)),
            }
        }
        if !problems.is_empty() {
            let detail = problems.join("; ");
            tracing::error!(%detail, "guardrail rules not reloaded; the rules in force stay");
            let event = reload_event(by, Outcome::Failure, None, Some(detail.clone()));
            self.audit.append(event).await.map_err(RulesReloadError::Audit)?;
            return Err(RulesReloadError::Invalid(detail));
        }
        let status: Vec<ConnectionRules> = self
            .connections
            .iter()
            .zip(&loaded)
            .map(|((c, sources), rules)| ConnectionRules::of(&c.name, sources, rules.as_ref()))
            .collect();
        let event = reload_event(by, Outcome::Success, Some(&status), None);
        self.audit.append(event).await.map_err(RulesReloadError::Audit)?;
        for ((c, _), rules) in self.connections.iter().zip(loaded) {
            c.rules.replace(rules);
        }
        tracing::info!(connections = status.len(), "guardrail rules reloaded");
        Ok(status)
    }
}

/// The `config_reload` event: `digest` over every connection's digest, `detail` naming
/// who asked and each connection's rule count and digest (or why the reload was refused).
fn reload_event(
    by: &str,
    outcome: Outcome,
    status: Option<&[ConnectionRules]>,
    refused: Option<String>,
) -> portcullis_audit::AuditEvent {
    let (digest, detail) = match status {
        Some(status) => {
            let mut all = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
            let mut lines = Vec::new();
            for c in status {
                let d = c.digest.as_deref().unwrap_or("off");
                all.update(format!("{}\0{d}\n", c.connection).as_bytes());
                lines.push(format!("{}: {} rules ({d})", c.connection, c.rules));
            }
            (Some(hex::encode(all.finish())), Some(format!("by {by}: {}", lines.join("; "))))
        }
        None => (None, refused.map(|r| format!("by {by}: {r}"))),
    };
    portcullis_audit::AuditEvent::now(portcullis_audit::EventDetail::ConfigReload {
        what: "rules".into(),
        outcome,
        digest,
        detail,
    })
}

/// How a connection's requests are classified.
pub(crate) fn kind_of(c: &ConnectionConfig) -> Kind {
    match c.kind {
        ConnectionKind::AzureArm => {
            let origin = crate::route::origin(&c.upstream);
            let mut origins = vec!["https://management.azure.com".to_owned()];
            if !origins.contains(&origin) {
                origins.push(origin);
            }
            Kind::Azure { arm_origins: origins }
        }
        _ => Kind::Http,
    }
}

/// How a connection's requests are decided.
#[derive(Debug, Clone)]
pub enum Kind {
    /// Azure Resource Manager: classified into resource ids and RBAC actions; absolute
    /// URLs in `$batch` bodies must point at one of these origins.
    Azure {
        /// ARM's origins as the agent addresses them.
        arm_origins: Vec<String>,
    },
    /// Any HTTP API: rules on method, path, query and JSON body fields.
    Http,
}

/// Decides one request. `target` is the canonical target after the connection prefix;
/// `body` is the (size-limited) JSON body when available.
pub fn decide(
    rules: &RuleSet,
    kind: &Kind,
    method: &str,
    target: &CanonicalTarget,
    body: Option<&[u8]>,
    groups: &[String],
    level: &str,
) -> Decision {
    let path = target.path();
    let query: Vec<(String, String)> =
        target.query().iter().map(|(k, v)| (k.clone(), v.clone().unwrap_or_default())).collect();
    let facts = RequestFacts { method, path: &path, query: &query, body };
    let subject = Subject { groups, level };
    match kind {
        Kind::Azure { arm_origins } => {
            let ctx = if arm_origins.is_empty() {
                AzureContext::default()
            } else {
                AzureContext { arm_origins: arm_origins.clone() }
            };
            rules.decide_azure(&facts, &subject, &ctx)
        }
        Kind::Http => rules.decide_http(&facts, &subject),
    }
}
