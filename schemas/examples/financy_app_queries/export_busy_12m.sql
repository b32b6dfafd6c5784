-- name: export_busy_12m
-- scenario: bulk_data_export
-- description: a busy wallet's last 12 months streamed with COPY (parameters inlined as quoted literals)
-- params: busy_context, as_of
-- mode: copy
-- threshold_p95_ms: 10000
SELECT e.entry_id, e.booked_at, e.amount_cents, e.currency, e.description, e.merchant,
       c.name AS category, e.entry_type, e.status, e.source, e.created_at
FROM ledger_entries e
LEFT JOIN spending_categories c ON c.category_id = e.category_id
WHERE e.wallet_id = $1::uuid
  AND e.booked_at > $2::date - interval '12 months'
ORDER BY e.booked_at, e.entry_id
