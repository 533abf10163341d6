//! The statement store's import runs (`start_run`, `run`, `count_chunk`: the S3 import's chunk
//! counting), held to one contract on both adapters: the embedded store and DynamoDB on moto.

use std::sync::Arc;

use kenpo_shared::store::embedded::EmbeddedStore;
use kenpo_statement_store::dynamodb::DynamoStatements;
use kenpo_statement_store::embedded::EmbeddedStatements;
use kenpo_statement_store::{ChunkCount, ImportRun, StatementStore};
use kenpo_tests::*;

fn run(sha: &str, generation: &str, chunks: u32) -> ImportRun {
    ImportRun { sha256: sha.into(), generation: generation.into(), holder: format!("{sha}@h"), source: "s3://b/incoming/f.csv#v1".into(), chunks, done: 0, started_at: start_time() }
}

async fn stores() -> Vec<(&'static str, Arc<dyn StatementStore>)> {
    let (client, table) = moto_table("runs").await;
    vec![("embedded", Arc::new(EmbeddedStatements::new(Arc::new(EmbeddedStore::new()))) as Arc<dyn StatementStore>), ("dynamodb", Arc::new(DynamoStatements::new(client, table)))]
}

#[tokio::test]
async fn a_run_is_recorded_and_read_back() {
    for (name, store) in stores().await {
        assert_eq!(store.run("f1").await.unwrap(), None, "{name}");
        store.start_run(&run("f1", "g1", 3)).await.unwrap();
        assert_eq!(store.run("f1").await.unwrap(), Some(run("f1", "g1", 3)), "{name}");
        assert_eq!(store.run("f2").await.unwrap(), None, "{name}: per file");
    }
}

#[tokio::test]
async fn each_chunk_counts_once_and_the_count_says_when_all_are_done() {
    for (name, store) in stores().await {
        store.start_run(&run("f1", "g1", 3)).await.unwrap();
        assert_eq!(store.count_chunk("f1", "g1", 2).await.unwrap(), ChunkCount::Counted { done: 1, chunks: 3 }, "{name}");
        assert_eq!(store.count_chunk("f1", "g1", 2).await.unwrap(), ChunkCount::AlreadyCounted { done: 1, chunks: 3 }, "{name}: delivered twice");
        assert_eq!(store.count_chunk("f1", "g1", 0).await.unwrap(), ChunkCount::Counted { done: 2, chunks: 3 }, "{name}");
        assert_eq!(store.count_chunk("f1", "g1", 1).await.unwrap(), ChunkCount::Counted { done: 3, chunks: 3 }, "{name}: the last");
        assert_eq!(store.count_chunk("f1", "g1", 1).await.unwrap(), ChunkCount::AlreadyCounted { done: 3, chunks: 3 }, "{name}");
        assert_eq!(store.run("f1").await.unwrap().unwrap().done, 3, "{name}");
    }
}

#[tokio::test]
async fn a_new_run_of_the_file_supersedes_the_old_runs_chunks() {
    for (name, store) in stores().await {
        store.start_run(&run("f1", "g1", 2)).await.unwrap();
        store.count_chunk("f1", "g1", 0).await.unwrap();
        store.start_run(&run("f1", "g2", 2)).await.unwrap();
        assert_eq!(store.run("f1").await.unwrap().unwrap().done, 0, "{name}: the count starts again");
        assert_eq!(store.count_chunk("f1", "g1", 1).await.unwrap(), ChunkCount::Superseded, "{name}");
        assert_eq!(store.count_chunk("f2", "g1", 0).await.unwrap(), ChunkCount::Superseded, "{name}: no run");
        assert_eq!(store.count_chunk("f1", "g2", 1).await.unwrap(), ChunkCount::Counted { done: 1, chunks: 2 }, "{name}");
    }
}

#[tokio::test]
async fn chunks_finishing_together_complete_the_count_exactly_once() {
    for (name, store) in stores().await {
        store.start_run(&run("f1", "g1", 20)).await.unwrap();
        // Every chunk, and every chunk again, at the same time.
        let counts = join_all((0..40u32).map(|i| {
            let store = store.clone();
            async move { store.count_chunk("f1", "g1", i % 20).await.unwrap() }
        }))
        .await;
        let completed = counts.iter().filter(|c| matches!(c, ChunkCount::Counted { done: 20, chunks: 20 })).count();
        let counted = counts.iter().filter(|c| matches!(c, ChunkCount::Counted { .. })).count();
        assert_eq!((completed, counted), (1, 20), "{name}: {counts:?}");
    }
}
