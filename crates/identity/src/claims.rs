//! Registered-claim rules shared by every issuer: times, audience, token type, ID tokens.

use serde_json::{Map, Value};

use crate::error::{AuthError, Reason};

/// Latest NumericDate accepted (year 9999), to keep arithmetic far from overflow.
const MAX_NUMERIC_DATE: i64 = 253_402_300_799;
/// Longest remaining lifetime accepted for an access token (`exp - now`).
pub(crate) const MAX_LIFETIME_SECS: i64 = 24 * 3600;

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A string claim; `Ok(None)` when absent, an error when present with another type.
pub(crate) fn string<'a>(claims: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AuthError::new(Reason::Malformed, format!("claim \"{name}\" is not a string"))),
    }
}

/// A NumericDate claim (RFC 7519 §2): an integer or finite number of seconds, in range.
pub(crate) fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, AuthError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let bad = || AuthError::new(Reason::Malformed, format!("claim \"{name}\" is not a NumericDate in range"));
    let secs = match value {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i,
            (None, Some(f)) if f.is_finite() && f >= 0.0 && f <= MAX_NUMERIC_DATE as f64 => f.floor() as i64,
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    if !(0..=MAX_NUMERIC_DATE).contains(&secs) {
        return Err(bad());
    }
    Ok(Some(secs))
}

/// Checks `exp` (required), `nbf` and `iat` against `now` with `leeway` seconds; returns
/// `exp`. `max_lifetime` bounds how far in the future `exp` may be.
pub(crate) fn check_times(
    claims: &Map<String, Value>,
    now: i64,
    leeway: i64,
    max_lifetime: i64,
) -> Result<i64, AuthError> {
    let exp = numeric_date(claims, "exp")?
        .ok_or_else(|| AuthError::new(Reason::MissingClaim, "no \"exp\" claim"))?;
    if exp <= now - leeway {
        return Err(AuthError::new(Reason::Expired, format!("exp {exp} is {} s in the past", now - exp)));
    }
    if exp > now + max_lifetime + leeway {
        return Err(AuthError::new(
            Reason::BadTimestamps,
            format!("exp {exp} is more than {max_lifetime} s in the future"),
        ));
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if nbf > now + leeway {
            return Err(AuthError::new(
                Reason::NotYetValid,
                format!("nbf {nbf} is {} s in the future", nbf - now),
            ));
        }
    }
    if let Some(iat) = numeric_date(claims, "iat")? {
        if iat > now + leeway {
            return Err(AuthError::new(
                Reason::BadTimestamps,
                format!("iat {iat} is {} s in the future", iat - now),
            ));
        }
        if iat > exp {
            return Err(AuthError::new(Reason::BadTimestamps, "iat is after exp"));
        }
    }
    Ok(exp)
}

/// `aud` must name at least one configured audience and nothing else.
pub(crate) fn check_audience(claims: &Map<String, Value>, allowed: &[String]) -> Result<(), AuthError> {
    let wrong = |d: String| AuthError::new(Reason::WrongAudience, d);
    let auds: Vec<&str> = match claims.get("aud") {
        None => return Err(wrong("no \"aud\" claim".into())),
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| v.as_str().ok_or_else(|| wrong("an \"aud\" entry is not a string".into())))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(wrong("\"aud\" is neither a string nor a list".into())),
    };
    if auds.is_empty() {
        return Err(wrong("\"aud\" is an empty list".into()));
    }
    if let Some(other) = auds.iter().find(|a| !allowed.iter().any(|b| b == *a)) {
        return Err(wrong(if auds.len() == 1 {
            format!("aud {other} is not a configured audience")
        } else {
            format!("aud also names {other}, which is not this gateway; the token could be replayed there")
        }));
    }
    Ok(())
}

/// Normalizes a `typ` value: lower case, without an `application/` prefix (RFC 7515 §4.1.9).
pub(crate) fn normalize_typ(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_string(),
        None => lower,
    }
}

/// Checks the header `typ` against the configured values, or against the access-token
/// defaults (absent, `JWT`, `at+jwt`) when none is configured.
pub(crate) fn check_typ(typ: Option<&str>, configured: Option<&[String]>) -> Result<(), AuthError> {
    let got = typ.map(normalize_typ);
    let ok = match configured {
        Some(list) => got.as_deref().is_some_and(|g| list.iter().any(|c| normalize_typ(c) == g)),
        None => matches!(got.as_deref(), None | Some("jwt") | Some("at+jwt")),
    };
    if ok {
        Ok(())
    } else {
        Err(AuthError::new(
            Reason::WrongTokenType,
            format!("typ {typ:?} is not an accepted access-token type"),
        ))
    }
}

/// ID tokens carry `nonce`; they prove a login to a client, they do not grant access.
pub(crate) fn refuse_id_token(claims: &Map<String, Value>) -> Result<(), AuthError> {
    if claims.contains_key("nonce") {
        return Err(AuthError::new(Reason::IdToken, "token has \"nonce\": an ID token, not an access token"));
    }
    Ok(())
}
