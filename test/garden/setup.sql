-- Garden fixtures and runner (loaded by test/garden/garden.py).
--
-- Fixture tables share one column layout (the sample events' columns plus a
-- few typed extras) so that any aggregate argument can be bound to a column
-- of its type, and any table function can be pointed at any fixture:
--   f_normal    5 users x 12 events over two days, everything set
--   f_empty     no rows (aggregate over zero rows)
--   f_one       one row
--   f_nulls     three rows, every column NULL
--   f_equal_ts  six rows of one user at one and the same timestamp
--   f_infinite  normal rows plus rows at +infinity and -infinity
--   f_extreme   rows in year 1 and year 294276
--   f_huge_text two rows whose text columns are 1 MB long
--   f_nocols    a table lacking every column a function may name
--   v_normal    a view over f_normal;  f_part  f_normal partitioned by ts
--
-- garden.try(id) runs one generated call in a subtransaction that is always
-- rolled back (so calls with side effects leave the fixtures alone) and
-- records its outcome in garden.results.

SET client_min_messages = warning;
DROP SCHEMA IF EXISTS garden CASCADE;
CREATE SCHEMA garden;
RESET client_min_messages;

CREATE TABLE garden.f_normal (
  event_id    bigint,
  user_id     text,
  tenant      text,
  plan_tier   text,
  api_version text,
  sdk_version text,
  platform    text,
  device_id   text,
  event       text,
  endpoint    text,
  status      int,
  latency_ms  float8,
  ts          timestamptz,
  sent_at     timestamptz,
  received_at timestamptz,
  seq         bigint,
  payload     jsonb,
  variant     text,
  ts_plain    timestamp,
  ts_epoch    bigint,
  path        text[],
  levels      int[],
  latency     interval,
  day         date
);

INSERT INTO garden.f_normal
SELECT i,
       'u' || (i % 5 + 1),
       CASE WHEN i % 5 < 3 THEN 'acme' ELSE 'globex' END,
       (ARRAY['free', 'pro', 'enterprise'])[i % 3 + 1],
       (ARRAY['v1', 'v2'])[i % 2 + 1],
       (ARRAY['1.0.0', '1.1.0', '2.0.0'])[i % 3 + 1],
       (ARRAY['ios', 'android', 'web'])[(i / 5) % 3 + 1],
       'd' || (i % 5 + 1),
       'e' || ((i / 5) % 5 + 1),
       (ARRAY['/users/' || (1000 + i) || '/keys', '/v1/charges', '/v1/charges/ch_' || md5(i::text)])[i % 3 + 1],
       (ARRAY[200, 201, 404, 500, 200, 429])[i % 6 + 1],
       10.5 * (i % 7) + 1,
       ts,
       ts + interval '2 seconds',
       ts + interval '3 seconds' + (i % 4) * interval '1 minute',
       i / 5 + 1 + (i % 11 = 0)::int,
       jsonb_build_object('plan', (ARRAY['free', 'pro'])[i % 2 + 1], 'n', i,
                          'nested', jsonb_build_object('ok', i % 2 = 0, 'tags', jsonb_build_array('a', i))),
       (ARRAY['A', 'B'])[i % 2 + 1],
       ts AT TIME ZONE 'UTC',
       extract(epoch FROM ts)::bigint,
       ARRAY['e1', 'e' || (i % 3 + 1), 'e4'],
       ARRAY[1, i % 2, (i / 2) % 2],
       (i % 9) * interval '37 seconds',
       (ts AT TIME ZONE 'UTC')::date
FROM (SELECT i, timestamptz '2024-01-01 00:00:00+00' + i * interval '47 minutes' AS ts
      FROM generate_series(0, 59) AS i) s;

CREATE TABLE garden.f_empty (LIKE garden.f_normal);

CREATE TABLE garden.f_one (LIKE garden.f_normal);
INSERT INTO garden.f_one SELECT * FROM garden.f_normal WHERE event_id = 7;

CREATE TABLE garden.f_nulls (LIKE garden.f_normal);
INSERT INTO garden.f_nulls (event_id) VALUES (NULL), (NULL), (NULL);

CREATE TABLE garden.f_equal_ts (LIKE garden.f_normal);
INSERT INTO garden.f_equal_ts
SELECT event_id, 'u1', tenant, plan_tier, api_version, sdk_version, platform, 'd1', event, endpoint,
       status, latency_ms, timestamptz '2024-01-01 12:00:00+00', timestamptz '2024-01-01 12:00:00+00',
       timestamptz '2024-01-01 12:00:00+00', 1, payload, variant, timestamp '2024-01-01 12:00:00',
       1704110400, path, levels, interval '0', date '2024-01-01'
FROM garden.f_normal WHERE event_id IN (0, 5, 10, 15, 20, 25);

CREATE TABLE garden.f_infinite (LIKE garden.f_normal);
INSERT INTO garden.f_infinite SELECT * FROM garden.f_normal WHERE event_id < 20;
INSERT INTO garden.f_infinite
SELECT event_id + 1000, user_id, tenant, plan_tier, api_version, sdk_version, platform, device_id, event, endpoint,
       status, 'Infinity'::float8,
       CASE WHEN event_id % 2 = 0 THEN timestamptz 'infinity' ELSE timestamptz '-infinity' END,
       CASE WHEN event_id % 2 = 0 THEN timestamptz 'infinity' ELSE timestamptz '-infinity' END,
       CASE WHEN event_id % 2 = 1 THEN timestamptz 'infinity' ELSE timestamptz '-infinity' END,
       9223372036854775807, payload, variant,
       CASE WHEN event_id % 2 = 0 THEN timestamp 'infinity' ELSE timestamp '-infinity' END,
       CASE WHEN event_id % 2 = 0 THEN 9223372036854775807 ELSE -9223372036854775808 END,
       path, levels, interval '178000000 years',
       CASE WHEN event_id % 2 = 0 THEN date 'infinity' ELSE date '-infinity' END
FROM garden.f_normal WHERE event_id < 10;

CREATE TABLE garden.f_extreme (LIKE garden.f_normal);
INSERT INTO garden.f_extreme
SELECT event_id, user_id, tenant, plan_tier, api_version, sdk_version, platform, device_id, event, endpoint,
       status, 1e308, ts, ts, ts, -9223372036854775808 + event_id, payload, variant,
       ts AT TIME ZONE 'UTC', extract(epoch FROM ts)::bigint, path, levels,
       interval '-178000000 years', (ts AT TIME ZONE 'UTC')::date
FROM (SELECT event_id, user_id, tenant, plan_tier, api_version, sdk_version, platform, device_id, event,
             endpoint, status, payload, variant, path, levels,
             CASE WHEN event_id % 2 = 0
                  THEN timestamptz '0001-01-01 00:00:00+00' + event_id * interval '1 hour'
                  ELSE timestamptz '294276-12-31 23:59:59+00' - event_id * interval '1 hour' END AS ts
      FROM garden.f_normal WHERE event_id < 20) s;

CREATE TABLE garden.f_huge_text (LIKE garden.f_normal);
INSERT INTO garden.f_huge_text SELECT * FROM garden.f_normal WHERE event_id IN (1, 6);
UPDATE garden.f_huge_text
SET user_id = repeat('u', 1048576), event = repeat('e', 1048576), endpoint = repeat('/x', 524288),
    device_id = repeat('d', 1048576), plan_tier = repeat('p', 1048576),
    path = ARRAY[repeat('s', 1048576), 'e1'],
    payload = jsonb_build_object(repeat('k', 100000), repeat('v', 1048576));

CREATE TABLE garden.f_nocols (x int);
INSERT INTO garden.f_nocols VALUES (1), (2);

CREATE VIEW garden.v_normal AS SELECT * FROM garden.f_normal;

CREATE TABLE garden.f_part (LIKE garden.f_normal) PARTITION BY RANGE (ts);
CREATE TABLE garden.f_part_a PARTITION OF garden.f_part FOR VALUES FROM (MINVALUE) TO ('2024-01-02 00:00:00+00');
CREATE TABLE garden.f_part_b PARTITION OF garden.f_part FOR VALUES FROM ('2024-01-02 00:00:00+00') TO (MAXVALUE);
INSERT INTO garden.f_part SELECT * FROM garden.f_normal;

ANALYZE garden.f_normal, garden.f_one, garden.f_nulls, garden.f_equal_ts, garden.f_infinite,
        garden.f_extreme, garden.f_huge_text, garden.f_nocols, garden.f_part;

-- Calls and outcomes.
CREATE TABLE garden.calls (
  id      int PRIMARY KEY,
  sig     text NOT NULL,      -- regprocedure of the function called
  form    text NOT NULL,      -- scalar, aggregate, grouped, window, srf, call ...
  is_call boolean NOT NULL,   -- a CALL statement (procedures)
  sql     text NOT NULL
);

CREATE TABLE garden.results (
  id       int PRIMARY KEY REFERENCES garden.calls,
  outcome  text NOT NULL CHECK (outcome IN ('ok', 'error', 'timeout', 'crash', 'skipped')),
  sqlstate text,
  message  text,
  detail   text,
  hint     text,
  context  text,
  result_length int,
  ms       float8
);

CREATE FUNCTION garden.try(cid int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  c garden.calls;
  r text;
  outcome text;
  st text;
  msg text;
  det text;
  hnt text;
  ctx text;
  t0 timestamptz := clock_timestamp();
BEGIN
  SELECT * INTO STRICT c FROM garden.calls WHERE id = cid;
  -- A function that keeps hitting the time limit is not given more time.
  IF (SELECT count(*) FROM garden.results x JOIN garden.calls y USING (id)
      WHERE y.sig = c.sig AND x.outcome = 'timeout') >= 3 THEN
    INSERT INTO garden.results (id, outcome) VALUES (cid, 'skipped');
    RETURN;
  END IF;
  BEGIN
    BEGIN
      IF c.is_call THEN
        EXECUTE c.sql;
      ELSE
        EXECUTE c.sql INTO r;
      END IF;
      outcome := 'ok';
      -- Undo whatever the call changed.
      RAISE SQLSTATE 'GA000';
    EXCEPTION WHEN SQLSTATE 'GA000' THEN
      NULL;
    END;
  EXCEPTION
    WHEN query_canceled THEN
      outcome := 'timeout';
      GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    WHEN OTHERS THEN
      outcome := 'error';
      GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                              det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT,
                              ctx = PG_EXCEPTION_CONTEXT;
  END;
  INSERT INTO garden.results
  VALUES (cid, outcome, st, msg, det, hnt, ctx, length(r),
          extract(epoch FROM clock_timestamp() - t0) * 1000);
END
$$;

-- Set-up calls (define_*, add_*, propose_* ... with valid arguments) are
-- committed, so that later calls naming the same metric, key or event find
-- something to work on.
CREATE FUNCTION garden.setup(q text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ' ' || left(SQLERRM, 200);
END
$$;
