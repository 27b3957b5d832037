-- Readers that fold only some stream categories (a rebuild of the views never reads the read
-- trail) filter on split_part(stream_id, '-', 1). Without statistics on that expression the
-- planner takes any such filter to keep 0.5% of the rows and sorts the whole rest of the
-- history for each batch (340 ms instead of 5 ms per 2000 events at 340k events); with them
-- it walks the (transaction_id, global_position) index in order and stops at the batch's end.
CREATE STATISTICS events_category ON (split_part(stream_id, '-', 1)) FROM events;
ANALYZE events;
