/*-------------------------------------------------------------------------
 *
 * usage_latency.c
 *	  latency_summary: a mergeable per-endpoint latency and error summary.
 *
 * The summary answers "how many calls, how many failed, how slow" for one
 * group of calls, and rolls up: summaries of days, partitions or Citus
 * workers merge into exactly the summary of all their calls, because the
 * state holds only integer counts on fixed bucket boundaries:
 *
 *	- calls per status class: 1xx, 2xx, 3xx, 4xx, 5xx, other (outside
 *	  100-599), unknown (NULL status);
 *	- a latency histogram with fixed log-scale buckets: bucket k holds the
 *	  latencies v (milliseconds) with gamma^(k-1) < v <= gamma^k, where
 *	  gamma = (1 + a) / (1 - a) and a = 0.01.  Reading a bucket as
 *	  2 gamma^k / (gamma + 1) is within a relative error a (1 %) of every
 *	  value in it (the DDSketch construction).  Latencies below 1 ns
 *	  (1e-6 ms) share a "zero" bucket read as 0; latencies above 1e12 ms are
 *	  rejected, so keys stay within [-690, 1382];
 *	- the exact minimum and maximum latency (merging them is exact too).
 *
 * The state is the SQL type itself (a varlena with in/out/send/recv), so
 * Citus can ship partial summaries from workers, and a summary can be
 * stored in a table and rolled up later.  The stored (canonical) form holds
 * a dense window of buckets [lo, lo + nbuckets), empty buckets trimmed at
 * both ends, so equal summaries print equally.
 *
 * During aggregation the state takes one of two forms, updated in place
 * (it lives in the aggregate context):
 *
 *	- sparse (flags LATSUM_SPARSE), the first form of every group: the keys
 *	  of its latencies as a list of int16, one per latency, in 128, then 256,
 *	  then 512 bytes.  Most groups of a GROUP BY endpoint are a handful of
 *	  calls; for them a dense window would be mostly empty, would be
 *	  reallocated each time a latency falls outside it, and its size is what
 *	  fills memory (and the CPU caches) when there are 100k groups;
 *	- dense: the window of buckets, with spare room on both sides, that a
 *	  sparse state becomes when its list is full (208 latencies) or when it
 *	  merges a dense summary; it only reallocates, geometrically, when a
 *	  latency falls outside the window.
 *
 * The sparse form is an in-memory form only: the final function, output,
 * send and direct calls of the combine function return the canonical dense
 * form, and input and receive reject any flag, so it is never stored.  It
 * crosses processes only as a partial aggregate of a parallel plan (the same
 * library on both sides).  Both forms count in the same buckets, so results
 * are the same to the bit.
 *
 * Cost: O(1) per row (one log()), memory O(latencies) up to 512 bytes, then
 * O(buckets spanned), at most 2073 buckets (16 kB) whatever the number of
 * rows.
 *
 * src/usage_latency.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#define LATSUM_VERSION		1

/* Relative error a of a bucket's reading; gamma = (1 + a) / (1 - a). */
#define LATSUM_ALPHA		0.01
#define LATSUM_GAMMA		(1.01 / 0.99)

/* Latencies below this many ms go to the zero bucket (read as 0). */
#define LATSUM_ZERO_LIMIT	1e-6
/* Latencies above this many ms (about 31.7 years) are rejected. */
#define LATSUM_MAX_MS		1e12

/* Keys of LATSUM_ZERO_LIMIT and LATSUM_MAX_MS, with one of slack each side. */
#define LATSUM_KEY_MIN		(-691)
#define LATSUM_KEY_MAX		1383
#define LATSUM_MAX_BUCKETS	(LATSUM_KEY_MAX - LATSUM_KEY_MIN + 1)

/* Smallest dense window, in buckets (about 37 % of latency range). */
#define LATSUM_FIRST_WINDOW 16

/*
 * flags: the state is in the sparse form (aggregation only, never stored).
 * Sparse sizes are whole allocator chunks: 128, 256, then 512 bytes.
 */
#define LATSUM_SPARSE		0x01
#define LATSUM_SPARSE_FIRST_SIZE	128
#define LATSUM_SPARSE_MAX_SIZE		512

/* Status classes, in the order of the status[] counters. */
#define LATSUM_NCLASSES		7
#define LATSUM_OTHER		5
#define LATSUM_UNKNOWN		6

static const char *const class_names[LATSUM_NCLASSES] = {
	"1xx", "2xx", "3xx", "4xx", "5xx", "other", "unknown"
};

typedef struct LatencySummary
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint8		version;		/* LATSUM_VERSION */
	uint8		flags;			/* 0; LATSUM_SPARSE during aggregation only */
	uint16		unused;
	int32		lo;				/* key of counts[0] (dense); 0 (sparse) */
	int32		nbuckets;		/* length of counts[] (dense); number of
								 * keys (sparse) */
	int64		status[LATSUM_NCLASSES];	/* calls per status class */
	int64		zero;			/* latencies below LATSUM_ZERO_LIMIT */
	double		min;			/* smallest latency (0 when none) */
	double		max;			/* largest latency (0 when none) */
	int64		counts[FLEXIBLE_ARRAY_MEMBER];	/* bucket lo + i (dense); the
												 * keys as int16 (sparse) */
} LatencySummary;

#define LATSUM_HDRSZ		offsetof(LatencySummary, counts)
#define LATSUM_SIZE(n)		(LATSUM_HDRSZ + sizeof(int64) * (Size) (n))

/*
 * Whether a summary has a latency.  Windows are only created (and kept, in
 * the canonical form) around latencies, so any bucket means a latency.
 */
#define LATSUM_HAS_LATENCY(s) ((s)->zero > 0 || (s)->nbuckets > 0)

#define LATSUM_IS_SPARSE(s)	(((s)->flags & LATSUM_SPARSE) != 0)
#define LATSUM_KEYS(s)		((int16 *) (s)->counts)
#define LATSUM_SPARSE_CAP(s) ((int32) ((VARSIZE(s) - LATSUM_HDRSZ) / sizeof(int16)))

/* A summary argument in either form (aggregate support functions). */
#define PG_GETARG_LATSUM_ANY(n) ((LatencySummary *) PG_DETOAST_DATUM(PG_GETARG_DATUM(n)))
/* A summary argument in the dense form (accessors). */
#define PG_GETARG_LATSUM(n) latsum_dense_arg(PG_GETARG_DATUM(n))

static double inv_log_gamma = 0.0;

/* Key of the bucket holding latency v >= LATSUM_ZERO_LIMIT. */
static inline int32
latsum_key(double v)
{
	if (inv_log_gamma == 0.0)
		inv_log_gamma = 1.0 / log(LATSUM_GAMMA);
	return (int32) ceil(log(v) * inv_log_gamma);
}

/* The reading of bucket key k: within LATSUM_ALPHA of all its values. */
static inline double
latsum_bucket_value(int32 k)
{
	return pow(LATSUM_GAMMA, (double) k) * 2.0 / (LATSUM_GAMMA + 1.0);
}

static LatencySummary *
latsum_alloc(int32 lo, int32 nbuckets)
{
	LatencySummary *s = palloc0(LATSUM_SIZE(nbuckets));

	SET_VARSIZE(s, LATSUM_SIZE(nbuckets));
	s->version = LATSUM_VERSION;
	s->lo = lo;
	s->nbuckets = nbuckets;
	return s;
}

/* An empty sparse summary of size bytes (a LATSUM_SPARSE_* size). */
static LatencySummary *
latsum_alloc_sparse(Size size)
{
	LatencySummary *s = palloc0(size);

	SET_VARSIZE(s, size);
	s->version = LATSUM_VERSION;
	s->flags = LATSUM_SPARSE;
	return s;
}

static int64
latsum_calls(const LatencySummary *s)
{
	int64		n = 0;

	for (int i = 0; i < LATSUM_NCLASSES; i++)
		n += s->status[i];
	return n;
}

static int64
latsum_latency_count(const LatencySummary *s)
{
	int64		n = s->zero;

	if (LATSUM_IS_SPARSE(s))
		return n + s->nbuckets;
	for (int32 i = 0; i < s->nbuckets; i++)
		n += s->counts[i];
	return n;
}

/*
 * A copy of s with its bucket window widened to cover [lo, hi] (keys), in
 * the current memory context.  Spare room of the window's own size is added
 * on the side that grows, so a drifting latency costs O(log range) copies.
 */
static LatencySummary *
latsum_widen(const LatencySummary *s, int32 lo, int32 hi)
{
	int32		olo = s->lo;
	int32		ohi = s->lo + s->nbuckets - 1;
	int32		span;
	int32		nlo,
				nhi;
	LatencySummary *r;

	if (s->nbuckets > 0)
	{
		lo = Min(lo, olo);
		hi = Max(hi, ohi);
	}
	span = Max(hi - lo + 1, LATSUM_FIRST_WINDOW);
	nlo = lo;
	nhi = hi;
	if (s->nbuckets == 0 || lo < olo)
		nlo = lo - span / 2;
	if (s->nbuckets == 0 || hi > ohi)
		nhi = hi + span / 2;
	nlo = Max(nlo, LATSUM_KEY_MIN);
	nhi = Min(nhi, LATSUM_KEY_MAX);

	r = latsum_alloc(nlo, nhi - nlo + 1);
	memcpy(((char *) r) + VARHDRSZ, ((const char *) s) + VARHDRSZ,
		   LATSUM_HDRSZ - VARHDRSZ);
	r->lo = nlo;
	r->nbuckets = nhi - nlo + 1;
	if (s->nbuckets > 0)
		memcpy(r->counts + (olo - nlo), s->counts, sizeof(int64) * (Size) s->nbuckets);
	return r;
}

/*
 * The dense form of sparse summary s, in the current memory context: a
 * window covering its keys and, when lo <= hi, the keys [lo, hi] too.  With
 * spare, room of the window's own size is added as latsum_widen adds it (the
 * state goes on growing); without, the window is exactly the occupied keys
 * (the canonical form).
 */
static LatencySummary *
latsum_from_sparse(const LatencySummary *s, int32 lo, int32 hi, bool spare)
{
	const int16 *keys = LATSUM_KEYS(s);
	int32		n = s->nbuckets;
	int32		klo = lo,
				khi = hi;
	int32		nlo,
				nhi;
	LatencySummary *r;

	for (int32 i = 0; i < n; i++)
	{
		if (klo > khi)
			klo = khi = keys[i];
		else if (keys[i] < klo)
			klo = keys[i];
		else if (keys[i] > khi)
			khi = keys[i];
	}
	if (klo > khi)
		r = latsum_alloc(0, 0);
	else
	{
		nlo = klo;
		nhi = khi;
		if (spare)
		{
			int32		span = Max(khi - klo + 1, LATSUM_FIRST_WINDOW);

			nlo = Max(klo - span / 2, LATSUM_KEY_MIN);
			nhi = Min(khi + span / 2, LATSUM_KEY_MAX);
		}
		r = latsum_alloc(nlo, nhi - nlo + 1);
		for (int32 i = 0; i < n; i++)
			r->counts[keys[i] - nlo]++;
	}
	memcpy(r->status, s->status, sizeof(s->status));
	r->zero = s->zero;
	r->min = s->min;
	r->max = s->max;
	return r;
}

/* A copy of s without empty buckets at either end (the canonical form). */
static LatencySummary *
latsum_trimmed(const LatencySummary *s)
{
	int32		first = 0;
	int32		last = s->nbuckets - 1;
	LatencySummary *r;

	if (LATSUM_IS_SPARSE(s))
		return latsum_from_sparse(s, 1, 0, false);

	while (first <= last && s->counts[first] == 0)
		first++;
	while (last >= first && s->counts[last] == 0)
		last--;
	r = latsum_alloc(first <= last ? s->lo + first : 0, last - first + 1);
	memcpy(((char *) r) + VARHDRSZ, ((const char *) s) + VARHDRSZ,
		   offsetof(LatencySummary, lo) - VARHDRSZ);
	memcpy(r->status, s->status, sizeof(s->status));
	r->zero = s->zero;
	r->min = s->min;
	r->max = s->max;
	if (r->nbuckets > 0)
		memcpy(r->counts, s->counts + first, sizeof(int64) * (Size) r->nbuckets);
	return r;
}

/*
 * A summary argument detoasted, in the dense form: accessors, output and
 * send read windows of counts.  Only the aggregate's own support functions
 * see sparse states, but a partial state is a datum like any other, so
 * readers convert rather than trust.
 */
static LatencySummary *
latsum_dense_arg(Datum d)
{
	LatencySummary *s = (LatencySummary *) PG_DETOAST_DATUM(d);

	if (LATSUM_IS_SPARSE(s))
		s = latsum_trimmed(s);
	return s;
}

static void
latsum_corrupt(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid latency_summary value"),
			 errdetail("%s", detail)));
}

/*
 * Check every invariant of a summary that came from outside (text or
 * binary input): counts non-negative and without overflow, keys in range,
 * no more latencies than calls, min and max finite, ordered and consistent
 * with the occupied buckets (to one bucket, allowing for another libm).
 */
static void
latsum_validate(const LatencySummary *s)
{
	int64		calls = 0;
	int64		nlat = 0;
	int32		first = -1,
				last = -1;

	if (s->version != LATSUM_VERSION)
		latsum_corrupt(psprintf("unknown version %d", (int) s->version));
	if (s->flags != 0)
		latsum_corrupt(psprintf("unknown flags %d", (int) s->flags));
	if (s->nbuckets < 0 || s->nbuckets > LATSUM_MAX_BUCKETS)
		latsum_corrupt(psprintf("bucket count %d is out of range", s->nbuckets));
	if (s->nbuckets > 0 &&
		(s->lo < LATSUM_KEY_MIN || s->lo > LATSUM_KEY_MAX ||
		 s->lo + s->nbuckets - 1 > LATSUM_KEY_MAX))
		latsum_corrupt(psprintf("bucket keys %d to %d are out of range [%d, %d]",
								s->lo, s->lo + s->nbuckets - 1,
								LATSUM_KEY_MIN, LATSUM_KEY_MAX));
	for (int i = 0; i < LATSUM_NCLASSES; i++)
	{
		if (s->status[i] < 0)
			latsum_corrupt("a status count is negative");
		if (pg_add_s64_overflow(calls, s->status[i], &calls))
			latsum_corrupt("the call count overflows");
	}
	if (s->zero < 0)
		latsum_corrupt("the zero-latency count is negative");
	nlat = s->zero;
	for (int32 i = 0; i < s->nbuckets; i++)
	{
		if (s->counts[i] < 0)
			latsum_corrupt("a bucket count is negative");
		if (pg_add_s64_overflow(nlat, s->counts[i], &nlat))
			latsum_corrupt("the latency count overflows");
		if (s->counts[i] > 0)
		{
			if (first < 0)
				first = s->lo + i;
			last = s->lo + i;
		}
	}
	if (nlat > calls)
		latsum_corrupt("more latencies than calls");
	if (isnan(s->min) || isnan(s->max) || isinf(s->min) || isinf(s->max))
		latsum_corrupt("min and max latency must be finite");
	if (nlat == 0)
	{
		if (s->min != 0.0 || s->max != 0.0)
			latsum_corrupt("min and max latency must be 0 without latencies");
		return;
	}
	if (s->min < 0.0 || s->min > s->max || s->max > LATSUM_MAX_MS)
		latsum_corrupt("min and max latency are out of order or out of range");
	/* min sits in the first occupied bucket, max in the last */
	if (s->zero > 0)
	{
		if (s->min >= LATSUM_ZERO_LIMIT)
			latsum_corrupt("min latency does not match the zero bucket");
	}
	else if (s->min < LATSUM_ZERO_LIMIT || abs(latsum_key(s->min) - first) > 1)
		latsum_corrupt("min latency does not match the first occupied bucket");
	if (last < 0)
	{
		if (s->max >= LATSUM_ZERO_LIMIT)
			latsum_corrupt("max latency does not match the zero bucket");
	}
	else if (s->max < LATSUM_ZERO_LIMIT || abs(latsum_key(s->max) - last) > 1)
		latsum_corrupt("max latency does not match the last occupied bucket");
}

/* ---------- text form: JSON with a fixed key order ---------- */

/*
 * The text form is a JSON object, so a BI tool can show it and a person can
 * read it:
 *	{"version":1,"status":[1xx,2xx,3xx,4xx,5xx,other,unknown],"zero":z,
 *	 "min":m,"max":M,"lo":k,"counts":[c0,c1,...]}
 * Floats are written in the shortest form that reads back exactly.
 */
PG_FUNCTION_INFO_V1(apivalue_latency_summary_out);
Datum
apivalue_latency_summary_out(PG_FUNCTION_ARGS)
{
	LatencySummary *s = latsum_trimmed(PG_GETARG_LATSUM(0));
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"version\":%d,\"status\":[", (int) s->version);
	for (int i = 0; i < LATSUM_NCLASSES; i++)
		appendStringInfo(&buf, "%s" INT64_FORMAT, i ? "," : "", s->status[i]);
	appendStringInfo(&buf, "],\"zero\":" INT64_FORMAT ",\"min\":%s,\"max\":%s,\"lo\":%d,\"counts\":[",
					 s->zero, float8out_internal(s->min), float8out_internal(s->max),
					 s->lo);
	for (int32 i = 0; i < s->nbuckets; i++)
		appendStringInfo(&buf, "%s" INT64_FORMAT, i ? "," : "", s->counts[i]);
	appendStringInfoString(&buf, "]}");
	PG_RETURN_CSTRING(buf.data);
}

typedef struct LatsumParser
{
	const char *p;
	const char *input;
} LatsumParser;

static void
latsum_syntax(LatsumParser *ps, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type latency_summary: \"%s\"", ps->input),
			 errdetail("Expected %s at character %d.", expected,
					   (int) (ps->p - ps->input) + 1)));
}

static void
latsum_skip_space(LatsumParser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static void
latsum_expect(LatsumParser *ps, const char *token)
{
	size_t		len = strlen(token);

	latsum_skip_space(ps);
	if (strncmp(ps->p, token, len) != 0)
		latsum_syntax(ps, psprintf("'%s'", token));
	ps->p += len;
}

/* An optionally signed decimal integer. */
static int64
latsum_int(LatsumParser *ps)
{
	const char *start;
	int64		v = 0;
	bool		neg = false;

	latsum_skip_space(ps);
	start = ps->p;
	if (*ps->p == '-')
	{
		neg = true;
		ps->p++;
	}
	if (!isdigit((unsigned char) *ps->p))
		latsum_syntax(ps, "an integer");
	while (isdigit((unsigned char) *ps->p))
	{
		if (pg_mul_s64_overflow(v, 10, &v) ||
			pg_sub_s64_overflow(v, *ps->p - '0', &v))
		{
			ps->p = start;
			latsum_syntax(ps, "an integer within the bigint range");
		}
		ps->p++;
	}
	if (!neg)
	{
		if (v == PG_INT64_MIN)
		{
			ps->p = start;
			latsum_syntax(ps, "an integer within the bigint range");
		}
		v = -v;
	}
	return v;
}

/* A JSON number read as float8 (finite only). */
static double
latsum_float(LatsumParser *ps)
{
	const char *start;
	char	   *end;
	double		v;

	latsum_skip_space(ps);
	start = ps->p;
	if (!(*start == '-' || isdigit((unsigned char) *start)))
		latsum_syntax(ps, "a number");
	errno = 0;
	v = strtod(start, &end);
	if (end == start || errno == ERANGE || isnan(v) || isinf(v))
		latsum_syntax(ps, "a finite number");
	ps->p = end;
	return v;
}

PG_FUNCTION_INFO_V1(apivalue_latency_summary_in);
Datum
apivalue_latency_summary_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	LatsumParser ps = {str, str};
	LatencySummary head;
	LatencySummary *s;
	int64		version;
	int64		lo;
	int32		n = 0;
	int32		cap = 16;
	int64	   *counts;

	memset(&head, 0, sizeof(head));
	latsum_expect(&ps, "{");
	latsum_expect(&ps, "\"version\"");
	latsum_expect(&ps, ":");
	version = latsum_int(&ps);
	if (version != LATSUM_VERSION)
		latsum_corrupt(psprintf("unknown version " INT64_FORMAT, version));
	latsum_expect(&ps, ",");
	latsum_expect(&ps, "\"status\"");
	latsum_expect(&ps, ":");
	latsum_expect(&ps, "[");
	for (int i = 0; i < LATSUM_NCLASSES; i++)
	{
		if (i > 0)
			latsum_expect(&ps, ",");
		head.status[i] = latsum_int(&ps);
	}
	latsum_expect(&ps, "]");
	latsum_expect(&ps, ",");
	latsum_expect(&ps, "\"zero\"");
	latsum_expect(&ps, ":");
	head.zero = latsum_int(&ps);
	latsum_expect(&ps, ",");
	latsum_expect(&ps, "\"min\"");
	latsum_expect(&ps, ":");
	head.min = latsum_float(&ps);
	latsum_expect(&ps, ",");
	latsum_expect(&ps, "\"max\"");
	latsum_expect(&ps, ":");
	head.max = latsum_float(&ps);
	latsum_expect(&ps, ",");
	latsum_expect(&ps, "\"lo\"");
	latsum_expect(&ps, ":");
	lo = latsum_int(&ps);
	latsum_expect(&ps, ",");
	latsum_expect(&ps, "\"counts\"");
	latsum_expect(&ps, ":");
	latsum_expect(&ps, "[");
	counts = palloc(sizeof(int64) * cap);
	latsum_skip_space(&ps);
	if (*ps.p != ']')
	{
		for (;;)
		{
			if (n >= LATSUM_MAX_BUCKETS)
				latsum_corrupt(psprintf("more than %d buckets", LATSUM_MAX_BUCKETS));
			if (n >= cap)
			{
				cap *= 2;
				counts = repalloc(counts, sizeof(int64) * cap);
			}
			counts[n++] = latsum_int(&ps);
			latsum_skip_space(&ps);
			if (*ps.p != ',')
				break;
			ps.p++;
		}
	}
	latsum_expect(&ps, "]");
	latsum_expect(&ps, "}");
	latsum_skip_space(&ps);
	if (*ps.p != '\0')
		latsum_syntax(&ps, "the end of the input");
	if (n > 0 && (lo < LATSUM_KEY_MIN || lo > LATSUM_KEY_MAX))
		latsum_corrupt(psprintf("bucket key " INT64_FORMAT " is out of range [%d, %d]",
								lo, LATSUM_KEY_MIN, LATSUM_KEY_MAX));

	s = latsum_alloc(n > 0 ? (int32) lo : 0, n);
	memcpy(s->status, head.status, sizeof(head.status));
	s->zero = head.zero;
	s->min = head.min;
	s->max = head.max;
	if (n > 0)
		memcpy(s->counts, counts, sizeof(int64) * (Size) n);
	latsum_validate(s);
	PG_RETURN_POINTER(latsum_trimmed(s));
}

/* ---------- binary form ---------- */

/*
 * Binary form: version byte, the seven status counts, the zero count,
 * min, max (float8), lo, nbuckets (int32), then the bucket counts.
 */
PG_FUNCTION_INFO_V1(apivalue_latency_summary_send);
Datum
apivalue_latency_summary_send(PG_FUNCTION_ARGS)
{
	LatencySummary *s = latsum_trimmed(PG_GETARG_LATSUM(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, s->version);
	for (int i = 0; i < LATSUM_NCLASSES; i++)
		pq_sendint64(&buf, s->status[i]);
	pq_sendint64(&buf, s->zero);
	pq_sendfloat8(&buf, s->min);
	pq_sendfloat8(&buf, s->max);
	pq_sendint32(&buf, s->lo);
	pq_sendint32(&buf, s->nbuckets);
	for (int32 i = 0; i < s->nbuckets; i++)
		pq_sendint64(&buf, s->counts[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(apivalue_latency_summary_recv);
Datum
apivalue_latency_summary_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	LatencySummary head;
	LatencySummary *s;
	int			version;
	int32		lo,
				n;

	memset(&head, 0, sizeof(head));
	if (buf->len - buf->cursor < 1)
		latsum_corrupt("the value is empty");
	version = pq_getmsgbyte(buf);
	if (version != LATSUM_VERSION)
		latsum_corrupt(psprintf("unknown version %d", version));
	if (buf->len - buf->cursor < (int) (8 * (LATSUM_NCLASSES + 3) + 8))
		latsum_corrupt("the value is too short");
	for (int i = 0; i < LATSUM_NCLASSES; i++)
		head.status[i] = pq_getmsgint64(buf);
	head.zero = pq_getmsgint64(buf);
	head.min = pq_getmsgfloat8(buf);
	head.max = pq_getmsgfloat8(buf);
	lo = (int32) pq_getmsgint(buf, 4);
	n = (int32) pq_getmsgint(buf, 4);
	if (n < 0 || n > LATSUM_MAX_BUCKETS)
		latsum_corrupt(psprintf("bucket count %d is out of range", n));
	if ((int64) (buf->len - buf->cursor) != (int64) n * 8)
		latsum_corrupt(psprintf("%d buckets need %d bytes, the value has %d",
								n, n * 8, buf->len - buf->cursor));
	s = latsum_alloc(n > 0 ? lo : 0, n);
	memcpy(s->status, head.status, sizeof(head.status));
	s->zero = head.zero;
	s->min = head.min;
	s->max = head.max;
	for (int32 i = 0; i < n; i++)
		s->counts[i] = pq_getmsgint64(buf);
	pq_getmsgend(buf);
	latsum_validate(s);
	PG_RETURN_POINTER(latsum_trimmed(s));
}

/* ---------- aggregation ---------- */

/*
 * The transition state as a writable summary: the incoming state itself
 * when it is ours to modify (inside an aggregate, where it lives in the
 * aggregate context as a plain 4-byte-header varlena), else a copy.  A NULL
 * state starts empty, sparse.  New or copied states are allocated in the
 * current (per-call) context: the executor copies a returned pointer that
 * differs from the old state into the aggregate context and frees the old
 * one.
 */
static LatencySummary *
latsum_writable(FunctionCallInfo fcinfo, int argno, bool in_agg)
{
	struct varlena *v;

	if (PG_ARGISNULL(argno))
		return latsum_alloc_sparse(LATSUM_SPARSE_FIRST_SIZE);
	v = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(argno));
	if (in_agg && VARATT_IS_4B_U(v))
		return (LatencySummary *) v;
	v = PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(argno));
	return (LatencySummary *) v;
}

/*
 * A full sparse summary with room for one more key: the next sparse size,
 * or past the largest the dense form.
 */
static LatencySummary *
latsum_sparse_grow(const LatencySummary *s)
{
	Size		size = VARSIZE(s);
	LatencySummary *r;

	if (size >= LATSUM_SPARSE_MAX_SIZE)
		return latsum_from_sparse(s, 1, 0, true);
	r = palloc0(size * 2);		/* zeroed: the state is copied whole */
	memcpy(r, s, size);
	SET_VARSIZE(r, size * 2);
	return r;
}

/* Count one latency in bucket k (min, max and status done by the caller). */
static inline LatencySummary *
latsum_count_key(LatencySummary *s, int32 k)
{
	if (LATSUM_IS_SPARSE(s))
	{
		if (s->nbuckets >= LATSUM_SPARSE_CAP(s))
			s = latsum_sparse_grow(s);
		if (LATSUM_IS_SPARSE(s))
		{
			LATSUM_KEYS(s)[s->nbuckets++] = (int16) k;
			return s;
		}
	}
	if (s->nbuckets == 0 || k < s->lo || k >= s->lo + s->nbuckets)
		s = latsum_widen(s, k, k);
	s->counts[k - s->lo]++;
	return s;
}

/* Count one call with latency v (ms; ignored when isnull) and status. */
static LatencySummary *
latsum_add(LatencySummary *s, bool lat_null, double v, bool status_null, int32 status)
{
	int			cls;

	if (status_null)
		cls = LATSUM_UNKNOWN;
	else if (status >= 100 && status <= 599)
		cls = status / 100 - 1;
	else
		cls = LATSUM_OTHER;
	s->status[cls]++;

	if (lat_null)
		return s;
	if (isnan(v) || v < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("latency must be a non-negative number of milliseconds, got %s",
						float8out_internal(v))));
	if (v > LATSUM_MAX_MS)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("latency %s ms is out of range", float8out_internal(v)),
				 errhint("Latencies up to 1e12 ms are summarized; check the unit of the latency column.")));
	if (!LATSUM_HAS_LATENCY(s))
		s->min = s->max = v;
	else
	{
		if (v < s->min)
			s->min = v;
		if (v > s->max)
			s->max = v;
	}
	if (v < LATSUM_ZERO_LIMIT)
		s->zero++;
	else
		s = latsum_count_key(s, latsum_key(v));
	return s;
}

/* The part of both transition functions after reading the latency. */
static inline LatencySummary *
latsum_accum_common(FunctionCallInfo fcinfo, bool lat_null, double v)
{
	LatencySummary *s;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("latency_summary_accum called in non-aggregate context")));
	s = latsum_writable(fcinfo, 0, true);
	return latsum_add(s, lat_null, v, PG_ARGISNULL(2), PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2));
}

/*
 * latency_summary(latency_ms float8, status int) transition: one call.
 */
PG_FUNCTION_INFO_V1(apivalue_latency_summary_accum);
Datum
apivalue_latency_summary_accum(PG_FUNCTION_ARGS)
{
	bool		lat_null = PG_ARGISNULL(1);

	PG_RETURN_POINTER(latsum_accum_common(fcinfo, lat_null,
										  lat_null ? 0.0 : PG_GETARG_FLOAT8(1)));
}

/*
 * latency_summary(latency interval, status int) transition: the interval
 * in milliseconds as EXTRACT(EPOCH FROM latency) * 1000 reads it (a month
 * is 30 days, a year 365.25 days).
 */
PG_FUNCTION_INFO_V1(apivalue_latency_summary_accum_interval);
Datum
apivalue_latency_summary_accum_interval(PG_FUNCTION_ARGS)
{
	bool		lat_null = PG_ARGISNULL(1);
	double		ms = 0.0;

	if (!lat_null)
	{
		Interval   *iv = PG_GETARG_INTERVAL_P(1);
		double		secs;

		secs = iv->time / 1000000.0
			+ ((double) (DAYS_PER_YEAR * SECS_PER_DAY)) * (iv->month / MONTHS_PER_YEAR)
			+ ((double) (DAYS_PER_MONTH * SECS_PER_DAY)) * (iv->month % MONTHS_PER_YEAR)
			+ ((double) SECS_PER_DAY) * iv->day;
		ms = secs * 1000.0;
	}
	PG_RETURN_POINTER(latsum_accum_common(fcinfo, lat_null, ms));
}

/*
 * Combine (and rollup transition): add summary b into a.  Exact: integer
 * counts on the same fixed buckets, min of mins, max of maxes.  Either may
 * be sparse (a partial state of a parallel plan); a sparse a stays sparse
 * while b's keys fit, and becomes dense to take a dense b.  Called outside
 * an aggregate, the answer is the canonical form.
 */
PG_FUNCTION_INFO_V1(apivalue_latency_summary_combine);
Datum
apivalue_latency_summary_combine(PG_FUNCTION_ARGS)
{
	bool		in_agg = AggCheckCallContext(fcinfo, NULL) != 0;
	LatencySummary *a;
	LatencySummary *b;
	bool		has_a,
				has_b;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		if (in_agg)
			PG_RETURN_DATUM(PG_GETARG_DATUM(0));
		PG_RETURN_POINTER(latsum_trimmed(PG_GETARG_LATSUM_ANY(0)));
	}
	b = PG_GETARG_LATSUM_ANY(1);
	if (PG_ARGISNULL(0))
	{
		/*
		 * b itself, in its own form: the executor copies a new state into
		 * the aggregate context.
		 */
		if (in_agg && LATSUM_IS_SPARSE(b))
			PG_RETURN_POINTER(b);
		PG_RETURN_POINTER(latsum_trimmed(b));
	}
	a = latsum_writable(fcinfo, 0, in_agg);

	has_a = LATSUM_HAS_LATENCY(a);
	has_b = LATSUM_HAS_LATENCY(b);
	if (LATSUM_IS_SPARSE(b))
	{
		for (int32 i = 0; i < b->nbuckets; i++)
			a = latsum_count_key(a, LATSUM_KEYS(b)[i]);
	}
	else if (b->nbuckets > 0)
	{
		if (LATSUM_IS_SPARSE(a))
			a = latsum_from_sparse(a, b->lo, b->lo + b->nbuckets - 1, true);
		else if (a->nbuckets == 0 || b->lo < a->lo ||
				 b->lo + b->nbuckets > a->lo + a->nbuckets)
			a = latsum_widen(a, b->lo, b->lo + b->nbuckets - 1);
		for (int32 i = 0; i < b->nbuckets; i++)
			a->counts[b->lo - a->lo + i] += b->counts[i];
	}
	for (int i = 0; i < LATSUM_NCLASSES; i++)
		if (pg_add_s64_overflow(a->status[i], b->status[i], &a->status[i]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("latency_summary call count out of range")));
	a->zero += b->zero;
	if (has_b)
	{
		if (!has_a)
		{
			a->min = b->min;
			a->max = b->max;
		}
		else
		{
			a->min = Min(a->min, b->min);
			a->max = Max(a->max, b->max);
		}
	}
	if (!in_agg)
		a = latsum_trimmed(a);
	PG_RETURN_POINTER(a);
}

/* Final function: the canonical (trimmed) summary. */
PG_FUNCTION_INFO_V1(apivalue_latency_summary_final);
Datum
apivalue_latency_summary_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_POINTER(latsum_trimmed(PG_GETARG_LATSUM_ANY(0)));
}

/* ---------- accessors ---------- */

PG_FUNCTION_INFO_V1(apivalue_latency_summary_calls);
Datum
apivalue_latency_summary_calls(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(latsum_calls(PG_GETARG_LATSUM(0)));
}

PG_FUNCTION_INFO_V1(apivalue_latency_summary_latency_count);
Datum
apivalue_latency_summary_latency_count(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(latsum_latency_count(PG_GETARG_LATSUM(0)));
}

/* status_count(summary, class): calls in one class, by name. */
PG_FUNCTION_INFO_V1(apivalue_latency_summary_status_count);
Datum
apivalue_latency_summary_status_count(PG_FUNCTION_ARGS)
{
	LatencySummary *s = PG_GETARG_LATSUM(0);
	char	   *cls = text_to_cstring(PG_GETARG_TEXT_PP(1));

	for (int i = 0; i < LATSUM_NCLASSES; i++)
		if (pg_strcasecmp(cls, class_names[i]) == 0)
			PG_RETURN_INT64(s->status[i]);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown status class \"%s\"", cls),
			 errhint("Status classes are 1xx, 2xx, 3xx, 4xx, 5xx, other and unknown (NULL status).")));
	PG_RETURN_NULL();
}

/* Share of the calls with a known status that are in class cls. */
static Datum
latsum_rate(FunctionCallInfo fcinfo, int cls)
{
	LatencySummary *s = PG_GETARG_LATSUM(0);
	int64		known = latsum_calls(s) - s->status[LATSUM_UNKNOWN];

	if (known <= 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8((double) s->status[cls] / (double) known);
}

PG_FUNCTION_INFO_V1(apivalue_latency_summary_server_error_rate);
Datum
apivalue_latency_summary_server_error_rate(PG_FUNCTION_ARGS)
{
	return latsum_rate(fcinfo, 4);
}

PG_FUNCTION_INFO_V1(apivalue_latency_summary_client_error_rate);
Datum
apivalue_latency_summary_client_error_rate(PG_FUNCTION_ARGS)
{
	return latsum_rate(fcinfo, 3);
}

PG_FUNCTION_INFO_V1(apivalue_latency_summary_min);
Datum
apivalue_latency_summary_min(PG_FUNCTION_ARGS)
{
	LatencySummary *s = PG_GETARG_LATSUM(0);

	if (latsum_latency_count(s) == 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(s->min);
}

PG_FUNCTION_INFO_V1(apivalue_latency_summary_max);
Datum
apivalue_latency_summary_max(PG_FUNCTION_ARGS)
{
	LatencySummary *s = PG_GETARG_LATSUM(0);

	if (latsum_latency_count(s) == 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(s->max);
}

/*
 * The reading of the latency at 0-based rank r of n: the exact min and max
 * at the ends, else the bucket holding it, clamped to [min, max] (which
 * only moves it closer).
 */
static double
latsum_rank_value(const LatencySummary *s, int64 n, int64 r)
{
	int64		seen = s->zero;
	double		v = 0.0;

	if (r == 0)
		return s->min;
	if (r == n - 1)
		return s->max;
	if (r >= seen)
	{
		for (int32 i = 0; i < s->nbuckets; i++)
		{
			seen += s->counts[i];
			if (r < seen)
			{
				v = latsum_bucket_value(s->lo + i);
				break;
			}
		}
	}
	if (v < s->min)
		v = s->min;
	if (v > s->max)
		v = s->max;
	return v;
}

/*
 * Approximate percentile_cont: interpolate between the readings of the
 * ranks floor(q (n - 1)) and ceil(q (n - 1)) with percentile_cont's own
 * weights.  Each reading is within 1 % of the value at its rank, so the
 * interpolation is within 1 % of percentile_cont's answer.
 */
static double
latsum_percentile(const LatencySummary *s, int64 n, double q)
{
	double		pos = q * (double) (n - 1);
	int64		r0 = (int64) floor(pos);
	int64		r1 = (int64) ceil(pos);
	double		v0 = latsum_rank_value(s, n, r0);
	double		v1;

	if (r1 == r0)
		return v0;
	v1 = latsum_rank_value(s, n, r1);
	return v0 + (v1 - v0) * (pos - (double) r0);
}

static void
latsum_check_fraction(double q)
{
	if (isnan(q) || q < 0.0 || q > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("percentile value %s is not between 0 and 1", float8out_internal(q))));
}

PG_FUNCTION_INFO_V1(apivalue_latency_summary_percentile);
Datum
apivalue_latency_summary_percentile(PG_FUNCTION_ARGS)
{
	LatencySummary *s = PG_GETARG_LATSUM(0);
	double		q = PG_GETARG_FLOAT8(1);
	int64		n;

	latsum_check_fraction(q);
	n = latsum_latency_count(s);
	if (n == 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(latsum_percentile(s, n, q));
}

PG_FUNCTION_INFO_V1(apivalue_latency_summary_percentiles);
Datum
apivalue_latency_summary_percentiles(PG_FUNCTION_ARGS)
{
	LatencySummary *s = PG_GETARG_LATSUM(0);
	ArrayType  *qa = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *qd;
	bool	   *qnull;
	int			nq;
	Datum	   *out;
	bool	   *onull;
	int64		n;
	int			dims[1];
	int			lbs[1] = {1};

	if (ARR_NDIM(qa) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("percentiles must be a one-dimensional array")));
	deconstruct_array(qa, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &qd, &qnull, &nq);
	n = latsum_latency_count(s);
	out = palloc(sizeof(Datum) * Max(nq, 1));
	onull = palloc(sizeof(bool) * Max(nq, 1));
	for (int i = 0; i < nq; i++)
	{
		onull[i] = qnull[i] || n == 0;
		out[i] = (Datum) 0;
		if (qnull[i])
			continue;
		latsum_check_fraction(DatumGetFloat8(qd[i]));
		if (n > 0)
			out[i] = Float8GetDatum(latsum_percentile(s, n, DatumGetFloat8(qd[i])));
	}
	dims[0] = nq;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(out, onull, nq > 0 ? 1 : 0, dims, lbs,
											 FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
											 TYPALIGN_DOUBLE));
}

/*
 * The histogram as rows for charts: (bucket_low, bucket_high, calls) with
 * bucket_low exclusive, bucket_high inclusive; the zero bucket first as
 * (0, 1e-6).  Returned as a 2-D float8 array [n][3] to stay a plain type.
 */
PG_FUNCTION_INFO_V1(apivalue_latency_summary_buckets);
Datum
apivalue_latency_summary_buckets(PG_FUNCTION_ARGS)
{
	LatencySummary *s = PG_GETARG_LATSUM(0);
	int			nrows = 0;
	Datum	   *out;
	int			dims[2];
	int			lbs[2] = {1, 1};
	int			j = 0;

	nrows = s->zero > 0 ? 1 : 0;
	for (int32 i = 0; i < s->nbuckets; i++)
		if (s->counts[i] > 0)
			nrows++;
	out = palloc(sizeof(Datum) * (Size) Max(nrows * 3, 1));
	if (s->zero > 0)
	{
		out[j++] = Float8GetDatum(0.0);
		out[j++] = Float8GetDatum(LATSUM_ZERO_LIMIT);
		out[j++] = Float8GetDatum((double) s->zero);
	}
	for (int32 i = 0; i < s->nbuckets; i++)
	{
		if (s->counts[i] == 0)
			continue;
		out[j++] = Float8GetDatum(pow(LATSUM_GAMMA, (double) (s->lo + i - 1)));
		out[j++] = Float8GetDatum(pow(LATSUM_GAMMA, (double) (s->lo + i)));
		out[j++] = Float8GetDatum((double) s->counts[i]);
	}
	dims[0] = nrows;
	dims[1] = 3;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(out, NULL, nrows > 0 ? 2 : 0, dims, lbs,
											 FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
											 TYPALIGN_DOUBLE));
}
