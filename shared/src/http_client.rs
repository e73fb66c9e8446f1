//! The one HTTP client services use to call each other's `/internal` routes: pooled, with
//! timeouts, the service credential and the caller's trace context on every request.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::cache::{Cache, CacheError};
use crate::config::{Secret, ServiceKind, ServiceUrls, Settings};
use crate::parsed::ParsedCopies;

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The other service did not answer as it should; the text is for the log.
    #[error("{service}: {cause}")]
    Upstream { service: ServiceKind, cause: String },
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// How long a [`ServiceClient::cached_get`] answer is kept: found, and not found (shorter, so
/// a resource created a moment later is seen soon).
#[derive(Debug, Clone, Copy)]
pub struct CacheTtl {
    pub found: Duration,
    pub missing: Duration,
}

/// Header carrying the shared service credential on `/internal` calls.
pub const SERVICE_TOKEN_HEADER: &str = "x-idp-service-token";

#[derive(Clone)]
pub struct ServiceClient {
    http: reqwest::Client,
    urls: Arc<ServiceUrls>,
    token: Option<Secret>,
    /// Realm representations parsed from the cache (see [`crate::realms::lookup_realm`]).
    pub(crate) realms: Arc<ParsedCopies<serde_json::Value>>,
}

impl ServiceClient {
    pub fn new(settings: &Settings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(32)
            .tcp_nodelay(true)
            .build()?;
        Ok(ServiceClient {
            http,
            urls: Arc::new(settings.services.clone()),
            token: settings.security.service_token.clone(),
            realms: Arc::default(),
        })
    }

    pub fn base_url(&self, service: ServiceKind) -> &str {
        self.urls.get(service).unwrap_or_default()
    }

    /// A request to `path` (starting with `/`) of `service`, with credential and trace context.
    pub fn request(
        &self,
        method: reqwest::Method,
        service: ServiceKind,
        path: &str,
    ) -> reqwest::RequestBuilder {
        let url = format!("{}{}", self.base_url(service).trim_end_matches('/'), path);
        let mut headers = HeaderMap::new();
        for (k, v) in crate::telemetry::current_trace_headers() {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::from_str(&v)) {
                headers.insert(k, v);
            }
        }
        if let Some(token) = &self.token
            && let Ok(mut v) = HeaderValue::from_str(token.expose())
        {
            v.set_sensitive(true);
            headers.insert(SERVICE_TOKEN_HEADER, v);
        }
        self.http.request(method, url).headers(headers)
    }

    /// GET of another service's internal resource through the cache: the body on 200, None on
    /// 404 (both cached for their TTL), an error on anything else.
    pub async fn cached_get(
        &self,
        cache: &dyn Cache,
        key: &str,
        service: ServiceKind,
        path: &str,
        ttl: CacheTtl,
    ) -> Result<Option<Vec<u8>>, LookupError> {
        if let Some(bytes) = cache.get(key).await? {
            return Ok((bytes != b"null").then_some(bytes));
        }
        let upstream = |cause: String| LookupError::Upstream { service, cause };
        let reply = self
            .request(reqwest::Method::GET, service, path)
            .send()
            .await
            .map_err(|e| upstream(e.to_string()))?;
        match reply.status().as_u16() {
            200 => {
                let bytes = reply.bytes().await.map_err(|e| upstream(e.to_string()))?;
                cache.set(key, &bytes, ttl.found).await?;
                Ok(Some(bytes.to_vec()))
            }
            404 => {
                cache.set(key, b"null", ttl.missing).await?;
                Ok(None)
            }
            status => Err(upstream(format!("answered {status}"))),
        }
    }

    /// The raw client, for calls that are not to a platform service.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}
