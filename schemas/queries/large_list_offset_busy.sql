-- name: large_list_offset_busy
-- scenario: large_transaction_list_retrieval
-- description: GET /contexts/{id}/transactions?limit=1000&include_splits&include_categories, page 5 by OFFSET, busiest contexts
-- params: busy_context
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
ORDER BY t.transaction_date DESC, t.id DESC
OFFSET 4000 LIMIT 1000;
