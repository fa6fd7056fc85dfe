/* The EC2 instance: describe it, wait for a state, and keep its changing address in the state. */
#pragma once

#include "aws.h"
#include "state.h"

G_BEGIN_DECLS

/* describe-instances for one id: the instance object (a new reference), or FERRY_ERROR_NOT_FOUND. */
json_t *ferry_instance_describe (FerryAws *aws, const char *id, GCancellable *cancellable,
                                 GError **error);

/* The instance's state name ("pending", "running", ...); borrowed from `instance`. */
const char *ferry_instance_state_name (json_t *instance);

/* `want` of ferry_instance_wait_state: stopped or terminated, whichever comes. */
#define FERRY_INSTANCE_ENDED "stopped|terminated"

/* Polls describe-instances (at once, then every 2 s backing off to 10 s; $FERRY_POLL_MS overrides the
 * first interval) until the instance reaches `want` (a state, or FERRY_INSTANCE_ENDED), for at most
 * timeout_s seconds. A terminated instance never reaches another state, which is an error at once.
 * Returns the last description. */
json_t *ferry_instance_wait_state (FerryAws *aws, const char *id, const char *want, guint timeout_s,
                                   GCancellable *cancellable, GError **error);

/* Copies state, public DNS name and address from a description into the state's instance record. */
gboolean ferry_instance_record (FerryState *state, json_t *instance, GError **error);

typedef enum
{
  FERRY_INSTANCE_STOP,
  FERRY_INSTANCE_START,
  FERRY_INSTANCE_TERMINATE,
} FerryInstanceAction;

/* The state's instance id, or FERRY_ERROR_NOT_FOUND ("no instance; run ferry bootstrap"). */
char *ferry_instance_dup_id (FerryState *state, GError **error);

/* Stops, starts or terminates the state's instance, then (with `wait`, and not in dry-run) waits for
 * stopped / running / terminated and records the new state and address; a terminated instance is
 * forgotten from the state. An instance AWS no longer knows is already terminated for
 * FERRY_INSTANCE_TERMINATE, and an error otherwise. *out_instance gets the last description (NULL
 * when none was made). */
gboolean ferry_instance_change (FerryAws *aws, FerryState *state, FerryInstanceAction action,
                                gboolean wait, guint timeout_s, json_t **out_instance,
                                GCancellable *cancellable, GError **error);

G_END_DECLS
