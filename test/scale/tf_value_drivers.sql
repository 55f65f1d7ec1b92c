-- pushdown: function
SELECT * FROM apivalue.value_drivers('{{events}}', 'user_id', 'ts', 'event', $$event = 'upgrade'$$,
                                     '7 days', 1, 5) ORDER BY 1
