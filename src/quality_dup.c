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
 * arrays in one working state (quality_common.h: the records, then the
 * arena, then free room), in place with no palloc of its own; the state
 * doubles when either array is full.
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
#include "nodes/execnodes.h"
#include "port/pg_bitutils.h"
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

/*
 * Working form: the flat header (version QUALITY_WORK_DUP) with the record
 * capacity in the flat form's padding, records[rcap], then the arena up to
 * the varlena size (the capacity).
 */
typedef struct DupWork
{
	int32		vl_len_;		/* the capacity, not the content */
	uint8		version;		/* QUALITY_WORK_DUP */
	uint8		unused[3];
	int32		n;
	int32		rcap;			/* records the state has room for */
	int64		tolerance;
	int64		arena_len;
	DupRecord	records[FLEXIBLE_ARRAY_MEMBER];	/* then char arena[] */
} DupWork;

StaticAssertDecl(offsetof(DupWork, records) == DUP_HDRSZ,
				 "working and flat near-duplicate states share their header");

#define DUP_WORK_ARENA(w) ((char *) ((w)->records + (w)->rcap))
#define DUP_WORK_ARENA_CAP(w) \
	((int64) VARSIZE(w) - (int64) DUP_HDRSZ - (int64) sizeof(DupRecord) * (w)->rcap)

typedef struct DupView
{
	int64		tolerance;
	int32		n;
	const DupRecord *records;
	const char *arena;
	int64		arena_len;
} DupView;

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

/* The same checks for a working state, counts bounded by the capacities. */
static const DupWork *
dup_check_work(struct varlena *v)
{
	const DupWork *w = (const DupWork *) v;
	int32		i;

	if (VARSIZE(v) < DUP_HDRSZ)
		quality_corrupt(DUP_TYPE, "value is too short");
	if (w->n < 0 || w->rcap < w->n || w->arena_len < 0 || w->tolerance < 0 ||
		(Size) w->rcap > (VARSIZE(v) - DUP_HDRSZ) / sizeof(DupRecord) ||
		w->arena_len > DUP_WORK_ARENA_CAP(w))
		quality_corrupt(DUP_TYPE, "counts do not match the size");
	for (i = 0; i < w->n; i++)
		if ((int64) w->records[i].off + w->records[i].len > w->arena_len)
			quality_corrupt(DUP_TYPE, "fingerprint outside the value");
	return w;
}

static void
dup_view(Datum d, DupView *view)
{
	struct varlena *v = PG_DETOAST_DATUM(d);

	if (VARSIZE(v) > VARHDRSZ && ((uint8 *) VARDATA(v))[0] == QUALITY_WORK_DUP)
	{
		const DupWork *w = dup_check_work(v);

		view->tolerance = w->tolerance;
		view->n = w->n;
		view->records = w->records;
		view->arena = DUP_WORK_ARENA(w);
		view->arena_len = w->arena_len;
	}
	else
	{
		const DupFlat *f = dup_check_flat(v);

		view->tolerance = f->tolerance;
		view->n = f->n;
		view->records = f->records;
		view->arena = (const char *) f->records + sizeof(DupRecord) * f->n;
		view->arena_len = f->arena_len;
	}
}

struct varlena *
dup_work_flatten(struct varlena *work)
{
	DupView		v;
	Size		size;
	DupFlat    *f;

	dup_view(PointerGetDatum(work), &v);
	size = DUP_HDRSZ + sizeof(DupRecord) * (Size) v.n + (Size) v.arena_len;
	f = palloc(size);
	memset(f, 0, DUP_HDRSZ);
	SET_VARSIZE(f, size);
	f->version = QUALITY_STATE_VERSION;
	f->n = v.n;
	f->tolerance = v.tolerance;
	f->arena_len = v.arena_len;
	if (v.n > 0)
		memcpy(f->records, v.records, sizeof(DupRecord) * v.n);
	if (v.arena_len > 0)
		memcpy((char *) f->records + sizeof(DupRecord) * v.n, v.arena,
			   v.arena_len);
	return (struct varlena *) f;
}

/*
 * A new working state (current memory context) with room for rcap records
 * and at least acap fingerprint bytes; the allocator's rounding up goes to
 * the arena.
 */
static DupWork *
dup_work_new(int64 tolerance, int64 rcap, int64 acap)
{
	DupWork    *w;
	Size		need = DUP_HDRSZ + sizeof(DupRecord) * (Size) rcap + (Size) acap;

	w = (DupWork *) quality_work_alloc(need, need, QUALITY_WORK_DUP, DUP_TYPE);
	w->rcap = (int32) rcap;
	w->tolerance = tolerance;
	return w;
}

/*
 * Append one record to working state w; returns the state to keep (w, or
 * a larger copy with the full array doubled, in the current memory context).
 */
static inline DupWork *
dup_add(DupWork *w, uint64 hash, int64 ts, const char *bytes, int32 len)
{
	if (w->n >= w->rcap || w->arena_len + len > DUP_WORK_ARENA_CAP(w))
	{
		int64		rcap = w->rcap;
		int64		acap = DUP_WORK_ARENA_CAP(w);
		DupWork    *nw;

		if (w->n >= rcap)
			rcap = Max(2 * rcap, 2);
		if (w->arena_len + len > acap)
			acap = Max(2 * acap, w->arena_len + len);
		/* Room for rcap fingerprints as long as those seen so far. */
		acap = Max(acap, (w->arena_len + len) * rcap / (w->n + 1));
		if (DUP_HDRSZ + (int64) sizeof(DupRecord) * rcap + acap > (int64) MaxAllocSize)
		{
			/*
			 * Near the 1 GB limit: room for what is needed now, and what is
			 * left shared in the proportion of the records so far.
			 */
			int64		avg = (w->arena_len + len) / (w->n + 1);
			int64		left;

			rcap = Max(w->rcap, (int64) w->n + 1);
			acap = w->arena_len + len;
			left = (int64) MaxAllocSize - DUP_HDRSZ -
				(int64) sizeof(DupRecord) * rcap - acap;
			if (left > 0)
			{
				rcap += left / ((int64) sizeof(DupRecord) + avg);
				acap += avg * (left / ((int64) sizeof(DupRecord) + avg));
			}
		}
		nw = dup_work_new(w->tolerance, rcap, acap);
		nw->n = w->n;
		nw->arena_len = w->arena_len;
		memcpy(nw->records, w->records, sizeof(DupRecord) * w->n);
		memcpy(DUP_WORK_ARENA(nw), DUP_WORK_ARENA(w), w->arena_len);
		w = nw;
	}
	w->records[w->n].hash = hash;
	w->records[w->n].ts = ts;
	w->records[w->n].off = (uint32) w->arena_len;
	w->records[w->n].len = (uint32) len;
	w->n++;
	if (len > 0)
		memcpy(DUP_WORK_ARENA(w) + w->arena_len, bytes, len);
	w->arena_len += len;
	return w;
}

/*
 * Append every record of view v to working state w; returns the state (w,
 * or a copy with room for both, in the current memory context).
 */
static DupWork *
dup_add_view(DupWork *w, const DupView *v)
{
	DupRecord  *r;
	int32		i;

	if (v->n == 0)
		return w;
	if ((int64) w->n + v->n > w->rcap ||
		w->arena_len + v->arena_len > DUP_WORK_ARENA_CAP(w))
	{
		DupWork    *nw;
		int64		rcap = Max((int64) w->n + v->n, 2 * (int64) w->rcap);
		int64		acap = Max(w->arena_len + v->arena_len, 2 * DUP_WORK_ARENA_CAP(w));

		/* Geometric growth, but never past what a varlena can hold. */
		if (DUP_HDRSZ + (int64) sizeof(DupRecord) * rcap + acap > (int64) MaxAllocSize)
		{
			rcap = (int64) w->n + v->n;
			acap = w->arena_len + v->arena_len;
		}

		if (rcap > PG_INT32_MAX || acap > PG_UINT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s state would exceed 1 GB", DUP_TYPE),
					 errhint("Aggregate smaller groups.")));
		nw = dup_work_new(w->tolerance, rcap, acap);
		nw->n = w->n;
		nw->arena_len = w->arena_len;
		memcpy(nw->records, w->records, sizeof(DupRecord) * w->n);
		memcpy(DUP_WORK_ARENA(nw), DUP_WORK_ARENA(w), w->arena_len);
		w = nw;
	}
	r = w->records + w->n;
	memcpy(r, v->records, sizeof(DupRecord) * v->n);
	for (i = 0; i < v->n; i++)
		r[i].off += (uint32) w->arena_len;
	if (v->arena_len > 0)
		memcpy(DUP_WORK_ARENA(w) + w->arena_len, v->arena, v->arena_len);
	w->n += v->n;
	w->arena_len += v->arena_len;
	return w;
}

/*
 * The state of argument argno, ready to be modified in place: the
 * aggregate's working state, or a new one (current memory context), sized
 * for one record of first_len bytes when the argument is NULL.
 */
static DupWork *
dup_for_update(FunctionCallInfo fcinfo, int argno, int64 tolerance,
			   int32 first_len)
{
	DupWork    *w;
	DupView		v;

	w = (DupWork *) quality_work_arg(fcinfo, argno, QUALITY_WORK_DUP);
	if (w)
		return w;
	if (PG_ARGISNULL(argno))
		return dup_work_new(tolerance, 1, first_len);
	dup_view(PG_GETARG_DATUM(argno), &v);
	w = dup_work_new(v.tolerance, v.n, v.arena_len);
	return dup_add_view(w, &v);
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
	DupWork    *w;
	text	   *fp;
	TimestampTz ts;
	int64		tol;

	/* The checks of every row, inline; the calls only to raise errors. */
	if (unlikely(fcinfo->context == NULL ||
				 !(IsA(fcinfo->context, AggState) ||
				   IsA(fcinfo->context, WindowAggState))))
		quality_agg_context(fcinfo, "near_duplicate_count");
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tolerance must not be NULL"),
				 errhint("Pass how close two events must be to count as one, e.g. interval '2 seconds'.")));
	{
		const Interval *iv = PG_GETARG_INTERVAL_P(3);

		/* A tolerance of seconds needs no overflow checks. */
		if (iv->month == 0 && iv->day == 0)
			tol = iv->time;
		else
			tol = quality_interval_usec(iv, "tolerance");
	}
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
	if (unlikely(TIMESTAMP_NOT_FINITE(ts)))
		quality_check_finite(ts, "event time");
	fp = PG_GETARG_TEXT_PP(1);

	/* The aggregate's own working state (quality_work_arg, inline). */
	w = NULL;
	if (!PG_ARGISNULL(0))
	{
		struct varlena *v = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(0));

		if (VARATT_IS_4B_U(v) && VARSIZE(v) >= DUP_HDRSZ &&
			((uint8 *) VARDATA(v))[0] == QUALITY_WORK_DUP)
			w = (DupWork *) v;
	}
	if (w == NULL)
		w = dup_for_update(fcinfo, 0, tol, VARSIZE_ANY_EXHDR(fp));
	check_tolerance(w->tolerance, tol);
	w = dup_add(w,
				hash_bytes_extended((const unsigned char *) VARDATA_ANY(fp),
									VARSIZE_ANY_EXHDR(fp), 0),
				ts, VARDATA_ANY(fp), VARSIZE_ANY_EXHDR(fp));
	PG_RETURN_POINTER(w);
}

PG_FUNCTION_INFO_V1(apivalue_near_duplicate_combine);
Datum
apivalue_near_duplicate_combine(PG_FUNCTION_ARGS)
{
	DupWork    *w;
	DupView		v;

	quality_agg_context(fcinfo, "near_duplicate_count");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0))
	{
		struct varlena *first = PG_DETOAST_DATUM(PG_GETARG_DATUM(1));

		/*
		 * The first state of a group becomes the transition value as it is:
		 * the executor copies it into the aggregate context (it differs from
		 * the NULL before), the one copy it needs.  Checked first.
		 */
		dup_view(PointerGetDatum(first), &v);
		PG_RETURN_POINTER(first);
	}
	dup_view(PG_GETARG_DATUM(1), &v);
	w = dup_for_update(fcinfo, 0, v.tolerance, 0);
	check_tolerance(w->tolerance, v.tolerance);
	w = dup_add_view(w, &v);
	PG_RETURN_POINTER(w);
}

/* Full order of records: fingerprint (hash, length, bytes), then time. */
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

/*
 * Records by (hash, time) only, from PostgreSQL's sort template with the
 * comparison inlined: fingerprints of equal hash are then almost always
 * equal, and a run of one hash holding several fingerprints is sorted
 * again in full (cmp_record).
 */
static inline int
dup_cmp_hash_ts(const DupRecord *x, const DupRecord *y)
{
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return (x->ts > y->ts) - (x->ts < y->ts);
}

#define ST_SORT dup_sort_hash_ts
#define ST_ELEMENT_TYPE DupRecord
#define ST_COMPARE(a, b) dup_cmp_hash_ts(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * dst[0..n-1]: the records of src in (hash, time) order.  Large states are
 * first distributed by the top bits of the hash (uniform: a counting sort,
 * two passes) into buckets of about eight records, each then sorted; the
 * order is the same as one sort of the whole.
 */
static void
dup_sort_records(DupRecord *dst, const DupRecord *src, int32 n)
{
	int			bits;
	int32		nb;
	int32	   *pos;
	int32		b;
	int32		i;
	int32		from;

	if (n < 64)
	{
		memcpy(dst, src, sizeof(DupRecord) * n);
		dup_sort_hash_ts(dst, n);
		return;
	}
	bits = Min(pg_leftmost_one_pos32((uint32) n) - 2, 20);
	nb = (int32) 1 << bits;
	pos = palloc0_array(int32, nb + 1);
	for (i = 0; i < n; i++)
		pos[(src[i].hash >> (64 - bits)) + 1]++;
	for (b = 0; b < nb; b++)
		pos[b + 1] += pos[b];
	/* pos[b]: where bucket b's next record goes; at the end, its end. */
	for (i = 0; i < n; i++)
		dst[pos[src[i].hash >> (64 - bits)]++] = src[i];
	from = 0;
	for (b = 0; b < nb; b++)
	{
		if (pos[b] - from > 1)
			dup_sort_hash_ts(dst + from, pos[b] - from);
		from = pos[b];
	}
	pfree(pos);
}

static inline bool
dup_same_fingerprint(const DupRecord *x, const DupRecord *y, const char *arena)
{
	return x->hash == y->hash && x->len == y->len &&
		memcmp(arena + x->off, arena + y->off, x->len) == 0;
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
	int32		start;

	if (PG_ARGISNULL(0))
		PG_RETURN_INT64(0);
	dup_view(PG_GETARG_DATUM(0), &v);
	if (v.n < 2)
		PG_RETURN_INT64(0);
	/* Sort a copy: the state stays as the executor handed it. */
	r = palloc_array(DupRecord, v.n);
	dup_sort_records(r, v.records, v.n);

	/*
	 * Runs of one hash: when every record of the run has the first one's
	 * fingerprint, it is in time order; else (two fingerprints with one
	 * 64-bit hash) sort the run by fingerprint, then time.
	 */
	for (start = 0; start < v.n; start = i)
	{
		bool		mixed = false;
		int32		j;

		for (i = start + 1; i < v.n && r[i].hash == r[start].hash; i++)
			if (!mixed && !dup_same_fingerprint(&r[i], &r[start], v.arena))
				mixed = true;
		if (mixed)
			qsort_arg(r + start, i - start, sizeof(DupRecord), cmp_record,
					  (void *) v.arena);
		for (j = start + 1; j < i; j++)
			if (r[j].ts - r[j - 1].ts <= v.tolerance &&
				(!mixed || dup_same_fingerprint(&r[j], &r[j - 1], v.arena)))
				count++;
	}
	pfree(r);
	PG_RETURN_INT64(count);
}
