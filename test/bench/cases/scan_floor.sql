-- title: the floor itself: hand SQL ms vs floor ms is the run-to-run noise
-- A harness check that needs no apivalue function: the "hand" query is the
-- common floor, so hand/floor shows the run-to-run noise of the machine.
-- hand:
SELECT user_id, min(ts), max(ts) FROM sample.events GROUP BY user_id;
