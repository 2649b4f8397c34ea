"""azure-mgmt-resource + azure-identity against the fake ARM and the fake Entra ID's
App Service managed-identity endpoint: list (nextLink paging), create, delete (LRO
polling) resource groups, and storage listKeys."""
import base64

import pytest
from azure.core.exceptions import ResourceNotFoundError, HttpResponseError
from azure.core.rest import HttpRequest
from azure.identity import ManagedIdentityCredential
from azure.mgmt.resource.resources import ResourceManagementClient

from conftest import AllowPlainHttpBearer, need


@pytest.fixture(scope="module")
def client():
    need("IDENTITY_ENDPOINT")
    need("IDENTITY_HEADER")
    credential = ManagedIdentityCredential()
    return ResourceManagementClient(
        credential,
        need("PORTCULLIS_SUBSCRIPTION"),
        base_url=need("PORTCULLIS_ARM_URL"),
        per_call_policies=[AllowPlainHttpBearer()],
        polling_interval=0,
    )


def test_create_list_and_delete_resource_groups(client):
    names = [f"rg-interop-{i}" for i in range(5)]
    for name in names:
        group = client.resource_groups.create_or_update(name, {"location": "westeurope", "tags": {"case": "interop"}})
        assert group.name == name
        assert group.properties.provisioning_state == "Succeeded"

    listed = [g.name for g in client.resource_groups.list()]
    for name in names:
        assert name in listed, f"{name} missing from {listed}"
    assert len(listed) == len(set(listed)), f"a page was listed twice: {listed}"
    assert len(listed) >= 5

    # ARM is case-insensitive.
    assert client.resource_groups.get("RG-INTEROP-0").name == "rg-interop-0"

    poller = client.resource_groups.begin_delete("rg-interop-0")
    poller.result()
    assert poller.status().lower() == "succeeded"
    assert client.resource_groups.check_existence("rg-interop-0") is False
    assert client.resource_groups.check_existence("rg-interop-1") is True


def test_missing_resource_group_is_arm_error(client):
    with pytest.raises(ResourceNotFoundError) as caught:
        client.resource_groups.get("rg-does-not-exist")
    assert caught.value.error.code == "ResourceGroupNotFound"


def test_storage_list_keys(client):
    sub = need("PORTCULLIS_SUBSCRIPTION")
    rg = need("PORTCULLIS_STORAGE_RG")
    account = need("PORTCULLIS_STORAGE_ACCOUNT")
    request = HttpRequest(
        "POST",
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{account}/listKeys",
        params={"api-version": "2023-05-01"},
    )
    response = client.send_request(request)
    response.raise_for_status()
    keys = response.json()["keys"]
    assert [k["keyName"] for k in keys] == ["key1", "key2"]
    for key in keys:
        assert len(key["value"]) == 88
        assert len(base64.b64decode(key["value"])) == 64
    assert keys[0]["value"] == need("PORTCULLIS_EXPECTED_KEY1")


def test_wrong_api_version_is_rejected(client):
    request = HttpRequest("GET", f"/subscriptions/{need('PORTCULLIS_SUBSCRIPTION')}/resourcegroups")
    response = client.send_request(request)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MissingApiVersionParameter"


def test_deployment_long_running_operation_returns_outputs(client):
    client.resource_groups.create_or_update("rg-deploy", {"location": "westeurope"})
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01", "name": "stdeployed", "location": "westeurope"}
        ],
        "outputs": {
            "key": {
                "type": "string",
                "value": "[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'stdeployed'), '2023-05-01').keys[0].value]",
            },
            "hidden": {"type": "securestring", "value": "never returned"},
        },
    }
    # azure-mgmt-resource 26 moved deployments to another package; the generic resource
    # operations drive the same ARM long-running-operation protocol.
    sub = need("PORTCULLIS_SUBSCRIPTION")
    deployment_id = f"subscriptions/{sub}/resourceGroups/rg-deploy/providers/Microsoft.Resources/deployments/dep-interop"
    poller = client.resources.begin_create_or_update_by_id(
        deployment_id,
        {"properties": {"mode": "Complete", "template": template}},
        api_version="2021-04-01",
    )
    deployment = poller.result()
    assert deployment.properties["provisioningState"] == "Succeeded"
    assert deployment.properties["mode"] == "Complete"
    outputs = deployment.properties["outputs"]
    assert len(outputs["key"]["value"]) == 88
    assert "value" not in outputs["hidden"]


def test_storage_account_creation_follows_location_polling(client):
    sub = need("PORTCULLIS_SUBSCRIPTION")
    rg = need("PORTCULLIS_STORAGE_RG")
    poller = client.resources.begin_create_or_update_by_id(
        f"subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/stcreated",
        {"location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"},
        api_version="2023-05-01",
    )
    account = poller.result()
    assert account.name == "stcreated"
    assert account.properties["provisioningState"] == "Succeeded"
