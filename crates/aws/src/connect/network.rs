//! The HTTP client every SDK client shares: rustls with ring (no aws-lc C build), the system's root
//! certificates plus a corporate CA bundle when one is configured, and the proxy the environment names.
//!
//! The Rust SDK reads neither `AWS_CA_BUNDLE` nor a profile's `ca_bundle`, and its default client ignores
//! `HTTPS_PROXY`; the AWS CLI honours all three, and people behind a re-signing proxy rely on them, so they are
//! applied here.

use std::path::PathBuf;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{SharedHttpClient, SharedHttpConnector, http_client_fn};

use crate::AwsError;

/// How requests leave this machine.
#[derive(Debug, Clone, Default)]
pub struct Network {
    /// A PEM file of extra CA certificates to trust beside the system's (`AWS_CA_BUNDLE`, or `ca_bundle`).
    pub ca_bundle: Option<PathBuf>,
    /// Whether `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` apply. Off for the embedded sandbox, which is on loopback:
    /// a corporate proxy must never see its traffic.
    pub proxy_from_env: bool,
}

impl Network {
    /// What the environment configures for a connection to AWS: proxies from the environment, and the CA
    /// bundle named by `AWS_CA_BUNDLE` or else by the profile's `ca_bundle`.
    pub fn from_env(profile_ca_bundle: Option<&str>) -> Network {
        let ca_bundle = std::env::var_os("AWS_CA_BUNDLE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| profile_ca_bundle.map(PathBuf::from));
        Network { ca_bundle, proxy_from_env: true }
    }

    /// The HTTP client for these settings; a CA bundle that cannot be read or holds no certificate is an error
    /// naming the file, not a TLS failure later.
    pub fn http_client(&self) -> Result<SharedHttpClient, AwsError> {
        let (context, proxy) = (self.tls_context()?, self.proxy());
        Ok(http_client_fn(move |settings, components| {
            let mut builder = aws_smithy_http_client::Connector::builder().proxy_config(proxy.clone());
            builder.set_connector_settings(Some(settings.clone()));
            builder.set_sleep_impl(components.sleep_impl());
            let connector =
                builder.tls_provider(Provider::Rustls(CryptoMode::Ring)).tls_context(context.clone()).build();
            SharedHttpConnector::new(connector)
        }))
    }

    /// A connector with the same trust and proxy, for requests the SDK has no client for (the data store's FHIR
    /// REST API). Time limits are the caller's.
    pub fn connector(&self) -> Result<SharedHttpConnector, AwsError> {
        let connector = aws_smithy_http_client::Connector::builder()
            .proxy_config(self.proxy())
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .tls_context(self.tls_context()?)
            .build();
        Ok(SharedHttpConnector::new(connector))
    }

    fn proxy(&self) -> ProxyConfig {
        if self.proxy_from_env { ProxyConfig::from_env() } else { ProxyConfig::disabled() }
    }

    fn tls_context(&self) -> Result<TlsContext, AwsError> {
        let mut trust = TrustStore::default().with_native_roots(true);
        if let Some(path) = &self.ca_bundle {
            let pem = std::fs::read(path).map_err(|e| AwsError::Config {
                message: format!(
                    "cannot read the CA bundle {} (AWS_CA_BUNDLE or the profile's ca_bundle): {e}",
                    path.display()
                ),
            })?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(AwsError::Config {
                    message: format!(
                        "the CA bundle {} holds no PEM certificate (-----BEGIN CERTIFICATE-----); export the proxy's CA certificate in PEM form",
                        path.display()
                    ),
                });
            }
            trust = trust.with_pem_certificate(pem);
        }
        TlsContext::builder().with_trust_store(trust).build().map_err(|e| AwsError::Config {
            message: format!("cannot set up TLS with the configured certificates: {e}"),
        })
    }
}
