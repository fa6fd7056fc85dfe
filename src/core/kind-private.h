/* What the kind files (kind-*.c) share: the making side's helpers (resources.c), the discovery
 * (teardown.c walks the kinds' discover), and the deleting side's helpers (teardown.c). Private to
 * src/core. */
#pragma once

#include "kinds.h"
#include "pool.h"
#include "resources.h"
#include "teardown.h"

G_BEGIN_DECLS

/* --- making (resources.c) ------------------------------------------------------------------------ */

/* A progress line ("created security group sg-1 (ferry-ssh)"); none in a dry run. */
void ferry_res_log (FerryResources *res, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
/* The deployment's name. */
const char *ferry_res_name (FerryResources *res);
/* The object `{"id": id, "created": created}`, with more members to be added. */
json_t *ferry_resource_new (const char *id, gboolean created);
/* Records `resource` (stolen) as `kind` and tells the bootstrap graph. */
gboolean ferry_res_record (FerryResources *res, const char *kind, json_t *resource, GError **error);
/* Sets one member of a recorded resource (steals `value`). */
gboolean ferry_res_update (FerryResources *res, const char *kind, const char *key, json_t *value,
                           GError **error);
/* --tag-specifications for one resource type, as JSON: ferry:name=<NAME> (and Name=<NAME>). */
char *ferry_res_tag_specifications (FerryResources *res, const char *type, gboolean with_name);
/* Whether an aws Tags array says ferry:name=<NAME>. */
gboolean ferry_res_tags_are_ours (FerryResources *res, json_t *tags);
/* One aws call with the arguments in `b` (ended here). */
json_t *ferry_res_call (FerryResources *res, const char *service, const char *operation,
                        GStrvBuilder *b, GCancellable *cancellable, GError **error);
/* In dry-run a create call returns nothing; later calls show `placeholder` in place of the id. */
const char *ferry_res_id_or_placeholder (FerryResources *res, json_t *value,
                                         const char *placeholder);
/* Always FALSE: aws OPERATION printed no MEMBER. */
gboolean ferry_res_missing_member (GError **error, const char *operation, const char *member);

/* Two independent steps at once, through the pool. */
typedef gboolean (*FerryResStepFunc) (FerryResources *res, gpointer data,
                                      GCancellable *cancellable, GError **error);
gboolean ferry_res_run_both (FerryResources *res, FerryResStepFunc a, FerryResStepFunc b,
                             gpointer data, GCancellable *cancellable, GError **error);

/* --- finding (teardown.c) ------------------------------------------------------------------------ */

struct _FerryDiscovery
{
  FerryAws *aws;
  FerryState *state;      /* may be NULL (ls without a state) */
  const char *name;       /* NULL: any ferry name */
  GStrv role_names;       /* name-addressed lookups (with a name) */
  GStrv profile_names;
  gboolean for_teardown;  /* name-addressed hits come back even when not tagged as ours */
  FerryLogFunc log;       /* a lookup that could not be made and does not matter much */
  gpointer log_data;
  GMutex lock;
  GPtrArray *found;
};

/* Adds `found` (stolen); from any thread. */
void ferry_discovery_add (FerryDiscovery *d, FerryFound *found);
/* Whether a ferry:name tag's value is the one looked for. */
gboolean ferry_discovery_owner_matches (FerryDiscovery *d, const char *owner);
/* ferry_kind_describe_tagged for the discovery's name. */
json_t *ferry_discovery_describe_tagged (FerryDiscovery *d, const char *operation,
                                         const char *member, const char *extra,
                                         GCancellable *cancellable, GError **error);

FerryFound *ferry_found_new (const char *kind, const char *id);
/* An ISO 8601 string as a time, or NULL. */
GDateTime *ferry_json_time (json_t *value);
char *ferry_json_dup_string (json_t *value);

/* Runs fn (data[i]) for each i through a pool, at most max_parallel at once, every one to its end: the
 * errors of every failed one are joined into one. */
gboolean ferry_run_all (FerryPoolFunc fn, gpointer *data, guint n, guint max_parallel,
                        GCancellable *cancellable, GError **error);

/* --- deleting (teardown.c) ----------------------------------------------------------------------- */

struct _FerryTeardown
{
  FerryAws *aws;
  FerryState *state;
  gboolean force;
  FerryLogFunc log;
  gpointer log_data;
  guint timeout_s;
  GPtrArray *plan; /* while ferry_teardown_execute runs */
};

void ferry_td_log (FerryTeardown *td, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
/* One deleting call. A not-found answer means it is already gone (*out_gone). While AWS answers one
 * of `retry_codes` (a dependency still going away), the call is retried with backoff until the
 * timeout. */
gboolean ferry_td_delete_call (FerryTeardown *td, const char *service, const char *operation,
                               const char *const *args, const char *const *retry_codes,
                               gboolean *out_gone, GCancellable *cancellable, GError **error);
/* Forgets the item from the state if the state holds this very resource. */
gboolean ferry_td_forget (FerryTeardown *td, FerryFound *item, GError **error);
/* "deleted security group sg-1 (ferry-ssh)", or "already gone: ..." */
void ferry_td_log_done (FerryTeardown *td, FerryFound *item, const char *verb, gboolean gone);

/* "deleted ..." (or "already gone: ..."), then forgotten from the state: the end of every deletion. */
gboolean ferry_td_done (FerryTeardown *td, FerryFound *item, gboolean gone, GError **error);
/* One deleting call for `item` (ferry_td_delete_call), then ferry_td_done. */
gboolean ferry_td_delete_item (FerryTeardown *td, FerryFound *item, const char *service,
                               const char *operation, const char *const *args,
                               const char *const *retry_codes, GCancellable *cancellable,
                               GError **error);

/* Whether a volume goes away with one of the plan's instances (kind-instance.c). */
gboolean ferry_volume_goes_with_instance (FerryFound *volume, GPtrArray *plan);

/* --- the kinds' operations (kind-*.c), for the table in kinds.c ---------------------------------- */

gboolean ferry_key_pair_ensure (FerryResources *res, const FerrySpec *spec,
                                GCancellable *cancellable, GError **error);
gboolean ferry_key_pair_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error);
gboolean ferry_key_pair_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                                GError **error);
gboolean ferry_pem_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                           GError **error);

gboolean ferry_network_ensure (FerryResources *res, const FerrySpec *spec,
                               GCancellable *cancellable, GError **error);
gboolean ferry_vpc_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error);
gboolean ferry_vpc_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                           GError **error);
gboolean ferry_subnet_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                              GError **error);

gboolean ferry_security_group_ensure (FerryResources *res, const FerrySpec *spec,
                                      GCancellable *cancellable, GError **error);
gboolean ferry_security_group_discover (FerryDiscovery *d, GCancellable *cancellable,
                                        GError **error);
gboolean ferry_security_group_delete (FerryTeardown *td, GPtrArray *items,
                                      GCancellable *cancellable, GError **error);

gboolean ferry_bucket_ensure (FerryResources *res, const FerrySpec *spec,
                              GCancellable *cancellable, GError **error);
gboolean ferry_bucket_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error);
gboolean ferry_bucket_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                              GError **error);

gboolean ferry_role_ensure (FerryResources *res, const FerrySpec *spec, GCancellable *cancellable,
                            GError **error);
gboolean ferry_role_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error);
gboolean ferry_role_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                            GError **error);
gboolean ferry_instance_profile_discover (FerryDiscovery *d, GCancellable *cancellable,
                                          GError **error);
gboolean ferry_instance_profile_delete (FerryTeardown *td, GPtrArray *items,
                                        GCancellable *cancellable, GError **error);

gboolean ferry_instance_ensure (FerryResources *res, const FerrySpec *spec,
                                GCancellable *cancellable, GError **error);
gboolean ferry_instance_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error);
gboolean ferry_instance_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                                GError **error);
gboolean ferry_volume_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error);
gboolean ferry_volume_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                              GError **error);

gboolean ferry_budget_kind_ensure (FerryResources *res, const FerrySpec *spec,
                                   GCancellable *cancellable, GError **error);
gboolean ferry_budget_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error);
gboolean ferry_budget_kind_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                                   GError **error);

gboolean ferry_topic_ensure (FerryResources *res, const FerrySpec *spec, GCancellable *cancellable,
                             GError **error);
gboolean ferry_topic_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error);
gboolean ferry_topic_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                             GError **error);

G_END_DECLS
