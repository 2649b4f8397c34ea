//! Masking throughput and latency on ARM-shaped JSON with about 5 % sensitive values.
//!
//! `cargo bench -p portcullis-mask --bench throughput` — divan reports time and MB/s.

use divan::counter::BytesCount;
use divan::Bencher;
use portcullis_mask::{ContentKind, MaskConfig, MaskEngine, SessionContext};

fn main() {
    divan::main();
}

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
fn arm_list(bytes: usize) -> Vec<u8> {
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

fn run(engine: &MaskEngine, session: &SessionContext, body: &[u8], chunk: usize, out: &mut Vec<u8>) -> u64 {
    out.clear();
    let mut s = engine.stream(ContentKind::Json, session).unwrap();
    for c in body.chunks(chunk) {
        s.push(c, out).unwrap();
    }
    s.finish(out).unwrap();
    s.report().total()
}

#[divan::bench]
fn arm_json_4mib(bencher: Bencher) {
    let engine = MaskEngine::new(&MaskConfig::default(), "azure").unwrap();
    let session = SessionContext::new(b"bench session key...............");
    let body = arm_list(4 << 20);
    let mut out = Vec::with_capacity(body.len());
    let resources = body.windows(6).filter(|w| w == b"\"sku\":").count() as u64;
    assert_eq!(
        run(&engine, &session, &body, 64 * 1024, &mut out),
        2 * resources,
        "two masked values per resource"
    );
    bencher
        .counter(BytesCount::new(body.len()))
        .bench_local(|| run(&engine, &session, &body, 64 * 1024, &mut out));
}

/// Latency added to one 1.6 KB response: a single storage account with a connection string,
/// an account key and an owner e-mail (stream setup, masking, report included).
#[divan::bench]
fn arm_json_one_resource_latency(bencher: Bencher) {
    let engine = MaskEngine::new(&MaskConfig::default(), "azure").unwrap();
    let session = SessionContext::new(b"bench session key...............");
    let body = arm_list(11); // one resource
    assert!((1500..2600).contains(&body.len()), "{}", body.len());
    let mut out = Vec::with_capacity(body.len());
    bencher
        .counter(BytesCount::new(body.len()))
        .bench_local(|| run(&engine, &session, &body, usize::MAX, &mut out));
}

#[divan::bench]
fn arm_json_4mib_copy_baseline(bencher: Bencher) {
    let body = arm_list(4 << 20);
    let mut out = Vec::with_capacity(body.len());
    bencher.counter(BytesCount::new(body.len())).bench_local(|| {
        out.clear();
        for c in body.chunks(64 * 1024) {
            out.extend_from_slice(divan::black_box(c));
        }
        out.len()
    });
}

#[divan::bench]
fn plain_text_4mib(bencher: Bencher) {
    let engine = MaskEngine::new(&MaskConfig::default(), "azure").unwrap();
    let session = SessionContext::new(b"bench session key...............");
    let body = arm_list(4 << 20);
    let mut out = Vec::with_capacity(body.len());
    bencher.counter(BytesCount::new(body.len())).bench_local(|| {
        out.clear();
        let mut s = engine.stream(ContentKind::Text, &session).unwrap();
        for c in body.chunks(64 * 1024) {
            s.push(c, &mut out).unwrap();
        }
        s.finish(&mut out).unwrap();
        out.len()
    });
}
