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

PG_FUNCTION_INFO_V1(apivalue_km_summary_accum);
PG_FUNCTION_INFO_V1(apivalue_km_summary_combine);
PG_FUNCTION_INFO_V1(apivalue_km_curve);
PG_FUNCTION_INFO_V1(apivalue_km_median);

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
