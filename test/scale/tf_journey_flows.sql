-- pushdown: function
SELECT * FROM apivalue.journey_flows('{{events}}', 'user_id', 'ts', 'event', 'signup', 4)
ORDER BY 1, 2, 3, 4
