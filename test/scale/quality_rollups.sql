-- pushdown: partial
-- Two-step summaries: per device, then rolled up per tenant.
SELECT tenant, apivalue.rollup(c) AS clock_skew, apivalue.rollup(s) AS sequence
FROM (SELECT device_id, min(tenant) AS tenant,
             apivalue.clock_skew_summary(ts, sent_at, received_at) AS c,
             apivalue.sequence_summary(seq) AS s
      FROM {{events}} GROUP BY device_id) d
GROUP BY tenant ORDER BY tenant
