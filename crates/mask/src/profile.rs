//! Profiles: the shipped `azure` and `strict` profiles, `extends` resolution, and compiling a
//! profile into the detectors, rules and limits a mask stream uses.

use std::collections::{BTreeMap, HashMap};

use crate::config::{DetectorSetting, FieldRule, MaskConfig, OnOversize, OnUnknown, ProfileConfig, Strategy};
use crate::detect::{builtin_names, default_on, DetectorChoice, Hit, LabelId, Scanner};
use crate::path::Rules;
use crate::MaskError;

/// A profile ready to mask with.
pub(crate) struct Compiled {
    pub(crate) name: String,
    pub(crate) labels: Vec<String>,
    pub(crate) scanner: Scanner,
    pub(crate) rules: Rules,
    pub(crate) on_unknown: OnUnknown,
    pub(crate) on_oversize: OnOversize,
    pub(crate) nested_json: bool,
    pub(crate) max_string: usize,
    pub(crate) max_depth: usize,
    pub(crate) max_decoded: u64,
    pub(crate) oversize: Hit,
    can_drop: bool,
}

impl Compiled {
    /// Whether any rule or detector of this profile may `drop` a JSON member.
    pub(crate) fn can_drop(&self) -> bool {
        self.can_drop
    }
}

fn rule(path: &str, label: &str) -> FieldRule {
    FieldRule { path: path.into(), strategy: None, label: Some(label.into()) }
}

/// The shipped `azure` profile: Azure key material by field name (listKeys answers,
/// connection strings, Entra secrets, Cosmos DB keys) plus every default content detector.
pub(crate) fn azure() -> ProfileConfig {
    let fields = vec![
        rule("keys[*].value", "azure_storage_key"),
        rule("**.primaryKey", "azure_key"),
        rule("**.secondaryKey", "azure_key"),
        rule("**.primaryMasterKey", "cosmos_db_key"),
        rule("**.secondaryMasterKey", "cosmos_db_key"),
        rule("**.primaryReadonlyMasterKey", "cosmos_db_key"),
        rule("**.secondaryReadonlyMasterKey", "cosmos_db_key"),
        rule("**.connectionString", "connection_string"),
        rule("**.primaryConnectionString", "connection_string"),
        rule("**.secondaryConnectionString", "connection_string"),
        rule("**.clientSecret", "entra_client_secret"),
        rule("**.client_secret", "entra_client_secret"),
        rule("**.secretText", "entra_client_secret"),
        rule("**.password", "password"),
        rule("**.adminPassword", "password"),
        rule("**.administratorLoginPassword", "password"),
        rule("**.sasToken", "azure_sas_token"),
        rule("**.accessKey", "azure_key"),
    ];
    ProfileConfig { fields, ..ProfileConfig::default() }
}

/// The shipped `strict` profile (for `listKeys` and the like): `azure`, plus any field whose
/// name says secret, token, password or key material, and IP addresses.
///
/// No rule names a whole `keys` array: a rule on a container masks everything inside it,
/// which turned every `keyName`, `permissions` and `creationTime` of a listKeys answer into
/// `[REDACTED]`. Key values are caught by `keys[*].value` (from `azure`), by `*key` field
/// names and by the content detectors.
pub(crate) fn strict() -> ProfileConfig {
    let fields = ["**.*secret*", "**.*password*", "**.*token", "**.*key", "**.*credential*"]
        .into_iter()
        .map(|p| rule(p, "secret_field"))
        .collect();
    let detectors = BTreeMap::from([
        ("ipv4".to_string(), DetectorSetting::Redact),
        ("ipv6".to_string(), DetectorSetting::Redact),
    ]);
    ProfileConfig { extends: Some("azure".into()), fields, detectors, ..ProfileConfig::default() }
}

/// Finds a profile by name: configured first, then shipped.
fn lookup(config: &MaskConfig, name: &str) -> Option<ProfileConfig> {
    config.profiles.get(name).cloned().or_else(|| match name {
        "azure" => Some(azure()),
        "strict" => Some(strict()),
        _ => None,
    })
}

/// Flattens the `extends` chain into one profile.
pub(crate) fn resolve(config: &MaskConfig, name: &str) -> Result<ProfileConfig, MaskError> {
    let mut chain = Vec::new();
    let mut next = Some(name.to_string());
    while let Some(n) = next {
        if chain.len() > 8 || chain.iter().any(|(c, _): &(String, ProfileConfig)| *c == n) {
            return Err(MaskError::Config(format!(
                "profile `{name}`: `extends` forms a cycle or is deeper than 8"
            )));
        }
        let p = lookup(config, &n).ok_or_else(|| MaskError::UnknownProfile(n.clone()))?;
        next = p.extends.clone();
        chain.push((n, p));
    }
    let mut out = ProfileConfig::default();
    for (_, p) in chain.into_iter().rev() {
        out.fields.extend(p.fields);
        out.detectors.extend(p.detectors);
        out.custom.extend(p.custom);
        out.on_unknown = p.on_unknown.or(out.on_unknown);
        out.decode_base64 = p.decode_base64.or(out.decode_base64);
        out.inspect_nested_json = p.inspect_nested_json.or(out.inspect_nested_json);
        out.max_string_bytes = p.max_string_bytes.or(out.max_string_bytes);
        out.on_oversize = p.on_oversize.or(out.on_oversize);
        out.max_depth = p.max_depth.or(out.max_depth);
        out.max_decoded_bytes = p.max_decoded_bytes.or(out.max_decoded_bytes);
    }
    Ok(out)
}

#[derive(Default)]
struct Labels {
    names: Vec<String>,
    ids: HashMap<String, LabelId>,
}

impl Labels {
    fn intern(&mut self, name: &str) -> Result<LabelId, MaskError> {
        if let Some(id) = self.ids.get(name) {
            return Ok(*id);
        }
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) {
            return Err(MaskError::Config(format!(
                "label `{name}` must be letters, digits, `_`, `-` or `.`"
            )));
        }
        let id =
            LabelId::try_from(self.names.len()).map_err(|_| MaskError::Config("too many labels".into()))?;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        Ok(id)
    }
}

struct Choice<'a> {
    settings: &'a BTreeMap<String, DetectorSetting>,
    labels: &'a Labels,
}

impl DetectorChoice for Choice<'_> {
    fn choose(&self, name: &str) -> Option<Hit> {
        let strategy = match self.settings.get(name) {
            Some(s) => s.strategy()?,
            None if default_on(name) => Strategy::Redact,
            None => return None,
        };
        Some(Hit { label: *self.labels.ids.get(name)?, strategy })
    }
}

/// Compiles the named profile of `config`.
pub(crate) fn compile(config: &MaskConfig, name: &str) -> Result<Compiled, MaskError> {
    let p = resolve(config, name)?;
    let mut labels = Labels::default();
    for n in builtin_names() {
        labels.intern(n)?;
    }
    let mut custom = Vec::new();
    for c in &p.custom {
        if labels.ids.contains_key(&c.name) && builtin_names().any(|b| b == c.name) {
            return Err(MaskError::Config(format!("custom detector `{}` reuses a built-in name", c.name)));
        }
        let label = labels.intern(&c.name)?;
        let strategy = match p.detectors.get(&c.name) {
            Some(s) => s.strategy(),
            None => Some(c.strategy.unwrap_or(Strategy::Redact)),
        };
        if let Some(strategy) = strategy {
            custom.push((c.clone(), Hit { label, strategy }));
        }
    }
    for n in p.detectors.keys() {
        if !labels.ids.contains_key(n) {
            return Err(MaskError::Config(format!(
                "profile `{name}`: unknown detector `{n}` in `detectors`"
            )));
        }
    }
    let base64 = p.decode_base64.unwrap_or(true);
    let scanner = Scanner::build(&Choice { settings: &p.detectors, labels: &labels }, &custom, base64)?;
    let mut rules = Rules::default();
    for f in &p.fields {
        let label = labels.intern(f.label.as_deref().unwrap_or("secret_field"))?;
        rules.add(&f.path, Hit { label, strategy: f.strategy.unwrap_or(Strategy::Redact) })?;
    }
    let can_drop = p.fields.iter().any(|f| f.strategy == Some(Strategy::Drop))
        || p.detectors.values().any(|d| *d == DetectorSetting::Drop)
        || custom.iter().any(|(_, h)| h.strategy == Strategy::Drop);
    let oversize = Hit { label: labels.intern("oversized_value")?, strategy: Strategy::Redact };
    Ok(Compiled {
        name: name.to_string(),
        labels: labels.names,
        scanner,
        rules,
        on_unknown: p.on_unknown.unwrap_or(OnUnknown::Refuse),
        on_oversize: p.on_oversize.unwrap_or(OnOversize::Redact),
        nested_json: p.inspect_nested_json.unwrap_or(true),
        max_string: p.max_string_bytes.unwrap_or(1 << 20).max(64),
        max_depth: p.max_depth.unwrap_or(128).max(1),
        max_decoded: p.max_decoded_bytes.unwrap_or(256 << 20),
        oversize,
        can_drop,
    })
}
