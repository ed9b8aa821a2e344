//! Micro-benchmarks of the read path's hot functions: a cache lookup, applying a change, and
//! encoding a ResolveResponse. `cargo bench -p bindery-benches --bench hot`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bindery_core::{
    Artifact, BindingChange, BindingName, BindingTarget, Change, ChangeEffect, ModelName, Snapshot,
};
use bindery_reader::Cache;
use criterion::{Criterion, criterion_group, criterion_main};
use prost::Message;

const MODELS: usize = 2_500;
const BINDINGS: usize = 4;

fn target(model: usize, version: u64) -> BindingTarget {
    BindingTarget::single(
        version,
        Artifact {
            uri: format!("s3://bench-models/bench/m{model}/{version}/model.onnx"),
            sha256: "ab".repeat(32),
            size_bytes: 104_857_600,
            format: "onnx".into(),
            ..Artifact::default()
        },
    )
}

fn model(i: usize) -> ModelName {
    ModelName::parse("model", format!("bench/m{i}")).unwrap()
}

fn binding(i: usize) -> BindingName {
    BindingName::parse("binding", format!("b{i}")).unwrap()
}

fn loaded() -> Cache {
    let cache = Cache::new(10_000, 4_096);
    let mut bindings = Vec::with_capacity(MODELS * BINDINGS);
    for m in 0..MODELS {
        for b in 0..BINDINGS {
            bindings.push(BindingChange {
                model_name: model(m),
                binding: binding(b),
                generation: 1,
                target: Some(target(m, b as u64 + 1)),
            });
        }
    }
    cache
        .load_snapshot(Snapshot {
            revision: 1,
            models: (0..MODELS).map(model).collect(),
            bindings,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    cache
}

fn benches(c: &mut Criterion) {
    let cache = loaded();
    let keys: Vec<(ModelName, BindingName)> =
        (0..1_024).map(|i| (model(i * 7 % MODELS), binding(i % BINDINGS))).collect();
    let mut i = 0;
    c.bench_function("cache_resolve (10k bindings)", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            let (m, n) = &keys[i];
            black_box(cache.resolve(m, n))
        });
    });

    // What a Resolve reads: the target, then its artifact (expanded from the compact form the
    // cache keeps: the digest back to hex, the strings copied).
    c.bench_function("cache_resolve + artifact (10k bindings)", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            let (m, n) = &keys[i];
            let (found, _) = cache.resolve(m, n);
            black_box(found.map(|t| t.artifact().into_owned()))
        });
    });

    let mut revision = 1;
    let name = model(42);
    let prod = binding(0);
    c.bench_function("cache_apply (one binding change)", |b| {
        b.iter(|| {
            revision += 1;
            let change = Change {
                revision,
                model: Some(name.clone()),
                effect: ChangeEffect::Bindings(vec![BindingChange {
                    model_name: name.clone(),
                    binding: prod.clone(),
                    generation: revision,
                    target: Some(target(42, 1 + revision % 2)),
                }]),
            };
            cache.apply(black_box(&change)).unwrap();
        });
    });

    let response = bindery_benches::seeded_answer();
    c.bench_function("encode ResolveResponse", |b| b.iter(|| black_box(&response).encode_to_vec()));
}

criterion_group!(hot, benches);
criterion_main!(hot);
