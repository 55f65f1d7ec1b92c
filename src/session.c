/*-------------------------------------------------------------------------
 *
 * session.c
 *	  session_number(ts, gap): sessions split by inactivity, as a window
 *	  function.
 *
 * Used as  session_number(ts, gap) OVER (PARTITION BY user ORDER BY ts).
 * Rows are numbered 1, 2, ... by session: a row starts a new session when
 * its ts is more than gap after the previous non-NULL ts of the partition
 * (exactly gap stays in the session).  Rows with a NULL ts get NULL and do
 * not break or extend a session.  The window must be ordered by ts
 * ascending; a timestamp that goes backwards is an error, since sessions of
 * an unordered sequence mean nothing.
 *
 * The WindowAgg calls us once per row, in order, so the previous row's
 * timestamp and session number are kept in partition-local memory and each
 * row costs O(1); the mark is advanced so that the executor need not keep
 * earlier rows of the partition.
 *
 * src/session.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "event_buffer.h"
#include "fmgr.h"
#include "utils/timestamp.h"
#include "windowapi.h"

PG_FUNCTION_INFO_V1(apivalue_session_number);

typedef struct SessionState
{
	int64		next_pos;		/* position we expect next */
	int64		prev_ts;		/* last non-NULL ts */
	int64		session;		/* its session number; 0 before the first */
} SessionState;

Datum
apivalue_session_number(PG_FUNCTION_ARGS)
{
	WindowObject winobj = PG_WINDOW_OBJECT();
	SessionState *state;
	int64		pos = WinGetCurrentPosition(winobj);
	Datum		d;
	bool		isnull;
	int64		ts;
	int64		gap;
	int64		diff;

	state = (SessionState *) WinGetPartitionLocalMemory(winobj, sizeof(SessionState));
	if (pos != state->next_pos)
		elog(ERROR, "session_number called out of row order");
	state->next_pos = pos + 1;
	WinSetMarkPosition(winobj, pos);

	d = WinGetFuncArgCurrent(winobj, 1, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("gap must not be NULL")));
	gap = av_window_usec(DatumGetIntervalP(d), "gap");

	d = WinGetFuncArgCurrent(winobj, 0, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	ts = av_timestamp_arg(DatumGetTimestamp(d));

	if (state->session == 0)
		state->session = 1;
	else if (ts < state->prev_ts)
	{
		/* timestamptz_to_str returns a static buffer: copy the first */
		char	   *cur = pstrdup(timestamptz_to_str(ts));

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("session_number needs rows in ascending ts order"),
				 errdetail("Timestamp %s follows %s in the same partition.",
						   cur, timestamptz_to_str(state->prev_ts)),
				 errhint("Use OVER (PARTITION BY ... ORDER BY ts).")));
	}
	else if (pg_sub_s64_overflow(ts, state->prev_ts, &diff) || diff > gap)
		state->session++;
	state->prev_ts = ts;
	PG_RETURN_INT64(state->session);
}
