//! `GET /metrics`: Prometheus text exposition of request counts and latencies per route
//! template and status, kept in process (each replica exposes its own).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Latency bucket upper bounds, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum_seconds: f64,
    buckets: [u64; BUCKETS.len()],
}

/// (method, route template, status).
type SeriesKey = (String, String, u16);

/// Series by route template, then by (method, status): a request's series is found without
/// allocating (the per-route lists are a handful of entries long).
/// Keyed by route template (the router's patterns, never a request's path): foldhash suffices.
type SeriesMap = HashMap<Box<str>, Vec<(Method, u16, Series)>, crate::registry::cache::TrustedKeys>;

/// Request metrics shared by every handler of one process.
#[derive(Default, Clone)]
pub struct Metrics {
    series: Arc<Mutex<SeriesMap>>,
}

impl Metrics {
    /// Counts one request of `method` on the route template `route` answered with `status`.
    pub(crate) fn record(&self, method: &Method, route: &str, status: u16, seconds: f64) {
        // A poisoned lock only means another request panicked mid-update; the counts stay usable.
        let mut map = self.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = match map.get_mut(route) {
            Some(list) => list,
            None => map.entry(route.into()).or_default(),
        };
        let index = match list.iter().position(|(m, st, _)| m == method && *st == status) {
            Some(index) => index,
            None => {
                list.push((method.clone(), status, Series::default()));
                list.len() - 1
            }
        };
        let s = &mut list[index].2;
        s.count += 1;
        s.sum_seconds += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                s.buckets[i] += 1;
            }
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let series = self.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Sorted by (method, route, status), as the exposition has always been.
        let map: BTreeMap<SeriesKey, &Series> = series
            .iter()
            .flat_map(|(route, list)| {
                list.iter().map(move |(method, status, s)| ((method.to_string(), route.to_string(), *status), s))
            })
            .collect();
        let mut out = String::new();
        out.push_str("# HELP openwop_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE openwop_http_requests_total counter\n");
        for ((method, route, status), s) in map.iter() {
            out.push_str(&format!(
                "openwop_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}\n",
                escape(route),
                s.count
            ));
        }
        out.push_str("# HELP openwop_http_request_duration_seconds HTTP request latency by method and route.\n");
        out.push_str("# TYPE openwop_http_request_duration_seconds histogram\n");
        let mut by_route: BTreeMap<(&str, &str), Series> = BTreeMap::new();
        for ((method, route, _), s) in map.iter() {
            let agg = by_route.entry((method, route)).or_default();
            agg.count += s.count;
            agg.sum_seconds += s.sum_seconds;
            for i in 0..BUCKETS.len() {
                agg.buckets[i] += s.buckets[i];
            }
        }
        for ((method, route), s) in by_route {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            for (i, bound) in BUCKETS.iter().enumerate() {
                out.push_str(&format!(
                    "openwop_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}\n",
                    s.buckets[i]
                ));
            }
            out.push_str(&format!(
                "openwop_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n",
                s.count
            ));
            out.push_str(&format!("openwop_http_request_duration_seconds_sum{{{labels}}} {}\n", s.sum_seconds));
            out.push_str(&format!("openwop_http_request_duration_seconds_count{{{labels}}} {}\n", s.count));
        }
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Middleware: times every request under its route template (never the raw path, so pack
/// names cannot blow up the series count).
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let start = Instant::now();
    let response = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    metrics.record(&method, route, response.status().as_u16(), start.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn get(State(metrics): State<Metrics>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics.render()).into_response()
}
