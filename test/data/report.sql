-- test/data/report.sql: the demo's value report over sample.events.
--
-- Run by scripts/demo.sh after test/data/sample.sql and sample.generate().
-- One section per capability, each under a "== N. title" heading.  A
-- section marked "(plain SQL)" computes its numbers without apivalue;
-- replace it with the apivalue call once the capability lands (keep the
-- heading, say which function it uses).
\pset footer off
\pset null '-'

\echo
\echo '== 1. Data set'
SELECT count(*) AS events,
       count(DISTINCT user_id) FILTER (WHERE user_id <> 'canary') AS users,
       count(DISTINCT tenant) FILTER (WHERE user_id <> 'canary') AS tenants,
       count(DISTINCT device_id) AS devices,
       min(received_at)::date AS first_day,
       max(received_at)::date AS last_day
FROM sample.events;
SELECT tenant, count(DISTINCT user_id) AS users, count(*) AS events,
       round(100.0 * count(*) FILTER (WHERE plan_tier = 'enterprise') / count(*), 1) AS enterprise_pct
FROM sample.events WHERE user_id <> 'canary'
GROUP BY tenant ORDER BY events DESC;

-- User events without the synthetic canaries, as a relation the table
-- functions can take.
CREATE TEMP VIEW user_events AS SELECT * FROM sample.events WHERE user_id <> 'canary';

\echo
\echo '== 2. Activation funnel within 14 days (apivalue.window_funnel + apivalue.funnel_counts)'
WITH per_user AS (
  SELECT user_id,
         apivalue.window_funnel('14 days', ts,
           event = 'signup', event = 'create_key', event = 'first_call',
           event = 'api_call', event = 'upgrade') AS level
  FROM user_events GROUP BY user_id
), chart AS (
  SELECT apivalue.funnel_counts(level, 5) AS users FROM per_user
)
SELECT k AS step, (ARRAY['signup','create_key','first_call','api_call','upgrade'])[k] AS event,
       users[k] AS users,
       round(100.0 * users[k] / nullif(users[1], 0), 1) AS pct_of_signups,
       round(100.0 * users[k] / nullif(users[k - 1], 0), 1) AS pct_of_previous
FROM chart, generate_series(1, 5) k ORDER BY k;

\echo
\echo '== 2b. Top journeys: first 5 distinct steps per user (apivalue.journey_path)'
SELECT array_to_string(path, ' > ') AS journey, count(*) AS users
FROM (SELECT apivalue.journey_path(ts, event, 5) AS path FROM user_events GROUP BY user_id) p
GROUP BY path ORDER BY users DESC, journey LIMIT 8;

\echo
\echo '== 2c. Where users go after creating a key (apivalue.sequence_next_node) and who makes a first call within 10 minutes of creating a key (apivalue.sequence_match)'
SELECT coalesce(apivalue_next, '(nothing)') AS next_step_after_create_key, count(*) AS users
FROM (SELECT apivalue.sequence_next_node('forward', 'first_match', ts, event, true,
                                         event = 'create_key') AS apivalue_next
      FROM user_events GROUP BY user_id) n
GROUP BY 1 ORDER BY users DESC LIMIT 6;
SELECT count(*) FILTER (WHERE m) AS users_calling_within_10_min_of_key, count(*) AS users
FROM (SELECT apivalue.sequence_match('(?1)(?t<=600)(?2)', ts, event = 'create_key', event = 'first_call') AS m
      FROM user_events GROUP BY user_id) s;

\echo
\echo '== 2d. Time to first value: signup -> first_call, by monthly cohort (apivalue.ttfv_report)'
SELECT cohort_start::date AS cohort, users_started, users_reached,
       round(activation_rate::numeric * 100, 1) AS activation_pct,
       p50, p75, p90
FROM apivalue.ttfv_report('user_events', 'user_id', 'ts',
                          $$event = 'signup'$$, $$event = 'first_call'$$,
                          period => 'month')
ORDER BY cohort_start;

\echo
\echo '== 3. API usage by endpoint over the whole period, ids normalized (apivalue.api_usage, weekly rows summed)'
SELECT endpoint, sum(calls) AS calls,
       round(100 * (sum(server_error_rate * calls) / sum(calls))::numeric, 2) AS server_err_pct,
       round(100 * (sum(client_error_rate * calls) / sum(calls))::numeric, 2) AS client_err_pct
FROM apivalue.api_usage('user_events', 'ts', 'endpoint', 'user_id', 'status', 'latency_ms', period => 'week')
GROUP BY endpoint ORDER BY calls DESC LIMIT 8;

\echo
\echo '== 3b. Latency and errors per endpoint and plan tier (apivalue.latency_summary, mergeable; p95 within 1 %)'
SELECT apivalue.normalize_step(endpoint) AS endpoint, plan_tier,
       apivalue.calls(apivalue.rollup(s)) AS calls,
       round(apivalue.server_error_rate(apivalue.rollup(s))::numeric, 4) AS server_errors,
       round(apivalue.approx_percentile(apivalue.rollup(s), 0.95)::numeric, 1) AS p95_ms
FROM (SELECT endpoint, plan_tier, apivalue.latency_summary(latency_ms, status) AS s
      FROM user_events WHERE endpoint LIKE 'POST /v1/search%' OR endpoint LIKE 'GET /v1/items/%' GROUP BY 1, 2) q
GROUP BY 1, 2 ORDER BY 1, 2;

\echo
\echo '== 4. Weekly retention of signup cohorts, % making api_calls in week N (apivalue.cohort_retention)'
SELECT cohort_start::date AS cohort_week,
       max(cohort_size) AS users,
       round(100 * max(retention_rate) FILTER (WHERE period_number = 1)::numeric, 1) AS w1,
       round(100 * max(retention_rate) FILTER (WHERE period_number = 2)::numeric, 1) AS w2,
       round(100 * max(retention_rate) FILTER (WHERE period_number = 4)::numeric, 1) AS w4,
       round(100 * max(retention_rate) FILTER (WHERE period_number = 8)::numeric, 1) AS w8
FROM apivalue.cohort_retention('user_events', 'user_id', 'ts',
                               period => 'week', periods => 9,
                               start_condition => $$event = 'signup'$$,
                               return_condition => $$event = 'api_call'$$,
                               since => '2026-01-05', until => '2026-03-30')
GROUP BY cohort_start ORDER BY cohort_start;

\echo
\echo '== 4b. What early API usage goes with upgrading later (apivalue.value_drivers, first 7 days)'
SELECT behavior, users_with, round(outcome_rate_with::numeric, 3) AS upgrade_rate_with,
       round(outcome_rate_without::numeric, 3) AS upgrade_rate_without,
       round(lift_diff::numeric, 3) AS lift, round(q_value::numeric, 4) AS q_value
FROM apivalue.value_drivers('user_events', 'user_id', 'ts', 'event', $$event = 'upgrade'$$,
                            observation => '7 days', min_users => 20)
WHERE NOT flagged_low_count
ORDER BY rank LIMIT 8;

\echo
\echo '== 5. Experiments (apivalue.experiment_report): onboarding_v2 has a true lift; pricing_page has a broken split, so no lift is reported'
SELECT 'onboarding_v2' AS experiment, variant, users, converted, round(conversion_rate::numeric, 3) AS rate,
       round(diff_vs_control::numeric, 3) AS diff, round(diff_ci_low::numeric, 3) AS ci_low,
       round(diff_ci_high::numeric, 3) AS ci_high, p_value < 0.001 AS p_below_0_001, excluded_users,
       round(srm_p_value::numeric, 4) AS srm_p, srm_flagged
FROM apivalue.experiment_report('user_events', 'user_id', 'ts', $$payload->>'variant'$$,
       $$event = 'experiment_exposure' AND payload->>'experiment' = 'onboarding_v2'$$, $$event = 'first_call'$$)
UNION ALL
SELECT 'pricing_page', variant, users, converted, round(conversion_rate::numeric, 3),
       round(diff_vs_control::numeric, 3), round(diff_ci_low::numeric, 3),
       round(diff_ci_high::numeric, 3), p_value < 0.001, excluded_users,
       round(srm_p_value::numeric, 4), srm_flagged
FROM apivalue.experiment_report('user_events', 'user_id', 'ts', $$payload->>'variant'$$,
       $$event = 'experiment_exposure' AND payload->>'experiment' = 'pricing_page'$$, $$event = 'upgrade'$$)
ORDER BY 1, 2;

\echo
\echo '== 5b. Funnel report: 14 days, users who revoked their key between steps 2 and 3 excluded, by plan at signup (apivalue.funnel_report)'
SELECT breakdown_value AS plan, step, step_label, users,
       round(conversion_from_start::numeric, 3) AS from_start,
       round(conversion_from_previous::numeric, 3) AS from_previous,
       median_time_from_previous AS median_time, excluded_users
FROM apivalue.funnel_report('user_events', 'user_id', 'ts',
       ARRAY[$$event = 'signup'$$, $$event = 'create_key'$$, $$event = 'first_call'$$, $$event = 'upgrade'$$],
       '14 days', step_labels => ARRAY['signup', 'create key', 'first call', 'upgrade'],
       exclusions => ARRAY[$$event = 'revoke_key'$$], exclusion_steps => ARRAY[int4range(2, 3, '[]')],
       breakdown => 'plan_tier')
ORDER BY plan, step;

\echo
\echo '== 5c. Time to first call, honestly: naive median over users who got there vs Kaplan-Meier median (apivalue.ttfv_report)'
SELECT cohort_start::date AS cohort, users_started, users_reached, p50 AS naive_median, km_median
FROM apivalue.ttfv_report('user_events', 'user_id', 'ts', $$event = 'signup'$$, $$event = 'first_call'$$,
                          period => 'month', since => '2026-01-01', until => '2026-04-01')
ORDER BY cohort_start;
\echo 'Share still without a first call after 1, 7 and 30 days, with 95 % interval (apivalue.ttfv_survival)'
SELECT cohort_start::date AS cohort, t AS day, at_risk, round(survival::numeric, 3) AS still_waiting,
       round(ci_low::numeric, 3) AS ci_low, round(ci_high::numeric, 3) AS ci_high
FROM apivalue.ttfv_survival('user_events', 'user_id', 'ts', $$event = 'signup'$$, $$event = 'first_call'$$,
                            horizon => '30 days')
WHERE t IN (1, 7, 30) AND cohort_start < '2026-03-01'
ORDER BY cohort_start, t;

\echo
\echo '== 6. Data quality findings (apivalue detectors) next to the faults injected into the sample'
SELECT 'clock skew: devices off by > 5 min' AS finding, count(*) AS found,
       (SELECT count(*) FROM sample.ground_truth WHERE fault = 'clock_skew') AS injected
FROM apivalue.skewed_devices('sample.events', 'device_id', 'ts', 'sent_at', 'received_at', '5 minutes')
UNION ALL
SELECT 'exact duplicates (same event_id)', duplicates,
       (SELECT count(*) FROM sample.ground_truth WHERE fault = 'exact_duplicate')
FROM apivalue.duplicate_rate('sample.events', 'event_id', 'received_at')
UNION ALL
SELECT 'devices with sequence gaps', count(*),
       (SELECT count(*) FROM sample.ground_truth WHERE fault = 'sequence_gap')
FROM apivalue.device_sequence_gaps('sample.events', 'device_id', 'seq')
UNION ALL
SELECT 'dead periods > 90 min (server clock)', count(*),
       (SELECT count(*) FROM sample.ground_truth WHERE fault = 'dead_period')
FROM apivalue.dead_periods('sample.events', 'received_at', '90 minutes');

\echo
\echo '== 6b. Schema drift of payloads at the v2 release, per event (apivalue.schema_drift)'
SELECT group_value AS event, key_path, change,
       round(before_share::numeric, 3) AS before_share, round(after_share::numeric, 3) AS after_share,
       before_types, after_types
FROM apivalue.schema_drift('sample.events', 'payload', 'received_at',
                           (SELECT (detail ->> 'released_at')::timestamptz
                            FROM sample.ground_truth WHERE fault = 'schema_drift'),
                           'event')
ORDER BY 1, 2;

\echo
\echo '== 6c. Event loss by SDK version: flagged = significantly above the others (apivalue.delivery_by_segment)'
SELECT segment AS sdk_version, devices, received, expected,
       round(100 * loss_rate::numeric, 2) AS loss_pct,
       CASE WHEN p_value < 0.0001 THEN '< 0.0001' ELSE round(p_value::numeric, 4)::text END AS p_value,
       flagged
FROM apivalue.delivery_by_segment('sample.events', 'device_id', 'seq', 'sdk_version')
ORDER BY loss_rate DESC LIMIT 6;

\echo
\echo '== 6d. Tracking plan conformance (apivalue.propose_event / approve_event / tracking_plan_conformance)'
\o /dev/null
SELECT apivalue.propose_event('api_call', 'platform', 'one API request',
    '{"request_bytes": {"type": "number", "required": true},
      "response_bytes": {"type": "number", "required": true},
      "region": {"type": "string", "required": true},
      "client.retries": {"type": "number"}, "client.gzip": {"type": "boolean"}}');
SELECT apivalue.approve_event('api_call');
SELECT apivalue.propose_event('signup', 'growth', 'an account is created',
    '{"source": {"type": "string", "required": true}, "country": {"type": "string", "required": true}}');
SELECT apivalue.approve_event('signup');
SELECT apivalue.propose_event('invite_member', 'growth', 'a teammate is invited', '{"role": {"type": "string"}}');
\o
SELECT event_name, problem, coalesce(key_path, '-') AS key_path, rows, round(share::numeric, 4) AS share
FROM apivalue.tracking_plan_conformance('sample.events', 'event', 'payload', 'ts')
ORDER BY event_name, problem, key_path;

\echo
\echo '== 6e. Retention window dry run: keep 28 days (apivalue.apply_retention_policies, nothing deleted)'
\o /dev/null
SELECT apivalue.add_retention_policy('sample.events', 'ts',
         date_trunc('day', now() - (SELECT max(received_at) FROM sample.events)) + interval '28 days');
\o
SELECT relation, coalesce(tenant, 'all') AS tenant, cutoff::date AS cutoff, rows_affected AS rows_that_would_go,
       (SELECT count(*) FROM sample.events) AS rows_now
FROM apivalue.apply_retention_policies(dry_run => true);

\echo
\echo '== 6f. Calibration: one canary every 5 minutes, at most 5 minutes late (apivalue.calibration_check)'
SELECT status, CASE WHEN received = 0 THEN 'no canary' WHEN status = 'fail' THEN 'late canary' ELSE 'ok' END AS why,
       count(*) AS windows, min(window_start) AS first, max(window_start) AS last, max(max_latency) AS worst_latency
FROM apivalue.calibration_check('sample.events', 'ts', $$event = 'canary'$$, '5 minutes',
                                (SELECT min(ts) FROM sample.events WHERE event = 'canary'),
                                'received_at - ts', '5 minutes',
                                until => (SELECT max(ts) FROM sample.events WHERE event = 'canary'))
GROUP BY 1, 2 ORDER BY 1, 2;

\echo
\echo '== 7. Quality checks as data: registered once, run on schedule, history kept (apivalue.run_quality_checks)'
\o /dev/null
SELECT apivalue.add_quality_check('events_clock_skew', 'sample.events', 'clock_skew',
         '{"device_column": "device_id", "client_ts_column": "ts", "sent_at_column": "sent_at", "received_at_column": "received_at"}',
         warn_threshold => 0, fail_threshold => 3);
SELECT apivalue.add_quality_check('events_duplicates', 'sample.events', 'exact_duplicate',
         '{"key": "event_id", "time_column": "received_at"}', warn_threshold => 0, fail_threshold => 1000);
SELECT apivalue.add_quality_check('events_sequence_gaps', 'sample.events', 'sequence_gap',
         '{"device_column": "device_id", "seq_column": "seq"}', warn_threshold => 0, fail_threshold => 5000);
SELECT apivalue.add_quality_check('events_dead_time', 'sample.events', 'dead_time',
         '{"time_column": "received_at", "max_gap": "90 minutes"}', warn_threshold => 0, fail_threshold => 3600);
SELECT apivalue.add_quality_check('events_nulls', 'sample.events', 'null_rate',
         '{"columns": ["user_id", "event", "ts"]}', warn_threshold => 0.01, fail_threshold => 0.1);
SELECT count(*) FROM apivalue.run_quality_checks();
\o
SELECT check_name, status, observed, warn_threshold AS warn_at, fail_threshold AS fail_at
FROM apivalue.quality_status ORDER BY check_name;

-- The same story as one self-contained HTML page (inline SVG charts).
\pset format unaligned
\pset tuples_only on
\o :report_file
\i test/layers/charts_report_call.sql
\o
\pset format aligned
\pset tuples_only off
