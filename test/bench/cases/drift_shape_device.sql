-- title: jsonb_shape per device (30k groups at 1M events) vs the payload floor
-- Many small groups: the state lives in the aggregate context, so the cost
-- stays linear in the number of groups.
-- apivalue:
SELECT device_id, apivalue.jsonb_shape(payload) FROM sample.events GROUP BY device_id;
-- floor:
SELECT device_id, count(jsonb_typeof(payload)) FROM sample.events GROUP BY device_id;
