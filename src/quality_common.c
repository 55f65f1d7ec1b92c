/*-------------------------------------------------------------------------
 *
 * quality_common.c
 *	  Helpers shared by the data-quality aggregates.
 *
 * src/quality_common.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "quality_common.h"

void
quality_check_finite(TimestampTz t, const char *what)
{
	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be finite, got \"%s\"", what,
						timestamptz_to_str(t)),
				 errhint("Filter out infinite timestamps before aggregating.")));
}

int64
quality_interval_usec(const Interval *iv, const char *what)
{
	int64		days;
	int64		usec;

	/* Same weighting as interval_cmp_value(): 30-day months, 24-hour days. */
	if (pg_mul_s64_overflow((int64) iv->month, DAYS_PER_MONTH, &days) ||
		pg_add_s64_overflow(days, (int64) iv->day, &days) ||
		pg_mul_s64_overflow(days, USECS_PER_DAY, &usec) ||
		pg_add_s64_overflow(usec, iv->time, &usec))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", what)));
	return usec;
}

Interval *
quality_usec_interval(int64 usec)
{
	Interval   *result = (Interval *) palloc(sizeof(Interval));

	/* timestamptz_mi() justifies hours into days; do the same. */
	result->month = 0;
	result->day = (int32) (usec / USECS_PER_DAY);
	result->time = usec % USECS_PER_DAY;
	return result;
}

MemoryContext
quality_agg_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s called in non-aggregate context", fname)));
	return aggcxt;
}

struct varlena *
quality_work_alloc(Size need, Size want, uint8 version, const char *type_name)
{
	return quality_work_alloc_ext(need, want, version, type_name, MaxAllocSize);
}

struct varlena *
quality_work_alloc_ext(Size need, Size want, uint8 version,
					   const char *type_name, Size zero)
{
	Size		size = 64;
	struct varlena *v;

	if (need > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s state would exceed 1 GB", type_name),
				 errhint("Aggregate smaller groups.")));
	want = Max(want, need);
	while (size < want && size <= MaxAllocSize)
		size *= 2;
	/* Near the limit, what fits: at least need. */
	if (size > MaxAllocSize)
		size = MaxAllocSize;
	if (zero >= size)
		v = (struct varlena *) palloc0(size);
	else
	{
		v = (struct varlena *) palloc(size);
		memset(v, 0, Max(zero, VARHDRSZ + 1));
	}
	SET_VARSIZE(v, size);
	((uint8 *) VARDATA(v))[0] = version;
	return v;
}

struct varlena *
quality_work_arg(FunctionCallInfo fcinfo, int argno, uint8 version)
{
	struct varlena *v;

	if (PG_ARGISNULL(argno))
		return NULL;
	v = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(argno));
	if (!VARATT_IS_4B_U(v) || VARSIZE(v) < VARHDRSZ + 1 ||
		((uint8 *) VARDATA(v))[0] != version)
		return NULL;
	return v;
}

void
quality_reserve(void **ptr, int32 *cap, int64 need, Size elemsize,
				MemoryContext cxt)
{
	int64		newcap;

	if (need <= *cap)
		return;
	newcap = Max(*cap, 16);
	while (newcap < need)
		newcap *= 2;
	if ((Size) newcap * elemsize > MaxAllocHugeSize || newcap > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("quality state would exceed %d entries", PG_INT32_MAX),
				 errhint("Aggregate smaller groups.")));
	if (*ptr == NULL)
		*ptr = MemoryContextAllocHuge(cxt, (Size) newcap * elemsize);
	else
		*ptr = repalloc_huge(*ptr, (Size) newcap * elemsize);
	*cap = (int32) newcap;
}

void
quality_corrupt(const char *type_name, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid %s value", type_name),
			 errdetail("%s", detail)));
}

/*
 * The flat bytes of a quality state: a flat value as it is, a working state
 * (the transition value of a partial aggregate, which Citus writes out with
 * the type's output or send function) in its flat form, which input and
 * receive accept.
 */
static Datum
quality_state_flat(Datum d)
{
	struct varlena *v = PG_DETOAST_DATUM(d);

	if (VARSIZE(v) > VARHDRSZ)
	{
		switch (((uint8 *) VARDATA(v))[0])
		{
			case QUALITY_WORK_RANGESET:
				return PointerGetDatum(rangeset_work_flatten(v));
			case QUALITY_WORK_SKEW:
				return PointerGetDatum(skew_work_flatten(v));
			case QUALITY_WORK_DUP:
				return PointerGetDatum(dup_work_flatten(v));
			default:
				break;
		}
	}
	return PointerGetDatum(v);
}

/*
 * Text output and binary send of every quality state type: the flat bytes,
 * shown as bytea shows them (input and receive validate per type).
 */
PG_FUNCTION_INFO_V1(apivalue_quality_state_out);
Datum
apivalue_quality_state_out(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall1(byteaout, quality_state_flat(PG_GETARG_DATUM(0)));
}

PG_FUNCTION_INFO_V1(apivalue_quality_state_send);
Datum
apivalue_quality_state_send(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall1(byteasend, quality_state_flat(PG_GETARG_DATUM(0)));
}
