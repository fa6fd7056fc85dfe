/* The dependency graph of a deployment: independent chains run concurrently (key pair | network ->
 * firewall | bucket | role -> profile | AMI), then the instance is launched and SSH waited for. */
#pragma once

#include "resources.h"

G_BEGIN_DECLS

typedef struct
{
  const char *cidr;   /* validated; SSH's one source */
  const char *bucket; /* NULL: no bucket */
  gboolean iam;       /* role + instance profile for the bucket */
  const char *budget_amount; /* NULL: no budget */
  const char *budget_email;
  FerryLaunchOptions launch;
  gboolean wait_ssh;
  guint ssh_timeout_s;
  const char *const *ssh_options;
} FerryBootstrapOptions;

/* Makes whatever the state does not already hold, records each resource as soon as it exists, and
 * leaves the instance running (and answering SSH unless !wait_ssh). *out_created lists the kinds
 * created by this run (none on a re-run). On failure, what was made stays recorded for a re-run
 * or a teardown. */
gboolean ferry_bootstrap (FerryResources *res, const FerryBootstrapOptions *opts,
                          GPtrArray **out_created, GCancellable *cancellable, GError **error);

/* Waits until the state's instance takes an SSH login: TCP to the address ssh would use, then
 * `ssh true` with the pem, for at most timeout_s seconds. */
gboolean ferry_wait_ssh (FerryState *state, const char *user, const char *const *options,
                         guint timeout_s, FerryLogFunc log, gpointer log_data,
                         GCancellable *cancellable, GError **error);

G_END_DECLS
