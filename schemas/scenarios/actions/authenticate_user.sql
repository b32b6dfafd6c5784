-- name: authenticate_user
-- description: POST /auth/login: the user by e-mail with the password hash to check, and their contexts
-- mode: read
-- params: email
SELECT u.id, u.password_hash, u.full_name, u.plan_tier, u.locale,
       array_agg(m.context_id ORDER BY m.context_id) AS contexts
FROM users u
LEFT JOIN context_members m ON m.user_id = u.id
WHERE u.email = $1
GROUP BY u.id;
