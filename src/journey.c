/*-------------------------------------------------------------------------
 *
 * journey.c
 *	  journey_path aggregates: the steps a group took, in time order.
 *
 * State: the group's events as 16-byte records (timestamp, interned step id
 * in the "aux" field) in the shared event buffer, plus a string pool that
 * holds each distinct step label once.  The transition function does no
 * per-row palloc: the step is looked up in the pool (a one-entry cache
 * catches the common "same step as the previous row" case) and a record is
 * appended.
 *
 * Order: (ts, step text under the aggregate's collation, step bytes).  It is
 * a total order on distinct records, so the path does not depend on the order
 * rows arrive in, nor on the plan.  Text comparisons happen only for records
 * with equal timestamps.
 *
 * Result: the sorted records, consecutive repeats collapsed into runs, cut
 * to max_steps runs.  Anchored variants first restrict the records:
 *	 FROM: from the first record whose step is the anchor, onwards;
 *	 TO:   up to and including the last record whose step is the anchor,
 *		   keeping the LAST max_steps runs.
 *
 * Memory: every so often (when the buffer has doubled since the last time)
 * the state is compacted: records are sorted, exact duplicates (same ts and
 * step) dropped, and records that can no longer affect the result dropped.
 * Inserting a record anywhere in a sequence never lowers the number of runs
 * before a given record, so once the records before some record C form
 * max_steps runs (counted from the anchor, if any), C and everything after it
 * are irrelevant for PLAIN and FROM, whatever arrives later (a later-arriving
 * earlier anchor only adds runs in front).  TO is the mirror image, counted
 * backwards from the last anchor; records after that anchor must be kept
 * because a later anchor may still arrive.  A user with 10M events in
 * time order therefore needs O(max_steps) records, except for long stretches
 * of one repeated step (which cannot be collapsed early: a record arriving
 * later may split the stretch).  Compaction is amortized O(log n) per row.
 *
 * src/journey.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "event_buffer.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "strpool.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

PG_FUNCTION_INFO_V1(apivalue_journey_path_accum);
PG_FUNCTION_INFO_V1(apivalue_journey_path_from_accum);
PG_FUNCTION_INFO_V1(apivalue_journey_path_to_accum);
PG_FUNCTION_INFO_V1(apivalue_journey_path_combine);
PG_FUNCTION_INFO_V1(apivalue_journey_path_serialize);
PG_FUNCTION_INFO_V1(apivalue_journey_path_deserialize);
PG_FUNCTION_INFO_V1(apivalue_journey_path_final);
PG_FUNCTION_INFO_V1(apivalue_journey_path_times_final);
PG_FUNCTION_INFO_V1(apivalue_path_transitions);

#define JOURNEY_PLAIN	0
#define JOURNEY_FROM	1
#define JOURNEY_TO		2

#define JOURNEY_DEFAULT_STEPS	20
#define JOURNEY_MAX_STEPS		10000
#define JOURNEY_COMPACT_MIN		256

#define JOURNEY_SERIAL_VERSION	1

typedef struct JourneyState
{
	AvEventBuffer buf;			/* aux = step id in pool */
	StrPool		pool;
	int32		max_steps;
	uint8		mode;			/* JOURNEY_PLAIN / _FROM / _TO */
	bool		inorder;		/* records are known to be in path order */
	uint32		anchor;			/* anchor's id in pool, or STRPOOL_NONE */
	Oid			collid;			/* collation for ties */
	uint32		last_id;		/* step id of the last appended record */
	int64		compact_at;		/* compact when nevents reaches this */
	bool		have_cut;		/* records after cut_ts cannot matter */
	int64		cut_ts;
	int32		nruns;			/* runs counted so far (valid while inorder) */
	bool		anchor_seen;	/* FROM: nruns counts from the first anchor */
	const void *anchor_ptr;		/* last anchor argument seen (fast check) */
} JourneyState;

static const char *const mode_anchor_name[] = {"", "start_step", "end_step"};

/*
 * Compare two step ids: under the collation, then by bytes so that strings
 * a nondeterministic collation calls equal still have a fixed order.
 */
static int
journey_step_cmp(const JourneyState *st, uint32 a, uint32 b)
{
	uint32		la,
				lb;
	const char *sa = strpool_get(&st->pool, a, &la);
	const char *sb = strpool_get(&st->pool, b, &lb);
	int			c;

	c = varstr_cmp(sa, (int) la, sb, (int) lb, st->collid);
	if (c != 0)
		return c;
	c = memcmp(sa, sb, Min(la, lb));
	if (c != 0)
		return c;
	return la < lb ? -1 : (la > lb ? 1 : 0);
}

static int
journey_record_cmp(const void *pa, const void *pb, void *arg)
{
	const AvEvent *a = (const AvEvent *) pa;
	const AvEvent *b = (const AvEvent *) pb;

	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	if (a->aux == b->aux)
		return 0;
	return journey_step_cmp((const JourneyState *) arg, a->aux, b->aux);
}

static void
journey_sort(JourneyState *st)
{
	if (!st->inorder)
		av_events_sort_by(&st->buf, journey_record_cmp, st);
	st->inorder = true;
}

static int32
journey_max_steps_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		n;

	if (PG_NARGS() <= argno)
		return JOURNEY_DEFAULT_STEPS;
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_steps must not be NULL")));
	n = PG_GETARG_INT32(argno);
	if (n < 1 || n > JOURNEY_MAX_STEPS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_steps must be between 1 and %d, not %d",
						JOURNEY_MAX_STEPS, n)));
	return n;
}

static JourneyState *
journey_state_new(MemoryContext cxt, uint8 mode, int32 max_steps, Oid collid)
{
	JourneyState *st = MemoryContextAllocZero(cxt, sizeof(JourneyState));

	av_events_init(&st->buf);
	strpool_init(&st->pool, cxt);
	st->mode = mode;
	st->max_steps = max_steps;
	st->inorder = true;
	st->anchor = STRPOOL_NONE;
	st->collid = OidIsValid(collid) ? collid : DEFAULT_COLLATION_OID;
	st->last_id = STRPOOL_NONE;
	st->compact_at = Max(JOURNEY_COMPACT_MIN, 8 * (int64) max_steps);
	st->anchor_seen = (mode == JOURNEY_PLAIN);
	return st;
}

/*
 * Index just past the records that can matter for a forward walk starting at
 * "start": the record that begins run max_steps + 1, or n.
 */
static int64
journey_forward_cut(const AvEvent *ev, int64 n, int64 start, int32 max_steps)
{
	int32		runs = 1;
	int64		i;

	for (i = start + 1; i < n; i++)
		if (ev[i].aux != ev[i - 1].aux && ++runs > max_steps)
			return i;
	return n;
}

/*
 * Index of the first record that can matter for a backward walk from "end":
 * one past the record that ends run max_steps + 1 counted backwards, or 0.
 */
static int64
journey_backward_cut(const AvEvent *ev, int64 end, int32 max_steps)
{
	int32		runs = 1;
	int64		i;

	for (i = end - 1; i >= 0; i--)
		if (ev[i].aux != ev[i + 1].aux && ++runs > max_steps)
			return i + 1;
	return 0;
}

/* First record of the anchor at or after "from", or -1. */
static int64
journey_first_anchor(const JourneyState *st)
{
	int64		i;

	for (i = 0; i < st->buf.nevents; i++)
		if (st->buf.events[i].aux == st->anchor)
			return i;
	return -1;
}

static int64
journey_last_anchor(const JourneyState *st)
{
	int64		i;

	for (i = st->buf.nevents - 1; i >= 0; i--)
		if (st->buf.events[i].aux == st->anchor)
			return i;
	return -1;
}

/*
 * Remember that records with a timestamp after ts can be dropped on arrival:
 * a record after a valid cut point never matters (see the file header).
 */
static inline void
journey_set_cut(JourneyState *st, int64 ts)
{
	if (!st->have_cut || ts < st->cut_ts)
		st->cut_ts = ts;
	st->have_cut = true;
}

/* Recount the runs of a sorted buffer for the online cut of journey_append. */
static void
journey_recount(JourneyState *st)
{
	const AvEvent *ev = st->buf.events;
	int64		i,
				start = 0;

	st->nruns = 0;
	st->anchor_seen = (st->mode == JOURNEY_PLAIN);
	if (st->mode == JOURNEY_FROM)
	{
		start = journey_first_anchor(st);
		st->anchor_seen = (start >= 0);
	}
	if (!st->anchor_seen)
		return;
	for (i = start; i < st->buf.nevents; i++)
		if (i == start || ev[i].aux != ev[i - 1].aux)
			st->nruns++;
}

/*
 * Sort, drop exact duplicates and drop records that cannot affect the result
 * (see the file header for why this is safe).
 */
static void
journey_compact(JourneyState *st)
{
	AvEvent    *ev = st->buf.events;
	int64		n = st->buf.nevents;
	int64		i,
				k;

	journey_sort(st);
	if (n > 1)
	{
		for (i = 1, k = 1; i < n; i++)
			if (ev[i].ts != ev[k - 1].ts || ev[i].aux != ev[k - 1].aux)
				ev[k++] = ev[i];
		n = k;
	}

	if (st->mode == JOURNEY_PLAIN && n > 0)
	{
		k = journey_forward_cut(ev, n, 0, st->max_steps);
		if (k < n)
			journey_set_cut(st, ev[k].ts);
		n = k;
	}
	else if (st->mode == JOURNEY_FROM)
	{
		st->buf.nevents = n;
		i = journey_first_anchor(st);
		if (i >= 0)
		{
			k = journey_forward_cut(ev, n, i, st->max_steps);
			if (k < n)
				journey_set_cut(st, ev[k].ts);
			n = k;
		}
	}
	else if (st->mode == JOURNEY_TO)
	{
		st->buf.nevents = n;
		i = journey_last_anchor(st);
		if (i >= 0)
		{
			int64		lo = journey_backward_cut(ev, i, st->max_steps);

			/*
			 * Keep one record before the cut: the last record of the run
			 * that falls off.  It separates a later-arriving earlier record
			 * of the first kept run's step from that run, so the run's start
			 * time (the _times variants) stays right; the final function
			 * cuts it off again.
			 */
			if (lo > 1)
			{
				memmove(ev, ev + lo - 1, (n - lo + 1) * sizeof(AvEvent));
				n -= lo - 1;
			}
		}
	}
	st->buf.nevents = n;
	if (n > 0)
		st->last_id = ev[n - 1].aux;
	journey_recount(st);
	st->compact_at = Max(JOURNEY_COMPACT_MIN, 8 * (int64) st->max_steps);
	st->compact_at = Max(st->compact_at, 2 * n);
}

/*
 * Add one record.  While records arrive in order, runs are counted as they
 * come: the record that would start run max_steps + 1 (counted from the
 * first anchor for FROM) is a cut point, so it and every later-arriving
 * record after its timestamp are dropped without being stored.
 */
static void
journey_append(JourneyState *st, int64 ts, uint32 id)
{
	if (st->have_cut && ts > st->cut_ts)
		return;
	if (st->inorder && st->buf.nevents > 0)
	{
		const AvEvent *last = &st->buf.events[st->buf.nevents - 1];

		/* equal timestamps with different steps need the text order */
		if (ts < last->ts || (ts == last->ts && id != last->aux))
			st->inorder = false;
	}
	if (st->inorder && st->mode != JOURNEY_TO)
	{
		if (!st->anchor_seen)
		{
			if (id == st->anchor)
			{
				st->anchor_seen = true;
				st->nruns = 1;
			}
		}
		else if (st->buf.nevents == 0 || id != st->buf.events[st->buf.nevents - 1].aux)
		{
			if (st->nruns == st->max_steps)
			{
				journey_set_cut(st, ts);
				return;
			}
			st->nruns++;
		}
	}
	av_events_append(&st->buf, ts, 0, id);
	st->last_id = id;
	if (st->buf.nevents >= st->compact_at)
		journey_compact(st);
}

/*
 * Transition function shared by all variants:
 *	 (state, ts, step [, anchor] [, max_steps])
 */
static Datum
journey_accum(FunctionCallInfo fcinfo, uint8 mode)
{
	MemoryContext aggcxt;
	MemoryContext oldcxt;
	JourneyState *st;
	int			maxarg = (mode == JOURNEY_PLAIN) ? 3 : 4;
	int32		max_steps;
	text	   *step;
	text	   *anchor = NULL;
	const char *s;
	uint32		len;
	uint32		id;
	int64		ts;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("journey_path transition function called in non-aggregate context")));

	st = PG_ARGISNULL(0) ? NULL : (JourneyState *) PG_GETARG_POINTER(0);

	/* parameters are checked on every row, so bad ones never pass silently */
	max_steps = journey_max_steps_arg(fcinfo, maxarg);
	if (mode != JOURNEY_PLAIN && PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", mode_anchor_name[mode])));

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}

	ts = av_timestamp_arg(PG_GETARG_TIMESTAMP(1));
	/* past a known cut point: nothing to look up or store */
	if (st != NULL && st->have_cut && ts > st->cut_ts && st->max_steps == max_steps &&
		(mode == JOURNEY_PLAIN ||
		 DatumGetPointer(PG_GETARG_DATUM(3)) == st->anchor_ptr))
		PG_RETURN_POINTER(st);
	step = PG_GETARG_TEXT_PP(2);
	s = VARDATA_ANY(step);
	len = VARSIZE_ANY_EXHDR(step);
	/* detoast (if ever needed) in the per-row context, not the state's */
	if (mode != JOURNEY_PLAIN &&
		(st == NULL || DatumGetPointer(PG_GETARG_DATUM(3)) != st->anchor_ptr))
		anchor = PG_GETARG_TEXT_PP(3);

	oldcxt = MemoryContextSwitchTo(aggcxt);
	if (st == NULL)
	{
		st = journey_state_new(aggcxt, mode, max_steps, PG_GET_COLLATION());
		if (mode != JOURNEY_PLAIN)
		{
			st->anchor = strpool_intern(&st->pool, VARDATA_ANY(anchor),
										VARSIZE_ANY_EXHDR(anchor));
			st->anchor_ptr = DatumGetPointer(PG_GETARG_DATUM(3));
		}
	}
	else
	{
		if (max_steps != st->max_steps)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_steps must be the same for all rows of a group"),
					 errdetail("Got %d after %d.", max_steps, st->max_steps)));
		if (anchor != NULL)
		{
			if (strpool_lookup(&st->pool, VARDATA_ANY(anchor),
							   VARSIZE_ANY_EXHDR(anchor)) != st->anchor)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s must be the same for all rows of a group",
								mode_anchor_name[mode])));
			st->anchor_ptr = DatumGetPointer(PG_GETARG_DATUM(3));
		}
	}

	/* the previous row's step is the most likely match */
	if (st->last_id != STRPOOL_NONE)
	{
		uint32		llen;
		const char *ls = strpool_get(&st->pool, st->last_id, &llen);

		id = (llen == len && memcmp(ls, s, len) == 0)
			? st->last_id : strpool_intern(&st->pool, s, len);
	}
	else
		id = strpool_intern(&st->pool, s, len);

	journey_append(st, ts, id);
	MemoryContextSwitchTo(oldcxt);
	PG_RETURN_POINTER(st);
}

Datum
apivalue_journey_path_accum(PG_FUNCTION_ARGS)
{
	return journey_accum(fcinfo, JOURNEY_PLAIN);
}

Datum
apivalue_journey_path_from_accum(PG_FUNCTION_ARGS)
{
	return journey_accum(fcinfo, JOURNEY_FROM);
}

Datum
apivalue_journey_path_to_accum(PG_FUNCTION_ARGS)
{
	return journey_accum(fcinfo, JOURNEY_TO);
}

/*
 * Add src's records to dst (dst's memory context current), re-interning
 * src's step labels into dst's pool.
 */
static void
journey_merge_into(JourneyState *dst, const JourneyState *src)
{
	uint32	   *map;
	uint32		i;
	int64		j;

	if (src->pool.n == 0 && src->buf.nevents == 0)
		return;
	map = palloc(Max(src->pool.n, 1) * sizeof(uint32));
	for (i = 0; i < src->pool.n; i++)
	{
		uint32		len;
		const char *s = strpool_get(&src->pool, i, &len);

		map[i] = strpool_intern(&dst->pool, s, len);
	}
	av_events_grow(&dst->buf, dst->buf.nevents + src->buf.nevents);
	for (j = 0; j < src->buf.nevents; j++)
		journey_append(dst, src->buf.events[j].ts, map[src->buf.events[j].aux]);
	pfree(map);
}

static void
journey_check_compatible(const JourneyState *a, const JourneyState *b)
{
	if (a->mode != b->mode)
		elog(ERROR, "journey_path states of different kinds cannot be combined");
	if (a->max_steps != b->max_steps)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_steps must be the same for all rows of a group"),
				 errdetail("Got %d and %d.", a->max_steps, b->max_steps)));
	if (a->mode != JOURNEY_PLAIN)
	{
		uint32		la,
					lb;
		const char *sa = strpool_get(&a->pool, a->anchor, &la);
		const char *sb = strpool_get(&b->pool, b->anchor, &lb);

		if (la != lb || memcmp(sa, sb, la) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be the same for all rows of a group",
							mode_anchor_name[a->mode])));
	}
}

Datum
apivalue_journey_path_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext oldcxt;
	JourneyState *a;
	JourneyState *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("journey_path combine function called in non-aggregate context")));
	a = PG_ARGISNULL(0) ? NULL : (JourneyState *) PG_GETARG_POINTER(0);
	b = PG_ARGISNULL(1) ? NULL : (JourneyState *) PG_GETARG_POINTER(1);
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}

	oldcxt = MemoryContextSwitchTo(aggcxt);
	if (a == NULL)
	{
		a = journey_state_new(aggcxt, b->mode, b->max_steps, b->collid);
		if (b->mode != JOURNEY_PLAIN)
		{
			uint32		len;
			const char *s = strpool_get(&b->pool, b->anchor, &len);

			a->anchor = strpool_intern(&a->pool, s, len);
		}
	}
	else
		journey_check_compatible(a, b);
	journey_merge_into(a, b);
	MemoryContextSwitchTo(oldcxt);
	PG_RETURN_POINTER(a);
}

/*
 * Serialized form (version 1):
 *	 uint8 version, uint8 mode, int32 max_steps, Oid collid, uint32 anchor,
 *	 uint32 nstrings, then per string uint32 len + bytes,
 *	 then the event records (event_buffer.h format).
 * Only strings that records or the anchor use are written.
 */
Datum
apivalue_journey_path_serialize(PG_FUNCTION_ARGS)
{
	JourneyState *st = (JourneyState *) PG_GETARG_POINTER(0);
	uint32	   *map;
	uint32		nused = 0;
	uint32		i;
	int64		j;
	Size		size;
	bytea	   *out;
	char	   *p;
	uint8		version = JOURNEY_SERIAL_VERSION;
	uint32		anchor;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("journey_path serialize function called in non-aggregate context")));

	journey_compact(st);

	/* renumber the strings in use densely */
	map = palloc(Max(st->pool.n, 1) * sizeof(uint32));
	for (i = 0; i < st->pool.n; i++)
		map[i] = STRPOOL_NONE;
	if (st->anchor != STRPOOL_NONE)
		map[st->anchor] = nused++;
	for (j = 0; j < st->buf.nevents; j++)
		if (map[st->buf.events[j].aux] == STRPOOL_NONE)
			map[st->buf.events[j].aux] = nused++;

	size = VARHDRSZ + 1 + 1 + 4 + sizeof(Oid) + 4 + 4;
	for (i = 0; i < st->pool.n; i++)
		if (map[i] != STRPOOL_NONE)
			size += 4 + st->pool.entries[i].len;
	size += av_events_serialized_size(&st->buf);

	out = (bytea *) palloc_extended(size, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, size);
	p = VARDATA(out);
	memcpy(p, &version, 1);
	p += 1;
	memcpy(p, &st->mode, 1);
	p += 1;
	memcpy(p, &st->max_steps, 4);
	p += 4;
	memcpy(p, &st->collid, sizeof(Oid));
	p += sizeof(Oid);
	anchor = st->anchor == STRPOOL_NONE ? STRPOOL_NONE : map[st->anchor];
	memcpy(p, &anchor, 4);
	p += 4;
	memcpy(p, &nused, 4);
	p += 4;
	{
		/* strings in new-id order */
		uint32	   *inv = palloc(Max(nused, 1) * sizeof(uint32));

		for (i = 0; i < st->pool.n; i++)
			if (map[i] != STRPOOL_NONE)
				inv[map[i]] = i;
		for (i = 0; i < nused; i++)
		{
			uint32		len;
			const char *s = strpool_get(&st->pool, inv[i], &len);

			memcpy(p, &len, 4);
			p += 4;
			memcpy(p, s, len);
			p += len;
		}
		pfree(inv);
	}
	{
		char	   *ev = p;

		p = av_events_serialize(&st->buf, p);
		/* rewrite the step ids of the copied records */
		for (j = 0; j < st->buf.nevents; j++)
		{
			AvEvent		e;
			char	   *ep = ev + sizeof(int64) + j * sizeof(AvEvent);

			memcpy(&e, ep, sizeof(AvEvent));
			e.aux = map[e.aux];
			memcpy(ep, &e, sizeof(AvEvent));
		}
	}
	Assert(p == (char *) out + size);
	pfree(map);
	PG_RETURN_BYTEA_P(out);
}

static void
journey_bad_state(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid journey_path state: %s", what)));
}

Datum
apivalue_journey_path_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(in);
	const char *end = p + VARSIZE_ANY_EXHDR(in);
	MemoryContext aggcxt;
	MemoryContext oldcxt;
	JourneyState *st;
	uint8		version,
				mode;
	int32		max_steps;
	Oid			collid;
	uint32		anchor,
				nstrings,
				i;
	int64		j;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("journey_path deserialize function called in non-aggregate context")));

	if (end - p < 1 + 1 + 4 + (ptrdiff_t) sizeof(Oid) + 4 + 4)
		journey_bad_state("truncated header");
	memcpy(&version, p, 1);
	p += 1;
	if (version != JOURNEY_SERIAL_VERSION)
		journey_bad_state("unknown version");
	memcpy(&mode, p, 1);
	p += 1;
	memcpy(&max_steps, p, 4);
	p += 4;
	memcpy(&collid, p, sizeof(Oid));
	p += sizeof(Oid);
	memcpy(&anchor, p, 4);
	p += 4;
	memcpy(&nstrings, p, 4);
	p += 4;
	if (mode > JOURNEY_TO || max_steps < 1 || max_steps > JOURNEY_MAX_STEPS)
		journey_bad_state("bad parameters");
	if ((mode == JOURNEY_PLAIN) != (anchor == STRPOOL_NONE) ||
		(anchor != STRPOOL_NONE && anchor >= nstrings))
		journey_bad_state("bad anchor");
	/* every string takes at least its 4-byte length */
	if ((uint64) nstrings > (uint64) (end - p) / 4)
		journey_bad_state("string count exceeds the data");

	oldcxt = MemoryContextSwitchTo(aggcxt);
	st = journey_state_new(aggcxt, mode, max_steps, collid);
	for (i = 0; i < nstrings; i++)
	{
		uint32		len;

		if (end - p < 4)
			journey_bad_state("truncated string");
		memcpy(&len, p, 4);
		p += 4;
		if ((uint64) len > (uint64) (end - p))
			journey_bad_state("truncated string");
		if (strpool_intern(&st->pool, p, len) != i)
			journey_bad_state("duplicate string");
		p += len;
	}
	st->anchor = anchor;
	p = av_events_deserialize(&st->buf, p, end);
	if (p != end)
		journey_bad_state("trailing bytes");
	for (j = 0; j < st->buf.nevents; j++)
		if (st->buf.events[j].aux >= nstrings)
			journey_bad_state("step id out of range");
	/* the serialized records were sorted, but verify rather than trust */
	st->inorder = true;
	for (j = 1; j < st->buf.nevents; j++)
		if (journey_record_cmp(&st->buf.events[j - 1], &st->buf.events[j], st) > 0)
		{
			st->inorder = false;
			break;
		}
	if (st->buf.nevents > 0)
		st->last_id = st->buf.events[st->buf.nevents - 1].aux;
	if (st->inorder)
		journey_recount(st);
	st->compact_at = Max(st->compact_at, 2 * st->buf.nevents);
	MemoryContextSwitchTo(oldcxt);
	PG_RETURN_POINTER(st);
}

/*
 * The path: indexes of the first record of each of its runs, in order.
 * Returns the number of runs (0 when an anchor never occurs).  Sorts the
 * records in place; that does not change the state's meaning.
 */
static int
journey_runs(JourneyState *st, int64 *first)
{
	const AvEvent *ev;
	int64		n;
	int64		lo,
				hi,
				i;
	int			k = 0;

	journey_sort(st);
	ev = st->buf.events;
	n = st->buf.nevents;
	if (n == 0)
		return 0;

	if (st->mode == JOURNEY_TO)
	{
		int			total = 0;

		hi = journey_last_anchor(st);
		if (hi < 0)
			return 0;
		lo = journey_backward_cut(ev, hi, st->max_steps);
		/* runs in [lo, hi]; start of each */
		for (i = lo; i <= hi; i++)
			if (i == lo || ev[i].aux != ev[i - 1].aux)
				first[total++] = i;
		/* the first run may continue before lo only if lo == 0: fine */
		return total;
	}

	lo = 0;
	if (st->mode == JOURNEY_FROM)
	{
		lo = journey_first_anchor(st);
		if (lo < 0)
			return 0;
	}
	for (i = lo; i < n && k <= st->max_steps; i++)
		if (i == lo || ev[i].aux != ev[i - 1].aux)
		{
			if (k == st->max_steps)
				break;
			first[k++] = i;
		}
	return k;
}

Datum
apivalue_journey_path_final(PG_FUNCTION_ARGS)
{
	JourneyState *st;
	int64	   *first;
	int			k,
				i;
	Datum	   *elems;
	ArrayType  *arr;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (JourneyState *) PG_GETARG_POINTER(0);
	first = palloc(sizeof(int64) * (st->max_steps + 1));
	k = journey_runs(st, first);
	if (k == 0)
		PG_RETURN_NULL();
	elems = palloc(sizeof(Datum) * k);
	for (i = 0; i < k; i++)
	{
		uint32		len;
		const char *s = strpool_get(&st->pool, st->buf.events[first[i]].aux, &len);

		elems[i] = PointerGetDatum(cstring_to_text_with_len(s, (int) len));
	}
	arr = construct_array(elems, k, TEXTOID, -1, false, TYPALIGN_INT);
	PG_RETURN_ARRAYTYPE_P(arr);
}

/*
 * The time each step of the path started (its run's first record), as
 * timestamptz[] or timestamp[] -- whatever the aggregate is declared to
 * return; the element type is looked up once per query.
 */
Datum
apivalue_journey_path_times_final(PG_FUNCTION_ARGS)
{
	JourneyState *st;
	int64	   *first;
	int			k,
				i;
	Datum	   *elems;
	Oid			elemtype;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (fcinfo->flinfo->fn_extra == NULL)
	{
		Oid			rettype = get_fn_expr_rettype(fcinfo->flinfo);
		Oid			et = OidIsValid(rettype) ? get_element_type(rettype) : InvalidOid;

		if (et != TIMESTAMPTZOID && et != TIMESTAMPOID)
			elog(ERROR, "journey_path_times must return timestamptz[] or timestamp[]");
		fcinfo->flinfo->fn_extra =
			MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(Oid));
		*(Oid *) fcinfo->flinfo->fn_extra = et;
	}
	elemtype = *(Oid *) fcinfo->flinfo->fn_extra;

	st = (JourneyState *) PG_GETARG_POINTER(0);
	first = palloc(sizeof(int64) * (st->max_steps + 1));
	k = journey_runs(st, first);
	if (k == 0)
		PG_RETURN_NULL();
	elems = palloc(sizeof(Datum) * k);
	for (i = 0; i < k; i++)
		elems[i] = Int64GetDatum(st->buf.events[first[i]].ts);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, k, elemtype, 8,
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * path_transitions(path text[]) -> setof (depth int, from_step text,
 * to_step text): one row per pair of neighbouring elements, depth counting
 * from 1 at the first pair.  NULL elements are passed through.
 */
typedef struct TransitionsCtx
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
} TransitionsCtx;

Datum
apivalue_path_transitions(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	TransitionsCtx *ctx;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext oldcxt;
		ArrayType  *arr;
		TupleDesc	tupdesc;

		funcctx = SRF_FIRSTCALL_INIT();
		oldcxt = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "path_transitions must return a composite type");
		funcctx->tuple_desc = BlessTupleDesc(tupdesc);
		arr = PG_GETARG_ARRAYTYPE_P_COPY(0);
		if (ARR_NDIM(arr) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("path must be a one-dimensional array, not %d-dimensional",
							ARR_NDIM(arr))));
		ctx = palloc0(sizeof(TransitionsCtx));
		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
						  &ctx->elems, &ctx->nulls, &ctx->n);
		funcctx->user_fctx = ctx;
		funcctx->max_calls = ctx->n > 1 ? ctx->n - 1 : 0;
		MemoryContextSwitchTo(oldcxt);
	}
	funcctx = SRF_PERCALL_SETUP();
	ctx = (TransitionsCtx *) funcctx->user_fctx;
	if (funcctx->call_cntr < funcctx->max_calls)
	{
		int			i = (int) funcctx->call_cntr;
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = Int32GetDatum(i + 1);
		values[1] = ctx->elems[i];
		nulls[1] = ctx->nulls[i];
		values[2] = ctx->elems[i + 1];
		nulls[2] = ctx->nulls[i + 1];
		SRF_RETURN_NEXT(funcctx,
						HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc,
														  values, nulls)));
	}
	SRF_RETURN_DONE(funcctx);
}
