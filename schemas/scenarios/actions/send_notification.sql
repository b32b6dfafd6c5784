-- name: send_notification
-- description: POST /notifications/send (transaction_confirmation): the transaction and every member of its context to notify
-- mode: read
-- params: recent_transaction
SELECT t.id, t.amount, t.description, t.merchant_name, m.user_id, u.email, u.locale
FROM transactions t
JOIN context_members m ON m.context_id = t.context_id
JOIN users u ON u.id = m.user_id
WHERE t.id = $1;
