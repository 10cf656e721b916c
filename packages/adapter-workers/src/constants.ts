// Limits of the Workers adapter, with their documented defaults.

/** How often (at most) the realtime object deletes expired messages and forgotten streams: 10 s. */
export const HISTORY_SWEEP_INTERVAL_MS = 10_000

/**
 * How long the realtime object keeps a stream's head (its epoch and last offset) in storage after
 * the stream's last publish, join or resume: a day, as the Redis broker's `headerTtl`. Within it a
 * client whose cursor is current resumes without `realtime:gap`, however long the object slept;
 * after it the stream starts over with a new epoch.
 */
export const STREAM_HEAD_TTL_MS = 86_400_000

/** A head's last-use time is written to storage at most this often per stream (joins do not each write): a minute. */
export const STREAM_HEAD_TOUCH_WRITE_MS = 60_000
