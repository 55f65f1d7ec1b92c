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
-- one shared aggregate state.  _journey_flow_edges then reads every path
-- once: it folds rare edges depth by depth (an edge (depth d, from -> to)
-- taken by fewer than min_users paths has its target relabelled 'other' in
-- those paths, so the next depth starts from 'other' and every node's inflow
-- equals its outflow), counts the edges and finds each edge's median time.
-- ---------------------------------------------------------------------------

CREATE TYPE apivalue.journey_flow_edge_list AS (
  depth integer[],
  from_step text[],
  to_step text[],
  users bigint[],
  median_time interval[]
);

COMMENT ON TYPE apivalue.journey_flow_edge_list IS
  'result of _journey_flow_edges: the edges of journey_flows as parallel arrays (to_step NULL = dropped off; median_time NULL for those)';

CREATE FUNCTION apivalue._journey_flow_edges_accum(internal, text[], anyarray, integer, integer)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_flow_edges_accum'
LANGUAGE C PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_flow_edges_accum(internal, text[], anyarray, integer, integer) IS
  'transition function of _journey_flow_edges';

CREATE FUNCTION apivalue._journey_flow_edges_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_flow_edges_combine'
LANGUAGE C PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_flow_edges_combine(internal, internal) IS
  'combine function of _journey_flow_edges';

CREATE FUNCTION apivalue._journey_flow_edges_serialize(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'apivalue_journey_flow_edges_serialize'
LANGUAGE C STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_flow_edges_serialize(internal) IS
  'serialize function of _journey_flow_edges';

CREATE FUNCTION apivalue._journey_flow_edges_deserialize(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_flow_edges_deserialize'
LANGUAGE C STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_flow_edges_deserialize(bytea, internal) IS
  'deserialize function of _journey_flow_edges';

CREATE FUNCTION apivalue._journey_flow_edges_final(internal, text[], anyarray, integer, integer)
RETURNS apivalue.journey_flow_edge_list
AS 'MODULE_PATHNAME', 'apivalue_journey_flow_edges_final'
LANGUAGE C PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_flow_edges_final(internal, text[], anyarray, integer, integer) IS
  'final function of _journey_flow_edges';

CREATE AGGREGATE apivalue._journey_flow_edges(steps text[], times anyarray, max_depth integer, min_users integer) (
  SFUNC = apivalue._journey_flow_edges_accum,
  STYPE = internal,
  FINALFUNC = apivalue._journey_flow_edges_final,
  FINALFUNC_EXTRA,
  COMBINEFUNC = apivalue._journey_flow_edges_combine,
  SERIALFUNC = apivalue._journey_flow_edges_serialize,
  DESERIALFUNC = apivalue._journey_flow_edges_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue._journey_flow_edges(text[], anyarray, integer, integer) IS
  'journey_flows'' edges from one path per row (steps, and their start times as timestamp[] or timestamptz[], e.g. journey_path and journey_path_times): paths cut to max_depth + 1 steps, edges taken by fewer than min_users paths folded into ''other'' depth by depth; per edge (depth, from_step, to_step or NULL when the path ends) the paths taking it and percentile_cont(0.5) of the time between the two steps';

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
  coll text := '';
  q text;
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
  -- labels are ordered under the step column's collation, as its paths are
  SELECT CASE WHEN a.attcollation <> 0 AND a.attcollation <> 'pg_catalog.default'::regcollation
              THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END
    INTO coll
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = events AND a.attname = step_column AND NOT a.attisdropped;

  q := format($q$
    WITH ev AS (
      SELECT %1$s AS u, %2$s AS t, %3$s AS s%4$s
      FROM %5$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL AND %3$s IS NOT NULL),
    p AS (
      SELECT %6$s AS steps, %7$s AS times FROM ev GROUP BY u%8$s),
    r AS (
      SELECT apivalue._journey_flow_edges(p.steps, p.times, $2, $4) AS r FROM p),
    g AS (
      SELECT x.d, x.f%9$s AS f, x.tt%9$s AS tt, x.n, x.med
      FROM r, unnest((r.r).depth, (r.r).from_step, (r.r).to_step, (r.r).users, (r.r).median_time)
              AS x(d, f, tt, n, med))
    SELECT g.d, g.f, g.tt, g.n, g.med,
           (sum(g.n) OVER w)::bigint,
           coalesce(sum(g.n) FILTER (WHERE g.tt IS NULL) OVER w, 0)::bigint,
           coalesce(sum(g.n) FILTER (WHERE g.tt IS NULL) OVER w, 0)::double precision
             / (sum(g.n) OVER w)::double precision
    FROM g
    WINDOW w AS (PARTITION BY g.d, g.f)
    ORDER BY g.d, g.n DESC, g.f, g.tt NULLS LAST$q$,
    u, t, step_expr,
    CASE WHEN session_gap IS NULL THEN ''
         ELSE format(', apivalue.session_number(%s, $3) OVER (PARTITION BY %s ORDER BY %s) AS sess', t, u, t) END,
    events,
    format(agg, ''), format(agg, '_times'),
    CASE WHEN session_gap IS NULL THEN '' ELSE ', sess' END,
    coll);

  RETURN QUERY EXECUTE q USING anchor, max_depth, session_gap, min_users;
END
$fn$;

COMMENT ON FUNCTION apivalue.journey_flows(regclass, text, text, text, text, integer, interval, integer, boolean) IS
  'Sankey edges of users'' paths: per depth, from_step -> to_step (NULL = dropped off), paths taking it, median time between the two steps, paths through from_step and how many of them stopped there; rare edges folded into ''other''';
