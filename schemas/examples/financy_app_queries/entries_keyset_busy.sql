-- name: entries_keyset_busy
-- scenario: large_transaction_list_retrieval
-- description: page 5 of a busy wallet's entries by keyset pagination (after the cursor of row 4,000)
-- params: busy_cursor
-- threshold_p95_ms: 1500
-- busy_cursor binds three values: the wallet, the booked_at and the entry_id of the cursor row,
-- as text ($2 is booked_at's text form, so cast it to the column's type).
SELECT e.entry_id, e.booked_at, e.amount_cents, e.currency, e.description, e.merchant,
       e.entry_type, e.status, c.name AS category
FROM ledger_entries e
LEFT JOIN spending_categories c ON c.category_id = e.category_id
WHERE e.wallet_id = $1::uuid
  AND (e.booked_at, e.entry_id) < ($2::timestamptz, $3::uuid)
ORDER BY e.booked_at DESC, e.entry_id DESC
LIMIT 1000;
