/* The one way ferry runs independent work at once: a bounded pool of steps on a private main
 * context, each started when what it waits for exists, the first failure cancelling the rest. */
#pragma once

#include "ferry-common.h"

G_BEGIN_DECLS

/* A step: a chain of aws calls (or any blocking work that honours `cancellable`: every child it runs
 * is stopped when the pool cancels it). */
typedef gboolean (*FerryPoolFunc) (gpointer data, GCancellable *cancellable, GError **error);

typedef struct _FerryPool FerryPool;

/* At most max_parallel steps at once (0: no bound). `cancellable` (may be NULL) cancels the whole
 * pool: Ctrl-C reaches every step. */
FerryPool *ferry_pool_new (guint max_parallel, GCancellable *cancellable);
void ferry_pool_free (FerryPool *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryPool, ferry_pool_free)

/* Every step runs even when another failed (a teardown: a refused bucket must not leave an
 * instance billing); the errors are then joined into one ("X; also Y"). */
void ferry_pool_set_keep_going (FerryPool *pool, gboolean keep_going);

/* Where "stopped: ... failed" lines for cancelled siblings go. */
void ferry_pool_set_log (FerryPool *pool, FerryLogFunc log, gpointer log_data);

/* Adds step `name`, started once every milestone in `after` (NULL-terminated, may be NULL) is
 * reached. A step that succeeds reaches the milestone of its own name and those in `provides`
 * (NULL-terminated, may be NULL), unless it reached them earlier (ferry_pool_reach). */
void ferry_pool_add (FerryPool *pool, const char *name, FerryPoolFunc fn, gpointer data,
                     const char *const *after, const char *const *provides);

/* Reaches a milestone before its step ends (from any thread): "the security group is recorded"
 * lets the launch start while the group's rules are still being set. */
void ferry_pool_reach (FerryPool *pool, const char *milestone);

/* Starts the steps that are ready now and returns at once: the caller does its own work meanwhile
 * (snakemake's local DAG while the remote is probed), then ferry_pool_run waits for the rest. */
void ferry_pool_start (FerryPool *pool);

/* Runs every step and waits for all of them. The first failure cancels the steps still running
 * (each says on one line that it stopped) and starts no more; that failure is the error. A step
 * whose milestones can no longer be reached is not started. */
gboolean ferry_pool_run (FerryPool *pool, GError **error);

/* Whether step `name` ran to success. */
gboolean ferry_pool_succeeded (FerryPool *pool, const char *name);

G_END_DECLS
