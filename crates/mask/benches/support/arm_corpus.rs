//! The ARM-shaped JSON corpus shared by `benches/throughput.rs` and `examples/arm_corpus.rs`,
//! so the divan numbers and the on-CPU numbers of `mask_file` are taken on the same bytes.

const KEY: &str = "UvImZaYMEtKJGF2VDuiBNgkWb2sRPReNbA/TkB/yOaGglfIPk5VlDPk4C47bIkprJIoekk6P0K4uGpSSozBfGA==";

/// One ARM resource (a storage account, as `GET .../providers/Microsoft.Storage/storageAccounts`
/// returns it, ~36 values). Each carries two sensitive values — an owner e-mail, and either a
/// connection string with an account key or a `primaryKey` field — so about 5 % of all values.
fn resource(i: usize) -> String {
    let owner = format!("owner{i}@contoso.com");
    let extra = if i % 2 == 0 {
        format!(
            r#","connectionString":"DefaultEndpointsProtocol=https;AccountName=acct{i};AccountKey={KEY};EndpointSuffix=core.windows.net""#
        )
    } else {
        format!(r#","primaryKey":"{KEY}""#)
    };
    format!(
        r#"{{"sku":{{"name":"Standard_LRS","tier":"Standard"}},"kind":"StorageV2","id":"/subscriptions/3f2a9c81-d07e-4b1a-9c52-{i:012}/resourceGroups/rg-prod-{r}/providers/Microsoft.Storage/storageAccounts/acct{i:06}","name":"acct{i:06}","type":"Microsoft.Storage/storageAccounts","location":"westeurope","tags":{{"owner":"{owner}","costCenter":"{cc}","env":"prod"}},"properties":{{"keyCreationTime":{{"key1":"2024-03-01T10:15:30.1234567Z","key2":"2024-03-01T10:15:30.1234567Z"}},"privateEndpointConnections":[],"minimumTlsVersion":"TLS1_2","allowBlobPublicAccess":false,"networkAcls":{{"bypass":"AzureServices","virtualNetworkRules":[],"ipRules":[],"defaultAction":"Allow"}},"supportsHttpsTrafficOnly":true,"encryption":{{"services":{{"file":{{"keyType":"Account","enabled":true,"lastEnabledTime":"2024-03-01T10:15:30.3456789Z"}},"blob":{{"keyType":"Account","enabled":true}}}},"keySource":"Microsoft.Storage"}},"accessTier":"Hot","provisioningState":"Succeeded","creationTime":"2024-03-01T10:15:30.0000000Z","primaryEndpoints":{{"dfs":"https://acct{i:06}.dfs.core.windows.net/","web":"https://acct{i:06}.z6.web.core.windows.net/","blob":"https://acct{i:06}.blob.core.windows.net/","queue":"https://acct{i:06}.queue.core.windows.net/","table":"https://acct{i:06}.table.core.windows.net/","file":"https://acct{i:06}.file.core.windows.net/"}},"primaryLocation":"westeurope","statusOfPrimary":"available","usedCapacityBytes":{size}{extra}}}}}"#,
        r = i % 13,
        cc = 4000 + i % 50,
        size = i * 7919,
    )
}

/// `{"value":[...resources...]}` of at least `bytes` bytes.
pub(crate) fn arm_list(bytes: usize) -> Vec<u8> {
    let mut out = String::from("{\"value\":[");
    let mut i = 0;
    while out.len() < bytes {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&resource(i));
        i += 1;
    }
    out.push_str("]}");
    out.into_bytes()
}
