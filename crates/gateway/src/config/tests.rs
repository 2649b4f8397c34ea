use std::path::Path;

use super::*;

const GOOD: &str = r#"
data_dir = "state"

[listeners.data]
addr = "127.0.0.1:0"

[listeners.control]
addr = "127.0.0.1:0"

[limits]
max_request_body = "1MiB"
body_timeout = "5s"

[[connections]]
name = "arm"
kind = "azure-arm"
upstream = "https://management.azure.com"
hosts = ["management.azure.com"]
"#;

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    Config::from_toml(text, Path::new("/etc/portcullis/portcullis.toml"), env)
}

fn message(text: &str, env: &[(&str, &str)]) -> String {
    load(text, env).expect_err("config should be refused").to_string()
}

#[test]
fn loads_and_resolves_relative_paths() {
    let c = load(GOOD, &[]).unwrap();
    assert_eq!(c.data_dir, Path::new("/etc/portcullis/state"));
    assert_eq!(c.limits.max_request_body, ByteSize(1 << 20));
    assert_eq!(c.limits.body_timeout, std::time::Duration::from_secs(5));
    assert_eq!(c.connections[0].kind, ConnectionKind::AzureArm);
    assert!(c.connections[0].rewrite_urls);
}

#[test]
fn environment_overrides_keys_at_any_depth() {
    let c = load(
        GOOD,
        &[
            ("PORTCULLIS_DATA_DIR", "/var/lib/portcullis"),
            ("PORTCULLIS_LIMITS__MAX_HEADERS", "50"),
            ("PORTCULLIS_CONNECTIONS__0__UPSTREAM", "http://127.0.0.1:9000"),
            ("PORTCULLIS_URL", "http://ignored"),
            ("PORTCULLIS_TEST_DATABASE_URL", "postgres://ignored"),
        ],
    )
    .unwrap();
    assert_eq!(c.data_dir, Path::new("/var/lib/portcullis"));
    assert_eq!(c.limits.max_headers, 50);
    assert_eq!(c.connections[0].upstream.as_str(), "http://127.0.0.1:9000/");
}

#[test]
fn errors_name_file_key_and_reason() {
    let msg = message(&GOOD.replace("max_request_body = \"1MiB\"", "max_request_body = \"lots\""), &[]);
    assert!(msg.starts_with("/etc/portcullis/portcullis.toml: key `limits.max_request_body`:"), "{msg}");
    assert!(msg.contains("not a size"), "{msg}");

    let msg = message(&GOOD.replace("kind = \"azure-arm\"", "kind = \"azure-arm\"\nupstreem = 1"), &[]);
    assert!(msg.contains("connections[0]") && msg.contains("unknown field `upstreem`"), "{msg}");

    let msg = message("data_dir = [", &[]);
    assert!(msg.contains("not valid TOML") && msg.contains("line 1"), "{msg}");
}

#[test]
fn errors_from_the_environment_name_the_variable() {
    let msg = message(GOOD, &[("PORTCULLIS_LIMITS__MAX_HEADERS", "many")]);
    assert!(
        msg.starts_with("environment variable PORTCULLIS_LIMITS__MAX_HEADERS: key `limits.max_headers`"),
        "{msg}"
    );
    let msg = message(GOOD, &[("PORTCULLIS_LISTENERS__DATA__ADDR", "0.0.0.0:8443")]);
    assert!(
        msg.contains("PORTCULLIS_LISTENERS__DATA__ADDR") && msg.contains("not a loopback address"),
        "{msg}"
    );
}

#[test]
fn refuses_unsafe_or_ambiguous_settings() {
    let msg = message(
        &GOOD.replace("127.0.0.1:0\"\n\n[listeners.control]", "0.0.0.0:8080\"\n\n[listeners.control]"),
        &[],
    );
    assert!(msg.contains("listeners.data.addr") && msg.contains("TLS"), "{msg}");

    let creds = GOOD.replace("https://management.azure.com", "https://user:secret@management.azure.com");
    assert!(message(&creds, &[]).contains("must not carry credentials"));
    assert!(!message(&creds, &[]).contains("secret@"), "the secret is not echoed");

    let twice = format!("{GOOD}\n[[connections]]\nname = \"arm\"\nupstream = \"http://127.0.0.1:1\"\n");
    let msg = message(&twice, &[]);
    assert!(msg.contains("connections[1].name") && msg.contains("used by an earlier connection"), "{msg}");
    assert!(msg.contains("connections[1]") || msg.contains("hosts"), "{msg}");

    let bad_name = GOOD.replace("name = \"arm\"", "name = \"ARM prod\"");
    assert!(message(&bad_name, &[]).contains("lowercase letters"));
}

#[test]
fn the_shipped_example_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/portcullis.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let c = Config::from_toml(&text, &path, std::iter::empty()).unwrap();
    assert_eq!(c.connections.len(), 2);
    assert_eq!(c.limits.max_request_body, ByteSize(32 << 20));
}
