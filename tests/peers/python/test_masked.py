"""The Python Azure SDK through the gateway gets secrets masked: a deployment whose outputs
carry a storage connection string, and a storage account's listKeys, both read with the
SDK's own pipeline while the agent holds only its grant token. The real keys are in
PORTCULLIS_REAL_KEYS (comma-separated) so the test can prove none of them arrived."""
import json

from azure.core.rest import HttpRequest

from conftest import gateway_arm_client, need


def client():
    return gateway_arm_client()


def real_keys():
    return [k for k in need("PORTCULLIS_REAL_KEYS").split(",") if k]


def test_deployment_outputs_are_masked():
    # This azure-mgmt-resource has no deployments client; a deployment is a resource.
    sub, rg = need("PORTCULLIS_SUBSCRIPTION"), need("PORTCULLIS_RG")
    deployment_id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Resources/deployments/storage-setup"
    deployment = client().resources.get_by_id(deployment_id, api_version="2024-03-01")
    conn = deployment.properties["outputs"]["storageConnectionString"]["value"]
    assert "AccountName=" in conn, conn  # the shape survives: the agent can still read it
    for key in real_keys():
        assert key not in conn, "a real account key reached the agent"
    assert "REDACTED" in conn or "AccountKey=" not in conn, conn


def test_list_keys_is_masked():
    sub, rg, account = need("PORTCULLIS_SUBSCRIPTION"), need("PORTCULLIS_RG"), need("PORTCULLIS_ACCOUNT")
    url = (
        f"{need('PORTCULLIS_ARM_URL')}/subscriptions/{sub}/resourceGroups/{rg}/providers/"
        f"Microsoft.Storage/storageAccounts/{account}/listKeys?api-version=2023-05-01"
    )
    resp = client().send_request(HttpRequest("POST", url))
    assert resp.status_code == 200, resp.text()
    keys = json.loads(resp.text())["keys"]
    assert [k["keyName"] for k in keys] == ["key1", "key2"]
    for k in keys:
        assert k["value"] not in real_keys(), "a real account key reached the agent"
        assert "REDACTED" in k["value"], k["value"]
