/*-------------------------------------------------------------------------
 *
 * sequence_pattern.h
 *	  Compiled form of sequence_match / sequence_count patterns.
 *
 * A pattern is a list of actions, ClickHouse's grammar:
 *   (?N)        an event satisfying condition N (1-based)
 *   .           exactly one event
 *   .*          any number of events, including none
 *   (?t<=S) (?t<S) (?t>=S) (?t>S) (?t==S)
 *               elapsed time between the events around it, in seconds
 *               (in the caller's units for bigint time)
 * Like ClickHouse, the compiled pattern starts with an implicit ".*", so a
 * match may begin at any event.
 *
 * src/sequence_pattern.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APIVALUE_SEQUENCE_PATTERN_H
#define APIVALUE_SEQUENCE_PATTERN_H

typedef enum SeqActionType
{
	SEQ_EVENT,					/* (?N): arg = N - 1 */
	SEQ_ANY,					/* . */
	SEQ_STAR,					/* .* */
	SEQ_TIME_LE,				/* (?t<=S): arg = S */
	SEQ_TIME_LT,
	SEQ_TIME_GE,
	SEQ_TIME_GT,
	SEQ_TIME_EQ
} SeqActionType;

#define SEQ_IS_TIME(t)	((t) >= SEQ_TIME_LE)

typedef struct SeqAction
{
	uint8		type;			/* SeqActionType */
	bool		trailing_ok;	/* may remain unmatched when events run out */
	uint64		arg;
} SeqAction;

/*
 * The no-time fast path runs the pattern as an NFA whose states sit between
 * consuming actions ((?N) and .): state s has a self-loop when a .* follows
 * it, and a transition to s + 1 on its event.
 */
typedef struct SeqNfaState
{
	bool		kleene;
	bool		any;			/* transition on any event */
	bool		has_next;		/* a transition exists */
	uint32		mask;			/* transition on this condition bit */
} SeqNfaState;

typedef struct SeqPattern
{
	int			nconds;			/* conditions the pattern was checked against */
	int			nactions;		/* including the leading implicit .* */
	int			nstates;		/* NFA states */
	bool		has_time;
	uint32		conds_used;		/* conditions named by (?N) */
	int			textlen;
	char	   *text;			/* the pattern as given (not terminated) */
	SeqAction  *actions;
	SeqNfaState *states;
} SeqPattern;

/*
 * Parse a pattern for an aggregate with nconds conditions; everything is
 * allocated in cxt.  Errors (SQLSTATE 42601 syntax, 22023 event number out
 * of range) quote the pattern and the 1-based position.
 */
extern SeqPattern *seq_pattern_parse(const char *text, int len, int nconds,
									 MemoryContext cxt);

/* Same pattern text and condition count? */
extern bool seq_pattern_equal(const SeqPattern *a, const SeqPattern *b);

#endif							/* APIVALUE_SEQUENCE_PATTERN_H */
