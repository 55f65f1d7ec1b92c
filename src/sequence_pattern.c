/*-------------------------------------------------------------------------
 *
 * sequence_pattern.c
 *	  Parser for sequence_match / sequence_count patterns.
 *
 * The grammar and its quirks follow ClickHouse's sequenceMatch: no white
 * space, numbers are unsigned decimal, a time condition must follow an event,
 * "." or ".*" (or stand at the very start, after the implicit leading ".*"),
 * and an empty pattern is allowed (it matches everything).  Errors quote the
 * pattern, the text from the offending position on, and the position
 * (1-based, in characters).
 *
 * src/sequence_pattern.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "sequence_pattern.h"

typedef struct SeqParser
{
	const char *text;
	int			len;
	int			pos;			/* byte offset of the next unread character */
} SeqParser;

static const char *const seq_pattern_hint =
"A pattern is a sequence of (?N) (an event of condition N), \".\" (one event), "
"\".*\" (any events) and (?t<=S), (?t<S), (?t>=S), (?t>S), (?t==S) (elapsed seconds), without spaces.";

/*
 * Report a syntax error at the parser's position: the pattern, what was
 * wrong, the rest of the pattern from there, and the 1-based character
 * position.
 */
static void
seq_syntax_error(const SeqParser *p, int errpos, const char *what)
{
	char	   *pattern = pnstrdup(p->text, p->len);
	char	   *rest = pnstrdup(p->text + errpos, p->len - errpos);
	int			charpos = pg_mbstrlen_with_len(p->text, errpos) + 1;

	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("invalid sequence pattern \"%s\": %s \"%s\" at position %d",
					pattern, what, rest, charpos),
			 errhint("%s", seq_pattern_hint)));
}

static bool
seq_match(SeqParser *p, const char *s)
{
	int			n = strlen(s);

	if (p->len - p->pos >= n && memcmp(p->text + p->pos, s, n) == 0)
	{
		p->pos += n;
		return true;
	}
	return false;
}

/* An unsigned decimal number (at most 18 digits' worth: PG_INT64_MAX). */
static uint64
seq_number(SeqParser *p)
{
	int			start = p->pos;
	uint64		v = 0;

	while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
	{
		int			d = p->text[p->pos] - '0';

		if (v > (uint64) (PG_INT64_MAX - d) / 10)
			seq_syntax_error(p, start, "number out of range");
		v = v * 10 + d;
		p->pos++;
	}
	if (p->pos == start)
		seq_syntax_error(p, start, "could not parse number");
	return v;
}

/*
 * Parse "text" (len bytes) for an aggregate with nconds conditions.
 */
SeqPattern *
seq_pattern_parse(const char *text, int len, int nconds, MemoryContext cxt)
{
	SeqParser	p = {text, len, 0};
	SeqPattern *pat;
	SeqAction  *actions;
	SeqNfaState *states;
	int			na = 0;
	int			ns = 0;
	int			i;
	MemoryContext old = MemoryContextSwitchTo(cxt);

	/* every action consumes at least one byte, plus the leading .* */
	actions = palloc0(sizeof(SeqAction) * (len + 1));
	states = palloc0(sizeof(SeqNfaState) * (len + 1));

	actions[na++].type = SEQ_STAR;
	states[ns].kleene = true;
	ns++;

	while (p.pos < p.len)
	{
		int			start = p.pos;

		if (seq_match(&p, "(?"))
		{
			if (seq_match(&p, "t"))
			{
				SeqActionType type;
				uint8		prev = actions[na - 1].type;

				if (seq_match(&p, "<="))
					type = SEQ_TIME_LE;
				else if (seq_match(&p, "<"))
					type = SEQ_TIME_LT;
				else if (seq_match(&p, ">="))
					type = SEQ_TIME_GE;
				else if (seq_match(&p, ">"))
					type = SEQ_TIME_GT;
				else if (seq_match(&p, "=="))
					type = SEQ_TIME_EQ;
				else
					seq_syntax_error(&p, p.pos, "unknown time condition");

				actions[na].arg = seq_number(&p);
				if (SEQ_IS_TIME(prev))
					seq_syntax_error(&p, start,
									 "a time condition must follow an event, \".\" or \".*\", found");
				actions[na].type = type;
				na++;
			}
			else
			{
				int			numpos = p.pos;
				uint64		ev = seq_number(&p);

				if (ev < 1 || ev > (uint64) nconds)
				{
					char	   *pattern = pnstrdup(text, len);

					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid sequence pattern \"%s\": event number %llu is out of range at position %d",
									pattern, (unsigned long long) ev,
									pg_mbstrlen_with_len(text, numpos) + 1),
							 errdetail("The aggregate was given %d condition%s; events are numbered from 1 to %d.",
									   nconds, nconds == 1 ? "" : "s", nconds)));
				}
				actions[na].type = SEQ_EVENT;
				actions[na].arg = ev - 1;
				na++;
				states[ns - 1].has_next = true;
				states[ns - 1].mask = (uint32) 1 << (ev - 1);
				ns++;
			}
			if (!seq_match(&p, ")"))
				seq_syntax_error(&p, p.pos, "expected closing parenthesis, found");
		}
		else if (seq_match(&p, ".*"))
		{
			actions[na++].type = SEQ_STAR;
			states[ns - 1].kleene = true;
		}
		else if (seq_match(&p, "."))
		{
			actions[na++].type = SEQ_ANY;
			states[ns - 1].has_next = true;
			states[ns - 1].any = true;
			ns++;
		}
		else
			seq_syntax_error(&p, p.pos, "unexpected character, found");
	}

	pat = palloc0(sizeof(SeqPattern));
	pat->nconds = nconds;
	pat->nactions = na;
	pat->nstates = ns;
	pat->actions = actions;
	pat->states = states;
	pat->text = palloc(len + 1);
	memcpy(pat->text, text, len);
	pat->text[len] = '\0';
	pat->textlen = len;
	for (i = 0; i < na; i++)
	{
		SeqAction  *a = &actions[i];

		if (SEQ_IS_TIME(a->type))
			pat->has_time = true;
		if (a->type == SEQ_EVENT)
			pat->conds_used |= (uint32) 1 << a->arg;
		/* what ClickHouse lets stay unmatched when the events run out */
		a->trailing_ok = (a->type == SEQ_STAR ||
						  a->type == SEQ_TIME_LE ||
						  a->type == SEQ_TIME_LT ||
						  (a->type == SEQ_TIME_GE && a->arg == 0));
	}
	MemoryContextSwitchTo(old);
	return pat;
}

bool
seq_pattern_equal(const SeqPattern *a, const SeqPattern *b)
{
	if (a == b)
		return true;
	return a->nconds == b->nconds && a->textlen == b->textlen &&
		memcmp(a->text, b->text, a->textlen) == 0;
}
