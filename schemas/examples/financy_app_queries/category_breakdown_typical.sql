-- name: category_breakdown_typical
-- scenario: complex_analytics_queries
-- description: this month's spending by category of a typical wallet
-- params: typical_context, as_of
-- threshold_p95_ms: 600
SELECT coalesce(c.name, 'Sem categoria') AS category,
       sum(-e.amount_cents) AS spent_cents,
       count(*) AS entries
FROM ledger_entries e
LEFT JOIN spending_categories c ON c.category_id = e.category_id
WHERE e.wallet_id = $1::uuid
  AND e.entry_type = 'expense'
  AND e.status <> 'cancelled'
  AND e.booked_at >= date_trunc('month', $2::date)
  AND e.booked_at < $2::date + 1
GROUP BY 1
ORDER BY spent_cents DESC;
