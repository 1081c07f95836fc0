-- The wake-up NOTIFY moves out of the appending transactions (event-store/src/append.rs,
-- AppendSignal): inside them, every append's commit held a server-wide lock until its
-- commit record was flushed, so appends could not share a flush (455 inserts/s at 32
-- clients with the trigger, 9,491 without, on a 2-core machine).
DROP TRIGGER events_notify ON events;
DROP FUNCTION events_notify();
