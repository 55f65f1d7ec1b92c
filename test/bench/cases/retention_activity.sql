-- title: per-user weekly activity flags (retention_activity, 12 weeks) vs the floor
-- Per-user aggregate: within 1.3x of the scan-and-group floor is the target.
-- apivalue:
SELECT user_id, apivalue.retention_activity(ts, true, true, 12, 'week', 'UTC')
FROM sample.events GROUP BY user_id;
-- hand:
WITH f AS (SELECT user_id, date_trunc('week', min(ts), 'UTC') AS cw FROM sample.events GROUP BY user_id),
a AS (SELECT DISTINCT user_id, date_trunc('week', ts, 'UTC') AS w FROM sample.events)
SELECT f.user_id,
       array_agg(round(extract(epoch FROM a.w - f.cw) / 604800)::int ORDER BY a.w)
         FILTER (WHERE a.w - f.cw <= interval '12 weeks') AS weeks
FROM f JOIN a USING (user_id)
GROUP BY f.user_id;
