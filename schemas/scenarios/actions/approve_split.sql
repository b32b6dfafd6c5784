-- name: approve_split
-- description: POST /splits/{id}/approve: a member approves their pending share of a split expense (rolled back)
-- mode: write
-- params: pending_split
UPDATE transaction_splits
SET status = 'approved', approved_by = $2, approved_at = now()
WHERE transaction_id = $1 AND user_id = $2 AND status = 'pending'
RETURNING transaction_id, amount;
