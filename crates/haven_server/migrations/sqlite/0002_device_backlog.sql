-- Changes a device said were still waiting after its last push.
ALTER TABLE devices ADD COLUMN reported_backlog INTEGER NOT NULL DEFAULT 0;
