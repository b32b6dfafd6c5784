-- name: category_breakdown
-- scenario: complex_analytics_queries
-- description: GET /analytics/category-breakdown?period=current_month&include_subcategories=true, busy contexts
-- params: busy_context, as_of
-- threshold_p95_ms: 600
SELECT coalesce(p.name, c.name, 'Sem categoria') AS category,
       CASE WHEN p.id IS NULL THEN NULL ELSE c.name END AS subcategory,
       grouping(coalesce(p.name, c.name, 'Sem categoria'), CASE WHEN p.id IS NULL THEN NULL ELSE c.name END) AS level,
       sum(-t.amount) AS spent,
       count(*) AS transactions
FROM transactions t
LEFT JOIN categories c ON c.id = t.category_id
LEFT JOIN categories p ON p.id = c.parent_id
WHERE t.context_id = $1
  AND t.type = 'expense'
  AND t.status <> 'cancelled'
  AND t.transaction_date >= date_trunc('month', $2::date)::date
  AND t.transaction_date <= $2::date
GROUP BY ROLLUP (coalesce(p.name, c.name, 'Sem categoria'), CASE WHEN p.id IS NULL THEN NULL ELSE c.name END)
ORDER BY level DESC, spent DESC;
