//! The OpenID provider as docflow talks to it (the `openidconnect` crate): discovery, kept
//! for an hour, and asked again (at most once a minute) when an ID token's signature
//! matches none of the keys it gave, so that a rotated signing key is learnt at once; the
//! authorization request with PKCE (S256), `state` and `nonce`; the code's exchange; the
//! ID token's checks (signature against the provider's keys, issuer, audience, expiry,
//! nonce). Its HTTP client follows no redirect (a token request must not be sent on to
//! another host) and gives up after [`TIMEOUT`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, LogoutRequest, Nonce, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::settings::oidc::{CALLBACK_PATH, OidcSettings};

/// Each request to the provider (discovery, keys, token).
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long discovery's answer (endpoints, signing keys) is used before it is asked again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// A signature that fails asks discovery again only when its answer is older than this:
/// forged tokens cannot make docflow hammer the provider.
const REDISCOVER_AFTER: Duration = Duration::from_secs(60);

type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// Classified by what the person can do next.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// Discovery or the token request failed on the way: try again later.
    #[error("the OpenID provider cannot be reached: {0}")]
    Unreachable(String),
    /// The provider refused the code (used, expired, or docflow's client credentials).
    #[error("the OpenID provider refused the sign-in: {0}")]
    Refused(String),
    /// The ID token failed a check: nobody is signed in with it.
    #[error("the ID token failed a check: {0}")]
    Untrusted(String),
}

/// An authorization request: where to send the browser, and what the callback checks.
pub struct Started {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// A checked ID token: its claims, and the token itself (the sign-out's `id_token_hint`).
pub struct Verified {
    pub claims: Value,
    pub id_token: String,
}

/// One configured provider. Cheap to share (`Arc`).
pub struct Provider {
    settings: OidcSettings,
    redirect: RedirectUrl,
    post_logout: String,
    http: openidconnect::reqwest::Client,
    /// [`REDISCOVER_AFTER`]; tests set 0 to see a rotation at once.
    rediscover_after: Duration,
    discovered: tokio::sync::Mutex<Option<(Instant, Arc<ProviderMetadataWithLogout>)>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").field("issuer", &self.settings.issuer).finish_non_exhaustive()
    }
}

impl Provider {
    /// The provider of `settings` (validated: `issuer` is set), for the gateway at
    /// `public_url`. Nothing is asked of it before the first sign-in.
    pub fn new(settings: &OidcSettings, public_url: &str) -> Result<Provider, OidcError> {
        let base = public_url.trim_end_matches('/');
        let redirect = RedirectUrl::new(format!("{base}{CALLBACK_PATH}"))
            .map_err(|e| OidcError::Unreachable(format!("gateway.public_url: {e}")))?;
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| OidcError::Unreachable(e.to_string()))?;
        Ok(Provider {
            settings: settings.clone(),
            redirect,
            post_logout: format!("{base}/ui/sign-in"),
            http,
            rediscover_after: REDISCOVER_AFTER,
            discovered: tokio::sync::Mutex::new(None),
        })
    }

    /// How old discovery's answer must be before a failed signature asks again.
    pub fn with_rediscover_after(mut self, after: Duration) -> Provider {
        self.rediscover_after = after;
        self
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// Discovery's answer, asked again once older than [`DISCOVERY_TTL`].
    async fn metadata(&self) -> Result<Arc<ProviderMetadataWithLogout>, OidcError> {
        self.discover(DISCOVERY_TTL).await
    }

    /// Discovery's answer, asked again when older than `max_age`.
    async fn discover(&self, max_age: Duration) -> Result<Arc<ProviderMetadataWithLogout>, OidcError> {
        let mut discovered = self.discovered.lock().await;
        if let Some((at, metadata)) = discovered.as_ref()
            && at.elapsed() < max_age
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone()).map_err(|e| OidcError::Unreachable(e.to_string()))?;
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Unreachable(error_chain(&e)))?;
        let metadata = Arc::new(metadata);
        *discovered = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(&self, metadata: &ProviderMetadataWithLogout) -> Client {
        let secret = self.settings.client_secret.as_ref().map(|s| ClientSecret::new(s.expose_secret().to_owned()));
        CoreClient::from_provider_metadata(metadata.clone(), ClientId::new(self.settings.client_id.clone()), secret)
            .set_redirect_uri(self.redirect.clone())
    }

    /// A new authorization request (code flow, PKCE S256, the configured scopes).
    pub async fn start(&self) -> Result<Started, OidcError> {
        let client = self.client(&*self.metadata().await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request =
            client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges `code` (with the request's PKCE verifier) and checks the ID token against
    /// the request's `nonce`.
    pub async fn finish(&self, code: &str, pkce_verifier: &str, nonce: &str) -> Result<Verified, OidcError> {
        let client = self.client(&*self.metadata().await?);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Unreachable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(answer) => OidcError::Refused(answer.to_string()),
                other => OidcError::Unreachable(error_chain(&other)),
            })?;
        let token = response.id_token().ok_or_else(|| OidcError::Untrusted("no ID token in the answer".into()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let checked = match token.claims(&client.id_token_verifier(), &nonce) {
            // Signed with a key discovery did not give: the provider may have rotated its
            // keys since. Learn them again and check once more.
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                let fresh = self.client(&*self.discover(self.rediscover_after).await?);
                token.claims(&fresh.id_token_verifier(), &nonce).map(|_| ())
            }
            other => other.map(|_| ()),
        };
        checked.map_err(|e| OidcError::Untrusted(error_chain(&e)))?;
        let id_token = token.to_string();
        Ok(Verified { claims: payload(&id_token)?, id_token })
    }

    /// Where to send the browser to end the person's session at the provider too
    /// (RP-initiated logout), with `id_token_hint` when it was kept; `None` when the
    /// provider has no `end_session_endpoint` (or cannot be reached to say).
    pub async fn end_session(&self, id_token: Option<&str>) -> Option<String> {
        let metadata = match self.metadata().await {
            Ok(metadata) => metadata,
            Err(error) => {
                tracing::warn!(%error, "signed out here only: the provider's end-session endpoint is unknown");
                return None;
            }
        };
        let endpoint = metadata.additional_metadata().end_session_endpoint.clone()?;
        let mut request = LogoutRequest::from(endpoint).set_client_id(ClientId::new(self.settings.client_id.clone()));
        if let Ok(back) = PostLogoutRedirectUrl::new(self.post_logout.clone()) {
            request = request.set_post_logout_redirect_uri(back);
        }
        if let Some(token) = id_token.and_then(|t| t.parse::<CoreIdToken>().ok()) {
            request = request.set_id_token_hint(&token);
        }
        Some(request.http_get_url().to_string())
    }
}

/// The claims of an ID token whose signature the library checked: its middle part. Only
/// the configured claims are read from it (`oidc_claims.rs`).
fn payload(id_token: &str) -> Result<Value, OidcError> {
    let part = id_token.split('.').nth(1).unwrap_or_default();
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(part.trim_end_matches('=').as_bytes())
        .map_err(|e| OidcError::Untrusted(format!("the ID token's claims: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| OidcError::Untrusted(format!("the ID token's claims: {e}")))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
