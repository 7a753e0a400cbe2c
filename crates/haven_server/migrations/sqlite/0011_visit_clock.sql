-- The server's clock decides what the server keeps ([1/8] part 5).
--
-- A device's clock may be wrong; reception must still work. A visit or end
-- whose device time shows a wrong clock (reset before 2000, ahead of the
-- server when it arrived, or a sign-out before its sign-in) is stored as
-- sent and marked here, decided once when it arrives
-- (haven_core::visit::sign_in_clock_wrong, sign_out_clock_wrong). The roll
-- call shows such a visit's times as approximate.
ALTER TABLE visits ADD COLUMN clock_skew INTEGER NOT NULL DEFAULT 0 CHECK (clock_skew IN (0, 1));
ALTER TABLE visit_ends ADD COLUMN clock_skew INTEGER NOT NULL DEFAULT 0 CHECK (clock_skew IN (0, 1));

-- Retention now counts from the server's receipt of the end (visits::purge
-- looks up ends by received_at, which visit_ends_by_arrival indexes), never
-- from the device's sign-out time.
DROP INDEX visit_ends_by_time;
