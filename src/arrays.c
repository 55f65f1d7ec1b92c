/*-------------------------------------------------------------------------
 *
 * arrays.c
 *	  sum_arrays(int[]) / sum_arrays(bigint[]): element-wise sum aggregate.
 *
 * Rolls up per-group arrays such as retention(...) or retention_activity(...)
 * results into one array of totals.  Arrays may have different lengths: a
 * shorter array counts as zeros beyond its end, so the result is as long as
 * the longest input.  NULL arrays and NULL elements are skipped; the result
 * is NULL only when every input was NULL.  Positions count from the first
 * element whatever the array's lower bound.
 *
 * The state is a plain bigint[] (not internal), so partial sums can cross
 * process and node boundaries as ordinary values: parallel workers need no
 * serialize functions, and Citus can sum on the workers and combine on the
 * coordinator.  The transition function adds into the state in place (it
 * lives in the aggregate context); only a longer input makes a new array.
 *
 * src/arrays.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "utils/array.h"

PG_FUNCTION_INFO_V1(apivalue_sum_arrays_accum);

static ArrayType *
new_int8_array(int n)
{
	Size		size = ARR_OVERHEAD_NONULLS(1) + (Size) n * sizeof(int64);
	ArrayType  *a = (ArrayType *) palloc0(size);

	SET_VARSIZE(a, size);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = INT8OID;
	ARR_DIMS(a)[0] = n;
	ARR_LBOUND(a)[0] = 1;
	return a;
}

/*
 * sum_arrays_accum(state bigint[], input int[] or bigint[]) → bigint[]
 *
 * Also the combine function: a state is itself a bigint[] input.
 */
Datum
apivalue_sum_arrays_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = NULL;
	ArrayType  *input;
	int			nstate = 0;
	int			ninput;
	bool		in_place;
	int64	   *sums;
	Oid			elemtype;
	bits8	   *nulls;
	char	   *p;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("sum_arrays_accum called in non-aggregate context")));

	if (!PG_ARGISNULL(0))
	{
		Datum		d = PG_GETARG_DATUM(0);

		/* Our own state is a plain in-memory array; anything else is copied. */
		in_place = !VARATT_IS_EXTENDED(DatumGetPointer(d));
		state = in_place ? (ArrayType *) DatumGetPointer(d) : DatumGetArrayTypePCopy(d);
		nstate = ARR_NDIM(state) == 0 ? 0 : ARR_DIMS(state)[0];
		if (ARR_ELEMTYPE(state) != INT8OID || ARR_NDIM(state) > 1 || ARR_HASNULL(state))
			elog(ERROR, "sum_arrays: unexpected state");
	}
	if (PG_ARGISNULL(1))
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_ARRAYTYPE_P(state);
	}

	input = PG_GETARG_ARRAYTYPE_P(1);
	elemtype = ARR_ELEMTYPE(input);
	if (ARR_NDIM(input) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("sum_arrays: arrays must be one-dimensional, got %d dimensions",
						ARR_NDIM(input))));
	if (elemtype != INT4OID && elemtype != INT8OID)
		elog(ERROR, "sum_arrays: unexpected element type %u", elemtype);
	ninput = ARR_NDIM(input) == 0 ? 0 : ARR_DIMS(input)[0];

	if (state == NULL || ninput > nstate)
	{
		/* A new, longer state in the current context; nodeAgg copies it. */
		ArrayType  *grown = new_int8_array(Max(ninput, nstate));

		if (nstate > 0)
			memcpy(ARR_DATA_PTR(grown), ARR_DATA_PTR(state), nstate * sizeof(int64));
		state = grown;
		nstate = Max(ninput, nstate);
	}

	sums = (int64 *) ARR_DATA_PTR(state);
	nulls = ARR_NULLBITMAP(input);
	p = ARR_DATA_PTR(input);
	if (nulls == NULL && elemtype == INT8OID)
	{
		/* the common case (one row per user of cohort_retention): no NULLs */
		for (int i = 0; i < ninput; i++)
		{
			int64		v;

			memcpy(&v, p + (Size) i * sizeof(int64), sizeof(int64));
			if (pg_add_s64_overflow(sums[i], v, &sums[i]))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("sum_arrays: bigint out of range at position %d", i + 1)));
		}
		PG_RETURN_ARRAYTYPE_P(state);
	}
	for (int i = 0; i < ninput; i++)
	{
		int64		v;

		if (nulls && !(nulls[i / 8] & (1 << (i % 8))))
			continue;
		if (elemtype == INT4OID)
		{
			v = *(int32 *) p;
			p += sizeof(int32);
		}
		else
		{
			v = *(int64 *) p;
			p += sizeof(int64);
		}
		if (pg_add_s64_overflow(sums[i], v, &sums[i]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("sum_arrays: bigint out of range at position %d", i + 1)));
	}
	PG_RETURN_ARRAYTYPE_P(state);
}
