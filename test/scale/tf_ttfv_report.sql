-- pushdown: function
SELECT * FROM apivalue.ttfv_report('{{events}}', 'user_id', 'ts', $$event = 'signup'$$,
                                   $$event = 'first_call' AND status < 400$$, '14 days', 'week', 'plan_tier')
ORDER BY 1, 2
