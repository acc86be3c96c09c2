//! Sign-in with an OpenID Connect provider: discovery, the authorization request
//! (code flow with PKCE, `state` and `nonce`), the token exchange and the ID token's
//! verification against the provider's JWKS (signatures by `jsonwebtoken`).
//!
//! Every function that talks to the provider blocks: call it on a blocking thread.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::secret;
use serde::Deserialize;

use crate::model::Role;

/// How long a started sign-in may take at the provider.
pub const PENDING_TTL: Duration = Duration::from_secs(600);
/// At most this many sign-ins started and not finished at once.
const MAX_PENDING: usize = 10_000;

/// The `--oidc-*` settings.
#[derive(Clone)]
pub struct Settings {
    /// The issuer URL, without a trailing slash.
    pub issuer: String,
    pub client_id: String,
    /// Read from `--oidc-client-secret-file`; never logged or shown.
    pub client_secret: String,
    /// `--oidc-auto-create`: the role of a person signing in for the first time.
    pub auto_create: Option<Role>,
    /// `--oidc-groups-claim`: the ID token claim that decides group memberships.
    pub groups_claim: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"(redacted)")
            .field("auto_create", &self.auto_create)
            .field("groups_claim", &self.groups_claim)
            .finish()
    }
}

/// The provider's endpoints, from `{issuer}/.well-known/openid-configuration`.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

/// A sign-in started and not yet back from the provider.
struct Pending {
    nonce: String,
    verifier: String,
    next: String,
    started: Instant,
}

/// The sign-in provider as the server uses it.
pub struct Oidc {
    pub settings: Settings,
    pub discovery: Discovery,
    /// `{public URL}/signin/oidc/callback`.
    pub redirect_uri: String,
    agent: ureq::Agent,
    pending: Mutex<HashMap<String, Pending>>,
}

/// What the provider says about the person, once the ID token checks out.
#[derive(Debug)]
pub struct Identity {
    pub subject: String,
    /// Lower-cased; present only when the provider marks it verified.
    pub verified_email: Option<String>,
    /// The groups claim, when `--oidc-groups-claim` names one.
    pub groups: Option<GroupsClaim>,
}

/// What the ID token says in the groups claim.
#[derive(Debug, PartialEq, Eq)]
pub enum GroupsClaim {
    /// No such claim in the token: memberships stay as they are.
    Absent,
    /// The group names: a JSON array of strings, or one string.
    Names(Vec<String>),
    /// Something else (a number, an object, an array holding a non-string...): what
    /// it is, for the log; memberships stay as they are.
    Unusable(&'static str),
}

impl GroupsClaim {
    /// Reads the claim `name` from the ID token's claims.
    pub fn from_claims(claims: &serde_json::Map<String, serde_json::Value>, name: &str) -> Self {
        use serde_json::Value;
        match claims.get(name) {
            None => GroupsClaim::Absent,
            Some(Value::String(one)) => GroupsClaim::Names(vec![one.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_string))
                .collect::<Option<Vec<String>>>()
                .map_or(
                    GroupsClaim::Unusable("an array holding something other than strings"),
                    GroupsClaim::Names,
                ),
            Some(Value::Null) => GroupsClaim::Unusable("null"),
            Some(Value::Bool(_)) => GroupsClaim::Unusable("a boolean"),
            Some(Value::Number(_)) => GroupsClaim::Unusable("a number"),
            Some(Value::Object(_)) => GroupsClaim::Unusable("an object"),
        }
    }
}

fn random_token() -> String {
    secret::b64url(&secret::bytes(32))
}

fn get_json<T: serde::de::DeserializeOwned>(agent: &ureq::Agent, url: &str) -> Result<T, String> {
    let mut response = agent
        .get(url)
        .header("Accept", "application/json")
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("GET {url}: HTTP {}", response.status()));
    }
    response
        .body_mut()
        .read_json()
        .map_err(|e| format!("GET {url}: not the JSON expected: {e}"))
}

/// Reads the discovery document and checks that it names the configured issuer.
pub fn discover(agent: &ureq::Agent, issuer: &str) -> Result<Discovery, String> {
    let url = format!("{issuer}/.well-known/openid-configuration");
    let found: Discovery = get_json(agent, &url)?;
    if found.issuer.trim_end_matches('/') != issuer {
        return Err(format!(
            "{url} names the issuer {:?}, not {issuer:?}",
            found.issuer
        ));
    }
    Ok(found)
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    nonce: Option<String>,
    email: Option<String>,
    email_verified: Option<serde_json::Value>,
}

impl Oidc {
    pub fn new(
        settings: Settings,
        discovery: Discovery,
        public_url: &str,
        agent: ureq::Agent,
    ) -> Oidc {
        Oidc {
            settings,
            discovery,
            redirect_uri: format!("{public_url}/signin/oidc/callback"),
            agent,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a sign-in: returns the `state` (also kept in a cookie) and the URL of
    /// the provider's authorization page.
    pub fn begin(&self, next: &str) -> Result<(String, String), String> {
        let (state, nonce, verifier) = (random_token(), random_token(), random_token());
        let challenge = secret::b64url(&secret::sha256(verifier.as_bytes()));
        let mut url = url::Url::parse(&self.discovery.authorization_endpoint)
            .map_err(|e| format!("the authorization endpoint is not a URL: {e}"))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", "openid email")
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let mut pending = self
            .pending
            .lock()
            .map_err(|_| "the sign-in table is poisoned".to_string())?;
        pending.retain(|_, p| p.started.elapsed() < PENDING_TTL);
        if pending.len() >= MAX_PENDING {
            return Err("too many sign-ins under way; try again in a few minutes".into());
        }
        pending.insert(
            state.clone(),
            Pending {
                nonce,
                verifier,
                next: next.to_string(),
                started: Instant::now(),
            },
        );
        Ok((state, url.into()))
    }

    /// Takes back a started sign-in (once): its nonce, PKCE verifier and `next`.
    fn take(&self, state: &str) -> Option<Pending> {
        let mut pending = self.pending.lock().ok()?;
        pending
            .remove(state)
            .filter(|p| p.started.elapsed() < PENDING_TTL)
    }

    /// Finishes a sign-in: trades the code for tokens and verifies the ID token.
    /// `Ok(None)`: no such sign-in under way (unknown, used or expired `state`).
    /// Returns the identity and the `next` page.
    pub fn finish(&self, state: &str, code: &str) -> Result<Option<(Identity, String)>, String> {
        let Some(pending) = self.take(state) else {
            return Ok(None);
        };
        let id_token = self.exchange(code, &pending.verifier)?;
        let identity = self.verify(&id_token, &pending.nonce)?;
        Ok(Some((identity, pending.next)))
    }

    fn exchange(&self, code: &str, verifier: &str) -> Result<String, String> {
        let url = &self.discovery.token_endpoint;
        // client_secret_basic: each part form-encoded, then Base64 (RFC 6749 2.3.1).
        let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
        let (id, secret): (String, String) = (
            encode(&self.settings.client_id),
            encode(&self.settings.client_secret),
        );
        let basic = crate::secret::b64(format!("{id}:{secret}").as_bytes());
        let mut response = self
            .agent
            .post(url)
            .header("Authorization", format!("Basic {basic}"))
            .header("Accept", "application/json")
            .send_form([
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", self.redirect_uri.as_str()),
                ("code_verifier", verifier),
            ])
            .map_err(|e| format!("POST {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "the token endpoint {url} answered HTTP {}",
                response.status()
            ));
        }
        let tokens: TokenResponse = response
            .body_mut()
            .read_json()
            .map_err(|e| format!("POST {url}: not a token response: {e}"))?;
        tokens
            .id_token
            .ok_or_else(|| format!("the token endpoint {url} returned no id_token"))
    }

    /// Checks the ID token's signature (a key of the provider's JWKS), `iss`, `aud`,
    /// `exp` and `nonce`.
    fn verify(&self, id_token: &str, nonce: &str) -> Result<Identity, String> {
        let jwks: JwkSet = get_json(&self.agent, &self.discovery.jwks_uri)?;
        verify_with(
            &jwks,
            id_token,
            &self.discovery.issuer,
            &self.settings.client_id,
            nonce,
            self.settings.groups_claim.as_deref(),
        )
    }
}

/// Checks an ID token against a JWKS, the issuer, the client ID and the nonce; reads
/// the groups claim `groups_claim` if one is named.
fn verify_with(
    jwks: &JwkSet,
    id_token: &str,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    groups_claim: Option<&str>,
) -> Result<Identity, String> {
    let header = jsonwebtoken::decode_header(id_token).map_err(|e| format!("bad ID token: {e}"))?;
    // Only public-key signatures: an HMAC "signature" keyed with a public key is
    // the classic forgery.
    if matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(format!("ID token signed with {:?}", header.alg));
    }
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or_else(|| "no key in the provider's JWKS matches the ID token".to_string())?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable JWKS key: {e}"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let all = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
        id_token,
        &key,
        &validation,
    )
    .map_err(|e| format!("ID token refused: {e}"))?
    .claims;
    let groups = groups_claim.map(|name| GroupsClaim::from_claims(&all, name));
    let claims: Claims = serde_json::from_value(serde_json::Value::Object(all))
        .map_err(|e| format!("ID token refused: {e}"))?;
    if claims.nonce.as_deref() != Some(nonce) {
        return Err("ID token refused: wrong nonce".into());
    }
    let verified = matches!(claims.email_verified, Some(serde_json::Value::Bool(true)))
        || matches!(&claims.email_verified, Some(serde_json::Value::String(s)) if s == "true");
    Ok(Identity {
        subject: claims.sub,
        verified_email: claims
            .email
            .filter(|_| verified)
            .map(|e| e.trim().to_lowercase()),
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use serde_json::{json, Value};

    const ISSUER: &str = "https://idp.example";
    const CLIENT: &str = "hitl";

    /// A fresh P-256 key: the signing key and the JWKS with its public half.
    fn new_key() -> (EncodingKey, JwkSet) {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
            "x": crate::secret::b64url(&point[1..33]),
            "y": crate::secret::b64url(&point[33..65]),
        }]});
        (
            EncodingKey::from_ec_der(pkcs8.as_ref()),
            serde_json::from_value(jwks).unwrap(),
        )
    }

    fn claims() -> Value {
        json!({
            "iss": ISSUER, "aud": CLIENT, "sub": "u1", "nonce": "n1",
            "exp": crate::clock::now() / 1000 + 300,
            "email": "Ann@Example.com", "email_verified": true,
        })
    }

    fn sign(key: &EncodingKey, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    fn check(jwks: &JwkSet, token: &str) -> Result<Identity, String> {
        verify_with(jwks, token, ISSUER, CLIENT, "n1", None)
    }

    #[test]
    fn a_good_token_gives_the_verified_email() {
        let (key, jwks) = new_key();
        let who = check(&jwks, &sign(&key, &claims())).unwrap();
        assert_eq!(who.subject, "u1");
        assert_eq!(who.verified_email.as_deref(), Some("ann@example.com"));
        let mut unverified = claims();
        unverified["email_verified"] = json!(false);
        let who = check(&jwks, &sign(&key, &unverified)).unwrap();
        assert_eq!(who.verified_email, None);
    }

    #[test]
    fn wrong_issuer_audience_expiry_or_nonce_is_refused() {
        let (key, jwks) = new_key();
        for (field, value) in [
            ("iss", json!("https://evil.example")),
            ("aud", json!("another-client")),
            ("exp", json!(crate::clock::now() / 1000 - 3600)),
            ("nonce", json!("n2")),
        ] {
            let mut bad = claims();
            bad[field] = value;
            assert!(check(&jwks, &sign(&key, &bad)).is_err(), "{field}");
        }
        let mut no_nonce = claims();
        no_nonce.as_object_mut().unwrap().remove("nonce");
        assert!(check(&jwks, &sign(&key, &no_nonce)).is_err());
    }

    #[test]
    fn another_key_a_changed_payload_or_hmac_is_refused() {
        let (key, jwks) = new_key();
        let (other, _) = new_key();
        assert!(check(&jwks, &sign(&other, &claims())).is_err());

        let token = sign(&key, &claims());
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims();
        forged["email"] = json!("boss@example.com");
        let payload = crate::secret::b64url(forged.to_string().as_bytes());
        let spliced = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert!(check(&jwks, &spliced).is_err());

        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let hmac =
            jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(b"k")).unwrap();
        assert!(check(&jwks, &hmac).is_err());
    }

    #[test]
    fn the_groups_claim_is_read_only_when_named() {
        let (key, jwks) = new_key();
        let mut with_groups = claims();
        with_groups["groups"] = json!(["ops", "dev"]);
        let token = sign(&key, &with_groups);
        assert_eq!(check(&jwks, &token).unwrap().groups, None);
        let who = verify_with(&jwks, &token, ISSUER, CLIENT, "n1", Some("groups")).unwrap();
        assert_eq!(
            who.groups,
            Some(GroupsClaim::Names(vec!["ops".into(), "dev".into()]))
        );
        let who = verify_with(&jwks, &token, ISSUER, CLIENT, "n1", Some("roles")).unwrap();
        assert_eq!(who.groups, Some(GroupsClaim::Absent));
        assert_eq!(who.subject, "u1");
    }

    #[test]
    fn a_groups_claim_is_strings_one_string_or_unusable() {
        let read = |value: Value| {
            let claims = json!({ "sub": "u1", "groups": value });
            let Value::Object(map) = claims else {
                unreachable!()
            };
            GroupsClaim::from_claims(&map, "groups")
        };
        assert_eq!(
            read(json!(["a", "b"])),
            GroupsClaim::Names(vec!["a".into(), "b".into()])
        );
        assert_eq!(read(json!([])), GroupsClaim::Names(vec![]));
        assert_eq!(read(json!("ops")), GroupsClaim::Names(vec!["ops".into()]));
        for bad in [
            json!(["a", 1]),
            json!([["a"]]),
            json!(null),
            json!(true),
            json!(7),
            json!({"ops": true}),
        ] {
            assert!(
                matches!(read(bad.clone()), GroupsClaim::Unusable(_)),
                "{bad}"
            );
        }
        let no_claim = serde_json::Map::new();
        assert_eq!(
            GroupsClaim::from_claims(&no_claim, "groups"),
            GroupsClaim::Absent
        );
    }
}
