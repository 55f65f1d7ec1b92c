-- apivalue install script: schema-wide set-up.
-- Part of the files concatenated into apivalue--<version>.sql (see Makefile).

\echo Use "CREATE EXTENSION apivalue" to load this file. \quit

-- Every role may use the extension's functions and views; what they can read
-- is still decided by their privileges on the events and catalog tables.
GRANT USAGE ON SCHEMA apivalue TO PUBLIC;

COMMENT ON SCHEMA apivalue IS
  'apivalue: API product analytics (funnels, journeys, time to value, retention, data quality, lineage)';

-- ---------------------------------------------------------------------------
-- Shared validation for table functions.
--
-- Table functions take a relation, column names and SQL expressions as text.
-- These helpers check them before anything runs and return the piece of SQL
-- that is safe to interpolate: a quoted identifier, or a parenthesized
-- expression (the newline before ')' ends a trailing "--" comment).
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._expression_type(rel regclass, expr text, what text DEFAULT 'expression')
RETURNS regtype
AS 'MODULE_PATHNAME', 'apivalue_expression_type'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION apivalue._expression_type(regclass, text, text) IS
  'internal: type of one SQL expression over rel, planned but never run; rejects anything that is not exactly one expression';

CREATE FUNCTION apivalue._expression(rel regclass, expr text, what text DEFAULT 'expression',
                                     expected regtype DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
-- No pinned search_path: the expression is the caller's and must resolve the
-- way it will when the calling table function runs it.
AS $$
DECLARE
  t regtype;
BEGIN
  IF rel IS NULL THEN
    RAISE EXCEPTION 'relation for % must not be NULL', what USING ERRCODE = '22004';
  END IF;
  IF expr IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = '22004';
  END IF;
  t := apivalue._expression_type(rel, expr, what);
  IF expected IS NOT NULL AND t <> expected THEN
    RAISE EXCEPTION '% must be of type %, not %', what, expected, t
      USING ERRCODE = '42804',
            DETAIL = format('The expression is: %s', expr);
  END IF;
  RETURN '(' || expr || E'\n)';
END
$$;

COMMENT ON FUNCTION apivalue._expression(regclass, text, text, regtype) IS
  'internal: validates one SQL expression over rel (optionally of an expected type) and returns it parenthesized, safe to interpolate';

CREATE FUNCTION apivalue._condition(rel regclass, expr text, what text DEFAULT 'condition')
RETURNS text
LANGUAGE sql VOLATILE PARALLEL UNSAFE
AS $$ SELECT apivalue._expression(rel, expr, what, 'boolean'::regtype) $$;

COMMENT ON FUNCTION apivalue._condition(regclass, text, text) IS
  'internal: validates a boolean SQL condition over rel and returns it parenthesized, safe to interpolate';

CREATE FUNCTION apivalue._column(rel regclass, col text, what text DEFAULT 'column',
                                 allowed regtype[] DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t regtype;
BEGIN
  IF rel IS NULL THEN
    RAISE EXCEPTION 'relation for % must not be NULL', what USING ERRCODE = '22004';
  END IF;
  IF col IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = '22004';
  END IF;
  SELECT a.atttypid::regtype INTO t
  FROM pg_attribute a
  WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'column "%" of relation % does not exist', col, rel
      USING ERRCODE = '42703',
            HINT = format('%s names a column of %s.', initcap(what), rel);
  END IF;
  IF allowed IS NOT NULL AND NOT t = ANY (allowed) THEN
    RAISE EXCEPTION '% "%" has type %, expected one of %', what, col, t, allowed
      USING ERRCODE = '42804';
  END IF;
  RETURN quote_ident(col);
END
$$;

COMMENT ON FUNCTION apivalue._column(regclass, text, text, regtype[]) IS
  'internal: checks that col is a column of rel (optionally of an allowed type) and returns it quoted';
-- apivalue install script: funnels (ClickHouse-compatible window_funnel,
-- window_funnel_times, retention, funnel_counts).
-- Part of the files concatenated into apivalue--<version>.sql (see Makefile).
-- Semantics: ../shared/clickhouse-semantics.md; C code: src/funnel.c.

-- ---------------------------------------------------------------------------
-- window_funnel / window_funnel_times: shared state and support functions.
--
-- Conditions are VARIADIC "any" (checked to be boolean at run time, 42804
-- otherwise): no array is built per row.  One transition function serves
-- every overload; it reads the argument layout from the call.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue.window_funnel_accum(internal, interval, timestamptz, VARIADIC "any")
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_window_funnel_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_accum(internal, interval, timestamptz, VARIADIC "any") IS
  'internal: window_funnel transition function';

CREATE FUNCTION apivalue.window_funnel_accum(internal, interval, timestamptz)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_window_funnel_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_accum(internal, interval, timestamptz) IS
  'internal: window_funnel transition function';

CREATE FUNCTION apivalue.window_funnel_accum(internal, interval, text, timestamptz, VARIADIC "any")
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_window_funnel_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_accum(internal, interval, text, timestamptz, VARIADIC "any") IS
  'internal: window_funnel transition function';

CREATE FUNCTION apivalue.window_funnel_accum(internal, interval, text, timestamptz)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_window_funnel_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_accum(internal, interval, text, timestamptz) IS
  'internal: window_funnel transition function';

CREATE FUNCTION apivalue.window_funnel_accum(internal, interval, timestamp, VARIADIC "any")
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_window_funnel_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_accum(internal, interval, timestamp, VARIADIC "any") IS
  'internal: window_funnel transition function';

CREATE FUNCTION apivalue.window_funnel_accum(internal, interval, timestamp)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_window_funnel_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_accum(internal, interval, timestamp) IS
  'internal: window_funnel transition function';

CREATE FUNCTION apivalue.window_funnel_accum(internal, interval, text, timestamp, VARIADIC "any")
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_window_funnel_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_accum(internal, interval, text, timestamp, VARIADIC "any") IS
  'internal: window_funnel transition function';

CREATE FUNCTION apivalue.window_funnel_accum(internal, interval, text, timestamp)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_window_funnel_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_accum(internal, interval, text, timestamp) IS
  'internal: window_funnel transition function';

CREATE FUNCTION apivalue.window_funnel_accum(internal, bigint, bigint, VARIADIC "any")
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_window_funnel_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_accum(internal, bigint, bigint, VARIADIC "any") IS
  'internal: window_funnel transition function';

CREATE FUNCTION apivalue.window_funnel_accum(internal, bigint, bigint)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_window_funnel_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_accum(internal, bigint, bigint) IS
  'internal: window_funnel transition function';

CREATE FUNCTION apivalue.window_funnel_accum(internal, bigint, text, bigint, VARIADIC "any")
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_window_funnel_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_accum(internal, bigint, text, bigint, VARIADIC "any") IS
  'internal: window_funnel transition function';

CREATE FUNCTION apivalue.window_funnel_accum(internal, bigint, text, bigint)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_window_funnel_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_accum(internal, bigint, text, bigint) IS
  'internal: window_funnel transition function';

CREATE FUNCTION apivalue.window_funnel_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_window_funnel_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_combine(internal, internal) IS
  'internal: window_funnel combine function (merges sorted event runs)';

CREATE FUNCTION apivalue.window_funnel_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_window_funnel_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_serialize(internal) IS
  'internal: window_funnel state serialization (version byte, parameters, events)';

CREATE FUNCTION apivalue.window_funnel_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_window_funnel_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_deserialize(bytea, internal) IS
  'internal: window_funnel state deserialization (checked against its size)';

CREATE FUNCTION apivalue.window_funnel_final(internal)
RETURNS integer AS 'MODULE_PATHNAME', 'apivalue_window_funnel_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_final(internal) IS
  'internal: window_funnel final function (sort once, ClickHouse chain search)';

CREATE FUNCTION apivalue.window_funnel_times_final_tz(internal)
RETURNS timestamptz[] AS 'MODULE_PATHNAME', 'apivalue_window_funnel_times_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_times_final_tz(internal) IS
  'internal: window_funnel_times final function for timestamptz time columns';

CREATE FUNCTION apivalue.window_funnel_times_final_ts(internal)
RETURNS timestamp[] AS 'MODULE_PATHNAME', 'apivalue_window_funnel_times_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_times_final_ts(internal) IS
  'internal: window_funnel_times final function for timestamp time columns';

CREATE FUNCTION apivalue.window_funnel_times_final_bigint(internal)
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_window_funnel_times_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.window_funnel_times_final_bigint(internal) IS
  'internal: window_funnel_times final function for bigint time columns';

CREATE AGGREGATE apivalue.window_funnel("window" interval, ts timestamptz, VARIADIC conditions "any") (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_final,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel(interval, timestamptz, VARIADIC "any") IS
  'ClickHouse windowFunnel: longest prefix of the conditions reached in order within the window (interval); 1 to 32 boolean conditions';

CREATE AGGREGATE apivalue.window_funnel("window" interval, ts timestamptz) (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_final,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel(interval, timestamptz) IS
  'window_funnel without conditions: always an error (at least one condition is needed); present for a clear message';

CREATE AGGREGATE apivalue.window_funnel("window" interval, modes text, ts timestamptz, VARIADIC conditions "any") (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_final,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel(interval, text, timestamptz, VARIADIC "any") IS
  'ClickHouse windowFunnel: longest prefix of the conditions reached in order within the window (interval), with comma-separated modes strict_deduplication, strict_order, strict_increase, allow_reentry; 1 to 32 boolean conditions';

CREATE AGGREGATE apivalue.window_funnel("window" interval, modes text, ts timestamptz) (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_final,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel(interval, text, timestamptz) IS
  'window_funnel without conditions: always an error (at least one condition is needed); present for a clear message';

CREATE AGGREGATE apivalue.window_funnel("window" interval, ts timestamp, VARIADIC conditions "any") (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_final,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel(interval, timestamp, VARIADIC "any") IS
  'ClickHouse windowFunnel: longest prefix of the conditions reached in order within the window (interval); 1 to 32 boolean conditions';

CREATE AGGREGATE apivalue.window_funnel("window" interval, ts timestamp) (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_final,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel(interval, timestamp) IS
  'window_funnel without conditions: always an error (at least one condition is needed); present for a clear message';

CREATE AGGREGATE apivalue.window_funnel("window" interval, modes text, ts timestamp, VARIADIC conditions "any") (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_final,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel(interval, text, timestamp, VARIADIC "any") IS
  'ClickHouse windowFunnel: longest prefix of the conditions reached in order within the window (interval), with comma-separated modes strict_deduplication, strict_order, strict_increase, allow_reentry; 1 to 32 boolean conditions';

CREATE AGGREGATE apivalue.window_funnel("window" interval, modes text, ts timestamp) (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_final,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel(interval, text, timestamp) IS
  'window_funnel without conditions: always an error (at least one condition is needed); present for a clear message';

CREATE AGGREGATE apivalue.window_funnel("window" bigint, ts bigint, VARIADIC conditions "any") (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_final,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel(bigint, bigint, VARIADIC "any") IS
  'ClickHouse windowFunnel: longest prefix of the conditions reached in order within the window (bigint (same units as ts)); 1 to 32 boolean conditions';

CREATE AGGREGATE apivalue.window_funnel("window" bigint, ts bigint) (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_final,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel(bigint, bigint) IS
  'window_funnel without conditions: always an error (at least one condition is needed); present for a clear message';

CREATE AGGREGATE apivalue.window_funnel("window" bigint, modes text, ts bigint, VARIADIC conditions "any") (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_final,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel(bigint, text, bigint, VARIADIC "any") IS
  'ClickHouse windowFunnel: longest prefix of the conditions reached in order within the window (bigint (same units as ts)), with comma-separated modes strict_deduplication, strict_order, strict_increase, allow_reentry; 1 to 32 boolean conditions';

CREATE AGGREGATE apivalue.window_funnel("window" bigint, modes text, ts bigint) (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_final,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel(bigint, text, bigint) IS
  'window_funnel without conditions: always an error (at least one condition is needed); present for a clear message';

CREATE AGGREGATE apivalue.window_funnel_times("window" interval, ts timestamptz, VARIADIC conditions "any") (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_times_final_tz,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel_times(interval, timestamptz, VARIADIC "any") IS
  'step times of the chain window_funnel reports (the first to reach its level), as timestamptz[]; cardinality = window_funnel';

CREATE AGGREGATE apivalue.window_funnel_times("window" interval, ts timestamptz) (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_times_final_tz,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel_times(interval, timestamptz) IS
  'window_funnel_times without conditions: always an error (at least one condition is needed); present for a clear message';

CREATE AGGREGATE apivalue.window_funnel_times("window" interval, modes text, ts timestamptz, VARIADIC conditions "any") (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_times_final_tz,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel_times(interval, text, timestamptz, VARIADIC "any") IS
  'step times of the chain window_funnel reports (the first to reach its level), as timestamptz[]; cardinality = window_funnel';

CREATE AGGREGATE apivalue.window_funnel_times("window" interval, modes text, ts timestamptz) (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_times_final_tz,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel_times(interval, text, timestamptz) IS
  'window_funnel_times without conditions: always an error (at least one condition is needed); present for a clear message';

CREATE AGGREGATE apivalue.window_funnel_times("window" interval, ts timestamp, VARIADIC conditions "any") (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_times_final_ts,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel_times(interval, timestamp, VARIADIC "any") IS
  'step times of the chain window_funnel reports (the first to reach its level), as timestamp[]; cardinality = window_funnel';

CREATE AGGREGATE apivalue.window_funnel_times("window" interval, ts timestamp) (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_times_final_ts,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel_times(interval, timestamp) IS
  'window_funnel_times without conditions: always an error (at least one condition is needed); present for a clear message';

CREATE AGGREGATE apivalue.window_funnel_times("window" interval, modes text, ts timestamp, VARIADIC conditions "any") (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_times_final_ts,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel_times(interval, text, timestamp, VARIADIC "any") IS
  'step times of the chain window_funnel reports (the first to reach its level), as timestamp[]; cardinality = window_funnel';

CREATE AGGREGATE apivalue.window_funnel_times("window" interval, modes text, ts timestamp) (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_times_final_ts,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel_times(interval, text, timestamp) IS
  'window_funnel_times without conditions: always an error (at least one condition is needed); present for a clear message';

CREATE AGGREGATE apivalue.window_funnel_times("window" bigint, ts bigint, VARIADIC conditions "any") (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_times_final_bigint,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel_times(bigint, bigint, VARIADIC "any") IS
  'step times of the chain window_funnel reports (the first to reach its level), as bigint[]; cardinality = window_funnel';

CREATE AGGREGATE apivalue.window_funnel_times("window" bigint, ts bigint) (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_times_final_bigint,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel_times(bigint, bigint) IS
  'window_funnel_times without conditions: always an error (at least one condition is needed); present for a clear message';

CREATE AGGREGATE apivalue.window_funnel_times("window" bigint, modes text, ts bigint, VARIADIC conditions "any") (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_times_final_bigint,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel_times(bigint, text, bigint, VARIADIC "any") IS
  'step times of the chain window_funnel reports (the first to reach its level), as bigint[]; cardinality = window_funnel';

CREATE AGGREGATE apivalue.window_funnel_times("window" bigint, modes text, ts bigint) (
  SFUNC = apivalue.window_funnel_accum, STYPE = internal, SSPACE = 320,
  FINALFUNC = apivalue.window_funnel_times_final_bigint,
  COMBINEFUNC = apivalue.window_funnel_combine,
  SERIALFUNC = apivalue.window_funnel_serialize,
  DESERIALFUNC = apivalue.window_funnel_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.window_funnel_times(bigint, text, bigint) IS
  'window_funnel_times without conditions: always an error (at least one condition is needed); present for a clear message';

-- ---------------------------------------------------------------------------
-- retention(c1, ...) -> int[]: ClickHouse's retention.  State: a bigint
-- holding the condition bitmask and the number of conditions; combined with
-- bitwise OR, so it is a concrete type Citus can aggregate partially.
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue.retention_accum(bigint, VARIADIC "any")
RETURNS bigint AS 'MODULE_PATHNAME', 'apivalue_retention_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.retention_accum(bigint, VARIADIC "any") IS
  'internal: retention transition function (condition bitmask in bits 0-31, number of conditions above)';

CREATE FUNCTION apivalue.retention_final(bigint)
RETURNS integer[] AS 'MODULE_PATHNAME', 'apivalue_retention_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.retention_final(bigint) IS
  'internal: retention final function';

CREATE AGGREGATE apivalue.retention(VARIADIC conditions "any") (
  SFUNC = apivalue.retention_accum, STYPE = bigint,
  FINALFUNC = apivalue.retention_final,
  COMBINEFUNC = pg_catalog.int8or,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.retention(VARIADIC "any") IS
  'ClickHouse retention: int[] whose element 1 is 1 when condition 1 held on some row, element k when conditions 1 and k both held (on any rows); 1 to 32 boolean conditions';

-- ---------------------------------------------------------------------------
-- funnel_counts(level, steps) -> bigint[]: element k = groups with level >= k.
-- The state is the result (bigint[]), summed element-wise to combine.
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue.funnel_counts_accum(bigint[], integer, integer)
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_funnel_counts_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.funnel_counts_accum(bigint[], integer, integer) IS
  'internal: funnel_counts transition function';

CREATE FUNCTION apivalue.funnel_counts_combine(bigint[], bigint[])
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_funnel_counts_combine'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.funnel_counts_combine(bigint[], bigint[]) IS
  'internal: funnel_counts combine function (element-wise sum)';

CREATE AGGREGATE apivalue.funnel_counts(level integer, steps integer) (
  SFUNC = apivalue.funnel_counts_accum, STYPE = bigint[],
  COMBINEFUNC = apivalue.funnel_counts_combine,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.funnel_counts(integer, integer) IS
  'funnel chart from per-group levels: bigint[] of length steps whose element k counts the groups with level >= k (NULL levels skipped)';
-- apivalue install script: sequence patterns (ClickHouse sequenceMatch,
-- sequenceCount, sequenceNextNode).
-- Part of the files concatenated into apivalue--<version>.sql (see Makefile).

-- ---------------------------------------------------------------------------
-- sequence_match / sequence_count
--
-- One transition state for both: the group's events as compact records,
-- the compiled pattern and the condition bits seen.  Conditions are passed
-- as VARIADIC "any" (checked to be boolean at run time), so no array is
-- built per row.  SSPACE (a typical group's state, in bytes) keeps the
-- planner from assuming 8 kB per group and partitioning hash aggregation.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._sequence_accum(internal, text, timestamptz, VARIADIC "any")
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_sequence_accum'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._sequence_accum(internal, text, timestamptz, VARIADIC "any") IS
  'internal: transition function of sequence_match and sequence_count (timestamptz time)';

CREATE FUNCTION apivalue._sequence_accum(internal, text, timestamp, VARIADIC "any")
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_sequence_accum'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._sequence_accum(internal, text, timestamp, VARIADIC "any") IS
  'internal: transition function of sequence_match and sequence_count (timestamp time)';

CREATE FUNCTION apivalue._sequence_accum(internal, text, bigint, VARIADIC "any")
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_sequence_accum'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._sequence_accum(internal, text, bigint, VARIADIC "any") IS
  'internal: transition function of sequence_match and sequence_count (bigint time, caller''s units)';

CREATE FUNCTION apivalue._sequence_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_sequence_combine'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._sequence_combine(internal, internal) IS
  'internal: combine function of sequence_match and sequence_count';

CREATE FUNCTION apivalue._sequence_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_sequence_serialize'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._sequence_serialize(internal) IS
  'internal: serialize function of sequence_match and sequence_count';

CREATE FUNCTION apivalue._sequence_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_sequence_deserialize'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._sequence_deserialize(bytea, internal) IS
  'internal: deserialize function of sequence_match and sequence_count';

CREATE FUNCTION apivalue._sequence_match_final(internal)
RETURNS boolean AS 'MODULE_PATHNAME', 'apivalue_sequence_match_final'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._sequence_match_final(internal) IS
  'internal: final function of sequence_match';

CREATE FUNCTION apivalue._sequence_count_final(internal)
RETURNS bigint AS 'MODULE_PATHNAME', 'apivalue_sequence_count_final'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._sequence_count_final(internal) IS
  'internal: final function of sequence_count';

CREATE AGGREGATE apivalue.sequence_match(pattern text, ts timestamptz, VARIADIC conditions "any") (
  SFUNC = apivalue._sequence_accum, STYPE = internal, SSPACE = 400,
  FINALFUNC = apivalue._sequence_match_final,
  COMBINEFUNC = apivalue._sequence_combine,
  SERIALFUNC = apivalue._sequence_serialize, DESERIALFUNC = apivalue._sequence_deserialize,
  PARALLEL = SAFE);
CREATE AGGREGATE apivalue.sequence_match(pattern text, ts timestamp, VARIADIC conditions "any") (
  SFUNC = apivalue._sequence_accum, STYPE = internal, SSPACE = 400,
  FINALFUNC = apivalue._sequence_match_final,
  COMBINEFUNC = apivalue._sequence_combine,
  SERIALFUNC = apivalue._sequence_serialize, DESERIALFUNC = apivalue._sequence_deserialize,
  PARALLEL = SAFE);
CREATE AGGREGATE apivalue.sequence_match(pattern text, ts bigint, VARIADIC conditions "any") (
  SFUNC = apivalue._sequence_accum, STYPE = internal, SSPACE = 400,
  FINALFUNC = apivalue._sequence_match_final,
  COMBINEFUNC = apivalue._sequence_combine,
  SERIALFUNC = apivalue._sequence_serialize, DESERIALFUNC = apivalue._sequence_deserialize,
  PARALLEL = SAFE);

COMMENT ON AGGREGATE apivalue.sequence_match(text, timestamptz, VARIADIC "any") IS
  'ClickHouse sequenceMatch: true when the events (rows matching some condition, ordered by time then lowest condition) match the pattern';
COMMENT ON AGGREGATE apivalue.sequence_match(text, timestamp, VARIADIC "any") IS
  'ClickHouse sequenceMatch over timestamp time; see sequence_match(text, timestamptz, ...)';
COMMENT ON AGGREGATE apivalue.sequence_match(text, bigint, VARIADIC "any") IS
  'ClickHouse sequenceMatch over bigint time; (?t...) conditions compare in the caller''s units';

CREATE AGGREGATE apivalue.sequence_count(pattern text, ts timestamptz, VARIADIC conditions "any") (
  SFUNC = apivalue._sequence_accum, STYPE = internal, SSPACE = 400,
  FINALFUNC = apivalue._sequence_count_final,
  COMBINEFUNC = apivalue._sequence_combine,
  SERIALFUNC = apivalue._sequence_serialize, DESERIALFUNC = apivalue._sequence_deserialize,
  PARALLEL = SAFE);
CREATE AGGREGATE apivalue.sequence_count(pattern text, ts timestamp, VARIADIC conditions "any") (
  SFUNC = apivalue._sequence_accum, STYPE = internal, SSPACE = 400,
  FINALFUNC = apivalue._sequence_count_final,
  COMBINEFUNC = apivalue._sequence_combine,
  SERIALFUNC = apivalue._sequence_serialize, DESERIALFUNC = apivalue._sequence_deserialize,
  PARALLEL = SAFE);
CREATE AGGREGATE apivalue.sequence_count(pattern text, ts bigint, VARIADIC conditions "any") (
  SFUNC = apivalue._sequence_accum, STYPE = internal, SSPACE = 400,
  FINALFUNC = apivalue._sequence_count_final,
  COMBINEFUNC = apivalue._sequence_combine,
  SERIALFUNC = apivalue._sequence_serialize, DESERIALFUNC = apivalue._sequence_deserialize,
  PARALLEL = SAFE);

COMMENT ON AGGREGATE apivalue.sequence_count(text, timestamptz, VARIADIC "any") IS
  'ClickHouse sequenceCount: number of non-overlapping matches of the pattern, left to right';
COMMENT ON AGGREGATE apivalue.sequence_count(text, timestamp, VARIADIC "any") IS
  'ClickHouse sequenceCount over timestamp time; see sequence_count(text, timestamptz, ...)';
COMMENT ON AGGREGATE apivalue.sequence_count(text, bigint, VARIADIC "any") IS
  'ClickHouse sequenceCount over bigint time; (?t...) conditions compare in the caller''s units';

-- ---------------------------------------------------------------------------
-- sequence_next_node
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._next_node_accum(internal, text, text, timestamptz, text, boolean, VARIADIC "any")
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_next_node_accum'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._next_node_accum(internal, text, text, timestamptz, text, boolean, VARIADIC "any") IS
  'internal: transition function of sequence_next_node (timestamptz time)';

CREATE FUNCTION apivalue._next_node_accum(internal, text, text, timestamp, text, boolean, VARIADIC "any")
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_next_node_accum'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._next_node_accum(internal, text, text, timestamp, text, boolean, VARIADIC "any") IS
  'internal: transition function of sequence_next_node (timestamp time)';

CREATE FUNCTION apivalue._next_node_accum(internal, text, text, bigint, text, boolean, VARIADIC "any")
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_next_node_accum'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._next_node_accum(internal, text, text, bigint, text, boolean, VARIADIC "any") IS
  'internal: transition function of sequence_next_node (bigint time)';

CREATE FUNCTION apivalue._next_node_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_next_node_combine'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._next_node_combine(internal, internal) IS
  'internal: combine function of sequence_next_node';

CREATE FUNCTION apivalue._next_node_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_next_node_serialize'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._next_node_serialize(internal) IS
  'internal: serialize function of sequence_next_node';

CREATE FUNCTION apivalue._next_node_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_next_node_deserialize'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._next_node_deserialize(bytea, internal) IS
  'internal: deserialize function of sequence_next_node';

CREATE FUNCTION apivalue._next_node_final(internal)
RETURNS text AS 'MODULE_PATHNAME', 'apivalue_next_node_final'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._next_node_final(internal) IS
  'internal: final function of sequence_next_node';

CREATE AGGREGATE apivalue.sequence_next_node(direction text, base text, ts timestamptz, value text,
                                             base_condition boolean, VARIADIC events "any") (
  SFUNC = apivalue._next_node_accum, STYPE = internal, SSPACE = 800,
  FINALFUNC = apivalue._next_node_final,
  COMBINEFUNC = apivalue._next_node_combine,
  SERIALFUNC = apivalue._next_node_serialize, DESERIALFUNC = apivalue._next_node_deserialize,
  PARALLEL = SAFE);
CREATE AGGREGATE apivalue.sequence_next_node(direction text, base text, ts timestamp, value text,
                                             base_condition boolean, VARIADIC events "any") (
  SFUNC = apivalue._next_node_accum, STYPE = internal, SSPACE = 800,
  FINALFUNC = apivalue._next_node_final,
  COMBINEFUNC = apivalue._next_node_combine,
  SERIALFUNC = apivalue._next_node_serialize, DESERIALFUNC = apivalue._next_node_deserialize,
  PARALLEL = SAFE);
CREATE AGGREGATE apivalue.sequence_next_node(direction text, base text, ts bigint, value text,
                                             base_condition boolean, VARIADIC events "any") (
  SFUNC = apivalue._next_node_accum, STYPE = internal, SSPACE = 800,
  FINALFUNC = apivalue._next_node_final,
  COMBINEFUNC = apivalue._next_node_combine,
  SERIALFUNC = apivalue._next_node_serialize, DESERIALFUNC = apivalue._next_node_deserialize,
  PARALLEL = SAFE);

COMMENT ON AGGREGATE apivalue.sequence_next_node(text, text, timestamptz, text, boolean, VARIADIC "any") IS
  'ClickHouse sequenceNextNode: the value of the event after (forward) or before (backward) the chain e1, e2, ... anchored at the base; NULL when there is none';
COMMENT ON AGGREGATE apivalue.sequence_next_node(text, text, timestamp, text, boolean, VARIADIC "any") IS
  'ClickHouse sequenceNextNode over timestamp time; see sequence_next_node(text, text, timestamptz, ...)';
COMMENT ON AGGREGATE apivalue.sequence_next_node(text, text, bigint, text, boolean, VARIADIC "any") IS
  'ClickHouse sequenceNextNode over bigint time; see sequence_next_node(text, text, timestamptz, ...)';
-- apivalue install script: journey paths and sessions (SPEC.md section 3).
-- Part of the files concatenated into apivalue--<version>.sql (see Makefile).

-- ---------------------------------------------------------------------------
-- journey_path aggregates.
--
-- One C state for all of them: the group's (ts, step id) records plus the
-- interned step labels.  journey_path* return the steps (text[]),
-- journey_path*_times the time each of those steps started, so a query that
-- asks for both shares one transition state.  Each comes for timestamptz
-- and timestamp, with and without max_steps (default 20).
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._journey_path_accum(internal, timestamptz, text)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_path_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_accum(internal, timestamptz, text) IS
  'internal: transition function of journey_path and journey_path_times';

CREATE FUNCTION apivalue._journey_path_accum(internal, timestamptz, text, integer)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_path_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_accum(internal, timestamptz, text, integer) IS
  'internal: transition function of journey_path and journey_path_times';

CREATE FUNCTION apivalue._journey_path_accum(internal, timestamp, text)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_path_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_accum(internal, timestamp, text) IS
  'internal: transition function of journey_path and journey_path_times';

CREATE FUNCTION apivalue._journey_path_accum(internal, timestamp, text, integer)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_path_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_accum(internal, timestamp, text, integer) IS
  'internal: transition function of journey_path and journey_path_times';

CREATE FUNCTION apivalue._journey_path_from_accum(internal, timestamptz, text, text)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_path_from_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_from_accum(internal, timestamptz, text, text) IS
  'internal: transition function of journey_path_from and journey_path_from_times';

CREATE FUNCTION apivalue._journey_path_from_accum(internal, timestamptz, text, text, integer)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_path_from_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_from_accum(internal, timestamptz, text, text, integer) IS
  'internal: transition function of journey_path_from and journey_path_from_times';

CREATE FUNCTION apivalue._journey_path_from_accum(internal, timestamp, text, text)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_path_from_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_from_accum(internal, timestamp, text, text) IS
  'internal: transition function of journey_path_from and journey_path_from_times';

CREATE FUNCTION apivalue._journey_path_from_accum(internal, timestamp, text, text, integer)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_path_from_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_from_accum(internal, timestamp, text, text, integer) IS
  'internal: transition function of journey_path_from and journey_path_from_times';

CREATE FUNCTION apivalue._journey_path_to_accum(internal, timestamptz, text, text)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_path_to_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_to_accum(internal, timestamptz, text, text) IS
  'internal: transition function of journey_path_to and journey_path_to_times';

CREATE FUNCTION apivalue._journey_path_to_accum(internal, timestamptz, text, text, integer)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_path_to_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_to_accum(internal, timestamptz, text, text, integer) IS
  'internal: transition function of journey_path_to and journey_path_to_times';

CREATE FUNCTION apivalue._journey_path_to_accum(internal, timestamp, text, text)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_path_to_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_to_accum(internal, timestamp, text, text) IS
  'internal: transition function of journey_path_to and journey_path_to_times';

CREATE FUNCTION apivalue._journey_path_to_accum(internal, timestamp, text, text, integer)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_path_to_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_to_accum(internal, timestamp, text, text, integer) IS
  'internal: transition function of journey_path_to and journey_path_to_times';

CREATE FUNCTION apivalue._journey_path_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_path_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_combine(internal, internal) IS
  'internal: combines two journey_path states (parallel and partial aggregation)';

CREATE FUNCTION apivalue._journey_path_serialize(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'apivalue_journey_path_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_serialize(internal) IS
  'internal: serializes a journey_path state (versioned binary form)';

CREATE FUNCTION apivalue._journey_path_deserialize(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_path_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_deserialize(bytea, internal) IS
  'internal: reads a serialized journey_path state, checking every count against the data';

CREATE FUNCTION apivalue._journey_path_final(internal)
RETURNS text[]
AS 'MODULE_PATHNAME', 'apivalue_journey_path_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_final(internal) IS
  'internal: final function of journey_path: the collapsed, cut path';

CREATE FUNCTION apivalue._journey_path_times_final_tz(internal)
RETURNS timestamptz[]
AS 'MODULE_PATHNAME', 'apivalue_journey_path_times_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_times_final_tz(internal) IS
  'internal: final function of journey_path_times (timestamptz): when each step of the path started';

CREATE FUNCTION apivalue._journey_path_times_final_ts(internal)
RETURNS timestamp[]
AS 'MODULE_PATHNAME', 'apivalue_journey_path_times_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_path_times_final_ts(internal) IS
  'internal: final function of journey_path_times (timestamp): when each step of the path started';

CREATE AGGREGATE apivalue.journey_path(ts timestamptz, step text) (
  SFUNC = apivalue._journey_path_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_final,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path(timestamptz, text) IS
  'the steps of the group in time order (ties by step text), consecutive repeats collapsed, cut to the first max_steps (default 20)';

CREATE AGGREGATE apivalue.journey_path(ts timestamptz, step text, max_steps integer) (
  SFUNC = apivalue._journey_path_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_final,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path(timestamptz, text, integer) IS
  'the steps of the group in time order (ties by step text), consecutive repeats collapsed, cut to the first max_steps (default 20)';

CREATE AGGREGATE apivalue.journey_path(ts timestamp, step text) (
  SFUNC = apivalue._journey_path_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_final,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path(timestamp, text) IS
  'the steps of the group in time order (ties by step text), consecutive repeats collapsed, cut to the first max_steps (default 20)';

CREATE AGGREGATE apivalue.journey_path(ts timestamp, step text, max_steps integer) (
  SFUNC = apivalue._journey_path_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_final,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path(timestamp, text, integer) IS
  'the steps of the group in time order (ties by step text), consecutive repeats collapsed, cut to the first max_steps (default 20)';

CREATE AGGREGATE apivalue.journey_path_times(ts timestamptz, step text) (
  SFUNC = apivalue._journey_path_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_times_final_tz,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_times(timestamptz, text) IS
  'when each step of journey_path (same arguments) started: the time of the first event of each collapsed run';

CREATE AGGREGATE apivalue.journey_path_times(ts timestamptz, step text, max_steps integer) (
  SFUNC = apivalue._journey_path_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_times_final_tz,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_times(timestamptz, text, integer) IS
  'when each step of journey_path (same arguments) started: the time of the first event of each collapsed run';

CREATE AGGREGATE apivalue.journey_path_times(ts timestamp, step text) (
  SFUNC = apivalue._journey_path_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_times_final_ts,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_times(timestamp, text) IS
  'when each step of journey_path (same arguments) started: the time of the first event of each collapsed run';

CREATE AGGREGATE apivalue.journey_path_times(ts timestamp, step text, max_steps integer) (
  SFUNC = apivalue._journey_path_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_times_final_ts,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_times(timestamp, text, integer) IS
  'when each step of journey_path (same arguments) started: the time of the first event of each collapsed run';

CREATE AGGREGATE apivalue.journey_path_from(ts timestamptz, step text, start_step text) (
  SFUNC = apivalue._journey_path_from_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_final,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_from(timestamptz, text, text) IS
  'the path from the first occurrence of start_step: steps in time order (ties by step text), consecutive repeats collapsed, the first max_steps (default 20); NULL when start_step never occurs';

CREATE AGGREGATE apivalue.journey_path_from(ts timestamptz, step text, start_step text, max_steps integer) (
  SFUNC = apivalue._journey_path_from_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_final,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_from(timestamptz, text, text, integer) IS
  'the path from the first occurrence of start_step: steps in time order (ties by step text), consecutive repeats collapsed, the first max_steps (default 20); NULL when start_step never occurs';

CREATE AGGREGATE apivalue.journey_path_from(ts timestamp, step text, start_step text) (
  SFUNC = apivalue._journey_path_from_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_final,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_from(timestamp, text, text) IS
  'the path from the first occurrence of start_step: steps in time order (ties by step text), consecutive repeats collapsed, the first max_steps (default 20); NULL when start_step never occurs';

CREATE AGGREGATE apivalue.journey_path_from(ts timestamp, step text, start_step text, max_steps integer) (
  SFUNC = apivalue._journey_path_from_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_final,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_from(timestamp, text, text, integer) IS
  'the path from the first occurrence of start_step: steps in time order (ties by step text), consecutive repeats collapsed, the first max_steps (default 20); NULL when start_step never occurs';

CREATE AGGREGATE apivalue.journey_path_from_times(ts timestamptz, step text, start_step text) (
  SFUNC = apivalue._journey_path_from_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_times_final_tz,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_from_times(timestamptz, text, text) IS
  'when each step of journey_path_from (same arguments) started: the time of the first event of each collapsed run';

CREATE AGGREGATE apivalue.journey_path_from_times(ts timestamptz, step text, start_step text, max_steps integer) (
  SFUNC = apivalue._journey_path_from_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_times_final_tz,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_from_times(timestamptz, text, text, integer) IS
  'when each step of journey_path_from (same arguments) started: the time of the first event of each collapsed run';

CREATE AGGREGATE apivalue.journey_path_from_times(ts timestamp, step text, start_step text) (
  SFUNC = apivalue._journey_path_from_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_times_final_ts,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_from_times(timestamp, text, text) IS
  'when each step of journey_path_from (same arguments) started: the time of the first event of each collapsed run';

CREATE AGGREGATE apivalue.journey_path_from_times(ts timestamp, step text, start_step text, max_steps integer) (
  SFUNC = apivalue._journey_path_from_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_times_final_ts,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_from_times(timestamp, text, text, integer) IS
  'when each step of journey_path_from (same arguments) started: the time of the first event of each collapsed run';

CREATE AGGREGATE apivalue.journey_path_to(ts timestamptz, step text, end_step text) (
  SFUNC = apivalue._journey_path_to_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_final,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_to(timestamptz, text, text) IS
  'the path up to the last occurrence of end_step: steps in time order (ties by step text), consecutive repeats collapsed, the last max_steps (default 20) ending with end_step; NULL when end_step never occurs';

CREATE AGGREGATE apivalue.journey_path_to(ts timestamptz, step text, end_step text, max_steps integer) (
  SFUNC = apivalue._journey_path_to_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_final,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_to(timestamptz, text, text, integer) IS
  'the path up to the last occurrence of end_step: steps in time order (ties by step text), consecutive repeats collapsed, the last max_steps (default 20) ending with end_step; NULL when end_step never occurs';

CREATE AGGREGATE apivalue.journey_path_to(ts timestamp, step text, end_step text) (
  SFUNC = apivalue._journey_path_to_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_final,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_to(timestamp, text, text) IS
  'the path up to the last occurrence of end_step: steps in time order (ties by step text), consecutive repeats collapsed, the last max_steps (default 20) ending with end_step; NULL when end_step never occurs';

CREATE AGGREGATE apivalue.journey_path_to(ts timestamp, step text, end_step text, max_steps integer) (
  SFUNC = apivalue._journey_path_to_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_final,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_to(timestamp, text, text, integer) IS
  'the path up to the last occurrence of end_step: steps in time order (ties by step text), consecutive repeats collapsed, the last max_steps (default 20) ending with end_step; NULL when end_step never occurs';

CREATE AGGREGATE apivalue.journey_path_to_times(ts timestamptz, step text, end_step text) (
  SFUNC = apivalue._journey_path_to_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_times_final_tz,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_to_times(timestamptz, text, text) IS
  'when each step of journey_path_to (same arguments) started: the time of the first event of each collapsed run';

CREATE AGGREGATE apivalue.journey_path_to_times(ts timestamptz, step text, end_step text, max_steps integer) (
  SFUNC = apivalue._journey_path_to_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_times_final_tz,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_to_times(timestamptz, text, text, integer) IS
  'when each step of journey_path_to (same arguments) started: the time of the first event of each collapsed run';

CREATE AGGREGATE apivalue.journey_path_to_times(ts timestamp, step text, end_step text) (
  SFUNC = apivalue._journey_path_to_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_times_final_ts,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_to_times(timestamp, text, text) IS
  'when each step of journey_path_to (same arguments) started: the time of the first event of each collapsed run';

CREATE AGGREGATE apivalue.journey_path_to_times(ts timestamp, step text, end_step text, max_steps integer) (
  SFUNC = apivalue._journey_path_to_accum,
  STYPE = internal,
  SSPACE = 256,
  FINALFUNC = apivalue._journey_path_times_final_ts,
  COMBINEFUNC = apivalue._journey_path_combine,
  SERIALFUNC = apivalue._journey_path_serialize,
  DESERIALFUNC = apivalue._journey_path_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.journey_path_to_times(timestamp, text, text, integer) IS
  'when each step of journey_path_to (same arguments) started: the time of the first event of each collapsed run';
-- ---------------------------------------------------------------------------
-- Sessions, transitions, normalization.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue.session_number(ts timestamptz, gap interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'apivalue_session_number'
LANGUAGE C IMMUTABLE WINDOW PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.session_number(timestamptz, interval) IS
  'window function, OVER (PARTITION BY user ORDER BY ts): session number (1, 2, ...), a new session when ts is more than gap after the previous non-NULL ts; NULL for NULL ts';

CREATE FUNCTION apivalue.session_number(ts timestamp, gap interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'apivalue_session_number'
LANGUAGE C IMMUTABLE WINDOW PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.session_number(timestamp, interval) IS
  'window function, OVER (PARTITION BY user ORDER BY ts): session number (1, 2, ...), a new session when ts is more than gap after the previous non-NULL ts; NULL for NULL ts';

CREATE FUNCTION apivalue.path_transitions(path text[],
                                          OUT depth integer, OUT from_step text, OUT to_step text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'apivalue_path_transitions'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
ROWS 10;

COMMENT ON FUNCTION apivalue.path_transitions(text[]) IS
  'one row per pair of neighbouring steps of a path: (depth, from_step, to_step), depth 1 for path[1] -> path[2]';

CREATE FUNCTION apivalue.normalize_step(label text)
RETURNS text
AS 'MODULE_PATHNAME', 'apivalue_normalize_step'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.normalize_step(text) IS
  'step label normalized with ICU: NFKC case folding, white space trimmed and collapsed, id-like path segments (integers, UUIDs, long hex and digit-rich tokens) replaced by {id}';

-- ---------------------------------------------------------------------------
-- journey_flows: the edges of a Sankey diagram.
--
-- Paths (per user, or per user session) of up to max_depth + 1 steps, from
-- journey_path / journey_path_from; their steps and start times come from
-- one shared aggregate state.  Rare edges are folded depth by depth: an edge
-- (depth d, from -> to) taken by fewer than min_users paths has its target
-- relabelled 'other' in those paths, so the next depth starts from 'other'
-- and every node's inflow equals its outflow.  One CTE per depth, since the
-- labels of depth d + 1 depend on the counts at depth d.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue.journey_flows(
    events regclass,
    user_column text,
    time_column text,
    step_column text,
    start_step text DEFAULT NULL,
    max_depth integer DEFAULT 5,
    session_gap interval DEFAULT NULL,
    min_users integer DEFAULT 1,
    normalize_steps boolean DEFAULT false)
RETURNS TABLE (depth integer, from_step text, to_step text, users bigint,
               median_time interval, from_users bigint, dropped_after bigint,
               dropped_share double precision)
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  u text;
  t text;
  s text;
  step_expr text;
  anchor text := start_step;
  agg text;
  q text;
  k integer;
BEGIN
  IF max_depth IS NULL OR max_depth < 1 OR max_depth > 50 THEN
    RAISE EXCEPTION 'max_depth must be between 1 and 50, not %', coalesce(max_depth::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF min_users IS NULL OR min_users < 1 THEN
    RAISE EXCEPTION 'min_users must be at least 1, not %', coalesce(min_users::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF session_gap < interval '0' THEN
    RAISE EXCEPTION 'session_gap must not be negative, not "%"', session_gap
      USING ERRCODE = '22023';
  END IF;
  IF normalize_steps IS NULL THEN
    RAISE EXCEPTION 'normalize_steps must not be NULL' USING ERRCODE = '22004';
  END IF;

  u := apivalue._column(events, user_column, 'user column');
  t := apivalue._column(events, time_column, 'time column', '{timestamptz,timestamp}');
  s := apivalue._column(events, step_column, 'step column', '{text,character varying}');
  step_expr := format(CASE WHEN normalize_steps THEN 'apivalue.normalize_step(%s::text)' ELSE '%s::text' END, s);
  IF normalize_steps AND anchor IS NOT NULL THEN
    anchor := apivalue.normalize_step(anchor);
  END IF;
  agg := CASE WHEN anchor IS NULL THEN 'apivalue.journey_path%1$s(t, s, $2 + 1)'
              ELSE 'apivalue.journey_path_from%1$s(t, s, $1, $2 + 1)' END;

  q := format($q$
    WITH ev AS (
      SELECT %1$s AS u, %2$s AS t, %3$s AS s%4$s
      FROM %5$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL AND %3$s IS NOT NULL),
    p AS (
      SELECT %6$s AS steps, %7$s AS times FROM ev GROUP BY u%8$s),
    l0 AS (
      SELECT p.steps, p.times, p.steps[1:1] AS labs FROM p WHERE p.steps IS NOT NULL)$q$,
    u, t, step_expr,
    CASE WHEN session_gap IS NULL THEN ''
         ELSE format(', apivalue.session_number(%s, $3) OVER (PARTITION BY %s ORDER BY %s) AS sess', t, u, t) END,
    events,
    format(agg, ''), format(agg, '_times'),
    CASE WHEN session_gap IS NULL THEN '' ELSE ', sess' END);

  FOR k IN 1 .. max_depth LOOP
    q := q || format($q$,
    l%1$s AS (
      SELECT x.steps, x.times,
             x.labs || CASE WHEN c.n < $4 THEN 'other' ELSE x.steps[%2$s] END AS labs
      FROM l%3$s x
      LEFT JOIN (SELECT y.labs[%1$s] AS f, y.steps[%2$s] AS tt, count(*) AS n
                 FROM l%3$s y WHERE cardinality(y.steps) >= %2$s GROUP BY 1, 2) c
        ON c.f = x.labs[%1$s] AND c.tt = x.steps[%2$s])$q$, k, k + 1, k - 1);
  END LOOP;

  q := q || format($q$,
    e AS (
      SELECT d, l.labs[d] AS f, l.labs[d + 1] AS tt, l.times[d + 1] - l.times[d] AS dt
      FROM l%1$s l, generate_series(1, least(cardinality(l.steps), $2)) AS d),
    g AS (
      SELECT e.d, e.f, e.tt, count(*) AS n,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY e.dt) AS med
      FROM e GROUP BY e.d, e.f, e.tt)
    SELECT g.d::integer, g.f, g.tt, g.n, g.med,
           (sum(g.n) OVER w)::bigint,
           coalesce(sum(g.n) FILTER (WHERE g.tt IS NULL) OVER w, 0)::bigint,
           coalesce(sum(g.n) FILTER (WHERE g.tt IS NULL) OVER w, 0)::double precision
             / (sum(g.n) OVER w)::double precision
    FROM g
    WINDOW w AS (PARTITION BY g.d, g.f)
    ORDER BY g.d, g.n DESC, g.f, g.tt NULLS LAST$q$, max_depth);

  RETURN QUERY EXECUTE q USING anchor, max_depth, session_gap, min_users;
END
$fn$;

COMMENT ON FUNCTION apivalue.journey_flows(regclass, text, text, text, text, integer, interval, integer, boolean) IS
  'Sankey edges of users'' paths: per depth, from_step -> to_step (NULL = dropped off), paths taking it, median time between the two steps, paths through from_step and how many of them stopped there; rare edges folded into ''other''';
-- apivalue install script: calendar periods through ICU (src/calendar.c).

CREATE FUNCTION apivalue.period_start(ts timestamptz, period text, time_zone text,
                                      locale text DEFAULT NULL)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'apivalue_period_start'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.period_start(timestamptz, text, text, text) IS
  'first instant of the hour, day, week, month, quarter or year holding ts, cut in time_zone; weeks start on the locale''s first day (ICU), ISO Monday when locale is NULL';

CREATE FUNCTION apivalue.period_index(ts timestamptz, period text, time_zone text,
                                      locale text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'apivalue_period_index'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.period_index(timestamptz, text, text, text) IS
  'number of the period holding ts; consecutive periods have consecutive numbers, so a difference counts periods';

CREATE FUNCTION apivalue.period_index_start(index bigint, period text, time_zone text,
                                            locale text DEFAULT NULL)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'apivalue_period_index_start'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.period_index_start(bigint, text, text, text) IS
  'first instant of the period numbered index (inverse of period_index)';

CREATE FUNCTION apivalue.week_first_day(locale text)
RETURNS int
AS 'MODULE_PATHNAME', 'apivalue_period_first_day'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.week_first_day(text) IS
  'ISO number (1 = Monday ... 7 = Sunday) of the day weeks start on in the locale, per ICU; 1 for NULL';
-- apivalue install script: time to first value (src/ttfv.c, src/activity.c).

CREATE FUNCTION apivalue._ttfv_accum(internal, timestamptz, boolean, boolean)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_time_to_first_value_accum'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION apivalue._ttfv_accum(internal, timestamptz, boolean, boolean, interval)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_time_to_first_value_accum'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION apivalue._ttfv_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_time_to_first_value_combine'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION apivalue._ttfv_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_time_to_first_value_serialize'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue._ttfv_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_time_to_first_value_deserialize'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue._ttfv_final(internal)
RETURNS interval AS 'MODULE_PATHNAME', 'apivalue_time_to_first_value_final'
LANGUAGE C PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._ttfv_accum(internal, timestamptz, boolean, boolean) IS 'internal: time_to_first_value transition';
COMMENT ON FUNCTION apivalue._ttfv_accum(internal, timestamptz, boolean, boolean, interval) IS 'internal: time_to_first_value transition';
COMMENT ON FUNCTION apivalue._ttfv_combine(internal, internal) IS 'internal: time_to_first_value combine';
COMMENT ON FUNCTION apivalue._ttfv_serialize(internal) IS 'internal: time_to_first_value serialize';
COMMENT ON FUNCTION apivalue._ttfv_deserialize(bytea, internal) IS 'internal: time_to_first_value deserialize';
COMMENT ON FUNCTION apivalue._ttfv_final(internal) IS 'internal: time_to_first_value final';

CREATE AGGREGATE apivalue.time_to_first_value(ts timestamptz, is_start boolean, is_value boolean) (
  SFUNC = apivalue._ttfv_accum, STYPE = internal,
  COMBINEFUNC = apivalue._ttfv_combine,
  SERIALFUNC = apivalue._ttfv_serialize, DESERIALFUNC = apivalue._ttfv_deserialize,
  FINALFUNC = apivalue._ttfv_final,
  PARALLEL = SAFE
);
CREATE AGGREGATE apivalue.time_to_first_value(ts timestamptz, is_start boolean, is_value boolean,
                                              within interval) (
  SFUNC = apivalue._ttfv_accum, STYPE = internal,
  COMBINEFUNC = apivalue._ttfv_combine,
  SERIALFUNC = apivalue._ttfv_serialize, DESERIALFUNC = apivalue._ttfv_deserialize,
  FINALFUNC = apivalue._ttfv_final,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.time_to_first_value(timestamptz, boolean, boolean) IS
  'time from the first start event to the first value event at or after it; NULL when value never came';
COMMENT ON AGGREGATE apivalue.time_to_first_value(timestamptz, boolean, boolean, interval) IS
  'time from the first start event to the first value event at or after it; NULL when value never came or came later than within';

-- value_at_first: the value on the earliest row where cond holds.
CREATE FUNCTION apivalue._value_at_first_accum(bytea, timestamptz, boolean, text)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_value_at_first_accum'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION apivalue._value_at_first_combine(bytea, bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_value_at_first_combine'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION apivalue._value_at_first_final(bytea)
RETURNS text AS 'MODULE_PATHNAME', 'apivalue_value_at_first_final'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._value_at_first_accum(bytea, timestamptz, boolean, text) IS 'internal: value_at_first transition';
COMMENT ON FUNCTION apivalue._value_at_first_combine(bytea, bytea) IS 'internal: value_at_first combine';
COMMENT ON FUNCTION apivalue._value_at_first_final(bytea) IS 'internal: value_at_first final';

CREATE AGGREGATE apivalue.value_at_first(ts timestamptz, cond boolean, value text) (
  SFUNC = apivalue._value_at_first_accum, STYPE = bytea,
  COMBINEFUNC = apivalue._value_at_first_combine,
  FINALFUNC = apivalue._value_at_first_final,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE apivalue.value_at_first(timestamptz, boolean, text) IS
  'value on the earliest row where cond holds (ties: smallest value in byte order, NULL last), e.g. a user''s segment at their first event';

-- ---------------------------------------------------------------------------
-- ttfv_report: per cohort period and segment, activation and time to value.
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue.ttfv_report(
  events regclass, user_column text, time_column text,
  start_condition text, value_condition text,
  within interval DEFAULT NULL,
  period text DEFAULT 'week',
  segment_column text DEFAULT NULL,
  time_zone text DEFAULT 'UTC',
  locale text DEFAULT NULL,
  since timestamptz DEFAULT NULL,
  until timestamptz DEFAULT NULL,
  timestamp_check text DEFAULT NULL)
RETURNS TABLE (segment text, cohort_start timestamptz, users_started bigint,
               users_reached bigint, activation_rate float8,
               p50 interval, p75 interval, p90 interval, excluded_users bigint,
               km_median interval)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  t text := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  s text := apivalue._condition(events, start_condition, 'start condition');
  v text := apivalue._condition(events, value_condition, 'value condition');
  g text := 'NULL::text';
  bad text := 'false';
  w text := '';
  q text;
BEGIN
  IF segment_column IS NOT NULL THEN
    g := apivalue._column(events, segment_column, 'segment column') || '::text';
  END IF;
  IF timestamp_check IS NOT NULL THEN
    bad := format('(%s IS NOT TRUE)', apivalue._condition(events, timestamp_check, 'timestamp check'));
  END IF;
  IF within < interval '0' THEN
    RAISE EXCEPTION 'within must not be negative, got %', within
      USING ERRCODE = '22023', HINT = 'Pass NULL for no limit.';
  END IF;
  IF period IS NULL OR time_zone IS NULL THEN
    RAISE EXCEPTION 'period and time_zone must not be NULL' USING ERRCODE = '22004';
  END IF;
  -- unknown period, zone or locale: fail before scanning
  PERFORM apivalue.period_start(now(), period, time_zone, locale);
  IF since IS NOT NULL THEN w := w || format(' AND %s >= $4', t); END IF;
  IF until IS NOT NULL THEN w := w || format(' AND %s < $5', t); END IF;

  q := format($q$
    WITH e AS (
      SELECT %1$s AS u, %2$s AS ts, %3$s IS TRUE AS s, %4$s IS TRUE AS v,
             %5$s AS g, %6$s AS bad
      FROM %7$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL %8$s
    ), pu AS (
      SELECT min(ts) FILTER (WHERE s) AS first_start,
             apivalue.time_to_first_value(ts, s, v, $1) AS ttfv,
             %9$s AS g,
             %10$s AS bad,
             max(ts) AS last_ts
      FROM e
      GROUP BY u
    ), ao AS (
      -- users without value are censored at the latest event time
      SELECT max(last_ts) AS as_of FROM pu
    )
    SELECT g, apivalue.period_start(first_start, $2, $3, $6) AS cohort_start,
           count(*) FILTER (WHERE NOT bad),
           count(ttfv) FILTER (WHERE NOT bad),
           count(ttfv) FILTER (WHERE NOT bad)::float8 / nullif(count(*) FILTER (WHERE NOT bad), 0),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY ttfv) FILTER (WHERE NOT bad),
           percentile_cont(0.75) WITHIN GROUP (ORDER BY ttfv) FILTER (WHERE NOT bad),
           percentile_cont(0.9) WITHIN GROUP (ORDER BY ttfv) FILTER (WHERE NOT bad),
           count(*) FILTER (WHERE bad),
           apivalue.km_median(apivalue.km_summary(
             apivalue._km_units(coalesce(ttfv, ao.as_of - first_start), interval '1 day'),
             ttfv IS NOT NULL,
             coalesce(apivalue._km_units($1, interval '1 day'), 3660))
             FILTER (WHERE NOT bad)) * interval '1 day'
    FROM pu CROSS JOIN ao
    WHERE first_start IS NOT NULL
    GROUP BY 1, 2
    ORDER BY 1, 2 $q$, u, t, s, v, g, bad, events, w,
    -- without a segment or a timestamp check, no per-row work for them
    CASE WHEN segment_column IS NULL THEN 'NULL::text' ELSE 'apivalue.value_at_first(ts, s, g)' END,
    CASE WHEN timestamp_check IS NULL THEN 'false'
         ELSE 'coalesce(bool_or(bad) FILTER (WHERE s OR v), false)' END);
  RETURN QUERY EXECUTE q USING within, period, time_zone, since, until, locale;
END
$fn$;

COMMENT ON FUNCTION apivalue.ttfv_report(regclass, text, text, text, text, interval, text, text, text, text, timestamptz, timestamptz, text) IS
  'per cohort period (of the first start event) and segment: users started, users reaching value, activation rate, p50/p75/p90 time to value (over users who reached it), users left out by timestamp_check, and km_median: the Kaplan-Meier median in whole days, users without value censored at the latest event (SPEC 4c)';
-- apivalue install script: retention (src/activity.c, src/arrays.c).

-- ---------------------------------------------------------------------------
-- sum_arrays: element-wise sum; ragged arrays count as zeros past their end.
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue._sum_arrays_accum(bigint[], integer[])
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_sum_arrays_accum'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION apivalue._sum_arrays_accum(bigint[], bigint[])
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_sum_arrays_accum'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._sum_arrays_accum(bigint[], integer[]) IS 'internal: sum_arrays transition';
COMMENT ON FUNCTION apivalue._sum_arrays_accum(bigint[], bigint[]) IS 'internal: sum_arrays transition and combine';

CREATE AGGREGATE apivalue.sum_arrays(integer[]) (
  SFUNC = apivalue._sum_arrays_accum, STYPE = bigint[],
  COMBINEFUNC = apivalue._sum_arrays_accum,
  PARALLEL = SAFE
);
CREATE AGGREGATE apivalue.sum_arrays(bigint[]) (
  SFUNC = apivalue._sum_arrays_accum, STYPE = bigint[],
  COMBINEFUNC = apivalue._sum_arrays_accum,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE apivalue.sum_arrays(integer[]) IS
  'element-wise sum of int[] as bigint[]; shorter arrays count as zeros past their end; NULL arrays and elements skipped';
COMMENT ON AGGREGATE apivalue.sum_arrays(bigint[]) IS
  'element-wise sum of bigint[]; shorter arrays count as zeros past their end; NULL arrays and elements skipped';

-- ---------------------------------------------------------------------------
-- retention_activity: per user, activity in each period after the cohort's.
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue._retention_activity_accum(bytea, timestamptz, boolean, boolean, integer, text, text)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_retention_activity_accum'
LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION apivalue._retention_activity_accum(bytea, timestamptz, boolean, boolean, integer, text, text, text)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_retention_activity_accum'
LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION apivalue._retention_activity_combine(bytea, bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_retention_activity_combine'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION apivalue._retention_activity_final(bytea)
RETURNS integer[] AS 'MODULE_PATHNAME', 'apivalue_retention_activity_final'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._retention_activity_accum(bytea, timestamptz, boolean, boolean, integer, text, text) IS 'internal: retention_activity transition';
COMMENT ON FUNCTION apivalue._retention_activity_accum(bytea, timestamptz, boolean, boolean, integer, text, text, text) IS 'internal: retention_activity transition';
COMMENT ON FUNCTION apivalue._retention_activity_combine(bytea, bytea) IS 'internal: retention_activity combine';
COMMENT ON FUNCTION apivalue._retention_activity_final(bytea) IS 'internal: retention_activity final';

CREATE AGGREGATE apivalue.retention_activity(ts timestamptz, is_cohort boolean, is_active boolean,
                                             periods integer, period text, time_zone text) (
  SFUNC = apivalue._retention_activity_accum, STYPE = bytea,
  COMBINEFUNC = apivalue._retention_activity_combine,
  FINALFUNC = apivalue._retention_activity_final,
  PARALLEL = SAFE
);
CREATE AGGREGATE apivalue.retention_activity(ts timestamptz, is_cohort boolean, is_active boolean,
                                             periods integer, period text, time_zone text, locale text) (
  SFUNC = apivalue._retention_activity_accum, STYPE = bytea,
  COMBINEFUNC = apivalue._retention_activity_combine,
  FINALFUNC = apivalue._retention_activity_final,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE apivalue.retention_activity(timestamptz, boolean, boolean, integer, text, text) IS
  'int[] of periods+1 flags: element k+1 = 1 when an active event fell k periods after the period of the first cohort event (ISO weeks)';
COMMENT ON AGGREGATE apivalue.retention_activity(timestamptz, boolean, boolean, integer, text, text, text) IS
  'int[] of periods+1 flags: element k+1 = 1 when an active event fell k periods after the period of the first cohort event (weeks of the locale)';

CREATE FUNCTION apivalue.retention_by_mode(activity integer[], mode text, brackets int4range[] DEFAULT NULL)
RETURNS integer[] AS 'MODULE_PATHNAME', 'apivalue_retention_by_mode'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.retention_by_mode(integer[], text, int4range[]) IS
  'turns a retention_activity array into what a mode counts: classic (as is), unbounded/rolling (active then or later), bracket (active in any period of each bracket)';

CREATE FUNCTION apivalue._retention_counts(ru bigint[], mode text, brackets int4range[])
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_retention_counts'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._retention_counts(bigint[], text, int4range[]) IS
  'internal: one user''s row of the retention matrix from _retention_user: {1, then 1 or 0 per period 1..periods (classic) or per bracket}; NULL without a cohort event';

-- _retention_user: retention_activity plus the cohort's and the latest
-- period numbers, for cohort_retention (one aggregate pass per user).
CREATE FUNCTION apivalue._retention_user_accum(bytea, timestamptz, boolean, boolean, integer, text, text, text)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_retention_user_accum'
LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION apivalue._retention_user_final(bytea)
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_retention_user_final'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._retention_user_accum(bytea, timestamptz, boolean, boolean, integer, text, text, text) IS 'internal: _retention_user transition';
COMMENT ON FUNCTION apivalue._retention_user_final(bytea) IS 'internal: _retention_user final';
CREATE AGGREGATE apivalue._retention_user(ts timestamptz, is_cohort boolean, is_active boolean,
                                          periods integer, period text, time_zone text, locale text) (
  SFUNC = apivalue._retention_user_accum, STYPE = bytea,
  COMBINEFUNC = apivalue._retention_activity_combine,
  FINALFUNC = apivalue._retention_user_final,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE apivalue._retention_user(timestamptz, boolean, boolean, integer, text, text, text) IS
  'internal: {cohort period number, latest period number, activity flags for periods 0..periods} of one user';

-- ---------------------------------------------------------------------------
-- cohort_retention
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue.cohort_retention(
  events regclass, user_column text, time_column text,
  period text DEFAULT 'week',
  periods integer DEFAULT 12,
  mode text DEFAULT 'classic',
  start_condition text DEFAULT NULL,
  return_condition text DEFAULT NULL,
  segment_column text DEFAULT NULL,
  time_zone text DEFAULT 'UTC',
  locale text DEFAULT NULL,
  since timestamptz DEFAULT NULL,
  until timestamptz DEFAULT NULL,
  brackets int4range[] DEFAULT NULL)
RETURNS TABLE (segment text, cohort_start timestamptz, cohort_size bigint,
               period_number integer, retained_users bigint, retention_rate float8)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  t text := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  s text := 'true';
  r text := 'true';
  g text := 'NULL::text';
  w text := '';
  horizon integer := periods;
  lows integer[];
  q text;
BEGIN
  IF period IS NULL OR time_zone IS NULL OR mode IS NULL OR periods IS NULL THEN
    RAISE EXCEPTION 'period, periods, mode and time_zone must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF periods < 0 OR periods > 10000 THEN
    RAISE EXCEPTION 'periods must be between 0 and 10000, got %', periods USING ERRCODE = '22023';
  END IF;
  IF mode = 'bracket' THEN
    -- validates the brackets (non-empty, bounded, from period 1)
    PERFORM apivalue.retention_by_mode('{0}', mode, brackets);
    SELECT max(upper(b)) - 1, array_agg(lower(b) ORDER BY o)
      INTO horizon, lows FROM unnest(brackets) WITH ORDINALITY AS x(b, o);
  ELSE
    IF brackets IS NOT NULL THEN
      RAISE EXCEPTION 'brackets are only used with mode "bracket"' USING ERRCODE = '22023';
    END IF;
    PERFORM apivalue.retention_by_mode('{0}', mode);
  END IF;
  PERFORM apivalue.period_start(now(), period, time_zone, locale);
  IF start_condition IS NOT NULL THEN
    s := apivalue._condition(events, start_condition, 'start condition') || ' IS TRUE';
  END IF;
  IF return_condition IS NOT NULL THEN
    r := apivalue._condition(events, return_condition, 'return condition') || ' IS TRUE';
  END IF;
  IF segment_column IS NOT NULL THEN
    -- the user's segment at their cohort event
    g := format('apivalue.value_at_first(%s, %s, %s::text)', t, s,
                apivalue._column(events, segment_column, 'segment column'));
  END IF;
  IF since IS NOT NULL THEN w := w || format(' AND %s >= $5', t); END IF;
  IF until IS NOT NULL THEN w := w || format(' AND %s < $6', t); END IF;

  -- Per user, in one aggregate pass: the cohort period, the latest period
  -- seen (to report only periods that have begun), and the activity flags;
  -- _retention_counts turns them into what the mode counts, a bigint[]
  -- {1, then 1 or 0 per period (or bracket) k >= 1}, and one sum_arrays per
  -- cohort gives {cohort size, retained users per period}.  Unbounded
  -- retention needs activity past the horizon too, so it uses the user's
  -- last active period instead of the bitmap: a run of ones up to it
  -- (sum_arrays handles the ragged lengths).
  IF mode IN ('unbounded', 'rolling') THEN
    q := format($q$
      WITH pu AS (
        SELECT min(%2$s) FILTER (WHERE %3$s) AS cohort_ts,
               max(%2$s) FILTER (WHERE %4$s) AS last_active,
               max(%2$s) AS last_ts,
               %5$s AS g
        FROM %6$s
        WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL %7$s
        GROUP BY %1$s
      ), u AS (
        SELECT g, apivalue.period_index(cohort_ts, $2, $3, $4) AS ci,
               apivalue.period_index(last_active, $2, $3, $4)
                 - apivalue.period_index(cohort_ts, $2, $3, $4) AS last_n
        FROM pu WHERE cohort_ts IS NOT NULL
      ), lim AS (
        SELECT apivalue.period_index(max(last_ts), $2, $3, $4) AS last_idx FROM pu
      ), m AS (
        SELECT g, ci, count(*) AS size,
               apivalue.sum_arrays(CASE WHEN last_n >= 0 THEN array_fill(1, ARRAY[least(last_n, $1)::int + 1])
                                        ELSE '{}'::int[] END) AS sums
        FROM u GROUP BY 1, 2
      ) $q$, u, t, s, r, g, events, w);
  ELSE
    -- No row filter but since/until: a NULL user is one group, dropped after
    -- grouping (OFFSET 0 keeps that test out of the scan), and rows without
    -- a time are skipped by the aggregate.  lim comes from the cohort groups
    -- (users without a cohort event form the group ci = NULL).
    q := format($q$
      WITH mu AS (
        SELECT g, ru[1] AS ci, max(ru[2]) AS last_idx,
               apivalue.sum_arrays(apivalue._retention_counts(ru, $7, $8)) AS sums
        FROM (SELECT %1$s AS uid,
                     apivalue._retention_user(%2$s, %3$s, %4$s, $1, $2, $3, $4) AS ru,
                     %5$s AS g
              FROM %6$s %7$s
              GROUP BY %1$s
              OFFSET 0) pu
        WHERE uid IS NOT NULL
        GROUP BY 1, 2
      ), lim AS (
        SELECT max(last_idx) AS last_idx FROM mu
      ), m AS (
        SELECT g, ci, sums[1] AS size, sums FROM mu WHERE ci IS NOT NULL
      ) $q$, u, t, s, r, g, events,
      CASE WHEN w = '' THEN '' ELSE 'WHERE' || substr(w, 5) END);
  END IF;
  q := q || $q$
    SELECT m.g, apivalue.period_index_start(m.ci, $2, $3, $4), m.size,
           (n - 1)::integer,
           CASE WHEN n = 1 THEN m.size ELSE coalesce(m.sums[n], 0) END,
           CASE WHEN n = 1 THEN 1.0::float8 ELSE coalesce(m.sums[n], 0)::float8 / m.size END
    FROM m, lim, generate_series(1, coalesce(cardinality($9), $1) + 1) AS n
    WHERE m.ci + (CASE WHEN n = 1 THEN 0 WHEN $9 IS NULL THEN n - 1 ELSE ($9)[n - 1] END) <= lim.last_idx
    ORDER BY 1, 2, 4 $q$;
  RETURN QUERY EXECUTE q USING horizon, period, time_zone, locale, since, until, mode, brackets, lows;
END
$fn$;

COMMENT ON FUNCTION apivalue.cohort_retention(regclass, text, text, text, integer, text, text, text, text, text, text, timestamptz, timestamptz, int4range[]) IS
  'retention matrix: per segment and cohort period (first start event), users active in each later period (classic), in it or later (unbounded, alias rolling), or in each bracket of periods (bracket); only periods begun by the last event are reported';

-- ---------------------------------------------------------------------------
-- lifecycle (PostHog): new, returning, resurrecting, dormant users per period
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue.lifecycle(
  events regclass, user_column text, time_column text,
  period text DEFAULT 'week',
  condition text DEFAULT NULL,
  time_zone text DEFAULT 'UTC',
  locale text DEFAULT NULL,
  since timestamptz DEFAULT NULL,
  until timestamptz DEFAULT NULL)
RETURNS TABLE (period_start timestamptz, status text, users bigint)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  t text := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  c text := 'true';
  w text := '';
  q text;
BEGIN
  IF period IS NULL OR time_zone IS NULL THEN
    RAISE EXCEPTION 'period and time_zone must not be NULL' USING ERRCODE = '22004';
  END IF;
  PERFORM apivalue.period_start(now(), period, time_zone, locale);
  IF condition IS NOT NULL THEN
    c := apivalue._condition(events, condition, 'condition');
  END IF;
  IF until IS NOT NULL THEN w := format(' AND %s < $5', t); END IF;
  q := format($q$
    WITH a AS (
      SELECT DISTINCT %1$s AS u, apivalue.period_index(%2$s, $1, $2, $3) AS p
      FROM %4$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL AND %3$s IS TRUE %5$s
    ), b AS (
      SELECT u, p,
             lag(p) OVER w AS prev, lead(p) OVER w AS next,
             min(p) OVER (PARTITION BY u) AS first
      FROM a
      WINDOW w AS (PARTITION BY u ORDER BY p)
    ), lim AS (
      SELECT max(p) AS last_p,
             CASE WHEN $4::timestamptz IS NULL THEN min(p)
                  ELSE apivalue.period_index($4, $1, $2, $3) END AS first_p
      FROM a
    ), s AS (
      SELECT p, CASE WHEN p = first THEN 'new'
                     WHEN prev = p - 1 THEN 'returning'
                     ELSE 'resurrecting' END AS status
      FROM b
      UNION ALL
      SELECT p + 1, 'dormant' FROM b, lim
      WHERE next IS DISTINCT FROM p + 1 AND p + 1 <= lim.last_p
    )
    SELECT apivalue.period_index_start(s.p, $1, $2, $3), s.status, count(*)
    FROM s, lim
    WHERE s.p >= lim.first_p
    GROUP BY s.p, s.status
    ORDER BY 1, array_position('{new,returning,resurrecting,dormant}'::text[], s.status) $q$,
    u, t, c, events, w);
  RETURN QUERY EXECUTE q USING period, time_zone, locale, since, until;
END
$fn$;

COMMENT ON FUNCTION apivalue.lifecycle(regclass, text, text, text, text, text, text, timestamptz, timestamptz) IS
  'per period: new (first period ever), returning (also active the period before), resurrecting (inactive the period before, active earlier) and dormant (active the period before, not now) users, as PostHog defines them; dormant counts are positive';

-- ---------------------------------------------------------------------------
-- stickiness: how many days (units) of each week (period) users were active
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue.stickiness(
  events regclass, user_column text, time_column text,
  period text DEFAULT 'week',
  unit text DEFAULT 'day',
  condition text DEFAULT NULL,
  time_zone text DEFAULT 'UTC',
  locale text DEFAULT NULL,
  since timestamptz DEFAULT NULL,
  until timestamptz DEFAULT NULL)
RETURNS TABLE (period_start timestamptz, active_units integer, users bigint, share float8)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  t text := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  c text := 'true';
  w text := '';
  ranks text[] := '{hour,day,week,month,quarter,year}';
  q text;
BEGIN
  IF period IS NULL OR unit IS NULL OR time_zone IS NULL THEN
    RAISE EXCEPTION 'period, unit and time_zone must not be NULL' USING ERRCODE = '22004';
  END IF;
  PERFORM apivalue.period_start(now(), period, time_zone, locale);
  PERFORM apivalue.period_start(now(), unit, time_zone, locale);
  IF array_position(ranks, unit) >= array_position(ranks, period) THEN
    RAISE EXCEPTION 'unit "%" must be shorter than period "%"', unit, period
      USING ERRCODE = '22023', HINT = 'For example period => ''week'', unit => ''day''.';
  END IF;
  IF condition IS NOT NULL THEN
    c := apivalue._condition(events, condition, 'condition');
  END IF;
  IF since IS NOT NULL THEN w := w || format(' AND %s >= $5', t); END IF;
  IF until IS NOT NULL THEN w := w || format(' AND %s < $6', t); END IF;
  q := format($q$
    WITH pu AS (
      SELECT apivalue.period_start(%2$s, $1, $3, $4) AS ps,
             count(DISTINCT apivalue.period_index(%2$s, $2, $3, $4))::integer AS k
      FROM %4$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL AND %3$s IS TRUE %5$s
      GROUP BY %1$s, 1
    )
    SELECT ps, k, count(*), count(*)::float8 / sum(count(*)) OVER (PARTITION BY ps)
    FROM pu
    GROUP BY ps, k
    ORDER BY ps, k $q$, u, t, c, events, w);
  RETURN QUERY EXECUTE q USING period, unit, time_zone, locale, since, until;
END
$fn$;

COMMENT ON FUNCTION apivalue.stickiness(regclass, text, text, text, text, text, text, text, timestamptz, timestamptz) IS
  'per period: how many users were active on exactly k distinct units (days of a week, by default), and their share of the period''s active users';
-- ===========================================================================
-- Data quality (SPEC.md section 6): clock skew, duplicates, missing data, and
-- checks kept as data, run on schedule, with a results history.
-- C in src/quality_*.c.  Manual: README.md, "Data quality".
-- ===========================================================================

-- ---------------------------------------------------------------------------
-- State / summary types.  Concrete varlena types (not "internal") so that
-- Citus and other engines can aggregate them partially; text form is the
-- flat bytes in hex, validated on input.
-- ---------------------------------------------------------------------------

CREATE TYPE apivalue.sequence_summary;
CREATE FUNCTION apivalue.sequence_summary_in(cstring) RETURNS apivalue.sequence_summary
  AS 'MODULE_PATHNAME', 'apivalue_sequence_summary_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.sequence_summary_out(apivalue.sequence_summary) RETURNS cstring
  AS 'MODULE_PATHNAME', 'apivalue_quality_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.sequence_summary_recv(internal) RETURNS apivalue.sequence_summary
  AS 'MODULE_PATHNAME', 'apivalue_sequence_summary_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.sequence_summary_send(apivalue.sequence_summary) RETURNS bytea
  AS 'MODULE_PATHNAME', 'apivalue_quality_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE apivalue.sequence_summary (
  INPUT = apivalue.sequence_summary_in, OUTPUT = apivalue.sequence_summary_out,
  RECEIVE = apivalue.sequence_summary_recv, SEND = apivalue.sequence_summary_send,
  INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended);
COMMENT ON TYPE apivalue.sequence_summary IS
  'set of sequence numbers seen (sorted disjoint ranges) and rows counted: read with missing_count, expected_count, received_count, row_count, missing_ranges; merge with rollup';
COMMENT ON FUNCTION apivalue.sequence_summary_in(cstring) IS 'input function of apivalue.sequence_summary';
COMMENT ON FUNCTION apivalue.sequence_summary_out(apivalue.sequence_summary) IS 'output function of apivalue.sequence_summary';
COMMENT ON FUNCTION apivalue.sequence_summary_recv(internal) IS 'binary input function of apivalue.sequence_summary';
COMMENT ON FUNCTION apivalue.sequence_summary_send(apivalue.sequence_summary) IS 'binary output function of apivalue.sequence_summary';

CREATE TYPE apivalue.dead_time_summary;
CREATE FUNCTION apivalue.dead_time_summary_in(cstring) RETURNS apivalue.dead_time_summary
  AS 'MODULE_PATHNAME', 'apivalue_dead_time_summary_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.dead_time_summary_out(apivalue.dead_time_summary) RETURNS cstring
  AS 'MODULE_PATHNAME', 'apivalue_quality_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.dead_time_summary_recv(internal) RETURNS apivalue.dead_time_summary
  AS 'MODULE_PATHNAME', 'apivalue_dead_time_summary_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.dead_time_summary_send(apivalue.dead_time_summary) RETURNS bytea
  AS 'MODULE_PATHNAME', 'apivalue_quality_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE apivalue.dead_time_summary (
  INPUT = apivalue.dead_time_summary_in, OUTPUT = apivalue.dead_time_summary_out,
  RECEIVE = apivalue.dead_time_summary_recv, SEND = apivalue.dead_time_summary_send,
  INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended);
COMMENT ON TYPE apivalue.dead_time_summary IS
  'clusters of events no more than max_gap apart: read with dead_time, longest_gap, gap_count, gap_ranges, event_count; merge with rollup';
COMMENT ON FUNCTION apivalue.dead_time_summary_in(cstring) IS 'input function of apivalue.dead_time_summary';
COMMENT ON FUNCTION apivalue.dead_time_summary_out(apivalue.dead_time_summary) IS 'output function of apivalue.dead_time_summary';
COMMENT ON FUNCTION apivalue.dead_time_summary_recv(internal) IS 'binary input function of apivalue.dead_time_summary';
COMMENT ON FUNCTION apivalue.dead_time_summary_send(apivalue.dead_time_summary) IS 'binary output function of apivalue.dead_time_summary';

CREATE TYPE apivalue.clock_skew_summary;
CREATE FUNCTION apivalue.clock_skew_summary_in(cstring) RETURNS apivalue.clock_skew_summary
  AS 'MODULE_PATHNAME', 'apivalue_clock_skew_summary_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.clock_skew_summary_out(apivalue.clock_skew_summary) RETURNS cstring
  AS 'MODULE_PATHNAME', 'apivalue_quality_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.clock_skew_summary_recv(internal) RETURNS apivalue.clock_skew_summary
  AS 'MODULE_PATHNAME', 'apivalue_clock_skew_summary_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.clock_skew_summary_send(apivalue.clock_skew_summary) RETURNS bytea
  AS 'MODULE_PATHNAME', 'apivalue_quality_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE apivalue.clock_skew_summary (
  INPUT = apivalue.clock_skew_summary_in, OUTPUT = apivalue.clock_skew_summary_out,
  RECEIVE = apivalue.clock_skew_summary_recv, SEND = apivalue.clock_skew_summary_send,
  INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended);
COMMENT ON TYPE apivalue.clock_skew_summary IS
  'per-event (received_at, client_ts, offset) of one device or group: read with median_offset, max_abs_offset, future_share, future_count, out_of_order_count, event_count; merge with rollup';
COMMENT ON FUNCTION apivalue.clock_skew_summary_in(cstring) IS 'input function of apivalue.clock_skew_summary';
COMMENT ON FUNCTION apivalue.clock_skew_summary_out(apivalue.clock_skew_summary) IS 'output function of apivalue.clock_skew_summary';
COMMENT ON FUNCTION apivalue.clock_skew_summary_recv(internal) IS 'binary input function of apivalue.clock_skew_summary';
COMMENT ON FUNCTION apivalue.clock_skew_summary_send(apivalue.clock_skew_summary) IS 'binary output function of apivalue.clock_skew_summary';

CREATE TYPE apivalue.near_duplicate_state;
CREATE FUNCTION apivalue.near_duplicate_state_in(cstring) RETURNS apivalue.near_duplicate_state
  AS 'MODULE_PATHNAME', 'apivalue_near_duplicate_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.near_duplicate_state_out(apivalue.near_duplicate_state) RETURNS cstring
  AS 'MODULE_PATHNAME', 'apivalue_quality_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.near_duplicate_state_recv(internal) RETURNS apivalue.near_duplicate_state
  AS 'MODULE_PATHNAME', 'apivalue_near_duplicate_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.near_duplicate_state_send(apivalue.near_duplicate_state) RETURNS bytea
  AS 'MODULE_PATHNAME', 'apivalue_quality_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE apivalue.near_duplicate_state (
  INPUT = apivalue.near_duplicate_state_in, OUTPUT = apivalue.near_duplicate_state_out,
  RECEIVE = apivalue.near_duplicate_state_recv, SEND = apivalue.near_duplicate_state_send,
  INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended);
COMMENT ON TYPE apivalue.near_duplicate_state IS
  'transition state of near_duplicate_count: every (fingerprint, time) of a group and the tolerance';
COMMENT ON FUNCTION apivalue.near_duplicate_state_in(cstring) IS 'input function of apivalue.near_duplicate_state';
COMMENT ON FUNCTION apivalue.near_duplicate_state_out(apivalue.near_duplicate_state) IS 'output function of apivalue.near_duplicate_state';
COMMENT ON FUNCTION apivalue.near_duplicate_state_recv(internal) IS 'binary input function of apivalue.near_duplicate_state';
COMMENT ON FUNCTION apivalue.near_duplicate_state_send(apivalue.near_duplicate_state) IS 'binary output function of apivalue.near_duplicate_state';

-- ---------------------------------------------------------------------------
-- Clock skew
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue.clock_skew(sent_at timestamptz, received_at timestamptz)
RETURNS interval AS 'MODULE_PATHNAME', 'apivalue_clock_skew'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.clock_skew(timestamptz, timestamptz) IS
  'offset of the device clock: sent_at - received_at (network delay ignored)';

CREATE FUNCTION apivalue.corrected_timestamp(client_ts timestamptz, sent_at timestamptz,
                                             received_at timestamptz)
RETURNS timestamptz AS 'MODULE_PATHNAME', 'apivalue_corrected_timestamp'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.corrected_timestamp(timestamptz, timestamptz, timestamptz) IS
  'event time on the server clock: received_at - (sent_at - client_ts), as Segment and Snowplow compute it';

CREATE FUNCTION apivalue._clock_skew_summary_accum(apivalue.clock_skew_summary, timestamptz, timestamptz, timestamptz)
RETURNS apivalue.clock_skew_summary AS 'MODULE_PATHNAME', 'apivalue_clock_skew_summary_accum'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._clock_skew_summary_accum(apivalue.clock_skew_summary, timestamptz, timestamptz, timestamptz) IS
  'internal: transition function of clock_skew_summary';
CREATE FUNCTION apivalue._clock_skew_summary_combine(apivalue.clock_skew_summary, apivalue.clock_skew_summary)
RETURNS apivalue.clock_skew_summary AS 'MODULE_PATHNAME', 'apivalue_clock_skew_summary_combine'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._clock_skew_summary_combine(apivalue.clock_skew_summary, apivalue.clock_skew_summary) IS
  'internal: combine function of clock_skew_summary and transition function of its rollup';
CREATE FUNCTION apivalue._clock_skew_summary_final(apivalue.clock_skew_summary)
RETURNS apivalue.clock_skew_summary AS 'MODULE_PATHNAME', 'apivalue_clock_skew_summary_final'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._clock_skew_summary_final(apivalue.clock_skew_summary) IS
  'internal: final function of clock_skew_summary';

CREATE AGGREGATE apivalue.clock_skew_summary(client_ts timestamptz, sent_at timestamptz, received_at timestamptz) (
  SFUNC = apivalue._clock_skew_summary_accum, STYPE = apivalue.clock_skew_summary,
  COMBINEFUNC = apivalue._clock_skew_summary_combine,
  FINALFUNC = apivalue._clock_skew_summary_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.clock_skew_summary(timestamptz, timestamptz, timestamptz) IS
  'per-device clock summary (offset sent_at - received_at per event); rows with a NULL are skipped';

CREATE AGGREGATE apivalue.rollup(apivalue.clock_skew_summary) (
  SFUNC = apivalue._clock_skew_summary_combine, STYPE = apivalue.clock_skew_summary,
  COMBINEFUNC = apivalue._clock_skew_summary_combine,
  FINALFUNC = apivalue._clock_skew_summary_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.rollup(apivalue.clock_skew_summary) IS
  'merges clock skew summaries exactly (as if built over all their events)';

CREATE FUNCTION apivalue.event_count(apivalue.clock_skew_summary) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_clock_skew_event_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.event_count(apivalue.clock_skew_summary) IS 'events in the summary';
CREATE FUNCTION apivalue.median_offset(apivalue.clock_skew_summary) RETURNS interval
  AS 'MODULE_PATHNAME', 'apivalue_clock_skew_median_offset' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.median_offset(apivalue.clock_skew_summary) IS
  'lower median of sent_at - received_at (percentile_disc(0.5)): the device clock offset';
CREATE FUNCTION apivalue.max_abs_offset(apivalue.clock_skew_summary) RETURNS interval
  AS 'MODULE_PATHNAME', 'apivalue_clock_skew_max_abs_offset' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.max_abs_offset(apivalue.clock_skew_summary) IS
  'largest absolute value of sent_at - received_at';
CREATE FUNCTION apivalue.future_count(apivalue.clock_skew_summary) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_clock_skew_future_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.future_count(apivalue.clock_skew_summary) IS
  'events stamped in the future: client_ts later than received_at';
CREATE FUNCTION apivalue.future_share(apivalue.clock_skew_summary) RETURNS float8
  AS 'MODULE_PATHNAME', 'apivalue_clock_skew_future_share' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.future_share(apivalue.clock_skew_summary) IS
  'share of events stamped in the future (client_ts > received_at)';
CREATE FUNCTION apivalue.out_of_order_count(apivalue.clock_skew_summary) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_clock_skew_out_of_order_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.out_of_order_count(apivalue.clock_skew_summary) IS
  'events that arrived after an event stamped later (arrival order: received_at, then client_ts)';

-- ---------------------------------------------------------------------------
-- Near duplicates
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._near_duplicate_accum(apivalue.near_duplicate_state, text, timestamptz, interval)
RETURNS apivalue.near_duplicate_state AS 'MODULE_PATHNAME', 'apivalue_near_duplicate_accum'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._near_duplicate_accum(apivalue.near_duplicate_state, text, timestamptz, interval) IS
  'internal: transition function of near_duplicate_count';
CREATE FUNCTION apivalue._near_duplicate_combine(apivalue.near_duplicate_state, apivalue.near_duplicate_state)
RETURNS apivalue.near_duplicate_state AS 'MODULE_PATHNAME', 'apivalue_near_duplicate_combine'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._near_duplicate_combine(apivalue.near_duplicate_state, apivalue.near_duplicate_state) IS
  'internal: combine function of near_duplicate_count';
CREATE FUNCTION apivalue._near_duplicate_final(apivalue.near_duplicate_state)
RETURNS bigint AS 'MODULE_PATHNAME', 'apivalue_near_duplicate_final'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._near_duplicate_final(apivalue.near_duplicate_state) IS
  'internal: final function of near_duplicate_count';

CREATE AGGREGATE apivalue.near_duplicate_count(fingerprint text, ts timestamptz, tolerance interval) (
  SFUNC = apivalue._near_duplicate_accum, STYPE = apivalue.near_duplicate_state,
  COMBINEFUNC = apivalue._near_duplicate_combine,
  FINALFUNC = apivalue._near_duplicate_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.near_duplicate_count(text, timestamptz, interval) IS
  'events that repeat an earlier event of the same fingerprint at most tolerance before them';

-- ---------------------------------------------------------------------------
-- Missing data: sequence gaps
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._sequence_summary_accum(apivalue.sequence_summary, bigint)
RETURNS apivalue.sequence_summary AS 'MODULE_PATHNAME', 'apivalue_sequence_summary_accum'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._sequence_summary_accum(apivalue.sequence_summary, bigint) IS
  'internal: transition function of the sequence-gap aggregates';
CREATE FUNCTION apivalue._sequence_summary_combine(apivalue.sequence_summary, apivalue.sequence_summary)
RETURNS apivalue.sequence_summary AS 'MODULE_PATHNAME', 'apivalue_sequence_summary_combine'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._sequence_summary_combine(apivalue.sequence_summary, apivalue.sequence_summary) IS
  'internal: combine function of the sequence-gap aggregates and transition function of their rollup';
CREATE FUNCTION apivalue._sequence_summary_final(apivalue.sequence_summary)
RETURNS apivalue.sequence_summary AS 'MODULE_PATHNAME', 'apivalue_rangeset_final'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._sequence_summary_final(apivalue.sequence_summary) IS
  'internal: final function of sequence_summary';
CREATE FUNCTION apivalue._sequence_gap_count_final(apivalue.sequence_summary)
RETURNS bigint AS 'MODULE_PATHNAME', 'apivalue_sequence_missing_count'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._sequence_gap_count_final(apivalue.sequence_summary) IS
  'internal: final function of sequence_gap_count';
CREATE FUNCTION apivalue._missing_sequence_ranges_final(apivalue.sequence_summary)
RETURNS int8multirange AS 'MODULE_PATHNAME', 'apivalue_sequence_missing_ranges'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._missing_sequence_ranges_final(apivalue.sequence_summary) IS
  'internal: final function of missing_sequence_ranges';

CREATE AGGREGATE apivalue.sequence_summary(seq bigint) (
  SFUNC = apivalue._sequence_summary_accum, STYPE = apivalue.sequence_summary,
  COMBINEFUNC = apivalue._sequence_summary_combine,
  FINALFUNC = apivalue._sequence_summary_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.sequence_summary(bigint) IS
  'the sequence numbers of a group as a summary (two-step form of sequence_gap_count)';

CREATE AGGREGATE apivalue.sequence_gap_count(seq bigint) (
  SFUNC = apivalue._sequence_summary_accum, STYPE = apivalue.sequence_summary,
  COMBINEFUNC = apivalue._sequence_summary_combine,
  FINALFUNC = apivalue._sequence_gap_count_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.sequence_gap_count(bigint) IS
  'sequence numbers missing between the smallest and the largest seen: (max - min + 1) - count(DISTINCT seq); 0 for no rows';

CREATE AGGREGATE apivalue.missing_sequence_ranges(seq bigint) (
  SFUNC = apivalue._sequence_summary_accum, STYPE = apivalue.sequence_summary,
  COMBINEFUNC = apivalue._sequence_summary_combine,
  FINALFUNC = apivalue._missing_sequence_ranges_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.missing_sequence_ranges(bigint) IS
  'the sequence numbers missing between the smallest and the largest seen, as an int8multirange';

CREATE AGGREGATE apivalue.rollup(apivalue.sequence_summary) (
  SFUNC = apivalue._sequence_summary_combine, STYPE = apivalue.sequence_summary,
  COMBINEFUNC = apivalue._sequence_summary_combine,
  FINALFUNC = apivalue._sequence_summary_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.rollup(apivalue.sequence_summary) IS
  'merges sequence summaries exactly (union of the sequence numbers)';

CREATE FUNCTION apivalue.missing_count(apivalue.sequence_summary) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_sequence_missing_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.missing_count(apivalue.sequence_summary) IS
  'sequence numbers missing between min and max: expected_count - received_count';
CREATE FUNCTION apivalue.expected_count(apivalue.sequence_summary) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_sequence_expected_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.expected_count(apivalue.sequence_summary) IS
  'max - min + 1: the events the device sent, by its counter (0 when empty)';
CREATE FUNCTION apivalue.received_count(apivalue.sequence_summary) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_sequence_received_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.received_count(apivalue.sequence_summary) IS
  'distinct sequence numbers received';
CREATE FUNCTION apivalue.row_count(apivalue.sequence_summary) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_sequence_row_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.row_count(apivalue.sequence_summary) IS
  'non-NULL sequence numbers received, duplicates included';
CREATE FUNCTION apivalue.missing_ranges(apivalue.sequence_summary) RETURNS int8multirange
  AS 'MODULE_PATHNAME', 'apivalue_sequence_missing_ranges' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.missing_ranges(apivalue.sequence_summary) IS
  'the missing sequence numbers as an int8multirange';

-- ---------------------------------------------------------------------------
-- Missing data: dead time (heartbeat-style gaps)
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._dead_time_summary_accum(apivalue.dead_time_summary, timestamptz, interval)
RETURNS apivalue.dead_time_summary AS 'MODULE_PATHNAME', 'apivalue_dead_time_summary_accum'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._dead_time_summary_accum(apivalue.dead_time_summary, timestamptz, interval) IS
  'internal: transition function of the dead-time aggregates';
CREATE FUNCTION apivalue._dead_time_summary_combine(apivalue.dead_time_summary, apivalue.dead_time_summary)
RETURNS apivalue.dead_time_summary AS 'MODULE_PATHNAME', 'apivalue_dead_time_summary_combine'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._dead_time_summary_combine(apivalue.dead_time_summary, apivalue.dead_time_summary) IS
  'internal: combine function of the dead-time aggregates and transition function of their rollup';
CREATE FUNCTION apivalue._dead_time_summary_final(apivalue.dead_time_summary)
RETURNS apivalue.dead_time_summary AS 'MODULE_PATHNAME', 'apivalue_rangeset_final'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._dead_time_summary_final(apivalue.dead_time_summary) IS
  'internal: final function of dead_time_summary';
CREATE FUNCTION apivalue._dead_time_final(apivalue.dead_time_summary)
RETURNS interval AS 'MODULE_PATHNAME', 'apivalue_dead_time_value'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._dead_time_final(apivalue.dead_time_summary) IS
  'internal: final function of dead_time';

CREATE AGGREGATE apivalue.dead_time_summary(ts timestamptz, max_gap interval) (
  SFUNC = apivalue._dead_time_summary_accum, STYPE = apivalue.dead_time_summary,
  COMBINEFUNC = apivalue._dead_time_summary_combine,
  FINALFUNC = apivalue._dead_time_summary_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.dead_time_summary(timestamptz, interval) IS
  'events of a source as clusters no more than max_gap apart (two-step form of dead_time)';

CREATE AGGREGATE apivalue.dead_time(ts timestamptz, max_gap interval) (
  SFUNC = apivalue._dead_time_summary_accum, STYPE = apivalue.dead_time_summary,
  COMBINEFUNC = apivalue._dead_time_summary_combine,
  FINALFUNC = apivalue._dead_time_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.dead_time(timestamptz, interval) IS
  'sum over consecutive events of max(0, gap - max_gap): time a source was silent beyond what is normal';

CREATE AGGREGATE apivalue.rollup(apivalue.dead_time_summary) (
  SFUNC = apivalue._dead_time_summary_combine, STYPE = apivalue.dead_time_summary,
  COMBINEFUNC = apivalue._dead_time_summary_combine,
  FINALFUNC = apivalue._dead_time_summary_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.rollup(apivalue.dead_time_summary) IS
  'merges dead-time summaries of the same max_gap exactly';

CREATE FUNCTION apivalue.dead_time(apivalue.dead_time_summary) RETURNS interval
  AS 'MODULE_PATHNAME', 'apivalue_dead_time_value' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.dead_time(apivalue.dead_time_summary) IS
  'sum over gaps longer than max_gap of (gap - max_gap)';
CREATE FUNCTION apivalue.longest_gap(apivalue.dead_time_summary) RETURNS interval
  AS 'MODULE_PATHNAME', 'apivalue_dead_time_longest_gap' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.longest_gap(apivalue.dead_time_summary) IS
  'longest time between consecutive events among the gaps longer than max_gap; NULL when there is none';
CREATE FUNCTION apivalue.gap_count(apivalue.dead_time_summary) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_dead_time_gap_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.gap_count(apivalue.dead_time_summary) IS
  'gaps between consecutive events longer than max_gap';
CREATE FUNCTION apivalue.gap_ranges(apivalue.dead_time_summary) RETURNS tstzmultirange
  AS 'MODULE_PATHNAME', 'apivalue_dead_time_gap_ranges' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.gap_ranges(apivalue.dead_time_summary) IS
  'the silences longer than max_gap, each (last event before, first event after), as a tstzmultirange';
CREATE FUNCTION apivalue.event_count(apivalue.dead_time_summary) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_dead_time_event_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.event_count(apivalue.dead_time_summary) IS 'events in the summary';
CREATE FUNCTION apivalue.max_gap(apivalue.dead_time_summary) RETURNS interval
  AS 'MODULE_PATHNAME', 'apivalue_dead_time_max_gap' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.max_gap(apivalue.dead_time_summary) IS 'the max_gap the summary was built with';

-- ---------------------------------------------------------------------------
-- Table functions (caller's privileges; identifiers and expressions checked
-- with apivalue._column / apivalue._expression before anything runs)
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._quality_positive(v interval, what text, allow_zero boolean DEFAULT false)
RETURNS interval LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF v IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = '22004';
  END IF;
  IF v < interval '0' OR (NOT allow_zero AND v = interval '0') THEN
    RAISE EXCEPTION '% must be %, got "%"', what,
      CASE WHEN allow_zero THEN 'zero or positive' ELSE 'positive' END, v
      USING ERRCODE = '22023';
  END IF;
  RETURN v;
END $$;
COMMENT ON FUNCTION apivalue._quality_positive(interval, text, boolean) IS
  'internal: checks an interval argument is not NULL and positive (or zero when allowed)';

CREATE FUNCTION apivalue.skewed_devices(events regclass, device_column text,
    client_ts_column text, sent_at_column text, received_at_column text,
    threshold interval DEFAULT interval '5 minutes')
RETURNS TABLE (device text, event_count bigint, median_offset interval, max_abs_offset interval,
               future_share float8, out_of_order bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  ts_types regtype[] := ARRAY['timestamptz'::regtype];
  q text;
BEGIN
  PERFORM apivalue._quality_positive(threshold, 'threshold', true);
  q := format($q$
    SELECT d::text, apivalue.event_count(s), apivalue.median_offset(s), apivalue.max_abs_offset(s),
           apivalue.future_share(s), apivalue.out_of_order_count(s)
    FROM (SELECT %1$s AS d, apivalue.clock_skew_summary(%2$s, %3$s, %4$s) AS s
          FROM %5$s WHERE %1$s IS NOT NULL GROUP BY 1) g
    WHERE s IS NOT NULL
      AND greatest(apivalue.median_offset(s), -apivalue.median_offset(s)) > $1
    ORDER BY 1 $q$,
    apivalue._column(events, device_column, 'device_column'),
    apivalue._column(events, client_ts_column, 'client_ts_column', ts_types),
    apivalue._column(events, sent_at_column, 'sent_at_column', ts_types),
    apivalue._column(events, received_at_column, 'received_at_column', ts_types),
    events);
  RETURN QUERY EXECUTE q USING threshold;
END $$;
COMMENT ON FUNCTION apivalue.skewed_devices(regclass, text, text, text, text, interval) IS
  'devices whose median clock offset (sent_at - received_at) exceeds threshold in absolute value, with their skew summary';

CREATE FUNCTION apivalue.duplicate_keys(events regclass, key text, time_column text,
    tolerance interval DEFAULT NULL)
RETURNS TABLE (key_value text, occurrences bigint, duplicates bigint,
               first_seen timestamptz, last_seen timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  k text := apivalue._expression(events, key, 'key');
  t text := apivalue._column(events, time_column, 'time_column',
                             ARRAY['timestamptz'::regtype, 'timestamp'::regtype]);
BEGIN
  IF tolerance IS NULL THEN
    -- Exact duplicates: every row after the first of a key.
    RETURN QUERY EXECUTE format($q$
      SELECT %1$s::text, count(*), count(*) - 1, min(%2$s)::timestamptz, max(%2$s)::timestamptz
      FROM %3$s WHERE %1$s IS NOT NULL
      GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 $q$, k, t, events);
  ELSE
    PERFORM apivalue._quality_positive(tolerance, 'tolerance', true);
    -- Near duplicates: rows within tolerance after an earlier row of the key.
    RETURN QUERY EXECUTE format($q$
      SELECT * FROM (
        SELECT %1$s::text AS k, count(*) AS n,
               apivalue.near_duplicate_count(%1$s::text, %2$s::timestamptz, $1) AS d,
               min(%2$s)::timestamptz, max(%2$s)::timestamptz
        FROM %3$s WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL
        GROUP BY 1) g
      WHERE d > 0 ORDER BY 1 $q$, k, t, events) USING tolerance;
  END IF;
END $$;
COMMENT ON FUNCTION apivalue.duplicate_keys(regclass, text, text, interval) IS
  'keys (an expression: event id, or a fingerprint) that occur more than once (tolerance NULL) or repeat within tolerance, with counts, first and last seen';

CREATE FUNCTION apivalue.duplicate_rate(events regclass, key text, time_column text,
    tolerance interval DEFAULT NULL)
RETURNS TABLE (rows bigint, duplicates bigint, duplicate_rate float8, offending_keys bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  k text := apivalue._expression(events, key, 'key');
  t text := apivalue._column(events, time_column, 'time_column',
                             ARRAY['timestamptz'::regtype, 'timestamp'::regtype]);
  n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM %s WHERE %s IS NOT NULL%s', events, k,
                 CASE WHEN tolerance IS NULL THEN '' ELSE format(' AND %s IS NOT NULL', t) END)
    INTO n;
  RETURN QUERY
    SELECT n, coalesce(sum(d.duplicates), 0)::bigint,
           CASE WHEN n > 0 THEN coalesce(sum(d.duplicates), 0)::float8 / n END,
           count(d.*)
    FROM apivalue.duplicate_keys(events, key, time_column, tolerance) d;
END $$;
COMMENT ON FUNCTION apivalue.duplicate_rate(regclass, text, text, interval) IS
  'rows with a key, duplicate rows (exact, or within tolerance), their share and the number of offending keys';

CREATE FUNCTION apivalue.device_sequence_gaps(events regclass, device_column text, seq_column text)
RETURNS TABLE (device text, rows bigint, received bigint, expected bigint, missing bigint,
               missing_ranges int8multirange)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN QUERY EXECUTE format($q$
    SELECT d::text, apivalue.row_count(s), apivalue.received_count(s), apivalue.expected_count(s),
           apivalue.missing_count(s), apivalue.missing_ranges(s)
    FROM (SELECT %1$s AS d, apivalue.sequence_summary(%2$s::bigint) AS s
          FROM %3$s WHERE %1$s IS NOT NULL GROUP BY 1) g
    WHERE s IS NOT NULL AND apivalue.missing_count(s) > 0
    ORDER BY 1 $q$,
    apivalue._column(events, device_column, 'device_column'),
    apivalue._column(events, seq_column, 'seq_column',
                     ARRAY['bigint'::regtype, 'integer'::regtype, 'smallint'::regtype]),
    events);
END $$;
COMMENT ON FUNCTION apivalue.device_sequence_gaps(regclass, text, text) IS
  'devices with missing sequence numbers: rows, distinct received, expected (max - min + 1), missing and the missing ranges';

CREATE FUNCTION apivalue.dead_periods(events regclass, time_column text, max_gap interval,
    source_column text DEFAULT NULL)
RETURNS TABLE (source text, gap_start timestamptz, gap_end timestamptz, gap interval,
               dead_time interval)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  t text := apivalue._column(events, time_column, 'time_column', ARRAY['timestamptz'::regtype]);
  s text := CASE WHEN source_column IS NULL THEN 'NULL::text'
                 ELSE apivalue._column(events, source_column, 'source_column') || '::text' END;
BEGIN
  PERFORM apivalue._quality_positive(max_gap, 'max_gap', true);
  RETURN QUERY EXECUTE format($q$
    SELECT g.src, lower(r), upper(r), upper(r) - lower(r), (upper(r) - lower(r)) - $1
    FROM (SELECT %1$s AS src, apivalue.dead_time_summary(%2$s, $1) AS sm
          FROM %3$s GROUP BY 1) g,
         LATERAL unnest(apivalue.gap_ranges(g.sm)) r
    ORDER BY 1, 2 $q$, s, t, events) USING max_gap;
END $$;
COMMENT ON FUNCTION apivalue.dead_periods(regclass, text, interval, text) IS
  'silences longer than max_gap between consecutive events (per source when given), with their length and dead time (length - max_gap)';

CREATE FUNCTION apivalue.null_rates(events regclass, columns text[])
RETURNS TABLE (column_name text, rows bigint, nulls bigint, null_rate float8)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  c text;
  sel text := '';
  res bigint[];
  i int := 0;
BEGIN
  IF columns IS NULL OR cardinality(columns) = 0 THEN
    RAISE EXCEPTION 'columns must name at least one column' USING ERRCODE = '22023';
  END IF;
  FOREACH c IN ARRAY columns LOOP
    sel := sel || format(', count(*) FILTER (WHERE %s IS NULL)', apivalue._column(events, c, 'column'));
  END LOOP;
  EXECUTE format('SELECT ARRAY[count(*)%s] FROM %s', sel, events) INTO res;
  FOREACH c IN ARRAY columns LOOP
    i := i + 1;
    column_name := c;
    rows := res[1];
    nulls := res[i + 1];
    null_rate := CASE WHEN res[1] > 0 THEN res[i + 1]::float8 / res[1] END;
    RETURN NEXT;
  END LOOP;
END $$;
COMMENT ON FUNCTION apivalue.null_rates(regclass, text[]) IS
  'rows, NULLs and NULL share of each named column, in one scan';

CREATE FUNCTION apivalue.volume_anomalies(events regclass, time_column text,
    bucket interval DEFAULT interval '1 hour', baseline_buckets integer DEFAULT 24,
    sensitivity float8 DEFAULT 3.5)
RETURNS TABLE (bucket_start timestamptz, event_count bigint, baseline_median float8,
               baseline_mad float8, score float8, anomalous boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  t text := apivalue._column(events, time_column, 'time_column', ARRAY['timestamptz'::regtype]);
BEGIN
  PERFORM apivalue._quality_positive(bucket, 'bucket');
  IF extract(month FROM bucket) <> 0 OR extract(year FROM bucket) <> 0 THEN
    RAISE EXCEPTION 'bucket must not contain months or years, got "%"', bucket
      USING ERRCODE = '22023', HINT = 'Use days, e.g. interval ''30 days''.';
  END IF;
  IF baseline_buckets IS NULL OR baseline_buckets < 3 THEN
    RAISE EXCEPTION 'baseline_buckets must be at least 3, got %', coalesce(baseline_buckets::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF sensitivity IS NULL OR NOT sensitivity > 0 OR sensitivity = 'Infinity' THEN
    RAISE EXCEPTION 'sensitivity must be a positive number, got %', coalesce(sensitivity::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH c AS (
      SELECT date_bin($1, %1$s, timestamptz '2000-01-01 00:00:00+00') AS b, count(*) AS n
      FROM %2$s WHERE %1$s IS NOT NULL GROUP BY 1),
    s AS (
      SELECT g.b, coalesce(c.n, 0) AS n
      FROM (SELECT generate_series(min(b), max(b), $1) AS b FROM c) g
      LEFT JOIN c USING (b)),
    w AS (
      SELECT b, n, array_agg(n) OVER (ORDER BY b ROWS BETWEEN %3$s PRECEDING AND 1 PRECEDING) AS prior
      FROM s),
    m AS (
      SELECT w.b, w.n, w.prior,
             (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(w.prior) x) AS med
      FROM w),
    d AS (
      SELECT m.*, (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(x - m.med)) FROM unnest(m.prior) x) AS mad
      FROM m)
    SELECT b, n,
           CASE WHEN cardinality(prior) = %3$s THEN med END,
           CASE WHEN cardinality(prior) = %3$s THEN mad END,
           CASE WHEN cardinality(prior) = %3$s THEN (n - med) / greatest(1.4826 * mad, 1) END,
           coalesce(cardinality(prior) = %3$s AND abs(n - med) / greatest(1.4826 * mad, 1) > $2, false)
    FROM d ORDER BY b $q$, t, events, baseline_buckets) USING bucket, sensitivity;
END $$;
COMMENT ON FUNCTION apivalue.volume_anomalies(regclass, text, interval, integer, float8) IS
  'events per bucket (empty buckets included) against the median and MAD of the previous baseline_buckets buckets; anomalous when |n - median| / max(1.4826 MAD, 1) > sensitivity';

-- ---------------------------------------------------------------------------
-- Checks as data.
--
-- quality_check_kinds is the registry of what a check can be.  Each kind has
-- a runner with the uniform signature
--   runner(rel regclass, params jsonb,
--          OUT observed float8, OUT details jsonb, OUT sample jsonb)
-- and a parameter schema used to validate checks when they are created:
--   {"name": {"type": "column" | "columns" | "expression" | "condition" |
--             "interval" | "number" | "integer" | "text" | "boolean",
--             "required": true, "default": <json>, "types": ["timestamptz"],
--             "min": <number or interval text>, "positive": true,
--             "description": "..."}}
-- Later SQL files add kinds with INSERT INTO apivalue.quality_check_kinds.
-- ---------------------------------------------------------------------------

CREATE TABLE apivalue.quality_check_kinds (
  kind          text PRIMARY KEY CHECK (kind ~ '^[a-z][a-z0-9_]*$'),
  runner        regprocedure NOT NULL,
  parameters    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(parameters) = 'object'),
  observed      text NOT NULL,
  description   text NOT NULL,
  validator     regprocedure,
  max_threshold float8,
  builtin       boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE apivalue.quality_check_kinds IS
  'registry of quality check kinds: runner (rel regclass, params jsonb, OUT observed float8, OUT details jsonb, OUT sample jsonb), parameter schema, what observed measures';

CREATE FUNCTION apivalue._quality_check_kind_validate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p record;
  bad text;
BEGIN
  SELECT * INTO p FROM pg_proc WHERE oid = NEW.runner;
  IF NOT (p.pronargs = 2 AND p.proargtypes[0] = 'regclass'::regtype AND p.proargtypes[1] = 'jsonb'::regtype
          AND p.proallargtypes IS NOT NULL AND cardinality(p.proallargtypes) = 5
          AND p.proallargtypes[3:5] = ARRAY['float8'::regtype, 'jsonb'::regtype, 'jsonb'::regtype]::oid[]
          AND p.proargnames[3:5] = ARRAY['observed', 'details', 'sample']) THEN
    RAISE EXCEPTION 'runner % of quality check kind "%" has the wrong signature', NEW.runner, NEW.kind
      USING ERRCODE = '42P13',
            HINT = 'A runner is (rel regclass, params jsonb, OUT observed float8, OUT details jsonb, OUT sample jsonb).';
  END IF;
  IF NEW.validator IS NOT NULL AND NOT EXISTS (
       SELECT 1 FROM pg_proc WHERE oid = NEW.validator AND pronargs = 2
         AND proargtypes[0] = 'regclass'::regtype AND proargtypes[1] = 'jsonb'::regtype) THEN
    RAISE EXCEPTION 'validator % of quality check kind "%" has the wrong signature', NEW.validator, NEW.kind
      USING ERRCODE = '42P13', HINT = 'A validator is (rel regclass, params jsonb); it raises an error for bad parameters.';
  END IF;
  SELECT string_agg(key, ', ') INTO bad
  FROM jsonb_each(NEW.parameters)
  WHERE jsonb_typeof(value) <> 'object'
     OR NOT coalesce(value->>'type', '') = ANY (ARRAY['column', 'columns', 'expression', 'condition',
                                                      'interval', 'number', 'integer', 'text', 'boolean']);
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'parameter schema of quality check kind "%" is invalid for: %', NEW.kind, bad
      USING ERRCODE = '22023';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION apivalue._quality_check_kind_validate() IS
  'internal: checks a quality check kind''s runner signature and parameter schema';
CREATE TRIGGER quality_check_kinds_validate BEFORE INSERT OR UPDATE ON apivalue.quality_check_kinds
  FOR EACH ROW EXECUTE FUNCTION apivalue._quality_check_kind_validate();

CREATE TABLE apivalue.quality_checks (
  name           text PRIMARY KEY CHECK (name <> ''),
  relation       regclass NOT NULL,
  kind           text NOT NULL REFERENCES apivalue.quality_check_kinds (kind) ON UPDATE CASCADE,
  parameters     jsonb NOT NULL DEFAULT '{}',
  warn_threshold float8,
  fail_threshold float8,
  enabled        boolean NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL DEFAULT now(),
  created_by     name NOT NULL DEFAULT current_user,
  CHECK (warn_threshold IS NOT NULL OR fail_threshold IS NOT NULL),
  CHECK (warn_threshold IS NULL OR fail_threshold IS NULL OR warn_threshold <= fail_threshold)
);
COMMENT ON TABLE apivalue.quality_checks IS
  'registered quality checks: what to check (kind, parameters) on which relation, and the warn and fail thresholds on the observed value';

CREATE SEQUENCE apivalue.quality_run_id_seq;
COMMENT ON SEQUENCE apivalue.quality_run_id_seq IS 'run ids of run_quality_checks';

CREATE TABLE apivalue.quality_results (
  run_id         bigint NOT NULL,
  check_name     text NOT NULL,
  run_at         timestamptz NOT NULL,
  status         text NOT NULL CHECK (status IN ('pass', 'warn', 'fail', 'error')),
  observed       float8,
  warn_threshold float8,
  fail_threshold float8,
  details        jsonb,
  sample         jsonb,
  duration       interval,
  PRIMARY KEY (run_id, check_name)
);
CREATE INDEX quality_results_check_idx ON apivalue.quality_results (check_name, run_id DESC);
COMMENT ON TABLE apivalue.quality_results IS
  'history of quality check runs: status pass/warn/fail/error, observed value, thresholds, details and a sample of offending rows';

SELECT pg_catalog.pg_extension_config_dump('apivalue.quality_check_kinds', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('apivalue.quality_checks', '');
SELECT pg_catalog.pg_extension_config_dump('apivalue.quality_results', '');
SELECT pg_catalog.pg_extension_config_dump('apivalue.quality_run_id_seq', '');

GRANT SELECT ON apivalue.quality_check_kinds, apivalue.quality_checks, apivalue.quality_results TO PUBLIC;

CREATE VIEW apivalue.quality_status AS
SELECT DISTINCT ON (c.name)
       c.name AS check_name, c.kind, c.relation, c.enabled,
       r.run_id, r.run_at, r.status, r.observed, r.warn_threshold, r.fail_threshold,
       r.details, r.sample
FROM apivalue.quality_checks c
LEFT JOIN apivalue.quality_results r ON r.check_name = c.name
ORDER BY c.name, r.run_id DESC NULLS LAST;
COMMENT ON VIEW apivalue.quality_status IS
  'latest result of every registered check (status NULL when it never ran)';
GRANT SELECT ON apivalue.quality_status TO PUBLIC;

-- Validates parameters against the kind's schema; returns them with defaults.
CREATE FUNCTION apivalue._quality_check_parameters(rel regclass, check_kind text, params jsonb)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
  k apivalue.quality_check_kinds;
  key text;
  spec jsonb;
  v jsonb;
  result jsonb := '{}';
  iv interval;
  num numeric;
  elem text;
BEGIN
  SELECT * INTO k FROM apivalue.quality_check_kinds WHERE kind = check_kind;
  IF params IS NULL THEN
    params := '{}';
  END IF;
  IF jsonb_typeof(params) <> 'object' THEN
    RAISE EXCEPTION 'parameters must be a JSON object, got %', params USING ERRCODE = '22023';
  END IF;
  FOR key IN SELECT jsonb_object_keys(params) ORDER BY 1 LOOP
    IF NOT k.parameters ? key THEN
      RAISE EXCEPTION 'unknown parameter "%" for quality check kind "%"', key, check_kind
        USING ERRCODE = '22023',
              HINT = format('Parameters of kind %s: %s.', check_kind,
                            (SELECT string_agg(x, ', ' ORDER BY x) FROM jsonb_object_keys(k.parameters) x));
    END IF;
  END LOOP;
  FOR key, spec IN SELECT * FROM jsonb_each(k.parameters) ORDER BY 1 LOOP
    v := params -> key;
    IF v IS NULL OR v = 'null'::jsonb THEN
      IF spec ? 'default' THEN
        v := spec -> 'default';
      ELSIF coalesce((spec ->> 'required')::boolean, false) THEN
        RAISE EXCEPTION 'quality check kind "%" needs parameter "%"', check_kind, key
          USING ERRCODE = '22023', HINT = coalesce(spec ->> 'description', '');
      ELSE
        CONTINUE;
      END IF;
    END IF;
    CASE spec ->> 'type'
    WHEN 'column' THEN
      IF jsonb_typeof(v) <> 'string' THEN
        RAISE EXCEPTION 'parameter "%" must be a column name (a JSON string), got %', key, v USING ERRCODE = '22023';
      END IF;
      PERFORM apivalue._column(rel, v #>> '{}', key,
                               CASE WHEN spec ? 'types' THEN
                                 ARRAY(SELECT t::regtype FROM jsonb_array_elements_text(spec -> 'types') t) END);
    WHEN 'columns' THEN
      IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) = 0 THEN
        RAISE EXCEPTION 'parameter "%" must be a non-empty JSON array of column names, got %', key, v USING ERRCODE = '22023';
      END IF;
      FOR elem IN SELECT jsonb_array_elements(v)::text LOOP
        IF left(elem, 1) <> '"' THEN
          RAISE EXCEPTION 'parameter "%" must list column names as JSON strings, got %', key, elem USING ERRCODE = '22023';
        END IF;
        PERFORM apivalue._column(rel, elem::jsonb #>> '{}', key);
      END LOOP;
    WHEN 'expression', 'condition' THEN
      IF jsonb_typeof(v) <> 'string' THEN
        RAISE EXCEPTION 'parameter "%" must be an SQL expression (a JSON string), got %', key, v USING ERRCODE = '22023';
      END IF;
      IF spec ->> 'type' = 'condition' THEN
        PERFORM apivalue._condition(rel, v #>> '{}', key);
      ELSE
        PERFORM apivalue._expression(rel, v #>> '{}', key);
      END IF;
    WHEN 'interval' THEN
      BEGIN
        iv := (v #>> '{}')::interval;
      EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
        RAISE EXCEPTION 'parameter "%" must be an interval, got %', key, v USING ERRCODE = '22007';
      END;
      IF spec ? 'min' AND iv < (spec ->> 'min')::interval
         OR coalesce((spec ->> 'positive')::boolean, false) AND iv <= interval '0' THEN
        RAISE EXCEPTION 'parameter "%" must be %, got "%"', key,
          CASE WHEN spec ? 'min' THEN 'at least ' || (spec ->> 'min') ELSE 'positive' END, iv
          USING ERRCODE = '22023';
      END IF;
      v := to_jsonb(iv::text);
    WHEN 'number', 'integer' THEN
      BEGIN
        num := (v #>> '{}')::numeric;
      EXCEPTION WHEN invalid_text_representation THEN
        RAISE EXCEPTION 'parameter "%" must be a number, got %', key, v USING ERRCODE = '22023';
      END;
      IF num = 'NaN'::numeric OR (spec ->> 'type' = 'integer' AND num <> trunc(num)) THEN
        RAISE EXCEPTION 'parameter "%" must be %, got %', key,
          CASE WHEN spec ->> 'type' = 'integer' THEN 'an integer' ELSE 'a number' END, v
          USING ERRCODE = '22023';
      END IF;
      IF spec ? 'min' AND num < (spec ->> 'min')::numeric
         OR coalesce((spec ->> 'positive')::boolean, false) AND num <= 0 THEN
        RAISE EXCEPTION 'parameter "%" must be %, got %', key,
          CASE WHEN spec ? 'min' THEN 'at least ' || (spec ->> 'min') ELSE 'positive' END, num
          USING ERRCODE = '22023';
      END IF;
      v := to_jsonb(num);
    WHEN 'boolean' THEN
      IF jsonb_typeof(v) <> 'boolean' THEN
        RAISE EXCEPTION 'parameter "%" must be true or false, got %', key, v USING ERRCODE = '22023';
      END IF;
    ELSE
      IF jsonb_typeof(v) <> 'string' THEN
        RAISE EXCEPTION 'parameter "%" must be a JSON string, got %', key, v USING ERRCODE = '22023';
      END IF;
    END CASE;
    result := result || jsonb_build_object(key, v);
  END LOOP;
  IF k.validator IS NOT NULL THEN
    EXECUTE format('SELECT %s($1, $2)', k.validator::oid::regproc) USING rel, result;
  END IF;
  RETURN result;
END $$;
COMMENT ON FUNCTION apivalue._quality_check_parameters(regclass, text, jsonb) IS
  'internal: validates check parameters against the kind''s schema (columns exist, intervals parse, ranges) and fills in defaults';

CREATE FUNCTION apivalue.add_quality_check(name text, relation regclass, kind text,
    parameters jsonb DEFAULT '{}', warn_threshold float8 DEFAULT NULL,
    fail_threshold float8 DEFAULT 0, enabled boolean DEFAULT true)
RETURNS apivalue.quality_checks
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  k apivalue.quality_check_kinds;
  t record;
  created apivalue.quality_checks;
BEGIN
  IF name IS NULL OR name = '' THEN
    RAISE EXCEPTION 'check name must not be NULL or empty' USING ERRCODE = '22023';
  END IF;
  IF relation IS NULL THEN
    RAISE EXCEPTION 'relation of check "%" must not be NULL', name USING ERRCODE = '22004';
  END IF;
  SELECT * INTO k FROM apivalue.quality_check_kinds qk WHERE qk.kind = add_quality_check.kind;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown quality check kind "%"', kind
      USING ERRCODE = '22023',
            HINT = format('Known kinds: %s.',
                          (SELECT string_agg(qk.kind, ', ' ORDER BY qk.kind) FROM apivalue.quality_check_kinds qk));
  END IF;
  FOR t IN SELECT * FROM (VALUES ('warn_threshold', warn_threshold), ('fail_threshold', fail_threshold)) v(n, x)
           WHERE x IS NOT NULL LOOP
    IF t.x = 'NaN'::float8 OR t.x IN ('Infinity'::float8, '-Infinity'::float8) THEN
      RAISE EXCEPTION '% must be a finite number, got %', t.n, t.x USING ERRCODE = '22023';
    END IF;
    IF t.x < 0 THEN
      RAISE EXCEPTION '% must not be negative, got %', t.n, t.x
        USING ERRCODE = '22023', DETAIL = format('Kind %s observes %s.', k.kind, k.observed);
    END IF;
    IF k.max_threshold IS NOT NULL AND t.x > k.max_threshold THEN
      RAISE EXCEPTION '% must be between 0 and %, got %', t.n, k.max_threshold, t.x
        USING ERRCODE = '22023', DETAIL = format('Kind %s observes %s.', k.kind, k.observed);
    END IF;
  END LOOP;
  IF warn_threshold IS NULL AND fail_threshold IS NULL THEN
    RAISE EXCEPTION 'check "%" needs a warn_threshold or a fail_threshold', name USING ERRCODE = '22023';
  END IF;
  IF warn_threshold > fail_threshold THEN
    RAISE EXCEPTION 'warn_threshold % is above fail_threshold %', warn_threshold, fail_threshold
      USING ERRCODE = '22023', HINT = 'A check warns when observed > warn_threshold and fails when observed > fail_threshold.';
  END IF;
  IF EXISTS (SELECT 1 FROM apivalue.quality_checks c WHERE c.name = add_quality_check.name) THEN
    RAISE EXCEPTION 'quality check "%" already exists', name
      USING ERRCODE = '42710', HINT = 'Drop it first with apivalue.drop_quality_check().';
  END IF;
  INSERT INTO apivalue.quality_checks AS c (name, relation, kind, parameters, warn_threshold, fail_threshold, enabled)
  VALUES (name, relation, kind, apivalue._quality_check_parameters(relation, kind, parameters),
          warn_threshold, fail_threshold, coalesce(enabled, true))
  RETURNING c.* INTO created;
  RETURN created;
END $$;
COMMENT ON FUNCTION apivalue.add_quality_check(text, regclass, text, jsonb, float8, float8, boolean) IS
  'registers a quality check after validating its kind, parameters (columns, intervals) and thresholds; warns when observed > warn_threshold, fails when observed > fail_threshold';

CREATE FUNCTION apivalue.drop_quality_check(name text, keep_results boolean DEFAULT true)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  DELETE FROM apivalue.quality_checks c WHERE c.name = drop_quality_check.name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'quality check "%" does not exist', name USING ERRCODE = '42704';
  END IF;
  -- With keep_results => false: exclusive against runs (see
  -- run_quality_checks), until commit.  Wait for the runs in progress, so
  -- that their rows are removed too (in READ COMMITTED the DELETE below sees
  -- them).  Under REPEATABLE READ or SERIALIZABLE the snapshot predates the
  -- results of a run we waited for, and deleting around them would leave
  -- rows of a dropped check behind: that is a serialization failure.  When
  -- the results are kept, a run's result is history like any other, and the
  -- drop waits for nothing.
  IF NOT keep_results THEN
    IF NOT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('apivalue.quality_checks'), 0) THEN
      PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('apivalue.quality_checks'), 0);
      IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'quality check "%" was run by a concurrent transaction', name
          USING ERRCODE = '40001',
                DETAIL = 'Its results are not visible to this transaction''s snapshot, so they could not be removed.',
                HINT = 'Retry the transaction.';
      END IF;
    END IF;
    DELETE FROM apivalue.quality_results r WHERE r.check_name = drop_quality_check.name;
  END IF;
  RETURN true;
END $$;
COMMENT ON FUNCTION apivalue.drop_quality_check(text, boolean) IS
  'removes a quality check (its results history stays unless keep_results is false)';

CREATE FUNCTION apivalue.run_quality_checks(name text DEFAULT NULL)
RETURNS SETOF apivalue.quality_results
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  rid bigint;
  c record;
  r record;
  st text;
  det jsonb;
  smp jsonb;
  obs float8;
  t0 timestamptz;
  e_msg text;
  e_state text;
  e_detail text;
  e_hint text;
BEGIN
  IF name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM apivalue.quality_checks q WHERE q.name = run_quality_checks.name) THEN
    RAISE EXCEPTION 'quality check "%" does not exist', name USING ERRCODE = '42704';
  END IF;
  -- Runs share one lock that drop_quality_check(keep_results => false)
  -- takes exclusively, until the end of the transaction: such a drop waits
  -- for the runs in progress (so that it removes their rows as well, and no
  -- result row of the dropped check appears afterwards), and a run waits for
  -- such an uncommitted drop, then no longer sees the dropped check (the loop
  -- below reads the checks with a new snapshot).  One lock for all checks
  -- and no row locks (a role that may only read quality_checks can run
  -- them): nothing to take in an order that could deadlock.  Under
  -- REPEATABLE READ or SERIALIZABLE the snapshot predates the drop we waited
  -- for: a serialization failure.
  IF NOT pg_catalog.pg_try_advisory_xact_lock_shared(pg_catalog.hashtext('apivalue.quality_checks'), 0) THEN
    PERFORM pg_catalog.pg_advisory_xact_lock_shared(pg_catalog.hashtext('apivalue.quality_checks'), 0);
    IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
      RAISE EXCEPTION 'quality checks were dropped by a concurrent transaction'
        USING ERRCODE = '40001',
              DETAIL = 'This transaction''s snapshot predates the drop and would still run the dropped checks.',
              HINT = 'Retry the transaction.';
    END IF;
  END IF;
  rid := nextval('apivalue.quality_run_id_seq');
  FOR c IN
    SELECT q.*, k.runner
    FROM apivalue.quality_checks q JOIN apivalue.quality_check_kinds k ON k.kind = q.kind
    WHERE CASE WHEN run_quality_checks.name IS NULL THEN q.enabled ELSE q.name = run_quality_checks.name END
    ORDER BY q.name
  LOOP
    t0 := clock_timestamp();
    obs := NULL; det := NULL; smp := NULL;
    -- Each check in its own subtransaction: an error is recorded, never fatal.
    BEGIN
      EXECUTE format('SELECT observed, details, sample FROM %s($1, $2)', c.runner::oid::regproc)
        INTO r USING c.relation, c.parameters;
      obs := r.observed; det := r.details; smp := r.sample;
      st := CASE
              WHEN obs IS NULL OR obs = 'NaN'::float8 THEN 'error'
              WHEN obs > c.fail_threshold THEN 'fail'
              WHEN obs > c.warn_threshold THEN 'warn'
              ELSE 'pass' END;
      IF st = 'error' THEN
        det := coalesce(det, '{}') || jsonb_build_object('error', 'the check observed no value (no rows?)');
      END IF;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS e_msg = MESSAGE_TEXT, e_state = RETURNED_SQLSTATE,
                              e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
      st := 'error';
      det := jsonb_strip_nulls(jsonb_build_object('error', e_msg, 'sqlstate', e_state,
                                                  'detail', nullif(e_detail, ''), 'hint', nullif(e_hint, '')));
      obs := NULL; smp := NULL;
    END;
    INSERT INTO apivalue.quality_results
      (run_id, check_name, run_at, status, observed, warn_threshold, fail_threshold, details, sample, duration)
    VALUES (rid, c.name, now(), st, obs, c.warn_threshold, c.fail_threshold, det, smp, clock_timestamp() - t0);
  END LOOP;
  IF name IS NOT NULL AND NOT FOUND THEN
    -- The loop ran nothing: the check was dropped while we waited.
    RAISE EXCEPTION 'quality check "%" does not exist', name
      USING ERRCODE = '42704', DETAIL = 'It was dropped by a concurrent transaction.';
  END IF;
  RETURN QUERY SELECT * FROM apivalue.quality_results q WHERE q.run_id = rid ORDER BY q.check_name;
END $$;
COMMENT ON FUNCTION apivalue.run_quality_checks(text) IS
  'runs every enabled check (or the named one) with the caller''s privileges, appends one row per check to quality_results and returns them; an erroring check is recorded as error and the others still run';

CREATE FUNCTION apivalue.schedule_quality_checks(cron text, name text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  job bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
    RAISE EXCEPTION 'pg_cron is not installed in this database, so quality checks cannot be scheduled'
      USING ERRCODE = '55000',
            HINT = 'Install the Debian package postgresql-15-cron, set shared_preload_libraries = ''pg_cron'' and '
                   || 'cron.database_name = (this database) in postgresql.conf, restart PostgreSQL and run CREATE EXTENSION pg_cron; '
                   || 'or call apivalue.run_quality_checks() from another scheduler.';
  END IF;
  IF cron IS NULL OR btrim(cron) = '' THEN
    RAISE EXCEPTION 'cron schedule must not be NULL or empty' USING ERRCODE = '22023',
      HINT = 'For example ''0 * * * *'' for every hour.';
  END IF;
  IF name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM apivalue.quality_checks q WHERE q.name = schedule_quality_checks.name) THEN
    RAISE EXCEPTION 'quality check "%" does not exist', name USING ERRCODE = '42704';
  END IF;
  -- Dynamic SQL: the cron schema exists only where pg_cron is installed.
  EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
    USING 'apivalue_quality' || coalesce(':' || name, ''), cron,
          format('SELECT count(*) FROM apivalue.run_quality_checks(%L)', name);
  RETURN job;
END $$;
COMMENT ON FUNCTION apivalue.schedule_quality_checks(text, text) IS
  'schedules run_quality_checks (all enabled checks, or one) with pg_cron as the calling role; job name apivalue_quality[:name]; a clear error when pg_cron is not installed';

CREATE FUNCTION apivalue.unschedule_quality_checks(name text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  ok boolean;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
    RAISE EXCEPTION 'pg_cron is not installed in this database' USING ERRCODE = '55000';
  END IF;
  EXECUTE 'SELECT cron.unschedule($1)' INTO ok USING 'apivalue_quality' || coalesce(':' || name, '');
  RETURN ok;
END $$;
COMMENT ON FUNCTION apivalue.unschedule_quality_checks(text) IS
  'removes the pg_cron job made by schedule_quality_checks';

-- ---------------------------------------------------------------------------
-- Runners of the built-in kinds.  Each returns the observed value compared
-- with the thresholds, details (jsonb) and a sample of at most 5 offending
-- rows (or items).  They run with the caller's privileges.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._quality_sample(rel regclass, cond text, order_by text, args anyarray)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
  s jsonb;
BEGIN
  EXECUTE format('SELECT jsonb_agg(to_jsonb(e)) FROM (SELECT * FROM %s WHERE %s ORDER BY %s LIMIT 5) e',
                 rel, cond, order_by)
    INTO s USING args;
  RETURN s;
END $$;
COMMENT ON FUNCTION apivalue._quality_sample(regclass, text, text, anyarray) IS
  'internal: up to 5 rows of rel matching cond (which may use $1 = args), as jsonb';

CREATE FUNCTION apivalue._quality_run_clock_skew(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  n bigint;
  devs jsonb;
  ids text[];
BEGIN
  SELECT count(*), jsonb_agg(to_jsonb(s) ORDER BY s.device) FILTER (WHERE s.rn <= 20),
         array_agg(s.device ORDER BY s.device) FILTER (WHERE s.rn <= 20)
  INTO n, devs, ids
  FROM (SELECT d.*, row_number() OVER (ORDER BY d.device) AS rn
        FROM apivalue.skewed_devices(rel, params->>'device_column', params->>'client_ts_column',
                                     params->>'sent_at_column', params->>'received_at_column',
                                     (params->>'threshold')::interval) d) s;
  observed := n;
  details := jsonb_build_object('threshold', params->>'threshold', 'flagged_devices', n,
                                'devices', coalesce(devs, '[]'));
  IF n > 0 THEN
    sample := apivalue._quality_sample(rel,
      format('%s::text = ANY ($1)', apivalue._column(rel, params->>'device_column')),
      format('%s, %s', apivalue._column(rel, params->>'device_column'),
             apivalue._column(rel, params->>'received_at_column')), ids);
  END IF;
END $$;
COMMENT ON FUNCTION apivalue._quality_run_clock_skew(regclass, jsonb) IS
  'internal: runner of check kind clock_skew';

CREATE FUNCTION apivalue._quality_run_duplicates(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  tol interval := (params->>'tolerance')::interval;
  rate record;
  keys jsonb;
  ids text[];
BEGIN
  SELECT * INTO rate FROM apivalue.duplicate_rate(rel, params->>'key', params->>'time_column', tol);
  SELECT jsonb_agg(to_jsonb(k) ORDER BY k.key_value), array_agg(k.key_value ORDER BY k.key_value)
  INTO keys, ids
  FROM (SELECT * FROM apivalue.duplicate_keys(rel, params->>'key', params->>'time_column', tol)
        ORDER BY key_value LIMIT 20) k;
  observed := rate.duplicates;
  details := jsonb_build_object('rows', rate.rows, 'duplicates', rate.duplicates,
                                'duplicate_rate', rate.duplicate_rate,
                                'offending_keys', rate.offending_keys, 'keys', coalesce(keys, '[]'))
             || CASE WHEN tol IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('tolerance', tol::text) END;
  IF rate.duplicates > 0 THEN
    sample := apivalue._quality_sample(rel,
      format('%s::text = ANY ($1)', apivalue._expression(rel, params->>'key', 'key')),
      format('%s::text, %s', apivalue._expression(rel, params->>'key', 'key'),
             apivalue._column(rel, params->>'time_column')), ids);
  END IF;
END $$;
COMMENT ON FUNCTION apivalue._quality_run_duplicates(regclass, jsonb) IS
  'internal: runner of check kinds exact_duplicate and near_duplicate';

CREATE FUNCTION apivalue._quality_run_sequence_gap(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  n bigint;
  missing bigint;
  devs jsonb;
  ids text[];
  ranges int8multirange[];
  dcol text := apivalue._column(rel, params->>'device_column');
  scol text := apivalue._column(rel, params->>'seq_column');
BEGIN
  SELECT count(*), coalesce(sum(g.missing), 0),
         jsonb_agg(jsonb_build_object('device', g.device, 'received', g.received, 'expected', g.expected,
                                      'missing', g.missing, 'missing_ranges', g.missing_ranges::text)
                   ORDER BY g.device) FILTER (WHERE g.rn <= 20),
         array_agg(g.device ORDER BY g.device) FILTER (WHERE g.rn <= 20),
         array_agg(g.missing_ranges ORDER BY g.device) FILTER (WHERE g.rn <= 20)
  INTO n, missing, devs, ids, ranges
  FROM (SELECT d.*, row_number() OVER (ORDER BY d.device) AS rn
        FROM apivalue.device_sequence_gaps(rel, params->>'device_column', params->>'seq_column') d) g;
  observed := missing;
  details := jsonb_build_object('devices_with_gaps', n, 'missing', missing, 'devices', coalesce(devs, '[]'));
  IF n > 0 THEN
    -- The last event before each hole.
    EXECUTE format($q$
      SELECT jsonb_agg(to_jsonb(e)) FROM (
        SELECT t.* FROM %1$s t
        JOIN unnest($1, $2) AS g(device, ranges) ON g.device = t.%2$s::text
        WHERE g.ranges @> (t.%3$s::bigint + 1)
        ORDER BY t.%2$s, t.%3$s LIMIT 5) e $q$, rel, dcol, scol)
      INTO sample USING ids, ranges;
  END IF;
END $$;
COMMENT ON FUNCTION apivalue._quality_run_sequence_gap(regclass, jsonb) IS
  'internal: runner of check kind sequence_gap';

CREATE FUNCTION apivalue._quality_run_dead_time(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  n bigint;
  total interval;
  longest interval;
  periods jsonb;
BEGIN
  SELECT count(*), sum(p.dead_time), max(p.gap),
         jsonb_agg(to_jsonb(p) ORDER BY p.source, p.gap_start) FILTER (WHERE p.rn <= 20)
  INTO n, total, longest, periods
  FROM (SELECT d.*, row_number() OVER (ORDER BY d.source, d.gap_start) AS rn
        FROM apivalue.dead_periods(rel, params->>'time_column', (params->>'max_gap')::interval,
                                   params->>'source_column') d) p;
  observed := n;
  details := jsonb_build_object('max_gap', params->>'max_gap', 'gaps', n, 'dead_time', total::text,
                                'longest_gap', longest::text, 'periods', coalesce(periods, '[]'));
  sample := (SELECT jsonb_agg(x) FROM (SELECT x FROM jsonb_array_elements(periods) x LIMIT 5) s);
END $$;
COMMENT ON FUNCTION apivalue._quality_run_dead_time(regclass, jsonb) IS
  'internal: runner of check kind dead_time';

CREATE FUNCTION apivalue._quality_run_null_rate(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  cols text[] := ARRAY(SELECT jsonb_array_elements_text(params->'columns'));
  rates jsonb;
BEGIN
  SELECT max(r.null_rate), jsonb_agg(to_jsonb(r) ORDER BY r.column_name)
  INTO observed, rates
  FROM apivalue.null_rates(rel, cols) r;
  observed := coalesce(observed, 0);
  details := jsonb_build_object('columns', rates);
  IF observed > 0 THEN
    sample := apivalue._quality_sample(rel,
      (SELECT string_agg(apivalue._column(rel, c) || ' IS NULL', ' OR ') FROM unnest(cols) c)
        , '1', NULL::text[]);
  END IF;
END $$;
COMMENT ON FUNCTION apivalue._quality_run_null_rate(regclass, jsonb) IS
  'internal: runner of check kind null_rate';

CREATE FUNCTION apivalue._quality_run_volume_anomaly(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  n bigint;
  buckets jsonb;
BEGIN
  SELECT count(*) FILTER (WHERE v.anomalous),
         jsonb_agg(to_jsonb(v) ORDER BY v.bucket_start) FILTER (WHERE v.anomalous)
  INTO n, buckets
  FROM apivalue.volume_anomalies(rel, params->>'time_column', (params->>'bucket')::interval,
                                 (params->>'baseline_buckets')::integer,
                                 (params->>'sensitivity')::float8) v;
  observed := n;
  details := jsonb_build_object('bucket', params->>'bucket', 'anomalous_buckets', n,
                                'buckets', coalesce(buckets, '[]'));
  sample := (SELECT jsonb_agg(x) FROM (SELECT x FROM jsonb_array_elements(buckets) x LIMIT 5) s);
END $$;
COMMENT ON FUNCTION apivalue._quality_run_volume_anomaly(regclass, jsonb) IS
  'internal: runner of check kind volume_anomaly';

CREATE FUNCTION apivalue._quality_run_freshness(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  newest timestamptz;
BEGIN
  EXECUTE format('SELECT max(%s)::timestamptz FROM %s',
                 apivalue._column(rel, params->>'time_column'), rel) INTO newest;
  observed := extract(epoch FROM now() - newest);
  details := jsonb_build_object('newest', newest, 'age', (now() - newest)::text);
END $$;
COMMENT ON FUNCTION apivalue._quality_run_freshness(regclass, jsonb) IS
  'internal: runner of check kind freshness';

INSERT INTO apivalue.quality_check_kinds (kind, runner, parameters, observed, description, max_threshold, builtin) VALUES
('clock_skew', 'apivalue._quality_run_clock_skew(regclass,jsonb)',
 '{"device_column": {"type": "column", "required": true},
   "client_ts_column": {"type": "column", "required": true, "types": ["timestamptz"]},
   "sent_at_column": {"type": "column", "required": true, "types": ["timestamptz"]},
   "received_at_column": {"type": "column", "required": true, "types": ["timestamptz"]},
   "threshold": {"type": "interval", "default": "5 minutes", "min": "0",
                 "description": "a device is flagged when |median(sent_at - received_at)| exceeds this"}}',
 'devices whose median clock offset exceeds threshold',
 'devices with skewed clocks (skewed_devices)', NULL, true),
('exact_duplicate', 'apivalue._quality_run_duplicates(regclass,jsonb)',
 '{"key": {"type": "expression", "required": true, "description": "the event id (a column or expression)"},
   "time_column": {"type": "column", "required": true, "types": ["timestamptz", "timestamp"]}}',
 'rows repeating an earlier row''s key (rows - distinct keys)',
 'events with the same key more than once (duplicate_keys)', NULL, true),
('near_duplicate', 'apivalue._quality_run_duplicates(regclass,jsonb)',
 '{"key": {"type": "expression", "required": true, "description": "the fingerprint, e.g. user_id || event || md5(payload::text)"},
   "time_column": {"type": "column", "required": true, "types": ["timestamptz", "timestamp"]},
   "tolerance": {"type": "interval", "required": true, "min": "0"}}',
 'events repeating an event of the same fingerprint at most tolerance earlier',
 'near duplicates by fingerprint within a tolerance (near_duplicate_count)', NULL, true),
('sequence_gap', 'apivalue._quality_run_sequence_gap(regclass,jsonb)',
 '{"device_column": {"type": "column", "required": true},
   "seq_column": {"type": "column", "required": true, "types": ["bigint", "integer", "smallint"]}}',
 'sequence numbers missing between each device''s min and max',
 'lost events by per-device sequence numbers (device_sequence_gaps)', NULL, true),
('dead_time', 'apivalue._quality_run_dead_time(regclass,jsonb)',
 '{"time_column": {"type": "column", "required": true, "types": ["timestamptz"]},
   "max_gap": {"type": "interval", "required": true, "min": "0"},
   "source_column": {"type": "column"}}',
 'silences longer than max_gap (per source when given)',
 'periods without events (dead_periods)', NULL, true),
('null_rate', 'apivalue._quality_run_null_rate(regclass,jsonb)',
 '{"columns": {"type": "columns", "required": true, "description": "required columns"}}',
 'the highest NULL share among the columns (0 to 1)',
 'NULLs in required columns (null_rates)', 1, true),
('volume_anomaly', 'apivalue._quality_run_volume_anomaly(regclass,jsonb)',
 '{"time_column": {"type": "column", "required": true, "types": ["timestamptz"]},
   "bucket": {"type": "interval", "default": "1 hour", "positive": true},
   "baseline_buckets": {"type": "integer", "default": 24, "min": 3},
   "sensitivity": {"type": "number", "default": 3.5, "positive": true}}',
 'buckets whose event count is far from the trailing median (robust z-score above sensitivity)',
 'volume anomalies per time bucket (volume_anomalies)', NULL, true),
('freshness', 'apivalue._quality_run_freshness(regclass,jsonb)',
 '{"time_column": {"type": "column", "required": true, "types": ["timestamptz", "timestamp"]}}',
 'seconds since the newest event',
 'age of the newest event', NULL, true);
-- ===========================================================================
-- Schema drift and sampling bias (SPEC.md section 6b): the shape of jsonb
-- payloads and how it changes, and loss of events per client segment, as
-- functions and as quality check kinds.  C in src/jsonb_shape.c; the loss
-- per device reuses apivalue.sequence_summary (sql/quality.sql).
-- Manual: README.md, "Schema drift and sampling bias".
-- ===========================================================================

-- ---------------------------------------------------------------------------
-- jsonb_shape: state type, aggregates
-- ---------------------------------------------------------------------------

-- The state is internal (a trie of key paths in the aggregate context, see
-- src/jsonb_shape.c) with serialize/deserialize for parallel workers.  Its
-- two-step form for engines that cannot ship internal states (Citus): the
-- jsonb that jsonb_shape returns, merged exactly by jsonb_shape_merge.
CREATE FUNCTION apivalue._jsonb_shape_accum(internal, jsonb)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_jsonb_shape_accum'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._jsonb_shape_accum(internal, jsonb) IS
  'internal: transition function of jsonb_shape(jsonb)';
CREATE FUNCTION apivalue._jsonb_shape_accum(internal, jsonb, integer)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_jsonb_shape_accum'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._jsonb_shape_accum(internal, jsonb, integer) IS
  'internal: transition function of jsonb_shape(jsonb, integer)';
CREATE FUNCTION apivalue._jsonb_shape_merge_accum(internal, jsonb)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_jsonb_shape_merge_accum'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._jsonb_shape_merge_accum(internal, jsonb) IS
  'internal: transition function of jsonb_shape_merge';
CREATE FUNCTION apivalue._jsonb_shape_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_jsonb_shape_combine'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._jsonb_shape_combine(internal, internal) IS
  'internal: combine function of jsonb_shape and jsonb_shape_merge (adds counts: exact)';
CREATE FUNCTION apivalue._jsonb_shape_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_jsonb_shape_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._jsonb_shape_serialize(internal) IS
  'internal: serialize function of jsonb_shape and jsonb_shape_merge (versioned flat form)';
CREATE FUNCTION apivalue._jsonb_shape_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_jsonb_shape_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._jsonb_shape_deserialize(bytea, internal) IS
  'internal: deserialize function of jsonb_shape and jsonb_shape_merge (checks the bytes)';
CREATE FUNCTION apivalue._jsonb_shape_final(internal)
RETURNS jsonb AS 'MODULE_PATHNAME', 'apivalue_jsonb_shape_final'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._jsonb_shape_final(internal) IS
  'internal: final function of jsonb_shape and jsonb_shape_merge (the shape as jsonb)';

CREATE AGGREGATE apivalue.jsonb_shape(payload jsonb) (
  SFUNC = apivalue._jsonb_shape_accum, STYPE = internal, SSPACE = 4096,
  COMBINEFUNC = apivalue._jsonb_shape_combine,
  SERIALFUNC = apivalue._jsonb_shape_serialize, DESERIALFUNC = apivalue._jsonb_shape_deserialize,
  FINALFUNC = apivalue._jsonb_shape_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.jsonb_shape(jsonb) IS
  'shape of jsonb payloads, 3 levels deep: {"_rows": n, "a.b": {"rows": k, "<json type>": count, ...}}; NULL payloads skipped';

CREATE AGGREGATE apivalue.jsonb_shape(payload jsonb, max_depth integer) (
  SFUNC = apivalue._jsonb_shape_accum, STYPE = internal, SSPACE = 4096,
  COMBINEFUNC = apivalue._jsonb_shape_combine,
  SERIALFUNC = apivalue._jsonb_shape_serialize, DESERIALFUNC = apivalue._jsonb_shape_deserialize,
  FINALFUNC = apivalue._jsonb_shape_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.jsonb_shape(jsonb, integer) IS
  'shape of jsonb payloads down to max_depth levels of nested objects (1 = top-level keys only); NULL payloads skipped';

CREATE AGGREGATE apivalue.jsonb_shape_merge(shape jsonb) (
  SFUNC = apivalue._jsonb_shape_merge_accum, STYPE = internal, SSPACE = 4096,
  COMBINEFUNC = apivalue._jsonb_shape_combine,
  SERIALFUNC = apivalue._jsonb_shape_serialize, DESERIALFUNC = apivalue._jsonb_shape_deserialize,
  FINALFUNC = apivalue._jsonb_shape_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.jsonb_shape_merge(jsonb) IS
  'merges shapes made by jsonb_shape exactly (adds row and type counts per key path): rollups of stored shapes, and the second step of jsonb_shape on Citus';

CREATE FUNCTION apivalue._normal_upper_tail(z float8) RETURNS float8
  AS 'MODULE_PATHNAME', 'apivalue_drift_normal_upper_tail' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._normal_upper_tail(float8) IS
  'internal: P(Z > z) for a standard normal Z (0.5 erfc(z / sqrt 2))';

-- ---------------------------------------------------------------------------
-- schema_drift
-- ---------------------------------------------------------------------------

-- The work of schema_drift, with an optional lower time bound (the trailing
-- window of the check kind).  One scan: one shape per (group, side).
CREATE FUNCTION apivalue._schema_drift(events regclass, payload_column text, time_column text,
    split_at timestamptz, group_column text, min_change float8, since timestamptz)
RETURNS TABLE (group_value text, key_path text, change text, before_share float8,
               after_share float8, before_types jsonb, after_types jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  p text := apivalue._column(events, payload_column, 'payload_column', ARRAY['jsonb'::regtype]);
  t text := apivalue._column(events, time_column, 'time_column',
                             ARRAY['timestamptz'::regtype, 'timestamp'::regtype]);
  g text := CASE WHEN group_column IS NULL THEN 'NULL::text'
                 ELSE apivalue._column(events, group_column, 'group_column') || '::text' END;
BEGIN
  IF split_at IS NULL THEN
    RAISE EXCEPTION 'split_at must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF NOT isfinite(split_at) OR NOT isfinite(coalesce(since, '2000-01-01')) THEN
    RAISE EXCEPTION 'split_at must be finite, got "%"', CASE WHEN isfinite(split_at) THEN since ELSE split_at END
      USING ERRCODE = '22008', HINT = 'Pass the time the new version shipped.';
  END IF;
  IF min_change IS NULL OR NOT (min_change >= 0 AND min_change <= 1) THEN
    RAISE EXCEPTION 'min_change must be between 0 and 1, got %', coalesce(min_change::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'It is a share of rows: 0.05 ignores moves of less than 5 points.';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH s AS (
      SELECT %1$s AS g, %2$s >= $1 AS after, apivalue.jsonb_shape(%3$s) AS shape
      FROM %4$s
      WHERE %2$s IS NOT NULL AND ($3::timestamptz IS NULL OR %2$s >= $3::timestamptz)
      GROUP BY 1, 2),
    pairs AS (
      SELECT b.g, b.shape AS bs, a.shape AS fs,
             (b.shape ->> '_rows')::float8 AS bn, (a.shape ->> '_rows')::float8 AS an
      FROM s b JOIN s a ON a.g IS NOT DISTINCT FROM b.g AND a.after AND NOT b.after
      WHERE (b.shape ->> '_rows')::bigint > 0 AND (a.shape ->> '_rows')::bigint > 0),
    k AS (
      SELECT pr.g, x.path, pr.bn, pr.an,
             coalesce((pr.bs -> x.path ->> 'rows')::float8, 0) AS br,
             coalesce((pr.fs -> x.path ->> 'rows')::float8, 0) AS ar,
             coalesce(pr.bs -> x.path, '{}') - 'rows' AS bt,
             coalesce(pr.fs -> x.path, '{}') - 'rows' AS ft
      FROM pairs pr,
           LATERAL (SELECT jsonb_object_keys(pr.bs) UNION SELECT jsonb_object_keys(pr.fs)) x(path)
      WHERE x.path <> '_rows'),
    c AS (
      SELECT k.*, k.br / k.bn AS bsh, k.ar / k.an AS ash,
             k.br > 0 AND k.ar > 0 AND EXISTS (
               SELECT 1
               FROM (SELECT jsonb_object_keys(k.bt) UNION SELECT jsonb_object_keys(k.ft)) ty(ty),
                    LATERAL (SELECT abs(coalesce((k.bt ->> ty.ty)::float8, 0) / k.br
                                        - coalesce((k.ft ->> ty.ty)::float8, 0) / k.ar) AS d) m
               WHERE m.d >= $2 AND m.d > 0) AS types_moved
      FROM k),
    r AS (
      SELECT c.*,
             CASE
               WHEN c.br = 0 THEN CASE WHEN c.ash >= $2 THEN 'added' END
               WHEN c.ar = 0 THEN CASE WHEN c.bsh >= $2 THEN 'removed' END
               WHEN c.types_moved THEN 'type_changed'
               WHEN abs(c.ash - c.bsh) >= $2 AND c.ash <> c.bsh THEN 'presence_changed'
             END AS change
      FROM c)
    SELECT r.g, r.path, r.change, r.bsh, r.ash, r.bt, r.ft
    FROM r WHERE r.change IS NOT NULL
    ORDER BY r.g COLLATE "C" NULLS FIRST, r.path COLLATE "C" $q$, g, t, p, events)
    USING split_at, min_change, since;
END $$;
COMMENT ON FUNCTION apivalue._schema_drift(regclass, text, text, timestamptz, text, float8, timestamptz) IS
  'internal: schema_drift over rows with time >= since (all rows when since is NULL)';

CREATE FUNCTION apivalue.schema_drift(events regclass, payload_column text, time_column text,
    split_at timestamptz, group_column text DEFAULT NULL, min_change float8 DEFAULT 0.05)
RETURNS TABLE (group_value text, key_path text, change text, before_share float8,
               after_share float8, before_types jsonb, after_types jsonb)
LANGUAGE sql STABLE AS $$
  SELECT * FROM apivalue._schema_drift(events, payload_column, time_column, split_at,
                                       group_column, min_change, NULL)
$$;
COMMENT ON FUNCTION apivalue.schema_drift(regclass, text, text, timestamptz, text, float8) IS
  'key paths of a jsonb payload whose shape changed at split_at, per group: added, removed, type_changed (the share of a JSON type moved by min_change or more) or presence_changed (the share of rows carrying it moved by min_change or more)';

-- ---------------------------------------------------------------------------
-- delivery_by_segment
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._delivery_by_segment(events regclass, device_column text, seq_column text,
    segment_column text, time_column text, since timestamptz)
RETURNS TABLE (segment text, devices bigint, received bigint, expected bigint, loss_rate float8,
               p_value float8, flagged boolean)
LANGUAGE plpgsql STABLE
-- One sequence summary per device: with hash aggregation, PostgreSQL 15
-- re-measures every group's memory each time it adds a group (quadratic in
-- the number of devices); sorting keeps one group in memory at a time.
SET enable_hashagg = off
AS $$
DECLARE
  d text := apivalue._column(events, device_column, 'device_column');
  s text := apivalue._column(events, seq_column, 'seq_column',
                             ARRAY['bigint'::regtype, 'integer'::regtype, 'smallint'::regtype]);
  g text := apivalue._column(events, segment_column, 'segment_column');
  w text := '';
BEGIN
  IF since IS NOT NULL THEN
    IF NOT isfinite(since) THEN
      RAISE EXCEPTION 'since must be finite, got "%"', since USING ERRCODE = '22008';
    END IF;
    w := format(' AND %s >= $1', apivalue._column(events, time_column, 'time_column',
                                                  ARRAY['timestamptz'::regtype, 'timestamp'::regtype]));
  END IF;
  -- Per (segment, device): the sequence summary of the quality module gives
  -- expected = max - min + 1 and received = distinct numbers.  Per segment,
  -- a one-sided two-proportion z-test of its loss rate against all the
  -- other segments' with device-clustered (sandwich) standard errors: the
  -- events of one device are not independent trials, so a single device
  -- that lost a burst is one incident, not hundreds of losses.  For a ratio
  -- p = sum(lost) / sum(expected) over m devices,
  --   var(p) = m / (m - 1) * sum((lost_d - p * expected_d)^2) / sum(expected)^2,
  -- expanded into sums so that "all the others" is the total minus the
  -- segment.  Either side with fewer than 2 devices cannot be tested.
  RETURN QUERY EXECUTE format($q$
    WITH d AS (
      SELECT %1$s::text AS seg, apivalue.sequence_summary(%2$s::bigint) AS sm
      FROM %4$s
      WHERE %3$s IS NOT NULL AND %2$s IS NOT NULL%5$s
      GROUP BY %1$s, %3$s),
    c AS (
      SELECT d.seg, apivalue.received_count(d.sm) AS r, apivalue.expected_count(d.sm) AS e
      FROM d),
    g AS (
      SELECT c.seg, count(*) AS m, sum(c.r)::bigint AS received, sum(c.e)::bigint AS expected,
             sum(c.e - c.r)::numeric AS l, sum((c.e - c.r)::numeric * (c.e - c.r)) AS l2,
             sum((c.e - c.r)::numeric * c.e) AS le, sum(c.e::numeric * c.e) AS e2
      FROM c GROUP BY c.seg),
    t AS (
      SELECT g.*,
             sum(g.m) OVER () - g.m AS m_r, sum(g.expected) OVER () - g.expected AS e_r,
             sum(g.l) OVER () - g.l AS l_r, sum(g.l2) OVER () - g.l2 AS l2_r,
             sum(g.le) OVER () - g.le AS le_r, sum(g.e2) OVER () - g.e2 AS e2_r
      FROM g),
    v AS (
      SELECT t.*, t.l::float8 / t.expected AS p_i,
             CASE WHEN t.e_r > 0 THEN t.l_r::float8 / t.e_r END AS p_r
      FROM t),
    w AS (
      SELECT v.*,
             CASE WHEN v.m >= 2 AND v.m_r >= 2 THEN
               v.m::float8 / (v.m - 1)
                 * greatest(v.l2::float8 - 2 * v.p_i * v.le::float8 + v.p_i * v.p_i * v.e2::float8, 0)
                 / (v.expected::float8 * v.expected)
               + v.m_r::float8 / (v.m_r - 1)
                 * greatest(v.l2_r::float8 - 2 * v.p_r * v.le_r::float8 + v.p_r * v.p_r * v.e2_r::float8, 0)
                 / (v.e_r::float8 * v.e_r)
             END AS var
      FROM v)
    SELECT w.seg, w.m, w.received, w.expected, w.p_i,
           pv.p, coalesce(pv.p < 0.01, false)
    FROM w, LATERAL (
      SELECT CASE WHEN w.var IS NULL THEN NULL
                  WHEN w.var = 0 THEN CASE WHEN w.p_i > w.p_r THEN 0.0::float8 ELSE 1.0::float8 END
                  ELSE apivalue._normal_upper_tail((w.p_i - w.p_r) / sqrt(w.var)) END AS p) pv
    ORDER BY w.seg COLLATE "C" NULLS FIRST $q$, g, s, d, events, w)
    USING since;
END $$;
COMMENT ON FUNCTION apivalue._delivery_by_segment(regclass, text, text, text, text, timestamptz) IS
  'internal: delivery_by_segment over rows with time >= since (all rows when since is NULL)';

CREATE FUNCTION apivalue.delivery_by_segment(events regclass, device_column text, seq_column text,
    segment_column text)
RETURNS TABLE (segment text, devices bigint, received bigint, expected bigint, loss_rate float8,
               p_value float8, flagged boolean)
LANGUAGE sql STABLE AS $$
  SELECT * FROM apivalue._delivery_by_segment(events, device_column, seq_column, segment_column,
                                              NULL, NULL)
$$;
COMMENT ON FUNCTION apivalue.delivery_by_segment(regclass, text, text, text) IS
  'events each segment should have delivered (per-device sequence ranges) against those received; flagged when its loss rate is significantly above the other segments'' (one-sided two-proportion z-test with device-clustered standard errors, p < 0.01; NULL p_value when either side has fewer than 2 devices)';

-- ---------------------------------------------------------------------------
-- Check kinds schema_drift and delivery_bias (registry: sql/quality.sql)
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._quality_validate_schema_drift(rel regclass, params jsonb)
RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF (params ->> 'min_change')::float8 > 1 THEN
    RAISE EXCEPTION 'parameter "min_change" must be between 0 and 1, got %', params ->> 'min_change'
      USING ERRCODE = '22023';
  END IF;
END $$;
COMMENT ON FUNCTION apivalue._quality_validate_schema_drift(regclass, jsonb) IS
  'internal: validator of check kind schema_drift';

CREATE FUNCTION apivalue._quality_run_schema_drift(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  newest timestamptz;
  split timestamptz;
  since timestamptz;
  n bigint;
  changes jsonb;
  keys jsonb;
BEGIN
  -- Columns are checked even when there is nothing to compare.
  PERFORM apivalue._column(rel, params ->> 'payload_column', 'payload_column', ARRAY['jsonb'::regtype]);
  IF params ? 'group_column' THEN
    PERFORM apivalue._column(rel, params ->> 'group_column', 'group_column');
  END IF;
  EXECUTE format('SELECT max(%s)::timestamptz FROM %s',
                 apivalue._column(rel, params ->> 'time_column'), rel) INTO newest;
  details := jsonb_build_object('window', params ->> 'window', 'baseline', params ->> 'baseline',
                                'newest', newest);
  IF newest IS NULL THEN
    observed := 0;
    details := details || jsonb_build_object('changes_found', 0, 'changes', '[]'::jsonb, 'keys', '[]'::jsonb);
    RETURN;
  END IF;
  split := newest - (params ->> 'window')::interval;
  since := split - (params ->> 'baseline')::interval;
  SELECT count(*),
         jsonb_agg(to_jsonb(d) - 'rn' ORDER BY d.rn) FILTER (WHERE d.rn <= 50),
         jsonb_agg(DISTINCT jsonb_build_object('group_value', d.group_value, 'key_path', d.key_path,
                                               'change', d.change))
  INTO n, changes, keys
  FROM (SELECT x.*, row_number() OVER (ORDER BY x.group_value COLLATE "C" NULLS FIRST,
                                                x.key_path COLLATE "C") AS rn
        FROM apivalue._schema_drift(rel, params ->> 'payload_column', params ->> 'time_column', split,
                                    params ->> 'group_column', (params ->> 'min_change')::float8,
                                    since) x) d;
  observed := n;
  details := details || jsonb_build_object('split_at', split, 'since', since, 'changes_found', n,
                                           'keys', coalesce(keys, '[]'), 'changes', coalesce(changes, '[]'));
  sample := (SELECT jsonb_agg(x) FROM (SELECT x FROM jsonb_array_elements(changes) x LIMIT 5) s);
END $$;
COMMENT ON FUNCTION apivalue._quality_run_schema_drift(regclass, jsonb) IS
  'internal: runner of check kind schema_drift (the trailing window against the baseline before it)';

CREATE FUNCTION apivalue._quality_validate_delivery_bias(rel regclass, params jsonb)
RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF (params ? 'window') <> (params ? 'time_column') THEN
    RAISE EXCEPTION 'parameters "window" and "time_column" of check kind delivery_bias go together'
      USING ERRCODE = '22023',
            HINT = 'Give both to look at the trailing window only, or neither for all events.';
  END IF;
END $$;
COMMENT ON FUNCTION apivalue._quality_validate_delivery_bias(regclass, jsonb) IS
  'internal: validator of check kind delivery_bias';

CREATE FUNCTION apivalue._quality_run_delivery_bias(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  since timestamptz;
  n bigint;
  flagged jsonb;
  names text[];
  segs jsonb;
BEGIN
  IF params ? 'window' THEN
    EXECUTE format('SELECT max(%s)::timestamptz FROM %s',
                   apivalue._column(rel, params ->> 'time_column'), rel) INTO since;
    since := coalesce(since - (params ->> 'window')::interval, '-infinity');
    IF NOT isfinite(since) THEN
      since := NULL;
    END IF;
  END IF;
  SELECT count(*) FILTER (WHERE s.flagged),
         jsonb_agg(to_jsonb(s) ORDER BY s.segment COLLATE "C" NULLS FIRST) FILTER (WHERE s.flagged),
         array_agg(s.segment ORDER BY s.segment COLLATE "C" NULLS FIRST) FILTER (WHERE s.flagged),
         jsonb_agg(to_jsonb(s) ORDER BY s.segment COLLATE "C" NULLS FIRST)
  INTO n, flagged, names, segs
  FROM apivalue._delivery_by_segment(rel, params ->> 'device_column', params ->> 'seq_column',
                                     params ->> 'segment_column', params ->> 'time_column', since) s;
  observed := n;
  details := jsonb_build_object('flagged_segments', n, 'flagged', coalesce(flagged, '[]'),
                                'segments', coalesce(segs, '[]'))
             || CASE WHEN since IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('since', since) END;
  IF n > 0 THEN
    sample := apivalue._quality_sample(rel,
      format('%s::text = ANY ($1)', apivalue._column(rel, params ->> 'segment_column')),
      format('%s, %s', apivalue._column(rel, params ->> 'device_column'),
             apivalue._column(rel, params ->> 'seq_column')), names);
  END IF;
END $$;
COMMENT ON FUNCTION apivalue._quality_run_delivery_bias(regclass, jsonb) IS
  'internal: runner of check kind delivery_bias';

INSERT INTO apivalue.quality_check_kinds (kind, runner, parameters, observed, description, validator, max_threshold, builtin) VALUES
('schema_drift', 'apivalue._quality_run_schema_drift(regclass,jsonb)',
 '{"payload_column": {"type": "column", "required": true, "types": ["jsonb"]},
   "time_column": {"type": "column", "required": true, "types": ["timestamptz", "timestamp"],
                   "description": "preferably the server clock (received_at): the window ends at its newest value"},
   "group_column": {"type": "column", "description": "compare shapes per value of this column (event name, api_version)"},
   "window": {"type": "interval", "default": "1 day", "positive": true,
              "description": "the trailing window: events newer than (newest - window)"},
   "baseline": {"type": "interval", "default": "7 days", "positive": true,
                "description": "the period before the window its shape is compared with"},
   "min_change": {"type": "number", "default": 0.05, "min": 0,
                  "description": "smallest move of a presence or type share that is reported (0 to 1)"}}',
 'key paths whose shape changed (added, removed, type_changed, presence_changed) in the trailing window',
 'schema drift of a jsonb payload: trailing window against the baseline before it (schema_drift)',
 'apivalue._quality_validate_schema_drift(regclass,jsonb)', NULL, true),
('delivery_bias', 'apivalue._quality_run_delivery_bias(regclass,jsonb)',
 '{"device_column": {"type": "column", "required": true},
   "seq_column": {"type": "column", "required": true, "types": ["bigint", "integer", "smallint"]},
   "segment_column": {"type": "column", "required": true,
                      "description": "the client segment: SDK version, platform, tenant"},
   "time_column": {"type": "column", "types": ["timestamptz", "timestamp"]},
   "window": {"type": "interval", "positive": true,
              "description": "with time_column: only events newer than (newest - window)"}}',
 'segments losing significantly more events than the others (p < 0.01)',
 'sampling bias: event loss per client segment from sequence numbers (delivery_by_segment)',
 'apivalue._quality_validate_delivery_bias(regclass,jsonb)', NULL, true);
-- apivalue install script: metric catalog and lineage (SPEC section 7).
-- Part of the files concatenated into apivalue--<version>.sql (see Makefile).
--
-- A metric is a view or materialized view plus metadata.  Everything about
-- where its numbers come from (definition SQL, source tables and columns) is
-- read from PostgreSQL's own catalogs when queried, so it cannot drift.
-- Writes go only through the SECURITY DEFINER functions below; reads go
-- through row-level security that shows a metric only to roles that can
-- SELECT its definition.


------------------------------------------------------------------------------
-- Who is calling
------------------------------------------------------------------------------

CREATE FUNCTION apivalue.session_role()
RETURNS regrole
AS 'MODULE_PATHNAME', 'apivalue_outer_role'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.session_role() IS
  'The role the session acts as (SET ROLE or session user); unlike current_user it is unchanged inside SECURITY DEFINER functions';

-- pg_get_viewdef qualifies names only when they are not visible on the
-- search_path; pinning it makes the text the same for every caller, so it can
-- be compared with the text saved at definition time.
CREATE FUNCTION apivalue.view_sql(rel regclass)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.pg_get_viewdef(rel::oid, true) $$;

COMMENT ON FUNCTION apivalue.view_sql(regclass) IS
  'Definition SQL of a view or materialized view with schema-qualified names, independent of the caller''s search_path';

------------------------------------------------------------------------------
-- Catalog tables
------------------------------------------------------------------------------

CREATE TABLE apivalue.metrics (
  name           text PRIMARY KEY
                 CHECK (name = btrim(name) AND name <> ''),
  version        integer NOT NULL CHECK (version >= 1),
  definition     regclass NOT NULL,
  description    text NOT NULL,
  owner          text NOT NULL,
  unit           text,
  grain          text,
  tags           text[] NOT NULL DEFAULT '{}',
  counts_events  text,
  definition_sql text NOT NULL,
  defined_by     text NOT NULL,
  session_user_name text NOT NULL,
  defined_at     timestamptz NOT NULL
);

COMMENT ON TABLE apivalue.metrics IS
  'Current version of every metric: a view or materialized view plus metadata. Write through apivalue.define_metric / apivalue.drop_metric';
COMMENT ON COLUMN apivalue.metrics.definition IS
  'The view or materialized view that computes the metric';
COMMENT ON COLUMN apivalue.metrics.definition_sql IS
  'pg_get_viewdef of the definition when this version was defined (the live SQL is in apivalue.metric_catalog)';
COMMENT ON COLUMN apivalue.metrics.defined_by IS
  'Role that defined this version (the session''s role, not the function owner)';
COMMENT ON COLUMN apivalue.metrics.session_user_name IS
  'session_user when this version was defined';

CREATE TABLE apivalue.metric_history (
  name           text NOT NULL,
  version        integer NOT NULL,
  action         text NOT NULL CHECK (action IN ('define', 'redefine', 'drop', 'source_dropped')),
  definition_name text NOT NULL,
  definition_sql text,
  description    text,
  owner          text,
  unit           text,
  grain          text,
  tags           text[],
  counts_events  text,
  changed_by     text NOT NULL,
  session_user_name text NOT NULL,
  changed_at     timestamptz NOT NULL,
  PRIMARY KEY (name, version, action)
);

COMMENT ON TABLE apivalue.metric_history IS
  'Every version of every metric, append-only: define/redefine rows carry the definition as it was, drop rows say who removed it and when';
COMMENT ON COLUMN apivalue.metric_history.definition_name IS
  'Schema-qualified name of the definition relation at the time of the change';
COMMENT ON COLUMN apivalue.metric_history.action IS
  'define (first version, or first after a drop), redefine (a later version), drop (apivalue.drop_metric), source_dropped (the definition was dropped by DDL)';

SELECT pg_catalog.pg_extension_config_dump('apivalue.metrics', '');
SELECT pg_catalog.pg_extension_config_dump('apivalue.metric_history', '');

-- Reads: everyone may query, but rows are filtered to metrics whose
-- definition the reader can SELECT.  Writes: only the definer functions.
ALTER TABLE apivalue.metrics ENABLE ROW LEVEL SECURITY;
ALTER TABLE apivalue.metric_history ENABLE ROW LEVEL SECURITY;

CREATE POLICY metrics_readable_definition ON apivalue.metrics
  FOR SELECT
  USING (pg_catalog.has_table_privilege(definition::oid, 'SELECT') IS TRUE);

CREATE POLICY metric_history_readable_metric ON apivalue.metric_history
  FOR SELECT
  USING (EXISTS (SELECT 1 FROM apivalue.metrics m WHERE m.name = metric_history.name));

REVOKE ALL ON apivalue.metrics, apivalue.metric_history FROM PUBLIC;
GRANT SELECT ON apivalue.metrics, apivalue.metric_history TO PUBLIC;

------------------------------------------------------------------------------
-- Defining and dropping metrics
------------------------------------------------------------------------------

-- Raises 42501 unless the calling role owns (is a member of the owner of)
-- the relation: defining a metric annotates a view, like COMMENT ON VIEW.
CREATE FUNCTION apivalue.metric_check_owner(rel regclass, caller regrole, what text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  relowner oid;
BEGIN
  SELECT c.relowner INTO relowner FROM pg_catalog.pg_class c WHERE c.oid = rel;
  IF relowner IS NOT NULL AND NOT pg_catalog.pg_has_role(caller, relowner, 'USAGE') THEN
    RAISE EXCEPTION 'permission denied to % metric on "%"', what, rel::text
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = format('Role %s is not a member of %s, the owner of the definition.',
                            caller::text, relowner::regrole::text),
            HINT = 'Metrics can be defined, redefined or dropped only by the owner of their view.';
  END IF;
END;
$$;

COMMENT ON FUNCTION apivalue.metric_check_owner(regclass, regrole, text) IS
  'Internal: raise insufficient_privilege unless caller is a member of the owner of rel';
REVOKE ALL ON FUNCTION apivalue.metric_check_owner(regclass, regrole, text) FROM PUBLIC;

CREATE FUNCTION apivalue.define_metric(
  name          text,
  definition    regclass,
  description   text,
  owner         text,
  unit          text,
  grain         text DEFAULT NULL,
  tags          text[] DEFAULT '{}',
  counts_events text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller   regrole := apivalue.session_role();
  relkind  "char";
  cur      apivalue.metrics%ROWTYPE;
  new_sql  text;
  new_tags text[] := coalesce(tags, '{}');
  new_ver  integer;
BEGIN
  IF name IS NULL OR btrim(name) = '' OR name <> btrim(name) THEN
    RAISE EXCEPTION 'invalid metric name "%"', name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A metric name must be non-empty without leading or trailing blanks.';
  END IF;
  IF definition IS NULL THEN
    RAISE EXCEPTION 'definition of metric "%" must not be null', name
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT c.relkind INTO relkind FROM pg_catalog.pg_class c WHERE c.oid = definition;
  IF relkind IS NULL THEN
    RAISE EXCEPTION 'relation with OID % does not exist', definition::oid
      USING ERRCODE = 'undefined_table';
  END IF;
  IF relkind NOT IN ('v', 'm') THEN
    RAISE EXCEPTION '"%" is not a view or materialized view', definition::text
      USING ERRCODE = 'wrong_object_type',
            HINT = 'A metric is defined by a view: CREATE VIEW ... AS SELECT ..., then define_metric(name, ''that_view'', ...).';
  END IF;
  IF description IS NULL OR btrim(description) = '' THEN
    RAISE EXCEPTION 'metric "%" needs a description', name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Say what the number means, in a sentence.';
  END IF;
  IF owner IS NULL OR btrim(owner) = '' THEN
    RAISE EXCEPTION 'metric "%" needs an owner', name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Name the team or person answerable for the number.';
  END IF;
  IF array_position(new_tags, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'tags of metric "%" must not contain NULL', name
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  -- Lock the definition until commit, by name: a DROP of it in progress is
  -- waited for and then reported as a missing relation (42P01), instead of
  -- pg_get_viewdef failing on the vanished OID with an internal error; and a
  -- later DROP waits for this transaction, so its event trigger
  -- (metric_on_sql_drop) sees and removes the metric defined here.
  EXECUTE pg_catalog.format('LOCK TABLE %s IN ACCESS SHARE MODE', definition);
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = definition) THEN
    RAISE EXCEPTION 'relation with OID % does not exist', definition::oid
      USING ERRCODE = 'undefined_table', DETAIL = 'It was dropped by a concurrent transaction.';
  END IF;

  PERFORM apivalue.metric_check_owner(definition, caller, 'define');
  new_sql := apivalue.view_sql(definition);

  -- One definer at a time per metric name (transaction-scoped advisory lock,
  -- then the row lock): concurrent (re)definitions of one name each get
  -- their own version, never the same one twice.
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('apivalue.metrics'),
                                           pg_catalog.hashtext(name));
  SELECT * INTO cur FROM apivalue.metrics m WHERE m.name = define_metric.name FOR UPDATE;

  IF NOT FOUND THEN
    -- Versions continue after a drop, so history never repeats a version.
    SELECT coalesce(max(h.version), 0) + 1 INTO new_ver
      FROM apivalue.metric_history h WHERE h.name = define_metric.name;
    BEGIN
      INSERT INTO apivalue.metrics
        VALUES (name, new_ver, definition, description, owner, unit, grain, new_tags,
                counts_events, new_sql, caller::text, session_user, now());
    EXCEPTION WHEN unique_violation THEN
      -- Only under REPEATABLE READ or SERIALIZABLE, whose snapshot predates
      -- a concurrent first definition that committed while we waited.
      RAISE EXCEPTION 'metric "%" was defined concurrently', name
        USING ERRCODE = 'serialization_failure',
              HINT = 'Retry the transaction.';
    END;
  ELSE
    -- Changing a metric that points at someone else's view needs their role.
    PERFORM apivalue.metric_check_owner(cur.definition, caller, 'redefine');
    IF cur.definition = definition
       AND cur.definition_sql = new_sql
       AND cur.description = description
       AND cur.owner = owner
       AND cur.unit IS NOT DISTINCT FROM unit
       AND cur.grain IS NOT DISTINCT FROM grain
       AND cur.tags = new_tags
       AND cur.counts_events IS NOT DISTINCT FROM counts_events THEN
      RETURN cur.version;  -- nothing changed: re-running a deploy is a no-op
    END IF;
    new_ver := cur.version + 1;
    UPDATE apivalue.metrics m
       SET version = new_ver, definition = define_metric.definition,
           description = define_metric.description, owner = define_metric.owner,
           unit = define_metric.unit, grain = define_metric.grain, tags = new_tags,
           counts_events = define_metric.counts_events, definition_sql = new_sql,
           defined_by = caller::text, session_user_name = session_user, defined_at = now()
     WHERE m.name = define_metric.name;
  END IF;

  INSERT INTO apivalue.metric_history
    VALUES (name, new_ver, CASE WHEN cur.name IS NULL THEN 'define' ELSE 'redefine' END,
            definition::text, new_sql, description, owner, unit, grain, new_tags,
            counts_events, caller::text, session_user, now());
  RETURN new_ver;
END;
$$;

COMMENT ON FUNCTION apivalue.define_metric(text, regclass, text, text, text, text, text[], text) IS
  'Define or redefine a metric backed by a view or materialized view you own; returns its version (unchanged when nothing changed); every version is kept in apivalue.metric_history';

CREATE FUNCTION apivalue.drop_metric(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller regrole := apivalue.session_role();
  cur    apivalue.metrics%ROWTYPE;
BEGIN
  SELECT * INTO cur FROM apivalue.metrics m WHERE m.name = drop_metric.name FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'metric "%" does not exist', name
      USING ERRCODE = 'undefined_object',
            HINT = 'See SELECT name FROM apivalue.metric_catalog.';
  END IF;
  PERFORM apivalue.metric_check_owner(cur.definition, caller, 'drop');
  DELETE FROM apivalue.metrics m WHERE m.name = drop_metric.name;
  INSERT INTO apivalue.metric_history (name, version, action, definition_name,
                                       changed_by, session_user_name, changed_at)
    VALUES (cur.name, cur.version, 'drop', cur.definition::text,
            caller::text, session_user, now());
END;
$$;

COMMENT ON FUNCTION apivalue.drop_metric(text) IS
  'Remove a metric from the catalog (its view is left alone); the drop is recorded in apivalue.metric_history';

-- When DDL drops a metric's definition (DROP VIEW, DROP TABLE ... CASCADE,
-- ALTER TABLE ... DROP COLUMN ... CASCADE), the metric goes with it, so no
-- catalog row ever points at a dropped or reused OID.
CREATE FUNCTION apivalue.metric_on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  who regrole := apivalue.session_role();
BEGIN
  WITH gone AS (
    DELETE FROM apivalue.metrics m
     USING pg_catalog.pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_catalog.pg_class'::regclass
       AND d.objsubid = 0
       AND d.objid = m.definition::oid
    RETURNING m.name, m.version, d.object_identity
  )
  INSERT INTO apivalue.metric_history (name, version, action, definition_name,
                                       changed_by, session_user_name, changed_at)
  SELECT g.name, g.version, 'source_dropped', g.object_identity,
         who::text, session_user, now()
    FROM gone g;
END;
$$;

COMMENT ON FUNCTION apivalue.metric_on_sql_drop() IS
  'Event trigger: remove metrics whose definition was dropped, recording it in apivalue.metric_history';
REVOKE ALL ON FUNCTION apivalue.metric_on_sql_drop() FROM PUBLIC;

CREATE EVENT TRIGGER apivalue_metric_sql_drop ON sql_drop
  EXECUTE FUNCTION apivalue.metric_on_sql_drop();

COMMENT ON EVENT TRIGGER apivalue_metric_sql_drop IS
  'Keeps apivalue.metrics free of definitions that DDL dropped';

------------------------------------------------------------------------------
-- Lineage, from pg_depend and pg_rewrite
------------------------------------------------------------------------------

-- A view's (or materialized view's) dependencies are recorded on its _RETURN
-- rule: pg_depend rows with classid pg_rewrite, refclassid pg_class and
-- refobjsubid the column (0 for the relation as a whole).  The rule also
-- depends internally on its own view; that row is excluded.  Walking these
-- rows view by view reaches every base relation through any depth.
CREATE VIEW apivalue.metric_lineage WITH (security_invoker = true) AS
WITH RECURSIVE
rule_deps AS (
  SELECT r.ev_class AS viewid, d.refobjid AS relid, d.refobjsubid AS attnum
    FROM pg_catalog.pg_rewrite r
    JOIN pg_catalog.pg_depend d
      ON d.classid = 'pg_catalog.pg_rewrite'::regclass
     AND d.objid = r.oid
     AND d.refclassid = 'pg_catalog.pg_class'::regclass
     AND d.deptype = 'n'
   WHERE d.refobjid <> r.ev_class
),
walk (metric_name, relid, depth, via) AS (
  SELECT DISTINCT m.name, rd.relid, 1, ARRAY[m.definition::oid]
    FROM apivalue.metrics m
    JOIN rule_deps rd ON rd.viewid = m.definition::oid
   WHERE pg_catalog.has_table_privilege(m.definition::oid, 'SELECT') IS TRUE
  UNION
  SELECT w.metric_name, rd.relid, w.depth + 1, w.via || w.relid
    FROM walk w
    JOIN pg_catalog.pg_class c ON c.oid = w.relid AND c.relkind IN ('v', 'm')
    JOIN rule_deps rd ON rd.viewid = w.relid
   WHERE w.relid <> ALL (w.via)          -- never loop
)
SELECT w.metric_name,
       w.relid::regclass AS source_table,
       a.attname AS source_column,
       w.depth,
       w.via::regclass[] AS via
  FROM walk w
  JOIN pg_catalog.pg_class c ON c.oid = w.relid AND c.relkind IN ('r', 'p', 'f')
  JOIN rule_deps rd ON rd.viewid = w.via[w.depth] AND rd.relid = w.relid
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = rd.relid AND a.attnum = rd.attnum
 WHERE rd.attnum <> 0
    -- a relation read without any column (count(*), EXISTS) still is a source
    OR NOT EXISTS (SELECT 1 FROM rule_deps x
                    WHERE x.viewid = rd.viewid AND x.relid = rd.relid AND x.attnum <> 0);

GRANT SELECT ON apivalue.metric_lineage TO PUBLIC;

COMMENT ON VIEW apivalue.metric_lineage IS
  'Every base table (ordinary, partitioned parent, foreign) and column each metric reads, through any depth of views and materialized views, from pg_depend/pg_rewrite; source_column NULL when a table is read without naming a column; via = the views from the metric down to the table';

------------------------------------------------------------------------------
-- Quality status of sources (optional: apivalue.quality_* may not exist)
------------------------------------------------------------------------------

-- The quality family's tables are looked up by name at call time, so the
-- catalog works whether or not they are installed, and a role that cannot
-- read them gets NULL instead of an error.  Of the latest result of each
-- check on the given relations, the most severe wins:
-- fail > error > warn > pass.
CREATE FUNCTION apivalue.metric_quality_status(
  relations regclass[],
  checks    regclass DEFAULT pg_catalog.to_regclass('apivalue.quality_checks'),
  results   regclass DEFAULT pg_catalog.to_regclass('apivalue.quality_results'))
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  status text;
BEGIN
  IF relations IS NULL OR checks IS NULL OR results IS NULL
     OR NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = checks)
     OR NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = results)
     OR NOT has_table_privilege(checks::oid, 'SELECT')
     OR NOT has_table_privilege(results::oid, 'SELECT') THEN
    RETURN NULL;
  END IF;
  BEGIN
    EXECUTE format($q$
      SELECT s.status
        FROM (SELECT DISTINCT ON (r.check_name) r.status
                FROM %s r
                JOIN %s c ON c.name = r.check_name
               WHERE c.relation = ANY ($1)
               ORDER BY r.check_name, r.run_at DESC,
                        CASE r.status WHEN 'fail' THEN 4 WHEN 'error' THEN 3
                                      WHEN 'warn' THEN 2 WHEN 'pass' THEN 1 ELSE 0 END DESC) s
       ORDER BY CASE s.status WHEN 'fail' THEN 4 WHEN 'error' THEN 3
                              WHEN 'warn' THEN 2 WHEN 'pass' THEN 1 ELSE 0 END DESC
       LIMIT 1$q$, results, checks)
      INTO status
      USING relations;
  EXCEPTION WHEN undefined_column OR undefined_table OR datatype_mismatch
                 OR undefined_function THEN
    -- Tables of that name but another shape: no quality status to report.
    RETURN NULL;
  END;
  RETURN status;
END;
$$;

COMMENT ON FUNCTION apivalue.metric_quality_status(regclass[], regclass, regclass) IS
  'Most severe latest status (fail > error > warn > pass) of the quality checks on the given relations; NULL when there are none or the quality tables are absent or unreadable';

------------------------------------------------------------------------------
-- The catalog view
------------------------------------------------------------------------------

CREATE VIEW apivalue.metric_catalog WITH (security_invoker = true) AS
SELECT m.name,
       m.version,
       m.description,
       m.owner,
       m.unit,
       m.grain,
       m.tags,
       m.counts_events,
       m.definition,
       apivalue.view_sql(m.definition) AS definition_sql,
       apivalue.view_sql(m.definition) IS DISTINCT FROM m.definition_sql
         AS definition_changed,
       coalesce(src.sources, '{}') AS sources,
       apivalue.metric_quality_status(src.sources || src.views) AS latest_quality_status,
       m.defined_by,
       m.defined_at
  FROM apivalue.metrics m
  JOIN pg_catalog.pg_class c ON c.oid = m.definition::oid
  LEFT JOIN LATERAL (
    SELECT ARRAY(SELECT s.rel FROM (SELECT DISTINCT l.source_table AS rel
                                      FROM apivalue.metric_lineage l
                                     WHERE l.metric_name = m.name) s
                  ORDER BY s.rel::text) AS sources,
           ARRAY(SELECT v FROM apivalue.metric_lineage l, unnest(l.via) v
                  WHERE l.metric_name = m.name
                 UNION SELECT m.definition) AS views
  ) src ON true
 WHERE pg_catalog.has_table_privilege(m.definition::oid, 'SELECT');

GRANT SELECT ON apivalue.metric_catalog TO PUBLIC;

COMMENT ON VIEW apivalue.metric_catalog IS
  'Metrics you can read: metadata, live definition SQL (definition_changed = the view was replaced since this version), base sources from apivalue.metric_lineage, and the latest quality status of checks on the metric''s relations';

------------------------------------------------------------------------------
-- OpenLineage
------------------------------------------------------------------------------

CREATE FUNCTION apivalue.metric_lineage_json(name text, namespace text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ns       text := coalesce(namespace, 'postgres://' || current_database());
  producer text := 'urn:apivalue:' || coalesce(
                     (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'apivalue'), 'unknown');
  m        apivalue.metric_catalog%ROWTYPE;
  inputs   jsonb;
  out_fields jsonb;
  col_lineage jsonb;
  relname_of_def text;
BEGIN
  SELECT * INTO m FROM apivalue.metric_catalog c WHERE c.name = metric_lineage_json.name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'metric "%" does not exist', name
      USING ERRCODE = 'undefined_object',
            HINT = 'See SELECT name FROM apivalue.metric_catalog (only metrics whose view you can read are listed).';
  END IF;

  SELECT format('%s.%s', n.nspname, c.relname) INTO relname_of_def
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = m.definition::oid;

  -- One input dataset per base table, with its full schema.
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'namespace', ns,
           'name', format('%s.%s', n.nspname, c.relname),
           'facets', jsonb_build_object('schema', jsonb_build_object(
              '_producer', producer,
              '_schemaURL', 'https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet',
              'fields', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                   'name', a.attname,
                                   'type', format_type(a.atttypid, a.atttypmod))
                                 ORDER BY a.attnum), '[]')
                           FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))))
         ORDER BY n.nspname, c.relname), '[]')
    INTO inputs
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = ANY (m.sources::oid[]);

  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum), '[]')
    INTO out_fields
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = m.definition::oid AND a.attnum > 0 AND NOT a.attisdropped;

  -- pg_depend records which columns a view's rule reads, not which output
  -- column each one feeds; so every output column maps to every base column
  -- the metric reads (an over-approximation, never a miss).
  SELECT coalesce(jsonb_object_agg(a.attname, jsonb_build_object('inputFields', src.fields)), '{}')
    INTO col_lineage
    FROM pg_catalog.pg_attribute a
    CROSS JOIN (
      SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object(
               'namespace', ns,
               'name', format('%s.%s', n.nspname, c.relname),
               'field', l.source_column)), '[]') AS fields
        FROM apivalue.metric_lineage l
        JOIN pg_catalog.pg_class c ON c.oid = l.source_table::oid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE l.metric_name = m.name AND l.source_column IS NOT NULL) src
   WHERE a.attrelid = m.definition::oid AND a.attnum > 0 AND NOT a.attisdropped;

  RETURN jsonb_build_object(
    'eventType', 'COMPLETE',
    'eventTime', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'producer', producer,
    'schemaURL', 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
    'run', jsonb_build_object('runId', gen_random_uuid()),
    'job', jsonb_build_object(
       'namespace', ns,
       'name', m.name,
       'facets', jsonb_build_object(
          'sql', jsonb_build_object(
             '_producer', producer,
             '_schemaURL', 'https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet',
             'query', m.definition_sql),
          'documentation', jsonb_build_object(
             '_producer', producer,
             '_schemaURL', 'https://openlineage.io/spec/facets/1-1-0/DocumentationJobFacet.json#/$defs/DocumentationJobFacet',
             'description', m.description),
          'ownership', jsonb_build_object(
             '_producer', producer,
             '_schemaURL', 'https://openlineage.io/spec/facets/1-1-0/OwnershipJobFacet.json#/$defs/OwnershipJobFacet',
             'owners', jsonb_build_array(jsonb_build_object('name', m.owner))))),
    'inputs', inputs,
    'outputs', jsonb_build_array(jsonb_build_object(
       'namespace', ns,
       'name', relname_of_def,
       'facets', jsonb_build_object(
          'schema', jsonb_build_object(
             '_producer', producer,
             '_schemaURL', 'https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet',
             'fields', out_fields),
          'columnLineage', jsonb_build_object(
             '_producer', producer,
             '_schemaURL', 'https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet',
             'fields', col_lineage)))));
END;
$$;

COMMENT ON FUNCTION apivalue.metric_lineage_json(text, text) IS
  'OpenLineage RunEvent (COMPLETE) for a metric: job = the metric, inputs = its base tables with schema facets, output = its view with schema and columnLineage facets; namespace defaults to postgres://<database>';
-- apivalue install script: keyed pseudonyms (SPEC section 8).
-- Part of the files concatenated into apivalue--<version>.sql (see Makefile).
--
-- pseudonymize(value, key) = hex(HMAC-SHA256(secret, value)).  Secrets live
-- in apivalue.pseudonym_keys, which no ordinary role can read; the only way
-- to use a secret is pseudonymize(), a SECURITY DEFINER function with a
-- pinned search_path that reads the one key it needs and returns the HMAC.

------------------------------------------------------------------------------
-- Primitives (C, PostgreSQL's own HMAC and strong random source)
------------------------------------------------------------------------------

CREATE FUNCTION apivalue.hmac_sha256(data bytea, key bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'apivalue_hmac_sha256'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.hmac_sha256(bytea, bytea) IS
  'HMAC-SHA256 (RFC 2104) of data under key, computed by PostgreSQL''s own HMAC implementation';

CREATE FUNCTION apivalue.random_bytes(n integer)
RETURNS bytea
AS 'MODULE_PATHNAME', 'apivalue_random_bytes'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.random_bytes(integer) IS
  'n (1..1024) bytes from the cryptographically strong random source PostgreSQL uses (pg_strong_random)';

------------------------------------------------------------------------------
-- Keys
------------------------------------------------------------------------------

CREATE TABLE apivalue.pseudonym_keys (
  key_name   text NOT NULL
             CHECK (key_name = btrim(key_name) AND key_name <> '' AND length(key_name) <= 200),
  version    integer NOT NULL CHECK (version >= 1),
  secret     bytea NOT NULL CHECK (octet_length(secret) >= 1),
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  active     boolean NOT NULL,
  PRIMARY KEY (key_name, version)
);

-- At most one active (current) version per key name.
CREATE UNIQUE INDEX pseudonym_keys_one_active
  ON apivalue.pseudonym_keys (key_name) WHERE active;

COMMENT ON TABLE apivalue.pseudonym_keys IS
  'Secret keys of apivalue.pseudonymize, one row per key version; readable by no ordinary role. Kept by pg_dump: losing a key changes every pseudonym made with it';
COMMENT ON COLUMN apivalue.pseudonym_keys.active IS
  'The version that key_name alone resolves to; older versions stay usable as key_name:version';

SELECT pg_catalog.pg_extension_config_dump('apivalue.pseudonym_keys', '');

REVOKE ALL ON apivalue.pseudonym_keys FROM PUBLIC;

-- Key names and versions are not secret: a definer view shows them without
-- the secret, so users can tell which versions exist.
CREATE VIEW apivalue.pseudonym_key_versions AS
SELECT key_name, version, created_at, created_by, active
  FROM apivalue.pseudonym_keys;

COMMENT ON VIEW apivalue.pseudonym_key_versions IS
  'Pseudonym keys and their versions, without the secrets';
REVOKE ALL ON apivalue.pseudonym_key_versions FROM PUBLIC;
GRANT SELECT ON apivalue.pseudonym_key_versions TO PUBLIC;

-- Resolves 'name' (its active version) or 'name:version'.  An exact key name
-- wins, so a key whose own name contains ':' stays reachable.
CREATE FUNCTION apivalue.pseudonym_key_secret(key_ref text)
RETURNS bytea
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  secret bytea;
  parts  text[];
BEGIN
  SELECT k.secret INTO secret
    FROM apivalue.pseudonym_keys k
   WHERE k.key_name = key_ref AND k.active;
  IF FOUND THEN
    RETURN secret;
  END IF;
  parts := regexp_match(key_ref, '^(.+):([0-9]{1,9})$');
  IF parts IS NOT NULL THEN
    SELECT k.secret INTO secret
      FROM apivalue.pseudonym_keys k
     WHERE k.key_name = parts[1] AND k.version = parts[2]::integer;
    IF FOUND THEN
      RETURN secret;
    END IF;
  END IF;
  RAISE EXCEPTION 'pseudonym key "%" does not exist', key_ref
    USING ERRCODE = 'undefined_object',
          HINT = 'Use a name from apivalue.pseudonym_key_versions, optionally as name:version; keys are created with apivalue.add_pseudonym_key.';
END;
$$;

COMMENT ON FUNCTION apivalue.pseudonym_key_secret(text) IS
  'Internal: the secret of key_name (active version) or key_name:version; callable only by the extension owner';
REVOKE ALL ON FUNCTION apivalue.pseudonym_key_secret(text) FROM PUBLIC;

CREATE FUNCTION apivalue.add_pseudonym_key(
  key_name text,
  secret   bytea DEFAULT apivalue.random_bytes(32))
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF key_name IS NULL OR key_name <> btrim(key_name) OR key_name = '' OR length(key_name) > 200 THEN
    RAISE EXCEPTION 'invalid pseudonym key name "%"', left(key_name, 60)
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A key name must be 1 to 200 characters without leading or trailing blanks.';
  END IF;
  IF secret IS NULL OR octet_length(secret) = 0 THEN
    RAISE EXCEPTION 'secret of pseudonym key "%" must not be empty', key_name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Omit the secret to get 32 random bytes.';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('apivalue.pseudonym_keys'), hashtext(key_name));
  IF EXISTS (SELECT 1 FROM apivalue.pseudonym_keys k WHERE k.key_name = add_pseudonym_key.key_name) THEN
    RAISE EXCEPTION 'pseudonym key "%" already exists', key_name
      USING ERRCODE = 'duplicate_object',
            HINT = 'Use apivalue.rotate_pseudonym_key to add a new version.';
  END IF;
  INSERT INTO apivalue.pseudonym_keys (key_name, version, secret, created_by, active)
    VALUES (key_name, 1, secret, apivalue.session_role()::text, true);
  RETURN 1;
END;
$$;

COMMENT ON FUNCTION apivalue.add_pseudonym_key(text, bytea) IS
  'Create pseudonym key key_name (version 1) with the given secret or 32 strong random bytes; EXECUTE is not granted to PUBLIC';
REVOKE ALL ON FUNCTION apivalue.add_pseudonym_key(text, bytea) FROM PUBLIC;

CREATE FUNCTION apivalue.rotate_pseudonym_key(
  key_name text,
  secret   bytea DEFAULT apivalue.random_bytes(32))
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  new_version integer;
BEGIN
  IF secret IS NULL OR octet_length(secret) = 0 THEN
    RAISE EXCEPTION 'secret of pseudonym key "%" must not be empty', key_name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Omit the secret to get 32 random bytes.';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('apivalue.pseudonym_keys'), hashtext(key_name));
  SELECT max(k.version) + 1 INTO new_version
    FROM apivalue.pseudonym_keys k WHERE k.key_name = rotate_pseudonym_key.key_name;
  IF new_version IS NULL THEN
    RAISE EXCEPTION 'pseudonym key "%" does not exist', key_name
      USING ERRCODE = 'undefined_object',
            HINT = 'Create it with apivalue.add_pseudonym_key.';
  END IF;
  UPDATE apivalue.pseudonym_keys k SET active = false
   WHERE k.key_name = rotate_pseudonym_key.key_name AND k.active;
  INSERT INTO apivalue.pseudonym_keys (key_name, version, secret, created_by, active)
    VALUES (key_name, new_version, secret, apivalue.session_role()::text, true);
  RETURN new_version;
END;
$$;

COMMENT ON FUNCTION apivalue.rotate_pseudonym_key(text, bytea) IS
  'Add a new active version of a pseudonym key and return its number; older versions stay usable as key_name:version; EXECUTE is not granted to PUBLIC';
REVOKE ALL ON FUNCTION apivalue.rotate_pseudonym_key(text, bytea) FROM PUBLIC;

------------------------------------------------------------------------------
-- pseudonymize
------------------------------------------------------------------------------

CREATE FUNCTION apivalue.pseudonymize(value bytea, key_name text)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.encode(
           apivalue.hmac_sha256(value, apivalue.pseudonym_key_secret(key_name)), 'hex')
$$;

COMMENT ON FUNCTION apivalue.pseudonymize(bytea, text) IS
  'Hex HMAC-SHA256 of the bytes under pseudonym key key_name (active version) or key_name:version';

-- Text is hashed as UTF-8 whatever the database encoding, so one identifier
-- gets the same pseudonym in every database that shares the key.
CREATE FUNCTION apivalue.pseudonymize(value text, key_name text)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.encode(
           apivalue.hmac_sha256(pg_catalog.convert_to(value, 'UTF8'),
                                apivalue.pseudonym_key_secret(key_name)), 'hex')
$$;

COMMENT ON FUNCTION apivalue.pseudonymize(text, text) IS
  'Stable pseudonym of an identifier: hex HMAC-SHA256 of its UTF-8 bytes under pseudonym key key_name (active version) or key_name:version; NULL value gives NULL';
-- apivalue install script: shared statistics, value drivers (SPEC 4b) and,
-- later, API usage and experiments (SPEC 8b).
-- Part of the files concatenated into apivalue--<version>.sql (see Makefile).
-- C code: src/stats.c (statistics), src/drivers.c (per-user features).

-- ---------------------------------------------------------------------------
-- Statistics.  All IMMUTABLE, STRICT and PARALLEL SAFE; none returns NaN:
-- an undefined result is NULL (or a documented value), bad arguments are
-- errors with SQLSTATE 22023.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue.normal_cdf(z double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'apivalue_normal_cdf'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.normal_cdf(double precision) IS
  'P(Z <= z) for a standard normal Z (computed with erfc, accurate far into the tails)';

CREATE FUNCTION apivalue.normal_quantile(p double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'apivalue_normal_quantile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.normal_quantile(double precision) IS
  'Inverse of normal_cdf: the z with P(Z <= z) = p (-Infinity at 0, Infinity at 1)';

CREATE FUNCTION apivalue.chisq_p(x double precision, df double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'apivalue_chisq_p'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.chisq_p(double precision, double precision) IS
  'Upper tail P(X > x) of the chi-square distribution with df degrees of freedom (regularized incomplete gamma Q(df/2, x/2))';

CREATE FUNCTION apivalue.chisq_gof_p(observed bigint[], expected_share double precision[] DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'apivalue_chisq_gof_p'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.chisq_gof_p(bigint[], double precision[]) IS
  'Pearson chi-square goodness-of-fit p-value of observed counts against expected shares (normalized; NULL = equal shares), df = categories with a positive share - 1; NULL when there is nothing to test; 0 when a category with share 0 was observed (sample ratio mismatch)';

CREATE FUNCTION apivalue.fisher_exact_p(a bigint, b bigint, c bigint, d bigint)
RETURNS double precision
AS 'MODULE_PATHNAME', 'apivalue_fisher_exact_p'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.fisher_exact_p(bigint, bigint, bigint, bigint) IS
  'Two-sided p-value of Fisher''s exact test for the 2x2 table [[a, b], [c, d]] (tables no more likely than the observed one, relative tolerance 1e-7 as in R); 1 when a margin is zero';

CREATE FUNCTION apivalue.phi_coefficient(a bigint, b bigint, c bigint, d bigint)
RETURNS double precision
AS 'MODULE_PATHNAME', 'apivalue_phi_coefficient'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.phi_coefficient(bigint, bigint, bigint, bigint) IS
  'Phi coefficient (ad - bc) / sqrt((a+b)(c+d)(a+c)(b+d)) of the 2x2 table [[a, b], [c, d]]; NULL when a row or column sums to zero';

CREATE FUNCTION apivalue.wilson_interval(x bigint, n bigint, confidence double precision DEFAULT 0.95,
                                         OUT low double precision, OUT high double precision)
AS 'MODULE_PATHNAME', 'apivalue_wilson_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.wilson_interval(bigint, bigint, double precision) IS
  'Wilson score interval of the proportion x/n; NULL bounds when n = 0';

CREATE FUNCTION apivalue.newcombe_interval(x1 bigint, n1 bigint, x2 bigint, n2 bigint,
                                           confidence double precision DEFAULT 0.95,
                                           OUT low double precision, OUT high double precision)
AS 'MODULE_PATHNAME', 'apivalue_newcombe_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.newcombe_interval(bigint, bigint, bigint, bigint, double precision) IS
  'Newcombe''s hybrid score interval (1998, method 10) of x1/n1 - x2/n2, from the two Wilson intervals; NULL bounds when n1 or n2 is 0';

CREATE FUNCTION apivalue.two_proportion_test(x1 bigint, n1 bigint, x2 bigint, n2 bigint,
                                             confidence double precision DEFAULT 0.95,
                                             OUT rate1 double precision, OUT rate2 double precision,
                                             OUT diff double precision, OUT z double precision,
                                             OUT p_value double precision,
                                             OUT ci_low double precision, OUT ci_high double precision,
                                             OUT phi double precision)
AS 'MODULE_PATHNAME', 'apivalue_two_proportion_test'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.two_proportion_test(bigint, bigint, bigint, bigint, double precision) IS
  'x1/n1 against x2/n2: rates, difference, pooled two-proportion z and two-sided p-value, Newcombe interval of the difference, phi; comparisons NULL when a group is empty; z and phi NULL and p_value 1 when both rates are 0 or both 1';

CREATE FUNCTION apivalue.bh_qvalues(p double precision[])
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'apivalue_bh_qvalues'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.bh_qvalues(double precision[]) IS
  'Benjamini-Hochberg q-values (false discovery rate adjusted p-values) in the order of the input; NULL elements stay NULL and are not counted as tests';

-- ---------------------------------------------------------------------------
-- Per-user features: behavior_counts (for BI tools) and driver_features
-- (what value_drivers is built on).  One C state, src/drivers.c.
-- ---------------------------------------------------------------------------

CREATE TYPE apivalue.driver_features_result AS (
  behaviors     text[],
  server_errors boolean,
  slow          boolean,
  outcome       boolean
);

COMMENT ON TYPE apivalue.driver_features_result IS
  'One user''s features for value drivers: behaviours done at least min_times times in the observation window, experience signals, and whether the outcome followed';

CREATE FUNCTION apivalue.driver_features_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_driver_features_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.driver_features_combine(internal, internal) IS
  'internal: combine function of behavior_counts and driver_features';

CREATE FUNCTION apivalue.driver_features_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_driver_features_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.driver_features_serialize(internal) IS
  'internal: serialize function of behavior_counts and driver_features';

CREATE FUNCTION apivalue.driver_features_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_driver_features_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.driver_features_deserialize(bytea, internal) IS
  'internal: deserialize function of behavior_counts and driver_features';

CREATE FUNCTION apivalue.behavior_counts_accum(internal, timestamptz, text, interval)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_behavior_counts_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.behavior_counts_accum(internal, timestamptz, text, interval) IS
  'internal: behavior_counts transition function';

CREATE FUNCTION apivalue.behavior_counts_accum(internal, timestamp, text, interval)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_behavior_counts_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.behavior_counts_accum(internal, timestamp, text, interval) IS
  'internal: behavior_counts transition function';

CREATE FUNCTION apivalue.behavior_counts_final(internal)
RETURNS jsonb AS 'MODULE_PATHNAME', 'apivalue_behavior_counts_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.behavior_counts_final(internal) IS
  'internal: behavior_counts final function';

CREATE AGGREGATE apivalue.behavior_counts(ts timestamptz, behavior text, observation interval) (
  SFUNC = apivalue.behavior_counts_accum,
  STYPE = internal,
  FINALFUNC = apivalue.behavior_counts_final,
  COMBINEFUNC = apivalue.driver_features_combine,
  SERIALFUNC = apivalue.driver_features_serialize,
  DESERIALFUNC = apivalue.driver_features_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.behavior_counts(timestamptz, text, interval) IS
  'Per group (user): {behavior: events} over [first event, first event + observation); the first event is the earliest row of the group, whatever its behaviour; windows are fixed lengths (1 day = 24 h, 1 month = 30 days)';

CREATE AGGREGATE apivalue.behavior_counts(ts timestamp, behavior text, observation interval) (
  SFUNC = apivalue.behavior_counts_accum,
  STYPE = internal,
  FINALFUNC = apivalue.behavior_counts_final,
  COMBINEFUNC = apivalue.driver_features_combine,
  SERIALFUNC = apivalue.driver_features_serialize,
  DESERIALFUNC = apivalue.driver_features_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.behavior_counts(timestamp, text, interval) IS
  'Per group (user): {behavior: events} over [first event, first event + observation); the first event is the earliest row of the group, whatever its behaviour; windows are fixed lengths (1 day = 24 h, 1 month = 30 days)';

CREATE FUNCTION apivalue.driver_features_accum(internal, timestamptz, text, boolean, boolean,
                                               double precision, interval, interval, integer,
                                               integer, double precision, boolean, timestamptz)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_driver_features_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.driver_features_accum(internal, timestamptz, text, boolean, boolean,
                                                   double precision, interval, interval, integer,
                                                   integer, double precision, boolean, timestamptz) IS
  'internal: driver_features transition function';

CREATE FUNCTION apivalue.driver_features_accum(internal, timestamp, text, boolean, boolean,
                                               double precision, interval, interval, integer,
                                               integer, double precision, boolean, timestamp)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_driver_features_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.driver_features_accum(internal, timestamp, text, boolean, boolean,
                                                   double precision, interval, interval, integer,
                                                   integer, double precision, boolean, timestamp) IS
  'internal: driver_features transition function';

CREATE FUNCTION apivalue.driver_features_final(internal)
RETURNS apivalue.driver_features_result AS 'MODULE_PATHNAME', 'apivalue_driver_features_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.driver_features_final(internal) IS
  'internal: driver_features final function';

CREATE AGGREGATE apivalue.driver_features(
    ts timestamptz, behavior text, outcome boolean, server_error boolean,
    latency_ms double precision, observation interval, outcome_window interval,
    min_times integer, error_threshold integer, latency_threshold_ms double precision,
    exclude_early_outcome boolean, as_of timestamptz) (
  SFUNC = apivalue.driver_features_accum,
  STYPE = internal,
  FINALFUNC = apivalue.driver_features_final,
  COMBINEFUNC = apivalue.driver_features_combine,
  SERIALFUNC = apivalue.driver_features_serialize,
  DESERIALFUNC = apivalue.driver_features_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.driver_features(timestamptz, text, boolean, boolean, double precision,
                                              interval, interval, integer, integer,
                                              double precision, boolean, timestamptz) IS
  'Per user: behaviours done >= min_times times in [first event, first event + observation), >= error_threshold server errors there, p95 (percentile_disc) latency there above latency_threshold_ms, and an outcome event at or after the window end (before end + outcome_window when given); NULL for users cut off by as_of or, with exclude_early_outcome, whose outcome held inside the window';

CREATE AGGREGATE apivalue.driver_features(
    ts timestamp, behavior text, outcome boolean, server_error boolean,
    latency_ms double precision, observation interval, outcome_window interval,
    min_times integer, error_threshold integer, latency_threshold_ms double precision,
    exclude_early_outcome boolean, as_of timestamp) (
  SFUNC = apivalue.driver_features_accum,
  STYPE = internal,
  FINALFUNC = apivalue.driver_features_final,
  COMBINEFUNC = apivalue.driver_features_combine,
  SERIALFUNC = apivalue.driver_features_serialize,
  DESERIALFUNC = apivalue.driver_features_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.driver_features(timestamp, text, boolean, boolean, double precision,
                                              interval, interval, integer, integer,
                                              double precision, boolean, timestamp) IS
  'Per user: behaviours done >= min_times times in [first event, first event + observation), >= error_threshold server errors there, p95 (percentile_disc) latency there above latency_threshold_ms, and an outcome event at or after the window end (before end + outcome_window when given); NULL for users cut off by as_of or, with exclude_early_outcome, whose outcome held inside the window';

-- ---------------------------------------------------------------------------
-- value_drivers: which early behaviours go with a better or worse outcome.
--
-- One scan: driver_features per user (GROUP BY user), its fields kept once
-- (no copy of the composite rows), then one 2x2 table per behaviour from the
-- per-user rows (unnest + GROUP BY behaviour), then the statistics.  The caller's privileges apply (no SECURITY DEFINER); every
-- identifier is checked and quoted, the outcome condition validated as one
-- boolean expression.  No pinned search_path: the condition resolves as the
-- caller wrote it, and everything of ours is schema-qualified.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue.value_drivers(
    events regclass,
    user_column text,
    time_column text,
    behavior_column text,
    outcome_condition text,
    observation interval DEFAULT '7 days',
    min_times integer DEFAULT 1,
    min_users integer DEFAULT 30,
    normalize_behaviors boolean DEFAULT false,
    status_column text DEFAULT NULL,
    latency_column text DEFAULT NULL,
    error_threshold integer DEFAULT 1,
    latency_threshold_ms double precision DEFAULT NULL,
    outcome_window interval DEFAULT NULL,
    exclude_early_outcome boolean DEFAULT false,
    as_of timestamptz DEFAULT NULL,
    confidence double precision DEFAULT 0.95)
RETURNS TABLE (behavior text, kind text,
               users_with bigint, users_without bigint,
               outcomes_with bigint, outcomes_without bigint,
               outcome_rate_with double precision, outcome_rate_without double precision,
               lift_diff double precision, lift_ratio double precision,
               p_value double precision, test text, phi double precision,
               q_value double precision,
               diff_ci_low double precision, diff_ci_high double precision,
               flagged_low_count boolean, rank integer)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $fn$
#variable_conflict use_column
DECLARE
  u text;
  t text;
  b text;
  st text;
  lat text;
  cond text;
  ttype regtype;
  sttype regtype;
  lattype regtype;
  err_expr text := 'NULL::boolean';
  lat_expr text := 'NULL::double precision';
  err_label text;
  lat_label text;
  q text;
BEGIN
  IF observation IS NULL THEN
    RAISE EXCEPTION 'observation must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF observation <= interval '0' THEN
    RAISE EXCEPTION 'observation must be positive: "%"', observation
      USING ERRCODE = '22023', HINT = 'Give a positive interval such as ''7 days''.';
  END IF;
  IF outcome_window IS NOT NULL AND outcome_window <= interval '0' THEN
    RAISE EXCEPTION 'outcome_window must be positive: "%"', outcome_window
      USING ERRCODE = '22023', HINT = 'Give a positive interval, or NULL for any time after the observation window.';
  END IF;
  IF min_times IS NULL OR min_times < 1 THEN
    RAISE EXCEPTION 'min_times must be at least 1: %', coalesce(min_times::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF min_users IS NULL OR min_users < 1 THEN
    RAISE EXCEPTION 'min_users must be at least 1: %', coalesce(min_users::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF normalize_behaviors IS NULL OR exclude_early_outcome IS NULL THEN
    RAISE EXCEPTION 'normalize_behaviors and exclude_early_outcome must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF confidence IS NULL OR NOT (confidence > 0 AND confidence < 1) THEN
    RAISE EXCEPTION 'confidence must be between 0 and 1 (exclusive): %', coalesce(confidence::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'Use 0.95 for 95 % intervals.';
  END IF;
  IF as_of IS NOT NULL AND NOT isfinite(as_of) THEN
    RAISE EXCEPTION 'as_of must be finite: %', as_of USING ERRCODE = '22008';
  END IF;
  IF status_column IS NOT NULL AND (error_threshold IS NULL OR error_threshold < 1) THEN
    RAISE EXCEPTION 'error_threshold must be at least 1 when status_column is given: %',
      coalesce(error_threshold::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  IF latency_column IS NOT NULL AND latency_threshold_ms IS NULL THEN
    RAISE EXCEPTION 'latency_threshold_ms must be given with latency_column' USING ERRCODE = '22004',
      HINT = 'The latency signal is "p95 latency in the observation window above latency_threshold_ms".';
  END IF;
  IF latency_column IS NULL AND latency_threshold_ms IS NOT NULL THEN
    RAISE EXCEPTION 'latency_threshold_ms needs latency_column' USING ERRCODE = '22023';
  END IF;
  IF latency_threshold_ms IS NOT NULL AND latency_threshold_ms IN ('NaN', 'Infinity', '-Infinity') THEN
    RAISE EXCEPTION 'latency_threshold_ms must be a finite number: %', latency_threshold_ms
      USING ERRCODE = '22023';
  END IF;
  IF normalize_behaviors AND to_regprocedure('apivalue.normalize_step(text)') IS NULL THEN
    RAISE EXCEPTION 'normalize_behaviors => true needs apivalue.normalize_step(text), which this installation lacks'
      USING ERRCODE = '42883', HINT = 'Normalize the behaviour column yourself, or call with normalize_behaviors => false.';
  END IF;

  u := apivalue._column(events, user_column, 'user column');
  t := apivalue._column(events, time_column, 'time column', '{timestamptz,timestamp}');
  b := apivalue._column(events, behavior_column, 'behavior column');
  SELECT a.atttypid::regtype INTO ttype
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = events AND a.attname = time_column AND a.attnum > 0 AND NOT a.attisdropped;
  IF status_column IS NOT NULL THEN
    st := apivalue._column(events, status_column, 'status column',
                           '{smallint,integer,bigint,numeric,text,character varying}');
    SELECT a.atttypid::regtype INTO sttype
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = events AND a.attname = status_column AND a.attnum > 0 AND NOT a.attisdropped;
    err_expr := CASE WHEN sttype IN ('text'::regtype, 'character varying'::regtype)
                     THEN format($e$(pg_catalog.btrim(%s::text) ~ '^5[0-9][0-9]$')$e$, st)
                     ELSE format('(%s BETWEEN 500 AND 599)', st) END;
    err_label := format('saw >= %s 5xx', error_threshold);
  END IF;
  IF latency_column IS NOT NULL THEN
    lat := apivalue._column(events, latency_column, 'latency column',
                            '{smallint,integer,bigint,numeric,real,double precision,interval}');
    SELECT a.atttypid::regtype INTO lattype
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = events AND a.attname = latency_column AND a.attnum > 0 AND NOT a.attisdropped;
    lat_expr := CASE WHEN lattype = 'interval'::regtype
                     THEN format('(pg_catalog.date_part(''epoch'', %s) * 1000)::double precision', lat)
                     ELSE format('%s::double precision', lat) END;
    lat_label := format('p95 latency > %s ms', latency_threshold_ms);
  END IF;
  cond := apivalue._condition(events, outcome_condition, 'outcome condition');

  q := format($q$
    WITH g AS MATERIALIZED (
      SELECT (f.s).behaviors AS behaviors, (f.s).server_errors AS server_errors,
             (f.s).slow AS slow, (f.s).outcome AS outcome
        FROM (SELECT apivalue.driver_features(%1$s, %2$s, %3$s, %4$s, %5$s,
                                              $1, $2, $3, $4, $5, $6, $7::%6$s) AS s
                FROM %7$s
               WHERE %8$s IS NOT NULL
               GROUP BY %8$s) AS f
       WHERE (f.s).outcome IS NOT NULL
    ), tot AS (
      SELECT count(*) AS n, count(*) FILTER (WHERE g.outcome) AS k FROM g
    ), c AS (
      SELECT 'behavior'::text AS kind, x.b AS behavior,
             count(*) AS n_with, count(*) FILTER (WHERE g.outcome) AS k_with
        FROM g CROSS JOIN LATERAL pg_catalog.unnest(g.behaviors) AS x(b)
       GROUP BY x.b
      UNION ALL
      SELECT 'errors', $8, count(*) FILTER (WHERE g.server_errors),
             count(*) FILTER (WHERE g.server_errors AND g.outcome)
        FROM g HAVING $8 IS NOT NULL
      UNION ALL
      SELECT 'latency', $9, count(*) FILTER (WHERE g.slow),
             count(*) FILTER (WHERE g.slow AND g.outcome)
        FROM g HAVING $9 IS NOT NULL
    ), s AS (
      SELECT c.kind, c.behavior, c.n_with, tot.n - c.n_with AS n_without,
             c.k_with, tot.k - c.k_with AS k_without, tot.n AS n_all, tot.k AS k_all
        FROM c CROSS JOIN tot
    ), tt AS (
      SELECT s.*, tp.rate1, tp.rate2, tp.diff, tp.p_value AS z_p, tp.ci_low, tp.ci_high, tp.phi,
             CASE WHEN s.n_with = 0 OR s.n_without = 0 THEN NULL
                  WHEN LEAST(s.n_with, s.n_without)::double precision
                       * LEAST(s.k_all, s.n_all - s.k_all) / s.n_all < 5 THEN 'fisher'
                  ELSE 'z' END AS test,
             (s.n_with < $10 OR s.n_without < $10) AS flagged
        FROM s CROSS JOIN LATERAL
             apivalue.two_proportion_test(s.k_with, s.n_with, s.k_without, s.n_without, $11) AS tp
    ), v AS (
      SELECT tt.*,
             CASE tt.test
               WHEN 'z' THEN tt.z_p
               WHEN 'fisher' THEN apivalue.fisher_exact_p(tt.k_with, tt.n_with - tt.k_with,
                                                          tt.k_without, tt.n_without - tt.k_without)
             END AS p,
             row_number() OVER (ORDER BY tt.kind, tt.behavior) AS ord
        FROM tt
    ), qv AS (
      SELECT apivalue.bh_qvalues(COALESCE(array_agg(v.p ORDER BY v.ord), '{}')) AS q FROM v
    ), r AS (
      SELECT v.*, qv.q[v.ord] AS q_value,
             CASE WHEN NOT v.flagged AND v.p IS NOT NULL THEN
               row_number() OVER (PARTITION BY (NOT v.flagged AND v.p IS NOT NULL)
                                  ORDER BY abs(v.phi) DESC NULLS LAST, v.p, v.kind, v.behavior)
             END AS rnk
        FROM v CROSS JOIN qv
    )
    SELECT r.behavior, r.kind, r.n_with, r.n_without, r.k_with, r.k_without,
           r.rate1, r.rate2, r.diff,
           CASE WHEN r.rate2 > 0 THEN r.rate1 / r.rate2 END,
           r.p, r.test, r.phi, r.q_value, r.ci_low, r.ci_high, r.flagged, r.rnk::integer
      FROM r
     ORDER BY r.rnk NULLS LAST, abs(r.phi) DESC NULLS LAST, r.p NULLS LAST, r.kind, r.behavior
  $q$,
    t,
    CASE WHEN normalize_behaviors THEN format('apivalue.normalize_step(%s::text)', b) ELSE format('%s::text', b) END,
    cond, err_expr, lat_expr, ttype, events, u);

  RETURN QUERY EXECUTE q
    USING observation, outcome_window, min_times,
          CASE WHEN status_column IS NOT NULL THEN error_threshold END,
          latency_threshold_ms, exclude_early_outcome, as_of,
          err_label, lat_label, min_users::bigint, confidence;
END
$fn$;

COMMENT ON FUNCTION apivalue.value_drivers(regclass, text, text, text, text, interval, integer, integer,
                                           boolean, text, text, integer, double precision, interval,
                                           boolean, timestamptz, double precision) IS
  'Which behaviours in a user''s first days (behaviour column values, >= error_threshold 5xx responses, p95 latency above a threshold) go with the outcome after that window: users and outcome rates with and without, lift, p-value (z or Fisher), phi, Benjamini-Hochberg q-value, Newcombe 95 % interval; ranked by |phi|, small groups flagged';

-- ---------------------------------------------------------------------------
-- API usage (SPEC 8b): api_usage (exact, a table function) and the mergeable
-- latency_summary aggregate (approximate percentiles, exact counts) for BI
-- tools and rollups.  C code: src/usage_latency.c.
-- ---------------------------------------------------------------------------

CREATE TYPE apivalue.latency_summary;

CREATE FUNCTION apivalue.latency_summary_in(cstring) RETURNS apivalue.latency_summary
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.latency_summary_out(apivalue.latency_summary) RETURNS cstring
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.latency_summary_recv(internal) RETURNS apivalue.latency_summary
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.latency_summary_send(apivalue.latency_summary) RETURNS bytea
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE apivalue.latency_summary (
  INPUT = apivalue.latency_summary_in, OUTPUT = apivalue.latency_summary_out,
  RECEIVE = apivalue.latency_summary_recv, SEND = apivalue.latency_summary_send,
  INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended
);

COMMENT ON TYPE apivalue.latency_summary IS
  'mergeable summary of API calls: exact calls per status class (1xx-5xx, other, unknown), exact min and max latency, and a latency histogram on fixed log-scale buckets (each read within 1 % of its values); text form is JSON';
COMMENT ON FUNCTION apivalue.latency_summary_in(cstring) IS 'input function of apivalue.latency_summary (validates every field)';
COMMENT ON FUNCTION apivalue.latency_summary_out(apivalue.latency_summary) IS 'output function of apivalue.latency_summary (JSON, empty end buckets trimmed)';
COMMENT ON FUNCTION apivalue.latency_summary_recv(internal) IS 'binary input function of apivalue.latency_summary (validates every field)';
COMMENT ON FUNCTION apivalue.latency_summary_send(apivalue.latency_summary) IS 'binary output function of apivalue.latency_summary';

CREATE FUNCTION apivalue.latency_summary_accum(apivalue.latency_summary, double precision, integer)
RETURNS apivalue.latency_summary AS 'MODULE_PATHNAME', 'apivalue_latency_summary_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_summary_accum(apivalue.latency_summary, double precision, integer) IS
  'internal: latency_summary transition function (latency in milliseconds)';

CREATE FUNCTION apivalue.latency_summary_accum(apivalue.latency_summary, interval, integer)
RETURNS apivalue.latency_summary AS 'MODULE_PATHNAME', 'apivalue_latency_summary_accum_interval'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_summary_accum(apivalue.latency_summary, interval, integer) IS
  'internal: latency_summary transition function (latency as an interval)';

CREATE FUNCTION apivalue.latency_summary_combine(apivalue.latency_summary, apivalue.latency_summary)
RETURNS apivalue.latency_summary AS 'MODULE_PATHNAME', 'apivalue_latency_summary_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_summary_combine(apivalue.latency_summary, apivalue.latency_summary) IS
  'internal: merges two latency summaries exactly (combine function of latency_summary and rollup)';

CREATE FUNCTION apivalue.latency_summary_final(apivalue.latency_summary)
RETURNS apivalue.latency_summary AS 'MODULE_PATHNAME', 'apivalue_latency_summary_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_summary_final(apivalue.latency_summary) IS
  'internal: final function of latency_summary and rollup (the canonical, trimmed summary)';

CREATE AGGREGATE apivalue.latency_summary(latency_ms double precision, status integer) (
  SFUNC = apivalue.latency_summary_accum,
  STYPE = apivalue.latency_summary,
  FINALFUNC = apivalue.latency_summary_final,
  COMBINEFUNC = apivalue.latency_summary_combine,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE apivalue.latency_summary(double precision, integer) IS
  'summary of the group''s calls: latency in milliseconds (NULL: a call without latency) and HTTP status (NULL: unknown); read it with calls, status_count, server_error_rate, client_error_rate, approx_percentile; merge with rollup';

CREATE AGGREGATE apivalue.latency_summary(latency interval, status integer) (
  SFUNC = apivalue.latency_summary_accum,
  STYPE = apivalue.latency_summary,
  FINALFUNC = apivalue.latency_summary_final,
  COMBINEFUNC = apivalue.latency_summary_combine,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE apivalue.latency_summary(interval, integer) IS
  'summary of the group''s calls with latency as an interval (read as EXTRACT(EPOCH) * 1000 ms) and HTTP status';

CREATE AGGREGATE apivalue.rollup(apivalue.latency_summary) (
  SFUNC = apivalue.latency_summary_combine,
  STYPE = apivalue.latency_summary,
  FINALFUNC = apivalue.latency_summary_final,
  COMBINEFUNC = apivalue.latency_summary_combine,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE apivalue.rollup(apivalue.latency_summary) IS
  'merges latency summaries (of periods, partitions, shards) into the summary of all their calls, exactly';

CREATE FUNCTION apivalue.calls(apivalue.latency_summary) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_calls' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.calls(apivalue.latency_summary) IS 'number of calls (rows) summarized';

CREATE FUNCTION apivalue.latency_count(apivalue.latency_summary) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_latency_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_count(apivalue.latency_summary) IS 'number of calls with a (non-NULL) latency';

CREATE FUNCTION apivalue.status_count(apivalue.latency_summary, status_class text) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_status_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.status_count(apivalue.latency_summary, text) IS
  'calls in a status class: 1xx, 2xx, 3xx, 4xx, 5xx, other (status outside 100-599) or unknown (NULL status)';

CREATE FUNCTION apivalue.server_error_rate(apivalue.latency_summary) RETURNS double precision
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_server_error_rate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.server_error_rate(apivalue.latency_summary) IS
  'share of the calls with a known status that have status 500-599 (exact); NULL without known statuses';

CREATE FUNCTION apivalue.client_error_rate(apivalue.latency_summary) RETURNS double precision
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_client_error_rate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.client_error_rate(apivalue.latency_summary) IS
  'share of the calls with a known status that have status 400-499 (exact); NULL without known statuses';

CREATE FUNCTION apivalue.latency_min(apivalue.latency_summary) RETURNS double precision
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_min' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_min(apivalue.latency_summary) IS 'smallest latency in ms (exact); NULL without latencies';

CREATE FUNCTION apivalue.latency_max(apivalue.latency_summary) RETURNS double precision
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_max' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_max(apivalue.latency_summary) IS 'largest latency in ms (exact); NULL without latencies';

CREATE FUNCTION apivalue.approx_percentile(apivalue.latency_summary, fraction double precision)
RETURNS double precision
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_percentile' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.approx_percentile(apivalue.latency_summary, double precision) IS
  'approximate percentile_cont of the latencies (ms): within 1 % of the exact value for latencies of 1 ns or more (below that within 1e-6 ms); NULL without latencies';

CREATE FUNCTION apivalue.approx_percentiles(apivalue.latency_summary, fractions double precision[])
RETURNS double precision[]
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_percentiles' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.approx_percentiles(apivalue.latency_summary, double precision[]) IS
  'approx_percentile for each fraction of an array (NULL fractions give NULL)';

CREATE FUNCTION apivalue.latency_buckets(apivalue.latency_summary) RETURNS double precision[]
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_buckets' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_buckets(apivalue.latency_summary) IS
  'the latency histogram as a [n][3] array of (low ms exclusive, high ms inclusive, calls) per non-empty bucket; the zero bucket (below 1e-6 ms) first as (0, 1e-6)';

-- ---------------------------------------------------------------------------
-- api_usage: per period, segment and endpoint, exact numbers.
--
-- This is the query an analyst would write — FILTER counts, count(DISTINCT),
-- percentile_cont, lag — with the parts that are easy to get wrong done
-- once: calendar periods in a time zone (period_start, ICU), endpoint
-- normalization (normalize_step), status and latency columns of several
-- types, and calls_change only against the immediately preceding period.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue.api_usage(
    events regclass,
    time_column text,
    endpoint_column text,
    user_column text,
    status_column text,
    latency_column text,
    period text DEFAULT 'day',
    segment_column text DEFAULT NULL,
    time_zone text DEFAULT 'UTC',
    normalize_endpoints boolean DEFAULT true)
RETURNS TABLE (period_start timestamptz, segment text, endpoint text,
               calls bigint, users bigint,
               server_error_rate double precision, client_error_rate double precision,
               p50_ms double precision, p95_ms double precision, p99_ms double precision,
               calls_change double precision)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $fn$
#variable_conflict use_column
DECLARE
  t text;
  e text;
  u text;
  ts_expr text;
  ep_expr text;
  seg_expr text := 'NULL::text';
  st_expr text := 'NULL::integer';
  err5 text := 'false';
  err4 text := 'false';
  lat_expr text := 'NULL::double precision';
  typ regtype;
  q text;
BEGIN
  IF period IS NULL OR time_zone IS NULL OR normalize_endpoints IS NULL THEN
    RAISE EXCEPTION 'period, time_zone and normalize_endpoints must not be NULL' USING ERRCODE = '22004';
  END IF;
  -- unknown period names and time zones fail here, before any row is read
  PERFORM apivalue.period_start(now(), period, time_zone);

  t := apivalue._column(events, time_column, 'time column', '{timestamptz,timestamp}');
  e := apivalue._column(events, endpoint_column, 'endpoint column');
  u := apivalue._column(events, user_column, 'user column');
  SELECT a.atttypid::regtype INTO typ FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = events AND a.attname = time_column AND a.attnum > 0 AND NOT a.attisdropped;
  -- a timestamp without time zone holds wall-clock times of time_zone
  ts_expr := CASE WHEN typ = 'timestamptz'::regtype THEN t
                  ELSE format('pg_catalog.timezone($2, %s)', t) END;
  ep_expr := format(CASE WHEN normalize_endpoints THEN 'apivalue.normalize_step(%s::text)' ELSE '%s::text' END, e);
  IF segment_column IS NOT NULL THEN
    seg_expr := format('%s::text', apivalue._column(events, segment_column, 'segment column'));
  END IF;
  IF status_column IS NOT NULL THEN
    st_expr := apivalue._column(events, status_column, 'status column',
                                '{smallint,integer,bigint,numeric,text,character varying}');
    SELECT a.atttypid::regtype INTO typ FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = events AND a.attname = status_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF typ IN ('text'::regtype, 'character varying'::regtype) THEN
      -- a text status is a three-character code: '503', or a class such as '5xx'
      err5 := format($x$(pg_catalog.btrim(%s::text) ~* '^5[0-9x][0-9x]$')$x$, st_expr);
      err4 := format($x$(pg_catalog.btrim(%s::text) ~* '^4[0-9x][0-9x]$')$x$, st_expr);
    ELSE
      err5 := format('(%s BETWEEN 500 AND 599)', st_expr);
      err4 := format('(%s BETWEEN 400 AND 499)', st_expr);
    END IF;
  END IF;
  IF latency_column IS NOT NULL THEN
    lat_expr := apivalue._column(events, latency_column, 'latency column',
                                 '{smallint,integer,bigint,numeric,real,double precision,interval}');
    SELECT a.atttypid::regtype INTO typ FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = events AND a.attname = latency_column AND a.attnum > 0 AND NOT a.attisdropped;
    lat_expr := CASE WHEN typ = 'interval'::regtype
                     THEN format('(pg_catalog.date_part(''epoch'', %s) * 1000)', lat_expr)
                     ELSE format('%s::double precision', lat_expr) END;
  END IF;

  q := format($q$
    WITH g AS (
      SELECT apivalue.period_start(%1$s, $1, $2) AS p, %2$s AS s, %3$s AS e,
             count(*) AS calls, count(DISTINCT %4$s) AS users,
             count(*) FILTER (WHERE %5$s) AS n5, count(*) FILTER (WHERE %6$s) AS n4,
             count(%7$s) AS nst,
             percentile_cont('{0.5,0.95,0.99}'::double precision[]) WITHIN GROUP (ORDER BY %8$s) AS pc
        FROM %9$s
       WHERE %10$s IS NOT NULL AND %11$s IS NOT NULL
       GROUP BY 1, 2, 3
    )
    SELECT g.p, g.s, g.e, g.calls, g.users,
           g.n5::double precision / NULLIF(g.nst, 0),
           g.n4::double precision / NULLIF(g.nst, 0),
           g.pc[1], g.pc[2], g.pc[3],
           CASE WHEN lag(g.p) OVER w = apivalue.period_start(g.p - interval '1 microsecond', $1, $2)
                THEN g.calls::double precision / lag(g.calls) OVER w - 1 END
      FROM g
    WINDOW w AS (PARTITION BY g.s, g.e ORDER BY g.p)
     ORDER BY g.p, g.s NULLS FIRST, g.e
  $q$, ts_expr, seg_expr, ep_expr, u, err5, err4, st_expr, lat_expr, events, t, e);
  RETURN QUERY EXECUTE q USING period, time_zone;
END
$fn$;

COMMENT ON FUNCTION apivalue.api_usage(regclass, text, text, text, text, text, text, text, text, boolean) IS
  'per period (period_start in time_zone), segment and endpoint (normalized with normalize_step unless normalize_endpoints => false): calls, distinct users, shares of known statuses 500-599 and 400-499, exact p50/p95/p99 latency in ms (percentile_cont), calls_change against the immediately preceding period of the same endpoint and segment';

-- ---------------------------------------------------------------------------
-- experiment_report: conversion per variant, the difference to control with
-- Newcombe's interval and a two-proportion z-test (the statistics shared
-- with value_drivers), and the sample-ratio-mismatch test.
--
-- A user's variant is that of their first exposure; users exposed to more
-- than one variant are excluded (and counted).  Conversion = an outcome
-- event in [first exposure, first exposure + conversion_window].  One scan
-- of exposures and outcomes, sorted by user (no join); the per-variant
-- table is small, so the checks and statistics run on it in PL/pgSQL.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue.experiment_report(
    events regclass,
    user_column text,
    time_column text,
    variant_column text,
    exposure_condition text,
    outcome_condition text,
    control text DEFAULT NULL,
    expected_split double precision[] DEFAULT NULL,
    conversion_window interval DEFAULT '14 days')
RETURNS TABLE (variant text, users bigint, converted bigint, conversion_rate double precision,
               diff_vs_control double precision, diff_ci_low double precision,
               diff_ci_high double precision, p_value double precision,
               excluded_users bigint, srm_p_value double precision, srm_flagged boolean)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $fn$
#variable_conflict use_column
DECLARE
  u text;
  t text;
  v text;
  xc text;
  oc text;
  q text;
  vs text[];
  ns bigint[];
  ks bigint[];
  excluded bigint;
  ci integer;
  srm double precision;
  flagged boolean;
  bad double precision;
BEGIN
  IF conversion_window IS NULL THEN
    RAISE EXCEPTION 'conversion_window must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF conversion_window <= interval '0' THEN
    RAISE EXCEPTION 'conversion_window must be positive: "%"', conversion_window
      USING ERRCODE = '22023', HINT = 'Give a positive interval such as ''14 days''.';
  END IF;
  IF expected_split IS NOT NULL THEN
    IF pg_catalog.array_ndims(expected_split) IS DISTINCT FROM 1 THEN
      RAISE EXCEPTION 'expected_split must be a one-dimensional array of shares, got %', expected_split
        USING ERRCODE = '22023';
    END IF;
    SELECT s INTO bad FROM pg_catalog.unnest(expected_split) s
     WHERE s IS NULL OR s < 0 OR s IN ('NaN', 'Infinity') LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'expected_split shares must be finite and non-negative, got %', expected_split
        USING ERRCODE = '22023';
    END IF;
    IF (SELECT sum(s) FROM pg_catalog.unnest(expected_split) s) <= 0 THEN
      RAISE EXCEPTION 'expected_split must have a positive share, got %', expected_split
        USING ERRCODE = '22023';
    END IF;
  END IF;

  u := apivalue._column(events, user_column, 'user column');
  t := apivalue._column(events, time_column, 'time column', '{timestamptz,timestamp}');
  IF variant_column IS NULL THEN
    RAISE EXCEPTION 'variant column must not be NULL' USING ERRCODE = '22004';
  END IF;
  -- a column of the relation, or else one expression over its columns
  IF EXISTS (SELECT FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = events AND a.attname = variant_column
                AND a.attnum > 0 AND NOT a.attisdropped) THEN
    v := pg_catalog.quote_ident(variant_column);
  ELSE
    v := apivalue._expression(events, variant_column, 'variant');
  END IF;
  xc := apivalue._condition(events, exposure_condition, 'exposure condition');
  oc := apivalue._condition(events, outcome_condition, 'outcome condition');

  -- One pass over exposures and outcomes together: a window gives every
  -- row its user's first exposure, and one GROUP BY per user yields the
  -- variant, the mix flag and the conversion.  No join between exposures and
  -- outcomes, so the plan cannot turn quadratic when row estimates are off
  -- (a table not yet analyzed).
  q := format($q$
    WITH e AS (
      SELECT %1$s AS u, %2$s AS t,
             CASE WHEN %5$s IS TRUE THEN (%3$s)::text COLLATE "C" END AS v,
             %6$s IS TRUE AS o
        FROM %4$s
       WHERE (%5$s IS TRUE OR %6$s IS TRUE) AND %1$s IS NOT NULL AND %2$s IS NOT NULL
    ), w AS (
      SELECT e.u, e.t, e.v, e.o, min(e.t) FILTER (WHERE e.v IS NOT NULL) OVER (PARTITION BY e.u) AS t0
        FROM e
    ), pu AS (
      SELECT w.u, min(w.v) AS v, min(w.v) <> max(w.v) AS mixed,
             bool_or(w.o AND w.t >= w.t0 AND w.t <= w.t0 + $1) AS conv
        FROM w WHERE w.t0 IS NOT NULL
       GROUP BY w.u
    ), pv AS (
      SELECT pu.v, count(*) AS n, count(*) FILTER (WHERE pu.conv) AS k
        FROM pu
       WHERE NOT pu.mixed
       GROUP BY pu.v
    )
    SELECT (SELECT array_agg(pv.v ORDER BY pv.v) FROM pv),
           (SELECT array_agg(pv.n ORDER BY pv.v) FROM pv),
           (SELECT array_agg(pv.k ORDER BY pv.v) FROM pv),
           (SELECT count(*) FILTER (WHERE pu.mixed) FROM pu)
  $q$, u, t, v, events, xc, oc);
  EXECUTE q INTO vs, ns, ks, excluded USING conversion_window;

  IF vs IS NULL THEN
    RETURN;   -- nobody exposed
  END IF;
  IF control IS NULL THEN
    ci := 1;
  ELSE
    ci := pg_catalog.array_position(vs, control);
    IF ci IS NULL THEN
      RAISE EXCEPTION 'control variant "%" has no exposed users', control
        USING ERRCODE = '22023',
              DETAIL = format('Variants with exposed users: %s.', pg_catalog.array_to_string(vs, ', ')),
              HINT = 'Name one of them, or pass control => NULL for the first in sort order.';
    END IF;
  END IF;
  IF expected_split IS NOT NULL AND cardinality(expected_split) <> cardinality(vs) THEN
    RAISE EXCEPTION 'expected_split has % shares but % variants have exposed users', cardinality(expected_split), cardinality(vs)
      USING ERRCODE = '22023',
            DETAIL = format('Variants in sort order: %s.', pg_catalog.array_to_string(vs, ', ')),
            HINT = 'Give one share per variant, in the byte order of the variant names.';
  END IF;
  srm := apivalue.chisq_gof_p(ns, expected_split);
  flagged := coalesce(srm < 0.001, false);

  RETURN QUERY
  SELECT vs[i], ns[i], ks[i], ks[i]::double precision / ns[i],
         CASE WHEN i <> ci AND NOT flagged THEN tp.diff END,
         CASE WHEN i <> ci AND NOT flagged THEN tp.ci_low END,
         CASE WHEN i <> ci AND NOT flagged THEN tp.ci_high END,
         CASE WHEN i <> ci AND NOT flagged THEN tp.p_value END,
         excluded, srm, flagged
    FROM pg_catalog.generate_subscripts(vs, 1) AS i
         CROSS JOIN LATERAL apivalue.two_proportion_test(ks[i], ns[i], ks[ci], ns[ci]) AS tp
   ORDER BY i;
END
$fn$;

COMMENT ON FUNCTION apivalue.experiment_report(regclass, text, text, text, text, text, text, double precision[], interval) IS
  'A/B test report: per variant (from each user''s first exposure; users exposed to two variants excluded and counted) users, conversions within conversion_window, difference to control with Newcombe 95 % interval and z-test p-value, and the sample-ratio-mismatch chi-square p-value against expected_split; when the split is broken (p < 0.001) the comparison columns are NULL';

-- ---------------------------------------------------------------------------
-- Quality check kind experiment_srm: watch a running experiment's split.
-- observed = -log10 of the SRM p-value (3 means p = 0.001), so the usual
-- "observed > threshold" reads "the split is less likely than 10^-threshold".
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._quality_run_experiment_srm(rel regclass, params jsonb,
                                                     OUT observed double precision,
                                                     OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  r record;
  p double precision;
  split double precision[] := (params ->> 'expected_split')::double precision[];
BEGIN
  SELECT jsonb_agg(jsonb_build_object('variant', e.variant, 'users', e.users) ORDER BY e.variant COLLATE "C") AS per_variant,
         min(e.srm_p_value) AS srm, min(e.excluded_users) AS excluded, sum(e.users) AS exposed
    INTO r
    FROM apivalue.experiment_report(rel, params ->> 'user_column', params ->> 'time_column',
                                    params ->> 'variant', params ->> 'exposure_condition', 'false',
                                    expected_split => split) e;
  p := r.srm;
  observed := CASE WHEN p IS NULL THEN 0
                   WHEN p <= 0 THEN 324   -- beyond the smallest double: certainly broken
                   ELSE least(-log(p), 324) END;
  details := jsonb_build_object('srm_p_value', p, 'flagged', coalesce(p < 0.001, false),
                                'exposed_users', r.exposed, 'excluded_users', r.excluded,
                                'expected_split', to_jsonb(split));
  sample := coalesce(r.per_variant, '[]'::jsonb);
END
$fn$;
COMMENT ON FUNCTION apivalue._quality_run_experiment_srm(regclass, jsonb) IS
  'internal: runner of the experiment_srm quality check (users per variant from experiment_report, -log10 of the SRM p-value)';

CREATE FUNCTION apivalue._quality_validate_experiment_srm(rel regclass, params jsonb)
RETURNS void LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  split double precision[];
BEGIN
  IF params ? 'expected_split' THEN
    BEGIN
      split := (params ->> 'expected_split')::double precision[];
    EXCEPTION WHEN invalid_text_representation OR invalid_parameter_value THEN
      RAISE EXCEPTION 'parameter "expected_split" must be an array of shares such as "{0.5,0.5}", got %',
        params -> 'expected_split' USING ERRCODE = '22023';
    END;
    IF array_ndims(split) IS DISTINCT FROM 1
       OR EXISTS (SELECT FROM unnest(split) s WHERE s IS NULL OR s < 0 OR s IN ('NaN', 'Infinity'))
       OR (SELECT sum(s) FROM unnest(split) s) <= 0 THEN
      RAISE EXCEPTION 'parameter "expected_split" must list finite non-negative shares, not all 0, got %',
        params -> 'expected_split' USING ERRCODE = '22023';
    END IF;
  END IF;
  -- the variant: a column, or one expression over the columns
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = rel AND a.attname = params ->> 'variant'
                    AND a.attnum > 0 AND NOT a.attisdropped) THEN
    PERFORM apivalue._expression(rel, params ->> 'variant', 'variant');
  END IF;
END
$fn$;
COMMENT ON FUNCTION apivalue._quality_validate_experiment_srm(regclass, jsonb) IS
  'internal: validator of the experiment_srm quality check (expected_split parses as shares, the variant is a column or an expression)';

INSERT INTO apivalue.quality_check_kinds (kind, runner, parameters, observed, description, validator, builtin)
VALUES ('experiment_srm', 'apivalue._quality_run_experiment_srm(regclass,jsonb)',
 '{"user_column": {"type": "column", "required": true},
   "time_column": {"type": "column", "required": true, "types": ["timestamptz", "timestamp"]},
   "variant": {"type": "text", "required": true, "description": "the variant: a column name, or an expression such as payload->>''variant''"},
   "exposure_condition": {"type": "condition", "required": true, "description": "which events are exposures to this experiment"},
   "expected_split": {"type": "text", "description": "shares per variant in the byte order of variant names, e.g. {0.5,0.5} (default: equal)"}}',
 '-log10 of the sample-ratio-mismatch p-value (3 = p 0.001)',
 'experiment split differs from the expected shares (chi-square goodness of fit of users per variant, experiment_report)',
 'apivalue._quality_validate_experiment_srm(regclass,jsonb)', true);
-- apivalue install script: product funnels, time to value as a survival
-- curve, feature adoption (SPEC sections 2b, 4c, 8b).
-- Part of the files concatenated into apivalue--<version>.sql (see Makefile).
-- C code: src/funnel_report.c (chains, on funnel.h's search), src/km.c.

-- ---------------------------------------------------------------------------
-- _funnel_report_chains: per-user chains for funnel_report.
-- ---------------------------------------------------------------------------
CREATE TYPE apivalue.funnel_chain_step AS (
  breakdown_value text,
  step int,
  from_previous interval,
  last boolean,
  excluded boolean);
COMMENT ON TYPE apivalue.funnel_chain_step IS
  'one step of one funnel chain (or one excluded chain: step NULL, excluded true), as _funnel_report_chains returns them';

CREATE FUNCTION apivalue._funnel_report_accum(internal, bigint[], timestamptz, text, VARIADIC "any")
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_funnel_report_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._funnel_report_accum(internal, bigint[], timestamptz, text, VARIADIC "any") IS
  'internal: _funnel_report_chains transition function';
CREATE FUNCTION apivalue._funnel_report_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_funnel_report_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._funnel_report_combine(internal, internal) IS
  'internal: _funnel_report_chains combine function';
CREATE FUNCTION apivalue._funnel_report_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_funnel_report_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._funnel_report_serialize(internal) IS
  'internal: _funnel_report_chains serialization (version byte, configuration, events, breakdown values)';
CREATE FUNCTION apivalue._funnel_report_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_funnel_report_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._funnel_report_deserialize(bytea, internal) IS
  'internal: _funnel_report_chains deserialization (checked against its size)';
CREATE FUNCTION apivalue._funnel_report_final(internal)
RETURNS apivalue.funnel_chain_step[] AS 'MODULE_PATHNAME', 'apivalue_funnel_report_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._funnel_report_final(internal) IS
  'internal: _funnel_report_chains final function (sort once, chain search, exclusions, attribution)';

CREATE AGGREGATE apivalue._funnel_report_chains(config bigint[], ts timestamptz, breakdown text,
                                                VARIADIC conditions "any") (
  SFUNC = apivalue._funnel_report_accum, STYPE = internal, SSPACE = 400,
  FINALFUNC = apivalue._funnel_report_final,
  COMBINEFUNC = apivalue._funnel_report_combine,
  SERIALFUNC = apivalue._funnel_report_serialize,
  DESERIALFUNC = apivalue._funnel_report_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue._funnel_report_chains(bigint[], timestamptz, text, VARIADIC "any") IS
  'internal: one user''s funnel chains (steps reached, times between them, breakdown, exclusion) for funnel_report; configuration built by funnel_report';

-- ---------------------------------------------------------------------------
-- funnel_report
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue.funnel_report(
  events regclass, user_column text, time_column text,
  steps text[], conversion_window interval, mode text DEFAULT '',
  step_labels text[] DEFAULT NULL,
  exclusions text[] DEFAULT '{}', exclusion_steps int4range[] DEFAULT NULL,
  optional_steps int[] DEFAULT '{}', step_order text DEFAULT 'ordered',
  breakdown text DEFAULT NULL, attribution text DEFAULT 'first_touch',
  counting text DEFAULT 'unique')
RETURNS TABLE (breakdown_value text, step int, step_label text, users bigint,
               conversion_from_start float8, conversion_from_previous float8,
               dropped_after bigint, avg_time_from_previous interval,
               median_time_from_previous interval, p90_time_from_previous interval,
               excluded_users bigint)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  t text := apivalue._column(events, time_column, 'time column', '{timestamptz,timestamp}');
  n int := coalesce(cardinality(steps), 0);
  nx int := coalesce(cardinality(exclusions), 0);
  conds text[] := '{}';
  bd text := 'NULL::text';
  labels text[];
  cfg bigint[];
  modes_bits bigint := 0;
  opt_mask bigint := 0;
  attr bigint;
  prev int[] := '{}';
  last_mand int := 1;
  i int;
  r int4range;
  lo int;
  hi int;
  q text;
  win_months int;
  win_days int;
  win_usec bigint;
  filt text := '';
BEGIN
  IF n = 0 THEN
    RAISE EXCEPTION 'funnel_report needs at least one step'
      USING ERRCODE = '22023', HINT = 'Pass steps as an array of boolean SQL conditions, e.g. ARRAY[$$event = ''signup''$$, $$event = ''first_call''$$].';
  END IF;
  IF n > 32 THEN
    RAISE EXCEPTION 'funnel_report accepts at most 32 steps, got %', n USING ERRCODE = '54023';
  END IF;
  IF nx > 32 THEN
    RAISE EXCEPTION 'funnel_report accepts at most 32 exclusions, got %', nx USING ERRCODE = '54023';
  END IF;
  IF conversion_window IS NULL THEN
    RAISE EXCEPTION 'conversion_window must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF conversion_window < interval '0' THEN
    RAISE EXCEPTION 'conversion_window must not be negative, got %', conversion_window USING ERRCODE = '22023';
  END IF;
  IF mode IS NULL OR step_order IS NULL OR attribution IS NULL OR counting IS NULL THEN
    RAISE EXCEPTION 'mode, step_order, attribution and counting must not be NULL' USING ERRCODE = '22004';
  END IF;
  FOR i IN 1 .. n LOOP
    conds := conds || apivalue._condition(events, steps[i], format('step %s', i));
  END LOOP;
  FOR i IN 1 .. nx LOOP
    conds := conds || apivalue._condition(events, exclusions[i], format('exclusion %s', i));
  END LOOP;
  IF breakdown IS NOT NULL THEN
    bd := apivalue._expression(events, breakdown, 'breakdown') || '::text';
  END IF;
  IF step_labels IS NOT NULL AND cardinality(step_labels) <> n THEN
    RAISE EXCEPTION 'step_labels has % labels for % steps', cardinality(step_labels), n
      USING ERRCODE = '22023';
  END IF;
  labels := coalesce(step_labels, steps);

  IF step_order NOT IN ('ordered', 'any_order') THEN
    RAISE EXCEPTION 'unknown step_order "%"', step_order
      USING ERRCODE = '22023', HINT = 'Valid values are ordered and any_order.';
  END IF;
  IF counting NOT IN ('unique', 'total') THEN
    RAISE EXCEPTION 'unknown counting "%"', counting
      USING ERRCODE = '22023', HINT = 'Valid values are unique and total.';
  END IF;
  -- the modes, checked by window_funnel's own parser
  SELECT bit_or(b) INTO modes_bits
  FROM (VALUES (1, 'strict_deduplication'), (2, 'strict_order'), (4, 'strict_increase'),
               (8, 'allow_reentry')) m(b, name)
  WHERE name = ANY (SELECT btrim(x) FROM unnest(string_to_array(mode, ',')) x);
  PERFORM apivalue.window_funnel(interval '0', mode, now(), true);
  modes_bits := coalesce(modes_bits, 0);
  IF step_order = 'any_order' AND modes_bits <> 0 THEN
    RAISE EXCEPTION 'mode "%" cannot be used with step_order any_order', mode
      USING ERRCODE = '22023', HINT = 'window_funnel modes describe ordered funnels; pass mode => ''''.';
  END IF;
  IF counting = 'total' AND (modes_bits & ~4) <> 0 THEN
    RAISE EXCEPTION 'mode "%" cannot be used with counting total', mode
      USING ERRCODE = '22023', HINT = 'Only strict_increase applies to total counting.';
  END IF;
  IF step_order = 'any_order' AND counting = 'total' THEN
    RAISE EXCEPTION 'counting total cannot be used with step_order any_order'
      USING ERRCODE = '22023', HINT = 'Attempts are defined for ordered funnels.';
  END IF;

  IF attribution = 'first_touch' THEN
    attr := -2;
  ELSIF attribution = 'last_touch' THEN
    attr := -1;
  ELSIF attribution ~ '^step:[0-9]{1,9}$' THEN
    attr := substr(attribution, 6)::bigint;
    IF attr < 1 OR attr > n THEN
      RAISE EXCEPTION 'attribution "%" names a step outside 1..%', attribution, n USING ERRCODE = '22023';
    END IF;
  ELSE
    RAISE EXCEPTION 'unknown attribution "%"', attribution
      USING ERRCODE = '22023', HINT = 'Valid values are first_touch, last_touch and step:N.';
  END IF;

  IF optional_steps IS NULL THEN
    optional_steps := '{}';
  END IF;
  FOR i IN SELECT x FROM unnest(optional_steps) x LOOP
    IF i IS NULL OR i < 1 OR i > n THEN
      RAISE EXCEPTION 'optional step % is not one of the steps 1..%', i, n USING ERRCODE = '22023';
    END IF;
    IF i = 1 THEN
      RAISE EXCEPTION 'the first step cannot be optional'
        USING ERRCODE = '22023', HINT = 'A funnel starts with a step every user must do.';
    END IF;
    opt_mask := opt_mask | (1::bigint << (i - 1));
  END LOOP;
  IF opt_mask <> 0 AND step_order = 'any_order' THEN
    RAISE EXCEPTION 'optional steps cannot be used with step_order any_order'
      USING ERRCODE = '22023', HINT = 'In an any-order funnel every step is already skippable.';
  END IF;

  -- the window in microseconds, months as 30 days (as window_funnel counts them)
  win_months := extract(year FROM conversion_window) * 12 + extract(month FROM conversion_window);
  win_days := extract(day FROM conversion_window);
  win_usec := (win_months * 30 + win_days) * 86400000000::bigint
              + round(extract(epoch FROM conversion_window
                              - make_interval(months => win_months, days => win_days)) * 1000000)::bigint;
  cfg := ARRAY[1, n, nx, win_usec,
               modes_bits, (step_order = 'any_order')::int, (counting = 'total')::int,
               attr, opt_mask]::bigint[];
  IF exclusion_steps IS NOT NULL AND cardinality(exclusion_steps) <> nx THEN
    RAISE EXCEPTION 'exclusion_steps has % ranges for % exclusions', cardinality(exclusion_steps), nx
      USING ERRCODE = '22023', HINT = 'Give one range per exclusion, or NULL for the whole funnel.';
  END IF;
  FOR i IN 1 .. nx LOOP
    r := CASE WHEN exclusion_steps IS NULL THEN int4range(1, n, '[]') ELSE exclusion_steps[i] END;
    IF r IS NULL OR isempty(r) OR lower_inf(r) OR upper_inf(r) THEN
      RAISE EXCEPTION 'exclusion range % must be a bounded range of steps', coalesce(r::text, 'NULL')
        USING ERRCODE = '22023', HINT = 'Write it as int4range(a, b, ''[]'') with 1 <= a < b <= number of steps.';
    END IF;
    lo := lower(r);
    hi := upper(r) - 1;
    IF lo < 1 OR hi > n OR lo >= hi THEN
      RAISE EXCEPTION 'exclusion range [%,%] is outside the steps 1..%', lo, hi, n
        USING ERRCODE = '22023', HINT = 'An exclusion lies between step a and a later step b of the funnel.';
    END IF;
    cfg := cfg || ARRAY[lo, hi]::bigint[];
  END LOOP;

  -- previous mandatory step of each step (for conversion_from_previous)
  FOR i IN 1 .. n LOOP
    prev := prev || CASE WHEN i = 1 THEN NULL ELSE last_mand END;
    IF (opt_mask & (1::bigint << (i - 1))) = 0 THEN
      last_mand := i;
    END IF;
  END LOOP;

  -- Rows matching no step and no exclusion never reach a chain, except as
  -- interruptions in strict_order mode (ordered, unique counting): filter
  -- them out in the scan, so that only the few step events are grouped.
  IF step_order = 'any_order' OR counting = 'total' OR (modes_bits & 2) = 0 THEN
    filt := format(' AND (%s)', array_to_string(conds, ' OR '));
  END IF;

  q := format($q$
    WITH c AS (
      SELECT apivalue._funnel_report_chains($1, %2$s, %3$s, %4$s) AS a
      FROM %5$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL%6$s
      GROUP BY %1$s
    ), h AS MATERIALIZED (
      SELECT p.* FROM c CROSS JOIN LATERAL unnest(c.a) p
    ), g AS (
      SELECT h.breakdown_value AS b, h.step AS s, count(*) AS users,
             count(*) FILTER (WHERE h.last AND h.step < $2) AS dropped,
             avg(h.from_previous) AS avg_t,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY h.from_previous) AS med_t,
             percentile_cont(0.9) WITHIN GROUP (ORDER BY h.from_previous) AS p90_t
      FROM h WHERE NOT h.excluded
      GROUP BY 1, 2
    ), x AS (
      SELECT count(*) FILTER (WHERE h.excluded) AS n FROM h
    ), bv AS (
      SELECT DISTINCT g.b FROM g
      UNION
      SELECT NULL::text WHERE NOT $5
    ), full_g AS (
      SELECT bv.b, s.s, coalesce(g.users, 0) AS users, coalesce(g.dropped, 0) AS dropped,
             g.avg_t, g.med_t, g.p90_t
      FROM bv CROSS JOIN generate_series(1, $2) AS s(s)
      LEFT JOIN g ON g.b IS NOT DISTINCT FROM bv.b AND g.s = s.s
    )
    SELECT f.b, f.s, $3[f.s], f.users,
           f.users::float8 / nullif(first_value(f.users) OVER w, 0),
           CASE WHEN f.s = 1 THEN NULL
                ELSE f.users::float8 / nullif(p.users, 0) END,
           f.dropped, f.avg_t, f.med_t, f.p90_t, x.n
    FROM full_g f
    CROSS JOIN x
    LEFT JOIN full_g p ON p.b IS NOT DISTINCT FROM f.b AND p.s = ($4)[f.s]
    WINDOW w AS (PARTITION BY f.b ORDER BY f.s)
    ORDER BY f.b NULLS LAST, f.s $q$,
    u, t, bd, array_to_string(conds, ', '), events, filt);
  RETURN QUERY EXECUTE q USING cfg, n, labels, prev, breakdown IS NOT NULL;
END
$fn$;

COMMENT ON FUNCTION apivalue.funnel_report(regclass, text, text, text[], interval, text, text[], text[], int4range[], int[], text, text, text, text) IS
  'product funnel over every event: ordered (window_funnel modes) or any-order steps, exclusions between steps, optional steps, unique or total counting, breakdown with first_touch/last_touch/step:N attribution; per step users, conversion, drop-off, avg/median/p90 time from the previous step, excluded users';

-- ---------------------------------------------------------------------------
-- Kaplan-Meier (src/km.c): km_summary aggregate -> bigint[] histogram,
-- read by km_curve (one row per t) and km_median.
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue._km_summary_accum(bigint[], int, boolean, int)
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_km_summary_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._km_summary_accum(bigint[], int, boolean, int) IS
  'internal: km_summary transition function';
CREATE FUNCTION apivalue._km_summary_combine(bigint[], bigint[])
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_km_summary_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._km_summary_combine(bigint[], bigint[]) IS
  'internal: km_summary combine function (element-wise sum)';

CREATE AGGREGATE apivalue.km_summary(t int, reached boolean, horizon int) (
  SFUNC = apivalue._km_summary_accum, STYPE = bigint[],
  COMBINEFUNC = apivalue._km_summary_combine,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.km_summary(int, boolean, int) IS
  'Kaplan-Meier input histogram of whole time units t (reached = event happened at t, false = censored at t; t > horizon: at risk throughout): bigint[] [horizon, beyond, reached_0..H, censored_0..H]; read it with km_curve or km_median; summaries of one horizon add up';

CREATE FUNCTION apivalue.km_curve(summary bigint[])
RETURNS TABLE (t int, at_risk bigint, reached bigint, censored bigint,
               survival float8, ci_low float8, ci_high float8)
AS 'MODULE_PATHNAME', 'apivalue_km_curve'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 91;
COMMENT ON FUNCTION apivalue.km_curve(bigint[]) IS
  'Kaplan-Meier curve of a km_summary, one row per t = 0..horizon: at risk, reached, censored, survival, 95 % Greenwood interval on the log(-log) scale';

CREATE FUNCTION apivalue.km_median(summary bigint[])
RETURNS int
AS 'MODULE_PATHNAME', 'apivalue_km_median'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.km_median(bigint[]) IS
  'first t where the Kaplan-Meier survival of a km_summary is <= 0.5; NULL when it stays above 0.5 up to the horizon';

-- ---------------------------------------------------------------------------
-- _ttfv_point (src/km.c): one user's first start, first value at or after it
-- and latest event, in one transition per row, for ttfv_survival.
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue._ttfv_point_accum(internal, timestamptz, boolean, boolean)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_ttfv_point_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._ttfv_point_accum(internal, timestamptz, boolean, boolean) IS
  'internal: _ttfv_point transition function';
CREATE FUNCTION apivalue._ttfv_point_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_ttfv_point_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._ttfv_point_combine(internal, internal) IS
  'internal: _ttfv_point combine function';
CREATE FUNCTION apivalue._ttfv_point_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_ttfv_point_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._ttfv_point_serialize(internal) IS
  'internal: _ttfv_point serialization (version byte, flags, times)';
CREATE FUNCTION apivalue._ttfv_point_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_ttfv_point_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._ttfv_point_deserialize(bytea, internal) IS
  'internal: _ttfv_point deserialization (checked against its size)';
CREATE FUNCTION apivalue._ttfv_point_final(internal)
RETURNS timestamptz[] AS 'MODULE_PATHNAME', 'apivalue_ttfv_point_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._ttfv_point_final(internal) IS
  'internal: _ttfv_point final function';

CREATE AGGREGATE apivalue._ttfv_point(ts timestamptz, is_start boolean, is_value boolean) (
  SFUNC = apivalue._ttfv_point_accum, STYPE = internal, SSPACE = 64,
  FINALFUNC = apivalue._ttfv_point_final,
  COMBINEFUNC = apivalue._ttfv_point_combine,
  SERIALFUNC = apivalue._ttfv_point_serialize,
  DESERIALFUNC = apivalue._ttfv_point_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue._ttfv_point(timestamptz, boolean, boolean) IS
  'internal: {first start, first value at or after it, latest event} of one user for ttfv_survival (timestamptz[], NULL elements where there is none)';

-- ---------------------------------------------------------------------------
-- ttfv_survival: time to value as a Kaplan-Meier curve per cohort.
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue._km_units(d interval, resolution interval)
RETURNS int
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT div(extract(epoch FROM d), extract(epoch FROM resolution))::int $$;
COMMENT ON FUNCTION apivalue._km_units(interval, interval) IS
  'internal: whole resolution units in a non-negative interval, floor(d / resolution), exact (numeric epochs)';
CREATE FUNCTION apivalue._km_units_between(start timestamptz, stop timestamptz, resolution_usec bigint)
RETURNS int AS 'MODULE_PATHNAME', 'apivalue_km_units_between'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._km_units_between(timestamptz, timestamptz, bigint) IS
  'internal: whole resolution units from start to stop, truncated toward zero (= _km_units(stop - start, resolution) with the resolution in microseconds), in integer arithmetic';

CREATE FUNCTION apivalue.ttfv_survival(
  events regclass, user_column text, time_column text,
  start_condition text, value_condition text,
  resolution interval DEFAULT '1 day', horizon interval DEFAULT '90 days',
  as_of timestamptz DEFAULT NULL, cohort_period text DEFAULT 'month',
  time_zone text DEFAULT 'UTC')
RETURNS TABLE (cohort_start timestamptz, t int, at_risk bigint, reached bigint,
               censored bigint, survival float8, ci_low float8, ci_high float8)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  ts text := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  s text := apivalue._condition(events, start_condition, 'start condition');
  v text := apivalue._condition(events, value_condition, 'value condition');
  h numeric;
  w text := '';
BEGIN
  IF resolution IS NULL OR horizon IS NULL OR cohort_period IS NULL OR time_zone IS NULL THEN
    RAISE EXCEPTION 'resolution, horizon, cohort_period and time_zone must not be NULL'
      USING ERRCODE = '22004';
  END IF;
  IF extract(epoch FROM resolution) <= 0 THEN
    RAISE EXCEPTION 'resolution must be positive, got %', resolution USING ERRCODE = '22023';
  END IF;
  IF extract(epoch FROM horizon) < 0 THEN
    RAISE EXCEPTION 'horizon must not be negative, got %', horizon USING ERRCODE = '22023';
  END IF;
  h := div(extract(epoch FROM horizon), extract(epoch FROM resolution));
  IF h > 1000000 THEN
    RAISE EXCEPTION 'horizon % is % units of resolution %, more than 1000000', horizon, h, resolution
      USING ERRCODE = '22023', HINT = 'Use a coarser resolution or a shorter horizon.';
  END IF;
  IF as_of IS NOT NULL AND NOT isfinite(as_of) THEN
    RAISE EXCEPTION 'as_of must be finite, got %', as_of USING ERRCODE = '22008';
  END IF;
  -- unknown period or zone: fail before scanning
  PERFORM apivalue.period_start(now(), cohort_period, time_zone);
  IF as_of IS NOT NULL THEN
    w := format(' AND %s <= $1', ts);
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH pt AS MATERIALIZED (
      SELECT apivalue._ttfv_point(%2$s, %3$s, %4$s) AS p
      FROM %5$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL %6$s
      GROUP BY %1$s
    ), ao AS (
      SELECT coalesce($1, max(pt.p[3])) AS as_of FROM pt
    ), c AS (
      SELECT apivalue.period_start(pt.p[1], $2, $3) AS cohort,
             apivalue.km_summary(
               apivalue._km_units_between(pt.p[1], coalesce(pt.p[2], ao.as_of), $6),
               pt.p[2] IS NOT NULL, $5) AS km
      FROM pt CROSS JOIN ao
      WHERE pt.p[1] IS NOT NULL
      GROUP BY 1
    )
    SELECT c.cohort, k.t, k.at_risk, k.reached, k.censored, k.survival, k.ci_low, k.ci_high
    FROM c CROSS JOIN LATERAL apivalue.km_curve(c.km) k
    ORDER BY 1, 2 $q$, u, ts, s, v, events, w)
  USING as_of, cohort_period, time_zone, resolution, h::int,
        (extract(epoch FROM resolution) * 1000000)::bigint;
END
$fn$;

COMMENT ON FUNCTION apivalue.ttfv_survival(regclass, text, text, text, text, interval, interval, timestamptz, text, text) IS
  'time to value as a Kaplan-Meier curve per cohort (period of the first start event): users who have not reached value by as_of are censored, not dropped; one row per time unit t = 0..horizon/resolution with at risk, reached, censored, survival and its 95 % Greenwood log(-log) interval';

-- ---------------------------------------------------------------------------
-- feature_adoption / adoption_velocity (SPEC 8b)
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue.feature_adoption(
  events regclass, user_column text, time_column text, feature_column text,
  period text DEFAULT 'week', time_zone text DEFAULT 'UTC')
RETURNS TABLE (period_start timestamptz, feature text, active_users bigint,
               feature_users bigint, adoption_rate float8, new_adopters bigint,
               cumulative_adopters bigint, cumulative_adoption_rate float8)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  ts text := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  f text := apivalue._column(events, feature_column, 'feature column');
BEGIN
  IF period IS NULL OR time_zone IS NULL THEN
    RAISE EXCEPTION 'period and time_zone must not be NULL' USING ERRCODE = '22004';
  END IF;
  PERFORM apivalue.period_start(now(), period, time_zone);
  RETURN QUERY EXECUTE format($q$
    WITH e AS MATERIALIZED (
      SELECT %1$s AS u, apivalue.period_start(%2$s, $1, $2) AS p, %3$s::text AS f
      FROM %4$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL
    ), act AS (
      SELECT e.p, count(DISTINCT e.u) AS active FROM e GROUP BY e.p
    ), seen AS (
      SELECT e.u, min(e.p) AS p FROM e GROUP BY e.u
    ), cum_users AS (
      SELECT act.p, act.active,
             sum(coalesce((SELECT count(*) FROM seen WHERE seen.p = act.p), 0))
               OVER (ORDER BY act.p) AS seen_users
      FROM act
    ), fu AS (
      SELECT e.p, e.f, count(DISTINCT e.u) AS n FROM e WHERE e.f IS NOT NULL GROUP BY 1, 2
    ), fa AS (
      SELECT e.u, e.f, min(e.p) AS p FROM e WHERE e.f IS NOT NULL GROUP BY 1, 2
    ), na AS (
      SELECT fa.p, fa.f, count(*) AS n FROM fa GROUP BY 1, 2
    ), f0 AS (
      SELECT na.f, min(na.p) AS p0 FROM na GROUP BY 1
    ), grid AS (
      SELECT c.p, f0.f, c.active, c.seen_users,
             coalesce(fu.n, 0) AS fusers, coalesce(na.n, 0) AS newa
      FROM cum_users c JOIN f0 ON c.p >= f0.p0
      LEFT JOIN fu ON fu.p = c.p AND fu.f = f0.f
      LEFT JOIN na ON na.p = c.p AND na.f = f0.f
    )
    SELECT g.p, g.f, g.active, g.fusers, g.fusers::float8 / g.active, g.newa,
           (sum(g.newa) OVER w)::bigint,
           (sum(g.newa) OVER w)::float8 / g.seen_users
    FROM grid g
    WINDOW w AS (PARTITION BY g.f ORDER BY g.p)
    ORDER BY 2, 1 $q$, u, ts, f, events)
  USING period, time_zone;
END
$fn$;

COMMENT ON FUNCTION apivalue.feature_adoption(regclass, text, text, text, text, text) IS
  'per period (ICU calendar) and feature, from the feature''s first adoption on: active users, users of the feature, adoption rate, new adopters (first use in the period), cumulative adopters and their share of all users seen so far';

CREATE FUNCTION apivalue.adoption_velocity(
  events regclass, user_column text, time_column text, feature_column text,
  as_of timestamptz DEFAULT NULL, horizon interval DEFAULT '90 days')
RETURNS TABLE (feature text, users bigint, adopters bigint, km_median interval,
               adopted_by_30d float8)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  ts text := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  f text := apivalue._column(events, feature_column, 'feature column');
  h int;
  w text := '';
BEGIN
  IF horizon IS NULL THEN
    RAISE EXCEPTION 'horizon must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF extract(epoch FROM horizon) < 0 THEN
    RAISE EXCEPTION 'horizon must not be negative, got %', horizon USING ERRCODE = '22023';
  END IF;
  IF extract(epoch FROM horizon) > 86400000000::numeric THEN
    RAISE EXCEPTION 'horizon % is more than 1000000 days', horizon USING ERRCODE = '22023';
  END IF;
  IF as_of IS NOT NULL AND NOT isfinite(as_of) THEN
    RAISE EXCEPTION 'as_of must be finite, got %', as_of USING ERRCODE = '22008';
  END IF;
  -- whole days; at least 30 so that adopted_by_30d can be read
  h := greatest(apivalue._km_units(horizon, interval '1 day'), 30);
  IF as_of IS NOT NULL THEN
    w := format(' AND %s <= $1', ts);
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH e AS MATERIALIZED (
      SELECT %1$s AS u, %2$s AS ts, %3$s::text AS f
      FROM %4$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL %5$s
    ), usr AS MATERIALIZED (
      SELECT e.u, min(e.ts) AS first_ts, max(e.ts) AS last_ts FROM e GROUP BY e.u
    ), ao AS (
      SELECT coalesce($1, max(usr.last_ts)) AS as_of FROM usr
    ), fa AS (
      SELECT e.u, e.f, min(e.ts) AS adopted FROM e WHERE e.f IS NOT NULL GROUP BY 1, 2
    ), feats AS (
      SELECT DISTINCT fa.f FROM fa
    ), s AS (
      SELECT feats.f, count(*) AS users, count(fa.adopted) AS adopters,
             apivalue.km_summary(
               apivalue._km_units(coalesce(fa.adopted, ao.as_of) - usr.first_ts, interval '1 day'),
               fa.adopted IS NOT NULL, $2) AS km
      FROM feats CROSS JOIN usr CROSS JOIN ao
      LEFT JOIN fa ON fa.f = feats.f AND fa.u = usr.u
      GROUP BY feats.f
    )
    SELECT s.f, s.users, s.adopters,
           apivalue.km_median(s.km) * interval '1 day',
           (SELECT 1 - k.survival FROM apivalue.km_curve(s.km) k WHERE k.t = 29)
    FROM s
    ORDER BY 1 $q$, u, ts, f, events, w)
  USING as_of, h;
END
$fn$;

COMMENT ON FUNCTION apivalue.adoption_velocity(regclass, text, text, text, timestamptz, interval) IS
  'per feature, time from a user''s first event to their first use of it as a Kaplan-Meier curve (users who have not adopted by as_of are censored, not dropped): users, adopters, KM median in whole days (NULL when fewer than half adopt within the horizon), share adopted within the first 30 days (1 - S(29))';
-- sql/governance.sql
--
-- Governance next to the events (SPEC section 7b): a tracking plan with
-- versioned, approved event definitions and a conformance report; retention
-- windows applied in bounded batches (or by dropping whole partitions); and
-- calibration with canary events.  Check kinds tracking_plan and calibration
-- join the quality catalog (sql/quality.sql), which already has freshness.
--
-- Privileges decide who governs.  The catalog tables are writable by PUBLIC
-- only through guard triggers that ask PostgreSQL whether the current role
-- may EXECUTE the steward functions (approve_event, deprecate_event,
-- add_retention_policy, drop_retention_policy), whose EXECUTE is revoked from
-- PUBLIC here.  So one GRANT EXECUTE makes a steward, nothing is SECURITY
-- DEFINER, and the triggers stamp who changed what with the real role.

-- ---------------------------------------------------------------------------
-- Tracking plan.
-- ---------------------------------------------------------------------------

CREATE TABLE apivalue.event_definitions (
  name          text NOT NULL CHECK (name <> ''),
  version       integer NOT NULL CHECK (version > 0),
  status        text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'approved', 'deprecated')),
  owner         text,
  description   text,
  properties    jsonb NOT NULL DEFAULT '{}',
  superseded_by integer,
  proposed_by   name,
  proposed_at   timestamptz,
  approved_by   name,
  approved_at   timestamptz,
  deprecated_by name,
  deprecated_at timestamptz,
  changed_by    name,
  changed_at    timestamptz,
  PRIMARY KEY (name, version)
);
CREATE UNIQUE INDEX event_definitions_one_approved ON apivalue.event_definitions (name) WHERE status = 'approved';
COMMENT ON TABLE apivalue.event_definitions IS
  'tracking plan: every version of every event definition (status proposed/approved/deprecated, owner, description, expected properties {"key.path": {"type": ..., "required": ...}}, who proposed, approved, deprecated it and when)';

-- The JSON types jsonb_shape reports, which a property may declare.
CREATE FUNCTION apivalue._json_types() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ARRAY['string', 'number', 'boolean', 'null', 'object', 'array'] $$;
COMMENT ON FUNCTION apivalue._json_types() IS 'internal: the JSON type names of jsonb_typeof and jsonb_shape';

-- Key paths are written as jsonb_shape writes them: keys joined with '.',
-- a '.' inside a key written '\.', a '\' written '\\', and a top-level key
-- "_rows" written "\_rows".  These two convert between that text and the
-- array of keys.
CREATE FUNCTION apivalue._shape_path_keys(path text)
RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT array_agg(regexp_replace(m[1], '\\(.)', '\1', 'g') ORDER BY n)
  FROM regexp_matches(path, '((?:[^.\\]|\\.)+)', 'g') WITH ORDINALITY AS r(m, n)
$$;
COMMENT ON FUNCTION apivalue._shape_path_keys(text) IS
  'internal: the keys of a key path written as jsonb_shape writes it (dots separate keys, \. and \\ escape)';

CREATE FUNCTION apivalue._shape_path_text(keys text[])
RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT string_agg(CASE WHEN n = 1 AND k = '_rows' THEN '\_rows'
                         ELSE replace(replace(k, '\', '\\'), '.', '\.') END, '.' ORDER BY n)
  FROM unnest(keys) WITH ORDINALITY AS u(k, n)
$$;
COMMENT ON FUNCTION apivalue._shape_path_text(text[]) IS
  'internal: a key path as jsonb_shape writes it, from its keys';

-- Validates an expected-properties document and returns it normalized:
-- every value {"type": [types...] or null, "required": bool, "description"}.
CREATE FUNCTION apivalue._event_properties(properties jsonb)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  k text;
  spec jsonb;
  t jsonb;
  types jsonb;
  bad text;
  result jsonb := '{}';
BEGIN
  IF properties IS NULL OR properties = 'null'::jsonb THEN
    RETURN '{}';
  END IF;
  IF jsonb_typeof(properties) <> 'object' THEN
    RAISE EXCEPTION 'properties must be a JSON object, got %', properties
      USING ERRCODE = '22023', HINT = 'For example {"plan": {"type": "string", "required": true}}.';
  END IF;
  FOR k, spec IN SELECT * FROM jsonb_each(properties) ORDER BY 1 LOOP
    IF k !~ '^(?:[^.\\]|\\.)+(?:\.(?:[^.\\]|\\.)+)*$' THEN
      RAISE EXCEPTION 'property path "%" is invalid', k
        USING ERRCODE = '22023',
              HINT = 'A path is one or more non-empty keys separated by dots, such as "client.version"; write a dot inside a key as \. and a backslash as \\, as jsonb_shape does.';
    END IF;
    IF jsonb_typeof(spec) <> 'object' THEN
      RAISE EXCEPTION 'property "%" must be described by a JSON object, got %', k, spec
        USING ERRCODE = '22023', HINT = 'For example {"type": "string", "required": true}.';
    END IF;
    SELECT string_agg(a, ', ' ORDER BY a) INTO bad
    FROM jsonb_object_keys(spec) a WHERE a NOT IN ('type', 'required', 'description');
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'property "%" has unknown attribute(s): %', k, bad
        USING ERRCODE = '22023', HINT = 'Attributes are type, required and description.';
    END IF;
    t := spec -> 'type';
    IF t IS NULL OR t = 'null'::jsonb THEN
      types := NULL;
    ELSIF jsonb_typeof(t) = 'string' THEN
      types := jsonb_build_array(t);
    ELSIF jsonb_typeof(t) = 'array' AND jsonb_array_length(t) > 0 THEN
      types := t;
    ELSE
      RAISE EXCEPTION 'type of property "%" must be a JSON type name or a non-empty array of them, got %', k, t
        USING ERRCODE = '22023', HINT = 'JSON types: ' || array_to_string(apivalue._json_types(), ', ') || '.';
    END IF;
    IF types IS NOT NULL THEN
      SELECT string_agg(x::text, ', ') INTO bad
      FROM jsonb_array_elements(types) x
      WHERE jsonb_typeof(x) <> 'string' OR NOT (x #>> '{}') = ANY (apivalue._json_types());
      IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'property "%" has unknown type(s): %', k, bad
          USING ERRCODE = '22023', HINT = 'JSON types: ' || array_to_string(apivalue._json_types(), ', ') || '.';
      END IF;
      SELECT jsonb_agg(DISTINCT x) INTO types FROM jsonb_array_elements(types) x;
    END IF;
    IF spec ? 'required' AND jsonb_typeof(spec -> 'required') <> 'boolean' THEN
      RAISE EXCEPTION 'attribute "required" of property "%" must be true or false, got %', k, spec -> 'required'
        USING ERRCODE = '22023';
    END IF;
    IF spec ? 'description' AND jsonb_typeof(spec -> 'description') <> 'string' THEN
      RAISE EXCEPTION 'attribute "description" of property "%" must be a string, got %', k, spec -> 'description'
        USING ERRCODE = '22023';
    END IF;
    result := result || jsonb_build_object(k, jsonb_strip_nulls(jsonb_build_object(
                'type', types, 'required', coalesce((spec ->> 'required')::boolean, false),
                'description', spec -> 'description')));
  END LOOP;
  -- A declared path below another declared path needs that one to be an object.
  SELECT string_agg(format('"%s" below "%s"', c.key, p.key), ', ') INTO bad
  FROM jsonb_each(result) c JOIN jsonb_each(result) p
    ON cardinality(apivalue._shape_path_keys(c.key)) > cardinality(apivalue._shape_path_keys(p.key))
   AND (apivalue._shape_path_keys(c.key))[1:cardinality(apivalue._shape_path_keys(p.key))] = apivalue._shape_path_keys(p.key)
  WHERE p.value ? 'type' AND NOT p.value -> 'type' ? 'object';
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'nested properties need their parent to allow type object: %', bad USING ERRCODE = '22023';
  END IF;
  RETURN result;
END $$;
COMMENT ON FUNCTION apivalue._event_properties(jsonb) IS
  'internal: validates and normalizes expected event properties ({"key.path": {"type": "string" or [...], "required": bool, "description": text}})';

-- Guard of event_definitions: a definition is immutable once proposed, its
-- status moves only forward (proposed -> approved -> deprecated, or proposed
-- -> deprecated), approving needs EXECUTE on approve_event and deprecating
-- EXECUTE on approve_event or deprecate_event, and who/when are stamped with
-- the real role (so they cannot be forged by an ordinary role).
CREATE FUNCTION apivalue._event_definitions_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  may_approve boolean := has_function_privilege('apivalue.approve_event(text,integer)', 'EXECUTE');
  may_deprecate boolean := may_approve OR has_function_privilege('apivalue.deprecate_event(text)', 'EXECUTE');
BEGIN
  NEW.properties := apivalue._event_properties(NEW.properties);
  IF TG_OP = 'INSERT' THEN
    IF NOT may_approve THEN
      -- Ordinary roles only propose; stewards may also restore history (pg_dump).
      IF NEW.status <> 'proposed' OR NEW.superseded_by IS NOT NULL
         OR NEW.approved_by IS NOT NULL OR NEW.approved_at IS NOT NULL
         OR NEW.deprecated_by IS NOT NULL OR NEW.deprecated_at IS NOT NULL THEN
        RAISE EXCEPTION 'permission denied to add event "%" as %', NEW.name, NEW.status
          USING ERRCODE = '42501', HINT = 'New versions start as proposed (apivalue.propose_event); approving needs EXECUTE on apivalue.approve_event.';
      END IF;
      NEW.proposed_by := current_user;
      NEW.proposed_at := now();
      NEW.changed_by := current_user;
      NEW.changed_at := now();
    ELSE
      NEW.proposed_by := coalesce(NEW.proposed_by, current_user);
      NEW.proposed_at := coalesce(NEW.proposed_at, now());
      NEW.changed_by := coalesce(NEW.changed_by, current_user);
      NEW.changed_at := coalesce(NEW.changed_at, now());
    END IF;
    RETURN NEW;
  END IF;

  IF (NEW.name, NEW.version, NEW.owner, NEW.description, NEW.properties, NEW.proposed_by, NEW.proposed_at)
     IS DISTINCT FROM (OLD.name, OLD.version, OLD.owner, OLD.description, OLD.properties, OLD.proposed_by, OLD.proposed_at) THEN
    RAISE EXCEPTION 'version % of event "%" cannot be changed', OLD.version, OLD.name
      USING ERRCODE = '55000', HINT = 'Definitions are kept as they were proposed; propose a new version with apivalue.propose_event.';
  END IF;
  -- The stamps are the guard's to set.
  NEW.approved_by := OLD.approved_by;   NEW.approved_at := OLD.approved_at;
  NEW.deprecated_by := OLD.deprecated_by; NEW.deprecated_at := OLD.deprecated_at;
  NEW.changed_by := OLD.changed_by;     NEW.changed_at := OLD.changed_at;
  IF NEW.status = OLD.status THEN
    NEW.superseded_by := OLD.superseded_by;
    RETURN NEW;
  END IF;
  IF NOT (OLD.status = 'proposed' AND NEW.status IN ('approved', 'deprecated')
          OR OLD.status = 'approved' AND NEW.status = 'deprecated') THEN
    RAISE EXCEPTION 'version % of event "%" cannot go from % to %', OLD.version, OLD.name, OLD.status, NEW.status
      USING ERRCODE = '55000', HINT = 'Status moves from proposed to approved to deprecated; propose a new version to revive an event.';
  END IF;
  IF NEW.status = 'approved' AND NOT may_approve THEN
    RAISE EXCEPTION 'permission denied to approve event "%"', OLD.name
      USING ERRCODE = '42501', HINT = 'Approving needs EXECUTE on apivalue.approve_event.';
  END IF;
  IF NEW.status = 'deprecated' AND NOT may_deprecate THEN
    RAISE EXCEPTION 'permission denied to deprecate event "%"', OLD.name
      USING ERRCODE = '42501', HINT = 'Deprecating needs EXECUTE on apivalue.deprecate_event or apivalue.approve_event.';
  END IF;
  IF NEW.status = 'approved' THEN
    NEW.approved_by := current_user;
    NEW.approved_at := now();
    NEW.superseded_by := NULL;
  ELSE
    NEW.deprecated_by := current_user;
    NEW.deprecated_at := now();
  END IF;
  NEW.changed_by := current_user;
  NEW.changed_at := now();
  RETURN NEW;
END $$;
COMMENT ON FUNCTION apivalue._event_definitions_guard() IS
  'internal: keeps event definitions immutable, status forward-only, approval and deprecation behind EXECUTE on approve_event/deprecate_event, and stamps who and when';
CREATE TRIGGER event_definitions_guard BEFORE INSERT OR UPDATE ON apivalue.event_definitions
  FOR EACH ROW EXECUTE FUNCTION apivalue._event_definitions_guard();

SELECT pg_catalog.pg_extension_config_dump('apivalue.event_definitions', '');
GRANT SELECT, INSERT ON apivalue.event_definitions TO PUBLIC;
GRANT UPDATE (status, superseded_by) ON apivalue.event_definitions TO PUBLIC;

-- The effective plan: per event name the approved version if there is one,
-- otherwise the status of its newest version.
CREATE VIEW apivalue.tracking_plan AS
SELECT DISTINCT ON (d.name)
       d.name, d.version, d.status, d.owner, d.description, d.properties,
       (SELECT max(p.version) FROM apivalue.event_definitions p
        WHERE p.name = d.name AND p.status = 'proposed' AND p.version > d.version) AS pending_version,
       d.changed_by, d.changed_at
FROM apivalue.event_definitions d
ORDER BY d.name, (d.status = 'approved') DESC, d.version DESC;
COMMENT ON VIEW apivalue.tracking_plan IS
  'the tracking plan in force: per event its approved version, or else the status of its newest version (proposed or deprecated), and a newer proposal waiting for approval';
GRANT SELECT ON apivalue.tracking_plan TO PUBLIC;

CREATE FUNCTION apivalue.propose_event(name text, owner text, description text, properties jsonb DEFAULT '{}')
RETURNS apivalue.event_definitions
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v integer;
  created apivalue.event_definitions;
BEGIN
  IF name IS NULL OR btrim(name) = '' THEN
    RAISE EXCEPTION 'event name must not be NULL or empty' USING ERRCODE = '22023';
  END IF;
  -- Serialize proposals of one event so versions are consecutive.
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('apivalue.event_definitions'), pg_catalog.hashtext(name));
  SELECT coalesce(max(d.version), 0) + 1 INTO v FROM apivalue.event_definitions d WHERE d.name = propose_event.name;
  BEGIN
    INSERT INTO apivalue.event_definitions AS d (name, version, status, owner, description, properties)
    VALUES (name, v, 'proposed', owner, description, coalesce(properties, '{}'))
    RETURNING d.* INTO created;
  EXCEPTION WHEN unique_violation THEN
    -- A REPEATABLE READ or SERIALIZABLE snapshot that predates a concurrent
    -- proposal (or a version inserted without this function): the next
    -- version is not visible to us, so retrying is the only right answer.
    RAISE EXCEPTION 'event "%" was proposed concurrently (version % exists)', name, v
      USING ERRCODE = 'serialization_failure', HINT = 'Retry the transaction.';
  END;
  RETURN created;
END $$;
COMMENT ON FUNCTION apivalue.propose_event(text, text, text, jsonb) IS
  'proposes a new version of an event definition (owner, description, expected properties {"key.path": {"type": "string", "required": true}}); every version is kept';

CREATE FUNCTION apivalue.approve_event(name text, version integer DEFAULT NULL)
RETURNS apivalue.event_definitions
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  d apivalue.event_definitions;
  current_version integer;
BEGIN
  IF name IS NULL THEN
    RAISE EXCEPTION 'event name must not be NULL' USING ERRCODE = '22004';
  END IF;
  PERFORM 1 FROM apivalue.event_definitions e WHERE e.name = approve_event.name ORDER BY e.version FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'event "%" is not in the tracking plan', name
      USING ERRCODE = '42704', HINT = 'Propose it first with apivalue.propose_event.';
  END IF;
  IF version IS NULL THEN
    SELECT * INTO d FROM apivalue.event_definitions e
    WHERE e.name = approve_event.name AND e.status = 'proposed' ORDER BY e.version DESC LIMIT 1;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'event "%" has no proposed version to approve', name USING ERRCODE = '55000';
    END IF;
  ELSE
    SELECT * INTO d FROM apivalue.event_definitions e WHERE e.name = approve_event.name AND e.version = approve_event.version;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'event "%" has no version %', name, version USING ERRCODE = '42704';
    END IF;
  END IF;
  IF d.status = 'approved' THEN
    RETURN d;
  ELSIF d.status = 'deprecated' THEN
    RAISE EXCEPTION 'version % of event "%" is deprecated and cannot be approved', d.version, name
      USING ERRCODE = '55000', HINT = 'Propose a new version with apivalue.propose_event.';
  END IF;
  SELECT e.version INTO current_version FROM apivalue.event_definitions e
  WHERE e.name = approve_event.name AND e.status = 'approved';
  IF current_version > d.version THEN
    RAISE EXCEPTION 'version % of event "%" is older than its approved version %', d.version, name, current_version
      USING ERRCODE = '55000';
  END IF;
  -- The approved version is superseded (deprecated), then the new one approved.
  UPDATE apivalue.event_definitions e SET status = 'deprecated', superseded_by = d.version
  WHERE e.name = approve_event.name AND e.status = 'approved';
  UPDATE apivalue.event_definitions e SET status = 'approved'
  WHERE e.name = approve_event.name AND e.version = d.version
  RETURNING e.* INTO d;
  RETURN d;
END $$;
COMMENT ON FUNCTION apivalue.approve_event(text, integer) IS
  'approves a version of an event definition (default: its newest proposed version); the previously approved version becomes deprecated (superseded_by); needs EXECUTE, which is revoked from PUBLIC';
REVOKE EXECUTE ON FUNCTION apivalue.approve_event(text, integer) FROM PUBLIC;

CREATE FUNCTION apivalue.deprecate_event(name text)
RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  n integer;
BEGIN
  IF name IS NULL THEN
    RAISE EXCEPTION 'event name must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM apivalue.event_definitions e WHERE e.name = deprecate_event.name) THEN
    RAISE EXCEPTION 'event "%" is not in the tracking plan', name USING ERRCODE = '42704';
  END IF;
  -- Lock the event's versions in version order first, as approve_event
  -- does: the UPDATE alone locks them in scan order (heap order under a
  -- sequential scan), which deadlocked against a concurrent approval.
  PERFORM 1 FROM apivalue.event_definitions e WHERE e.name = deprecate_event.name ORDER BY e.version FOR UPDATE;
  UPDATE apivalue.event_definitions e SET status = 'deprecated'
  WHERE e.name = deprecate_event.name AND e.status <> 'deprecated';
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
COMMENT ON FUNCTION apivalue.deprecate_event(text) IS
  'deprecates every version of an event that is not deprecated yet and returns how many; needs EXECUTE, which is revoked from PUBLIC';
REVOKE EXECUTE ON FUNCTION apivalue.deprecate_event(text) FROM PUBLIC;

-- True when the key path exists in j (objects only, as jsonb_shape walks them).
CREATE FUNCTION apivalue._jsonb_has_path(j jsonb, path text[])
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(jsonb_typeof(j #> path[1:cardinality(path) - 1]) = 'object'
                      AND (j #> path[1:cardinality(path) - 1]) ? path[cardinality(path)], false) $$;
COMMENT ON FUNCTION apivalue._jsonb_has_path(jsonb, text[]) IS
  'internal: whether key path (as an array of keys) is present in j through nested objects';

-- The key paths of a jsonb_shape result: rows that had the path and the
-- count of each JSON type.
CREATE FUNCTION apivalue._shape_paths(shape jsonb)
RETURNS TABLE (key_path text, rows bigint, types jsonb)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT s.key, (s.value ->> 'rows')::bigint, s.value - 'rows'
  FROM jsonb_each(shape) s
  WHERE s.key <> '_rows'
$$;
COMMENT ON FUNCTION apivalue._shape_paths(jsonb) IS
  'internal: key paths of a jsonb_shape result as rows (key_path, rows having it, counts per JSON type)';

CREATE FUNCTION apivalue.tracking_plan_conformance(events regclass, event_column text,
    payload_column text, time_column text, since timestamptz DEFAULT NULL)
RETURNS TABLE (event_name text, problem text, key_path text, rows bigint, share float8, example jsonb)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  ecol text := apivalue._column(events, event_column, 'event_column');
  pcol text := apivalue._column(events, payload_column, 'payload_column', ARRAY['jsonb', 'json']::regtype[]);
  tcol text := apivalue._column(events, time_column, 'time_column',
                                ARRAY['timestamptz', 'timestamp', 'date']::regtype[]);
  approved text[];
  depth integer;
  observed jsonb;
  f record;
  cond text;
  ex jsonb;
BEGIN
  IF since IS NOT NULL AND NOT isfinite(since) THEN
    RAISE EXCEPTION 'since must be a finite timestamp, got %', since USING ERRCODE = '22008';
  END IF;
  -- The approved plans, and how deep to look: one level below the deepest
  -- declared path, so an undeclared key under a declared object is seen.
  SELECT array_agg(DISTINCT p.name), coalesce(max(cardinality(apivalue._shape_path_keys(k.key))), 0) + 1
  INTO approved, depth
  FROM apivalue.tracking_plan p LEFT JOIN LATERAL jsonb_object_keys(p.properties) k(key) ON true
  WHERE p.status = 'approved';
  -- One scan: rows per event name, and the shape of the approved ones.
  EXECUTE format($q$
    SELECT jsonb_agg(jsonb_build_object('event', s.e, 'rows', s.n, 'shape', s.shape))
    FROM (SELECT %1$s::text AS e, count(*) AS n,
                 apivalue.jsonb_shape(%2$s::jsonb, $2) FILTER (WHERE %1$s::text = ANY ($3)) AS shape
          FROM %3$s
          WHERE %1$s IS NOT NULL AND ($1 IS NULL OR %4$s >= $1)
          GROUP BY 1) s $q$, ecol, pcol, events, tcol)
    INTO observed USING since, depth, coalesce(approved, '{}');

  FOR f IN
    WITH ev AS (
      SELECT x ->> 'event' AS name, (x ->> 'rows')::bigint AS n, x -> 'shape' AS shape
      FROM jsonb_array_elements(coalesce(observed, '[]')) x
    ), total AS (
      SELECT sum(ev.n)::float8 AS n FROM ev
    ), plan AS (
      SELECT ev.name, ev.n, ev.shape, p.status, p.properties
      FROM ev LEFT JOIN apivalue.tracking_plan p ON p.name = ev.name
    ), declared AS (        -- declared paths (as arrays of keys), and the objects above them
      SELECT plan.name, apivalue._shape_path_keys(d.key) AS keys, d.value -> 'type' AS types,
             coalesce((d.value ->> 'required')::boolean, false) AS required, true AS explicit
      FROM plan, jsonb_each(plan.properties) d
      WHERE plan.status = 'approved'
      UNION ALL
      SELECT DISTINCT plan.name, s.keys[1:i], '["object"]'::jsonb, false, false
      FROM plan, jsonb_object_keys(plan.properties) d(key),
           LATERAL (SELECT apivalue._shape_path_keys(d.key) AS keys) s,
           generate_series(1, cardinality(s.keys) - 1) i
      WHERE plan.status = 'approved'
        AND NOT EXISTS (SELECT 1 FROM jsonb_object_keys(plan.properties) o(key)
                        WHERE apivalue._shape_path_keys(o.key) = s.keys[1:i])
    ), checked AS (
      SELECT c.*, apivalue._shape_path_text(c.keys) AS path,
             c.explicit AND (c.types IS NULL OR c.types ? 'object')
             AND NOT EXISTS (SELECT 1 FROM declared o WHERE o.name = c.name
                               AND cardinality(o.keys) > cardinality(c.keys)
                               AND o.keys[1:cardinality(c.keys)] = c.keys)
               AS opaque
      FROM declared c
    ), seen AS (
      SELECT plan.name, plan.n, s.key_path, s.rows, s.types, k.keys,
             CASE WHEN cardinality(k.keys) > 1 THEN k.keys[1:cardinality(k.keys) - 1] END AS parent
      FROM plan, apivalue._shape_paths(plan.shape) s,
           LATERAL (SELECT apivalue._shape_path_keys(s.key_path) AS keys) k
      WHERE plan.status = 'approved'
    )
    SELECT plan.name, CASE WHEN plan.status IS NULL THEN 'unknown_event'
                           WHEN plan.status = 'proposed' THEN 'unapproved_event'
                           ELSE 'deprecated_event' END AS problem,
           NULL::text AS path, plan.n AS n, plan.n / total.n AS share, NULL::jsonb AS types
    FROM plan, total
    WHERE plan.status IS DISTINCT FROM 'approved'
    UNION ALL
    SELECT c.name, 'missing_required', c.path, plan.n - coalesce(s.rows, 0),
           (plan.n - coalesce(s.rows, 0))::float8 / plan.n, NULL
    FROM checked c JOIN plan ON plan.name = c.name
    LEFT JOIN seen s ON s.name = c.name AND s.keys = c.keys
    WHERE c.required AND plan.n - coalesce(s.rows, 0) > 0
    UNION ALL
    SELECT w.name, 'wrong_type', w.path, w.bad, w.bad::float8 / w.n, w.types
    FROM (SELECT c.name, c.path, c.types, s.n,
                 (SELECT coalesce(sum(t.value::bigint), 0)::bigint FROM jsonb_each_text(s.types) t
                  WHERE NOT c.types ? t.key) AS bad
          FROM checked c JOIN seen s ON s.name = c.name AND s.keys = c.keys
          WHERE c.types IS NOT NULL) w
    WHERE w.bad > 0
    UNION ALL
    SELECT s.name, 'undeclared_property', s.key_path, s.rows, s.rows::float8 / s.n, NULL
    FROM seen s
    WHERE NOT EXISTS (SELECT 1 FROM checked c WHERE c.name = s.name AND c.keys = s.keys)
      AND (s.parent IS NULL
           OR EXISTS (SELECT 1 FROM checked c WHERE c.name = s.name AND c.keys = s.parent AND NOT c.opaque))
    ORDER BY 1, 2, 3
  LOOP
    -- One example payload per finding: the earliest offending row.
    cond := CASE f.problem
      WHEN 'missing_required' THEN format('NOT apivalue._jsonb_has_path(%s::jsonb, $3)', pcol)
      WHEN 'wrong_type' THEN format('apivalue._jsonb_has_path(%1$s::jsonb, $3) AND NOT $4 ? jsonb_typeof(%1$s::jsonb #> $3)', pcol)
      WHEN 'undeclared_property' THEN format('apivalue._jsonb_has_path(%s::jsonb, $3)', pcol)
      ELSE 'true' END;
    EXECUTE format($q$
      SELECT %1$s::jsonb FROM %2$s
      WHERE %3$s::text = $1 AND ($2 IS NULL OR %4$s >= $2) AND %5$s
      ORDER BY %4$s, %1$s::text LIMIT 1 $q$, pcol, events, ecol, tcol, cond)
      INTO ex USING f.name, since, apivalue._shape_path_keys(f.path), f.types;
    event_name := f.name;
    problem := f.problem;
    key_path := f.path;
    rows := f.n;
    share := f.share;
    example := ex;
    RETURN NEXT;
  END LOOP;
END $$;
COMMENT ON FUNCTION apivalue.tracking_plan_conformance(regclass, text, text, text, timestamptz) IS
  'events that do not follow the tracking plan: unknown_event, unapproved_event, deprecated_event (share of all rows), missing_required, wrong_type, undeclared_property (share of the event''s rows), with one example payload each; built on jsonb_shape; runs with the caller''s privileges';

CREATE FUNCTION apivalue._quality_run_tracking_plan(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  n bigint;
  findings jsonb;
BEGIN
  SELECT count(*),
         jsonb_agg(jsonb_build_object('event_name', c.event_name, 'problem', c.problem, 'key_path', c.key_path,
                                      'rows', c.rows, 'share', c.share)
                   ORDER BY c.event_name, c.problem, c.key_path) FILTER (WHERE c.rn <= 50),
         jsonb_agg(to_jsonb(c) - 'rn' ORDER BY c.event_name, c.problem, c.key_path) FILTER (WHERE c.rn <= 5)
  INTO n, findings, sample
  FROM (SELECT t.*, row_number() OVER (ORDER BY t.event_name, t.problem, t.key_path) AS rn
        FROM apivalue.tracking_plan_conformance(rel, params ->> 'event_column', params ->> 'payload_column',
               params ->> 'time_column', now() - (params ->> 'window')::interval) t) c;
  observed := n;
  details := jsonb_build_object('findings', n, 'window', params ->> 'window', 'problems', coalesce(findings, '[]'));
END $$;
COMMENT ON FUNCTION apivalue._quality_run_tracking_plan(regclass, jsonb) IS
  'internal: runner of check kind tracking_plan';

-- ---------------------------------------------------------------------------
-- Retention windows.
-- ---------------------------------------------------------------------------

CREATE SEQUENCE apivalue.retention_policy_id_seq;
COMMENT ON SEQUENCE apivalue.retention_policy_id_seq IS 'ids of retention_policies';

CREATE TABLE apivalue.retention_policies (
  policy_id     bigint PRIMARY KEY DEFAULT nextval('apivalue.retention_policy_id_seq'),
  relation      regclass NOT NULL,
  time_column   name NOT NULL,
  keep          interval NOT NULL CHECK (keep > interval '0'),
  tenant_column name,
  tenant_value  text,
  batch_size    integer NOT NULL DEFAULT 10000 CHECK (batch_size > 0),
  partitions    text NOT NULL DEFAULT 'drop' CHECK (partitions IN ('drop', 'detach')),
  enabled       boolean NOT NULL DEFAULT true,
  created_by    name,
  created_at    timestamptz,
  CHECK ((tenant_column IS NULL) = (tenant_value IS NULL)),
  UNIQUE NULLS NOT DISTINCT (relation, tenant_column, tenant_value)
);
COMMENT ON TABLE apivalue.retention_policies IS
  'retention windows: rows of relation whose time_column is older than now() - keep are removed (for one tenant when tenant_column/tenant_value are set); changing policies needs EXECUTE on add_retention_policy / drop_retention_policy';

CREATE SEQUENCE apivalue.retention_run_id_seq;
COMMENT ON SEQUENCE apivalue.retention_run_id_seq IS 'run ids of retention_log';

CREATE TABLE apivalue.retention_log (
  run_id          bigint NOT NULL,
  policy_id       bigint NOT NULL,
  relation        text NOT NULL,
  tenant          text,
  cutoff          timestamptz NOT NULL,
  dry_run         boolean NOT NULL,
  mode            text NOT NULL CHECK (mode IN ('function', 'procedure')),
  status          text NOT NULL CHECK (status IN ('running', 'done', 'error', 'interrupted')),
  rows_affected   bigint NOT NULL DEFAULT 0,
  rows_deleted    bigint NOT NULL DEFAULT 0,
  partition_rows  bigint NOT NULL DEFAULT 0,
  partitions      text[] NOT NULL DEFAULT '{}',
  batches         integer NOT NULL DEFAULT 0,
  error           jsonb,
  started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at     timestamptz,
  run_by          name,
  pid             integer,
  PRIMARY KEY (run_id, policy_id)
);
COMMENT ON TABLE apivalue.retention_log IS
  'every retention run, one row per policy: cutoff, dry run or not, rows removed (deleted in batches, or in dropped/detached partitions), status running/done/error/interrupted, who and when';

-- Guard of retention_policies: writing needs EXECUTE on the steward
-- functions, and a policy may only delete what its author could delete.
CREATE FUNCTION apivalue._retention_policies_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF NOT has_function_privilege('apivalue.drop_retention_policy(regclass,text)', 'EXECUTE') THEN
      RAISE EXCEPTION 'permission denied to drop retention policies'
        USING ERRCODE = '42501', HINT = 'Changing retention policies needs EXECUTE on apivalue.drop_retention_policy.';
    END IF;
    RETURN OLD;
  END IF;
  IF NOT has_function_privilege('apivalue.add_retention_policy(regclass,text,interval,text,text,integer,text)', 'EXECUTE') THEN
    RAISE EXCEPTION 'permission denied to change retention policies'
      USING ERRCODE = '42501', HINT = 'Changing retention policies needs EXECUTE on apivalue.add_retention_policy.';
  END IF;
  IF NOT has_table_privilege(NEW.relation, 'DELETE') THEN
    RAISE EXCEPTION 'permission denied to delete from %', NEW.relation
      USING ERRCODE = '42501', HINT = 'A retention policy may only remove rows its author may delete.';
  END IF;
  NEW.created_by := current_user;
  NEW.created_at := now();
  RETURN NEW;
END $$;
COMMENT ON FUNCTION apivalue._retention_policies_guard() IS
  'internal: policy changes need EXECUTE on add_retention_policy/drop_retention_policy and DELETE on the relation; stamps who and when';
CREATE TRIGGER retention_policies_guard BEFORE INSERT OR UPDATE OR DELETE ON apivalue.retention_policies
  FOR EACH ROW EXECUTE FUNCTION apivalue._retention_policies_guard();

-- Guard of retention_log: anyone may run retention (with their own
-- privileges), so anyone may log, but only as themselves; a finished entry
-- is final, and another role's entry may only be marked interrupted.
CREATE FUNCTION apivalue._retention_log_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.run_by := current_user;
    NEW.pid := pg_backend_pid();
    NEW.started_at := clock_timestamp();
    RETURN NEW;
  END IF;
  IF (NEW.run_id, NEW.policy_id, NEW.relation, NEW.tenant, NEW.cutoff, NEW.dry_run, NEW.mode,
      NEW.started_at, NEW.run_by, NEW.pid)
     IS DISTINCT FROM (OLD.run_id, OLD.policy_id, OLD.relation, OLD.tenant, OLD.cutoff, OLD.dry_run, OLD.mode,
                       OLD.started_at, OLD.run_by, OLD.pid)
     OR OLD.status <> 'running'
     OR OLD.run_by <> current_user
        AND NOT (NEW.status = 'interrupted' AND (NEW.rows_affected, NEW.rows_deleted, NEW.partition_rows,
                 NEW.partitions, NEW.batches, NEW.error) IS NOT DISTINCT FROM
                 (OLD.rows_affected, OLD.rows_deleted, OLD.partition_rows, OLD.partitions, OLD.batches, OLD.error)) THEN
    RAISE EXCEPTION 'retention log entry (run %, policy %) cannot be changed this way', OLD.run_id, OLD.policy_id
      USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION apivalue._retention_log_guard() IS
  'internal: retention log entries are written as the running role, final once finished';
CREATE TRIGGER retention_log_guard BEFORE INSERT OR UPDATE ON apivalue.retention_log
  FOR EACH ROW EXECUTE FUNCTION apivalue._retention_log_guard();

SELECT pg_catalog.pg_extension_config_dump('apivalue.retention_policies', '');
SELECT pg_catalog.pg_extension_config_dump('apivalue.retention_policy_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('apivalue.retention_log', '');
SELECT pg_catalog.pg_extension_config_dump('apivalue.retention_run_id_seq', '');
GRANT SELECT, INSERT, UPDATE, DELETE ON apivalue.retention_policies TO PUBLIC;
GRANT USAGE ON SEQUENCE apivalue.retention_policy_id_seq, apivalue.retention_run_id_seq TO PUBLIC;
GRANT SELECT, INSERT, UPDATE ON apivalue.retention_log TO PUBLIC;

CREATE FUNCTION apivalue.add_retention_policy(relation regclass, time_column text, keep interval,
    tenant_column text DEFAULT NULL, tenant_value text DEFAULT NULL,
    batch_size integer DEFAULT 10000, partitions text DEFAULT 'drop')
RETURNS apivalue.retention_policies
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  created apivalue.retention_policies;
BEGIN
  IF relation IS NULL THEN
    RAISE EXCEPTION 'relation must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = relation) NOT IN ('r', 'p') THEN
    RAISE EXCEPTION '% is not a table', relation
      USING ERRCODE = '42809', HINT = 'Retention applies to tables and partitioned tables.';
  END IF;
  PERFORM apivalue._column(relation, time_column, 'time_column', ARRAY['timestamptz', 'timestamp', 'date']::regtype[]);
  IF keep IS NULL OR keep <= interval '0' OR NOT isfinite(keep) THEN
    RAISE EXCEPTION 'keep must be a positive interval, got %', coalesce(keep::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF (tenant_column IS NULL) <> (tenant_value IS NULL) THEN
    RAISE EXCEPTION 'tenant_column and tenant_value go together'
      USING ERRCODE = '22023', HINT = 'Give both for a per-tenant policy, neither for the whole relation.';
  END IF;
  IF tenant_column IS NOT NULL THEN
    PERFORM apivalue._column(relation, tenant_column, 'tenant_column');
    -- The value must be one of the column's type.
    EXECUTE format('SELECT CAST($1 AS %s)',
                   (SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = relation AND a.attname = tenant_column))
      USING tenant_value;
  END IF;
  IF batch_size IS NULL OR batch_size < 1 THEN
    RAISE EXCEPTION 'batch_size must be positive, got %', coalesce(batch_size::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  IF partitions IS NULL OR partitions NOT IN ('drop', 'detach') THEN
    RAISE EXCEPTION 'partitions must be "drop" or "detach", got "%"', partitions USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM apivalue.retention_policies p
             WHERE p.relation = add_retention_policy.relation
               AND p.tenant_column IS NOT DISTINCT FROM add_retention_policy.tenant_column
               AND p.tenant_value IS NOT DISTINCT FROM add_retention_policy.tenant_value) THEN
    RAISE EXCEPTION 'a retention policy for % % already exists', relation,
      CASE WHEN tenant_column IS NULL THEN '(all tenants)' ELSE format('and %s = %L', tenant_column, tenant_value) END
      USING ERRCODE = '42710', HINT = 'Drop it first with apivalue.drop_retention_policy.';
  END IF;
  BEGIN
    INSERT INTO apivalue.retention_policies AS p (relation, time_column, keep, tenant_column, tenant_value, batch_size, partitions)
    VALUES (relation, time_column, keep, tenant_column, tenant_value, batch_size, partitions)
    RETURNING p.* INTO created;
  EXCEPTION WHEN unique_violation THEN
    -- Added by a concurrent transaction after the check above.
    RAISE EXCEPTION 'a retention policy for % % already exists', relation,
      CASE WHEN tenant_column IS NULL THEN '(all tenants)' ELSE format('and %s = %L', tenant_column, tenant_value) END
      USING ERRCODE = '42710', DETAIL = 'It was added by a concurrent transaction.',
            HINT = 'Drop it first with apivalue.drop_retention_policy.';
  END;
  RETURN created;
END $$;
COMMENT ON FUNCTION apivalue.add_retention_policy(regclass, text, interval, text, text, integer, text) IS
  'adds a retention window: rows of relation older than now() - keep are removed by apply_retention_policies (only tenant_value''s rows when tenant_column is given), batch_size rows per batch, whole old partitions dropped or detached; needs EXECUTE, which is revoked from PUBLIC';
REVOKE EXECUTE ON FUNCTION apivalue.add_retention_policy(regclass, text, interval, text, text, integer, text) FROM PUBLIC;

CREATE FUNCTION apivalue.drop_retention_policy(relation regclass, tenant_value text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  DELETE FROM apivalue.retention_policies p
  WHERE p.relation = drop_retention_policy.relation
    AND p.tenant_value IS NOT DISTINCT FROM drop_retention_policy.tenant_value;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no retention policy for % %', relation,
      coalesce(format('and tenant %L', tenant_value), '(all tenants)') USING ERRCODE = '42704';
  END IF;
  RETURN true;
END $$;
COMMENT ON FUNCTION apivalue.drop_retention_policy(regclass, text) IS
  'removes the retention policy of relation (for all tenants, or for tenant_value); its log stays; needs EXECUTE, which is revoked from PUBLIC';
REVOKE EXECUTE ON FUNCTION apivalue.drop_retention_policy(regclass, text) FROM PUBLIC;

-- The row condition of a policy: time column older than $1 (and tenant =
-- $2), both cast to the columns' own types so indexes serve it.
CREATE FUNCTION apivalue._retention_condition(p apivalue.retention_policies)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  ttype text;
  ctype text;
BEGIN
  SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO ttype FROM pg_catalog.pg_attribute a
  WHERE a.attrelid = p.relation AND a.attname = p.time_column AND NOT a.attisdropped;
  IF p.tenant_column IS NULL THEN
    RETURN format('%s < CAST($1 AS %s)',
                  apivalue._column(p.relation, p.time_column, 'time_column'), ttype);
  END IF;
  SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO ctype FROM pg_catalog.pg_attribute a
  WHERE a.attrelid = p.relation AND a.attname = p.tenant_column AND NOT a.attisdropped;
  RETURN format('%s < CAST($1 AS %s) AND %s = CAST($2 AS %s)',
                apivalue._column(p.relation, p.time_column, 'time_column'), ttype,
                apivalue._column(p.relation, p.tenant_column, 'tenant_column'), ctype);
END $$;
COMMENT ON FUNCTION apivalue._retention_condition(apivalue.retention_policies) IS
  'internal: SQL condition selecting the rows a policy removes ($1 = cutoff, $2 = tenant value)';

-- pg_partman's schema when it manages relation by the given control column.
CREATE FUNCTION apivalue._partman_schema(relation regclass, control name)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  sch text;
  managed boolean;
BEGIN
  SELECT n.nspname INTO sch FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
  WHERE e.extname = 'pg_partman';
  IF sch IS NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.part_config WHERE parent_table = $1 AND control = $2)', sch)
    INTO managed
    USING (SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relation), control::text;
  RETURN CASE WHEN managed THEN sch END;
END $$;
COMMENT ON FUNCTION apivalue._partman_schema(regclass, name) IS
  'internal: the schema of pg_partman when it manages relation with that control column, else NULL';

-- Partitions of a policy's relation that hold only rows older than cutoff:
-- as pg_partman decides (end of the partition < cutoff) when it manages the
-- table, otherwise direct range partitions on the time column whose upper
-- bound is at most the cutoff.  Never for a per-tenant policy.
CREATE FUNCTION apivalue._retention_old_partitions(p apivalue.retention_policies, cutoff timestamptz)
RETURNS TABLE (part regclass, rows bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  pm text;
  r record;
  ttype text;
  hi text;
  old boolean;
BEGIN
  IF p.tenant_column IS NOT NULL
     OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = p.relation) <> 'p' THEN
    RETURN;
  END IF;
  pm := apivalue._partman_schema(p.relation, p.time_column);
  IF pm IS NOT NULL THEN
    FOR r IN EXECUTE format($q$
      SELECT format('%%I.%%I', s.partition_schemaname, s.partition_tablename)::regclass AS part
      FROM (SELECT partition_interval FROM %1$I.part_config WHERE parent_table = $1) c,
           %1$I.show_partitions($1, 'ASC') s,
           LATERAL %1$I.show_partition_info(s.partition_schemaname || '.' || s.partition_tablename,
                                            c.partition_interval, $1) i
      WHERE i.child_start_time + c.partition_interval::interval < $2 $q$, pm)
      USING (SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p.relation), cutoff
    LOOP
      part := r.part;
      EXECUTE format('SELECT count(*) FROM %s', r.part) INTO rows;
      RETURN NEXT;
    END LOOP;
    RETURN;
  END IF;
  -- Native range partitioning by the time column alone.
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_partitioned_table t
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = t.partrelid AND a.attnum = t.partattrs[0]
                 WHERE t.partrelid = p.relation AND t.partstrat = 'r' AND t.partnatts = 1
                   AND a.attname = p.time_column) THEN
    RETURN;
  END IF;
  SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO ttype FROM pg_catalog.pg_attribute a
  WHERE a.attrelid = p.relation AND a.attname = p.time_column;
  FOR r IN
    SELECT c.oid::regclass AS part, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound
    FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = p.relation
    ORDER BY c.oid
  LOOP
    hi := substring(r.bound FROM '^FOR VALUES FROM \(.*\) TO \((.*)\)$');
    CONTINUE WHEN hi IS NULL OR hi !~ '^''.*''$';       -- DEFAULT or MAXVALUE
    hi := replace(substr(hi, 2, length(hi) - 2), '''''', '''');
    -- Compared the way rows are: bound <= CAST(cutoff AS column type).
    EXECUTE format('SELECT CAST($1 AS %1$s) <= CAST($2 AS %1$s)', ttype) INTO old USING hi, cutoff;
    CONTINUE WHEN NOT old;
    part := r.part;
    EXECUTE format('SELECT count(*) FROM %s', r.part) INTO rows;
    RETURN NEXT;
  END LOOP;
END $$;
COMMENT ON FUNCTION apivalue._retention_old_partitions(apivalue.retention_policies, timestamptz) IS
  'internal: partitions wholly older than the cutoff (pg_partman''s rule when it manages the table) and their row counts';

-- Drops or detaches the old partitions of a policy; returns the partitions
-- removed and their rows.  Through pg_partman's drop_partition_time when it
-- manages the table (it keeps its own bookkeeping and its last partition).
CREATE FUNCTION apivalue._retention_remove_partitions(p apivalue.retention_policies, cutoff timestamptz,
    OUT parts text[], OUT nrows bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  pm text := apivalue._partman_schema(p.relation, p.time_column);
  cand record;
  names text[] := '{}';
  counts bigint[] := '{}';
  oids oid[] := '{}';
  i integer;
BEGIN
  parts := '{}';
  nrows := 0;
  FOR cand IN SELECT * FROM apivalue._retention_old_partitions(p, cutoff) LOOP
    names := names || cand.part::text;
    counts := counts || cand.rows;
    oids := oids || cand.part::oid;
  END LOOP;
  IF cardinality(oids) = 0 THEN
    RETURN;
  END IF;
  IF pm IS NOT NULL THEN
    -- partman's cutoff is reference - retention: the same instant as ours.
    EXECUTE format('SELECT %I.drop_partition_time($1, p_retention => $2, p_keep_table => $3, p_reference_timestamp => $4)', pm)
      USING (SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p.relation),
            p.keep, p.partitions = 'detach', cutoff + p.keep;
  ELSE
    FOR i IN 1 .. cardinality(oids) LOOP
      IF p.partitions = 'detach' THEN
        EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', p.relation, names[i]);
      ELSE
        EXECUTE format('DROP TABLE %s', names[i]);
      END IF;
    END LOOP;
  END IF;
  -- What is no longer a partition of the relation is gone from it.
  FOR i IN 1 .. cardinality(oids) LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = oids[i] AND h.inhparent = p.relation) THEN
      parts := parts || names[i];
      nrows := nrows + counts[i];
    END IF;
  END LOOP;
END $$;
COMMENT ON FUNCTION apivalue._retention_remove_partitions(apivalue.retention_policies, timestamptz) IS
  'internal: drops or detaches the partitions of a policy wholly older than the cutoff (through pg_partman when it manages the table)';

-- Deletes at most batch_size rows of a policy older than the cutoff, and
-- returns how many.  Rows are picked by (tableoid, ctid) through the
-- relation itself, so its privileges and row-level security apply, and the
-- DELETE re-checks the condition so a newer row is never removed.
CREATE FUNCTION apivalue._retention_delete_batch(p apivalue.retention_policies, cutoff timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  cond text := apivalue._retention_condition(p);
  b record;
  n bigint;
  total bigint := 0;
BEGIN
  FOR b IN EXECUTE format('SELECT o, array_agg(c) AS tids FROM (SELECT tableoid AS o, ctid AS c FROM %s WHERE %s LIMIT %s) s GROUP BY o',
                          p.relation, cond, p.batch_size)
    USING cutoff, p.tenant_value
  LOOP
    EXECUTE format('DELETE FROM %s WHERE ctid = ANY ($3) AND tableoid = $4 AND %s', p.relation, cond)
      USING cutoff, p.tenant_value, b.tids, b.o;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
  END LOOP;
  RETURN total;
END $$;
COMMENT ON FUNCTION apivalue._retention_delete_batch(apivalue.retention_policies, timestamptz) IS
  'internal: deletes one batch (at most batch_size rows) of a policy''s rows older than the cutoff';

-- Marks log entries left 'running' by a run that was interrupted (its
-- session ended, or it is this session, which is not running one now).
CREATE FUNCTION apivalue._retention_mark_interrupted()
RETURNS void LANGUAGE sql VOLATILE AS $$
  UPDATE apivalue.retention_log l SET status = 'interrupted', finished_at = clock_timestamp()
  WHERE l.status = 'running'
    AND (l.pid = pg_catalog.pg_backend_pid()
         OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = l.pid))
$$;
COMMENT ON FUNCTION apivalue._retention_mark_interrupted() IS
  'internal: marks retention log entries of interrupted runs';

CREATE FUNCTION apivalue.apply_retention_policies(dry_run boolean DEFAULT true)
RETURNS TABLE (relation regclass, tenant text, cutoff timestamptz, rows_affected bigint)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  rid bigint := nextval('apivalue.retention_run_id_seq');
  p apivalue.retention_policies;
  c timestamptz;
  parts text[];
  prow bigint;
  deleted bigint;
  n bigint;
  nb integer;
  e_msg text;
  e_state text;
BEGIN
  IF dry_run IS NULL THEN
    RAISE EXCEPTION 'dry_run must not be NULL' USING ERRCODE = '22004';
  END IF;
  PERFORM apivalue._retention_mark_interrupted();
  FOR p IN SELECT * FROM apivalue.retention_policies q WHERE q.enabled ORDER BY q.policy_id LOOP
    c := now() - p.keep;
    INSERT INTO apivalue.retention_log (run_id, policy_id, relation, tenant, cutoff, dry_run, mode, status)
    VALUES (rid, p.policy_id, p.relation::text, p.tenant_value, c, dry_run, 'function', 'running');
    parts := '{}'; prow := 0; deleted := 0; nb := 0;
    BEGIN
      IF dry_run THEN
        SELECT coalesce(array_agg(o.part::text ORDER BY o.part::text), '{}'), coalesce(sum(o.rows), 0)
        INTO parts, prow FROM apivalue._retention_old_partitions(p, c) o;
        EXECUTE format('SELECT count(*) FROM %s WHERE %s', p.relation, apivalue._retention_condition(p))
          INTO deleted USING c, p.tenant_value;
        deleted := deleted - prow;
      ELSE
        SELECT * INTO parts, prow FROM apivalue._retention_remove_partitions(p, c);
        LOOP
          n := apivalue._retention_delete_batch(p, c);
          EXIT WHEN n = 0;
          deleted := deleted + n;
          nb := nb + 1;
          EXIT WHEN n < p.batch_size;
        END LOOP;
      END IF;
      UPDATE apivalue.retention_log l
      SET status = 'done', rows_affected = prow + deleted, rows_deleted = deleted, partition_rows = prow,
          partitions = parts, batches = nb, finished_at = clock_timestamp()
      WHERE l.run_id = rid AND l.policy_id = p.policy_id;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS e_msg = MESSAGE_TEXT, e_state = RETURNED_SQLSTATE;
      UPDATE apivalue.retention_log l
      SET status = 'error', error = jsonb_build_object('error', e_msg, 'sqlstate', e_state),
          finished_at = clock_timestamp()
      WHERE l.run_id = rid AND l.policy_id = p.policy_id;
      prow := NULL; deleted := NULL;
    END;
    relation := p.relation;
    tenant := p.tenant_value;
    cutoff := c;
    rows_affected := prow + deleted;
    RETURN NEXT;
  END LOOP;
END $$;
COMMENT ON FUNCTION apivalue.apply_retention_policies(boolean) IS
  'applies every enabled retention policy in this transaction (dry_run, the default, only counts): drops or detaches partitions wholly older than now() - keep (through pg_partman when it manages the table), deletes older rows in batches, logs each policy to retention_log; rows_affected NULL when a policy failed (see the log). For large deletions CALL apply_retention_policies_batched(), which commits between batches';

CREATE PROCEDURE apivalue.apply_retention_policies_batched(pause interval DEFAULT '0 seconds',
                                                           INOUT run_id bigint DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
  started timestamptz := now();
  ids bigint[];
  pol_id bigint;
  p apivalue.retention_policies;
  c timestamptz;
  parts text[];
  prow bigint;
  n bigint;
  failed boolean;
  e_msg text;
  e_state text;
BEGIN
  IF pause IS NULL OR pause < interval '0' THEN
    RAISE EXCEPTION 'pause must be a non-negative interval, got %', coalesce(pause::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  run_id := nextval('apivalue.retention_run_id_seq');
  PERFORM apivalue._retention_mark_interrupted();
  SELECT array_agg(q.policy_id ORDER BY q.policy_id) INTO ids FROM apivalue.retention_policies q WHERE q.enabled;
  -- Every cutoff is taken from the start of the run, whatever the batches take.
  INSERT INTO apivalue.retention_log (run_id, policy_id, relation, tenant, cutoff, dry_run, mode, status)
  SELECT run_id, q.policy_id, q.relation::text, q.tenant_value, started - q.keep, false, 'procedure', 'running'
  FROM apivalue.retention_policies q WHERE q.policy_id = ANY (ids);
  COMMIT;
  FOREACH pol_id IN ARRAY coalesce(ids, '{}') LOOP
    SELECT * INTO p FROM apivalue.retention_policies q WHERE q.policy_id = pol_id;
    c := started - p.keep;
    failed := false;
    BEGIN
      IF p.policy_id IS NULL THEN
        RAISE EXCEPTION 'retention policy % was dropped during the run', pol_id USING ERRCODE = '42704';
      END IF;
      SELECT * INTO parts, prow FROM apivalue._retention_remove_partitions(p, c);
      UPDATE apivalue.retention_log l
      SET partitions = parts, partition_rows = prow, rows_affected = prow
      WHERE l.run_id = apply_retention_policies_batched.run_id AND l.policy_id = pol_id;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS e_msg = MESSAGE_TEXT, e_state = RETURNED_SQLSTATE;
      failed := true;
    END;
    COMMIT;
    -- One batch per transaction: an interruption loses at most the batch in
    -- flight, which rolls back whole.
    LOOP
      EXIT WHEN failed;
      BEGIN
        n := apivalue._retention_delete_batch(p, c);
        UPDATE apivalue.retention_log l
        SET rows_deleted = l.rows_deleted + n, rows_affected = l.rows_affected + n,
            batches = l.batches + CASE WHEN n > 0 THEN 1 ELSE 0 END
        WHERE l.run_id = apply_retention_policies_batched.run_id AND l.policy_id = pol_id;
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS e_msg = MESSAGE_TEXT, e_state = RETURNED_SQLSTATE;
        failed := true;
      END;
      COMMIT;
      EXIT WHEN failed OR n < p.batch_size;
      IF pause > interval '0' THEN
        PERFORM pg_catalog.pg_sleep(extract(epoch FROM pause));
      END IF;
    END LOOP;
    UPDATE apivalue.retention_log l
    SET status = CASE WHEN failed THEN 'error' ELSE 'done' END,
        error = CASE WHEN failed THEN jsonb_build_object('error', e_msg, 'sqlstate', e_state) END,
        finished_at = clock_timestamp()
    WHERE l.run_id = apply_retention_policies_batched.run_id AND l.policy_id = pol_id;
    COMMIT;
  END LOOP;
END $$;
COMMENT ON PROCEDURE apivalue.apply_retention_policies_batched(interval, bigint) IS
  'applies every enabled retention policy committing after each dropped partition set and each batch (no long transaction, no long lock; optional pause between batches); cutoffs fixed at the start; progress in retention_log; an interrupted run keeps its finished batches and is marked interrupted by the next run. Call it outside a transaction block: CALL apivalue.apply_retention_policies_batched()';

CREATE FUNCTION apivalue.schedule_retention_policies(cron text)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  job bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
    RAISE EXCEPTION 'pg_cron is not installed in this database, so retention cannot be scheduled'
      USING ERRCODE = '55000',
            HINT = 'Install the Debian package postgresql-15-cron, set shared_preload_libraries = ''pg_cron'' and '
                   || 'cron.database_name = (this database) in postgresql.conf, restart PostgreSQL and run CREATE EXTENSION pg_cron; '
                   || 'or CALL apivalue.apply_retention_policies_batched() from another scheduler.';
  END IF;
  IF cron IS NULL OR btrim(cron) = '' THEN
    RAISE EXCEPTION 'cron schedule must not be NULL or empty' USING ERRCODE = '22023',
      HINT = 'For example ''30 3 * * *'' for every night at 03:30.';
  END IF;
  EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
    USING 'apivalue_retention', cron, 'CALL apivalue.apply_retention_policies_batched()';
  RETURN job;
END $$;
COMMENT ON FUNCTION apivalue.schedule_retention_policies(text) IS
  'schedules CALL apply_retention_policies_batched() with pg_cron as the calling role (job apivalue_retention); a clear error when pg_cron is not installed';

CREATE FUNCTION apivalue.unschedule_retention_policies()
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  ok boolean;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
    RAISE EXCEPTION 'pg_cron is not installed in this database' USING ERRCODE = '55000';
  END IF;
  EXECUTE 'SELECT cron.unschedule($1)' INTO ok USING 'apivalue_retention';
  RETURN ok;
END $$;
COMMENT ON FUNCTION apivalue.unschedule_retention_policies() IS
  'removes the pg_cron job made by schedule_retention_policies';

-- ---------------------------------------------------------------------------
-- Calibration: canary events at a known cadence.
-- ---------------------------------------------------------------------------

CREATE TYPE apivalue.calibration_window AS (
  window_start timestamptz,
  window_end   timestamptz,
  expected     integer,
  received     bigint,
  max_latency  interval,
  status       text
);
COMMENT ON TYPE apivalue.calibration_window IS
  'one window of calibration_check: canaries expected and received, the largest canary latency, pass/fail/pending';

CREATE FUNCTION apivalue.calibration_check(events regclass, time_column text, canary_condition text,
    every interval, since timestamptz, latency text DEFAULT NULL, max_latency interval DEFAULT NULL,
    until timestamptz DEFAULT NULL)
RETURNS SETOF apivalue.calibration_window
LANGUAGE plpgsql STABLE AS $$
DECLARE
  tcol text := apivalue._column(events, time_column, 'time_column', ARRAY['timestamptz', 'timestamp']::regtype[]);
  cond text := apivalue._condition(events, canary_condition, 'canary_condition');
  lat text;
  newest timestamptz;
  starts timestamptz[];
BEGIN
  IF every IS NULL OR every <= interval '0' OR NOT isfinite(every) THEN
    RAISE EXCEPTION 'every must be a positive interval, got %', coalesce(every::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  IF since IS NULL THEN
    RAISE EXCEPTION 'since must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF NOT isfinite(since) THEN
    RAISE EXCEPTION 'since must be a finite timestamp, got %', since USING ERRCODE = '22008';
  END IF;
  IF max_latency IS NOT NULL AND latency IS NULL THEN
    RAISE EXCEPTION 'max_latency needs a latency expression'
      USING ERRCODE = '22023', HINT = 'For example latency => ''received_at - ts''.';
  END IF;
  IF max_latency < interval '0' OR NOT isfinite(max_latency) THEN
    RAISE EXCEPTION 'max_latency must be a non-negative interval, got %', max_latency USING ERRCODE = '22023';
  END IF;
  lat := CASE WHEN latency IS NOT NULL THEN apivalue._expression(events, latency, 'latency', 'interval'::regtype)
              ELSE 'NULL::interval' END;
  IF until IS NOT NULL AND NOT isfinite(until) THEN
    RAISE EXCEPTION 'until must be a finite timestamp, got %', until USING ERRCODE = '22008';
  END IF;
  -- Up to the newest event, but never past now(): a client clock set in the
  -- future must not open windows nobody could have filled yet.
  IF until IS NULL THEN
    EXECUTE format('SELECT max(%s)::timestamptz FROM %s', tcol, events) INTO newest;
    newest := CASE WHEN newest > now() THEN now() ELSE newest END;
  ELSE
    newest := until;
  END IF;
  IF newest IS NULL OR newest < since THEN
    RETURN;
  END IF;
  IF (extract(epoch FROM newest - since) / extract(epoch FROM every)) >= 1000000 THEN
    RAISE EXCEPTION 'calibration over % to % every % has too many windows', since, newest, every
      USING ERRCODE = '54000', HINT = 'Use a later since or a longer every (at most 1000000 windows).';
  END IF;
  starts := ARRAY(SELECT generate_series(since, newest, every));
  -- Canaries are placed in their window by binary search over the starts.
  RETURN QUERY EXECUTE format($q$
    WITH c AS (
      SELECT width_bucket(%1$s::timestamptz, $1) AS w, count(*) AS n, max(%2$s) AS lat
      FROM %3$s
      WHERE %4$s AND %1$s >= $2 AND %1$s < $3
      GROUP BY 1
    )
    SELECT s.ws, s.we, 1, coalesce(c.n, 0), c.lat,
           CASE WHEN c.n IS NULL AND s.we > $4 THEN 'pending'
                WHEN c.n IS NULL OR c.lat > $5 THEN 'fail'
                ELSE 'pass' END
    FROM (SELECT i, $1[i] AS ws, coalesce($1[i + 1], $1[i] + $6) AS we
          FROM generate_subscripts($1, 1) i) s
    LEFT JOIN c ON c.w = s.i
    ORDER BY s.i $q$, tcol, lat, events, cond)
    USING starts, since, starts[cardinality(starts)] + every, newest, max_latency, every;
END $$;
COMMENT ON FUNCTION apivalue.calibration_check(regclass, text, text, interval, timestamptz, text, interval, timestamptz) IS
  'canary windows of length every from since up to until (default: the newest event, at most now()): canaries received in each (one expected), their largest latency; fail when none arrived or latency > max_latency, pending when none arrived yet in a window that has not ended; runs with the caller''s privileges';

CREATE FUNCTION apivalue._quality_run_calibration(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  every interval := (params ->> 'every')::interval;
  since timestamptz := now() - (params ->> 'window')::interval;
  n bigint;
  missing bigint;
  late bigint;
  total bigint;
  bad jsonb;
BEGIN
  -- Windows aligned to multiples of every (when it has no months), so
  -- successive runs judge the same windows.
  IF extract(month FROM every) = 0 AND extract(year FROM every) = 0 THEN
    since := date_bin(every, since, timestamptz '2000-01-01 00:00+00');
  END IF;
  SELECT count(*) FILTER (WHERE w.status = 'fail'),
         count(*) FILTER (WHERE w.status = 'fail' AND w.received = 0),
         count(*) FILTER (WHERE w.status = 'fail' AND w.received > 0),
         count(*),
         jsonb_agg(to_jsonb(w) ORDER BY w.window_start) FILTER (WHERE w.status = 'fail')
  INTO n, missing, late, total, bad
  FROM apivalue.calibration_check(rel, params ->> 'time_column', params ->> 'canary_condition', every, since,
                                  params ->> 'latency', (params ->> 'max_latency')::interval, now()) w;
  observed := n;
  details := jsonb_build_object('windows', total, 'failed', n, 'missing', missing, 'late', late,
                                'every', params ->> 'every', 'since', since,
                                'failed_windows', coalesce((SELECT jsonb_agg(x) FROM (SELECT x FROM jsonb_array_elements(bad) x LIMIT 50) s), '[]'));
  sample := (SELECT jsonb_agg(x) FROM (SELECT x FROM jsonb_array_elements(bad) x LIMIT 5) s);
END $$;
COMMENT ON FUNCTION apivalue._quality_run_calibration(regclass, jsonb) IS
  'internal: runner of check kind calibration';

-- A latency limit needs a latency expression.
CREATE FUNCTION apivalue._quality_validate_calibration(rel regclass, params jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF params ? 'max_latency' AND NOT params ? 'latency' THEN
    RAISE EXCEPTION 'parameter "max_latency" needs parameter "latency"'
      USING ERRCODE = '22023', HINT = 'For example "latency": "received_at - ts".';
  END IF;
  IF params ? 'latency' THEN
    PERFORM apivalue._expression(rel, params ->> 'latency', 'latency', 'interval'::regtype);
  END IF;
END $$;
COMMENT ON FUNCTION apivalue._quality_validate_calibration(regclass, jsonb) IS
  'internal: validator of check kind calibration';

INSERT INTO apivalue.quality_check_kinds (kind, runner, parameters, observed, description, validator, builtin) VALUES
('tracking_plan', 'apivalue._quality_run_tracking_plan(regclass,jsonb)',
 '{"event_column": {"type": "column", "required": true},
   "payload_column": {"type": "column", "required": true, "types": ["jsonb", "json"]},
   "time_column": {"type": "column", "required": true, "types": ["timestamptz", "timestamp", "date"]},
   "window": {"type": "interval", "default": "1 day", "positive": true,
              "description": "only events newer than now() - window are checked"}}',
 'findings of tracking_plan_conformance (event, problem, key path)',
 'events that do not follow the approved tracking plan (tracking_plan_conformance)', NULL, true),
('calibration', 'apivalue._quality_run_calibration(regclass,jsonb)',
 '{"time_column": {"type": "column", "required": true, "types": ["timestamptz", "timestamp"]},
   "canary_condition": {"type": "condition", "required": true, "description": "selects the canary events, e.g. event = ''canary''"},
   "every": {"type": "interval", "required": true, "positive": true, "description": "the canary cadence"},
   "window": {"type": "interval", "default": "1 day", "positive": true,
              "description": "windows from now() - window (aligned to every) up to the newest event"},
   "latency": {"type": "expression", "description": "canary latency as an interval, e.g. received_at - ts"},
   "max_latency": {"type": "interval", "min": "0"}}',
 'windows whose canary is missing or later than max_latency',
 'end-to-end delivery proven by canary events (calibration_check)',
 'apivalue._quality_validate_calibration(regclass,jsonb)', true);
-- sql/charts.sql
--
-- Chart aggregates: each turns the rows of any query into one standalone SVG
-- document (text).  They draw what the other functions compute; nothing here
-- is new analytics.
--
--   heatmap_svg(row_label, column_number, value [, cell_text] [, options])
--   funnel_svg(step, label, users [, options])
--   sankey_svg(depth, from_step, to_step, users [, options])
--   line_svg(series, x, y [, y_low, y_high] [, options])
--   status_strip_svg(check_name, run_at, status [, options])
--
-- Design:
-- * Presentation aggregates over small inputs (hundreds of rows).  The state
--   is jsonb {"o": options, "r": [row objects]}: a concrete type, so no
--   serialize pair is needed, partial states travel between parallel workers
--   (and Citus nodes) as they are, and combining two states is appending two
--   arrays.  The final function sorts the rows by all their inputs, so the
--   picture depends only on the multiset of rows, never on arrival order.
-- * Every piece of user text goes through apivalue._xml_escape (& < > " ' and
--   the characters XML 1.0 forbids) and long labels are cut with an ellipsis,
--   the full text kept in a <title> tooltip.  The output has no script, no
--   style sheet, no external reference (fonts are the generic "sans-serif").
-- * Accessibility: role="img", <title> and <desc> first in every document.
-- * Colour: sequential scales are viridis (default) or ColorBrewer Blues,
--   categories use the Okabe-Ito palette; all are colour-blind safe.
-- * Rows with NULL keys are skipped; an empty input draws a "no data" picture.

-- ---------------------------------------------------------------------------
-- Text helpers
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._xml_escape(s text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT replace(replace(replace(replace(replace(replace(replace(replace(
           regexp_replace(coalesce(s, ''),
                          '[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]', E'\uFFFD', 'g'),
           '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;'),
           E'\t', '&#9;'), E'\n', '&#10;'), E'\r', '&#13;')
$$;
COMMENT ON FUNCTION apivalue._xml_escape(text) IS
  'internal: text escaped for XML 1.0 element content and attribute values (& < > " '' escaped, tab, newline and carriage return as character references so attribute values keep them; control characters XML forbids and U+FFFE/U+FFFF replaced by U+FFFD; NULL gives the empty string)';

CREATE FUNCTION apivalue._n(x float8)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT trim_scale(round(x::numeric, 1))::text $$;
COMMENT ON FUNCTION apivalue._n(float8) IS
  'internal: an SVG coordinate, rounded to 0.1 pixel';

-- A label: <text> with the escaped text, cut to max_chars characters with an
-- ellipsis; when cut, wrapped in <g> with the full text as <title> tooltip.
CREATE FUNCTION apivalue._svg_label(s text, x float8, y float8, max_chars integer, attrs text DEFAULT '')
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE
    WHEN char_length(coalesce(s, '')) > greatest(max_chars, 1) THEN
      format('<g><title>%s</title><text x="%s" y="%s"%s>%s…</text></g>',
             apivalue._xml_escape(s), apivalue._n(x), apivalue._n(y), attrs,
             apivalue._xml_escape(left(s, greatest(max_chars, 2) - 1)))
    ELSE
      format('<text x="%s" y="%s"%s>%s</text>', apivalue._n(x), apivalue._n(y), attrs,
             apivalue._xml_escape(s))
  END
$$;



COMMENT ON FUNCTION apivalue._svg_label(text, float8, float8, integer, text) IS
  'internal: an SVG <text> label, escaped, cut to max_chars characters with an ellipsis and the full text in a <title> tooltip when longer';

-- Counts with thousands separators, shares as percentages.
CREATE FUNCTION apivalue._fmt_count(n float8)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN n IS NULL THEN '–'
              WHEN n = trunc(n) AND abs(n) < 1e15 THEN to_char(n::numeric, 'FM999,999,999,999,990')
              ELSE trim_scale(round(n::numeric, 2))::text END
$$;
COMMENT ON FUNCTION apivalue._fmt_count(float8) IS
  'internal: a number for a chart label (integers with thousands separators, others to 2 decimals, NULL as a dash)';

CREATE FUNCTION apivalue._fmt_pct(share float8)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN share IS NULL OR share = 'NaN' THEN '–'
              ELSE to_char(round((share * 100)::numeric, 1), 'FM999,999,990.0') || '%' END
$$;
COMMENT ON FUNCTION apivalue._fmt_pct(float8) IS
  'internal: a share (0..1) as a percentage with one decimal, NULL as a dash';

-- Axis tick values: about n "nice" steps (1, 2 or 5 times a power of ten)
-- covering [lo, hi].
CREATE FUNCTION apivalue._nice_ticks(lo float8, hi float8, n integer DEFAULT 5)
RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH s AS (
    SELECT CASE WHEN hi > lo THEN (hi - lo) / greatest(n, 1) ELSE 1 END AS raw),
  p AS (
    SELECT raw, power(10, floor(log(raw))) AS mag FROM s),
  st AS (
    SELECT CASE WHEN raw / mag <= 1 THEN mag WHEN raw / mag <= 2 THEN 2 * mag
                WHEN raw / mag <= 5 THEN 5 * mag ELSE 10 * mag END AS step FROM p)
  SELECT array_agg(round((k * step)::numeric, 10)::float8 ORDER BY k)
  FROM st, generate_series(ceil(lo / step - 1e-9)::bigint, floor(hi / step + 1e-9)::bigint) AS k
$$;
COMMENT ON FUNCTION apivalue._nice_ticks(float8, float8, integer) IS
  'internal: axis tick values, multiples of 1, 2 or 5 times a power of ten inside [lo, hi]';

-- ---------------------------------------------------------------------------
-- Colours
-- ---------------------------------------------------------------------------

-- Sequential scale at t in [0, 1]: viridis (dark purple to yellow) or
-- ColorBrewer Blues (light to dark), 9 stops linearly interpolated in RGB.
CREATE FUNCTION apivalue._chart_colour(scheme text, t float8)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH stops AS (
    SELECT CASE WHEN scheme = 'blues' THEN
      ARRAY[247,251,255, 222,235,247, 198,219,239, 158,202,225, 107,174,214,
            66,146,198, 33,113,181, 8,81,156, 8,48,107]
    ELSE
      ARRAY[68,1,84, 71,45,123, 59,82,139, 44,114,142, 33,145,140,
            40,174,128, 94,201,98, 173,220,48, 253,231,37]
    END AS c),
  pos AS (
    SELECT least(greatest(coalesce(t, 0), 0), 1) * 8 AS p),
  seg AS (
    SELECT least(floor(p)::int, 7) AS i, p - least(floor(p)::int, 7) AS f FROM pos)
  SELECT '#' || string_agg(lpad(to_hex(round(c[3 * i + k] + (c[3 * i + 3 + k] - c[3 * i + k]) * f)::int), 2, '0'), '' ORDER BY k)
  FROM stops, seg, generate_series(1, 3) AS k
$$;
COMMENT ON FUNCTION apivalue._chart_colour(text, float8) IS
  'internal: colour at t in [0, 1] on the sequential scale "viridis" or "blues" (colour-blind safe), as #rrggbb';

-- Text colour readable on a background: black on light, white on dark.
CREATE FUNCTION apivalue._chart_ink(background text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN 0.2126 * ('x' || substr(background, 2, 2))::bit(8)::int
                 + 0.7152 * ('x' || substr(background, 4, 2))::bit(8)::int
                 + 0.0722 * ('x' || substr(background, 6, 2))::bit(8)::int > 140
              THEN '#000000' ELSE '#ffffff' END
$$;
COMMENT ON FUNCTION apivalue._chart_ink(text) IS
  'internal: #000000 or #ffffff, whichever reads better on the given #rrggbb background';

-- Categorical colour i (1-based) from the Okabe-Ito palette, cycling; its
-- yellow (too light on white) and black (reads as a shadow in Sankey links)
-- are replaced by Paul Tol's wine.
CREATE FUNCTION apivalue._chart_category(i integer)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT (ARRAY['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#882255'])
         [1 + ((i - 1) % 7 + 7) % 7]
$$;
COMMENT ON FUNCTION apivalue._chart_category(integer) IS
  'internal: categorical colour i (1-based, cycling): Okabe-Ito without yellow and black, plus Tol''s wine';

-- ---------------------------------------------------------------------------
-- Options and the document frame
-- ---------------------------------------------------------------------------

-- Options of one chart, checked against its spec {"name": ["type", default]}
-- and completed with the defaults.  Common checks: width, height,
-- max_label_chars and scheme ranges.
CREATE FUNCTION apivalue._chart_options(chart text, options jsonb, spec jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k text;
  v jsonb;
  want text;
  result jsonb := '{}';
BEGIN
  IF options IS NULL OR options = 'null'::jsonb THEN
    options := '{}';
  END IF;
  IF jsonb_typeof(options) <> 'object' THEN
    RAISE EXCEPTION 'options of % must be a JSON object, not %', chart, options
      USING ERRCODE = '22023', HINT = format('Valid options: %s.',
        (SELECT string_agg(x, ', ' ORDER BY x) FROM jsonb_object_keys(spec) x));
  END IF;
  FOR k, v IN SELECT * FROM jsonb_each(options) ORDER BY 1 LOOP
    IF NOT spec ? k THEN
      RAISE EXCEPTION 'unknown option "%" of %', k, chart
        USING ERRCODE = '22023', HINT = format('Valid options: %s.',
          (SELECT string_agg(x, ', ' ORDER BY x) FROM jsonb_object_keys(spec) x));
    END IF;
    want := spec -> k ->> 0;
    IF v <> 'null'::jsonb AND jsonb_typeof(v) <> want THEN
      RAISE EXCEPTION 'option "%" of % must be a %, not %', k, chart, want, v
        USING ERRCODE = '22023';
    END IF;
  END LOOP;
  FOR k, v IN SELECT * FROM jsonb_each(spec) LOOP
    result := result || jsonb_build_object(k,
      CASE WHEN options -> k IS NULL OR options -> k = 'null'::jsonb THEN v -> 1 ELSE options -> k END);
  END LOOP;
  IF result ? 'width' AND NOT (result ->> 'width')::float8 BETWEEN 160 AND 4000 THEN
    RAISE EXCEPTION 'option "width" of % must be between 160 and 4000, not %', chart, result -> 'width'
      USING ERRCODE = '22023';
  END IF;
  IF result ? 'height' AND result -> 'height' <> 'null'::jsonb
     AND NOT (result ->> 'height')::float8 BETWEEN 80 AND 4000 THEN
    RAISE EXCEPTION 'option "height" of % must be between 80 and 4000, not %', chart, result -> 'height'
      USING ERRCODE = '22023', HINT = 'Leave it out (or null) for a height that fits the rows.';
  END IF;
  IF result ? 'max_label_chars' AND NOT (result ->> 'max_label_chars')::float8 BETWEEN 2 AND 500 THEN
    RAISE EXCEPTION 'option "max_label_chars" of % must be between 2 and 500, not %', chart, result -> 'max_label_chars'
      USING ERRCODE = '22023';
  END IF;
  IF result ? 'scheme' AND NOT (result ->> 'scheme') = ANY (ARRAY['viridis', 'blues']) THEN
    RAISE EXCEPTION 'unknown colour scheme "%" of %', result ->> 'scheme', chart
      USING ERRCODE = '22023', HINT = 'Valid schemes: viridis, blues.';
  END IF;
  RETURN result;
END
$$;
COMMENT ON FUNCTION apivalue._chart_options(text, jsonb, jsonb) IS
  'internal: chart options checked against a spec {"name": ["json type", default]} (unknown names and wrong types are errors) and completed with the defaults';

-- Start of a document: root element, <title>, <desc>, white background and
-- the visible title.
CREATE FUNCTION apivalue._svg_open(width float8, height float8, title text, description text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT format('<svg xmlns="http://www.w3.org/2000/svg" role="img" width="%1$s" height="%2$s" viewBox="0 0 %1$s %2$s" font-family="sans-serif" font-size="12">'
                '<title>%3$s</title><desc>%4$s</desc>'
                '<rect class="background" x="0" y="0" width="%1$s" height="%2$s" fill="#ffffff"/>',
                apivalue._n(width), apivalue._n(height), apivalue._xml_escape(title), apivalue._xml_escape(description))
      || apivalue._svg_label(title, 12, 22, greatest(((width - 24) / 9)::int, 4),
                             ' font-size="15" font-weight="bold" fill="#222222" class="chart-title"')
$$;
COMMENT ON FUNCTION apivalue._svg_open(float8, float8, text, text) IS
  'internal: opening of a chart document: <svg role="img"> with <title>, <desc>, background and visible title';

-- The picture for an empty input.
CREATE FUNCTION apivalue._svg_no_data(o jsonb, what text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT apivalue._svg_open((o ->> 'width')::float8, coalesce((o ->> 'height')::float8, 160),
                            o ->> 'title',
                            coalesce(nullif(o ->> 'description', '') || ' ', '') || what || ': no data.')
      || format('<text class="no-data" x="%s" y="%s" text-anchor="middle" font-size="16" fill="#666666">no data</text></svg>',
                apivalue._n((o ->> 'width')::float8 / 2), apivalue._n(coalesce((o ->> 'height')::float8, 160) / 2 + 10))
$$;
COMMENT ON FUNCTION apivalue._svg_no_data(jsonb, text) IS
  'internal: the "no data" picture drawn for an empty input';

-- ---------------------------------------------------------------------------
-- Shared aggregate state: jsonb {"o": options, "r": [rows]}
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._chart_accum(state jsonb, row_value jsonb, options jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  options := coalesce(options, 'null'::jsonb);
  IF state IS NULL THEN
    state := jsonb_build_object('o', options, 'r', '[]'::jsonb);
  ELSIF state -> 'o' <> options THEN
    RAISE EXCEPTION 'chart options must be the same for every row'
      USING ERRCODE = '22023', DETAIL = format('Got %s and %s.', state -> 'o', options),
            HINT = 'Pass one constant options value.';
  END IF;
  IF row_value IS NULL THEN
    RETURN state;
  END IF;
  -- Labels longer than 16384 characters are cut (with an ellipsis) here, so
  -- a hostile 1 MB label cannot make the state, and every copy of it, huge.
  IF octet_length(row_value::text) > 16384 THEN
    SELECT jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'string' AND char_length(v #>> '{}') > 16384
                                    THEN to_jsonb(left(v #>> '{}', 16383) || '…') ELSE v END)
      INTO row_value
      FROM jsonb_each(row_value) AS e(k, v);
  END IF;
  RETURN jsonb_set(state, '{r}', (state -> 'r') || jsonb_build_array(row_value));
END
$$;
COMMENT ON FUNCTION apivalue._chart_accum(jsonb, jsonb, jsonb) IS
  'internal: chart aggregates'' transition: appends one row (NULL = skipped) to the state {"o": options, "r": rows}';

CREATE FUNCTION apivalue._chart_combine(a jsonb, b jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF a IS NULL THEN
    RETURN b;
  ELSIF b IS NULL THEN
    RETURN a;
  ELSIF a -> 'o' <> b -> 'o' THEN
    RAISE EXCEPTION 'chart options must be the same for every row'
      USING ERRCODE = '22023', DETAIL = format('Got %s and %s.', a -> 'o', b -> 'o'),
            HINT = 'Pass one constant options value.';
  END IF;
  RETURN jsonb_build_object('o', a -> 'o', 'r', (a -> 'r') || (b -> 'r'));
END
$$;
COMMENT ON FUNCTION apivalue._chart_combine(jsonb, jsonb) IS
  'internal: chart aggregates'' combine: concatenates the rows of two partial states (options must agree)';

-- A finite number or an error (NaN and infinities cannot be drawn).
CREATE FUNCTION apivalue._chart_finite(chart text, what text, x float8)
RETURNS float8
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF x IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) THEN
    RAISE EXCEPTION '% of % must be finite, not %', what, chart, x
      USING ERRCODE = '22003', HINT = 'Filter out or replace NaN and infinite values before drawing.';
  END IF;
  RETURN x;
END
$$;
COMMENT ON FUNCTION apivalue._chart_finite(text, text, float8) IS
  'internal: returns x, or raises an error when it is NaN or infinite';

CREATE FUNCTION apivalue._chart_count(chart text, what text, n bigint)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF n < 0 THEN
    RAISE EXCEPTION '% of % must not be negative, not %', what, chart, n USING ERRCODE = '22023';
  END IF;
  RETURN n;
END
$$;
COMMENT ON FUNCTION apivalue._chart_count(text, text, bigint) IS
  'internal: returns n, or raises an error when it is negative';

-- ---------------------------------------------------------------------------
-- heatmap_svg(row_label, column_number, value [, cell_text] [, options])
--
-- A cohort retention triangle: rows sorted by label (byte order, so
-- '2026-03-02' < '2026-03-09'), columns by number, one cell per input row
-- coloured on a sequential scale with a legend.  A NULL value draws a grey
-- cell; rows with a NULL label or column are skipped.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._heatmap_spec()
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"title": ["string", "Retention"], "description": ["string", ""],
              "width": ["number", 640], "height": ["number", null],
              "scheme": ["string", "viridis"], "x_label": ["string", "period"],
              "y_label": ["string", "cohort"], "max_label_chars": ["number", 24],
              "value_format": ["string", "auto"], "min": ["number", null],
              "max": ["number", null]}'::jsonb $$;
COMMENT ON FUNCTION apivalue._heatmap_spec() IS
  'internal: options of heatmap_svg with their JSON types and defaults';

CREATE FUNCTION apivalue._heatmap_accum(state jsonb, row_label text, column_number integer,
                                        value float8, cell_text text, options jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT apivalue._chart_accum(state,
    CASE WHEN row_label IS NOT NULL AND column_number IS NOT NULL THEN
      jsonb_build_object('r', row_label, 'c', column_number,
                         'v', apivalue._chart_finite('heatmap_svg', 'value', value), 't', cell_text) END,
    options)
$$;
COMMENT ON FUNCTION apivalue._heatmap_accum(jsonb, text, integer, float8, text, jsonb) IS
  'internal: heatmap_svg transition function';

CREATE FUNCTION apivalue._heatmap_accum(state jsonb, row_label text, column_number integer, value float8)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._heatmap_accum(state, row_label, column_number, value, NULL, NULL) $$;
COMMENT ON FUNCTION apivalue._heatmap_accum(jsonb, text, integer, float8) IS
  'internal: heatmap_svg transition function (no cell text, default options)';

CREATE FUNCTION apivalue._heatmap_accum(state jsonb, row_label text, column_number integer, value float8, options jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._heatmap_accum(state, row_label, column_number, value, NULL, options) $$;
COMMENT ON FUNCTION apivalue._heatmap_accum(jsonb, text, integer, float8, jsonb) IS
  'internal: heatmap_svg transition function (no cell text)';

CREATE FUNCTION apivalue._heatmap_final(state jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  o jsonb := apivalue._chart_options('heatmap_svg', state -> 'o', apivalue._heatmap_spec());
  w float8 := (o ->> 'width')::float8;
  maxc integer := (o ->> 'max_label_chars')::integer;
  nrows integer; ncols integer; ncells integer;
  vmin float8; vmax float8; pct boolean;
  lab integer; lft float8; top float8 := 70; cw float8; ch float8; h float8;
  out text;
BEGIN
  SELECT count(DISTINCT r), count(DISTINCT c), count(*),
         coalesce((o ->> 'min')::float8, min(v)), coalesce((o ->> 'max')::float8, max(v)),
         CASE o ->> 'value_format' WHEN 'percent' THEN true WHEN 'number' THEN false
              WHEN 'auto' THEN coalesce(bool_and(v BETWEEN 0 AND 1), true) END,
         least(coalesce(max(char_length(r)), 0), maxc)
    INTO nrows, ncols, ncells, vmin, vmax, pct, lab
  FROM jsonb_to_recordset(coalesce(state -> 'r', '[]')) AS x(r text, c integer, v float8, t text);
  IF pct IS NULL THEN
    RAISE EXCEPTION 'unknown value_format "%" of heatmap_svg', o ->> 'value_format'
      USING ERRCODE = '22023', HINT = 'Valid formats: auto, percent, number.';
  END IF;
  IF ncells = 0 THEN
    RETURN apivalue._svg_no_data(o, 'Heatmap');
  END IF;
  IF vmax < vmin THEN
    RAISE EXCEPTION 'option "min" of heatmap_svg (%) must not exceed "max" (%)', vmin, vmax USING ERRCODE = '22023';
  END IF;
  lft := greatest(16 + (lab + 1) * 7, 60);
  cw := (w - lft - 16) / ncols;
  ch := coalesce(((o ->> 'height')::float8 - top - 64) / nrows, 26);
  IF ch < 4 OR cw < 2 THEN
    RAISE EXCEPTION 'heatmap_svg cannot fit % rows and % columns into % by % pixels', nrows, ncols, w, o ->> 'height'
      USING ERRCODE = '22023', HINT = 'Give a larger width or height (or none, for a height that fits the rows).';
  END IF;
  h := top + nrows * ch + 64;

  WITH x AS (
    SELECT r, c, v, t FROM jsonb_to_recordset(state -> 'r') AS x(r text, c integer, v float8, t text)),
  rr AS (SELECT r, (row_number() OVER (ORDER BY r COLLATE "C") - 1) AS i FROM (SELECT DISTINCT r FROM x) d),
  cc AS (SELECT c, (row_number() OVER (ORDER BY c) - 1) AS j FROM (SELECT DISTINCT c FROM x) d),
  cells AS (
    SELECT x.*, rr.i, cc.j,
           CASE WHEN v IS NULL THEN '#e0e0e0'
                ELSE apivalue._chart_colour(o ->> 'scheme',
                       CASE WHEN vmax > vmin THEN (v - vmin) / (vmax - vmin) ELSE 0.5 END) END AS fill,
           coalesce(t, CASE WHEN v IS NULL THEN '–' WHEN pct THEN apivalue._fmt_pct(v)
                            ELSE apivalue._fmt_count(v) END) AS label
    FROM x JOIN rr USING (r) JOIN cc USING (c))
  SELECT
    apivalue._svg_open(w, h, o ->> 'title',
      coalesce(nullif(o ->> 'description', '') || ' ', '')
      || format('Heatmap of %s cells: %s rows (%s) by %s columns (%s); colour scale (%s) from %s to %s.',
                ncells, nrows, o ->> 'y_label', ncols, o ->> 'x_label', o ->> 'scheme',
                CASE WHEN pct THEN apivalue._fmt_pct(vmin) ELSE apivalue._fmt_count(vmin) END,
                CASE WHEN pct THEN apivalue._fmt_pct(vmax) ELSE apivalue._fmt_count(vmax) END))
    || apivalue._svg_label(o ->> 'x_label', lft + (w - lft - 16) / 2, 44, greatest(((w - lft) / 7)::int, 2),
                           ' text-anchor="middle" fill="#444444" class="axis-label"')
    || apivalue._svg_label(o ->> 'y_label', 8, top - 8, greatest(lab, 6),
                           ' fill="#444444" class="axis-label"')
    || (SELECT string_agg(apivalue._svg_label(c::text, lft + (j + 0.5) * cw, top - 8, greatest((cw / 7)::int, 2),
                                             ' text-anchor="middle" fill="#444444" class="column-label"'), '' ORDER BY j)
        FROM cc)
    || (SELECT string_agg(apivalue._svg_label(r, lft - 8, top + (i + 0.5) * ch + 4, maxc,
                                             ' text-anchor="end" fill="#222222" class="row-label"'), '' ORDER BY i)
        FROM rr)
    || (SELECT string_agg(
          format('<g><title>%s</title><rect class="cell" x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="#ffffff" stroke-width="1"/>%s</g>',
                 apivalue._xml_escape(r || ', ' || (o ->> 'x_label') || ' ' || c || ': ' || label),
                 apivalue._n(lft + j * cw), apivalue._n(top + i * ch), apivalue._n(cw), apivalue._n(ch), fill,
                 CASE WHEN cw >= 22 AND ch >= 12 THEN
                   apivalue._svg_label(label, lft + (j + 0.5) * cw, top + (i + 0.5) * ch + 4,
                                       greatest(((cw - 4) / 6.5)::int, 2),
                                       format(' text-anchor="middle" font-size="11" fill="%s" class="cell-text"',
                                              CASE WHEN v IS NULL THEN '#444444' ELSE apivalue._chart_ink(fill) END))
                 ELSE '' END),
          '' ORDER BY i, j, v, t COLLATE "C")
        FROM cells)
    -- legend: ten swatches from min to max
    || (SELECT string_agg(format('<rect class="legend" x="%s" y="%s" width="18" height="12" fill="%s"/>',
                                 apivalue._n(lft + k * 18), apivalue._n(top + nrows * ch + 24),
                                 apivalue._chart_colour(o ->> 'scheme', k / 9.0)), '' ORDER BY k)
        FROM generate_series(0, 9) AS k)
    || format('<text x="%s" y="%s" text-anchor="end" font-size="11" fill="#444444">%s</text>',
              apivalue._n(lft - 4), apivalue._n(top + nrows * ch + 34),
              CASE WHEN pct THEN apivalue._fmt_pct(vmin) ELSE apivalue._fmt_count(vmin) END)
    || format('<text x="%s" y="%s" font-size="11" fill="#444444">%s</text>',
              apivalue._n(lft + 184), apivalue._n(top + nrows * ch + 34),
              CASE WHEN pct THEN apivalue._fmt_pct(vmax) ELSE apivalue._fmt_count(vmax) END)
    || '</svg>'
  INTO out;
  RETURN out;
END
$$;
COMMENT ON FUNCTION apivalue._heatmap_final(jsonb) IS
  'internal: heatmap_svg final function: draws the SVG';

CREATE AGGREGATE apivalue.heatmap_svg(row_label text, column_number integer, value float8) (
  SFUNC = apivalue._heatmap_accum, STYPE = jsonb, FINALFUNC = apivalue._heatmap_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.heatmap_svg(text, integer, float8) IS
  'SVG heatmap (cohort retention triangle): one cell per row at (row_label, column_number), sequential colour scale with legend';

CREATE AGGREGATE apivalue.heatmap_svg(row_label text, column_number integer, value float8, options jsonb) (
  SFUNC = apivalue._heatmap_accum, STYPE = jsonb, FINALFUNC = apivalue._heatmap_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.heatmap_svg(text, integer, float8, jsonb) IS
  'SVG heatmap with options (title, description, width, height, scheme viridis|blues, x_label, y_label, max_label_chars, value_format auto|percent|number, min, max)';

CREATE AGGREGATE apivalue.heatmap_svg(row_label text, column_number integer, value float8, cell_text text, options jsonb) (
  SFUNC = apivalue._heatmap_accum, STYPE = jsonb, FINALFUNC = apivalue._heatmap_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.heatmap_svg(text, integer, float8, text, jsonb) IS
  'SVG heatmap whose cells show cell_text instead of the formatted value; options as for heatmap_svg(text, integer, float8, jsonb)';

-- ---------------------------------------------------------------------------
-- funnel_svg(step, label, users [, options])
--
-- Horizontal bars in step order, length proportional to users, with the
-- count, the conversion from the first step and from the previous one, and
-- the drop-off from the previous step drawn as a grey extension.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._funnel_spec()
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"title": ["string", "Funnel"], "description": ["string", ""],
              "width": ["number", 640], "height": ["number", null],
              "scheme": ["string", "viridis"], "x_label": ["string", "users"],
              "y_label": ["string", "step"], "max_label_chars": ["number", 24]}'::jsonb $$;
COMMENT ON FUNCTION apivalue._funnel_spec() IS
  'internal: options of funnel_svg with their JSON types and defaults';

CREATE FUNCTION apivalue._funnel_accum(state jsonb, step integer, label text, users bigint, options jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT apivalue._chart_accum(state,
    CASE WHEN step IS NOT NULL AND users IS NOT NULL THEN
      jsonb_build_object('s', step, 'l', label, 'u', apivalue._chart_count('funnel_svg', 'users', users)) END,
    options)
$$;
COMMENT ON FUNCTION apivalue._funnel_accum(jsonb, integer, text, bigint, jsonb) IS
  'internal: funnel_svg transition function';

CREATE FUNCTION apivalue._funnel_accum(state jsonb, step integer, label text, users bigint)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._funnel_accum(state, step, label, users, NULL) $$;
COMMENT ON FUNCTION apivalue._funnel_accum(jsonb, integer, text, bigint) IS
  'internal: funnel_svg transition function (default options)';

CREATE FUNCTION apivalue._funnel_final(state jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  o jsonb := apivalue._chart_options('funnel_svg', state -> 'o', apivalue._funnel_spec());
  w float8 := (o ->> 'width')::float8;
  maxc integer := (o ->> 'max_label_chars')::integer;
  n integer; umax bigint; lab integer; lft float8; bw float8; bh float8; gap float8; h float8;
  top float8 := 40;
  colour text := apivalue._chart_colour(o ->> 'scheme', CASE o ->> 'scheme' WHEN 'blues' THEN 0.8 ELSE 0.3 END);
  out text;
BEGIN
  SELECT count(*), max(u), least(coalesce(max(char_length(coalesce(l, 'step ' || s))), 0), maxc)
    INTO n, umax, lab
  FROM jsonb_to_recordset(coalesce(state -> 'r', '[]')) AS x(s integer, l text, u bigint);
  IF n = 0 THEN
    RETURN apivalue._svg_no_data(o, 'Funnel');
  END IF;
  lft := greatest(16 + (lab + 1) * 7, 60);
  bw := w - lft - 16;
  IF bw < 40 THEN
    RAISE EXCEPTION 'funnel_svg cannot fit its labels into a width of %', w
      USING ERRCODE = '22023', HINT = 'Give a larger width or a smaller max_label_chars.';
  END IF;
  gap := 22;
  bh := coalesce(((o ->> 'height')::float8 - top - 10) / n - gap, 26);
  IF bh < 4 THEN
    RAISE EXCEPTION 'funnel_svg cannot fit % bars into a height of %', n, o ->> 'height'
      USING ERRCODE = '22023', HINT = 'Give a larger height (or none, for a height that fits the bars).';
  END IF;
  h := top + n * (bh + gap) + 10;

  WITH x AS (
    SELECT s, coalesce(l, 'step ' || s) AS l, u,
           row_number() OVER (ORDER BY s, l COLLATE "C", u) - 1 AS i
    FROM jsonb_to_recordset(state -> 'r') AS x(s integer, l text, u bigint)),
  y AS (
    SELECT x.*, first_value(u) OVER (ORDER BY i) AS u0, lag(u) OVER (ORDER BY i) AS up,
           CASE WHEN umax > 0 THEN bw * u / umax ELSE 0 END AS len,
           CASE WHEN umax > 0 THEN bw * lag(u) OVER (ORDER BY i) / umax END AS lenp
    FROM x)
  SELECT
    apivalue._svg_open(w, h, o ->> 'title',
      coalesce(nullif(o ->> 'description', '') || ' ', '')
      || format('Funnel of %s steps: ', n)
      || (SELECT string_agg(format('%s %s', l, apivalue._fmt_count(u)), ', ' ORDER BY i) FROM y)
      || '.')
    || (SELECT string_agg(
          apivalue._svg_label(l, lft - 8, top + i * (bh + gap) + bh / 2 + 4, maxc,
                              ' text-anchor="end" fill="#222222" class="step-label"')
          || CASE WHEN lenp > len THEN
               format('<g><title>%s</title><rect class="drop" x="%s" y="%s" width="%s" height="%s" fill="#dddddd"/></g>',
                      apivalue._xml_escape(format('%s: %s dropped after the previous step', l, apivalue._fmt_count(up - u))),
                      apivalue._n(lft + len), apivalue._n(top + i * (bh + gap)), apivalue._n(lenp - len), apivalue._n(bh))
             ELSE '' END
          || format('<g><title>%s</title><rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s"/></g>',
                    apivalue._xml_escape(format('%s: %s %s', l, apivalue._fmt_count(u), o ->> 'x_label')),
                    apivalue._n(lft), apivalue._n(top + i * (bh + gap)), apivalue._n(len), apivalue._n(bh), colour)
          || format('<text class="bar-text" x="%s" y="%s" font-size="11" fill="#333333">%s</text>',
                    apivalue._n(lft), apivalue._n(top + i * (bh + gap) + bh + 13),
                    apivalue._xml_escape(
                      apivalue._fmt_count(u) || ' ' || (o ->> 'x_label')
                      || CASE WHEN i > 0 THEN
                           ' · ' || apivalue._fmt_pct(u::float8 / nullif(u0, 0)) || ' of first step · '
                           || apivalue._fmt_pct(u::float8 / nullif(up, 0)) || ' of previous · '
                           || CASE WHEN up >= u THEN '−' || apivalue._fmt_count(up - u) || ' dropped'
                                   ELSE '+' || apivalue._fmt_count(u - up) END
                         ELSE '' END)),
          '' ORDER BY i)
        FROM y)
    || '</svg>'
  INTO out;
  RETURN out;
END
$$;
COMMENT ON FUNCTION apivalue._funnel_final(jsonb) IS
  'internal: funnel_svg final function: draws the SVG';

CREATE AGGREGATE apivalue.funnel_svg(step integer, label text, users bigint) (
  SFUNC = apivalue._funnel_accum, STYPE = jsonb, FINALFUNC = apivalue._funnel_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.funnel_svg(integer, text, bigint) IS
  'SVG funnel: one horizontal bar per row in step order with users, conversion from the first and the previous step, and drop-off';

CREATE AGGREGATE apivalue.funnel_svg(step integer, label text, users bigint, options jsonb) (
  SFUNC = apivalue._funnel_accum, STYPE = jsonb, FINALFUNC = apivalue._funnel_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.funnel_svg(integer, text, bigint, jsonb) IS
  'SVG funnel with options (title, description, width, height, scheme viridis|blues, x_label, y_label, max_label_chars)';

-- ---------------------------------------------------------------------------
-- sankey_svg(depth, from_step, to_step, users [, options])
--
-- Journey flows as journey_flows returns them: a link per row from node
-- (column depth - 1, from_step) to node (column depth, to_step), its width
-- proportional to users; a NULL to_step is a drop-off, drawn as a grey link
-- into a grey "drop-off" node at the bottom of the next column.  A node's
-- height is the larger of its inflow and outflow; in each column nodes are
-- stacked by size (then label), drop-off last.  Rows with a NULL depth,
-- from_step or users are skipped; labels of nodes thinner than 10 px are in
-- their tooltip only.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._sankey_spec()
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"title": ["string", "Journeys"], "description": ["string", ""],
              "width": ["number", 800], "height": ["number", null],
              "max_label_chars": ["number", 20], "drop_label": ["string", "drop-off"]}'::jsonb $$;
COMMENT ON FUNCTION apivalue._sankey_spec() IS
  'internal: options of sankey_svg with their JSON types and defaults';

CREATE FUNCTION apivalue._sankey_accum(state jsonb, depth integer, from_step text, to_step text,
                                       users bigint, options jsonb)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
  IF depth < 1 OR depth > 100 THEN
    RAISE EXCEPTION 'depth of sankey_svg must be between 1 and 100, not %', depth USING ERRCODE = '22023';
  END IF;
  RETURN apivalue._chart_accum(state,
    CASE WHEN depth IS NOT NULL AND from_step IS NOT NULL AND users IS NOT NULL THEN
      jsonb_build_object('d', depth, 'f', from_step, 't', to_step,
                         'u', apivalue._chart_count('sankey_svg', 'users', users)) END,
    options);
END
$$;
COMMENT ON FUNCTION apivalue._sankey_accum(jsonb, integer, text, text, bigint, jsonb) IS
  'internal: sankey_svg transition function';

CREATE FUNCTION apivalue._sankey_accum(state jsonb, depth integer, from_step text, to_step text, users bigint)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._sankey_accum(state, depth, from_step, to_step, users, NULL) $$;
COMMENT ON FUNCTION apivalue._sankey_accum(jsonb, integer, text, text, bigint) IS
  'internal: sankey_svg transition function (default options)';

CREATE FUNCTION apivalue._sankey_final(state jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  o jsonb := apivalue._chart_options('sankey_svg', state -> 'o', apivalue._sankey_spec());
  w float8 := (o ->> 'width')::float8;
  h float8 := coalesce((o ->> 'height')::float8, 420);
  maxc integer := (o ->> 'max_label_chars')::integer;
  top float8 := 40; bottom float8 := 12; nodew float8 := 12;
  n integer; ncols integer; maxcnt integer; pad float8; k float8; colw float8;
  nodes jsonb;
  out text;
BEGIN
  SELECT count(*), max(d) + 1 INTO n, ncols
  FROM jsonb_to_recordset(coalesce(state -> 'r', '[]')) AS x(d integer, f text, t text, u bigint);
  IF n = 0 THEN
    RETURN apivalue._svg_no_data(o, 'Sankey diagram');
  END IF;
  colw := (w - 16 - nodew) / greatest(ncols - 1, 1);

  -- nodes: (col, lab, drop) with value = greatest(inflow, outflow)
  WITH x AS (
    SELECT d, f, t, u FROM jsonb_to_recordset(state -> 'r') AS x(d integer, f text, t text, u bigint)),
  ends AS (
    SELECT d - 1 AS col, f AS lab, false AS dr, 0::bigint AS uin, u AS uout FROM x
    UNION ALL
    SELECT d, coalesce(t, ''), t IS NULL, u, 0 FROM x),
  nd AS (
    SELECT col, lab, dr, greatest(sum(uin), sum(uout))::float8 AS val, sum(uin) AS inflow, sum(uout) AS outflow
    FROM ends GROUP BY col, lab, dr)
  SELECT jsonb_agg(to_jsonb(nd)) INTO nodes FROM nd;

  SELECT max(cnt) INTO maxcnt FROM (
    SELECT count(*) AS cnt FROM jsonb_to_recordset(nodes) AS z(col integer) GROUP BY col) c;
  pad := least(10, (h - top - bottom) * 0.3 / greatest(maxcnt - 1, 1));
  SELECT min((h - top - bottom - pad * (cnt - 1)) / nullif(tot, 0)) INTO k
  FROM (SELECT col, count(*) AS cnt, sum(val) AS tot
        FROM jsonb_to_recordset(nodes) AS z(col integer, val float8) GROUP BY col) c;
  k := coalesce(k, 0);

  WITH x AS (
    SELECT d, f, t, u, row_number() OVER (ORDER BY d, f COLLATE "C", t COLLATE "C" NULLS LAST, u) AS id
    FROM jsonb_to_recordset(state -> 'r') AS x(d integer, f text, t text, u bigint)),
  nd AS (
    SELECT z.*,
           row_number() OVER (PARTITION BY col ORDER BY dr, val DESC, lab COLLATE "C") - 1 AS pos,
           coalesce(sum(val) OVER (PARTITION BY col ORDER BY dr, val DESC, lab COLLATE "C"
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM jsonb_to_recordset(nodes) AS z(col integer, lab text, dr boolean, val float8, inflow bigint, outflow bigint)),
  pal AS (
    SELECT lab, row_number() OVER (ORDER BY lab COLLATE "C")::integer AS ci
    FROM (SELECT DISTINCT lab FROM nd WHERE NOT dr) l),
  np AS (
    SELECT nd.*, 8 + col * colw AS nx, top + before * k + pos * pad AS ny, val * k AS nh,
           CASE WHEN nd.dr THEN '#9a9a9a' ELSE apivalue._chart_category(pal.ci) END AS colour,
           CASE WHEN nd.dr THEN o ->> 'drop_label' ELSE nd.lab END AS shown
    FROM nd LEFT JOIN pal ON pal.lab = nd.lab AND NOT nd.dr),
  lk AS (
    SELECT x.*, s.nx + nodew AS x0, tg.nx AS x1, s.colour, tg.dr AS to_drop,
           s.ny + coalesce(sum(x.u) OVER (PARTITION BY x.d, x.f ORDER BY tg.pos, x.id
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) * k AS y0,
           tg.ny + coalesce(sum(x.u) OVER (PARTITION BY x.d, tg.lab, tg.dr ORDER BY s.pos, x.id
                                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) * k AS y1,
           x.u * k AS lh
    FROM x
    JOIN np s ON s.col = x.d - 1 AND s.lab = x.f AND NOT s.dr
    JOIN np tg ON tg.col = x.d AND tg.lab = coalesce(x.t, '') AND tg.dr = (x.t IS NULL))
  SELECT
    apivalue._svg_open(w, h, o ->> 'title',
      coalesce(nullif(o ->> 'description', '') || ' ', '')
      || format('Sankey diagram of %s links over %s steps; widths proportional to users.', n, ncols))
    || (SELECT coalesce(string_agg(
          format('<path class="%s" d="M%s %s C%s %s %s %s %s %s L%s %s C%s %s %s %s %s %s Z" fill="%s" fill-opacity="%s"><title>%s</title></path>',
                 CASE WHEN to_drop THEN 'drop' ELSE 'link' END,
                 apivalue._n(x0), apivalue._n(y0), apivalue._n((x0 + x1) / 2), apivalue._n(y0),
                 apivalue._n((x0 + x1) / 2), apivalue._n(y1), apivalue._n(x1), apivalue._n(y1),
                 apivalue._n(x1), apivalue._n(y1 + lh), apivalue._n((x0 + x1) / 2), apivalue._n(y1 + lh),
                 apivalue._n((x0 + x1) / 2), apivalue._n(y0 + lh), apivalue._n(x0), apivalue._n(y0 + lh),
                 CASE WHEN to_drop THEN '#9a9a9a' ELSE colour END,
                 CASE WHEN to_drop THEN '0.35' ELSE '0.45' END,
                 apivalue._xml_escape(format('step %s: %s → %s: %s users', d, f,
                   coalesce(t, o ->> 'drop_label'), apivalue._fmt_count(u)))),
          '' ORDER BY id), '') FROM lk)
    || (SELECT string_agg(
          format('<g><title>%s</title><rect class="node" x="%s" y="%s" width="%s" height="%s" fill="%s"/></g>',
                 apivalue._xml_escape(format('%s (step %s): %s users', shown, col + 1, apivalue._fmt_count(val))),
                 apivalue._n(nx), apivalue._n(ny), apivalue._n(nodew), apivalue._n(greatest(nh, 1)), colour)
          || CASE WHEN nh >= 10 THEN
               apivalue._svg_label(shown, CASE WHEN col = ncols - 1 THEN nx - 4 ELSE nx + nodew + 4 END,
                                   ny + least(nh / 2, 12) + 4, maxc,
                                   CASE WHEN col = ncols - 1 THEN ' text-anchor="end"' ELSE '' END
                                   || ' font-size="11" fill="#111111" stroke="#ffffff" stroke-width="3" paint-order="stroke" class="node-label"')
             ELSE '' END,
          '' ORDER BY col, pos) FROM np)
    || '</svg>'
  INTO out;
  RETURN out;
END
$$;
COMMENT ON FUNCTION apivalue._sankey_final(jsonb) IS
  'internal: sankey_svg final function: lays out nodes and links and draws the SVG';

CREATE AGGREGATE apivalue.sankey_svg(depth integer, from_step text, to_step text, users bigint) (
  SFUNC = apivalue._sankey_accum, STYPE = jsonb, FINALFUNC = apivalue._sankey_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.sankey_svg(integer, text, text, bigint) IS
  'SVG Sankey diagram of journey flows (rows shaped like journey_flows): one link per row, width proportional to users, NULL to_step = drop-off';

CREATE AGGREGATE apivalue.sankey_svg(depth integer, from_step text, to_step text, users bigint, options jsonb) (
  SFUNC = apivalue._sankey_accum, STYPE = jsonb, FINALFUNC = apivalue._sankey_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.sankey_svg(integer, text, text, bigint, jsonb) IS
  'SVG Sankey diagram with options (title, description, width, height, max_label_chars, drop_label)';

-- ---------------------------------------------------------------------------
-- line_svg(series, x, y [, y_low, y_high] [, options])
--
-- One curve per series (sorted by name), points joined in x order (then y),
-- as straight lines or, with {"step": true}, as a step function that holds
-- each value until the next x (Kaplan-Meier curves).  Where y_low and y_high
-- are both given a translucent band is drawn between them.  x may be epoch
-- seconds shown as UTC dates ({"x_format": "date"}).  Rows with a NULL x or
-- y are skipped; a NULL series is the series "".
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._line_spec()
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"title": ["string", "Trend"], "description": ["string", ""],
              "width": ["number", 640], "height": ["number", 320],
              "scheme": ["string", null], "x_label": ["string", ""], "y_label": ["string", ""],
              "max_label_chars": ["number", 24], "step": ["boolean", false],
              "x_format": ["string", "number"], "y_format": ["string", "auto"],
              "y_min": ["number", null], "y_max": ["number", null]}'::jsonb $$;
COMMENT ON FUNCTION apivalue._line_spec() IS
  'internal: options of line_svg with their JSON types and defaults';

CREATE FUNCTION apivalue._line_accum(state jsonb, series text, x float8, y float8,
                                     y_low float8, y_high float8, options jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT apivalue._chart_accum(state,
    CASE WHEN x IS NOT NULL AND y IS NOT NULL THEN
      jsonb_build_object('s', coalesce(series, ''),
                         'x', apivalue._chart_finite('line_svg', 'x', x),
                         'y', apivalue._chart_finite('line_svg', 'y', y),
                         'l', apivalue._chart_finite('line_svg', 'y_low', y_low),
                         'u', apivalue._chart_finite('line_svg', 'y_high', y_high)) END,
    options)
$$;
COMMENT ON FUNCTION apivalue._line_accum(jsonb, text, float8, float8, float8, float8, jsonb) IS
  'internal: line_svg transition function';

CREATE FUNCTION apivalue._line_accum(state jsonb, series text, x float8, y float8)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._line_accum(state, series, x, y, NULL, NULL, NULL) $$;
COMMENT ON FUNCTION apivalue._line_accum(jsonb, text, float8, float8) IS
  'internal: line_svg transition function (no band, default options)';

CREATE FUNCTION apivalue._line_accum(state jsonb, series text, x float8, y float8, options jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._line_accum(state, series, x, y, NULL, NULL, options) $$;
COMMENT ON FUNCTION apivalue._line_accum(jsonb, text, float8, float8, jsonb) IS
  'internal: line_svg transition function (no band)';

CREATE FUNCTION apivalue._line_accum(state jsonb, series text, x float8, y float8, y_low float8, y_high float8)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._line_accum(state, series, x, y, y_low, y_high, NULL) $$;
COMMENT ON FUNCTION apivalue._line_accum(jsonb, text, float8, float8, float8, float8) IS
  'internal: line_svg transition function (default options)';

-- An axis tick label: a number, a share, or epoch seconds as a UTC date.
CREATE FUNCTION apivalue._line_tick(v float8, fmt text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE fmt
    WHEN 'date' THEN to_char(to_timestamp(v) AT TIME ZONE 'UTC', 'YYYY-MM-DD')
    WHEN 'percent' THEN trim_scale(round((v * 100)::numeric, 1)) || '%'
    ELSE apivalue._fmt_count(v) END
$$;
COMMENT ON FUNCTION apivalue._line_tick(float8, text) IS
  'internal: tick label of line_svg axes (number, percent, or epoch seconds as a UTC date)';

CREATE FUNCTION apivalue._line_final(state jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  o jsonb := apivalue._chart_options('line_svg', state -> 'o', apivalue._line_spec());
  w float8 := (o ->> 'width')::float8;
  h float8 := (o ->> 'height')::float8;
  maxc integer := (o ->> 'max_label_chars')::integer;
  step boolean := (o ->> 'step')::boolean;
  xf text := o ->> 'x_format';
  yf text;
  n integer; ns integer;
  xmin float8; xmax float8; ymin float8; ymax float8;
  lft float8 := 64; rgt float8 := 16; top float8 := 56; bot float8;
  pw float8; ph float8;
  xticks float8[]; yticks float8[];
  out text;
BEGIN
  IF NOT xf = ANY (ARRAY['number', 'date']) THEN
    RAISE EXCEPTION 'unknown x_format "%" of line_svg', xf USING ERRCODE = '22023', HINT = 'Valid formats: number, date.';
  END IF;
  IF NOT (o ->> 'y_format') = ANY (ARRAY['auto', 'number', 'percent']) THEN
    RAISE EXCEPTION 'unknown y_format "%" of line_svg', o ->> 'y_format'
      USING ERRCODE = '22023', HINT = 'Valid formats: auto, number, percent.';
  END IF;
  SELECT count(*), count(DISTINCT s), min(x), max(x),
         least(min(y), min(l), min(u)), greatest(max(y), max(l), max(u))
    INTO n, ns, xmin, xmax, ymin, ymax
  FROM jsonb_to_recordset(coalesce(state -> 'r', '[]')) AS r(s text, x float8, y float8, l float8, u float8);
  IF n = 0 THEN
    RETURN apivalue._svg_no_data(o, 'Line chart');
  END IF;
  yf := CASE WHEN o ->> 'y_format' <> 'auto' THEN o ->> 'y_format'
             WHEN ymin >= 0 AND ymax <= 1 THEN 'percent' ELSE 'number' END;
  IF ymin >= 0 THEN ymin := 0; END IF;              -- counts and shares start at zero
  ymin := coalesce((o ->> 'y_min')::float8, ymin);
  ymax := coalesce((o ->> 'y_max')::float8, ymax);
  IF ymax < ymin THEN
    RAISE EXCEPTION 'option "y_min" of line_svg (%) must not exceed "y_max" (%)', ymin, ymax USING ERRCODE = '22023';
  END IF;
  IF ymax = ymin THEN ymax := ymin + 1; END IF;
  IF xmax = xmin THEN xmin := xmin - 1; xmax := xmax + 1; END IF;
  IF xf = 'date' THEN
    xticks := ARRAY(SELECT t * 86400 FROM unnest(apivalue._nice_ticks(xmin / 86400, xmax / 86400, 5)) t
                    WHERE t = trunc(t));
  ELSE
    xticks := apivalue._nice_ticks(xmin, xmax, 6);
  END IF;
  yticks := apivalue._nice_ticks(ymin, ymax, 5);
  bot := 44;
  pw := w - lft - rgt;
  ph := h - top - bot;
  IF pw < 20 OR ph < 20 THEN
    RAISE EXCEPTION 'line_svg cannot fit its plot into % by % pixels', w, h
      USING ERRCODE = '22023', HINT = 'Give a larger width or height.';
  END IF;

  WITH r AS (
    SELECT s, x, y, l, u AS hi,
           lft + (x - xmin) / (xmax - xmin) * pw AS px,
           top + ph - (least(greatest(y, ymin), ymax) - ymin) / (ymax - ymin) * ph AS py,
           top + ph - (least(greatest(l, ymin), ymax) - ymin) / (ymax - ymin) * ph AS pl,
           top + ph - (least(greatest(u, ymin), ymax) - ymin) / (ymax - ymin) * ph AS ph_
    FROM jsonb_to_recordset(state -> 'r') AS r(s text, x float8, y float8, l float8, u float8)),
  sr AS (
    SELECT s, row_number() OVER (ORDER BY s COLLATE "C")::integer AS si, count(*) AS pts
    FROM (SELECT s FROM r) z GROUP BY s),
  c AS (
    SELECT sr.s, sr.si, sr.pts,
           CASE WHEN o ->> 'scheme' IS NULL THEN apivalue._chart_category(sr.si)
                ELSE apivalue._chart_colour(o ->> 'scheme', CASE WHEN ns > 1 THEN 0.85 * (sr.si - 1) / (ns - 1) ELSE 0.3 END)
           END AS colour
    FROM sr),
  pts AS (
    SELECT r.*, row_number() OVER (PARTITION BY r.s ORDER BY r.x, r.y, r.l, r.hi) AS k FROM r),
  line AS (
    SELECT s, string_agg(CASE WHEN k = 1 THEN format('M%s %s', apivalue._n(px), apivalue._n(py))
                              WHEN step THEN format(' H%s V%s', apivalue._n(px), apivalue._n(py))
                              ELSE format(' L%s %s', apivalue._n(px), apivalue._n(py)) END, '' ORDER BY k) AS d
    FROM pts GROUP BY s),
  bpts AS (
    SELECT p.*, row_number() OVER (PARTITION BY s ORDER BY k) AS bk, count(*) OVER (PARTITION BY s) AS bn
    FROM pts p WHERE l IS NOT NULL AND hi IS NOT NULL),
  band AS (
    SELECT s,
           string_agg(CASE WHEN bk = 1 THEN format('M%s %s', apivalue._n(px), apivalue._n(ph_))
                           WHEN step THEN format(' H%s V%s', apivalue._n(px), apivalue._n(ph_))
                           ELSE format(' L%s %s', apivalue._n(px), apivalue._n(ph_)) END, '' ORDER BY bk)
           || format(' V%s', apivalue._n(max(pl) FILTER (WHERE bk = bn)))
           || coalesce(string_agg(CASE WHEN step THEN format(' V%s H%s', apivalue._n(pl_prev), apivalue._n(px_prev))
                                       ELSE format(' L%s %s', apivalue._n(px_prev), apivalue._n(pl_prev)) END,
                                  '' ORDER BY bk DESC) FILTER (WHERE bk > 1), '')
           || ' Z' AS d
    FROM (SELECT b.*, lag(px) OVER (PARTITION BY s ORDER BY bk) AS px_prev,
                      lag(pl) OVER (PARTITION BY s ORDER BY bk) AS pl_prev FROM bpts b) b
    GROUP BY s)
  SELECT
    apivalue._svg_open(w, h, o ->> 'title',
      coalesce(nullif(o ->> 'description', '') || ' ', '')
      || format('%s chart of %s series, %s points; x from %s to %s, y from %s to %s.',
                CASE WHEN step THEN 'Step' ELSE 'Line' END, ns, n,
                apivalue._line_tick(xmin, xf), apivalue._line_tick(xmax, xf),
                apivalue._line_tick(ymin, yf), apivalue._line_tick(ymax, yf)))
    -- grid and y ticks
    || (SELECT coalesce(string_agg(
          format('<line class="grid" x1="%s" x2="%s" y1="%s" y2="%s" stroke="#e5e5e5"/><text x="%s" y="%s" text-anchor="end" font-size="11" fill="#444444">%s</text>',
                 apivalue._n(lft), apivalue._n(lft + pw),
                 apivalue._n(top + ph - (t - ymin) / (ymax - ymin) * ph), apivalue._n(top + ph - (t - ymin) / (ymax - ymin) * ph),
                 apivalue._n(lft - 6), apivalue._n(top + ph - (t - ymin) / (ymax - ymin) * ph + 4),
                 apivalue._xml_escape(apivalue._line_tick(t, yf))), '' ORDER BY t), '')
        FROM unnest(yticks) t)
    || (SELECT coalesce(string_agg(
          format('<line class="tick" x1="%1$s" x2="%1$s" y1="%2$s" y2="%3$s" stroke="#888888"/><text x="%1$s" y="%4$s" text-anchor="middle" font-size="11" fill="#444444">%5$s</text>',
                 apivalue._n(lft + (t - xmin) / (xmax - xmin) * pw), apivalue._n(top + ph), apivalue._n(top + ph + 5),
                 apivalue._n(top + ph + 17), apivalue._xml_escape(apivalue._line_tick(t, xf))), '' ORDER BY t), '')
        FROM unnest(xticks) t)
    || format('<line class="axis" x1="%1$s" x2="%2$s" y1="%3$s" y2="%3$s" stroke="#888888"/>',
              apivalue._n(lft), apivalue._n(lft + pw), apivalue._n(top + ph))
    || apivalue._svg_label(o ->> 'x_label', lft + pw / 2, h - 6, greatest((pw / 7)::int, 2),
                           ' text-anchor="middle" fill="#444444" class="axis-label"')
    || CASE WHEN coalesce(o ->> 'y_label', '') = '' THEN ''
            ELSE format('<g transform="translate(14 %s) rotate(-90)">%s</g>', apivalue._n(top + ph / 2),
                        apivalue._svg_label(o ->> 'y_label', 0, 0, greatest((ph / 7)::int, 2),
                                            ' text-anchor="middle" fill="#444444" class="axis-label"')) END
    || coalesce((SELECT string_agg(format('<path class="band" d="%s" fill="%s" fill-opacity="0.2" stroke="none"/>', band.d, c.colour),
                                   '' ORDER BY c.si)
                 FROM band JOIN c USING (s)), '')
    || (SELECT string_agg(format('<path class="line" d="%s" fill="none" stroke="%s" stroke-width="2"><title>%s</title></path>',
                                 line.d, c.colour,
                                 apivalue._xml_escape(format('%s: %s points', nullif(c.s, ''), c.pts))),
                          '' ORDER BY c.si)
        FROM line JOIN c USING (s))
    -- legend (only when there is more than one series or the series is named)
    || CASE WHEN ns = 1 AND (SELECT min(s) FROM r) = '' THEN '' ELSE
         (SELECT string_agg(format('<rect class="legend" x="%s" y="36" width="12" height="4" fill="%s"/>',
                                   apivalue._n(lft + (si - 1) * (pw / ns)), colour)
                            || apivalue._svg_label(s, lft + (si - 1) * (pw / ns) + 16, 42,
                                                   least(maxc, greatest(((pw / ns - 20) / 7)::int, 2)),
                                                   ' font-size="11" fill="#222222" class="legend-label"'),
                            '' ORDER BY si)
          FROM c) END
    || '</svg>'
  INTO out;
  RETURN out;
END
$$;
COMMENT ON FUNCTION apivalue._line_final(jsonb) IS
  'internal: line_svg final function: draws the SVG';

CREATE AGGREGATE apivalue.line_svg(series text, x float8, y float8) (
  SFUNC = apivalue._line_accum, STYPE = jsonb, FINALFUNC = apivalue._line_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.line_svg(text, float8, float8) IS
  'SVG line chart: one curve per series through (x, y) in x order';

CREATE AGGREGATE apivalue.line_svg(series text, x float8, y float8, options jsonb) (
  SFUNC = apivalue._line_accum, STYPE = jsonb, FINALFUNC = apivalue._line_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.line_svg(text, float8, float8, jsonb) IS
  'SVG line chart with options (title, description, width, height, scheme, x_label, y_label, max_label_chars, step, x_format number|date, y_format auto|number|percent, y_min, y_max)';

CREATE AGGREGATE apivalue.line_svg(series text, x float8, y float8, y_low float8, y_high float8) (
  SFUNC = apivalue._line_accum, STYPE = jsonb, FINALFUNC = apivalue._line_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.line_svg(text, float8, float8, float8, float8) IS
  'SVG line chart with a band between y_low and y_high (confidence interval)';

CREATE AGGREGATE apivalue.line_svg(series text, x float8, y float8, y_low float8, y_high float8, options jsonb) (
  SFUNC = apivalue._line_accum, STYPE = jsonb, FINALFUNC = apivalue._line_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.line_svg(text, float8, float8, float8, float8, jsonb) IS
  'SVG line chart with a band between y_low and y_high, with options as for line_svg(text, float8, float8, jsonb)';

-- ---------------------------------------------------------------------------
-- status_strip_svg(check_name, run_at, status [, options])
--
-- Quality-check history: one row per check (sorted by name), one cell per run
-- in time order, the latest run at the right edge; pass / warn / fail / error
-- in Okabe-Ito colours with a letter mark on non-pass cells wide enough for
-- one, anything else as grey "?".  Only the last max_runs runs of each check
-- are drawn.  Rows with a NULL check_name or run_at are skipped.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._status_spec()
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"title": ["string", "Quality checks"], "description": ["string", ""],
              "width": ["number", 640], "height": ["number", null],
              "max_label_chars": ["number", 24], "max_runs": ["number", 60],
              "x_label": ["string", "runs, oldest to latest"]}'::jsonb $$;
COMMENT ON FUNCTION apivalue._status_spec() IS
  'internal: options of status_strip_svg with their JSON types and defaults';

CREATE FUNCTION apivalue._status_accum(state jsonb, check_name text, run_at timestamptz, status text, options jsonb)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
  IF run_at IN ('infinity'::timestamptz, '-infinity'::timestamptz) THEN
    RAISE EXCEPTION 'run_at of status_strip_svg must be finite, not %', run_at USING ERRCODE = '22008';
  END IF;
  RETURN apivalue._chart_accum(state,
    CASE WHEN check_name IS NOT NULL AND run_at IS NOT NULL THEN
      jsonb_build_object('c', check_name, 't', extract(epoch FROM run_at), 's', status) END,
    options);
END
$$;
COMMENT ON FUNCTION apivalue._status_accum(jsonb, text, timestamptz, text, jsonb) IS
  'internal: status_strip_svg transition function';

CREATE FUNCTION apivalue._status_accum(state jsonb, check_name text, run_at timestamptz, status text)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._status_accum(state, check_name, run_at, status, NULL) $$;
COMMENT ON FUNCTION apivalue._status_accum(jsonb, text, timestamptz, text) IS
  'internal: status_strip_svg transition function (default options)';

CREATE FUNCTION apivalue._status_final(state jsonb)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  o jsonb := apivalue._chart_options('status_strip_svg', state -> 'o', apivalue._status_spec());
  w float8 := (o ->> 'width')::float8;
  maxc integer := (o ->> 'max_label_chars')::integer;
  maxruns integer := (o ->> 'max_runs')::integer;
  n integer; nchecks integer; nmax integer; lab integer;
  lft float8; rgt float8 := 150; top float8 := 40; rh float8; cw float8; h float8;
  tmin timestamptz; tmax timestamptz;
  out text;
BEGIN
  IF maxruns < 1 OR maxruns > 1000 THEN
    RAISE EXCEPTION 'option "max_runs" of status_strip_svg must be between 1 and 1000, not %', maxruns USING ERRCODE = '22023';
  END IF;
  SELECT count(*), count(DISTINCT c), least(coalesce(max(char_length(c)), 0), maxc)
    INTO n, nchecks, lab
  FROM jsonb_to_recordset(coalesce(state -> 'r', '[]')) AS r(c text);
  IF n = 0 THEN
    RETURN apivalue._svg_no_data(o, 'Quality check history');
  END IF;
  lft := greatest(16 + (lab + 1) * 7, 60);
  rh := coalesce(((o ->> 'height')::float8 - top - 56) / nchecks, 22);
  IF rh < 4 THEN
    RAISE EXCEPTION 'status_strip_svg cannot fit % checks into a height of %', nchecks, o ->> 'height'
      USING ERRCODE = '22023', HINT = 'Give a larger height (or none, for a height that fits the checks).';
  END IF;
  h := top + nchecks * rh + 56;

  WITH r AS (
    SELECT c, to_timestamp(t) AS t,
           CASE WHEN lower(s) IN ('pass', 'warn', 'fail', 'error') THEN lower(s) ELSE 'unknown' END AS s,
           s AS raw,
           row_number() OVER (PARTITION BY c ORDER BY t DESC, s COLLATE "C" DESC) AS back
    FROM jsonb_to_recordset(state -> 'r') AS r(c text, t numeric, s text)),
  kept AS (SELECT * FROM r WHERE back <= maxruns),
  ck AS (
    SELECT c, row_number() OVER (ORDER BY c COLLATE "C") - 1 AS i, count(*) AS runs,
           count(*) FILTER (WHERE s <> 'pass') AS bad
    FROM kept GROUP BY c)
  SELECT max(back), min(t), max(t) INTO nmax, tmin, tmax FROM kept;
  cw := least(16, (w - lft - rgt) / nmax);
  IF cw < 1 THEN
    RAISE EXCEPTION 'status_strip_svg cannot fit % runs into a width of %', nmax, w
      USING ERRCODE = '22023', HINT = 'Give a larger width or a smaller max_runs.';
  END IF;

  WITH r AS (
    SELECT c, to_timestamp(t) AS t,
           CASE WHEN lower(s) IN ('pass', 'warn', 'fail', 'error') THEN lower(s) ELSE 'unknown' END AS s,
           s AS raw,
           row_number() OVER (PARTITION BY c ORDER BY t DESC, s COLLATE "C" DESC) AS back
    FROM jsonb_to_recordset(state -> 'r') AS r(c text, t numeric, s text)),
  kept AS (
    SELECT r.*,
           CASE s WHEN 'pass' THEN '#009e73' WHEN 'warn' THEN '#e69f00' WHEN 'fail' THEN '#d55e00'
                  WHEN 'error' THEN '#000000' ELSE '#bbbbbb' END AS colour,
           CASE s WHEN 'pass' THEN '' WHEN 'warn' THEN '!' WHEN 'fail' THEN 'x'
                  WHEN 'error' THEN 'E' ELSE '?' END AS mark
    FROM r WHERE back <= maxruns),
  ck AS (
    SELECT c, row_number() OVER (ORDER BY c COLLATE "C") - 1 AS i, count(*) AS runs,
           count(*) FILTER (WHERE s <> 'pass') AS bad,
           (array_agg(s ORDER BY back))[1] AS latest
    FROM kept GROUP BY c)
  SELECT
    apivalue._svg_open(w, h, o ->> 'title',
      coalesce(nullif(o ->> 'description', '') || ' ', '')
      || format('Status history of %s checks, %s runs drawn%s; latest: %s.', nchecks, (SELECT count(*) FROM kept),
                CASE WHEN n > (SELECT count(*) FROM kept) THEN format(' (%s older runs left out)', n - (SELECT count(*) FROM kept)) ELSE '' END,
                (SELECT string_agg(format('%s %s', c, latest), ', ' ORDER BY i) FROM ck)))
    || (SELECT string_agg(
          apivalue._svg_label(c, lft - 8, top + i * rh + rh / 2 + 4, maxc,
                              ' text-anchor="end" fill="#222222" class="check-label"')
          || format('<text class="summary" x="%s" y="%s" font-size="11" fill="#333333">%s</text>',
                    apivalue._n(w - rgt + 8), apivalue._n(top + i * rh + rh / 2 + 4),
                    apivalue._xml_escape(format('%s · %s of %s not pass', latest, bad, runs))),
          '' ORDER BY i) FROM ck)
    || (SELECT string_agg(
          format('<g><title>%s</title><rect class="run" x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="#ffffff" stroke-width="1"/>%s</g>',
                 apivalue._xml_escape(format('%s · %s · %s', k.c, to_char(k.t, 'YYYY-MM-DD HH24:MI:SS TZ'), coalesce(k.raw, 'no status'))),
                 apivalue._n(w - rgt - k.back * cw), apivalue._n(top + ck.i * rh + 1), apivalue._n(cw), apivalue._n(rh - 2), k.colour,
                 CASE WHEN k.mark <> '' AND cw >= 9 AND rh >= 10 THEN
                   format('<text x="%s" y="%s" text-anchor="middle" font-size="10" font-weight="bold" fill="%s">%s</text>',
                          apivalue._n(w - rgt - k.back * cw + cw / 2), apivalue._n(top + ck.i * rh + rh / 2 + 4),
                          apivalue._chart_ink(k.colour), k.mark)
                 ELSE '' END),
          '' ORDER BY ck.i, k.back DESC)
        FROM kept k JOIN ck USING (c))
    || format('<text x="%s" y="%s" font-size="11" fill="#444444" text-anchor="end">%s</text>',
              apivalue._n(w - rgt), apivalue._n(top + nchecks * rh + 16), 'latest ' || to_char(tmax, 'YYYY-MM-DD HH24:MI'))
    || format('<text x="%s" y="%s" font-size="11" fill="#444444">%s</text>',
              apivalue._n(w - rgt - nmax * cw), apivalue._n(top + nchecks * rh + 16),
              CASE WHEN tmin < tmax AND nmax * cw >= 260 THEN to_char(tmin, 'YYYY-MM-DD HH24:MI') ELSE '' END)
    || (SELECT string_agg(format('<rect class="legend" x="%s" y="%s" width="12" height="12" fill="%s"/><text x="%s" y="%s" font-size="11" fill="#444444">%s</text>',
                                 apivalue._n(lft + j * 70), apivalue._n(top + nchecks * rh + 30), col,
                                 apivalue._n(lft + j * 70 + 16), apivalue._n(top + nchecks * rh + 40), name), '' ORDER BY j)
        FROM (VALUES (0, 'pass', '#009e73'), (1, 'warn', '#e69f00'), (2, 'fail', '#d55e00'), (3, 'error', '#000000'))
             AS lg(j, name, col))
    || '</svg>'
  INTO out;
  RETURN out;
END
$$;
COMMENT ON FUNCTION apivalue._status_final(jsonb) IS
  'internal: status_strip_svg final function: draws the SVG (times in the session time zone)';

CREATE AGGREGATE apivalue.status_strip_svg(check_name text, run_at timestamptz, status text) (
  SFUNC = apivalue._status_accum, STYPE = jsonb, FINALFUNC = apivalue._status_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.status_strip_svg(text, timestamptz, text) IS
  'SVG status strip of quality-check history: one row per check, one cell per run (pass/warn/fail/error), latest at the right';

CREATE AGGREGATE apivalue.status_strip_svg(check_name text, run_at timestamptz, status text, options jsonb) (
  SFUNC = apivalue._status_accum, STYPE = jsonb, FINALFUNC = apivalue._status_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.status_strip_svg(text, timestamptz, text, jsonb) IS
  'SVG status strip with options (title, description, width, height, max_label_chars, max_runs, x_label)';
-- sql/report.sql
--
-- value_report_html: the product's value story on one self-contained HTML
-- page (inline CSS and SVG, no script, nothing fetched): activation funnel,
-- retention triangle, time to value, top journeys as a Sankey diagram and the
-- latest data-quality findings.  It draws what other apivalue functions
-- compute; a part whose function is not installed (to_regprocedure) is named
-- on the page as unavailable instead of failing the whole report.  The page
-- is also well-formed XML (XHTML syntax), so it can be checked with xpath().

CREATE FUNCTION apivalue._report_section(id text, heading text, svg text, extra text DEFAULT '')
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT format('<section id="%s">%s%s%s</section>', apivalue._xml_escape(id),
                CASE WHEN coalesce(heading, '') = '' THEN '' ELSE '<h2>' || apivalue._xml_escape(heading) || '</h2>' END,
                coalesce(svg, ''), coalesce(extra, ''))
$$;
COMMENT ON FUNCTION apivalue._report_section(text, text, text, text) IS
  'internal: one section of value_report_html: heading (none when empty), chart SVG and extra HTML';

CREATE FUNCTION apivalue.value_report_html(
    events regclass,
    user_column text,
    time_column text,
    event_column text,
    steps text[],
    conversion_window interval,
    step_labels text[] DEFAULT NULL,
    value_condition text DEFAULT NULL,
    period text DEFAULT 'week',
    periods integer DEFAULT 8,
    title text DEFAULT 'API product value report')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  u text;
  t text;
  e text;
  conds text[] := '{}';
  labels text[];
  valcond text;
  n integer := cardinality(steps);
  i integer;
  q text;
  svg text;
  html text;
  meta record;
  parts text := '';
  missing text[] := '{}';
  min_users bigint;
BEGIN
  IF n IS NULL OR n < 2 OR n > 32 THEN
    RAISE EXCEPTION 'steps must list 2 to 32 conditions, not %', coalesce(n::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'Give the funnel''s steps as SQL conditions, e.g. ARRAY[$$event = ''signup''$$, $$event = ''first_call''$$].';
  END IF;
  IF conversion_window IS NULL OR conversion_window <= interval '0' THEN
    RAISE EXCEPTION 'conversion_window must be positive, not %', coalesce(conversion_window::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF step_labels IS NOT NULL AND cardinality(step_labels) <> n THEN
    RAISE EXCEPTION 'step_labels must have one label per step (% steps, % labels)', n, cardinality(step_labels)
      USING ERRCODE = '22023';
  END IF;
  IF periods IS NULL OR periods < 1 OR periods > 52 THEN
    RAISE EXCEPTION 'periods must be between 1 and 52, not %', coalesce(periods::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  u := apivalue._column(events, user_column, 'user column');
  t := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  e := apivalue._column(events, event_column, 'event column', '{text,character varying}');
  FOR i IN 1 .. n LOOP
    conds := conds || apivalue._condition(events, steps[i], format('step %s', i));
  END LOOP;
  valcond := CASE WHEN value_condition IS NULL THEN conds[n]
                  ELSE apivalue._condition(events, value_condition, 'value condition') END;
  labels := coalesce(step_labels, steps);

  EXECUTE format('SELECT count(*) AS events, count(DISTINCT %1$s) AS users, min(%2$s) AS first_at, max(%2$s) AS last_at FROM %3$s',
                 u, t, events) INTO meta;

  -- 1. Funnel (window_funnel)
  IF to_regprocedure('apivalue.window_funnel(interval,timestamptz,"any")') IS NULL THEN
    missing := missing || 'funnel (apivalue.window_funnel is not installed)'::text;
  ELSE
    BEGIN
      q := format($q$
        SELECT apivalue.funnel_svg(k, $2[k], users,
                 jsonb_build_object('title', 'Activation funnel', 'width', 640,
                                    'description', 'Users reaching each step within ' || $1::text || ' of the first.'))
        FROM (SELECT k, count(*) FILTER (WHERE lvl >= k) AS users
              FROM (SELECT apivalue.window_funnel($1, %1$s, %2$s) AS lvl FROM %3$s WHERE %4$s IS NOT NULL GROUP BY %4$s) g,
                   generate_series(1, %5$s) AS k
              GROUP BY k) s$q$,
        t, array_to_string(conds, ', '), events, u, n);
      EXECUTE q INTO svg USING conversion_window, labels;
      parts := parts || apivalue._report_section('funnel', '', svg);
    EXCEPTION WHEN OTHERS THEN
      missing := missing || ('funnel (' || SQLERRM || ')')::text;
    END;
  END IF;

  -- 2. Retention triangle (cohort_retention)
  IF to_regprocedure('apivalue.cohort_retention(regclass,text,text,text,integer,text,text,text,text,text,text,timestamptz,timestamptz,int4range[])') IS NULL THEN
    missing := missing || 'retention triangle (apivalue.cohort_retention is not installed)'::text;
  ELSE
    BEGIN
      EXECUTE $q$
        SELECT apivalue.heatmap_svg(to_char(cohort_start AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' (' || cohort_size || ')',
                                    period_number, retention_rate, NULL,
                                    jsonb_build_object('title', 'Retention by ' || $4 || ' of first step',
                                                       'x_label', $4 || 's since the first step', 'y_label', 'cohort (users)',
                                                       'width', 640, 'min', 0, 'max', 1))
        FROM apivalue.cohort_retention($1, $2, $3, period => $4, periods => $5, start_condition => $6)
        WHERE segment IS NULL$q$
        INTO svg USING events, user_column, time_column, period, periods, steps[1];
      parts := parts || apivalue._report_section('retention', '', svg);
    EXCEPTION WHEN OTHERS THEN
      missing := missing || ('retention triangle (' || SQLERRM || ')')::text;
    END;
  END IF;

  -- 3. Time to value (ttfv_report): p50 / p75 / p90 by cohort
  IF to_regprocedure('apivalue.ttfv_report(regclass,text,text,text,text,interval,text,text,text,text,timestamptz,timestamptz,text)') IS NULL THEN
    missing := missing || 'time to value (apivalue.ttfv_report is not installed)'::text;
  ELSE
    BEGIN
      EXECUTE $q$
        SELECT apivalue.line_svg(q.name, extract(epoch FROM r.cohort_start), extract(epoch FROM q.v) / 3600,
                 jsonb_build_object('title', 'Time to value by cohort (hours)', 'x_format', 'date',
                                    'x_label', 'cohort', 'y_label', 'hours to value', 'width', 640,
                                    'y_format', 'number'))
        FROM apivalue.ttfv_report($1, $2, $3, start_condition => $4, value_condition => $5,
                                  within => $6, period => $7) r
        CROSS JOIN LATERAL (VALUES ('p50', r.p50), ('p75', r.p75), ('p90', r.p90)) AS q(name, v)
        WHERE r.segment IS NULL$q$
        INTO svg USING events, user_column, time_column, steps[1], coalesce(value_condition, steps[n]),
                       conversion_window, period;
      parts := parts || apivalue._report_section('ttfv', '', svg);
    EXCEPTION WHEN OTHERS THEN
      missing := missing || ('time to value (' || SQLERRM || ')')::text;
    END;
  END IF;

  -- 4. Top journeys (journey_flows), rare edges folded into 'other'
  IF to_regprocedure('apivalue.journey_flows(regclass,text,text,text,text,integer,interval,integer,boolean)') IS NULL THEN
    missing := missing || 'journeys (apivalue.journey_flows is not installed)'::text;
  ELSE
    BEGIN
      min_users := greatest(meta.users / 25, 1);
      EXECUTE $q$
        SELECT apivalue.sankey_svg(depth, from_step, to_step, users,
                 jsonb_build_object('title', 'Top journeys (first 4 steps)', 'width', 900, 'height', 440,
                                    'description', 'Paths taken by fewer than ' || $5 || ' users are folded into "other".'))
        FROM apivalue.journey_flows($1, $2, $3, $4, max_depth => 4, min_users => $5::integer)$q$
        INTO svg USING events, user_column, time_column, event_column, min_users;
      parts := parts || apivalue._report_section('journeys', '', svg);
    EXCEPTION WHEN OTHERS THEN
      missing := missing || ('journeys (' || SQLERRM || ')')::text;
    END;
  END IF;

  -- 5. Data quality: history strip and latest findings of the checks on this relation
  IF to_regclass('apivalue.quality_results') IS NULL OR to_regclass('apivalue.quality_status') IS NULL THEN
    missing := missing || 'data quality (the quality catalog is not installed)'::text;
  ELSE
    BEGIN
      SELECT apivalue.status_strip_svg(r.check_name, r.run_at, r.status,
               '{"title": "Quality checks, latest runs", "width": 640, "max_runs": 30}'::jsonb)
        INTO svg
      FROM apivalue.quality_results r JOIN apivalue.quality_checks c ON c.name = r.check_name
      WHERE c.relation = events;
      parts := parts || apivalue._report_section('quality', '', svg,
        coalesce((SELECT '<table><thead><tr><th>check</th><th>kind</th><th>status</th><th>observed</th><th>thresholds (warn / fail)</th><th>last run</th></tr></thead><tbody>'
                         || string_agg(format('<tr class="%s"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s / %s</td><td>%s</td></tr>',
                                              coalesce(s.status, 'never'), apivalue._xml_escape(s.check_name),
                                              apivalue._xml_escape(s.kind), coalesce(s.status, 'never run'),
                                              apivalue._fmt_count(s.observed), apivalue._fmt_count(s.warn_threshold),
                                              apivalue._fmt_count(s.fail_threshold),
                                              coalesce(to_char(s.run_at, 'YYYY-MM-DD HH24:MI'), '–')),
                                       '' ORDER BY s.check_name)
                         || '</tbody></table>'
                  FROM apivalue.quality_status s WHERE s.relation = events),
                 '<p class="note">No quality checks are registered on this relation (apivalue.add_quality_check, then apivalue.run_quality_checks).</p>'));
    EXCEPTION WHEN OTHERS THEN
      missing := missing || ('data quality (' || SQLERRM || ')')::text;
    END;
  END IF;

  html := '<!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/>'
    || '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
    || '<title>' || apivalue._xml_escape(title) || '</title><style>'
    || 'body{font-family:sans-serif;margin:24px;color:#222;background:#fff}'
    || 'h1{font-size:22px;margin:0 0 4px}p.meta{color:#555;margin:0 0 16px}'
    || '.grid{display:flex;flex-wrap:wrap;gap:20px}'
    || 'section{border:1px solid #ddd;border-radius:6px;padding:12px 16px;background:#fff}'
    || 'section h2{font-size:16px;margin:0 0 8px}'
    || 'section svg{display:block;max-width:100%;height:auto}'
    || '.unavailable{background:#fff4e0;border-color:#e6b366}'
    || 'table{border-collapse:collapse;margin-top:10px;font-size:13px}'
    || 'th,td{text-align:left;padding:3px 10px 3px 0;border-bottom:1px solid #eee}'
    || 'tr.fail td:nth-child(3),tr.error td:nth-child(3){color:#b34700;font-weight:bold}'
    || 'tr.warn td:nth-child(3){color:#8a6100;font-weight:bold}'
    || '</style></head><body>'
    || '<h1>' || apivalue._xml_escape(title) || '</h1>'
    || format('<p class="meta">%s: %s events of %s users, %s to %s.</p>',
              apivalue._xml_escape(events::text), apivalue._fmt_count(meta.events), apivalue._fmt_count(meta.users),
              coalesce(to_char(meta.first_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC', '–'),
              coalesce(to_char(meta.last_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC', '–'))
    || '<div class="grid">' || parts
    || CASE WHEN cardinality(missing) = 0 THEN ''
            ELSE '<section id="unavailable" class="unavailable"><h2>Unavailable parts</h2><ul>'
                 || (SELECT string_agg('<li>' || apivalue._xml_escape(m) || '</li>', '' ORDER BY k)
                     FROM unnest(missing) WITH ORDINALITY AS x(m, k))
                 || '</ul></section>' END
    || '</div></body></html>';
  RETURN html;
END
$fn$;
COMMENT ON FUNCTION apivalue.value_report_html(regclass, text, text, text, text[], interval, text[], text, text, integer, text) IS
  'one self-contained HTML page (inline CSS and SVG, nothing fetched): activation funnel, retention triangle, time to value, top journeys, latest quality findings; parts whose functions are not installed are listed as unavailable';
