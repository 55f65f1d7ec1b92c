/*-------------------------------------------------------------------------
 *
 * quality_common.h
 *	  Helpers shared by the data-quality aggregates (quality_*.c).
 *
 * The quality aggregates keep concrete, SQL-visible state types (varlena
 * types with send/receive) rather than "internal", so that Citus and other
 * engines can aggregate them partially on their workers.
 *
 * During aggregation a state is a plain varlena in the aggregate context in
 * a "working" form: the same header as
 * the flat form, but its varlena size is its capacity, with free room after
 * the content (the version byte, QUALITY_WORK_*, says which layout).  A
 * transition function called as an aggregate appends in
 * place and returns the same pointer (no copy, no palloc); when the room is
 * used up it builds a state twice as large in the per-call context and
 * returns that, and the executor copies it into the aggregate context and
 * frees the old one (amortized O(1) per row).  There is no memory context
 * per group: PostgreSQL 15's hash aggregation measures the memory of every
 * child context of the aggregate context each time it creates a group, so
 * per-group contexts (expanded objects) made it quadratic in the number of
 * groups.  Final functions, output and send write the compact, versioned
 * flat form (QUALITY_STATE_VERSION); only the flat form is stored, and
 * input and receive accept only it.  Combine functions also read working
 * states, which reach them from parallel workers.
 *
 * src/quality_common.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUALITY_COMMON_H
#define QUALITY_COMMON_H

#include "fmgr.h"
#include "datatype/timestamp.h"

/* First byte after the varlena header of every flat quality state. */
#define QUALITY_STATE_VERSION 1

/*
 * The same byte in a working state (during aggregation only, never stored),
 * one per state layout so that a working state says what it is.
 */
#define QUALITY_WORK_RANGESET	0x81
#define QUALITY_WORK_SKEW		0x82
#define QUALITY_WORK_DUP		0x83

/* Raise an error for an infinite timestamp argument. */
extern void quality_check_finite(TimestampTz t, const char *what);

/*
 * An interval as microseconds, with the 30-day month and 24-hour day that
 * interval comparison uses, so "a - b <= iv" in SQL and "usec(a - b) <=
 * quality_interval_usec(iv)" agree.
 */
extern int64 quality_interval_usec(const Interval *iv, const char *what);

/* Microseconds as an interval, shaped the way timestamptz - timestamptz is. */
extern Interval *quality_usec_interval(int64 usec);

/* The aggregate memory context, or an error naming the function. */
extern MemoryContext quality_agg_context(FunctionCallInfo fcinfo, const char *fname);

/*
 * A zeroed working state in the current memory context: want bytes rounded
 * up to a power of two (what the allocator hands out anyway), or near the
 * 1 GB a varlena can hold as much as fits, but never less than need (an
 * error when need does not fit).  The size is set as its varlena size, the
 * version byte to the given QUALITY_WORK_* value.
 */
extern struct varlena *quality_work_alloc(Size need, Size want, uint8 version,
										  const char *type_name);

/*
 * The same, with only the first zero bytes zeroed (at least the header and
 * version byte): for layouts whose free room is written before it is read,
 * so that growing a state does not clear memory it is about to fill.
 */
extern struct varlena *quality_work_alloc_ext(Size need, Size want, uint8 version,
											  const char *type_name, Size zero);

/*
 * The state argument argno when it is a working state of the given
 * QUALITY_WORK_* layout (as every transition value the quality transition
 * functions return is), else NULL.  Only argument 0 of a transition or
 * combine function called as an aggregate may then be modified in place.
 */
extern struct varlena *quality_work_arg(FunctionCallInfo fcinfo, int argno,
										uint8 version);

/*
 * The flat form (a new palloc'd copy) of a working state of each layout;
 * used by the shared output and send functions.
 */
extern struct varlena *rangeset_work_flatten(struct varlena *work);
extern struct varlena *skew_work_flatten(struct varlena *work);
extern struct varlena *dup_work_flatten(struct varlena *work);

/*
 * Make room for need elements of size elemsize in *ptr (capacity *cap),
 * doubling, in context cxt.
 */
extern void quality_reserve(void **ptr, int32 *cap, int64 need, Size elemsize,
							MemoryContext cxt);

/* Error for a corrupt or foreign flat state. */
extern void quality_corrupt(const char *type_name, const char *detail) pg_attribute_noreturn();

#endif							/* QUALITY_COMMON_H */
