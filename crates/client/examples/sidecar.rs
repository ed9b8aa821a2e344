//! A Rust serving sidecar in a few lines: keep a local view of one binding, print it whenever it
//! moves, and answer lookups from memory.
//!
//! ```sh
//! cargo run -p bindery-client --example sidecar -- fraud/detector@production \
//!     http://reader-a:50052 http://reader-b:50052
//! ```

use bindery_client::{Config, ReadClient};
use bindery_proto::v1;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let reference = args.next().ok_or("usage: sidecar MODEL@BINDING [READER_URL...]")?;
    let (model, binding) = reference.rsplit_once('@').ok_or("expected MODEL@BINDING")?;
    let mut readers: Vec<String> = args.collect();
    if readers.is_empty() {
        readers.push("http://127.0.0.1:50051".into());
    }
    let mut config = Config::new(readers);
    config.token = std::env::var("BINDERY_TOKEN").ok();
    let client = ReadClient::new(&config)?;

    // One call, with failover across the readers.
    let answer = client.resolve_ref(&reference, "").await?;
    eprintln!("{reference} -> v{} {} (revision {})", answer.version, answer.artifact_uri, answer.revision);

    // A local cache that follows the binding; get() never leaves the process.
    let cache = client.resolver(v1::WatchBindingsRequest {
        model_names: vec![model.to_owned()],
        bindings: vec![binding.to_owned()],
        since_revision: 0,
    });
    let mut changes = cache.changes();
    loop {
        if let Some(state) = cache.get(model, binding) {
            eprintln!(
                "{reference} -> v{} {} (revision {})",
                state.version,
                state.artifact_uri,
                cache.revision()
            );
        }
        if changes.changed().await.is_err() {
            return Err(cache
                .error()
                .map_or_else(|| "the watch stopped".to_owned(), |e| e.to_string())
                .into());
        }
    }
}
