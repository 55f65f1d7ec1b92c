-- test/data/sample.sql
--
-- Deterministic sample data set for apivalue: realistic API product events
-- with known, injected faults recorded in a ground-truth table.
--
--   \i test/data/sample.sql
--   SELECT sample.generate();                      -- 2000 users, ~100k events
--   SELECT sample.generate(users => 200000);       -- ~10M events (benchmarks)
--   SELECT sample.generate(users => 300, seed => 7, start_at => '2026-03-02');
--
-- Creates schema "sample" with:
--   sample.generate(users, seed, start_at)  (re)creates and fills the tables
--   sample.events         one row per delivered event (exact duplicates included)
--   sample.ground_truth   (fault, key, detail jsonb): every injected fault
--   sample.clean_events   view: events without the faulty rows that can be
--                         removed (skewed devices, duplicates, gapped devices,
--                         the lossy SDK, drifted payloads, canaries)
--   sample.u01(...)       the hash behind every random choice
--
-- Determinism: there is no random() anywhere.  Every choice is a function of
-- (seed, user number, event key, salt) through hashint8extended(), whose value
-- does not depend on the platform's byte order, so the same arguments give the
-- same rows whatever the plan, the machine or the number of workers.
--
-- Time: events cover 12 weeks from start_at; users sign up during the first 8.
-- All internal times are bigint milliseconds after start_at (SDK clocks have
-- millisecond resolution).  "True time" t is when the event really happened;
--   ts          = t + device clock offset            (0 except skewed devices)
--   sent_at     = ts + send delay                    (0-3 s; 3% queued 30-600 s)
--   received_at = t + send delay + network delay     (network delay 0.05-2.55 s)
-- so for a device with a correct clock sent_at - received_at lies in
-- [-2.55 s, -0.05 s]; for a skewed device it is the offset minus that delay.
--
-- Journeys (per user): signup -> onboarding_v2 exposure (seconds later) ->
-- view_docs (60%) -> pricing_page exposure -> create_key (80%) -> first_call
-- (70% of key holders in control, 82% in treatment) -> weekly sessions of
-- api_call (geometric churn by plan tier, 15% skipped weeks, 6% come-backs
-- after churn) with a view_docs in 30% of active weeks -> upgrade (20% of
-- active free/pro users in pricing control, 24% in treatment) ; detours:
-- revoke_key then create_key again (10% of key holders), invite_member (15%
-- of active users).  The plan tier changes at the upgrade; the api_version
-- changes from v1 to v2 at a per-user adoption time after v2's release.
--
-- Same-user separation: two natural events of the same user and event type
-- are always at least 10 s apart (by construction: calls inside a session are
-- 70 s +- 60 s apart, sessions live in disjoint strata of a week, weekly
-- events in disjoint weeks, one-off events hours or days apart), so a
-- near-duplicate detector with a tolerance up to 5 s finds exactly the
-- injected near duplicates (plus the exact duplicates, which repeat their
-- fingerprint 0 s later: run it over DISTINCT event_id to see only the near
-- ones).
--
-- Injected faults (all recorded in sample.ground_truth):
--   clock_skew       5 devices, each of a single-device activated user, whose
--                    clock is off by +2 h, -5 h, +26 h, -3 days, +365 days:
--                    key device_id, detail {offset_seconds, user_id}.
--   exact_duplicate  0.4% of the delivered non-canary events are delivered
--                    twice (identical rows): key event_id, detail {copies: 2}.
--   near_duplicate   0.3% of api_call/view_docs/create_key/invite_member events
--                    are fired again 0.3-2.5 s later with a new event_id and
--                    sequence number (same user, device, event, endpoint,
--                    payload, status, latency): key = the copy's event_id,
--                    detail {original, delta_ms}.
--   sequence_gap     every device with a missing sequence number (the first
--                    and last event of a device are never lost, so every
--                    missing number lies between a device's min and max):
--                    key device_id, detail {missing: [[from,to],...],
--                    missing_count, cause}; cause 'burst' for the 3 devices
--                    that lose two runs of 2-6 events, 'lossy_sdk' for devices
--                    of the lossy SDK, 'random_loss' for the 0.2% background
--                    loss of every other SDK.
--   lossy_sdk        sdk_version 'android-3.8.0' loses 15% of its events
--                    (others 0.2%): key sdk_version, detail {target_loss_rate,
--                    loss_rate, others_max_loss_rate, ...} (realized rates from
--                    sequence ranges).
--   dead_period      start_at + 45 days 9 h for 3 h: no event has ts, true time
--                    or received_at inside it (those events never existed, so
--                    they leave no sequence gap): key 'global', detail {from,
--                    to, received_gap_from, received_gap_to}, the latter being
--                    the last received_at before and the first after it.
--                    Canaries every 5 minutes bound every other gap of
--                    received_at by 65 minutes, so dead_time(received_at,
--                    '90 minutes') sees exactly this period.
--   schema_drift     event 'api_call' with api_version 'v2' (released at
--                    start_at + 28 days) drops "region", adds "trace_id" and
--                    sends "request_bytes" as a string: key 'api_call'.
--                    Every other (event, api_version) keeps one fixed key set.
--   canary           user 'canary', device 'canary-01', event 'canary' every
--                    5 minutes over the whole range; key 'missing_hour' (12
--                    canaries never sent), key 'late_burst' (6 canaries queued
--                    3 h: sent_at and received_at 3 h after ts), key
--                    'dead_period' (the canaries lost with everything else).
--   experiment       key 'onboarding_v2': 50/50 at signup, outcome first_call
--                    within 14 days; true rates 0.56 / 0.656 (lift +0.096).
--                    key 'pricing_page': deliberately broken 45/55 split at
--                    signup, outcome upgrade within 14 days.  Both carry the
--                    realized users and conversions (first exposure, users
--                    exposed to two variants excluded).
--   experiment_contamination  1% of users are exposed to onboarding_v2 a second
--                    time, with the other variant, 1-3 days after signup: key
--                    user_id.

SET client_min_messages = warning;  -- quiet when loaded twice
CREATE SCHEMA IF NOT EXISTS sample;
RESET client_min_messages;
COMMENT ON SCHEMA sample IS 'apivalue sample data set: deterministic API events with injected faults';

-- A deterministic uniform draw in [0, 1) from (seed, a, b): two chained
-- 64-bit hashes, 53 bits kept.  Inlined by the planner (plain SQL, IMMUTABLE).
CREATE OR REPLACE FUNCTION sample.u01(s bigint, a bigint, b bigint)
RETURNS float8 LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT ((hashint8extended(b, hashint8extended(a, s)) >> 11) & 9007199254740991)::float8
          / 9007199254740992.0 $$;
COMMENT ON FUNCTION sample.u01(bigint, bigint, bigint) IS
  'deterministic uniform draw in [0,1) from (seed, a, b); the only source of randomness of sample.generate';

-- Event key of a user's event: kind (1..15), week or device (0..31),
-- session (0..7), index inside the session (0..65535).  Unique per user;
-- draws for an event use b = key * 16 + salt.
CREATE OR REPLACE FUNCTION sample.ev_key(kind int, w int, sess int, i int)
RETURNS bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT (((kind::bigint * 32 + w) * 8 + sess) * 65536 + i) $$;
COMMENT ON FUNCTION sample.ev_key(int, int, int, int) IS
  'unique key of a generated event inside its user (kind, week or device, session, index)';

-- Phase timings of sample.generate, as warnings when the session sets
-- sample.profile = on (used to profile generation at scale).
CREATE OR REPLACE FUNCTION sample._phase(phase text, since timestamptz)
RETURNS void LANGUAGE plpgsql AS
$$
BEGIN
  IF current_setting('sample.profile', true) = 'on' THEN
    RAISE WARNING 'sample.generate: % took % ms', phase,
      round(extract(epoch FROM clock_timestamp() - since) * 1000);
  END IF;
END
$$;
COMMENT ON FUNCTION sample._phase(text, timestamptz) IS
  'apivalue sample: report a phase time of sample.generate when sample.profile = on';

CREATE OR REPLACE FUNCTION sample.generate(users int DEFAULT 2000,
                                           seed int DEFAULT 42,
                                           start_at timestamptz DEFAULT '2026-01-05 00:00+00')
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET work_mem = '512MB'
SET client_min_messages = warning
AS $fn$
DECLARE
  s       bigint := seed;
  n_users int := users;
  t_start timestamptz := start_at;
  -- fixed calendar of the data set, in ms after start_at
  day_ms      constant bigint := 86400000;
  end_ms      constant bigint := 84 * 86400000::bigint;         -- 12 weeks
  release_ms  constant bigint := 28 * 86400000::bigint;         -- v2 released
  dead_from   constant bigint := (45 * 24 + 9) * 3600000::bigint;
  dead_to     constant bigint := (45 * 24 + 12) * 3600000::bigint;
  miss_from   constant bigint := (20 * 24 + 14) * 3600000::bigint;
  miss_to     constant bigint := (20 * 24 + 15) * 3600000::bigint;
  late_from   constant bigint := (60 * 24 + 2) * 3600000::bigint;
  late_to     constant bigint := (60 * 24 + 2) * 3600000::bigint + 1800000;
  late_delay  constant bigint := 3 * 3600000;
  -- offset of the draws made at delivery (clocks, duplicates, losses), so
  -- they never reuse a generation draw: b = k * 16 + salt + stage
  stage       constant bigint := 1000000000000;
  n_rows      bigint;
  t_phase     timestamptz := clock_timestamp();
BEGIN
  IF n_users IS NULL OR n_users < 1 OR n_users > 9999999 THEN
    RAISE EXCEPTION 'users must be between 1 and 9999999: "%"', n_users
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF s IS NULL THEN
    RAISE EXCEPTION 'seed must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF t_start IS NULL OR NOT isfinite(t_start) THEN
    RAISE EXCEPTION 'start_at must be a finite timestamp: "%"', coalesce(t_start::text, 'NULL')
      USING ERRCODE = 'datetime_field_overflow';
  END IF;

  DROP VIEW IF EXISTS sample.clean_events;
  DROP TABLE IF EXISTS sample.events CASCADE;
  DROP TABLE IF EXISTS sample.ground_truth CASCADE;
  DROP TABLE IF EXISTS _sample_u, _sample_d, _sample_e,
                       _sample_f, _sample_g;

  ---------------------------------------------------------------------------
  -- Users: tenant, tier, devices, onboarding outcomes, experiment variants.
  ---------------------------------------------------------------------------
  CREATE TEMP TABLE _sample_u AS
  WITH b AS (
    SELECT g AS u,
           'u' || lpad(g::text, greatest(6, length(g::text)), '0') AS user_id,
           (ARRAY['acme','globex','initech','umbrella','hooli','stark','wayne','wonka'])
             [width_bucket(sample.u01(s, g, 1), ARRAY[0, .22, .40, .55, .67, .78, .87, .95]::float8[])] AS tenant,
           (ARRAY['free','pro','enterprise'])
             [width_bucket(sample.u01(s, g, 2), ARRAY[0, .70, .94]::float8[])] AS tier0,
           width_bucket(sample.u01(s, g, 3), ARRAY[0, .60, .90]::float8[]) AS ndev,
           -- signup during the first 8 weeks
           floor(sample.u01(s, g, 4) * 56 * 86400000)::bigint AS t0,
           sample.u01(s, g, 5) < 0.80 AS has_key,
           sample.u01(s, g, 6) AS r_activate,
           sample.u01(s, g, 7) < 0.01 AS contaminated,
           sample.u01(s, g, 8) AS r_upgrade,
           sample.u01(s, g, 9) < 0.10 AS revokes,
           sample.u01(s, g, 10) < 0.90 AS rekeys,
           sample.u01(s, g, 11) < 0.15 AS invites,
           sample.u01(s, g, 12) AS r_churn,
           -- v2 adoption: 60% of users move at some time in the 35 days after release
           CASE WHEN sample.u01(s, g, 13) < 0.60
                THEN release_ms + floor(sample.u01(s, g, 14) * 35 * 86400000)::bigint END AS t_v2,
           row_number() OVER (ORDER BY sample.u01(s, g, 15), g) AS rk_onb,
           row_number() OVER (ORDER BY sample.u01(s, g, 16), g) AS rk_price
    FROM generate_series(1, n_users) g
  ), v AS (
    SELECT b.*,
           CASE WHEN rk_onb <= n_users / 2 THEN 'treatment' ELSE 'control' END AS v_onb,
           -- the broken split: 55% treatment instead of 50%
           CASE WHEN rk_price <= round(n_users * 0.55) THEN 'treatment' ELSE 'control' END AS v_price,
           t0 + 2000 + floor(sample.u01(s, u, 17) * 18000)::bigint AS t_exp,
           t0 + 300000 + floor(sample.u01(s, u, 18) * 3300000)::bigint AS t_price,
           t0 + 60000 + least(floor(-ln(1 - sample.u01(s, u, 19)) * 2400000)::bigint, 2 * day_ms) AS t_key
    FROM b
  ), a AS (
    SELECT v.*,
           has_key AND r_activate < CASE v_onb WHEN 'treatment' THEN 0.82 ELSE 0.70 END AS active,
           t_key + CASE WHEN sample.u01(s, u, 20) < 0.6
                        THEN 60000 + floor(-ln(1 - sample.u01(s, u, 21)) * 600000)::bigint
                        ELSE 3600000 + floor(sample.u01(s, u, 21) * 5 * 86400000)::bigint END AS t_fc
    FROM v
  )
  SELECT a.*,
         CASE tier0 WHEN 'free' THEN 'pro' WHEN 'pro' THEN 'enterprise' END AS tier1,
         CASE WHEN active AND tier0 <> 'enterprise'
               AND r_upgrade < CASE v_price WHEN 'treatment' THEN 0.24 ELSE 0.20 END
              THEN t_fc + 600000 + floor(sample.u01(s, u, 22) * (t_price + 13 * day_ms - t_fc - 600000))::bigint
         END AS t_up,
         -- weeks of steady use before churn: geometric by tier
         1 + floor(ln(1 - r_churn) / ln(CASE tier0 WHEN 'free' THEN 0.65 WHEN 'pro' THEN 0.80 ELSE 0.88 END))::int AS weeks,
         CASE tier0 WHEN 'free' THEN 6.25 WHEN 'pro' THEN 11.25 ELSE 17.5 END AS call_mean,
         t_key + day_ms + floor(sample.u01(s, u, 23) * 14 * day_ms)::bigint AS t_rev
  FROM a;

  ---------------------------------------------------------------------------
  -- Devices: platform, SDK, pseudonymous id.  Skewed clocks on 5 devices of
  -- single-device active users (so no other device of the same user shares
  -- its events' fingerprints at shifted times).
  ---------------------------------------------------------------------------
  CREATE TEMP TABLE _sample_d AS
  WITH d AS (
    SELECT u.u, u.user_id, dd AS d,
           'dev-' || substr(md5(s || ':dev:' || u.u || ':' || dd), 1, 12) AS device_id,
           (ARRAY['server','web','ios','android'])
             [width_bucket(sample.u01(s, u.u, sample.ev_key(15, dd, 0, 0) * 16 + 1), ARRAY[0, .35, .65, .83]::float8[])] AS platform,
           sample.u01(s, u.u, sample.ev_key(15, dd, 0, 0) * 16 + 2) AS r_sdk,
           u.ndev, u.active
    FROM _sample_u u, generate_series(1, u.ndev) dd
  ), p AS (
    SELECT d.*,
           CASE platform
             WHEN 'server'  THEN (ARRAY['python-1.9.0','node-1.6.2','go-0.9.1'])[1 + floor(r_sdk * 3)::int]
             WHEN 'web'     THEN (ARRAY['js-2.3.1','js-2.4.0'])[1 + floor(r_sdk * 2)::int]
             WHEN 'ios'     THEN (ARRAY['ios-4.1.0','ios-4.2.0'])[1 + floor(r_sdk * 2)::int]
             ELSE CASE WHEN r_sdk < 0.55 THEN 'android-3.7.2' ELSE 'android-3.8.0' END
           END AS sdk_version
    FROM d
  ), sk AS (
    SELECT device_id,
           (ARRAY[7200, -18000, 93600, -259200, 31536000])[row_number() OVER (ORDER BY sample.u01(s, u, 24), u)]::bigint AS skew_s
    FROM p
    WHERE ndev = 1 AND active
    ORDER BY sample.u01(s, u, 24), u
    LIMIT 5
  )
  SELECT p.u, p.user_id, p.d, p.device_id, p.platform, p.sdk_version,
         coalesce(sk.skew_s, 0) * 1000 AS skew_ms
  FROM p LEFT JOIN sk USING (device_id);

  -- the canary's device
  INSERT INTO _sample_d VALUES (0, 'canary', 1, 'canary-01', 'server', 'canary-1.0.0', 0);

  ---------------------------------------------------------------------------
  -- Natural events, narrow: (u, d, t, event, k).  Columns that follow from
  -- (user, key, time) -- endpoint, status, latency, payload, tier, version --
  -- are computed once, when the events table is written.
  ---------------------------------------------------------------------------
  ANALYZE _sample_u;
  ANALYZE _sample_d;
  PERFORM sample._phase('users+devices', t_phase); t_phase := clock_timestamp();
  CREATE TEMP TABLE _sample_e (u int, d int, t bigint, event text, k bigint);

  INSERT INTO _sample_e
  -- first_call: a successful call, once per activated user
  SELECT u.u, 1 + floor(sample.u01(s, u.u, -(sample.ev_key(5, 0, 0, 0) >> 16) - 1) * u.ndev)::int,
         u.t_fc, 'first_call', sample.ev_key(5, 0, 0, 0)
  FROM _sample_u u WHERE u.active AND u.t_fc < end_ms
  UNION ALL
  -- api_call: weekly sessions after the first call; session j of ns lives in
  -- stratum j of the week, its calls 70 s +- 30 s apart; one device per
  -- session (draw keyed by the session part of k)
  SELECT x.u, 1 + floor(sample.u01(s, x.u, -(x.k >> 16) - 1) * x.ndev)::int, x.t, 'api_call', x.k
  FROM (
    SELECT u.u, u.ndev,
           u.t_fc + w.w * 7 * day_ms
             + (ss.j - 1) * (7 * day_ms / ns.ns)
             + floor(sample.u01(s, u.u, sample.ev_key(13, w.w, ss.j, 0) * 16 + 1)
                     * (7 * day_ms / ns.ns - 4400000))::bigint
             + c.i * 70000
             + floor(sample.u01(s, u.u, sample.ev_key(13, w.w, ss.j, c.i) * 16 + 2) * 60000)::bigint AS t,
           sample.ev_key(13, w.w, ss.j, c.i) AS k
    FROM _sample_u u
    CROSS JOIN LATERAL generate_series(0, 11) w(w)
    CROSS JOIN LATERAL (SELECT 1 + floor(sample.u01(s, u.u, sample.ev_key(12, w.w, 0, 0) * 16 + 3) * 4)::int AS ns) ns
    CROSS JOIN LATERAL generate_series(1, ns.ns) ss(j)
    CROSS JOIN LATERAL generate_series(0, least(60, floor(-ln(1 - sample.u01(s, u.u, sample.ev_key(13, w.w, ss.j, 0) * 16 + 4))
                                                          * u.call_mean)::int)) c(i)
    WHERE u.active
      AND u.t_fc + w.w * 7 * day_ms < end_ms
      AND (w.w = 0
           OR (w.w < u.weeks AND sample.u01(s, u.u, sample.ev_key(12, w.w, 0, 0) * 16 + 1) >= 0.15)
           OR (w.w >= u.weeks AND sample.u01(s, u.u, sample.ev_key(12, w.w, 0, 0) * 16 + 1) < 0.06))
  ) x
  WHERE x.t < end_ms;

  -- One-off and weekly product events; kind codes of sample.ev_key:
  -- 1 signup, 2 onboarding_v2 exposure, 3 first docs visit, 4 create_key,
  -- 5 first_call, 6 pricing_page exposure, 7 upgrade, 8 revoke_key,
  -- 9 create_key again, 10 invite_member, 11 contaminating exposure,
  -- 12 weekly docs visit, 13 api_call.
  INSERT INTO _sample_e
  SELECT o.u, 1 + floor(sample.u01(s, o.u, o.k * 16 + 8) * o.ndev)::int, o.t, o.event, o.k
  FROM (
    SELECT u.u, u.ndev, u.t0 AS t, 'signup'::text AS event, sample.ev_key(1, 0, 0, 0) AS k
    FROM _sample_u u
    UNION ALL
    SELECT u.u, u.ndev, u.t_exp, 'experiment_exposure', sample.ev_key(2, 0, 0, 0) FROM _sample_u u
    UNION ALL
    SELECT u.u, u.ndev, u.t0 + day_ms + floor(sample.u01(s, u.u, 32) * 2 * day_ms)::bigint,
           'experiment_exposure', sample.ev_key(11, 0, 0, 0)
    FROM _sample_u u WHERE u.contaminated
    UNION ALL
    SELECT u.u, u.ndev, u.t_price, 'experiment_exposure', sample.ev_key(6, 0, 0, 0) FROM _sample_u u
    UNION ALL
    SELECT u.u, u.ndev, u.t0 + 60000 + floor(sample.u01(s, u.u, 33) * 1740000)::bigint, 'view_docs', sample.ev_key(3, 0, 0, 0)
    FROM _sample_u u WHERE sample.u01(s, u.u, 35) < 0.60
    UNION ALL
    SELECT u.u, u.ndev, u.t_key, 'create_key', sample.ev_key(4, 0, 0, 0) FROM _sample_u u WHERE u.has_key
    UNION ALL
    SELECT u.u, u.ndev, u.t_rev, 'revoke_key', sample.ev_key(8, 0, 0, 0) FROM _sample_u u WHERE u.has_key AND u.revokes
    UNION ALL
    SELECT u.u, u.ndev, u.t_rev + 300000 + floor(sample.u01(s, u.u, 38) * 2 * day_ms)::bigint, 'create_key', sample.ev_key(9, 0, 0, 0)
    FROM _sample_u u WHERE u.has_key AND u.revokes AND u.rekeys
    UNION ALL
    SELECT u.u, u.ndev, u.t_up, 'upgrade', sample.ev_key(7, 0, 0, 0) FROM _sample_u u WHERE u.t_up IS NOT NULL
    UNION ALL
    SELECT u.u, u.ndev, u.t_fc + 2 * day_ms + floor(sample.u01(s, u.u, 39) * 18 * day_ms)::bigint, 'invite_member', sample.ev_key(10, 0, 0, 0)
    FROM _sample_u u WHERE u.active AND u.invites
    UNION ALL
    -- a docs visit in 30% of the active weeks, days 1-6 of the week
    SELECT u.u, u.ndev, u.t_fc + w.w * 7 * day_ms + day_ms + floor(sample.u01(s, u.u, sample.ev_key(12, w.w, 0, 0) * 16 + 5) * 5 * day_ms)::bigint,
           'view_docs', sample.ev_key(12, w.w, 0, 0)
    FROM _sample_u u CROSS JOIN LATERAL generate_series(0, 11) w(w)
    WHERE u.active
      AND (w.w = 0
           OR (w.w < u.weeks AND sample.u01(s, u.u, sample.ev_key(12, w.w, 0, 0) * 16 + 1) >= 0.15)
           OR (w.w >= u.weeks AND sample.u01(s, u.u, sample.ev_key(12, w.w, 0, 0) * 16 + 1) < 0.06))
      AND sample.u01(s, u.u, sample.ev_key(12, w.w, 0, 0) * 16 + 7) < 0.30
  ) o
  WHERE o.t < end_ms;

  ---------------------------------------------------------------------------
  -- Delivery: clocks and delays; the dead period removes everything inside
  -- it in any clock.  Canaries (u = 0, k = slot) join here.
  ---------------------------------------------------------------------------
  ANALYZE _sample_e;
  PERFORM sample._phase('natural events', t_phase); t_phase := clock_timestamp();
  CREATE TEMP TABLE _sample_f AS
  WITH x AS (
    SELECT e.u, e.d, e.t, e.event, e.k, d.skew_ms,
           CASE WHEN sample.u01(s, e.u, e.k * 16 + 1 + stage) < 0.97
                THEN floor(sample.u01(s, e.u, e.k * 16 + 2 + stage) * 3000)::bigint
                ELSE 30000 + floor(sample.u01(s, e.u, e.k * 16 + 2 + stage) * 570000)::bigint END AS sd,
           50 + floor(sample.u01(s, e.u, e.k * 16 + 3 + stage) * 2500)::bigint AS nd
    FROM _sample_e e JOIN _sample_d d ON d.u = e.u AND d.d = e.d
    UNION ALL
    SELECT 0, 1, c.slot * 300000, 'canary', c.slot, 0,
           CASE WHEN c.slot * 300000 >= late_from AND c.slot * 300000 < late_to
                THEN late_delay ELSE floor(sample.u01(s, 0, c.slot * 16 + 2 + stage) * 1000)::bigint END,
           50 + floor(sample.u01(s, 0, c.slot * 16 + 3 + stage) * 500)::bigint
    FROM generate_series(0, end_ms / 300000 - 1) c(slot)
    WHERE NOT (c.slot * 300000 >= miss_from AND c.slot * 300000 < miss_to)
  )
  SELECT x.*, x.t AS t_orig, false AS is_copy, false AS has_copy
  FROM x
  WHERE NOT (x.t >= dead_from AND x.t < dead_to)
    AND NOT (x.t + x.skew_ms >= dead_from AND x.t + x.skew_ms < dead_to)
    AND NOT (x.t + x.sd + x.nd >= dead_from AND x.t + x.sd + x.nd < dead_to);

  ANALYZE _sample_f;
  -- Near duplicates: the same event fired again 0.3-2.5 s later (same k,
  -- new id), at least 10 minutes away from the dead period in every clock.
  INSERT INTO _sample_f
  SELECT f.u, f.d, f.t + nd.delta, f.event, f.k, f.skew_ms, f.sd, f.nd, f.t, true, false
  FROM _sample_f f
  CROSS JOIN LATERAL (SELECT 300 + floor(sample.u01(s, f.u, f.k * 16 + 5 + stage) * 2200)::bigint AS delta) nd
  WHERE f.u > 0
    AND f.event IN ('api_call', 'view_docs', 'create_key', 'invite_member')
    AND sample.u01(s, f.u, f.k * 16 + 4 + stage) < 0.003
    AND NOT (f.t BETWEEN dead_from - 600000 AND dead_to + 600000)
    AND NOT (f.t + f.skew_ms BETWEEN dead_from - 600000 AND dead_to + 600000)
    AND NOT (f.t + f.sd + f.nd BETWEEN dead_from - 600000 AND dead_to + 600000);
  UPDATE _sample_f f SET has_copy = true
  FROM (SELECT u, k FROM _sample_f WHERE is_copy) c
  WHERE f.u = c.u AND f.k = c.k AND NOT f.is_copy;

  ---------------------------------------------------------------------------
  -- Sequence numbers per device, then losses: bursts on 3 devices, 15% of
  -- the lossy SDK, 0.2% elsewhere.  A device's first and last events and
  -- both events of a near-duplicate pair are never lost; canaries never.
  ---------------------------------------------------------------------------
  ANALYZE _sample_f;
  PERFORM sample._phase('delivery+near duplicates', t_phase); t_phase := clock_timestamp();
  CREATE TEMP TABLE _sample_g AS
  SELECT f.*,
         row_number() OVER (PARTITION BY f.u, f.d ORDER BY f.t, f.k, f.is_copy) AS seq,
         count(*) OVER (PARTITION BY f.u, f.d) AS n_dev,
         NULL::text AS lost
  FROM _sample_f f;
  DROP TABLE _sample_e, _sample_f;
  ANALYZE _sample_g;
  PERFORM sample._phase('sequence numbers', t_phase); t_phase := clock_timestamp();

  -- bursts: per SDK, the first device by hash with at least 30 events
  WITH n AS (
    SELECT u, d, count(*) AS n_dev FROM _sample_g GROUP BY u, d HAVING count(*) >= 30
  ), cand AS (
    SELECT DISTINCT ON (dv.sdk_version) n.u, n.d, n.n_dev
    FROM n JOIN _sample_d dv ON dv.u = n.u AND dv.d = n.d
    WHERE dv.sdk_version IN ('python-1.9.0', 'js-2.4.0', 'ios-4.2.0') AND dv.skew_ms = 0
    ORDER BY dv.sdk_version, sample.u01(s, n.u, 999 + n.d), n.u, n.d
  ), runs AS (
    SELECT c.u, c.d,
           2 + floor(sample.u01(s, c.u, 1000 + r.r) * (c.n_dev / 2 - 10))::bigint + (r.r - 1) * (c.n_dev / 2) AS g_from,
           2 + floor(sample.u01(s, c.u, 1000 + r.r) * (c.n_dev / 2 - 10))::bigint + (r.r - 1) * (c.n_dev / 2)
             + 1 + floor(sample.u01(s, c.u, 1010 + r.r) * 5)::bigint AS g_to
    FROM cand c CROSS JOIN generate_series(1, 2) r(r)
  )
  UPDATE _sample_g g SET lost = 'burst'
  FROM runs
  WHERE g.u = runs.u AND g.d = runs.d AND g.seq BETWEEN runs.g_from AND runs.g_to
    AND NOT g.is_copy AND NOT g.has_copy;

  UPDATE _sample_g g
  SET lost = CASE WHEN dv.sdk_version = 'android-3.8.0' THEN 'lossy_sdk' ELSE 'random_loss' END
  FROM _sample_d dv
  WHERE dv.u = g.u AND dv.d = g.d
    AND g.lost IS NULL AND g.u > 0
    AND g.seq > 1 AND g.seq < g.n_dev
    AND NOT g.is_copy AND NOT g.has_copy
    AND sample.u01(s, g.u, g.k * 16 + 6 + stage)
        < CASE WHEN dv.sdk_version = 'android-3.8.0' THEN 0.15 ELSE 0.002 END;

  ---------------------------------------------------------------------------
  -- The events table: survivors, plus a second copy of 0.4% of them (exact
  -- duplicates).  Tier and api_version follow the event's original time.
  ---------------------------------------------------------------------------
  PERFORM sample._phase('losses', t_phase); t_phase := clock_timestamp();
  CREATE TABLE sample.events (
    event_id    text NOT NULL,
    user_id     text NOT NULL,
    tenant      text NOT NULL,
    plan_tier   text NOT NULL,
    api_version text NOT NULL,
    sdk_version text NOT NULL,
    platform    text NOT NULL,
    device_id   text NOT NULL,
    event       text NOT NULL,
    endpoint    text,
    status      int,
    latency_ms  float8,
    ts          timestamptz NOT NULL,
    sent_at     timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    seq         bigint NOT NULL,
    payload     jsonb NOT NULL
  );

  INSERT INTO sample.events
  WITH g AS (
    SELECT * FROM _sample_g WHERE lost IS NULL
    UNION ALL
    SELECT * FROM _sample_g
    WHERE lost IS NULL AND u > 0 AND NOT is_copy AND NOT has_copy
      AND sample.u01(s, u, k * 16 + 7 + stage) < 0.004
  ), a AS (
    SELECT g.*, (g.k >> 24)::int AS kind, dv.device_id, dv.platform, dv.sdk_version,
           coalesce(us.user_id, 'canary') AS user_id, coalesce(us.tenant, 'internal') AS tenant,
           CASE WHEN g.u = 0 THEN 'enterprise'
                WHEN us.t_up IS NOT NULL AND g.t_orig >= us.t_up THEN us.tier1 ELSE us.tier0 END AS tier,
           CASE WHEN us.t_v2 IS NOT NULL AND g.t_orig >= us.t_v2 THEN 'v2' ELSE 'v1' END AS ver,
           us.tier0, us.tier1, us.v_onb, us.v_price, us.t_key,
           width_bucket(sample.u01(s, g.u, g.k * 16 + 5), ARRAY[0, .30, .50, .64, .72, .76, .90, .97]::float8[]) AS e,
           sample.u01(s, g.u, g.k * 16 + 6) AS r_status,
           sample.u01(s, g.u, g.k * 16 + 7) AS r_id
    FROM g
    JOIN _sample_d dv ON dv.u = g.u AND dv.d = g.d
    LEFT JOIN _sample_u us ON us.u = g.u
  ), c AS (
    SELECT a.*,
           CASE
             WHEN event = 'first_call' THEN 200
             WHEN r_status < (ARRAY[.002,.003,.006,.005,.002,.030,.001,.004])[e]
               THEN (ARRAY[500,502,500,500,500,503,500,504])[e]
             WHEN tier = 'free' AND r_status < (ARRAY[.002,.003,.006,.005,.002,.030,.001,.004])[e] + 0.03
               THEN 429
             WHEN r_status < (ARRAY[.002,.003,.006,.005,.002,.030,.001,.004])[e] + CASE WHEN tier = 'free' THEN 0.03 ELSE 0 END
                             + (ARRAY[.04,.01,.03,.03,.05,.02,.005,.02])[e]
               THEN (ARRAY[404,400,422,409,404,400,403,401])[e]
             ELSE (ARRAY[200,200,201,200,204,200,200,200])[e]
           END AS status
    FROM a
  )
  SELECT md5(s || CASE WHEN c.u = 0 THEN ':canary:' || c.k
                       WHEN c.is_copy THEN ':nd:' || c.u || ':' || c.k
                       ELSE ':ev:' || c.u || ':' || c.k END)::uuid::text,
         c.user_id, c.tenant, c.tier, c.ver, c.sdk_version, c.platform, c.device_id, c.event,
         CASE WHEN c.kind IN (5, 13) THEN
           (ARRAY['GET','GET','POST','PUT','DELETE','POST','GET','POST'])[c.e] || ' /' || c.ver ||
           CASE c.e
             WHEN 1 THEN '/items/' || (1 + floor(c.r_id * 20000)::int)
             WHEN 2 THEN '/items'
             WHEN 3 THEN '/items'
             WHEN 4 THEN '/items/' || (1 + floor(c.r_id * 20000)::int)
             WHEN 5 THEN '/items/' || (1 + floor(c.r_id * 20000)::int)
             WHEN 6 THEN '/search'
             WHEN 7 THEN '/usage'
             ELSE '/keys/' || lpad(to_hex(floor(c.r_id * 1099511627776)::bigint), 10, '0') || '/rotate'
           END
         END,
         CASE WHEN c.kind IN (5, 13) THEN c.status END,
         CASE WHEN c.kind IN (5, 13) THEN
           -- log-normal around the endpoint's base, scaled by plan tier;
           -- rejected requests (401/403/429) answer in a few ms
           floor(CASE WHEN c.status IN (429, 401, 403)
                      THEN greatest(1, 4 + 3 * (3 + sqrt(-2 * ln(1 - sample.u01(s, c.u, c.k * 16 + 8)))
                                                     * cos(2 * pi() * sample.u01(s, c.u, c.k * 16 + 9))))
                      ELSE (ARRAY[35,80,120,110,60,250,45,150])[c.e]
                           * CASE c.tier WHEN 'free' THEN 1.25 WHEN 'pro' THEN 1.0 ELSE 0.8 END
                           * exp(0.45 * sqrt(-2 * ln(1 - sample.u01(s, c.u, c.k * 16 + 8)))
                                      * cos(2 * pi() * sample.u01(s, c.u, c.k * 16 + 9)))
                 END * 100) / 100
         END,
         t_start + (c.t + c.skew_ms) * interval '1 millisecond',
         t_start + (c.t + c.skew_ms + c.sd) * interval '1 millisecond',
         t_start + (c.t + c.sd + c.nd) * interval '1 millisecond',
         c.seq,
         CASE
           WHEN c.u = 0 THEN jsonb_build_object('probe', 'pipeline', 'slot', c.k)
           WHEN c.kind = 13 AND c.ver = 'v1' THEN
             jsonb_build_object('request_bytes', 64 + floor(sample.u01(s, c.u, c.k * 16 + 10) * 4000)::int,
                                'response_bytes', 128 + floor(sample.u01(s, c.u, c.k * 16 + 11) * 64000)::int,
                                'region', (ARRAY['eu-west-1','us-east-1','us-west-2','ap-south-1'])[1 + floor(sample.u01(s, c.u, c.k * 16 + 12) * 4)::int],
                                'client', jsonb_build_object('retries', floor(-ln(1 - sample.u01(s, c.u, c.k * 16 + 13)) * 0.2)::int,
                                                             'gzip', sample.u01(s, c.u, c.k * 16 + 14) < 0.7))
           WHEN c.kind = 13 THEN
             -- schema drift of api_version v2: no "region", a new "trace_id",
             -- "request_bytes" as a string
             jsonb_build_object('request_bytes', (64 + floor(sample.u01(s, c.u, c.k * 16 + 10) * 4000)::int)::text,
                                'response_bytes', 128 + floor(sample.u01(s, c.u, c.k * 16 + 11) * 64000)::int,
                                'trace_id', lpad(to_hex(hashint8extended(c.k, s * 1000003 + c.u)), 16, '0'),
                                'client', jsonb_build_object('retries', floor(-ln(1 - sample.u01(s, c.u, c.k * 16 + 13)) * 0.2)::int,
                                                             'gzip', sample.u01(s, c.u, c.k * 16 + 14) < 0.7))
           WHEN c.kind = 5 THEN
             jsonb_build_object('endpoint_group', CASE c.e WHEN 6 THEN 'search' WHEN 7 THEN 'usage' WHEN 8 THEN 'keys' ELSE 'items' END,
                                'ms_since_key', c.t_orig - c.t_key)
           WHEN c.kind = 1 THEN
             jsonb_build_object('source', (ARRAY['organic','google','github','referral','partner'])[1 + floor(sample.u01(s, c.u, 30) * 5)::int],
                                'country', (ARRAY['US','DE','IN','GB','BR','FR','JP','CA'])[1 + floor(sample.u01(s, c.u, 31) * 8)::int])
           WHEN c.kind = 2 THEN jsonb_build_object('experiment', 'onboarding_v2', 'variant', c.v_onb)
           WHEN c.kind = 11 THEN
             jsonb_build_object('experiment', 'onboarding_v2',
                                'variant', CASE c.v_onb WHEN 'control' THEN 'treatment' ELSE 'control' END)
           WHEN c.kind = 6 THEN jsonb_build_object('experiment', 'pricing_page', 'variant', c.v_price)
           WHEN c.kind = 3 THEN
             jsonb_build_object('page', (ARRAY['/docs/quickstart','/docs/auth','/docs/errors','/docs/sdks'])[1 + floor(sample.u01(s, c.u, 34) * 4)::int])
           WHEN c.kind = 12 THEN
             jsonb_build_object('page', (ARRAY['/docs/quickstart','/docs/auth','/docs/errors','/docs/sdks','/docs/pagination','/docs/webhooks'])
                                          [1 + floor(sample.u01(s, c.u, c.k * 16 + 6) * 6)::int])
           WHEN c.kind IN (4, 9) THEN
             jsonb_build_object('key_id', substr(md5(s || ':key:' || c.u || CASE c.kind WHEN 4 THEN ':1' ELSE ':2' END), 1, 10),
                                'scopes', CASE WHEN sample.u01(s, c.u, 36) < 0.5 THEN '["read"]'::jsonb ELSE '["read","write"]'::jsonb END)
           WHEN c.kind = 8 THEN
             jsonb_build_object('key_id', substr(md5(s || ':key:' || c.u || ':1'), 1, 10),
                                'reason', CASE WHEN sample.u01(s, c.u, 37) < 0.8 THEN 'rotated' ELSE 'leaked' END)
           WHEN c.kind = 7 THEN
             jsonb_build_object('from', c.tier0, 'to', c.tier1, 'mrr_usd', CASE c.tier1 WHEN 'pro' THEN 49 ELSE 499 END)
           WHEN c.kind = 10 THEN
             jsonb_build_object('role', CASE WHEN sample.u01(s, c.u, 40) < 0.7 THEN 'developer' ELSE 'admin' END,
                                'invitees', 1 + floor(sample.u01(s, c.u, 41) * 3)::int)
         END
  FROM c;
  GET DIAGNOSTICS n_rows = ROW_COUNT;

  COMMENT ON TABLE sample.events IS
    'apivalue sample: API product events with injected faults (see sample.ground_truth)';

  ---------------------------------------------------------------------------
  -- Ground truth, from the generator's own bookkeeping.
  ---------------------------------------------------------------------------
  PERFORM sample._phase('events table', t_phase); t_phase := clock_timestamp();
  CREATE TABLE sample.ground_truth (
    fault  text NOT NULL,
    key    text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (fault, key)
  );
  COMMENT ON TABLE sample.ground_truth IS
    'apivalue sample: every fault injected into sample.events (fault, key, detail)';

  INSERT INTO sample.ground_truth
  SELECT 'clock_skew', device_id,
         jsonb_build_object('offset_seconds', skew_ms / 1000, 'user_id', user_id)
  FROM _sample_d WHERE skew_ms <> 0;

  INSERT INTO sample.ground_truth
  SELECT 'exact_duplicate', md5(s || ':ev:' || u || ':' || k)::uuid::text, jsonb_build_object('copies', 2)
  FROM _sample_g
  WHERE lost IS NULL AND u > 0 AND NOT is_copy AND NOT has_copy
    AND sample.u01(s, u, k * 16 + 7 + stage) < 0.004;

  INSERT INTO sample.ground_truth
  SELECT 'near_duplicate', md5(s || ':nd:' || g.u || ':' || g.k)::uuid::text,
         jsonb_build_object('original', md5(s || ':ev:' || g.u || ':' || g.k)::uuid::text,
                            'delta_ms', g.t - g.t_orig, 'event', g.event, 'user_id', dv.user_id)
  FROM _sample_g g JOIN _sample_d dv ON dv.u = g.u AND dv.d = g.d
  WHERE g.is_copy;

  INSERT INTO sample.ground_truth
  WITH l AS (
    SELECT u, d, lost, seq, seq - row_number() OVER (PARTITION BY u, d ORDER BY seq) AS island
    FROM _sample_g WHERE lost IS NOT NULL
  ), r AS (
    SELECT u, d, min(lost) AS cause, min(seq) AS g_from, max(seq) AS g_to
    FROM l GROUP BY u, d, island
  )
  SELECT 'sequence_gap', dv.device_id,
         jsonb_build_object('missing', jsonb_agg(jsonb_build_array(r.g_from, r.g_to) ORDER BY r.g_from),
                            'missing_count', sum(r.g_to - r.g_from + 1),
                            'cause', min(r.cause))
  FROM r JOIN _sample_d dv ON dv.u = r.u AND dv.d = r.d
  GROUP BY dv.device_id;

  INSERT INTO sample.ground_truth
  WITH seg AS (
    SELECT dv.sdk_version, count(*) AS expected, count(*) FILTER (WHERE g.lost IS NULL) AS received
    FROM _sample_g g JOIN _sample_d dv ON dv.u = g.u AND dv.d = g.d
    GROUP BY dv.sdk_version
  )
  SELECT 'lossy_sdk', 'android-3.8.0',
         jsonb_build_object('target_loss_rate', 0.15, 'others_target_loss_rate', 0.002,
                            'expected', coalesce(l.expected, 0), 'received', coalesce(l.received, 0),
                            'loss_rate', round(1 - l.received::numeric / nullif(l.expected, 0), 4),
                            'others_max_loss_rate',
                            (SELECT round(max(1 - received::numeric / expected), 4) FROM seg WHERE sdk_version <> 'android-3.8.0'))
  FROM (SELECT 1) one LEFT JOIN seg l ON l.sdk_version = 'android-3.8.0';

  INSERT INTO sample.ground_truth
  SELECT 'dead_period', 'global',
         jsonb_build_object('from', t_start + dead_from * interval '1 millisecond',
                            'to', t_start + dead_to * interval '1 millisecond',
                            'received_gap_from', (SELECT max(received_at) FROM sample.events
                                                  WHERE received_at < t_start + dead_from * interval '1 millisecond'),
                            'received_gap_to', (SELECT min(received_at) FROM sample.events
                                                WHERE received_at >= t_start + dead_to * interval '1 millisecond'),
                            'suggested_max_gap', '90 minutes');

  INSERT INTO sample.ground_truth VALUES
  ('schema_drift', 'api_call',
   jsonb_build_object('api_version', 'v2', 'released_at', t_start + release_ms * interval '1 millisecond',
                      'removed', jsonb_build_array('region'), 'added', jsonb_build_array('trace_id'),
                      'type_changed', jsonb_build_object('request_bytes', jsonb_build_array('number', 'string')))),
  ('canary', 'missing_hour',
   jsonb_build_object('from', t_start + miss_from * interval '1 millisecond',
                      'to', t_start + miss_to * interval '1 millisecond',
                      'every', '5 minutes', 'missing', 12)),
  ('canary', 'late_burst',
   jsonb_build_object('from', t_start + late_from * interval '1 millisecond',
                      'to', t_start + late_to * interval '1 millisecond',
                      'count', 6, 'delay_seconds', late_delay / 1000)),
  ('canary', 'dead_period',
   jsonb_build_object('from', t_start + dead_from * interval '1 millisecond',
                      'to', t_start + dead_to * interval '1 millisecond',
                      'every', '5 minutes', 'missing', (dead_to - dead_from) / 300000));

  INSERT INTO sample.ground_truth
  SELECT 'experiment_contamination', user_id,
         jsonb_build_object('experiment', 'onboarding_v2', 'first_variant', v_onb)
  FROM _sample_u WHERE contaminated;

  -- Realized experiment numbers, from the delivered events: a user's variant
  -- is that of the first exposure, users with two variants are excluded,
  -- conversion is an outcome event within 14 days after the first exposure.
  INSERT INTO sample.ground_truth
  WITH x AS (
    SELECT user_id, payload->>'experiment' AS experiment,
           (array_agg(payload->>'variant' ORDER BY ts))[1] AS variant,
           count(DISTINCT payload->>'variant') AS n_variants, min(ts) AS exposed_at
    FROM sample.events WHERE event = 'experiment_exposure'
    GROUP BY 1, 2
  ), o AS (
    SELECT user_id, event, ts FROM sample.events WHERE event IN ('first_call', 'upgrade')
  ), c AS (
    SELECT x.user_id, x.experiment, min(x.variant) AS variant, min(x.n_variants) AS n_variants,
           count(o.ts) > 0 AS converted
    FROM x LEFT JOIN o
      ON o.user_id = x.user_id
     AND o.event = CASE x.experiment WHEN 'onboarding_v2' THEN 'first_call' ELSE 'upgrade' END
     AND o.ts >= x.exposed_at AND o.ts <= x.exposed_at + interval '14 days'
    GROUP BY x.user_id, x.experiment
  ), v AS (
    SELECT experiment, variant, count(*) AS nu, count(*) FILTER (WHERE converted) AS nc
    FROM c WHERE n_variants = 1 GROUP BY 1, 2
  )
  SELECT 'experiment', e.experiment,
         e.design || jsonb_build_object(
           'excluded_users', (SELECT count(*) FROM c WHERE c.experiment = e.experiment AND n_variants > 1),
           'users', (SELECT coalesce(jsonb_object_agg(variant, nu), '{}') FROM v WHERE v.experiment = e.experiment),
           'converted', (SELECT coalesce(jsonb_object_agg(variant, nc), '{}') FROM v WHERE v.experiment = e.experiment))
  FROM (VALUES
    ('onboarding_v2', jsonb_build_object(
       'outcome', 'first_call', 'conversion_window', '14 days', 'control', 'control',
       'split', jsonb_build_object('control', 0.5, 'treatment', 0.5),
       'true_rate', jsonb_build_object('control', 0.56, 'treatment', 0.656),
       'true_lift', 0.096, 'srm', false)),
    ('pricing_page', jsonb_build_object(
       'outcome', 'upgrade', 'conversion_window', '14 days', 'control', 'control',
       'split', jsonb_build_object('control', 0.45, 'treatment', 0.55),
       'true_rate_active_free_pro', jsonb_build_object('control', 0.20, 'treatment', 0.24),
       'srm', true))
  ) e(experiment, design);

  ---------------------------------------------------------------------------
  -- The clean subset.
  ---------------------------------------------------------------------------
  PERFORM sample._phase('ground truth', t_phase); t_phase := clock_timestamp();
  CREATE VIEW sample.clean_events AS
  SELECT DISTINCT ON (e.event_id) e.*
  FROM sample.events e
  WHERE e.user_id <> 'canary'
    AND e.device_id NOT IN (SELECT key FROM sample.ground_truth WHERE fault IN ('clock_skew', 'sequence_gap'))
    AND e.sdk_version NOT IN (SELECT key FROM sample.ground_truth WHERE fault = 'lossy_sdk')
    AND e.event_id NOT IN (SELECT key FROM sample.ground_truth WHERE fault = 'near_duplicate')
    AND NOT (e.event = 'api_call' AND e.api_version = 'v2')
  ORDER BY e.event_id;
  COMMENT ON VIEW sample.clean_events IS
    'apivalue sample: events without skewed devices, duplicates, gapped devices, the lossy SDK, drifted payloads and canaries (the dead period remains)';

  DROP TABLE _sample_u, _sample_d, _sample_g;
  PERFORM sample._phase('clean view', t_phase); t_phase := clock_timestamp();
  ANALYZE sample.events;
  ANALYZE sample.ground_truth;
  PERFORM sample._phase('analyze', t_phase);
  RETURN n_rows;
END
$fn$;

COMMENT ON FUNCTION sample.generate(int, int, timestamptz) IS
  'apivalue sample: (re)create sample.events, sample.ground_truth and sample.clean_events deterministically; returns the number of event rows';
