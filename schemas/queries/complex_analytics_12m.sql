-- name: complex_analytics_12m
-- scenario: complex_analytics_queries
-- description: GET /analytics/complex-query?period=last_12_months&granularity=daily&breakdown_levels=3 (day, type, category, subcategory), busy contexts
-- params: busy_context, as_of
-- threshold_p95_ms: 2000
SELECT t.transaction_date AS day,
       t.type,
       coalesce(p.name, c.name, 'Sem categoria') AS category,
       CASE WHEN p.id IS NULL THEN NULL ELSE c.name END AS subcategory,
       grouping(t.type, coalesce(p.name, c.name, 'Sem categoria'), CASE WHEN p.id IS NULL THEN NULL ELSE c.name END) AS level,
       sum(t.amount) AS total,
       count(*) AS transactions,
       avg(abs(t.amount))::numeric(14,2) AS average
FROM transactions t
LEFT JOIN categories c ON c.id = t.category_id
LEFT JOIN categories p ON p.id = c.parent_id
WHERE t.context_id = $1
  AND t.status <> 'cancelled'
  AND t.transaction_date > ($2::date - interval '12 months')::date
  AND t.transaction_date <= $2::date
GROUP BY t.transaction_date, ROLLUP (t.type, coalesce(p.name, c.name, 'Sem categoria'), CASE WHEN p.id IS NULL THEN NULL ELSE c.name END)
ORDER BY day, level DESC, total;
