-- name: month_over_month
-- scenario: historical_data_analysis
-- description: spending per category per month over the whole history, with the change on the month before
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
SELECT month, category, spent,
       lag(spent) OVER w AS previous,
       round(100 * (spent - lag(spent) OVER w) / nullif(lag(spent) OVER w, 0), 1) AS change_percent
FROM monthly
WINDOW w AS (PARTITION BY category ORDER BY month)
ORDER BY month, category;
