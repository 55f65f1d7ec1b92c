-- pushdown: function
SELECT * FROM apivalue.cohort_retention('{{events}}', 'user_id', 'ts', 'week', 8)
ORDER BY 1, 2
