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
