"""The shared masking corpus: ARM-shaped JSON (a storage-account list, as the Azure
Resource Manager returns it) with secrets and personal data planted in free-text fields,
plus decoys that must NOT be masked (certificates, public keys, GUIDs, resource ids,
hashes, timestamps). Deterministic: the same seed gives the same bytes.

Writes, into the output folder:
  corpus.json   {"value":[...resources...]}   the body both engines see
  items.json    [{"id","kind","expect","value","secret"}]   every planted item and decoy;
                `secret` is the part that must disappear (the key of a connection string,
                the signature of a SAS URL, the password of a SQL connection string)
"""

import base64
import hashlib
import json
import random
import sys
from pathlib import Path

# One item per kind, each with the value as an agent would meet it. `expect` is "mask"
# for secrets and personal data, "keep" for decoys.
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def rand(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def luhn_complete(prefix):
    for d in "0123456789":
        digits = [int(c) for c in prefix + d][::-1]
        total = sum(v if i % 2 == 0 else (v * 2 - 9 if v * 2 > 9 else v * 2) for i, v in enumerate(digits))
        if total % 10 == 0:
            return prefix + d
    raise AssertionError


def iban_de(rng):
    bban = "".join(rng.choice("0123456789") for _ in range(18))
    rearranged = bban + "1314" + "00"  # D=13 E=14, check digits 00
    check = 98 - int(rearranged) % 97
    return f"DE{check:02d}{bban}"


def storage_key(rng):
    return base64.b64encode(rng.randbytes(64)).decode()


def jwt(rng):
    enc = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")
    head = enc(b'{"alg":"RS256","typ":"JWT"}')
    body = enc(json.dumps({"sub": rand(rng, ALNUM, 12), "tid": "t"}).encode())
    return f"{head}.{body}.{enc(rng.randbytes(64))}"


def pem_private_key(rng):
    lines = [base64.b64encode(rng.randbytes(48)).decode() for _ in range(4)]
    return "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----"


def certificate(rng):
    lines = [base64.b64encode(rng.randbytes(48)).decode() for _ in range(4)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----"


SECRETS = [
    ("azure_storage_key", lambda r, i: storage_key(r)),
    ("storage_connection_string", lambda r, i: f"DefaultEndpointsProtocol=https;AccountName=acct{i};AccountKey={storage_key(r)};EndpointSuffix=core.windows.net"),
    ("sas_token", lambda r, i: f"https://acct{i}.blob.core.windows.net/c?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-12-01T00:00:00Z&sig={base64.b64encode(r.randbytes(32)).decode().replace('+', '%2B').replace('/', '%2F').replace('=', '%3D')}"),
    ("sql_password", lambda r, i: f"Server=tcp:sql{i}.database.windows.net;Database=db;User ID=admin;Password={rand(r, ALNUM, 16)}!;"),
    ("entra_client_secret", lambda r, i: f"{rand(r, ALNUM, 3)}{r.randrange(10)}Q~{rand(r, ALNUM, 34)}"),
    ("jwt", lambda r, i: jwt(r)),
    ("pem_private_key", lambda r, i: pem_private_key(r)),
    ("aws_access_key_id", lambda r, i: "AKIA" + rand(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
    ("github_token", lambda r, i: "ghp_" + rand(r, ALNUM, 36)),
    ("slack_token", lambda r, i: f"xoxb-{r.randrange(10**11, 10**12)}-{rand(r, ALNUM, 24)}"),
    ("openai_api_key", lambda r, i: "sk-proj-" + rand(r, ALNUM, 40)),
    ("gcp_api_key", lambda r, i: "AIza" + rand(r, ALNUM, 35)),
    ("email", lambda r, i: f"jane.doe{i}@contoso.com"),
    ("phone", lambda r, i: f"+1 425 555 {r.randrange(1000, 10000)}"),
    ("credit_card", lambda r, i: luhn_complete("4" + "".join(r.choice("0123456789") for _ in range(14)))),
    ("iban", lambda r, i: iban_de(r)),
    ("us_ssn", lambda r, i: f"{r.randrange(100, 666)}-{r.randrange(10, 100)}-{r.randrange(1000, 10000)}"),
]

DECOYS = [
    ("guid", lambda r, i: f"{rand(r, '0123456789abcdef', 8)}-{rand(r, '0123456789abcdef', 4)}-4{rand(r, '0123456789abcdef', 3)}-a{rand(r, '0123456789abcdef', 3)}-{rand(r, '0123456789abcdef', 12)}"),
    ("resource_id", lambda r, i: f"/subscriptions/{r.randrange(10**8):08d}-0000-0000-0000-{r.randrange(10**12):012d}/resourceGroups/rg-{i}/providers/Microsoft.Compute/virtualMachines/vm{i}"),
    ("sha256_hex", lambda r, i: hashlib.sha256(r.randbytes(8)).hexdigest()),
    ("sha256_base64", lambda r, i: base64.b64encode(hashlib.sha256(r.randbytes(8)).digest()).decode()),
    ("certificate", lambda r, i: certificate(r)),
    ("ssh_public_key", lambda r, i: "ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00 " + r.randbytes(32)).decode() + f" user{i}@host"),
    ("thumbprint", lambda r, i: rand(r, "0123456789ABCDEF", 40)),
    ("timestamp", lambda r, i: f"2024-0{r.randrange(1, 10)}-1{r.randrange(10)}T10:15:30.{r.randrange(10**7):07d}Z"),
    ("version", lambda r, i: f"10.0.{r.randrange(10000, 30000)}.{r.randrange(1000, 9999)}"),
    ("large_number", lambda r, i: str(luhn_complete(str(r.randrange(10**15, 10**16))) + "7")),
]


SECRET_AFTER = {"storage_connection_string": "AccountKey=", "sas_token": "sig=", "sql_password": "Password="}


def secret_of(kind, value):
    """The part of a planted value that must not reach the agent."""
    marker = SECRET_AFTER.get(kind)
    if marker is None:
        return value
    return value.split(marker, 1)[1].split(";", 1)[0]


def resource(i, note, extra):
    """One storage account; `note` and `extra` are free-text fields carrying the items."""
    return {
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "kind": "StorageV2",
        "id": f"/subscriptions/3f2a9c81-d07e-4b1a-9c52-{i:012d}/resourceGroups/rg-prod-{i % 13}/providers/Microsoft.Storage/storageAccounts/acct{i:06d}",
        "name": f"acct{i:06d}",
        "type": "Microsoft.Storage/storageAccounts",
        "location": "westeurope",
        "tags": {"costCenter": str(4000 + i % 50), "env": "prod", "note": note},
        "properties": {
            "keyCreationTime": {"key1": "2024-03-01T10:15:30.1234567Z", "key2": "2024-03-01T10:15:30.1234567Z"},
            "privateEndpointConnections": [],
            "minimumTlsVersion": "TLS1_2",
            "allowBlobPublicAccess": False,
            "networkAcls": {"bypass": "AzureServices", "virtualNetworkRules": [], "ipRules": [], "defaultAction": "Allow"},
            "supportsHttpsTrafficOnly": True,
            "encryption": {"services": {"blob": {"keyType": "Account", "enabled": True}}, "keySource": "Microsoft.Storage"},
            "accessTier": "Hot",
            "provisioningState": "Succeeded",
            "primaryEndpoints": {
                "blob": f"https://acct{i:06d}.blob.core.windows.net/",
                "file": f"https://acct{i:06d}.file.core.windows.net/",
            },
            "statusOfPrimary": "available",
            "usedCapacityBytes": i * 7919,
            "description": extra,
        },
    }


def build(resources=256, seed=8):
    rng = random.Random(seed)
    kinds = [(k, g, "mask") for k, g in SECRETS] + [(k, g, "keep") for k, g in DECOYS]
    items, docs = [], []
    for i in range(resources):
        # Every resource carries one item in `tags.note`; one in twenty also one in
        # `properties.description` (about 5 % of the string values sensitive overall).
        kind, gen, expect = kinds[i % len(kinds)]
        value = gen(rng, i)
        items.append({"id": len(items), "kind": kind, "expect": expect, "value": value, "secret": secret_of(kind, value)})
        extra = "Managed by the platform team."
        if i % 20 == 7:
            k2, g2, e2 = SECRETS[(i // 20) % len(SECRETS)][0], SECRETS[(i // 20) % len(SECRETS)][1], "mask"
            v2 = g2(rng, i)
            items.append({"id": len(items), "kind": k2, "expect": e2, "value": v2, "secret": secret_of(k2, v2)})
            extra = f"Contact: {v2} (rotated quarterly)"
        docs.append(resource(i, f"{kind}: {value}", extra))
    return {"value": docs}, items


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out/presidio")
    resources = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    out.mkdir(parents=True, exist_ok=True)
    body, items = build(resources)
    (out / "corpus.json").write_text(json.dumps(body, separators=(",", ":")))
    (out / "items.json").write_text(json.dumps(items, indent=1))
    print(f"{out / 'corpus.json'}: {len(body['value'])} resources, {len(items)} items")


if __name__ == "__main__":
    main()
