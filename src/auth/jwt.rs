//! Bearer token verification (JWT, verified offline against a JWKS) and the development key.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::{Principal, Role};
use crate::error::{Error, Result};

/// Issuer of development tokens.
pub const DEV_ISSUER: &str = "kinerja-dev";
/// Key id of the development key.
pub const DEV_KID: &str = "kinerja-dev";
/// Default audience of Kinerja tokens.
pub const DEFAULT_AUDIENCE: &str = "kinerja";
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;
const CACHE_SIZE: usize = 10_000;

/// The RFC 8693 actor claim: the service acting for the subject.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Act {
    /// The acting service.
    pub sub: String,
}

/// Claims of a Kinerja token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Subject: NIP or service account.
    pub sub: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Not before (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Issued at (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Unit scope of an admin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<String>,
    /// Space-separated scopes of a service account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The calling service acting for the subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Act>,
}

/// One verification key with its pinned algorithm.
#[derive(Clone)]
struct Key {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// Where the verification keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS file (reloaded when it changes or on SIGHUP).
    JwksFile(PathBuf),
    /// A JWKS document held in memory (tests, development key).
    Jwks(String),
}

/// Settings of the verifier.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The keys.
    pub keys: KeySource,
    /// Accepted issuer.
    pub issuer: String,
    /// Accepted audience.
    pub audience: String,
}

/// Verifies bearer tokens and caches the verified ones until they expire (or until the keys
/// change, or the server goes quiet after load: [`Verifier::forget_verified`]).
pub struct Verifier {
    cfg: VerifierConfig,
    keys: RwLock<Vec<Key>>,
    loaded_mtime: Mutex<Option<SystemTime>>,
    cache: Mutex<lru::LruCache<String, Arc<Principal>>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.cfg.issuer)
            .field("audience", &self.cfg.audience)
            .finish_non_exhaustive()
    }
}

fn parse_jwks(doc: &str) -> Result<Vec<Key>> {
    let set: JwkSet = serde_json::from_str(doc)
        .map_err(|e| Error::Internal(format!("the JWKS is not valid JSON: {e}")))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let Some(alg) = jwk.common.key_algorithm else {
            return Err(Error::Internal(
                "every JWKS key must name its algorithm (`alg`) so it is pinned".into(),
            ));
        };
        let alg = Algorithm::try_from(alg).map_err(|_| {
            Error::Internal(format!("JWKS key algorithm {alg} cannot verify signatures"))
        })?;
        if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(Error::Internal(
                "symmetric (HS*) keys are not accepted; use public keys".into(),
            ));
        }
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|e| Error::Internal(format!("unusable JWKS key: {e}")))?;
        keys.push(Key {
            kid: jwk.common.key_id.clone(),
            alg,
            key,
        });
    }
    if keys.is_empty() {
        return Err(Error::Internal("the JWKS holds no keys".into()));
    }
    Ok(keys)
}

impl Verifier {
    /// Loads the keys and builds a verifier.
    pub fn new(cfg: VerifierConfig) -> Result<Self> {
        let v = Self {
            keys: RwLock::new(Vec::new()),
            loaded_mtime: Mutex::new(None),
            cache: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(CACHE_SIZE).unwrap_or(NonZeroUsize::MIN),
            )),
            cfg,
        };
        v.reload()?;
        Ok(v)
    }

    /// Reads the keys again (on SIGHUP or when the file changed) and empties the cache.
    pub fn reload(&self) -> Result<()> {
        let (doc, mtime) = match &self.cfg.keys {
            KeySource::Jwks(doc) => (doc.clone(), None),
            KeySource::JwksFile(path) => {
                let doc = std::fs::read_to_string(path).map_err(|e| {
                    Error::Internal(format!("cannot read JWKS file {}: {e}", path.display()))
                })?;
                (doc, mtime_of(path))
            }
        };
        let keys = parse_jwks(&doc)?;
        if let Ok(mut k) = self.keys.write() {
            *k = keys;
        }
        if let Ok(mut m) = self.loaded_mtime.lock() {
            *m = mtime;
        }
        self.forget_verified();
        Ok(())
    }

    /// Empties the cache of verified tokens (new keys; or an idle server handing its memory
    /// back: a token is verified again when next used).
    pub fn forget_verified(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }

    /// Reloads the JWKS file when its modification time changed; returns whether it did.
    pub fn reload_if_changed(&self) -> bool {
        let KeySource::JwksFile(path) = &self.cfg.keys else {
            return false;
        };
        let now = mtime_of(path);
        let before = self.loaded_mtime.lock().ok().and_then(|m| *m);
        if now.is_some() && now != before {
            match self.reload() {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "JWKS reloaded");
                    return true;
                }
                Err(e) => tracing::error!(error = %e, "JWKS reload failed; keeping the old keys"),
            }
        }
        false
    }

    /// Verifies a bearer token and returns its principal. Every failure is `UNAUTHENTICATED`.
    pub fn verify(&self, token: &str) -> Result<Arc<Principal>> {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        if let Ok(mut cache) = self.cache.lock()
            && let Some(p) = cache.get(token)
        {
            if p.expires_at + LEEWAY_SECS as i64 > now {
                return Ok(p.clone());
            }
            cache.pop(token);
        }
        let principal = Arc::new(self.verify_uncached(token)?);
        if let Ok(mut cache) = self.cache.lock() {
            cache.put(token.to_owned(), principal.clone());
        }
        Ok(principal)
    }

    fn verify_uncached(&self, token: &str) -> Result<Principal> {
        let unauth = |m: &str| Error::Unauthenticated(m.to_owned());
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            unauth("the bearer token is malformed or uses an unsupported algorithm")
        })?;
        let keys = self
            .keys
            .read()
            .map_err(|_| Error::Internal("key store poisoned".into()))?
            .clone();
        let candidates: Vec<&Key> = keys
            .iter()
            .filter(|k| k.alg == header.alg)
            .filter(|k| match (&header.kid, &k.kid) {
                (Some(h), Some(k)) => h == k,
                _ => true,
            })
            .collect();
        if candidates.is_empty() {
            return Err(unauth(
                "no trusted key matches the token's key id and algorithm",
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.cfg.issuer]);
        validation.set_audience(&[&self.cfg.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let mut last = unauth("the token signature is not valid");
        for k in candidates {
            match jsonwebtoken::decode::<Claims>(token, &k.key, &validation) {
                Ok(data) => return Ok(principal_of(data.claims)),
                Err(e) => {
                    use jsonwebtoken::errors::ErrorKind as K;
                    last = unauth(match e.kind() {
                        K::ExpiredSignature => "the token has expired",
                        K::ImmatureSignature => "the token is not valid yet (nbf)",
                        K::InvalidIssuer => "the token's issuer is not trusted",
                        K::InvalidAudience => "the token is not meant for this service (aud)",
                        K::MissingRequiredClaim(_) => "the token lacks a required claim",
                        _ => "the token signature is not valid",
                    });
                }
            }
        }
        Err(last)
    }
}

fn mtime_of(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn principal_of(c: Claims) -> Principal {
    Principal {
        subject: c.sub,
        roles: c.roles.iter().filter_map(|r| Role::parse(r)).collect(),
        units: c.units,
        scopes: c
            .scope
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
        acting_service: c.act.map(|a| a.sub),
        expires_at: c.exp,
    }
}

/// A local development key pair (Ed25519) kept in a PEM file with mode 0600.
#[derive(Clone)]
pub struct DevKey {
    signing: SigningKey,
}

impl std::fmt::Debug for DevKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevKey(..)")
    }
}

impl DevKey {
    /// Loads the key from `path`, creating it (mode 0600) when missing.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        if path.exists() {
            return Self::load(path);
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| Error::Internal(format!("no randomness for the key: {e}")))?;
        let signing = SigningKey::from_bytes(&seed);
        let pem = signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| Error::Internal(format!("cannot encode the key: {e}")))?;
        write_private(path, pem.as_bytes())?;
        Ok(Self { signing })
    }

    /// Loads an existing key.
    pub fn load(path: &Path) -> Result<Self> {
        let pem = std::fs::read_to_string(path).map_err(|e| {
            Error::Internal(format!(
                "cannot read the development key {}: {e}",
                path.display()
            ))
        })?;
        let signing = SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| Error::Internal(format!("the development key is not valid: {e}")))?;
        Ok(Self { signing })
    }

    /// A key from a fixed seed (tests).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The public half as a JWKS document (algorithm EdDSA, pinned).
    pub fn jwks(&self) -> String {
        let x = URL_SAFE_NO_PAD.encode(self.signing.verifying_key().as_bytes());
        serde_json::json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": x, "alg": "EdDSA", "use": "sig", "kid": DEV_KID
        }]})
        .to_string()
    }

    /// Signs `claims` into a token.
    pub fn sign(&self, claims: &Claims) -> Result<String> {
        let pem = self
            .signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let key =
            EncodingKey::from_ed_pem(pem.as_bytes()).map_err(|e| Error::Internal(e.to_string()))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(DEV_KID.to_owned());
        jsonwebtoken::encode(&header, claims, &key).map_err(|e| Error::Internal(e.to_string()))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        Error::Internal(format!(
            "cannot create the development key {}: {e}",
            path.display()
        ))
    })?;
    f.write_all(bytes)
        .map_err(|e| Error::Internal(format!("cannot write the development key: {e}")))
}

impl Claims {
    /// Claims for `sub`, valid for `ttl_secs` from now, with no roles yet.
    pub fn new(sub: &str, issuer: &str, audience: &str, ttl_secs: i64) -> Self {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        Claims {
            sub: sub.to_owned(),
            iss: issuer.to_owned(),
            aud: audience.to_owned(),
            exp: now + ttl_secs,
            nbf: Some(now),
            iat: Some(now),
            roles: Vec::new(),
            units: Vec::new(),
            scope: None,
            act: None,
        }
    }
    /// Grants `roles`.
    pub fn roles(mut self, roles: &[Role]) -> Self {
        self.roles = roles.iter().map(|r| r.as_str().to_owned()).collect();
        self
    }
    /// Scopes an admin to the subtrees of `units`.
    pub fn units(mut self, units: &[String]) -> Self {
        self.units = units.to_vec();
        self
    }
    /// Grants a service account `scopes`.
    pub fn scopes(mut self, scopes: &[String]) -> Self {
        self.scope = (!scopes.is_empty()).then(|| scopes.join(" "));
        self
    }
    /// Names the calling service acting for the subject.
    pub fn acting_service(mut self, act: Option<&str>) -> Self {
        self.act = act.map(|a| Act { sub: a.to_owned() });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(key: &DevKey) -> Verifier {
        Verifier::new(VerifierConfig {
            keys: KeySource::Jwks(key.jwks()),
            issuer: DEV_ISSUER.into(),
            audience: DEFAULT_AUDIENCE.into(),
        })
        .unwrap()
    }

    #[test]
    fn signs_and_verifies_with_claims() {
        let key = DevKey::from_seed([7; 32]);
        let v = verifier(&key);
        let c = Claims::new("198503152010011001", DEV_ISSUER, DEFAULT_AUDIENCE, 600)
            .roles(&[Role::Employee])
            .acting_service(Some("simpeg"));
        let t = key.sign(&c).unwrap();
        let p = v.verify(&t).unwrap();
        assert_eq!(p.subject, "198503152010011001");
        assert_eq!(p.roles, vec![Role::Employee]);
        assert_eq!(p.acting_service.as_deref(), Some("simpeg"));
        // Cached: same Arc.
        assert!(Arc::ptr_eq(&p, &v.verify(&t).unwrap()));
    }

    #[test]
    fn refuses_bad_tokens() {
        let key = DevKey::from_seed([7; 32]);
        let other = DevKey::from_seed([8; 32]);
        let v = verifier(&key);
        let base = Claims::new("x", DEV_ISSUER, DEFAULT_AUDIENCE, 600).roles(&[Role::Admin]);
        let expired = Claims {
            exp: base.exp - 3600,
            nbf: Some(base.exp - 7200),
            ..base.clone()
        };
        let future = Claims {
            nbf: Some(base.exp + 3600),
            exp: base.exp + 7200,
            ..base.clone()
        };
        let wrong_iss = Claims {
            iss: "evil".into(),
            ..base.clone()
        };
        let wrong_aud = Claims {
            aud: "other".into(),
            ..base.clone()
        };
        for (why, token) in [
            ("expired", key.sign(&expired).unwrap()),
            ("not yet valid", key.sign(&future).unwrap()),
            ("wrong issuer", key.sign(&wrong_iss).unwrap()),
            ("wrong audience", key.sign(&wrong_aud).unwrap()),
            ("wrong key", other.sign(&base).unwrap()),
            ("malformed", "abc.def".to_owned()),
        ] {
            assert!(
                matches!(v.verify(&token), Err(Error::Unauthenticated(_))),
                "{why}"
            );
        }
    }

    #[test]
    fn jwks_file_is_reloaded_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        let (old, new) = (DevKey::from_seed([1; 32]), DevKey::from_seed([2; 32]));
        std::fs::write(&path, old.jwks()).unwrap();
        let v = Verifier::new(VerifierConfig {
            keys: KeySource::JwksFile(path.clone()),
            issuer: DEV_ISSUER.into(),
            audience: DEFAULT_AUDIENCE.into(),
        })
        .unwrap();
        let c = Claims::new("x", DEV_ISSUER, DEFAULT_AUDIENCE, 600).roles(&[Role::Auditor]);
        let (t_old, t_new) = (old.sign(&c).unwrap(), new.sign(&c).unwrap());
        assert!(v.verify(&t_old).is_ok());
        assert!(v.verify(&t_new).is_err());
        assert!(!v.reload_if_changed(), "unchanged file: no reload");
        // Rotate the key; make sure the modification time moves.
        std::fs::write(&path, new.jwks()).unwrap();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(v.reload_if_changed());
        assert!(v.verify(&t_new).is_ok());
        assert!(
            v.verify(&t_old).is_err(),
            "the cache was emptied with the old keys"
        );
        // A broken file keeps the current keys.
        std::fs::write(&path, "{").unwrap();
        let later = later + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(!v.reload_if_changed());
        assert!(v.verify(&t_new).is_ok());
    }

    #[test]
    fn jwks_keys_must_pin_an_asymmetric_algorithm() {
        assert!(parse_jwks(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256"}]}"#).is_err());
        assert!(parse_jwks(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#).is_err());
        assert!(parse_jwks(r#"{"keys":[]}"#).is_err());
    }
}
