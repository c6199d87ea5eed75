//! Provider metadata from OpenID Connect Discovery 1.0, with RFC 8414 as
//! the fallback.

use std::sync::Arc;

use auth_core::outbound::{OutboundError, checked_url};
use reqwest::Url;
use serde::Deserialize;

use crate::http::{HttpError, read_limited};

/// Why a provider's metadata could not be used. Every variant names what
/// was wrong; none carries a secret (discovery sends none).
///
/// ```
/// use auth_oauth2::DiscoveryError;
/// let e = DiscoveryError::IssuerMismatch {
///     expected: "https://login.example".into(),
///     found: "https://evil.example".into(),
/// };
/// assert_eq!(
///     e.to_string(),
///     "the discovery document names issuer \"https://evil.example\", not the configured \"https://login.example\""
/// );
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The configured issuer is not an `https` URL (or `http` to loopback),
    /// or it has a query or a fragment (OpenID Connect Discovery §2).
    #[error("invalid issuer URL {issuer:?}: {reason}")]
    InvalidIssuer {
        /// The configured issuer.
        issuer: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The provider could not be reached (connection refused, timeout, TLS).
    #[error("the provider could not be reached at {url}: {source}")]
    Unreachable {
        /// The metadata URL asked.
        url: String,
        /// The transport error.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// Neither metadata URL answered with a document.
    #[error("the provider answered {status} at {url}")]
    Status {
        /// The last metadata URL asked.
        url: String,
        /// Its status.
        status: u16,
    },
    /// The document is larger than 256 KiB.
    #[error("the discovery document at {url} is too large")]
    TooLarge {
        /// The metadata URL.
        url: String,
    },
    /// The document is not a JSON object with a string `issuer`.
    #[error("the discovery document at {url} is malformed: {reason}")]
    Malformed {
        /// The metadata URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The document's `issuer` is not exactly the configured issuer
    /// (OpenID Connect Discovery §4.3, RFC 8414 §3.3): a document served
    /// for another issuer is never used.
    #[error("the discovery document names issuer {found:?}, not the configured {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The document's `issuer`.
        found: String,
    },
    /// The document has no `jwks_uri` (resource server) or no
    /// `token_endpoint` (client credentials).
    #[error("the discovery document of {issuer} has no {field}")]
    Missing {
        /// The issuer.
        issuer: String,
        /// The missing member.
        field: &'static str,
    },
    /// An endpoint of the document is not `https` (or `http` to loopback).
    #[error("{field} {url:?} of {issuer} is refused: {reason}")]
    BadEndpoint {
        /// The issuer.
        issuer: String,
        /// The member (`jwks_uri`, `token_endpoint`).
        field: &'static str,
        /// Its value.
        url: String,
        /// Why.
        reason: String,
    },
    /// An endpoint of the document is on another host than the issuer and
    /// that host was not allowed explicitly
    /// ([`TrustedIssuer::allow_endpoint_host`](crate::TrustedIssuer::allow_endpoint_host)).
    #[error(
        "{field} of {issuer} is on host {host:?}, not the issuer's host; allow it explicitly if that is intended"
    )]
    ForeignHost {
        /// The issuer.
        issuer: String,
        /// The member (`jwks_uri`, `token_endpoint`).
        field: &'static str,
        /// The endpoint's host.
        host: String,
    },
}

/// The members of a provider's metadata this crate uses, checked: the
/// `issuer` equals the configured one exactly, and each endpoint present is
/// `https` (or `http` to loopback) on the issuer's host or on a host allowed
/// explicitly.
///
/// ```no_run
/// # async fn run() -> Result<(), auth_oauth2::DiscoveryError> {
/// let meta = auth_oauth2::ProviderMetadata::discover("https://login.example", &[]).await?;
/// assert_eq!(meta.issuer(), "https://login.example");
/// println!("keys at {:?}", meta.jwks_uri());
/// println!("tokens at {:?}", meta.token_endpoint());
/// println!("read from {}", meta.source_url());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ProviderMetadata {
    issuer: String,
    jwks_uri: Option<Url>,
    token_endpoint: Option<Url>,
    authorization_endpoint: Option<Url>,
    end_session_endpoint: Option<Url>,
    code_challenge_methods: Option<Vec<String>>,
    grant_types: Option<Vec<String>>,
    from: Url,
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    token_endpoint: Option<String>,
    #[serde(default)]
    authorization_endpoint: Option<String>,
    #[serde(default)]
    end_session_endpoint: Option<String>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    grant_types_supported: Option<Vec<String>>,
}

impl ProviderMetadata {
    /// Fetches `{issuer}/.well-known/openid-configuration`; when that is a
    /// 404, the RFC 8414 form `{origin}/.well-known/oauth-authorization-server{path}`.
    /// Any other failure (provider down, 5xx) is returned as it is.
    ///
    /// `allowed_hosts` lists hosts other than the issuer's that the
    /// document's endpoints may point to (for a provider that serves its
    /// keys from a CDN host); empty means the issuer's host only.
    ///
    /// Uses auth-core's outbound client: no redirects, timeouts, `https`
    /// only except loopback.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use auth_oauth2::{DiscoveryError, ProviderMetadata};
    /// let err = ProviderMetadata::discover("http://login.example", &[]).await.unwrap_err();
    /// assert!(matches!(err, DiscoveryError::InvalidIssuer { .. }));
    /// # });
    /// ```
    pub async fn discover(issuer: &str, allowed_hosts: &[String]) -> Result<Self, DiscoveryError> {
        let client = auth_core::outbound::client().map_err(|e| invalid(issuer, e))?;
        Self::discover_with(&client, issuer, allowed_hosts).await
    }

    pub(crate) async fn discover_with(
        client: &reqwest::Client,
        issuer: &str,
        allowed_hosts: &[String],
    ) -> Result<Self, DiscoveryError> {
        let base = checked_url(issuer).map_err(|e| invalid(issuer, e))?;
        if base.query().is_some() || base.fragment().is_some() {
            return Err(DiscoveryError::InvalidIssuer {
                issuer: issuer.to_owned(),
                reason: "an issuer has no query or fragment".into(),
            });
        }
        let path = base.path().trim_end_matches('/');
        let openid = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let mut rfc8414 = base.clone();
        rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
        let mut last = None;
        for url in [openid, rfc8414.to_string()] {
            match fetch(client, &url).await? {
                Fetched::Document(doc) => {
                    return Self::checked(issuer, &base, doc, url, allowed_hosts);
                }
                Fetched::NotFound => last = Some(url),
            }
        }
        Err(DiscoveryError::Status {
            url: last.unwrap_or_default(),
            status: 404,
        })
    }

    fn checked(
        issuer: &str,
        base: &Url,
        doc: Document,
        from: String,
        allowed_hosts: &[String],
    ) -> Result<Self, DiscoveryError> {
        // Exact comparison, no normalisation: the value the tokens carry
        // in `iss` is this string.
        if doc.issuer != issuer {
            return Err(DiscoveryError::IssuerMismatch {
                expected: issuer.to_owned(),
                found: doc.issuer,
            });
        }
        let endpoint =
            |field: &'static str, value: Option<String>| -> Result<Option<Url>, DiscoveryError> {
                let Some(value) = value else { return Ok(None) };
                let url = checked_url(&value).map_err(|e| DiscoveryError::BadEndpoint {
                    issuer: issuer.to_owned(),
                    field,
                    url: value.clone(),
                    reason: e.to_string(),
                })?;
                let host = url.host_str().unwrap_or_default();
                let same = host.eq_ignore_ascii_case(base.host_str().unwrap_or_default());
                if !same && !allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
                    return Err(DiscoveryError::ForeignHost {
                        issuer: issuer.to_owned(),
                        field,
                        host: host.to_owned(),
                    });
                }
                Ok(Some(url))
            };
        Ok(ProviderMetadata {
            issuer: doc.issuer.clone(),
            jwks_uri: endpoint("jwks_uri", doc.jwks_uri)?,
            token_endpoint: endpoint("token_endpoint", doc.token_endpoint)?,
            authorization_endpoint: endpoint("authorization_endpoint", doc.authorization_endpoint)?,
            end_session_endpoint: endpoint("end_session_endpoint", doc.end_session_endpoint)?,
            code_challenge_methods: doc.code_challenge_methods_supported,
            grant_types: doc.grant_types_supported,
            from: Url::parse(&from).unwrap_or_else(|_| base.clone()),
        })
    }

    /// The issuer, exactly as configured (and as the document named it).
    /// The accessors are shown in [`ProviderMetadata`]'s example.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The checked `jwks_uri`, if the document has one.
    pub fn jwks_uri(&self) -> Option<&Url> {
        self.jwks_uri.as_ref()
    }

    /// The checked `token_endpoint`, if the document has one.
    pub fn token_endpoint(&self) -> Option<&Url> {
        self.token_endpoint.as_ref()
    }

    /// The checked `authorization_endpoint`, if the document has one.
    pub fn authorization_endpoint(&self) -> Option<&Url> {
        self.authorization_endpoint.as_ref()
    }

    /// The checked `end_session_endpoint` (OpenID Connect RP-Initiated
    /// Logout 1.0), if the document has one.
    pub fn end_session_endpoint(&self) -> Option<&Url> {
        self.end_session_endpoint.as_ref()
    }

    /// `code_challenge_methods_supported` (RFC 8414 §2), if the document
    /// lists it; absent means the provider did not say.
    pub fn code_challenge_methods(&self) -> Option<&[String]> {
        self.code_challenge_methods.as_deref()
    }

    /// `grant_types_supported` (RFC 8414 §2), if the document lists it.
    /// Absent means RFC 8414's default, `authorization_code` and
    /// `implicit` only; [`supports_grant`](Self::supports_grant) applies it.
    pub fn grant_types(&self) -> Option<&[String]> {
        self.grant_types.as_deref()
    }

    /// Whether the provider offers the grant type `grant_type` (e.g.
    /// [`TOKEN_EXCHANGE_GRANT`](crate::TOKEN_EXCHANGE_GRANT)) by its
    /// `grant_types_supported`; a document without that member offers
    /// `authorization_code` and `implicit` only (RFC 8414 §2).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), auth_oauth2::DiscoveryError> {
    /// let meta = auth_oauth2::ProviderMetadata::discover("https://login.example", &[]).await?;
    /// if !meta.supports_grant(auth_oauth2::TOKEN_EXCHANGE_GRANT) {
    ///     println!("no RFC 8693 token exchange at {}", meta.issuer());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn supports_grant(&self, grant_type: &str) -> bool {
        match &self.grant_types {
            Some(types) => types.iter().any(|t| t == grant_type),
            None => matches!(grant_type, "authorization_code" | "implicit"),
        }
    }

    /// The URL the document was read from (OpenID or RFC 8414 form).
    pub fn source_url(&self) -> &Url {
        &self.from
    }

    pub(crate) fn require(
        &self,
        field: &'static str,
        value: Option<&Url>,
    ) -> Result<Url, DiscoveryError> {
        value.cloned().ok_or_else(|| DiscoveryError::Missing {
            issuer: self.issuer.clone(),
            field,
        })
    }
}

fn invalid(issuer: &str, e: OutboundError) -> DiscoveryError {
    DiscoveryError::InvalidIssuer {
        issuer: issuer.to_owned(),
        reason: e.to_string(),
    }
}

enum Fetched {
    Document(Document),
    NotFound,
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<Fetched, DiscoveryError> {
    let resp = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| DiscoveryError::Unreachable {
            url: url.to_owned(),
            source: Arc::new(e.without_url()),
        })?;
    let status = resp.status().as_u16();
    if status == 404 {
        return Ok(Fetched::NotFound);
    }
    if status != 200 {
        return Err(DiscoveryError::Status {
            url: url.to_owned(),
            status,
        });
    }
    let body = read_limited(resp).await.map_err(|e| match e {
        HttpError::TooLarge => DiscoveryError::TooLarge {
            url: url.to_owned(),
        },
        HttpError::Request(e) => DiscoveryError::Unreachable {
            url: url.to_owned(),
            source: Arc::new(e.without_url()),
        },
        HttpError::Build(reason) => DiscoveryError::Malformed {
            url: url.to_owned(),
            reason,
        },
    })?;
    serde_json::from_slice(&body)
        .map(Fetched::Document)
        .map_err(|e| DiscoveryError::Malformed {
            url: url.to_owned(),
            reason: e.to_string(),
        })
}

/// Why no token endpoint could be settled on: what [`token_endpoint`]
/// reports, each client mapping it into its own error.
pub(crate) enum EndpointError {
    /// Neither an endpoint nor an issuer was given.
    Missing,
    /// The explicit endpoint is not `https` (or `http` to loopback).
    Invalid { url: String, reason: String },
    /// Discovery failed, or its document has no token endpoint.
    Discovery(DiscoveryError),
}

/// The token endpoint of a client (client credentials, token exchange): the
/// explicit URL when one was given, else the one the issuer's discovery
/// document names (on the issuer's host or an allowed one), returned with
/// that document for further checks.
pub(crate) async fn token_endpoint(
    client: &reqwest::Client,
    explicit: Option<&str>,
    issuer: Option<&str>,
    allowed_hosts: &[String],
) -> Result<(Url, Option<ProviderMetadata>), EndpointError> {
    match (explicit, issuer) {
        (Some(url), _) => {
            checked_url(url)
                .map(|url| (url, None))
                .map_err(|e| EndpointError::Invalid {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })
        }
        (None, Some(issuer)) => {
            let meta = ProviderMetadata::discover_with(client, issuer, allowed_hosts)
                .await
                .map_err(EndpointError::Discovery)?;
            let url = meta
                .require("token_endpoint", meta.token_endpoint())
                .map_err(EndpointError::Discovery)?;
            Ok((url, Some(meta)))
        }
        (None, None) => Err(EndpointError::Missing),
    }
}
