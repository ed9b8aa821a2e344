//! The Fleet page's data: each configured read node's `GetReaderStatus` (applied revision, lag,
//! staleness, health), asked with the caller's own credentials, so a caller who may not read a
//! node's status is told so by that node.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bindery_proto::json::to_json;
use bindery_proto::v1;
use bindery_proto::v1::resolver_service_client::ResolverServiceClient;
use bindery_proto::v1::resolver_service_server::ResolverService;
use serde_json::{Value, json};
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

/// How long one node may take to answer before the page shows it as unreachable.
const STATUS_TIMEOUT: Duration = Duration::from_secs(3);

/// A read node the console reports on.
#[derive(Clone)]
pub struct Reader {
    name: String,
    source: Source,
}

/// Asks an in-process resolver for its status with the caller's metadata.
type LocalStatus = Arc<
    dyn Fn(MetadataMap) -> Pin<Box<dyn Future<Output = Result<v1::ReaderStatus, tonic::Status>> + Send>>
        + Send
        + Sync,
>;

#[derive(Clone)]
enum Source {
    Remote(Channel),
    Local(LocalStatus),
}

impl Reader {
    /// A node at `url` (`http://reader-a:50052`, or `https://` verified against the system's
    /// root certificates), connected on first use.
    pub fn remote(url: &str) -> Result<Self, String> {
        let mut endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| format!("read node {url:?} is not a URL: {e}"))?
            .connect_timeout(STATUS_TIMEOUT)
            .timeout(STATUS_TIMEOUT);
        if url.starts_with("https://") {
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().with_native_roots())
                .map_err(|e| format!("read node {url:?}: {e}"))?;
        } else if !url.starts_with("http://") {
            return Err(format!("read node {url:?} must be an http:// or https:// URL"));
        }
        Ok(Self { name: url.to_owned(), source: Source::Remote(endpoint.connect_lazy()) })
    }

    /// The resolver serving in this process.
    pub fn local<R: ResolverService>(name: &str, service: Arc<R>) -> Self {
        let ask: LocalStatus = Arc::new(move |metadata| {
            let service = service.clone();
            Box::pin(async move {
                let mut request = tonic::Request::new(v1::GetReaderStatusRequest {});
                *request.metadata_mut() = metadata;
                Ok(service.get_reader_status(request).await?.into_inner())
            })
        });
        Self { name: name.to_owned(), source: Source::Local(ask) }
    }

    async fn status(&self, metadata: &MetadataMap) -> Result<v1::ReaderStatus, tonic::Status> {
        match &self.source {
            Source::Remote(channel) => {
                let mut request = tonic::Request::new(v1::GetReaderStatusRequest {});
                *request.metadata_mut() = metadata.clone();
                Ok(ResolverServiceClient::new(channel.clone()).get_reader_status(request).await?.into_inner())
            }
            Source::Local(ask) => ask(metadata.clone()).await,
        }
    }
}

/// `{"readers": [{"name", "status" | "error"}]}`, asked of every node at once.
pub(crate) async fn statuses(readers: &[Reader], metadata: &MetadataMap) -> Value {
    let answers = futures_util::future::join_all(readers.iter().map(|r| r.status(metadata))).await;
    let readers: Vec<Value> = readers
        .iter()
        .zip(answers)
        .map(|(reader, answer)| match answer.map(|s| to_json(&s)) {
            Ok(Ok(status)) => json!({ "name": reader.name, "status": status }),
            Ok(Err(e)) => json!({ "name": reader.name, "error": e }),
            Err(status) => {
                let (_, code) = crate::http_status(status.code());
                json!({ "name": reader.name, "error": format!("{code}: {}", status.message()) })
            }
        })
        .collect();
    json!({ "readers": readers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn remote_nodes_need_http_or_https_urls() {
        assert!(Reader::remote("http://reader-a:50052").is_ok());
        assert!(Reader::remote("https://reader-a:50052").is_ok());
        assert!(Reader::remote("reader-a:50052").is_err());
        assert!(Reader::remote("ftp://x").is_err());
    }
}
