-- name: create_transaction
-- description: POST /contexts/{id}/transactions: one BRL expense with a category, by a member of the context, id above the generated range (rolled back)
-- mode: write
-- params: new_transaction_id, member, category, amount, description, merchant, as_of
INSERT INTO transactions (id, context_id, user_id, category_id, amount, currency, description, merchant_name,
                          transaction_date, created_at, type, status, input_method, categorization_source,
                          ai_confidence, is_recurring)
VALUES ($1, $2, $3, $4, $5::numeric, 'BRL', $6, nullif($7, ''),
        $8::date, $8::date + time '12:00', 'expense', 'posted', 'manual', 'user',
        NULL, false)
RETURNING id;
