-- name: bulk_import
-- description: POST /bulk/transactions/import: a 1,000-row CSV file of one member's expenses loaded by COPY, ids above the generated range (rolled back)
-- mode: copy_in
-- rows: 1000
-- params: new_transaction_id, member, as_of
COPY transactions (id, context_id, user_id, category_id, amount, currency, description, merchant_name,
                   transaction_date, created_at, type, status, input_method, categorization_source,
                   ai_confidence, is_recurring)
FROM STDIN (FORMAT csv);
