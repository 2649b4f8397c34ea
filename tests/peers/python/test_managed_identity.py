"""The Python Azure SDK, unchanged, as an agent prepared only by environment variables:
ManagedIdentityCredential gets its token from the gateway's managed-identity endpoint
(IDENTITY_ENDPOINT + IDENTITY_HEADER = the agent's grant token), and the client talks to
https://management.azure.com through the gateway's forward proxy (HTTPS_PROXY, with the
gateway's CA in REQUESTS_CA_BUNDLE). No DefaultAzureCredential, no metadata address."""
import os

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.mgmt.resource.resources import ResourceManagementClient

from conftest import need

ARM = "https://management.azure.com/.default"


def test_environment_is_the_gateway():
    assert need("IDENTITY_ENDPOINT").startswith("http://127.0.0.1:")
    assert need("HTTPS_PROXY").startswith("http://127.0.0.1:")
    assert os.path.isfile(need("REQUESTS_CA_BUNDLE"))


def test_token_is_the_gateways_and_ends_with_the_grant():
    token = ManagedIdentityCredential().get_token(ARM)
    assert token.token.count(".") == 2, "a JWT"
    assert token.expires_on <= int(need("PORTCULLIS_GRANT_END"))


def test_list_then_delete_is_held_for_review():
    client = ResourceManagementClient(
        ManagedIdentityCredential(), need("PORTCULLIS_SUBSCRIPTION"), polling_interval=0, retry_total=0
    )
    names = [g.name for g in client.resource_groups.list()]
    assert need("PORTCULLIS_DOOMED_RG") in names
    with pytest.raises(HttpResponseError) as held:
        client.resource_groups.begin_delete(need("PORTCULLIS_DOOMED_RG")).result()
    assert held.value.status_code == 403
    assert "approval_required" in str(held.value)
