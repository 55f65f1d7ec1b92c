SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\set ECHO none
\i test/data/sample.sql
\set ECHO all

-- On the sample data set the two experiments come out as the ground truth
-- says: users, conversions and exclusions per variant match what was
-- injected; onboarding_v2 finds its lift; pricing_page's 45/55 split is
-- flagged and its comparison withheld.
SELECT sample.generate(users => 1500, seed => 42) > 0 AS generated;

CREATE TEMP TABLE exp_sample AS
SELECT 'onboarding_v2' AS experiment, r.*
  FROM apivalue.experiment_report('sample.events', 'user_id', 'ts', $$payload->>'variant'$$,
         $$event = 'experiment_exposure' AND payload->>'experiment' = 'onboarding_v2'$$,
         $$event = 'first_call'$$) r
UNION ALL
SELECT 'pricing_page', r.*
  FROM apivalue.experiment_report('sample.events', 'user_id', 'ts', $$payload->>'variant'$$,
         $$event = 'experiment_exposure' AND payload->>'experiment' = 'pricing_page'$$,
         $$event = 'upgrade'$$) r;

SELECT x.experiment, x.variant,
       x.users = (g.detail->'users'->>x.variant)::bigint AS users_match,
       x.converted = (g.detail->'converted'->>x.variant)::bigint AS converted_match,
       x.excluded_users = (g.detail->>'excluded_users')::bigint AS excluded_match,
       x.srm_flagged = (g.detail->>'srm')::boolean AS srm_as_designed,
       x.diff_vs_control IS NULL AS comparison_withheld_or_control
  FROM exp_sample x JOIN sample.ground_truth g ON g.fault = 'experiment' AND g.key = x.experiment
 ORDER BY 1, 2;
-- the onboarding lift (true +0.096): found, and inside the interval
SELECT diff_ci_low < 0.096 AND 0.096 < diff_ci_high AS ci_covers_true_lift, p_value < 0.01 AS significant
  FROM exp_sample WHERE experiment = 'onboarding_v2' AND variant = 'treatment';
-- contaminated users (ground truth) are the excluded ones
SELECT DISTINCT excluded_users = (SELECT count(*) FROM sample.ground_truth WHERE fault = 'experiment_contamination') AS excluded_are_contaminated
  FROM exp_sample WHERE experiment = 'onboarding_v2';
-- told the designed split, pricing_page is not flagged
SELECT bool_and(NOT srm_flagged) AS not_flagged_against_design
  FROM apivalue.experiment_report('sample.events', 'user_id', 'ts', $$payload->>'variant'$$,
         $$event = 'experiment_exposure' AND payload->>'experiment' = 'pricing_page'$$,
         $$event = 'upgrade'$$, expected_split => '{0.45,0.55}');

-- api_usage and latency_summary agree on the sample data: exact calls and
-- error rates, percentiles within the summary's 1 % bound
SELECT count(*) AS groups,
       count(*) FILTER (WHERE a.calls = apivalue.calls(s.s)
                          AND a.server_error_rate IS NOT DISTINCT FROM apivalue.server_error_rate(s.s)
                          AND a.client_error_rate IS NOT DISTINCT FROM apivalue.client_error_rate(s.s)) AS counts_equal,
       count(*) FILTER (WHERE abs(apivalue.approx_percentile(s.s, 0.95) - a.p95_ms) <= 0.01 * a.p95_ms * (1 + 1e-9)
                          AND abs(apivalue.approx_percentile(s.s, 0.5) - a.p50_ms) <= 0.01 * a.p50_ms * (1 + 1e-9)) AS percentiles_within_bound
  FROM apivalue.api_usage('sample.events', 'ts', 'endpoint', 'user_id', 'status', 'latency_ms',
                          period => 'week', segment_column => 'plan_tier') a
  JOIN (SELECT apivalue.period_start(ts, 'week', 'UTC') AS p, plan_tier, apivalue.normalize_step(endpoint) AS e,
               apivalue.latency_summary(latency_ms, status) AS s
          FROM sample.events WHERE endpoint IS NOT NULL GROUP BY 1, 2, 3) s
    ON s.p = a.period_start AND s.plan_tier IS NOT DISTINCT FROM a.segment AND s.e = a.endpoint;
