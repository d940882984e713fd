//! Resolver benchmark on a synthetic, deterministic 10,000-pack graph.
//!
//! Every pack has five versions (`1.0.0`, `1.1.0`, `1.2.0`, `2.0.0`, `2.1.0`) and up to three
//! dependencies on packs with a higher index (so the graph is a DAG). `1.x` versions ask for `^1`
//! or `>=1.1.0 <2` of their dependencies, so "everything at 1.2.0" is always a solution. `2.x`
//! versions mostly ask for `^2`, but one dependency in eight asks for `^1`: the solver starts from
//! the highest versions, meets packs required as both `^1` and `^2`, and has to backtrack parents
//! to older versions; the downgrades cascade through the graph. The root asks for the first 20
//! packs at `*`.
//!
//! `cargo bench -p pack-cli --bench resolve -- --warm-up-time 1 --measurement-time 5`

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use pack_cli::resolve::{Candidate, PackageIndex, Request, ResolveError, resolve};
use semver::Version;

const PACKS: usize = 10_000;
const VERSIONS: [(u64, u64); 5] = [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1)];

/// A small deterministic generator (64-bit LCG, Knuth's constants), so every run builds the same graph.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

fn name(i: usize) -> String {
    format!("vendor.bench.p{i:05}")
}

struct MemIndex(HashMap<String, Vec<Candidate>>);

impl PackageIndex for MemIndex {
    fn versions(&self, name: &str) -> Result<Vec<Candidate>, ResolveError> {
        Ok(self.0.get(name).cloned().unwrap_or_default())
    }
}

fn graph() -> MemIndex {
    let mut rng = Lcg(0x5eed);
    let mut packs = HashMap::with_capacity(PACKS);
    for i in 0..PACKS {
        let deps: Vec<usize> = (0..3)
            .filter_map(|_| {
                let j = i + 1 + rng.next(60);
                (j < PACKS).then_some(j)
            })
            .collect();
        let mut candidates = Vec::new();
        for (major, minor) in VERSIONS {
            let mut candidate = Candidate::new(Version::new(major, minor, 0));
            candidate.integrity = format!("sha256-{:A<43}=", format!("p{i}v{major}{minor}"));
            candidate.source = "https://packs.example.test".into();
            for &j in &deps {
                let range = match (major, rng.next(8)) {
                    (1, 0..=3) => "^1",
                    (1, _) => ">=1.1.0 <2",
                    (_, 0) => "^1",
                    _ => "^2",
                };
                candidate.dependencies.insert(name(j), range.to_string());
            }
            candidates.push(candidate);
        }
        packs.insert(name(i), candidates);
    }
    MemIndex(packs)
}

fn request() -> Request {
    Request { roots: (0..20).map(|i| (name(i), "*".to_string())).collect::<BTreeMap<_, _>>(), ..Request::default() }
}

fn bench(c: &mut Criterion) {
    let index = graph();
    let request = request();
    let start = Instant::now();
    match resolve(&index, &request) {
        Ok(resolution) => {
            let mut chosen: BTreeMap<String, usize> = BTreeMap::new();
            for pack in resolution.packages.values() {
                *chosen.entry(pack.version.to_string()).or_default() += 1;
            }
            eprintln!(
                "resolved {} of {PACKS} packs in {:.1?}; versions chosen: {chosen:?}",
                resolution.packages.len(),
                start.elapsed()
            );
        }
        Err(err) => eprintln!("resolution failed after {:.1?}: {err}", start.elapsed()),
    }
    let mut group = c.benchmark_group("resolve");
    group.sample_size(10);
    group.bench_function("synthetic_10k_packs", |b| b.iter(|| black_box(resolve(&index, &request).is_ok())));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
