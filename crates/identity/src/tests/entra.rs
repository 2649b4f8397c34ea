//! Entra ID rules: tid vs iss, tenant allow-list, multi-tenant templates, ver vs issuer
//! shape, a JWK's own issuer, group overage.

use serde_json::{json, Value};

use super::{Provider, AUD, RSA};
use crate::testkit::{entra_v2_claims, jwks};
use crate::{Authenticator, EntraConfig, IssuerConfig, Reason};

const TID: &str = "11111111-2222-3333-4444-555555555555";
const OTHER: &str = "99999999-2222-3333-4444-555555555555";

fn v2(tid: &str) -> String {
    format!("https://login.microsoftonline.com/{tid}/v2.0")
}

fn v1(tid: &str) -> String {
    format!("https://sts.windows.net/{tid}/")
}

async fn entra(issuer: &str, tenants: &[&str], keys: Value) -> (Provider, Authenticator) {
    let provider = Provider::start(Some(issuer), keys).await;
    let mut config: IssuerConfig = provider.config(issuer);
    config.entra = Some(EntraConfig {
        tenants: tenants.iter().map(|t| t.to_string()).collect(),
        ..EntraConfig::default()
    });
    let auth = Authenticator::new(vec![config], None).expect("config");
    (provider, auth)
}

fn patch(mut c: Value, changes: Value) -> Value {
    if let (Some(o), Some(ch)) = (c.as_object_mut(), changes.as_object()) {
        for (k, v) in ch {
            if v.is_null() {
                o.remove(k);
            } else {
                o.insert(k.clone(), v.clone());
            }
        }
    }
    c
}

#[tokio::test]
async fn v2_app_token_is_accepted() {
    let (_p, auth) = entra(&v2(TID), &[], jwks(&[&RSA])).await;
    let principal = auth.authenticate(&RSA.mint(&entra_v2_claims(TID, AUD))).await.expect("valid");
    assert_eq!(principal.tenant.as_deref(), Some(TID));
    assert_eq!(principal.app_id.as_deref(), Some("agent-app-id"));
    assert_eq!(principal.kind, crate::PrincipalKind::Agent);
}

#[tokio::test]
async fn v1_token_needs_ver_1() {
    let (_p, auth) = entra(&v1(TID), &[TID], jwks(&[&RSA])).await;
    let base = patch(
        entra_v2_claims(TID, AUD),
        json!({"iss": v1(TID), "ver": "1.0", "azp": null, "appid": "app-v1"}),
    );
    let principal = auth.authenticate(&RSA.mint(&base)).await.expect("v1 token");
    assert_eq!(principal.app_id.as_deref(), Some("app-v1"));
    let wrong = patch(base.clone(), json!({"ver": "2.0"}));
    assert_eq!(auth.authenticate(&RSA.mint(&wrong)).await.expect_err("ver").reason(), Reason::WrongVersion);
    let missing = patch(base, json!({"ver": null}));
    assert_eq!(
        auth.authenticate(&RSA.mint(&missing)).await.expect_err("no ver").reason(),
        Reason::WrongVersion
    );
}

#[tokio::test]
async fn v2_issuer_with_ver_1_is_refused() {
    let (_p, auth) = entra(&v2(TID), &[], jwks(&[&RSA])).await;
    let c = patch(entra_v2_claims(TID, AUD), json!({"ver": "1.0"}));
    assert_eq!(auth.authenticate(&RSA.mint(&c)).await.expect_err("ver").reason(), Reason::WrongVersion);
}

#[tokio::test]
async fn tid_must_agree_with_iss_even_without_a_tenant_list() {
    let (_p, auth) = entra(&v2(TID), &[], jwks(&[&RSA])).await;
    let c = patch(entra_v2_claims(TID, AUD), json!({"tid": OTHER}));
    assert_eq!(auth.authenticate(&RSA.mint(&c)).await.expect_err("tid").reason(), Reason::WrongTenant);
    let c = patch(entra_v2_claims(TID, AUD), json!({"tid": null}));
    assert_eq!(auth.authenticate(&RSA.mint(&c)).await.expect_err("no tid").reason(), Reason::MissingClaim);
}

#[tokio::test]
async fn multi_tenant_needs_the_allow_list() {
    let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
    let mut config = IssuerConfig::single(template, vec![AUD.into()], None);
    config.entra = Some(EntraConfig::default());
    config.jwks_uri = Some("https://login.microsoftonline.com/common/discovery/v2.0/keys".into());
    let errors = crate::validate_issuers(&[config], "identity.issuers").expect_err("no tenants");
    assert!(errors.iter().any(|e| e.key == "identity.issuers[0].entra.tenants"), "{errors:?}");

    let (_p, auth) = entra(template, &[TID], jwks(&[&RSA])).await;
    auth.authenticate(&RSA.mint(&entra_v2_claims(TID, AUD))).await.expect("allowed tenant");
    let other = entra_v2_claims(OTHER, AUD);
    assert_eq!(
        auth.authenticate(&RSA.mint(&other)).await.expect_err("other tenant").reason(),
        Reason::WrongTenant
    );
    let mixed = patch(entra_v2_claims(TID, AUD), json!({"iss": v2(OTHER)}));
    assert_eq!(
        auth.authenticate(&RSA.mint(&mixed)).await.expect_err("tid vs iss").reason(),
        Reason::WrongTenant
    );
}

#[tokio::test]
async fn a_jwk_issuer_must_agree_with_iss() {
    let mut key = RSA.jwk();
    key["issuer"] = json!("https://login.microsoftonline.com/{tenantid}/v2.0");
    let (_p, auth) = entra(&v2(TID), &[], json!({"keys": [key]})).await;
    auth.authenticate(&RSA.mint(&entra_v2_claims(TID, AUD))).await.expect("templated key issuer");
    let mut key = RSA.jwk();
    key["issuer"] = json!(v2(OTHER));
    let (_p, auth) = entra(&v2(TID), &[], json!({"keys": [key]})).await;
    let err =
        auth.authenticate(&RSA.mint(&entra_v2_claims(TID, AUD))).await.expect_err("key of another tenant");
    assert_eq!(err.reason(), Reason::UnknownIssuer);
}

#[tokio::test]
async fn group_overage_is_denied() {
    let (_p, auth) = entra(&v2(TID), &[], jwks(&[&RSA])).await;
    let overage = patch(
        entra_v2_claims(TID, AUD),
        json!({
            "_claim_names": {"groups": "src1"},
            "_claim_sources": {"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}}
        }),
    );
    assert_eq!(
        auth.authenticate(&RSA.mint(&overage)).await.expect_err("overage").reason(),
        Reason::GroupOverage
    );
    let implicit = patch(entra_v2_claims(TID, AUD), json!({"hasgroups": true}));
    assert_eq!(
        auth.authenticate(&RSA.mint(&implicit)).await.expect_err("hasgroups").reason(),
        Reason::GroupOverage
    );
}

#[tokio::test]
async fn the_arm_audience_alongside_ours_is_refused() {
    let (_p, auth) = entra(&v2(TID), &[], jwks(&[&RSA])).await;
    let c = patch(entra_v2_claims(TID, AUD), json!({"aud": [AUD, "https://management.azure.com"]}));
    assert_eq!(auth.authenticate(&RSA.mint(&c)).await.expect_err("ARM").reason(), Reason::WrongAudience);
}
