-- name: budget_tracking
-- scenario: complex_analytics_queries
-- description: GET /analytics/budget-tracking?include_projections=true: this month's budgets, spend so far and projection
-- params: busy_context, as_of
-- threshold_p95_ms: 400
WITH month AS (
    SELECT date_trunc('month', $2::date)::date AS start,
           $2::date AS today,
           (date_trunc('month', $2::date) + interval '1 month - 1 day')::date AS last
)
SELECT b.category_id, c.name AS category, b.limit_amount, b.alert_percent,
       coalesce(sum(-t.amount), 0) AS spent,
       round(coalesce(sum(-t.amount), 0) / (m.today - m.start + 1) * (m.last - m.start + 1), 2) AS projected,
       round(100 * coalesce(sum(-t.amount), 0) / b.limit_amount, 1) AS used_percent
FROM budgets b
CROSS JOIN month m
JOIN categories c ON c.id = b.category_id
LEFT JOIN transactions t
       ON t.context_id = b.context_id
      AND t.category_id = b.category_id
      AND t.type = 'expense'
      AND t.status <> 'cancelled'
      AND t.transaction_date BETWEEN m.start AND m.today
WHERE b.context_id = $1
  AND b.month = m.start
GROUP BY b.category_id, c.name, b.limit_amount, b.alert_percent, m.today, m.start, m.last
ORDER BY used_percent DESC;
