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
