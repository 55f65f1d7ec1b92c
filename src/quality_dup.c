/*-------------------------------------------------------------------------
 *
 * quality_dup.c
 *	  Near duplicates: events that repeat an earlier event of the same
 *	  fingerprint within a tolerance.
 *
 * near_duplicate_count(fingerprint, ts, tolerance) counts the events that
 * have an earlier (or simultaneous) event of the same fingerprint at most
 * tolerance before them.  That is true exactly when the event's predecessor
 * in (fingerprint, ts) order is within tolerance, so the state keeps every
 * (fingerprint, ts), sorts once when read and compares neighbours.
 *
 * Fingerprints are compared exactly: each record holds a 64-bit hash (to
 * sort and compare fast) and the fingerprint's bytes in an arena, which
 * break hash ties.  A row appends a 24-byte record and its bytes to two
 * geometrically growing arrays, with no palloc of its own.
 *
 * Flat form (SQL type apivalue.near_duplicate_state):
 *	 int32 vl_len_, uint8 version, uint8[3] unused, int32 n, int64 tolerance,
 *	 int64 arena_len, DupRecord records[n], char arena[arena_len]
 *
 * src/quality_dup.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "quality_common.h"

typedef struct DupRecord
{
	uint64		hash;
	int64		ts;
	uint32		off;
	uint32		len;
} DupRecord;

typedef struct DupFlat
{
	int32		vl_len_;
	uint8		version;
	uint8		unused[3];
	int32		n;
	int64		tolerance;
	int64		arena_len;
	DupRecord	records[FLEXIBLE_ARRAY_MEMBER];
} DupFlat;

#define DUP_HDRSZ offsetof(DupFlat, records)
#define DUP_TYPE "apivalue.near_duplicate_state"

typedef struct DupExpanded
{
	ExpandedObjectHeader hdr;
	int64		tolerance;
	int32		n;
	int32		cap;
	DupRecord  *records;
	char	   *arena;
	int32		arena_len;
	int32		arena_cap;
} DupExpanded;

typedef struct DupView
{
	int64		tolerance;
	int32		n;
	const DupRecord *records;
	const char *arena;
} DupView;

static Size dup_get_flat_size(ExpandedObjectHeader *eohptr);
static void dup_flatten_into(ExpandedObjectHeader *eohptr, void *result,
							 Size allocated_size);

static const ExpandedObjectMethods dup_methods = {
	dup_get_flat_size,
	dup_flatten_into
};

static Size
dup_get_flat_size(ExpandedObjectHeader *eohptr)
{
	DupExpanded *s = (DupExpanded *) eohptr;

	return DUP_HDRSZ + sizeof(DupRecord) * (Size) s->n + (Size) s->arena_len;
}

static void
dup_flatten_into(ExpandedObjectHeader *eohptr, void *result,
				 Size allocated_size)
{
	DupExpanded *s = (DupExpanded *) eohptr;
	DupFlat    *f = (DupFlat *) result;

	Assert(allocated_size == dup_get_flat_size(eohptr));
	memset(f, 0, DUP_HDRSZ);
	SET_VARSIZE(f, allocated_size);
	f->version = QUALITY_STATE_VERSION;
	f->n = s->n;
	f->tolerance = s->tolerance;
	f->arena_len = s->arena_len;
	if (s->n > 0)
		memcpy(f->records, s->records, sizeof(DupRecord) * s->n);
	if (s->arena_len > 0)
		memcpy((char *) f->records + sizeof(DupRecord) * s->n, s->arena,
			   s->arena_len);
}

static const DupFlat *
dup_check_flat(struct varlena *v)
{
	const DupFlat *f = (const DupFlat *) v;
	Size		size = VARSIZE(v);
	int32		i;

	if (size < DUP_HDRSZ)
		quality_corrupt(DUP_TYPE, "value is too short");
	if (f->version != QUALITY_STATE_VERSION)
		quality_corrupt(DUP_TYPE, psprintf("unknown version %d", f->version));
	if (f->n < 0 || f->arena_len < 0 || f->tolerance < 0 ||
		(Size) f->n > (size - DUP_HDRSZ) / sizeof(DupRecord) ||
		(Size) f->arena_len > size ||
		size != DUP_HDRSZ + (Size) f->n * sizeof(DupRecord) + (Size) f->arena_len)
		quality_corrupt(DUP_TYPE, "counts do not match the size");
	for (i = 0; i < f->n; i++)
		if ((int64) f->records[i].off + f->records[i].len > f->arena_len)
			quality_corrupt(DUP_TYPE, "fingerprint outside the value");
	return f;
}

static void
dup_view(Datum d, DupView *view)
{
	ExpandedObjectHeader *eoh = quality_expanded(d, &dup_methods);

	if (eoh)
	{
		DupExpanded *s = (DupExpanded *) eoh;

		view->tolerance = s->tolerance;
		view->n = s->n;
		view->records = s->records;
		view->arena = s->arena;
	}
	else
	{
		const DupFlat *f = dup_check_flat(PG_DETOAST_DATUM(d));

		view->tolerance = f->tolerance;
		view->n = f->n;
		view->records = f->records;
		view->arena = (const char *) f->records + sizeof(DupRecord) * f->n;
	}
}

static DupExpanded *
dup_new(MemoryContext parent, int64 tolerance)
{
	MemoryContext cxt = quality_state_context(parent);
	DupExpanded *s = MemoryContextAllocZero(cxt, sizeof(DupExpanded));

	EOH_init_header(&s->hdr, &dup_methods, cxt);
	s->tolerance = tolerance;
	return s;
}

static inline void
dup_add(DupExpanded *s, uint64 hash, int64 ts, const char *bytes, int32 len)
{
	if ((int64) s->arena_len + len > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("near_duplicate_count state exceeds 2 GB of fingerprints"),
				 errhint("Use shorter fingerprints, such as md5() of the columns, or smaller groups.")));
	if (s->n >= s->cap)
		quality_reserve((void **) &s->records, &s->cap, (int64) s->n + 1,
						sizeof(DupRecord), s->hdr.eoh_context);
	if (s->arena_len + len > s->arena_cap)
		quality_reserve((void **) &s->arena, &s->arena_cap,
						(int64) s->arena_len + len, 1, s->hdr.eoh_context);
	s->records[s->n].hash = hash;
	s->records[s->n].ts = ts;
	s->records[s->n].off = (uint32) s->arena_len;
	s->records[s->n].len = (uint32) len;
	s->n++;
	if (len > 0)
		memcpy(s->arena + s->arena_len, bytes, len);
	s->arena_len += len;
}

static DupExpanded *
dup_for_update(FunctionCallInfo fcinfo, int argno, MemoryContext aggcxt,
			   int64 tolerance)
{
	DupExpanded *s;
	DupView		v;
	Datum		d;
	int32		i;

	if (PG_ARGISNULL(argno))
		return dup_new(aggcxt, tolerance);
	d = PG_GETARG_DATUM(argno);
	s = (DupExpanded *) quality_expanded(d, &dup_methods);
	if (s && VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(d)) &&
		MemoryContextGetParent(s->hdr.eoh_context) == aggcxt)
		return s;
	dup_view(d, &v);
	s = dup_new(aggcxt, v.tolerance);
	for (i = 0; i < v.n; i++)
		dup_add(s, v.records[i].hash, v.records[i].ts,
				v.arena + v.records[i].off, v.records[i].len);
	return s;
}

static void
check_tolerance(int64 state_tol, int64 tol)
{
	if (state_tol != tol)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tolerance must be the same for every row of a group"),
				 errhint("Pass a constant tolerance.")));
}

PG_FUNCTION_INFO_V1(apivalue_near_duplicate_state_in);
Datum
apivalue_near_duplicate_state_in(PG_FUNCTION_ARGS)
{
	Datum		d = DirectFunctionCall1(byteain, PG_GETARG_DATUM(0));

	dup_check_flat((struct varlena *) DatumGetPointer(d));
	return d;
}

PG_FUNCTION_INFO_V1(apivalue_near_duplicate_state_recv);
Datum
apivalue_near_duplicate_state_recv(PG_FUNCTION_ARGS)
{
	Datum		d = DirectFunctionCall1(bytearecv, PG_GETARG_DATUM(0));

	dup_check_flat((struct varlena *) DatumGetPointer(d));
	return d;
}

/*
 * near_duplicate_count(fingerprint text, ts timestamptz, tolerance interval)
 * transition.  Rows with a NULL fingerprint or time are skipped.
 */
PG_FUNCTION_INFO_V1(apivalue_near_duplicate_accum);
Datum
apivalue_near_duplicate_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = quality_agg_context(fcinfo, "near_duplicate_count");
	DupExpanded *s;
	text	   *fp;
	TimestampTz ts;
	int64		tol;

	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tolerance must not be NULL"),
				 errhint("Pass how close two events must be to count as one, e.g. interval '2 seconds'.")));
	tol = quality_interval_usec(PG_GETARG_INTERVAL_P(3), "tolerance");
	if (tol < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tolerance must not be negative, got \"%s\"",
						DatumGetCString(DirectFunctionCall1(interval_out,
															PG_GETARG_DATUM(3))))));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	ts = PG_GETARG_TIMESTAMPTZ(2);
	quality_check_finite(ts, "event time");
	fp = PG_GETARG_TEXT_PP(1);

	s = dup_for_update(fcinfo, 0, aggcxt, tol);
	check_tolerance(s->tolerance, tol);
	dup_add(s,
			hash_bytes_extended((const unsigned char *) VARDATA_ANY(fp),
								VARSIZE_ANY_EXHDR(fp), 0),
			ts, VARDATA_ANY(fp), VARSIZE_ANY_EXHDR(fp));
	PG_RETURN_DATUM(EOHPGetRWDatum(&s->hdr));
}

PG_FUNCTION_INFO_V1(apivalue_near_duplicate_combine);
Datum
apivalue_near_duplicate_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = quality_agg_context(fcinfo, "near_duplicate_count");
	DupExpanded *s;
	DupView		v;
	int32		i;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	dup_view(PG_GETARG_DATUM(1), &v);
	s = dup_for_update(fcinfo, 0, aggcxt, v.tolerance);
	check_tolerance(s->tolerance, v.tolerance);
	for (i = 0; i < v.n; i++)
		dup_add(s, v.records[i].hash, v.records[i].ts,
				v.arena + v.records[i].off, v.records[i].len);
	PG_RETURN_DATUM(EOHPGetRWDatum(&s->hdr));
}

static int
cmp_record(const void *a, const void *b, void *arg)
{
	const DupRecord *x = a;
	const DupRecord *y = b;
	const char *arena = arg;
	int			c;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	c = memcmp(arena + x->off, arena + y->off, x->len);
	if (c != 0)
		return c;
	return (x->ts > y->ts) - (x->ts < y->ts);
}

/* The count: events whose predecessor of the same fingerprint is near. */
PG_FUNCTION_INFO_V1(apivalue_near_duplicate_final);
Datum
apivalue_near_duplicate_final(PG_FUNCTION_ARGS)
{
	DupView		v;
	DupRecord  *r;
	int64		count = 0;
	int32		i;

	if (PG_ARGISNULL(0))
		PG_RETURN_INT64(0);
	dup_view(PG_GETARG_DATUM(0), &v);
	if (v.n < 2)
		PG_RETURN_INT64(0);
	/* Sort a copy: the state stays as the executor handed it. */
	r = palloc_array(DupRecord, v.n);
	memcpy(r, v.records, sizeof(DupRecord) * v.n);
	qsort_arg(r, v.n, sizeof(DupRecord), cmp_record, (void *) v.arena);
	for (i = 1; i < v.n; i++)
	{
		if (r[i].hash == r[i - 1].hash && r[i].len == r[i - 1].len &&
			memcmp(v.arena + r[i].off, v.arena + r[i - 1].off, r[i].len) == 0 &&
			r[i].ts - r[i - 1].ts <= v.tolerance)
			count++;
	}
	pfree(r);
	PG_RETURN_INT64(count);
}
