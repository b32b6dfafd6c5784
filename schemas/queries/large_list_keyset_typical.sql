-- name: large_list_keyset_typical
-- scenario: large_transaction_list_retrieval
-- description: page 2 of a typical context by keyset pagination (after the cursor of row 1,000, or half way through a smaller context)
-- params: typical_cursor
-- threshold_p95_ms: 1500
SELECT t.id, t.transaction_date, t.amount, t.currency, t.description, t.merchant_name,
       t.type, t.status, t.input_method, t.user_id,
       c.name AS category, p.name AS parent_category,
       coalesce(s.splits, '[]'::json) AS splits
FROM transactions t
LEFT JOIN categories c ON c.id = t.category_id
LEFT JOIN categories p ON p.id = c.parent_id
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object('user_id', ts.user_id, 'amount', ts.amount, 'status', ts.status)
                    ORDER BY ts.user_id) AS splits
    FROM transaction_splits ts
    WHERE ts.transaction_id = t.id
) s ON true
WHERE t.context_id = $1
  AND (t.transaction_date, t.id) < ($2::date, $3::bigint)
ORDER BY t.transaction_date DESC, t.id DESC
LIMIT 1000;
