-- name: ai_categorization
-- description: POST /ai/categorize: read a recent transaction with its merchant's past categories, store the AI's category (rolled back)
-- mode: write
-- params: recent_transaction, category
WITH t AS (
    SELECT id, context_id, merchant_name FROM transactions WHERE id = $1
), history AS (
    SELECT x.category_id, count(*) AS n
    FROM transactions x JOIN t ON x.context_id = t.context_id AND x.merchant_name = t.merchant_name
    WHERE x.category_id IS NOT NULL
    GROUP BY x.category_id
    ORDER BY n DESC, x.category_id
    LIMIT 1
)
UPDATE transactions u
SET category_id = coalesce((SELECT category_id FROM history), $2),
    categorization_source = 'ai',
    ai_confidence = 0.912
FROM t
WHERE u.id = t.id
RETURNING u.id, u.category_id;
