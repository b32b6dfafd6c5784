//! Rendering of benchmark reports: a terminal table, Markdown and an HTML page with each
//! query's latency distribution as SVG. JSON is the report's serde form (see README).

use crate::bench::{BenchReport, QueryResult};
use std::fmt::Write as _;

fn ms(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A failed query is FAILED (not timed, its server message shown), never a breach.
fn status(q: &QueryResult) -> &'static str {
    if q.errors > 0 {
        "FAILED"
    } else if q.breached {
        "BREACH"
    } else {
        "ok"
    }
}

pub fn text(r: &BenchReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<30} {:>5} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}  status",
        "query",
        "n",
        "err",
        "rows",
        "min ms",
        "mean ms",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "p95 max"
    );
    for q in &r.queries {
        let l = &q.latency_ms;
        let _ = writeln!(
            s,
            "{:<30} {:>5} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}  {}",
            q.name,
            q.count,
            q.errors,
            q.rows / (q.count.max(1) as u64),
            ms(l.min),
            ms(l.mean),
            ms(l.p50),
            ms(l.p95),
            ms(l.p99),
            ms(l.max),
            q.threshold_ms.map_or("-".into(), |t| format!("{t:.0}")),
            status(q)
        );
        if q.copy {
            let _ = writeln!(
                s,
                "{:<30} exported {:.1} MB at {:.1} MB/s",
                "",
                q.bytes as f64 / 1e6 / q.count.max(1) as f64,
                q.bytes_per_second / 1e6
            );
        }
    }
    if let Some(h) = r.cache.hit_ratio {
        let _ = writeln!(
            s,
            "buffer cache: {:.2}% hits ({} hit, {} read), {} temp files, {} MB temp",
            h * 100.0,
            r.cache.blks_hit,
            r.cache.blks_read,
            r.cache.temp_files,
            r.cache.temp_bytes / 1_000_000
        );
    }
    for k in &r.skipped {
        let _ = writeln!(s, "skipped: {}: {}", k.query, k.reason);
    }
    for f in &r.failures {
        let _ = writeln!(
            s,
            "QUERY FAILED: {} ({} failed execution(s)): {}",
            f.query, f.errors, f.message
        );
    }
    for b in &r.breaches {
        let _ = writeln!(
            s,
            "THRESHOLD BREACHED: {} {} = {:.1} (limit {:.1})",
            b.query, b.what, b.value, b.limit
        );
    }
    for g in &r.regressions {
        let _ = writeln!(
            s,
            "{}: {} {} {:+.1}% ({:.2} -> {:.2}), severity {}, Mann-Whitney p = {:.4}",
            if g.significant {
                "REGRESSION"
            } else {
                "not significant"
            },
            g.query,
            g.kpi,
            g.change_percent,
            g.baseline,
            g.current,
            g.severity,
            g.test.p_greater
        );
    }
    s
}

pub fn markdown(r: &BenchReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# finseed volume query benchmark\n");
    let _ = writeln!(
        s,
        "Database `{}` (PostgreSQL {}), {} iterations after {} warm-up, concurrency {}. Parameters as of {}: busy contexts {:?} ({:?} transactions), typical contexts {:?}.\n",
        r.database, r.server_version, r.settings.iterations, r.settings.warmup, r.settings.concurrency,
        r.params.as_of, r.params.busy_contexts, r.params.busy_context_transactions, r.params.typical_contexts
    );
    let _ = writeln!(s, "| query | scenario | n | errors | rows | min | mean | p50 | p95 | p99 | max | p95 limit | status |");
    let _ = writeln!(
        s,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for q in &r.queries {
        let l = &q.latency_ms;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            q.name,
            q.scenario,
            q.count,
            q.errors,
            q.rows / q.count.max(1) as u64,
            ms(l.min),
            ms(l.mean),
            ms(l.p50),
            ms(l.p95),
            ms(l.p99),
            ms(l.max),
            q.threshold_ms.map_or("-".into(), |t| format!("{t:.0}")),
            status(q)
        );
    }
    let _ = writeln!(s, "\nLatencies in milliseconds.");
    if let Some(h) = r.cache.hit_ratio {
        let _ = writeln!(
            s,
            "\nBuffer cache hit ratio over the run: {:.2}% ({} blocks hit, {} read).",
            h * 100.0,
            r.cache.blks_hit,
            r.cache.blks_read
        );
    }
    if !r.failures.is_empty() {
        let _ = writeln!(s, "\n## Failed queries\n");
        for f in &r.failures {
            let _ = writeln!(
                s,
                "- **{}** ({} failed execution(s)):\n\n  ```\n  {}\n  ```",
                f.query,
                f.errors,
                f.message.replace('\n', "\n  ")
            );
        }
    }
    if !r.breaches.is_empty() {
        let _ = writeln!(s, "\n## Threshold breaches\n");
        for b in &r.breaches {
            let _ = writeln!(
                s,
                "- **{}**: {} = {:.1}, limit {:.1}",
                b.query, b.what, b.value, b.limit
            );
        }
    }
    if !r.regressions.is_empty() {
        let _ = writeln!(s, "\n## Against the baseline\n\n| query | kpi | baseline | current | change | severity | p (Mann–Whitney) | verdict |\n|---|---|---:|---:|---:|---|---:|---|");
        for g in &r.regressions {
            let _ = writeln!(
                s,
                "| {} | {} | {:.2} | {:.2} | {:+.1}% | {} | {:.4} | {} |",
                g.query,
                g.kpi,
                g.baseline,
                g.current,
                g.change_percent,
                g.severity,
                g.test.p_greater,
                if g.significant { "regression" } else { "noise" }
            );
        }
    }
    if !r.statements.is_empty() {
        let _ = writeln!(s, "\n## pg_stat_statements\n\n| query | calls | mean ms | shared hit | shared read | temp written |\n|---|---:|---:|---:|---:|---:|");
        for st in &r.statements {
            let _ = writeln!(
                s,
                "| {} | {} | {:.2} | {} | {} | {} |",
                st.query,
                st.calls,
                st.mean_exec_ms,
                st.shared_blks_hit,
                st.shared_blks_read,
                st.temp_blks_written
            );
        }
    }
    let _ = writeln!(s, "\n## Plans\n");
    for q in &r.queries {
        if let Some(e) = &q.explain {
            let _ = writeln!(
                s,
                "<details><summary>{}</summary>\n\n```\n{}\n```\n</details>\n",
                q.name, e
            );
        }
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A histogram of one query's latencies with p50, p95 and the threshold marked.
fn svg(q: &QueryResult) -> String {
    let (w, h, pad) = (560.0, 160.0, 30.0);
    let v = &q.samples_ms;
    if v.is_empty() {
        return "<p>no samples</p>".into();
    }
    let lo = q.latency_ms.min;
    let mut hi = q.latency_ms.max;
    if let Some(t) = q.threshold_ms {
        if t < hi * 1.5 {
            hi = hi.max(t);
        }
    }
    let span = (hi - lo).max(1e-9);
    let bins = 40usize;
    let mut counts = vec![0usize; bins];
    for &x in v {
        let b = (((x - lo) / span) * bins as f64) as usize;
        counts[b.min(bins - 1)] += 1;
    }
    let maxc = *counts.iter().max().unwrap_or(&1) as f64;
    let bw = (w - 2.0 * pad) / bins as f64;
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">");
    let _ = write!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#fafafa\"/>"
    );
    for (i, &c) in counts.iter().enumerate() {
        let bh = (h - 2.0 * pad) * c as f64 / maxc;
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#3B8EA5\"/>",
            pad + i as f64 * bw,
            h - pad - bh,
            bw - 1.0,
            bh
        );
    }
    let x_of = |ms: f64| pad + (ms - lo) / span * (w - 2.0 * pad);
    let mut mark = |ms: f64, color: &str, label: &str| {
        if ms >= lo && ms <= hi {
            let x = x_of(ms);
            let _ = write!(s, "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"11\" fill=\"{color}\">{label}</text>", pad - 10.0, h - pad, x + 3.0, pad - 12.0);
        }
    };
    mark(
        q.latency_ms.p50,
        "#2E933C",
        &format!("p50 {}", ms(q.latency_ms.p50)),
    );
    mark(
        q.latency_ms.p95,
        "#F2A541",
        &format!("p95 {}", ms(q.latency_ms.p95)),
    );
    if let Some(t) = q.threshold_ms {
        mark(t, "#C1292E", &format!("limit {t:.0}"));
    }
    let _ = write!(s, "<text x=\"{pad}\" y=\"{}\" font-size=\"11\">{} ms</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{} ms</text></svg>", h - 10.0, ms(lo), w - pad, h - 10.0, ms(hi));
    s
}

pub fn html(r: &BenchReport) -> String {
    let mut s = String::from("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>finseed benchmark</title><style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.BREACH,.FAILED{color:#C1292E;font-weight:bold}pre{background:#f4f4f4;padding:1em;overflow:auto;font-size:12px}</style></head><body>");
    let _ = write!(s, "<h1>finseed volume query benchmark</h1><p>{} — PostgreSQL {} — {} iterations, {} warm-up, concurrency {} — as of {}</p>", esc(&r.database), esc(&r.server_version), r.settings.iterations, r.settings.warmup, r.settings.concurrency, esc(&r.params.as_of));
    s.push_str("<table><tr><th>query</th><th>n</th><th>errors</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>p95 limit</th><th>status</th></tr>");
    for q in &r.queries {
        let l = &q.latency_ms;
        let _ = write!(s, "<tr><td><a href=\"#{0}\">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5}</td><td>{6}</td><td>{7}</td><td class=\"{8}\">{8}</td></tr>", esc(&q.name), q.count, q.errors, ms(l.p50), ms(l.p95), ms(l.p99), ms(l.max), q.threshold_ms.map_or("-".into(), |t| format!("{t:.0}")), status(q));
    }
    s.push_str("</table>");
    if !r.failures.is_empty() {
        s.push_str("<h2>Failed queries</h2><ul>");
        for f in &r.failures {
            let _ = write!(
                s,
                "<li class=\"FAILED\">{} ({} failed execution(s)): <code>{}</code></li>",
                esc(&f.query),
                f.errors,
                esc(&f.message)
            );
        }
        s.push_str("</ul>");
    }
    for b in &r.breaches {
        let _ = write!(
            s,
            "<p class=\"BREACH\">Threshold breached: {} {} = {:.1} (limit {:.1})</p>",
            esc(&b.query),
            esc(&b.what),
            b.value,
            b.limit
        );
    }
    for g in &r.regressions {
        let _ = write!(
            s,
            "<p class=\"{}\">{}: {} {} {:+.1}% (p = {:.4}, severity {})</p>",
            if g.significant { "BREACH" } else { "" },
            if g.significant {
                "Regression"
            } else {
                "Not significant"
            },
            esc(&g.query),
            g.kpi,
            g.change_percent,
            g.test.p_greater,
            g.severity
        );
    }
    for q in &r.queries {
        let _ = write!(
            s,
            "<h2 id=\"{0}\">{0}</h2><p>{1}</p>{2}",
            esc(&q.name),
            esc(&q.description),
            svg(q)
        );
        if let Some(e) = &q.explain {
            let _ = write!(
                s,
                "<details><summary>EXPLAIN (ANALYZE, BUFFERS)</summary><pre>{}</pre></details>",
                esc(e)
            );
        }
    }
    s.push_str("</body></html>\n");
    s
}

// Scenario runs (`finseed bench --scenario`): the volume report of the actions, with the
// scenario's targets, errors and per-second time series added.

use crate::bench::scenario::ScenarioReport;

fn scenario_lines(r: &ScenarioReport) -> Vec<String> {
    let s = &r.scenario;
    let mut out = vec![format!(
        "scenario {}: offered {:.2}/s ({:?} arrivals), achieved {:.2}/s, {} connections, {}s ramp-up then {}s measured, {} requests scheduled, {} dropped",
        s.name, s.offered_tps, s.arrivals, s.achieved_tps, s.clients, s.ramp_up_s, s.duration_s, s.scheduled, s.dropped
    )];
    out.push(format!(
        "{:<30} {:>6} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>8}",
        "action",
        "weight",
        "requests",
        "errors",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "service p95",
        "tps"
    ));
    let row = |name: &str,
               w: String,
               n: u64,
               e: u64,
               l: &crate::bench::scenario::Percentiles,
               svc: f64,
               tps: f64| {
        format!(
            "{:<30} {:>6} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>8.2}",
            name,
            w,
            n,
            e,
            ms(l.p50),
            ms(l.p95),
            ms(l.p99),
            ms(l.p999),
            ms(l.max),
            ms(svc),
            tps
        )
    };
    for a in &s.actions {
        out.push(row(
            &a.name,
            a.weight.to_string(),
            a.requests,
            a.errors,
            &a.latency_ms,
            a.service_ms.p95,
            a.achieved_tps,
        ));
    }
    out.push(row(
        "mix",
        "-".into(),
        s.requests,
        s.errors,
        &s.latency_ms,
        s.service_ms.p95,
        s.achieved_tps,
    ));
    for c in &s.checks {
        out.push(format!(
            "target {:<15} {:>10.2} {} {:<10} {}",
            c.target,
            c.value,
            if c.target == "throughput_tps" {
                ">="
            } else {
                "<="
            },
            if c.target == "throughput_tps" {
                format!("{:.2} (95% of {:.2})", c.limit * 0.95, c.limit)
            } else {
                format!("{:.2}", c.limit)
            },
            if c.met { "met" } else { "MISSED" }
        ));
    }
    for e in &s.error_messages {
        out.push(format!(
            "error in {} ({}x): {}",
            e.action, e.count, e.message
        ));
    }
    out.push(format!("verdict: {}", s.verdict));
    out
}

/// The terminal report of a scenario run: the actions as the volume report shows queries
/// (latency from each request's scheduled start), then percentiles to p99.9, service times,
/// targets and the server's error messages.
pub fn scenario_text(r: &ScenarioReport) -> String {
    let mut s = text(&r.bench);
    for l in scenario_lines(r) {
        let _ = writeln!(s, "{l}");
    }
    s
}

pub fn scenario_markdown(r: &ScenarioReport) -> String {
    let mut s = markdown(&r.bench).replacen(
        "# finseed volume query benchmark",
        &format!("# finseed scenario {}", r.scenario.name),
        1,
    );
    let _ = writeln!(s, "\n## Scenario\n\n```");
    for l in scenario_lines(r) {
        let _ = writeln!(s, "{l}");
    }
    let _ = writeln!(
        s,
        "```\n\n| second | offered | completed | errors | p95 ms |\n|---:|---:|---:|---:|---:|"
    );
    for t in &r.scenario.timeline {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            t.second,
            t.offered,
            t.completed,
            t.errors,
            t.p95_ms.map_or("-".into(), ms)
        );
    }
    s
}

/// Throughput (offered and completed per second, left axis) and p95 latency (right axis) over
/// the run, with the end of the ramp-up and the p95 target marked.
fn timeline_svg(r: &ScenarioReport) -> String {
    let sc = &r.scenario;
    let t = &sc.timeline;
    let (w, h, l, rt, top, bottom) = (760.0, 280.0, 50.0, 60.0, 20.0, 40.0);
    let pw = w - l - rt;
    let ph = h - top - bottom;
    let n = t.len().max(1) as f64;
    let max_tps = t
        .iter()
        .map(|x| x.offered.max(x.completed))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let max_p95 = t
        .iter()
        .filter_map(|x| x.p95_ms)
        .fold(sc.targets.p95_ms.unwrap_or(0.0), f64::max)
        .max(1e-3);
    let x_of = |sec: f64| l + sec / n * pw;
    let y_tps = |v: f64| top + ph - v / max_tps * ph;
    let y_ms = |v: f64| top + ph - v / max_p95 * ph;
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"throughput and p95 per second\">");
    let _ = write!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#fafafa\"/>"
    );
    let bw = (pw / n).max(0.5);
    for x in t {
        let y = y_tps(x.completed as f64);
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"#3B8EA5\" opacity=\"0.6\"/>",
            x_of(x.second as f64),
            (bw - 0.5).max(0.3),
            top + ph - y
        );
    }
    let path = |pts: Vec<(f64, f64)>| {
        pts.iter()
            .enumerate()
            .map(|(i, (x, y))| format!("{}{x:.1},{y:.1}", if i == 0 { "M" } else { " L" }))
            .collect::<String>()
    };
    let offered = path(
        t.iter()
            .map(|x| (x_of(x.second as f64 + 0.5), y_tps(x.offered as f64)))
            .collect(),
    );
    let _ = write!(
        s,
        "<path d=\"{offered}\" fill=\"none\" stroke=\"#555\" stroke-width=\"1\" stroke-dasharray=\"4 3\"/>"
    );
    let p95 = path(
        t.iter()
            .filter_map(|x| x.p95_ms.map(|v| (x_of(x.second as f64 + 0.5), y_ms(v))))
            .collect(),
    );
    let _ = write!(
        s,
        "<path d=\"{p95}\" fill=\"none\" stroke=\"#F2A541\" stroke-width=\"2\"/>"
    );
    if let Some(target) = sc.targets.p95_ms.filter(|v| *v <= max_p95) {
        let y = y_ms(target);
        let _ = write!(s, "<line x1=\"{l}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#C1292E\" stroke-dasharray=\"6 3\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#C1292E\" text-anchor=\"end\">p95 target {target:.0} ms</text>", l + pw, l + pw - 4.0, y - 4.0);
    }
    if sc.ramp_up_s > 0.0 {
        let x = x_of(sc.ramp_up_s);
        let _ = write!(s, "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#999\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#666\">ramp-up ends</text>", top + ph, x + 3.0, top + 12.0);
    }
    let _ = write!(
        s,
        "<line x1=\"{l}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#333\"/>",
        top + ph,
        l + pw,
        top + ph
    );
    let _ = write!(s, "<text x=\"4\" y=\"{:.1}\" font-size=\"11\" fill=\"#3B8EA5\">{max_tps:.0}/s</text><text x=\"4\" y=\"{:.1}\" font-size=\"11\" fill=\"#3B8EA5\">0</text>", top + 10.0, top + ph);
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#F2A541\">{} ms</text>",
        l + pw + 4.0,
        top + 10.0,
        ms(max_p95)
    );
    let _ = write!(s, "<text x=\"{l}\" y=\"{:.1}\" font-size=\"11\">0 s</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{} s</text>", h - 22.0, l + pw, h - 22.0, t.len());
    let _ = write!(s, "<text x=\"{l}\" y=\"{:.1}\" font-size=\"11\"><tspan fill=\"#3B8EA5\">■ completed/s</tspan>  <tspan fill=\"#555\">– – offered/s</tspan>  <tspan fill=\"#F2A541\">— p95 ms (from scheduled start)</tspan></text></svg>", h - 6.0);
    s
}

pub fn scenario_html(r: &ScenarioReport) -> String {
    let sc = &r.scenario;
    let mut section = format!(
        "<h2>Scenario {}</h2><p>{}</p><p>Offered {:.2}/s ({:?} arrivals), achieved {:.2}/s with {} connections; {} s ramp-up, then {} s measured; {} requests scheduled, {} dropped. Latency is measured from each request's scheduled start. Verdict: <b class=\"{}\">{}</b></p>",
        esc(&sc.name),
        esc(&sc.description),
        sc.offered_tps,
        sc.arrivals,
        sc.achieved_tps,
        sc.clients,
        sc.ramp_up_s,
        sc.duration_s,
        sc.scheduled,
        sc.dropped,
        if sc.verdict == "pass" { "" } else { "BREACH" },
        sc.verdict
    );
    section.push_str("<table><tr><th>action</th><th>weight</th><th>requests</th><th>errors</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>service p95 ms</th><th>tps</th></tr>");
    let mut row = |name: &str,
                   w: String,
                   n: u64,
                   e: u64,
                   lat: &crate::bench::scenario::Percentiles,
                   svc: f64,
                   tps: f64| {
        let _ = write!(section, "<tr><td>{}</td><td>{w}</td><td>{n}</td><td>{e}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{tps:.2}</td></tr>", esc(name), ms(lat.p50), ms(lat.p95), ms(lat.p99), ms(lat.p999), ms(svc));
    };
    for a in &sc.actions {
        row(
            &a.name,
            a.weight.to_string(),
            a.requests,
            a.errors,
            &a.latency_ms,
            a.service_ms.p95,
            a.achieved_tps,
        );
    }
    row(
        "mix",
        "-".into(),
        sc.requests,
        sc.errors,
        &sc.latency_ms,
        sc.service_ms.p95,
        sc.achieved_tps,
    );
    section.push_str(
        "</table><table><tr><th>target</th><th>limit</th><th>value</th><th>status</th></tr>",
    );
    for c in &sc.checks {
        let _ = write!(
            section,
            "<tr><td>{}</td><td>{:.2}</td><td>{:.2}</td><td class=\"{}\">{}</td></tr>",
            c.target,
            c.limit,
            c.value,
            if c.met { "" } else { "BREACH" },
            if c.met { "met" } else { "MISSED" }
        );
    }
    section.push_str("</table>");
    for e in &sc.error_messages {
        let _ = write!(
            section,
            "<p class=\"ERRORS\">{} ({}x): {}</p>",
            esc(&e.action),
            e.count,
            esc(&e.message)
        );
    }
    section.push_str("<h3>Throughput and p95 per second</h3>");
    section.push_str(&timeline_svg(r));
    let page = html(&r.bench).replacen(
        "<h1>finseed volume query benchmark</h1>",
        &format!("<h1>finseed scenario {}</h1>", esc(&sc.name)),
        1,
    );
    match page.find("</table>") {
        Some(i) => {
            let at = i + "</table>".len();
            format!("{}{}{}", &page[..at], section, &page[at..])
        }
        None => page.replace("</body>", &format!("{section}</body>")),
    }
}

// Scalability runs (`finseed scales`): each query's p95 against the transactions, fitted.

use crate::scales::{QueryGrowth, ScalesReport};

fn growth_row(g: &QueryGrowth) -> (Vec<String>, String, String, String, String) {
    let p95: Vec<String> = g.p95_ms.iter().map(|v| v.map_or("-".into(), ms)).collect();
    let exponent = g
        .fit
        .as_ref()
        .map_or("-".into(), |f| format!("n^{:.2}", f.exponent));
    let predicted = g.predicted_p95_ms.map_or("-".into(), ms);
    let limit = g.threshold_ms.map_or("-".into(), |t| format!("{t:.0}"));
    let verdict = if g.breaks {
        "WOULD BREAK".to_string()
    } else if g.fit.is_none() {
        "not fitted".to_string()
    } else {
        "ok".to_string()
    };
    (p95, exponent, predicted, limit, verdict)
}

fn count_label(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(100_000) {
        format!("{}M", n as f64 / 1e6)
    } else if n >= 1_000 && n.is_multiple_of(100) {
        format!("{}K", n as f64 / 1e3)
    } else {
        n.to_string()
    }
}

pub fn scales_text(r: &ScalesReport) -> String {
    let mut s = String::new();
    for p in &r.scales {
        let _ = writeln!(
            s,
            "scale {}: {} transactions, seeded in {:.1} s, {}",
            p.scale, p.transactions, p.seed_seconds, p.database
        );
    }
    let at = r.growth.first().map_or(0, |g| g.predicted_at);
    let _ = write!(s, "{:<30}", "p95 ms at transactions");
    for p in &r.scales {
        let _ = write!(s, " {:>9}", count_label(p.transactions));
    }
    let _ = writeln!(
        s,
        " {:>9} {:>5} {:>11} {:>8}  verdict",
        "growth",
        "r2",
        format!("at {}", count_label(at)),
        "p95 max"
    );
    for g in &r.growth {
        let (p95, exponent, predicted, limit, verdict) = growth_row(g);
        let _ = write!(s, "{:<30}", g.query);
        for v in &p95 {
            let _ = write!(s, " {v:>9}");
        }
        let r2 = g
            .fit
            .as_ref()
            .filter(|f| f.r2.is_finite())
            .map_or("-".into(), |f| format!("{:.2}", f.r2));
        let _ = writeln!(
            s,
            " {exponent:>9} {r2:>5} {predicted:>11} {limit:>8}  {verdict}"
        );
    }
    s
}

pub fn scales_markdown(r: &ScalesReport) -> String {
    let mut s = format!(
        "# finseed scalability: profile {} (seed {})\n\n",
        r.profile, r.seed
    );
    let at = r.growth.first().map_or(0, |g| g.predicted_at);
    s.push_str("| query |");
    for p in &r.scales {
        let _ = write!(s, " p95 ms at {} |", count_label(p.transactions));
    }
    let _ = writeln!(
        s,
        " growth | p95 ms at {} | limit | verdict |",
        count_label(at)
    );
    s.push_str("|---|");
    for _ in &r.scales {
        s.push_str("---:|");
    }
    s.push_str("---:|---:|---:|---|\n");
    for g in &r.growth {
        let (p95, exponent, predicted, limit, verdict) = growth_row(g);
        let _ = writeln!(
            s,
            "| {} | {} | {exponent} | {predicted} | {limit} | {verdict} |",
            g.query,
            p95.join(" | ")
        );
    }
    s
}

/// One query's p95 against the transactions on log-log axes: the measured points, the fitted
/// line extended to the prediction (hollow point), and the threshold.
fn growth_svg(r: &ScalesReport, g: &QueryGrowth) -> String {
    let (w, h, pad, left) = (600.0, 220.0, 44.0, 72.0);
    let xs: Vec<f64> = r
        .scales
        .iter()
        .map(|p| p.transactions as f64)
        .chain([g.predicted_at as f64])
        .filter(|x| *x > 0.0)
        .collect();
    let mut ys: Vec<f64> = g.p95_ms.iter().flatten().copied().collect();
    ys.extend(g.predicted_p95_ms);
    ys.extend(g.threshold_ms);
    ys.retain(|y| *y > 0.0 && y.is_finite());
    if xs.is_empty() || ys.is_empty() {
        return "<p>nothing measured</p>".into();
    }
    let lx = |x: f64| x.log10();
    let (x0, x1) = (
        xs.iter().copied().map(lx).fold(f64::INFINITY, f64::min),
        xs.iter().copied().map(lx).fold(f64::NEG_INFINITY, f64::max),
    );
    let (y0, y1) = (
        ys.iter()
            .copied()
            .map(lx)
            .fold(f64::INFINITY, f64::min)
            .floor(),
        ys.iter()
            .copied()
            .map(lx)
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil(),
    );
    let (y0, y1) = if y1 > y0 {
        (y0, y1)
    } else {
        (y0 - 1.0, y0 + 1.0)
    };
    let px = |x: f64| left + (lx(x) - x0) / (x1 - x0).max(1e-9) * (w - left - pad);
    let py = |y: f64| h - pad - (lx(y) - y0) / (y1 - y0) * (h - 2.0 * pad);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\"><rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#fafafa\"/>");
    // Decades of latency as grid lines.
    let mut d = y0;
    while d <= y1 + 1e-9 {
        let y = py(10f64.powi(d as i32));
        let v = 10f64.powi(d as i32);
        let label = if v >= 1000.0 {
            format!("{} s", v / 1000.0)
        } else {
            format!("{v} ms")
        };
        let _ = write!(s, "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#e3e3e3\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{label}</text>", w - pad, left - 6.0, y + 3.0);
        d += 1.0;
    }
    if let Some(t) = g.threshold_ms {
        let y = py(t);
        let _ = write!(s, "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#C1292E\" stroke-dasharray=\"4 3\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"10\" fill=\"#C1292E\" text-anchor=\"end\">limit {t:.0} ms</text>", w - pad, w - pad, y - 3.0);
    }
    if let Some(f) = &g.fit {
        let a = r.scales.first().map_or(1.0, |p| p.transactions as f64);
        let b = g.predicted_at as f64;
        let _ = write!(s, "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#3B8EA5\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\"/>", px(a), py(f.predict(a)), px(b), py(f.predict(b)));
    }
    for (p, v) in r.scales.iter().zip(&g.p95_ms) {
        if let Some(v) = v.filter(|v| *v > 0.0) {
            let _ = write!(s, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#3B8EA5\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>", px(p.transactions as f64), py(v), px(p.transactions as f64), h - pad + 14.0, count_label(p.transactions));
        }
    }
    if let Some(v) = g.predicted_p95_ms.filter(|v| *v > 0.0) {
        let color = if g.breaks { "#C1292E" } else { "#3B8EA5" };
        let x = px(g.predicted_at as f64);
        let _ = write!(s, "<circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{x:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{} (predicted)</text>", py(v), h - pad + 14.0, count_label(g.predicted_at));
    }
    let _ = write!(s, "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">transactions (log scale)</text></svg>", (w + left - pad) / 2.0, h - 8.0);
    s
}

pub fn scales_html(r: &ScalesReport) -> String {
    let mut s = String::from("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>finseed scalability</title><style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.BREAK{color:#C1292E;font-weight:bold}</style></head><body>");
    let _ = write!(
        s,
        "<h1>How latency grows with the data</h1><p>profile {} (seed {}); p95 fitted as c·n<sup>k</sup> against the transactions, predicted at {} transactions</p><table><tr><th>query</th>",
        esc(&r.profile),
        r.seed,
        r.growth.first().map_or(0, |g| g.predicted_at)
    );
    for p in &r.scales {
        let _ = write!(s, "<th>p95 ms at {}</th>", count_label(p.transactions));
    }
    s.push_str("<th>growth</th><th>predicted p95 ms</th><th>limit</th><th>verdict</th></tr>");
    for g in &r.growth {
        let (p95, exponent, predicted, limit, verdict) = growth_row(g);
        let _ = write!(s, "<tr><td><a href=\"#{0}\">{0}</a></td>", esc(&g.query));
        for v in p95 {
            let _ = write!(s, "<td>{v}</td>");
        }
        let _ = write!(
            s,
            "<td>{exponent}</td><td>{predicted}</td><td>{limit}</td><td class=\"{}\">{verdict}</td></tr>",
            if g.breaks { "BREAK" } else { "" }
        );
    }
    s.push_str("</table>");
    for g in &r.growth {
        let _ = write!(
            s,
            "<h2 id=\"{0}\">{0}</h2>{1}",
            esc(&g.query),
            growth_svg(r, g)
        );
    }
    s.push_str("</body></html>\n");
    s
}
