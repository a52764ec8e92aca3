-- zfsync store, version 5: the app-scoped id Zalo gives beside each OA user id (`user_id_by_app`).
-- Zalo's `update_user_info` (and `user_withdraw` from an app not linked to the OA) may name the
-- customer only by it, with an empty `user_id`; this table finds the OA user again. Filled from the
-- events that carry both ids and from `user/detail`; deleted with the rest of a user's data.

CREATE TABLE zalo_identities (
    oa_id           TEXT NOT NULL,
    user_id_by_app  TEXT NOT NULL,
    zalo_user_id    TEXT NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (oa_id, user_id_by_app)
) STRICT;
CREATE INDEX zalo_identities_user ON zalo_identities (zalo_user_id);
