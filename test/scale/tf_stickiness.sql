-- pushdown: function
SELECT * FROM apivalue.stickiness('{{events}}', 'user_id', 'ts', 'week', 'day') ORDER BY 1, 2
