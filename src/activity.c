/*-------------------------------------------------------------------------
 *
 * activity.c
 *	  Per-user aggregates behind retention matrices.
 *
 * retention_activity(ts, is_cohort, is_active, periods, period, time_zone
 * [, locale]) → int[] of periods + 1 elements, 0 or 1: element k + 1 tells
 * whether the user had an active event in the k-th period after the period
 * of their first cohort event (k = 0 is the cohort period itself).
 * sum_arrays over users of a cohort then gives the retention matrix row, in
 * one GROUP BY.
 *
 * The state is a bytea (a concrete type, so Citus and parallel workers
 * merge it as a plain value): the first cohort time seen so far with its
 * period number, and a bitmap of the period numbers with activity.  The
 * cohort can only move earlier, so activity more than `periods` periods
 * after the current cohort period is never needed and is not stored;
 * activity before it is kept (an earlier cohort event may still arrive).
 * The bitmap covers the user's span of active periods, 64 per word.
 * _retention_user(...) shares the state and also tracks the latest period
 * of any row, so cohort_retention needs one aggregate per user; its final
 * function returns {cohort period, latest period, flags...} as bigint[],
 * and _retention_counts(that, mode, brackets) turns it into the user's row
 * of the matrix, {1, then 1 or 0 per period or bracket}, for sum_arrays.
 * A row's period number comes from a per-call-site table of period
 * boundaries (PeriodTable below) rather than from ICU.
 *
 * value_at_first(ts, cond, value) → text: the value on the earliest row
 * where cond holds (ties: the smallest value in byte order) — a user's
 * segment at their cohort event.  State: bytea.
 *
 * retention_by_mode(activity int[], mode, brackets) turns one user's
 * activity array into what the retention mode counts, so that sum_arrays
 * gives the matrix for that mode.
 *
 * src/activity.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "calendar.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/primnodes.h"
#include "port/pg_bitutils.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/rangetypes.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(apivalue_retention_activity_accum);
PG_FUNCTION_INFO_V1(apivalue_retention_activity_combine);
PG_FUNCTION_INFO_V1(apivalue_retention_activity_final);
PG_FUNCTION_INFO_V1(apivalue_retention_user_accum);
PG_FUNCTION_INFO_V1(apivalue_retention_user_final);
PG_FUNCTION_INFO_V1(apivalue_value_at_first_accum);
PG_FUNCTION_INFO_V1(apivalue_value_at_first_combine);
PG_FUNCTION_INFO_V1(apivalue_value_at_first_final);
PG_FUNCTION_INFO_V1(apivalue_retention_by_mode);
PG_FUNCTION_INFO_V1(apivalue_retention_counts);

#define ACTIVITY_VERSION	1
#define MAX_PERIODS			100000

typedef struct ActivityState
{
	int32		vl_len_;		/* varlena header */
	uint8		version;
	uint8		has_cohort;
	uint8		has_last;		/* retention_user only: last_idx is set */
	uint8		unused;
	int32		periods;
	uint32		calhash;
	int32		nwords;
	int64		cohort_ts;
	int64		cohort_idx;
	int64		last_idx;		/* period of the latest row of any kind */
	int64		base;			/* period number of bit 0; a multiple of 64 */
	uint64		bits[FLEXIBLE_ARRAY_MEMBER];
} ActivityState;

#define ACTIVITY_SIZE(nwords) (offsetof(ActivityState, bits) + (Size) (nwords) * sizeof(uint64))

static inline int64
floor64(int64 x)
{
	return x >= 0 ? x - x % 64 : x - (64 + x % 64) % 64;
}

static ActivityState *
activity_new(int32 periods, uint32 calhash, int64 base, int32 nwords)
{
	ActivityState *st = palloc0(ACTIVITY_SIZE(nwords));

	SET_VARSIZE(st, ACTIVITY_SIZE(nwords));
	st->version = ACTIVITY_VERSION;
	st->periods = periods;
	st->calhash = calhash;
	st->base = base;
	st->nwords = nwords;
	return st;
}

/*
 * Check a state read from a Datum: version, and size against its count.
 * Returns an aligned copy when the datum is not our own plain state.
 */
static ActivityState *
activity_check(Datum d, bool *own)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);
	ActivityState *st;

	*own = !VARATT_IS_EXTENDED(v) && (((uintptr_t) v) % MAXIMUM_ALIGNOF == 0);
	if (*own)
		st = (ActivityState *) v;
	else
		st = (ActivityState *) pg_detoast_datum_copy(v);	/* palloc'd: aligned */
	if (VARSIZE(st) < offsetof(ActivityState, bits) ||
		st->version != ACTIVITY_VERSION ||
		st->nwords < 0 ||
		VARSIZE(st) != ACTIVITY_SIZE(st->nwords))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("retention_activity: corrupt or foreign state")));
	return st;
}

/*
 * Read-only view of a state read from a Datum, without copying it when it
 * is stored inline (a partial state from a parallel worker arrives with a
 * short varlena header, unaligned): the fixed part is copied into *hdr
 * (its bits member is not filled) and a pointer to the bitmap's bytes is
 * returned, to be read with memcpy.  Same checks as activity_check.
 */
static const char *
activity_view(Datum d, ActivityState *hdr)
{
	struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d));
	const char *data = VARDATA_ANY(v);
	Size		len = VARSIZE_ANY_EXHDR(v) + VARHDRSZ;
	Size		fixed = offsetof(ActivityState, bits) - VARHDRSZ;

	if (len < offsetof(ActivityState, bits))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("retention_activity: corrupt or foreign state")));
	memcpy((char *) hdr + VARHDRSZ, data, fixed);
	SET_VARSIZE(hdr, len);
	if (hdr->version != ACTIVITY_VERSION ||
		hdr->nwords < 0 ||
		len != ACTIVITY_SIZE(hdr->nwords))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("retention_activity: corrupt or foreign state")));
	return data + fixed;
}

/*
 * Make sure bit idx is inside the bitmap; returns the (possibly new) state.
 * Growth doubles the covered range so that a user's span costs O(log n)
 * copies.
 */
static ActivityState *
activity_cover(ActivityState *st, int64 idx)
{
	int64		lo,
				hi,
				oldhi;
	ActivityState *grown;
	int32		nwords;

	if (st->nwords > 0 && idx >= st->base && idx < st->base + 64 * (int64) st->nwords)
		return st;
	if (st->nwords == 0)
	{
		lo = floor64(idx);
		hi = lo + 64;
	}
	else
	{
		int64		want;

		oldhi = st->base + 64 * (int64) st->nwords;
		lo = Min(st->base, floor64(idx));
		hi = Max(oldhi, floor64(idx) + 64);
		want = Max(2 * (int64) st->nwords, (hi - lo) / 64);
		if (idx < st->base)
			lo = Min(lo, hi - 64 * want);
		else
			hi = Max(hi, lo + 64 * want);
	}
	if ((hi - lo) / 64 > (int64) (MaxAllocSize / sizeof(uint64) / 2))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("retention_activity: activity spans too many periods")));
	nwords = (int32) ((hi - lo) / 64);
	grown = activity_new(st->periods, st->calhash, lo, nwords);
	grown->has_cohort = st->has_cohort;
	grown->cohort_ts = st->cohort_ts;
	grown->cohort_idx = st->cohort_idx;
	grown->has_last = st->has_last;
	grown->last_idx = st->last_idx;
	if (st->nwords > 0)
		memcpy(&grown->bits[(st->base - lo) / 64], st->bits, st->nwords * sizeof(uint64));
	return grown;
}

/*
 * Period boundaries seen so far at one call site, so that a row's period
 * number costs a binary search instead of ICU calls (rows of one user are
 * weeks apart, so the calendar's one-period cache misses at every change of
 * period or user).  starts[i] is the first instant of period first + i, for
 * i = 0..n; starts[n] ends the last period.  The table grows to cover the
 * periods rows fall in, up to PT_MAX_PERIODS consecutive periods between
 * 1800 and 2300 (a row further away starts a new table; rows outside those
 * years take the calendar's own path).  Each new period is checked against
 * the calendar (its start, and the instant before the next period's start,
 * must both lie in it); a calendar whose periods fail the check (hours in a
 * zone with half-hour shifts) is never tabled.
 */
#define PT_MAX_PERIODS	8192

typedef struct PeriodTable
{
	bool		disabled;		/* the calendar failed the check: never table */
	int			n;				/* periods covered */
	int			cap;			/* entries allocated in starts */
	int			hit;			/* position of the latest hit */
	int64		first;			/* period number of starts[0] */
	TimestampTz low;			/* instants tabled: [low, high) */
	TimestampTz high;
	TimestampTz *starts;
} PeriodTable;

/* Position of ts in a non-empty table, -1 outside it. */
static inline int
period_table_find(PeriodTable *t, TimestampTz ts)
{
	int			lo = t->hit,
				hi;

	if (ts >= t->starts[lo] && ts < t->starts[lo + 1])
		return lo;
	if (ts < t->starts[0] || ts >= t->starts[t->n])
		return -1;
	lo = 0;
	hi = t->n;
	while (hi - lo > 1)
	{
		int			mid = (lo + hi) / 2;

		if (t->starts[mid] <= ts)
			lo = mid;
		else
			hi = mid;
	}
	t->hit = lo;
	return lo;
}

/* Is [start, end) exactly what the calendar calls period idx? */
static bool
period_checks(PeriodCalendar *pc, int64 idx, TimestampTz start, TimestampTz end)
{
	int64		got;

	if (end <= start)
		return false;
	if (period_calendar_locate(pc, start, &got) != start || got != idx)
		return false;
	(void) period_calendar_locate(pc, end - 1, &got);
	return got == idx;
}

/*
 * Extend the table to cover period idx (just located by the calendar),
 * or start it again from idx when idx is too far from it.  Leaves it as it
 * was for idx out of the tabled years; disables it when the calendar fails
 * the check.
 */
static void
period_table_add(PeriodTable *t, PeriodCalendar *pc, MemoryContext mcxt,
				 int64 idx, TimestampTz start)
{
	int64		lo,
				hi,
				oldlo,
				oldhi;
	int			n;
	TimestampTz *starts;

	if (t->disabled)
		return;
	if (t->high == 0)
	{
		t->low = (TimestampTz) (date2j(1800, 1, 1) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;
		t->high = (TimestampTz) (date2j(2300, 1, 1) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;
	}
	if (start < t->low || start >= t->high)
		return;
	if (t->n == 0)
	{
		oldlo = idx;
		oldhi = idx - 1;		/* nothing covered yet */
	}
	else
	{
		oldlo = t->first;
		oldhi = t->first + t->n - 1;
	}
	lo = Min(oldlo, idx);
	hi = Max(oldhi, idx);
	if (hi - lo + 1 > PT_MAX_PERIODS)
	{
		/* too far from the table: start again from idx */
		t->n = 0;
		lo = hi = oldlo = idx;
		oldhi = idx - 1;
	}
	n = (int) (hi - lo + 1);

	if (n + 1 > t->cap || lo < oldlo)
	{
		int			cap = Max(t->cap, 16);

		while (cap < n + 1)
			cap *= 2;
		starts = MemoryContextAlloc(mcxt, cap * sizeof(TimestampTz));
		if (t->n > 0)
			memcpy(&starts[oldlo - lo], t->starts, (t->n + 1) * sizeof(TimestampTz));
		if (t->starts)
			pfree(t->starts);
		t->starts = starts;
		t->cap = cap;
	}
	starts = t->starts;

	/* New boundaries: below the old range, then above it. */
	for (int64 k = lo; k < oldlo; k++)
		starts[k - lo] = period_calendar_index_start(pc, k);
	if (t->n == 0)
		starts[0] = period_calendar_index_start(pc, lo);
	for (int64 k = Max(oldhi + 1, lo); k <= hi; k++)
		starts[k - lo + 1] = period_calendar_index_start(pc, k + 1);

	for (int64 k = lo; k <= hi; k++)
	{
		if (k >= oldlo && k <= oldhi)
			continue;
		if (!period_checks(pc, k, starts[k - lo], starts[k - lo + 1]))
		{
			t->disabled = true;
			t->n = 0;
			return;
		}
	}
	t->first = lo;
	t->n = n;
	t->hit = (int) (idx - lo);
}

/*
 * Per call site: the calendar cache, and whether periods, period, time zone
 * and locale are constant for the whole scan (constants, or parameters of
 * the statement); then they are read once, not per row, and period numbers
 * come from the boundary table.
 */
typedef struct ActivityCall
{
	void	   *cal_cache;
	MemoryContext mcxt;			/* fn_mcxt: where the table lives */
	int			consts;			/* 0 unknown, 1 all constant, 2 not */
	PeriodCalendar *pc;
	uint32		calhash;
	int32		periods;
	PeriodTable table;
} ActivityCall;

static bool
aggref_args_const(FunctionCallInfo fcinfo, int from, int to)
{
	Aggref	   *aggref = AggGetAggref(fcinfo);

	if (aggref == NULL || list_length(aggref->args) < to)
		return false;
	for (int i = from; i < to; i++)
	{
		TargetEntry *tle = (TargetEntry *) list_nth(aggref->args, i);

		/*
		 * A parameter of the statement keeps its value for the whole
		 * execution (executor-internal parameters may not, across rescans).
		 */
		if (!IsA(tle->expr, Const) &&
			!(IsA(tle->expr, Param) && ((Param *) tle->expr)->paramkind == PARAM_EXTERN))
			return false;
	}
	return true;
}

/* Period number of ts: from the table when the calendar is constant. */
static inline int64
activity_period(ActivityCall *call, PeriodCalendar *pc, TimestampTz ts)
{
	PeriodTable *t = &call->table;
	int64		idx;
	TimestampTz start;
	int			pos;

	if (call->consts != 1)
	{
		(void) period_calendar_locate(pc, ts, &idx);
		return idx;
	}
	if (t->n > 0 && (pos = period_table_find(t, ts)) >= 0)
		return t->first + pos;
	start = period_calendar_locate(pc, ts, &idx);
	period_table_add(t, pc, call->mcxt, idx, start);
	return idx;
}

static inline bool
activity_needed(ActivityState *st, int64 idx)
{
	return !st->has_cohort || idx <= st->cohort_idx + st->periods;
}

/*
 * retention_activity_accum(state bytea, ts, is_cohort, is_active, periods,
 *							 period, time_zone [, locale])
 */
static Datum
retention_activity_accum(FunctionCallInfo fcinfo, bool track_last)
{
	ActivityState *st = NULL;
	bool		own = true;
	bool		is_cohort,
				is_active;
	int32		periods;
	uint32		calhash;
	PeriodCalendar *pc;
	ActivityCall *call;
	TimestampTz ts;
	int64		idx;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("retention_activity_accum called in non-aggregate context")));
	if (!PG_ARGISNULL(0))
		st = activity_check(PG_GETARG_DATUM(0), &own);

	is_cohort = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	is_active = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	if (PG_ARGISNULL(1) || (!is_cohort && !is_active && !track_last))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	call = (ActivityCall *) fcinfo->flinfo->fn_extra;
	if (call == NULL)
	{
		call = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ActivityCall));
		call->mcxt = fcinfo->flinfo->fn_mcxt;
		fcinfo->flinfo->fn_extra = call;
	}
	if (call->consts == 1)
	{
		pc = call->pc;
		periods = call->periods;
		calhash = call->calhash;
	}
	else
	{
		if (PG_ARGISNULL(4) || PG_ARGISNULL(5) || PG_ARGISNULL(6))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("retention_activity: periods, period and time_zone must not be NULL")));
		periods = PG_GETARG_INT32(4);
		if (periods < 0 || periods > MAX_PERIODS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("retention_activity: periods must be between 0 and %d, got %d",
							MAX_PERIODS, periods)));
		pc = period_calendar_get(&call->cal_cache, fcinfo->flinfo->fn_mcxt,
								 PG_GETARG_TEXT_PP(5), PG_GETARG_TEXT_PP(6),
								 (PG_NARGS() > 7 && !PG_ARGISNULL(7)) ? PG_GETARG_TEXT_PP(7) : NULL);
		if (call->consts == 0)
			call->consts = aggref_args_const(fcinfo, 3, PG_NARGS() - 1) ? 1 : 2;
		calhash = period_calendar_hash(pc);
		call->pc = pc;
		call->periods = periods;
		call->calhash = calhash;
	}
	ts = PG_GETARG_TIMESTAMPTZ(1);
	idx = activity_period(call, pc, ts);

	if (st == NULL)
		st = activity_new(periods, calhash, 0, 0);
	else if (st->periods != periods || st->calhash != calhash)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retention_activity: periods, period, time_zone and locale must be the same for every row of a group")));

	if (track_last && (!st->has_last || idx > st->last_idx))
	{
		st->has_last = true;
		st->last_idx = idx;
	}
	if (is_cohort && (!st->has_cohort || ts < st->cohort_ts))
	{
		st->has_cohort = true;
		st->cohort_ts = ts;
		st->cohort_idx = idx;
	}
	if (is_active && activity_needed(st, idx))
	{
		if (st->nwords == 0 || idx < st->base || idx >= st->base + 64 * (int64) st->nwords)
			st = activity_cover(st, idx);
		st->bits[(idx - st->base) / 64] |= UINT64CONST(1) << ((idx - st->base) % 64);
	}
	PG_RETURN_POINTER(st);
}

/*
 * retention_activity_accum(state bytea, ts, is_cohort, is_active, periods,
 *							 period, time_zone [, locale])
 */
Datum
apivalue_retention_activity_accum(PG_FUNCTION_ARGS)
{
	return retention_activity_accum(fcinfo, false);
}

/*
 * _retention_user_accum: the same, also tracking the period of the latest
 * row of any kind (for cohort_retention's "periods begun so far").
 */
Datum
apivalue_retention_user_accum(PG_FUNCTION_ARGS)
{
	return retention_activity_accum(fcinfo, true);
}

Datum
apivalue_retention_activity_combine(PG_FUNCTION_ARGS)
{
	ActivityState *a = NULL,
			   *b,
				bhdr;
	const char *bbits;
	bool		own;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("retention_activity_combine called in non-aggregate context")));
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0))
	{
		b = activity_check(PG_GETARG_DATUM(1), &own);
		PG_RETURN_POINTER(b);	/* nodeAgg copies it into its context */
	}
	/* b is only read: no copy of it per row */
	bbits = activity_view(PG_GETARG_DATUM(1), &bhdr);
	b = &bhdr;
	a = activity_check(PG_GETARG_DATUM(0), &own);
	if (a->periods != b->periods || a->calhash != b->calhash)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retention_activity: cannot merge states of different periods, time zones or locales")));
	if (b->has_last && (!a->has_last || b->last_idx > a->last_idx))
	{
		a->has_last = true;
		a->last_idx = b->last_idx;
	}
	if (b->has_cohort && (!a->has_cohort || b->cohort_ts < a->cohort_ts))
	{
		a->has_cohort = true;
		a->cohort_ts = b->cohort_ts;
		a->cohort_idx = b->cohort_idx;
	}
	for (int32 w = 0; w < b->nwords; w++)
	{
		uint64		word;

		memcpy(&word, bbits + (Size) w * sizeof(uint64), sizeof(uint64));

		while (word)
		{
			int			bit = pg_rightmost_one_pos64(word);
			int64		idx = b->base + 64 * (int64) w + bit;

			word &= word - 1;
			if (activity_needed(a, idx))
			{
				a = activity_cover(a, idx);
				a->bits[(idx - a->base) / 64] |= UINT64CONST(1) << ((idx - a->base) % 64);
			}
		}
	}
	PG_RETURN_POINTER(a);
}

/* Is period idx marked active in the state? */
static inline bool
activity_bit(ActivityState *st, int64 idx)
{
	return idx >= st->base && idx < st->base + 64 * (int64) st->nwords &&
		((st->bits[(idx - st->base) / 64] >> ((idx - st->base) % 64)) & 1);
}

/* A one-dimensional array of n elements of a fixed-size type, no NULLs. */
static ArrayType *
new_flat_array(Oid elemtype, int elemsize, int n)
{
	Size		size = ARR_OVERHEAD_NONULLS(1) + (Size) n * elemsize;
	ArrayType  *a = (ArrayType *) palloc0(size);

	SET_VARSIZE(a, size);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = elemtype;
	ARR_DIMS(a)[0] = n;
	ARR_LBOUND(a)[0] = 1;
	return a;
}

Datum
apivalue_retention_activity_final(PG_FUNCTION_ARGS)
{
	ActivityState *st;
	bool		own;
	ArrayType  *result;
	int32	   *flags;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = activity_check(PG_GETARG_DATUM(0), &own);
	if (!st->has_cohort)
		PG_RETURN_NULL();
	result = new_flat_array(INT4OID, sizeof(int32), st->periods + 1);
	flags = (int32 *) ARR_DATA_PTR(result);
	for (int32 k = 0; k <= st->periods; k++)
		flags[k] = activity_bit(st, st->cohort_idx + k) ? 1 : 0;
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * _retention_user_final → bigint[]: {cohort period index (NULL without a
 * cohort event), latest period index, flag for period 0, ..., flag for
 * period "periods"}.
 */
Datum
apivalue_retention_user_final(PG_FUNCTION_ARGS)
{
	ActivityState *st;
	bool		own;
	Datum	   *elems;
	bool	   *nulls;
	int			dims[1];
	int			lbs[1] = {1};

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = activity_check(PG_GETARG_DATUM(0), &own);
	if (!st->has_last)
		PG_RETURN_NULL();
	if (st->has_cohort)
	{
		/* the common case, built in place */
		ArrayType  *result = new_flat_array(INT8OID, sizeof(int64), st->periods + 3);
		int64	   *v = (int64 *) ARR_DATA_PTR(result);

		v[0] = st->cohort_idx;
		v[1] = st->last_idx;
		for (int32 k = 0; k <= st->periods; k++)
			v[k + 2] = activity_bit(st, st->cohort_idx + k) ? 1 : 0;
		PG_RETURN_ARRAYTYPE_P(result);
	}
	dims[0] = st->periods + 3;
	elems = palloc0(dims[0] * sizeof(Datum));
	nulls = palloc0(dims[0] * sizeof(bool));
	nulls[0] = true;
	elems[1] = Int64GetDatum(st->last_idx);
	for (int32 k = 0; k <= st->periods; k++)
		elems[k + 2] = Int64GetDatum(0);
	PG_RETURN_ARRAYTYPE_P(construct_md_array(elems, nulls, 1, dims, lbs, INT8OID,
											 sizeof(int64), true, TYPALIGN_DOUBLE));
}

/* ---------------------------------------------------------------------- */

typedef struct FirstValueState
{
	int32		vl_len_;
	uint8		version;
	uint8		is_null;
	uint16		unused;
	int64		ts;
	char		value[FLEXIBLE_ARRAY_MEMBER];
} FirstValueState;

#define FIRST_HDR	offsetof(FirstValueState, value)

static FirstValueState *
first_check(Datum d)
{
	FirstValueState *st = (FirstValueState *) PG_DETOAST_DATUM(d);

	if ((((uintptr_t) st) % MAXIMUM_ALIGNOF) != 0)
	{
		FirstValueState *copy = palloc(VARSIZE(st));

		memcpy(copy, st, VARSIZE(st));
		st = copy;
	}
	if (VARSIZE(st) < FIRST_HDR || st->version != ACTIVITY_VERSION ||
		(st->is_null && VARSIZE(st) != FIRST_HDR))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("value_at_first: corrupt or foreign state")));
	return st;
}

/* Does (ts, value) come before the state's?  NULL values sort last. */
static bool
first_before(FirstValueState *st, int64 ts, const char *val, int len, bool is_null)
{
	int			stlen;
	int			c;

	if (ts != st->ts)
		return ts < st->ts;
	if (is_null || st->is_null)
		return !is_null && st->is_null;
	stlen = VARSIZE(st) - FIRST_HDR;
	c = memcmp(val, st->value, Min(len, stlen));
	return c < 0 || (c == 0 && len < stlen);
}

static FirstValueState *
first_make(int64 ts, const char *val, int len, bool is_null)
{
	FirstValueState *st = palloc0(FIRST_HDR + len);

	SET_VARSIZE(st, FIRST_HDR + len);
	st->version = ACTIVITY_VERSION;
	st->is_null = is_null;
	st->ts = ts;
	if (len > 0)
		memcpy(st->value, val, len);
	return st;
}

/*
 * value_at_first_accum(state bytea, ts, cond, value text)
 */
Datum
apivalue_value_at_first_accum(PG_FUNCTION_ARGS)
{
	FirstValueState *st = PG_ARGISNULL(0) ? NULL : first_check(PG_GETARG_DATUM(0));
	TimestampTz ts;
	text	   *val = NULL;
	bool		is_null = PG_ARGISNULL(3);

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("value_at_first_accum called in non-aggregate context")));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || !PG_GETARG_BOOL(2))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	ts = PG_GETARG_TIMESTAMPTZ(1);
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("value_at_first: timestamp must be finite")));
	if (!is_null)
		val = PG_GETARG_TEXT_PP(3);
	if (st == NULL ||
		first_before(st, ts, val ? VARDATA_ANY(val) : NULL,
					 val ? VARSIZE_ANY_EXHDR(val) : 0, is_null))
		st = first_make(ts, val ? VARDATA_ANY(val) : NULL,
						val ? VARSIZE_ANY_EXHDR(val) : 0, is_null);
	PG_RETURN_POINTER(st);
}

Datum
apivalue_value_at_first_combine(PG_FUNCTION_ARGS)
{
	FirstValueState *a,
			   *b;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("value_at_first_combine called in non-aggregate context")));
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	b = first_check(PG_GETARG_DATUM(1));
	if (PG_ARGISNULL(0))
		PG_RETURN_POINTER(b);
	a = first_check(PG_GETARG_DATUM(0));
	if (first_before(a, b->ts, b->value, VARSIZE(b) - FIRST_HDR, b->is_null))
		PG_RETURN_POINTER(b);
	PG_RETURN_POINTER(a);
}

Datum
apivalue_value_at_first_final(PG_FUNCTION_ARGS)
{
	FirstValueState *st;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = first_check(PG_GETARG_DATUM(0));
	if (st->is_null)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(st->value, VARSIZE(st) - FIRST_HDR));
}

/* ---------------------------------------------------------------------- */

/*
 * The brackets of mode "bracket" as [lo, hi) period ranges (int4range is
 * canonical); *nranges of them, palloc'd in the current context.  Errors
 * on NULL, empty, unbounded ranges and on ranges that start before period 1.
 */
static void
parse_brackets(ArrayType *br, int32 **los, int32 **his, int *nranges)
{
	Datum	   *ranges;
	bool	   *rnulls;
	TypeCacheEntry *typcache;

	deconstruct_array(br, ARR_ELEMTYPE(br), -1, false, TYPALIGN_INT,
					  &ranges, &rnulls, nranges);
	if (*nranges == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("brackets must not be empty")));
	typcache = lookup_type_cache(ARR_ELEMTYPE(br), TYPECACHE_RANGE_INFO);
	*los = palloc(*nranges * sizeof(int32));
	*his = palloc(*nranges * sizeof(int32));
	for (int i = 0; i < *nranges; i++)
	{
		RangeBound	lower,
					upper;
		bool		empty;

		if (rnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("bracket %d is NULL", i + 1)));
		range_deserialize(typcache, DatumGetRangeTypeP(ranges[i]), &lower, &upper, &empty);
		if (empty || lower.infinite || upper.infinite)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bracket %d must be a non-empty, bounded range", i + 1)));
		(*los)[i] = DatumGetInt32(lower.val);
		(*his)[i] = DatumGetInt32(upper.val);
		if ((*los)[i] < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bracket %d starts at period %d, brackets start at period 1 or later",
							i + 1, (*los)[i]),
					 errhint("Period 0 is the cohort period; it is always reported on its own.")));
	}
}

/*
 * retention_by_mode(activity int[], mode text, brackets int4range[]) → int[]
 *
 *	 classic			 activity as it is: element k + 1 = active in period k
 *	 unbounded, rolling	 element k + 1 = active in period k or later
 *						 (Amplitude's unbounded retention, formerly "rolling")
 *	 bracket			 element 1 = period 0; element i + 1 = active in any
 *						 period of brackets[i]
 */
Datum
apivalue_retention_by_mode(PG_FUNCTION_ARGS)
{
	ArrayType  *act;
	char	   *mode;
	int32	   *in;
	int			n;
	Datum	   *out;
	int			nout;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	act = PG_GETARG_ARRAYTYPE_P(0);
	mode = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (ARR_NDIM(act) > 1 || ARR_HASNULL(act) || ARR_ELEMTYPE(act) != INT4OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retention_by_mode: activity must be a one-dimensional int[] without NULLs")));
	n = ARR_NDIM(act) == 0 ? 0 : ARR_DIMS(act)[0];
	in = (int32 *) ARR_DATA_PTR(act);

	if (strcmp(mode, "classic") == 0)
		PG_RETURN_ARRAYTYPE_P(act);
	else if (strcmp(mode, "unbounded") == 0 || strcmp(mode, "rolling") == 0)
	{
		int32		any = 0;

		nout = n;
		out = palloc(Max(n, 1) * sizeof(Datum));
		for (int k = n - 1; k >= 0; k--)
		{
			any |= (in[k] != 0);
			out[k] = Int32GetDatum(any);
		}
	}
	else if (strcmp(mode, "bracket") == 0)
	{
		int32	   *los,
				   *his;
		int			nranges;

		if (PG_NARGS() < 3 || PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("mode \"bracket\" needs brackets"),
					 errhint("Pass brackets => '{\"[1,3]\",\"[4,7]\"}'::int4range[].")));
		parse_brackets(PG_GETARG_ARRAYTYPE_P(2), &los, &his, &nranges);
		nout = nranges + 1;
		out = palloc(nout * sizeof(Datum));
		out[0] = Int32GetDatum(n > 0 ? (in[0] != 0) : 0);
		for (int i = 0; i < nranges; i++)
		{
			int32		any = 0;

			for (int k = los[i]; k < his[i] && k < n; k++)
				any |= (in[k] != 0);
			out[i + 1] = Int32GetDatum(any);
		}
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown retention mode \"%s\"", mode),
				 errhint("Valid modes are classic, unbounded (or rolling) and bracket.")));
	PG_RETURN_ARRAYTYPE_P(construct_array(out, nout, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/*
 * Per call site of _retention_counts: the mode and brackets of the last
 * call, parsed, so that each user costs a few loads.
 */
typedef struct CountsCall
{
	bool		bracket;		/* mode "bracket" (else "classic") */
	int			nranges;
	int32	   *los;
	int32	   *his;
	char	   *key;			/* mode, a NUL, then the brackets' bytes */
	Size		keylen;
} CountsCall;

/* Flag k (0 or 1) of an unaligned run of int64 flags. */
static inline int64
counts_flag(const char *flags, int k)
{
	int64		v;

	memcpy(&v, flags + (Size) k * sizeof(int64), sizeof(int64));
	return v != 0;
}

/*
 * _retention_counts(ru bigint[], mode text, brackets int4range[]) → bigint[]
 *
 * One user's contribution to the retention matrix of cohort_retention, to
 * be summed with sum_arrays per cohort: {1 (the user counts in the cohort's
 * size), then 1 or 0 for each period 1..periods (classic) or each bracket
 * (bracket)}, from the bigint[] of _retention_user (flags from its third
 * element on).  NULL for a user without a cohort event.  Unbounded
 * retention needs activity past the horizon, which the flags do not keep:
 * cohort_retention computes it otherwise, and it is an error here.
 */
Datum
apivalue_retention_counts(PG_FUNCTION_ARGS)
{
	ArrayType  *ru;
	text	   *mode;
	CountsCall *call = (CountsCall *) fcinfo->flinfo->fn_extra;
	int			nflags,
				nout;
	const char *flags;
	ArrayType  *result;
	int64	   *out;
	bits8	   *nulls;
	Size		keylen;
	char	   *key;
	ArrayType  *br = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	ru = PG_GETARG_ARRAYTYPE_P(0);
	mode = PG_GETARG_TEXT_PP(1);
	if (ARR_NDIM(ru) != 1 || ARR_ELEMTYPE(ru) != INT8OID || ARR_DIMS(ru)[0] < 3)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("_retention_counts: expected the bigint[] of _retention_user")));
	nulls = ARR_NULLBITMAP(ru);
	if (nulls && !(nulls[0] & 1))
		PG_RETURN_NULL();		/* no cohort event */
	if (array_contains_nulls(ru))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("_retention_counts: expected the bigint[] of _retention_user")));

	/* mode and brackets: parsed once per distinct value */
	if (!PG_ARGISNULL(2))
		br = PG_GETARG_ARRAYTYPE_P(2);
	keylen = VARSIZE_ANY_EXHDR(mode) + 1 + (br ? VARSIZE(br) : 0);
	if (call == NULL || call->keylen != keylen ||
		memcmp(call->key, VARDATA_ANY(mode), VARSIZE_ANY_EXHDR(mode)) != 0 ||
		(br && memcmp(call->key + VARSIZE_ANY_EXHDR(mode) + 1, br, VARSIZE(br)) != 0))
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		char	   *m = text_to_cstring(mode);

		if (call == NULL)
			call = palloc0(sizeof(CountsCall));
		else
		{
			if (call->los)
				pfree(call->los);
			if (call->his)
				pfree(call->his);
			pfree(call->key);
		}
		call->los = call->his = NULL;
		call->nranges = 0;
		call->key = NULL;
		call->keylen = 0;
		fcinfo->flinfo->fn_extra = call;
		if (strcmp(m, "classic") == 0)
			call->bracket = false;
		else if (strcmp(m, "bracket") == 0)
		{
			if (br == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("mode \"bracket\" needs brackets"),
						 errhint("Pass brackets => '{\"[1,3]\",\"[4,7]\"}'::int4range[].")));
			parse_brackets(br, &call->los, &call->his, &call->nranges);
			call->bracket = true;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("_retention_counts: mode \"%s\" is not supported", m),
					 errhint("Use retention_by_mode for unbounded retention.")));
		key = palloc(keylen);
		memcpy(key, VARDATA_ANY(mode), VARSIZE_ANY_EXHDR(mode));
		key[VARSIZE_ANY_EXHDR(mode)] = '\0';
		if (br)
			memcpy(key + VARSIZE_ANY_EXHDR(mode) + 1, br, VARSIZE(br));
		call->key = key;
		call->keylen = keylen;
		pfree(m);
		MemoryContextSwitchTo(old);
	}

	/*
	 * The flags for periods 0..nflags-1, read in place one by one with
	 * memcpy (no alignment assumed, no per-user copy of the array).
	 */
	nflags = ARR_DIMS(ru)[0] - 2;
	flags = ARR_DATA_PTR(ru) + 2 * sizeof(int64);

	nout = call->bracket ? call->nranges + 1 : nflags;
	result = new_flat_array(INT8OID, sizeof(int64), nout);
	out = (int64 *) ARR_DATA_PTR(result);
	out[0] = 1;
	if (!call->bracket)
	{
		for (int k = 1; k < nflags; k++)
			out[k] = counts_flag(flags, k);
	}
	else
	{
		for (int i = 0; i < call->nranges; i++)
		{
			int64		any = 0;

			for (int k = call->los[i]; k < call->his[i] && k < nflags; k++)
				any |= counts_flag(flags, k);
			out[i + 1] = any;
		}
	}
	PG_RETURN_ARRAYTYPE_P(result);
}
