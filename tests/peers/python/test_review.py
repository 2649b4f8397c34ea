"""The Python Azure SDK through the Portcullis gateway: deleting a resource group is held
for a person's approval (403 approval_required), and after approval the same SDK call
succeeds exactly once. The agent holds only its grant token, never an Azure credential."""
import json
import urllib.request

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import gateway_arm_client, need


@pytest.fixture(scope="module")
def client():
    return gateway_arm_client(polling_interval=0)


def approve(review_id):
    req = urllib.request.Request(
        f"{need('PORTCULLIS_CONTROL_URL')}/api/v1/reviews/{review_id}/approve",
        data=json.dumps({"comment": "approved by the interop test"}).encode(),
        headers={"Authorization": f"Bearer {need('PORTCULLIS_APPROVER_TOKEN')}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req) as resp:
        assert json.load(resp)["state"] == "approved"


def held(call):
    with pytest.raises(HttpResponseError) as caught:
        call()
    err = caught.value
    assert err.status_code == 403
    assert err.error.code == "approval_required", err.message
    return err.response.json()["error"]["review_id"]


def test_delete_waits_for_approval_then_runs_once(client):
    group = need("PORTCULLIS_DOOMED_RG")
    assert client.resource_groups.check_existence(group) is True

    review_id = held(lambda: client.resource_groups.begin_delete(group))
    approve(review_id)

    poller = client.resource_groups.begin_delete(group)
    poller.result()
    assert poller.status().lower() == "succeeded"
    assert client.resource_groups.check_existence(group) is False

    # The approval was spent: the same call is held again, as a new review.
    assert held(lambda: client.resource_groups.begin_delete(group)) != review_id
