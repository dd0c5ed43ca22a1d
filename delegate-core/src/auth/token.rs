//! Access tokens: HS256 JWTs with strict validation against the injected clock.

use crate::config::{AuthConfig, Secret};
use crate::error::{Error, Result};
use crate::hashing::{BoundedMap, bounded_map};
use crate::ids::{LoginSessionId, UserId};
use crate::users::{Role, Tier};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How many verified tokens a signer remembers (about 0.5 KB each).
const VERIFIED_CAPACITY: usize = 65_536;

/// The `typ` claim of an access token.
pub const ACCESS_TYPE: &str = "access";

/// The claims of an access token. Every field is required when verifying.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user.
    pub sub: UserId,
    /// The login session the token belongs to.
    pub sid: LoginSessionId,
    /// Unique token id, for the denylist.
    pub jti: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Token type; always [`ACCESS_TYPE`].
    pub typ: String,
    /// The user's tier when the token was issued.
    pub tier: Tier,
    /// The user's role when the token was issued.
    pub role: Role,
}

/// Signs and verifies access tokens.
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Tokens whose signature and claims were checked, by their exact text: a client presents
    /// the same token on every request, and a repeat skips the signature and the JSON. The
    /// time window is checked on every call. Only tokens that passed enter, so a client
    /// cannot fill it with garbage; at most [`VERIFIED_CAPACITY`] are kept, newer ones pushing
    /// out the least used (a token pushed out is simply decoded again).
    verified: BoundedMap<String, Arc<AccessClaims>>,
    issuer: String,
    audience: String,
    ttl_secs: i64,
    leeway_secs: i64,
}

impl TokenSigner {
    /// A signer for `secret` with the issuer, audience, lifetime and leeway of `config`.
    pub fn new(secret: &Secret, config: &AuthConfig) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        // Time claims are checked below against the injected clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Self {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
            verified: bounded_map(VERIFIED_CAPACITY),
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl_secs: config.access_ttl_secs as i64,
            leeway_secs: config.leeway_secs.min(5) as i64,
        }
    }

    /// The lifetime of the tokens this signer issues, in seconds.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Issues a token for a user's login session at `now`.
    pub fn issue(
        &self,
        user: UserId,
        session: LoginSessionId,
        tier: Tier,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<(String, AccessClaims)> {
        let iat = now.timestamp();
        let claims = AccessClaims {
            sub: user,
            sid: session,
            jti: uuid::Uuid::now_v7().to_string(),
            iat,
            nbf: iat,
            exp: iat + self.ttl_secs,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            typ: ACCESS_TYPE.to_owned(),
            tier,
            role,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::internal("signing an access token").with_source(e))?;
        Ok((token, claims))
    }

    /// Verifies signature, algorithm, every claim, type and time window. Pure CPU, no I/O; a
    /// token seen before is not decoded again, but its time window is checked against `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Arc<AccessClaims>> {
        let claims = match self.verified.get(token) {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(self.decode(token)?);
                self.verified.insert(token.to_owned(), claims.clone());
                claims
            }
        };
        self.check_window(&claims, now)?;
        Ok(claims)
    }

    /// Checks signature, algorithm, every claim and the type (not the time window).
    fn decode(&self, token: &str) -> Result<AccessClaims> {
        let invalid = || Error::unauthenticated("invalid_token", "the access token is invalid");
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| invalid())?
            .claims;
        if claims.typ != ACCESS_TYPE || claims.jti.is_empty() {
            return Err(invalid());
        }
        Ok(claims)
    }

    /// Whether `now` lies in the token's window, with the leeway.
    fn check_window(&self, claims: &AccessClaims, now: DateTime<Utc>) -> Result<()> {
        let invalid = || Error::unauthenticated("invalid_token", "the access token is invalid");
        let now = now.timestamp();
        if now > claims.exp + self.leeway_secs {
            return Err(Error::unauthenticated(
                "token_expired",
                "the access token has expired",
            ));
        }
        if now + self.leeway_secs < claims.nbf {
            return Err(invalid());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use serde_json::json;

    const KEY: &str = "0123456789abcdef0123456789abcdef-test";

    fn signer() -> TokenSigner {
        TokenSigner::new(&Secret::new(KEY), &AuthConfig::default())
    }

    fn issue_at(now: DateTime<Utc>) -> (String, AccessClaims) {
        signer()
            .issue(
                UserId::new(),
                LoginSessionId::new(),
                Tier::Free,
                Role::User,
                now,
            )
            .unwrap()
    }

    fn sign_raw(header: &Header, claims: &serde_json::Value, key: &str) -> String {
        jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(key.as_bytes())).unwrap()
    }

    fn claims_json(c: &AccessClaims) -> serde_json::Value {
        serde_json::to_value(c).unwrap()
    }

    fn code(result: Result<Arc<AccessClaims>>) -> &'static str {
        result.unwrap_err().code()
    }

    #[test]
    fn a_fresh_token_verifies_and_round_trips_claims() {
        let now = Utc::now();
        let (token, claims) = issue_at(now);
        assert_eq!(*signer().verify(&token, now).unwrap(), claims);
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn expiry_and_not_before_respect_at_most_five_seconds_leeway() {
        let now = Utc::now();
        let (token, _) = issue_at(now);
        let s = signer();
        assert!(s.verify(&token, now + TimeDelta::seconds(904)).is_ok());
        assert_eq!(
            code(s.verify(&token, now + TimeDelta::seconds(906))),
            "token_expired"
        );
        assert!(s.verify(&token, now - TimeDelta::seconds(4)).is_ok());
        assert_eq!(
            code(s.verify(&token, now - TimeDelta::seconds(6))),
            "invalid_token"
        );
    }

    #[test]
    fn a_repeat_presentation_skips_decoding_but_not_the_time_window() {
        let now = Utc::now();
        let (token, _) = issue_at(now);
        let s = signer();
        s.verify(&token, now).unwrap();
        assert!(s.verified.get(&token).is_some());
        assert_eq!(
            code(s.verify(&token, now + TimeDelta::seconds(906))),
            "token_expired"
        );
        assert_eq!(
            code(s.verify(&token, now - TimeDelta::seconds(6))),
            "invalid_token"
        );
        // A refused token is not remembered.
        let mut forged = token.clone();
        forged.pop();
        assert_eq!(code(s.verify(&forged, now)), "invalid_token");
        assert!(s.verified.get(&forged).is_none());
    }

    #[test]
    fn wrong_issuer_audience_type_or_missing_claims_are_refused() {
        let now = Utc::now();
        let (_, claims) = issue_at(now);
        let header = Header::new(Algorithm::HS256);
        let mut cases = Vec::new();
        for (field, value) in [
            ("iss", json!("someone-else")),
            ("aud", json!("other-api")),
            ("typ", json!("refresh")),
        ] {
            let mut c = claims_json(&claims);
            c[field] = value;
            cases.push(c);
        }
        for missing in ["jti", "sid", "exp", "nbf", "iss", "aud", "typ", "sub"] {
            let mut c = claims_json(&claims);
            c.as_object_mut().unwrap().remove(missing);
            cases.push(c);
        }
        for c in cases {
            let token = sign_raw(&header, &c, KEY);
            assert_eq!(code(signer().verify(&token, now)), "invalid_token", "{c}");
        }
    }

    #[test]
    fn other_algorithms_none_and_tampering_are_refused() {
        let now = Utc::now();
        let (token, claims) = issue_at(now);
        let c = claims_json(&claims);
        let hs512 = sign_raw(&Header::new(Algorithm::HS512), &c, KEY);
        let other_key = sign_raw(
            &Header::new(Algorithm::HS256),
            &c,
            "another-key-another-key-another-key",
        );
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let none_header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = token.split('.').nth(1).unwrap();
        let alg_none = format!("{none_header}.{payload}.");
        let mut forged = c.clone();
        forged["role"] = json!("admin");
        let tampered = format!(
            "{}.{}.{}",
            token.split('.').next().unwrap(),
            engine.encode(forged.to_string()),
            token.split('.').nth(2).unwrap()
        );
        for bad in [
            hs512,
            other_key,
            alg_none,
            tampered,
            "garbage".into(),
            String::new(),
        ] {
            assert_eq!(code(signer().verify(&bad, now)), "invalid_token", "{bad}");
        }
    }
}
