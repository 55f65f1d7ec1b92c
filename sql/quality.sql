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

-- duplicate_keys groups the keys in a MATERIALIZED CTE and sorts only the
-- few offending ones: with the ORDER BY on the grouping itself the planner,
-- expecting a third of the keys to pass HAVING, sorts every row to group
-- them (10M events: 32 s against 18 s for hashing).
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
      WITH g AS MATERIALIZED (
        SELECT %1$s::text AS k, count(*) AS n, min(%2$s)::timestamptz AS f, max(%2$s)::timestamptz AS l
        FROM %3$s WHERE %1$s IS NOT NULL
        GROUP BY 1 HAVING count(*) > 1)
      SELECT k, n, n - 1, f, l FROM g ORDER BY 1 $q$, k, t, events);
  ELSE
    PERFORM apivalue._quality_positive(tolerance, 'tolerance', true);
    -- Near duplicates: rows within tolerance after an earlier row of the key.
    RETURN QUERY EXECUTE format($q$
      WITH g AS MATERIALIZED (
        SELECT %1$s::text AS k, count(*) AS n,
               apivalue.near_duplicate_count(%1$s::text, %2$s::timestamptz, $1) AS d,
               min(%2$s)::timestamptz AS f, max(%2$s)::timestamptz AS l
        FROM %3$s WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL
        GROUP BY 1 HAVING apivalue.near_duplicate_count(%1$s::text, %2$s::timestamptz, $1) > 0)
      SELECT k, n, d, f, l FROM g ORDER BY 1 $q$, k, t, events) USING tolerance;
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
  k text := apivalue._expression(rel, params->>'key', 'key');
  t text := apivalue._column(rel, params->>'time_column', 'time_column',
                             ARRAY['timestamptz'::regtype, 'timestamp'::regtype]);
  n bigint;
  dups bigint;
  offending bigint;
  keys jsonb;
  ids text[];
BEGIN
  -- What duplicate_rate and duplicate_keys report, with the keys grouped
  -- once (the rate is the sum over the offending keys).
  EXECUTE format('SELECT count(*) FROM %s WHERE %s IS NOT NULL%s', rel, k,
                 CASE WHEN tol IS NULL THEN '' ELSE format(' AND %s IS NOT NULL', t) END)
    INTO n;
  SELECT coalesce(sum(d.duplicates), 0)::bigint, count(*),
         jsonb_agg(to_jsonb(d.r) ORDER BY d.key_value) FILTER (WHERE d.rn <= 20),
         array_agg(d.key_value ORDER BY d.key_value) FILTER (WHERE d.rn <= 20)
  INTO dups, offending, keys, ids
  FROM (SELECT dk AS r, dk.key_value, dk.duplicates,
               row_number() OVER (ORDER BY dk.key_value) AS rn
        FROM apivalue.duplicate_keys(rel, params->>'key', params->>'time_column', tol) dk) d;
  observed := dups;
  details := jsonb_build_object('rows', n, 'duplicates', dups,
                                'duplicate_rate', CASE WHEN n > 0 THEN dups::float8 / n END,
                                'offending_keys', offending, 'keys', coalesce(keys, '[]'))
             || CASE WHEN tol IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('tolerance', tol::text) END;
  IF dups > 0 THEN
    sample := apivalue._quality_sample(rel, format('%s::text = ANY ($1)', k),
                                       format('%s::text, %s', k, t), ids);
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
