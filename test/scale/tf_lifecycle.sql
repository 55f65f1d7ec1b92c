-- pushdown: function
SELECT * FROM apivalue.lifecycle('{{events}}', 'user_id', 'ts', 'week') ORDER BY 1, 2
