/*-------------------------------------------------------------------------
 *
 * ttfv.c
 *	  time_to_first_value(ts, is_start, is_value [, within]) aggregate.
 *
 * The answer is  min{v in V : v >= s} - s  with  s = min S, where S are the
 * times of start events and V those of value events.  Rows arrive in any
 * order and partial states merge in any order, so while s is still
 * unknown a value event below the current minimum start may matter later:
 * an earlier start may yet arrive.  The state therefore keeps
 *
 *	 start	   the least start time seen so far,
 *	 best	   the least value time seen that was >= start when it arrived
 *			   (start only decreases, so best stays >= start),
 *	 pending   value times that were < start (or came before any start).
 *
 * At the end the answer is min(best, min{p in pending : p >= start}) -
 * start.  That is exact whatever the order.  pending is compacted whenever
 * it would grow: times that are now >= start fold into best.
 *
 * Memory: no exact summary of bounded size exists for arbitrary order and
 * merging (for every possible earlier start, the state must answer "least
 * value time >= that start", which needs every distinct value time below
 * the current start).  So pending holds, per group, the value events that
 * arrived before an earlier-or-equal start had been seen: none when a
 * group's rows arrive in time order and its first event is a start, and in
 * general only the value events that precede the user's first start.
 * Duplicate times are kept once.
 *
 * src/ttfv.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(apivalue_time_to_first_value_accum);
PG_FUNCTION_INFO_V1(apivalue_time_to_first_value_combine);
PG_FUNCTION_INFO_V1(apivalue_time_to_first_value_serialize);
PG_FUNCTION_INFO_V1(apivalue_time_to_first_value_deserialize);
PG_FUNCTION_INFO_V1(apivalue_time_to_first_value_final);

#define TTFV_VERSION	1

typedef struct TtfvState
{
	bool		has_start;
	bool		has_best;
	bool		has_within;
	TimestampTz start;
	TimestampTz best;
	Interval	within;
	int32		npending;
	int32		cap;
	TimestampTz *pending;
} TtfvState;

static TtfvState *
ttfv_new(MemoryContext aggcxt)
{
	TtfvState  *st = MemoryContextAllocZero(aggcxt, sizeof(TtfvState));

	return st;
}

/*
 * Fold pending times that are now >= start into best, and drop duplicates
 * of the largest remaining ones cheaply (exact duplicates are common:
 * several value events in the same instant).
 */
static void
ttfv_compact(TtfvState *st)
{
	int32		j = 0;

	if (!st->has_start)
		return;
	for (int32 i = 0; i < st->npending; i++)
	{
		TimestampTz p = st->pending[i];

		if (p >= st->start)
		{
			if (!st->has_best || p < st->best)
				st->best = p;
			st->has_best = true;
		}
		else
			st->pending[j++] = p;
	}
	st->npending = j;
}

/*
 * The least value time >= start, counting pending times; false when none
 * (or no start).  Does not modify the state.
 */
static bool
ttfv_best(TtfvState *st, TimestampTz *best)
{
	bool		found = st->has_best;

	if (!st->has_start)
		return false;
	*best = st->best;
	for (int32 i = 0; i < st->npending; i++)
		if (st->pending[i] >= st->start && (!found || st->pending[i] < *best))
		{
			*best = st->pending[i];
			found = true;
		}
	return found;
}

static int
ts_cmp(const void *a, const void *b)
{
	TimestampTz x = *(const TimestampTz *) a;
	TimestampTz y = *(const TimestampTz *) b;

	return (x > y) - (x < y);
}

static void
ttfv_add_pending(TtfvState *st, MemoryContext aggcxt, TimestampTz v)
{
	if (st->npending > 0 && st->pending[st->npending - 1] == v)
		return;
	if (st->npending >= st->cap)
	{
		ttfv_compact(st);
		/* Still more than half full: remove duplicates before growing. */
		if (st->npending > st->cap / 2 && st->npending > 1)
		{
			int32		j = 1;

			qsort(st->pending, st->npending, sizeof(TimestampTz), ts_cmp);
			for (int32 i = 1; i < st->npending; i++)
				if (st->pending[i] != st->pending[j - 1])
					st->pending[j++] = st->pending[i];
			st->npending = j;
		}
		if (st->npending > st->cap / 2 || st->cap == 0)
		{
			int32		newcap = st->cap == 0 ? 8 : st->cap * 2;

			if ((Size) newcap * sizeof(TimestampTz) > MaxAllocSize)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("time_to_first_value: too many value events before the first start in one group")));
			if (st->pending == NULL)
				st->pending = MemoryContextAlloc(aggcxt, newcap * sizeof(TimestampTz));
			else
				st->pending = repalloc(st->pending, newcap * sizeof(TimestampTz));
			st->cap = newcap;
		}
	}
	st->pending[st->npending++] = v;
}

static void
ttfv_set_within(TtfvState *st, Interval *within)
{
	if (within->month < 0 || within->day < 0 || within->time < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("within must not be negative"),
				 errhint("Pass NULL for no limit.")));
	if (!st->has_within)
	{
		st->within = *within;
		st->has_within = true;
	}
	else if (memcmp(&st->within, within, sizeof(Interval)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("within must be the same for every row of a group")));
}

static void
ttfv_add_start(TtfvState *st, TimestampTz s)
{
	if (!st->has_start || s < st->start)
	{
		st->start = s;
		st->has_start = true;
	}
}

static void
ttfv_add_value(TtfvState *st, MemoryContext aggcxt, TimestampTz v)
{
	if (st->has_start && v >= st->start)
	{
		if (!st->has_best || v < st->best)
			st->best = v;
		st->has_best = true;
	}
	else
		ttfv_add_pending(st, aggcxt, v);
}

/*
 * time_to_first_value_accum(state, ts, is_start, is_value [, within])
 */
Datum
apivalue_time_to_first_value_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	TtfvState  *st;
	TimestampTz ts;
	bool		is_start,
				is_value;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("time_to_first_value_accum called in non-aggregate context")));

	st = PG_ARGISNULL(0) ? NULL : (TtfvState *) PG_GETARG_POINTER(0);
	if (st == NULL)
		st = ttfv_new(aggcxt);

	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
		ttfv_set_within(st, PG_GETARG_INTERVAL_P(4));

	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(st);
	is_start = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	is_value = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	if (!is_start && !is_value)
		PG_RETURN_POINTER(st);

	ts = PG_GETARG_TIMESTAMPTZ(1);
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("time_to_first_value: timestamp must be finite")));

	if (is_start)
		ttfv_add_start(st, ts);
	if (is_value)
		ttfv_add_value(st, aggcxt, ts);
	PG_RETURN_POINTER(st);
}

Datum
apivalue_time_to_first_value_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	TtfvState  *a,
			   *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("time_to_first_value_combine called in non-aggregate context")));
	a = PG_ARGISNULL(0) ? NULL : (TtfvState *) PG_GETARG_POINTER(0);
	b = PG_ARGISNULL(1) ? NULL : (TtfvState *) PG_GETARG_POINTER(1);
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
		a = ttfv_new(aggcxt);

	if (b->has_within)
		ttfv_set_within(a, &b->within);
	if (b->has_start)
		ttfv_add_start(a, b->start);
	/* b's best is >= b's start >= the merged start: still a candidate. */
	if (b->has_best)
	{
		if (!a->has_best || b->best < a->best)
			a->best = b->best;
		a->has_best = true;
	}
	for (int32 i = 0; i < b->npending; i++)
		ttfv_add_value(a, aggcxt, b->pending[i]);
	PG_RETURN_POINTER(a);
}

/*
 * Serialized form: version byte, flags byte, start, best, within, count,
 * pending times.
 */
Datum
apivalue_time_to_first_value_serialize(PG_FUNCTION_ARGS)
{
	TtfvState  *st = (TtfvState *) PG_GETARG_POINTER(0);
	StringInfoData buf;
	bool		has_best;
	TimestampTz best;
	int32		keep = 0;

	/* What compaction would do, without touching the state. */
	has_best = ttfv_best(st, &best);
	for (int32 i = 0; i < st->npending; i++)
		if (!st->has_start || st->pending[i] < st->start)
			keep++;
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, TTFV_VERSION);
	pq_sendbyte(&buf, (st->has_start ? 1 : 0) | (has_best ? 2 : 0) |
				(st->has_within ? 4 : 0));
	pq_sendint64(&buf, st->start);
	pq_sendint64(&buf, has_best ? best : 0);
	pq_sendint64(&buf, st->within.time);
	pq_sendint32(&buf, st->within.day);
	pq_sendint32(&buf, st->within.month);
	pq_sendint32(&buf, keep);
	for (int32 i = 0; i < st->npending; i++)
		if (!st->has_start || st->pending[i] < st->start)
			pq_sendint64(&buf, st->pending[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Datum
apivalue_time_to_first_value_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggcxt;
	StringInfoData buf;
	TtfvState  *st;
	int			flags;
	int32		n;
	Size		header = 2 + 8 + 8 + 8 + 4 + 4 + 4;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("time_to_first_value_deserialize called in non-aggregate context")));
	if (VARSIZE_ANY_EXHDR(data) < header)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("time_to_first_value: truncated state")));
	buf.data = VARDATA_ANY(data);
	buf.len = VARSIZE_ANY_EXHDR(data);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	if (pq_getmsgbyte(&buf) != TTFV_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("time_to_first_value: unknown state version")));
	st = ttfv_new(aggcxt);
	flags = pq_getmsgbyte(&buf);
	st->has_start = (flags & 1) != 0;
	st->has_best = (flags & 2) != 0;
	st->has_within = (flags & 4) != 0;
	st->start = pq_getmsgint64(&buf);
	st->best = pq_getmsgint64(&buf);
	st->within.time = pq_getmsgint64(&buf);
	st->within.day = pq_getmsgint(&buf, 4);
	st->within.month = pq_getmsgint(&buf, 4);
	n = pq_getmsgint(&buf, 4);
	if (n < 0 || (Size) n != (buf.len - buf.cursor) / sizeof(int64) ||
		(buf.len - buf.cursor) % sizeof(int64) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("time_to_first_value: corrupt state")));
	if (n > 0)
	{
		st->cap = n;
		st->pending = MemoryContextAlloc(aggcxt, n * sizeof(TimestampTz));
		for (int32 i = 0; i < n; i++)
			st->pending[i] = pq_getmsgint64(&buf);
		st->npending = n;
	}
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(st);
}

/*
 * The interval is start-to-value as timestamptz subtraction gives it
 * (hours justified into days), so it equals the plain-SQL "v - s".  The
 * within limit is compared as intervals are (a day is 24 hours, a month
 * 30 days).
 */
Datum
apivalue_time_to_first_value_final(PG_FUNCTION_ARGS)
{
	TtfvState  *st;
	Datum		result;
	TimestampTz best;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (TtfvState *) PG_GETARG_POINTER(0);
	if (!ttfv_best(st, &best))
		PG_RETURN_NULL();
	result = DirectFunctionCall2(timestamp_mi,
								 TimestampTzGetDatum(best),
								 TimestampTzGetDatum(st->start));
	if (st->has_within &&
		DatumGetBool(DirectFunctionCall2(interval_gt, result,
										 IntervalPGetDatum(&st->within))))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}
