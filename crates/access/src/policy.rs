//! Cedar access policies: who may request which level of which connection, who may
//! approve, what is approved automatically. Loaded from files named by config and
//! validated against the schema at load; decisions name the policies that made them.

use std::path::Path;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityId, EntityTypeName, EntityUid, PolicyId, PolicySet,
    Request, Schema, ValidationMode, Validator,
};
use serde_json::json;

use portcullis_identity::{Principal, PrincipalKind};

use crate::error::{AccessError, AccessReason};

/// The built-in schema (`policies/access.cedarschema`).
pub const SCHEMA: &str = include_str!("../policies/access.cedarschema");
/// The example policy set shipped with the crate (`policies/example.cedar`).
pub const EXAMPLE_POLICIES: &str = include_str!("../policies/example.cedar");

/// The action being decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessAction {
    /// Ask for access.
    Request,
    /// Approve someone's request.
    Approve,
    /// Approve automatically, without a person.
    AutoApprove,
}

impl AccessAction {
    fn name(self) -> &'static str {
        match self {
            AccessAction::Request => "request",
            AccessAction::Approve => "approve",
            AccessAction::AutoApprove => "auto_approve",
        }
    }
}

/// What a policy decision is about.
#[derive(Debug, Clone)]
pub struct PolicyInput<'a> {
    /// The caller: requester or approver.
    pub principal: &'a Principal,
    /// Connection name.
    pub connection: &'a str,
    /// Access level.
    pub level: &'a str,
    /// Requested duration.
    pub duration_secs: u64,
    /// The requester's principal key.
    pub requester: &'a str,
    /// The requester's kind (`agent` or `human`).
    pub requester_kind: &'a str,
    /// The time of the decision (UTC).
    pub now: time::OffsetDateTime,
}

/// The outcome: allowed or not, and which policies decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDecision {
    /// Whether Cedar allowed the action.
    pub allowed: bool,
    /// Ids (`@id` annotation, or `file:n`) of the policies that decided.
    pub policies: Vec<String>,
}

/// The loaded, validated access policies.
#[derive(Debug)]
pub struct AccessPolicy {
    schema: Schema,
    policies: PolicySet,
    authorizer: Authorizer,
}

fn config_err(m: String) -> AccessError {
    AccessError::new(AccessReason::Config, m)
}

impl AccessPolicy {
    /// Loads and validates policies from files; `schema` is the schema's text.
    pub fn load(files: &[impl AsRef<Path>], schema: &str) -> Result<Self, AccessError> {
        let mut sources = Vec::new();
        for f in files {
            let path = f.as_ref();
            let text = std::fs::read_to_string(path)
                .map_err(|e| config_err(format!("reading access policy {}: {e}", path.display())))?;
            sources.push((path.display().to_string(), text));
        }
        Self::from_sources(&sources, schema)
    }

    /// Loads `config.policy_files`, validated against `config.schema_file` or, when none is
    /// configured, the built-in [`SCHEMA`].
    pub fn from_config(config: &crate::AccessConfig) -> Result<Self, AccessError> {
        let schema = match &config.schema_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| config_err(format!("reading access policy schema {}: {e}", path.display())))?,
            None => SCHEMA.to_string(),
        };
        Self::load(&config.policy_files, &schema)
    }

    /// Parses and validates policy texts named `(origin, text)`.
    pub fn from_sources(sources: &[(String, String)], schema: &str) -> Result<Self, AccessError> {
        let (schema, _warnings) = Schema::from_cedarschema_str(schema)
            .map_err(|e| config_err(format!("access policy schema: {e}")))?;
        let mut policies = PolicySet::new();
        for (origin, text) in sources {
            let set = PolicySet::from_str(text).map_err(|e| config_err(format!("{origin}: {e}")))?;
            for (n, p) in set.policies().enumerate() {
                let id = p.annotation("id").map_or_else(|| format!("{origin}:{n}"), str::to_string);
                policies
                    .add(p.new_id(PolicyId::new(&id)))
                    .map_err(|e| config_err(format!("{origin}: policy {id}: {e}")))?;
            }
            if set.templates().next().is_some() {
                return Err(config_err(format!("{origin}: templates are not supported in access policies")));
            }
        }
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::default());
        if !result.validation_passed() {
            let errors: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
            return Err(config_err(format!(
                "access policies do not match the schema: {}",
                errors.join("; ")
            )));
        }
        Ok(AccessPolicy { schema, policies, authorizer: Authorizer::new() })
    }

    /// Decides `action` for `input`. Default deny: no permit means not allowed.
    pub fn decide(
        &self,
        action: AccessAction,
        input: &PolicyInput<'_>,
    ) -> Result<PolicyDecision, AccessError> {
        let perr = |m: String| AccessError::new(AccessReason::Policy, m);
        let uid = |ty: &str, id: &str| -> Result<EntityUid, AccessError> {
            let ty = EntityTypeName::from_str(ty).map_err(|e| perr(e.to_string()))?;
            Ok(EntityUid::from_type_name_and_id(ty, EntityId::new(id)))
        };
        let p = input.principal;
        let key = p.key();
        let kind = match p.kind {
            PrincipalKind::Agent => "agent",
            PrincipalKind::Human => "human",
        };
        let mut entities = vec![json!({
            "uid": {"type": "Portcullis::Principal", "id": key},
            "attrs": {"key": key, "kind": kind},
            "parents": p.groups.iter().map(|g| json!({"type": "Portcullis::Group", "id": g})).collect::<Vec<_>>(),
        })];
        for g in &p.groups {
            entities.push(json!({"uid": {"type": "Portcullis::Group", "id": g}, "attrs": {}, "parents": []}));
        }
        entities.push(json!({"uid": {"type": "Portcullis::Connection", "id": input.connection}, "attrs": {}, "parents": []}));
        let entities = Entities::from_json_value(serde_json::Value::Array(entities), Some(&self.schema))
            .map_err(|e| perr(format!("entities: {e}")))?;
        let action_uid = uid("Portcullis::Action", action.name())?;
        let context = Context::from_json_value(
            json!({
                "level": input.level,
                "duration_secs": i64::try_from(input.duration_secs).unwrap_or(i64::MAX),
                "requester": input.requester,
                "requester_kind": input.requester_kind,
                "hour": i64::from(input.now.hour()),
                "weekday": i64::from(input.now.weekday().number_from_monday()),
            }),
            Some((&self.schema, &action_uid)),
        )
        .map_err(|e| perr(format!("context: {e}")))?;
        let request = Request::new(
            uid("Portcullis::Principal", &key)?,
            action_uid,
            uid("Portcullis::Connection", input.connection)?,
            context,
            Some(&self.schema),
        )
        .map_err(|e| perr(format!("request: {e}")))?;
        let response = self.authorizer.is_authorized(&request, &self.policies, &entities);
        let errors: Vec<String> = response.diagnostics().errors().map(|e| e.to_string()).collect();
        if !errors.is_empty() {
            tracing::warn!(?errors, "access policy evaluation errors (treated as not matching)");
        }
        Ok(PolicyDecision {
            allowed: response.decision() == Decision::Allow,
            policies: response.diagnostics().reason().map(|id| id.to_string()).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(groups: &[&str]) -> Principal {
        Principal {
            issuer: "https://idp.test".into(),
            subject: "bot".into(),
            tenant: None,
            object_id: None,
            app_id: None,
            display_name: None,
            kind: PrincipalKind::Agent,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            roles: vec![],
            scopes: vec![],
            expires_at: 0,
            delegation: vec![],
            grant: None,
        }
    }

    fn input<'a>(p: &'a Principal, level: &'a str, now: time::OffsetDateTime) -> PolicyInput<'a> {
        PolicyInput {
            principal: p,
            connection: "prod",
            level,
            duration_secs: 900,
            requester: "https://idp.test#bot",
            requester_kind: "agent",
            now,
        }
    }

    fn example() -> AccessPolicy {
        AccessPolicy::from_sources(&[("example.cedar".into(), EXAMPLE_POLICIES.into())], SCHEMA).unwrap()
    }

    #[test]
    fn the_shipped_example_validates_and_decides_by_the_clock() {
        let policy = example();
        let agent = principal(&["agents"]);
        let tuesday_10 = time::macros::datetime!(2026-12-01 10:00 UTC);
        let sunday_10 = time::macros::datetime!(2026-11-29 10:00 UTC);
        let tuesday_20 = time::macros::datetime!(2026-12-01 20:00 UTC);
        let auto = |level, now| policy.decide(AccessAction::AutoApprove, &input(&agent, level, now)).unwrap();
        assert_eq!(
            auto("read", tuesday_10),
            PolicyDecision { allowed: true, policies: vec!["auto-read-working-hours".into()] }
        );
        assert!(!auto("read", sunday_10).allowed);
        assert!(!auto("read", tuesday_20).allowed);
        assert!(!auto("operate", tuesday_10).allowed);
        let request =
            |level| policy.decide(AccessAction::Request, &input(&agent, level, tuesday_10)).unwrap();
        assert!(request("operate").allowed);
        assert!(!request("admin").allowed, "agents may not ask for admin");
        let approve =
            |p: &Principal| policy.decide(AccessAction::Approve, &input(p, "read", tuesday_10)).unwrap();
        assert!(!approve(&agent).allowed);
        assert_eq!(approve(&principal(&["security"])).policies, vec!["security-approve".to_string()]);
    }

    #[test]
    fn policies_that_do_not_match_the_schema_are_refused_at_load() {
        let bad_attr = r#"permit (principal, action == Portcullis::Action::"request", resource) when { context.nope == 1 };"#;
        let err = AccessPolicy::from_sources(&[("bad.cedar".into(), bad_attr.into())], SCHEMA).unwrap_err();
        assert_eq!(err.reason, AccessReason::Config);
        assert!(err.message.contains("schema"), "{}", err.message);
        let syntax = "permit (principal, action, resource";
        let err = AccessPolicy::from_sources(&[("syntax.cedar".into(), syntax.into())], SCHEMA).unwrap_err();
        assert!(err.message.starts_with("syntax.cedar"), "{}", err.message);
        let err = AccessPolicy::load(&["/nonexistent/access.cedar"], SCHEMA).unwrap_err();
        assert!(err.message.contains("/nonexistent/access.cedar"), "{}", err.message);
    }

    #[test]
    fn config_names_the_policy_files_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("access.cedar");
        std::fs::write(&file, EXAMPLE_POLICIES).unwrap();
        let mut config = crate::AccessConfig::new("http://127.0.0.1:1");
        config.policy_files = vec![file];
        AccessPolicy::from_config(&config).unwrap();
        let schema = dir.path().join("empty.cedarschema");
        std::fs::write(&schema, "namespace Portcullis { entity Group; }").unwrap();
        config.schema_file = Some(schema);
        let err = AccessPolicy::from_config(&config).unwrap_err();
        assert_eq!(
            err.reason,
            AccessReason::Config,
            "policies must match the configured schema: {}",
            err.message
        );
    }

    #[test]
    fn no_policy_means_no_access() {
        let policy = AccessPolicy::from_sources(&[], SCHEMA).unwrap();
        let agent = principal(&["agents"]);
        let d = policy
            .decide(AccessAction::Request, &input(&agent, "read", time::OffsetDateTime::now_utc()))
            .unwrap();
        assert!(!d.allowed);
    }
}
