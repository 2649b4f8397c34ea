//! Deciding: classify, unpack hidden operations, match rules, fold to one decision.

use serde_json::Value;

use crate::azure::batch::{self, BatchRefusal};
use crate::azure::implied::{self, Implied};
use crate::azure::{classify, Access, AzureContext, AzureRequest};
use crate::decision::{Decision, Outcome};
use crate::facts::{RequestFacts, Subject};
use crate::matching::MatchInput;
use crate::ruleset::RuleSet;
use crate::summary;

/// How deep hidden operations may nest (batch → deployment → nested deployment → …).
const MAX_DEPTH: usize = 8;

/// How many hidden operations one request may unpack to in total, across all nesting
/// levels, so a small body cannot buy unbounded work.
const MAX_HIDDEN_TOTAL: usize = 2000;

/// The subject (lowercased once per decision) and the connection's Azure context.
struct Env<'a> {
    groups: Vec<String>,
    level: String,
    ctx: &'a AzureContext,
    /// Hidden operations decided so far for this request.
    hidden: std::cell::Cell<usize>,
}

impl RuleSet {
    /// Decide one request on an Azure Resource Manager connection.
    pub fn decide_azure(
        &self,
        req: &RequestFacts<'_>,
        subject: &Subject<'_>,
        ctx: &AzureContext,
    ) -> Decision {
        let env = Env {
            groups: subject.groups.iter().map(|g| g.to_ascii_lowercase()).collect(),
            level: subject.level.to_ascii_lowercase(),
            ctx,
            hidden: std::cell::Cell::new(0),
        };
        let body = self.parse_body(req.body);
        self.azure_request(req, body.as_ref(), &env, 0)
    }

    /// Decide one request on a generic HTTP connection (methods, paths, query, body).
    pub fn decide_http(&self, req: &RequestFacts<'_>, subject: &Subject<'_>) -> Decision {
        let groups: Vec<String> = subject.groups.iter().map(|g| g.to_ascii_lowercase()).collect();
        let level = subject.level.to_ascii_lowercase();
        let method = req.method.to_ascii_uppercase();
        let path_lower = req.path.to_ascii_lowercase();
        let body = self.parse_body(req.body);
        let input = MatchInput {
            method: &method,
            path_lower: &path_lower,
            action_lower: None,
            resource_lower: None,
            query: req.query,
            body: body.as_ref(),
            groups_lower: &groups,
            level_lower: &level,
        };
        let access = if matches!(method.as_str(), "GET" | "HEAD") { Access::Read } else { Access::Write };
        let mut decision = self.resolve(&input, access);
        decision.resource = Some(req.path.to_owned());
        decision.summary = summary::neutralise(&format!("{method} {}", req.path));
        decision
    }

    fn parse_body(&self, body: Option<&[u8]>) -> Option<Value> {
        serde_json::from_slice(body?).ok()
    }

    fn azure_request(
        &self,
        req: &RequestFacts<'_>,
        body: Option<&Value>,
        env: &Env<'_>,
        depth: usize,
    ) -> Decision {
        if batch::is_batch(req.method, req.path) {
            return self.batch(req, body, env, depth);
        }
        let classified = classify(req);
        self.classified(&classified, req.path, req.query, body, env, depth)
    }

    fn classified(
        &self,
        req: &AzureRequest,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
        env: &Env<'_>,
        depth: usize,
    ) -> Decision {
        let action_lower = req.action.as_ref().map(|a| a.to_ascii_lowercase());
        // Lowercase only what some rule looks at.
        let resource_lower = match &req.resource {
            Some(r) if self.uses_scopes => Some(r.id.to_ascii_lowercase()),
            _ => None,
        };
        let path_lower = if self.uses_paths { path.to_ascii_lowercase() } else { String::new() };
        let input = MatchInput {
            method: &req.method,
            path_lower: &path_lower,
            action_lower: action_lower.as_deref(),
            resource_lower: resource_lower.as_deref(),
            query,
            body,
            groups_lower: &env.groups,
            level_lower: &env.level,
        };
        let mut decision = self.resolve(&input, req.access);
        decision.action.clone_from(&req.action);
        decision.resource = req.resource.as_ref().map(|r| r.id.clone());
        decision.api_version.clone_from(&req.api_version);
        decision.summary = summary::azure(req, path);
        for hidden in implied::implied(req, body) {
            let inner = self.implied(hidden, env, depth + 1);
            decision.inner.push(inner);
        }
        decision.absorb_inner();
        decision
    }

    fn implied(&self, hidden: Implied, env: &Env<'_>, depth: usize) -> Decision {
        if depth > MAX_DEPTH {
            return refusal("builtin.too-deep", "operations nested deeper than allowed");
        }
        env.hidden.set(env.hidden.get() + 1);
        if env.hidden.get() > MAX_HIDDEN_TOTAL {
            return too_many();
        }
        match hidden {
            Implied::Write { path, body } => {
                let facts = RequestFacts { method: "PUT", path: &path, query: &[], body: None };
                let req = classify(&facts);
                self.classified(&req, &path, &[], Some(&body), env, depth)
            }
            Implied::CompleteDelete { scope } => {
                let facts = RequestFacts { method: "DELETE", path: &scope, query: &[], body: None };
                let mut req = classify(&facts);
                req.action = Some("Microsoft.Resources/subscriptions/resourceGroups/resources/delete".into());
                req.access = Access::Write;
                let mut decision = self.classified(&req, &scope, &[], None, env, depth);
                decision.summary = summary::neutralise(&format!(
                    "delete every resource in {scope} that the deployment template does not list (Complete mode)"
                ));
                decision
            }
            Implied::Uninspectable { what } => {
                let mut decision = self.resolve_unknown();
                decision.summary = what.to_owned();
                decision
            }
            Implied::TooMany => too_many(),
        }
    }

    fn batch(&self, req: &RequestFacts<'_>, body: Option<&Value>, env: &Env<'_>, depth: usize) -> Decision {
        let mut decision = Decision {
            outcome: Outcome::Allow,
            rule_id: None,
            action: None,
            resource: Some(req.path.to_owned()),
            api_version: req.query_value("api-version").map(str::to_owned),
            summary: String::new(),
            inner: Vec::new(),
            mask_profile: None,
        };
        match batch::unpack(body, &env.ctx.arm_origins) {
            Err(why) => {
                let refused = batch_refusal(why);
                decision.outcome = refused.outcome;
                decision.rule_id = refused.rule_id;
                decision.summary = refused.summary;
                return decision;
            }
            Ok(entries) => {
                for entry in entries {
                    let inner = match entry {
                        Err(why) => batch_refusal(why),
                        Ok(inner) => {
                            let facts = RequestFacts {
                                method: &inner.method,
                                path: &inner.path,
                                query: &inner.query,
                                body: inner.body.as_deref(),
                            };
                            let inner_body = self.parse_body(facts.body);
                            self.azure_request(&facts, inner_body.as_ref(), env, depth + 1)
                        }
                    };
                    decision.inner.push(inner);
                }
            }
        }
        let parts: Vec<&str> = decision.inner.iter().map(|d| d.summary.as_str()).collect();
        decision.summary =
            summary::neutralise(&format!("batch of {} requests: {}", decision.inner.len(), parts.join("; ")));
        decision.absorb_inner();
        decision
    }

    /// Match, or fall back to the defaults for this kind of access.
    fn resolve(&self, input: &MatchInput<'_>, access: Access) -> Decision {
        let mut decision = blank();
        match self.best_match(input) {
            Some(hit) => {
                decision.outcome = hit.rule.decision;
                decision.rule_id = Some(hit.rule.id.clone());
                decision.mask_profile.clone_from(&hit.rule.mask);
            }
            None => {
                decision.outcome = match access {
                    Access::Read => self.defaults.read,
                    Access::Write => self.defaults.write,
                    Access::Unknown => self.defaults.unknown,
                };
            }
        }
        decision
    }

    fn resolve_unknown(&self) -> Decision {
        let mut decision = blank();
        decision.outcome = self.defaults.unknown;
        decision
    }
}

fn blank() -> Decision {
    Decision {
        outcome: Outcome::Review,
        rule_id: None,
        action: None,
        resource: None,
        api_version: None,
        summary: String::new(),
        inner: Vec::new(),
        mask_profile: None,
    }
}

fn refusal(rule_id: &str, summary: &str) -> Decision {
    let mut decision = blank();
    decision.outcome = Outcome::Deny;
    decision.rule_id = Some(rule_id.to_owned());
    decision.summary = summary.to_owned();
    decision
}

fn too_many() -> Decision {
    refusal("builtin.too-many-hidden", "request hiding more operations than allowed")
}

fn batch_refusal(why: BatchRefusal) -> Decision {
    refusal(why.rule_id(), why.explain())
}
