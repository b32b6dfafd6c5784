-- name: spending_trends_daily
-- scenario: complex_analytics_queries
-- description: GET /analytics/spending-trends?period=last_6_months&granularity=daily for a busy context
-- params: busy_context, as_of
-- threshold_p95_ms: 800
SELECT d::date AS day,
       coalesce(sum(-t.amount) FILTER (WHERE t.type = 'expense'), 0) AS spent,
       coalesce(sum(t.amount) FILTER (WHERE t.type = 'income'), 0) AS earned,
       count(t.id) AS transactions
FROM generate_series(($2::date - interval '6 months')::date, $2::date, interval '1 day') AS d
LEFT JOIN transactions t
       ON t.context_id = $1
      AND t.transaction_date = d::date
      AND t.status <> 'cancelled'
GROUP BY d
ORDER BY d;
