/**
 * The workers' KV bucket settings, shared by workers (which create it) and clients (which
 * read it): JetStream refuses to open a bucket with a different configuration.
 */

/**
 * Age at which a worker's entry leaves the bucket (its stream's max age): a worker refreshes its
 * entry every second, so a dead one disappears within this time.
 */
export const WORKERS_BUCKET_TTL_MS = 4000;
