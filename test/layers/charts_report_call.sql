-- The value report call of the browser layer (and the demo): sample.events,
-- activation steps signup -> create_key -> first_call -> upgrade in 14 days.
SELECT apivalue.value_report_html('sample.events', 'user_id', 'ts', 'event',
         ARRAY[$$event = 'signup'$$, $$event = 'create_key'$$, $$event = 'first_call'$$, $$event = 'upgrade'$$],
         '14 days', step_labels => ARRAY['signup', 'create key', 'first call', 'upgrade'],
         title => 'API product value report (sample data)');
