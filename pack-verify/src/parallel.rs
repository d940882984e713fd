//! The one way the workspace spreads a list of work over threads (verification here, downloads
//! in `pack install`): scoped workers that each take the next unclaimed item, so a few expensive
//! items (a large tarball, a slow fetch) do not leave the other workers idle the way equal-count
//! chunks do.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// What a scoped thread returned, where its work returns a `Result`: a panic in it comes back as
/// `Err(on_panic())`, a failure of that one piece of work rather than of the caller.
pub fn joined<T, E>(handle: thread::ScopedJoinHandle<'_, Result<T, E>>, on_panic: impl FnOnce() -> E) -> Result<T, E> {
    handle.join().unwrap_or_else(|_| Err(on_panic()))
}

/// How many workers `jobs` means for `items` items: 0 is one per available core, and never more
/// workers than items.
fn workers(jobs: usize, items: usize) -> usize {
    let cores = thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if jobs == 0 { cores } else { jobs }.min(items).max(1)
}

/// `f` over every item on up to `jobs` threads (0: one per core; never more threads than items),
/// results in input order. A worker that panics loses only its own items, which come back as
/// `on_panic()`.
pub fn map<T, R>(jobs: usize, items: &[T], f: impl Fn(&T) -> R + Sync, on_panic: impl Fn() -> R) -> Vec<R>
where
    T: Sync,
    R: Send,
{
    map_then(jobs, items, f, |_| {}, on_panic)
}

/// [`map`], then `then` on each worker over the results that worker produced, before it ends:
/// work that needs a whole share at once (one batch equation over the signatures a worker
/// prepared) overlaps the other workers' last items instead of waiting for all of them.
pub fn map_then<T, R>(
    jobs: usize,
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
    then: impl Fn(&mut [R]) + Sync,
    on_panic: impl Fn() -> R,
) -> Vec<R>
where
    T: Sync,
    R: Send,
{
    let workers = workers(jobs, items.len());
    if workers <= 1 {
        let mut out: Vec<R> = items.iter().map(f).collect();
        then(&mut out);
        return out;
    }
    let next = AtomicUsize::new(0);
    let per_worker: Vec<thread::Result<Vec<(usize, R)>>> = thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let (mut claimed, mut done) = (Vec::new(), Vec::new());
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        claimed.push(i);
                        done.push(f(item));
                    }
                    then(&mut done);
                    claimed.into_iter().zip(done).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    for (i, r) in per_worker.into_iter().flatten().flatten() {
        if let Some(slot) = slots.get_mut(i) {
            *slot = Some(r);
        }
    }
    slots.into_iter().map(|r| r.unwrap_or_else(&on_panic)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_input_order_with_uneven_costs() {
        let items: Vec<u64> = (0..200).collect();
        let out = map(
            4,
            &items,
            |i| {
                if i % 17 == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                i * 3
            },
            || u64::MAX,
        );
        assert_eq!(out, items.iter().map(|i| i * 3).collect::<Vec<_>>());
    }

    #[test]
    fn a_panicking_worker_loses_only_its_items() {
        let items: Vec<u32> = (0..64).collect();
        let out = map(
            2,
            &items,
            |i| {
                assert!(*i != 5, "boom");
                Some(*i)
            },
            || None,
        );
        // Items are claimed in increasing order, so the worker that panicked on 5 held nothing
        // above it: everything after 5 was still computed, and nothing computed is wrong.
        assert!(out[6..].iter().all(Option::is_some));
        assert!(out.iter().enumerate().all(|(i, r)| r.is_none_or(|v| v as usize == i)));
        assert_eq!(out[5], None);
    }

    #[test]
    fn then_sees_each_workers_own_results_once() {
        use std::sync::Mutex;
        let items: Vec<u64> = (0..500).collect();
        for jobs in [1, 2, 4] {
            let shares = Mutex::new(Vec::new());
            let out = map_then(
                jobs,
                &items,
                |i| *i,
                |share| {
                    shares.lock().expect("not poisoned").push(share.len());
                    for r in share.iter_mut() {
                        *r += 1_000;
                    }
                },
                || u64::MAX,
            );
            // Every result passed through exactly one worker's `then`, and the order held.
            assert_eq!(out, items.iter().map(|i| i + 1_000).collect::<Vec<_>>());
            let shares = shares.into_inner().expect("not poisoned");
            assert_eq!(shares.iter().sum::<usize>(), items.len());
            assert!(shares.len() <= jobs.max(1));
        }
    }

    #[test]
    fn zero_jobs_means_every_core_and_never_more_than_items() {
        assert_eq!(workers(8, 3), 3);
        assert_eq!(workers(1, 100), 1);
        assert!(workers(0, 1_000) >= 1);
        assert_eq!(workers(0, 0), 1);
    }
}
