/*-------------------------------------------------------------------------
 *
 * quality_gap.h
 *	  Range sets: sequence-number gaps and dead time, and the C-level API
 *	  other modules use to read a sequence summary.
 *
 * A range set is a sorted list of disjoint closed ranges [lo, hi] of int64
 * values, where two values closer than the join distance belong to one
 * range.  With join = 1 it is the set of sequence numbers a device sent
 * (a contiguous counter collapses into a single range); with join = max_gap
 * in microseconds it is the set of "live" clusters of events, and every
 * hole between two ranges is a gap longer than max_gap.  Holes are what
 * both detectors report, so one structure serves both, merges exactly
 * (union of sets) and stays small when the data is healthy.
 *
 * Flat form (SQL types apivalue.sequence_summary, apivalue.dead_time_summary):
 *	 int32 vl_len_, uint8 version, uint8 kind, uint16 unused, int32 nranges,
 *	 int64 join, int64 rows, int64 ranges[2 * nranges]
 *
 * src/quality_gap.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUALITY_GAP_H
#define QUALITY_GAP_H

#include "fmgr.h"

#define RANGESET_KIND_SEQUENCE	1
#define RANGESET_KIND_TIME		2

/* Read-only view of a range set, flat or working. */
typedef struct RangeSetView
{
	uint8		kind;
	int64		join;			/* join distance: 1, or max_gap in usec */
	int64		rows;			/* non-NULL values accumulated, duplicates
								 * included */
	int32		nranges;
	const int64 *ranges;		/* lo0, hi0, lo1, hi1, ... sorted, disjoint */
} RangeSetView;

/* What a sequence summary says about one device (or any group). */
typedef struct SequenceGapCounts
{
	int64		rows;			/* sequence numbers received, duplicates
								 * included */
	int64		received;		/* distinct sequence numbers received */
	int64		expected;		/* max - min + 1 */
	int64		missing;		/* expected - received */
	int64		min;
	int64		max;
} SequenceGapCounts;

/*
 * Fill *view from a datum of type apivalue.sequence_summary or
 * apivalue.dead_time_summary (flat, toasted or a working state) and check it is of
 * the expected kind.  The view points into memory that lives as long as the
 * datum (or a detoasted copy in the current context).
 */
extern void rangeset_view(Datum d, uint8 kind, RangeSetView *view);

/*
 * Counts of a sequence summary; returns false (and zeros) when it holds no
 * sequence numbers.  This is what delivery_by_segment and similar code use:
 * expected = max - min + 1 per device, received = distinct count.
 */
extern bool sequence_summary_counts(Datum summary, SequenceGapCounts *counts);

#endif							/* QUALITY_GAP_H */
