-- name: spending_trends_daily_rollup
-- scenario: complex_analytics_queries
-- description: spending_trends_daily read from aggregated_analytics (the daily rollups) instead of transactions; same rows
-- params: busy_context, as_of
-- requires: aggregated_analytics
-- threshold_p95_ms: 800
SELECT d::date AS day,
       coalesce(sum(-a.amount) FILTER (WHERE a.type = 'expense'), 0) AS spent,
       coalesce(sum(a.amount) FILTER (WHERE a.type = 'income'), 0) AS earned,
       coalesce(sum(a.tx_count), 0) AS transactions
FROM generate_series(($2::date - interval '6 months')::date, $2::date, interval '1 day') AS d
LEFT JOIN aggregated_analytics a
       ON a.context_id = $1
      AND a.day = d::date
GROUP BY d
ORDER BY d;
