-- name: wallet_dashboard
-- scenario: dashboard_analytics_load
-- description: the app's dashboard for one user: per wallet this month's income, spending and entries
-- params: user, as_of
-- threshold_p95_ms: 500
-- Through a map, keys are bound as text: cast them to the column's type ($1::uuid).
SELECT w.wallet_id, w.title, w.kind, m.role,
       coalesce(sum(e.amount_cents) FILTER (WHERE e.entry_type = 'income'), 0) AS income_cents,
       coalesce(sum(-e.amount_cents) FILTER (WHERE e.entry_type = 'expense'), 0) AS spent_cents,
       count(e.entry_id) AS entries
FROM wallet_members m
JOIN wallets w ON w.wallet_id = m.wallet_id
LEFT JOIN ledger_entries e
       ON e.wallet_id = w.wallet_id
      AND e.status <> 'cancelled'
      AND e.booked_at >= date_trunc('month', $2::date)
      AND e.booked_at < $2::date + 1
WHERE m.user_uuid = $1::uuid
GROUP BY w.wallet_id, w.title, w.kind, m.role
ORDER BY spent_cents DESC;
