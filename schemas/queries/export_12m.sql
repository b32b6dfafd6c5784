-- name: export_12m
-- scenario: bulk_data_export
-- description: GET /export/transactions?format=csv&date_range=12_months for a busy context, streamed with COPY
-- params: busy_context, as_of
-- mode: copy
-- threshold_p95_ms: 10000
SELECT t.id, t.transaction_date, t.amount, t.currency, t.description, t.merchant_name,
       c.name AS category, t.type, t.status, t.input_method, t.categorization_source, t.created_at
FROM transactions t
LEFT JOIN categories c ON c.id = t.category_id
WHERE t.context_id = $1
  AND t.transaction_date > ($2::date - interval '12 months')::date
  AND t.transaction_date <= $2::date
ORDER BY t.transaction_date, t.id
