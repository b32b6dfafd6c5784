-- name: year_over_year
-- scenario: historical_data_analysis
-- description: each category's spend per month against the same month a year before
-- params: busy_context
-- threshold_p95_ms: 2000
WITH monthly AS (
    SELECT date_trunc('month', t.transaction_date)::date AS month,
           coalesce(p.name, c.name, 'Sem categoria') AS category,
           sum(-t.amount) AS spent
    FROM transactions t
    LEFT JOIN categories c ON c.id = t.category_id
    LEFT JOIN categories p ON p.id = c.parent_id
    WHERE t.context_id = $1
      AND t.type = 'expense'
      AND t.status <> 'cancelled'
    GROUP BY 1, 2
)
SELECT cur.month, cur.category, cur.spent, prev.spent AS spent_year_before,
       round(100 * (cur.spent - prev.spent) / nullif(prev.spent, 0), 1) AS change_percent
FROM monthly cur
LEFT JOIN monthly prev
       ON prev.category = cur.category
      AND prev.month = (cur.month - interval '1 year')::date
ORDER BY cur.month, cur.category;
