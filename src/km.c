/*-------------------------------------------------------------------------
 *
 * km.c
 *	  Kaplan-Meier estimate with a Greenwood log(-log) interval: the one
 *	  implementation behind ttfv_survival, ttfv_report's km_median and
 *	  adoption_velocity.
 *
 * Two steps, so one scan serves several readings and summaries roll up:
 *
 *	 km_summary(t int, reached boolean, horizon int) -> bigint[]
 *		 aggregate; the state is the result, a histogram
 *		 [horizon, beyond, reached_0..reached_H, censored_0..censored_H]
 *		 combined element-wise (parallel query, partial aggregation);
 *		 subjects with t > horizon count in "beyond" (at risk throughout);
 *	 km_curve(summary) -> (t, at_risk, reached, censored, survival,
 *		 ci_low, ci_high), one row per t = 0..horizon;
 *	 km_median(summary) -> int, the first t with survival <= 0.5.
 *
 * ttfv_survival reads its per-user input with one more aggregate,
 * _ttfv_point(ts, is_start, is_value) -> timestamptz[] {first start, first
 * value at or after it, latest event}: one transition per row instead of
 * min() FILTER, time_to_first_value() and max(), each condition evaluated
 * once.
 *
 * Survival S(t) = prod_{u <= t} (1 - d_u / n_u).  Greenwood's variance of
 * log S is sum d_u / (n_u (n_u - d_u)); on the log(-log) scale the 95 %
 * interval is S^exp(+-z se / |log S|), the same as R survival's
 * conf.type = "log-log".  Where S = 1 (no event yet) the interval is
 * [1, 1]; where S = 0 it is [0, 0] (the variance is undefined there).
 *
 * src/km.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "km.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(apivalue_km_summary_accum);
PG_FUNCTION_INFO_V1(apivalue_km_summary_combine);
PG_FUNCTION_INFO_V1(apivalue_km_curve);
PG_FUNCTION_INFO_V1(apivalue_km_median);
PG_FUNCTION_INFO_V1(apivalue_ttfv_point_accum);
PG_FUNCTION_INFO_V1(apivalue_ttfv_point_combine);
PG_FUNCTION_INFO_V1(apivalue_ttfv_point_serialize);
PG_FUNCTION_INFO_V1(apivalue_ttfv_point_deserialize);
PG_FUNCTION_INFO_V1(apivalue_ttfv_point_final);
PG_FUNCTION_INFO_V1(apivalue_km_units_between);

#define KM_MAX_HORIZON 1000000
#define KM_Z95 1.959963984540054

/*
 * The curve from the histogram.  at_risk at t counts the subjects whose
 * event or censoring time is >= t, computed from the end.
 */
void
av_km_curve(const int64 *reached, const int64 *censored, int64 beyond,
			int horizon, double z, AvKmPoint *out)
{
	int64		risk = beyond;
	double		s = 1.0;
	double		gw = 0.0;
	bool		gw_inf = false;
	int			t;

	for (t = horizon; t >= 0; t--)
	{
		risk += reached[t] + censored[t];
		out[t].at_risk = risk;
		out[t].reached = reached[t];
		out[t].censored = censored[t];
	}
	for (t = 0; t <= horizon; t++)
	{
		int64		n = out[t].at_risk;
		int64		d = out[t].reached;

		if (n > 0 && d > 0)
		{
			s *= 1.0 - (double) d / (double) n;
			if (n == d)
				gw_inf = true;
			else
				gw += (double) d / ((double) n * (double) (n - d));
		}
		out[t].survival = s;
		if (s >= 1.0)
		{
			out[t].ci_low = 1.0;
			out[t].ci_high = 1.0;
		}
		else if (s <= 0.0 || gw_inf)
		{
			out[t].ci_low = 0.0;
			out[t].ci_high = 0.0;
		}
		else
		{
			double		se = sqrt(gw) / fabs(log(s));
			double		lo = pow(s, exp(z * se));
			double		hi = pow(s, exp(-z * se));

			out[t].ci_low = Max(0.0, Min(1.0, lo));
			out[t].ci_high = Max(0.0, Min(1.0, hi));
		}
	}
}

int
av_km_median(const int64 *reached, const int64 *censored, int64 beyond,
			 int horizon)
{
	AvKmPoint  *pts = palloc((horizon + 1) * sizeof(AvKmPoint));
	int			t;
	int			result = -1;

	av_km_curve(reached, censored, beyond, horizon, KM_Z95, pts);
	for (t = 0; t <= horizon; t++)
		if (pts[t].survival <= 0.5)
		{
			result = t;
			break;
		}
	pfree(pts);
	return result;
}

/* Check a summary array and return its horizon. */
static int
summary_horizon(ArrayType *a)
{
	int64	   *v;
	int			n;

	if (ARR_NDIM(a) != 1 || ARR_HASNULL(a) || ARR_ELEMTYPE(a) != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Kaplan-Meier summary"),
				 errdetail("A summary is a one-dimensional bigint[] without NULLs, as km_summary returns.")));
	n = ARR_DIMS(a)[0];
	v = (int64 *) ARR_DATA_PTR(a);
	if (n < 4 || v[0] < 0 || v[0] > KM_MAX_HORIZON || n != 2 * v[0] + 4)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Kaplan-Meier summary"),
				 errdetail("The length does not match the horizon.")));
	return (int) v[0];
}

/*
 * km_summary(t, reached, horizon) transition: count the subject at t as
 * reached or censored (or beyond the horizon).  NULL t: skipped.  The
 * state is modified in place inside an aggregate.
 */
Datum
apivalue_km_summary_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	ArrayType  *state;
	int32		horizon;
	int32		t;
	int64	   *v;

	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("km_summary horizon must not be NULL")));
	horizon = PG_GETARG_INT32(3);
	if (horizon < 0 || horizon > KM_MAX_HORIZON)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("km_summary horizon must be between 0 and %d, got %d",
						KM_MAX_HORIZON, horizon),
				 errhint("Use a coarser resolution or a shorter horizon.")));
	if (PG_ARGISNULL(0))
	{
		int			n = 2 * horizon + 4;
		MemoryContext old;

		old = AggCheckCallContext(fcinfo, &aggctx) ?
			MemoryContextSwitchTo(aggctx) : CurrentMemoryContext;
		state = (ArrayType *) palloc0(ARR_OVERHEAD_NONULLS(1) + n * sizeof(int64));
		SET_VARSIZE(state, ARR_OVERHEAD_NONULLS(1) + n * sizeof(int64));
		state->ndim = 1;
		state->dataoffset = 0;
		state->elemtype = INT8OID;
		ARR_DIMS(state)[0] = n;
		ARR_LBOUND(state)[0] = 1;
		((int64 *) ARR_DATA_PTR(state))[0] = horizon;
		MemoryContextSwitchTo(old);
	}
	else if (AggCheckCallContext(fcinfo, NULL))
		state = PG_GETARG_ARRAYTYPE_P(0);
	else
		state = PG_GETARG_ARRAYTYPE_P_COPY(0);
	if (summary_horizon(state) != horizon)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("km_summary horizon must be the same on every row (%d, then %d)",
						summary_horizon(state), horizon)));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_ARRAYTYPE_P(state);
	t = PG_GETARG_INT32(1);
	if (t < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("km_summary time must not be negative, got %d", t)));
	v = (int64 *) ARR_DATA_PTR(state);
	if (t > horizon)
		v[1]++;
	else if (PG_GETARG_BOOL(2))
		v[2 + t]++;
	else
		v[3 + horizon + t]++;
	PG_RETURN_ARRAYTYPE_P(state);
}

/* Element-wise sum of two summaries with the same horizon. */
Datum
apivalue_km_summary_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *a;
	ArrayType  *b;
	int64	   *va;
	int64	   *vb;
	int			h;
	int			k;

	if (PG_ARGISNULL(0))
	{
		if (PG_ARGISNULL(1))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	}
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	a = AggCheckCallContext(fcinfo, NULL) ? PG_GETARG_ARRAYTYPE_P(0) :
		PG_GETARG_ARRAYTYPE_P_COPY(0);
	b = PG_GETARG_ARRAYTYPE_P(1);
	h = summary_horizon(a);
	if (summary_horizon(b) != h)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine Kaplan-Meier summaries with horizons %d and %d",
						h, summary_horizon(b))));
	va = (int64 *) ARR_DATA_PTR(a);
	vb = (int64 *) ARR_DATA_PTR(b);
	for (k = 1; k < 2 * h + 4; k++)
		if (pg_add_s64_overflow(va[k], vb[k], &va[k]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("Kaplan-Meier count out of range")));
	PG_RETURN_ARRAYTYPE_P(a);
}

/* Counts of a summary must not be negative (hand-built arrays). */
static void
check_counts(const int64 *v, int h)
{
	int			k;

	for (k = 1; k < 2 * h + 4; k++)
		if (v[k] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid Kaplan-Meier summary"),
					 errdetail("Element %d is negative.", k + 1)));
}

/* km_curve(summary): one row per t = 0..horizon. */
Datum
apivalue_km_curve(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	int			h = summary_horizon(a);
	int64	   *v = (int64 *) ARR_DATA_PTR(a);
	AvKmPoint  *pts;
	int			t;

	check_counts(v, h);
	InitMaterializedSRF(fcinfo, 0);
	pts = palloc((h + 1) * sizeof(AvKmPoint));
	av_km_curve(v + 2, v + 3 + h, v[1], h, KM_Z95, pts);
	for (t = 0; t <= h; t++)
	{
		Datum		values[7];
		bool		nulls[7] = {false, false, false, false, false, false, false};

		values[0] = Int32GetDatum(t);
		values[1] = Int64GetDatum(pts[t].at_risk);
		values[2] = Int64GetDatum(pts[t].reached);
		values[3] = Int64GetDatum(pts[t].censored);
		values[4] = Float8GetDatum(pts[t].survival);
		values[5] = Float8GetDatum(pts[t].ci_low);
		values[6] = Float8GetDatum(pts[t].ci_high);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_NULL();
}

/* km_median(summary): first t with survival <= 0.5, NULL when none. */
Datum
apivalue_km_median(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	int			h = summary_horizon(a);
	int64	   *v = (int64 *) ARR_DATA_PTR(a);
	int			m;

	check_counts(v, h);
	m = av_km_median(v + 2, v + 3 + h, v[1], h);
	if (m < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(m);
}

/*
 * _ttfv_point: one user's start, value and latest event time.
 *
 * The start is the first start event.  The value is the first value event
 * at or after it; as rows arrive in any order, a value event earlier than
 * the start seen so far is kept as pending (a later row may bring an
 * earlier start), and the final function takes the first pending time at
 * or after the final start.  best is the first value at or after the start
 * current when it arrived, so it is at or after the final start too.
 */
#define TTFV_POINT_VERSION 1

typedef struct TtfvPoint
{
	bool		has_start;
	bool		has_best;
	bool		has_last;
	int64		start;
	int64		best;
	int64		last;			/* latest row, matching or not */
	int32		npending;
	int32		cap;
	int64	   *pending;		/* value times < start when they came */
} TtfvPoint;

static TtfvPoint *
ttfv_point_new(MemoryContext cxt)
{
	return MemoryContextAllocZero(cxt, sizeof(TtfvPoint));
}

static void
ttfv_point_value(TtfvPoint *p, MemoryContext cxt, int64 ts)
{
	if (p->has_start && ts >= p->start)
	{
		if (!p->has_best || ts < p->best)
			p->best = ts;
		p->has_best = true;
		return;
	}
	if (p->npending >= p->cap)
	{
		int32		j = 0;
		int32		i;

		/* fold the pending times the start has caught up with into best */
		for (i = 0; i < p->npending; i++)
		{
			int64		v = p->pending[i];

			if (p->has_start && v >= p->start)
			{
				if (!p->has_best || v < p->best)
					p->best = v;
				p->has_best = true;
			}
			else
				p->pending[j++] = v;
		}
		p->npending = j;
		if (p->npending >= p->cap)
		{
			int32		cap = p->cap ? p->cap * 2 : 4;

			if (cap > (int32) (MaxAllocSize / sizeof(int64)))
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("too many value events before the start of one user")));
			p->pending = p->pending ?
				repalloc(p->pending, cap * sizeof(int64)) :
				MemoryContextAlloc(cxt, cap * sizeof(int64));
			p->cap = cap;
		}
	}
	p->pending[p->npending++] = ts;
}

static void
ttfv_point_start(TtfvPoint *p, int64 ts)
{
	if (!p->has_start || ts < p->start)
		p->start = ts;
	p->has_start = true;
}

/* Transition: _ttfv_point(ts, is_start, is_value); NULL ts rows skipped. */
Datum
apivalue_ttfv_point_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	TtfvPoint  *p;
	int64		ts;
	bool		is_start;
	bool		is_value;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("_ttfv_point_accum called in non-aggregate context")));
	p = PG_ARGISNULL(0) ? ttfv_point_new(aggcxt) : (TtfvPoint *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(p);
	ts = PG_GETARG_TIMESTAMPTZ(1);
	if (!p->has_last || ts > p->last)
		p->last = ts;
	p->has_last = true;
	is_start = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	is_value = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	if (!is_start && !is_value)
		PG_RETURN_POINTER(p);
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("ttfv_survival: timestamp must be finite")));
	if (is_start)
		ttfv_point_start(p, ts);
	if (is_value)
		ttfv_point_value(p, aggcxt, ts);
	PG_RETURN_POINTER(p);
}

Datum
apivalue_ttfv_point_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	TtfvPoint  *a;
	TtfvPoint  *b;
	int32		i;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("_ttfv_point_combine called in non-aggregate context")));
	a = PG_ARGISNULL(0) ? NULL : (TtfvPoint *) PG_GETARG_POINTER(0);
	b = PG_ARGISNULL(1) ? NULL : (TtfvPoint *) PG_GETARG_POINTER(1);
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
		a = ttfv_point_new(aggcxt);
	if (b->has_last && (!a->has_last || b->last > a->last))
		a->last = b->last;
	a->has_last |= b->has_last;
	if (b->has_start)
		ttfv_point_start(a, b->start);
	/* b's best is at or after b's start, so at or after the final start */
	if (b->has_best && (!a->has_best || b->best < a->best))
		a->best = b->best;
	a->has_best |= b->has_best;
	for (i = 0; i < b->npending; i++)
		ttfv_point_value(a, aggcxt, b->pending[i]);
	PG_RETURN_POINTER(a);
}

/* Serialized: version byte, three flags, start, best, last, count, times. */
Datum
apivalue_ttfv_point_serialize(PG_FUNCTION_ARGS)
{
	TtfvPoint  *p;
	bytea	   *out;
	char	   *w;
	Size		size;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("_ttfv_point_serialize called in non-aggregate context")));
	p = (TtfvPoint *) PG_GETARG_POINTER(0);
	size = VARHDRSZ + 4 + 3 * sizeof(int64) + sizeof(int32) +
		(Size) p->npending * sizeof(int64);
	out = palloc(size);
	SET_VARSIZE(out, size);
	w = VARDATA(out);
	*w++ = TTFV_POINT_VERSION;
	*w++ = p->has_start;
	*w++ = p->has_best;
	*w++ = p->has_last;
	memcpy(w, &p->start, sizeof(int64));
	w += sizeof(int64);
	memcpy(w, &p->best, sizeof(int64));
	w += sizeof(int64);
	memcpy(w, &p->last, sizeof(int64));
	w += sizeof(int64);
	memcpy(w, &p->npending, sizeof(int32));
	w += sizeof(int32);
	if (p->npending > 0)
		memcpy(w, p->pending, (Size) p->npending * sizeof(int64));
	PG_RETURN_BYTEA_P(out);
}

/* Deserialize with memcpy (bytea data is not 8-byte aligned), checked. */
Datum
apivalue_ttfv_point_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	bytea	   *in;
	const char *r;
	Size		len;
	TtfvPoint  *p;
	int32		n;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("_ttfv_point_deserialize called in non-aggregate context")));
	in = PG_GETARG_BYTEA_PP(0);
	r = VARDATA_ANY(in);
	len = VARSIZE_ANY_EXHDR(in);
	if (len < 4 + 3 * sizeof(int64) + sizeof(int32) || r[0] != TTFV_POINT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid _ttfv_point state")));
	p = ttfv_point_new(aggcxt);
	p->has_start = r[1] != 0;
	p->has_best = r[2] != 0;
	p->has_last = r[3] != 0;
	r += 4;
	memcpy(&p->start, r, sizeof(int64));
	r += sizeof(int64);
	memcpy(&p->best, r, sizeof(int64));
	r += sizeof(int64);
	memcpy(&p->last, r, sizeof(int64));
	r += sizeof(int64);
	memcpy(&n, r, sizeof(int32));
	r += sizeof(int32);
	if (n < 0 || (Size) n != (len - (4 + 3 * sizeof(int64) + sizeof(int32))) / sizeof(int64) ||
		(len - (4 + 3 * sizeof(int64) + sizeof(int32))) % sizeof(int64) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid _ttfv_point state: %d pending times", n)));
	if (n > 0)
	{
		p->pending = MemoryContextAlloc(aggcxt, (Size) n * sizeof(int64));
		memcpy(p->pending, r, (Size) n * sizeof(int64));
		p->npending = p->cap = n;
	}
	PG_RETURN_POINTER(p);
}

/*
 * Final: {first start, first value at or after it, latest event}, NULL
 * elements where there is none; NULL without rows.
 */
Datum
apivalue_ttfv_point_final(PG_FUNCTION_ARGS)
{
	TtfvPoint  *p;
	Datum		d[3];
	bool		nulls[3];
	int			dims[1] = {3};
	int			lbs[1] = {1};
	bool		has_value;
	int64		value = 0;
	int32		i;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	p = (TtfvPoint *) PG_GETARG_POINTER(0);
	has_value = p->has_start && p->has_best;
	value = p->best;
	if (p->has_start)
		for (i = 0; i < p->npending; i++)
			if (p->pending[i] >= p->start && (!has_value || p->pending[i] < value))
			{
				value = p->pending[i];
				has_value = true;
			}
	d[0] = TimestampTzGetDatum(p->start);
	nulls[0] = !p->has_start;
	d[1] = TimestampTzGetDatum(value);
	nulls[1] = !has_value;
	d[2] = TimestampTzGetDatum(p->last);
	nulls[2] = !p->has_last;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(d, nulls, 1, dims, lbs, TIMESTAMPTZOID,
											 sizeof(int64), true, TYPALIGN_DOUBLE));
}

/*
 * _km_units_between(start, stop, resolution_usec) -> int: whole resolution
 * units from start to stop, truncated toward zero; the same as
 * _km_units(stop - start, resolution) without numeric arithmetic (one call
 * per user in ttfv_survival).
 */
Datum
apivalue_km_units_between(PG_FUNCTION_ARGS)
{
	TimestampTz start = PG_GETARG_TIMESTAMPTZ(0);
	TimestampTz stop = PG_GETARG_TIMESTAMPTZ(1);
	int64		res = PG_GETARG_INT64(2);
	int64		d;
	int64		q;

	if (TIMESTAMP_NOT_FINITE(start) || TIMESTAMP_NOT_FINITE(stop))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("cannot subtract infinite timestamps")));
	if (res <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("resolution must be positive, got %lld microseconds",
						(long long) res)));
	if (pg_sub_s64_overflow(stop, start, &d))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("interval out of range")));
	q = d / res;
	if (q > PG_INT32_MAX || q < PG_INT32_MIN)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("integer out of range")));
	PG_RETURN_INT32((int32) q);
}
