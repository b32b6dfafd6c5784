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
        "{:<26} {:>5} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}  status",
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
            "{:<26} {:>5} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}  {}",
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
                "{:<26} exported {:.1} MB at {:.1} MB/s",
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
