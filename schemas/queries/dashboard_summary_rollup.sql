-- name: dashboard_summary_rollup
-- scenario: dashboard_analytics_load
-- description: dashboard_summary with this month's sums read from aggregated_analytics (the daily rollups) instead of transactions; same rows
-- params: user, as_of
-- requires: aggregated_analytics
-- threshold_p95_ms: 500
SELECT ctx.id, ctx.name, ctx.type, m.role,
       coalesce(sum(a.amount) FILTER (WHERE a.type = 'income'), 0) AS income,
       coalesce(sum(-a.amount) FILTER (WHERE a.type = 'expense'), 0) AS spent,
       coalesce(sum(a.amount), 0) AS balance,
       coalesce(sum(a.tx_count), 0) AS transactions,
       (SELECT count(*) FROM transaction_splits s JOIN transactions st ON st.id = s.transaction_id
         WHERE s.user_id = $1 AND s.status = 'pending' AND st.context_id = ctx.id) AS pending_splits,
       (SELECT count(*) FROM ai_insights i
         WHERE i.user_id = $1 AND i.context_id = ctx.id AND NOT i.is_read AND NOT i.is_dismissed) AS unread_insights
FROM context_members m
JOIN contexts ctx ON ctx.id = m.context_id
LEFT JOIN aggregated_analytics a
       ON a.context_id = ctx.id
      AND a.day >= date_trunc('month', $2::date)::date
      AND a.day <= $2::date
WHERE m.user_id = $1
GROUP BY ctx.id, ctx.name, ctx.type, m.role
ORDER BY spent DESC;
