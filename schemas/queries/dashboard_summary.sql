-- name: dashboard_summary
-- scenario: dashboard_analytics_load
-- description: GET /dashboard/{user_id}: per context the user belongs to, this month's income, spending, balance, pending splits and unread insights
-- params: user, as_of
-- threshold_p95_ms: 500
SELECT ctx.id, ctx.name, ctx.type, m.role,
       coalesce(sum(t.amount) FILTER (WHERE t.type = 'income'), 0) AS income,
       coalesce(sum(-t.amount) FILTER (WHERE t.type = 'expense'), 0) AS spent,
       coalesce(sum(t.amount), 0) AS balance,
       count(t.id) AS transactions,
       (SELECT count(*) FROM transaction_splits s JOIN transactions st ON st.id = s.transaction_id
         WHERE s.user_id = $1 AND s.status = 'pending' AND st.context_id = ctx.id) AS pending_splits,
       (SELECT count(*) FROM ai_insights i
         WHERE i.user_id = $1 AND i.context_id = ctx.id AND NOT i.is_read AND NOT i.is_dismissed) AS unread_insights
FROM context_members m
JOIN contexts ctx ON ctx.id = m.context_id
LEFT JOIN transactions t
       ON t.context_id = ctx.id
      AND t.status <> 'cancelled'
      AND t.transaction_date >= date_trunc('month', $2::date)::date
      AND t.transaction_date <= $2::date
WHERE m.user_id = $1
GROUP BY ctx.id, ctx.name, ctx.type, m.role
ORDER BY spent DESC;
