-- Which replica drains which lane, until when. A replica takes a lane's lease before it drains the
-- lane, renews it while draining and deletes it when the lane is empty; a lease whose time has
-- passed (its replica died or lost the database) is taken over. Times are the database server's
-- clock in unix milliseconds, so the replicas' own clocks never decide who holds a lane.
CREATE TABLE lane_leases (
    pairing     TEXT COLLATE "C" NOT NULL,
    lane        TEXT COLLATE "C" NOT NULL,
    holder      TEXT COLLATE "C" NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (pairing, lane)
);
CREATE INDEX lane_leases_holder ON lane_leases (holder);
